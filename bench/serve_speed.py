"""poc2prod's prediction service against `mlflow models serve` and BentoML 1.4, on the same model.

    bash bench/setup_anchors.sh mlflow bentoml          # once: each anchor's own virtualenv
    .venv/bin/python bench/serve_speed.py --write       # measures; updates BENCHMARKS.md

Options: --seconds (each measured load; default 10), --runs (measured loads per server and request
size, the median reported; default 3), --warmup (seconds of load before them; default 5),
--tools (comma-separated, from poc2prod,bare,mlflow,bentoml; default all), --write, --out (the
results JSON; default bench/results/serve_speed.json).

The model: LightGBM, 200 trees, binary, on 30 numeric features of a synthetic credit-like data set
(scikit-learn's make_classification, 20,000 rows, seed 0). poc2prod builds its project the way a
user does (`init`, then `prove` with LightGBM only, which freezes the schema and the split); the
proven model is then swapped for poc2prod's own LightGBM pipeline fixed at 200 trees and one seed,
so that every server scores the very same trees, and `deploy` registers it. Its booster, saved as a
LightGBM text model, is what MLflow (`mlflow models serve`, a pyfunc with a signature) and BentoML
(a batchable API: adaptive batching) serve; `bare` is a Starlette + orjson endpoint on uvicorn that
parses the JSON and answers a constant: the ceiling of the HTTP stack, with no model at all.

Every server runs 2 worker processes with one model thread each, on 127.0.0.1. poc2prod serves with
validation against the frozen schema, Prometheus metrics and the prediction log all on. The load is
wrk from a second process on the same 2 cores (it takes part of a core: every server pays that the
same way): 8 connections, one thread, each request a row (or 100 rows) drawn at random from 2,000
holdout rows, in each tool's own input format. Each server gets --warmup seconds of load, then
--runs loads of --seconds, the median one reported; requests/s, rows/s and the latency
percentiles are wrk's. Requests that did not
answer 200 are counted and shown. The in-process anchor for 100-row requests is LightGBM's own
`Booster.predict` on 100-row float matrices in this process, with 1 and 2 threads, measured before
and after the servers (the best of the four counts). Run it on an otherwise quiet machine: every
figure shares the same 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import _report  # noqa: E402
import _serve_anchors as anchors  # noqa: E402
from _report import write_section  # noqa: E402

WORK = HERE / "work" / "serve"
RESULTS = HERE / "results" / "serve_speed.json"
SECTION = "## serve vs mlflow models serve and BentoML"
TOOLS = ("poc2prod", "bare", "mlflow", "bentoml")
N_FEATURES, N_TREES, N_ROWS, POOL = 30, 200, 20_000, 2_000
FEATURES = [f"f{i:02d}" for i in range(N_FEATURES)]

BARE_APP = """\
import orjson
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route


async def predict(request):
    doc = orjson.loads(await request.body())
    answer = {"predictions": [{"score": 0.5} for _ in doc["rows"]]}
    return Response(orjson.dumps(answer), media_type="application/json")


app = Starlette(routes=[Route("/predict", predict, methods=["POST"])])
"""

# wrk sends one of the bodies (a file of them, one per line) drawn at random. The requests are
# formatted once, at start-up: formatting one per request cost wrk a fifth of a core at 10,000/s,
# taken from the servers it measures.
WRK_SCRIPT = """\
local requests = {}
init = function(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  for line in io.lines("%s") do requests[#requests + 1] = wrk.format(nil, nil, nil, line) end
  math.randomseed(7)
end
request = function()
  return requests[math.random(#requests)]
end
"""


def build_model(work: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """The deployed poc2prod project, the booster's text model, and the pool of holdout rows."""
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.pipeline import Pipeline

    from poc2prod.gates._prepare import prepare
    from poc2prod.learn._boosters import Booster
    from poc2prod.learn._preprocess import NativeCategories
    from poc2prod.project import Project
    from poc2prod.store import RunRecord, Tracker

    X, y = make_classification(
        n_samples=N_ROWS, n_features=N_FEATURES, n_informative=12, n_redundant=6,
        flip_y=0.05, class_sep=0.8, random_state=0,
    )  # fmt: skip
    frame = pd.DataFrame(X.round(5), columns=FEATURES)
    frame["default"] = y
    frame.to_csv(work / "loans.csv", index=False)
    project = Project.init(work / "credit", data=work / "loans.csv", target="default")
    project.prove(30, models=["lightgbm"])
    prep = prepare(project, notes=[])
    pipeline = Pipeline(
        [
            ("prep", NativeCategories(prep.numeric, prep.categorical)),
            ("model", Booster("lightgbm", n_estimators=N_TREES, n_seeds=1, n_jobs=2)),
        ]
    )
    pipeline.fit(prep.X_train[prep.numeric], prep.y_train)
    proven = project.last("prove")
    run_id, _ = Tracker(project.tracking_uri, project.spec.name, project.artifact_root).log(
        RunRecord(gate="prove", tags={"poc2prod.bench": "serve_speed"}, model=pipeline)
    )
    project.remember("prove", {**proven, "run_id": run_id})
    project.deploy()
    booster = pipeline.named_steps["model"].models_[0].booster_
    assert booster.num_trees() == N_TREES and prep.numeric == FEATURES
    booster.save_model(str(work / "model.txt"))
    pool = prep.X_hold[FEATURES].to_numpy()[:POOL]
    return work / "credit", pool, booster.predict(pool, num_threads=2)


def bodies(tool: str, pool: np.ndarray, rows: int, n: int) -> tuple[str, list[bytes]]:
    """The URL path and ``n`` request bodies of ``rows`` pool rows each, in ``tool``'s format."""
    rng = np.random.default_rng(rows)
    out, path = [], "/predict"
    for _ in range(n):
        chosen = pool[rng.choice(len(pool), rows, replace=False)]
        if tool in ("poc2prod", "bare"):
            body = json.dumps({"rows": [dict(zip(FEATURES, map(float, r), strict=True)) for r in chosen]})
            out.append(body.replace(" ", "").encode())
        else:
            path, body, _ = anchors.request(tool, chosen.tolist(), FEATURES)
            out.append(body)
    return path, out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(tool: str, project: Path, port: int, work: Path) -> subprocess.Popen:
    if tool in anchors.TOOLS:
        return anchors.start(tool, work / "model.txt", FEATURES, port, work / tool, workers=2)
    log = (work / f"{tool}.log").open("wb")
    if tool == "poc2prod":
        cmd = [ROOT / ".venv/bin/poc2prod", "serve", "-C", project, "--port", port, "--workers", 2]
        cwd = work
    else:
        (work / "bare").mkdir(exist_ok=True)
        (work / "bare" / "bare_app.py").write_text(BARE_APP)
        cmd = [
            sys.executable, "-m", "uvicorn", "bare_app:app", "--port", port, "--workers", 2,
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        cwd = work / "bare"
    return subprocess.Popen(
        [str(c) for c in cmd], cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def post(port: int, path: str, body: bytes) -> bytes:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read()


def wait_ready(tool: str, port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    if tool in anchors.TOOLS:
        anchors.wait_ready(tool, port, FEATURES, timeout)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{tool} exited with {proc.returncode}; see {WORK / (tool + '.log')}")
        try:
            url = f"http://127.0.0.1:{port}/ready" if tool == "poc2prod" else f"http://127.0.0.1:{port}/"
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError as e:
            if tool == "bare" and e.code == 404:  # the bare app answers: it is up
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{tool} not ready after {timeout:.0f} s")


def stop(tool: str, proc: subprocess.Popen) -> None:
    if tool in anchors.TOOLS:
        anchors.stop(proc)
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def scores_of(tool: str, answer: bytes) -> list[float]:
    if tool == "poc2prod":
        return [p["score"] for p in json.loads(answer)["predictions"]]
    return anchors.parse(tool, answer)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def wrk(port: int, path: str, lua: Path, seconds: float) -> dict:
    """One wrk run: requests/s, latency percentiles (ms), and the answers that were not 2xx."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            "-c8",
            f"-d{seconds:g}s",
            "--latency",
            "-s",
            str(lua),
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    latency = {
        int(p): float(v) * _UNITS[u]
        for p, v, u in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s|m)\b", out, re.M)
    }
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: (.*)", out)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(total.group(1)) if total else 0,
        "p50_ms": latency.get(50),
        "p90_ms": latency.get(90),
        "p99_ms": latency.get(99),
        "not_ok": int(errors.group(1)) if errors else 0,
        "socket_errors": sockets.group(1).strip() if sockets else None,
    }


def measure(tool: str, project: Path, pool: np.ndarray, expected: np.ndarray, args, work: Path) -> dict:
    """Serve with ``tool``, check its answers, then load it with one-row and 100-row requests."""
    port = free_port()
    proc = start(tool, project, port, work)
    result: dict = {"tool": tool}
    try:
        wait_ready(tool, port, proc)
        for rows in (1, 100):
            path, payloads = bodies(tool, pool, rows, 2000 if rows == 1 else 200)
            lua_bodies = work / f"{tool}-{rows}.bodies"
            lua_bodies.write_bytes(b"\n".join(payloads) + b"\n")
            lua = work / f"{tool}-{rows}.lua"
            lua.write_text(WRK_SCRIPT % lua_bodies)
            if tool != "bare":  # the same scores as LightGBM in this process, to 1e-9
                check_path, check_body, _ = (
                    anchors.request(tool, pool[:100].tolist(), FEATURES)
                    if tool in anchors.TOOLS
                    else ("/predict", bodies_of_rows(pool[:100]), None)
                )
                got = np.array(scores_of(tool, post(port, check_path, check_body)))
                result["max_score_difference"] = float(np.abs(got - expected[:100]).max())
            wrk(port, path, lua, args.warmup)
            # The machine's speed drifts by 10-20 % from one minute to the next: the median of
            # --runs loads is reported (each run's figures are kept in the JSON).
            runs = [wrk(port, path, lua, args.seconds) for _ in range(args.runs)]
            run = dict(sorted(runs, key=lambda r: r["requests_per_s"])[len(runs) // 2])
            run["runs_per_s"] = [r["requests_per_s"] for r in runs]
            run["rows_per_s"] = run["requests_per_s"] * rows
            result[f"rows_{rows}"] = run
            print(
                f"{tool:9s} {rows:3d} row(s): {run['requests_per_s']:9,.0f} requests/s  "
                f"p50 {run['p50_ms']:.2f} ms  p99 {run['p99_ms']:.2f} ms  not 200: {run['not_ok']}",
                flush=True,
            )
    finally:
        stop(tool, proc)
    if tool == "poc2prod":
        from poc2prod.project import Project
        from poc2prod.store._predlog import read_log

        result["rows_logged"] = len(read_log(Project.load(project).log_folder))
    return result


def bodies_of_rows(rows: np.ndarray) -> bytes:
    return json.dumps({"rows": [dict(zip(FEATURES, map(float, r), strict=True)) for r in rows]}).encode()


def in_process(work: Path, pool: np.ndarray) -> dict:
    """LightGBM's own predict on 100-row matrices in this process: rows/s with 1 and 2 threads."""
    import lightgbm as lgb

    booster = lgb.Booster(model_file=str(work / "model.txt"))
    batches = [np.ascontiguousarray(pool[i : i + 100]) for i in range(0, len(pool), 100)]
    out = {}
    for threads in (1, 2):
        for b in batches[:3]:
            booster.predict(b, num_threads=threads)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 5:
            for b in batches:
                booster.predict(b, num_threads=threads)
                n += len(b)
        out[f"threads_{threads}"] = n / (time.perf_counter() - t0)
    out["best"] = max(out.values())
    return out


def machine() -> dict:
    import lightgbm

    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return _report.machine(lightgbm=lightgbm.__version__, wrk=wrk.split(" Copyright")[0].strip())


def section(meta: dict, results: dict[str, dict], inproc: dict) -> str:
    ours = results.get("poc2prod", {})
    single, batch = ours.get("rows_1", {}), ours.get("rows_100", {})
    lines = [
        SECTION,
        "",
        f"Measured {meta['date']} by `bench/serve_speed.py` on {meta['cpus']} cores; LightGBM "
        f"{meta['lightgbm']}, {meta['wrk']}. The model: LightGBM, {N_TREES} trees, 30 numeric features "
        "(synthetic, make_classification); every server 2 workers x 1 model thread on 127.0.0.1, "
        "loaded by wrk (1 thread, 8 connections, on the same 2 cores) with rows drawn at random from "
        f"2,000 holdout rows; {meta['warmup']:g} s warm-up, then the median of {meta['runs']} loads of "
        f"{meta['seconds']:g} s. "
        "poc2prod with schema validation, Prometheus metrics and the prediction log on.",
        "",
        "| server | 1-row requests/s | p50 ms | p99 ms | 100-row requests/s | rows/s | p99 ms | not 200 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    names = {
        "poc2prod": "poc2prod serve",
        "bare": "bare Starlette + orjson (no model, no checks)",
        "mlflow": meta.get("mlflow", "mlflow") + " (`mlflow models serve`)",
        "bentoml": meta.get("bentoml", "bentoml") + " (adaptive batching)",
    }
    for tool, r in results.items():
        a, b = r["rows_1"], r["rows_100"]
        lines.append(
            f"| {names[tool]} | {a['requests_per_s']:,.0f} | {a['p50_ms']:.2f} | {a['p99_ms']:.2f} | "
            f"{b['requests_per_s']:,.0f} | {b['rows_per_s']:,.0f} | {b['p99_ms']:.2f} | "
            f"{a['not_ok'] + b['not_ok']} |"
        )
    lines.append("")
    if single and batch:
        share = batch["rows_per_s"] / inproc["best"]
        lines += [
            f"- In-process `Booster.predict` on 100-row matrices: {inproc['threads_1']:,.0f} rows/s "
            f"with 1 thread, {inproc['threads_2']:,.0f} with 2; poc2prod's 100-row requests reach "
            f"**{share:.0%}** of the better one (target: at least 60 %).",
            f"- One-row requests: **{single['requests_per_s']:,.0f}/s** "
            f"with p99 **{single['p99_ms']:.2f} ms** "
            "(target: at least 10,000/s with p99 under 5 ms): "
            + ("met." if single["requests_per_s"] >= 10_000 and single["p99_ms"] < 5 else "NOT met."),
        ]
        for tool in anchors.TOOLS:
            if tool in results:
                r = results[tool]
                lines.append(
                    f"- poc2prod / {tool}: {single['requests_per_s'] / r['rows_1']['requests_per_s']:.1f}x "
                    f"the one-row requests/s, {batch['rows_per_s'] / r['rows_100']['rows_per_s']:.1f}x "
                    "the 100-row rows/s."
                )
        lines.append(
            f"- The prediction log held {ours['rows_logged']:,} rows afterwards (every load, warm-ups "
            "and checks included). Largest score difference from LightGBM in-process, on 100 holdout "
            "rows: "
            + ", ".join(
                f"{t} {r['max_score_difference']:.1e}"
                for t, r in results.items()
                if "max_score_difference" in r
            )
            + "."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools {sorted(unknown)}; choose from {', '.join(TOOLS)}")
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `apt-get install wrk` (Debian's package)")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    project, pool, expected = build_model(WORK)
    meta = machine() | {"seconds": args.seconds, "warmup": args.warmup, "runs": args.runs}
    meta |= {t: anchors.version(t) for t in anchors.TOOLS if t in tools}
    inproc = in_process(WORK, pool)
    print(
        f"in-process predict, 100 rows: {inproc['threads_1']:,.0f} rows/s (1 thread), "
        f"{inproc['threads_2']:,.0f} (2)"
    )
    results = {t: measure(t, project, pool, expected, args, WORK) for t in tools}
    # Measured again after the servers, the better figure of the two counting: the machine's speed
    # drifts by some 10 % over minutes, and the anchor should not gain from a slow moment.
    again = in_process(WORK, pool)
    inproc = {k: max(inproc[k], again[k]) for k in inproc}
    doc = {"meta": meta, "in_process": inproc, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    text = section(meta, results, inproc)
    print(text)
    if args.write:
        write_section(text, SECTION)


if __name__ == "__main__":
    main()

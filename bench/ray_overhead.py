"""What poc2prod's Ray paths cost on one machine, against the single-machine paths, side by side.

    .venv/bin/python bench/ray_overhead.py --wait-quiet --write   # about 10 minutes; BENCHMARKS.md

Options: --tune-budget (seconds of `optimize` per backend; default 60), --seconds (each measured
HTTP load; default 5), --warmup (seconds of HTTP load before them; default 2), --health-seconds
(each `GET /health` load; default 3), --runs (measured runs of each serving load and batch job, the
median reported; default 3), --rows (batch rows; default 300,000), --files (Parquet files the Ray
job reads; default 8), --only (comma-separated from tune,serve,batch; default all), --wait-quiet
(first wait, up to 10 minutes, for a 1-minute load average below 0.8, checked every 30 s), --reuse
(keep the last run's project rather than build a new one; for trying the script out), --render
(print the section again from the results JSON, measuring nothing; with --write, into
BENCHMARKS.md), --write, --out (the results JSON; default bench/results/ray_overhead.json).

The project (bench/work/ray_overhead/credit, fresh each run): the Taiwan credit-card defaults (30,000
rows, 23 features), `poc2prod init --target default.payment.next.month`, `prove --budget 30 --models
lightgbm`, then `deploy`, which registers prove's model as champion: the model served and
batch-scored below. LightGBM only, so that the served model is of the same kind from run to run:
left to choose, prove picked LightGBM on a busy machine and, on a quieter one, an ensemble with 300
extra trees that takes some 75 ms of CPU to score one row, which hides every serving overhead.
Tuning then searches LightGBM and a forest (optimize adds the best-ranked forest when prove raced
none).

Every Ray path starts its own local Ray instance with this machine's 2 CPUs, as a user's command
does without --address. Every command runs in a session of its own, and whatever it leaves running
is killed by process id afterwards (counted in the JSON). A thread samples every 2 s the CPU the
whole machine used (/proc/stat) less what this run's processes used: the CPU other processes took
during each part, which says whether the machine was quiet.

Tuning: `optimize --budget B --workers 2` with the local backend (the gate's process and one helper
process sharing the Optuna study, one model thread each) and with `--backend ray` (two Ray tasks of
1 CPU doing the same), one run each (tuning is slow: no warm-up, no median), each on a fresh Optuna
study (the project's `tracking.studies` pointed at a new SQLite file per backend), with the same
prove run, split, sampler seeds and search space. It runs through `Project.optimize`, the call the
CLI makes, with a progress callback that timestamps the gate's stages: the tuning phase is from the
"tuning" stage to the "ensembling" stage (Ray's start-up, the tasks' start and their data
preparation fall inside it, as the helper process's start does for the local backend). Reported:
finished (complete + pruned) trials per minute of the tuning phase and of the whole gate, each
worker's start-up (from the tuning stage to its first trial), the median gap between a trial's end
and the same worker's next trial, the share of the tuning phase the workers spent in trials (all
from the trials' times in the study database), and the rows each trial wrote there, per table.

Serving: `serve --workers 2` (uvicorn, 2 processes) against `serve --backend ray --replicas 2` (Ray
Serve: its HTTP proxy actor and 2 replicas of 1 CPU), both with the prediction log and the metrics
on, and, as the ceiling of Ray Serve itself, a bare Ray Serve app of the same shape (a Starlette
ingress answering GET /health, 2 replicas of 1 CPU, no poc2prod). Ready when /ready answered 200
twenty times in a row; the time from the command's start to then is the start-up. The load is
bench/serve_speed.py's wrk (1 thread, 8 connections, on the same 2 cores): POST /predict with 1 or
100 rows drawn at random from the data set (--warmup seconds, then --runs loads of --seconds), then
GET /health (--runs loads of --health-seconds); the median load by requests/s is reported. The
server's CPU time per request is that of every process in the server's session (for Ray: proxy,
replicas, controller, raylet, GCS...), read from /proc around each measured load; wrk is not in it;
the session's idle CPU (3 s before the loads) is recorded too. Both backends' scores of the same 100
rows are compared. Each server is stopped with SIGTERM to the command, as `kill PID` does.

Batch: the data set repeated to --rows rows (IDs renumbered, target dropped), as one Parquet file,
split into --files Parquet files, and a tenth of those rows in as many files. `score -i ONE.parquet
-o OUT.parquet --json` (one process) against `score --backend ray -i 'DIR/*.parquet' -o OUTDIR
--json` (Ray Data, one scoring actor per CPU: 2); a warm-up and --runs runs each, the median
reported. Both write the prediction log. The local command's JSON `seconds` is reading, scoring and
writing (after the model is loaded); the Ray command's also holds Ray's start-up (its clock starts
before it connects), so jobs are also run in one Python process on a Ray instance started once
(`poc2prod.scale._batch.score_on_ray`, what the command calls): a warm-up (the tenth), then the
full job and the tenth in turn, twice; the two means split a job into a fixed cost and a rate. The
wall time is the whole command, interpreter start included. First, a probe: the Ray command on two
Parquet files of 1,000 rows with a 30 s limit, a check that it does not hang (Ray Data 2.60's newer
Parquet reader lists the files in a task of 1 CPU, which the scoring actors, holding every CPU,
never let run; `score_on_ray` uses the previous reader since 4dbfdf0 for that reason): should it
hang, every Ray batch job runs with RAY_DATA_USE_DATASOURCE_V2=0 and the section says so.

Run it on an otherwise quiet machine: every figure shares the same 2 cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import _report  # noqa: E402
from _processes import QUIET_LOAD, reap, wait_quiet  # noqa: E402
from _report import write_section  # noqa: E402
from serve_speed import WRK_SCRIPT, free_port, wrk  # noqa: E402

TAIWAN = ROOT.parent / "shared" / "data" / "uci_default_credit_card_taiwan" / "UCI_Credit_Card.csv"
TARGET = "default.payment.next.month"
POC2PROD = ROOT / ".venv" / "bin" / "poc2prod"
PYTHON = ROOT / ".venv" / "bin" / "python"
WORK = HERE / "work" / "ray_overhead"
RESULTS = HERE / "results" / "ray_overhead.json"
SECTION = "## scale-out: Ray against one machine"
BACKENDS = ("local", "ray")
OTHERS_QUIET = 0.25  # cores other processes may use on average during a part of a quiet run

# Runs the optimize gate as the CLI does (Project.optimize), timestamping its stages.
TUNE_RUNNER = """\
import json, sys, time
started = time.time()
from poc2prod.project import Project
root, budget, backend, out = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
events = []
def on_event(kind, info):
    if kind == "stage":
        events.append([time.time(), info["name"]])
result = Project.load(root).optimize(budget=budget, workers=2, backend=backend, on_event=on_event)
doc = {"started": started, "ended": time.time(), "stages": events, "result": result.to_dict()}
open(out, "w").write(json.dumps(doc))
"""

# Batch jobs on one Ray instance started once: what `score --backend ray` does after connecting.
BATCH_RUNNER = """\
import json, shutil, sys, time
from pathlib import Path
from poc2prod.project import Project
from poc2prod.scale._batch import score_on_ray
from poc2prod.scale._cluster import connect
root, out, jobs = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
project = Project.load(root)
t0 = time.monotonic()
connect(None)
doc = {"ray_start_seconds": time.monotonic() - t0, "jobs": []}
for i, (kind, source) in enumerate(jobs):
    r = score_on_ray(project, source, out / f"job-{i}", version=None, address=None)
    doc["jobs"].append({"kind": kind, "rows": r.rows, "scored": r.scored, "seconds": r.seconds})
    shutil.rmtree(out / f"job-{i}")
out.joinpath("result.json").write_text(json.dumps(doc))
"""


# Ray Serve's own ceiling: the same deployment shape as `serve --backend ray` (2 replicas of 1 CPU
# behind Serve's HTTP proxy, a Starlette app as ingress) answering GET /health, with no poc2prod.
BARE_RAY_SERVE = """\
import signal, sys, threading
import ray
from ray import serve
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

def build():
    async def ok(request):
        return Response(b'{"status":"ok"}', media_type="application/json")
    return Starlette(routes=[Route("/health", ok), Route("/ready", ok)])

ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
serve.start(http_options={"host": "127.0.0.1", "port": int(sys.argv[1])}, detached=False)
app = serve.deployment(serve.ingress(build)(type("Bare", (), {})))
app = app.options(name="bare", num_replicas=2, ray_actor_options={"num_cpus": 1}).bind()
serve.run(app, name="bare", route_prefix="/", blocking=False)
stop = threading.Event()
for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, lambda *_: stop.set())
stop.wait()
serve.shutdown()
"""


# -- processes ----------------------------------------------------------------------------------


_TICK = os.sysconf("SC_CLK_TCK")


def session_cpu(sid: int) -> float:
    """CPU seconds (user + system) the live processes of the session ``sid`` have used so far."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid:  # after the name: state, ppid, pgrp, session, ...; utime, stime 12, 13
            total += int(fields[11]) + int(fields[12])
    return total / _TICK


class Watch:
    """Every 2 s, the CPU the whole machine used and what this run's processes used (those in the
    sessions it started, and its own), so that the rest is what other processes took meanwhile."""

    def __init__(self, every: float = 2.0):
        import threading

        self.sids = {os.getsid(0)}
        self.phase = "setup"
        self.samples: list[tuple[str, float, float]] = []  # phase, seconds, other processes' CPU s
        self._seen: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(every,), daemon=True)
        self._thread.start()

    @staticmethod
    def _busy() -> int:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields) - fields[3] - fields[4]  # all but idle and iowait

    def _mine(self) -> int:
        used = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[3]) in self.sids:
                pid, ticks = int(stat.parent.name), int(fields[11]) + int(fields[12])
                used += ticks - self._seen.get(pid, 0)
                self._seen[pid] = ticks
        return used

    def _loop(self, every: float) -> None:
        busy, _ = self._busy(), self._mine()
        at = time.monotonic()
        while not self._stop.wait(every):
            now_busy, mine, now = self._busy(), self._mine(), time.monotonic()
            self.samples.append((self.phase, now - at, max(0, now_busy - busy - mine) / _TICK))
            busy, at = now_busy, now

    def summary(self) -> dict:
        self._stop.set()
        out = {}
        for phase in dict.fromkeys(p for p, _, _ in self.samples):
            rows = [(s, c) for p, s, c in self.samples if p == phase]
            out[phase] = round(sum(c for _, c in rows) / max(1e-9, sum(s for s, _ in rows)), 2)
        return out


WATCH: Watch | None = None


def watch(sid: int) -> None:
    if WATCH is not None:
        WATCH.sids.add(sid)


def run(
    cmd: list, *, cwd: Path = WORK, timeout: float = 900, env: dict | None = None, may_time_out: bool = False
) -> tuple[subprocess.CompletedProcess | None, float]:
    """Run ``cmd`` in a session of its own; its output and wall time (None for the output when
    ``may_time_out`` and it did). Fails loudly on an error."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(c) for c in cmd], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env={**os.environ, **(env or {})},
    )  # fmt: skip
    watch(proc.pid)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        wall = time.monotonic() - started
        left = reap(proc.pid)
    if timed_out:
        proc.communicate()
        if may_time_out:
            return None, wall
        raise RuntimeError(f"{' '.join(map(str, cmd))} did not finish in {timeout:g} s")
    if left:
        print(f"  ({left} process(es) of {Path(str(cmd[0])).name} outlived it and were killed)", flush=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited with {proc.returncode}:\n{err[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), wall


# -- the project --------------------------------------------------------------------------------


def build_project(reuse: bool) -> dict:
    """init, prove --budget 30 and deploy on the Taiwan data, in WORK/credit (or the last run's)."""
    facts = WORK / "project.json"
    if reuse and facts.is_file():
        shutil.rmtree(WORK / "batch", ignore_errors=True)
        for old in WORK.glob("studies-*.db"):
            old.unlink()
        return json.loads(facts.read_text())
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    project = WORK / "credit"
    run([POC2PROD, "init", project, "--data", TAIWAN, "--target", TARGET])
    (project / "poc2prod.yaml.orig").write_text((project / "poc2prod.yaml").read_text())
    out, wall = run(
        [POC2PROD, "prove", "-C", project, "--budget", 30, "--models", "lightgbm", "--json", "--quiet"]
    )
    proved = json.loads(out.stdout)
    deployed = json.loads(run([POC2PROD, "deploy", "-C", project, "--json"])[0].stdout)
    doc = {
        "prove_wall_seconds": wall,
        "prove_model": proved["best"]["model"],
        "prove_holdout_roc_auc": proved["best"]["holdout"]["roc_auc"],
        "prove_notes": proved["notes"] + ([proved["best"]["note"]] if proved["best"].get("note") else []),
        "deployed_version": deployed["version"],
    }
    facts.write_text(json.dumps(doc))
    return doc


def point_studies_at(project: Path, db: Path | None) -> None:
    """The project's spec, with its Optuna studies in ``db`` (None: the default place)."""
    text = (project / "poc2prod.yaml.orig").read_text()
    if db is not None:
        text += f"\ntracking:\n  studies: sqlite:///{db.resolve()}\n"
    (project / "poc2prod.yaml").write_text(text)


# -- tuning -------------------------------------------------------------------------------------


def _when(stamp: str | None) -> float | None:
    # Optuna stores naive local times (datetime.now()); .timestamp() reads them as local time too.
    return datetime.fromisoformat(stamp).timestamp() if stamp else None


def study_facts(db: Path) -> dict:
    """The trials in the study database ``db``, and the rows each table holds per trial."""
    con = sqlite3.connect(db)
    try:
        trials = []
        for tid, number, state, start, end in con.execute(
            "SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials ORDER BY number"
        ):
            attrs = dict(
                con.execute("SELECT key, value_json FROM trial_user_attributes WHERE trial_id=?", (tid,))
            )
            trials.append(
                {
                    "number": number,
                    "state": state,
                    "start": _when(start),
                    "end": _when(end),
                    "worker": json.loads(attrs.get("worker", "null")),
                    "seconds": json.loads(attrs["seconds"]) if "seconds" in attrs else None,
                }
            )
        tables = [
            "trials", "trial_params", "trial_values", "trial_intermediate_values", "trial_user_attributes",
            "trial_system_attributes", "trial_heartbeats",
        ]  # fmt: skip
        rows = {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        con.close()
    return {"trials": trials, "rows": rows}


def measure_tuning(project: Path, backend: str, budget: float) -> dict:
    db = WORK / f"studies-{backend}.db"
    db.unlink(missing_ok=True)
    point_studies_at(project, db)
    out = WORK / f"optimize-{backend}.json"
    try:
        _, wall = run([PYTHON, "-c", TUNE_RUNNER, project, budget, backend, out])
    finally:
        point_studies_at(project, None)
    doc = json.loads(out.read_text())
    stages = {name.split(" ")[0]: t for t, name in doc["stages"]}
    tuning_from, tuning_to = stages["tuning"], stages["ensembling"]
    study = doc["result"]["study"]
    facts = study_facts(db)
    finished = [t for t in facts["trials"] if t["state"] in ("COMPLETE", "PRUNED") and t["end"]]
    by_worker: dict[str, list[dict]] = {}
    for t in sorted(finished, key=lambda t: t["start"]):
        by_worker.setdefault(t["worker"] or "?", []).append(t)
    gaps = [b["start"] - a["end"] for ts in by_worker.values() for a, b in itertools.pairwise(ts)]
    tuning_s = tuning_to - tuning_from
    busy = sum(t["end"] - t["start"] for t in finished)
    n = len(finished)
    complete = [t for t in finished if t["state"] == "COMPLETE"]
    result = {
        "backend": backend,
        "budget": budget,
        "wall_seconds": wall,
        "gate_seconds": doc["result"]["elapsed_seconds"],
        "tuning_seconds": tuning_s,
        "before_tuning_seconds": tuning_from - doc["started"],
        "finished": study["finished"],
        "this_run": study["this_run"],
        "complete": len(complete),
        "pruned": study["pruned"],
        "trials_per_minute_tuning": 60 * study["this_run"] / tuning_s,
        "trials_per_minute_gate": 60 * study["this_run"] / doc["result"]["elapsed_seconds"],
        "worker_startup_seconds": sorted(ts[0]["start"] - tuning_from for ts in by_worker.values()),
        "busy_share": busy / (2 * tuning_s),
        "median_gap_ms": 1000 * statistics.median(gaps) if gaps else None,
        "median_complete_trial_seconds": statistics.median(t["end"] - t["start"] for t in complete)
        if complete
        else None,
        "storage_rows": facts["rows"],
        "storage_rows_per_trial": sum(facts["rows"].values()) / max(1, len(facts["trials"])),
        "trial_seconds_total": busy,
        "holdout": doc["result"]["optimized"]["holdout"].get("roc_auc"),
        "backend_doc": study["backend"],
        "by_model": study["by_model"],
        "families": study["families"],
        "model": doc["result"]["optimized"].get("model"),
        "stage_seconds": {
            name: round(end - t, 1)
            for (t, name), end in zip(
                doc["stages"], [t for t, _ in doc["stages"][1:]] + [doc["ended"]], strict=True
            )
        },
        "notes": doc["result"]["notes"],
    }
    print(
        f"tuning {backend:5s}: {n} trials ({len(complete)} complete) in {tuning_s:.1f} s of tuning "
        f"= {result['trials_per_minute_tuning']:.1f}/min (gate {result['gate_seconds']:.1f} s, wall "
        f"{wall:.1f} s); workers' first trial after "
        f"{', '.join(f'{s:.1f}' for s in result['worker_startup_seconds'])} s; "
        f"busy {result['busy_share']:.0%}; {result['storage_rows_per_trial']:.1f} storage rows per trial",
        flush=True,
    )
    return result


# -- serving ------------------------------------------------------------------------------------


def request_bodies(rows: int, n: int) -> list[bytes]:
    """``n`` request bodies of ``rows`` rows each, drawn at random from the data set."""
    import numpy as np
    import pandas as pd

    frame = pd.read_csv(TAIWAN).drop(columns=[TARGET])
    rng = np.random.default_rng(rows)
    records = frame.to_dict(orient="records")
    return [
        json.dumps({"rows": [records[i] for i in rng.choice(len(records), rows, replace=False)]},
                   separators=(",", ":")).encode()
        for _ in range(n)
    ]  # fmt: skip


def post(port: int, body: bytes) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def wait_ready(port: int, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    """Until /ready answers 200 twenty times in a row (every replica or worker has its model)."""
    deadline, streak = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}; see {log}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5)
            streak += 1
            if streak >= 20:
                return
            continue
        except (urllib.error.URLError, OSError):
            streak = 0
        time.sleep(0.2)
    raise RuntimeError(f"not ready after {timeout:.0f} s; see {log}")


def stop_server(proc: subprocess.Popen) -> dict:
    """SIGTERM to the command (as `kill PID` does), then whatever its session left, by pid."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    seconds = time.monotonic() - started
    time.sleep(1)
    return {"stop_seconds": seconds, "exit_status": proc.returncode, "left_running": reap(proc.pid)}


def measure_serving(project: Path, backend: str, args, lua: dict, check: bytes) -> dict:
    """Serve with ``backend`` (or the bare Ray Serve app, ``bare-ray``), then load it with wrk."""
    port = free_port()
    if backend == "bare-ray":
        (WORK / "bare_ray_serve.py").write_text(BARE_RAY_SERVE)
        cmd = [PYTHON, WORK / "bare_ray_serve.py", port]
    else:
        cmd = [POC2PROD, "serve", "-C", project, "--port", port]
        cmd += ["--workers", 2] if backend == "local" else ["--backend", "ray", "--replicas", 2]
    log = WORK / f"serve-{backend}.log"
    started = time.monotonic()
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [str(c) for c in cmd], cwd=WORK, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    watch(proc.pid)
    result: dict = {"backend": backend}
    loads = [("health", "/health", lua["get"])]
    if backend != "bare-ray":
        loads = [("rows_1", "/predict", lua[1]), ("rows_100", "/predict", lua[100]), *loads]
    try:
        wait_ready(port, proc, log)
        result["startup_seconds"] = time.monotonic() - started
        if backend != "bare-ray":
            result["check_scores"] = [p["score"] for p in post(port, check)["predictions"]]
        cpu = session_cpu(proc.pid)
        time.sleep(3)
        result["idle_cpu_cores"] = (session_cpu(proc.pid) - cpu) / 3
        for name, path, script in loads:
            if name != "health":  # the service is warm by then
                wrk(port, path, script, args.warmup)
            runs = []
            for _ in range(args.runs):
                cpu = session_cpu(proc.pid)
                r = wrk(port, path, script, args.health_seconds if name == "health" else args.seconds)
                r["server_cpu_ms_per_request"] = 1000 * (session_cpu(proc.pid) - cpu) / max(1, r["requests"])
                runs.append(r)
            run_ = dict(sorted(runs, key=lambda r: r["requests_per_s"])[len(runs) // 2])
            run_["runs_per_s"] = [r["requests_per_s"] for r in runs]
            run_["rows_per_s"] = run_["requests_per_s"] * (100 if name == "rows_100" else 1)
            result[name] = run_
            print(
                f"serving {backend:8s} {name:8s}: {run_['requests_per_s']:8,.0f} requests/s "
                f"({run_['rows_per_s']:9,.0f} rows/s)  p50 {run_['p50_ms']:.2f} ms  p99 {run_['p99_ms']:.2f} "
                "ms  "
                f"server CPU {run_['server_cpu_ms_per_request']:.2f} ms/request  not 200: {run_['not_ok']}",
                flush=True,
            )
    finally:
        result |= stop_server(proc)
    result["sigterm_stack_printed"] = "SIGTERM received" in log.read_text(errors="replace")
    print(
        f"serving {backend:8s}: ready after {result.get('startup_seconds', float('nan')):.1f} s; "
        f"stopped in {result['stop_seconds']:.1f} s (exit {result['exit_status']}, "
        f"{result['left_running']} process(es) left)",
        flush=True,
    )
    return result


# -- batch --------------------------------------------------------------------------------------


def batch_data(rows: int, files: int) -> tuple[Path, Path, Path]:
    """The data set repeated to ``rows`` rows: one Parquet file, the same rows in ``files``, and a
    tenth of them in as many files."""
    import numpy as np
    import pandas as pd

    base = pd.read_csv(TAIWAN).drop(columns=[TARGET])
    frame = pd.concat([base] * -(-rows // len(base)), ignore_index=True).iloc[:rows]
    frame["ID"] = np.arange(1, rows + 1)
    one = WORK / "batch" / "all.parquet"
    parts = WORK / "batch" / "parts"
    parts.mkdir(parents=True)
    frame.to_parquet(one, index=False)
    small = WORK / "batch" / "small"
    small.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(rows), files)):
        frame.iloc[chunk].to_parquet(parts / f"part-{i:02d}.parquet", index=False)
        frame.iloc[chunk[: len(chunk) // 10]].to_parquet(small / f"part-{i:02d}.parquet", index=False)
    return one, parts, small


# Ray 2.60's Parquet reader plans a ListFiles task of 1 CPU that the read's num_cpus=0 does not
# reach; with every CPU held by the scoring actors it never runs, and the job waits forever. Its
# previous reader (this switch) has no such task.
RAY_DATA_V1 = {"RAY_DATA_USE_DATASOURCE_V2": "0"}


def probe_parquet(project: Path, one: Path, timeout: float = 30) -> dict:
    """Does `score --backend ray` finish on two small Parquet files as shipped (within ``timeout``)?"""
    import pandas as pd

    probe = WORK / "batch" / "probe"
    probe.mkdir()
    frame = pd.read_parquet(one).head(2000)
    frame.iloc[:1000].to_parquet(probe / "a.parquet", index=False)
    frame.iloc[1000:].to_parquet(probe / "b.parquet", index=False)
    res, wall = run(
        _ray_score(project, f"{probe}/*.parquet", probe / "out"), timeout=timeout, may_time_out=True
    )
    print(
        "batch   ray probe, 2 Parquet files of 1,000 rows: "
        + (f"finished in {wall:.1f} s" if res else f"still waiting after {timeout:g} s; stopped"),
        flush=True,
    )
    return {"finished": res is not None, "wall_seconds": wall, "timeout": timeout}


def _ray_score(project: Path, files: str, out: Path) -> list:
    """`poc2prod score --backend ray --json` of the files a glob names into the folder ``out``."""
    return [POC2PROD, "score", "-C", project, "--backend", "ray", "-i", files, "-o", out, "--json"]


def json_of(stdout: str) -> tuple[dict, bool]:
    """The JSON object a `--json` command printed, and whether stdout held nothing else (Ray's
    raylet prints its warnings on the driver's stdout)."""
    at = stdout.find("{\n") if not stdout.startswith("{") else 0
    doc, end = json.JSONDecoder().raw_decode(stdout, at)
    return doc, at == 0 and not stdout[end:].strip()


def _median_by(runs: list[dict], key: str) -> dict:
    return dict(sorted(runs, key=lambda r: r[key])[len(runs) // 2])


def measure_batch(project: Path, backend: str, one: Path, parts: Path, runs: int, env: dict) -> dict:
    done = []
    for i in range(runs + 1):  # the first is the warm-up
        if backend == "local":
            out = WORK / "batch" / f"out-local-{i}.parquet"
            cmd = [POC2PROD, "score", "-C", project, "-i", one, "-o", out, "--json"]
        else:
            out = WORK / "batch" / f"out-ray-{i}"
            cmd = _ray_score(project, f"{parts}/*.parquet", out)
        res, wall = run(cmd, env=env)
        doc, pure = json_of(res.stdout)
        shutil.rmtree(out) if out.is_dir() else out.unlink()
        keep = {k: doc[k] for k in ("rows", "scored", "seconds", "note")}
        done.append(keep | {"wall_seconds": wall, "stdout_only_json": pure})
        print(
            f"batch   {backend:5s} {'warm-up' if i == 0 else f'run {i}':7s}: {doc['rows']:,} rows "
            f"({doc['scored']:,} scored), job {doc['seconds']:.2f} s, wall {wall:.2f} s",
            flush=True,
        )
    measured = done[1:]
    med = _median_by(measured, "seconds")
    return {
        "backend": backend,
        "rows": med["rows"],
        "scored": med["scored"],
        "seconds": med["seconds"],
        "wall_seconds": statistics.median(r["wall_seconds"] for r in measured),
        "rows_per_s": med["rows"] / med["seconds"],
        "rows_per_s_wall": med["rows"] / statistics.median(r["wall_seconds"] for r in measured),
        "runs": done,
    }


def measure_batch_running_ray(project: Path, parts: Path, small: Path, pairs: int, env: dict) -> dict:
    """Jobs on one Ray instance started once: a warm-up (the small job), then the full job and one of
    a tenth of the rows (in as many files) in turn, ``pairs`` times; the two mean times split a job
    into a fixed cost and a rate."""
    out = WORK / "batch" / "running-ray"
    full, tenth = ["full", f"{parts}/*.parquet"], ["small", f"{small}/*.parquet"]
    jobs = [["warm-up", tenth[1]]] + [full, tenth] * pairs
    _, wall = run([PYTHON, "-c", BATCH_RUNNER, project, out, json.dumps(jobs)], env=env)
    doc = json.loads((out / "result.json").read_text())
    f_jobs = [j for j in doc["jobs"] if j["kind"] == "full"]
    s_jobs = [j for j in doc["jobs"] if j["kind"] == "small"]
    f_s, s_s = statistics.mean(j["seconds"] for j in f_jobs), statistics.mean(j["seconds"] for j in s_jobs)
    rows, small_rows = f_jobs[0]["rows"], s_jobs[0]["rows"]
    marginal = (rows - small_rows) / max(1e-9, f_s - s_s)
    result = {
        "ray_start_seconds": doc["ray_start_seconds"],
        "rows": rows,
        "seconds": f_s,
        "rows_per_s": rows / f_s,
        "small_rows": small_rows,
        "small_seconds": s_s,
        "marginal_rows_per_s": marginal,
        "fixed_seconds": s_s - small_rows / marginal,
        "jobs": doc["jobs"],
        "process_wall_seconds": wall,
    }
    print(
        f"batch   ray on a running instance: Ray started in {doc['ray_start_seconds']:.1f} s; jobs "
        + ", ".join(f"{j['kind']} {j['seconds']:.2f}" for j in doc["jobs"])
        + f" s; per job {result['fixed_seconds']:.1f} s + rows / {marginal:,.0f} per s",
        flush=True,
    )
    return result


# -- the report ---------------------------------------------------------------------------------


def machine() -> dict:
    import optuna
    import ray

    import poc2prod

    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return _report.machine(
        poc2prod=poc2prod.__version__,
        ray=ray.__version__,
        optuna=optuna.__version__,
        wrk=out.split(" Copyright")[0].strip(),
    )


def _span(values: list[float]) -> str:
    low, high = f"{min(values):.1f}", f"{max(values):.1f}"
    return low if low == high else f"{low}–{high}"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{b / a:.2f}" if a and b is not None else "–"


def _f(x: float | None, fmt: str = ",.0f") -> str:
    return format(x, fmt) if x is not None else "–"


def _row(path: str, measure: str, a: float, b: float, fmt: str = ",.0f") -> str:
    return f"| {path or ' '} | {measure} | {a:{fmt}} | {b:{fmt}} | {_ratio(a, b)} |".replace("|   |", "| |")


def section(doc: dict) -> str:
    m, res = doc["meta"], doc["results"]
    tune, serve, batch = res["tune"], res["serve"], res["batch"]
    la0, la1 = m["load_average_at_start"], m["load_average_at_end"]
    others = m.get("other_processes_cores", {})
    busy = {k: v for k, v in others.items() if v >= OTHERS_QUIET and k != "setup"}  # setup is not measured
    quiet = la0[0] < QUIET_LOAD and not busy
    wait = m.get("wait")
    p = m["project"]
    lines = [
        SECTION,
        "",
        "Reproduce: `.venv/bin/python bench/ray_overhead.py --wait-quiet --write` (about 10 minutes; how "
        "it measures: the docstring of bench/ray_overhead.py).",
        "",
        f"Measured {m['date']} on {m['cpus']} cores, Python {m['python']}; poc2prod {m['poc2prod']}, Ray "
        f"{m['ray']}, Optuna {m['optuna']}, {m['wrk']}. Load average (1, 5, 15 min) "
        f"{', '.join(map(str, la0))} at the start and {', '.join(map(str, la1))} at the end (the "
        "run itself keeps about 2 cores busy); other processes than this run's used on average "
        + ", ".join(f"{v:.2f} cores during the {k} part" for k, v in others.items() if k != "setup")
        + " (/proc/stat less the run's own processes)"
        + (
            "."
            if quiet
            else ": NOT a quiet machine (another engineer's tests shared the 2 cores), so the figures "
            "are lower and noisier than on an idle machine, and the two backends did not meet the same "
            "load at the same moments."
        )
        + (
            f" The run first waited {wait['waited_seconds']} s for a 1-minute load average below "
            f"{QUIET_LOAD} (seen every 30 s: {', '.join(map(str, wait['loads_seen']))})"
            + ("." if wait["quiet"] else "; it never came, so it ran anyway.")
            if wait
            else ""
        ),
        "",
        "The project: the Taiwan credit-card defaults (30,000 rows, 23 features); `prove --budget 30 "
        f"--models lightgbm` gave {p['prove_model']} (holdout ROC AUC {p['prove_holdout_roc_auc']:.4f}), "
        f"which `deploy` registered as version {p['deployed_version']}: the model served and "
        "batch-scored (LightGBM only, so that it is the same kind of model from run to run; left to "
        "choose, prove picked an ensemble with 300 extra trees on a quieter machine, which takes 75 ms of "
        "CPU to score a one-row request and hides every serving overhead). Tuning searched "
        f"{' and '.join(tune['ray'].get('families', []))}. Every Ray "
        "figure is a local Ray instance on the same 2 CPUs, started by the command (no `--address`), "
        "against the single-machine path doing the same work with 2 processes.",
        "",
        "| path | measure | one machine | Ray | Ray / one machine |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    lo, ra = tune["local"], tune["ray"]
    what = f"tuning: `optimize --budget {lo['budget']:g} --workers 2`, one run each"
    lines += [
        _row(what, "finished trials per minute of the tuning phase", lo["trials_per_minute_tuning"],
             ra["trials_per_minute_tuning"], ".1f"),
        _row("", "finished trials per minute of the whole gate", lo["trials_per_minute_gate"],
             ra["trials_per_minute_gate"], ".1f"),
        f"| | finished trials (complete + pruned), tuning phase | {lo['this_run']} ({lo['complete']} + "
        f"{lo['pruned']}), {lo['tuning_seconds']:.0f} s | {ra['this_run']} ({ra['complete']} + "
        f"{ra['pruned']}), "
        f"{ra['tuning_seconds']:.0f} s | |",
        f"| | each worker's first trial, s into the tuning phase | "
        f"{' and '.join(f'{s:.1f}' for s in lo['worker_startup_seconds'])} | "
        f"{' and '.join(f'{s:.1f}' for s in ra['worker_startup_seconds'])} | |",
        f"| | share of the tuning phase the 2 workers spent in trials | {lo['busy_share']:.0%} | "
        f"{ra['busy_share']:.0%} | {_ratio(lo['busy_share'], ra['busy_share'])} |",
        f"| | median gap between a worker's trials, ms | {_f(lo['median_gap_ms'])} | "
        f"{_f(ra['median_gap_ms'])} | |",
    ]  # fmt: skip
    lo, ra = serve["local"], serve["ray"]
    for name, what in (("rows_1", "1-row"), ("rows_100", "100-row")):
        a, b = lo[name], ra[name]
        lines += [
            _row(f"serving: {what} requests, 8 connections", "requests/s", a["requests_per_s"],
                 b["requests_per_s"]),
            *([_row("", "rows/s", a["rows_per_s"], b["rows_per_s"])] if name == "rows_100" else []),
            _row("", "p50 ms", a["p50_ms"], b["p50_ms"], ".2f"),
            _row("", "p99 ms", a["p99_ms"], b["p99_ms"], ".2f"),
            _row("", "server CPU per request, ms", a["server_cpu_ms_per_request"],
                 b["server_cpu_ms_per_request"], ".2f"),
        ]  # fmt: skip
    lines += [
        _row("serving: `GET /health` (no model, no log)", "requests/s", lo["health"]["requests_per_s"],
             ra["health"]["requests_per_s"]),
        _row("", "server CPU per request, ms", lo["health"]["server_cpu_ms_per_request"],
             ra["health"]["server_cpu_ms_per_request"], ".2f"),
        _row("serving", "start-up, command to ready, s", lo["startup_seconds"], ra["startup_seconds"], ".1f"),
    ]  # fmt: skip
    lo, ra, rr = batch["local"], batch["ray"], batch["running_ray"]
    what = f"batch: {lo['rows']:,} rows (one file; {batch['files']} for Ray)"
    lines += [
        _row(what, "rows/s of the job (the JSON's rows / seconds)", lo["rows_per_s"], ra["rows_per_s"]),
        _row("", "rows/s of the command's wall time", lo["rows_per_s_wall"], ra["rows_per_s_wall"]),
        f"| | job s / command wall s | {lo['seconds']:.1f} / {lo['wall_seconds']:.1f} | "
        f"{ra['seconds']:.1f} / {ra['wall_seconds']:.1f} | |",
        _row("", "rows/s of the job, Ray already running", lo["rows_per_s"], rr["rows_per_s"]),
    ]
    lines += ["", *notes(doc), "", *estimate(doc)]
    return "\n".join(lines).rstrip() + "\n"


def notes(doc: dict) -> list[str]:
    res = doc["results"]
    tune, serve, batch = res["tune"], res["serve"], res["batch"]
    out = ["What the figures say:", ""]
    lo, ra = tune["local"], tune["ray"]
    out.append(
        f"- Tuning: the tuning phase was {lo['tuning_seconds']:.0f} s (local) and {ra['tuning_seconds']:.0f} "
        "s "
        f"(Ray) of the {lo['budget']:g} s gates; the rest is the feature tests before it and the ensemble, "
        "refit and record after, the same on both. Ray's tasks started their first trial "
        f"{_span(ra['worker_startup_seconds'])} s into the phase "
        "(Ray's start-up, then each task imports poc2prod and prepares the data), where the local gate's "
        f"own process starts at once and its helper process after {max(lo['worker_startup_seconds']):.1f} s. "
        "Once running, a trial is the same work (median complete trial "
        f"{_f(lo['median_complete_trial_seconds'], '.1f')} s local, "
        f"{_f(ra['median_complete_trial_seconds'], '.1f')} "
        "s Ray; not the same trials) and the gap between a worker's trials is milliseconds on both: Ray's "
        f"cost is a fixed start-up, which a {lo['budget']:g} s budget makes large and the default 300 s "
        f"budget makes small. With one run each and whole trials counted, one trial more or less moves a "
        f"figure by {60 / lo['tuning_seconds']:.1f} trials per minute."
    )
    for b in (lo, ra):
        if b["gate_seconds"] > b["budget"] + 5:
            stage, took = max(
                ((n, t) for n, t in b["stage_seconds"].items() if not n.startswith("tuning")),
                key=lambda x: x[1],
            )
            out.append(
                f"- The {b['backend']} gate ran {b['gate_seconds']:.0f} s on its {b['budget']:g} s "
                f'budget: its "{stage}" stage alone took {took:.0f} s (the model: {b["model"]}). That is '
                "optimize's doing, not the backend's (the refit runs in the gate's own process either "
                "way), but it lowers that backend's trials per minute of the whole gate."
            )
    out.append(
        f"- Each trial wrote {ra['storage_rows_per_trial']:.0f} rows to the Optuna database on average "
        f"(Ray run, rows per table: {', '.join(f'{k} {v}' for k, v in ra['storage_rows'].items())}), each "
        "in a transaction of its own, and a running trial updates its heartbeat every 5 s; the pruning "
        "check after each fold and the sampling of each trial re-read the study, which Optuna's cache "
        "limits to the trials unfinished or new since the last read."
    )
    lo, ra, bare = serve["local"], serve["ray"], serve["bare-ray"]
    diff = max(abs(a - b) for a, b in zip(lo["check_scores"], ra["check_scores"], strict=True))
    a1, b1 = lo["rows_1"], ra["rows_1"]
    out.append(
        "- Serving: a request to Ray Serve goes to its HTTP proxy actor, which hands it to a replica by "
        "Ray's RPC (a second hop between processes, with its own serialisation and scheduling). "
        f"`GET /health`, which does no work, passed {ra['health']['requests_per_s']:,.0f} requests/s "
        f"through it ({ra['health']['server_cpu_ms_per_request']:.2f} ms of the server processes' CPU each) "
        f"against {lo['health']['requests_per_s']:,.0f} through uvicorn "
        f"({lo['health']['server_cpu_ms_per_request']:.2f} ms); a bare Ray Serve app of the same shape "
        f"(Starlette ingress, 2 replicas, no poc2prod) passed {bare['health']['requests_per_s']:,.0f}/s "
        f"({bare['health']['server_cpu_ms_per_request']:.2f} ms). So Ray Serve's own path, not the model "
        f"nor poc2prod, sets the ceiling of the 1-row figures ({b1['requests_per_s']:,.0f}/s against "
        f"{a1['requests_per_s']:,.0f}/s). 100-row requests spread that cost over 100 rows: Ray reached "
        f"{ra['rows_100']['rows_per_s'] / lo['rows_100']['rows_per_s']:.0%} of uvicorn's rows/s. Both "
        "backends "
        f"gave the same scores for 100 rows (largest difference {diff:.1e}); answers other than 200: "
        f"{a1['not_ok'] + lo['rows_100']['not_ok']} local, {b1['not_ok'] + ra['rows_100']['not_ok']} Ray. "
        "Server CPU is every process of the server's session (for Ray: proxy, replicas, controller, raylet "
        "and GCS), read from /proc around each measured load; wrk runs outside it."
    )
    lo, ra, rr = batch["local"], batch["ray"], batch["running_ray"]
    out.append(
        f"- Batch: `score --backend ray` took {ra['wall_seconds']:.1f} s of wall time for {ra['rows']:,} "
        "rows "
        f"against {lo['wall_seconds']:.1f} s for one process. Its JSON `seconds` ({ra['seconds']:.1f}) holds "
        "Ray's start-up (its clock starts before it connects; the local command's starts after the model "
        f"is loaded). On a Ray instance already running (started once, in {rr['ray_start_seconds']:.1f} s) "
        f"the same job took {rr['seconds']:.1f} s, and one of a tenth of the rows in as many files "
        f"{rr['small_seconds']:.1f} s: a job there costs about {rr['fixed_seconds']:.1f} s (the scoring "
        "actors' start, each importing poc2prod and loading the model from the registry, and Ray Data's "
        f"planning) plus {rr['marginal_rows_per_s']:,.0f} rows/s, against {lo['rows_per_s']:,.0f} rows/s "
        "in one process."
    )
    env, probe = batch["env"], batch["probe"]
    if env:
        out.append(
            "- As shipped, `score --backend ray` on Parquet files never finishes with Ray "
            f"{doc['meta']['ray']}: "
            f"the probe (2 files of 1,000 rows) was still waiting after {probe['timeout']:g} s. Ray Data's "
            "Parquet reader plans a file-listing task of 1 CPU, which the read's `num_cpus=0` does not "
            "reach, "
            "and the scoring actors hold every CPU, so it waits forever (CSV input is not affected). The "
            f"Ray batch figures here were measured with `{' '.join(f'{k}={v}' for k, v in env.items())}` "
            "(Ray Data's previous reader)."
        )
    if not all(r.get("stdout_only_json", True) for r in ra["runs"]):
        out.append(
            "- `score --backend ray --json` printed Ray's raylet warnings on stdout around its JSON, so its "
            "stdout was not JSON alone; the script reads the JSON object out of it."
        )
    return out


def estimate(doc: dict) -> list[str]:
    res = doc["results"]
    tune, serve, batch = res["tune"], res["serve"], res["batch"]
    cores = doc["meta"]["cpus"]
    out = [
        f"Scaling estimate for N nodes of {cores} cores, from the per-trial, per-request and per-row costs "
        "above (measured on one machine: the network between nodes is not in them):",
        "",
    ]
    ra = tune["ray"]
    per_task = 60 * ra["this_run"] / ra["trial_seconds_total"]  # trials per minute of a busy task
    startup = max(ra["worker_startup_seconds"])
    tuning_300 = 300 * ra["tuning_seconds"] / ra["budget"]  # this run's share of a budget spent tuning
    writes = ra["storage_rows_per_trial"]
    out.append(
        f"- Tuning grows linearly with the tasks (`--workers`): a busy 1-CPU task finished {per_task:.1f} "
        f"trials per minute here, so {cores}N tasks give about {cores}N × {per_task:.1f} × (1 − "
        f"{startup:.0f} s / tuning phase) trials per minute: with the default 300 s budget (a tuning "
        f"phase of about {tuning_300:.0f} s at this run's share) about "
        f"{cores * per_task * (1 - startup / tuning_300):.0f} × N. That holds up to the trials the sampler "
        "can use: TPE draws its first 8 trials at random and then samples from the finished ones, and a "
        f"task asks for its next trial without knowing the {cores}N − 1 in flight, so with many more tasks "
        "than finished trials the search is close to random; and past a few hundred trials per study "
        "(each family has 5 to 10 parameters) more trials seldom change the ensemble. Beyond that, more "
        "nodes shorten the time to a good model rather than improve it."
    )
    out.append(
        f"- Where the bottleneck moves: the Optuna storage. Each trial writes about {writes:.0f} rows, each "
        "in its own transaction (one per fold report, per parameter, per attribute, and the trial's "
        f"start and end), plus a heartbeat every 5 s per running trial: about "
        f"{writes * per_task / 60 + 0.2:.1f} transactions per second per task, {cores}N tasks' worth in "
        "all, and every task keeps its own database connections. SQLite takes one writer at a time "
        "behind a file lock and must not be shared over a network file system, so beyond one machine the "
        "study goes to PostgreSQL (`tracking.studies: postgresql://…`), for which these writes are "
        "light; at a few hundred tasks the connections (PostgreSQL's default `max_connections` is 100) "
        "call for a pooler such as PgBouncer."
    )
    lo, ra, bare = serve["local"], serve["ray"], serve["bare-ray"]
    b1, b100, h = ra["rows_1"], ra["rows_100"], ra["health"]
    out.append(
        "- Serving grows linearly with the replicas (`--replicas`) as long as the HTTP entry point keeps "
        f"up. Here a 1-row request cost {b1['server_cpu_ms_per_request']:.2f} ms of CPU through Ray Serve "
        f"({lo['rows_1']['server_cpu_ms_per_request']:.2f} ms through uvicorn) and a 100-row one "
        f"{b100['server_cpu_ms_per_request']:.2f} ms "
        f"({lo['rows_100']['server_cpu_ms_per_request']:.2f}); at that cost N nodes of {cores} cores pass "
        "about "
        f"N × {1000 * cores / b1['server_cpu_ms_per_request']:,.0f} one-row requests/s or N × "
        f"{100_000 * cores / b100['server_cpu_ms_per_request']:,.0f} rows/s in 100-row requests when the "
        "requests are spread over every node's proxy (Ray Serve starts an HTTP proxy on each node; a load "
        "balancer in front gives the clients one address). Sent to one proxy only, the cluster stops at "
        f"what that one process passes (`GET /health` at {h['requests_per_s']:,.0f}/s here, a bare Ray Serve "
        f"app at {bare['health']['requests_per_s']:,.0f}/s), whatever the replicas behind it. The MLflow "
        "registry is read once per replica start (the model and its schema; "
        f"{ra['startup_seconds']:.0f} s from the command to a ready service here, Ray's start-up included), "
        "never per request. Each replica appends to its own segment of the prediction log, so the log "
        "folder must be on a file system every node mounts; `monitor` reads every segment, so its work "
        "grows with the rows logged, not with N."
    )
    lo, ra, rr = batch["local"], batch["ray"], batch["running_ray"]
    marginal = rr["marginal_rows_per_s"]
    out.append(
        f"- Batch scoring grows linearly with the actors (one per CPU) while there are blocks for each "
        f"(Ray Data reads the {batch['files']} files here in blocks): {marginal / cores:,.0f} rows/s per "
        "actor "
        f"once running, so about N × {marginal:,.0f} rows/s on N nodes, plus about {rr['fixed_seconds']:.0f} "
        f"s per job (actors and planning) and {ra['wall_seconds'] - rr['seconds']:.0f} s more when the "
        "command "
        f"starts Ray itself. One process here did {lo['rows_per_s']:,.0f} rows/s, so a job pays off on Ray "
        "only when it is large enough for the fixed cost to vanish beside the rows and there are more "
        "cores than one machine's. The input and output folders must be on a shared file system (or "
        "object store) every node reaches; each actor writes its own prediction-log segment there."
    )
    out.append(
        "- The tracking database (MLflow runs and the registry, SQLite by default) is written by the "
        "driver only: the gate's own process records the run; tasks, replicas and actors only read the "
        "registry. It is not a scaling limit, but every node must reach it, so a cluster uses a "
        "PostgreSQL tracking store too (`tracking.uri`)."
    )
    out += [
        "",
        "A multi-node deployment needs: the project folder (spec, frozen split, artifacts, prediction log) "
        "on a file system every node mounts at the same path, or a shared artifact store; PostgreSQL for "
        "the tracking store and the Optuna studies (`tracking.uri` and `tracking.studies` in "
        "poc2prod.yaml); the same Python and the same poc2prod with its `ray` extra on every node; "
        "`ray start --head` on one node and `ray start --address HEAD:6379` on the others; then the "
        "commands with `--backend ray --address auto` on a node of the cluster (or `--address "
        "ray://HEAD:10001` from elsewhere).",
    ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tune-budget", type=float, default=60)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--health-seconds", type=float, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--only", default="tune,serve,batch")
    parser.add_argument("--wait-quiet", action="store_true")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    if args.render:  # the section again from the results JSON, nothing measured
        text = section(json.loads(args.out.read_text()))
        print(text)
        if args.write:
            write_section(text, SECTION)
        return
    parts = [p for p in args.only.split(",") if p]
    if set(parts) - {"tune", "serve", "batch"}:
        parser.error("--only takes tune, serve and batch")
    if shutil.which("wrk") is None and "serve" in parts:
        sys.exit("wrk is not installed: `apt-get install wrk` (Debian's package)")

    def stopped(sig, _frame):  # the log says why a run ended early (servers are still stopped)
        print(f"stopped by signal {sig} at {time.strftime('%H:%M:%S')}", flush=True)
        sys.exit(128 + sig)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stopped)
    wait = wait_quiet() if args.wait_quiet else None
    global WATCH
    WATCH = Watch()
    started = time.monotonic()
    meta = machine() | {"args": {k: str(v) for k, v in vars(args).items()}}
    if wait:
        meta["wait"] = wait
    print(f"load average at the start: {meta['load_average_at_start']}", flush=True)
    meta["project"] = build_project(args.reuse)
    print(f"project: {meta['project']}", flush=True)
    project = WORK / "credit"
    results: dict = {}
    doc = {"meta": meta, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if "tune" in parts:
        WATCH.phase = "tune"
        results["tune"] = {b: measure_tuning(project, b, args.tune_budget) for b in BACKENDS}
        args.out.write_text(json.dumps(doc, indent=2) + "\n")  # so far, in case the run is stopped
    if "serve" in parts:
        WATCH.phase = "serve"
        lua = {}
        for rows in (1, 100):
            bodies = WORK / f"bodies-{rows}.txt"
            bodies.write_bytes(b"\n".join(request_bodies(rows, 2000 if rows == 1 else 200)) + b"\n")
            lua[rows] = WORK / f"wrk-{rows}.lua"
            lua[rows].write_text(WRK_SCRIPT % bodies)
        lua["get"] = WORK / "wrk-get.lua"
        lua["get"].write_text("-- GET, wrk's default request\n")
        check = request_bodies(100, 1)[0]
        results["serve"] = {b: measure_serving(project, b, args, lua, check) for b in (*BACKENDS, "bare-ray")}
        args.out.write_text(json.dumps(doc, indent=2) + "\n")
    if "batch" in parts:
        WATCH.phase = "batch"
        one, split, small = batch_data(args.rows, args.files)
        probe = probe_parquet(project, one)
        env = {} if probe["finished"] else RAY_DATA_V1
        results["batch"] = {"files": args.files, "probe": probe, "env": env}
        results["batch"]["local"] = measure_batch(project, "local", one, split, args.runs, {})
        results["batch"]["ray"] = measure_batch(project, "ray", one, split, args.runs, env)
        results["batch"]["running_ray"] = measure_batch_running_ray(project, split, small, 2, env)
    meta["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    meta["other_processes_cores"] = WATCH.summary()
    meta["seconds"] = round(time.monotonic() - started)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    text = section(doc) if {"tune", "serve", "batch"} <= set(parts) else None
    if text:
        print(text)
    print(f"done in {meta['seconds']} s; load average at the end {meta['load_average_at_end']}", flush=True)
    if args.write:
        if text is None:
            sys.exit("--write needs every part (leave out --only)")
        write_section(text, SECTION)


if __name__ == "__main__":
    main()

"""`poc2prod monitor` against Evidently's data drift report, on a million logged predictions.

    bash bench/setup_anchors.sh evidently               # once: Evidently's own virtualenv
    .venv/bin/python bench/monitor_speed.py --write     # measures; updates BENCHMARKS.md

Options: --rows (logged rows; default 1,000,000), --runs (measured runs of each command, the median
reported; default 1), --write, --out (the results JSON; default bench/results/monitor_speed.json).

The project is bench/serve_speed.py's (`build_model`, in bench/work/monitor/, fresh each run): 30
numeric features f00..f29 of a synthetic credit-like data set, a 200-tree LightGBM deployed, whose
registry bundle holds the reference statistics of the training rows (per feature its decile edges
and shares and a sample of 2,000 values; the same of the training scores).

The log: --rows rows drawn at random (with replacement) from the project's 20,000-row data set,
written into the project's prediction log the way `poc2prod serve` writes it, with its own code: in
requests of 1 row (99.5 % of the requests) or 100 rows, their times spread at random over the 7 days
up to a minute ago; each request validated against the frozen schema (which gives its rows' flags),
scored in process by the deployed model, decided at its threshold, and appended as one
`prediction_record` line by one of two `LogWriter`s (the service's two worker processes; a segment
rolls over at 64 MB). Each segment's modification time is set back to its last request's time, so
that the reader takes it as settled. The last 20 % of the rows (the last 1.4 days) are drifted:
f00 shifted by one training standard deviation, f01's spread around its training mean doubled.

Measured, each as a whole command in a subprocess (interpreter start and imports included), its
wall clock and peak RSS (GNU time's maximum resident set size):
  - `poc2prod monitor -C DIR --window 1d --json`, first run: it parses the log's JSON lines (Arrow's
    reader) and caches each segment as Parquet;
  - the same again: it reads the Parquet cache;
  - bench/_evidently_run.py under bench/.venv-evidently's python: Evidently's
    `Report([DataDriftPreset()], include_tests=True)` (each column's default drift method and
    threshold; a test per column) with reference = the project's training rows and current = the
    same logged rows (their 30 features), both read from Parquet; the report saved as JSON.
With --runs N each command runs N times (the Parquet cache deleted before each first run) and the
median is reported. The log is in the page cache (just written), for both tools alike.

The two do not do the same work: poc2prod cuts the log into 1-day windows ending at the latest row
and measures, per window, PSI and the KS test of every feature and of the scores against the
reference statistics, the share of flagged rows and the requests; Evidently compares the whole
current frame with the reference rows once, and draws a distribution plot per column. The verdicts
are checked: poc2prod's features whose PSI in the latest window exceeds the spec's alert threshold
(0.2), Evidently's columns whose drift test failed (beyond 1,000 rows its default is the normed
Wasserstein distance, at 0.1); both must name f00 and f01, and fewer than half of the others.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import _report  # noqa: E402
import serve_speed  # noqa: E402
from _report import write_section  # noqa: E402

WORK = HERE / "work" / "monitor"
RESULTS = HERE / "results" / "monitor_speed.json"
SECTION = "## monitor vs Evidently"
POC2PROD = ROOT / ".venv" / "bin" / "poc2prod"
EVIDENTLY = HERE / ".venv-evidently" / "bin" / "python"
TIME = "/usr/bin/time"  # GNU time, for the peak RSS of each measured command
FEATURES = serve_speed.FEATURES
DRIFTED = ("f00", "f01")
DAYS, DRIFTED_SHARE = 7, 0.2
BIG, BIG_SHARE = 100, 0.005  # 0.5 % of the requests carry 100 rows, the rest one
CHUNK = 20_000  # rows validated and scored at a time while writing the log


class Worker:
    """One serving process's log writer and request ids (as poc2prod serve makes them)."""

    def __init__(self, folder: Path):
        from poc2prod.store._predlog import LogWriter

        self.log = LogWriter(folder, "predictions")
        self.prefix = secrets.token_hex(4)
        self.counter = itertools.count()

    def request_id(self) -> str:
        return f"{self.prefix}-{next(self.counter):x}"


def write_log(project_dir: Path, rows: int, seed: int = 0) -> dict:
    """Log ``rows`` scored rows as the service does; write the Parquet frames Evidently reads."""
    from poc2prod.gates._prepare import prepare
    from poc2prod.project import Project
    from poc2prod.serve._predictor import Batch
    from poc2prod.store._predlog import prediction_record

    t0 = time.perf_counter()
    project = Project.load(project_dir)
    train = prepare(project, notes=[]).X_train[FEATURES]
    train.to_parquet(WORK / "reference.parquet", index=False)
    data = pd.read_csv(WORK / "loans.csv")[FEATURES].to_numpy()
    rng = np.random.default_rng(seed)
    values = data[rng.integers(0, len(data), rows)]
    first = int(rows * (1 - DRIFTED_SHARE))
    mean, std = train.mean().to_numpy(), train.std().to_numpy()
    values[first:, 0] = (values[first:, 0] + std[0]).round(5)  # rounded as the data's values are
    values[first:, 1] = (mean[1] + 2 * (values[first:, 1] - mean[1])).round(5)
    pd.DataFrame(values, columns=FEATURES).to_parquet(WORK / "current.parquet", index=False)

    sizes = np.where(rng.random(rows) < BIG_SHARE, BIG, 1)
    ends = np.cumsum(sizes)
    last = int(np.searchsorted(ends, rows))
    sizes = sizes[: last + 1]
    sizes[-1] -= ends[last] - rows
    starts = np.concatenate([[0], np.cumsum(sizes)])
    end = time.time() - 60
    times = np.sort(end - DAYS * 86400 * rng.random(len(sizes)))
    times[-1] = end
    workers = [Worker(project.log_folder) for _ in range(2)]
    worker_of = rng.integers(0, len(workers), len(sizes))

    predictor = project.predictor()
    assert predictor.numeric == FEATURES and not predictor.texts
    r = flagged = 0
    while r < len(sizes):
        q = max(r + 1, int(np.searchsorted(starts, starts[r] + CHUNK, side="right")) - 1)
        lo, hi = int(starts[r]), int(starts[q])
        objects = [dict(zip(FEATURES, v, strict=True)) for v in values[lo:hi].tolist()]  # as JSON gives
        batch, problems = predictor.validate(objects)
        assert not problems, problems[:3]
        flagged += sum(1 for f in batch.flags if f)
        answers = predictor.decide(predictor.score(batch))
        for i in range(r, q):
            a, b = int(starts[i]) - lo, int(starts[i + 1]) - lo
            part = Batch(batch.numbers[a:b], [c[a:b] for c in batch.texts], batch.flags[a:b])
            w = workers[worker_of[i]]
            record = prediction_record(
                w.request_id(),
                float(times[i]),
                predictor.version,
                part.inputs(predictor.numeric, predictor.texts),
                answers[a:b],
                part.flags,
            )
            w.log.append([record])
        r = q
    for w in workers:
        w.log.close()

    segments = sorted(project.log_folder.glob("predictions-*.jsonl"))
    for path in segments:  # settled: last written at its last request's time
        written = last_time(path)
        os.utime(path, (written, written))
    return {
        "rows": rows,
        "requests": len(sizes),
        "requests_of_100_rows": int((sizes == BIG).sum()),
        "drifted_rows": rows - first,
        "segments": len(segments),
        "log_mb": sum(p.stat().st_size for p in segments) / 1e6,
        "flagged_rows": flagged,
        "seconds_to_write": time.perf_counter() - t0,
    }


def last_time(path: Path) -> float:
    """The time of a segment's last request."""
    import orjson

    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - (1 << 20)))
        tail = f.read().rstrip(b"\n")
    return float(orjson.loads(tail[tail.rfind(b"\n") + 1 :])["time"])


def timed(name: str, cmd: list, ok: tuple[int, ...] = (0,)) -> dict:
    """Run ``cmd``: its wall clock, its peak RSS and its stdout.

    The peak RSS is GNU time's (its child's own, from wait4): a child forked straight from this
    process would report at least this process's RSS, which Linux carries over fork and exec.
    """
    out, err, rss = (WORK / f"{name}.{ext}" for ext in ("out", "err", "rss"))
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    cmd = [TIME, "-f", "%M", "-o", rss, *cmd]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        t0 = time.perf_counter()
        code = subprocess.run(
            [str(c) for c in cmd], stdout=stdout, stderr=stderr, cwd=WORK, env=env
        ).returncode
        seconds = time.perf_counter() - t0
    if code not in ok:
        sys.exit(f"{name} exited with {code}:\n{err.read_text()[-3000:]}")
    peak = int(rss.read_text().split()[-1]) / 1024
    print(f"{name:16s} {seconds:7.2f} s  peak RSS {peak:7,.0f} MB", flush=True)
    return {"seconds": seconds, "peak_rss_mb": peak, "exit": code, "stdout": out.read_text()}


def median_run(runs: list[dict]) -> dict:
    """The run of median wall clock, with every run's seconds and peak RSS."""
    run = dict(sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2])
    run.pop("stdout", None)
    run["runs_seconds"] = [r["seconds"] for r in runs]
    run["runs_peak_rss_mb"] = [r["peak_rss_mb"] for r in runs]
    return run


def poc2prod_verdict(stdout: str, psi_alert: float) -> dict:
    doc = json.loads(stdout)
    latest = doc["windows"][-1]
    psi = {d["feature"]: d["psi"] for d in latest["drift"]}
    return {
        "flagged": sorted(f for f, v in psi.items() if v is not None and v > psi_alert),
        "rule": f"PSI > {psi_alert:g} in the latest 1-day window",
        "alerts": doc["alerts"],
        "windows": len(doc["windows"]),
        "rows": doc["rows"],
        "latest_window_rows": latest["rows"],
        "latest_flagged_share": latest["flagged_share"],
        "psi": psi,
        "score_psi": (latest.get("score_drift") or {}).get("psi"),
    }


def evidently_verdict(stdout: str) -> dict:
    doc = json.loads(stdout.strip().splitlines()[-1])
    return {
        "flagged": doc["drifted"],
        "rule": "failed drift test: " + "; ".join(doc["methods"]),
        "drifted_share": doc["drifted_share"],
        "scores": doc["scores"],
        "rows": doc["current_rows"],
        "reference_rows": doc["reference_rows"],
        "evidently": doc["evidently"],
        "pandas": doc["pandas"],
    }


def verdict_ok(flagged: list[str]) -> bool:
    others = set(flagged) - set(DRIFTED)
    return set(DRIFTED) <= set(flagged) and len(others) < (len(FEATURES) - len(DRIFTED)) / 2


def machine() -> dict:
    import lightgbm
    import pyarrow

    import poc2prod

    return _report.machine(
        poc2prod=poc2prod.__version__,
        pandas=pd.__version__,
        pyarrow=pyarrow.__version__,
        numpy=np.__version__,
        lightgbm=lightgbm.__version__,
    )


def speed(anchor: float, ours: float) -> str:
    return f"{anchor / ours:.1f}x faster" if anchor >= ours else f"{ours / anchor:.1f}x slower"


def memory(anchor: float, ours: float) -> str:
    if max(anchor, ours) / min(anchor, ours) < 1.1:
        return "about the same memory"
    return f"{anchor / ours:.1f}x less memory" if anchor >= ours else f"{ours / anchor:.1f}x more memory"


def section(meta: dict, log: dict, results: dict) -> str:
    cold, warm, ev = results["poc2prod_first"], results["poc2prod_cached"], results["evidently"]
    ours, theirs = results["verdicts"]["poc2prod"], results["verdicts"]["evidently"]
    runs = f"the median of {meta['runs']} runs" if meta["runs"] > 1 else "one run"
    lines = [
        SECTION,
        "",
        f"Measured {meta['date']} by `bench/monitor_speed.py` on {meta['cpus']} cores; poc2prod "
        f"{meta['poc2prod']} (pandas {meta['pandas']}, pyarrow {meta['pyarrow']}), Evidently "
        f"{theirs['evidently']} (pandas {theirs['pandas']}). {log['rows']:,} predictions x 30 numeric "
        f"features logged as `poc2prod serve` logs them: {log['requests']:,} requests over 7 days "
        f"(99.5 % of 1 row, the rest of 100), {log['log_mb']:,.0f} MB of JSON lines in "
        f"{log['segments']} segments; the last 20 % drifted (f00 shifted by 1 sd, f01's spread "
        f"doubled). Each figure is a whole command (interpreter start and imports included), {runs}: "
        "wall clock and peak RSS. poc2prod: `monitor --window 1d --json` (per daily window, PSI and KS "
        "of every feature and of the scores against the deployed version's reference statistics); "
        "Evidently: `Report([DataDriftPreset()], include_tests=True)`, reference = the "
        f"{theirs['reference_rows']:,} training rows, current = the same {log['rows']:,} rows read "
        "from Parquet.",
        "",
        "| tool | wall s | vs Evidently | peak RSS MB | features flagged |",
        "|---|---:|---:|---:|---|",
    ]
    for name, r, verdict in (
        ("poc2prod monitor, first run (parses the log, caches it as Parquet)", cold, ours),
        ("poc2prod monitor, next runs (Parquet cache)", warm, ours),
        (f"Evidently {theirs['evidently']} DataDriftPreset", ev, theirs),
    ):
        ratio = (
            f"{speed(ev['seconds'], r['seconds'])}, {memory(ev['peak_rss_mb'], r['peak_rss_mb'])}"
            if r is not ev
            else "1x"
        )
        lines.append(
            f"| {name} | {r['seconds']:.1f} | {ratio} | {r['peak_rss_mb']:,.0f} | "
            f"{', '.join(verdict['flagged']) or 'none'} |"
        )
    lines += [
        "",
        f"- Flagged: poc2prod, {ours['rule']} ({ours['latest_window_rows']:,} rows); Evidently, "
        f"{theirs['rule']}, on all {theirs['rows']:,} rows. poc2prod's alerts: {len(ours['alerts'])} "
        "(" + "; ".join(ours["alerts"]) + ").",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not EVIDENTLY.exists():
        sys.exit("Evidently's venv is missing: bash bench/setup_anchors.sh evidently")
    if not os.access(TIME, os.X_OK):
        sys.exit("GNU time is not installed: `apt-get install time` (Debian's package)")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    project, _, _ = serve_speed.build_model(WORK)
    log = write_log(project, args.rows)
    print(
        f"logged {log['rows']:,} rows in {log['requests']:,} requests: {log['log_mb']:,.0f} MB in "
        f"{log['segments']} segments ({log['seconds_to_write']:.0f} s)",
        flush=True,
    )

    from poc2prod.project import Project

    psi_alert = Project.load(project).spec.monitoring.psi_alert
    cache = Project.load(project).log_folder / ".columns"
    monitor = [POC2PROD, "monitor", "-C", project, "--window", "1d", "--json"]
    first, cached, anchor = [], [], []
    for _ in range(args.runs):
        shutil.rmtree(cache, ignore_errors=True)
        first.append(timed("poc2prod_first", monitor, ok=(0, 3)))  # 3: the latest window alerts
        assert cache.is_dir(), "the first run left no Parquet cache"
        cached.append(timed("poc2prod_cached", monitor, ok=(0, 3)))
    for _ in range(args.runs):
        script = HERE / "_evidently_run.py"
        anchor.append(timed("evidently", [EVIDENTLY, script, "reference.parquet", "current.parquet", WORK]))
    verdicts = {
        "poc2prod": poc2prod_verdict(first[-1]["stdout"], psi_alert),
        "evidently": evidently_verdict(anchor[-1]["stdout"]),
    }
    assert poc2prod_verdict(cached[-1]["stdout"], psi_alert)["flagged"] == verdicts["poc2prod"]["flagged"]
    results = {
        "poc2prod_first": median_run(first),
        "poc2prod_cached": median_run(cached),
        "evidently": median_run(anchor),
        "verdicts": verdicts,
    }
    checks = {tool: verdict_ok(v["flagged"]) for tool, v in verdicts.items()}
    checks["poc2prod_alerted"] = results["poc2prod_first"]["exit"] == 3
    meta = machine() | {"runs": args.runs, "evidently": verdicts["evidently"]["evidently"]}
    for tool, v in verdicts.items():
        print(f"{tool:9s} flags {', '.join(v['flagged']) or 'nothing'}  ({v['rule']})")
    print("poc2prod alerts:", *verdicts["poc2prod"]["alerts"], sep="\n  ")

    doc = {"meta": meta, "log": log, "results": results, "checks": checks}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    text = section(meta, log, results)
    print(text)
    if not all(checks.values()):
        sys.exit(f"a check failed: {checks}; BENCHMARKS.md left as it was")
    if args.write:
        write_section(text, SECTION)


if __name__ == "__main__":
    main()

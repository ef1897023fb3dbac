"""A soak of the prediction service: 10 minutes at 70 % of its maximum, memory and latency every 10 s.

    .venv/bin/python bench/soak.py --wait-quiet --write     # about 12 minutes on 2 cores; BENCHMARKS.md
    .venv/bin/python bench/soak.py --minutes 0.5            # a dry run: the same steps, 3 windows

Needs wrk (`apt-get install wrk`: Debian's, built on LuaJIT). Options: --minutes (the soak; default
10), --share (of the measured maximum to offer during the soak; default 0.70), --connections (wrk's,
for the maximum; default 64), --soak-connections (for the soak; default 256), --window
(seconds of each soak window; default 10),
--warmup (seconds of unthrottled load before measuring the maximum; default 5), --max-seconds and
--max-runs (the loads that measure it; default 2 of 10 s), --prove-budget (default 20),
--rss-bound-mb (the RSS growth allowed; default 50), --p99-ratio-bound (the last third's p99 over
the first third's allowed; default 1.5), --read-log-max (rows up to which the prediction log is
also read back with poc2prod's reader; default 300,000), --keep-log (keep the prediction log
afterwards), --wait-quiet (first wait, up to 10
minutes, for a 1-minute load average below 0.8, as bench/ray_overhead.py does), --render (the
section again from the results JSON, measuring nothing; with --write, into BENCHMARKS.md), --write,
--out (the results JSON; default bench/results/soak.json).

The project is made the way a user makes it, in bench/work/soak/credit (removed first): `poc2prod
init --example credit-risk` (the German credit data: 1,000 rows, 20 features, target `class`),
`prove --budget 20 --models lightgbm --quiet`, `deploy`. The service: `poc2prod serve --workers 2`
on 127.0.0.1 in a session of its own, with the prediction log and the Prometheus metrics on, as
shipped; ready when GET /ready answers 200. One request is checked by hand first. Every request
is POST /predict with {"rows": [one row]}, the row (every column but `class`) drawn at random by
wrk from the data set's 1,000 (bench/serve_speed.py's script: the bodies formatted once, at
start-up).

1. The maximum: wrk (1 thread, --connections, no pause) for --warmup seconds, then --max-runs loads
   of --max-seconds; the best requests/s is the maximum.
2. The soak: --share of that maximum, for --minutes, as consecutive wrk runs of --window seconds
   (a new wrk each window: its connections are closed and reopened every window). wrk has no
   constant-rate mode, but its Lua `delay()` hook is called before every request a connection
   sends and returns the pause in milliseconds (wrk truncates it to whole milliseconds: an event
   loop timer). Rather than a fixed pause per connection (connections / rate less the mean
   latency, which moves with the latency itself), the script keeps one schedule for all
   connections, a request every 1000 / target ms on the monotonic clock (LuaJIT's FFI,
   clock_gettime): each connection that is free takes the next slot and waits for it. So the
   offered rate is the target whatever the latency, as long as a connection is free at each slot
   (Little's law: at 12,800/s, 70 % of 18,000, 64 connections carry it only while the mean latency
   stays under 5 ms, and a 0.5-minute trial fell 5 % short with 64; hence 256 for the soak, good up
   to 20 ms, the section stating the bound); slots nobody could take are dropped,
   not made up in a burst, so a server that falls behind shows as an achieved rate below the
   target. Truncation sends a request up to 1 ms before its slot but never shifts the schedule.
   Latency is wrk's, from a request's send to its last byte (not from its slot).
3. After each window, from /proc: for every process in the server's session (uvicorn's
   supervisor, its 2 workers, multiprocessing's resource tracker), VmRSS, RssAnon and Pss
   (smaps_rollup) and CPU time (utime + stime); the prediction log folder's size on disk
   (allocated blocks) and its apparent size; the Prometheus multiprocess folder's size; wrk's own
   CPU (this process's children); the whole machine's busy CPU (/proc/stat), so that what other
   processes took meanwhile is known (busy less server less wrk), and the CPU and I/O pressure
   (/proc/pressure: the share of the time some task waited); the load average. wrk's `done` hook
   writes its counts (answers, non-2xx, socket errors by kind) and its latency histogram's
   percentiles: 1 to 99 by 1, 99.1 to 99.9 by 0.1, 99.95, 99.99, min and max.
4. At the end: GET /ready, and /metrics for the requests the service counted by endpoint and
   status; then SIGTERM to the server's process group (as `kill` does to the command) and the
   time it takes to exit, its exit status, and any process of its session left (killed by id).
   The prediction log's lines are then counted (one line per request: every request is one row),
   and, up to --read-log-max of them, read back with `poc2prod.store._predlog.read_log` too
   (which builds a dict per row: at some 12,000 requests a second for 10 minutes that is 7 million
   dicts and tens of gigabytes, so beyond that line counts only). The log (some 700 bytes a request
   on disk, over 5 GB for the soak: the free disk is checked first, from the bytes per request of
   the maximum's loads) is then deleted, unless --keep-log.

Verdicts (from the soak's windows): RSS growth, the median RSS of the last 5 windows less the
median of windows 2 to 6, in MB and %, against --rss-bound-mb (needs 11 windows or more to be a
verdict); p99 of the last third of the windows against the first third (each third's percentiles
pooled over its windows: every window's percentile grid read as a distribution, weighted by its
requests), against --p99-ratio-bound, and the worst window's p99; requests, non-2xx answers (must
be 0) and socket errors; the log's growth over the soak in MB and bytes per request; its rows
against the requests the service answered (its own counter) and those wrk counted (wrk does not
count the requests in flight when it stops, up to --connections per run, which the service did
answer and log). The per-minute table aggregates the windows by minute (the same pooling).

wrk runs on the same 2 cores as the server (it takes part of a core: the maximum is the service's
with wrk beside it). Run it on an otherwise quiet machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib.metadata import version
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import _report  # noqa: E402
from _processes import QUIET_LOAD, reap, session_pids, wait_quiet  # noqa: E402
from _report import write_section  # noqa: E402
from recommend_serving import wait_ready  # noqa: E402
from serve_speed import WRK_SCRIPT, free_port, start, stop  # noqa: E402

POC2PROD = ROOT / ".venv" / "bin" / "poc2prod"
WORK = HERE / "work" / "soak"
PROJECT = WORK / "credit"
RESULTS = HERE / "results" / "soak.json"
SECTION = "## soak: 10 minutes at 70% of the service's maximum"
TARGET = "class"
TICK = os.sysconf("SC_CLK_TCK")
GRID = [*range(1, 100), *(round(99 + i / 10, 1) for i in range(1, 10)), 99.95, 99.99]
MB = 1 << 20

# One schedule shared by every connection (wrk -t1: one Lua state): a free connection takes the
# next slot and waits for it. wrk gives Lua no clock finer than os.time's second, hence the FFI.
PACER = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } soak_timespec;
int clock_gettime(int clk_id, soak_timespec *tp);
]]
local ts = ffi.new("soak_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1e3 + tonumber(ts.tv_nsec) / 1e6
end
local slot = nil
delay = function()
  local now = now_ms()
  if slot == nil or slot < now then slot = now end  -- a missed slot is dropped, not made up
  local wait = slot - now
  slot = slot + interval
  return wait
end
"""

# wrk's --latency table stops at p99 and rounds; its histogram (1 µs buckets) read here instead,
# as one JSON line. An empty histogram's min is UINT64_MAX, which Lua's %d cannot print.
DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  local grid = {}
  if summary.requests > 0 then
    for i, p in ipairs(pcts) do grid[i] = string.format("%d", latency:percentile(p)) end
    grid = {string.format("%d", latency.min), table.concat(grid, ","), string.format("%d", latency.max)}
  end
  io.write(string.format(
    'SOAK {"requests":%d,"duration_us":%d,"status":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"timeout":%d,"mean_us":%.1f,"grid_us":[%s]}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    summary.requests > 0 and latency.mean or 0, table.concat(grid, ",")))
end
"""


# -- the project and its requests ------------------------------------------------------------------


def cli(*args) -> float:
    """Run ``poc2prod args`` as a user does; its wall seconds (its output in WORK/<command>.log)."""
    log = WORK / f"{args[0]}.log"
    t0 = time.monotonic()
    with log.open("wb") as f:
        done = subprocess.run([str(POC2PROD), *map(str, args)], stdout=f, stderr=subprocess.STDOUT, cwd=WORK)
    if done.returncode:
        sys.exit(f"poc2prod {args[0]} failed with {done.returncode}; see {log}")
    return round(time.monotonic() - t0, 1)


def build(prove_budget: float) -> dict:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    seconds = {
        "init": cli("init", PROJECT, "--example", "credit-risk"),
        "prove": cli("prove", "-C", PROJECT, "--budget", prove_budget, "--models", "lightgbm", "--quiet"),
        "deploy": cli("deploy", "-C", PROJECT),
    }
    from poc2prod.project import Project

    proven = Project.load(PROJECT).last("prove") or {}
    return {
        "seconds": seconds,
        "prove": {k: v for k, v in proven.items() if isinstance(v, str | int | float)},
    }


def write_bodies() -> tuple[Path, bytes]:
    """The file of request bodies (one line each: a row of the data set) and the first one."""
    import pandas as pd

    frame = pd.read_csv(PROJECT / "german_credit.csv").drop(columns=[TARGET])
    rows = json.loads(frame.to_json(orient="records"))  # plain Python numbers and strings
    lines = [json.dumps({"rows": [row]}, separators=(",", ":")).encode() for row in rows]
    path = WORK / "bodies.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path, lines[0]


def scripts(bodies: Path, target: float) -> tuple[Path, Path]:
    """wrk's scripts: unthrottled (the maximum), and paced at ``target`` requests/s (the soak)."""
    done = f"local pcts = {{{', '.join(map(str, GRID))}}}\n" + DONE
    free, paced = WORK / "max.lua", WORK / "soak.lua"
    free.write_text(WRK_SCRIPT % bodies + done)
    paced.write_text(WRK_SCRIPT % bodies + f"local interval = {1000 / target!r}\n" + PACER + done)
    return free, paced


# -- load and samples ------------------------------------------------------------------------------


def load(port: int, lua: Path, seconds: float, connections: int) -> dict:
    """One wrk run on POST /predict: counts, latency (ms) and its percentile grid (µs), wrk's CPU."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "-s",
            str(lua),
            f"http://127.0.0.1:{port}/predict",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = json.loads(re.search(r"^SOAK (.*)$", out, re.M).group(1))
    took = r["duration_us"] / 1e6
    grid = r.pop("grid_us")
    pct = dict(zip(GRID, grid[1:-1], strict=True)) if grid else {}
    return {
        "requests": r["requests"],
        "seconds": took,
        "requests_per_s": r["requests"] / took,
        "p50_ms": pct[50] / 1e3 if pct else None,
        "p90_ms": pct[90] / 1e3 if pct else None,
        "p99_ms": pct[99] / 1e3 if pct else None,
        "p99_9_ms": pct[99.9] / 1e3 if pct else None,
        "max_ms": grid[-1] / 1e3 if grid else None,
        "mean_ms": r["mean_us"] / 1e3,
        "not_ok": r["status"],
        "socket_errors": {k: r[k] for k in ("connect", "read", "write", "timeout")},
        "wrk_cores": (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / took,
        "grid_us": grid,
    }


def _role(cmdline: bytes) -> str:
    if b"spawn_main" in cmdline:
        return "worker"
    if b"resource_tracker" in cmdline:
        return "resource tracker"
    if b"poc2prod" in cmdline and b"serve" in cmdline:
        return "supervisor"
    return Path(cmdline.split(b"\0")[0].decode(errors="replace")).name


def _kb(text: str, key: str) -> int:
    m = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else 0


def _folder_bytes(folder: Path) -> tuple[int, int, int]:
    """On disk (allocated blocks), apparent size, and files, of everything under ``folder``."""
    disk = size = files = 0
    for path in folder.rglob("*") if folder.exists() else ():
        with contextlib.suppress(OSError):
            st = path.stat()
            if path.is_file():
                disk, size, files = disk + st.st_blocks * 512, size + st.st_size, files + 1
    return disk, size, files


def sample(sid: int, port: int) -> dict:
    """Memory and CPU of every process in the server's session, and the log folder's size, now."""
    procs = {}
    for pid in session_pids(sid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # it exited between the listing and the reading
            continue
        procs[str(pid)] = {
            "role": _role(cmdline),
            "rss_mb": _kb(status, "VmRSS") / 1024,
            "anon_mb": _kb(status, "RssAnon") / 1024,
            "pss_mb": _kb(rollup, "Pss") / 1024,
            "threads": int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1)),
            "cpu_s": (int(stat[11]) + int(stat[12])) / TICK,  # after the name: utime, stime are 12, 13
        }
    state = PROJECT / ".poc2prod"
    disk, size, files = _folder_bytes(state / "predictions")
    return {
        "at": time.monotonic(),
        "processes": procs,
        "rss_mb": sum(p["rss_mb"] for p in procs.values()),
        "anon_mb": sum(p["anon_mb"] for p in procs.values()),
        "pss_mb": sum(p["pss_mb"] for p in procs.values()),
        "cpu_s": sum(p["cpu_s"] for p in procs.values()),
        "log_disk_bytes": disk,
        "log_bytes": size,
        "log_files": files,
        "metrics_bytes": _folder_bytes(state / "metrics" / str(port))[0],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        **machine_cpu(),
    }


def machine_cpu() -> dict:
    """The whole machine's CPU seconds so far (busy: all but idle and iowait; stolen by the
    hypervisor) and the seconds some task stalled waiting for a CPU and for I/O (pressure, PSI)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    out = {"busy_s": (sum(ticks) - ticks[3] - ticks[4]) / TICK, "steal_s": ticks[7] / TICK}
    for kind in ("cpu", "io"):
        with contextlib.suppress(OSError, AttributeError):
            text = Path(f"/proc/pressure/{kind}").read_text()
            out[f"{kind}_stall_s"] = int(re.search(r"^some .*total=(\d+)", text, re.M).group(1)) / 1e6
    return out


def between(a: dict, b: dict, wrk_cores: float) -> dict:
    """Cores used between samples ``a`` and ``b``: the server's processes (those in both), the whole
    machine, and the rest (machine less server less wrk: other processes), and the CPU and I/O
    pressure (the share of the time some task was stalled)."""
    dt = b["at"] - a["at"]
    server = sum(
        p["cpu_s"] - a["processes"][pid]["cpu_s"]
        for pid, p in b["processes"].items()
        if pid in a["processes"]
    )
    machine = (b["busy_s"] - a["busy_s"]) / dt
    out = {
        "server_cores": server / dt,
        "machine_cores": machine,
        "others_cores": max(0.0, machine - server / dt - wrk_cores),
        "steal_cores": (b["steal_s"] - a["steal_s"]) / dt,
    }
    for kind in ("cpu", "io"):
        if f"{kind}_stall_s" in a and f"{kind}_stall_s" in b:
            out[f"{kind}_pressure"] = (b[f"{kind}_stall_s"] - a[f"{kind}_stall_s"]) / dt
    return out


def pooled(windows: list[dict], q: float) -> float | None:
    """The ``q``-th percentile (ms) of the requests of ``windows`` together: each window's percentile
    grid (min, 1 ... 99.99, max) read as its distribution, weighted by its requests."""
    runs = [w["wrk"] for w in windows if w["wrk"]["grid_us"]]
    if not runs:
        return None
    ps = np.array([0.0, *GRID, 100.0])
    xs = np.unique(np.concatenate([r["grid_us"] for r in runs]).astype(float))
    cdf = sum(r["requests"] * np.interp(xs, r["grid_us"], ps) for r in runs) / sum(
        r["requests"] for r in runs
    )
    return float(np.interp(q, np.maximum.accumulate(cdf), xs)) / 1e3


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def counted(metrics: bytes) -> dict[str, int]:
    """The service's own count of answers, by endpoint and status, from its Prometheus exposition."""
    out = {}
    for endpoint, status, n in re.findall(
        rb'^poc2prod_requests_total\{endpoint="([^"]*)",status="([^"]*)"\} (\S+)$', metrics, re.M
    ):
        out[f"{endpoint.decode()} {status.decode()}"] = round(float(n))
    return out


def log_lines(folder: Path) -> int:
    """Non-empty lines of the prediction log's segments: one per request."""
    n = 0
    for path in folder.glob("predictions-*.jsonl"):
        with path.open("rb") as f:
            n += sum(1 for line in f if line.strip())
    return n


# -- the run ---------------------------------------------------------------------------------------


def show_window(w: dict, target: float) -> None:
    r = w["wrk"]
    print(
        f"window {w['index']:3d} {w['end_s']:5.0f} s  {r['requests_per_s']:6,.0f}/s (target {target:,.0f})  "
        f"p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  RSS {w['rss_mb']:.1f} MB "
        f"(PSS {w['pss_mb']:.1f})  cores: server {w['server_cores']:.2f}, wrk {r['wrk_cores']:.2f}, "
        f"others {w['others_cores']:.2f}  "
        f"log {w['log_disk_bytes'] / MB:.1f} MB  non-2xx {r['not_ok']}  "
        f"socket errors {sum(r['socket_errors'].values())}",
        flush=True,
    )


def measure(args, doc: dict) -> None:
    meta = doc["meta"]
    meta["build"] = build(args.prove_budget)
    print(f"project built: {meta['build']['seconds']} s", flush=True)
    bodies, first = write_bodies()
    port = free_port()
    t0 = time.monotonic()
    proc = start("poc2prod", PROJECT, port, WORK)
    sid, end = proc.pid, doc["end"]
    stopped = False
    try:
        wait_ready(port, proc, WORK / "poc2prod.log")
        meta["ready_seconds"] = round(time.monotonic() - t0, 2)
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict", data=first, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            meta["check"] = {"status": resp.status, "answer": json.loads(resp.read())}
        print(f"ready in {meta['ready_seconds']} s; one row: {meta['check']}", flush=True)
        at_ready = sample(sid, port)
        free, _ = scripts(bodies, 1.0)

        # 1. the maximum
        warm = load(port, free, args.warmup, args.connections)
        before = sample(sid, port)
        runs = []
        for _ in range(args.max_runs):
            a = sample(sid, port)
            r = load(port, free, args.max_seconds, args.connections)
            r |= between(a, sample(sid, port), r["wrk_cores"])
            runs.append(r)
            print(
                f"maximum: {r['requests_per_s']:,.0f}/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  "
                f"server {r['server_cores']:.2f} cores  wrk {r['wrk_cores']:.2f}  others "
                f"{r['others_cores']:.2f}  non-2xx {r['not_ok']}",
                flush=True,
            )
        best = max(r["requests_per_s"] for r in runs)
        target = args.share * best
        doc["max"] = {"warmup": warm, "runs": runs, "requests_per_s": best, "target_per_s": target}
        _, paced = scripts(bodies, target)
        # The log grows by every request: some 10 minutes at 70 % of 18,000/s is over 5 GB.
        after = sample(sid, port)
        per_request = (after["log_disk_bytes"] - before["log_disk_bytes"]) / sum(r["requests"] for r in runs)
        need = per_request * target * args.minutes * 60 * 1.2
        free_bytes = shutil.disk_usage(PROJECT).free
        doc["max"]["log_bytes_per_request"] = per_request
        print(f"the soak's prediction log: about {need / 1.2 / 1e9:.1f} GB; {free_bytes / 1e9:.1f} GB free")
        if need > free_bytes:
            sys.exit(f"not enough disk for the prediction log: {need / 1e9:.1f} GB needed with a margin")

        # 2. the soak
        soak = doc["soak"]
        soak["at_ready"], soak["before"] = at_ready, (prev := after)
        soak["before_max"] = before
        started = prev["at"]
        n = max(1, round(args.minutes * 60 / args.window))
        print(
            f"soak: {n} windows of {args.window:g} s at {target:,.0f} requests/s ({args.share:.0%})",
            flush=True,
        )
        for i in range(n):
            r = load(port, paced, args.window, args.soak_connections)
            s = sample(sid, port)
            w = {
                "index": i + 1,
                "end_s": s["at"] - started,
                "wrk": r,
                **s,
                **between(prev, s, r["wrk_cores"]),
            }
            soak["windows"].append(w)
            show_window(w, target)
            prev = s
            if (i + 1) % 6 == 0:  # so far, should the run be stopped
                args.out.write_text(json.dumps(doc, indent=2) + "\n")
        soak["wall_seconds"] = prev["at"] - started

        # 3. the end, once the workers have added their last answers to the metrics (0.1 s after)
        time.sleep(1)
        end["ready_status"] = get(port, "/ready")[0]
        end["metrics_status"], metrics = get(port, "/metrics")
        end["service_counted"] = counted(metrics)
        t = time.monotonic()
        stopped = True
        stop("poc2prod", proc)
        end["stop_seconds"] = round(time.monotonic() - t, 2)
        end["exit_status"] = proc.returncode
        end["left_running"] = reap(sid)
    finally:
        if not stopped:
            stop("poc2prod", proc)
            reap(sid)
    folder = PROJECT / ".poc2prod" / "predictions"
    end["log_lines"] = log_lines(folder)
    if end["log_lines"] <= args.read_log_max:
        from poc2prod.store._predlog import read_log

        end["log_rows_read"] = len(read_log(folder))
    wrk_runs = [doc["max"]["warmup"], *doc["max"]["runs"], *(w["wrk"] for w in doc["soak"]["windows"])]
    end["wrk_counted"] = sum(r["requests"] for r in wrk_runs)
    end["wrk_runs"] = len(wrk_runs)
    end["by_hand"] = 1
    if not args.keep_log:  # gigabytes, counted: nothing else reads them
        shutil.rmtree(folder)


# -- verdicts and the section ----------------------------------------------------------------------


def verdicts(doc: dict) -> dict:
    a, w = doc["meta"]["args"], doc["soak"]["windows"]
    n = len(w)
    early, late = (w[1:6] or w[:1]), w[-5:]
    rss0, rss1 = statistics.median(x["rss_mb"] for x in early), statistics.median(x["rss_mb"] for x in late)
    pss0, pss1 = statistics.median(x["pss_mb"] for x in early), statistics.median(x["pss_mb"] for x in late)
    third = max(1, n // 3)
    p99_first, p99_last = pooled(w[:third], 99), pooled(w[-third:], 99)
    worst = max(w, key=lambda x: x["wrk"]["p99_ms"] or 0)
    requests = sum(x["wrk"]["requests"] for x in w)
    seconds = sum(x["wrk"]["seconds"] for x in w)
    log0 = doc["soak"]["before"]["log_disk_bytes"]
    growth = w[-1]["log_disk_bytes"] - log0
    rates = [x["wrk"]["requests_per_s"] for x in w]
    end = doc["end"]
    answered = sum(
        v for k, v in end.get("service_counted", {}).items() if "predict" in k and k.endswith(" 200")
    )
    return {
        "windows": n,
        "enough": n >= 11,
        "rss_early_mb": rss0,
        "rss_late_mb": rss1,
        "rss_growth_mb": rss1 - rss0,
        "rss_growth_pct": (rss1 - rss0) / rss0 * 100,
        "pss_growth_mb": pss1 - pss0,
        "rss_ok": rss1 - rss0 <= a["rss_bound_mb"],
        "p99_first_ms": p99_first,
        "p99_last_ms": p99_last,
        "p99_ratio": p99_last / p99_first,
        "p99_ok": p99_last / p99_first <= a["p99_ratio_bound"],
        "third": third,
        "worst_p99_ms": worst["wrk"]["p99_ms"],
        "worst_window": worst["index"],
        "requests": requests,
        "requests_per_s": requests / seconds,
        "rate_min": min(rates),
        "rate_max": max(rates),
        "load_share": seconds / doc["soak"]["wall_seconds"],
        "not_ok": sum(x["wrk"]["not_ok"] for x in w),
        "socket_errors": sum(sum(x["wrk"]["socket_errors"].values()) for x in w),
        "log_growth_mb": growth / MB,
        "log_bytes_per_request": growth / requests if requests else None,
        "service_answered": answered,
        "connections": a["soak_connections"],
        "latency_room_ms": a["soak_connections"] / doc["max"]["target_per_s"] * 1e3,
        "others_cores": _mean_of(w, "others_cores"),
        "others_max": max(x["others_cores"] for x in w),
        "cpu_pressure": _mean_of(w, "cpu_pressure"),
    }


def minutes(doc: dict) -> list[dict]:
    """The windows aggregated by minute of the soak."""
    w, per = doc["soak"]["windows"], max(1, round(60 / doc["meta"]["args"]["window"]))
    out = []
    for m in range(0, len(w), per):
        group = w[m : m + per]
        req = sum(x["wrk"]["requests"] for x in group)
        seconds = sum(x["wrk"]["seconds"] for x in group)
        out.append(
            {
                "minute": m // per + 1,
                "windows": len(group),
                "requests_per_s": req / seconds,
                "p50_ms": pooled(group, 50),
                "p99_ms": pooled(group, 99),
                "worst_p99_ms": max(x["wrk"]["p99_ms"] or 0 for x in group),
                "rss_mb": group[-1]["rss_mb"],
                "pss_mb": group[-1]["pss_mb"],
                **{k: _mean_of(group, k) for k in ("server_cores", "others_cores", "cpu_pressure")},
                "log_mb": group[-1]["log_disk_bytes"] / MB,
                "not_ok": sum(x["wrk"]["not_ok"] for x in group),
            }
        )
    return out


def _mean_of(windows: list[dict], key: str) -> float | None:
    """``key``'s mean over ``windows``, weighted by their wrk seconds (None where it was not read)."""
    got = [(x[key], x["wrk"]["seconds"]) for x in windows if x.get(key) is not None]
    return sum(v * t for v, t in got) / sum(t for _, t in got) if got else None


def _procs(s: dict) -> str:
    by_role: dict[str, list[float]] = {}
    for p in s["processes"].values():
        by_role.setdefault(p["role"], []).append(p["rss_mb"])
    return ", ".join(
        f"{role} {' + '.join(f'{x:.0f}' for x in sorted(v))}" for role, v in sorted(by_role.items())
    )


def _ok(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def section(doc: dict) -> str:
    m, a, mx, end = doc["meta"], doc["meta"]["args"], doc["max"], doc["end"]
    v = verdicts(doc)
    best = max(mx["runs"], key=lambda r: r["requests_per_s"])
    la0, la1 = (", ".join(map(str, m[k])) for k in ("load_average_at_start", "load_average_at_end"))
    versions = f"poc2prod {m['poc2prod']}, LightGBM {m['lightgbm']}, uvicorn {m['uvicorn']}, {m['wrk']}"
    lines = [
        SECTION,
        "",
        "Reproduce: `.venv/bin/python bench/soak.py --wait-quiet --write` (about 12 minutes on 2 cores; "
        "the script's docstring says exactly how it measures).",
        "",
        f"Measured {m['date']} by `bench/soak.py` on {m['cpus']} cores, Python {m['python']}, {versions}. "
        f"Load average (1, 5, 15 min) {la0} at the start and {la1} at the end"
        + ("" if m["load_average_at_start"][0] < QUIET_LOAD else " (**not a quiet machine**)")
        + (f"; waited {m['wait']['waited_seconds']} s for quiet" if m.get("wait") else "")
        + ". The service: `poc2prod serve --workers 2` of the German credit example (`init --example "
        f"credit-risk`, `prove --budget {a['prove_budget']:g} --models lightgbm`, `deploy`) on "
        "127.0.0.1, the prediction log and the Prometheus metrics on, as shipped; each request POST "
        "/predict with one row drawn at random from the data set's 1,000. Load: wrk, 1 thread, "
        f"{a['connections']} connections for the maximum, {a['soak_connections']} for the soak, on the same "
        "cores."
        + (
            ""
            if (a["minutes"], a["share"]) == (10, 0.7)
            else f" **This run: {a['minutes']:g} minutes at {a['share']:.0%}, not the title's.**"
        ),
        "",
        f"- Maximum: **{mx['requests_per_s']:,.0f} requests/s**, the better of {len(mx['runs'])} "
        f"unthrottled loads of {a['max_seconds']:g} s after {a['warmup']:g} s of warm-up ("
        + ", ".join(f"{r['requests_per_s']:,.0f}" for r in mx["runs"])
        + f"/s); at it p50 {best['p50_ms']:.2f} ms, p99 {best['p99_ms']:.2f} ms, the server using "
        f"{best['server_cores']:.2f} cores, wrk {best['wrk_cores']:.2f}, other processes "
        f"{best['others_cores']:.2f}"
        + (
            " (**the maximum is the machine's leftovers, not the service's**)"
            if best["others_cores"] > 0.25
            else ""
        )
        + ".",
        f"- Soak: {a['minutes']:g} minutes at {a['share']:.0%} of it: target "
        f"**{mx['target_per_s']:,.0f}/s**, achieved **{v['requests_per_s']:,.0f}/s** (windows "
        f"{v['rate_min']:,.0f} to {v['rate_max']:,.0f}/s), in {v['windows']} windows of {a['window']:g} s; "
        f"wrk was loading {v['load_share']:.1%} of the soak's wall time (the rest: starting a wrk and "
        f"sampling, between windows). Its {v['connections']} connections carry the target while the "
        f"mean latency stays under {v['connections']} / target = {v['latency_room_ms']:.1f} ms (Little's "
        "law); beyond that the rate falls short"
        + (
            f": **it did, by {1 - v['requests_per_s'] / mx['target_per_s']:.0%}**."
            if v["requests_per_s"] < 0.95 * mx["target_per_s"]
            else "."
        ),
        "",
        "| minute | requests/s | p50 ms | p99 ms | worst 10 s p99 ms | RSS MB | PSS MB | server cores "
        "| others' cores | log MB | non-2xx |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in minutes(doc):
        part = f" ({row['windows']} windows)" if row["windows"] * a["window"] < 60 else ""
        lines.append(
            f"| {row['minute']}{part} | {row['requests_per_s']:,.0f} | {row['p50_ms']:.2f} | "
            f"{row['p99_ms']:.2f} | {row['worst_p99_ms']:.2f} | {row['rss_mb']:.1f} | {row['pss_mb']:.1f} | "
            f"{row['server_cores']:.2f} | {row['others_cores']:.2f} | {row['log_mb']:.1f} | {row['not_ok']} |"
        )
    rss = _ok(v["rss_ok"])
    if not v["enough"]:
        rss += f" (only {v['windows']} windows: too short for a verdict, which needs 11)"
    extra = end["log_lines"] - v["service_answered"]
    if extra == 0:
        logged = "**every answer logged**, and nothing else"
    elif extra > 0:
        logged = (
            f"**every answer logged**, and {extra:,} rows more than the service counted answered 200 "
            "(a row is logged before its answer is sent, and counted after)"
        )
    else:
        logged = f"**{-extra:,} answers not logged**"
    read = (
        f"; read back by poc2prod's reader: {end['log_rows_read']:,} rows" if "log_rows_read" in end else ""
    )
    lines += [
        "",
        f"- **Memory**: RSS {v['rss_early_mb']:.1f} MB (median of windows 2-6) to {v['rss_late_mb']:.1f} "
        f"MB (median of the last 5): **{v['rss_growth_mb']:+.1f} MB ({v['rss_growth_pct']:+.1f} %)**, "
        f"bound {a['rss_bound_mb']:g} MB: **{rss}**. PSS {v['pss_growth_mb']:+.1f} MB.",
        f"- **Latency**: p99 of the first third ({v['third']} windows) {v['p99_first_ms']:.2f} ms, of the "
        f"last third {v['p99_last_ms']:.2f} ms: ratio **{v['p99_ratio']:.2f}**, bound "
        f"{a['p99_ratio_bound']:g}: **{_ok(v['p99_ok'])}**; the worst window's p99 "
        f"{v['worst_p99_ms']:.2f} ms (window {v['worst_window']}).",
        f"- **Errors**: {v['requests']:,} requests in the soak, **{v['not_ok']} non-2xx** and "
        f"{v['socket_errors']} socket errors: **{_ok(v['not_ok'] == 0)}**.",
        f"- **Prediction log**: grew {v['log_growth_mb']:.1f} MB on disk over the soak, "
        f"**{v['log_bytes_per_request']:,.0f} bytes per request**. Afterwards it held "
        f"{end['log_lines']:,} requests (lines, a row each{read}); the service counted "
        f"{v['service_answered']:,} POST /predict answered 200, wrk {end['wrk_counted']:,} + "
        f"{end['by_hand']} by hand over its {end['wrk_runs']} runs (wrk does not count those in flight "
        "when it stops: up to its connections a run): "
        f"{logged}.",
        f"- **End**: /ready answered {end.get('ready_status')} after the soak"
        + ("" if end.get("ready_status") == 200 else " (**not ready**)")
        + f"; SIGTERM to the process group: exit status {end.get('exit_status')} in "
        f"{end.get('stop_seconds')} s, {end.get('left_running')} processes of its session left.",
        "",
        "Notes:",
        "",
        "- wrk runs on the same 2 cores (one thread): the maximum is the service's with wrk beside it, "
        "and the share of it is a share of what the two together reach, not of the service alone. Other "
        f"processes (the machine's busy CPU less the server's and wrk's) took {v['others_cores']:.2f} "
        f"cores on average during the soak, {v['others_max']:.2f} in the busiest window"
        + (
            f"; some task waited for a CPU {v['cpu_pressure']:.0%} of the time (CPU pressure)"
            if v["cpu_pressure"] is not None
            else ""
        )
        + ".",
        "- RSS is the sum of VmRSS over every process in the server's session (MB, by process: "
        f"{_procs(doc['soak']['before'])} before the soak; {_procs(doc['soak']['windows'][-1])} after "
        "it). Pages shared between them (libraries mapped by each) are counted once per process; PSS "
        "shares them out. The Prometheus multiprocess files are mmapped and the prediction log sits in "
        "the page cache: neither is in RSS (the log's growth is its own line).",
        "- Every window is a new wrk: its connections are closed and opened again every window. The "
        "pace is one schedule for all connections (no burst to make up a missed slot); latency is from a "
        "request's send to its last byte. A minute's and a third's percentiles pool their windows' "
        "percentile grids.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--share", type=float, default=0.70)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--soak-connections", type=int, default=256)
    parser.add_argument("--window", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--max-seconds", type=float, default=10)
    parser.add_argument("--max-runs", type=int, default=2)
    parser.add_argument("--prove-budget", type=float, default=20)
    parser.add_argument("--rss-bound-mb", type=float, default=50)
    parser.add_argument("--p99-ratio-bound", type=float, default=1.5)
    parser.add_argument("--read-log-max", type=int, default=300_000)
    parser.add_argument("--keep-log", action="store_true")
    parser.add_argument("--wait-quiet", action="store_true")
    parser.add_argument("--render", action="store_true")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.render:  # the section again from the results JSON, nothing measured
        text = section(json.loads(args.out.read_text()))
        print(text)
        if args.write:
            write_section(text, SECTION)
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `apt-get install wrk` (Debian's package)")

    def stopped(sig, _frame):  # the server is still stopped, by the finally blocks on the way out
        print(f"stopped by signal {sig} at {time.strftime('%H:%M:%S')}", flush=True)
        sys.exit(128 + sig)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stopped)
    wait = wait_quiet() if args.wait_quiet else None
    meta = _report.machine(
        poc2prod=version("poc2prod"),
        lightgbm=version("lightgbm"),
        uvicorn=version("uvicorn"),
        wrk=subprocess.run(["wrk", "-v"], capture_output=True, text=True)
        .stdout.split(" Copyright")[0]
        .strip(),
    )
    meta["args"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    if wait:
        meta["wait"] = wait
    print(f"load average at the start: {meta['load_average_at_start']}", flush=True)
    doc = {"meta": meta, "max": {}, "soak": {"windows": []}, "end": {}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    measure(args, doc)
    meta["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    text = section(doc)
    print("\n" + text)
    if args.write:
        write_section(text, SECTION)


if __name__ == "__main__":
    main()

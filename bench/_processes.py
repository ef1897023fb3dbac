"""The benchmarks' process housekeeping: waiting for a quiet machine, and killing what a measured
command's session left behind (Ray's daemons, say)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

QUIET_LOAD = 0.8  # 1-minute load average on 2 cores below which the machine counts as quiet


def session_pids(sid: int) -> list[int]:
    """Processes still alive in the session ``sid`` (one this script started), zombies left out."""
    out = subprocess.run(["ps", "-eo", "pid=,sid=,stat="], capture_output=True, text=True).stdout
    return [
        int(p)
        for p, s, st in (line.split()[:3] for line in out.splitlines())
        if int(s) == sid and "Z" not in st
    ]


def reap(sid: int) -> int:
    """Kill, by process id, whatever the session ``sid`` left running (Ray's daemons, say)."""
    left = session_pids(sid)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(left)


def wait_quiet(limit: float = 600, every: float = 30) -> dict:
    """Wait (at most ``limit`` seconds, looking every ``every``) for the load average to fall below
    QUIET_LOAD; what was seen."""
    started = time.monotonic()
    seen = []
    while True:
        load = os.getloadavg()[0]
        seen.append(round(load, 2))
        if load < QUIET_LOAD or time.monotonic() - started + every > limit:
            break
        print(f"load average {load:.2f}: waiting for it to fall below {QUIET_LOAD}", flush=True)
        time.sleep(every)
    return {
        "waited_seconds": round(time.monotonic() - started),
        "loads_seen": seen,
        "quiet": seen[-1] < QUIET_LOAD,
    }

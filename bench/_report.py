"""Writing benchmark figures into BENCHMARKS.md, one section per benchmark script."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = (
    "# Benchmarks\n\n"
    "Reproduce: `bash bench/setup_anchors.sh && .venv/bin/python bench/prove_vs_automl.py --write` "
    "(and `.venv/bin/python bench/prove_vs_automl.py --gate optimize --write`, "
    "`.venv/bin/python bench/prove_budget.py --write`, `.venv/bin/python bench/serve_speed.py --write`, "
    "`.venv/bin/python bench/monitor_speed.py --write`); "
    "each section says how it was measured.\n"
)


def write_section(text: str, section: str) -> None:
    """Insert or replace ``section`` (a level-2 heading and its text) in BENCHMARKS.md."""
    path = BENCHMARKS
    doc = path.read_text() if path.exists() else HEADER
    if section in doc:
        start = doc.index(section)
        nxt = doc.find("\n## ", start + len(section))
        doc = doc[:start] + text + ("\n" + doc[nxt:] if nxt != -1 else "\n")
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    path.write_text(doc.rstrip("\n") + "\n")


def machine(**versions: str) -> dict:
    """When and where a benchmark ran (UTC date, cores, Python, load at start), with ``versions``."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        **versions,
    }

"""What OpenMP's spin-waiting costs LightGBM and XGBoost when two processes share the cores, and
what poc2prod's defaults cost when one process has them to itself: GNU OpenMP's GOMP_SPINCOUNT=3000,
set when the package is imported, and one thread for a fit on fewer than 2,000 rows.

    .venv/bin/python bench/booster_spin.py --write     # about 10 minutes on 2 cores; updates BENCHMARKS.md

For each library, each data set (the German credit data, 800 rows, and the Taiwan credit data,
24,000 rows: the sizes of their 80 % training sets) and each setting (the libraries' default and
poc2prod's), a fresh interpreter fits 3 models with as many threads as there are cores (poc2prod:
one on the German data), the way optimize refits a booster: once alone, then two such interpreters
at the same moment. Time is the 3 fits, imports excluded; the figure for "two at once" is the
slower of the pair. Each cell is the median of --repeats runs (default 3), except the libraries'
default two at once: it runs once and is stopped after --cap seconds (default 120), reported as
"> cap". Run it on an otherwise quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from _report import machine, write_section

from poc2prod.learn._boosters import _ONE_THREAD_ROWS

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
SECTION = "## boosters beside another process: OpenMP spin-waiting"
SETTINGS = {"library default": None, "poc2prod": "3000"}

# One fit job, run in a fresh interpreter so that the OpenMP runtime reads the setting at load.
FIT = r"""
import sys, time
import numpy as np, pandas as pd
library, path, rows, target, threads = sys.argv[1:]
data = pd.read_csv(path).head(int(rows))
y = pd.factorize(data.pop(target))[0]
X = np.column_stack(
    [c.to_numpy() if pd.api.types.is_numeric_dtype(c) else pd.factorize(c)[0] for _, c in data.items()]
)
if library == "lightgbm":
    from lightgbm import LGBMClassifier as Model
    extra = {"verbose": -1}
else:
    from xgboost import XGBClassifier as Model
    extra = {}
started = time.perf_counter()
for seed in range(3):
    Model(n_estimators=300, learning_rate=0.03, random_state=seed, n_jobs=int(threads), **extra).fit(X, y)
print(time.perf_counter() - started)
"""

# name: (file, rows fitted, target column)
DATA = {
    "german (800 rows)": (SHARED / "uci_statlog_german_credit" / "german_credit.csv", 800, "class"),
    "taiwan (24,000 rows)": (
        SHARED / "uci_default_credit_card_taiwan" / "UCI_Credit_Card.csv",
        24000,
        "default.payment.next.month",
    ),
}


def _run(library: str, data: str, setting: str, at_once: int, cap: float | None = None) -> float:
    """Seconds the slowest of ``at_once`` simultaneous fit jobs took (``inf`` when stopped at ``cap``)."""
    path, rows, target = DATA[data]
    spin = SETTINGS[setting]
    threads = os.cpu_count() or 1
    if spin is not None and rows < _ONE_THREAD_ROWS:  # poc2prod's rule for small fits
        threads = 1
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    if spin is not None:
        env["GOMP_SPINCOUNT"] = spin
    cmd = [sys.executable, "-c", FIT, library, str(path), str(rows), target, str(threads)]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(at_once)]
    try:
        return max(float(p.communicate(timeout=cap)[0]) for p in procs)
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
            p.wait()
        return float("inf")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cap", type=float, default=120.0)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    import lightgbm
    import xgboost

    meta = machine(lightgbm=lightgbm.__version__, xgboost=xgboost.__version__)
    rows = []
    for library in ("lightgbm", "xgboost"):
        for data in DATA:
            cells = {}
            for name, spin in SETTINGS.items():
                for at_once in (1, 2):
                    if spin is None and at_once == 2:  # minutes per run: once, and capped
                        cells[f"{name}|{at_once}"] = _run(library, data, name, at_once, args.cap)
                        continue
                    runs = [_run(library, data, name, at_once) for _ in range(args.repeats)]
                    cells[f"{name}|{at_once}"] = statistics.median(runs)
            rows.append({"library": library, "data": data, "seconds": cells})
            print(library, data, {k: round(v, 2) for k, v in cells.items()}, flush=True)
    out = HERE / "results" / "booster_spin.json"
    meta.update(repeats=args.repeats, cap=args.cap)
    # JSON has no infinity: a capped run is stored as null.
    doc = {"meta": meta, "rows": [{**r, "seconds": _finite(r["seconds"])} for r in rows]}
    out.write_text(json.dumps(doc, indent=1))
    if args.write:
        write_section(_section(meta, rows), SECTION)


def _finite(cells: dict[str, float]) -> dict[str, float | None]:
    return {k: (v if v != float("inf") else None) for k, v in cells.items()}


def _section(meta: dict, rows: list[dict]) -> str:
    default, ours = SETTINGS
    lines = [
        SECTION,
        "",
        "Reproduce: `.venv/bin/python bench/booster_spin.py --write` (how it works: its docstring).",
        "",
        f"Measured {meta['date']} on {meta['cpus']} cores; lightgbm {meta['lightgbm']}, xgboost "
        f"{meta['xgboost']}; load average {meta['load_average_at_start'][0]} at the start. Seconds for 3 "
        f"fits of 300 rounds, median of {meta['repeats']} runs; two at once: the slower of two processes "
        f"started together (the libraries' default: one run, stopped after {meta['cap']:g} s).",
        "",
        "| library | data | default, alone | default, two at once | poc2prod, alone | poc2prod, two at once "
        "| alone: poc2prod / default | two at once: default / poc2prod |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        s = r["seconds"]
        d1, d2, o1, o2 = s[f"{default}|1"], s[f"{default}|2"], s[f"{ours}|1"], s[f"{ours}|2"]
        capped = d2 == float("inf")
        shown = f"> {meta['cap']:g}" if capped else f"{d2:.2f}"
        saves = f"> {meta['cap'] / o2:.0f}" if capped else f"{d2 / o2:.1f}"
        cols = [r["library"], r["data"], f"{d1:.2f}", shown, f"{o1:.2f}", f"{o2:.2f}"]
        cols += [f"{o1 / d1:.2f}", saves]
        lines.append("| " + " | ".join(cols) + " |")
    lines += [
        "",
        "Why: the libraries' OpenMP threads spin between boosting rounds waiting for each other. Two "
        "processes that each start a thread per core make every spinning thread burn the time slice "
        "its team-mate needs, so a fit slows down by tens of times as soon as anything else "
        "computes (two optimize runs on one project, optimize beside a server). poc2prod sets "
        "`GOMP_SPINCOUNT=3000` at import unless the user set it or `OMP_WAIT_POLICY`, and fits a booster "
        "on fewer than 2,000 rows with one thread, where a round is too short to share: the last column "
        "is what that saves two processes at once, the one before it what it costs a process alone.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

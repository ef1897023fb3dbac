"""Is the prove budget kept however large the data? Wall time of `prove --budget B` as rows grow.

    .venv/bin/python bench/prove_budget.py --write          # 30k, 300k and 1M rows, budget 60 s

The larger sets are the Taiwan credit-card data repeated with every numeric value jittered by
up to 1 % (so rows are not exact copies), written as Parquet. The wall time is the whole command as
a user runs it, interpreter start included; the target is the budget plus 10 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _report import write_section

HERE = Path(__file__).resolve().parent
TAIWAN = HERE.parent.parent / "shared" / "data" / "uci_default_credit_card_taiwan" / "UCI_Credit_Card.csv"
POC2PROD = Path(sys.executable).parent / "poc2prod"
WORK = HERE / "work" / "budget"
TARGET = "default.payment.next.month"
SECTION = "## prove keeps its budget as the data grows"


def make_data(rows: int) -> Path:
    path = WORK / f"taiwan_{rows}.parquet"
    if path.exists():
        return path
    base = pd.read_csv(TAIWAN)
    reps = -(-rows // len(base))
    frame = pd.concat([base] * reps, ignore_index=True).iloc[:rows]
    rng = np.random.default_rng(0)
    for col in [c for c in frame.columns if c.startswith(("LIMIT", "BILL", "PAY_AMT", "AGE"))]:
        frame[col] = frame[col] * (1 + rng.uniform(-0.01, 0.01, rows))
    frame["ID"] = np.arange(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)
    return path


def measure(rows: int, budget: float) -> dict:
    data = make_data(rows)
    proj = WORK / f"proj_{rows}"
    subprocess.run(["rm", "-rf", str(proj)], check=True)
    subprocess.run(
        [str(POC2PROD), "init", str(proj), "--data", str(data), "--target", TARGET],
        check=True,
        capture_output=True,
    )
    started = time.monotonic()
    out = subprocess.run(
        [str(POC2PROD), "prove", "-C", str(proj), "--budget", str(budget), "--json", "--quiet"],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - started
    doc = json.loads(out.stdout)
    cut = [f"{r['model']}: {r['note']}" for r in doc["leaderboard"] if r["note"] and r["model"] != "ensemble"]
    return {
        "rows": rows,
        "wall_seconds": wall,
        "gate_seconds": doc["elapsed_seconds"],
        "best": doc["best"]["model"],
        "holdout_roc_auc": doc["best"]["holdout"]["roc_auc"],
        "completed": sum(r["status"] == "done" for r in doc["leaderboard"]),
        "candidates": len(doc["leaderboard"]),
        "notes": doc["notes"],
        "cut": cut,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="30000,300000,1000000")
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    results = []
    for rows in map(int, args.rows.split(",")):
        print(f"{rows:,} rows ...", flush=True)
        results.append(measure(rows, args.budget))
        print(json.dumps(results[-1], indent=2), flush=True)
    lines = [
        SECTION,
        "",
        "Reproduce: `.venv/bin/python bench/prove_budget.py --write`.",
        "",
        f"Measured {dt.date.today().isoformat()} on {os.cpu_count()} cores; budget {args.budget:g} s; "
        "target: wall time within the budget + 10 s. The holdout ROC AUC of the larger sets is "
        "not a quality figure: their jittered copies of the same customers fall on both sides of "
        "the split, so it only shows the model is sane.",
        "",
        "| rows | wall s (whole command) | gate s | within budget + 10 s | candidates complete | best | "
        "holdout ROC AUC |",
        "| ---: | ---: | ---: | --- | ---: | --- | ---: |",
    ]
    for r in results:
        ok = "yes" if r["wall_seconds"] <= args.budget + 10 else "no"
        lines.append(
            f"| {r['rows']:,} | {r['wall_seconds']:.1f} | {r['gate_seconds']:.1f} | {ok} | "
            f"{r['completed']}/{r['candidates']} | {r['best']} | {r['holdout_roc_auc']:.4f} |"
        )
    lines += ["", "What the gate did to keep the budget, as it reported it:", ""]
    for r in results:
        for item in r["notes"] + r["cut"]:
            lines.append(f"- {r['rows']:,} rows: {item}")
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(text, SECTION)


if __name__ == "__main__":
    main()

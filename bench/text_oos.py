"""Out-of-scope queries (CLINC150): how many an intent model built by poc2prod keeps away from an
automated answer, and what that costs the in-scope ones.

    .venv/bin/python bench/text_oos.py --write     # ~3 min on 2 cores; updates BENCHMARKS.md

CLINC150 ("full", Larson et al. 2019, CC BY 3.0, in ../shared/data/clinc150) has 150 in-scope
intents and an out-of-scope class, ``oos``, with only 100 training examples but 1,000 test ones:
queries no intent covers, which a customer-service bot must not answer as if they were one. A
project is made from the official train split (in-scope and oos_train); `prove --budget` races the
text candidates on it; `optimize --budget` (unless --skip-optimize) chooses the confidence threshold
under which a query goes to a person, from the value model below; the model is deployed and the
official test split (4,500 in-scope, 1,000 out-of-scope) scored once through the Python API.

Reported, for the deployed model at its threshold: in-scope accuracy (top intent right), the
out-of-scope recall of the ``oos`` class alone, the share of out-of-scope queries *kept from an
automated answer* (predicted ``oos`` or routed to a person), and the share of in-scope queries
answered automatically and their accuracy. Value model (per query): +4 for a right automated answer,
-12 for a wrong one (an out-of-scope query answered automatically is wrong), 0 routed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _report import machine, write_section

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "clinc150"
WORK = HERE / "work" / "text_oos"
RESULTS = HERE / "results" / "text_oos.json"
_HEADING = "## text intents: out-of-scope queries (CLINC150)"

SPEC = """name: clinc
task: text-intent
data:
  source: train.csv
target: intent
columns:
  text: [text]
criteria:
  - macro_f1 >= 0.85
value:
  currency: EUR
  automated_correct: 4.0
  automated_wrong: -12.0
  routed: 0.0
split:
  holdout: 0.2
  seed: 42
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget-prove", type=float, default=60)
    parser.add_argument("--budget-optimize", type=float, default=120)
    parser.add_argument("--skip-optimize", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    from poc2prod import Project

    data = pd.read_csv(SHARED / "clinc150_full.csv")
    train = data[data["split"].isin(["train", "oos_train"])][["text", "intent"]]
    test = data[data["split"].isin(["test", "oos_test"])].reset_index(drop=True)
    if WORK.exists():
        import shutil

        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    train.to_csv(WORK / "train.csv", index=False)
    (WORK / "poc2prod.yaml").write_text(SPEC, encoding="utf-8")
    project = Project.load(WORK)
    started = time.monotonic()
    proved = project.prove(budget=args.budget_prove)
    gates = {"prove": {"seconds": time.monotonic() - started, "model": proved.best["model"]}}
    if not args.skip_optimize:
        started = time.monotonic()
        optimized = project.optimize(budget=args.budget_optimize)
        gates["optimize"] = {"seconds": time.monotonic() - started, "model": optimized.optimized["model"]}
    deployed = project.deploy()
    predictor = project.predictor()
    batch, errors = predictor.validate([{"text": t} for t in test["text"]])
    assert not errors
    answers = predictor.decide(predictor.score(batch))
    label = np.array([str(a["label"]) for a in answers])
    routed = np.array([bool(a["routed"]) for a in answers])
    truth = test["intent"].astype(str).to_numpy()
    oos = truth == "oos"
    automated_in = ~routed & ~oos
    result = {
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "gates": gates,
        "threshold": deployed.threshold,
        "test_rows": {"in_scope": int((~oos).sum()), "out_of_scope": int(oos.sum())},
        "in_scope_accuracy": float((label[~oos] == truth[~oos]).mean()),
        "oos_recall_as_class": float((label[oos] == "oos").mean()),
        "oos_kept_from_automation": float(((label[oos] == "oos") | routed[oos]).mean()),
        "in_scope_automated": float(automated_in.sum() / (~oos).sum()),
        "in_scope_automated_accuracy": float((label[automated_in] == truth[automated_in]).mean()),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))
    if args.write:
        write_section(f"{_HEADING}\n\n{_markdown(result)}", _HEADING)


def _markdown(r: dict) -> str:
    gates = ", ".join(f"{g} {v['seconds']:.0f} s ({v['model']})" for g, v in r["gates"].items())
    m = r["machine"]
    return (
        "Reproduce: `.venv/bin/python bench/text_oos.py --write` (how it works: its docstring).\n\n"
        f"Measured {r['measured']} on {m['cpus']} cores (Python {m['python']}, load average "
        f"{m['load_average_at_start'][0]} at the start); {gates}; confidence threshold "
        f"{r['threshold']:.3f}. Official CLINC150 test split: {r['test_rows']['in_scope']:,} in-scope and "
        f"{r['test_rows']['out_of_scope']:,} out-of-scope queries, scored once.\n\n"
        "| figure | value |\n|---|---:|\n"
        f"| in-scope accuracy (top intent) | {r['in_scope_accuracy']:.4f} |\n"
        f"| out-of-scope recall of the `oos` class alone | {r['oos_recall_as_class']:.4f} |\n"
        f"| out-of-scope queries kept from an automated answer (`oos` or routed) | "
        f"{r['oos_kept_from_automation']:.4f} |\n"
        f"| in-scope queries answered automatically | {r['in_scope_automated']:.4f} |\n"
        f"| accuracy of those automated in-scope answers | {r['in_scope_automated_accuracy']:.4f} |\n"
    )


if __name__ == "__main__":
    main()

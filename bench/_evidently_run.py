"""Evidently's data drift report on two Parquet frames: the anchor that bench/monitor_speed.py times.

Run by the python of bench/.venv-evidently (built by `bash bench/setup_anchors.sh evidently`), never by
poc2prod's own venv:

    bench/.venv-evidently/bin/python bench/_evidently_run.py REFERENCE.parquet CURRENT.parquet OUT_DIR

Reads both frames, describes their columns as numerical (Evidently's DataDefinition), runs
``Report([DataDriftPreset()], include_tests=True)``: per column Evidently's default drift method and
threshold, and a test per column that fails when that column drifted, saves the report as JSON
(``--html`` also as HTML) in OUT_DIR, and prints one JSON line: the version, the drifted columns
(the failed tests), each column's method and drift score, and the share of drifted columns.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")  # no usage telemetry from the measured run

import evidently
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("current", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--html", action="store_true", help="also save the report as HTML")
    args = parser.parse_args()
    reference, current = pd.read_parquet(args.reference), pd.read_parquet(args.current)
    definition = DataDefinition(numerical_columns=list(current.columns))
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    snapshot.save_json(str(args.out / "evidently_report.json"))
    if args.html:
        snapshot.save_html(str(args.out / "evidently_report.html"))
    doc = snapshot.dict()
    scores, methods, share = {}, {}, None
    for metric in doc["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            scores[config["column"]] = metric["value"]
            methods[config["column"]] = f"{config['method']} (threshold {config['threshold']:g})"
        elif config["type"].endswith(":DriftedColumnsCount"):
            share = metric["value"]["share"]
    drifted = [
        t["metric_config"]["params"]["column"]
        for t in doc["tests"]
        if t["metric_config"]["params"]["type"].endswith(":ValueDrift") and t["status"] == "FAIL"
    ]
    print(
        json.dumps(
            {
                "evidently": evidently.__version__,
                "pandas": pd.__version__,
                "reference_rows": len(reference),
                "current_rows": len(current),
                "drifted": sorted(drifted),
                "drifted_share": share,
                "scores": scores,
                "methods": sorted(set(methods.values())),
            }
        )
    )


if __name__ == "__main__":
    main()

"""Profiling finds what a careful data scientist would: leaks, duplicates, identifiers, constants."""

from __future__ import annotations

import numpy as np
import pandas as pd

from poc2prod.data import infer_schema, profile
from poc2prod.spec import Spec


def _codes(frame, target="class", **columns):
    spec = Spec.model_validate(
        {"task": "binary", "data": {"source": "x"}, "target": target, "columns": columns}
    )
    prof = profile(frame, infer_schema(frame, spec), seed=0)
    return prof, {(f.code, f.column) for f in prof.findings}


def test_clean_german_has_no_leak(german):
    prof, codes = _codes(german)
    assert not any(code == "leakage_suspect" for code, _ in codes)
    assert prof.target_balance == {"1": 0.7, "2": 0.3}
    assert prof.duplicates == 0


def test_planted_leaky_column_is_flagged(taiwan):
    rng = np.random.default_rng(0)
    frame = taiwan.copy()
    y = frame["default.payment.next.month"]
    # A "days past due after the outcome" column: known only once the default happened.
    frame["days_late_after"] = np.where(y == 1, rng.integers(30, 90, len(y)), rng.integers(0, 3, len(y)))
    frame.loc[rng.choice(len(y), 300, replace=False), "days_late_after"] = 45
    _, codes = _codes(frame, target="default.payment.next.month", id="ID")
    leaks = {col for code, col in codes if code == "leakage_suspect"}
    assert leaks == {"days_late_after"}


def test_categorical_leak_and_high_cardinality_noise(german):
    rng = np.random.default_rng(1)
    frame = german.copy()
    frame["outcome_code"] = np.where(frame["class"] == 2, "W", "P")
    frame["noise_id"] = [f"n{rng.integers(0, 10**9)}" for _ in range(len(frame))]
    _, codes = _codes(frame)
    assert ("leakage_suspect", "outcome_code") in codes
    assert ("leakage_suspect", "noise_id") not in codes
    assert ("id_like", "noise_id") in codes


def test_duplicates_constants_ids_and_missing_target(german):
    frame = german.assign(row_id=np.arange(len(german)), branch="Hamburg")
    again = frame.iloc[:10].assign(row_id=np.arange(1000, 1010))
    frame = pd.concat([frame, again], ignore_index=True)
    frame.loc[5, "class"] = None
    prof, codes = _codes(frame, id="row_id")
    assert ("constant", "branch") in codes
    assert ("target_missing", "class") in codes
    assert prof.duplicates == 9  # the row without a target is left out before counting
    assert prof.n_rows == 1009


def test_undeclared_identifier_is_flagged(german):
    _, codes = _codes(german.assign(loan_id=np.arange(len(german))))
    assert ("id_like", "loan_id") in codes

"""The verdict: go only when every agreed criterion passes on the holdout, with signed margins."""

from __future__ import annotations

import numpy as np
import pytest

from poc2prod.gates._verdict import judge
from poc2prod.spec import Spec


def _criteria(*texts):
    spec = Spec.model_validate(
        {"task": "binary", "data": {"source": "x"}, "target": "y", "criteria": list(texts)}
    )
    return list(spec.criteria)


@pytest.fixture(scope="module")
def holdout(german):
    from sklearn.linear_model import LogisticRegression

    y = (german["class"] == 2).to_numpy().astype(int)
    X = german[["duration_months", "credit_amount", "age_years"]].to_numpy(dtype=float)
    p = LogisticRegression(max_iter=1000).fit(X, y).predict_proba(X)[:, 1]
    return y, p


def _judge(holdout, *texts, threshold=0.5):
    from poc2prod.metrics import compute

    y, p = holdout
    criteria = _criteria(*texts)
    values = compute("binary", [c.metric for c in criteria], y, p, threshold)
    return values, judge(criteria, "binary", values, {}, y, p, threshold, seed=0)


def test_go_when_all_pass(holdout):
    values, (verdict, results) = _judge(holdout, "roc_auc >= 0.5", "log_loss <= 0.9")
    assert verdict == "go"
    assert [r.passed for r in results] == [True, True]
    assert results[0].margin == pytest.approx(values["roc_auc"] - 0.5)
    assert results[1].margin == pytest.approx(0.9 - values["log_loss"])
    lo, hi = results[0].interval
    assert lo <= values["roc_auc"] <= hi


def test_no_go_when_one_fails_with_negative_margin(holdout):
    _, (verdict, results) = _judge(holdout, "roc_auc >= 0.5", "roc_auc >= 0.99")
    assert verdict == "no-go"
    assert results[1].passed is False and results[1].margin < 0
    assert results[1].firm  # the whole interval is short of 0.99


def test_threshold_decides_recall_criteria(holdout):
    _, (low, _) = _judge(holdout, "recall >= 0.5", threshold=0.2)
    _, (high, _) = _judge(holdout, "recall >= 0.5", threshold=0.8)
    assert (low, high) == ("go", "no-go")


def test_a_criterion_near_its_threshold_is_not_firm(holdout):
    values, _ = _judge(holdout, "roc_auc >= 0.5")
    _, (_, results) = _judge(holdout, f"roc_auc >= {values['roc_auc'] - 0.005:.4f}")
    assert results[0].passed and not results[0].firm
    assert np.isfinite(results[0].interval).all()

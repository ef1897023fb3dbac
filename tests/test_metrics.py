"""Metrics: the credit-risk set agrees with its textbook definitions on real scores."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from poc2prod.metrics import METRICS, bootstrap_interval, compute, default_metrics


@pytest.fixture(scope="module")
def scores(taiwan):
    y = taiwan["default.payment.next.month"].to_numpy()
    X = taiwan[["PAY_0", "LIMIT_BAL", "AGE"]].to_numpy(dtype=float)
    p = LogisticRegression(max_iter=1000).fit(X, y).predict_proba(X)[:, 1]
    return y, p


def test_gini_ks_and_auc_agree_with_definitions(scores):
    y, p = scores
    m = compute("binary", default_metrics("binary"), y, p)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["gini"] == pytest.approx(2 * m["roc_auc"] - 1)
    assert m["ks"] == pytest.approx(ks_2samp(p[y == 1], p[y == 0]).statistic, abs=1e-9)
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert 0 < m["recall"] < 1 and 0 < m["precision"] < 1


def test_threshold_moves_recall(scores):
    y, p = scores
    low = compute("binary", ["recall"], y, p, threshold=0.1)["recall"]
    high = compute("binary", ["recall"], y, p, threshold=0.6)["recall"]
    assert low > high


def test_multiclass_auc_tolerates_a_missing_class():
    y = np.array([0, 0, 2, 2])
    p = np.array([[0.8, 0.1, 0.1], [0.6, 0.2, 0.2], [0.1, 0.1, 0.8], [0.3, 0.1, 0.6]])
    assert compute("multiclass", ["roc_auc", "accuracy"], y, p) == {"roc_auc": 1.0, "accuracy": 1.0}


def test_directions():
    assert METRICS["roc_auc"].better(0.8, 0.7)
    assert METRICS["log_loss"].better(0.3, 0.4)
    assert METRICS["rmse"].better(1.0, 2.0)


def test_bootstrap_interval_brackets_the_value(scores):
    y, p = scores
    lo, hi = bootstrap_interval("binary", "roc_auc", y[:2000], p[:2000], n_boot=100)
    value = roc_auc_score(y[:2000], p[:2000])
    assert lo < value < hi and hi - lo < 0.1

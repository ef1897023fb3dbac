"""The value model's arithmetic, checked against a case computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from poc2prod.spec import ValueModel
from poc2prod.value import Value, best_threshold, outcomes, value_curve, value_per_decision

VM = ValueModel(currency="EUR", true_positive=0, false_positive=-500, false_negative=-8000, true_negative=500)
# Six applicants: defaulters (1) and good customers (0), with their scores.
Y = np.array([1, 0, 1, 0, 0, 0])
S = np.array([0.9, 0.8, 0.35, 0.3, 0.2, 0.1])


def test_value_per_decision_by_hand():
    # Refuse at >= 0.5: TP (0.9), FP (0.8); approve the rest: FN (0.35), TN x3.
    assert outcomes(Y, S, 0.5) == {
        "true_positive": 1,
        "false_positive": 1,
        "false_negative": 1,
        "true_negative": 3,
    }
    assert value_per_decision(Y, S, 0.5, VM) == pytest.approx((0 - 500 - 8000 + 3 * 500) / 6)
    # Refuse at >= 0.33: the second defaulter is caught too.
    assert value_per_decision(Y, S, 0.33, VM) == pytest.approx((0 - 500 + 0 + 3 * 500) / 6)
    # Approve everyone: two missed defaults, four good customers.
    assert value_per_decision(Y, S, 1.01, VM) == pytest.approx((2 * -8000 + 4 * 500) / 6)


def test_curve_is_exact_at_every_threshold_and_the_best_is_the_hand_optimum():
    curve = value_curve(Y, S, VM)
    assert len(curve) == len(np.unique(S)) + 1
    for t, v in zip(curve["threshold"], curve["value_per_decision"], strict=True):
        assert v == pytest.approx(value_per_decision(Y, S, t, VM))
    t = best_threshold(curve)
    # The best rule refuses 0.9, 0.8 and 0.35 and approves 0.3 and below: (0 - 500 + 0 + 1500) / 6.
    assert 0.3 < t < 0.35
    assert curve["value_per_decision"].max() == pytest.approx(1000 / 6)


def test_scaled_figures():
    v = Value(per_decision=-2.5, currency="EUR", decisions_per_month=40_000).to_dict()
    assert v == {
        "per_decision": -2.5,
        "per_1000_decisions": -2500.0,
        "per_month": -100_000.0,
        "currency": "EUR",
    }
    assert Value(1.0, "USD", None).to_dict()["per_month"] is None


def test_routing_curve_is_exact_at_every_threshold():
    """Each point of the routing curve equals the value of routing at that threshold, computed
    directly, on real-sized random probabilities (checked by brute force at a spread of cuts)."""
    from poc2prod.value import routing_curve, routing_value

    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(5) * 0.5, 400)
    y = np.where(rng.random(400) < 0.7, proba.argmax(axis=1), rng.integers(0, 5, 400))
    vm = ValueModel(automated_correct=4, automated_wrong=-12, routed=-1)
    curve = routing_curve(y, proba, vm)
    for t, v in zip(curve["threshold"][::23], curve["value_per_decision"][::23], strict=True):
        assert routing_value(y, proba, t, vm) == pytest.approx(v, abs=1e-12)
    assert curve["automation_rate"].iloc[0] == 1 and curve["automation_rate"].iloc[-1] == 0
    best = best_threshold(curve)
    assert routing_value(y, proba, best, vm) == pytest.approx(curve["value_per_decision"].max())

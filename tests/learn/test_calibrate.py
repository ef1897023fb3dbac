"""Calibration is chosen by cross-fitting and fixes badly scaled scores without reordering them."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedKFold

from poc2prod.learn._calibrate import CalibratedModel, Calibrator, choose_calibration, reliability


def _data(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    p_true = rng.beta(1, 4, n)
    y = (rng.random(n) < p_true).astype(int)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(n), y))
    return p_true, y, folds


def test_badly_scaled_scores_get_calibrated():
    p_true, y, folds = _data()
    squashed = p_true**3  # well ordered, far too low
    method, losses, crossfit = choose_calibration(squashed, y, folds)
    assert method in ("sigmoid", "isotonic")
    assert losses[method] < losses["none"] - 0.02
    # The cross-fitted scores are honest for every row and close to the true rate per bin.
    for b in reliability(y, crossfit, bins=5):
        assert abs(b["predicted"] - b["observed"]) < 0.05


def test_already_calibrated_scores_are_left_alone_or_barely_moved():
    p_true, y, folds = _data(seed=1)
    method, losses, _ = choose_calibration(p_true, y, folds)
    assert losses[method or "none"] <= losses["none"]
    assert losses["none"] - losses[method or "none"] < 0.005


def test_calibrated_model_keeps_the_order_of_scores():
    p_true, y, _ = _data(seed=2)

    class Fixed:
        classes_ = np.array([0, 1])

        def predict_proba(self, X):
            return np.column_stack([1 - X[:, 0], X[:, 0]])

    model = CalibratedModel(Fixed(), Calibrator("sigmoid").fit(p_true**2, y))
    out = model.predict_proba((p_true**2)[:, None])[:, 1]
    assert np.all(np.diff(out[np.argsort(p_true)]) >= -1e-12)
    assert model.predict((p_true**2)[:, None]).shape == (len(y),)

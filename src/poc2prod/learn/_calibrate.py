"""Probability calibration for binary scores: sigmoid (Platt) or isotonic, chosen by cross-fitting.

A ranking model can be well ordered yet badly scaled; the value model multiplies probabilities
by money, so their scale matters. Each method is fitted on the out-of-fold scores of the other
folds and judged on the held-out fold, so the choice is not flattered by fitting and scoring on
the same rows; "none" wins when neither method improves the log loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator

Method = Literal["sigmoid", "isotonic"]
_EPS = 1e-6


class Calibrator(BaseEstimator):
    """Maps raw binary scores to calibrated probabilities.

    >>> import numpy as np
    >>> c = Calibrator("isotonic").fit(np.array([0.1, 0.4, 0.6, 0.9]), np.array([0, 0, 1, 1]))
    >>> c.transform(np.array([0.2, 0.8])).tolist()
    [0.0, 1.0]
    """

    def __init__(self, method: Method = "sigmoid"):
        self.method = method

    def fit(self, scores: np.ndarray, y: np.ndarray) -> Calibrator:
        if self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            self.mapping_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y)
        else:
            from sklearn.linear_model import LogisticRegression

            self.mapping_ = LogisticRegression(C=1e4).fit(_logit(scores)[:, None], y)
        return self

    def transform(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for ``scores``."""
        if self.method == "isotonic":
            return np.asarray(self.mapping_.predict(scores), dtype=float)
        return self.mapping_.predict_proba(_logit(scores)[:, None])[:, 1]


class CalibratedModel(BaseEstimator):
    """A fitted binary model whose positive-class probability passes through a fitted calibrator."""

    def __init__(self, model: Any = None, calibrator: Calibrator | None = None):
        self.model = model
        self.calibrator = calibrator

    @property
    def classes_(self):
        return self.model.classes_

    def fit(self, X, y) -> CalibratedModel:
        """Refit the model only; the calibrator was fitted on out-of-fold scores and is kept."""
        self.model.fit(X, y)
        return self

    def predict_proba(self, X) -> np.ndarray:
        raw = self.model.predict_proba(X)
        q = self.calibrator.transform(raw[:, -1])
        return np.column_stack([1.0 - q, q])

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


def choose_calibration(
    scores: np.ndarray, y: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]]
) -> tuple[Method | None, dict[str, float], np.ndarray]:
    """The method with the lowest cross-fitted log loss on out-of-fold ``scores`` (None: leave
    them as they are), each option's log loss, and the winner's cross-fitted scores (honest
    calibrated scores for every row, e.g. to choose a threshold on)."""
    from sklearn.metrics import log_loss

    options = {"none": np.asarray(scores, dtype=float)}
    for method in ("sigmoid", "isotonic"):
        out = np.empty_like(options["none"])
        for tr, va in folds:
            out[va] = Calibrator(method).fit(scores[tr], y[tr]).transform(scores[va])
        options[method] = out
    losses = {k: float(log_loss(y, np.clip(v, _EPS, 1 - _EPS), labels=[0, 1])) for k, v in options.items()}
    best = min(losses, key=losses.get)
    return (None if best == "none" else best), losses, options[best]


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean predicted probability against the observed positive rate, in bins of equal count."""
    order = np.argsort(p, kind="stable")
    out = []
    for part in np.array_split(order, min(bins, len(p))):
        if len(part):
            out.append(
                {
                    "predicted": float(p[part].mean()),
                    "observed": float(y[part].mean()),
                    "rows": len(part),
                }
            )
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))

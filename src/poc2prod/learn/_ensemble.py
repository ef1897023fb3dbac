"""Greedy ensemble selection (Caruana et al., 2004) over out-of-fold predictions.

Models are added with replacement, one at a time, each time picking the one whose addition most
improves the metric of the averaged predictions; the counts become the weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.base import BaseEstimator


def greedy_weights(
    preds: Sequence[np.ndarray],
    score: Callable[[np.ndarray], float],
    *,
    greater_is_better: bool,
    rounds: int = 40,
    patience: int = 8,
) -> np.ndarray:
    """Weights (summing to one) for ``preds`` found by greedy selection with replacement.

    Selection goes on past a step that does not help (it can enable a later one that does) until
    ``patience`` steps bring nothing or ``rounds`` are done; the best-scoring round's weights win.
    """
    sign = 1.0 if greater_is_better else -1.0
    counts = np.zeros(len(preds))
    total = np.zeros_like(preds[0], dtype=float)
    best_value, best_counts, best_round = -np.inf, counts, 0
    for n in range(rounds):
        if n - best_round > patience:
            break
        values = [sign * score((total + p) / (n + 1)) for p in preds]
        pick = int(np.nanargmax(values))
        counts = counts.copy()
        counts[pick] += 1
        total += preds[pick]
        if values[pick] > best_value:
            best_value, best_counts, best_round = values[pick], counts, n
    return best_counts / best_counts.sum()


def blend(preds: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """The weighted average of ``preds``."""
    return sum(w * p for w, p in zip(weights, preds, strict=True) if w > 0)


class WeightedEnsemble(BaseEstimator):
    """Member pipelines averaged with fixed weights; ``fit`` fits every member on the same rows."""

    def __init__(
        self,
        members: dict[str, object] | None = None,
        weights: dict[str, float] | None = None,
        task: str = "binary",
    ):
        self.members = members
        self.weights = weights
        self.task = task

    def fit(self, X, y) -> WeightedEnsemble:
        for m in self.members.values():
            m.fit(X, y)
        return self

    @property
    def classes_(self):
        return next(iter(self.members.values())).classes_

    def predict_proba(self, X) -> np.ndarray:
        return blend(
            [m.predict_proba(X) for m in self.members.values()], np.array(list(self.weights.values()))
        )

    def predict(self, X) -> np.ndarray:
        if self.task == "regression":
            return blend([m.predict(X) for m in self.members.values()], np.array(list(self.weights.values())))
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

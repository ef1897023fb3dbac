"""The value model: what each decision outcome is worth to the client, and the threshold that
earns the most.

A binary model's score above the threshold is a *positive decision* (for credit: the applicant is
predicted to default and refused). Each row then lands in one outcome (true/false positive/negative)
worth the money the spec's ``value:`` section gives it; the value of a threshold is the mean over
rows. Every figure here is an exact function of stored labels and scores, so the optimize gate's
numbers can be recomputed from the predictions it saved.

>>> import numpy as np
>>> from poc2prod.spec import ValueModel
>>> vm = ValueModel(true_positive=0, false_positive=-500, false_negative=-8000, true_negative=500)
>>> y, s = np.array([1, 0, 0, 1]), np.array([0.9, 0.2, 0.6, 0.4])
>>> value_per_decision(y, s, 0.5, vm)   # TP, TN, FP, FN -> (0 + 500 - 500 - 8000) / 4
-2000.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from poc2prod.spec import ValueModel

__all__ = ["Value", "best_threshold", "outcomes", "value_curve", "value_per_decision"]


def outcomes(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, int]:
    """Counts of each outcome when scores at or above ``threshold`` are positive decisions."""
    y = np.asarray(y).astype(bool)
    flag = np.asarray(scores) >= threshold
    return {
        "true_positive": int((flag & y).sum()),
        "false_positive": int((flag & ~y).sum()),
        "false_negative": int((~flag & y).sum()),
        "true_negative": int((~flag & ~y).sum()),
    }


def value_per_decision(y: np.ndarray, scores: np.ndarray, threshold: float, vm: ValueModel) -> float:
    """Mean money per decision at ``threshold``."""
    counts = outcomes(y, scores, threshold)
    return sum(n * getattr(vm, k) for k, n in counts.items()) / max(1, len(y))


def value_curve(y: np.ndarray, scores: np.ndarray, vm: ValueModel) -> pd.DataFrame:
    """Value per decision at every threshold that changes a decision, computed exactly.

    Thresholds are the midpoints between consecutive distinct scores, plus one below the lowest
    (every row positive) and one above the highest (none), so a threshold chosen here sits in
    the middle of its gap rather than on a training score.
    """
    y = np.asarray(y).astype(bool)
    scores = np.asarray(scores, dtype=float)
    distinct = np.unique(scores)
    cuts = np.concatenate([[distinct[0] - 1e-9], (distinct[:-1] + distinct[1:]) / 2, [distinct[-1] + 1e-9]])
    # Rows at or above each cut, from cumulative counts over scores sorted high to low.
    order = np.argsort(-scores, kind="stable")
    pos_cum = np.concatenate([[0], np.cumsum(y[order])])
    flagged = len(scores) - np.searchsorted(np.sort(scores), cuts, side="left")
    tp = pos_cum[flagged]
    fp = flagged - tp
    fn = y.sum() - tp
    tn = len(y) - flagged - fn
    money = tp * vm.true_positive + fp * vm.false_positive + fn * vm.false_negative + tn * vm.true_negative
    return pd.DataFrame(
        {
            "threshold": cuts,
            "positive_share": flagged / len(y),
            "true_positive": tp,
            "false_positive": fp,
            "false_negative": fn,
            "true_negative": tn,
            "value_per_decision": money / len(y),
        }
    )


def best_threshold(curve: pd.DataFrame) -> float:
    """The threshold of highest value (among equals, the middle one of the best run)."""
    v = curve["value_per_decision"].to_numpy()
    best = np.flatnonzero(np.isclose(v, v.max(), rtol=0, atol=1e-9))
    return float(np.clip(curve["threshold"].to_numpy()[best[len(best) // 2]], 0.0, 1.0))


@dataclass(frozen=True)
class Value:
    """Money per decision scaled to what a client reads: per 1,000 decisions and per month."""

    per_decision: float
    currency: str
    decisions_per_month: int | None

    def to_dict(self) -> dict[str, Any]:
        """``per_1000_decisions``, ``per_month`` (None without a monthly volume) and ``currency``."""
        return {
            "per_decision": self.per_decision,
            "per_1000_decisions": 1000 * self.per_decision,
            "per_month": None
            if self.decisions_per_month is None
            else self.per_decision * self.decisions_per_month,
            "currency": self.currency,
        }

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

__all__ = [
    "Value",
    "best_threshold",
    "do_nothing",
    "outcomes",
    "realised",
    "routing_counts",
    "routing_curve",
    "routing_outcomes",
    "routing_value",
    "value_curve",
    "value_per_decision",
]


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


def _total(counts: dict[str, int], vm: ValueModel) -> float:
    """The money of outcome ``counts`` (outcome name -> how many) under the value model."""
    return sum(n * getattr(vm, k) for k, n in counts.items())


def realised(counts: dict[str, int], vm: ValueModel) -> dict[str, Any]:
    """What decisions whose outcomes are known made: the counts, the total and :class:`Value`'s
    figures per decision (what the monitor reports per window)."""
    total = _total(counts, vm)
    per = total / max(1, sum(counts.values()))
    return {"outcomes": counts, "total": total, **Value(per, vm.currency, vm.decisions_per_month).to_dict()}


def value_per_decision(y: np.ndarray, scores: np.ndarray, threshold: float, vm: ValueModel) -> float:
    """Mean money per decision at ``threshold``."""
    return _total(outcomes(y, scores, threshold), vm) / max(1, len(y))


def value_curve(y: np.ndarray, scores: np.ndarray, vm: ValueModel) -> pd.DataFrame:
    """Value per decision at every threshold that changes a decision, computed exactly.

    Thresholds are the midpoints between consecutive distinct scores, plus one below the lowest
    (every row positive) and one above the highest (none), so a threshold chosen here sits in
    the middle of its gap rather than on a training score.
    """
    y = np.asarray(y).astype(bool)
    cuts, flagged, tp = _cut_counts(np.asarray(scores, dtype=float), y)
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


def _cut_counts(scores: np.ndarray, hits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every threshold that changes a decision (midpoints between consecutive distinct scores,
    plus one below the lowest and one above the highest), and for each the rows at or above it and
    how many of those are ``hits``, from cumulative counts over the scores sorted high to low."""
    distinct = np.unique(scores)
    cuts = np.concatenate([[distinct[0] - 1e-9], (distinct[:-1] + distinct[1:]) / 2, [distinct[-1] + 1e-9]])
    order = np.argsort(-scores, kind="stable")
    hits_cum = np.concatenate([[0], np.cumsum(hits[order])])
    above = len(scores) - np.searchsorted(np.sort(scores), cuts, side="left")
    return cuts, above, hits_cum[above]


def routing_outcomes(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, int]:
    """Counts of queries answered automatically (right or wrong) and routed to a person, when a
    query whose top class probability is below ``threshold`` is routed.

    >>> p = np.array([[.9, .1], [.3, .7], [.55, .45]])
    >>> routing_outcomes(np.array([0, 0, 1]), p, 0.6)
    {'automated_correct': 1, 'automated_wrong': 1, 'routed': 1}
    """
    proba = np.asarray(proba)
    return routing_counts(proba.max(axis=1) >= threshold, proba.argmax(axis=1) == np.asarray(y))


def routing_counts(automated: np.ndarray, right: np.ndarray) -> dict[str, int]:
    """Counts of each routing outcome from whether each query was answered automatically and
    whether its predicted intent was right."""
    automated, right = np.asarray(automated, dtype=bool), np.asarray(right, dtype=bool)
    return {
        "automated_correct": int((automated & right).sum()),
        "automated_wrong": int((automated & ~right).sum()),
        "routed": int((~automated).sum()),
    }


def routing_value(y: np.ndarray, proba: np.ndarray, threshold: float, vm: ValueModel) -> float:
    """Mean money per query when queries under ``threshold`` confidence go to a person."""
    return _total(routing_outcomes(y, proba, threshold), vm) / max(1, len(y))


def routing_curve(y: np.ndarray, proba: np.ndarray, vm: ValueModel) -> pd.DataFrame:
    """Automation rate, accuracy of the automated answers and value per query at every
    confidence threshold that changes a routing, computed exactly (as :func:`value_curve`)."""
    proba = np.asarray(proba)
    confidence = proba.max(axis=1)
    right = proba.argmax(axis=1) == np.asarray(y)
    cuts, automated, correct = _cut_counts(confidence, right)
    wrong = automated - correct
    routed = len(confidence) - automated
    money = correct * vm.automated_correct + wrong * vm.automated_wrong + routed * vm.routed
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(automated > 0, correct / np.maximum(automated, 1), np.nan)
    return pd.DataFrame(
        {
            "threshold": np.clip(cuts, 0.0, 1.0),
            "automation_rate": automated / len(confidence),
            "automated_accuracy": accuracy,
            "automated_correct": correct,
            "automated_wrong": wrong,
            "routed": routed,
            "value_per_decision": money / len(confidence),
        }
    )


def best_threshold(curve: pd.DataFrame) -> float:
    """The threshold of highest value (among equals, the middle one of the best run)."""
    v = curve["value_per_decision"].to_numpy()
    best = np.flatnonzero(np.isclose(v, v.max(), rtol=0, atol=1e-9))
    return float(np.clip(curve["threshold"].to_numpy()[best[len(best) // 2]], 0.0, 1.0))


def do_nothing(value_doc: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The policy a value summary compares with, and its figures: approving everyone for a yes /
    no decision, routing every query to a person for intents."""
    if "route_everyone" in value_doc:
        return "routing every query to a person", value_doc["route_everyone"]
    return "approving everyone", value_doc["approve_everyone"]


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

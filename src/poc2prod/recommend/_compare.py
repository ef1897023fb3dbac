"""Candidate recommenders fitted on the past and judged on the future, side by side.

Every model is fitted on the interactions before the time cut and asked for its top k for each
user who bought something new after it; the metrics are computed on the same users, so any two
models can be compared user by user (a paired bootstrap), which is how a model earns its place
over the most-popular baseline: by a margin the choice of users cannot explain.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from poc2prod.recommend._interactions import Interactions, Split, test_truth
from poc2prod.recommend._metrics import compute, evaluated_users, hit_value, paired_bootstrap, per_user

_METRICS = ("recall@10", "ndcg@10", "map@10", "hit_rate@10", "coverage@10", "novelty@10")


@dataclass
class Scored:
    """One model's figures on the split: metrics, times, and per-user values for comparisons."""

    name: str
    metrics: dict[str, float]
    fit_seconds: float
    recommend_seconds: float  # top k for every evaluated user
    per_user: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The figures without the per-user values."""
        return {
            "model": self.name,
            "metrics": self.metrics,
            "fit_seconds": self.fit_seconds,
            "recommend_seconds": self.recommend_seconds,
        }


def entry_times(log: Interactions) -> np.ndarray:
    """The latest time of each stored entry of ``log.matrix()``, in its CSR order (rows, then
    columns), as days: what a recency-aware model weighs entries by."""
    frame = pd.DataFrame({"user": log.user, "item": log.item, "time": log.time})
    latest = frame.groupby(["user", "item"], sort=True)["time"].max()
    return pd.to_datetime(latest).to_numpy().astype("datetime64[s]").astype(np.int64) / 86400.0


class Judge:
    """Scores recommenders on one split: fitted on ``split.train``, their top ``k`` (items the user
    already had excluded) checked against what each user bought new after the cut.

    The training matrix, entry times and truth are built once, so a tuning study pays for them once
    and not per trial. With ``item_values`` (money per accepted recommendation of each item),
    ``per_user["value"]`` holds what each user's list would have earned (:func:`hit_value`).
    """

    def __init__(
        self,
        split: Split,
        *,
        k: int = 10,
        metrics: Sequence[str] = _METRICS,
        paired: Sequence[str] = ("recall@10", "ndcg@10"),
        item_values: np.ndarray | None = None,
    ):
        self.k, self.metrics, self.paired, self.item_values = k, list(metrics), list(paired), item_values
        self.X = split.train.matrix()
        self.times = entry_times(split.train)
        self.truth = test_truth(split.test, seen=split.train)
        self.users = evaluated_users(self.truth)
        self.popularity = split.train.popularity()
        self.n_items = split.train.n_items

    def score(self, name: str, model: Any, *, fitted: bool = False) -> Scored:
        """Fit ``model`` (unless ``fitted``) and score its recommendations."""
        t0 = time.perf_counter()
        if not fitted:
            model.fit(self.X, item_times=self.times)
        fit_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        recs = dict(zip(self.users.tolist(), model.recommend(self.users, self.k), strict=True))
        recommend_seconds = time.perf_counter() - t0
        truth = self.truth
        values = {m: per_user(m, recs, truth) for m in self.paired}
        if self.item_values is not None:
            values["value"] = hit_value(recs, truth, self.k, self.item_values)
        return Scored(
            name=name,
            metrics=compute(self.metrics, recs, truth, popularity=self.popularity, n_items=self.n_items),
            fit_seconds=fit_seconds,
            recommend_seconds=recommend_seconds,
            per_user=values,
        )


def compare(
    models: Mapping[str, Any],
    split: Split,
    *,
    k: int = 10,
    metrics: Sequence[str] = _METRICS,
    paired: Sequence[str] = ("recall@10", "ndcg@10"),
    item_values: np.ndarray | None = None,
) -> list[Scored]:
    """Fit each of ``models`` (name -> unfitted recommender) on ``split.train`` and score it (a
    :class:`Judge` used once)."""
    judge = Judge(split, k=k, metrics=metrics, paired=paired, item_values=item_values)
    return [judge.score(name, model) for name, model in models.items()]


def margin(better: Scored, baseline: Scored, metric: str, seed: int = 0) -> dict[str, float]:
    """How much ``better`` beats ``baseline`` on ``metric``, with a 90 % paired bootstrap interval
    over users (the margin is clear when the interval excludes zero)."""
    low, high = paired_bootstrap(better.per_user[metric], baseline.per_user[metric], seed=seed)
    return {
        "difference": better.metrics[metric] - baseline.metrics[metric],
        "low": low,
        "high": high,
        "clear": bool(low > 0),
    }

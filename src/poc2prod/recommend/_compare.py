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
from poc2prod.recommend._metrics import compute, evaluated_users, paired_bootstrap, per_user


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


def compare(
    models: Mapping[str, Any],
    split: Split,
    *,
    k: int = 10,
    metrics: Sequence[str] = ("recall@10", "ndcg@10", "map@10", "hit_rate@10", "coverage@10", "novelty@10"),
    paired: Sequence[str] = ("recall@10", "ndcg@10"),
) -> list[Scored]:
    """Fit each of ``models`` (name -> unfitted recommender) on ``split.train`` and score its top
    ``k`` (items the user already had excluded) against what each user bought new after the cut."""
    X = split.train.matrix()
    times = entry_times(split.train)
    truth = test_truth(split.test, seen=split.train)
    users = evaluated_users(truth)
    popularity = split.train.popularity()
    out = []
    for name, model in models.items():
        t0 = time.perf_counter()
        model.fit(X, item_times=times)
        fitted = time.perf_counter() - t0
        t0 = time.perf_counter()
        recs = dict(zip(users.tolist(), model.recommend(users, k), strict=True))
        recommended = time.perf_counter() - t0
        out.append(
            Scored(
                name=name,
                metrics=compute(metrics, recs, truth, popularity=popularity, n_items=split.train.n_items),
                fit_seconds=fitted,
                recommend_seconds=recommended,
                per_user={m: per_user(m, recs, truth) for m in paired},
            )
        )
    return out


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

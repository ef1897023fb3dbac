"""The candidates side by side on UCI Online Retail, fitted before a time cut and judged after it."""

from __future__ import annotations

import numpy as np
import pytest

from poc2prod.recommend import (
    ALS,
    ItemKNN,
    MostPopular,
    compare,
    entry_times,
    margin,
)


def test_entry_times_line_up_with_the_matrix(split):
    X = split.train.matrix()
    days = entry_times(split.train)
    assert days.shape == X.data.shape
    # Each entry's time is the latest of that user's interactions with that item, before the cut.
    user, item = 0, X.indices[X.indptr[0]]
    mine = split.train.time[(split.train.user == user) & (split.train.item == item)].max()
    assert days[X.indptr[0]] == pytest.approx(np.datetime64(mine, "s").astype(np.int64) / 86400)
    assert days.max() < np.datetime64(split.cut, "s").astype(np.int64) / 86400


@pytest.mark.slow
def test_similarity_and_factorisation_beat_most_popular_by_a_clear_margin(split):
    scored = compare(
        {
            "most_popular": MostPopular(),
            "most_popular_30d": MostPopular(window_days=30),
            "item_knn": ItemKNN(),
            "als": ALS(),
        },
        split,
    )
    by = {s.name: s for s in scored}
    baseline = max((by["most_popular"], by["most_popular_30d"]), key=lambda s: s.metrics["recall@10"])
    for name in ("item_knn", "als"):
        m = margin(by[name], baseline, "recall@10")
        assert m["clear"], (name, m)
    # Personal models spread over the catalogue; a popularity list shows everyone the same ten.
    assert by["item_knn"].metrics["coverage@10"] > 10 * baseline.metrics["coverage@10"]
    assert all(0 <= s.metrics["ndcg@10"] <= 1 and s.fit_seconds > 0 for s in scored)

"""What a recommendation service is watched for, on hand-made logs: purchases attributed to the
lists that showed them, figures per window, the hit rate of matured lists, and the popularity bins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from poc2prod.monitor._recommend import BINS, attribute, hit_rate, recommend_reference, window_figures
from poc2prod.recommend import ItemKNN
from poc2prod.recommend._deployed import DeployedRecommender

DAY = 86400.0


def _lists() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "request_id": ["r1/0", "r2/0", "r3/0"],
            "time": [0.0, 2 * DAY, 0.0],
            "user": ["u", "u", "v"],
            "known": [True, True, False],
            "items": [["a", "b"], ["b", "c"], ["a"]],
        }
    )


def test_a_purchase_is_accepted_from_the_latest_list_that_showed_it_within_the_attribution():
    bought = pd.DataFrame(
        {
            "time": [1 * DAY, 3 * DAY, 3 * DAY, 40 * DAY, -1.0],
            "user": ["u", "u", "u", "v", "v"],
            "item": ["a", "b", "d", "a", "a"],
        }
    )
    out = attribute(_lists(), bought, attribution_seconds=30 * DAY)
    assert out["accepted"].tolist() == [True, True, False, False, False]
    # b was in both of u's lists: the later one (r2, two days before) gets it.
    assert out["list_request"].tolist() == ["r1/0", "r2/0", None, None, None]


def test_the_hit_rate_counts_only_lists_whose_attribution_time_has_passed():
    lists = _lists()
    assert hit_rate(lists, {"r1/0"}, until=31 * DAY, attribution_seconds=30 * DAY) == {
        "matured_lists": 2,
        "hit_rate": 0.5,
    }
    assert hit_rate(lists, {"r1/0"}, until=DAY, attribution_seconds=30 * DAY)["hit_rate"] is None


def test_window_figures_by_hand():
    catalogue = ["a", "b", "c", "d"]
    reference = {
        "catalogue": 4,
        "item_bins": [9, 9, 0, 5],  # a and b are bestsellers
        "purchase_shares": [0.1] * BINS,
        "slot_shares": [0.1] * BINS,
    }
    bought = pd.DataFrame({"time": [1.0, 2.0, 3.0], "user": ["u", "u", "v"], "item": ["a", "new", "c"]})
    bought["accepted"] = [True, False, False]
    column = {item: j for j, item in enumerate(catalogue)}.get
    figures = window_figures(_lists(), bought, reference, column, item_values=[2.0, 1.0, 1.0, 1.0])
    assert figures["lists"] == 3 and figures["users"] == 2
    assert figures["cold_share"] == pytest.approx(1 / 3)
    assert figures["coverage"] == pytest.approx(3 / 4)  # a, b and c were listed
    slots = np.array(figures["slot_shares"])
    assert slots[9] == pytest.approx(4 / 5) and slots[0] == pytest.approx(1 / 5)  # a b b a | c
    assert figures["purchases"] == 3 and figures["new_item_share"] == pytest.approx(1 / 3)
    assert figures["accepted"] == 1 and figures["value"] == 2.0
    assert figures["purchase_psi"] > 0.2  # all purchases in two bins, against ten even ones


def test_popularity_bins_put_the_bestsellers_last_and_split_the_users_evenly(split):
    model = DeployedRecommender(ItemKNN(), split.train)
    ref = recommend_reference(split.train, model, {"hit_rate@10": 0.4}, 10)
    bins = np.array(ref["item_bins"])
    popularity = split.train.popularity()
    assert popularity[bins == BINS - 1].min() >= popularity[bins == 0].max()
    # Each bin holds about a tenth of the (user, item) pairs: few items in the top bin, many below.
    pairs = np.bincount(bins, weights=popularity, minlength=BINS) / popularity.sum()
    assert np.allclose(pairs, 0.1, atol=0.03)
    assert (bins == BINS - 1).sum() < (bins == 0).sum()
    assert sum(ref["purchase_shares"]) == pytest.approx(1) and sum(ref["slot_shares"]) == pytest.approx(1)
    assert 0 < ref["coverage_all_users"] <= 1

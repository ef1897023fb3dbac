"""Ranking metrics on tiny examples worked by hand, their edge cases, and the paired bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest

from poc2prod.errors import DataError
from poc2prod.recommend import (
    compute,
    coverage,
    evaluated_users,
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    novelty,
    paired_bootstrap,
    parse_metric,
    per_user,
    precision_at_k,
    recall_at_k,
)

# Four users over a catalogue of ten items. User 3 has an empty truth: skipped by every metric.
#   user 0: top 4 = 0 1 2 3, truth {1, 3}: hits at ranks 2 and 4
#   user 1: top 4 = 4 5 6 7, truth {9}:    no hit
#   user 2: top 4 = 1 2 3 4, truth {1}:    hit at rank 1
RECS = [[0, 1, 2, 3], [4, 5, 6, 7], [1, 2, 3, 4], [8, 9, 7, 6]]
TRUTH = {0: {1, 3}, 1: {9}, 2: {1}, 3: set()}
L2, L3, L4, L5 = (math.log2(x) for x in (2, 3, 4, 5))


def test_precision_by_hand():
    # k=4: 2/4, 0/4, 1/4 -> 0.25; k=2: user 0 keeps 0 1 (1 hit), user 2 keeps 1 2 (1 hit) -> (.5+0+.5)/3
    assert precision_at_k(RECS, TRUTH, 4) == pytest.approx(0.25)
    assert precision_at_k(RECS, TRUTH, 2) == pytest.approx(1 / 3)
    # a row shorter than k still divides by k: 1 hit of a 1-item list at k=4 is 1/4
    assert precision_at_k([[1]], {0: {1}}, 4) == pytest.approx(0.25)


def test_recall_by_hand():
    # k=4: 2/2, 0/1, 1/1 -> 2/3; k=2: 1/2, 0/1, 1/1 -> 0.5
    assert recall_at_k(RECS, TRUTH, 4) == pytest.approx(2 / 3)
    assert recall_at_k(RECS, TRUTH, 2) == pytest.approx(0.5)
    # more truth items than k: 2 hits of 6 relevant items is recall 1/3, whatever k allows
    assert recall_at_k([[0, 1]], {0: {0, 1, 2, 3, 4, 5}}, 2) == pytest.approx(1 / 3)


def test_hit_rate_by_hand():
    # users 0 and 2 hit, user 1 does not -> 2/3; at k=1: only user 2 (item 1 first) -> 1/3
    assert hit_rate_at_k(RECS, TRUTH, 4) == pytest.approx(2 / 3)
    assert hit_rate_at_k(RECS, TRUTH, 1) == pytest.approx(1 / 3)


def test_ndcg_by_hand():
    # user 0: DCG = 1/log2(3) + 1/log2(5); ideal has min(4, 2) = 2 hits: 1/log2(2) + 1/log2(3)
    # user 1: 0. user 2: a hit at rank 1 of an ideal of min(4, 1) = 1 hit: 1
    user0 = (1 / L3 + 1 / L5) / (1 / L2 + 1 / L3)
    assert ndcg_at_k(RECS, TRUTH, 4) == pytest.approx((user0 + 0 + 1) / 3)
    # k=2: user 0 hits at rank 2 only, ideal still 2 hits
    assert ndcg_at_k(RECS, TRUTH, 2) == pytest.approx(((1 / L3) / (1 + 1 / L3) + 0 + 1) / 3)
    # fewer truth items than k: one relevant item at rank 1 is a perfect list
    assert ndcg_at_k([[5, 0, 1]], {0: {5}}, 3) == pytest.approx(1.0)
    # more truth items than k: both slots hit is perfect, the ideal counts only k = 2 slots
    assert ndcg_at_k([[0, 1]], {0: {0, 1, 2, 3}}, 2) == pytest.approx(1.0)
    assert per_user("ndcg@4", RECS, TRUTH) == pytest.approx([user0, 0, 1])


def test_map_by_hand():
    # user 0: precision 1/2 at rank 2 and 2/4 at rank 4, summed (1.0) over min(4, 2) = 2 -> 0.5
    # user 1: 0. user 2: precision 1/1 at rank 1, over min(4, 1) = 1 -> 1
    assert map_at_k(RECS, TRUTH, 4) == pytest.approx(0.5)
    # k=2: user 0 has 1/2 at rank 2 over min(2, 2) = 2 -> 0.25; user 2 -> 1
    assert map_at_k(RECS, TRUTH, 2) == pytest.approx(1.25 / 3)
    # more truth than k: hits at ranks 1 and 2 are (1 + 1) / min(2, 6) = 1
    assert map_at_k([[0, 1]], {0: {0, 1, 2, 3, 4, 5}}, 2) == pytest.approx(1.0)


def test_coverage_by_hand():
    # the top 2 of the evaluated users 0, 1, 2: {0, 1} {4, 5} {1, 2} -> 5 distinct of 10 items.
    # User 3's 8 and 9 do not count: users without a truth are not evaluated.
    assert coverage(RECS, TRUTH, 2, n_items=10) == pytest.approx(0.5)
    # top 4: {0 1 2 3} {4 5 6 7} {1 2 3 4} -> 8 of 10
    assert coverage(RECS, TRUTH, 4, n_items=10) == pytest.approx(0.8)


def test_novelty_by_hand():
    # popularity 4 2 1 1 of 8: shares 1/2 1/4 1/8 1/8 -> 1, 2, 3, 3 bits
    pop = np.array([4, 2, 1, 1])
    truth = {0: {0}, 1: {0}}
    # user 0: (1 + 2) / 2 = 1.5; user 1: (3 + 3) / 2 = 3 -> 2.25
    assert novelty([[0, 1], [2, 3]], truth, 2, popularity=pop) == pytest.approx(2.25)
    # padding is not an item: user 0 averages over its single item (1 bit) -> (1 + 3) / 2
    assert novelty([[0, -1], [2, 3]], truth, 2, popularity=pop) == pytest.approx(2.0)
    # an item no training user had is counted as had once: popularity 2, 1 of 3 -> -log2(1/3)
    assert novelty([[1]], {0: {0}}, 1, popularity=np.array([2, 0])) == pytest.approx(math.log2(3))
    # a user with no recommendation at all has no novelty, and is left out of the mean
    assert novelty([[], [0]], truth, 2, popularity=pop) == pytest.approx(1.0)


def test_users_with_empty_truth_are_skipped():
    assert evaluated_users(TRUTH).tolist() == [0, 1, 2]
    # user 3's row could hold anything (even a repeated item): it is never looked at
    recs = [*RECS[:3], [8, 8]]
    assert recall_at_k(recs, TRUTH, 4) == pytest.approx(2 / 3)
    # nor does it need a row at all
    assert recall_at_k(RECS[:3], TRUTH, 4) == pytest.approx(2 / 3)
    with pytest.raises(DataError, match="nothing can be scored"):
        recall_at_k(RECS, {0: set(), 1: set()}, 4)


def test_array_list_and_mapping_recommendations_agree():
    array = np.array(RECS)
    mapping = {u: row for u, row in enumerate(RECS)}
    names = ["precision@3", "recall@3", "hit_rate@3", "ndcg@3", "map@3", "coverage@3"]
    expected = compute(names, RECS, TRUTH, n_items=10)
    assert compute(names, array, TRUTH, n_items=10) == pytest.approx(expected)
    assert compute(names, mapping, TRUTH, n_items=10) == pytest.approx(expected)
    # an array narrower than k is padded, as a short list is
    assert recall_at_k(array[:, :2], TRUTH, 4) == pytest.approx(recall_at_k(RECS, TRUTH, 2))


def test_duplicates_are_refused_within_the_top_k():
    with pytest.raises(DataError, match="user 0 is recommended item 1 twice"):
        precision_at_k([[1, 2, 1]], {0: {1}}, 3)
    with pytest.raises(DataError, match="twice"):
        precision_at_k(np.array([[1, 1]]), {0: {1}}, 2)
    # a repeat beyond k is never shown, and -1 padding is not an item
    assert precision_at_k([[1, 2, 1]], {0: {1}}, 2) == pytest.approx(0.5)
    assert precision_at_k([[1, -1, -1]], {0: {1}}, 3) == pytest.approx(1 / 3)


def test_a_user_with_truth_but_no_recommendations_is_an_error():
    with pytest.raises(DataError, match="no recommendations for user 1"):
        recall_at_k({0: [1]}, {0: {1}, 1: {2}}, 2)
    with pytest.raises(DataError, match="no row for user 2"):
        recall_at_k(np.array([[0], [1]]), {2: {1}}, 2)
    # an empty row is a model that had nothing to say: it scores zero
    assert recall_at_k({0: [1], 1: []}, {0: {1}, 1: {2}}, 2) == pytest.approx(0.5)


def test_compute_parses_names():
    out = compute(
        ["recall@4", "ndcg@2", "map@4", "coverage@2", "novelty@1"],
        RECS,
        TRUTH,
        popularity=np.ones(10),
    )
    assert list(out) == ["recall@4", "ndcg@2", "map@4", "coverage@2", "novelty@1"]
    assert out["recall@4"] == pytest.approx(2 / 3)
    assert out["map@4"] == pytest.approx(0.5)
    assert out["coverage@2"] == pytest.approx(0.5)  # n_items taken from the popularity's length
    assert out["novelty@1"] == pytest.approx(math.log2(10))  # ten equally popular items
    assert parse_metric("hit_rate@5") == ("hit_rate", 5)
    for bad in ("auc@10", "ndcg", "ndcg@0", "NDCG@10", "recall@k"):
        with pytest.raises(ValueError, match="not a ranking metric"):
            parse_metric(bad)
    with pytest.raises(ValueError, match="n_items"):
        compute(["coverage@2"], RECS, TRUTH)
    with pytest.raises(ValueError, match="popularity"):
        compute(["novelty@2"], RECS, TRUTH)
    with pytest.raises(ValueError, match="catalogue-wide"):
        per_user("coverage@2", RECS, TRUTH)


def test_paired_bootstrap():
    rng = np.random.default_rng(1)
    a = rng.random(500)
    # a constant gain on every user leaves no noise: the interval is that gain, exactly
    low, high = paired_bootstrap(a + 0.1, a)
    assert (low, high) == pytest.approx((0.1, 0.1))
    # a clearly better model: the interval of a - b is above zero and holds the observed difference
    b = np.clip(a - 0.05 + rng.normal(0, 0.05, 500), 0, 1)
    low, high = paired_bootstrap(a, b, n=400, seed=3)
    assert 0 < low < (a - b).mean() < high
    # the same seed gives the same interval; a wider level a wider one
    assert paired_bootstrap(a, b, n=400, seed=3) == (low, high)
    wide = paired_bootstrap(a, b, n=400, seed=3, level=0.99)
    assert wide[0] < low and wide[1] > high
    # the interval is of the mean difference, so swapping the models flips it
    assert paired_bootstrap(b, a, n=400, seed=3) == pytest.approx((-high, -low))
    # users with a NaN (e.g. novelty of an empty list) are left out of both
    assert paired_bootstrap([1.0, np.nan], [0.0, 0.0]) == (1.0, 1.0)
    with pytest.raises(DataError, match="same users"):
        paired_bootstrap(a, b[:-1])


def test_paired_bootstrap_over_per_user_metrics():
    # model a hits user 0 and user 2, model b only user 2: per-user recall 1, 0, 1 against 0, 0, 1
    b_recs = [[5, 6, 7, 8], [4, 5, 6, 7], [1, 2, 3, 4]]
    ra, rb = per_user("recall@4", RECS, TRUTH), per_user("recall@4", b_recs, TRUTH)
    assert ra.tolist() == [1, 0, 1] and rb.tolist() == [0, 0, 1]
    low, high = paired_bootstrap(ra, rb, n=2000)
    assert 0 <= low <= 1 / 3 <= high <= 1

"""Recommender models on hand-made cases (the real-data comparison is in test_compare.py)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from poc2prod.recommend._models import _GATHER_USERS, ALS, Blend, ItemKNN, MostPopular

MODELS = [
    MostPopular(),
    ItemKNN(),
    ALS(factors=8, iterations=3),
    Blend([ItemKNN(), ALS(factors=8, iterations=3)], [0.6, 0.4]),
]


def test_most_popular_by_hand():
    X = sp.csr_matrix(np.array([[1, 0, 0, 0, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [0, 1, 0, 0, 0]]))
    m = MostPopular().fit(X)
    assert m.popularity_.tolist() == [3, 3, 1, 0, 1]
    # Items 0 and 1 tie on 3 users (the lower index first); user 1 has both, so gets 2, 4, 3 next.
    assert m.recommend([0, 1], k=3).tolist() == [[1, 2, 3], [2, 4, 3]]
    assert m.recommend([2], k=4).tolist() == [[4, 3, -1, -1]]  # catalogue exhausted: padded
    assert m.recommend([2], k=2, exclude_seen=False).tolist() == [[0, 1]]


def test_most_popular_window_counts_recent_users_only():
    X = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [1, 0, 1]]))
    days = np.array([0.0, 99.0, 0.0, 95.0, 90.0, 100.0])  # aligned with X.data: (0,0) (0,1) (1,0) ...
    assert MostPopular().fit(X, days).ranking_.tolist() == [0, 2, 1]  # no window: the times are ignored
    recent = MostPopular(window_days=7).fit(X, days)  # from day 93: (0, 1), (1, 2) and (2, 2) count
    assert recent.popularity_.tolist() == [0, 1, 2] and recent.ranking_.tolist() == [2, 1, 0]
    stamps = np.datetime64("2011-01-01") + (days * 24).astype("timedelta64[h]")
    assert MostPopular(window_days=7).fit(X, stamps).popularity_.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="needs item_times"):
        MostPopular(window_days=7).fit(X)


def test_ties_go_to_the_lower_item_index():
    X = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1]]))
    # Items 1 to 4 have no user: four ties at 0 for two places, which go to the lowest indices.
    m = MostPopular().fit(X)
    assert m.recommend([0], k=3).tolist() == [[5, 1, 2]]
    assert m.recommend([1], k=3).tolist() == [[0, 1, 2]]


def test_item_knn_similarity_by_hand():
    X = sp.csr_matrix(np.array([[2, 1, 0], [1, 0, 1], [1, 1, 1], [0, 1, 0]]))
    # Users per item: 3, 3, 2; co-occurrences: (0, 1) 2, (0, 2) 2, (1, 2) 1. Weights do not matter.
    m = ItemKNN(shrink=1.0).fit(X)
    expected = np.array([[0, 2 / 4, 2 / (6**0.5 + 1)], [2 / 4, 0, 1 / (6**0.5 + 1)], [0, 0, 0]])
    expected[2] = expected[:, 2]
    assert m.similarity_.toarray() == pytest.approx(expected)
    # One neighbour per candidate item (column): its most similar item only.
    assert (ItemKNN(neighbours=1, shrink=1.0).fit(X).similarity_.toarray() > 0).tolist() == [
        [False, True, True],
        [False, False, False],
        [True, False, False],
    ]
    # Asymmetric: alpha=1 divides by the history item's users only.
    assert ItemKNN(shrink=0.0, alpha=1.0).fit(X).similarity_[2, 0] == pytest.approx(2 / 2)
    assert ItemKNN(normalize=False).fit(X).similarity_[0, 1] == 2.0
    # User 0 has items 0 (twice) and 1: her score for item j is sim(0, j) + sim(1, j).
    assert m.scores([0])[0] == pytest.approx(expected[0] + expected[1])


def test_als_loss_decreases_and_is_deterministic():
    rng = np.random.default_rng(1)
    X = sp.random(120, 80, density=0.08, random_state=rng, data_rvs=lambda n: rng.integers(1, 5, n)).tocsr()
    m = ALS(factors=6, iterations=8, seed=3).fit(X)
    losses = np.array(m.losses_)
    assert np.all(np.diff(losses) <= 1e-9 * losses[:-1]) and losses[-1] < 0.9 * losses[0]
    again = clone(m).fit(X)
    assert np.array_equal(again.user_factors_, m.user_factors_)
    assert not np.allclose(ALS(factors=6, iterations=8, seed=4).fit(X).user_factors_, m.user_factors_)


def test_als_loss_matches_the_dense_objective():
    from poc2prod.recommend._models import _loss

    rng = np.random.default_rng(2)
    X = sp.random(30, 20, density=0.2, random_state=rng).tocsr()
    extra = X.copy()
    extra.data = 5.0 * np.log1p(extra.data)
    users, items = rng.normal(size=(30, 4)), rng.normal(size=(20, 4))
    c, p = 1 + extra.toarray(), (X.toarray() > 0).astype(float)
    dense = np.sum(c * (p - users @ items.T) ** 2) + 0.3 * (np.sum(users**2) + np.sum(items**2))
    assert _loss(extra, users, items, 0.3) == pytest.approx(dense)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_recommendations_never_include_seen_items(model):
    rng = np.random.default_rng(0)
    X = sp.random(50, 12, density=0.5, random_state=rng).tolil()
    X[7, :] = 1.0  # a user who has every item: nothing left to recommend
    X = X.tocsr()
    recs = clone(model).fit(X).recommend(np.arange(50), k=5)
    dense = X.toarray() > 0
    for user, row in enumerate(recs):
        valid = row[row >= 0]
        assert not dense[user, valid].any()
        assert len(set(valid.tolist())) == len(valid)
        # Padded only when the catalogue is exhausted.
        assert len(valid) == min(5, int((~dense[user]).sum()))
    assert recs[7].tolist() == [-1] * 5


def test_item_knn_scores_a_few_users_as_the_sparse_product_does(log):
    """A request's few users are scored by a gather and a bincount, many users by a sparse product:
    on the real log both give the same scores."""
    model = ItemKNN().fit(log.matrix())
    few = np.arange(_GATHER_USERS)
    history = model.interactions_[few]
    history.data[:] = 1.0
    assert np.allclose(model.scores(few), (history @ model.similarity_).toarray())
    assert np.allclose(model.scores(few[:1]), model.scores(np.arange(_GATHER_USERS + 1))[:1])


def test_top_returns_the_scores_of_the_items_it_ranks():
    X = sp.csr_matrix([[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 1, 1], [0, 1, 1, 1]])
    model = ALS(factors=2, iterations=5).fit(X)
    items, scores = model.top([0, 2], k=2)
    full = model.scores([0, 2])
    assert np.allclose(scores, np.take_along_axis(full, items, axis=1))
    assert (np.diff(scores, axis=1) <= 0).all()  # best first


def test_a_blend_scales_each_member_per_user_and_weighs_them():
    X = sp.csr_matrix([[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 1, 1], [0, 1, 1, 1]], dtype=float)
    knn, popular = ItemKNN(shrink=0.0).fit(X), MostPopular().fit(X)
    blend = Blend([knn, popular], [0.7, 0.3]).fitted_on(X)
    rows = [0, 2]
    a, b = knn.scores(rows), popular.scores(rows)
    expected = 0.7 * a / a.max(axis=1, keepdims=True) + 0.3 * b / b.max(axis=1, keepdims=True)
    assert np.allclose(blend.scores(rows), expected)
    with pytest.raises(ValueError, match="one weight per member"):
        Blend([knn], [0.5, 0.5]).fit(X)

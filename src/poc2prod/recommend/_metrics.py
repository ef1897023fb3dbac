"""Ranking metrics of top-k recommendations against what users went on to choose.

Recommendations are item indices per user, best first: a users × k array whose row ``u`` is user
``u`` (-1 pads a row that has fewer than k items), a list of such rows, or a mapping user -> row.
The truth maps each user to the set of items they chose in the test period (relevance is binary).
Every metric is averaged over the users with a non-empty truth, the only ones a hit is possible
for; a user with a truth must have a row of recommendations (an empty one scores zero), and an
item recommended twice to one user is refused, as it would count its hit twice.

- ``precision@k``: hits / k. ``recall@k``: hits / |truth|. ``hit_rate@k``: 1 if any hit.
- ``ndcg@k``: DCG = sum of 1 / log2(rank + 1) over the hits, divided by the DCG of a perfect list,
  which has min(k, |truth|) hits at the top.
- ``map@k``: average precision, the sum of precision@rank at each hit's rank, over min(k, |truth|).
- ``coverage@k``: the share of the catalogue recommended to at least one evaluated user.
- ``novelty@k``: the mean self-information -log2(share) of the recommended items, where an item's
  share is its popularity (e.g. distinct training users) over the total: bits of surprise.

>>> recs = [[3, 1, 2], [0, 1, 2]]
>>> truth = {0: {1, 4}, 1: {0}}
>>> compute(["recall@2", "precision@2", "hit_rate@3"], recs, truth)
{'recall@2': 0.75, 'precision@2': 0.5, 'hit_rate@3': 1.0}
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

import numpy as np

from poc2prod.errors import DataError

Recommendations = np.ndarray | Sequence[Sequence[int]] | Mapping[int, Sequence[int]]
Truth = Mapping[int, Collection[int]]

METRICS = ("precision", "recall", "hit_rate", "ndcg", "map", "coverage", "novelty")
_NAME = re.compile(r"^([a-z_]+)@(\d+)$")


def parse_metric(name: str) -> tuple[str, int]:
    """``"ndcg@10"`` -> ``("ndcg", 10)``; a ``ValueError`` for a name that is not a metric@k.

    >>> parse_metric("map@20")
    ('map', 20)
    """
    m = _NAME.match(name)
    if not m or m.group(1) not in METRICS or int(m.group(2)) < 1:
        raise ValueError(
            f"{name!r} is not a ranking metric; use one of {', '.join(METRICS)} at a cut-off, e.g. 'ndcg@10'"
        )
    return m.group(1), int(m.group(2))


def evaluated_users(truth: Truth) -> np.ndarray:
    """The users metrics are averaged over (those with a non-empty truth), sorted: the order of
    :func:`per_user`'s values.

    >>> evaluated_users({5: {1}, 2: set(), 0: {3}}).tolist()
    [0, 5]
    """
    return np.array(sorted(u for u, items in truth.items() if len(items)), dtype=np.int64)


def _top_k(recs: Recommendations, users: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` recommended items of each user in ``users``, as a len(users) × k array padded
    with -1."""
    out = np.full((len(users), k), -1, dtype=np.int64)
    if isinstance(recs, np.ndarray):
        if recs.ndim != 2 or (len(users) and users[-1] >= len(recs)):
            raise DataError(
                f"the recommendations array of shape {recs.shape} has no row for user {users[-1]}; "
                "give one row per user index, best item first."
            )
        top = recs[users, :k]
        out[:, : top.shape[1]] = top
    else:
        rows = recs if isinstance(recs, Mapping) else dict(enumerate(recs))
        for i, u in enumerate(users):
            row = rows.get(int(u))
            if row is None:
                raise DataError(f"there are no recommendations for user {u}; recommend for every test user.")
            row = np.asarray(row, dtype=np.int64)[:k]
            out[i, : len(row)] = row
    ordered = np.sort(out, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    if repeated.any():
        i, j = np.argwhere(repeated)[0]
        raise DataError(
            f"user {users[i]} is recommended item {ordered[i, j + 1]} twice in the top {k}; "
            "drop repeated items before evaluating."
        )
    return out


def _hits(recs: Recommendations, truth: Truth, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(top k per evaluated user, whether each of them is relevant, the size of each user's truth)."""
    users = evaluated_users(truth)
    if not len(users):
        raise DataError(
            "no user has an item in the test truth, so nothing can be scored; use an earlier cut."
        )
    top = _top_k(recs, users, k)
    relevant = [np.fromiter(truth[int(u)], dtype=np.int64) for u in users]
    sizes = np.array([len(r) for r in relevant])
    # One key per (row, item) pair makes the lookup a single vectorised isin over all users.
    width = int(max(top.max(), max(r.max() for r in relevant))) + 1
    keys = np.repeat(np.arange(len(users)), sizes) * width + np.concatenate(relevant)
    hit = np.isin(np.arange(len(users))[:, None] * width + top, keys) & (top >= 0)
    return top, hit, sizes


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def per_user(
    name: str, recs: Recommendations, truth: Truth, *, popularity: np.ndarray | None = None
) -> np.ndarray:
    """One metric's value for each of :func:`evaluated_users` (``coverage`` is catalogue-wide, so it
    has none); ``novelty`` is NaN for a user with no recommendation.

    >>> per_user("ndcg@2", [[1, 0], [2, 0]], {0: {0}, 1: {5}}).round(4).tolist()
    [0.6309, 0.0]
    """
    metric, k = parse_metric(name)
    top, hit, sizes = _hits(recs, truth, k)
    n_hits = hit.sum(axis=1)
    if metric == "precision":
        return n_hits / k
    if metric == "recall":
        return n_hits / sizes
    if metric == "hit_rate":
        return (n_hits > 0).astype(float)
    ideal = np.minimum(k, sizes)
    if metric == "ndcg":
        disc = _discounts(k)
        return (hit @ disc) / np.cumsum(disc)[ideal - 1]
    if metric == "map":
        precision_at_rank = np.cumsum(hit, axis=1) / np.arange(1, k + 1)
        return (precision_at_rank * hit).sum(axis=1) / ideal
    if metric == "novelty":
        if popularity is None:
            raise ValueError("novelty needs the training popularity of every item")
        info = _self_information(np.asarray(popularity, dtype=float))
        if top.max() >= len(info):
            raise DataError(
                f"item {top.max()} is recommended but has no popularity; "
                "recommend only items of the training catalogue."
            )
        shown = top >= 0
        bits = np.where(shown, info[np.where(shown, top, 0)], 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return bits / shown.sum(axis=1)
    raise ValueError(f"{name} is catalogue-wide and has no value per user")


def hit_value(recs: Recommendations, truth: Truth, k: int, item_values: np.ndarray) -> np.ndarray:
    """For each of :func:`evaluated_users`, the summed value of the relevant items in her top ``k``:
    what her list would have earned had each of those purchases come from it.

    >>> hit_value([[1, 0], [2, 0]], {0: {0, 1}, 1: {5}}, 2, np.array([1.5, 2.0, 3.0, 0, 0, 0])).tolist()
    [3.5, 0.0]
    """
    top, hit, _ = _hits(recs, truth, k)
    values = np.asarray(item_values, dtype=np.float64)
    return np.where(hit, values[np.where(top >= 0, top, 0)], 0.0).sum(axis=1)


def _self_information(popularity: np.ndarray) -> np.ndarray:
    """-log2 of each item's popularity share; an item nobody had is counted as had once, the
    rarest it could be, rather than as infinitely surprising."""
    p = np.maximum(popularity, 1.0)
    return -np.log2(p / p.sum())


def precision_at_k(recs: Recommendations, truth: Truth, k: int) -> float:
    """Mean share of the top ``k`` that is relevant (hits / k).

    >>> precision_at_k([[0, 1, 2]], {0: {1, 7}}, 2)
    0.5
    """
    return float(per_user(f"precision@{k}", recs, truth).mean())


def recall_at_k(recs: Recommendations, truth: Truth, k: int) -> float:
    """Mean share of each user's relevant items found in the top ``k`` (hits / |truth|).

    >>> recall_at_k([[0, 1, 2]], {0: {1, 7}}, 2)
    0.5
    """
    return float(per_user(f"recall@{k}", recs, truth).mean())


def hit_rate_at_k(recs: Recommendations, truth: Truth, k: int) -> float:
    """Share of users with at least one relevant item in the top ``k``.

    >>> hit_rate_at_k([[0, 1], [2, 3]], {0: {1}, 1: {0}}, 2)
    0.5
    """
    return float(per_user(f"hit_rate@{k}", recs, truth).mean())


def ndcg_at_k(recs: Recommendations, truth: Truth, k: int) -> float:
    """Mean normalised discounted cumulative gain of the top ``k`` (binary relevance, log2 discount).

    >>> round(ndcg_at_k([[0, 1]], {0: {1}}, 2), 4)  # (1 / log2 3) / (1 / log2 2)
    0.6309
    """
    return float(per_user(f"ndcg@{k}", recs, truth).mean())


def map_at_k(recs: Recommendations, truth: Truth, k: int) -> float:
    """Mean average precision of the top ``k``, each user's normalised by min(k, |truth|).

    >>> map_at_k([[0, 1]], {0: {1}}, 2)  # one hit at rank 2: precision 1/2, over min(2, 1)
    0.5
    """
    return float(per_user(f"map@{k}", recs, truth).mean())


def novelty(recs: Recommendations, truth: Truth, k: int, *, popularity: np.ndarray | None) -> float:
    """Mean self-information (bits) of the items in the top ``k``, from the items' training
    ``popularity`` (by item index); recommending only best sellers scores low.

    >>> round(novelty([[0], [1]], {0: {0}, 1: {0}}, 1, popularity=np.array([3, 1])), 4)  # -log2 3/4, 1/4
    1.2075
    """
    return float(np.nanmean(per_user(f"novelty@{k}", recs, truth, popularity=popularity)))


def coverage(recs: Recommendations, truth: Truth, k: int, *, n_items: int) -> float:
    """Share of the ``n_items`` catalogue in the top ``k`` of at least one evaluated user.

    >>> coverage([[0, 1], [1, 2]], {0: {0}, 1: {0}}, 2, n_items=10)
    0.3
    """
    top, _, _ = _hits(recs, truth, k)
    return len(np.unique(top[top >= 0])) / n_items


def compute(
    names: Sequence[str],
    recs: Recommendations,
    truth: Truth,
    *,
    popularity: np.ndarray | None = None,
    n_items: int | None = None,
) -> dict[str, float]:
    """Each metric in ``names`` (e.g. ``"ndcg@10"``), averaged over the users with a truth.

    ``novelty`` needs ``popularity`` (training popularity by item index); ``coverage`` needs
    ``n_items``, which defaults to the length of ``popularity``.

    >>> compute(["coverage@1", "novelty@1"], [[0], [0]], {0: {1}, 1: {1}}, popularity=np.array([1, 1]))
    {'coverage@1': 0.5, 'novelty@1': 1.0}
    """
    if n_items is None and popularity is not None:
        n_items = len(popularity)
    out = {}
    for name in names:
        metric, k = parse_metric(name)
        if metric == "coverage":
            if n_items is None:
                raise ValueError("coverage needs n_items, the size of the catalogue")
            out[name] = coverage(recs, truth, k, n_items=n_items)
        elif metric == "novelty":
            out[name] = novelty(recs, truth, k, popularity=popularity)
        else:
            out[name] = float(per_user(name, recs, truth).mean())
    return out


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, n: int = 1000, seed: int = 0, *, level: float = 0.9
) -> tuple[float, float]:
    """A percentile bootstrap interval of mean(a) - mean(b), for two models' per-user values over
    the same users (:func:`per_user`): resampling users once for both cancels the noise they
    share (which users happen to be in the test), so the interval is much tighter than comparing
    two separate intervals. Users where either value is NaN are left out.

    >>> a, b = np.array([1.0, 0.0, 1.0, 1.0]), np.array([0.0, 0.0, 1.0, 0.0])
    >>> paired_bootstrap(a, a)
    (0.0, 0.0)
    >>> low, high = paired_bootstrap(a, b)
    >>> 0 <= low <= 0.5 <= high <= 1
    True
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise DataError(
            f"the two models have per-user values of shapes {a.shape} and {b.shape}; "
            "score both on the same users."
        )
    diff = (a - b)[~(np.isnan(a) | np.isnan(b))]
    if not len(diff):
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    chunk = max(1, 2**22 // len(diff))  # resamples drawn together, a few million indices at a time
    means = np.concatenate(
        [
            diff[rng.integers(0, len(diff), (min(chunk, n - i), len(diff)))].mean(axis=1)
            for i in range(0, n, chunk)
        ]
    )
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)

"""The deployed recommender: a fitted model that speaks the client's ids.

The models work on row and column indices of a users × items matrix; a service is asked about
customer 12347 and answers with stock codes. :class:`DeployedRecommender` holds the fitted model
with its index maps, the items' names, the list for users it has never seen (most popular over
the last 30 days: what a new visitor is most likely to want now), and an item-to-item similarity
that says *why* an item is recommended ("bought with ..."), whichever model ranks.

It is what deploy registers and what the service and batch scoring load: one pickled object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from poc2prod.recommend._compare import entry_times
from poc2prod.recommend._interactions import Interactions
from poc2prod.recommend._models import Blend, ItemKNN, MostPopular

_FALLBACK_DAYS = 30
_REASON_NEIGHBOURS = 50
_PRECOMPUTED_USERS = 500_000  # users whose lists a service keeps: at depth 50, ~400 MB at most
_CHUNK_USERS = 256  # users scored per model call when lists are computed in bulk


@dataclass
class Answer:
    """One user's list: item indices best first, their scores, and whether it is personal."""

    user: str
    items: np.ndarray
    scores: np.ndarray
    known: bool  # False: the user has no history, so the list is the popular one


class DeployedRecommender:
    """A recommender fitted on a whole interaction log, answering in the log's own ids.

    ``exclude`` (in :meth:`recommend`) adds items per user to leave out besides those the user had
    in the training log: purchases reported to the service after the model was fitted.
    """

    def __init__(self, model, log: Interactions):
        times = entry_times(log)
        X = log.matrix()
        self.model = model.fit(X, item_times=times)
        self.users = np.asarray([str(u) for u in log.users], dtype=object)
        self.items = np.asarray([str(i) for i in log.items], dtype=object)
        self.names = log.descriptions
        self._rows = {u: i for i, u in enumerate(self.users)}
        self._columns = {item: j for j, item in enumerate(self.items)}
        self.popular = MostPopular(window_days=_FALLBACK_DAYS).fit(X, item_times=times)
        self.similarity = _similarity(self.model, X)
        self._seen = self.model.interactions_
        self._lists: tuple[np.ndarray, np.ndarray] | None = None  # see precompute

    def __getstate__(self) -> dict[str, Any]:
        # The precomputed lists are rebuilt where they are served, never stored with the model.
        return {**self.__dict__, "_lists": None}

    def precompute(self, depth: int, max_users: int = _PRECOMPUTED_USERS) -> int:
        """Compute and keep the top ``depth`` of the first ``max_users`` known users, so that a
        request is a lookup: a user's top k is the head of her top ``depth`` (the ranking is by
        score, then item index), with her later purchases skipped. A request the kept lists cannot
        answer (a deeper k, more later purchases than the spare depth) is computed as before.
        Returns the number of users kept."""
        n = min(self.n_users, int(max_users))
        items = np.empty((n, depth), dtype=np.int64)
        scores = np.empty((n, depth))
        for start in range(0, n, _CHUNK_USERS):
            rows = np.arange(start, min(n, start + _CHUNK_USERS))
            items[rows], scores[rows] = self.model.top(rows, depth)
        self._lists = (items, scores)
        return n

    @property
    def n_users(self) -> int:
        """Users the model knows (has a history for)."""
        return len(self.users)

    @property
    def n_items(self) -> int:
        """Items in the catalogue the model knows."""
        return len(self.items)

    def row(self, user: Any) -> int | None:
        """The matrix row of a user id (None for a user the model has never seen)."""
        return self._rows.get(str(user))

    def column(self, item: Any) -> int | None:
        """The matrix column of an item id (None for an item the model has never seen)."""
        return self._columns.get(str(item))

    def recommend(self, users: list[Any], k: int, exclude: dict[str, set[int]] | None = None) -> list[Answer]:
        """The top ``k`` items for each user, items the user already has left out; a user the
        model does not know gets the popular list."""
        users = [str(u) for u in users]
        rows = [self._rows.get(u) for u in users]
        known = [i for i, r in enumerate(rows) if r is not None]
        out: list[Answer | None] = [None] * len(users)
        extra = exclude or {}
        if known and self._lists is not None:
            kept, depth = len(self._lists[0]), self._lists[0].shape[1]
            for i in list(known):
                r, skip = rows[i], extra.get(users[i])
                if r < kept and k + len(skip or ()) <= depth:
                    keep = _kept(self._lists[0][r], skip, k)
                    out[i] = Answer(users[i], self._lists[0][r][keep], self._lists[1][r][keep], True)
            known = [i for i in known if out[i] is None]
        if known:
            # Ask for more than k when later purchases must be skipped too.
            more = max((len(extra.get(users[i], ())) for i in known), default=0)
            user_rows = np.array([rows[i] for i in known])
            top, scores = self.model.top(user_rows, k + more)
            for n, i in enumerate(known):
                keep = _kept(top[n], extra.get(users[i]), k)
                out[i] = Answer(users[i], top[n][keep], scores[n][keep], True)
        popular_top = None
        for i, r in enumerate(rows):
            if r is None:
                if popular_top is None:
                    popular_top = self.popular.ranking_[
                        : k + max((len(v) for v in extra.values()), default=0)
                    ]
                items = popular_top[_kept(popular_top, extra.get(users[i]), k)]
                out[i] = Answer(users[i], items, self.popular.popularity_[items].astype(float), False)
        return out  # type: ignore[return-value]

    def reasons(self, user: Any, items: np.ndarray, top: int = 2) -> list[list[dict[str, Any]]]:
        """For each recommended item, the user's own items most similar to it: "bought with ..."."""
        r = self.row(user)
        if r is None:
            return [[{"reason": "popular in the last 30 days"}] for _ in items]
        history = self._seen.indices[self._seen.indptr[r] : self._seen.indptr[r + 1]]
        if not len(history):
            return [[] for _ in items]
        block = self.similarity[history][:, items].toarray()  # history × recommended
        out = []
        for j in range(len(items)):
            best = np.argsort(-block[:, j], kind="stable")[:top]
            out.append(
                [
                    {
                        "bought": self.items[history[b]],
                        "name": self.name(history[b]),
                        "similarity": float(block[b, j]),
                    }
                    for b in best
                    if block[b, j] > 0
                ]
            )
        return out

    def name(self, item: int) -> str | None:
        """An item's description, when the log had them."""
        return None if self.names is None else self.names[item]


def _kept(items: np.ndarray, skip: set[int] | None, k: int) -> np.ndarray:
    """Positions of the first ``k`` of ``items`` that are real (not -1 padding) and not in ``skip``."""
    keep = items >= 0
    if skip:
        keep &= ~np.isin(items, list(skip))
    return np.flatnonzero(keep)[:k]


def _similarity(model, X: sp.csr_matrix) -> sp.csr_matrix:
    """The item-item similarity reasons are read from: the model's own when it has one (item-kNN,
    alone or in a blend), else a small item-kNN fitted for the purpose."""
    members = model.members if isinstance(model, Blend) else [model]
    for m in members:
        if isinstance(m, ItemKNN):
            return m.similarity_.tocsr()
    return ItemKNN(neighbours=_REASON_NEIGHBOURS).fit(X).similarity_.tocsr()

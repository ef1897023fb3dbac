"""The interaction log a recommender learns from, cleaned, indexed, and split in time.

A recommender is trained on who bought (or clicked, or rated) what and when. Raw logs carry rows
that are not preferences: guest checkouts have no user to recommend to, cancellations and returns
undo a purchase, and an invoice line for postage or a bank charge is not a product anybody chose.
:func:`clean_log` drops them and says how many rows each rule took, because a report that hides
how much of the client's data was set aside cannot be trusted.

:class:`Interactions` holds the cleaned log as parallel arrays of user and item *indices* (rows and
columns of the user × item matrix) with the index maps back to the client's ids.

:func:`time_split` evaluates the way the model will be used: trained on everything before one
global cut and asked about what users bought after it, so no future interaction reaches training
(a per-user random split would let a model learn next month's best sellers). Users with no history
before the cut cannot be personalised for; they are set apart as cold start, not silently dropped.

>>> import pandas as pd
>>> raw = pd.DataFrame({"customer": [1, 1, 2, None], "sku": ["a", "b", "a", "b"],
...                     "date": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-03"]})
>>> frame, notes = clean_log(raw, user="customer", item="sku", time="date")
>>> notes
['dropped 1 of 4 rows without a user (guest checkouts: nobody to recommend to)']
>>> log = Interactions.from_frame(frame)
>>> log.n_users, log.n_items, len(log)
(2, 2, 3)
>>> log.matrix().toarray()
array([[1., 1.],
       [1., 0.]])
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from poc2prod.errors import DataError

# Stock codes of the UCI Online Retail log that are charges, fees, adjustments or vouchers, not
# products a customer chose: postage, carriage, manual entries, discounts, bank and marketplace
# fees, charity commission, samples, bad-debt adjustments, cushion-pad fillers and gift vouchers.
RETAIL_NON_PRODUCTS = frozenset(
    {
        "POST",
        "DOT",
        "C2",
        "M",
        "m",
        "D",
        "S",
        "B",
        "BANK CHARGES",
        "AMAZONFEE",
        "CRUK",
        "PADS",
        "gift_0001_10",
        "gift_0001_20",
        "gift_0001_30",
        "gift_0001_40",
        "gift_0001_50",
    }
)

COLUMNS = ("user", "item", "time", "weight")  # what clean_log returns and from_frame reads


@dataclass(frozen=True, eq=False)
class Interactions:
    """A log of (user, item, time, weight) interactions over fixed user and item index maps.

    ``user`` and ``item`` are indices into ``users`` and ``items`` (the client's ids, sorted), so
    they are the row and column of each interaction in :meth:`matrix`. ``descriptions``, when the
    log had them, names each item (aligned with ``items``; None where unknown). Logs cut from one
    another (:func:`time_split`) share their index maps, so their indices mean the same thing.
    """

    user: np.ndarray  # int64, one per interaction
    item: np.ndarray  # int64, one per interaction
    time: np.ndarray  # datetime64[ns], one per interaction
    weight: np.ndarray  # float64 > 0, one per interaction (a quantity, or 1 for a plain event)
    users: np.ndarray  # user ids, by index
    items: np.ndarray  # item ids, by index
    descriptions: np.ndarray | None = None

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Interactions:
        """Index a frame with columns ``user``, ``item``, ``time``, ``weight`` (and optionally
        ``description``), as :func:`clean_log` returns it.

        >>> f = pd.DataFrame({"user": ["u2", "u1"], "item": [7, 7],
        ...                   "time": pd.to_datetime(["2024-01-02", "2024-01-01"]), "weight": [3.0, 1.0]})
        >>> log = Interactions.from_frame(f)
        >>> log.users.tolist(), log.user.tolist(), log.matrix().toarray().tolist()
        (['u1', 'u2'], [1, 0], [[1.0], [3.0]])
        """
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise DataError(
                f"the interaction frame lacks the column(s) {', '.join(missing)}; build it with clean_log."
            )
        if frame.empty:
            raise DataError("the interaction log is empty after cleaning; check the data source and columns.")
        user, users = pd.factorize(frame["user"], sort=True)
        item, items = pd.factorize(frame["item"], sort=True)
        descriptions = None
        if "description" in frame.columns:
            descriptions = _descriptions(item, frame["description"].to_numpy(), len(items))
        return cls(
            user.astype(np.int64),
            item.astype(np.int64),
            frame["time"].to_numpy(dtype="datetime64[ns]"),
            frame["weight"].to_numpy(dtype=np.float64),
            np.asarray(users),
            np.asarray(items),
            descriptions,
        )

    def __len__(self) -> int:
        return len(self.user)

    @property
    def n_users(self) -> int:
        """Users in the index map (rows of :meth:`matrix`), with or without interactions here."""
        return len(self.users)

    @property
    def n_items(self) -> int:
        """Items in the index map (columns of :meth:`matrix`)."""
        return len(self.items)

    def matrix(self, rows: np.ndarray | None = None, *, binary: bool = False) -> sparse.csr_matrix:
        """The users × items matrix of summed weights (1 where a user has the item, if ``binary``).

        ``rows`` selects and orders the user indices to return (all users when None).

        >>> log = Interactions(np.array([0, 0, 1]), np.array([1, 1, 0]), np.zeros(3, "datetime64[ns]"),
        ...                    np.array([2.0, 3.0, 1.0]), np.array(["a", "b"]), np.array(["x", "y"]))
        >>> log.matrix().toarray().tolist(), log.matrix([1], binary=True).toarray().tolist()
        ([[0.0, 5.0], [1.0, 0.0]], [[1.0, 0.0]])
        """
        m = sparse.csr_matrix(
            (self.weight, (self.user, self.item)), shape=(self.n_users, self.n_items), dtype=np.float64
        )
        m.sum_duplicates()
        if binary:
            m.data[:] = 1.0
        return m if rows is None else m[np.asarray(rows)]

    def popularity(self) -> np.ndarray:
        """How many distinct users have each item (by item index): a bulk buyer counts once.

        >>> log = Interactions(np.array([0, 0, 1]), np.array([1, 1, 0]), np.zeros(3, "datetime64[ns]"),
        ...                    np.ones(3), np.array(["a", "b"]), np.array(["x", "y"]))
        >>> log.popularity().tolist()
        [1, 1]
        """
        return np.asarray(self.matrix(binary=True).sum(axis=0)).ravel().astype(np.int64)

    def _select(
        self,
        mask: np.ndarray,
        user_map: np.ndarray,
        users: np.ndarray,
        item_map: np.ndarray,
        items: np.ndarray,
    ) -> Interactions:
        """The interactions in ``mask``, re-indexed through ``user_map`` / ``item_map`` (old index ->
        new index) onto the maps ``users`` / ``items``."""
        descriptions = None
        if self.descriptions is not None:
            descriptions = np.empty(len(items), dtype=object)
            kept = item_map >= 0
            descriptions[item_map[kept]] = self.descriptions[kept]
        return Interactions(
            user_map[self.user[mask]],
            item_map[self.item[mask]],
            self.time[mask],
            self.weight[mask],
            users,
            items,
            descriptions,
        )


def _descriptions(item: np.ndarray, text: np.ndarray, n_items: int) -> np.ndarray:
    """Each item's most frequent non-missing description (None when it has none): one stock code
    is sometimes typed several ways, and the usual one is the one a reader recognises."""
    f = pd.DataFrame({"item": item, "text": text}).dropna()
    counts = f.groupby(["item", "text"], sort=False).size().sort_values(ascending=False, kind="stable")
    first = counts.reset_index().drop_duplicates("item")
    out = np.full(n_items, None, dtype=object)
    out[first["item"].to_numpy()] = first["text"].to_numpy()
    return out


def clean_log(
    frame: pd.DataFrame,
    *,
    user: str,
    item: str,
    time: str,
    weight: str | None = None,
    description: str | None = None,
    invoice: str | None = None,
    price: str | None = None,
    non_products: Collection[str] = (),
) -> tuple[pd.DataFrame, list[str]]:
    """Keep the rows of a raw log that are real preferences; say what was dropped and why.

    Always dropped: rows without a user (guest checkouts), item or readable time, and rows whose
    ``weight`` (e.g. a quantity) is missing or not positive (returns, corrections). Optional
    retail rules: with ``invoice``, invoices whose number starts with "C" (cancellations); with
    ``price``, lines whose price is missing or not positive (free samples, write-offs); with
    ``non_products`` (e.g. :data:`RETAIL_NON_PRODUCTS`), items that are charges or fees rather than
    products. The rules run in that order and each note counts the rows that rule removed from
    what was left.

    Returns a frame with columns ``user``, ``item``, ``time``, ``weight`` (1 per row without a
    ``weight`` column) and, with ``description`` or ``price``, those columns, for
    :meth:`Interactions.from_frame`, keeping the raw rows' index so each row can be traced back;
    and the notes, one sentence per rule that dropped rows.

    >>> raw = pd.DataFrame({"InvoiceNo": ["1", "C2", "3", "4"], "CustomerID": [1.0, 1.0, 2.0, 2.0],
    ...                     "StockCode": ["a", "a", "POST", "b"], "Quantity": [2, -2, 1, 0],
    ...                     "InvoiceDate": pd.to_datetime(["2024-01-01"] * 4)})
    >>> frame, notes = clean_log(raw, user="CustomerID", item="StockCode", time="InvoiceDate",
    ...                          weight="Quantity", invoice="InvoiceNo", non_products={"POST"})
    >>> frame.to_dict("list")["user"], notes[0]
    ([1], 'dropped 1 of 4 rows that are cancellations (invoice number starting with "C")')
    """
    roles = {"user": user, "item": item, "time": time}
    optional = {"weight": weight, "description": description, "invoice": invoice, "price": price}
    roles.update({k: v for k, v in optional.items() if v is not None})
    missing = [c for c in roles.values() if c not in frame.columns]
    if missing:
        raise DataError(
            f"the data has no column {missing[0]!r}; name the {', '.join(roles)} columns as they are "
            f"in the data (it has {', '.join(map(str, frame.columns[:20]))})."
        )
    f = frame[list(roles.values())].rename(columns={v: k for k, v in roles.items()})
    f["time"] = pd.to_datetime(f["time"], errors="coerce")
    f["weight"] = pd.to_numeric(f["weight"], errors="coerce") if weight is not None else 1.0
    total = len(f)
    notes: list[str] = []

    def drop(bad: pd.Series, why: str) -> None:
        nonlocal f
        n = int(bad.sum())
        if n:
            notes.append(f"dropped {n:,} of {total:,} rows {why}")
            f = f[~bad.to_numpy()]

    drop(f["user"].isna(), "without a user (guest checkouts: nobody to recommend to)")
    drop(f["item"].isna() | f["time"].isna(), "without an item or a readable time")
    if invoice is not None:
        drop(
            f["invoice"].astype(str).str.startswith("C"),
            'that are cancellations (invoice number starting with "C")',
        )
    if weight is not None:
        drop(~(f["weight"] > 0), f"whose {weight} is missing or not positive (returns, corrections)")
    if price is not None:
        drop(~(pd.to_numeric(f["price"], errors="coerce") > 0), f"whose {price} is missing or not positive")
    if non_products:
        codes = f["item"].astype(str).str.strip()
        bad = codes.isin(set(non_products))
        found = sorted(codes[bad].unique())
        drop(bad, f"for items that are not products ({', '.join(found)})")
    if pd.api.types.is_float_dtype(f["user"]) and (f["user"] % 1 == 0).all():
        # Ids read as floats only because missing values forced a float column: 12346, not 12346.0.
        f = f.assign(user=f["user"].astype(np.int64))
    if price is not None:
        f = f.assign(price=pd.to_numeric(f["price"], errors="coerce"))
    return f.drop(columns=[c for c in ("invoice",) if c in f.columns]), notes


@dataclass(frozen=True, eq=False)
class Split:
    """A global time split: ``train`` before ``cut``, ``test`` and ``cold`` from ``cut`` on.

    ``train`` and ``test`` share the index maps of the users and items seen before the cut, so
    ``test.matrix()`` lines up with ``train.matrix()``. ``cold`` holds what users with too little
    history bought after the cut (its own user map, train's item map), for a cold-start model.
    Unpacks as ``train, test = time_split(...)``.
    """

    train: Interactions
    test: Interactions
    cold: Interactions
    cut: pd.Timestamp
    notes: list[str]

    def __iter__(self) -> Iterator[Interactions]:
        return iter((self.train, self.test))


def time_split(
    log: Interactions, *, holdout: float | str | pd.Timestamp = 0.2, min_history: int = 1
) -> Split:
    """Split ``log`` at one time: everything before the cut trains, what follows it is tested.

    ``holdout`` is either the share of interactions to hold out at the end (the cut is the time of
    the first of them, so interactions that share that time stay together in the test) or the cut
    time itself. The test keeps only users with at least ``min_history`` distinct items before the
    cut (the others go to ``cold``) and only items seen before the cut (a model cannot recommend
    an item it never saw); ``notes`` says how much each rule set aside.

    >>> f = pd.DataFrame({"user": [1, 1, 2, 1, 3, 2], "item": ["a", "b", "a", "c", "b", "b"],
    ...                   "time": pd.date_range("2024-01-01", periods=6), "weight": 1.0})
    >>> split = time_split(Interactions.from_frame(f), holdout=0.5)
    >>> train, test = split
    >>> len(train), len(test), len(split.cold), str(split.cut.date())
    (3, 1, 1, '2024-01-04')
    >>> for note in split.notes[1:]:
    ...     print(note)
    set aside 1 test interaction(s) of 1 user(s) new after the cut (cold start: split.cold)
    dropped 1 test interaction(s) of 1 item(s) new after the cut (no model can recommend them)
    """
    if len(log) == 0:
        raise DataError("the interaction log is empty, so it cannot be split; check the cleaning notes.")
    cut = _cut(log.time, holdout)
    before = log.time < cut.to_datetime64()
    n_train = int(before.sum())
    if n_train == 0 or n_train == len(log):
        span = f"{pd.Timestamp(log.time.min())} .. {pd.Timestamp(log.time.max())}"
        raise DataError(f"the cut {cut} leaves one side of the split empty; pick a time inside {span}.")

    seen_users = np.unique(log.user[before])
    seen_items = np.unique(log.item[before])
    user_map = _remap(seen_users, log.n_users)
    item_map = _remap(seen_items, log.n_items)
    train = log._select(before, user_map, log.users[seen_users], item_map, log.items[seen_items])

    history = np.diff(train.matrix(binary=True).indptr)  # distinct items per train user
    warm = np.zeros(log.n_users, dtype=bool)
    warm[seen_users] = history >= min_history
    after = ~before
    known = item_map[log.item] >= 0
    test = log._select(after & warm[log.user] & known, user_map, train.users, item_map, train.items)

    cold_rows = after & ~warm[log.user]
    cold_ids = np.unique(log.user[cold_rows & known])
    cold = log._select(
        cold_rows & known, _remap(cold_ids, log.n_users), log.users[cold_ids], item_map, train.items
    )

    notes = [
        f"cut at {cut}: {n_train:,} interactions before it (train), {len(log) - n_train:,} from it on (test)"
    ]
    n_cold_users = len(np.unique(log.user[cold_rows]))
    if n_cold_users:
        who = "new after the cut" if min_history == 1 else f"with under {min_history} items before the cut"
        notes.append(
            f"set aside {int((cold_rows & known).sum()):,} test interaction(s) of {n_cold_users:,} "
            f"user(s) {who} (cold start: split.cold)"
        )
    unknown = after & ~known
    if unknown.any():
        notes.append(
            f"dropped {int(unknown.sum()):,} test interaction(s) of {len(np.unique(log.item[unknown])):,} "
            "item(s) new after the cut (no model can recommend them)"
        )
    return Split(train, test, cold, cut, notes)


def item_prices(frame: pd.DataFrame, items: np.ndarray) -> np.ndarray:
    """Each item's median ``price`` in a cleaned log (aligned with ``items``, an index map); an
    item without a price gets the median over all items, so no item is worth nothing by omission.

    >>> f = pd.DataFrame({"item": ["a", "a", "a", "b"], "price": [1.0, 2.0, 9.0, 4.0]})
    >>> item_prices(f, np.array(["a", "b", "c"])).tolist()
    [2.0, 4.0, 3.0]
    """
    by_item = frame.groupby("item")["price"].median()
    prices = by_item.reindex(items).to_numpy(dtype=np.float64)
    usual = float(np.nanmedian(prices)) if np.isfinite(prices).any() else 0.0
    return np.where(np.isnan(prices), usual, prices)


def _cut(time: np.ndarray, holdout: float | str | pd.Timestamp) -> pd.Timestamp:
    """The cut time: given, or the time of the first interaction in the last ``holdout`` share."""
    if isinstance(holdout, float | int) and not isinstance(holdout, bool):
        if not 0 < holdout < 1:
            raise DataError(f"holdout {holdout} is not a share between 0 and 1; use e.g. 0.2 or a cut date.")
        ordered = np.sort(time)
        return pd.Timestamp(ordered[min(int(len(ordered) * (1 - holdout)), len(ordered) - 1)])
    try:
        return pd.Timestamp(holdout)
    except (TypeError, ValueError):
        raise DataError(
            f"holdout {holdout!r} is neither a share nor a time; use e.g. 0.2 or '2011-10-01'."
        ) from None


def _remap(kept: np.ndarray, size: int) -> np.ndarray:
    """Old index -> new index for the sorted indices ``kept`` (-1 for the others)."""
    m = np.full(size, -1, dtype=np.int64)
    m[kept] = np.arange(len(kept))
    return m


def test_truth(test: Interactions, seen: Interactions | None = None) -> dict[int, set[int]]:
    """Each test user's relevant items: what they had after the cut (user index -> item indices).

    With ``seen`` (the train log, same index maps), items the user already had before the cut are
    left out, so a model is scored on discovering items, not on repeating a user's basket. Users
    left with nothing are not in the result.

    >>> f = pd.DataFrame({"user": [1, 2, 1, 2], "item": ["a", "b", "a", "a"],
    ...                   "time": pd.date_range("2024-01-01", periods=4), "weight": 1.0})
    >>> train, test = time_split(Interactions.from_frame(f), holdout=0.5)
    >>> test_truth(test), test_truth(test, seen=train)
    ({0: {0}, 1: {0}}, {1: {0}})
    """
    pairs = test.matrix(binary=True)
    if seen is not None:
        pairs = pairs - pairs.multiply(seen.matrix(binary=True))
        pairs.eliminate_zeros()
    return {
        int(u): set(pairs.indices[pairs.indptr[u] : pairs.indptr[u + 1]].tolist())
        for u in np.flatnonzero(np.diff(pairs.indptr))
    }


test_truth.__test__ = False  # not a test: pytest would collect it in any test module that imports it

"""Cleaning, indexing and the time split, on the real UCI Online Retail log (13 months of invoices)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from poc2prod.errors import DataError
from poc2prod.recommend import RETAIL_NON_PRODUCTS, Interactions, clean_log, test_truth, time_split


def _note(notes: list[str], words: str) -> str:
    (note,) = [n for n in notes if words in n]
    return note


def test_cleaning_drops_guests_cancellations_and_charges(retail_raw, cleaned):
    raw = retail_raw
    frame, notes = cleaned
    kept = raw.loc[frame.index]  # the raw rows' labels are kept, so each row traces back
    assert kept["CustomerID"].notna().all()
    assert not kept["InvoiceNo"].astype(str).str.startswith("C").any()
    assert (frame["weight"] > 0).all() and (kept["UnitPrice"] > 0).all()
    assert not frame["item"].isin(RETAIL_NON_PRODUCTS).any()
    assert frame["user"].dtype == np.int64  # 12346, not 12346.0

    # guests go first, so their note counts every raw row without a customer
    guests = int(raw["CustomerID"].isna().sum())
    assert guests == 135_080  # as SOURCE.md says
    assert _note(notes, "without a user").startswith(f"dropped {guests:,} of {len(raw):,} rows")
    cancelled = int((raw["CustomerID"].notna() & raw["InvoiceNo"].astype(str).str.startswith("C")).sum())
    assert _note(notes, "cancellations").startswith(f"dropped {cancelled:,} of")
    assert "POST" in _note(notes, "not products")
    # every raw row is either kept or counted in exactly one note
    dropped = sum(int(n.split()[1].replace(",", "")) for n in notes)
    assert len(frame) + dropped == len(raw)


def test_index_maps_and_descriptions(log, cleaned):
    frame = cleaned[0]
    assert len(log) == len(frame)
    assert (log.users[log.user] == frame["user"].to_numpy()).all()
    assert (log.items[log.item] == frame["item"].to_numpy()).all()
    assert list(log.users) == sorted(log.users) and len(set(log.items)) == log.n_items
    assert log.descriptions[list(log.items).index("85123A")] == "WHITE HANGING HEART T-LIGHT HOLDER"


def test_matrix_shape_and_values(log):
    m = log.matrix()
    assert m.shape == (log.n_users, log.n_items)
    assert m.data.min() > 0
    assert m.sum() == pytest.approx(log.weight.sum())  # repeated purchases are summed
    binary = log.matrix(binary=True)
    assert set(np.unique(binary.data)) == {1.0}
    assert binary.nnz == len(set(zip(log.user.tolist(), log.item.tolist(), strict=True)))
    assert (log.matrix(rows=[3, 1]).toarray() == m[[3, 1]].toarray()).all()
    assert log.popularity().tolist() == np.asarray(binary.sum(axis=0)).ravel().tolist()


def test_time_split_has_no_future_leak(log, split):
    train, test = split
    assert train.time.max() < split.cut.to_datetime64() <= test.time.min()
    assert split.cold.time.min() >= split.cut.to_datetime64()
    # the cut holds out about the last 20 % of the interactions (before the cold and unseen items go)
    assert (log.time >= split.cut.to_datetime64()).mean() == pytest.approx(0.2, abs=0.01)
    # train and test share one index map: the users and items seen before the cut
    assert test.users is train.users and test.items is train.items
    assert np.isin(test.user, train.user).all() and np.isin(test.item, train.item).all()
    assert test.matrix().shape == train.matrix().shape == (train.n_users, train.n_items)


def test_cold_users_are_set_apart_and_counted(log, split):
    train, test = split
    cold_ids = set(split.cold.users.tolist())
    assert cold_ids and not cold_ids & set(train.users.tolist())
    after = log.time >= split.cut.to_datetime64()
    new_users = set(log.users[np.unique(log.user[after])]) - set(train.users)
    note = _note(split.notes, "cold start")
    assert f"of {len(new_users):,} user(s) new after the cut" in note
    assert split.cold.items is train.items  # a popularity model trained on train can score them
    assert len(train) + len(test) + len(split.cold) <= len(log)


def test_min_history_moves_thin_users_to_cold(log, split):
    thin = time_split(log, holdout=split.cut, min_history=5)
    assert thin.cut == split.cut and len(thin.train) == len(split.train)
    history = np.diff(thin.train.matrix(binary=True).indptr)
    assert (history[np.unique(thin.test.user)] >= 5).all()
    assert len(thin.cold) > len(split.cold)
    assert "under 5 items before the cut" in _note(thin.notes, "cold start")


def test_truth_excludes_what_users_had_before(split):
    train, test = split
    everything = test_truth(test)
    new = test_truth(test, seen=train)
    assert set(everything) == set(np.unique(test.user).tolist())
    had = train.matrix(binary=True)
    for u, items in new.items():
        assert items and items <= everything[u]
        assert had[u, sorted(items)].nnz == 0
    assert sum(map(len, new.values())) < sum(map(len, everything.values()))


def test_errors_a_user_can_cause(log):
    frame = pd.DataFrame({"customer": [1], "sku": ["a"], "date": ["2024-01-01"]})
    with pytest.raises(DataError, match="no column 'CustomerID'"):
        clean_log(frame, user="CustomerID", item="sku", time="date")
    with pytest.raises(DataError, match="not a share"):
        time_split(log, holdout=1.5)
    with pytest.raises(DataError, match="neither a share nor a time"):
        time_split(log, holdout="next spring")
    with pytest.raises(DataError, match="one side of the split empty"):
        time_split(log, holdout="2030-01-01")
    with pytest.raises(DataError, match="empty after cleaning"):
        Interactions.from_frame(
            clean_log(frame.assign(customer=None), user="customer", item="sku", time="date")[0]
        )

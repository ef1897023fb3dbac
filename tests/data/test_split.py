"""Splits: stratified, by time and by group; the holdout never overlaps training or folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from poc2prod.data import cv_folds, make_split
from poc2prod.errors import TargetError
from poc2prod.spec import Spec


def _spec(**columns) -> Spec:
    return Spec.model_validate({"task": "binary", "data": {"source": "x"}, "target": "y", "columns": columns})


@pytest.fixture(scope="module")
def bank():
    from tests.conftest import BANK

    frame = pd.read_csv(BANK, sep=";")
    # The file is ordered from May 2008 to November 2010: its row order is its time order.
    frame["contact_order"] = np.arange(len(frame))
    frame["client_group"] = frame["age"].astype(str) + "-" + frame["job"]
    return frame


def test_stratified_holdout_and_folds(bank):
    y = (bank["y"] == "yes").to_numpy().astype(int)
    split = make_split(bank, y, _spec(), "fp")
    assert split.kind == "stratified"
    assert len(split.holdout) == pytest.approx(0.2 * len(bank), abs=1)
    assert not set(split.train) & set(split.holdout)
    rate = y.mean()
    assert y[split.holdout].mean() == pytest.approx(rate, abs=0.002)
    train = bank.loc[split.train]
    folds = cv_folds(train, y[split.train], _spec())
    assert len(folds) == 5
    seen = np.concatenate([va for _, va in folds])
    assert sorted(seen) == list(range(len(train)))


def test_time_split_never_trains_on_the_future(bank):
    spec = _spec(time="contact_order")
    y = (bank["y"] == "yes").to_numpy().astype(int)
    shuffled = bank.sample(frac=1.0, random_state=0)
    split = make_split(shuffled, y[shuffled.index], spec, "fp")
    assert split.kind == "time"
    t = bank["contact_order"]
    assert t[split.train].max() < t[split.holdout].min()
    train = shuffled.loc[split.train]
    for tr, va in cv_folds(train, y[split.train], spec):
        assert train["contact_order"].iloc[tr].max() < train["contact_order"].iloc[va].min()


def test_group_split_keeps_groups_whole(bank):
    spec = _spec(group="client_group")
    y = (bank["y"] == "yes").to_numpy().astype(int)
    split = make_split(bank, y, spec, "fp")
    assert split.kind == "group"
    g = bank["client_group"]
    assert not set(g[split.train]) & set(g[split.holdout])
    train = bank.loc[split.train]
    for tr, va in cv_folds(train, y[split.train], spec):
        assert not set(train["client_group"].iloc[tr]) & set(train["client_group"].iloc[va])


def test_class_too_rare_to_stratify(german):
    y = (german["class"] == 2).to_numpy().astype(int)
    y[:] = 0
    y[0] = 1
    with pytest.raises(TargetError, match="only 1 rows, too few to set aside a stratified holdout"):
        make_split(german, y, _spec(), "fp")

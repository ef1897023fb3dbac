"""Preprocessing per family: the scorecard bins a linear model learns step-shaped effects from."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from poc2prod.data import cv_folds, infer_schema
from poc2prod.learn import Context, RaceSetup, get_candidate, race
from poc2prod.learn._preprocess import QuantileBins, make_preprocessor
from poc2prod.learn._race import cross_validate
from poc2prod.spec import Spec

TARGET = "default.payment.next.month"


def test_bins_merge_tied_edges_skip_binary_columns_and_code_each_value_once(taiwan):
    # PAY_0 (repayment status) has a handful of values, most rows tied at 0 or -1; SEX has two.
    X = taiwan[["LIMIT_BAL", "PAY_0", "SEX"]].to_numpy(dtype=float)
    bins = QuantileBins(n_bins=10).fit(X)
    limit, pay, sex = bins.edges_
    assert sex is None
    assert len(limit) == 9 and 2 <= len(pay) < 9
    coded = bins.transform(X)
    assert coded.shape == (len(X), len(limit) + 1 + len(pay) + 1)
    assert (coded.sum(axis=1) == 2).all()  # one bin per binned column
    names = bins.get_feature_names_out(["LIMIT_BAL", "PAY_0", "SEX"])
    assert len(names) == coded.shape[1] and names[0] == "LIMIT_BAL_bin0"
    # Values beyond the training range fall in the end bins rather than failing.
    extreme = bins.transform(np.array([[-1e9, -99.0, 1.0], [1e12, 99.0, 2.0]]))
    assert extreme[0, 0] == 1 and extreme[1, len(limit)] == 1


def test_binned_family_fits_on_missing_and_unseen_values(german):
    X = german.drop(columns=["class"]).head(300).copy()
    numeric = [c for c in X.columns if X[c].dtype.kind in "if"]
    categorical = [c for c in X.columns if c not in numeric]
    X.loc[X.index[:40], numeric[0]] = np.nan
    prep = make_preprocessor("binned", numeric, categorical, params={"bins": 4}).fit(X)
    fresh = X.head(3).copy()
    fresh[numeric[0]] = [np.nan, np.inf, 1e9]
    out = prep.transform(fresh)
    assert np.isfinite(out).all()
    assert out.shape[1] == len(prep.get_feature_names_out())


def test_bins_per_number_shrink_with_the_training_rows():
    linear = get_candidate("logistic_regression")
    contexts = [Context(task="binary", numeric=[], categorical=[], n_rows=n) for n in (640, 20_000)]
    assert [linear.defaults(ctx)["bins"] for ctx in contexts] == [3, 10]


@pytest.mark.slow
def test_a_binned_linear_model_learns_what_a_scaled_one_cannot(taiwan):
    """Default risk is not monotone in the repayment status or the balance; deciles let a logistic
    regression follow that, and close most of its gap to a booster on the Taiwan cards."""
    data = taiwan.sample(12_000, random_state=0)
    spec = Spec.model_validate(
        {"task": "binary", "data": {"source": "x"}, "target": TARGET, "columns": {"id": "ID"}}
    )
    X = data[[c.name for c in infer_schema(data, spec).features]]
    y = data[TARGET].to_numpy()
    folds = cv_folds(data, y, spec, n_splits=3)
    ctx = Context(task="binary", numeric=list(X.columns), categorical=[], n_rows=len(folds[0][0]))
    setup = RaceSetup("binary", ctx, metrics=["roc_auc"], primary="roc_auc", threshold=0.5, n_classes=2)
    until = time.monotonic() + 120
    binned, boosted = race(X, y, folds, ["logistic_regression", "lightgbm"], setup, deadline=until)
    scaled = dataclasses.replace(get_candidate("logistic_regression"), family="dense")
    plain = cross_validate(X, y, folds, setup, "logistic_regression", until, build=lambda: scaled.build(ctx))
    assert binned.mean("roc_auc") > plain.mean("roc_auc") + 0.02
    assert boosted.mean("roc_auc") - binned.mean("roc_auc") < 0.015

"""Engineered features are learned from training rows only: target encoding never sees a row's own label."""

from __future__ import annotations

import numpy as np
import pandas as pd

from poc2prod.learn import Context, FeatureEngineer, FeaturePlan, Recipe, possible_plan
from poc2prod.metrics import METRICS


def _auc(y, p):
    return METRICS["roc_auc"].fn(np.asarray(y), np.asarray(p), 0.5)


def test_target_encoding_of_an_id_column_is_cross_fitted(german):
    # A unique id per row: encoded naively (fit and transform the same rows) it would reproduce
    # the label exactly; cross-fitted, each row's code comes from other rows and carries nothing.
    X = german.drop(columns=["class"]).assign(row_id=[f"r{i}" for i in range(len(german))])
    y = (german["class"] == 2).to_numpy(int)
    fe = FeatureEngineer(FeaturePlan(target=("row_id",)), task="binary", random_state=0)
    codes = fe.fit_transform(X, y)["row_id__te"].to_numpy()
    assert abs(_auc(y, codes) - 0.5) < 0.1
    naive = pd.Series(y).groupby(X["row_id"].to_numpy()).transform("mean").to_numpy()
    assert _auc(y, naive) == 1.0


def test_validation_rows_are_encoded_without_their_labels(german):
    # The encoder used on validation rows is fitted on training rows: flipping every validation
    # label changes nothing in the validation features or predictions.
    X = german.drop(columns=["class"])
    y = (german["class"] == 2).to_numpy(int)
    cats = list(X.select_dtypes(exclude="number").columns)
    plan = FeaturePlan(target=tuple(cats), frequency=tuple(cats))
    ctx = Context(
        task="binary", numeric=[c for c in X.columns if c not in cats], categorical=cats, n_classes=2
    )
    tr, va = np.arange(0, 800), np.arange(800, 1000)
    preds = []
    for labels in (y, np.where(np.isin(np.arange(len(y)), va), 1 - y, y)):
        model = Recipe("logistic_regression", features=plan).build_for_folds(ctx)
        model.fit(X.iloc[tr], labels[tr])
        preds.append(model.predict_proba(X.iloc[va])[:, 1])
    np.testing.assert_array_equal(preds[0], preds[1])


def test_unseen_categories_and_dates():
    train = pd.DataFrame(
        {"c": ["a", "a", "b", None], "d": pd.to_datetime(["2024-01-31", "2024-02-01", None, "2024-03-05"])}
    )
    fe = FeatureEngineer(FeaturePlan(frequency=("c",), dates=("d",)), task="binary").fit(train, [0, 1, 0, 1])
    out = fe.transform(pd.DataFrame({"c": ["z", "a"], "d": pd.to_datetime(["2025-06-15 13:00", None])}))
    assert out["c__freq"].tolist() == [0.0, 0.5]  # unseen -> 0
    assert "d" not in out.columns  # the raw date is replaced by its parts
    assert out.loc[0, ["d__year", "d__month", "d__day", "d__hour"]].tolist() == [2025, 6, 15, 13]
    assert np.isnan(out.loc[1, "d__year"])


def test_possible_plan_picks_only_columns_that_need_it(german):
    X = german.drop(columns=["class"]).assign(amount_gap=lambda f: f["credit_amount"].where(f.index % 7 > 0))
    cats = list(X.select_dtypes(exclude="number").columns)
    plan = possible_plan(X, cats, [])
    assert plan.missing == ("amount_gap",)
    assert set(plan.target) == {c for c in cats if X[c].nunique() >= 10}
    assert plan.dates == ()

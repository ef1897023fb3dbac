"""The race: honest folds, budget kept by sampling / early stops, failures contained."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
import pytest

from poc2prod.data import cv_folds, infer_schema
from poc2prod.learn import Context, RaceSetup, ensemble, race
from poc2prod.spec import Spec

TARGET = "default.payment.next.month"


@pytest.fixture(scope="module")
def problem(taiwan):
    spec = Spec.model_validate(
        {"task": "binary", "data": {"source": "x"}, "target": TARGET, "columns": {"id": "ID"}}
    )
    schema = infer_schema(taiwan, spec)
    X = taiwan[[c.name for c in schema.features]]
    y = taiwan[TARGET].to_numpy()
    folds = cv_folds(taiwan, y, spec, n_splits=3)
    ctx = Context(task="binary", numeric=list(X.columns), categorical=[], n_rows=len(folds[0][0]))
    setup = RaceSetup(
        task="binary", ctx=ctx, metrics=["roc_auc", "log_loss"], primary="roc_auc", threshold=0.5, n_classes=2
    )
    return X, y, folds, setup


def test_fast_candidates_complete_with_out_of_fold_scores(problem):
    X, y, folds, setup = problem
    results = race(
        X, y, folds, ["dummy", "logistic_regression", "lightgbm"], setup, deadline=time.monotonic() + 120
    )
    by = {r.name: r for r in results}
    assert all(r.status == "done" and r.folds_done == 3 for r in results)
    assert by["dummy"].mean("roc_auc") == pytest.approx(0.5)
    assert by["lightgbm"].mean("roc_auc") > by["logistic_regression"].mean("roc_auc") > 0.6
    assert not np.isnan(by["lightgbm"].oof).any()
    assert len(by["lightgbm"].best_iterations) == 3
    blended = ensemble(results, y, folds, setup)
    assert blended is None or set(blended.weights) <= {"logistic_regression", "lightgbm"}
    if blended is not None:
        assert min(blended.weights.values()) >= 0.1
        assert sum(blended.weights.values()) == pytest.approx(1.0)


def test_reserve_holds_time_back_from_the_race(problem):
    X, y, folds, setup = problem
    start = time.monotonic()
    results = race(
        X,
        y,
        folds,
        ["dummy", "lightgbm"],
        setup,
        deadline=start + 60,
        reserve=lambda done: 60.0 if done else 0.0,
    )
    assert [r.status for r in results] == ["done", "skipped"]
    assert time.monotonic() - start < 10


def test_tight_budget_is_kept_by_sampling_skipping_or_stopping(problem):
    X, y, folds, setup = problem
    budget = 8.0
    start = time.monotonic()
    results = race(
        X, y, folds, ["random_forest", "extra_trees", "mlp", "xgboost"], setup, deadline=start + budget
    )
    elapsed = time.monotonic() - start
    # The probe and the last fold in flight may overrun a little; a 8 s race must not take 20 s.
    assert elapsed < budget + 4
    notes = " ".join(r.note or "" for r in results)
    assert any(r.status in ("skipped", "partial") or r.train_rows for r in results), notes
    assert all(r.note for r in results if r.status != "done" or r.train_rows)


def test_a_failing_candidate_does_not_end_the_race(problem, monkeypatch):
    from poc2prod.learn import _candidates

    def explode(ctx):
        raise RuntimeError("solver diverged")

    broken = _candidates.Candidate("mlp", "dense", explode)
    monkeypatch.setitem(_candidates.CANDIDATES, "mlp", broken)
    X, y, folds, setup = problem
    results = race(X, y, folds, ["mlp", "dummy"], setup, deadline=time.monotonic() + 60)
    assert results[0].status == "failed" and "solver diverged" in results[0].note
    assert results[1].status == "done"


def test_infinite_values_are_treated_as_missing(problem):
    X, y, folds, setup = problem
    n = 6000  # the first rows show it, in a third of the time
    X, y, folds = X.iloc[:n], y[:n], [(tr[tr < n], va[va < n]) for tr, va in folds]
    X = X.assign(PAY_AMT1=np.where(np.arange(len(X)) % 50 == 0, np.inf, X["PAY_AMT1"]))
    results = race(
        X, y, folds, ["logistic_regression", "random_forest"], setup, deadline=time.monotonic() + 60
    )
    assert [r.status for r in results] == ["done", "done"], [r.note for r in results]


@pytest.mark.parametrize("library", ["lightgbm", "xgboost", "catboost"])
def test_a_booster_past_its_deadline_still_returns_a_model(problem, library):
    from poc2prod.learn._boosters import Booster

    X, y, folds, _ = problem
    tr, va = folds[0]
    booster = Booster(library=library, deadline=time.monotonic() - 1).fit(X.iloc[tr], y[tr])
    assert booster.stopped_by_deadline_ and booster.best_iteration_ >= 1
    assert booster.predict_proba(X.iloc[va]).shape == (len(va), 2)


def test_a_fixed_size_booster_averages_its_seeds(problem):
    from poc2prod.learn._boosters import Booster

    X, y, folds, _ = problem
    tr, va = folds[0]
    bag = Booster(n_estimators=60, n_seeds=3).fit(X.iloc[tr], y[tr])
    assert len(bag.models_) == 3
    each = [m.predict_proba(X.iloc[va])[:, 1] for m in bag.models_]
    assert not np.allclose(each[0], each[1])  # the seeds really differ
    np.testing.assert_allclose(bag.predict_proba(X.iloc[va])[:, 1], np.mean(each, axis=0))


@pytest.mark.parametrize("library", ["lightgbm", "xgboost", "catboost"])
def test_a_booster_on_a_few_rows_fits_with_one_thread_and_on_many_with_all(problem, library):
    from poc2prod.learn._boosters import _ONE_THREAD_ROWS, Booster

    X, y, folds, _ = problem
    tr = folds[0][0]
    small = Booster(library=library, n_estimators=5, n_jobs=2).fit(X.iloc[tr[:500]], y[tr[:500]])
    large = Booster(library=library, n_estimators=5, n_jobs=2).fit(X.iloc[tr], y[tr])
    assert len(tr) >= _ONE_THREAD_ROWS
    threads = "thread_count" if library == "catboost" else "n_jobs"
    assert [m.get_params()[threads] for m in (*small.models_, *large.models_)] == [1, 2]


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, "3000"), ({"GOMP_SPINCOUNT": "50"}, "50"), ({"OMP_WAIT_POLICY": "PASSIVE"}, None)],
)
def test_importing_poc2prod_bounds_openmp_spinning_unless_the_user_chose(env, expected):
    import os
    import subprocess
    import sys

    base = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    code = "import os, poc2prod; print(os.environ.get('GOMP_SPINCOUNT'))"
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True)
    assert out.stdout.strip() == str(expected)


def test_catboost_learns_from_categories_and_survives_a_pickle(german):
    """German credit's categorical columns reach CatBoost as categories (by code, missing included);
    a category never seen in training scores like a missing one, and a pickled copy predicts alike."""
    import pickle

    from sklearn.metrics import roc_auc_score

    from poc2prod.learn import get_candidate

    y = (german["class"] == 2).astype(int).to_numpy()
    X = german.drop(columns=["class"])
    categorical = [c for c in X if not pd.api.types.is_numeric_dtype(X[c])]
    ctx = Context(
        task="binary",
        numeric=[c for c in X if c not in categorical],
        categorical=categorical,
        n_rows=800,
    )
    model = get_candidate("catboost").build(ctx).fit(X.iloc[:800], y[:800])
    booster = model[-1]
    assert booster.cat_columns_ == categorical and 10 < booster.best_iteration_ < 3000
    new = X.iloc[800:].copy()
    scores = model.predict_proba(new)[:, 1]
    assert roc_auc_score(y[800:], scores) > 0.7
    np.testing.assert_allclose(pickle.loads(pickle.dumps(model)).predict_proba(new)[:, 1], scores)
    unseen, missing = new.iloc[:5].copy(), new.iloc[:5].copy()
    unseen[categorical[0]], missing[categorical[0]] = "never seen", np.nan
    np.testing.assert_allclose(model.predict_proba(unseen), model.predict_proba(missing))


@pytest.fixture(scope="module")
def raced(problem):
    X, y, folds, setup = problem
    names = ["logistic_regression", "lightgbm", "xgboost"]
    return race(X, y, folds, names, setup, deadline=time.monotonic() + 120)


def _stopped_after(result, folds, n: int):
    """``result`` as the clock would have left it after ``n`` folds."""
    cut = dataclasses.replace(
        result, status="partial", folds_done=n, fold_metrics=result.fold_metrics[:n], oof=result.oof.copy()
    )
    for _, va in folds[n:]:
        cut.oof[va] = np.nan
    return cut


def test_a_candidate_stopped_a_fold_short_joins_the_ensemble_on_the_folds_it_predicted(problem, raced):
    _, y, folds, setup = problem
    whole = ensemble(raced, y, folds, setup)
    assert whole is not None and "xgboost" in whole.weights
    short = [*raced[:2], _stopped_after(raced[2], folds, 2)]
    blended = ensemble(short, y, folds, setup)
    assert blended is not None and blended.folds_done == 3 and "xgboost" in blended.weights
    assert all(np.isfinite(f["roc_auc"]) for f in blended.fold_metrics)
    assert not np.isnan(blended.oof).any()
    # The fold it did not predict is scored by the members that did, never by a missing one.
    missing = folds[2][1]
    w = {r.name: blended.weights.get(r.name, 0.0) for r in raced[:2]}
    expected = sum(w[r.name] * r.oof[missing] for r in raced[:2]) / sum(w.values())
    assert np.allclose(blended.oof[missing], expected)
    if blended.weights == whole.weights:  # the folds it predicted blend as they would have
        assert np.allclose(blended.oof[folds[0][1]], whole.oof[folds[0][1]])


def test_a_candidate_with_most_folds_missing_stays_out_of_the_ensemble(problem, raced):
    _, y, folds, setup = problem
    blended = ensemble([*raced[:2], _stopped_after(raced[2], folds, 1)], y, folds, setup)
    assert blended is None or "xgboost" not in blended.weights

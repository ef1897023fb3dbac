"""The optimize gate end to end on the shipped credit example: study, workers, resume, value, JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from poc2prod import Project
from poc2prod.errors import ProjectError, SchemaError
from poc2prod.value import value_per_decision

pytestmark = pytest.mark.slow


def _proven(path: Path) -> Project:
    project = Project.init(path, example="credit-risk")
    project.prove(budget=10)
    return project


@pytest.fixture(scope="module")
def optimized(tmp_path_factory):
    project = _proven(tmp_path_factory.mktemp("opt") / "proj")
    holdout = project.root / "newer.csv"
    # "Newer" applicants: the holdout's rows with amounts inflated by 10%, as if a year later.
    from poc2prod.data import Split

    split = Split.read(project.state_dir)
    frame = pd.read_csv(project.root / "german_credit.csv")
    frame.loc[split.holdout].assign(credit_amount=lambda f: (f["credit_amount"] * 1.1).round()).to_csv(
        holdout, index=False
    )
    spec = (project.root / "poc2prod.yaml").read_text()
    (project.root / "poc2prod.yaml").write_text(spec + "\nnewer:\n  source: newer.csv\n")
    project = Project.load(project.root)
    return project, project.optimize(budget=30)


def test_json_has_the_documented_shape(optimized):
    project, result = optimized
    doc = json.loads(json.dumps(result.to_dict()))
    for side in ("baseline", "optimized"):
        assert 0.5 < doc[side]["holdout"]["roc_auc"] <= 1.0
        assert 0.5 < doc[side]["newer"]["roc_auc"] <= 1.0
    gain = doc["gain"]
    assert gain["metric"] == "roc_auc" and gain["low"] <= gain["value"] <= gain["high"]
    assert gain["value"] == pytest.approx(
        doc["optimized"]["holdout"]["roc_auc"] - doc["baseline"]["holdout"]["roc_auc"]
    )
    assert "newer" in gain and gain["newer"]["rows"] == 200
    assert 0 < doc["threshold"] < 1
    value = doc["value"]
    for v in (value, value["approve_everyone"], value["prove_model"]):
        assert v["currency"] == "EUR"
        assert v["per_month"] == pytest.approx(v["per_1000_decisions"])  # the spec says 1,000 a month
    assert doc["trials"] >= 3 and doc["run_id"]
    assert doc["study"]["this_run"] == doc["trials"]
    assert project.last("optimize")["run_id"] == doc["run_id"]


def test_value_is_reproducible_from_the_stored_predictions(optimized):
    project, result = optimized
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=project.tracking_uri)
    local = client.download_artifacts(result.run_id, "predictions/holdout.parquet", str(project.root))
    holdout = pd.read_parquet(local)
    vm = project.spec.value
    ours = value_per_decision(holdout["y"].to_numpy(), holdout["optimized"].to_numpy(), result.threshold, vm)
    assert 1000 * ours == pytest.approx(result.value["per_1000_decisions"])
    everyone = value_per_decision(holdout["y"].to_numpy(), np.zeros(len(holdout)), 1.0, vm)
    assert 1000 * everyone == pytest.approx(result.value["approve_everyone"]["per_1000_decisions"])
    # The threshold was chosen on out-of-fold scores: it is the best one there.
    oof = pd.read_parquet(
        client.download_artifacts(result.run_id, "predictions/oof.parquet", str(project.root))
    )
    at_best = value_per_decision(oof["y"].to_numpy(), oof["calibrated"].to_numpy(), result.threshold, vm)
    for t in np.linspace(0.01, 0.99, 99):
        assert value_per_decision(oof["y"].to_numpy(), oof["calibrated"].to_numpy(), t, vm) <= at_best + 1e-9


def test_the_optimized_model_earns_more_than_approving_everyone(optimized):
    _, result = optimized
    assert result.value["per_1000_decisions"] > result.value["approve_everyone"]["per_1000_decisions"]


def test_two_workers_share_one_study(tmp_path):
    import optuna

    project = _proven(tmp_path / "proj")
    result = project.optimize(budget=30, workers=2)
    study = optuna.load_study(study_name=result.study["name"], storage=project.studies_uri)
    workers = {t.user_attrs.get("worker") for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")}
    assert len(workers) == 2, workers
    assert result.study["workers"] == sorted(workers)


def test_a_killed_run_resumes_with_its_finished_trials(tmp_path):
    import optuna

    project = _proven(tmp_path / "proj")
    cli = Path(sys.executable).with_name("poc2prod")
    proc = subprocess.Popen([cli, "optimize", "-C", project.root, "--budget", "300", "--quiet"])
    storage = project.studies_uri
    deadline = time.monotonic() + 120
    complete = []
    while time.monotonic() < deadline and len(complete) < 3:
        time.sleep(1)
        try:
            summaries = optuna.get_all_study_summaries(storage)
            study = (
                optuna.load_study(study_name=summaries[0].study_name, storage=storage) if summaries else None
            )
        except Exception:  # the database is being created
            continue
        complete = [t for t in study.trials if t.state.name == "COMPLETE"] if study else []
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(complete) >= 3
    killed = {t.number for t in complete}

    result = project.optimize(budget=15)
    assert any("resumed the study" in n for n in result.notes)
    study = optuna.load_study(study_name=result.study["name"], storage=storage)
    kept = {t.number for t in study.trials if t.state.name == "COMPLETE"}
    assert killed <= kept
    assert result.study["finished"] > result.study["this_run"]
    assert project.last("optimize")["run_id"] == result.run_id


def test_one_worker_is_reproducible(tmp_path):
    project = _proven(tmp_path / "proj")
    params = []
    for store in ("a", "b"):
        tracking = project.spec.tracking.model_copy(update={"studies": f"sqlite:///{tmp_path / store}.db"})
        project.spec = project.spec.model_copy(update={"tracking": tracking})
        result = project.optimize(budget=120, trials=4)
        import optuna

        study = optuna.load_study(study_name=result.study["name"], storage=project.studies_uri)
        params.append([(t.params, t.state.name, t.value) for t in study.trials])
    assert len(params[0]) == 4
    assert params[0] == params[1]


def test_optimize_needs_a_prove_run_first(tmp_path):
    project = Project.init(tmp_path / "proj", example="credit-risk")
    with pytest.raises(ProjectError, match="poc2prod prove"):
        project.optimize(budget=10)


def test_newer_data_whose_column_changed_type_is_one_clear_error(tmp_path):
    project = _proven(tmp_path / "proj")
    frame = pd.read_csv(project.root / "german_credit.csv").head(100)
    frame["credit_amount"] = "unknown"
    frame.to_csv(project.root / "newer.csv", index=False)
    spec = (project.root / "poc2prod.yaml").read_text()
    (project.root / "poc2prod.yaml").write_text(spec + "\nnewer:\n  source: newer.csv\n")
    with pytest.raises(SchemaError, match="credit_amount"):
        Project.load(project.root).optimize(budget=15, trials=2)


@pytest.mark.parametrize("target", ["job", "credit_amount"])
def test_multiclass_and_regression_run_without_a_threshold(tmp_path, target):
    from tests.conftest import GERMAN

    data = tmp_path / "german.csv"
    data.write_bytes(GERMAN.read_bytes())
    project = Project.init(tmp_path / "proj", data=data, target=target)
    assert project.spec.task == {"job": "multiclass", "credit_amount": "regression"}[target]
    project.prove(budget=10)
    result = project.optimize(budget=30, trials=4)
    doc = json.loads(json.dumps(result.to_dict()))
    assert doc["value"] is None and doc["calibration"] is None
    assert doc["threshold"] == project.spec.threshold
    metric = doc["primary_metric"]
    assert doc["gain"]["low"] <= doc["gain"]["value"] <= doc["gain"]["high"]
    assert doc["optimized"]["holdout"][metric] is not None


def test_tuning_covers_a_booster_a_forest_and_the_linear_model_whatever_prove_ranked_first():
    from poc2prod.gates._optimize import _families

    def proved(*names):
        return {"leaderboard": [{"model": n, "status": "done"} for n in names]}

    # German credit: forests first; the booster and the linear model join from further down.
    german = proved("random_forest", "extra_trees", "xgboost", "logistic_regression", "lightgbm", "dummy")
    assert _families(german) == ["random_forest", "extra_trees", "xgboost", "logistic_regression"]
    # A family prove never finished still joins, as its kind's first member.
    assert _families(proved("lightgbm", "xgboost", "mlp")) == [
        "lightgbm",
        "xgboost",
        "mlp",
        "random_forest",
        "logistic_regression",
    ]
    # Regression: ridge on the leaderboard is the linear candidate, tuned once.
    assert _families(proved("ridge", "lightgbm")).count("logistic_regression") == 1


def test_the_refit_estimate_scales_from_the_rows_a_trial_trained_on():
    from types import SimpleNamespace

    from poc2prod.gates._optimize import _refit_seconds

    def trial(**attrs):
        return SimpleNamespace(user_attrs={"fit_seconds": 2.0, "best_iterations": [], **attrs})

    # 2 s per fold of 4,000 rows, refitted on 5,000 rows, with 20 % to spare.
    assert _refit_seconds(trial(), 5000, 4000, 3) == pytest.approx(2.0 * 5000 / 4000 * 1.2)
    # A trial sampled to 1,000 rows per fold took its 2 s on those rows: a refit is 5x that.
    assert _refit_seconds(trial(train_rows=1000), 5000, 4000, 3) == pytest.approx(2.0 * 5 * 1.2)
    # A booster is refitted once per seed.
    assert _refit_seconds(trial(best_iterations=[90]), 5000, 4000, 3) == pytest.approx(3 * 2.0 * 1.25 * 1.2)


def test_a_refit_that_would_overrun_is_fitted_on_a_sample_no_smaller_than_its_trials_saw(german):
    from types import SimpleNamespace

    from poc2prod.gates._optimize import _refit
    from poc2prod.learn import Context, RaceSetup
    from poc2prod.learn._recipe import Recipe

    numeric = ["duration_months", "credit_amount", "age_years", "installment_rate_pct_income"]
    prep = SimpleNamespace(X_train=german[numeric], y_train=(german["class"] == 2).to_numpy().astype(int))
    ctx = Context(task="binary", numeric=numeric, categorical=[], n_rows=800)
    setup = RaceSetup("binary", ctx, ["roc_auc"], "roc_auc", 0.5, 2)
    # Its folds took 30 s on 300 rows: 1,000 rows would take 120 s.
    slow = SimpleNamespace(user_attrs={"fit_seconds": 30.0, "best_iterations": [], "train_rows": 300})
    model, _, rows = _refit(Recipe("logistic_regression"), prep, setup, [slow], time.monotonic() + 60)
    assert 495 <= rows <= 500  # the 60 s left buy half the rows, less the moment already passed
    assert model.predict_proba(german[numeric].head(3)).shape == (3, 2)
    _, _, rows = _refit(Recipe("logistic_regression"), prep, setup, [slow], time.monotonic() + 1)
    assert rows == 300  # never fewer rows than its trials trained on
    _, _, rows = _refit(Recipe("logistic_regression"), prep, setup, [slow], time.monotonic() + 200)
    assert rows == 1000

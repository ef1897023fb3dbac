"""The Python API end to end on real data: prove, what it records, and what it freezes."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from poc2prod import Project, ProveResult
from poc2prod.errors import ProjectError

FAST = ["dummy", "logistic_regression", "lightgbm"]


@pytest.fixture(scope="module")
def proved(tmp_path_factory):
    from tests.conftest import GERMAN

    root = tmp_path_factory.mktemp("proved")
    (root / "german.csv").write_bytes(GERMAN.read_bytes())
    project = Project.init(root / "proj", data=root / "german.csv", target="class")
    return project, project.prove(budget=30, models=FAST)


def test_result_shape_and_verdict(proved):
    _, result = proved
    assert isinstance(result, ProveResult)
    assert result.verdict in ("go", "no-go")
    assert result.positive_class == 2
    assert next(row["model"] for row in result.leaderboard if row["cv"]) == result.best["model"]
    assert {row["model"] for row in result.leaderboard} >= set(FAST)
    assert result.data["train_rows"] == 800 and result.data["holdout_rows"] == 200
    c = result.criteria[0]
    assert c.metric == "roc_auc" and c.value == result.best["holdout"]["roc_auc"]
    assert c.passed == (c.value >= 0.75) and result.verdict == ("go" if c.passed else "no-go")
    assert 0.65 < result.best["holdout"]["roc_auc"] < 0.95
    assert result.elapsed_seconds < 30 + 5


def test_run_is_tracked_in_the_project(proved):
    import mlflow

    project, result = proved
    assert (
        project.tracking_uri.startswith("sqlite:///") and (project.root / ".poc2prod" / "mlflow.db").is_file()
    )
    client = mlflow.MlflowClient(tracking_uri=project.tracking_uri)
    run = client.get_run(result.run_id)
    assert run.data.tags["poc2prod.verdict"] == result.verdict
    assert run.data.params["best_model"] == result.best["model"]
    assert run.data.metrics["holdout_roc_auc"] == pytest.approx(result.best["holdout"]["roc_auc"])
    names = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"schema.json", "profile.json", "leaderboard.json", "model", "split.parquet"} <= names
    model_dir = client.list_artifacts(result.run_id, "model")
    assert [a.path for a in model_dir] == ["model/model.joblib"]
    local = mlflow.artifacts.download_artifacts(
        run_id=result.run_id, artifact_path="model/model.joblib", tracking_uri=project.tracking_uri
    )
    from poc2prod._io import sha256_file

    assert sha256_file(local) == result.model_sha256 == run.data.tags["poc2prod.model_sha256"]
    assert str(project.root / ".poc2prod" / "artifacts") in run.info.artifact_uri
    # The holdout's scores are stored in the frozen split's row order: its figures can be recomputed.
    from sklearn.metrics import roc_auc_score

    stored = pd.read_parquet(
        client.download_artifacts(result.run_id, "predictions/holdout.parquet", str(project.root))
    )
    split = pd.read_parquet(project.root / ".poc2prod" / "split.parquet")
    source = pd.read_csv(project.root.parent / "german.csv")
    labels = source["class"].iloc[split.loc[split["part"] == "holdout", "row"]].to_numpy()
    assert ((labels == 2) == stored["y"].to_numpy()).all()
    assert roc_auc_score(stored["y"], stored["score"]) == pytest.approx(result.best["holdout"]["roc_auc"])


def test_schema_and_holdout_are_frozen_and_reused(proved):
    project, _ = proved
    schema_before = (project.root / "schema.json").read_text()
    split_before = pd.read_parquet(project.root / ".poc2prod" / "split.parquet")
    again = Project.load(project.root).prove(budget=15, models=["logistic_regression"])
    assert (project.root / "schema.json").read_text() == schema_before
    pd.testing.assert_frame_equal(pd.read_parquet(project.root / ".poc2prod" / "split.parquet"), split_before)
    assert not again.notes
    assert json.loads((project.root / ".poc2prod" / "prove.json").read_text())["run_id"] == again.run_id


def test_changed_data_redraws_the_holdout_and_says_so(proved, tmp_path):
    project, _ = proved
    data = pd.read_csv(project.root.parent / "german.csv")
    data.iloc[:900].to_csv(tmp_path / "fewer.csv", index=False)
    spec = (project.root / "poc2prod.yaml").read_text()
    source = next(line for line in spec.splitlines() if line.strip().startswith("source:"))
    (project.root / "poc2prod.yaml").write_text(spec.replace(source, f"  source: {tmp_path / 'fewer.csv'}"))
    result = Project.load(project.root).prove(budget=15, models=["logistic_regression"])
    assert any("new holdout was drawn" in n for n in result.notes)
    assert result.data["holdout_rows"] == 180


def test_spec_role_change_refreezes_schema(german_project):
    spec = (german_project.root / "poc2prod.yaml").read_text()
    german_project.prove(budget=10, models=["dummy", "logistic_regression"])
    (german_project.root / "poc2prod.yaml").write_text(spec.replace("drop: []", "drop: [telephone]"))
    result = Project.load(german_project.root).prove(budget=10, models=["dummy", "logistic_regression"])
    assert any("schema was frozen again" in n for n in result.notes)
    assert "telephone" in result.data["dropped_columns"]


def test_unknown_model_name(german_project):
    with pytest.raises(ProjectError, match="unknown model 'tabnet'; choose from dummy, "):
        german_project.prove(budget=10, models=["tabnet"])


def test_no_criteria_is_refused(german_project):
    path = german_project.root / "poc2prod.yaml"
    path.write_text(path.read_text().replace("  - roc_auc >= 0.75\n", ""))
    with pytest.raises(ProjectError, match="lists no criteria; add at least one success criterion"):
        Project.load(german_project.root).prove(budget=10)


def test_a_budget_too_small_for_anything(german_project):
    from poc2prod.errors import BudgetError

    with pytest.raises(BudgetError, match="no candidate finished a single fold within the 0.01s budget"):
        german_project.prove(budget=0.01)


def test_a_tiny_budget_still_answers_within_it(german_project):
    # 8 s: with less, the fixed cost of a run (loading, profiling, starting the tracker) can leave
    # no time for anything past the dummy when the machine is having a slow minute.
    result = german_project.prove(budget=8)
    assert result.elapsed_seconds < 8 + 3
    scored = {row["model"] for row in result.leaderboard if row["cv"]}
    assert scored - {"dummy"}, result.leaderboard
    assert result.best["model"] != "dummy"
    skipped = [row for row in result.leaderboard if row["status"] == "skipped"]
    assert all("budget" in row["note"] for row in skipped)

"""init: a sensible, commented spec inferred from real data, and the shipped example."""

from __future__ import annotations

import pandas as pd
import pytest

from poc2prod import Project
from poc2prod.scaffold import infer_task
from tests.conftest import BANK, GERMAN, TAIWAN


def test_task_inference():
    assert infer_task(pd.Series(["yes", "no", "yes"])) == "binary"
    assert infer_task(pd.Series([1, 2, 3, 1, 2])) == "multiclass"
    assert infer_task(pd.Series(["a", "b", "c"])) == "multiclass"
    assert infer_task(pd.Series([0.5, 1.25, 3.0, 4.5])) == "regression"
    assert infer_task(pd.Series(range(100))) == "regression"


def test_taiwan_spec(tmp_path):
    project = Project.init(tmp_path / "tw", data=TAIWAN, target="default.payment.next.month")
    spec = project.spec
    assert spec.task == "binary" and spec.positive_class == 1
    assert spec.columns.id == "ID"
    assert [str(c) for c in spec.criteria] == ["roc_auc >= 0.75"]
    text = (tmp_path / "tw" / "poc2prod.yaml").read_text()
    assert "# Success criteria agreed with the client" in text
    assert spec.data.source == str(TAIWAN.resolve())


def test_semicolon_data_and_drop(tmp_path):
    project = Project.init(tmp_path / "bank", data=BANK, target="y", drop=["duration"])
    assert project.spec.data.sep == ";"
    assert project.spec.columns.drop == ["duration"]
    assert project.spec.positive_class == "yes"


def test_data_inside_the_project_is_relative(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "g.csv").write_bytes(GERMAN.read_bytes())
    project = Project.init(tmp_path / "p", data=tmp_path / "p" / "g.csv", target="class", task="binary")
    assert project.spec.data.source == "g.csv"


def test_example_ships_data_and_attribution(tmp_path):
    project = Project.init(tmp_path / "demo", example="credit-risk")
    assert (tmp_path / "demo" / "german_credit.csv").is_file()
    assert "CC BY 4.0" in (tmp_path / "demo" / "SOURCE.md").read_text()
    assert project.spec.positive_class == 2
    assert project.spec.value.false_negative == -8000


def test_unknown_example(tmp_path):
    from poc2prod.errors import ProjectError

    with pytest.raises(ProjectError, match="unknown example 'fraud'; choose one of: credit-risk"):
        Project.init(tmp_path / "x", example="fraud")


def test_database_source(tmp_path, german):
    import sqlite3

    db = tmp_path / "bank.db"
    with sqlite3.connect(db) as conn:
        german.to_sql("loans", conn, index=False)
    url = f"sqlite:///{db}"
    project = Project.init(tmp_path / "p", data=url, query="SELECT * FROM loans", target="class")
    assert project.spec.data.kind == "sql" and project.spec.data.source == url
    assert project.spec.data.query == "SELECT * FROM loans"
    result = project.prove(budget=10, models=["logistic_regression"])
    assert result.data["labelled_rows"] == 1000

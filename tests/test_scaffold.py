"""init: a sensible, commented spec inferred from real data, and the shipped example."""

from __future__ import annotations

import pandas as pd
import pytest

from poc2prod import Project
from poc2prod.errors import DataError, ProjectError
from poc2prod.scaffold import infer_task
from tests.conftest import BANK, GERMAN, RETAIL, TAIWAN


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


def test_an_interaction_log_without_a_target_becomes_a_recommend_project(tmp_path):
    project = Project.init(tmp_path / "shop", data=RETAIL)
    spec = project.spec
    assert spec.task == "recommend" and spec.target is None
    c, r = spec.columns, spec.recommend
    assert (c.user, c.item, c.time, c.weight) == ("CustomerID", "StockCode", "InvoiceDate", "Quantity")
    assert (r.invoice, r.price, r.description) == ("InvoiceNo", "UnitPrice", "Description")
    assert spec.value.margin == 0.3 and str(spec.criteria[0]) == "recall@10 >= 0.05"


def test_unusual_role_names_are_given_and_a_missing_one_is_named(tmp_path, retail_raw):
    frame = retail_raw.head(2000).rename(
        columns={"CustomerID": "who", "StockCode": "what", "InvoiceDate": "at"}
    )
    data = tmp_path / "log.parquet"
    frame.to_parquet(data)
    with pytest.raises(ProjectError, match="init needs --target .* pass --task recommend"):
        Project.init(tmp_path / "a", data=data)
    with pytest.raises(DataError, match="could not tell which column is the user .* --user COLUMN"):
        Project.init(tmp_path / "b", data=data, task="recommend")
    with pytest.raises(DataError, match="--item 'sku' is not a column"):
        Project.init(tmp_path / "c", data=data, task="recommend", roles={"user": "who", "item": "sku"})
    spec = Project.init(tmp_path / "d", data=data, roles={"user": "who", "item": "what", "time": "at"}).spec
    assert (spec.task, spec.columns.user, spec.columns.item, spec.columns.time) == (
        "recommend",
        "who",
        "what",
        "at",
    )


def test_a_price_share_needs_a_price_column(tmp_path):
    from poc2prod.errors import SpecError
    from poc2prod.spec import Spec

    doc = {
        "task": "recommend",
        "data": {"source": "log.csv"},
        "columns": {"user": "u", "item": "i", "time": "t"},
        "criteria": ["recall@10 >= 0.05"],
        "value": {"margin": 0.3},
    }
    with pytest.raises((SpecError, ValueError), match="value.margin is a share of each item's price"):
        Spec.model_validate(doc)
    doc["recommend"] = {"price": "p"}
    assert Spec.model_validate(doc).value.margin == 0.3

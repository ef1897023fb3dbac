"""The prove gate for task: recommend on the real UCI Online Retail log: recommend from the past,
judged once on the future, with what the cleaning dropped said and the other gates refused."""

from __future__ import annotations

import pytest

from poc2prod import Project
from poc2prod.errors import DataError, ProjectError, SpecError
from poc2prod.recommend import RETAIL_NON_PRODUCTS
from tests.conftest import RETAIL, write_spec


def _spec(criteria: str = "recall@10 >= 0.03", user: str = "CustomerID") -> str:
    return f"""name: retail
task: recommend
data:
  source: {RETAIL}
columns:
  user: {user}
  item: StockCode
  time: InvoiceDate
  weight: Quantity
recommend:
  invoice: InvoiceNo
  price: UnitPrice
  non_products: [POST, DOT, C2, M, BANK CHARGES, AMAZONFEE, PADS]
criteria:
  - {criteria}
"""


@pytest.fixture(scope="module")
def proved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("retail")
    write_spec(folder, _spec())
    project = Project.load(folder)
    return project, project.prove(budget=60)


@pytest.mark.slow
def test_personal_models_beat_most_popular_on_the_future(proved):
    project, result = proved
    assert result.verdict == "go" and result.task == "recommend"
    assert {r["model"] for r in result.leaderboard} == {"most_popular", "most_popular_30d", "item_knn", "als"}
    assert result.best["model"] in ("item_knn", "als")
    vs = result.best["versus_most_popular"]
    assert vs["baseline"].startswith("most_popular") and vs["clear"] and vs["low"] > 0
    crit = result.criteria[0]
    assert crit.metric == "recall@10" and crit.interval[0] <= crit.value <= crit.interval[1]
    assert result.run_id and project.last("prove")["verdict"] == "go"
    html = project.report().read_text(encoding="utf-8")
    assert "items (<code>StockCode</code>) each user" in html and "cut inside the past" in html


@pytest.mark.slow
def test_the_future_never_reaches_model_choice_and_the_cleaning_is_said(proved):
    _, result = proved
    data = result.data
    assert data["selection_cut"] < data["cut"]  # candidates are ranked on a cut inside the past
    assert data["train_rows"] + data["holdout_rows"] <= data["labelled_rows"]
    said = " ".join(result.notes)
    assert "without a user" in said and "cancellations" in said and "not products" in said
    # The leaderboard is the selection cut's; the criteria are judged on the future.
    best = next(r for r in result.leaderboard if r["model"] == result.best["model"])
    assert best["cv"]["recall@10"]["mean"] == pytest.approx(result.criteria[0].cv_mean)


@pytest.mark.slow
def test_a_baseline_alone_is_judged_and_can_fail(tmp_path):
    write_spec(tmp_path, _spec(criteria="recall@10 >= 0.2"))
    result = Project.load(tmp_path).prove(budget=30, models=["most_popular"])
    assert result.verdict == "no-go" and result.best["model"] == "most_popular"
    assert result.best["versus_most_popular"] is None and not result.criteria[0].passed


def test_retrain_refuses_in_one_sentence_and_says_what_to_do(tmp_path):
    write_spec(tmp_path, _spec())
    project = Project.load(tmp_path)
    with pytest.raises(
        ProjectError, match="append the new interactions to the data and run optimize and deploy"
    ):
        project.retrain(RETAIL)
    with pytest.raises(ProjectError, match="--workers and --backend ray apply to tabular and text tuning"):
        project.optimize(budget=5, workers=2)


def test_the_shipped_example_is_the_shared_log_with_its_attribution(tmp_path):
    project = Project.init(tmp_path / "rec", example="recommend")
    assert project.spec.task == "recommend" and project.spec.columns.user == "CustomerID"
    assert (project.root / "online_retail.parquet").read_bytes() == RETAIL.read_bytes()
    assert "CC BY 4.0" in (project.root / "SOURCE.md").read_text(encoding="utf-8")
    assert set(project.spec.recommend.non_products) == RETAIL_NON_PRODUCTS


def test_a_column_the_data_lacks_is_named(tmp_path):
    write_spec(tmp_path, _spec(user="Customer"))
    with pytest.raises(DataError, match="column 'Customer' named in poc2prod.yaml is not in the data"):
        Project.load(tmp_path).prove(budget=10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("task: recommend\ndata: {source: a.csv}\ncolumns: {user: u, item: i}\n", "needs columns.time"),
        (
            "task: recommend\ndata: {source: a.csv}\ncolumns: {user: u, item: i, time: t}\n"
            "criteria: [roc_auc >= 0.7]\n",
            "does not rank recommendations",
        ),
        (
            "task: binary\ntarget: y\ndata: {source: a.csv}\ncriteria: [recall@10 >= 0.1]\n",
            "task: recommend only",
        ),
        ("task: binary\ndata: {source: a.csv}\n", "required key 'target' is missing"),
        (
            "task: recommend\ndata: {source: a.csv}\ncolumns: {user: u, item: i, time: t}\n"
            "criteria: [recal@10 > 1]\n",
            "unknown metric",
        ),
    ],
)
def test_recommend_spec_errors(text, message):
    from poc2prod.spec import Spec

    with pytest.raises(SpecError, match=message):
        Spec.from_yaml(text)

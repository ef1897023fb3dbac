"""Text tasks through the gates on the shipped, real data: BANKING77 intents (prove, optimize with
the routing threshold, deploy, the service's answers and similar questions, monitor) and financial
sentiment (a replayed stream whose bearish share jumps, caught by the mix's control chart)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from poc2prod import Project
from poc2prod.errors import DataError, SpecError
from poc2prod.serve import ServiceConfig, create_app

EXAMPLES = Path(str(resources.files("poc2prod") / "examples"))
_INTENTS = 12  # a dozen intents keep every gate to seconds; the full set is the benchmark's job


def _intents_project(folder: Path) -> Project:
    """The shipped intents example cut to its first dozen intents, every query of them kept."""
    project = Project.init(folder, example="intents")
    queries = pd.read_csv(project.root / "queries.csv")
    keep = sorted(queries["intent"].unique())[:_INTENTS]
    queries[queries["intent"].isin(keep)].to_csv(project.root / "queries.csv", index=False)
    return Project.load(folder)


@pytest.fixture(scope="module")
def intents(tmp_path_factory):
    project = _intents_project(tmp_path_factory.mktemp("intents") / "proj")
    proved = project.prove(budget=20, models=["dummy", "tfidf_svm"])
    optimized = project.optimize(budget=40, trials=4)
    project.deploy()
    return project, proved, optimized


@pytest.mark.slow
def test_prove_races_tfidf_and_reports_per_intent_recall_and_confusions(intents):
    _, proved, _ = intents
    assert proved.task == "text-intent" and proved.best["model"] == "tfidf_svm"
    holdout = proved.best["holdout"]
    assert holdout["macro_f1"] > 0.85 and holdout["accuracy"] > 0.85  # a dozen intents are easy
    assert proved.verdict == "go"
    classes = proved.best["classes"]
    assert len(classes["recall"]) == _INTENTS and all(0 <= r <= 1 for r in classes["recall"].values())
    for pair in classes["confused"]:
        assert pair["true"] != pair["predicted"] and pair["count"] >= 1
    assert proved.data["texts"] == ["text"]


@pytest.mark.slow
def test_optimize_picks_the_routing_threshold_that_earns_most(intents):
    from poc2prod.value import routing_value

    project, _, optimized = intents
    value = optimized.value
    assert value is not None and "route_everyone" in value
    assert value["route_everyone"]["per_decision"] == pytest.approx(0.0)  # routed queries cost 0 here
    curve = value["curve"]
    # The stored curve is a 101-point summary of the exact one, whose best point is the cv figure.
    assert max(curve["value_per_decision"]) <= value["cv"]["per_decision"] + 1e-9
    assert max(curve["value_per_decision"]) > 0.9 * value["cv"]["per_decision"]
    assert 0 < value["automation_rate"] <= 1 and value["automated_accuracy"] > 0.9
    # Recomputed from the stored holdout predictions: the reported holdout value is exact.
    stored = pd.read_parquet(project.state_dir / "optimize" / "holdout.parquet")
    proba = stored[[c for c in stored.columns if c.startswith("optimized_")]].to_numpy()
    money = routing_value(stored["y"].to_numpy(), proba, optimized.threshold, project.spec.value)
    assert money == pytest.approx(value["per_decision"])
    # A wrong answer costs three times what a right one saves, so the threshold is well above 0.
    assert optimized.threshold > 0.3


@pytest.fixture(scope="module")
def intent_client(intents, tmp_path_factory):
    project = intents[0]
    log = tmp_path_factory.mktemp("intent-log")
    app = create_app(
        project.predictor(), ServiceConfig(metrics_registry=CollectorRegistry(), log_folder=str(log))
    )
    with TestClient(app) as client:
        yield client, project, log


@pytest.mark.slow
def test_service_answers_confident_queries_and_routes_unsure_ones_with_similar_questions(intent_client):
    client, project, _ = intent_client
    answers = pd.read_csv(project.root / "answers.csv").set_index("intent")["answer"]
    queries = pd.read_csv(project.root / "queries.csv")
    known = queries.iloc[0]
    vague = ["zzz qqq", "can you help me with something please", "hello, a question about my account"]
    res = client.post(
        "/predict",
        json={"rows": [{"text": t} for t in [known["text"], *vague]], "time": "2026-11-01T10:00:00Z"},
    )
    assert res.status_code == 200, res.text
    confident, *unsure = res.json()["predictions"]
    assert confident["label"] == known["intent"] and not confident["routed"]
    assert confident["answer"] == answers[known["intent"]]
    assert len(confident["alternatives"]) == 2
    routed = [a for a in unsure if a["routed"]]
    assert routed and all("answer" not in a and len(a["similar"]) <= 3 for a in routed)
    assert any(a["similar"] for a in routed)  # "zzz qqq" is like nothing known; the others are
    for a in routed:
        assert all(s["question"] in set(queries["text"]) for s in a["similar"])
        assert [s["similarity"] for s in a["similar"]] == sorted(
            (s["similarity"] for s in a["similar"]), reverse=True
        )
    explained = client.post("/predict?explain=1", json={"text": known["text"]}).json()
    assert explained["explained_by"] == "word_occlusion"
    reasons = explained["predictions"][0]["reasons"]
    assert reasons and all(r["word"] in known["text"] for r in reasons)


@pytest.mark.slow
def test_served_scores_skip_the_pipeline_yet_equal_it(intents):
    """A TF-IDF + SVM model is scored from its vocabularies and coefficients (some 25x faster per
    query than through scikit-learn); it must agree with the pipeline on real queries."""
    from poc2prod.gates import run_deploy
    from poc2prod.learn import predict

    project = intents[0]
    proven = run_deploy(project, source_gate="prove", alias="challenger")  # prove's TF-IDF model
    predictor = project.predictor(version=proven.version)
    assert predictor._text_fast is not None
    assert project.predictor()._text_fast is None  # the champion blends in embeddings: no fast path
    queries = pd.read_csv(project.root / "queries.csv")["text"].head(300).tolist()
    queries += ["", "¿dónde está mi tarjeta?", "CARD!!! " * 50]
    batch, errors = predictor.validate([{"text": q} for q in queries])
    assert not errors
    expected = predict(predictor.model, predictor.frame(batch), "multiclass", len(predictor.classes))
    assert np.abs(predictor.score(batch) - expected).max() < 1e-6


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": 5}, "expected text, got a number"),
        ({"rows": [{"words": "hi"}]}, "'text': missing"),
        ({"rows": [{"text": "hi"}], "time": "yesterday"}, "neither epoch seconds nor an ISO 8601"),
    ],
)
def test_service_refuses_bad_text_requests_in_one_sentence(intent_client, body, message):
    client = intent_client[0]
    res = client.post("/predict", json=body)
    assert res.status_code == 422 and message in res.json()["error"]


@pytest.mark.slow
def test_monitor_reads_vocabulary_drift_automation_and_value_of_intents(intents, tmp_path):
    from poc2prod.store._predlog import LogWriter

    project = intents[0]
    log = project.log_folder
    app = create_app(
        project.predictor(), ServiceConfig(metrics_registry=CollectorRegistry(), log_folder=str(log))
    )
    queries = pd.read_csv(project.root / "queries.csv").sample(200, random_state=1)
    posts = pd.read_csv(EXAMPLES / "sentiment" / "posts.csv").head(200)
    feedback = []
    with TestClient(app) as client:
        for i in range(0, 200, 20):
            part = queries.iloc[i : i + 20]
            doc = client.post("/predict", json={"rows": [{"text": t} for t in part["text"]]}).json()
            feedback += [
                {"request_id": doc["request_id"], "row": k, "label": v, "time": 0.0}
                for k, v in enumerate(part["intent"])
            ]
    writer = LogWriter(log, "feedback")
    writer.append(feedback)
    writer.close()
    calm = project.monitor("1d")
    latest = calm.windows[-1]
    assert latest.labelled == 200 and latest.metrics["macro_f1"] > 0.8
    assert 0.5 < latest.automation_rate <= 1
    outcomes = latest.value["outcomes"]
    assert sum(outcomes.values()) == 200 and outcomes["automated_correct"] > outcomes["automated_wrong"]
    words = latest.texts[0]
    assert words["column"] == "text" and words["oov_rate"] < 0.05
    assert not any("words of text drifted" in a for a in calm.alerts)

    with TestClient(app) as client:  # then financial headlines: words the model never saw
        for i in range(0, 200, 20):
            client.post("/predict", json={"rows": [{"text": t} for t in posts["text"].iloc[i : i + 20]]})
    drifted = project.monitor("1d").windows[-1].texts[0]
    assert drifted["oov_rate"] > 5 * words["oov_rate"] and drifted["psi"] > words["psi"]
    assert any(a.startswith("the words of text drifted") for a in project.monitor("1d").alerts)


def test_answers_file_problems_are_one_sentence(tmp_path):
    from poc2prod.tasks import load_answers

    bad = tmp_path / "answers.csv"
    bad.write_text("intent,reply\ncard_arrival,soon\n")
    with pytest.raises(DataError, match="has no 'answer' column"):
        load_answers(bad, ["card_arrival"])
    bad.write_text("intent,answer\ncard_arrival,soon\ncard_arrival,later\n")
    with pytest.raises(DataError, match="more than one answer"):
        load_answers(bad, ["card_arrival"])
    with pytest.raises(DataError, match="does not exist"):
        load_answers(tmp_path / "nope.csv", ["card_arrival"])
    bad.write_text("intent,answer\ncard_arrival,soon\nunknown_intent,hello\n")
    answers, notes = load_answers(bad, ["card_arrival", "top_up"])
    assert answers == {"card_arrival": "soon"}
    assert any("never returned" in n for n in notes) and any("no answer" in n for n in notes)


def test_spec_refuses_answers_outside_intents_and_text_tasks_without_text(tmp_path):
    from poc2prod.spec import Spec

    with pytest.raises(SpecError, match="answers: applies to task: text-intent only"):
        Spec.from_yaml("task: binary\ntarget: y\ndata: {source: a.csv}\nanswers: a.csv\n")
    spec = Spec.from_yaml("task: text-sentiment\ntarget: y\ndata: {source: a.csv}\n")
    assert spec.problem == "multiclass" and spec.is_text
    folder = tmp_path / "p"
    folder.mkdir()
    pd.DataFrame({"x": np.arange(50) % 7, "y": ["a", "b"] * 25}).to_csv(folder / "d.csv", index=False)
    (folder / "poc2prod.yaml").write_text(
        "task: text-intent\ntarget: y\ndata: {source: d.csv}\ncriteria: [macro_f1 >= 0.5]\n"
    )
    with pytest.raises(DataError, match="needs a free-text column"):
        Project.load(folder).prove(budget=5)


@pytest.mark.slow
def test_sentiment_stream_with_a_sudden_bearish_surge_is_flagged_within_days(tmp_path):
    """The sentiment example replayed over 30 days (each request carries its day); from day 22 on
    bearish posts are three times as common, which the mix's control chart must catch within three
    days, and not in the 21 calm days before (false-alarm rate 0.27 % per class and day). A model
    misses some bearish posts, so its predicted share moves less than the true one: a 3-sigma chart
    on 300 posts a day need not fire on the very first day."""
    project = Project.init(tmp_path / "sentiment", example="sentiment")
    posts = pd.read_csv(project.root / "posts.csv")
    trained = posts.sample(4000, random_state=0)  # a sample keeps the natural mix of classes
    trained.to_csv(project.root / "posts.csv", index=False)
    project = Project.load(project.root)
    project.prove(budget=15, models=["tfidf_svm"])
    project.deploy()
    app = create_app(
        project.predictor(),
        ServiceConfig(metrics_registry=CollectorRegistry(), log_folder=str(project.log_folder)),
    )
    holdout = posts.drop(index=trained.index).reset_index(drop=True)  # posts the model never saw
    bearish = (holdout["sentiment"] == "bearish").to_numpy()
    rng = np.random.default_rng(3)
    start = 1_700_000_000.0
    with TestClient(app) as client:
        for day in range(30):
            weights = np.where(bearish, 3.0 if day >= 21 else 1.0, 1.0)
            picked = rng.choice(len(holdout), 300, replace=False, p=weights / weights.sum())
            rows = [{"text": t} for t in holdout["text"].iloc[picked]]
            res = client.post("/predict", json={"rows": rows, "time": start + day * 86400 + 60})
            assert res.status_code == 200
    result = project.monitor("1d")
    assert len(result.windows) == 30 and result.classes == ["bearish", "bullish", "neutral"]
    assert result.shift_false_alarm_rate == pytest.approx(0.0027)
    up = [s for s in result.shifts if s["class"] == "bearish" and s["direction"] == "up"]
    assert up and 21 <= up[0]["window"] <= 23, result.shifts
    assert not [s for s in result.shifts if s["window"] < 21]
    shares = [w.mix["shares"][0] for w in result.windows]
    assert np.mean(shares[21:]) > 1.5 * np.mean(shares[:21])
    html = Path(project.report()).read_text(encoding="utf-8")
    assert "The mix of predicted classes per window" in html and "bearish (up)" in html
    assert "words of text" in html and "true positive" not in html  # no yes/no decision to price


@pytest.mark.slow
def test_topics_example_proves_a_twenty_topic_model(tmp_path):
    project = Project.init(tmp_path / "topics", example="topics")
    posts = pd.read_csv(project.root / "posts.csv")
    posts.sample(5000, random_state=0).to_csv(project.root / "posts.csv", index=False)
    proved = Project.load(project.root).prove(budget=15, models=["dummy", "tfidf_svm"])
    assert proved.best["model"] == "tfidf_svm" and len(proved.best["classes"]["recall"]) == 20
    dummy = next(r for r in proved.leaderboard if r["model"] == "dummy")
    assert proved.best["holdout"]["accuracy"] > 0.7 > dummy["cv"]["accuracy"]["mean"] + 0.4


def test_example_data_ships_with_attribution():
    for name in ("intents", "sentiment", "topics"):
        folder = EXAMPLES / name
        assert (folder / "SOURCE.md").read_text().strip()
        assert (folder / "poc2prod.yaml").is_file()
    answers = pd.read_csv(EXAMPLES / "intents" / "answers.csv")
    intents = pd.read_csv(EXAMPLES / "intents" / "queries.csv")["intent"].unique()
    assert sorted(answers["intent"]) == sorted(intents) and answers["answer"].str.len().gt(20).all()

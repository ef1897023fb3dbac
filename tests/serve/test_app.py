"""The service in-process (ASGI test client): answers, errors as 4xx with the field, auth, limits,
metrics, OpenAPI, feedback and the prediction log."""

from __future__ import annotations

import orjson
import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from poc2prod.serve import ServiceConfig, create_app
from poc2prod.store._predlog import read_log
from tests.conftest import german_rows


@pytest.fixture(scope="module")
def predictor(deployed):
    return deployed.predictor()


def _client(predictor, tmp_path, **config):
    config.setdefault("log_folder", str(tmp_path / "log"))
    app = create_app(predictor, ServiceConfig(metrics_registry=CollectorRegistry(), **config))
    return TestClient(app)


def test_predict_answers_each_row_and_logs_it(predictor, tmp_path):
    with _client(predictor, tmp_path) as client:
        res = client.post("/predict", json={"rows": german_rows(3)})
        assert res.status_code == 200, res.text
        doc = res.json()
        assert doc["version"] == predictor.version and len(doc["predictions"]) == 3
        assert set(doc["predictions"][0]) >= {"score", "decision", "positive"}
        one = client.post("/predict", json=german_rows(1)[0])  # a bare object is one row
        assert len(one.json()["predictions"]) == 1
    logged = read_log(tmp_path / "log")
    assert [r["request_id"] for r in logged] == [doc["request_id"]] * 3 + [one.json()["request_id"]]
    assert logged[0]["inputs"]["age_years"] == german_rows(1)[0]["age_years"]
    assert logged[0]["score"] == doc["predictions"][0]["score"]


def test_curl_style_form_content_type_is_still_read_as_json(predictor, tmp_path):
    with _client(predictor, tmp_path) as client:
        body = orjson.dumps({"rows": german_rows(1)})
        res = client.post(
            "/predict", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert res.status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "the request body is empty"),
        (b'{"rows": [', 400, "the request body is not valid JSON"),
        (b'{"rows": [{"age_years": NaN}]}', 400, "not valid JSON"),
        (b'{"rows": []}', 422, "non-empty list of rows"),
        (b'{"rows": "x"}', 422, "non-empty list of rows"),
    ],
)
def test_malformed_requests_are_4xx_naming_the_problem(predictor, tmp_path, body, status, message):
    with _client(predictor, tmp_path) as client:
        res = client.post("/predict", content=body)
        assert res.status_code == status
        assert message in res.json()["error"]


def test_a_bad_field_is_422_with_row_and_field(predictor, tmp_path):
    rows = german_rows(3)
    rows[2]["credit_amount"] = "a lot"
    with _client(predictor, tmp_path) as client:
        res = client.post("/predict", json={"rows": rows})
    assert res.status_code == 422
    doc = res.json()
    assert doc["error"] == "row 2, field 'credit_amount': expected a number, got text"
    assert doc["problems"] == [{"row": 2, "field": "credit_amount", "problem": "expected a number, got text"}]
    assert read_log(tmp_path / "log") == []  # nothing scored, nothing logged


def test_api_key_is_required_when_set(predictor, tmp_path):
    with _client(predictor, tmp_path, api_key="s3cret") as client:
        assert client.post("/predict", json={"rows": german_rows(1)}).status_code == 401
        wrong = client.post("/predict", json={"rows": german_rows(1)}, headers={"x-api-key": "nope"})
        assert wrong.status_code == 401 and "API key" in wrong.json()["error"]
        ok = client.post(
            "/predict", json={"rows": german_rows(1)}, headers={"authorization": "Bearer s3cret"}
        )
        assert ok.status_code == 200
        assert client.get("/health").status_code == 200  # liveness needs no key
    assert len(read_log(tmp_path / "log")) == 1


def test_body_size_limit_is_413(predictor, tmp_path):
    with _client(predictor, tmp_path, max_body=2000) as client:
        res = client.post("/predict", json={"rows": german_rows(20)})
    assert res.status_code == 413
    assert "limit of 2,000 bytes" in res.json()["error"]


def test_explain_gives_reasons(predictor, tmp_path):
    with _client(predictor, tmp_path) as client:
        res = client.post("/predict?explain=true&top=2", json={"rows": german_rows(2)})
    doc = res.json()
    assert doc["explained_by"] == "tree_shap"
    assert all(len(p["reasons"]) == 2 for p in doc["predictions"])


def test_feedback_is_validated_and_appended(predictor, tmp_path):
    with _client(predictor, tmp_path) as client:
        rid = client.post("/predict", json={"rows": german_rows(2)}).json()["request_id"]
        ok = client.post("/feedback", json={"feedback": [{"request_id": rid, "row": 1, "label": 2}]})
        assert ok.json() == {"accepted": 1}
        bad = client.post("/feedback", json={"request_id": rid, "label": "maybe"})
        assert bad.status_code == 422 and "not one of the classes" in bad.json()["error"]
    assert read_log(tmp_path / "log", "feedback")[0] | {"time": 0} == {
        "request_id": rid,
        "row": 1,
        "label": 2,
        "time": 0,
    }


def test_health_ready_metrics_and_openapi(predictor, tmp_path):
    with _client(predictor, tmp_path) as client:
        assert client.get("/ready").json() == {
            "status": "ready",
            "model": predictor.name,
            "version": predictor.version,
        }
        client.post("/predict", json={"rows": german_rows(4)})
        client.post("/predict", content=b"{")
        text = client.get("/metrics").text
        assert 'poc2prod_requests_total{endpoint="predict",status="200"} 1.0' in text
        assert 'poc2prod_requests_total{endpoint="predict",status="400"} 1.0' in text
        assert "poc2prod_rows_scored_total 4.0" in text
        assert "poc2prod_request_seconds_bucket" in text and "poc2prod_score_bucket" in text
        spec = client.get("/openapi.json").json()
        row = spec["components"]["schemas"]["Row"]
        assert set(row["required"]) == set(predictor.features)
        assert row["properties"]["age_years"]["type"] == ["number", "null"]
        missing = client.get("/nowhere")
        assert missing.status_code == 404 and "error" in missing.json()


def test_scores_added_in_bulk_match_one_observe_each():
    import numpy as np

    from poc2prod.serve._app import _add_all, _Metrics

    scores = np.random.default_rng(0).random(200)
    scores[:5] = [0.0, 0.05, 0.5, 1.0, 0.95]  # values on bucket bounds land where observe puts them
    bulk, single = _Metrics(CollectorRegistry()), _Metrics(CollectorRegistry())
    _add_all(bulk.scores, scores)
    for s in scores:
        single.scores.observe(s)

    def samples(m):
        found = next(iter(m.scores.collect())).samples
        return [(s.name, s.labels, round(s.value, 9)) for s in found if not s.name.endswith("_created")]

    assert samples(bulk) == samples(single)


def test_a_shadow_model_is_logged_beside_the_answers_and_never_changes_them(predictor, tmp_path, deployed):
    import numpy as np

    from poc2prod.gates._monitor import _window
    from poc2prod.monitor._log import read_predictions
    from poc2prod.store._registry import load_bundle

    shadow = deployed.predictor()
    shadow.score = lambda batch: np.full(len(batch), 0.25)  # a different model, as far as the log knows
    rows = german_rows(4)
    with _client(predictor, tmp_path) as plain:
        expected = plain.post("/predict", json={"rows": rows}).json()["predictions"]
    app = create_app(
        predictor,
        ServiceConfig(metrics_registry=CollectorRegistry(), log_folder=str(tmp_path / "shadowed")),
        shadow,
    )
    with TestClient(app) as client:
        doc = client.post("/predict", json={"rows": rows}).json()
        assert doc["predictions"] == expected  # the answers are the champion's alone
        for i in range(4):
            client.post("/feedback", json={"request_id": doc["request_id"], "row": i, "label": [1, 2][i % 2]})
        shadow.score = lambda batch: 1 / 0  # a failing shadow fails no request
        assert client.post("/predict", json={"rows": rows}).status_code == 200
    logged = read_predictions(tmp_path / "shadowed")
    assert logged["shadow_score"].iloc[:4].tolist() == [0.25] * 4
    assert logged["shadow_score"].iloc[4:].isna().all()
    labelled = logged.iloc[:4].assign(label=[1, 2, 1, 2])
    bundle = load_bundle(deployed.tracking_uri, deployed.spec.name, predictor.version)
    window = _window(labelled, {predictor.version: bundle}, deployed.spec, 0.0, 1.0)
    assert window.shadow["version"] == shadow.version
    assert (
        window.shadow["value"]["outcomes"]["true_positive"]
        + window.shadow["value"]["outcomes"]["false_positive"]
        == int(predictor.threshold <= 0.25) * 4
    )  # the shadow's decisions, at the champion's threshold

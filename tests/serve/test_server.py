"""A real server on 127.0.0.1: the HTTP contract (validation, auth, size limit, explain, feedback,
OpenAPI), workers sharing metrics, and a rollback served after a restart. What a crash or a full
disk can cost is in tests/reliability/test_crash.py."""

from __future__ import annotations

import http.client
import json
import time

import pytest

from poc2prod.store._predlog import read_log
from tests._server import Server, under_load
from tests.conftest import german_rows

pytestmark = pytest.mark.slow


def _load(server: Server, seconds: float, then) -> list[str]:
    return under_load(server, seconds, then, json.dumps({"rows": german_rows(2)}).encode())


def test_the_http_contract_over_a_real_socket(deployed):
    server = Server(deployed.root, "--api-key", "k3y", "--max-body", "4000")
    rows = german_rows(3)
    try:
        post = lambda path, doc, key="k3y": server.request("POST", path, json.dumps(doc).encode(), key)  # noqa: E731
        assert post("/predict", {"rows": rows}, key=None)[0] == 401
        assert post("/predict", {"rows": rows}, key="wrong")[0] == 401
        status, doc = post("/predict?explain=true&top=2", {"rows": rows})
        assert status == 200 and len(doc["predictions"]) == 3
        assert doc["explained_by"] == "tree_shap" and len(doc["predictions"][0]["reasons"]) == 2
        bad = [dict(rows[0]), dict(rows[1])]
        bad[1]["duration_months"] = "long"
        status, err = post("/predict", {"rows": bad})
        assert status == 422 and err["problems"][0] == {
            "row": 1,
            "field": "duration_months",
            "problem": "expected a number, got text",
        }
        status, err = post("/predict", {"rows": german_rows(30)})
        assert status == 413 and "4,000 bytes" in err["error"]
        status, ack = post("/feedback", {"request_id": doc["request_id"], "row": 2, "label": 1})
        assert (status, ack) == (200, {"accepted": 1})
        assert any(
            r["request_id"] == doc["request_id"] and r["row"] == 2
            for r in read_log(deployed.log_folder, "feedback")
        )
        assert server.request("GET", "/predict")[0] == 405
        assert server.request("GET", "/nowhere")[0] == 404
        assert "Row" in server.request("GET", "/openapi.json", key="k3y")[1]["components"]["schemas"]
        assert server.request("GET", "/openapi.json")[0] == 401  # the schema tells of the data: keyed
        assert server.request("GET", "/health")[0] == 200  # liveness needs no key
    finally:
        server.stop()


def test_two_workers_serve_and_share_metrics(deployed):
    server = Server(deployed.root, "--workers", "2")
    try:
        answered = _load(server, 2.0, lambda: None)
        assert len(answered) > 50

        def answered_200() -> float:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode()
            prefix = 'poc2prod_requests_total{endpoint="predict",status="200"}'
            return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))

        # Both workers' counts, from the multiprocess collector; a worker adds its notes to the
        # metrics within 0.1 s of its last answer (the one scraped adds them first).
        time.sleep(0.3)
        assert answered_200() == len(answered)
    finally:
        server.stop()


def test_a_rollback_is_what_the_restarted_server_serves(deployed):
    before = deployed.deploy().version  # a new champion version
    server = Server(deployed.root)
    try:
        assert server.get("/ready")[1]["version"] == before
    finally:
        server.stop()
    deployed.deploy(version=before - 1)  # roll back: champion -> the previous version
    server = Server(deployed.root)
    try:
        assert server.get("/ready")[1]["version"] == before - 1
        status, doc = server.request("POST", "/predict", json.dumps({"rows": german_rows(1)}).encode())
        assert status == 200 and doc["version"] == before - 1
    finally:
        server.stop()

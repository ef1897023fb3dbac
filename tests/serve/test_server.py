"""A real server on 127.0.0.1: the HTTP contract (validation, auth, size limit, explain, feedback,
OpenAPI), workers, the prediction log's crash bound (SIGKILL under load), a graceful drain on
SIGTERM, and readiness after a restart."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from poc2prod.store._predlog import read_log
from tests.conftest import german_rows

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, project, *args: str):
        self.port = _free_port()
        cli = Path(sys.executable).with_name("poc2prod")
        self.proc = subprocess.Popen(
            [cli, "serve", "-C", project.root, "--port", str(self.port), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/ready")[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stderr.read().decode())
            time.sleep(0.2)
        raise TimeoutError("the server did not become ready")

    def request(
        self, method: str, path: str, body: bytes | None = None, key: str | None = None
    ) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"content-type": "application/json", **({"x-api-key": key} if key else {})}
        try:
            conn.request(method, path, body=body, headers=headers)
            res = conn.getresponse()
            return res.status, json.loads(res.read() or b"{}")
        finally:
            conn.close()

    def stop(self) -> int:
        os.killpg(self.proc.pid, signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def get(self, path: str):
        return self.request("GET", path)

    def load(self, stop: threading.Event, answered: list[str]) -> None:
        body = json.dumps({"rows": german_rows(2)}).encode()
        while not stop.is_set():
            try:
                status, doc = self.request("POST", "/predict", body)
            except (OSError, http.client.HTTPException):
                return  # the server is gone (perhaps between an answer's headers and its body)
            if status == 200:
                answered.append(doc["request_id"])


def _under_load(server: Server, seconds: float, then) -> list[str]:
    stop, answered = threading.Event(), []
    threads = [threading.Thread(target=server.load, args=(stop, answered)) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    then()
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    return answered


def test_the_http_contract_over_a_real_socket(deployed):
    server = Server(deployed, "--api-key", "k3y", "--max-body", "4000")
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
        assert "Row" in server.request("GET", "/openapi.json")[1]["components"]["schemas"]
        assert server.request("GET", "/health")[0] == 200  # liveness needs no key
    finally:
        server.stop()


def test_two_workers_serve_and_share_metrics(deployed):
    server = Server(deployed, "--workers", "2")
    try:
        answered = _under_load(server, 2.0, lambda: None)
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


def test_sigkill_under_load_loses_no_answered_prediction(deployed):
    before = {r["request_id"] for r in read_log(deployed.log_folder)}
    server = Server(deployed)
    answered = _under_load(server, 2.0, lambda: os.killpg(server.proc.pid, signal.SIGKILL))
    server.proc.wait(timeout=30)
    assert len(answered) > 50
    logged = {r["request_id"] for r in read_log(deployed.log_folder)} - before
    assert set(answered) <= logged  # every request that got a 200 was logged first

    again = Server(deployed)  # restarts and is ready on the same log folder
    try:
        assert again.get("/ready")[0] == 200
    finally:
        again.stop()


def test_sigterm_drains_gracefully(deployed):
    before = {r["request_id"] for r in read_log(deployed.log_folder)}
    server = Server(deployed)
    answered = _under_load(server, 1.5, lambda: os.killpg(server.proc.pid, signal.SIGTERM))
    # uvicorn finishes the requests in flight, shuts down, then re-raises SIGTERM as its exit status.
    assert server.proc.wait(timeout=30) in (0, -signal.SIGTERM)
    logged = {r["request_id"] for r in read_log(deployed.log_folder)} - before
    assert answered and set(answered) <= logged


def test_a_rollback_is_what_the_restarted_server_serves(deployed):
    before = deployed.deploy().version  # a new champion version
    server = Server(deployed)
    try:
        assert server.get("/ready")[1]["version"] == before
    finally:
        server.stop()
    deployed.deploy(version=before - 1)  # roll back: champion -> the previous version
    server = Server(deployed)
    try:
        assert server.get("/ready")[1]["version"] == before - 1
        status, doc = server.request("POST", "/predict", json.dumps({"rows": german_rows(1)}).encode())
        assert status == 200 and doc["version"] == before - 1
    finally:
        server.stop()

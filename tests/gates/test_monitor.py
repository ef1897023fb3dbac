"""The monitor gate on a served model's log: drift found or not, performance with late labels, the
value realised, alerts and the CLI's exit status."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from poc2prod.cli import app
from poc2prod.errors import ProjectError
from poc2prod.gates._monitor import window_seconds
from poc2prod.monitor._log import read_predictions
from tests.conftest import deploy_example, log_labelled_traffic

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A deployed credit project whose log holds 400 scored German rows with their late labels."""
    root = tmp_path_factory.mktemp("monitor")
    project = deploy_example(root / "credit")  # its own: the log must hold only these rows
    return project, log_labelled_traffic(project, root, 400)


def test_window_lengths():
    assert window_seconds("7d") == 7 * 86400 and window_seconds("30m") == 1800
    with pytest.raises(ProjectError, match="such as 30m"):
        window_seconds("a week")


def test_no_log_is_one_clear_sentence(tmp_path):
    from poc2prod import Project

    project = Project.init(tmp_path / "empty", example="credit-risk")
    with pytest.raises(ProjectError, match="nothing has been logged yet"):
        project.monitor()


def test_unchanged_traffic_raises_no_drift_and_prices_the_decisions(served):
    project, frame = served
    result = project.monitor("1d")
    latest = result.windows[-1]
    assert result.rows == 400 and latest.labelled == 400
    assert all(d["psi"] < 0.2 for d in latest.drift), [d for d in latest.drift if d["psi"] >= 0.2]
    assert not [a for a in result.alerts if "drifted" in a]
    assert 0.6 < latest.metrics["roc_auc"] <= 1.0
    # The value realised, by hand: the value model's money for each labelled outcome.
    logged = read_predictions(project.log_folder).sort_values("row")
    y = frame["class"].iloc[:400].to_numpy() == 2
    flag = logged["positive"].to_numpy(dtype=bool)
    vm = project.spec.value
    money = (
        (flag & y).sum() * vm.true_positive
        + (flag & ~y).sum() * vm.false_positive
        + (~flag & y).sum() * vm.false_negative
        + (~flag & ~y).sum() * vm.true_negative
    )
    assert latest.value["total"] == pytest.approx(money)
    assert latest.value["per_1000_decisions"] == pytest.approx(1000 * money / 400)


def test_a_shifted_slice_is_an_alert_and_exit_status_3(served, tmp_path):
    project, frame = served
    shifted = frame.iloc[400:800].drop(columns=["class"]).copy()
    shifted["age_years"] = shifted["age_years"] + 25  # an older population than training saw
    shifted["purpose"] = "A41"
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    project.score(tmp_path / "shifted.csv", tmp_path / "shifted.parquet")
    res = CliRunner().invoke(app, ["monitor", "-C", str(project.root), "--json"])
    assert res.exit_code == 3, res.output
    doc = json.loads(res.stdout)
    assert any(a.startswith("age_years drifted") for a in doc["alerts"])
    assert any(a.startswith("purpose drifted") for a in doc["alerts"])
    drift = {d["feature"]: d for d in doc["windows"][-1]["drift"]}
    assert drift["age_years"]["p_value"] < 1e-6
    assert drift["duration_months"]["psi"] < 0.2  # what did not move is not flagged
    latest = doc["windows"][-1]
    assert latest["labelled"] == 400 and latest["rows"] == 800  # half of the window has its outcome
    assert latest["metrics"]["roc_auc"] > 0.6
    assert np.isfinite(doc["windows"][-1]["score_drift"]["psi"])


def test_alerts_reach_the_webhook_and_a_dead_one_is_only_reported(served):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    project, _ = served
    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    spec = project.spec
    url = f"http://127.0.0.1:{server.server_port}/hook"
    # any movement at all is an alert here
    settings = spec.monitoring.model_copy(update={"psi_alert": 0.0001, "webhook": url})
    project.spec = spec.model_copy(update={"monitoring": settings})
    try:
        result = project.monitor("1d")
        # The webhook's path is often its secret: the result, which runs and reports keep, hides it.
        shown = f"http://127.0.0.1:{server.server_port}/***"
        assert result.alerts and result.webhook == {"url": shown, "status": 204}
        assert received == [{"project": spec.name, "alerts": result.alerts}]
        server.shutdown()
        server.server_close()
        result = project.monitor("1d")  # the hook is gone: reported, and the alerts still stand
        assert result.alerts and "could not be reached" in result.webhook["error"]
    finally:
        project.spec = spec


def test_requests_refused_for_the_schema_are_counted_per_window(served):
    from prometheus_client import CollectorRegistry
    from starlette.testclient import TestClient

    from poc2prod.serve import ServiceConfig, create_app
    from tests.conftest import german_rows

    project, _ = served
    rows = german_rows(3)
    rows[1]["credit_amount"] = "a lot"
    config = ServiceConfig(log_folder=str(project.log_folder), metrics_registry=CollectorRegistry())
    with TestClient(create_app(project.predictor(), config)) as client:
        assert client.post("/predict", json={"rows": rows}).status_code == 422
    latest = project.monitor("1d").windows[-1]
    assert latest.rejected_rows == 3  # the whole request was refused, its three rows with it

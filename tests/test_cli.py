"""The command line: the commands of the issue, their JSON, and one-sentence errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from poc2prod.cli import app
from tests.conftest import GERMAN, TAIWAN

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow
def test_init_then_prove_json(tmp_path):
    res = _run("init", tmp_path / "credit", "--data", GERMAN, "--target", "class")
    assert res.exit_code == 0, res.output
    res = _run("prove", "-C", tmp_path / "credit", "--budget", "30", "--json", "--quiet")
    assert res.exit_code == 0, res.output
    prove_out = res.stdout
    doc = json.loads(res.stdout)
    assert doc["verdict"] in ("go", "no-go")
    for c in doc["criteria"]:
        assert set(c) >= {"metric", "threshold", "value", "passed"}
    assert set(doc["best"]) >= {"model", "cv", "holdout"}
    assert {"roc_auc", "gini", "ks", "pr_auc", "log_loss", "brier", "recall", "precision"} <= set(
        doc["best"]["holdout"]
    )
    row = doc["leaderboard"][0]
    assert row["model"] == doc["best"]["model"] and "fit_seconds" in row
    assert set(row["cv"]["roc_auc"]) == {"mean", "std"}
    assert len(doc["run_id"]) == 32
    assert {r["model"] for r in doc["leaderboard"]} >= {
        "dummy",
        "logistic_regression",
        "lightgbm",
        "xgboost",
        "catboost",
        "random_forest",
        "extra_trees",
        "mlp",
    }

    res = _run("optimize", "-C", tmp_path / "credit", "--budget", "30", "--trials", "4", "--json", "--quiet")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert set(doc) >= {"baseline", "optimized", "gain", "threshold", "value", "trials", "run_id"}
    assert set(doc["gain"]) >= {"metric", "value", "low", "high"}
    assert doc["trials"] == 4 and doc["baseline"]["run_id"] == json.loads(prove_out)["run_id"]
    # init's placeholder value model (a wrong decision costs 1) still drives the threshold.
    assert set(doc["value"]) >= {
        "per_1000_decisions",
        "per_month",
        "currency",
        "approve_everyone",
        "prove_model",
    }


@pytest.mark.slow
def test_budget_is_honoured_on_30000_rows(tmp_path):
    _run("init", tmp_path / "tw", "--data", TAIWAN, "--target", "default.payment.next.month")
    res = _run("prove", "-C", tmp_path / "tw", "--budget", "20", "--json", "--quiet")
    doc = json.loads(res.stdout)
    assert doc["elapsed_seconds"] <= 20 + 5, doc["elapsed_seconds"]
    assert doc["data"]["id_column"] == "ID"
    assert doc["best"]["holdout"]["roc_auc"] > 0.7


@pytest.mark.slow
def test_strict_no_go_exit_status(tmp_path):
    _run("init", tmp_path / "p", "--data", GERMAN, "--target", "class")
    spec = tmp_path / "p" / "poc2prod.yaml"
    spec.write_text(spec.read_text().replace("roc_auc >= 0.75", "roc_auc >= 0.99"))
    res = _run(
        "prove",
        "-C",
        tmp_path / "p",
        "--budget",
        "10",
        "--models",
        "logistic_regression",
        "--strict",
        "--quiet",
    )
    assert res.exit_code == 3
    assert "NO-GO" in res.stdout


def test_init_errors_are_one_sentence(tmp_path):
    res = _run("init", tmp_path / "p", "--data", GERMAN, "--target", "default")
    assert res.exit_code == 1
    assert "target 'default' is not a column of" in res.stderr
    assert "Traceback" not in res.output and len(res.stderr.strip().splitlines()) <= 2
    res = _run("init", tmp_path / "p", "--data", tmp_path / "none.csv", "--target", "class")
    assert res.exit_code == 1 and "does not exist" in res.stderr


def test_prove_without_a_project(tmp_path):
    res = _run("prove", "-C", tmp_path)
    assert res.exit_code == 1
    assert f"no poc2prod.yaml in {tmp_path}; create one with `poc2prod init" in res.stderr.replace("\n", "")


def test_optimize_before_prove_is_one_sentence(tmp_path):
    assert _run("init", tmp_path / "credit", "--example", "credit-risk").exit_code == 0
    res = _run("optimize", "-C", tmp_path / "credit", "--budget", "10")
    assert res.exit_code == 1
    assert "has no prove run yet; run `poc2prod prove -C" in res.stderr.replace("\n", "")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "  folds: 5",
            "  folds: 5\n  fols: 3",
            "line {line}: unknown key 'split.fols' (did you mean 'folds'?)",
        ),
        ("group: null", "group: branch", "column 'branch' named in poc2prod.yaml is not in the data"),
        ("  - roc_auc >= 0.75", "  - roc_auc => 0.75", "criterion 'roc_auc => 0.75' is not of the form"),
        ("  holdout: 0.2", "  holdout: 20", "split.holdout: Input should be less than 0.9"),
    ],
)
def test_prove_with_a_broken_spec_says_what_and_where(tmp_path, old, new, message):
    _run("init", tmp_path / "p", "--data", GERMAN, "--target", "class")
    spec = tmp_path / "p" / "poc2prod.yaml"
    text = spec.read_text().replace(old, new)
    spec.write_text(text)
    res = _run("prove", "-C", tmp_path / "p", "--quiet")
    assert res.exit_code == 1
    line = 1 + next(i for i, t in enumerate(text.splitlines()) if new.splitlines()[-1] in t)
    assert message.format(line=line) in res.stderr.replace("\n", "")
    assert not (tmp_path / "p" / ".poc2prod" / "prove.json").exists()


def test_init_refuses_to_overwrite(tmp_path):
    assert _run("init", tmp_path / "p", "--example", "credit-risk").exit_code == 0
    res = _run("init", tmp_path / "p", "--example", "credit-risk")
    assert res.exit_code == 1 and "already exists" in res.stderr
    assert _run("init", tmp_path / "p", "--example", "credit-risk", "--force").exit_code == 0


def test_help_lists_the_gates():
    res = _run("--help")
    assert res.exit_code == 0
    for command in ("init", "prove", "demo", "ui"):
        assert command in res.stdout


@pytest.mark.slow
def test_ui_serves_the_projects_runs(tmp_path):
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    from poc2prod import Project

    project = Project.init(tmp_path / "p", example="credit-risk")
    result = project.prove(budget=10, models=["logistic_regression"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("poc2prod")
    proc = subprocess.Popen(
        [exe, "ui", "-C", project.root, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/runs/get?run_id={result.run_id}"
                )
                body = json.loads(urllib.request.urlopen(req, timeout=2).read())
            except OSError:
                time.sleep(0.5)
        assert body is not None, "the MLflow UI did not answer within 60 s"
        assert body["run"]["info"]["run_id"] == result.run_id
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the UI's server workers share its process group
        proc.wait(timeout=20)


@pytest.mark.slow
def test_deploy_models_and_score(deployed, tmp_path):
    res = _run("models", "-C", deployed.root, "--json")
    assert res.exit_code == 0, res.output
    versions = json.loads(res.stdout)
    assert [v["version"] for v in versions] == sorted((v["version"] for v in versions), reverse=True)
    assert sum("champion" in v["aliases"] for v in versions) == 1  # newest first, one champion

    import pandas as pd

    frame = pd.read_csv(GERMAN).drop(columns=["class"]).head(30)
    frame["age_years"] = frame["age_years"].astype(object)
    frame.loc[3, "age_years"] = "old"  # one broken row keeps its place, with its problem named
    frame.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "scored.parquet"
    res = _run("score", "-C", deployed.root, "--input", tmp_path / "new.csv", "--output", out, "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert (doc["rows"], doc["scored"], doc["rejected"]) == (30, 29, 1)
    assert doc["first_problem"] == "row 3, field 'age_years': expected a number, got text 'old'"
    scored = pd.read_parquet(out)
    assert len(scored) == 30 and scored["error"].notna().sum() == 1
    assert pd.isna(scored.loc[3, "score"]) and 0 < scored.loc[0, "score"] < 1

    res = _run("score", "-C", deployed.root, "--input", tmp_path / "missing.csv", "--output", out)
    assert res.exit_code == 1 and "missing.csv" in res.stderr


@pytest.mark.slow
def test_the_demo_runs_every_gate_end_to_end(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from poc2prod import Project
    from poc2prod.monitor._log import read_predictions

    cli = Path(sys.executable).with_name("poc2prod")
    run = subprocess.run(
        [cli, "demo", tmp_path / "demo", "--budget", "10", "--optimize-budget", "15"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    project = Project.load(tmp_path / "demo")
    for gate in ("prove", "optimize", "deploy", "monitor", "retrain"):
        assert project.last(gate) is not None, gate
    assert len(read_predictions(project.log_folder)) == 800  # what the real service logged
    monitor = project.last("monitor")
    assert any(a.startswith("age_years drifted") for a in monitor["alerts"])  # the drifted slice
    assert monitor["labelled"] == 600 and monitor["windows"][-1]["metrics"]["roc_auc"] > 0.6
    report = (tmp_path / "demo" / "report.html").read_text()
    assert "Service health, its last run" in report and "40 prediction requests" in report
    assert "report for the client" in run.stderr

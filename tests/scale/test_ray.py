"""The three Ray paths against a local Ray instance (2 CPUs on 127.0.0.1): tuning tasks on the
project's study, the service on Ray Serve, and batch scoring on Ray Data; all on the German credit
example, each checked against its single-machine counterpart."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request

import pandas as pd
import pytest

from poc2prod import Project
from poc2prod.errors import DataError, ProjectError
from tests._server import free_port

ray = pytest.importorskip("ray")  # the ray extra is part of dev: CI has it
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def project(tmp_path_factory, cluster):
    project = Project.init(tmp_path_factory.mktemp("ray") / "credit", example="credit-risk")
    project.prove(budget=15)
    project.deploy()
    return project


def _post(url: str, doc) -> tuple[int, dict]:
    req = urllib.request.Request(
        url, data=json.dumps(doc).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_tuning_tasks_share_the_projects_study(project):
    result = project.optimize(budget=90, workers=2, backend="ray", trials=4)
    ran = result.study["backend"]
    assert ran["backend"] == "ray" and ran["tasks"] == 2 and not ran["failures"]
    assert len(result.study["workers"]) == 2  # two Ray worker processes wrote trials
    assert result.trials >= 4 and result.run_id
    assert project.last("optimize")["study"]["backend"]["backend"] == "ray"


def test_the_service_runs_on_ray_serve_with_its_checks_metrics_and_log(project, tmp_path):
    from ray import serve

    from poc2prod.scale._serve import serve_on_ray
    from poc2prod.serve._run import service_env

    port = free_port()
    env = service_env(
        project, port=port, workers=2, version=None, api_key=None, max_body=1 << 20, log=True, shadow=False
    )
    serve_on_ray(
        project, host="127.0.0.1", port=port, replicas=2, autoscale=None, env=env, address=None, block=False
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/ready", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        data = pd.read_csv(project.root / "german_credit.csv").drop(columns=["class"]).head(40)
        rows = data.to_dict("records")
        local = project.predictor()
        batch, _ = local.validate(rows)
        expected = local.score(batch)
        scores = []
        for start in range(0, 40, 5):
            status, doc = _post(f"{base}/predict", {"rows": rows[start : start + 5]})
            assert status == 200
            scores += [p["score"] for p in doc["predictions"]]
        assert scores == pytest.approx(list(expected))
        status, doc = _post(f"{base}/predict", {"rows": [{**rows[0], "credit_amount": "lots"}]})
        assert status == 422 and "credit_amount" in doc["error"]
        assert b"poc2prod_requests_total" in urllib.request.urlopen(f"{base}/metrics").read()
    finally:
        serve.shutdown()
    logged = project.monitor("1d")
    assert logged.rows >= 40


def test_batch_scoring_on_ray_data_matches_the_local_job(project, tmp_path):
    from poc2prod.scale._batch import score_on_ray

    data = pd.read_csv(project.root / "german_credit.csv").drop(columns=["class"])
    data["credit_amount"] = data["credit_amount"].astype(object)
    data.loc[7, "credit_amount"] = "lots"
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(3):
        data.iloc[i::3].to_csv(inputs / f"part{i}.csv", index=False)
    result = score_on_ray(project, str(inputs / "*.csv"), tmp_path / "out", version=None, address=None)
    assert (result.rows, result.scored, result.rejected) == (1000, 999, 1)
    assert "expected a number, got text 'lots'" in result.first_problem
    scored = pd.read_parquet(tmp_path / "out")  # every file types its columns alike: one table
    local = project.score(inputs / "part0.csv", tmp_path / "part0.parquet")
    assert local.scored == 334
    assert sorted(scored["score"].dropna().round(10)) == sorted(
        pd.concat(
            [
                pd.read_parquet(project.score(inputs / f"part{i}.csv", tmp_path / f"p{i}.parquet").output)
                for i in range(3)
            ]
        )["score"]
        .dropna()
        .round(10)
    )
    with pytest.raises(DataError, match="already holds files; give an empty or new folder"):
        score_on_ray(project, str(inputs), tmp_path / "out", version=None, address=None)
    with pytest.raises(DataError, match="holds no .parquet or .csv file"):
        score_on_ray(project, str(tmp_path / "nothing-here"), tmp_path / "o2", version=None, address=None)


def test_batch_scoring_reads_parquet_files_while_the_actors_hold_every_cpu(project, tmp_path):
    from poc2prod.scale._batch import score_on_ray

    data = pd.read_csv(project.root / "german_credit.csv").drop(columns=["class"])
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(2):
        data.iloc[i::2].to_parquet(inputs / f"part{i}.parquet", index=False)
    result = score_on_ray(project, str(inputs), tmp_path / "out", version=None, address=None, actors=2)
    assert (result.rows, result.scored, result.rejected) == (1000, 1000, 0)
    local = project.score(project.root / "german_credit.csv", tmp_path / "all.parquet")
    local = pd.read_parquet(local.output)
    assert sorted(pd.read_parquet(tmp_path / "out")["score"].round(10)) == sorted(local["score"].round(10))


def test_cluster_status_says_what_the_cluster_has(cluster):
    from poc2prod.scale import cluster_status

    doc = cluster_status(None)  # the instance this process started
    assert doc["cpus"] == 2 and len(doc["nodes"]) == 1 and doc["nodes"][0]["head"]
    assert doc["ray_version"] == ray.__version__


def test_without_ray_installed_the_backend_says_how_to_get_it(monkeypatch):
    from poc2prod.scale._cluster import ray_module

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ProjectError, match=r"pip install 'poc2prod\[ray\]'"):
        ray_module()

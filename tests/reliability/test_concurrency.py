"""Several processes at once on one project: deploys and promotions end with a consistent registry
(distinct versions, one champion, every version loadable), and two optimize runs sharing one
Optuna study leave it intact, with no locked-database error reaching the user."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from poc2prod import Project

pytestmark = pytest.mark.slow
CLI = str(Path(sys.executable).with_name("poc2prod"))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = Project.init(tmp_path_factory.mktemp("busy") / "credit", example="credit-risk")
    project.prove(budget=15)
    return project


def _all(commands: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Start every command at once and wait for all of them."""
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    return [subprocess.CompletedProcess(p.args, p.wait(), *p.communicate()) for p in procs]


def test_deploys_and_promotions_at_once_leave_one_champion_and_distinct_versions(project):
    root = str(project.root)
    runs = _all([[CLI, "deploy", "-C", root, "--json"] for _ in range(4)])
    assert [r.returncode for r in runs] == [0] * 4, [r.stderr for r in runs]
    versions = sorted(json.loads(r.stdout)["version"] for r in runs)
    assert versions == [1, 2, 3, 4]
    runs = _all([[CLI, "deploy", "-C", root, "--version", str(v), "--json"] for v in (1, 2, 3)])
    assert [r.returncode for r in runs] == [0] * 3, [r.stderr for r in runs]
    registered = project.models()
    assert sorted(v.version for v in registered) == [1, 2, 3, 4]
    champions = [v.version for v in registered if v.champion]
    assert len(champions) == 1 and champions[0] in (1, 2, 3)
    for v in registered:  # every version's model still matches its recorded SHA-256
        assert project.predictor(version=v.version).version == v.version


def test_two_optimize_runs_at_once_share_the_study_without_locking_errors(project):
    root = str(project.root)
    runs = _all([[CLI, "optimize", "-C", root, "--budget", "20", "--json", "-q"] for _ in range(2)])
    for r in runs:
        assert r.returncode == 0, r.stderr[-2000:]
        assert "database is locked" not in r.stderr
    docs = [json.loads(r.stdout) for r in runs]
    assert docs[0]["study"]["name"] == docs[1]["study"]["name"]
    # Neither stalls the other: two boosters spin-waiting for the same cores once took 155 s here.
    assert max(d["elapsed_seconds"] for d in docs) < 2 * 20, [d["elapsed_seconds"] for d in docs]
    from poc2prod.learn._tune import open_study

    study = open_study(project.studies_uri, docs[0]["study"]["name"], greater_is_better=True, seed=0)
    numbers = [t.number for t in study.trials]
    assert numbers == list(range(len(numbers)))  # no trial lost or written twice
    assert all(t.state.is_finished() for t in study.trials)
    assert len({t.user_attrs.get("worker") for t in study.trials if t.user_attrs.get("worker")}) >= 2

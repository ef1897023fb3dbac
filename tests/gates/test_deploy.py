"""Deploy: versions in the registry, the champion alias, rollback, and the checked model file."""

from __future__ import annotations

import pytest

from poc2prod import Project
from poc2prod.errors import ProjectError

pytestmark = pytest.mark.slow


def test_deploy_versions_rollback_and_listing(tmp_path):
    project = Project.init(tmp_path / "credit", example="credit-risk")
    with pytest.raises(ProjectError, match="nothing to deploy yet"):
        project.deploy()
    project.prove(budget=10, models=["logistic_regression", "lightgbm"])
    first = project.deploy()
    assert (first.version, first.previous, first.action, first.source_gate) == (
        1,
        None,
        "registered",
        "prove",
    )
    assert first.model_uri == "models:/credit-risk@champion"
    project.optimize(budget=20, trials=3)
    second = project.deploy()
    assert (second.version, second.previous, second.source_gate) == (2, 1, "optimize")
    assert project.predictor().version == 2
    assert project.predictor().threshold == pytest.approx(project.last("optimize")["threshold"])

    back = project.deploy(version=1)
    assert (back.version, back.previous, back.action) == (1, 2, "promoted")
    versions = project.models()
    assert [(v.version, v.champion) for v in versions] == [(2, False), (1, True)]
    assert versions[0].metrics()["roc_auc"] == pytest.approx(
        project.last("optimize")["optimized"]["holdout"]["roc_auc"]
    )
    assert project.predictor().version == 1
    with pytest.raises(ProjectError, match="has no version 7"):
        project.deploy(version=7)

    bundle = project.predictor()._reference
    assert set(bundle["features"]) == set(project.predictor().features)
    assert "score" in bundle and len(bundle["score"]["shares"]) == len(bundle["score"]["edges"]) + 1

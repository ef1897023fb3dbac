"""The retrain gate: a challenger that is not better beyond noise is refused; one that learned a
changed world is promoted and served; bad input is one clear sentence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from poc2prod.errors import ProjectError
from tests.conftest import GERMAN, deploy_example

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return deploy_example(tmp_path_factory.mktemp("retrain") / "credit")  # its own: retrain changes it


def test_a_challenger_no_better_than_the_champion_is_refused(project, tmp_path):
    from poc2prod.gates._prepare import prepare

    # Newer data whose older part came with scrambled labels (a broken feed); its newest 200 rows
    # are the holdout rows neither model was fitted on, with their true labels.
    frame = pd.read_csv(GERMAN)
    held = frame.loc[prepare(project, notes=[]).X_hold.index]
    broken = frame.sample(n=467, replace=True, random_state=3)
    broken["class"] = np.random.default_rng(3).permutation(broken["class"].to_numpy())
    pd.concat([broken, held]).to_csv(tmp_path / "newer.csv", index=False)
    result = project.retrain(tmp_path / "newer.csv")
    assert result.window_rows == len(held) == 200
    assert result.decision == "kept", result.reason
    assert result.difference_interval[0] <= 0  # the interval does not clear zero
    assert "the champion stays" in result.reason
    versions = project.models()
    assert [v.version for v in versions if v.champion] == [result.champion_version]
    # registered all the same, to be shadowed: `serve --shadow` scores it beside the champion
    assert [v.version for v in versions if "challenger" in v.aliases] == [result.new_version]


def test_a_challenger_that_learned_the_new_world_is_promoted(project, tmp_path):
    # The world changed: now long loans are the bad ones, whatever else the applicant looks like.
    rows = pd.read_csv(GERMAN).sample(n=3000, replace=True, random_state=2).reset_index(drop=True)
    rows["class"] = np.where(rows["duration_months"] > 24, 2, 1)
    rows.to_csv(tmp_path / "changed.csv", index=False)
    before = project.retrain(tmp_path / "changed.csv").champion_version
    result = project.last("retrain")
    assert result["decision"] == "promoted", result["reason"]
    assert result["challenger"] > result["champion"] + 0.1
    champions = [v.version for v in project.models() if v.champion]
    assert champions == [result["new_version"]] and result["new_version"] > before
    predictor = project.predictor()
    assert predictor.version == result["new_version"]
    batch, errors = predictor.validate(
        [{k: v for k, v in r.items() if k != "class"} for r in rows.head(3).to_dict("records")]
    )
    assert not errors and len(predictor.score(batch)) == 3


def test_too_little_newer_data_is_one_sentence(project, tmp_path):
    pd.read_csv(GERMAN).head(60).to_csv(tmp_path / "few.csv", index=False)
    with pytest.raises(ProjectError, match="comparison window of at least 50 rows"):
        project.retrain(tmp_path / "few.csv")


def test_a_calibrated_blend_is_refitted_whole(project):
    from poc2prod.gates._prepare import prepare
    from poc2prod.gates._retrain import _fit
    from poc2prod.learn import predict
    from poc2prod.learn._calibrate import CalibratedModel
    from poc2prod.learn._recipe import Recipe

    prep = prepare(project, notes=[])
    blend = Recipe(
        "ensemble",
        members=(Recipe("logistic_regression"), Recipe("random_forest")),
        weights=(0.5, 0.5),
        calibration="sigmoid",
    )
    ctx = prep.context(project.spec, len(prep.X_train), n_classes=prep.n_classes)
    model = _fit(blend, ctx, prep.X_train[prep.features], prep.y_train, "binary", 2)
    assert isinstance(model, CalibratedModel)
    scores = predict(model, prep.X_hold[prep.features], "binary", 2)
    assert scores.shape == (len(prep.X_hold),) and 0 < scores.min() < scores.max() < 1

"""The Predictor: validation against the frozen schema, the fast LightGBM path, explanations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import GERMAN, german_rows


@pytest.fixture(scope="module")
def predictor(deployed):
    return deployed.predictor()


def test_fast_path_gives_the_pipelines_scores(predictor):
    assert predictor._fast is not None  # LightGBM pipelines skip pandas
    rows = german_rows(200)
    batch, errors = predictor.validate(rows)
    assert not errors
    fast = predictor.score(batch)
    from poc2prod.learn import predict

    slow = predict(predictor.model, pd.read_csv(GERMAN).drop(columns=["class"]).head(200), "binary", 2)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)


def test_each_problem_names_the_row_and_field(predictor):
    rows = german_rows(4)
    del rows[0]["age_years"]
    rows[1]["credit_amount"] = "lots"
    rows[2]["duration_months"] = True
    rows[3]["purpose"] = ["A43"]
    _, errors = predictor.validate(rows)
    found = {(e.row, e.field): e.problem for e in errors}
    assert found[(0, "age_years")].startswith("missing")
    assert found[(1, "credit_amount")] == "expected a number, got text"
    assert found[(2, "duration_months")] == "expected a number, got true/false"
    assert found[(3, "purpose")] == "expected a category (text), got a list"
    _, errors = predictor.validate([1, 2])
    assert errors[0].problem == "is a number, expected a JSON object"  # the service adds "row 0: "
    _, errors = predictor.validate([])
    assert "non-empty list" in errors[0].problem


def test_unseen_and_out_of_range_values_are_scored_and_flagged(predictor):
    rows = german_rows(2)
    rows[0]["purpose"] = "A499"
    rows[1]["age_years"] = 130
    rows[1]["duration_months"] = None  # unknown: scored as missing, as in training
    batch, errors = predictor.validate(rows)
    assert not errors
    assert batch.flags[0] == ["purpose: unseen category 'A499', scored as missing"]
    assert batch.flags[1] == ["age_years above the training range (max 75)"]
    scores = predictor.score(batch)
    assert np.all((scores > 0) & (scores < 1))


def test_decisions_follow_the_deployed_threshold(predictor):
    batch, _ = predictor.validate(german_rows(50))
    answers = predictor.decide(predictor.score(batch))
    for a in answers:
        assert a["positive"] == (a["score"] >= predictor.threshold)
        assert a["decision"] == (2 if a["positive"] else 1)


def test_tree_explanations_add_up_to_the_score(predictor):
    batch, _ = predictor.validate(german_rows(3))
    reasons, method = predictor.explain(batch, top=len(predictor.features))
    assert method == "tree_shap"
    contrib = predictor._fast.contributions(predictor._fast.matrix(batch), 1)
    raw = sum(
        b.booster.predict(predictor._fast.matrix(batch), raw_score=True) for b in predictor._fast.boosters
    )
    raw = raw / len(predictor._fast.boosters)
    bias = raw - contrib.sum(axis=1)
    assert np.ptp(bias) < 1e-9  # the same expected value for every row: SHAP values are exact
    top = reasons[0][0]
    assert set(top) == {"feature", "value", "contribution", "effect"}
    assert abs(top["contribution"]) == np.abs(contrib[0]).max()


def test_column_and_field_checks_agree(predictor):
    rows = german_rows(60)
    rows[3]["purpose"] = "A499"
    rows[7]["age_years"] = 130
    rows[7]["credit_amount"] = -5
    rows[9]["duration_months"] = None
    rows[11]["purpose"] = None
    fast, errors = predictor.validate(rows)  # well-formed: checked a column at a time
    assert not errors
    # One faulty row sends the whole request through the field-by-field check.
    slow, errors = predictor.validate([*rows, {**rows[0], "age_years": "old"}])
    assert [(e.row, e.field) for e in errors] == [(60, "age_years")]
    np.testing.assert_array_equal(fast.numbers, slow.numbers[:60])
    assert fast.texts == [t[:60] for t in slow.texts]
    assert fast.flags == slow.flags[:60]
    assert sorted(fast.flags[7]) == [
        "age_years above the training range (max 75)",
        "credit_amount below the training range (min 250)",
    ]
    np.testing.assert_array_equal(predictor.score(fast), predictor.score(slow.take(range(60))))

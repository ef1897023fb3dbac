"""Schema inference on real data, freezing, and holding new data against it."""

from __future__ import annotations

import pytest

from poc2prod.data import encode_target, infer_schema
from poc2prod.errors import DataError, SchemaError, TargetError
from poc2prod.spec import Spec


def _spec(**kw) -> Spec:
    base = {"task": "binary", "data": {"source": "x.csv"}, "target": "class"}
    return Spec.model_validate({**base, **kw})


def test_german_kinds_roles_and_target(german):
    schema = infer_schema(german, _spec(columns={"drop": ["telephone"]}))
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds["status_checking_account"] == "categorical"
    assert kinds["credit_amount"] == "numeric"
    assert schema.column("telephone").role == "dropped"
    assert "telephone" not in [c.name for c in schema.features]
    assert len(schema.features) == 19
    amount = schema.column("credit_amount")
    assert amount.min == german["credit_amount"].min() and amount.max == german["credit_amount"].max()
    assert set(schema.column("purpose").categories) == set(german["purpose"].unique())
    # The rarer class (2 = bad) becomes the positive class, encoded as 1.
    assert schema.target.positive_class == 2 and schema.target.classes == [1, 2]
    y = encode_target(german["class"], schema.target)
    assert y.mean() == pytest.approx(0.3)


def test_missing_rate_and_forced_categorical(taiwan):
    frame = taiwan.copy()
    frame.loc[:2999, "AGE"] = None
    spec = _spec(target="default.payment.next.month", columns={"id": "ID", "categorical": ["EDUCATION"]})
    schema = infer_schema(frame, spec)
    assert schema.column("AGE").missing_rate == pytest.approx(0.1)
    assert schema.column("EDUCATION").kind == "categorical"
    assert schema.column("ID").role == "id"


def test_datetime_and_text_columns(german):
    frame = german.head(200).copy()
    frame["applied"] = [f"2024-0{1 + i % 9}-1{i % 10}" for i in range(200)]
    frame["comment"] = [f"customer {i} asked a long question about the terms of the loan" for i in range(200)]
    schema = infer_schema(frame, _spec())
    assert schema.column("applied").kind == "datetime"
    assert schema.column("comment").kind == "text"


@pytest.mark.parametrize(
    ("mutate", "error", "fragment"),
    [
        (lambda f: f.assign(**{"class": None}), TargetError, "all values missing"),
        (lambda f: f.assign(**{"class": 1}), TargetError, "single class"),
        (lambda f: f.assign(**{"class": f["purpose"]}), TargetError, "set task: multiclass"),
    ],
)
def test_impossible_targets(german, mutate, error, fragment):
    with pytest.raises(error, match=fragment):
        infer_schema(mutate(german.copy()), _spec())


def test_named_column_missing(german):
    with pytest.raises(DataError, match="column 'customer_id' named in poc2prod.yaml is not in the data"):
        infer_schema(german, _spec(columns={"id": "customer_id"}))


def test_unknown_positive_class(german):
    with pytest.raises(TargetError, match="positive_class 'bad' is not a value"):
        infer_schema(german, _spec(positive_class="bad"))


def test_frozen_schema_catches_drift_in_structure(german):
    schema = infer_schema(german, _spec())
    assert schema.check(german).shape == german.shape
    with pytest.raises(SchemaError, match="column 'purpose' is in the frozen schema but not in the data"):
        schema.check(german.drop(columns="purpose"))
    changed = german.assign(credit_amount=german["credit_amount"].astype(str) + " DM")
    with pytest.raises(SchemaError, match="'credit_amount' was numeric .* now categorical"):
        schema.check(changed)
    with pytest.raises(SchemaError, match="class 3 not seen"):
        encode_target(german["class"].replace(1, 3), schema.target)

"""Spec validation: every mistake is one SpecError naming the line and the fix."""

from __future__ import annotations

import pytest

from poc2prod.errors import SpecError
from poc2prod.spec import Spec

GOOD = """\
name: credit
task: binary
data:
  source: loans.csv
target: default
criteria:
  - roc_auc >= 0.75
  - recall > 0.6
"""


def test_valid_spec_parses_criteria():
    spec = Spec.from_yaml(GOOD)
    assert [str(c) for c in spec.criteria] == ["roc_auc >= 0.75", "recall > 0.6"]
    assert spec.primary == "roc_auc"
    assert spec.report_metrics()[:2] == ["roc_auc", "recall"]
    assert spec.criteria[1].passed(0.61) and not spec.criteria[1].passed(0.6)
    assert spec.criteria[0].margin(0.8) == pytest.approx(0.05)
    assert spec.split.holdout == 0.2 and spec.data.kind == "csv"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (GOOD + "  - roc_auc >> 3\n", "line 9"),
        (GOOD.replace("target: default", "targte: default"), "unknown key 'targte'"),
        (GOOD.replace("target: default\n", ""), "required key 'target' is missing"),
        (GOOD.replace("task: binary", "task: clustering"), "line 2"),
        (GOOD.replace("roc_auc >= 0.75", "auroc >= 0.75"), "unknown metric 'auroc'"),
        (GOOD.replace("roc_auc >= 0.75", "rmse <= 3"), "does not apply to a binary task"),
        (GOOD + "columns:\n  drop: [default]\n", "also listed under columns.drop"),
        (GOOD.replace("  source: loans.csv", "  source: sqlite:///x.db"), "needs `query:`"),
        ("task: binary\n  data: [\n", "not valid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
        (GOOD + "split:\n  holdout: 1.5\n", "split.holdout"),
    ],
)
def test_spec_errors_name_the_problem(text, fragment):
    with pytest.raises(SpecError) as err:
        Spec.from_yaml(text)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_key_points_at_its_line():
    text = GOOD + "split:\n  holdout: 0.2\n  fold: 5\n"
    with pytest.raises(SpecError, match=r"line 11: unknown key 'split.fold'"):
        Spec.from_yaml(text)


def test_missing_spec_file(tmp_path):
    with pytest.raises(SpecError, match="does not exist; create it with `poc2prod init`"):
        Spec.load(tmp_path / "poc2prod.yaml")


def test_sql_source_kind():
    spec = Spec.from_yaml(GOOD.replace("  source: loans.csv", "  source: sqlite:///x.db\n  query: SELECT 1"))
    assert spec.data.kind == "sql"

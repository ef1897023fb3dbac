"""Ranking in the prove gate: a candidate scored on fewer folds cannot win by a lucky fold."""

from __future__ import annotations

from poc2prod.gates._prove import _ranked
from poc2prod.learn import CandidateResult
from poc2prod.metrics import METRICS


def _result(name, status, scores):
    return CandidateResult(
        name=name,
        status=status,
        folds_done=len(scores),
        folds_total=5,
        fold_metrics=[{"roc_auc": s, "log_loss": 1 - s} for s in scores],
    )


def test_partial_candidates_rank_below_complete_ones():
    results = [
        _result("dummy", "done", [0.5] * 5),
        _result("random_forest", "partial", [0.9]),
        _result("lightgbm", "done", [0.78, 0.79, 0.8, 0.77, 0.78]),
        _result("mlp", "skipped", []),
    ]
    order = [r.name for r in _ranked(results, METRICS["roc_auc"])]
    assert order == ["lightgbm", "dummy", "random_forest"]
    order = [r.name for r in _ranked(results, METRICS["log_loss"])]
    assert order == ["lightgbm", "dummy", "random_forest"]


def test_a_candidate_with_most_folds_competes_on_its_mean():
    results = [
        _result("extra_trees", "done", [0.78] * 5),
        _result("lightgbm", "partial", [0.80, 0.79, 0.81]),
        _result("xgboost", "partial", [0.95, 0.9]),
    ]
    assert [r.name for r in _ranked(results, METRICS["roc_auc"])] == ["lightgbm", "extra_trees", "xgboost"]


def test_partial_candidates_count_when_nothing_real_completed():
    results = [_result("dummy", "done", [0.5] * 5), _result("lightgbm", "partial", [0.8, 0.79])]
    assert [r.name for r in _ranked(results, METRICS["roc_auc"])] == ["lightgbm", "dummy"]

"""The prove gate: from a data source to a go / no-go verdict backed by cross-validated numbers.

load → schema (frozen) → profile → holdout (frozen) → race under the budget → ensemble →
refit the best on all training rows → score the holdout once → verdict → one tracked run.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from poc2prod import data as d
from poc2prod._secrets import public_spec
from poc2prod.errors import BudgetError, ProjectError
from poc2prod.gates._prepare import prepare
from poc2prod.gates._verdict import CriterionResult, judge
from poc2prod.learn import (
    CandidateResult,
    RaceSetup,
    candidate_names,
    ensemble,
    predict,
    race,
)
from poc2prod.learn._race import Event, score_columns
from poc2prod.learn._recipe import Recipe
from poc2prod.metrics import METRICS, compute
from poc2prod.store import RunRecord, Tracker

if TYPE_CHECKING:
    from poc2prod.project import Project

# Time kept back from the race for the refit, the holdout and the tracking write.
_RESERVE_FRACTION = 0.15
_RESERVE_MIN = 4.0
# Training rows x features above which the race works on a sample (the refit still sees more):
# a few million cells rank candidates as well as more would, and leave time to train them well.
_RACE_CELLS = 5_000_000
_REFIT_SEEDS = 3


@dataclass
class ProveResult:
    """What the prove gate found: the verdict, the best model and the whole leaderboard."""

    verdict: Literal["go", "no-go"]
    criteria: list[CriterionResult]
    best: dict[str, Any]
    leaderboard: list[dict[str, Any]]
    run_id: str
    task: str
    primary_metric: str
    positive_class: Any
    threshold: float
    data: dict[str, Any]
    findings: list[dict[str, Any]]
    budget_seconds: float
    elapsed_seconds: float
    notes: list[str] = field(default_factory=list)
    model_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy; the shape of ``prove --json``."""
        out = dataclasses.asdict(self)
        out["criteria"] = [c.to_dict() for c in self.criteria]
        return _clean(out)


def run_prove(
    project: Project,
    *,
    budget: float | None = None,
    models: Sequence[str] | None = None,
    refreeze: bool = False,
    on_event: Event | None = None,
) -> ProveResult:
    """Run the prove gate on ``project``; see :meth:`poc2prod.Project.prove`."""
    emit = on_event or (lambda kind, info: None)
    spec = project.spec
    budget = float(budget or spec.budget.prove)
    if spec.task == "recommend":
        from poc2prod.gates._prove_recommend import run_prove_recommend

        return run_prove_recommend(project, budget=budget, models=list(models or []), emit=emit)
    if not spec.criteria:
        raise ProjectError(
            "poc2prod.yaml lists no criteria; add at least one success criterion agreed with the "
            "client under criteria:, e.g. `- roc_auc >= 0.75`."
        )
    names = candidate_names(spec.problem, text=spec.is_text)
    if models:
        unknown = [m for m in models if m not in names]
        if unknown:
            raise ProjectError(f"unknown model {unknown[0]!r}; choose from {', '.join(names)}.")
        names = [n for n in names if n in models]
    started = time.monotonic()
    notes: list[str] = []
    tracker = Tracker(project.tracking_uri, spec.name, project.artifact_root)

    prep = prepare(project, refreeze=refreeze, notes=notes, emit=emit)
    schema, target = prep.schema, prep.schema.target
    emit("stage", {"name": "profiling"})
    prof = d.profile(prep.frame, schema, seed=spec.split.seed, text_task=spec.is_text)
    numeric, categorical = prep.numeric, prep.categorical
    X_train, y_train = prep.X_train[prep.model_columns], prep.y_train
    X_hold, y_hold = prep.X_hold[prep.model_columns], prep.y_hold
    rows, sample_note = prep.sample(_RACE_CELLS, spec.split.seed)
    if sample_note:
        notes.append(sample_note + "; the final model is refitted on more")
    X_race, y_race = X_train.iloc[rows], y_train[rows]
    race_rows = len(rows)
    folds = prep.folds(rows, spec, notes)
    n_classes = prep.n_classes
    ctx = prep.context(spec, n_rows=len(folds[0][0]))
    metrics = spec.report_metrics()
    setup = RaceSetup(
        task=spec.problem,
        ctx=ctx,
        metrics=metrics,
        primary=spec.primary,
        threshold=spec.threshold,
        n_classes=n_classes,
    )
    reserve = max(min(_RESERVE_MIN, 0.3 * budget), _RESERVE_FRACTION * budget)
    primary = METRICS[spec.primary]
    emit("stage", {"name": "racing candidates"})
    results = race(
        X_race,
        y_race,
        folds,
        names,
        setup,
        deadline=started + budget - reserve,
        on_event=emit,
        # Hold back what refitting the leaders will take, up to a third of the budget: past that,
        # the refit works on a row sample rather than the race going without its candidates.
        reserve=lambda done: min(
            budget / 3,
            max(0.0, _refit_estimate(done, len(X_train), len(folds[0][0]), primary) + 2.0 - reserve),
        ),
    )
    blended = ensemble(results, y_race, folds, setup)
    if blended is not None:
        results.append(blended)

    ranked = _ranked(results, primary)
    if not ranked:
        raise BudgetError(
            f"no candidate finished a single fold within the {budget:g}s budget; raise --budget."
        )

    emit("stage", {"name": "refitting the best on all training rows"})
    best, model, refit_note = _refit_best(
        ranked, X_train, y_train, setup, len(folds[0][0]), started + budget - 2.0
    )
    if refit_note:
        notes.append(refit_note)
    scores = predict(model, X_hold, spec.problem, n_classes)
    holdout = compute(spec.problem, metrics, y_hold, scores, spec.threshold)
    cv_means = {m: best.mean(m) for m in metrics}
    verdict, judged = judge(
        list(spec.criteria), spec.problem, holdout, cv_means, y_hold, scores, spec.threshold, spec.split.seed
    )

    leaderboard = [_row(r, metrics) for r in ranked] + [_row(r, metrics) for r in results if not r.usable]
    data_summary = {
        "rows": len(prep.frame),
        "labelled_rows": len(prep.labelled),
        "features": len(prep.model_columns),
        "numeric": numeric,
        "categorical": categorical,
        "texts": prep.texts,
        "split": prep.split.kind,
        "split_fingerprint": prep.split.fingerprint,
        "train_rows": len(X_train),
        "holdout_rows": len(X_hold),
        "race_rows": int(race_rows),
        "folds": len(folds),
        "id_column": spec.columns.id,
        "dropped_columns": [c.name for c in schema.columns if c.role == "dropped"],
        "target_balance": prof.target_balance,
    }
    best_doc = {
        "model": best.name,
        "cv": {m: {"mean": best.mean(m), "std": best.std(m)} for m in metrics},
        "holdout": holdout,
        "note": best.note,
        "weights": best.weights,
    }
    if spec.problem == "multiclass":
        best_doc["classes"] = class_report(y_hold, scores, target.classes or [])

    emit("stage", {"name": "recording the run"})
    elapsed = time.monotonic() - started
    result = ProveResult(
        verdict=verdict,
        criteria=judged,
        best=best_doc,
        leaderboard=leaderboard,
        run_id="",
        task=spec.task,
        primary_metric=spec.primary,
        positive_class=target.positive_class,
        threshold=spec.threshold,
        data=data_summary,
        findings=[dataclasses.asdict(f) for f in prof.findings],
        budget_seconds=budget,
        elapsed_seconds=elapsed,
        notes=notes,
    )
    record = RunRecord(
        gate="prove",
        tags={"poc2prod.verdict": verdict, "poc2prod.best_model": best.name},
        params={
            "task": spec.problem,
            "target": target.name,
            "budget_seconds": budget,
            "seed": spec.split.seed,
            "folds": len(folds),
            "split": prep.split.kind,
            "holdout_fraction": spec.split.holdout,
            "primary_metric": spec.primary,
            "threshold": spec.threshold,
            "criteria": [str(c) for c in spec.criteria],
            "best_model": best.name,
            "train_rows": len(X_train),
            "holdout_rows": len(X_hold),
        },
        metrics={
            **{f"cv_{m}": best.mean(m) for m in metrics},
            **{f"holdout_{m}": v for m, v in holdout.items()},
            "elapsed_seconds": elapsed,
        },
        documents={
            "schema.json": schema.model_dump(mode="json"),
            "profile.json": prof.to_dict(),
            "leaderboard.json": leaderboard,
            "spec.json": public_spec(spec),
        },
        files={
            "split.parquet": project.state_dir / "split.parquet",
            "predictions/holdout.parquet": _holdout_file(project, y_hold, scores),
        },
        model=model,
    )
    return record_prove(result, record, tracker, project, started, emit)


def record_prove(
    result: ProveResult, record: RunRecord, tracker: Tracker, project: Project, started: float, emit: Event
) -> ProveResult:
    """Log the run, keep the result as the project's latest prove, and say it is done."""
    result.run_id, result.model_sha256 = tracker.log(record)
    result.elapsed_seconds = time.monotonic() - started
    project.remember("prove", result.to_dict())
    emit("done", {"result": result})
    return result


def class_report(y: np.ndarray, scores: np.ndarray, classes: list[Any], top: int = 10) -> dict[str, Any]:
    """Per-class recall and the most confused pairs of classes, from true classes and a probability
    matrix: where a many-class model goes wrong, and with what.

    >>> p = np.array([[.9, .1], [.2, .8], [.3, .7], [.4, .6]])
    >>> r = class_report(np.array([0, 0, 1, 1]), p, ["a", "b"])
    >>> r["recall"], r["confused"]
    ({'a': 0.5, 'b': 1.0}, [{'true': 'a', 'predicted': 'b', 'count': 1, 'share_of_true': 0.5}])
    """
    k = len(classes)
    predicted = scores.argmax(axis=1)
    counts = np.zeros((k, k), dtype=int)
    np.add.at(counts, (y, predicted), 1)
    support = counts.sum(axis=1)
    recall = {str(c): float(counts[i, i] / support[i]) for i, c in enumerate(classes) if support[i]}
    off = [(counts[i, j], i, j) for i in range(k) for j in range(k) if i != j and counts[i, j]]
    confused = [
        {
            "true": str(classes[i]),
            "predicted": str(classes[j]),
            "count": int(n),
            "share_of_true": float(n / support[i]),
        }
        for n, i, j in sorted(off, key=lambda t: (-t[0], t[1], t[2]))[:top]
    ]
    return {"recall": recall, "confused": confused}


def _ranked(results: list[CandidateResult], primary) -> list[CandidateResult]:
    """Usable candidates, best first. One scored on fewer than half its folds ranks below every
    better-covered one, so a lucky fold cannot win (unless no real model has more folds); a
    booster stopped by the clock after most of its folds still competes on its mean."""
    usable = [r for r in results if r.usable]

    def covered(r: CandidateResult) -> bool:
        return r.folds_done >= max(2, -(-r.folds_total // 2))

    some_covered = any(covered(r) and r.name != "dummy" for r in usable)

    def key(r: CandidateResult) -> tuple:
        value = r.mean(primary.name)
        score = value if primary.greater_is_better else -value
        return (some_covered and not covered(r), -(score if np.isfinite(score) else -np.inf), r.name)

    return sorted(usable, key=key)


def _refit_estimate(results: list[CandidateResult], n_train: int, fold_rows: int, primary) -> float:
    """Seconds to refit an ensemble of the three leading candidates so far on ``n_train`` rows,
    timed from their folds (``fold_rows`` training rows each)."""
    leaders = [r for r in _ranked(results, primary) if r.name != "dummy" and r.status == "done"][:3]
    if not leaders:
        return 0.0
    by_name = {r.name: r for r in leaders}
    # A candidate sampled in the race is refitted on the same share of rows: both scale alike.
    return sum(_fit_cost(r, by_name) for r in leaders) * n_train / fold_rows * 1.2


def _refit_best(ranked: list[CandidateResult], X, y, setup: RaceSetup, fold_rows: int, deadline: float):
    """Refit the best candidate that can be refitted before ``deadline`` on at least as many rows
    as it trained on in the race (all training rows if time allows; booster seeds averaged if
    time allows), timed from its folds (``fold_rows`` training rows each).

    When none can, the quickest of the leading real models is refitted anyway: a good model a
    second late serves the client better than a poor one on time.
    """
    by_name = {c.name: c for c in ranked}
    left = deadline - time.monotonic()

    def plan(r: CandidateResult, seeds: int) -> int:
        """Rows ``r`` can be refitted on in the time left (0: fewer than it saw in the race)."""
        seen = r.train_rows or fold_rows
        per_row = _fit_cost(r, by_name, seeds) / seen * 1.2
        wanted = len(X) if r.train_rows is None else min(len(X), int(r.train_rows * len(X) / fold_rows))
        rows = min(wanted, int(max(left, 0.0) / per_row)) if per_row > 0 else wanted
        return rows if rows >= min(seen, wanted) else 0

    # The dummy is a yardstick, not a fallback: it is refitted only when it ranked first.
    candidates = [r for r in ranked if r.name != "dummy" or r is ranked[0]]
    options = ((r, seeds, plan(r, seeds)) for r in candidates for seeds in (_REFIT_SEEDS, 1))
    choice, seeds, n = next(((r, s, n) for r, s, n in options if n), (None, 1, 0))
    if choice is None:
        leaders = [r for r in ranked if r.name != "dummy"][:3] or ranked[:1]
        choice = min(leaders, key=lambda r: _fit_cost(r, by_name, 1))
        n = min(len(X), choice.train_rows or fold_rows)
    idx = np.arange(len(X))
    if n < len(X):
        idx = np.sort(np.random.default_rng(setup.ctx.seed).choice(len(X), n, replace=False))
    model = _fit_final(choice, by_name, X.iloc[idx], y[idx], setup, seeds)
    notes = []
    if choice is not ranked[0]:
        notes.append(
            f"{ranked[0].name} ranked first but could not be refitted in the time left; "
            f"{choice.name} was refitted instead"
        )
    if n < len(X):
        notes.append(f"the final model was refitted on {n:,} of {len(X):,} training rows to fit the budget")
    return choice, model, "; ".join(notes) or None


def _fit_final(r: CandidateResult, by_name: dict[str, CandidateResult], X, y, setup: RaceSetup, seeds: int):
    return recipe_of(r, by_name).build(setup.ctx, seeds=seeds).fit(X, y)


def recipe_of(r: CandidateResult, by_name: dict[str, CandidateResult]) -> Recipe:
    """The recipe of a raced candidate (an ensemble's members found in ``by_name``)."""
    if r.weights:
        members = tuple(recipe_of(by_name[n], by_name) for n in r.weights)
        return Recipe("ensemble", members=members, weights=tuple(r.weights.values()))
    return Recipe(r.name, best_iterations=tuple(r.best_iterations))


def _fit_cost(r: CandidateResult, by_name: dict[str, CandidateResult], seeds: int = _REFIT_SEEDS) -> float:
    """Seconds one fold's fit of ``r`` took, counting the seeds a booster's refit averages."""
    members = [by_name[n] for n in r.weights] if r.weights else [r]
    return sum(m.fit_seconds * (seeds if m.best_iterations else 1) for m in members)


def _row(r: CandidateResult, metrics: list[str]) -> dict[str, Any]:
    return {
        "model": r.name,
        "status": r.status,
        "folds": f"{r.folds_done}/{r.folds_total}",
        "cv": {m: {"mean": r.mean(m), "std": r.std(m)} for m in metrics} if r.usable else {},
        "fit_seconds": round(r.fit_seconds, 3),
        "predict_seconds": round(r.predict_seconds, 3),
        "train_rows": r.train_rows,
        "note": r.note,
    }


def _clean(obj: Any) -> Any:
    """Make a structure JSON-safe: NaN becomes None, numpy scalars become Python ones."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def _holdout_file(project, y_hold: np.ndarray, scores: np.ndarray) -> Path:
    """The holdout's labels and the model's scores as Parquet, in the frozen split's row order, so
    the holdout figures (and any comparison with another model on these rows) can be recomputed."""
    folder = project.state_dir / "prove"
    folder.mkdir(exist_ok=True)
    path = folder / "holdout.parquet"
    pd.DataFrame({"y": y_hold, **score_columns("score", scores)}).to_parquet(path, index=False)
    return path

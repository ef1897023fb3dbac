"""The prove gate for ``task: recommend``: recommend from the past, check against the future.

load → clean the interaction log (saying what was dropped) → a global time cut: everything after
it is the holdout, never used to choose → a second cut inside the past to race the candidates on
→ the best refitted on the whole past and scored once on the future → verdict → one tracked run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from poc2prod import data as d
from poc2prod._secrets import public_spec
from poc2prod.errors import BudgetError, ProjectError
from poc2prod.gates._prepare_recommend import prepare_log
from poc2prod.gates._verdict import judged, verdict_of
from poc2prod.store import RunRecord, Tracker

if TYPE_CHECKING:
    from poc2prod.gates._prove import ProveResult
    from poc2prod.learn._race import Event
    from poc2prod.project import Project

from poc2prod.recommend._recipe import MODELS

# Cheapest first, so a tight budget still yields the baseline and the fast personal model.
_CANDIDATES = tuple(MODELS)
_PER_USER = ("recall", "precision", "ndcg", "map", "hit_rate")


def run_prove_recommend(
    project: Project, *, budget: float, models: list[str] | None, emit: Event
) -> ProveResult:
    """Race the recommenders on the past, judge the best on the future; see :meth:`Project.prove`."""
    from poc2prod.gates._prove import ProveResult, record_prove
    from poc2prod.recommend import compare, margin, paired_bootstrap
    from poc2prod.recommend._recipe import build

    spec = project.spec
    names = [n for n in _CANDIDATES if not models or n in models]
    unknown = [m for m in models or [] if m not in _CANDIDATES]
    if unknown:
        raise ProjectError(f"unknown model {unknown[0]!r}; choose from {', '.join(_CANDIDATES)}.")
    if not spec.criteria:
        raise ProjectError(
            "poc2prod.yaml lists no criteria; add at least one agreed with the client under "
            "criteria:, e.g. `- recall@10 >= 0.05`."
        )
    started = time.monotonic()
    tracker = Tracker(project.tracking_uri, spec.name, project.artifact_root)
    emit("stage", {"name": "loading data"})
    prep = prepare_log(project)
    frame, cleaned, log, future, past, notes = (
        prep.frame,
        prep.cleaned,
        prep.log,
        prep.future,
        prep.past,
        prep.notes,
    )
    k = spec.recommend.k
    metrics = spec.report_metrics()
    per_user = [m for m in metrics if m.split("@")[0] in _PER_USER]

    emit("stage", {"name": "racing candidates"})
    scored = []
    for name in names:
        if time.monotonic() - started > 0.6 * budget:
            notes.append(f"{name}: the time budget was spent before it could start")
            continue
        scored += compare({name: build({"model": name})}, past, k=k, metrics=metrics, paired=per_user)
    if not scored:
        raise BudgetError(f"no candidate was scored within the {budget:g}s budget; raise --budget.")
    primary = spec.primary
    ranked = sorted(scored, key=lambda s: -s.metrics[primary])
    best = ranked[0]
    best_recipe = {"model": best.name, "params": {}}

    emit("stage", {"name": "refitting the best on all the past"})
    model = build(best_recipe)
    final, *_ = compare({best.name: model}, future, k=k, metrics=metrics, paired=per_user)
    # The baseline to beat: the better most-popular list (all time, or the last 30 days) on the future.
    baselines = compare(
        {n: build({"model": n}) for n in ("most_popular", "most_popular_30d")},
        future,
        k=k,
        metrics=metrics,
        paired=per_user,
    )
    popular = max(baselines, key=lambda s: s.metrics[primary])
    holdout = final.metrics

    results = []
    for crit in spec.criteria:
        values = final.per_user.get(crit.metric)
        interval = (
            paired_bootstrap(values, np.zeros_like(values), seed=spec.split.seed)
            if values is not None
            else (float("nan"), float("nan"))
        )
        results.append(judged(crit, holdout[crit.metric], best.metrics[crit.metric], interval))
    verdict = verdict_of(results)
    leaderboard = [_row(s, metrics) for s in ranked]
    vs_popular = (
        {"baseline": popular.name, **margin(final, popular, primary)}
        if not best.name.startswith("most_popular")
        else None
    )
    best_doc = {
        "model": best.name,
        "recipe": best_recipe,
        "cv": leaderboard[0]["cv"],
        "holdout": holdout,
        "note": None,
        "weights": None,
        "versus_most_popular": vs_popular,
    }
    data_summary = {
        "rows": len(frame),
        "labelled_rows": len(cleaned),
        "features": 0,
        "numeric": [],
        "categorical": [],
        "split": "time",
        "split_fingerprint": f"{d.fingerprint(frame)}:{spec.split.holdout}:recommend",
        "train_rows": len(future.train),
        "holdout_rows": len(future.test),
        "race_rows": len(past.train),
        "folds": 1,
        "users": log.n_users,
        "items": log.n_items,
        "cut": str(future.cut),
        "selection_cut": str(past.cut),
        "id_column": None,
        "dropped_columns": [],
        "target_balance": None,
    }
    emit("stage", {"name": "recording the run"})
    result = ProveResult(
        verdict=verdict,
        criteria=results,
        best=best_doc,
        leaderboard=leaderboard,
        run_id="",
        task=spec.task,
        primary_metric=primary,
        positive_class=None,
        threshold=0.0,
        data=data_summary,
        findings=[],
        budget_seconds=budget,
        elapsed_seconds=time.monotonic() - started,
        notes=notes,
    )
    record = RunRecord(
        gate="prove",
        tags={"poc2prod.verdict": verdict, "poc2prod.best_model": best.name},
        params={
            "task": spec.task,
            "budget_seconds": budget,
            "holdout_fraction": spec.split.holdout,
            "cut": str(future.cut),
            "k": k,
            "primary_metric": primary,
            "criteria": [str(x) for x in spec.criteria],
            "best_model": best.name,
        },
        metrics={
            **{f"holdout_{m}": v for m, v in holdout.items()},
            "elapsed_seconds": result.elapsed_seconds,
        },
        documents={"leaderboard.json": leaderboard, "spec.json": public_spec(spec)},
        model=model,
    )
    return record_prove(result, record, tracker, project, started, emit)


def _row(s, metrics: list[str]) -> dict[str, Any]:
    """A leaderboard row: each metric on the selection cut, with the standard error of its mean
    over users where it has one per user (None for catalogue-wide ones: coverage, novelty)."""
    cv = {}
    for m in metrics:
        values = s.per_user.get(m)
        n = int(np.sum(~np.isnan(values))) if values is not None else 0
        se = float(np.nanstd(values) / np.sqrt(n)) if n else None
        cv[m] = {"mean": s.metrics[m], "std": se}
    return {
        "model": s.name,
        "status": "done",
        "folds": "1/1",
        "cv": cv,
        "fit_seconds": round(s.fit_seconds, 3),
        "predict_seconds": round(s.recommend_seconds, 3),
        "train_rows": None,
        "note": None,
    }

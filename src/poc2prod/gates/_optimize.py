"""The optimize gate: how good can it get, is the gain real, and which threshold earns the most?

prove's run → same data, folds and holdout → engineered features kept only if they help →
Optuna study (resumable, shared by workers) → greedy ensemble of trials kept only if it helps →
calibration chosen by cross-fitting → threshold from the value model → refit → holdout (and
newer data) scored once, against prove's model, with paired bootstrap intervals → one run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from poc2prod._secrets import redact
from poc2prod.errors import BudgetError, ProjectError
from poc2prod.gates._prepare import Prepared, prepare
from poc2prod.gates._prove import _clean
from poc2prod.learn import CandidateResult, FeaturePlan, RaceSetup, Recipe, cross_validate, ensemble, predict
from poc2prod.learn._race import Event, score_columns
from poc2prod.learn._tune import (
    StudyPlan,
    finished_trials,
    open_study,
    recipe_of_trial,
    start_study,
    trial_results,
    tune,
    wait_for_plan,
    worker_label,
)
from poc2prod.metrics import METRICS, compute, paired_interval
from poc2prod.store import RunRecord, Tracker, load_model

if TYPE_CHECKING:
    from poc2prod.project import Project

# Model selection here has minutes, not seconds: it may look at twice the cells the race does.
_SELECTION_CELLS = 10_000_000
_FEATURES_SHARE = 0.25  # at most this share of the budget goes to testing engineered features
_RESERVE_FRACTION = 0.08
_RESERVE_MIN = 5.0
_POOL_TOP = 6  # trials offered to the ensemble: the best few overall, and each family's best
_FAMILIES = 3
_REFIT_SEEDS = 3


@dataclass
class OptimizeResult:
    """Before and after: prove's model against the optimized one, in metrics and in money."""

    baseline: dict[str, Any]
    optimized: dict[str, Any]
    gain: dict[str, Any]
    threshold: float
    value: dict[str, Any] | None
    features: dict[str, Any]
    ensemble: dict[str, Any] | None
    calibration: dict[str, Any] | None
    trials: int
    study: dict[str, Any]
    run_id: str
    task: str
    primary_metric: str
    budget_seconds: float
    elapsed_seconds: float
    notes: list[str] = field(default_factory=list)
    model_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy; the shape of ``optimize --json``."""
        return _clean(dataclasses.asdict(self))


@dataclass
class _Selection:
    """The rows, folds and settings model selection works on (the same in every worker)."""

    X: pd.DataFrame
    y: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    setup: RaceSetup
    study_name: str
    notes: list[str]


def _selection(project: Project, prep: Prepared, n_jobs: int) -> _Selection:
    spec = project.spec
    notes: list[str] = []
    rows, note = prep.sample(_SELECTION_CELLS, spec.split.seed)
    if note:
        notes.append(note)
    folds = prep.folds(rows, spec, notes)
    ctx = prep.context(spec, n_rows=len(folds[0][0]), n_jobs=n_jobs, n_classes=prep.n_classes)
    setup = RaceSetup(
        task=spec.problem,
        ctx=ctx,
        metrics=spec.report_metrics(),
        primary=spec.primary,
        threshold=spec.threshold,
        n_classes=prep.n_classes,
    )
    # One study per data, features, folds and metric: change any of them and tuning starts afresh.
    key = json.dumps(
        [prep.split.fingerprint, prep.features, len(rows), len(folds), spec.primary, spec.problem],
        default=str,
    )
    name = f"{spec.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    return _Selection(prep.X_train.iloc[rows], prep.y_train[rows], folds, setup, name, notes)


def run_optimize(
    project: Project,
    *,
    budget: float | None = None,
    workers: int = 1,
    trials: int | None = None,
    on_event: Event | None = None,
    backend: str = "local",
    address: str | None = None,
    trial_cpus: int = 1,
) -> OptimizeResult:
    """Run the optimize gate on ``project``; see :meth:`poc2prod.Project.optimize`."""
    emit = on_event or (lambda kind, info: None)
    spec = project.spec
    budget = float(budget or spec.budget.optimize)
    if workers < 1:
        raise ProjectError("--workers must be at least 1.")
    if backend not in ("local", "ray"):
        raise ProjectError(f"--backend {backend!r} is not known; use local or ray.")
    if spec.task == "recommend":
        from poc2prod.gates._optimize_recommend import run_optimize_recommend

        if workers > 1 or backend != "local":
            raise ProjectError(
                "--workers and --backend ray apply to tabular and text tuning; a recommendation study "
                "runs in one process."
            )
        return run_optimize_recommend(project, budget=budget, trials=trials, emit=emit)
    proved = project.last("prove")
    if proved is None:
        raise ProjectError(
            f"the project in {project.root} has no prove run yet; "
            f"run `poc2prod prove -C {project.root}` first."
        )
    started = time.monotonic()
    notes: list[str] = []
    tracker = Tracker(project.tracking_uri, spec.name, project.artifact_root)
    prep = prepare(project, notes=notes, emit=emit)
    if proved.get("data", {}).get("split_fingerprint") not in (None, prep.split.fingerprint):
        raise ProjectError(
            "the data or the split changed since the last prove run, so its model cannot be compared "
            f"on this holdout; run `poc2prod prove -C {project.root}` again first."
        )
    if proved.get("verdict") != "go":
        notes.append("prove's verdict was no-go; the gate optimizes anyway, so judge the result with care")

    # Newer data is checked before any tuning, so a broken file costs seconds, not the budget.
    newer = (
        {"newer": prep.newer(spec.newer, project.root, "newer.source in poc2prod.yaml")}
        if spec.newer is not None
        else {}
    )
    n_jobs = max(1, (os.cpu_count() or 1) // workers)
    sel = _selection(project, prep, n_jobs)
    notes += sel.notes
    setup, primary = sel.setup, METRICS[spec.primary]
    oof_dir = project.state_dir / "studies" / sel.study_name
    study = open_study(
        project.studies_uri, sel.study_name, greater_is_better=primary.greater_is_better, seed=spec.split.seed
    )
    plan = StudyPlan.from_attrs(study.user_attrs)
    if plan is None and not study.created_here:  # another run is setting up this new study
        plan = wait_for_plan(study, started + budget * _FEATURES_SHARE + 30)
    if plan is None:
        families = _families(proved, text=spec.is_text)
        emit("stage", {"name": "testing engineered features"})
        features, tested = _choose_features(sel, prep, families[0], started + budget * _FEATURES_SHARE)
        plan = StudyPlan(tuple(families), features)
        start_study(study, plan, setup)
        study.set_user_attr("feature_tests", tested)
    else:
        notes.append(
            f"resumed the study {sel.study_name} ({len(finished_trials(study))} trials already finished)"
        )
    tested = study.user_attrs.get("feature_tests", {})
    before = len(finished_trials(study))

    # Tuning stops early enough to refit, calibrate, score and record; the reserve grows with the
    # cost of refitting the best trials found so far.
    reserve = max(min(_RESERVE_MIN, 0.3 * budget), _RESERVE_FRACTION * budget)
    end = {"tuning": started + budget - reserve}
    fold_rows = len(sel.folds[0][0])

    def on_trial(trial) -> None:
        done = [
            t
            for t in study.get_trials(deepcopy=False)
            if t.value is not None and "fit_seconds" in t.user_attrs
        ]
        done.sort(key=lambda t: -t.value if primary.greater_is_better else t.value)
        refit = sum(_refit_seconds(t, len(prep.X_train), fold_rows, _REFIT_SEEDS) for t in done[:3])
        end["tuning"] = started + budget - max(reserve, min(budget / 3, refit + reserve))
        emit("trial_end", {"trial": trial, "primary": spec.primary})

    stop_file = oof_dir / "stop"
    oof_dir.mkdir(parents=True, exist_ok=True)
    stop_file.unlink(missing_ok=True)
    emit("stage", {"name": f"tuning {', '.join(plan.families)}"})
    ran_on = None
    if backend == "ray":
        from poc2prod.scale._tune import tune_on_ray

        seen: set[int] = {t.number for t in finished_trials(study)}

        def poll() -> None:  # the progress display sees the tasks' trials as they finish
            for t in finished_trials(study):
                if t.number not in seen:
                    seen.add(t.number)
                    on_trial(t)

        ran_on = tune_on_ray(
            project,
            sel.study_name,
            stop_file,
            lambda: end["tuning"],
            workers=workers,
            trial_cpus=trial_cpus,
            seed=spec.split.seed,
            trials=trials,
            address=address,
            on_poll=poll,
        )
        notes += [f"a Ray tuning task failed: {f}" for f in ran_on["failures"]]
    else:
        helpers = [
            _spawn_worker(
                project, sel.study_name, stop_file, end["tuning"], n_jobs, spec.split.seed + i, trials
            )
            for i in range(1, workers)
        ]
        try:
            tune(
                study,
                sel.X,
                sel.y,
                sel.folds,
                setup,
                plan,
                until=lambda: end["tuning"],
                oof_dir=oof_dir,
                worker=worker_label(),
                max_trials=trials,
                on_trial=on_trial,
            )
        finally:
            stop_file.touch()
            _wait(helpers, timeout=max(5.0, started + budget - reserve / 2 - time.monotonic()))

    finished = finished_trials(study)
    ranked = trial_results(study, oof_dir, setup)
    if not ranked:
        raise BudgetError(f"no tuning trial finished within the {budget:g}s budget; raise --budget.")

    emit("stage", {"name": "ensembling"})
    best_trial, best = ranked[0]
    pool = _pool(ranked)
    blended = ensemble([r for _, r in pool], sel.y, sel.folds, setup)
    by_name = {r.name: (t, r) for t, r in pool}
    choice: CandidateResult = best
    chosen_trials = [best_trial]
    recipe = recipe_of_trial(best_trial, plan.features)
    ensemble_doc = None
    if blended is not None:
        # Both sides scored on folds their choice did not see: the ensemble's weights, and which
        # single trial is "best", are each picked on the other folds. The best trial's own CV mean
        # was picked on the very folds it is scored on, and flatters it (most on small data).
        single = _nested_best([r for _, r in ranked], primary)
        kept = primary.better(blended.mean(spec.primary), single)
        ensemble_doc = {
            "cv": blended.mean(spec.primary),
            "best_single_cv": best.mean(spec.primary),
            "best_single_nested_cv": single,
            "weights": blended.weights,
            "kept": kept,
        }
        if kept:
            choice = blended
            chosen_trials = [by_name[n][0] for n in blended.weights]
            members = tuple(recipe_of_trial(t, plan.features) for t in chosen_trials)
            recipe = Recipe("ensemble", members=members, weights=tuple(blended.weights.values()))
    oof = choice.oof

    calibration_doc, calibrator, scores_for_threshold = None, None, oof
    if spec.problem == "binary":
        from poc2prod.learn._calibrate import Calibrator, choose_calibration, reliability

        method, losses, scores_for_threshold = choose_calibration(oof, sel.y, sel.folds)
        calibration_doc = {"method": method, "cv_log_loss": losses}
        if method is not None:
            calibrator = Calibrator(method).fit(oof, sel.y)
            recipe = dataclasses.replace(recipe, calibration=method)
        calibration_doc["reliability_cv"] = reliability(sel.y, scores_for_threshold)

    threshold, curve = spec.threshold, None
    priced = _priced(spec)
    has_value = bool(priced)
    if has_value:
        from poc2prod.value import best_threshold, routing_curve, value_curve

        pricing = routing_curve if spec.task == "text-intent" else value_curve
        curve = pricing(sel.y, scores_for_threshold, spec.value)
        threshold = best_threshold(curve)
    elif priced is False:
        notes.append(
            "the spec's value: section prices no outcome, so the threshold stays at threshold:; "
            "add money per outcome"
        )

    emit("stage", {"name": "refitting on all training rows"})
    model, seeds, rows = _refit(recipe, prep, setup, chosen_trials, started + budget - 2.0)
    if seeds < _REFIT_SEEDS and any(t.user_attrs.get("best_iterations") for t in chosen_trials):
        notes.append(f"boosters were refitted with {seeds} seed(s) to fit the budget")
    if rows < len(prep.X_train):
        n_train = len(prep.X_train)
        notes.append(
            f"the final model was refitted on {rows:,} of {n_train:,} training rows to fit the budget"
        )
    if calibrator is not None:
        from poc2prod.learn._calibrate import CalibratedModel

        model = CalibratedModel(model, calibrator)

    emit("stage", {"name": "scoring the holdout"})
    baseline_model = load_model(project.tracking_uri, proved["run_id"])
    base_cols = [*proved["data"]["numeric"], *proved["data"]["categorical"], *proved["data"].get("texts", [])]
    metrics = setup.metrics
    thresholds = (float(proved.get("threshold", spec.threshold)), threshold)
    evaluate = {"holdout": (prep.X_hold, prep.y_hold), **newer}
    scored: dict[str, dict[str, np.ndarray]] = {}
    baseline_doc = {"model": proved["best"]["model"], "run_id": proved["run_id"], "threshold": thresholds[0]}
    optimized_doc: dict[str, Any] = {
        "model": recipe.label,
        "recipe": recipe.to_dict(),
        "cv": {m: {"mean": choice.mean(m), "std": choice.std(m)} for m in metrics},
        "threshold": threshold,
    }
    gain: dict[str, Any] = {"metric": spec.primary}
    for part, (X_part, y_part) in evaluate.items():
        b = predict(baseline_model, X_part[base_cols], spec.problem, prep.n_classes)
        a = predict(model, X_part, spec.problem, prep.n_classes)
        scored[part] = {"y": y_part, "baseline": b, "optimized": a}
        baseline_doc[part] = compute(spec.problem, metrics, y_part, b, thresholds[0])
        optimized_doc[part] = compute(spec.problem, metrics, y_part, a, threshold)
        low, high = paired_interval(spec.primary, y_part, b, a, thresholds, seed=spec.split.seed)
        diff = optimized_doc[part][spec.primary] - baseline_doc[part][spec.primary]
        entry = {
            "value": diff,
            "low": low,
            "high": high,
            "within_noise": bool(low <= 0 <= high),
            "rows": len(y_part),
        }
        if part == "holdout":
            gain.update(entry)
        else:
            gain[part] = entry
    if calibration_doc is not None:
        from poc2prod.learn._calibrate import reliability

        calibration_doc["reliability_holdout"] = reliability(prep.y_hold, scored["holdout"]["optimized"])

    value_doc = _value(spec, scored, thresholds, curve) if has_value else None

    emit("stage", {"name": "recording the run"})
    by_model: dict[str, int] = {}
    for t in finished:
        by_model[t.params.get("model", "?")] = by_model.get(t.params.get("model", "?"), 0) + 1
    study_doc = {
        "name": sel.study_name,
        "storage": redact(project.studies_uri),
        "finished": len(finished),
        "this_run": len(finished) - before,
        "complete": len(ranked),
        "pruned": sum(1 for t in finished if t.state.name == "PRUNED"),
        "workers": sorted({t.user_attrs.get("worker", "?") for t in finished if t.user_attrs.get("worker")}),
        "by_model": by_model,
        "best": {"trial": best_trial.number, "model": best_trial.params["model"], "cv": best_trial.value},
        "families": list(plan.families),
        "backend": ran_on or {"backend": "local", "processes": workers},
    }
    elapsed = time.monotonic() - started
    result = OptimizeResult(
        baseline=baseline_doc,
        optimized=optimized_doc,
        gain=gain,
        threshold=threshold,
        value=value_doc,
        features={"plan": plan.features.to_dict(), "tested": tested},
        ensemble=ensemble_doc,
        calibration=calibration_doc,
        trials=len(finished),
        study=study_doc,
        run_id="",
        task=spec.problem,
        primary_metric=spec.primary,
        budget_seconds=budget,
        elapsed_seconds=elapsed,
        notes=notes,
    )
    files = _prediction_files(project, sel, oof, scores_for_threshold, scored, curve)
    record = RunRecord(
        gate="optimize",
        tags={
            "poc2prod.model": recipe.label,
            "poc2prod.study": sel.study_name,
            "poc2prod.prove_run": proved["run_id"],
        },
        params={
            "budget_seconds": budget,
            "workers": workers,
            "backend": backend,
            "seed": spec.split.seed,
            "families": list(plan.families),
            "features": plan.features.to_dict(),
            "model": recipe.label,
            "calibration": recipe.calibration or "none",
            "threshold": threshold,
            "trials": len(finished),
        },
        metrics={
            **{f"cv_{m}": choice.mean(m) for m in metrics},
            **{f"holdout_{m}": v for m, v in optimized_doc["holdout"].items()},
            **{f"baseline_holdout_{m}": v for m, v in baseline_doc["holdout"].items()},
            "gain": gain["value"],
            "threshold": threshold,
            **({"value_per_1000": value_doc["per_1000_decisions"]} if value_doc else {}),
            "elapsed_seconds": elapsed,
        },
        documents={
            "recipe.json": recipe.to_dict(),
            "study.json": {**study_doc, "trials": _trial_rows(finished)},
            "optimize.json": result.to_dict(),
        },
        files=files,
        model=model,
    )
    result.run_id, result.model_sha256 = tracker.log(record)
    result.elapsed_seconds = time.monotonic() - started
    project.remember("optimize", result.to_dict())
    emit("done", {"result": result})
    return result


def work(
    root: str, study_name: str, stop_file: str, until_epoch: float, n_jobs: int, seed: int, trials: int | None
):
    """A helper process's share of tuning: the same study, its own sampler seed (``--workers``)."""
    from poc2prod.project import Project

    project = Project.load(root)
    spec = project.spec
    prep = prepare(project, notes=[])
    sel = _selection(project, prep, n_jobs)
    if sel.study_name != study_name:
        raise ProjectError("the project's data changed while optimize was running; run it again.")
    primary = METRICS[spec.primary]
    study = open_study(
        project.studies_uri, study_name, greater_is_better=primary.greater_is_better, seed=seed
    )
    plan = StudyPlan.from_attrs(study.user_attrs)
    end = time.monotonic() + (until_epoch - time.time())
    stop = Path(stop_file)
    tune(
        study,
        sel.X,
        sel.y,
        sel.folds,
        sel.setup,
        plan,
        until=lambda: -1.0 if stop.exists() else end,
        oof_dir=stop.parent,
        worker=worker_label(),
        max_trials=trials,
    )


def _spawn_worker(project, study_name, stop_file: Path, until: float, n_jobs: int, seed: int, trials):
    until_epoch = time.time() + (until - time.monotonic())
    args = [
        str(project.root),
        study_name,
        str(stop_file),
        repr(until_epoch),
        str(n_jobs),
        str(seed),
        str(trials or 0),
    ]
    return subprocess.Popen(
        [sys.executable, "-m", "poc2prod.gates._optimize_worker", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": str(n_jobs)},
    )


def _wait(procs: list[subprocess.Popen], timeout: float) -> None:
    """Let helpers finish their fold in flight; a helper still running after ``timeout`` is stopped
    (its unfinished trial is failed by the study's heartbeat check, nothing else is lost)."""
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.terminate()
            p.wait(timeout=10)


def _families(proved: dict[str, Any], text: bool = False) -> list[str]:
    """The strongest distinct model families on prove's leaderboard, plus the best-ranked booster,
    forest and the linear model when those are missing: a blend gains most from unlike models
    (a linear scorecard most of all beside trees), and prove may have ranked a forest low only
    because the race trained it on a row sample."""
    from poc2prod.learn import get_candidate

    ranked: list[str] = []
    for row in proved.get("leaderboard", []):
        name = "logistic_regression" if row["model"] == "ridge" else row["model"]
        usable = row.get("status") in ("done", "partial") and name not in ("dummy", "ensemble")
        if usable and name not in ranked and get_candidate(name).space:
            ranked.append(name)
    chosen = ranked[:_FAMILIES]
    if text:
        # Prove's short budget may have had no time to embed the texts; tuning has.
        from poc2prod.learn import candidate_names

        chosen += [n for n in candidate_names("multiclass", text=True) if n not in chosen and n != "dummy"]
    kinds = (("lightgbm", "xgboost", "catboost"), ("random_forest", "extra_trees"), ("logistic_regression",))
    for kind in () if text else kinds:
        if not any(n in kind for n in chosen):
            chosen.append(next((n for n in ranked if n in kind), kind[0]))
    return chosen


def _choose_features(sel: _Selection, prep: Prepared, lead: str, until: float) -> tuple[FeaturePlan, dict]:
    """Engineered feature families that improve the lead model's CV score, each tested alone.

    Families that each help are then tried together, and kept together only if that helps too.
    """
    from poc2prod.learn import get_candidate, possible_plan

    possible = possible_plan(sel.X, prep.categorical, prep.dates)
    if possible.empty:
        return FeaturePlan(), {"note": "no column needs engineered features"}
    primary = METRICS[sel.setup.primary]
    params = get_candidate(lead).defaults(sel.setup.ctx)

    def folds_of(plan: FeaturePlan) -> list[float] | None:
        recipe = Recipe(lead, params=params, features=plan)
        build = lambda: recipe.build_for_folds(sel.setup.ctx)  # noqa: E731
        r = cross_validate(sel.X, sel.y, sel.folds, sel.setup, lead, until, build=build)
        ok = r.status == "done" and not r.stopped_by_deadline
        return [f[primary.name] for f in r.fold_metrics] if ok else None

    def helps(scores: list[float] | None, than: list[float]) -> bool:
        # Better on average and on at least half the folds: one lucky fold is not a gain.
        if scores is None:
            return False
        wins = sum(primary.better(a, b) for a, b in zip(scores, than, strict=True))
        return primary.better(float(np.mean(scores)), float(np.mean(than))) and 2 * wins >= len(scores)

    base = folds_of(FeaturePlan())
    tested: dict[str, Any] = {"model": lead, "without": None if base is None else float(np.mean(base))}
    tested["families"] = {}
    if base is None:
        tested["note"] = "the time for feature tests ran out before the comparison point was measured"
        return FeaturePlan(), tested
    helpful: list[tuple[list[float], str]] = []
    for family in possible.families():
        scores = folds_of(possible.only(family))
        kept = helps(scores, base)
        tested["families"][family] = {
            "columns": list(getattr(possible, family)),
            "cv": None if scores is None else float(np.mean(scores)),
            "kept": kept,
            **({"note": "not tested: the time for feature tests ran out"} if scores is None else {}),
        }
        if kept:
            helpful.append((scores, family))
    if not helpful:
        return FeaturePlan(), tested
    helpful.sort(key=lambda h: float(np.mean(h[0])), reverse=primary.greater_is_better)
    chosen = possible.only(helpful[0][1])
    if len(helpful) > 1:
        together = possible.only(*(f for _, f in helpful))
        scores = folds_of(together)
        tested["together"] = None if scores is None else float(np.mean(scores))
        if helps(scores, helpful[0][0]):
            chosen = together
    tested["chosen"] = chosen.families()
    return chosen, tested


def _pool(ranked: list[tuple[Any, CandidateResult]]) -> list[tuple[Any, CandidateResult]]:
    """The trials offered to the ensemble: the best few, and the best of every family."""
    pool = ranked[:_POOL_TOP]
    for t, r in ranked:
        if all(p.params["model"] != t.params["model"] for p, _ in pool):
            pool.append((t, r))
    return pool


def _nested_best(results: list[CandidateResult], primary) -> float:
    """The CV score of "pick the best trial", with the pick made on the other folds for each fold."""
    scores = np.array([[m[primary.name] for m in r.fold_metrics] for r in results])
    sign = 1.0 if primary.greater_is_better else -1.0
    picked = []
    for k in range(scores.shape[1]):
        others = np.delete(scores, k, axis=1).mean(axis=1)
        picked.append(scores[int(np.argmax(sign * others)), k])
    return float(np.mean(picked))


def _refit_seconds(trial, n_train: int, fold_rows: int, seeds: int) -> float:
    """Seconds a refit of ``trial``'s model on ``n_train`` rows is expected to take, from its
    folds' fit time on the rows it trained on (fewer than ``fold_rows`` when it was sampled)."""
    booster = bool(trial.user_attrs.get("best_iterations"))
    seen = _trained_rows(trial, fold_rows)
    return float(trial.user_attrs.get("fit_seconds", 0.0)) * (seeds if booster else 1) * n_train / seen * 1.2


def _trained_rows(trial, fold_rows: int) -> int:
    """Rows per fold ``trial``'s model trained on: ``fold_rows`` unless it was sampled to fit its time."""
    return trial.user_attrs.get("train_rows") or fold_rows


def _refit(recipe: Recipe, prep: Prepared, setup: RaceSetup, trials: list, deadline: float):
    """Fit ``recipe`` on the training rows, averaging as many booster seeds as the time left
    allows (timed from its ``trials``' folds). When even one seed on every row would overrun
    ``deadline``, on a random sample of as many rows as fit, never fewer than its trials trained
    on: a model a few seconds late serves the client better than a poorer one on time.
    Returns the model, its seeds, and the rows it was fitted on."""
    n_train, fold_rows = len(prep.X_train), setup.ctx.n_rows
    for seeds in (_REFIT_SEEDS, 1):
        cost = sum(_refit_seconds(t, n_train, fold_rows, seeds) for t in trials)
        if time.monotonic() + cost <= deadline:
            break
    rows, left = n_train, deadline - time.monotonic()
    if cost > left:
        seen = max(min(n_train, _trained_rows(t, fold_rows)) for t in trials)
        rows = max(seen, int(n_train * max(left, 0.0) / cost))
    X, y = prep.X_train, prep.y_train
    if rows < n_train:
        idx = np.sort(np.random.default_rng(setup.ctx.seed).choice(n_train, rows, replace=False))
        X, y = X.iloc[idx], y[idx]
    # Tuning's workers have stopped: the refit has every core (its estimate, from their share, errs long).
    ctx = dataclasses.replace(setup.ctx, n_rows=rows, n_jobs=os.cpu_count() or 1)
    return recipe.build(ctx, seeds=seeds).fit(X, y), seeds, rows


def _priced(spec) -> bool | None:
    """Whether the spec's value model prices the decisions this task makes (None: the task makes
    no decision a threshold chooses, e.g. regression)."""
    vm = spec.value
    if spec.task == "text-intent":
        return vm.prices_routing
    if spec.problem != "binary":
        return None
    return any((vm.true_positive, vm.false_positive, vm.false_negative, vm.true_negative))


def _value(spec, scored, thresholds, curve) -> dict[str, Any]:
    """Money per decision on the holdout (and newer data): optimized at its threshold, against
    the do-nothing policy (approve everyone; for intents, route every query to a person) and
    against prove's model at its threshold."""
    from poc2prod.value import Value, routing_value, value_per_decision

    vm = spec.value
    routing = spec.task == "text-intent"
    per_decision = routing_value if routing else value_per_decision

    def money(y, s, t) -> dict[str, Any]:
        return Value(per_decision(y, s, t, vm), vm.currency, vm.decisions_per_month).to_dict()

    out: dict[str, Any] = {}
    for part, s in scored.items():
        y = s["y"]
        # Scores no row reaches: nobody refused, or every query routed.
        nothing = np.zeros_like(s["optimized"])
        doc = {
            **money(y, s["optimized"], thresholds[1]),
            "route_everyone" if routing else "approve_everyone": money(y, nothing, 1.0 + 1e-9),
            "prove_model": {**money(y, s["baseline"], thresholds[0]), "threshold": thresholds[0]},
        }
        if routing:
            from poc2prod.value import routing_outcomes

            counts = routing_outcomes(y, s["optimized"], thresholds[1])
            automated = counts["automated_correct"] + counts["automated_wrong"]
            doc["automation_rate"] = automated / max(1, len(y))
            doc["automated_accuracy"] = counts["automated_correct"] / automated if automated else None
        if part == "holdout":
            out.update(doc)
        else:
            out[part] = doc
    best = curve["value_per_decision"].max()
    out["cv"] = Value(float(best), vm.currency, vm.decisions_per_month).to_dict()
    out["threshold"] = thresholds[1]
    shown = (
        ["threshold", "automation_rate", "automated_accuracy"] if routing else ["threshold", "positive_share"]
    )
    out["curve"] = curve.iloc[np.unique(np.linspace(0, len(curve) - 1, 101).astype(int))][
        [*shown, "value_per_decision"]
    ].to_dict(orient="list")
    return out


def _prediction_files(project, sel: _Selection, oof, cv_scores, scored, curve) -> dict[str, Path]:
    """Out-of-fold and holdout predictions and the value curve as Parquet, so every figure can be
    recomputed from what the run stored."""
    folder = project.state_dir / "optimize"
    folder.mkdir(exist_ok=True)
    files = {}
    frames = {
        "oof.parquet": pd.DataFrame(
            {
                "row": sel.X.index,
                "y": sel.y,
                **score_columns("score", oof),
                **score_columns("calibrated", cv_scores),
            }
        )
    }
    for part, s in scored.items():
        frames[f"{part}.parquet"] = pd.DataFrame(
            {
                "y": s["y"],
                **score_columns("baseline", s["baseline"]),
                **score_columns("optimized", s["optimized"]),
            }
        )
    if curve is not None:
        frames["value_curve.parquet"] = curve
    for name, frame in frames.items():
        path = folder / name
        frame.to_parquet(path, index=False)
        files[f"predictions/{name}"] = path
    return files


def _trial_rows(trials) -> list[dict[str, Any]]:
    return [
        {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "params": t.params,
            "worker": t.user_attrs.get("worker"),
            "seconds": t.user_attrs.get("seconds"),
        }
        for t in trials
    ]

"""The optimize gate for ``task: recommend``: tuned, blended, and priced against most-popular.

prove's log and cuts → an Optuna study (resumable) tunes item-kNN and ALS on the cut inside the
past → the best of each family blended, with the weight chosen on the same cut → the winner refit
on the whole past and scored once on the future, against prove's model and against the better
most-popular list, user by user (paired bootstrap) → what the lists would have earned → one run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from poc2prod._secrets import public_spec, redact
from poc2prod.errors import BudgetError, ProjectError
from poc2prod.gates._prepare_recommend import PreparedLog, prepare_log
from poc2prod.gates._prove import _clean
from poc2prod.store import RunRecord, Tracker

if TYPE_CHECKING:
    from poc2prod.learn._race import Event
    from poc2prod.project import Project
    from poc2prod.recommend import Judge, Scored

_RESERVE = 0.25  # share of the budget kept for blending, refitting on the whole past and scoring
_WEIGHTS = np.round(np.arange(0.1, 1.0, 0.1), 2)  # the first member's share in a two-model blend


@dataclass
class RecommendOptimizeResult:
    """Before and after on the future: prove's model, the tuned one, and most-popular; in metrics
    and in money."""

    baseline: dict[str, Any]  # prove's model: recipe and holdout metrics
    optimized: dict[str, Any]  # the chosen recipe: selection and holdout metrics
    popular: dict[str, Any]  # the better most-popular list on the holdout
    gain: dict[str, Any]  # optimized - prove's model, with its paired interval
    versus_popular: dict[str, Any]  # optimized - most-popular, with its paired interval
    candidates: list[dict[str, Any]]  # each family's best, and the blend, on the selection cut
    value: dict[str, Any] | None
    trials: int
    study: dict[str, Any]
    run_id: str
    task: str
    primary_metric: str
    budget_seconds: float
    elapsed_seconds: float
    notes: list[str] = field(default_factory=list)
    model_sha256: str | None = None
    threshold: float = 0.0  # a ranking has no threshold; kept so every optimize result reads alike

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy; the shape of ``optimize --json``."""
        return _clean(dataclasses.asdict(self))


def run_optimize_recommend(
    project: Project, *, budget: float, trials: int | None, emit: Event
) -> RecommendOptimizeResult:
    """Tune, blend and price the recommenders; see :meth:`Project.optimize`."""
    from poc2prod.learn._tune import open_study
    from poc2prod.recommend import Judge, margin
    from poc2prod.recommend._recipe import TUNED, build, defaults, from_params, label, suggest

    spec = project.spec
    proved = project.last("prove")
    if proved is None or proved.get("task") != "recommend":
        raise ProjectError(
            f"the project in {project.root} has no recommendation prove run yet; "
            f"run `poc2prod prove -C {project.root}` first."
        )
    started = time.monotonic()
    tracker = Tracker(project.tracking_uri, spec.name, project.artifact_root)
    emit("stage", {"name": "loading data"})
    prep = prepare_log(project)
    notes = list(prep.notes)
    if proved["data"].get("cut") != str(prep.future.cut):
        raise ProjectError(
            "the data or the holdout changed since the last prove run, so its model cannot be compared "
            f"on this holdout; run `poc2prod prove -C {project.root}` again first."
        )
    if proved.get("verdict") != "go":
        notes.append("prove's verdict was no-go; the gate optimizes anyway, so judge the result with care")
    k, primary = spec.recommend.k, spec.primary
    metrics = spec.report_metrics()
    paired = [m for m in metrics if not m.startswith(("coverage", "novelty"))]
    selection = Judge(
        prep.past, k=k, metrics=metrics, paired=paired, item_values=prep.item_values(prep.past, spec.value)
    )

    key = json.dumps([prep.fingerprint, k, primary, list(TUNED)])
    study_name = f"{spec.name}-recommend-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    study = open_study(
        project.studies_uri, study_name, greater_is_better=True, seed=spec.split.seed, heartbeat=False
    )
    before = _finished(study)
    if study.created_here:
        for family in TUNED:
            study.enqueue_trial(defaults(family))
    else:
        notes.append(f"resumed the study {study_name} ({len(before)} trials already finished)")

    emit("stage", {"name": f"tuning {', '.join(TUNED)}"})
    fitted: dict[str, tuple[float, Any]] = {}  # family -> (selection score, fitted model) of this run's best
    while time.monotonic() + _slowest(study) < _deadline(study, started, budget) and (
        trials is None or len(_finished(study)) < trials
    ):
        trial = study.ask()
        recipe = suggest(trial)  # an enqueued trial's suggestions return its enqueued settings
        t0 = time.perf_counter()
        model = build(recipe)
        scored = selection.score(recipe["model"], model)
        seconds = time.perf_counter() - t0
        trial.set_user_attr("seconds", seconds)
        trial.set_user_attr("metrics", scored.metrics)
        value = scored.metrics[primary]
        frozen = study.tell(trial, value)
        if value > fitted.get(recipe["model"], (-np.inf, None))[0]:
            fitted[recipe["model"]] = (value, model)
        emit("trial_end", {"trial": frozen, "primary": primary})

    finished = _finished(study)
    if not finished:
        raise BudgetError(f"no tuning trial finished within the {budget:g}s budget; raise --budget.")

    emit("stage", {"name": "blending"})
    candidates: list[tuple[dict[str, Any], Scored]] = []
    for family in TUNED:
        mine = [t for t in finished if t.params.get("model") == family]
        if not mine:
            continue
        best_trial = max(mine, key=lambda t: t.value)
        recipe = from_params(best_trial.params)
        value, model = fitted.get(family, (None, None))
        if model is None or value < best_trial.value:  # the best came from an earlier run: refit it
            model = build(recipe)
            model.fit(selection.X, item_times=selection.times)
        scored = selection.score(family, model, fitted=True)
        scored.fit_seconds = best_trial.user_attrs.get("seconds", float("nan"))
        candidates.append((recipe, scored))
        fitted[family] = (best_trial.value, model)
    if len(candidates) == 2:
        candidates.append(_best_blend(candidates, [fitted[f][1] for f in TUNED], selection, primary))

    chosen, chosen_sel = max(candidates, key=lambda c: c[1].metrics[primary])
    emit("stage", {"name": "refitting on all the past and scoring the future"})
    holdout = Judge(
        prep.future,
        k=k,
        metrics=metrics,
        paired=paired,
        item_values=prep.item_values(prep.future, spec.value),
    )
    final_model = build(chosen)
    final = holdout.score(label(chosen), final_model)
    base_recipe = proved["best"].get("recipe") or {"model": proved["best"]["model"], "params": {}}
    base = holdout.score(label(base_recipe), build(base_recipe))
    popular = max(
        (holdout.score(n, build({"model": n})) for n in ("most_popular", "most_popular_30d")),
        key=lambda s: s.metrics[primary],
    )
    gain = {"metric": primary, **margin(final, base, primary, seed=spec.split.seed)}
    gain["within_noise"] = not (gain["low"] > 0 or gain["high"] < 0)
    versus = {
        "baseline": popular.name,
        "metric": primary,
        **margin(final, popular, primary, seed=spec.split.seed),
    }
    value = _value(spec, prep, final, base, popular) if "value" in final.per_user else None
    if value is None:
        notes.append(
            "the spec prices no accepted recommendation (value.accepted, or value.margin with "
            "recommend.price), so the lists' value is not estimated"
        )

    this_run = len(finished) - len(before)
    by_model: dict[str, int] = {}
    for t in finished:
        by_model[t.params.get("model", "?")] = by_model.get(t.params.get("model", "?"), 0) + 1
    result = RecommendOptimizeResult(
        baseline={"model": label(base_recipe), "recipe": base_recipe, "holdout": base.metrics},
        optimized={
            "model": label(chosen),
            "recipe": chosen,
            "selection": chosen_sel.metrics,
            "holdout": final.metrics,
            "fit_seconds": final.fit_seconds,
        },
        popular={"model": popular.name, "holdout": popular.metrics},
        gain=gain,
        versus_popular=versus,
        candidates=[
            {"model": label(r), "recipe": r, "selection": s.metrics, "fit_seconds": s.fit_seconds}
            for r, s in candidates
        ],
        value=value,
        trials=len(finished),
        study={
            "name": study_name,
            "finished": len(finished),
            "this_run": this_run,
            "pruned": 0,
            "by_model": by_model,
            "storage": redact(project.studies_uri),
        },
        run_id="",
        task=spec.task,
        primary_metric=primary,
        budget_seconds=budget,
        elapsed_seconds=time.monotonic() - started,
        notes=notes,
    )
    emit("stage", {"name": "recording the run"})
    record = RunRecord(
        gate="optimize",
        tags={"poc2prod.model": label(chosen)},
        params={
            "task": spec.task,
            "budget_seconds": budget,
            "k": k,
            "primary_metric": primary,
            "recipe": json.dumps(chosen),
            "trials": len(finished),
        },
        metrics={
            **{f"holdout_{m}": v for m, v in final.metrics.items()},
            "gain": gain["difference"],
            "elapsed_seconds": result.elapsed_seconds,
        },
        documents={"optimize.json": result.to_dict(), "spec.json": public_spec(spec)},
        model=final_model,
    )
    result.run_id, result.model_sha256 = tracker.log(record)
    result.elapsed_seconds = time.monotonic() - started
    project.remember("optimize", result.to_dict())
    emit("done", {"result": result})
    return result


def _deadline(study, started: float, budget: float) -> float:
    """When tuning must stop: early enough to refit each family's best (on the selection cut, if an
    earlier run found it, and on the whole past, with prove's model beside it), blend, score and
    record; at least a :data:`_RESERVE` share of the budget is kept."""
    best: dict[str, Any] = {}
    for t in _finished(study):
        family = t.params.get("model")
        if family not in best or t.value > best[family].value:
            best[family] = t
    # The whole past is ~1.25× the selection cut's training rows, and prove's model is refitted too.
    refits = sum(4 * t.user_attrs.get("seconds", 0.0) for t in best.values())
    return started + budget - max(_RESERVE * budget, refits + 5.0)


def _slowest(study) -> float:
    """The longest trial so far: a trial is only started when even that long a one would end in time."""
    return max((t.user_attrs.get("seconds", 0.0) for t in _finished(study)), default=0.0)


def _finished(study) -> list:
    from optuna.trial import TrialState

    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]


def _best_blend(
    candidates: list[tuple[dict[str, Any], Scored]], models: list, judge: Judge, primary: str
) -> tuple[dict[str, Any], Scored]:
    """The two families' best blended, the first member's weight the one of :data:`_WEIGHTS` that
    scores best on the selection cut. Each member's scores for the judged users are computed once
    (what Blend would compute for each weight), and every weight only re-ranks their sum."""
    from poc2prod.recommend._models import FixedScores, scaled_scores

    first, second = (scaled_scores(m, judge.users) for m in models)
    best = None
    for w in _WEIGHTS:
        blend = FixedScores(w * first + (1 - w) * second, judge.users).fitted_on(judge.X)
        scored = judge.score("blend", blend, fitted=True)
        scored.fit_seconds = sum(s.fit_seconds for _, s in candidates)
        if best is None or scored.metrics[primary] > best[1].metrics[primary]:
            recipe = {
                "model": "blend",
                "members": [r for r, _ in candidates],
                "weights": [float(w), float(round(1 - w, 2))],
            }
            best = (recipe, scored)
    return best


def _value(spec, prep: PreparedLog, final: Scored, base: Scored, popular: Scored) -> dict[str, Any]:
    """What each model's lists would have earned on the holdout, per 1,000 lists and per month, and
    the increment over most-popular with its paired interval.

    An offline hit is a purchase the user made anyway: it says which list puts what people buy in
    front of them, not how many purchases the list itself causes (an A/B test measures that).
    """
    from poc2prod.recommend import paired_bootstrap

    days = max((prep.log.time.max() - prep.future.cut.to_datetime64()) / np.timedelta64(1, "D"), 1.0)
    users = len(final.per_user["value"])
    lists_per_month = spec.value.decisions_per_month or users * 30.0 / days

    def money(s: Scored) -> dict[str, float]:
        mean = float(np.mean(s.per_user["value"]))
        return {
            "per_1000_lists": 1000 * mean,
            "per_month": mean * lists_per_month,
            "holdout_total": mean * users,
        }

    low, high = paired_bootstrap(final.per_user["value"], popular.per_user["value"], seed=spec.split.seed)
    mine, theirs = money(final), money(popular)
    return {
        "currency": spec.value.currency,
        "per_accepted": {"accepted": spec.value.accepted, "margin": spec.value.margin},
        "lists_per_month": lists_per_month,
        "lists_per_month_source": "value.decisions_per_month"
        if spec.value.decisions_per_month
        else (f"the {users:,} users with a purchase in the {days:.0f} holdout days, once a month"),
        "optimized": mine,
        "prove_model": money(base),
        "most_popular": theirs,
        "incremental_vs_most_popular": {
            "per_1000_lists": mine["per_1000_lists"] - theirs["per_1000_lists"],
            "per_1000_lists_low": 1000 * low,
            "per_1000_lists_high": 1000 * high,
            "per_month": mine["per_month"] - theirs["per_month"],
            "per_month_low": low * lists_per_month,
            "per_month_high": high * lists_per_month,
        },
        "caveat": (
            "an offline hit is a purchase the user made anyway; the increment says which list shows "
            "people what they buy, and an A/B test measures how much of it the list causes"
        ),
    }

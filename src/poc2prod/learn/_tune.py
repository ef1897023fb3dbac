"""Tuning with Optuna: one study per project and data, stored in a database so it resumes and is shared.

The study's first parameter is the model family; each family's own parameters follow (named
``family.param``), so one TPE sampler explores every family the gate tunes, and each family's
proven defaults are enqueued as its first trial. A trial is a full cross-validation: it reports
its running mean after each fold, and the pruner stops one that is already worse than the
median of earlier trials of its family at that fold. Each completed trial's out-of-fold predictions are saved
beside the study, so ensembling can use trials run by any worker, or by an interrupted run.

Several processes (``--workers``) or machines (a PostgreSQL URL) can run one study at the same
time: each opens it by name, samples with its own seed, and writes its trials to the same tables.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from poc2prod._io import atomic_write
from poc2prod.learn._candidates import get_candidate
from poc2prod.learn._features import FeaturePlan
from poc2prod.learn._race import CandidateResult, RaceSetup, cross_validate
from poc2prod.learn._recipe import Recipe
from poc2prod.metrics import METRICS

# A process that stops sending heartbeats for this long has died; its trial in flight is failed.
_HEARTBEAT = 5
_GRACE = 20


@dataclass(frozen=True)
class StudyPlan:
    """What every worker of one study must agree on, kept in the study's user attributes."""

    families: tuple[str, ...]
    features: FeaturePlan

    def to_attrs(self) -> dict[str, Any]:
        return {"families": list(self.families), "features": self.features.to_dict()}

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> StudyPlan | None:
        if "families" not in attrs:
            return None
        return cls(tuple(attrs["families"]), FeaturePlan.from_dict(attrs.get("features")))


def open_study(storage_url: str, name: str, *, greater_is_better: bool, seed: int, heartbeat: bool = True):
    """Create or load the study ``name`` in ``storage_url`` (an SQLAlchemy URL). ``heartbeat=False``
    for a study run by ask and tell in one process, where Optuna's heartbeat does not apply."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Heartbeats are how a killed worker's trial gets failed; Optuna still labels them experimental.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    engine: dict[str, Any] = {}
    if storage_url.startswith("sqlite"):
        # Several workers write to one SQLite file: wait for a lock rather than fail at once.
        engine = {"connect_args": {"timeout": 60}}
    from poc2prod._secrets import redact
    from poc2prod.errors import ProjectError
    from poc2prod.store._tracking import _first_line, reach

    reach(storage_url, "tracking.studies")
    beat = {"heartbeat_interval": _HEARTBEAT, "grace_period": _GRACE} if heartbeat else {}
    for attempt in range(5):
        try:
            storage = optuna.storages.RDBStorage(storage_url, engine_kwargs=engine, **beat)
            break
        except Exception as e:  # e.g. a driver that is not installed, an unknown dialect
            # Two processes creating a new database's tables at once: one finds them half made
            # ("already exists", a unique version row taken); a moment later they are all there.
            import sqlalchemy.exc

            if isinstance(e, sqlalchemy.exc.DBAPIError) and attempt < 4:
                time.sleep(0.5 * (attempt + 1))
                continue
            raise ProjectError(
                f"the Optuna studies database at {redact(storage_url)} cannot be used ({_first_line(e)}); "
                "fix tracking.studies in poc2prod.yaml."
            ) from None
    settings = {
        "study_name": name,
        "storage": storage,
        "sampler": optuna.samplers.TPESampler(seed=seed, n_startup_trials=8),
        "pruner": _family_median_pruner(),
    }
    # Created here or found: the database's unique study name makes exactly one of several
    # processes opening a new study at once its creator, the one that sets it up (start_study).
    try:
        study = optuna.create_study(direction="maximize" if greater_is_better else "minimize", **settings)
        study.created_here = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(**settings)
        study.created_here = False
    return study


def wait_for_plan(study, until: float) -> StudyPlan:
    """The plan of a study another process created and is still setting up (it tests engineered
    features first), waited for until ``until`` (``time.monotonic``)."""
    from poc2prod.errors import ProjectError

    while True:
        plan = StudyPlan.from_attrs(study.user_attrs)
        if plan is not None:
            return plan
        if time.monotonic() > until:
            raise ProjectError(
                f"another optimize run created the tuning study {study.study_name} and has not finished "
                "setting it up; run optimize again once it has (or once it has stopped)."
            )
        time.sleep(1.0)


def _family_median_pruner(n_startup_trials: int = 4):
    """Median pruning against earlier trials *of the same model family* only: a linear model is
    not stopped for trailing a booster, since an unlike model is what an ensemble needs most."""
    import optuna

    class FamilyMedianPruner(optuna.pruners.BasePruner):
        def prune(self, study, trial) -> bool:
            step = trial.last_step
            if step is None:
                return False
            family = trial.params.get("model")
            states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
            earlier = [
                t.intermediate_values[step]
                for t in study.get_trials(deepcopy=False, states=states)
                if t.params.get("model") == family and step in t.intermediate_values
            ]
            if len(earlier) < n_startup_trials:
                return False
            median = float(np.nanmedian(earlier))
            value = trial.intermediate_values[step]
            maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
            return value < median if maximize else value > median

    return FamilyMedianPruner()


def start_study(study, plan: StudyPlan, setup: RaceSetup) -> None:
    """Record ``plan`` in a new study and enqueue each family's defaults as its first trial."""
    for key, value in plan.to_attrs().items():
        study.set_user_attr(key, value)
    for family in plan.families:
        candidate = get_candidate(family)
        defaults = {f"{family}.{k}": v for k, v in candidate.defaults(setup.ctx).items()}
        study.enqueue_trial({"model": family, **defaults})


def tune(
    study,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    setup: RaceSetup,
    plan: StudyPlan,
    *,
    until: Callable[[], float],
    oof_dir: Path,
    worker: str,
    max_trials: int | None = None,
    on_trial: Callable[[Any], None] | None = None,
) -> None:
    """Run trials of ``study`` until ``until()`` (``time.monotonic``; re-read after every fold, so
    the caller can move it) or until the study holds ``max_trials`` finished trials."""
    import optuna

    primary = METRICS[setup.primary]
    oof_dir.mkdir(parents=True, exist_ok=True)

    def objective(trial) -> float:
        family = trial.suggest_categorical("model", list(plan.families))
        recipe = Recipe(
            family, params=get_candidate(family).suggest(trial, setup.ctx), features=plan.features
        )
        trial.set_user_attr("worker", worker)

        def on_fold(result: CandidateResult) -> None:
            trial.report(result.mean(primary.name), step=result.folds_done - 1)
            if time.monotonic() > until():
                raise optuna.TrialPruned("stopped by the time budget")
            if trial.should_prune():
                raise optuna.TrialPruned(f"below the median of earlier trials after fold {result.folds_done}")

        started = time.monotonic()
        result = cross_validate(
            X,
            y,
            folds,
            setup,
            family,
            until(),
            build=lambda: recipe.build_for_folds(setup.ctx),
            on_fold=on_fold,
        )
        if result.status != "done" or result.stopped_by_deadline:
            raise optuna.TrialPruned("stopped by the time budget")
        atomic_write(oof_dir / f"{trial.number}.npy", _npy(result.oof))
        trial.set_user_attr("fit_seconds", result.fit_seconds)
        trial.set_user_attr("seconds", time.monotonic() - started)
        trial.set_user_attr("train_rows", result.train_rows)
        trial.set_user_attr("best_iterations", result.best_iterations)
        trial.set_user_attr("cv", {m: [f[m] for f in result.fold_metrics] for m in setup.metrics})
        return result.mean(primary.name)

    def stop_when_done(study, trial) -> None:
        if on_trial is not None:
            on_trial(trial)
        if time.monotonic() > until() - 0.5 or (
            max_trials is not None and len(finished_trials(study)) >= max_trials
        ):
            study.stop()

    logging.getLogger("optuna").setLevel(logging.WARNING)
    if time.monotonic() < until() and not (
        max_trials is not None and len(finished_trials(study)) >= max_trials
    ):
        # A learner error fails that trial only (recorded with its message); Ctrl-C fails the trial
        # in flight and stops, with every finished trial kept.
        study.optimize(objective, callbacks=[stop_when_done], catch=(Exception,), gc_after_trial=False)


def finished_trials(study) -> list:
    """The study's completed and pruned trials."""
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return study.get_trials(deepcopy=False, states=states)


def trial_results(study, oof_dir: Path, setup: RaceSetup) -> list[tuple[Any, CandidateResult]]:
    """Completed trials with their saved out-of-fold predictions, best first."""
    import optuna

    primary = METRICS[setup.primary]
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    out = []
    for t in done:
        path = oof_dir / f"{t.number}.npy"
        if not path.is_file() or t.value is None or not np.isfinite(t.value):
            continue  # a trial whose predictions were lost with its process cannot join an ensemble
        cv = t.user_attrs.get("cv", {})
        n_folds = len(next(iter(cv.values()), []))
        r = CandidateResult(
            name=f"{t.params['model']}#{t.number}",
            status="done",
            folds_done=n_folds,
            folds_total=n_folds,
            fold_metrics=[{m: v[i] for m, v in cv.items()} for i in range(n_folds)],
            fit_seconds=float(t.user_attrs.get("fit_seconds", 0.0)),
            train_rows=t.user_attrs.get("train_rows"),
            best_iterations=list(t.user_attrs.get("best_iterations", [])),
            oof=np.load(path),
        )
        out.append((t, r))
    sign = -1.0 if primary.greater_is_better else 1.0
    return sorted(out, key=lambda tr: (sign * tr[0].value, tr[0].number))


def recipe_of_trial(trial, features: FeaturePlan) -> Recipe:
    """The recipe a finished trial evaluated."""
    family = trial.params["model"]
    prefix = f"{family}."
    params = {k.removeprefix(prefix): v for k, v in trial.params.items() if k.startswith(prefix)}
    return Recipe(
        family,
        params=params,
        features=features,
        best_iterations=tuple(trial.user_attrs.get("best_iterations", [])),
    )


def _npy(a: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, np.asarray(a, dtype=np.float64))
    return buf.getvalue()


def worker_label() -> str:
    """A name for this process among a study's workers."""
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"

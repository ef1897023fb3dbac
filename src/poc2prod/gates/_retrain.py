"""The retrain gate: a challenger fitted on newer data, promoted only when it is better beyond noise.

The newer labelled rows are split in time (the file's last rows are taken to be the most recent):
the last share is the comparison window, which neither model has seen. The challenger is fitted
with the champion's own recipe (the optimize gate's, else the proven model's) on the training rows
plus the older part of the newer data. Both models score the window; a paired bootstrap of the
primary metric's difference (the same resampled rows for both, so the noise they share cancels)
decides: the challenger is registered and made champion only when the whole interval is on the
better side. Either way the decision and its figures are recorded as a tracked run.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from poc2prod.errors import ProjectError

if TYPE_CHECKING:
    from poc2prod.learn._recipe import Recipe
    from poc2prod.project import Project

_FOLDS = 5


@dataclass
class RetrainResult:
    """The comparison on the recent window and what was decided."""

    name: str
    champion_version: int
    decision: str  # "promoted" | "kept"
    reason: str
    metric: str
    champion: float
    challenger: float
    difference_interval: tuple[float, float]
    window_rows: int
    training_rows: int
    new_version: int  # the challenger's registered version (champion if promoted, else challenger)
    recipe: str
    run_id: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy; the shape of ``retrain --json``."""
        from poc2prod.gates._prove import _clean

        return _clean(dataclasses.asdict(self))


def run_retrain(project: Project, data: str | Path, *, window: float = 0.3) -> RetrainResult:
    """Fit a challenger on ``data`` (newer labelled rows) and promote it if it beats the champion."""
    from poc2prod.gates._prepare import prepare
    from poc2prod.learn import predict
    from poc2prod.metrics import METRICS, paired_interval
    from poc2prod.spec import DataSource
    from poc2prod.store import RunRecord, Tracker
    from poc2prod.store._registry import load_bundle

    if not 0.05 <= window <= 0.8:
        raise ProjectError(f"--window {window:g} must be a share between 0.05 and 0.8 of the newer rows")
    started = time.monotonic()
    spec = project.spec
    tracker = Tracker(project.tracking_uri, spec.name, project.artifact_root)
    champion = load_bundle(project.tracking_uri, spec.name)
    prep = prepare(project, notes=[])
    X_new, y_new = prep.newer(
        DataSource(source=str(data), encoding=spec.data.encoding), Path.cwd(), "--data (the newer data)"
    )
    n_window = round(len(X_new) * window)
    if n_window < 50 or len(X_new) - n_window < 1:
        raise ProjectError(
            f"{data} has {len(X_new)} labelled rows; retrain needs enough for a comparison window of at "
            "least 50 rows and some rows to learn from (send more newer data)."
        )
    X_win, y_win = X_new.iloc[-n_window:], y_new[-n_window:]
    X_fit = pd.concat([prep.X_train[prep.features], X_new.iloc[:-n_window][prep.features]], ignore_index=True)
    y_fit = np.concatenate([prep.y_train, y_new[:-n_window]])

    recipe = _champion_recipe(project, champion.settings)
    ctx = prep.context(spec, len(X_fit), n_classes=prep.n_classes)
    challenger = _fit(recipe, ctx, X_fit, y_fit, spec.problem, prep.n_classes)

    name = spec.primary
    metric = METRICS[name]
    threshold = float(champion.settings["threshold"])
    before = predict(champion.model, X_win[prep.features], spec.problem, prep.n_classes)
    after = predict(challenger, X_win[prep.features], spec.problem, prep.n_classes)
    old, new = metric.fn(y_win, before, threshold), metric.fn(y_win, after, threshold)
    lo, hi = paired_interval(name, y_win, before, after, (threshold, threshold))
    better = lo > 0 if metric.greater_is_better else hi < 0
    if better:
        reason = (
            f"the challenger's {name} is better on the recent window beyond noise ({lo:+.4f} to {hi:+.4f})"
        )
    else:
        reason = (
            f"the challenger's {name} is not better beyond noise on the recent window "
            f"(difference {lo:+.4f} to {hi:+.4f}, 90% bootstrap); the champion stays"
        )
    run_id, _ = tracker.log(
        RunRecord(
            gate="retrain",
            tags={"poc2prod.decision": "promoted" if better else "kept"},
            params={"recipe": recipe.label, "window_rows": n_window, "training_rows": len(X_fit)},
            metrics={f"window_{name}_champion": old, f"window_{name}_challenger": new},
            documents={"recipe.json": recipe.to_dict()},
            model=challenger,
        )
    )
    result = RetrainResult(
        name=spec.name,
        champion_version=champion.version,
        decision="promoted" if better else "kept",
        reason=reason,
        metric=name,
        champion=float(old),
        challenger=float(new),
        difference_interval=(float(lo), float(hi)),
        window_rows=n_window,
        training_rows=len(X_fit),
        new_version=0,
        recipe=recipe.label,
        run_id=run_id,
        seconds=0.0,
    )
    # What deploy needs of this run (it registers the challenger from the retrain record).
    extra = {
        "threshold": threshold,
        "model": recipe.label,
        "holdout": {name: float(new)},
        "recipe": recipe.to_dict(),
    }
    project.remember("retrain", {**result.to_dict(), **extra})
    from poc2prod.gates._deploy import run_deploy
    from poc2prod.store._registry import CHALLENGER, CHAMPION

    # A kept challenger is registered too, as `challenger`: `serve --shadow` scores it beside the
    # champion on live traffic, where it can prove itself on rows the window did not have.
    alias = CHAMPION if better else CHALLENGER
    result.new_version = run_deploy(project, source_gate="retrain", alias=alias).version
    result.seconds = time.monotonic() - started
    project.remember("retrain", {**result.to_dict(), **extra})
    return result


def _champion_recipe(project: Project, settings: dict[str, Any]) -> Recipe:
    """How the champion was built: the optimize gate's recipe, or the proven model's."""
    from poc2prod.learn._recipe import Recipe

    gate, run = settings.get("source_gate"), settings.get("source_run")
    doc = project.last(gate) if gate else None
    if doc is None or doc.get("run_id") != run:
        raise ProjectError(
            f"the recipe of the champion (from the {gate} run {run}) is no longer in the project; "
            f"run `poc2prod optimize -C {project.root}` and deploy, then retrain."
        )
    if gate in ("optimize", "retrain"):
        return Recipe.from_dict(doc["optimized"]["recipe"] if gate == "optimize" else doc["recipe"])
    best = doc["best"]
    if best.get("weights"):
        members = tuple(Recipe(m) for m in best["weights"])
        return Recipe("ensemble", members=members, weights=tuple(best["weights"].values()))
    return Recipe(best["model"])


def _fit(recipe: Recipe, ctx, X: pd.DataFrame, y: np.ndarray, task: str, n_classes: int | None):
    """The recipe fitted on all of ``X``, calibrated on its own out-of-fold scores when it says so."""
    model = recipe.build(ctx).fit(X, y)
    if not recipe.calibration or task != "binary":
        return model
    from sklearn.model_selection import StratifiedKFold

    from poc2prod.learn import predict
    from poc2prod.learn._calibrate import CalibratedModel, Calibrator

    oof = np.zeros(len(y))
    for train, test in StratifiedKFold(_FOLDS, shuffle=True, random_state=ctx.seed).split(X, y):
        fold = recipe.build(ctx).fit(X.iloc[train], y[train])  # as the final fit: blends included
        oof[test] = predict(fold, X.iloc[test], task, n_classes)
    return CalibratedModel(model, Calibrator(recipe.calibration).fit(oof, y))

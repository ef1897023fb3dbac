"""The deploy gate: the approved model becomes a registered, versioned bundle with the champion alias.

The model comes from the latest optimize run (or, without one, the latest prove run), checked
against its recorded SHA-256. The bundle adds what serving and monitoring need: the frozen
schema, the threshold, the value model, the metrics that justified it, and reference statistics
of the training rows. ``version=K`` moves the champion alias back (or forward) to version K.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from poc2prod.errors import ProjectError
from poc2prod.gates._prepare import prepare
from poc2prod.gates._prove import _clean
from poc2prod.store import RunRecord, Tracker, load_model
from poc2prod.store._registry import CHAMPION, list_versions, promote, register

if TYPE_CHECKING:
    from poc2prod.project import Project

_REFERENCE_ROWS = 50_000
_QUESTIONS = 20_000  # known questions an intent service searches for similar ones


@dataclass
class DeployResult:
    """Which version is champion now, where it came from, and what it was judged on."""

    name: str
    version: int
    previous: int | None
    action: str  # "registered" | "promoted"
    source_gate: str | None
    source_run: str | None
    threshold: float | None
    metrics: dict[str, float]
    model_uri: str
    run_id: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy; the shape of ``deploy --json``."""
        return _clean(dataclasses.asdict(self))


def run_deploy(
    project: Project,
    *,
    version: int | None = None,
    source_gate: str | None = None,
    alias: str = CHAMPION,
    until: str | None = None,
) -> DeployResult:
    """Register the best model so far as a new champion version, or make ``version`` champion.

    ``source_gate`` names the gate whose latest model to register (the retrain gate's challenger);
    by default the latest optimize run's, else prove's. ``alias`` ``challenger`` registers it to
    shadow the champion instead of replacing it. ``until`` (recommend only) fits the recommender
    on the interactions before that time, to replay what followed (a backtest).
    """
    if until is not None and project.spec.task != "recommend":
        raise ProjectError("--until applies to task: recommend, whose model is refitted at deploy.")
    spec = project.spec
    uri = project.tracking_uri
    before = [v for v in list_versions(uri, spec.name) if v.champion]
    previous = before[0].version if before else None
    if version is not None:
        v = promote(uri, spec.name, version)
        return DeployResult(
            name=spec.name,
            version=v.version,
            previous=previous,
            action="promoted",
            source_gate=v.tags.get("poc2prod.source_gate"),
            source_run=v.tags.get("poc2prod.source_run"),
            threshold=float(v.tags["poc2prod.threshold"]) if "poc2prod.threshold" in v.tags else None,
            metrics=v.metrics(),
            model_uri=f"models:/{spec.name}@{CHAMPION}",
            run_id=v.run_id,
        )

    gates = (source_gate,) if source_gate else ("optimize", "prove")
    gate, source = next(((g, doc) for g in gates if (doc := project.last(g)) is not None), (None, None))
    if source is None:
        raise ProjectError(
            f"nothing to deploy yet; run `poc2prod prove -C {project.root}` (and optimize) first."
        )
    tracker = Tracker(uri, spec.name, project.artifact_root)
    build = _recommend_bundle if spec.task == "recommend" else _model_bundle
    made = build(project, gate, source, until)
    settings = {
        "name": spec.name,
        "scenario": spec.task,
        "value": spec.value.model_dump(),
        "criteria": [str(c) for c in spec.criteria],
        "primary_metric": spec.primary,
        "source_gate": gate,
        "source_run": source["run_id"],
        "deployed_at": time.time(),
        **made.settings,
    }
    threshold, holdout, label = made.settings["threshold"], made.settings["holdout"], made.settings["model"]
    record = RunRecord(
        gate="deploy",
        tags={"poc2prod.source_gate": gate, "poc2prod.source_run": source["run_id"]},
        params={"model": label, "threshold": threshold, **made.params},
        metrics={f"holdout_{k}": v for k, v in holdout.items() if isinstance(v, int | float)},
        documents={"bundle.json": settings, "schema.json": made.schema, "reference.json": made.reference},
        model=made.model,
    )
    run_id, sha = tracker.log(record)
    tags = {
        "poc2prod.source_gate": gate,
        "poc2prod.source_run": source["run_id"],
        "poc2prod.threshold": repr(threshold),
        "poc2prod.model": label,
        **{
            f"poc2prod.holdout.{k.replace('@', '_at_')}": repr(float(v))
            for k, v in holdout.items()
            if isinstance(v, int | float) and np.isfinite(v)
        },
    }
    try:
        new = register(uri, spec.name, run_id, sha256=sha, tags=tags, alias=alias)
    except Exception as e:
        # No half-made deployment: the run without its registry entry is removed.
        from poc2prod.store._tracking import _client, _first_line

        _client(uri).delete_run(run_id)
        raise ProjectError(
            f"the model could not be registered ({_first_line(e)}); nothing was deployed."
        ) from None
    result = DeployResult(
        name=spec.name,
        version=new,
        previous=previous,
        action="registered",
        source_gate=gate,
        source_run=source["run_id"],
        threshold=threshold,
        metrics={k: float(v) for k, v in holdout.items() if isinstance(v, int | float)},
        model_uri=f"models:/{spec.name}@{alias}",
        run_id=run_id,
    )
    if alias == CHAMPION:
        project.remember("deploy", result.to_dict())
    return result


@dataclass
class _Made:
    """What a deployment registers besides the common settings: the model, its own serving
    settings (task, features or catalogue, threshold, holdout metrics, label), the schema its
    inputs are checked against, and the reference monitoring compares traffic with."""

    model: Any
    settings: dict[str, Any]
    schema: dict[str, Any]
    reference: dict[str, Any]
    params: dict[str, Any]


def _model_bundle(project: Project, gate: str, source: dict[str, Any], until: str | None) -> _Made:
    """A classifier or regressor: the source run's model as it is, with the frozen schema and the
    training rows' reference statistics."""
    spec = project.spec
    model = load_model(project.tracking_uri, source["run_id"])
    prep = prepare(project, notes=[])
    if gate == "optimize":
        threshold = float(source["threshold"])
        holdout = source["optimized"]["holdout"]
        label = source["optimized"]["model"]
        uses_dates = _uses_dates(source["optimized"]["recipe"])
    elif gate == "retrain":
        threshold = float(source["threshold"])
        holdout = source["holdout"]
        label = source["model"]
        uses_dates = _uses_dates(source["recipe"])
    else:
        threshold = float(source["threshold"])
        holdout = source["best"]["holdout"]
        label = source["best"]["model"]
        uses_dates = False
    numeric, categorical = prep.numeric, prep.categorical
    dates = prep.dates if uses_dates else []
    X = prep.X_train[[*numeric, *categorical, *dates, *prep.texts]]
    if len(X) > _REFERENCE_ROWS:
        X = X.iloc[np.sort(np.random.default_rng(0).choice(len(X), _REFERENCE_ROWS, replace=False))]
    from poc2prod.learn import predict
    from poc2prod.monitor import reference_stats

    scores = predict(model, X, spec.problem, prep.n_classes)
    classes = prep.schema.target.classes
    reference = reference_stats(X, numeric, categorical, scores, texts=prep.texts, classes=classes)
    settings = {
        "task": spec.problem,
        "numeric": numeric,
        "categorical": categorical,
        "dates": dates,
        "texts": prep.texts,
        "threshold": threshold,
        "classes": prep.schema.target.classes,
        "positive_class": prep.schema.target.positive_class,
        "id_column": spec.columns.id,
        "holdout": holdout,
        "model": label,
        **(_intent_settings(project, prep) if spec.task == "text-intent" else {}),
    }
    params = {"features": len(numeric) + len(categorical) + len(dates)}
    return _Made(model, settings, prep.schema.model_dump(mode="json"), reference, params)


def _recommend_bundle(project: Project, gate: str, source: dict[str, Any], until: str | None) -> _Made:
    """A recommender: the source run's recipe refitted on the whole interaction log (production
    recommends from everything known; with ``until``, from what came before it), with its ids,
    item names and the fallback list, and as reference the catalogue's popularity that monitoring
    compares purchases and lists with."""
    from poc2prod.gates._prepare_recommend import prepare_log
    from poc2prod.recommend._deployed import DeployedRecommender
    from poc2prod.recommend._recipe import build, label

    spec = project.spec
    if gate == "optimize":
        recipe, holdout = source["optimized"]["recipe"], source["optimized"]["holdout"]
    else:
        recipe = source["best"].get("recipe") or {"model": source["best"]["model"], "params": {}}
        holdout = source["best"]["holdout"]
    prep = prepare_log(project)
    log = prep.log
    if until is not None:
        from poc2prod.recommend import time_split

        log = time_split(log, holdout=until).train
    model = DeployedRecommender(build(recipe), log)
    from poc2prod.monitor._recommend import recommend_reference

    reference = recommend_reference(log, model, holdout, spec.recommend.k)
    settings = {
        "task": "recommend",
        "threshold": 0.0,
        "k": spec.recommend.k,
        "holdout": holdout,
        "model": label(recipe),
        "recipe": recipe,
        "users": model.n_users,
        "items": model.n_items,
        "item_values": _item_values(prep, log, spec.value),
        "trained_until": str(np.datetime_as_string(log.time.max(), unit="s")),
    }
    schema = {"columns": [], "roles": {"user": spec.columns.user, "item": spec.columns.item}}
    params = {"interactions": len(log), "users": model.n_users, "items": model.n_items, "until": until}
    return _Made(model, settings, schema, reference, params)


def _item_values(prep, log, value) -> list[float] | None:
    """Money per accepted recommendation of each item of ``log``'s catalogue (None when nothing is
    priced)."""
    prices = None if prep.prices is None else prep.prices[np.searchsorted(prep.log.items, log.items)]
    earned = value.per_accepted(prices, log.n_items)
    return None if earned is None else [round(float(v), 4) for v in earned]


def _intent_settings(project: Project, prep) -> dict[str, Any]:
    """What an intent service returns besides the intent: the answer templates, and the training
    queries (with their intents) it searches for the questions nearest to an unsure one."""
    from poc2prod.tasks import load_answers

    spec = project.spec
    classes = prep.schema.target.classes or []
    answers: dict[str, str] = {}
    if spec.answers:
        answers, _ = load_answers(project.root / spec.answers, classes)
    rows = np.arange(len(prep.X_train))
    if len(rows) > _QUESTIONS:
        rows = np.sort(np.random.default_rng(0).choice(rows, _QUESTIONS, replace=False))
    text = prep.texts[0]  # the service searches the first text column's values (Predictor.respond)
    return {
        "answers": answers,
        "questions": {
            "texts": prep.X_train[text].iloc[rows].fillna("").astype(str).tolist(),
            "intents": [str(classes[k]) for k in prep.y_train[rows]],
        },
    }


def _uses_dates(recipe: dict[str, Any]) -> bool:
    """Whether a recipe (or one of its members) turns date columns into features."""
    return bool(recipe["features"].get("dates")) or any(
        m["features"].get("dates") for m in recipe.get("members", [])
    )

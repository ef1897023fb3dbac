"""Recipes: a recommender described as JSON, so a run can record it and a later gate rebuild it.

A recipe is ``{"model": name, "params": {...}}`` for one of :data:`MODELS`, or
``{"model": "blend", "members": [recipe, ...], "weights": [...]}``. Tuning draws recipes from
:func:`suggest` (Optuna's trial API), and deploy refits the chosen one on the whole log.

>>> build({"model": "blend", "members": [{"model": "item_knn", "params": {"shrink": 0.0}},
...                                     {"model": "most_popular", "params": {}}], "weights": [0.8, 0.2]})
Blend(members=[ItemKNN(shrink=0.0), MostPopular()], weights=[0.8, 0.2])
"""

from __future__ import annotations

from typing import Any

from poc2prod.errors import ProjectError
from poc2prod.recommend._models import ALS, Blend, ItemKNN, MostPopular

MODELS = {
    "most_popular": MostPopular,
    "most_popular_30d": lambda **p: MostPopular(**{"window_days": 30, **p}),
    "item_knn": ItemKNN,
    "als": ALS,
}
TUNED = ("item_knn", "als")  # the personal models optimize searches; the popular lists have nothing to tune


def build(recipe: dict[str, Any]):
    """The unfitted recommender a recipe describes."""
    name = recipe.get("model")
    if name == "blend":
        return Blend([build(m) for m in recipe["members"]], [float(w) for w in recipe["weights"]])
    if name not in MODELS:
        raise ProjectError(f"unknown recommender {name!r} in a recipe; known: {', '.join(MODELS)}, blend.")
    return MODELS[name](**recipe.get("params", {}))


def label(recipe: dict[str, Any]) -> str:
    """A short name for the leaderboard: ``als``, or ``blend(item_knn 0.6, als 0.4)``."""
    if recipe["model"] != "blend":
        return recipe["model"]
    parts = (f"{m['model']} {w:.2f}" for m, w in zip(recipe["members"], recipe["weights"], strict=True))
    return f"blend({', '.join(parts)})"


def suggest(trial) -> dict[str, Any]:
    """A recipe drawn by an Optuna ``trial``: the family first, then its own settings (named
    ``family.setting``, so each family's settings are sampled from its own trials only)."""
    family = trial.suggest_categorical("model", list(TUNED))
    if family == "item_knn":
        params = {
            "neighbours": trial.suggest_int("item_knn.neighbours", 10, 1000, log=True),
            "shrink": trial.suggest_float("item_knn.shrink", 0.0, 200.0),
            "alpha": trial.suggest_float("item_knn.alpha", 0.2, 0.9),
        }
    else:
        params = {
            "factors": trial.suggest_int("als.factors", 16, 192, log=True),
            "regularization": trial.suggest_float("als.regularization", 1e-3, 30.0, log=True),
            "alpha": trial.suggest_float("als.alpha", 0.5, 40.0, log=True),
            "iterations": trial.suggest_int("als.iterations", 4, 20),
        }
    return {"model": family, "params": params}


def defaults(family: str) -> dict[str, Any]:
    """A family's default settings as trial parameters, to enqueue as its first trial."""
    model = MODELS[family]()
    names = {
        "item_knn": ("neighbours", "shrink", "alpha"),
        "als": ("factors", "regularization", "alpha", "iterations"),
    }
    return {"model": family, **{f"{family}.{n}": getattr(model, n) for n in names[family]}}


def from_params(params: dict[str, Any]) -> dict[str, Any]:
    """The recipe of a finished trial, from its parameters."""
    family = params["model"]
    own = {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith(f"{family}.")}
    return {"model": family, "params": own}

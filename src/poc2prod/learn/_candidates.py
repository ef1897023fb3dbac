"""The candidate models a gate races, each a scikit-learn pipeline with its family's preprocessing.

Candidates are listed cheapest first, so a tight budget always yields a baseline and a linear
model before the slower learners start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poc2prod.learn._preprocess import Family, make_preprocessor


@dataclass(frozen=True)
class Context:
    """What a candidate needs to know to build its pipeline."""

    task: str
    numeric: list[str]
    categorical: list[str]
    n_rows: int = 10_000  # training rows per fit, for size-dependent defaults
    seed: int = 0
    n_jobs: int = 2
    validation: str = "random"  # "last" when rows are in time order
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    """A named model recipe: its preprocessing family and a factory for its estimator."""

    name: str
    family: Family
    make: Callable[[Context], Any]
    early_stopping: bool = False

    def build(self, ctx: Context):
        """A fresh, unfitted pipeline: preprocessing then the model."""
        from sklearn.pipeline import Pipeline

        return Pipeline(
            [
                ("prep", make_preprocessor(self.family, ctx.numeric, ctx.categorical)),
                ("model", self.make(ctx)),
            ]
        )


def _dummy(ctx: Context):
    from sklearn.dummy import DummyClassifier, DummyRegressor

    return DummyRegressor() if ctx.task == "regression" else DummyClassifier(strategy="prior")


def _linear(ctx: Context):
    from sklearn.linear_model import LogisticRegression, Ridge

    if ctx.task == "regression":
        return Ridge(alpha=ctx.params.get("alpha", 1.0))
    return LogisticRegression(C=ctx.params.get("C", 0.5), max_iter=2000)


def _booster(library: str) -> Callable[[Context], Any]:
    def make(ctx: Context):
        from poc2prod.learn._boosters import Booster

        return Booster(
            library=library,
            task=ctx.task,
            validation=ctx.validation,
            n_jobs=ctx.n_jobs,
            random_state=ctx.seed,
            n_estimators=ctx.params.get("n_estimators"),
            learning_rate=ctx.params.get("learning_rate", 0.03),
            params=ctx.params.get("library_params"),
            n_seeds=ctx.params.get("n_seeds", 1),
        )

    return make


def _forest(extra: bool) -> Callable[[Context], Any]:
    def make(ctx: Context):
        from sklearn import ensemble as e

        classify = ctx.task != "regression"
        cls = {
            (True, True): e.ExtraTreesClassifier,
            (True, False): e.RandomForestClassifier,
            (False, True): e.ExtraTreesRegressor,
            (False, False): e.RandomForestRegressor,
        }[(classify, extra)]
        kw = {
            "n_estimators": ctx.params.get("n_estimators", 300),
            "min_samples_leaf": 3 if extra else 2,
            "max_features": "sqrt" if classify else 0.5,
            "n_jobs": ctx.n_jobs,
            "random_state": ctx.seed,
        }
        return cls(**kw)

    return make


def _mlp(ctx: Context):
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    # Small data wants a small, strongly regularised net and small batches (enough updates per
    # epoch for early stopping to see progress); large data a wider net and larger batches.
    small = ctx.n_rows < 5_000
    kw = {
        "hidden_layer_sizes": (32,) if small else (64, 32),
        "alpha": 0.1 if small else 0.01,
        "batch_size": int(np.clip(ctx.n_rows // 40, 32, 512)),
        "learning_rate_init": 1e-3,
        "max_iter": 300,
        "early_stopping": True,
        "validation_fraction": 0.15,
        "n_iter_no_change": 20,
        "random_state": ctx.seed,
    }
    if ctx.task != "regression":
        return MLPClassifier(**kw)
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import StandardScaler

    return TransformedTargetRegressor(MLPRegressor(**kw), transformer=StandardScaler())


CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in [
        Candidate("dummy", "dense", _dummy),
        Candidate("logistic_regression", "dense", _linear),
        Candidate("lightgbm", "native", _booster("lightgbm"), early_stopping=True),
        Candidate("xgboost", "native", _booster("xgboost"), early_stopping=True),
        Candidate("extra_trees", "ordinal", _forest(extra=True)),
        Candidate("random_forest", "ordinal", _forest(extra=False)),
        Candidate("mlp", "dense", _mlp),
    ]
}


def candidate_names(task: str) -> list[str]:
    """Candidate names for ``task``, cheapest first (the linear one is ridge for regression)."""
    names = list(CANDIDATES)
    if task == "regression":
        return [n if n != "logistic_regression" else "ridge" for n in names]
    return names


def get_candidate(name: str) -> Candidate:
    """The candidate called ``name`` (``ridge`` is the linear candidate under its regression name)."""
    return CANDIDATES["logistic_regression" if name == "ridge" else name]

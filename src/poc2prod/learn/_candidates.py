"""The candidate models a gate races, each a scikit-learn pipeline with its family's preprocessing.

Candidates are listed cheapest first, so a tight budget always yields a baseline and a linear
model before the slower learners start. Each tunable candidate carries its search space (what the
optimize gate lets Optuna vary) and its defaults (what the prove gate uses, and the first trial
of a study, so tuning starts from the proven configuration).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poc2prod.learn._features import FeaturePlan
from poc2prod.learn._preprocess import _BINS, Family, make_preprocessor

# name -> (kind, low, high, log scale): a search space in a form Optuna and JSON both take.
Space = dict[str, tuple[str, float, float, bool]]


@dataclass(frozen=True)
class Context:
    """What a candidate needs to know to build its pipeline."""

    task: str
    numeric: list[str]
    categorical: list[str]
    n_rows: int = 10_000  # training rows per fit, for size-dependent defaults
    seed: int = 0
    n_jobs: int = 2
    n_classes: int | None = None
    texts: list[str] = field(default_factory=list)  # free-text columns, for the text candidates
    validation: str = "random"  # "last" when rows are in time order
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    """A named model recipe: its preprocessing family and a factory for its estimator."""

    name: str
    family: Family
    make: Callable[[Context], Any]
    early_stopping: bool = False
    space: Space | None = None
    defaults: Callable[[Context], dict[str, Any]] = lambda ctx: {}
    text: bool = False  # learns from text columns (raced for text tasks only)
    # Work every fold shares, done once before the folds within the seconds given (None: done;
    # else why it could not be): sentence embeddings of all texts.
    warm: Callable[[Any, Context, float], str | None] | None = None

    def build(self, ctx: Context, features: FeaturePlan | None = None):
        """A fresh, unfitted pipeline: engineered features (if any), preprocessing, then the model."""
        from sklearn.pipeline import Pipeline

        steps = []
        numeric = list(ctx.numeric)
        if features is not None and not features.empty:
            from poc2prod.learn._features import FeatureEngineer

            steps.append(("features", FeatureEngineer(features, ctx.task, ctx.n_classes, ctx.seed)))
            numeric += features.added(ctx.n_classes)
        # The preprocessing's settings (bins, n-grams) fall back to this candidate's defaults.
        settings = {**self.defaults(ctx), **ctx.params}
        prep = make_preprocessor(self.family, numeric, ctx.categorical, ctx.texts, settings)
        steps.append(("prep", prep))
        steps.append(("model", self.make(ctx)))
        return Pipeline(steps)

    def suggest(self, trial, ctx: Context) -> dict[str, Any]:
        """Parameters for one Optuna trial, drawn from this candidate's space (names prefixed by it)."""
        out: dict[str, Any] = {}
        for key, (kind, low, high, log) in (self.space or {}).items():
            suggest = trial.suggest_int if kind == "int" else trial.suggest_float
            out[key] = suggest(f"{self.name}.{key}", low, high, log=log)
        return out


def _dummy(ctx: Context):
    from sklearn.dummy import DummyClassifier, DummyRegressor

    return DummyRegressor() if ctx.task == "regression" else DummyClassifier(strategy="prior")


def _linear(ctx: Context):
    from sklearn.linear_model import LogisticRegression, Ridge

    if ctx.task == "regression":
        return Ridge(alpha=ctx.params.get("C", 1.0) ** -1)
    return LogisticRegression(C=ctx.params.get("C", 0.1), max_iter=2000)


def _linear_defaults(ctx: Context) -> dict[str, Any]:
    # Each quantile bin needs enough rows for its weight to mean something: deciles from 2,500
    # training rows up, fewer bins below (three on a thousand-row credit file).
    return {"C": 1.0 if ctx.task == "regression" else 0.1, "bins": int(np.clip(ctx.n_rows // 250, 3, _BINS))}


def _booster(library: str, learning_rate: float = 0.03) -> Callable[[Context], Any]:
    def make(ctx: Context):
        from poc2prod.learn._boosters import Booster

        params = dict(ctx.params)
        return Booster(
            library=library,
            task=ctx.task,
            validation=ctx.validation,
            n_jobs=ctx.n_jobs,
            random_state=ctx.seed,
            n_estimators=params.pop("n_estimators", None),
            learning_rate=params.pop("learning_rate", learning_rate),
            n_seeds=params.pop("n_seeds", 1),
            params=params or None,  # the rest are the library's own parameters
        )

    return make


def _tempered_svc(ctx: Context):
    from poc2prod.learn._text import TemperedLinearSVC

    return TemperedLinearSVC(C=ctx.params.get("C", 0.5), random_state=ctx.seed)


def _encode_ahead(X, ctx: Context, seconds: float) -> str | None:
    from poc2prod.learn._text import encode_ahead

    return encode_ahead(X, ctx, seconds)


def _text_logistic(ctx: Context):
    from sklearn.linear_model import LogisticRegression

    # Unit-length embeddings separate best with little regularisation.
    return LogisticRegression(C=ctx.params.get("C", 10.0), max_iter=1000)


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
            "n_estimators": 300,
            "min_samples_leaf": ctx.params.get("min_samples_leaf", 3 if extra else 2),
            "max_features": ctx.params.get("max_features", "sqrt" if classify else 0.5),
            "n_jobs": ctx.n_jobs,
            "random_state": ctx.seed,
        }
        return cls(**kw)

    return make


def _mlp(ctx: Context):
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    # Small data wants a small, strongly regularised net and small batches (enough updates per
    # epoch for early stopping to see progress); large data a wider net and larger batches.
    p = {**_mlp_defaults(ctx), **ctx.params}
    width = int(p["width"])
    kw = {
        "hidden_layer_sizes": (width,) if p["layers"] == 1 else (width, max(8, width // 2)),
        "alpha": p["alpha"],
        "batch_size": int(np.clip(ctx.n_rows // 40, 32, 512)),
        "learning_rate_init": p["learning_rate_init"],
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


def _mlp_defaults(ctx: Context) -> dict[str, Any]:
    small = ctx.n_rows < 5_000
    return {
        "width": 32 if small else 64,
        "layers": 1 if small else 2,
        "alpha": 0.1 if small else 0.01,
        "learning_rate_init": 1e-3,
    }


def _forest_defaults(extra: bool) -> Callable[[Context], dict[str, Any]]:
    def defaults(ctx: Context) -> dict[str, Any]:
        n = max(1, len(ctx.numeric) + len(ctx.categorical))
        share = float(np.clip(n**-0.5, 0.05, 1.0)) if ctx.task != "regression" else 0.5
        return {"max_features": share, "min_samples_leaf": 3 if extra else 2}

    return defaults


_LIGHTGBM: Space = {
    "learning_rate": ("float", 0.01, 0.2, True),
    "num_leaves": ("int", 4, 256, True),
    "min_child_samples": ("int", 5, 200, True),
    "subsample": ("float", 0.5, 1.0, False),
    "colsample_bytree": ("float", 0.2, 1.0, False),
    "reg_lambda": ("float", 1e-3, 30.0, True),
    "reg_alpha": ("float", 1e-3, 10.0, True),
}
_XGBOOST: Space = {
    "learning_rate": ("float", 0.01, 0.2, True),
    "max_depth": ("int", 2, 10, False),
    "min_child_weight": ("float", 0.5, 50.0, True),
    "subsample": ("float", 0.5, 1.0, False),
    "colsample_bytree": ("float", 0.2, 1.0, False),
    "reg_lambda": ("float", 1e-3, 30.0, True),
    "reg_alpha": ("float", 1e-3, 10.0, True),
}
_CATBOOST: Space = {
    "learning_rate": ("float", 0.02, 0.2, True),
    "depth": ("int", 4, 8, False),
    "l2_leaf_reg": ("float", 0.5, 30.0, True),
    "random_strength": ("float", 0.1, 10.0, True),
    "bagging_temperature": ("float", 0.0, 1.0, False),
}
_FOREST: Space = {"max_features": ("float", 0.05, 1.0, False), "min_samples_leaf": ("int", 1, 50, True)}
_MLP: Space = {
    "width": ("int", 16, 256, True),
    "layers": ("int", 1, 2, False),
    "alpha": ("float", 1e-5, 1.0, True),
    "learning_rate_init": ("float", 1e-4, 1e-2, True),
}
_CATBOOST_RATE = 0.05
_BOOSTER_DEFAULTS = {
    "learning_rate": 0.03,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "reg_alpha": 1e-3,
}

CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in [
        Candidate("dummy", "dense", _dummy),
        Candidate(
            "logistic_regression",
            "binned",
            _linear,
            space={"C": ("float", 1e-3, 100.0, True), "bins": ("int", 2, 20, True)},
            defaults=_linear_defaults,
        ),
        Candidate(
            "lightgbm",
            "native",
            _booster("lightgbm"),
            early_stopping=True,
            space=_LIGHTGBM,
            defaults=lambda ctx: {**_BOOSTER_DEFAULTS, "num_leaves": 31, "min_child_samples": 20},
        ),
        Candidate(
            "xgboost",
            "native",
            _booster("xgboost"),
            early_stopping=True,
            space=_XGBOOST,
            defaults=lambda ctx: {**_BOOSTER_DEFAULTS, "max_depth": 6, "min_child_weight": 1.0},
        ),
        # Symmetric trees with ordered target statistics for categories: slower per round than
        # the other two, but unlike them, so blends gain from it (bench/prove_vs_automl.py).
        Candidate(
            "catboost",
            "native",
            _booster("catboost", learning_rate=_CATBOOST_RATE),
            early_stopping=True,
            space=_CATBOOST,
            defaults=lambda ctx: {
                "learning_rate": _CATBOOST_RATE,
                "depth": 6,
                "l2_leaf_reg": 3.0,
                "random_strength": 1.0,
                "bagging_temperature": 1.0,
            },
        ),
        Candidate(
            "extra_trees", "ordinal", _forest(extra=True), space=_FOREST, defaults=_forest_defaults(True)
        ),
        Candidate(
            "random_forest", "ordinal", _forest(extra=False), space=_FOREST, defaults=_forest_defaults(False)
        ),
        Candidate("mlp", "dense", _mlp, space=_MLP, defaults=_mlp_defaults),
        Candidate(
            "tfidf_svm",
            "tfidf",
            _tempered_svc,
            space={
                "C": ("float", 0.05, 5.0, True),
                "word_ngrams": ("int", 1, 3, False),
                "char_max": ("int", 3, 6, False),
            },
            defaults=lambda ctx: {"C": 0.5, "word_ngrams": 2, "char_max": 5},
            text=True,
        ),
        Candidate(
            "embedding_logistic",
            "embedding",
            _text_logistic,
            space={"C": ("float", 0.5, 200.0, True)},
            defaults=lambda ctx: {"C": 10.0},
            text=True,
            warm=_encode_ahead,
        ),
    ]
}


def candidate_names(task: str, text: bool = False) -> list[str]:
    """Candidate names for ``task``, cheapest first (the linear one is ridge for regression); for a
    text task, the baseline and the text candidates (the embedding one when its extra is installed)."""
    if text:
        from poc2prod.learn._text import embeddings_available

        names = ["dummy", *(n for n, c in CANDIDATES.items() if c.text)]
        return [n for n in names if n != "embedding_logistic" or embeddings_available()]
    names = [n for n, c in CANDIDATES.items() if not c.text]
    if task == "regression":
        return [n if n != "logistic_regression" else "ridge" for n in names]
    return names


def get_candidate(name: str) -> Candidate:
    """The candidate called ``name`` (``ridge`` is the linear candidate under its regression name)."""
    return CANDIDATES["logistic_regression" if name == "ridge" else name]

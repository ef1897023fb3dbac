"""Fit one AutoML anchor on a given train/holdout split and report its holdout ROC AUC.

Run by prove_vs_automl.py with the anchor's own interpreter (bench/.venv-flaml or bench/.venv-autogluon):

    python _anchor_run.py TOOL TRAIN.parquet HOLDOUT.parquet TARGET POSITIVE BUDGET SEED OUT.json PRESETS

TOOL is flaml or autogluon. PRESETS is AutoGluon's `presets` (medium_quality against the prove gate,
best_quality against optimize); FLAML has no such setting and ignores it.

The target is compared as text on both sides (POSITIVE arrives as text on the command line), so a
class stored as 2 in one file and "2" in another is still the same class. Each tool is called the way
its own documentation shows, with nothing tuned beyond the metric, the time budget, the seed and
AutoGluon's presets.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time

import pandas as pd
from sklearn.metrics import roc_auc_score


def fit_flaml(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    target: str,
    positive: str,
    budget: float,
    seed: int,
    presets: str,
):
    del presets  # AutoGluon's; FLAML's search has no counterpart
    import flaml
    from flaml import AutoML

    automl = AutoML()
    started = time.monotonic()
    automl.fit(
        train.drop(columns=[target]),
        train[target],
        task="classification",
        metric="roc_auc",
        time_budget=budget,
        seed=seed,
        verbose=0,
    )
    fitted = time.monotonic()
    proba = automl.predict_proba(holdout.drop(columns=[target]))
    score = proba[:, list(automl.classes_).index(positive)]
    timing = {"fit_seconds": fitted - started, "fit_predict_seconds": time.monotonic() - started}
    return score, {"version": flaml.__version__, "best": automl.best_estimator, **timing}


def fit_autogluon(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    target: str,
    positive: str,
    budget: float,
    seed: int,
    presets: str,
):
    # AutoGluon's fit has no run-level seed: each of its models uses its own fixed default seed.
    # best_quality bags and stacks its models (and may check on a holdout of its own whether
    # stacking helps): its documented call all the same, the presets and the time limit.
    import autogluon.tabular as agt
    from autogluon.tabular import TabularPredictor

    with tempfile.TemporaryDirectory(prefix="autogluon-") as tmp:
        models = f"{tmp}/models"  # a folder AutoGluon creates itself: an existing one makes it warn
        predictor = TabularPredictor(label=target, eval_metric="roc_auc", path=models, verbosity=0)
        started = time.monotonic()
        predictor.fit(train, presets=presets, time_limit=budget)
        fitted = time.monotonic()
        proba = predictor.predict_proba(holdout.drop(columns=[target]))
        score = proba[positive].to_numpy()
        timing = {"fit_seconds": fitted - started, "fit_predict_seconds": time.monotonic() - started}
        failures = predictor.model_failures()
        detail = {
            "version": agt.__version__,
            "presets": presets,
            "best": predictor.model_best,
            "models": predictor.model_names(),
            # A model that crashed (e.g. a library mismatch) would silently weaken the anchor.
            "failed_models": {
                row.model: f"{row.exc_type}: {row.exc_str}"[:300] for row in failures.itertuples()
            },
            **timing,
        }
    return score, detail


def main(
    tool: str,
    train_path: str,
    holdout_path: str,
    target: str,
    positive: str,
    budget: float,
    seed: int,
    out: str,
    presets: str,
) -> None:
    train, holdout = pd.read_parquet(train_path), pd.read_parquet(holdout_path)
    train[target] = train[target].astype(str)
    holdout[target] = holdout[target].astype(str)
    fit = {"flaml": fit_flaml, "autogluon": fit_autogluon}[tool]
    score, detail = fit(train, holdout, target, positive, budget, seed, presets)
    result = {"tool": tool, "roc_auc": float(roc_auc_score(holdout[target] == positive, score)), **detail}
    # Row by row, for the paired interval of the difference to poc2prod on the same holdout.
    result["scores"] = [float(v) for v in score]
    with open(out, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    if len(sys.argv) != 10:
        sys.exit(__doc__)
    a = sys.argv[1:]
    main(a[0], a[1], a[2], a[3], a[4], float(a[5]), int(a[6]), a[7], a[8])

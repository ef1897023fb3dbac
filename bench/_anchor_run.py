"""Fit one AutoML anchor on a given train/holdout split and report its holdout ROC AUC.

Run by prove_vs_automl.py with the anchors' own interpreter (bench/.venv-flaml or bench/.venv-autogluon):

    python _anchor_run.py {flaml|autogluon} train.parquet holdout.parquet TARGET POSITIVE BUDGET SEED OUT.json
"""

from __future__ import annotations

import json
import sys
import tempfile
import time

import pandas as pd
from sklearn.metrics import roc_auc_score


def main(
    tool: str,
    train_path: str,
    holdout_path: str,
    target: str,
    positive: str,
    budget: float,
    seed: int,
    out: str,
) -> None:
    train, holdout = pd.read_parquet(train_path), pd.read_parquet(holdout_path)
    y_true = (holdout[target].astype(str) == positive).astype(int)
    started = time.monotonic()
    if tool == "flaml":
        import flaml
        from flaml import AutoML

        automl = AutoML()
        automl.fit(
            train.drop(columns=[target]),
            train[target].astype(str),
            task="classification",
            metric="roc_auc",
            time_budget=budget,
            seed=seed,
            verbose=0,
        )
        proba = automl.predict_proba(holdout.drop(columns=[target]))
        column = list(automl.classes_).index(positive)
        score = proba[:, column]
        version, detail = flaml.__version__, {"best_estimator": automl.best_estimator}
    else:
        import autogluon.tabular as agt
        from autogluon.tabular import TabularPredictor

        with tempfile.TemporaryDirectory() as tmp:
            data = train.assign(**{target: train[target].astype(str)})
            predictor = TabularPredictor(label=target, eval_metric="roc_auc", path=tmp, verbosity=0)
            predictor.fit(data, presets="medium_quality", time_limit=budget)
            proba = predictor.predict_proba(holdout.drop(columns=[target]))
            score = proba[positive].to_numpy()
            version = agt.__version__
            detail = {"best_model": predictor.model_best, "models": len(predictor.model_names())}
    seconds = time.monotonic() - started
    result = {
        "tool": tool,
        "version": version,
        "roc_auc": float(roc_auc_score(y_true, score)),
        "fit_predict_seconds": seconds,
        **detail,
    }
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], a[2], a[3], a[4], float(a[5]), int(a[6]), a[7])

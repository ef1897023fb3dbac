"""The Predictor: a deployed model behind one small interface: validate rows, score, decide, explain.

Rows arrive as JSON objects. Validation holds each field against the frozen schema in plain
Python (a request is a few rows; pandas would cost more than the model). A LightGBM pipeline is
scored on a float matrix straight through LightGBM's booster, bypassing pandas (categories become
the codes the pipeline would give them, unseen ones missing, exactly as in training); any other
model goes through its scikit-learn pipeline on a DataFrame. Both paths give the same scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from poc2prod.store._registry import Bundle


@dataclass
class Problem:
    """A field of a row that cannot be scored (an error) or that is scored but worth flagging."""

    row: int
    field: str
    problem: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "problem": self.problem}


@dataclass
class Batch:
    """Validated rows: their values per feature, and what was flagged."""

    values: list[list[Any]]  # per row, one value per feature in Predictor.features order
    flags: list[list[str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)


class Predictor:
    """Serve one deployed version: ``validate`` → ``score`` → ``decide`` (and ``explain``)."""

    def __init__(self, bundle: Bundle, threads: int = 1):
        s = bundle.settings
        self.name, self.version = bundle.name, bundle.version
        self.task: str = s["task"]
        self.threshold: float = float(s["threshold"])
        self.classes: list[Any] = s.get("classes") or []
        self.numeric: list[str] = list(s["numeric"])
        self.categorical: list[str] = list(s["categorical"])
        self.dates: list[str] = list(s.get("dates") or [])
        self.features = [*self.numeric, *self.categorical, *self.dates]
        self.id_column: str | None = s.get("id_column")
        self.model = bundle.model
        self.threads = threads
        columns = {c["name"]: c for c in bundle.schema["columns"]}
        self._columns = [columns[f] for f in self.features]
        self._float_categories = {c["name"] for c in self._columns if c["dtype"].startswith("float")}
        self._known = {c["name"]: set(c.get("categories") or []) for c in self._columns}
        self._reference = bundle.reference
        self._fast = _LightGBMPath.compile(self.model, self.numeric, self.categorical)

    # -- validation ------------------------------------------------------------------------

    def validate(self, rows: Any) -> tuple[Batch, list[Problem]]:
        """Check ``rows`` (a list of JSON objects) against the frozen schema.

        The batch keeps one entry per row, in order; a row with errors has incomplete values.

        Returns the batch and the errors; a batch with errors must not be scored. A missing field
        and a wrong type are errors; ``null`` is a missing value (the model was trained with
        those); an unseen category and a number outside the training range are scored and flagged.
        """
        errors: list[Problem] = []
        if not isinstance(rows, list) or not rows:
            return Batch([]), [Problem(-1, "rows", "expected a non-empty list of rows (JSON objects)")]
        values, flags = [], []
        n_numeric, n_known = len(self.numeric), len(self.numeric) + len(self.categorical)
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                errors.append(Problem(i, "", f"row {i} is {_kind(row)}, expected a JSON object"))
                values.append([])
                flags.append([])
                continue
            out, notes = [], []
            for j, col in enumerate(self._columns):
                name = col["name"]
                if name not in row:
                    errors.append(Problem(i, name, "missing; send null when the value is unknown"))
                    continue
                v = row[name]
                if v is None:
                    out.append(None)
                elif j >= n_known:
                    if not isinstance(v, str):
                        errors.append(Problem(i, name, f"expected a date as text (ISO 8601), got {_kind(v)}"))
                        continue
                    out.append(v)
                elif j < n_numeric:
                    if (isinstance(v, bool) and col["kind"] != "boolean") or not isinstance(v, int | float):
                        errors.append(Problem(i, name, f"expected a number, got {_kind(v)}"))
                        continue
                    v = float(v)
                    if not math.isfinite(v):
                        errors.append(Problem(i, name, "expected a finite number"))
                        continue
                    lo, hi = col.get("min"), col.get("max")
                    if lo is not None and v < lo:
                        notes.append(f"{name} below the training range (min {lo:g})")
                    elif hi is not None and v > hi:
                        notes.append(f"{name} above the training range (max {hi:g})")
                    out.append(v)
                else:
                    if isinstance(v, str):
                        text = v
                    elif isinstance(v, int | float) and not isinstance(v, bool):
                        text = str(float(v)) if name in self._float_categories else str(v)
                    elif isinstance(v, bool):
                        text = str(v)
                    else:
                        errors.append(Problem(i, name, f"expected a category (text), got {_kind(v)}"))
                        continue
                    if text not in self._known[name]:
                        notes.append(f"{name}: unseen category {text[:40]!r}, scored as missing")
                    out.append(text)
            values.append(out)
            flags.append(notes)
        return Batch(values, flags), errors

    # -- scoring ---------------------------------------------------------------------------

    def score(self, batch: Batch) -> np.ndarray:
        """P(positive) for a binary task, class probabilities for multiclass, values for regression."""
        if self._fast is not None:
            return self._fast.score(self._fast.matrix(batch.values), self.threads)
        from poc2prod.learn import predict

        return predict(self.model, self.frame(batch), self.task, len(self.classes) or None)

    def frame(self, batch: Batch) -> pd.DataFrame:
        """The batch as the DataFrame the pipeline was trained on."""
        cols = list(zip(*batch.values, strict=True)) if batch.values else [[] for _ in self.features]
        data = {}
        for name, col in zip(self.features, cols, strict=True):
            if name in self.numeric:
                data[name] = np.array([np.nan if v is None else v for v in col], dtype=float)
            elif name in self.dates:
                data[name] = pd.to_datetime(pd.Series(col, dtype=object), errors="coerce", format="mixed")
            else:
                data[name] = pd.Series(col, dtype=object)
        return pd.DataFrame(data)

    def decide(self, scores: np.ndarray) -> list[dict[str, Any]]:
        """Per row: the score and the decision at the deployed threshold (or the label / value)."""
        if self.task == "binary":
            pos = self.classes[-1] if self.classes else 1
            neg = self.classes[0] if self.classes else 0
            return [
                {
                    "score": float(s),
                    "decision": pos if s >= self.threshold else neg,
                    "positive": bool(s >= self.threshold),
                }
                for s in scores
            ]
        if self.task == "multiclass":
            return [
                {
                    "label": self.classes[int(k)],
                    "probabilities": dict(zip(self.classes, map(float, p), strict=True)),
                }
                for k, p in zip(scores.argmax(axis=1), scores, strict=True)
            ]
        return [{"prediction": float(v)} for v in scores]

    # -- explanations ----------------------------------------------------------------------

    def explain(self, batch: Batch, top: int = 3) -> tuple[list[list[dict[str, Any]]], str]:
        """The ``top`` reasons per row: features whose values moved the score most, with the sign.

        LightGBM gives exact SHAP values (in log-odds for classifiers); other models are explained
        by occlusion: the score change when a feature is replaced by its typical training value.
        """
        if self._fast is not None and self.task != "multiclass":
            contrib = self._fast.contributions(self._fast.matrix(batch.values), self.threads)
            method = "tree_shap"
        else:
            contrib = self._occlusion(batch)
            method = "occlusion"
        out = []
        for values, row in zip(batch.values, contrib, strict=True):
            order = np.argsort(-np.abs(row))[:top]
            out.append(
                [
                    {
                        "feature": self.features[j],
                        "value": values[j],
                        "contribution": float(row[j]),
                        "effect": "raises the score" if row[j] > 0 else "lowers the score",
                    }
                    for j in order
                    if row[j] != 0
                ]
            )
        return out, method

    def _occlusion(self, batch: Batch) -> np.ndarray:
        typical = [self._typical(f) for f in self.features]
        n, k = len(batch), len(self.features)
        variants = [list(r) for r in batch.values]
        for r in batch.values:
            for j in range(k):
                v = list(r)
                v[j] = typical[j]
                variants.append(v)
        scores = self.score(Batch(variants))
        if scores.ndim == 2:
            scores = scores.max(axis=1)
        base = scores[:n]
        occluded = scores[n:].reshape(n, k)
        return base[:, None] - occluded

    def _typical(self, name: str) -> Any:
        ref = self._reference.get("features", {}).get(name, {})
        if ref.get("kind") == "numeric":
            sample = ref.get("sample") or [0.0]
            return float(np.median(sample))
        shares = ref.get("shares") or {}
        return max(shares, key=shares.get) if shares else None

    def openapi(self) -> dict[str, Any]:
        """An OpenAPI 3.1 document for this version's endpoints, generated from the frozen schema."""
        from poc2prod.serve._openapi import document

        return document(self)


def _kind(v: Any) -> str:
    return {bool: "true/false", str: "text", list: "a list", dict: "an object"}.get(type(v), type(v).__name__)


class _LightGBMPath:
    """Scores a NativeCategories → LightGBM pipeline (optionally calibrated) on a float matrix."""

    def __init__(self, boosters, codes: list[dict[str, int]], n_numeric: int, calibrator, task: str):
        self.boosters = boosters
        self.codes = codes
        self.n_numeric = n_numeric
        self.calibrator = calibrator
        self.task = task

    @classmethod
    def compile(cls, model, numeric: list[str], categorical: list[str]) -> _LightGBMPath | None:
        from sklearn.pipeline import Pipeline

        from poc2prod.learn._boosters import Booster
        from poc2prod.learn._calibrate import CalibratedModel
        from poc2prod.learn._preprocess import NativeCategories

        calibrator = None
        if isinstance(model, CalibratedModel):
            calibrator, model = model.calibrator, model.model
        if not isinstance(model, Pipeline) or [n for n, _ in model.steps] != ["prep", "model"]:
            return None
        prep, est = model.named_steps["prep"], model.named_steps["model"]
        if not (
            isinstance(prep, NativeCategories) and isinstance(est, Booster) and est.library == "lightgbm"
        ):
            return None
        if list(prep.feature_names_in_) != [*numeric, *categorical]:
            return None
        codes = [{str(v): i for i, v in enumerate(prep.dtypes_[c].categories)} for c in categorical]
        return cls([m.booster_ for m in est.models_], codes, len(numeric), calibrator, est.task)

    def matrix(self, values: list[list[Any]]) -> np.ndarray:
        k = self.n_numeric
        out = np.empty((len(values), k + len(self.codes)), dtype=np.float64)
        for i, row in enumerate(values):
            out[i, :k] = [np.nan if v is None else v for v in row[:k]]
            out[i, k:] = [
                np.nan if v is None else c.get(v, np.nan) for v, c in zip(row[k:], self.codes, strict=True)
            ]
        return out

    def score(self, X: np.ndarray, threads: int) -> np.ndarray:
        raw = sum(b.predict(X, num_threads=threads) for b in self.boosters) / len(self.boosters)
        if self.task == "binary" and self.calibrator is not None:
            return self.calibrator.transform(raw)
        return raw

    def contributions(self, X: np.ndarray, threads: int) -> np.ndarray:
        contrib = sum(b.predict(X, pred_contrib=True, num_threads=threads) for b in self.boosters)
        return (contrib / len(self.boosters))[:, :-1]  # the last column is the expected value

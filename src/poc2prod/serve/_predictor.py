"""The Predictor: a deployed model behind one small interface: validate rows, score, decide, explain.

Rows arrive as JSON objects. Validation holds each field against the frozen schema a column at a
time (a list comprehension and a type set per column, then NumPy), because that is what keeps a
100-row request cheaper than its model call; a request with anything unusual (a missing field, a
wrong type) is checked again field by field, which finds and words every problem. A LightGBM
pipeline is scored on a float matrix straight through LightGBM's booster, bypassing pandas
(categories become the codes the pipeline would give them, unseen ones missing, exactly as in
training); any other model goes through its scikit-learn pipeline on a DataFrame. Both paths give
the same scores.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from poc2prod.serve._lightgbm import LightGBMPath
from poc2prod.serve._text import TextPath
from poc2prod.store._registry import Bundle

_NUMBERS = {int, float, type(None)}
# A value this large is no measurement: past it, scaling and linear models overflow float64 (one
# such value turned a whole micro-batch into a 500).
LARGEST = 1e15
_TEXTS = {str, type(None)}


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
    """Validated rows, held by column: what the model scores and the prediction log keeps."""

    numbers: np.ndarray  # (rows, numeric features) floats, NaN where missing
    texts: list[list[str | None]]  # per categorical, then per date feature: one entry per row
    flags: list[list[str]]  # per row: what was scored but is worth flagging

    def __len__(self) -> int:
        return len(self.flags)

    @classmethod
    def from_rows(
        cls, rows: Sequence[Sequence[Any]], n_numeric: int, n_texts: int, flags: list[list[str]]
    ) -> Batch:
        """A batch from each row's values in feature order (numeric features first; None is missing)."""
        numbers = np.array([r[:n_numeric] for r in rows], dtype=np.float64).reshape(len(rows), n_numeric)
        texts = [list(c) for c in zip(*(r[n_numeric:] for r in rows), strict=True)] if rows else []
        return cls(numbers, texts or [[] for _ in range(n_texts)], flags)

    @classmethod
    def concat(cls, batches: Sequence[Batch]) -> Batch:
        """The rows of ``batches``, in order, as one batch."""
        if len(batches) == 1:
            return batches[0]
        return cls(
            np.concatenate([b.numbers for b in batches]),
            [list(itertools.chain.from_iterable(c)) for c in zip(*(b.texts for b in batches), strict=True)],
            [f for b in batches for f in b.flags],
        )

    def take(self, rows: Sequence[int]) -> Batch:
        """The batch of ``rows`` only."""
        return Batch(
            self.numbers[list(rows)],
            [[c[i] for i in rows] for c in self.texts],
            [self.flags[i] for i in rows],
        )

    def row(self, i: int) -> list[Any]:
        """Row ``i``'s values in feature order (None where missing)."""
        return [None if math.isnan(v) else v for v in self.numbers[i].tolist()] + [c[i] for c in self.texts]

    def inputs(self, numeric: Sequence[str], texts: Sequence[str]) -> dict[str, Any]:
        """The rows' inputs as the prediction log keeps them: the numeric features' names and their
        values as one row-major float matrix (orjson writes it several times faster than lists;
        NaN becomes null), and each text feature's values by name."""
        return {
            "numeric": list(numeric),
            "numbers": np.ascontiguousarray(self.numbers),
            "texts": dict(zip(texts, self.texts, strict=True)),
        }


class Predictor:
    """Serve one deployed version: ``validate`` → ``score`` → ``decide`` (and ``explain``)."""

    def __init__(self, bundle: Bundle, threads: int = 1):
        s = bundle.settings
        self.name, self.version = bundle.name, bundle.version
        self.task: str = s["task"]
        self.scenario: str = s.get("scenario", self.task)
        self.threshold: float = float(s["threshold"])
        self.classes: list[Any] = s.get("classes") or []
        self.numeric: list[str] = list(s["numeric"])
        self.categorical: list[str] = list(s["categorical"])
        self.dates: list[str] = list(s.get("dates") or [])
        self.free_texts: list[str] = list(s.get("texts") or [])
        self.features = [*self.numeric, *self.categorical, *self.dates, *self.free_texts]
        self.id_column: str | None = s.get("id_column")
        self.model = bundle.model
        self.threads = threads
        columns = {c["name"]: c for c in bundle.schema["columns"]}
        self._columns = [columns[f] for f in self.features]
        self._float_categories = {c["name"] for c in self._columns if c["dtype"].startswith("float")}
        self._known = {c["name"]: set(c.get("categories") or []) for c in self._columns}
        largest = float(np.finfo(np.float64).max)
        bounds = [(c.get("min"), c.get("max")) for c in self._columns[: len(self.numeric)]]
        self._low = np.array([-largest if lo is None else lo for lo, _ in bounds], dtype=np.float64)
        self._high = np.array([largest if hi is None else hi for _, hi in bounds], dtype=np.float64)
        self.texts = [*self.categorical, *self.dates, *self.free_texts]  # the features sent as text
        self._numeric_of = _getter(self.numeric)
        self.texts_of = _getter(self.texts) if self.texts else None
        self._reference = bundle.reference
        self._fast = LightGBMPath.compile(self.model, self.numeric, self.categorical)
        self._text_fast = TextPath.compile(self.model, self.free_texts)
        self.answers: dict[str, str] = dict(s.get("answers") or {})
        questions = s.get("questions")
        self._questions = None
        if questions and questions.get("texts"):
            from poc2prod.tasks import QuestionIndex

            self._questions = QuestionIndex(questions["texts"], questions["intents"])

    # -- validation ------------------------------------------------------------------------

    def validate(self, rows: Any) -> tuple[Batch, list[Problem]]:
        """Check ``rows`` (a list of JSON objects) against the frozen schema.

        Returns the batch (one entry per row, in order) and the errors; the rows with errors must
        not be scored (their faulty fields hold missing values). A missing field and a wrong type
        are errors; ``null`` is a missing value (the model was trained with those); an unseen
        category and a number outside the training range are scored and flagged.
        """
        if not isinstance(rows, list) or not rows:
            empty = Batch.from_rows([], len(self.numeric), len(self.texts), [])
            return empty, [Problem(-1, "rows", "expected a non-empty list of rows (JSON objects)")]
        batch = self._validate_columns(rows)
        return (batch, []) if batch is not None else self._validate_fields(rows)

    def _validate_columns(self, rows: list[Any]) -> Batch | None:
        """The batch, checked a column at a time; None when a row needs checking field by field."""
        try:
            numeric = list(map(self._numeric_of, rows))
            texts = list(map(self.texts_of, rows)) if self.texts_of else []
        except (KeyError, TypeError):  # a field is missing, or a row is not an object
            return None
        if not set(map(type, itertools.chain.from_iterable(numeric))) <= _NUMBERS:
            return None
        if not set(map(type, itertools.chain.from_iterable(texts))) <= _TEXTS:
            return None
        numbers = np.array(numeric, dtype=np.float64).reshape(len(rows), len(self.numeric))
        # The bounds are finite (the largest floats where training had none), so this also finds infinities.
        outside = (numbers < self._low) | (numbers > self._high)
        flags: list[list[str]] = [[] for _ in rows]
        if outside.any():
            if (np.abs(numbers) >= LARGEST).any():  # infinities too: refused field by field
                return None
            for i, j in zip(*np.nonzero(outside), strict=True):
                flags[i].append(self._range_note(self._columns[j], float(numbers[i, j])))
        columns = [list(c) for c in zip(*texts, strict=True)] if texts else []
        for name, column in zip(self.categorical, columns, strict=False):
            known = self._known[name]
            if not known.issuperset(v for v in column if v is not None):
                for i, v in enumerate(column):
                    if v is not None and v not in known:
                        flags[i].append(_unseen_note(name, v))
        return Batch(numbers, columns, flags)

    def _validate_fields(self, rows: list[Any]) -> tuple[Batch, list[Problem]]:
        """Every field of every row checked on its own: each problem is found and worded."""
        errors: list[Problem] = []
        values, flags = [], []
        n_numeric, n_known = len(self.numeric), len(self.numeric) + len(self.categorical)
        n_dated = n_known + len(self.dates)
        for i, row in enumerate(rows):
            out: list[Any] = [None] * len(self._columns)
            notes: list[str] = []
            values.append(out)
            flags.append(notes)
            if not isinstance(row, dict):
                errors.append(Problem(i, "", f"is {_kind(row)}, expected a JSON object"))
                continue
            for j, col in enumerate(self._columns):
                name = col["name"]
                if name not in row:
                    errors.append(Problem(i, name, "missing; send null when the value is unknown"))
                    continue
                v = row[name]
                if v is None:
                    continue
                if j >= n_dated:
                    if not isinstance(v, str):
                        errors.append(Problem(i, name, f"expected text, got {_kind(v)}"))
                        continue
                    out[j] = v
                elif j >= n_known:
                    if not isinstance(v, str):
                        errors.append(Problem(i, name, f"expected a date as text (ISO 8601), got {_kind(v)}"))
                        continue
                    out[j] = v
                elif j < n_numeric:
                    if (isinstance(v, bool) and col["kind"] != "boolean") or not isinstance(v, int | float):
                        errors.append(Problem(i, name, f"expected a number, got {_kind(v)}"))
                        continue
                    v = float(v)
                    if not math.isfinite(v):
                        errors.append(Problem(i, name, "expected a finite number"))
                        continue
                    if abs(v) >= LARGEST:
                        errors.append(
                            Problem(i, name, f"{v:g} is too large to score; send a value under 1e15")
                        )
                        continue
                    if not (self._low[j] <= v <= self._high[j]):
                        notes.append(self._range_note(col, v))
                    out[j] = v
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
                        notes.append(_unseen_note(name, text))
                    out[j] = text
        return Batch.from_rows(values, n_numeric, len(self.texts), flags), errors

    def _range_note(self, col: dict[str, Any], v: float) -> str:
        if col.get("min") is not None and v < col["min"]:
            return f"{col['name']} below the training range (min {col['min']:g})"
        return f"{col['name']} above the training range (max {col['max']:g})"

    # -- scoring ---------------------------------------------------------------------------

    def score(self, batch: Batch) -> np.ndarray:
        """P(positive) for a binary task, class probabilities for multiclass, values for regression."""
        if self._fast is not None:
            return self._fast.score(self._fast.matrix(batch), self.threads)
        if self._text_fast is not None:
            return self._text_fast.score(batch.texts)
        from poc2prod.learn import predict

        return predict(self.model, self.frame(batch), self.task, len(self.classes) or None)

    def frame(self, batch: Batch) -> pd.DataFrame:
        """The batch as the DataFrame the pipeline was trained on."""
        data: dict[str, Any] = dict(zip(self.numeric, batch.numbers.T, strict=True))
        for name, col in zip(self.texts, batch.texts, strict=True):
            if name in self.dates:
                data[name] = pd.to_datetime(pd.Series(col, dtype=object), errors="coerce", format="mixed")
            else:
                data[name] = pd.Series(col, dtype=object)
        return pd.DataFrame(data, index=pd.RangeIndex(len(batch)))

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
        if self.scenario == "text-intent":
            return self._route(scores)
        if self.task == "multiclass":
            return [
                {
                    "label": self.classes[int(k)],
                    "probabilities": dict(zip(self.classes, map(float, p), strict=True)),
                }
                for k, p in zip(scores.argmax(axis=1), scores, strict=True)
            ]
        return [{"prediction": float(v)} for v in scores]

    def _route(self, scores: np.ndarray) -> list[dict[str, Any]]:
        """Per query: the intent, its probability, whether it goes to a person (probability under
        the threshold) and the next most likely intents (the whole distribution would be 77 numbers
        per answer, in every response and every log line)."""
        top = np.argsort(-scores, axis=1)[:, :3]
        out = []
        for row, idx in zip(scores, top, strict=True):
            confidence = float(row[idx[0]])
            out.append(
                {
                    "label": self.classes[int(idx[0])],
                    "confidence": confidence,
                    "routed": confidence < self.threshold,
                    "alternatives": [
                        {"label": self.classes[int(k)], "probability": float(row[k])} for k in idx[1:]
                    ],
                }
            )
        return out

    def respond(self, batch: Batch, answers: list[dict[str, Any]], similar: int = 3) -> list[dict[str, Any]]:
        """The answers as the caller receives them: for intents, the answer template of a confident
        query, and the known questions most like an unsure one for the person it is routed to."""
        if self.scenario != "text-intent":
            return answers
        out = [dict(a) for a in answers]
        routed = [i for i, a in enumerate(out) if a["routed"]]
        for a in out:
            if not a["routed"]:
                a["answer"] = self.answers.get(str(a["label"]))
        if routed and self._questions is not None:
            column = batch.texts[self.texts.index(self.free_texts[0])]
            for i, near in zip(
                routed, self._questions.nearest([column[i] for i in routed], similar), strict=True
            ):
                out[i]["similar"] = near
        return out

    # -- explanations ----------------------------------------------------------------------

    def explain(self, batch: Batch, top: int = 3) -> tuple[list[list[dict[str, Any]]], str]:
        """The ``top`` reasons per row: features whose values moved the score most, with the sign.

        LightGBM gives exact SHAP values (in log-odds for classifiers); other models are explained
        by occlusion: the score change when a feature is replaced by its typical training value.
        """
        if self.free_texts:
            return self._word_reasons(batch, top), "word_occlusion"
        if self._fast is not None and self.task != "multiclass":
            contrib = self._fast.contributions(self._fast.matrix(batch), self.threads)
            method = "tree_shap"
        else:
            contrib = self._occlusion(batch)
            method = "occlusion"
        out = []
        for i, row in enumerate(contrib):
            values = batch.row(i)
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

    def _word_reasons(self, batch: Batch, top: int, max_words: int = 40) -> list[list[dict[str, Any]]]:
        """Per row, the words of its text(s) whose removal changes the score most: the predicted
        class's probability (P(positive) for a binary task) with and without each word."""
        import re

        base = self.score(batch)
        picked = base.argmax(axis=1) if base.ndim == 2 else None
        variants, owners = [], []
        for i in range(len(batch)):
            row = batch.row(i)
            for name in self.free_texts:
                j = self.features.index(name)
                words = re.findall(r"\S+", row[j] or "")[:max_words]
                for w in range(len(words)):
                    v = list(row)
                    v[j] = " ".join(words[:w] + words[w + 1 :])
                    variants.append(v)
                    owners.append((i, name, words[w]))
        out: list[list[dict[str, Any]]] = [[] for _ in range(len(batch))]
        if not variants:
            return out
        scores = self.score(
            Batch.from_rows(variants, len(self.numeric), len(self.texts), [[] for _ in variants])
        )
        for (i, name, word), s in zip(owners, scores, strict=True):
            before = base[i, picked[i]] if picked is not None else base[i]
            after = s[picked[i]] if picked is not None else s
            change = float(before - after)
            if change:
                out[i].append(
                    {
                        "feature": name,
                        "word": word,
                        "contribution": change,
                        "effect": "raises the score" if change > 0 else "lowers the score",
                    }
                )
        return [sorted(r, key=lambda d: -abs(d["contribution"]))[:top] for r in out]

    def _occlusion(self, batch: Batch) -> np.ndarray:
        typical = [self._typical(f) for f in self.features]
        n, k = len(batch), len(self.features)
        rows = [batch.row(i) for i in range(n)]
        variants = list(rows)
        for r in rows:
            for j in range(k):
                v = list(r)
                v[j] = typical[j]
                variants.append(v)
        scores = self.score(
            Batch.from_rows(variants, len(self.numeric), len(self.texts), [[] for _ in variants])
        )
        if scores.ndim == 2:
            scores = scores.max(axis=1)
        base = scores[:n]
        occluded = scores[n:].reshape(n, k)
        return base[:, None] - occluded

    def example(self) -> Batch:
        """One row of typical training values (each feature's median or most common value)."""
        return Batch.from_rows(
            [[self._typical(f) for f in self.features]], len(self.numeric), len(self.texts), [[]]
        )

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


def _getter(names: list[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The values of ``names`` in a row, as a tuple (KeyError for a missing one); operator.itemgetter
    is the fastest way Python has, but gives a bare value for a single name."""
    if len(names) == 1:
        name = names[0]
        return lambda row: (row[name],)
    return operator.itemgetter(*names) if names else (lambda row: ())


def _unseen_note(name: str, text: str) -> str:
    return f"{name}: unseen category {text[:40]!r}, scored as missing"


def _kind(v: Any) -> str:
    kinds = {
        bool: "true/false",
        str: "text",
        list: "a list",
        dict: "an object",
        int: "a number",
        float: "a number",
    }
    return "null" if v is None else kinds.get(type(v), type(v).__name__)


def describe(v: Any) -> str:
    """A client's JSON value, short, for an error sentence: text quoted and cut, a list or an object
    named (never printed: one nested a thousand deep cannot be), null as JSON says it."""
    if v is None or isinstance(v, bool):
        return {None: "null", True: "true", False: "false"}[v]
    if isinstance(v, str):
        return repr(v[:40] + ("..." if len(v) > 40 else ""))
    if isinstance(v, int | float):
        text = repr(v)
        return text if len(text) <= 40 else text[:20] + "..."
    return _kind(v)

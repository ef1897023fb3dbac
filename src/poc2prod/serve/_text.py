"""Scoring a TF-IDF + linear SVM pipeline on a few texts, without scikit-learn's per-call machinery.

A served query is one short text. Through its pipeline (column transformer, function transformer,
feature union, two vectorisers, sparse matrices, input checks) scoring it costs some 3 ms, almost
all of it fixed cost per call; the arithmetic is a few hundred n-gram lookups and a dot product.
So the fitted vocabularies, IDF weights and SVM coefficients are read out once, and each text is
scored with those: n-grams from each vectoriser's own analyser, sublinear TF × IDF, L2-normalised
per vectoriser (as ``TfidfVectorizer`` does), the class margins as one gather and dot product, then
the tempered softmax. The path is used only after it has reproduced ``predict_proba`` on probe texts
to 1e-6 (the pipeline holds its TF-IDF weights in float32, the path in float64).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from poc2prod.learn._text import TemperedLinearSVC, class_margins, tempered_softmax

_PROBES = [
    "",
    "my card has not arrived yet",
    "Why was I charged TWICE?? 😠",
    "how do i top up by bank transfer from another country",
]


class TextPath:
    """Class probabilities of a TF-IDF + :class:`TemperedLinearSVC` pipeline, one text at a time."""

    def __init__(self, model, column: str):
        prep, svm = model.named_steps["prep"], model.named_steps["model"]
        union = prep.named_transformers_["text0"].named_steps["featureunion"]
        self.column = column
        self._parts = []
        offset = 0
        for _, vectorizer in union.transformer_list:
            self._parts.append((vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_, offset))
            offset += len(vectorizer.vocabulary_)
        self._coef = np.asarray(svm.svm_.coef_, dtype=np.float64)  # (classes, features), or (1, f)
        self._intercept = np.asarray(svm.svm_.intercept_, dtype=np.float64)
        self._temperature = float(svm.temperature_)
        self.classes_ = svm.classes_

    @classmethod
    def compile(cls, model: object, texts: Sequence[str]) -> TextPath | None:
        """The fast path for ``model`` when it is a TF-IDF + tempered SVM pipeline over the one text
        column in ``texts`` and nothing else, whose probabilities it reproduces; else None (the
        pipeline then scores as usual)."""
        import pandas as pd

        try:
            if list(model.named_steps) != ["prep", "model"]:  # engineered features: not this shape
                return None
            prep, svm = model.named_steps["prep"], model.named_steps["model"]
            parts = prep.transformers_
        except (AttributeError, KeyError):
            return None
        only_text = [p for p in parts if p[0] != "remainder" or p[1] != "drop"]
        if not isinstance(svm, TemperedLinearSVC) or len(only_text) != 1 or only_text[0][0] != "text0":
            return None
        column = only_text[0][2]
        if len(texts) != 1 or column != texts[0]:
            return None
        try:
            path = cls(model, column)
            frame = pd.DataFrame({column: pd.Series(_PROBES, dtype=object)})
            expected = model.predict_proba(frame)
            if np.allclose(path.score([_PROBES]), expected, rtol=0, atol=1e-6):
                return path
        except (AttributeError, KeyError, TypeError, ValueError):
            pass
        return None

    def score(self, columns: Sequence[Sequence[str | None]]) -> np.ndarray:
        """Probabilities per row of the one text column (``columns[0]``; None is an empty text)."""
        texts = columns[0]
        margins = np.empty((len(texts), len(self._coef)), dtype=np.float64)
        for i, text in enumerate(texts):
            margins[i] = self._margin("" if text is None else text)
        return tempered_softmax(class_margins(margins), self._temperature)

    def _margin(self, text: str) -> np.ndarray:
        index: list[int] = []
        weight: list[float] = []
        for analyze, vocabulary, idf, offset in self._parts:
            counts = Counter(j for g in analyze(text) if (j := vocabulary.get(g)) is not None)
            if not counts:
                continue
            values = [(1.0 + math.log(c)) * idf[j] for j, c in counts.items()]
            norm = math.sqrt(sum(v * v for v in values))
            index += [offset + j for j in counts]
            weight += [v / norm for v in values]
        if not index:
            return self._intercept.copy()
        return self._coef[:, index] @ np.asarray(weight) + self._intercept

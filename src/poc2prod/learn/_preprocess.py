"""Preprocessing per model family, fitted inside each fold so nothing leaks from validation rows.

* ``dense``: median imputation with missing indicators, scaling, one-hot categories (MLP).
* ``binned``: ``dense``, with each number also one-hot coded by its quantile bin, as a credit
  scorecard does: a linear model then fits a step-shaped effect per column (risk that rises, then
  falls, with age or balance), which is most of what a tree learns that it cannot.
* ``ordinal``: median imputation and ordinal category codes (random forest, extra trees).
* ``native``: numbers as floats and categories as pandas categoricals that gradient-boosting
  libraries split on natively; categories unseen in training become missing.
* ``tfidf`` / ``embedding``: each text column as TF-IDF n-grams or as a sentence embedding
  (see ``_text``), beside the ``dense`` treatment of any numeric and categorical columns.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

Family = Literal["dense", "binned", "ordinal", "native", "tfidf", "embedding"]

# One-hot columns beyond this many categories per feature cost more than they give a linear model.
_MAX_ONE_HOT = 30
# Quantile bins per number for the binned family: deciles, the scorecard convention.
_BINS = 10


class NativeCategories(TransformerMixin, BaseEstimator):
    """Cast numbers to float and categories to a fixed ``pandas.CategoricalDtype`` learned in ``fit``;
    other columns are left out.

    >>> import pandas as pd
    >>> t = NativeCategories(["x"], ["c"]).fit(pd.DataFrame({"c": ["a", "b"], "x": [1, 2]}))
    >>> t.transform(pd.DataFrame({"c": ["b", "z"], "x": [3, 4]}))["c"].tolist()
    ['b', nan]
    """

    def __init__(
        self,
        numeric: list[str] | None = None,
        categorical: list[str] | None = None,
        max_categories: int = 255,
    ):
        self.numeric = numeric
        self.categorical = categorical
        self.max_categories = max_categories

    def fit(self, X: pd.DataFrame, y=None) -> NativeCategories:
        self.dtypes_ = {}
        for c in self.categorical or []:
            top = X[c].dropna().astype(str).value_counts().index[: self.max_categories]
            self.dtypes_[c] = pd.CategoricalDtype(sorted(top))
        self.feature_names_in_ = np.asarray([*(self.numeric or []), *(self.categorical or [])], dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = {}
        for c in self.feature_names_in_:
            if c in self.dtypes_:
                dtype = self.dtypes_[c]
                text = X[c].where(X[c].isna(), X[c].astype(str))
                # Unseen categories become missing here: pandas deprecates casting them silently.
                out[c] = text.where(text.isin(dtype.categories)).astype(dtype)
            else:
                out[c] = _finite(pd.to_numeric(X[c], errors="coerce"))
        return pd.DataFrame(out, index=X.index)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return self.feature_names_in_


class QuantileBins(TransformerMixin, BaseEstimator):
    """One-hot code each column of a numeric array by the quantile bin its value falls in.

    Edges are the training quantiles, merged where they tie (a column with many equal values gets
    fewer bins); a column with two values or fewer is left out, as its scaled copy already says all.

    >>> import numpy as np
    >>> b = QuantileBins(n_bins=2).fit(np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0]]))
    >>> b.transform(np.array([[1.5, 1.0], [9.0, 0.0]])).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """

    def __init__(self, n_bins: int = _BINS):
        self.n_bins = n_bins

    def fit(self, X, y=None) -> QuantileBins:
        X = np.asarray(X, dtype=float)
        inner = np.linspace(0, 1, self.n_bins + 1)[1:-1]
        self.edges_ = [np.unique(np.quantile(col, inner)) if len(np.unique(col)) > 2 else None for col in X.T]
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        blocks = []
        for col, edges in zip(X.T, self.edges_, strict=True):
            if edges is not None:
                # Right-closed bins, so a value equal to an edge (common: ties are why edges merge)
                # falls with the values below it, as it did when the edge was computed.
                blocks.append(np.eye(len(edges) + 1)[np.searchsorted(edges, col, side="left")])
        return np.hstack(blocks) if blocks else np.empty((len(X), 0))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        names = [f"x{i}" for i in range(self.n_features_in_)] if input_features is None else input_features
        pairs = zip(names, self.edges_, strict=True)
        out = [f"{n}_bin{k}" for n, e in pairs if e is not None for k in range(len(e) + 1)]
        return np.asarray(out, dtype=object)


def make_preprocessor(
    family: Family,
    numeric: list[str],
    categorical: list[str],
    texts: list[str] | None = None,
    params: dict | None = None,
):
    """A fresh, unfitted preprocessor for ``family`` over the given feature columns (text columns
    are used by the text families only; ``params`` may set the bins per number, or the TF-IDF
    n-gram lengths)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

    params = params or {}
    if family == "native":
        return NativeCategories(list(numeric), list(categorical))
    to_str = FunctionTransformer(_as_str, feature_names_out="one-to-one")
    to_float = FunctionTransformer(_as_float, feature_names_out="one-to-one")
    if family in ("dense", "binned", "tfidf", "embedding"):
        coded = StandardScaler()
        if family == "binned":
            coded = make_union(coded, QuantileBins(params.get("bins", _BINS)))
        num = make_pipeline(to_float, SimpleImputer(strategy="median", add_indicator=True), coded)
        cat = make_pipeline(
            to_str,
            OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                max_categories=_MAX_ONE_HOT,
                min_frequency=5,
                sparse_output=False,
            ),
        )
    else:
        num = make_pipeline(to_float, SimpleImputer(strategy="median", keep_empty_features=True))
        cat = make_pipeline(
            to_str,
            OrdinalEncoder(
                handle_unknown="use_encoded_value",
                unknown_value=-1,
                encoded_missing_value=-1,
                min_frequency=5,
            ),
        )
    parts = []
    if family in ("tfidf", "embedding"):
        from poc2prod.learn import _text

        for i, name in enumerate(texts or []):
            step = (
                _text.tfidf(params.get("word_ngrams", 2), params.get("char_max", 5))
                if family == "tfidf"
                else _text.SentenceEncoder()
            )
            parts.append((f"text{i}", step, name))  # a name, not a list: the step gets one column
    if numeric:
        parts.append(("num", num, list(numeric)))
    if categorical:
        parts.append(("cat", cat, list(categorical)))
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)


def _as_str(X):
    frame = pd.DataFrame(X)
    return frame.astype(object).where(frame.notna(), "__missing__").astype(str)


def _as_float(X):
    return _finite(pd.DataFrame(X).apply(pd.to_numeric, errors="coerce"))


def _finite(frame):
    # An infinity is a broken value (a division by zero upstream), not a large one: treat it as missing.
    return frame.astype(float).replace([np.inf, -np.inf], np.nan)

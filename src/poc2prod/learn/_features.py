"""Feature engineering learned inside each fold: what a model gets besides the raw columns.

Four families, each switched on per column by a :class:`FeaturePlan`:

* ``missing``: a 0/1 indicator per numeric column that has missing values (the gap itself can
  carry signal, e.g. an income left blank);
* ``frequency``: how common a category was in the training rows (unseen: 0);
* ``target``: the category's smoothed mean target, *cross-fitted*: a training row's encoding is
  learned from the other rows' labels only (scikit-learn's ``TargetEncoder``), so no row sees its
  own label and the encoder used on validation rows never saw them;
* ``dates``: year, month, day of month, day of week, hour and days since the epoch.

The engineer only adds numeric columns; the raw categorical columns pass through unchanged and
date columns are replaced by their parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

# A categorical column with at least this many levels counts as high-cardinality.
HIGH_CARDINALITY = 10
_DATE_PARTS = ("year", "month", "day", "dayofweek", "hour", "days")
FAMILIES = ("missing", "frequency", "target", "dates")


@dataclass(frozen=True)
class FeaturePlan:
    """Which engineered features to add, per family, as lists of the columns they apply to."""

    missing: tuple[str, ...] = ()
    frequency: tuple[str, ...] = ()
    target: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether the plan adds nothing."""
        return not any(getattr(self, f) for f in FAMILIES)

    def only(self, *families: str) -> FeaturePlan:
        """The same plan restricted to ``families``."""
        return FeaturePlan(**{f: getattr(self, f) if f in families else () for f in FAMILIES})

    def families(self) -> list[str]:
        """The families this plan uses."""
        return [f for f in FAMILIES if getattr(self, f)]

    def added(self, n_classes: int | None) -> list[str]:
        """Names of the numeric columns the plan adds, in output order."""
        te = [""] if not n_classes or n_classes <= 2 else [str(k) for k in range(n_classes)]
        return [
            *(f"{c}__missing" for c in self.missing),
            *(f"{c}__freq" for c in self.frequency),
            *(f"{c}__te{k}" for c in self.target for k in te),
            *(f"{c}__{p}" for c in self.dates for p in _DATE_PARTS),
        ]

    def to_dict(self) -> dict[str, list[str]]:
        """A JSON-ready copy."""
        return {k: list(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, doc: dict[str, Sequence[str]] | None) -> FeaturePlan:
        """The plan ``to_dict`` wrote."""
        return cls(**{k: tuple(v) for k, v in (doc or {}).items()})


def possible_plan(X: pd.DataFrame, categorical: Sequence[str], dates: Sequence[str]) -> FeaturePlan:
    """Every engineered feature that could apply to ``X`` (the candidates a gate then tests)."""
    numeric = [c for c in X.columns if c not in categorical and c not in dates]
    high = [c for c in categorical if X[c].nunique() >= HIGH_CARDINALITY]
    return FeaturePlan(
        missing=tuple(c for c in numeric if X[c].isna().any()),
        frequency=tuple(high),
        target=tuple(high),
        dates=tuple(dates),
    )


class FeatureEngineer(TransformerMixin, BaseEstimator):
    """Adds the plan's engineered columns to a frame; fitted on training rows only.

    >>> import pandas as pd
    >>> X = pd.DataFrame({"x": [1.0, None, 3.0, 4.0], "c": ["a", "a", "b", "a"]})
    >>> fe = FeatureEngineer(plan=FeaturePlan(missing=("x",), frequency=("c",)), task="binary")
    >>> fe.fit_transform(X, [0, 1, 0, 1])[["x__missing", "c__freq"]].to_numpy().tolist()
    [[0.0, 0.75], [1.0, 0.75], [0.0, 0.25], [0.0, 0.75]]
    """

    def __init__(
        self,
        plan: FeaturePlan | None = None,
        task: str = "binary",
        n_classes: int | None = None,
        random_state: int = 0,
    ):
        self.plan = plan
        self.task = task
        self.n_classes = n_classes
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y=None) -> FeatureEngineer:
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: pd.DataFrame, y=None, **fit_params: Any) -> pd.DataFrame:
        plan = self.plan or FeaturePlan()
        self.frequencies_ = {c: _as_str(X[c]).value_counts(normalize=True) for c in plan.frequency}
        encoded = None
        if plan.target:
            from sklearn.preprocessing import TargetEncoder

            kind = {"regression": "continuous", "binary": "binary"}.get(self.task, "multiclass")
            from sklearn.model_selection import KFold, StratifiedKFold

            splitter = KFold if kind == "continuous" else StratifiedKFold
            cv = splitter(5, shuffle=True, random_state=self.random_state)
            self.target_encoder_ = TargetEncoder(target_type=kind, cv=cv)
            # fit_transform cross-fits: each training row is encoded by a model of the other folds.
            encoded = self.target_encoder_.fit_transform(self._te_input(X), np.asarray(y))
        return self._add(X, encoded)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        encoded = (
            self.target_encoder_.transform(self._te_input(X)) if (self.plan or FeaturePlan()).target else None
        )
        return self._add(X, encoded)

    def _te_input(self, X: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({c: _as_str(X[c]) for c in self.plan.target}, index=X.index)

    def _add(self, X: pd.DataFrame, encoded: np.ndarray | None) -> pd.DataFrame:
        plan = self.plan or FeaturePlan()
        new: dict[str, Any] = {}
        for c in plan.missing:
            new[f"{c}__missing"] = X[c].isna().to_numpy(dtype=float)
        for c in plan.frequency:
            new[f"{c}__freq"] = _as_str(X[c]).map(self.frequencies_[c]).fillna(0.0).to_numpy(dtype=float)
        if encoded is not None:
            names = [n for n in plan.added(self.n_classes) if "__te" in n]
            new.update({n: encoded[:, i] for i, n in enumerate(names)})
        for c in plan.dates:
            t = pd.to_datetime(X[c], errors="coerce")
            parts = {
                "year": t.dt.year,
                "month": t.dt.month,
                "day": t.dt.day,
                "dayofweek": t.dt.day_of_week,
                "hour": t.dt.hour,
                "days": (t - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86_400,
            }
            new.update({f"{c}__{p}": parts[p].to_numpy(dtype=float) for p in _DATE_PARTS})
        kept = X.drop(columns=list(plan.dates))
        return pd.concat([kept, pd.DataFrame(new, index=X.index)], axis=1) if new else kept


def _as_str(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), "__missing__").astype(str)

"""What every learning gate starts from: the data loaded, checked against the frozen schema, split.

The prove gate freezes the schema and the holdout; later gates read them back, so every gate
trains on the same rows and is judged on the same untouched holdout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from poc2prod import data as d
from poc2prod.errors import DataError
from poc2prod.learn import Context

if TYPE_CHECKING:
    from poc2prod.project import Project
    from poc2prod.spec import DataSource

# Above this many training rows, three folds: each fold is already a large, low-noise validation set.
_FEW_FOLDS_ROWS = 100_000


@dataclass
class Prepared:
    """The labelled data of a project, its features, and its frozen train / holdout split."""

    frame: pd.DataFrame
    schema: d.Schema
    labelled: pd.DataFrame
    numeric: list[str]
    categorical: list[str]
    dates: list[str]
    texts: list[str]  # free-text columns: features of a text task only
    split: d.Split
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_hold: pd.DataFrame
    y_hold: np.ndarray
    train_frame: pd.DataFrame  # the training rows with every column, for time and group folds

    @property
    def features(self) -> list[str]:
        """Feature columns, in the order models see them."""
        return [*self.numeric, *self.categorical, *self.dates, *self.texts]

    @property
    def model_columns(self) -> list[str]:
        """The columns a candidate pipeline reads (dates only feed engineered features)."""
        return [*self.numeric, *self.categorical, *self.texts]

    @property
    def n_classes(self) -> int | None:
        """Number of classes of a classification target (None for regression)."""
        classes = self.schema.target.classes
        return len(classes) if classes else None

    def sample(self, max_cells: int, seed: int) -> tuple[np.ndarray, str | None]:
        """Positions of the training rows to learn from when at most ``max_cells`` cells fit the
        budget (all rows when they fit), with a note saying so when they do not."""
        n = len(self.X_train)
        rows = max_cells // max(1, len(self.features))
        if n <= rows:
            return np.arange(n), None
        keep = np.sort(np.random.default_rng(seed).choice(n, rows, replace=False))
        note = f"model selection used a random sample of {rows:,} of {n:,} training rows to fit the budget"
        return keep, note

    def folds(
        self, rows: np.ndarray, spec, notes: list[str] | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Cross-validation folds over the training rows at positions ``rows`` (positions into ``rows``)."""
        k = spec.split.folds
        if len(rows) > _FEW_FOLDS_ROWS and k > 3:
            k = 3
            if notes is not None:
                notes.append(f"{len(rows):,} rows in model selection: 3 folds instead of {spec.split.folds}")
        return d.cv_folds(self.train_frame.iloc[rows], self.y_train[rows], spec, n_splits=k)

    def context(self, spec, n_rows: int, **params: Any) -> Context:
        """The model-building context for this data."""
        return Context(
            task=spec.problem,
            numeric=self.numeric,
            categorical=self.categorical,
            texts=self.texts,
            seed=spec.split.seed,
            n_rows=n_rows,
            validation="last" if self.split.kind == "time" else "random",
            **params,
        )

    def newer(self, source: DataSource, base, named: str) -> tuple[pd.DataFrame, np.ndarray]:
        """Labelled rows of a newer data source (given as ``named``), checked against the frozen schema."""
        frame = self.schema.check(d.load(source, base, named))
        target = self.schema.target
        labelled = frame[frame[target.name].notna()]
        if labelled.empty:
            raise DataError(
                f"the newer data {source.source} has no labelled rows (column {target.name!r} is empty); "
                f"add outcomes to it or point {named} at labelled data."
            )
        return labelled[self.features], d.encode_target(labelled[target.name], target)


def prepare(
    project: Project,
    *,
    refreeze: bool = False,
    notes: list[str],
    emit: Callable[[str, dict[str, Any]], None] = lambda kind, info: None,
) -> Prepared:
    """Load the project's data, freeze (or read) its schema and holdout, and pick the features."""
    spec = project.spec
    emit("stage", {"name": "loading data"})
    frame = d.load(spec.data, project.root)
    schema = project.freeze_schema(frame, refreeze=refreeze, notes=notes)
    frame = schema.check(frame)
    target = schema.target
    labelled = frame[frame[target.name].notna()]
    y_all = d.encode_target(labelled[target.name], target)
    varying = [c for c in schema.features if labelled[c.name].nunique() > 1]
    numeric = [c.name for c in varying if c.kind in ("numeric", "boolean")]
    categorical = [c.name for c in varying if c.kind == "categorical"]
    dates = [c.name for c in varying if c.kind == "datetime"]
    texts = [c.name for c in varying if c.kind == "text"] if spec.is_text else []
    if spec.is_text and not texts:
        raise DataError(
            f"task {spec.task} needs a free-text column and none was found; name it under "
            "columns.text in poc2prod.yaml (e.g. `text: [query]`)."
        )
    if not numeric and not categorical and not texts:
        raise DataError(
            "no usable feature columns remain (every column is a role, dropped, constant, text or "
            "a date); add feature columns to the data or take columns out of columns.drop."
        )
    split = project.freeze_split(labelled, y_all, refreeze=refreeze, notes=notes)
    pos = pd.Series(np.arange(len(labelled)), index=labelled.index)
    tr, ho = pos.loc[split.train].to_numpy(), pos.loc[split.holdout].to_numpy()
    X = labelled[[*numeric, *categorical, *dates, *texts]]
    return Prepared(
        frame=frame,
        schema=schema,
        labelled=labelled,
        numeric=numeric,
        categorical=categorical,
        dates=dates,
        texts=texts,
        split=split,
        X_train=X.iloc[tr],
        y_train=y_all[tr],
        X_hold=X.iloc[ho],
        y_hold=y_all[ho],
        train_frame=labelled.iloc[tr],
    )

"""The schema: column kinds, roles, categories, ranges and missing rates, inferred once and frozen.

Later gates (and the prediction service) hold new data against the frozen schema, so a column that
disappears or changes type is caught where it enters, not deep inside a model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from poc2prod._io import atomic_write
from poc2prod.errors import DataError, SchemaError, TargetError
from poc2prod.spec import Spec

Kind = Literal["numeric", "boolean", "categorical", "datetime", "text"]
Role = Literal["feature", "target", "id", "time", "group", "dropped"]

_MAX_CATEGORIES = 1000
_TEXT_MIN_MEAN_LENGTH = 30


class ColumnSchema(BaseModel):
    """What one column was when the schema was frozen."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Kind
    role: Role
    dtype: str
    missing_rate: float
    n_unique: int
    min: float | str | None = None
    max: float | str | None = None
    categories: list[str] | None = None


class TargetSchema(BaseModel):
    """The target: its classes (the positive one last, for binary tasks) or its range."""

    model_config = ConfigDict(extra="forbid")

    name: str
    task: str
    classes: list[Any] | None = None
    positive_class: Any = None


class Schema(BaseModel):
    """The frozen schema of a project's data."""

    model_config = ConfigDict(extra="forbid")

    columns: list[ColumnSchema]
    target: TargetSchema

    @property
    def features(self) -> list[ColumnSchema]:
        """Columns a model learns from, in data order."""
        return [c for c in self.columns if c.role == "feature"]

    def column(self, name: str) -> ColumnSchema:
        """The schema of column ``name``."""
        return next(c for c in self.columns if c.name == name)

    def save(self, path: Path) -> None:
        """Write the schema as JSON (atomically: a crash leaves the old schema or the new one)."""
        atomic_write(path, self.model_dump_json(indent=2))

    @classmethod
    def read(cls, path: Path) -> Schema:
        """Read a schema written by :meth:`save`."""
        return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))

    def agrees_with(self, spec: Spec) -> bool:
        """Whether the spec still gives every column the role and the target it had at freezing."""
        return (
            self.target.name == spec.target
            and self.target.task == spec.problem
            and self.target.positive_class == _positive_as_frozen(spec, self.target)
            and all(c.role == role_of(c.name, spec) for c in self.columns)
        )

    def check(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Hold ``frame`` against the schema: missing columns and changed kinds are errors.

        Returns the frame with columns coerced as at freezing time (datetimes parsed).
        """
        needed = [c for c in self.columns if c.role != "dropped"]
        missing = [c.name for c in needed if c.name not in frame.columns]
        if missing:
            raise SchemaError(
                f"column {missing[0]!r} is in the frozen schema but not in the data"
                + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else "")
                + "; restore it, or re-freeze the schema with `poc2prod prove --refreeze`."
            )
        out = frame.copy()
        for col in needed:
            if col.role == "target":
                values = out[col.name].dropna().unique()
                if len(values) == 1:  # a frozen schema knows the classes; this data has only one
                    kind = "value" if self.target.task == "regression" else "class"
                    raise TargetError(
                        f"target {col.name!r} has a single {kind} ({_plain([values[0]])[0]!r}) in this "
                        "data; there is nothing to learn or compare: fix the data."
                    )
                continue
            now = _kind_of(out[col.name], hint=col.kind)
            if now != col.kind and not (col.kind == "categorical" and now in ("boolean", "numeric")):
                sample = out[col.name].dropna().astype(str).head(3).tolist()
                raise SchemaError(
                    f"column {col.name!r} was {col.kind} when the schema was frozen but is now {now} "
                    f"(values like {sample}); fix the data, or re-freeze with `poc2prod prove --refreeze`."
                )
            if col.kind == "datetime":
                out[col.name] = _as_datetime(out[col.name])
        return out


def infer_schema(frame: pd.DataFrame, spec: Spec) -> Schema:
    """Infer the schema of ``frame`` under the roles and overrides in ``spec``."""
    named = spec.columns.named()
    absent = [c for c in [spec.target, *named] if c not in frame.columns]
    if absent:
        raise DataError(
            f"column {absent[0]!r} named in poc2prod.yaml is not in the data; the data has "
            f"{_preview(frame.columns)}. Fix the name in the spec."
        )
    columns = []
    for name in frame.columns:
        s = frame[name]
        key = named.get(name)
        role = role_of(str(name), spec)
        hint = {"categorical": "categorical", "numeric": "numeric", "text": "text"}.get(key or "")
        kind = hint or _kind_of(s)
        if hint == "numeric" and not pd.api.types.is_numeric_dtype(s):
            raise DataError(
                f"column {name!r} is listed under columns.numeric but holds text; remove it there."
            )
        columns.append(_describe(name, s, kind, role))
    return Schema(columns=columns, target=_target(frame[spec.target], spec))


def role_of(name: str, spec: Spec) -> Role:
    """The role the spec gives column ``name``."""
    if name == spec.target:
        return "target"
    key = spec.columns.named().get(name)
    if key in ("id", "time", "group"):
        return key
    return "dropped" if key == "drop" else "feature"


def _describe(name: str, s: pd.Series, kind: Kind, role: Role) -> ColumnSchema:
    n = len(s)
    nonnull = s.dropna()
    info: dict[str, Any] = {
        "name": str(name),
        "kind": kind,
        "role": role,
        "dtype": str(s.dtype),
        "missing_rate": float(1 - len(nonnull) / n) if n else 0.0,
        "n_unique": int(nonnull.nunique()),
    }
    if kind == "numeric" and len(nonnull):
        info["min"], info["max"] = float(nonnull.min()), float(nonnull.max())
    elif kind == "datetime" and len(nonnull):
        d = _as_datetime(nonnull)
        info["min"], info["max"] = str(d.min()), str(d.max())
    elif kind in ("categorical", "boolean"):
        counts = nonnull.astype(str).value_counts()
        info["categories"] = counts.index[:_MAX_CATEGORIES].tolist()
    return ColumnSchema(**info)


def _target(s: pd.Series, spec: Spec) -> TargetSchema:
    nonnull = s.dropna()
    if nonnull.empty:
        raise TargetError(
            f"target column {spec.target!r} is empty (all values missing); choose another target."
        )
    if spec.problem == "regression":
        if not pd.api.types.is_numeric_dtype(nonnull):
            raise TargetError(
                f"target {spec.target!r} holds text, so it cannot be a regression target; "
                "use task: multiclass."
            )
        if nonnull.nunique() < 2:
            raise TargetError(f"target {spec.target!r} has a single value; there is nothing to predict.")
        return TargetSchema(name=spec.target, task=spec.problem)
    classes = sorted(nonnull.unique().tolist(), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise TargetError(
            f"target {spec.target!r} has a single class ({classes[0]!r}); a classifier needs at least two."
        )
    if spec.problem == "binary":
        if len(classes) > 2:
            raise TargetError(
                f"target {spec.target!r} has {len(classes)} classes, not 2; set task: multiclass."
            )
        positive = spec.positive_class
        if positive is None:
            positive = nonnull.value_counts().idxmin()
        match = [c for c in classes if c == positive or str(c) == str(positive)]
        if not match:
            raise TargetError(
                f"positive_class {positive!r} is not a value of target {spec.target!r} "
                f"(its values are {classes}); fix positive_class."
            )
        positive = match[0]
        classes = [c for c in classes if c != positive] + [positive]
        return TargetSchema(
            name=spec.target, task=spec.problem, classes=_plain(classes), positive_class=_plain([positive])[0]
        )
    return TargetSchema(name=spec.target, task=spec.problem, classes=_plain(classes))


def encode_target(s: pd.Series, target: TargetSchema) -> np.ndarray:
    """The target as model input: class indices (positive = 1 for binary) or floats."""
    if target.classes is None:
        return s.to_numpy(dtype=float)
    index = {str(c): i for i, c in enumerate(target.classes)}
    codes = s.astype(str).map(index)
    if codes.isna().any():
        unseen = _plain([s[codes.isna()].iloc[0]])[0]
        raise SchemaError(
            f"target {target.name!r} has a class {unseen!r} not seen when the schema was frozen; "
            "re-freeze with `poc2prod prove --refreeze`."
        )
    return codes.to_numpy(dtype=int)


def _positive_as_frozen(spec: Spec, target: TargetSchema) -> Any:
    if spec.positive_class is None:  # inferred at freezing time; nothing to disagree with
        return target.positive_class
    return next((c for c in target.classes or [] if str(c) == str(spec.positive_class)), spec.positive_class)


def _plain(values: list[Any]) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def _kind_of(s: pd.Series, hint: Kind | None = None) -> Kind:
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_numeric_dtype(s):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    nonnull = s.dropna()
    if nonnull.empty:
        return hint or "categorical"
    if hint == "text":  # named under columns.text: short texts are still texts
        return "text"
    sample = nonnull.astype(str).head(500)
    if hint == "datetime" or _looks_like_dates(sample):
        return "datetime"
    if sample.str.len().mean() >= _TEXT_MIN_MEAN_LENGTH and nonnull.nunique() > 0.5 * len(nonnull):
        return "text"
    return "categorical"


def _looks_like_dates(sample: pd.Series) -> bool:
    # Only strings with a digit and a date separator are tried, so codes like "A11" never parse.
    if not sample.str.contains(r"\d{1,4}[-/.]\d{1,2}", regex=True).mean() > 0.95:
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return parsed.notna().mean() > 0.95


def _as_datetime(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    return pd.to_datetime(s, errors="coerce", format="mixed")


def _preview(names: Any, n: int = 8) -> str:
    names = [str(x) for x in names]
    shown = ", ".join(repr(x) for x in names[:n])
    return shown + (f" and {len(names) - n} more" if len(names) > n else "")

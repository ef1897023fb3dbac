"""Profiling: per-column statistics and the findings a data scientist should see before modelling.

Findings are warnings, not errors: leakage suspects (a single column that predicts the target
almost perfectly out of fold), duplicated rows, constant and identifier-like columns, heavy
missingness, rare classes and rows without a target.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from poc2prod.data._schema import Schema, encode_target

# A single column scoring above these out of fold is very likely derived from the target.
_LEAK = {"binary": 0.97, "multiclass": 0.95, "regression": 0.97}
_LEAK_SAMPLE = 10_000


@dataclass(frozen=True)
class Finding:
    """One thing worth a look, with the column it concerns (if any)."""

    level: Literal["warning", "info"]
    code: str
    message: str
    column: str | None = None


@dataclass
class Profile:
    """Statistics and findings for one data set."""

    n_rows: int
    n_columns: int
    target_balance: dict[str, float] | None
    target_summary: dict[str, float] | None
    columns: dict[str, dict[str, Any]]
    duplicates: int
    findings: list[Finding] = field(default_factory=list)

    def warnings(self) -> list[Finding]:
        """The findings at warning level."""
        return [f for f in self.findings if f.level == "warning"]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


def profile(frame: pd.DataFrame, schema: Schema, *, seed: int = 0, text_task: bool = False) -> Profile:
    """Profile ``frame`` (rows with a target only) against its ``schema`` (for a text task, whose
    models read the text columns, those columns are not reported as left out)."""
    t = schema.target
    y_raw = frame[t.name]
    findings: list[Finding] = []
    missing_target = int(y_raw.isna().sum())
    if missing_target:
        findings.append(
            Finding(
                "warning",
                "target_missing",
                f"{missing_target} rows have no value of {t.name!r} and are left out.",
                t.name,
            )
        )
    frame = frame[y_raw.notna()]
    y_raw = frame[t.name]
    balance = summary = None
    if t.classes is not None:
        shares = y_raw.astype(str).value_counts(normalize=True)
        balance = {str(c): float(shares.get(str(c), 0.0)) for c in t.classes}
        rare = min(balance, key=balance.get)
        if balance[rare] < 0.05:
            findings.append(
                Finding(
                    "warning",
                    "rare_class",
                    f"class {rare!r} is only {balance[rare]:.1%} of rows; expect noisy metrics "
                    "for it and consider recall/pr_auc criteria.",
                    t.name,
                )
            )
    else:
        d = y_raw.describe()
        summary = {k: float(d[k]) for k in ("mean", "std", "min", "50%", "max")}
    if len(frame) < 500:
        findings.append(
            Finding(
                "warning",
                "small_data",
                f"only {len(frame)} labelled rows; holdout figures will move by several points "
                "from one split to another, so read the intervals, not just the values.",
            )
        )

    columns: dict[str, dict[str, Any]] = {}
    for col in schema.columns:
        if col.role == "target":
            continue
        s = frame[col.name]
        columns[col.name] = _column_stats(s, col.kind)
        if col.role != "feature" or (text_task and col.kind == "text"):
            continue
        findings.extend(_column_findings(col, s, len(frame)))

    key_cols = [c.name for c in schema.columns if c.role not in ("id",)]
    dup_mask = frame.duplicated(subset=key_cols, keep="first")
    duplicates = int(dup_mask.sum())
    if duplicates:
        feats = [c.name for c in schema.features]
        conflicting = int(
            frame[feats].duplicated(keep=False).sum() - frame[key_cols].duplicated(keep=False).sum()
        )
        msg = f"{duplicates} rows duplicate an earlier row ({duplicates / len(frame):.1%})"
        if conflicting > 0:
            msg += f"; {conflicting} rows share features but not the target"
        findings.append(
            Finding(
                "warning",
                "duplicates",
                msg + "; duplicates across folds flatter CV scores, so check how the data was extracted.",
            )
        )
    findings.extend(_leakage(frame, schema, seed))
    return Profile(
        n_rows=len(frame),
        n_columns=int(frame.shape[1]),
        target_balance=balance,
        target_summary=summary,
        columns=columns,
        duplicates=duplicates,
        findings=findings,
    )


def _column_stats(s: pd.Series, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": kind, "missing_rate": float(s.isna().mean()), "n_unique": int(s.nunique())}
    if kind == "numeric":
        d = s.describe()
        if d["count"]:
            out.update({k: float(d[k]) for k in ("mean", "std", "min", "25%", "50%", "75%", "max")})
    elif kind in ("categorical", "boolean"):
        top = s.astype(str)[s.notna()].value_counts(normalize=True).head(10)
        out["top"] = {str(k): float(v) for k, v in top.items()}
    return out


def _column_findings(col: Any, s: pd.Series, n: int) -> list[Finding]:
    out: list[Finding] = []
    name = col.name
    if s.nunique(dropna=True) <= 1:
        out.append(
            Finding(
                "warning",
                "constant",
                f"column {name!r} has a single value; it is left out of modelling.",
                name,
            )
        )
        return out
    if col.kind in ("text", "datetime"):
        out.append(
            Finding(
                "info",
                f"{col.kind}_column",
                f"column {name!r} is {col.kind}; prove leaves it out of tabular models "
                "(optimize derives features from it).",
                name,
            )
        )
        return out
    if col.missing_rate > 0.5:
        out.append(
            Finding("warning", "mostly_missing", f"column {name!r} is {col.missing_rate:.0%} missing.", name)
        )
    nonnull = s.dropna()
    unique_per_row = len(nonnull) == n and nonnull.nunique() == n
    integral = col.kind == "numeric" and np.all(np.mod(nonnull.to_numpy(dtype=float), 1) == 0)
    if unique_per_row and (
        col.kind == "categorical"
        or (integral and (nonnull.is_monotonic_increasing or name.lower().endswith("id")))
    ):
        out.append(
            Finding(
                "warning",
                "id_like",
                f"column {name!r} has a distinct value on every row, like an identifier; "
                "set it as columns.id (or columns.drop) in poc2prod.yaml.",
                name,
            )
        )
    elif col.kind == "categorical" and col.n_unique > 100:
        out.append(
            Finding(
                "info",
                "high_cardinality",
                f"column {name!r} has {col.n_unique} categories; rare ones are grouped.",
                name,
            )
        )
    return out


def _leakage(frame: pd.DataFrame, schema: Schema, seed: int) -> list[Finding]:
    """Score each feature alone, out of fold, with a small tree; near-perfect means suspect."""
    from sklearn.metrics import balanced_accuracy_score, r2_score, roc_auc_score
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    task = schema.target.task
    if len(frame) > _LEAK_SAMPLE:
        frame = frame.sample(_LEAK_SAMPLE, random_state=seed)
    y = encode_target(frame[schema.target.name], schema.target)
    classify = task != "regression"
    if classify and np.bincount(y).min() < 3:
        return []
    splitter = (StratifiedKFold if classify else KFold)(n_splits=3, shuffle=True, random_state=seed)
    out = []
    for col in schema.features:
        if col.kind not in ("numeric", "categorical", "boolean") or col.n_unique <= 1:
            continue
        s = frame[col.name]
        x = s.astype(float) if col.kind == "numeric" else s.astype("category").cat.codes.replace(-1, np.nan)
        x = x.to_numpy(dtype=float).reshape(-1, 1)
        oof = np.zeros((len(y), (schema.target.classes and len(schema.target.classes)) or 1))
        for tr, te in splitter.split(x, y):
            model = (DecisionTreeClassifier if classify else DecisionTreeRegressor)(
                max_depth=8, min_samples_leaf=5, random_state=seed
            )
            model.fit(x[tr], y[tr])
            if classify:
                oof[np.ix_(te, model.classes_)] = model.predict_proba(x[te])
            else:
                oof[te, 0] = model.predict(x[te])
        if task == "binary":
            score = roc_auc_score(y, oof[:, 1])
            label = f"ROC AUC {score:.3f}"
        elif task == "multiclass":
            score = balanced_accuracy_score(y, oof.argmax(axis=1))
            label = f"balanced accuracy {score:.3f}"
        else:
            score = r2_score(y, oof[:, 0])
            label = f"R² {score:.3f}"
        if score >= _LEAK[task]:
            out.append(
                Finding(
                    "warning",
                    "leakage_suspect",
                    f"column {col.name!r} alone predicts the target with {label} out of fold; "
                    "if it is only known after the outcome, add it to columns.drop.",
                    col.name,
                )
            )
    return out

"""Splits: a final holdout set aside once, then cross-validation folds over the rest.

Stratified by default, by time when a time column is given (the holdout is the latest slice and
folds only ever validate on rows later than the ones they train on), grouped when a group column
is given (a group never straddles train and validation). The holdout is frozen in the project so
no later gate can select on it by accident.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from poc2prod._io import atomic_write
from poc2prod.errors import TargetError
from poc2prod.spec import Spec

SplitKind = Literal["stratified", "random", "time", "group"]


@dataclass(frozen=True)
class Split:
    """Row positions (labels of the loaded frame's index) of the training part and the holdout."""

    kind: SplitKind
    train: np.ndarray
    holdout: np.ndarray
    fingerprint: str

    def meta(self) -> dict[str, object]:
        """What ``split.json`` records besides the rows."""
        return {
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "n_train": len(self.train),
            "n_holdout": len(self.holdout),
        }

    def save(self, folder: Path) -> None:
        """Freeze the split in ``folder``: ``split.parquet`` (row, part) and ``split.json``."""
        rows = np.concatenate([self.train, self.holdout])
        parts = ["train"] * len(self.train) + ["holdout"] * len(self.holdout)
        buf = io.BytesIO()
        pd.DataFrame({"row": rows, "part": parts}).to_parquet(buf, index=False)
        atomic_write(folder / "split.parquet", buf.getvalue())
        atomic_write(folder / "split.json", json.dumps(self.meta(), indent=2))

    @classmethod
    def read(cls, folder: Path) -> Split | None:
        """The split frozen in ``folder``, or None when there is none."""
        meta_path, rows_path = folder / "split.json", folder / "split.parquet"
        if not (meta_path.is_file() and rows_path.is_file()):
            return None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        rows = pd.read_parquet(rows_path)
        return cls(
            kind=meta["kind"],
            train=rows.loc[rows["part"] == "train", "row"].to_numpy(),
            holdout=rows.loc[rows["part"] == "holdout", "row"].to_numpy(),
            fingerprint=meta["fingerprint"],
        )


def split_kind(spec: Spec) -> SplitKind:
    """Which split the spec calls for."""
    if spec.columns.time:
        return "time"
    if spec.columns.group:
        return "group"
    return "random" if spec.problem == "regression" else "stratified"


def make_split(frame: pd.DataFrame, y: np.ndarray, spec: Spec, fingerprint: str) -> Split:
    """Draw the holdout from ``frame`` (labelled rows only) as the spec asks."""
    kind = split_kind(spec)
    index = frame.index.to_numpy()
    frac, seed = spec.split.holdout, spec.split.seed
    if kind == "time":
        order = np.argsort(frame[spec.columns.time].to_numpy(), kind="stable")
        cut = round(len(order) * (1 - frac))
        train, holdout = index[order[:cut]], index[order[cut:]]
    elif kind == "group":
        groups = frame[spec.columns.group].astype(str).to_numpy()
        n_splits = max(2, round(1 / frac))
        tr, ho = next(_group_folds(y, groups, n_splits, seed, classify=spec.problem != "regression"))
        train, holdout = index[tr], index[ho]
    else:
        from sklearn.model_selection import train_test_split

        stratify = None
        if kind == "stratified":
            _check_class_counts(y, 2, "set aside a stratified holdout")
            stratify = y
        train, holdout = train_test_split(index, test_size=frac, random_state=seed, stratify=stratify)
    return Split(kind=kind, train=np.asarray(train), holdout=np.asarray(holdout), fingerprint=fingerprint)


def cv_folds(
    frame: pd.DataFrame, y: np.ndarray, spec: Spec, n_splits: int | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-validation folds over the training part: positional (train, validation) index pairs."""
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

    kind = split_kind(spec)
    k = n_splits or spec.split.folds
    seed = spec.split.seed
    if kind == "time":
        order = np.argsort(frame[spec.columns.time].to_numpy(), kind="stable")
        return [(order[tr], order[va]) for tr, va in TimeSeriesSplit(n_splits=k).split(order)]
    if kind == "group":
        groups = frame[spec.columns.group].astype(str).to_numpy()
        return list(_group_folds(y, groups, k, seed, classify=spec.problem != "regression"))
    if kind == "stratified":
        _check_class_counts(y, k, f"run {k}-fold stratified cross-validation")
        return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    return list(KFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y))))


def _group_folds(y: np.ndarray, groups: np.ndarray, k: int, seed: int, *, classify: bool):
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    n_groups = len(np.unique(groups))
    if n_groups < k:
        raise TargetError(
            f"the group column has only {n_groups} distinct groups, too few for {k} folds; "
            "lower split.folds or choose a finer group column."
        )
    if classify:
        return StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(
            np.zeros(len(y)), y, groups
        )
    return GroupKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups)


def _check_class_counts(y: np.ndarray, needed: int, purpose: str) -> None:
    counts = np.bincount(y)
    rare = int(np.argmin(counts))
    if counts[rare] < needed:
        raise TargetError(
            f"a target class has only {counts[rare]} rows, too few to {purpose}; "
            "collect more rows of it, merge it into another class, or lower split.folds."
        )

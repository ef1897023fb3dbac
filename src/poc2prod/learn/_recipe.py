"""Recipes: how to rebuild a chosen model from scratch, as plain data.

A gate picks a model by cross-validation and records its recipe (candidate, parameters,
engineered features, size, ensemble weights, calibration) with the run; the final refit, and a
later retrain on newer data, build the same model from it.

>>> r = Recipe("lightgbm", params={"num_leaves": 15}, best_iterations=(180, 220))
>>> Recipe.from_dict(r.to_dict()) == r
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poc2prod.learn._candidates import Context, get_candidate
from poc2prod.learn._features import FeaturePlan

# A refit sees more rows than a fold did, so a booster grows this much more than the folds'
# median stopping point.
_MORE_TREES = 1.1


@dataclass(frozen=True)
class Recipe:
    """One model, or a weighted blend of member recipes, with an optional calibration on top."""

    model: str
    params: Mapping[str, Any] = field(default_factory=dict)
    features: FeaturePlan = field(default_factory=FeaturePlan)
    best_iterations: tuple[int, ...] = ()
    members: tuple[Recipe, ...] = ()
    weights: tuple[float, ...] = ()
    calibration: str | None = None  # "sigmoid" | "isotonic"

    def build(self, ctx: Context, *, seeds: int = 1):
        """A fresh, unfitted estimator for a final fit on all training rows.

        Boosters get a fixed size from the folds' stopping points and average ``seeds`` seeds.
        (Calibration is fitted separately, on out-of-fold predictions; see ``learn.calibrate``.)
        """
        if self.members:
            from poc2prod.learn._ensemble import WeightedEnsemble

            names = [f"{m.model}#{i}" for i, m in enumerate(self.members)]
            return WeightedEnsemble(
                members={n: m.build(ctx, seeds=seeds) for n, m in zip(names, self.members, strict=True)},
                weights=dict(zip(names, self.weights, strict=True)),
                task=ctx.task,
            )
        params = dict(self.params)
        if self.best_iterations:
            params["n_estimators"] = max(10, int(np.median(self.best_iterations) * _MORE_TREES))
            params["n_seeds"] = seeds
        return get_candidate(self.model).build(dataclasses.replace(ctx, params=params), self.features)

    def build_for_folds(self, ctx: Context):
        """A fresh estimator for cross-validation (boosters find their own size by early stopping)."""
        ctx = dataclasses.replace(ctx, params=dict(self.params))
        return get_candidate(self.model).build(ctx, self.features)

    @property
    def label(self) -> str:
        """A short human name: the model, or the blend's members with their weights."""
        if self.members:
            return "ensemble of " + ", ".join(
                f"{m.model} {w:.2f}" for m, w in zip(self.members, self.weights, strict=True)
            )
        return self.model

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "model": self.model,
            "params": dict(self.params),
            "features": self.features.to_dict(),
            "best_iterations": list(self.best_iterations),
            "members": [m.to_dict() for m in self.members],
            "weights": list(self.weights),
            "calibration": self.calibration,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Recipe:
        """The recipe ``to_dict`` wrote."""
        return cls(
            model=doc["model"],
            params=dict(doc.get("params") or {}),
            features=FeaturePlan.from_dict(doc.get("features")),
            best_iterations=tuple(doc.get("best_iterations") or ()),
            members=tuple(cls.from_dict(m) for m in doc.get("members") or ()),
            weights=tuple(doc.get("weights") or ()),
            calibration=doc.get("calibration"),
        )

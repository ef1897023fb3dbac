"""The go / no-go verdict: each agreed criterion judged on the untouched holdout, with its margin."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from poc2prod.metrics import bootstrap_interval
from poc2prod.spec import Criterion


@dataclass(frozen=True)
class CriterionResult:
    """One criterion as judged: the holdout value, its margin and how far it could move."""

    metric: str
    op: str
    threshold: float
    value: float
    passed: bool
    margin: float
    cv_mean: float
    interval: tuple[float, float]

    @property
    def firm(self) -> bool:
        """Whether the whole bootstrap interval sits on the same side of the threshold as the value."""
        crit = Criterion(metric=self.metric, op=self.op, threshold=self.threshold)
        return all(crit.passed(v) == self.passed for v in self.interval if v == v)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (with ``firm``)."""
        return {**asdict(self), "interval": list(self.interval), "firm": self.firm}


def judge(
    criteria: list[Criterion],
    task: str,
    holdout: dict[str, float],
    cv_means: dict[str, float],
    y: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    seed: int,
) -> tuple[Literal["go", "no-go"], list[CriterionResult]]:
    """Judge every criterion on the holdout; the verdict is go only when all of them pass."""
    out = []
    for c in criteria:
        # Fewer resamples on a large holdout: its interval is narrow and each resample is costly.
        n_boot = int(np.clip(4_000_000 // max(len(y), 1), 30, 200))
        interval = bootstrap_interval(task, c.metric, y, scores, threshold, n_boot=n_boot, seed=seed)
        out.append(judged(c, holdout[c.metric], cv_means.get(c.metric, float("nan")), interval))
    return verdict_of(out), out


def judged(c: Criterion, value: float, cv_mean: float, interval: tuple[float, float]) -> CriterionResult:
    """Criterion ``c`` judged on its holdout ``value`` (with the model-selection figure beside it)."""
    return CriterionResult(
        metric=c.metric,
        op=c.op,
        threshold=c.threshold,
        value=value,
        passed=c.passed(value),
        margin=c.margin(value),
        cv_mean=cv_mean,
        interval=interval,
    )


def verdict_of(results: list[CriterionResult]) -> Literal["go", "no-go"]:
    """Go only when there are criteria and every one of them passes."""
    return "go" if results and all(r.passed for r in results) else "no-go"

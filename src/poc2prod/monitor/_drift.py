"""Drift of one feature (or of the scores) against its training reference.

Numbers: the population stability index (PSI) over the reference's decile bins, and the two-sample
Kolmogorov-Smirnov statistic against the reference's sample of values. Categories: PSI over the
category shares, and Pearson's chi-square test of the window's counts against the reference
shares. Every function is vectorised: a window of a million values takes milliseconds.

The PSI convention is the credit-scoring one: sum over bins of (actual - expected) * ln(actual /
expected), with empty bins floored at 1e-4 so that a bin that empties or fills is finite;
below 0.1 is read as stable, 0.1 to 0.2 as a moderate shift, above 0.2 as a significant one.

>>> round(psi([0.5, 0.5], [0.5, 0.5]), 6)
0.0
>>> round(psi([0.5, 0.5], [0.9, 0.1]), 4)
0.8789
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from poc2prod.monitor._reference import OTHER, bin_shares

_FLOOR = 1e-4


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """The population stability index of ``actual`` shares against ``expected`` shares (same bins)."""
    e = np.clip(np.asarray(expected, dtype=float), _FLOOR, None)
    a = np.clip(np.asarray(actual, dtype=float), _FLOOR, None)
    return float(np.sum((a - e) * np.log(a / e)))


def ks(reference_sorted: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and its asymptotic p-value (NaNs ignored)."""
    ref = np.asarray(reference_sorted, dtype=float)
    cur = np.sort(np.asarray(values, dtype=float)[~np.isnan(values)])
    if len(ref) == 0 or len(cur) == 0:
        return float("nan"), float("nan")
    grid = np.concatenate([ref, cur])
    d = float(
        np.max(
            np.abs(
                np.searchsorted(ref, grid, side="right") / len(ref)
                - np.searchsorted(cur, grid, side="right") / len(cur)
            )
        )
    )
    from scipy.stats import distributions

    n = len(ref) * len(cur) / (len(ref) + len(cur))
    return d, float(distributions.kstwo.sf(d, np.round(n)))


def chi_square(expected_shares: Mapping[str, float], counts: Mapping[str, int]) -> tuple[float, float]:
    """Pearson's chi-square of category ``counts`` against the reference shares, and its p-value.

    Categories the reference did not keep count under its ``__other__`` share (or are pooled
    into one unseen bin when it has none, with a floor share).
    """
    from scipy.stats import chi2

    total = sum(counts.values())
    if total == 0:
        return float("nan"), float("nan")
    names = list(expected_shares)
    observed = dict.fromkeys(names, 0)
    unseen = 0
    for k, n in counts.items():
        if k in observed:
            observed[k] += n
        elif OTHER in observed:
            observed[OTHER] += n
        else:
            unseen += n
    shares = np.clip(np.array([expected_shares[k] for k in names], dtype=float), _FLOOR, None)
    obs = np.array([observed[k] for k in names], dtype=float)
    if unseen:
        shares, obs = np.append(shares, _FLOOR), np.append(obs, unseen)
    expected = shares / shares.sum() * total
    stat = float(np.sum((obs - expected) ** 2 / expected))
    return stat, float(chi2.sf(stat, max(len(obs) - 1, 1)))


@dataclass
class FeatureDrift:
    """How far one feature's window has moved from its training reference."""

    feature: str
    kind: str  # "numeric" | "categorical"
    rows: int
    psi: float
    test: str  # "ks" | "chi_square"
    statistic: float
    p_value: float
    missing_rate: float
    reference_missing_rate: float

    def to_dict(self) -> dict:
        """A JSON-ready copy."""
        return dict(self.__dict__)


def feature_drift(name: str, reference: Mapping, values: np.ndarray | Sequence) -> FeatureDrift:
    """The drift of ``values`` (one window of one feature) against its ``reference`` statistics."""
    if reference["kind"] == "numeric":
        v = np.asarray(values, dtype=float)
        present = v[~np.isnan(v)]
        stat, p = ks(np.asarray(reference.get("sample") or [], dtype=float), present)
        return FeatureDrift(
            name,
            "numeric",
            len(v),
            psi(reference["shares"], bin_shares(present, reference["edges"]))
            if len(present)
            else float("nan"),
            "ks",
            stat,
            p,
            float(1 - len(present) / len(v)) if len(v) else float("nan"),
            float(reference.get("missing_rate", 0.0)),
        )
    texts = [x for x in values if x is not None and x == x]  # None and NaN are missing
    kept = reference["shares"]
    counts: dict[str, int] = {}
    for x in map(str, texts):
        counts[x] = counts.get(x, 0) + 1
    total = len(texts)
    actual = dict.fromkeys(kept, 0.0)
    for k, n in counts.items():
        key = k if k in kept else OTHER if OTHER in kept else None
        if key is not None:
            actual[key] += n / total
    unseen = 1.0 - sum(actual.values()) if total else 0.0
    expected_shares, actual_shares = list(kept.values()), list(actual.values())
    if unseen > 1e-12:  # categories the reference never saw: a bin of their own
        expected_shares.append(0.0)
        actual_shares.append(unseen)
    stat, p = chi_square(kept, counts)
    return FeatureDrift(
        name,
        "categorical",
        len(values),
        psi(expected_shares, actual_shares) if total else float("nan"),
        "chi_square",
        stat,
        p,
        float(1 - total / len(values)) if len(values) else float("nan"),
        float(reference.get("missing_rate", 0.0)),
    )

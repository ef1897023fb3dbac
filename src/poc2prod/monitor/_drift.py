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

from poc2prod.monitor._reference import OTHER

_FLOOR = 1e-4


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """The population stability index of ``actual`` shares against ``expected`` shares (same bins)."""
    e = np.clip(np.asarray(expected, dtype=float), _FLOOR, None)
    a = np.clip(np.asarray(actual, dtype=float), _FLOOR, None)
    return float(np.sum((a - e) * np.log(a / e)))


def ks(reference_sorted: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and its asymptotic p-value (NaNs ignored)."""
    ref = np.asarray(reference_sorted, dtype=float)
    v = np.asarray(values, dtype=float)
    return _ks_sorted(ref, np.sort(v[~np.isnan(v)]))


def _ks_sorted(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """KS on two sorted samples. Both empirical CDFs are right-continuous steps, so the largest gap
    is at a jump of one of them: each sample's distinct values are looked up in the other (the
    reference is small), never the large window in itself."""
    m, n = len(ref), len(cur)
    if m == 0 or n == 0:
        return float("nan"), float("nan")
    ends = np.r_[np.flatnonzero(np.diff(cur)) + 1, n]  # where each run of equal values ends
    at_cur = np.abs(ends / n - np.searchsorted(ref, cur[ends - 1], side="right") / m)
    at_ref = np.abs(np.searchsorted(ref, ref, side="right") / m - np.searchsorted(cur, ref, side="right") / n)
    d = float(max(at_cur.max(), at_ref.max()))
    from scipy.stats import distributions

    return d, float(distributions.kstwo.sf(d, np.round(m * n / (m + n))))


def _shares_sorted(cur: np.ndarray, edges: Sequence[float]) -> list[float]:
    """:func:`bin_shares` of a sorted sample: a bin's count is where its edges fall, found by bisection."""
    if len(cur) == 0:
        return [0.0] * (len(edges) + 1)
    at = np.searchsorted(cur, np.asarray(edges, dtype=float), side="right")
    return (np.diff(np.r_[0, at, len(cur)]) / len(cur)).tolist()


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
        present = np.sort(v[~np.isnan(v)])  # sorted once: the bins and KS then only bisect it
        stat, p = _ks_sorted(np.asarray(reference.get("sample") or [], dtype=float), present)
        return FeatureDrift(
            name,
            "numeric",
            len(v),
            psi(reference["shares"], _shares_sorted(present, reference["edges"]))
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

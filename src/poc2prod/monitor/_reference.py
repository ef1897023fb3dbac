"""Reference statistics: what the training data looked like, kept with each deployed version.

Drift is measured against them later (PSI and KS need the training distribution, not the training
rows), so each numeric feature keeps the edges of its deciles and the share of rows in each bin,
each categorical feature its category shares, and the model's training scores the same.

>>> import numpy as np
>>> edges = [1.0, 2.0]
>>> bin_shares(np.array([0.5, 1.5, 1.7, 9.0]), edges)
[0.25, 0.5, 0.25]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

_BINS = 10
_TOP_CATEGORIES = 50
OTHER = "__other__"


def bin_shares(values: np.ndarray, edges: Sequence[float]) -> list[float]:
    """Share of the non-missing ``values`` in each bin cut at ``edges`` (right-closed, open ends)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return [0.0] * (len(edges) + 1)
    counts = np.bincount(
        np.searchsorted(np.asarray(edges, dtype=float), v, side="left"), minlength=len(edges) + 1
    )
    return (counts / len(v)).tolist()


def _numeric(s: pd.Series) -> dict[str, Any]:
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    finite = v[np.isfinite(v)]
    if len(finite) == 0:
        return {"kind": "numeric", "edges": [], "shares": [0.0], "missing_rate": 1.0}
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, _BINS + 1)[1:-1])).tolist()
    return {
        "kind": "numeric",
        "edges": edges,
        "shares": bin_shares(finite, edges),
        "missing_rate": float(1 - len(finite) / len(v)),
        "mean": float(finite.mean()),
        "std": float(finite.std()),
        "min": float(finite.min()),
        "max": float(finite.max()),
        # A sorted sample of values, enough for a two-sample KS test against new data.
        "sample": np.sort(
            np.random.default_rng(0).choice(finite, min(len(finite), 2000), replace=False)
        ).tolist(),
    }


def _categorical(s: pd.Series) -> dict[str, Any]:
    present = s.dropna().astype(str)
    shares = present.value_counts(normalize=True)
    top = shares.iloc[:_TOP_CATEGORIES]
    out = {str(k): float(v) for k, v in top.items()}
    if len(shares) > len(top):
        out[OTHER] = float(shares.iloc[len(top) :].sum())
    return {"kind": "categorical", "shares": out, "missing_rate": float(s.isna().mean())}


def reference_stats(
    X: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    scores: np.ndarray | None = None,
    *,
    texts: Sequence[str] = (),
    classes: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """Reference statistics of the training rows ``X`` (and of the model's scores on them): per
    feature its distribution, per text column its vocabulary (``monitor._text``), and for a
    multiclass model the share of rows it assigns to each of ``classes``."""
    features = {c: _numeric(X[c]) for c in numeric}
    features.update({c: _categorical(X[c]) for c in categorical})
    doc: dict[str, Any] = {"rows": len(X), "features": features}
    if texts:
        from poc2prod.monitor._text import text_reference

        doc["texts"] = {c: text_reference(X[c].fillna("").astype(str).tolist()).to_dict() for c in texts}
    if scores is not None and np.ndim(scores) == 1:
        doc["score"] = _numeric(pd.Series(scores))
    elif scores is not None and classes is not None:
        counts = np.bincount(np.asarray(scores).argmax(axis=1), minlength=len(classes))
        doc["classes"] = {
            str(c): float(n / max(1, len(scores))) for c, n in zip(classes, counts, strict=True)
        }
    return doc

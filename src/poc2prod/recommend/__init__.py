"""Recommendation (``task: recommend``): a user × item interaction log, split in time, and the
ranking metrics its top-k recommendations are judged by."""

from poc2prod.recommend._interactions import (
    RETAIL_NON_PRODUCTS,
    Interactions,
    Split,
    clean_log,
    test_truth,
    time_split,
)
from poc2prod.recommend._metrics import (
    METRICS,
    compute,
    coverage,
    evaluated_users,
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    novelty,
    paired_bootstrap,
    parse_metric,
    per_user,
    precision_at_k,
    recall_at_k,
)

__all__ = [
    "METRICS",
    "RETAIL_NON_PRODUCTS",
    "Interactions",
    "Split",
    "clean_log",
    "compute",
    "coverage",
    "evaluated_users",
    "hit_rate_at_k",
    "map_at_k",
    "ndcg_at_k",
    "novelty",
    "paired_bootstrap",
    "parse_metric",
    "per_user",
    "precision_at_k",
    "recall_at_k",
    "test_truth",
    "time_split",
]

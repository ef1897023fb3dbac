"""Recommendation (``task: recommend``): a user × item interaction log, split in time, the
candidate recommenders, and the ranking metrics their top-k recommendations are judged by."""

from poc2prod.recommend._compare import Judge, Scored, compare, entry_times, margin
from poc2prod.recommend._interactions import (
    RETAIL_NON_PRODUCTS,
    Interactions,
    Split,
    clean_log,
    item_prices,
    test_truth,
    time_split,
)
from poc2prod.recommend._metrics import (
    METRICS,
    compute,
    coverage,
    evaluated_users,
    hit_rate_at_k,
    hit_value,
    map_at_k,
    ndcg_at_k,
    novelty,
    paired_bootstrap,
    parse_metric,
    per_user,
    precision_at_k,
    recall_at_k,
)
from poc2prod.recommend._models import ALS, Blend, ItemKNN, MostPopular

__all__ = [
    "ALS",
    "METRICS",
    "RETAIL_NON_PRODUCTS",
    "Blend",
    "Interactions",
    "ItemKNN",
    "Judge",
    "MostPopular",
    "Scored",
    "Split",
    "clean_log",
    "compare",
    "compute",
    "coverage",
    "entry_times",
    "evaluated_users",
    "hit_rate_at_k",
    "hit_value",
    "item_prices",
    "map_at_k",
    "margin",
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

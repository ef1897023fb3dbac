"""Recommendation on UCI Online Retail: every candidate against most-popular, and scoring speed.

    .venv/bin/python bench/recommend_quality.py --write     # ~1 min on 2 cores; updates BENCHMARKS.md

The invoice log (../shared/data/uci_online_retail, CC BY 4.0) is cleaned as poc2prod cleans it
(guest rows without a customer, cancellations, non-positive prices and non-product codes such as
postage dropped, each counted), then split at one global time cut: the last --holdout share of
interactions is the future. Each candidate is fitted on the past and asked for its top 10 unseen
items for every user who bought something new after the cut; recall@10, NDCG@10, MAP@10, hit
rate, catalogue coverage and novelty are computed over the same users, and each model's margin
over the better most-popular baseline (all time or the last 30 days) is a 90 % paired bootstrap
interval over users: clear when it excludes zero (the target: the best model beats most-popular
on recall@10 by a clear margin).

Speed, in-process (the HTTP service for recommendations comes with the deploy gate's
recommendation route): the top 10 for one user, timed 2,000 times over random users (p50 / p99),
and the whole catalogue scored for every user in batches (users per second).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _report import machine, write_section  # noqa: E402

RETAIL = HERE.parent.parent / "shared" / "data" / "uci_online_retail" / "online_retail.parquet"
RESULTS = HERE / "results" / "recommend_quality.json"
HEADING = "## recommendation: candidates against most-popular (UCI Online Retail)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    from poc2prod.recommend import (
        ALS,
        RETAIL_NON_PRODUCTS,
        Interactions,
        ItemKNN,
        MostPopular,
        clean_log,
        compare,
        margin,
        time_split,
    )

    frame, notes = clean_log(
        pd.read_parquet(RETAIL),
        user="CustomerID",
        item="StockCode",
        time="InvoiceDate",
        weight="Quantity",
        invoice="InvoiceNo",
        price="UnitPrice",
        non_products=RETAIL_NON_PRODUCTS,
    )
    split = time_split(Interactions.from_frame(frame), holdout=args.holdout)
    models = {
        "most_popular": MostPopular(),
        "most_popular_30d": MostPopular(window_days=30),
        "item_knn": ItemKNN(),
        "als": ALS(),
    }
    scored = compare(models, split)
    by = {s.name: s for s in scored}
    baseline = max((by["most_popular"], by["most_popular_30d"]), key=lambda s: s.metrics["recall@10"])
    margins = {s.name: margin(s, baseline, "recall@10") for s in scored if s is not baseline}
    best = max(scored, key=lambda s: s.metrics["recall@10"])
    result = {
        "machine": machine(),
        "cleaning": notes + split.notes,
        "cut": str(split.cut),
        "train": {
            "interactions": len(split.train),
            "users": split.train.n_users,
            "items": split.train.n_items,
        },
        "test_users": len(set(split.test.user.tolist())),
        "models": [s.to_dict() for s in scored],
        "baseline": baseline.name,
        "margins_recall@10": margins,
        "best": best.name,
        "speed": _speed(models[best.name], split.train.n_users),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(json.dumps(result, indent=2, default=str))
    if args.write:
        write_section(f"{HEADING}\n\n{_markdown(result)}", HEADING)


def _speed(model, n_users: int) -> dict[str, float]:
    """One user's top 10 (p50 / p99 over random users) and every user's, in batches of 2,048."""
    rng = np.random.default_rng(0)
    model.recommend(np.array([0]), 10)  # warm
    one = []
    for user in rng.integers(0, n_users, 2000):
        t0 = time.perf_counter()
        model.recommend(np.array([user]), 10)
        one.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    model.recommend(np.arange(n_users), 10)
    everyone = time.perf_counter() - t0
    return {
        "one_user_p50_ms": 1000 * float(np.quantile(one, 0.5)),
        "one_user_p99_ms": 1000 * float(np.quantile(one, 0.99)),
        "all_users_seconds": everyone,
        "users_per_second": n_users / everyone,
    }


def _markdown(r: dict) -> str:
    m = r["machine"]
    rows = "".join(
        f"| {s['model']} | {s['metrics']['recall@10']:.4f} | {s['metrics']['ndcg@10']:.4f} | "
        f"{s['metrics']['map@10']:.4f} | {s['metrics']['hit_rate@10']:.3f} | "
        f"{s['metrics']['coverage@10']:.3f} | "
        f"{s['metrics']['novelty@10']:.2f} | {s['fit_seconds']:.1f} | "
        + (
            "baseline"
            if s["model"] == r["baseline"]
            else "{difference:+.4f} [{low:+.4f}, {high:+.4f}]{flag}".format(
                **r["margins_recall@10"][s["model"]],
                flag=" clear" if r["margins_recall@10"][s["model"]]["clear"] else "",
            )
        )
        + " |\n"
        for s in r["models"]
    )
    best = r["margins_recall@10"].get(r["best"])
    verdict = (
        f"met: {r['best']} beats {r['baseline']} by {best['difference']:+.4f} recall@10 "
        f"(90 % paired bootstrap {best['low']:+.4f} to {best['high']:+.4f}, which excludes 0)"
        if best and best["clear"]
        else "NOT met"
    )
    s = r["speed"]
    return (
        "Reproduce: `.venv/bin/python bench/recommend_quality.py --write` (how it works: its docstring).\n\n"
        f"Measured {m['date']} on {m['cpus']} cores (load average {m['load_average_at_start'][0]} at the "
        f"start). Cleaning and split: {'; '.join(r['cleaning'])}. Training: {r['train']['interactions']:,} "
        f"interactions of {r['train']['users']:,} users and {r['train']['items']:,} items; the models are "
        "judged on the users who bought items new to them after the cut.\n\n"
        "| model | recall@10 | NDCG@10 | MAP@10 | hit rate@10 | coverage@10 | novelty@10 | fit s | "
        "recall@10 over the baseline (90 % paired bootstrap) |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---|\n"
        f"{rows}\n"
        "- Target, the best model beats most-popular on recall@10 by a bootstrap-checked margin: "
        f"{verdict}.\n"
        f"- Speed of {r['best']}, in-process: one user's top 10 p50 {s['one_user_p50_ms']:.2f} ms, p99 "
        f"{s['one_user_p99_ms']:.2f} ms; every user's top 10 over the whole catalogue in "
        f"{s['all_users_seconds']:.2f} s ({s['users_per_second']:,.0f} users/s). The 2 ms p99 target is "
        "for the HTTP service, which the recommendation route of the deploy gate will be measured on.\n"
    )


if __name__ == "__main__":
    main()

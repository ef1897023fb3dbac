"""What a recommendation service is watched for: the lists it serves and the purchases that follow.

* **Catalogue coverage**: the share of the catalogue that appears in at least one list served in a
  window. A model that collapses onto a few bestsellers loses it first.
* **Popularity drift**, two ways, each a PSI over the same ten popularity bins (the catalogue cut
  where each bin holds a tenth of the training purchases, the bestsellers in bin 9): of the
  *purchases* reported (demand moving away from what the model learnt: a new season, new items),
  and of the *recommended slots* (the model's lists leaning more or less on bestsellers than at
  deploy time, e.g. because more users arrive cold).
* **Acceptance**: a purchase of an item that was in a list served to that user within the
  attribution time before it is an *accepted recommendation*; the hit rate is the share of lists
  with at least one, on lists whose attribution time has fully passed. The money: accepted items
  times what each earns (the value model).

An accepted recommendation is attributed, not caused: the user might have bought the item anyway.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from poc2prod.monitor._drift import psi

BINS = 10


def recommend_reference(log, model, holdout: dict[str, float], k: int) -> dict[str, Any]:
    """The deploy-time reference: each item's popularity bin, the training purchases' and the
    model's lists' shares over the bins, and the holdout metrics live figures are read against."""
    popularity = log.popularity()
    order = np.argsort(-popularity, kind="stable")  # bestsellers first
    mass = np.cumsum(popularity[order]) / max(popularity.sum(), 1)
    bins = np.empty(len(popularity), dtype=np.int64)
    bins[order] = BINS - 1 - np.minimum((mass * BINS - 1e-9).astype(np.int64).clip(0), BINS - 1)
    purchases = np.bincount(bins[log.item], minlength=BINS) / max(len(log.item), 1)
    lists = model.recommend(list(model.users), k)
    listed = np.concatenate([a.items for a in lists]) if lists else np.zeros(0, np.int64)
    slots = np.bincount(bins[listed], minlength=BINS) / max(len(listed), 1)
    return {
        "kind": "recommend",
        "catalogue": len(popularity),
        "item_bins": bins.tolist(),
        "purchase_shares": purchases.tolist(),
        "slot_shares": slots.tolist(),
        "coverage_all_users": float(len(np.unique(listed)) / max(len(popularity), 1)),
        "holdout": holdout,
        "k": k,
    }


def window_figures(
    lists: pd.DataFrame,
    purchases: pd.DataFrame,
    reference: dict[str, Any],
    item_column,
    item_values: list[float] | None,
) -> dict[str, Any]:
    """One window's figures from the lists served in it (``time``, ``user``, ``known``,
    ``items``: item ids) and the purchases reported in it (``time``, ``user``, ``item``, and
    ``accepted``: whether it was attributed to a list, see :func:`attribute`).

    ``item_column`` maps an item id to its catalogue column (None for an item the model never saw).
    """
    bins = np.asarray(reference["item_bins"])
    out: dict[str, Any] = {
        "lists": len(lists),
        "users": int(lists["user"].nunique()) if len(lists) else 0,
    }
    if len(lists):
        out["cold_share"] = float(1 - lists["known"].mean())
        columns = [c for items in lists["items"] for i in items if (c := item_column(i)) is not None]
        out["coverage"] = float(len(set(columns)) / reference["catalogue"])
        slots = np.bincount(bins[columns], minlength=BINS) / max(len(columns), 1)
        out["slot_shares"] = slots.tolist()
        out["slot_psi"] = psi(reference["slot_shares"], slots)
    out["purchases"] = len(purchases)
    if len(purchases):
        cols = [item_column(i) for i in purchases["item"]]
        known = [c for c in cols if c is not None]
        out["new_item_share"] = float(1 - len(known) / len(cols))
        shares = np.bincount(bins[known], minlength=BINS) / max(len(known), 1)
        out["purchase_shares"] = shares.tolist()
        out["purchase_psi"] = psi(reference["purchase_shares"], shares) if known else None
        accepted = purchases[purchases["accepted"]]
        out["accepted"] = len(accepted)
        if item_values is not None:
            earned = [item_values[c] for i in accepted["item"] if (c := item_column(i)) is not None]
            out["value"] = float(np.sum(earned))
    return out


def attribute(lists: pd.DataFrame, purchases: pd.DataFrame, attribution_seconds: float) -> pd.DataFrame:
    """``purchases`` with ``accepted`` (the item was in a list served to the same user within
    ``attribution_seconds`` before the purchase) and ``list_request`` (that list's request id).

    >>> lists = pd.DataFrame({"request_id": ["a", "b"], "time": [0.0, 100.0], "user": ["u", "v"],
    ...                       "items": [["x", "y"], ["x"]]})
    >>> bought = pd.DataFrame({"time": [50.0, 50.0, 500.0], "user": ["u", "v", "u"], "item": ["y", "x", "x"]})
    >>> attribute(lists, bought, 300.0)[["accepted", "list_request"]].values.tolist()
    [[True, 'a'], [False, None], [False, None]]
    """
    out = purchases.copy()
    out["accepted"] = False
    out["list_request"] = None
    if not len(lists) or not len(out):
        return out
    shown = lists[["request_id", "time", "user", "items"]].explode("items").rename(columns={"items": "item"})
    shown = shown.dropna(subset=["item"])
    shown["user"], shown["item"] = shown["user"].astype(str), shown["item"].astype(str)
    bought = out.reset_index(names="_row")
    bought["user"], bought["item"] = bought["user"].astype(str), bought["item"].astype(str)
    pairs = bought.merge(shown, on=["user", "item"], suffixes=("", "_shown"))
    pairs = pairs[
        (pairs["time_shown"] <= pairs["time"]) & (pairs["time"] - pairs["time_shown"] <= attribution_seconds)
    ]
    latest = pairs.sort_values("time_shown").drop_duplicates("_row", keep="last")
    out.loc[latest["_row"].to_numpy(), "accepted"] = True
    out.loc[latest["_row"].to_numpy(), "list_request"] = latest["request_id"].to_numpy()
    return out


def hit_rate(
    lists: pd.DataFrame, accepted_requests: set[str], until: float, attribution_seconds: float
) -> dict[str, Any]:
    """The share of lists with at least one accepted item, over the lists whose attribution time
    ended by ``until`` (a younger list may still be bought from)."""
    matured = lists[lists["time"] + attribution_seconds <= until]
    if not len(matured):
        return {"matured_lists": 0, "hit_rate": None}
    hits = matured["request_id"].isin(accepted_requests)
    return {"matured_lists": len(matured), "hit_rate": float(hits.mean())}

"""The monitor gate for ``task: recommend``: the lists served and the purchases reported, per window.

prediction log (lists) + feedback log (purchases) → each purchase attributed to the latest list
that showed that user the item within the attribution time → per window: lists, users, cold-start
share, catalogue coverage, popularity drift of the purchases and of the recommended slots,
accepted recommendations, the value they earned, and the hit rate of the lists whose attribution
time has passed → alerts on the latest window → the project's latest monitor document.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from poc2prod.errors import ProjectError

if TYPE_CHECKING:
    from poc2prod.project import Project

_MAX_COLD_SHARE = 0.5  # above this share of lists for unknown users, the model is mostly not used
_Z = 3.0  # standard errors a window's hit rate must fall short by before it alerts


@dataclass
class RecommendMonitorResult:
    """Windows oldest first (each a dict of figures), the alerts on the latest one, and the
    deploy-time figures they are read against."""

    name: str
    window: str
    attribution: str
    lists: int
    purchases: int
    accepted: int
    windows: list[dict[str, Any]]
    alerts: list[str]
    expected_hit_rate: float | None  # the holdout's hit rate at k, for the deployed version
    currency: str
    value: float | None  # money from accepted recommendations, all windows
    task: str = "recommend"
    webhook: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy; the shape of ``monitor --json``."""
        from poc2prod.gates._prove import _clean

        return _clean(dataclasses.asdict(self))


def run_monitor_recommend(project: Project, *, window: str | None = None) -> RecommendMonitorResult:
    """Coverage, popularity drift, acceptance and value per window of the recommendation logs."""
    from poc2prod.gates._monitor import _post, window_seconds
    from poc2prod.monitor._recommend import attribute, hit_rate, window_figures
    from poc2prod.store._predlog import read_log
    from poc2prod.store._registry import load_bundle

    spec, settings = project.spec, project.spec.monitoring
    width = window_seconds(window or settings.window)
    attribution = window_seconds(settings.attribution)
    lists = pd.DataFrame(
        [r for r in read_log(project.log_folder) if "items" in r],
        columns=["request_id", "row", "time", "version", "user", "known", "items"],
    )
    if lists.empty:
        raise ProjectError(
            f"no list has been served yet; serve the model (poc2prod serve -C {project.root}) "
            "or write lists with `poc2prod score --all-users` first."
        )
    lists["request_id"] = lists["request_id"].astype(str) + "/" + lists["row"].astype(str)
    feedback = pd.DataFrame(
        [r for r in read_log(project.log_folder, "feedback") if "event" in r],
        columns=["time", "user", "item", "event"],
    )
    purchases = attribute(
        lists, feedback[feedback["event"] == "purchase"].reset_index(drop=True), attribution
    )
    bundles = {
        int(v): load_bundle(project.tracking_uri, spec.name, int(v)) for v in lists["version"].unique()
    }
    current = bundles[max(bundles)]
    accepted_lists = set(purchases.loc[purchases["accepted"], "list_request"])

    latest = float(max(lists["time"].max(), purchases["time"].max() if len(purchases) else -np.inf))
    lists["window"] = np.floor((latest - lists["time"].to_numpy()) / width).astype(int)
    purchases["window"] = np.floor((latest - purchases["time"].to_numpy(dtype=float)) / width).astype(int)
    windows = []
    for back in range(
        int(max(lists["window"].max(), purchases["window"].max() if len(purchases) else 0)), -1, -1
    ):
        shown, bought = lists[lists["window"] == back], purchases[purchases["window"] == back]
        if shown.empty and bought.empty:
            continue
        version = int(shown["version"].max()) if len(shown) else max(bundles)
        b = bundles[version]
        figures = window_figures(shown, bought, b.reference, b.model.column, b.settings.get("item_values"))
        figures.update(hit_rate(shown, accepted_lists, latest, attribution))
        windows.append(
            {
                "start": latest - (back + 1) * width,
                "end": latest - back * width,
                "version": version,
                **figures,
            }
        )

    k = current.settings["k"]
    expected = current.settings["holdout"].get(f"hit_rate@{k}")
    result = RecommendMonitorResult(
        name=spec.name,
        window=window or settings.window,
        attribution=settings.attribution,
        lists=len(lists),
        purchases=len(purchases),
        accepted=int(purchases["accepted"].sum()),
        windows=windows,
        alerts=_alerts(windows[-1], spec, expected, current.reference),
        expected_hit_rate=expected,
        currency=spec.value.currency,
        value=(
            float(sum(w.get("value", 0.0) for w in windows))
            if current.settings.get("item_values") is not None
            else None
        ),
    )
    if not len(purchases):
        result.notes.append("no purchase was reported to POST /feedback, so acceptance and value are unknown")
    if result.alerts and settings.webhook:
        result.webhook = _post(settings.webhook, {"project": spec.name, "alerts": result.alerts})
    project.remember("monitor", result.to_dict())
    return result


def _alerts(latest: dict[str, Any], spec, expected: float | None, reference: dict[str, Any]) -> list[str]:
    """What in the latest window needs a person: demand or lists drifting in popularity, most
    lists going to unknown users, or a hit rate clearly under the holdout's."""
    m, out = spec.monitoring, []
    # A PSI over a handful of purchases is noise: it counts from as many purchases as labels do.
    if latest.get("purchases", 0) >= m.min_labels and (latest.get("purchase_psi") or 0) > m.psi_alert:
        out.append(
            f"purchases moved across the popularity bins (PSI {latest['purchase_psi']:.3f} > "
            f"{m.psi_alert:g}): demand is leaving what the model learnt; retrain on recent interactions"
        )
    if (latest.get("slot_psi") or 0) > m.score_psi_alert:
        out.append(
            f"the lists lean on items of other popularity than at deploy time (PSI {latest['slot_psi']:.3f} "
            f"> {m.score_psi_alert:g}); check the cold-start share and the catalogue"
        )
    if (latest.get("cold_share") or 0) > _MAX_COLD_SHARE:
        out.append(
            f"{latest['cold_share']:.0%} of the lists went to users the model has never seen (the popular "
            "list); retrain so that recent customers get personal lists"
        )
    matured, rate = latest.get("matured_lists", 0), latest.get("hit_rate")
    if expected is not None and rate is not None and matured >= m.min_labels:
        se = math.sqrt(max(expected * (1 - expected), 1e-12) / matured)
        if rate < expected - _Z * se:
            out.append(
                f"hit rate {rate:.1%} on {matured:,} lists is under the holdout's {expected:.1%} by more "
                f"than {_Z:g} standard errors; the lists are accepted less than they were judged to be"
            )
    return out

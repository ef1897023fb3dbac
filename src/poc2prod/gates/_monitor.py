"""The monitor gate: is the served model still right, and what has it earned?

It reads the prediction log and the late labels, cuts them into time windows that end at the
latest logged row, and for each window measures drift of every feature and of the scores against
the serving version's training reference, the share of flagged rows, and, where labels arrived,
the success criteria's metrics and the money the decisions made (the value model applied to the
labelled outcomes) next to what the optimize gate promised. Alerts come from the spec's
``monitoring`` thresholds and concern the latest window.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from poc2prod.errors import ProjectError

if TYPE_CHECKING:
    from poc2prod.project import Project

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# A p-chart's limits at 3 sigma: a class's share is flagged in a window with no real change with
# probability 0.27 %, so 30 windows of 3 classes raise about 0.2 false alarms. With many classes
# (77 intents) the rate per class shrinks so that a window raises a false alarm at most 1 % of
# the time whatever the number of classes.
_SHIFT_ALPHA = 0.0027
_SHIFT_WINDOW_ALPHA = 0.01
_SHIFT_BASELINE = 7  # windows before a shift can be judged: the chart's own estimate of each share


def window_seconds(text: str) -> float:
    """``"7d"`` -> 604800.0; minutes (m), hours (h), days (d) and weeks (w)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([mhdw])", text.strip())
    if not m or float(m.group(1)) <= 0:
        raise ProjectError(f"window {text!r} is not a length such as 30m, 12h, 7d or 2w")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass
class Window:
    """One time window of served predictions."""

    start: float
    end: float
    rows: int
    requests: int
    versions: list[int]
    flagged_share: float
    rejected_rows: int  # rows of requests refused for breaking the schema (422), in this window
    drift: list[dict[str, Any]]
    score_drift: dict[str, Any] | None
    labelled: int
    metrics: dict[str, float] = field(default_factory=dict)
    value: dict[str, Any] | None = None
    shadow: dict[str, Any] | None = None  # the challenger scored in shadow: its figures on the same rows
    texts: list[dict[str, Any]] = field(default_factory=list)  # per text column: vocabulary drift
    mix: dict[str, Any] | None = None  # classifiers: the predicted class mix against the training one
    automation_rate: float | None = None  # intents: the share of queries answered without a person


@dataclass
class MonitorResult:
    """Windows oldest first, the alerts on the latest one, and what they were measured against."""

    name: str
    window: str
    rows: int
    labelled: int
    windows: list[Window]
    alerts: list[str]
    promised_per_decision: float | None
    currency: str
    webhook: dict[str, Any] | None = None  # where the alerts were posted, and how that went
    classes: list[str] = field(default_factory=list)  # the order of every window's mix shares
    shifts: list[dict[str, Any]] = field(default_factory=list)  # sudden moves of a class's share
    shift_false_alarm_rate: float | None = None  # per class and window, with no real change

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy; the shape of ``monitor --json``."""
        from poc2prod.gates._prove import _clean

        return _clean(dataclasses.asdict(self))


def run_monitor(project: Project, *, window: str | None = None) -> MonitorResult:
    """Drift, flagged rows, performance and value realised per window of the prediction log."""
    from poc2prod.monitor._log import read_feedback, read_predictions
    from poc2prod.store._predlog import read_log
    from poc2prod.store._registry import load_bundle

    spec, settings = project.spec, project.spec.monitoring
    width = window_seconds(window or settings.window)
    frame = read_predictions(project.log_folder)
    if frame.empty:
        raise ProjectError(
            f"nothing has been logged yet; serve the model (poc2prod serve -C {project.root}) "
            "or score a file (poc2prod score) first."
        )
    labels = read_feedback(project.log_folder)
    rejected = pd.DataFrame(read_log(project.log_folder, "rejected"), columns=["time", "rows"])
    # A classifier's answers carry its predicted class as "label"; the late labels are the truth.
    frame = frame.rename(columns={"label": "predicted"})
    frame = frame.merge(labels[["request_id", "row", "label"]], on=["request_id", "row"], how="left")
    bundles = {v: load_bundle(project.tracking_uri, spec.name, int(v)) for v in frame["version"].unique()}
    latest = float(max(frame["time"].max(), rejected["time"].max() if len(rejected) else -np.inf))
    frame["window"] = np.floor((latest - frame["time"].to_numpy()) / width).astype(int)
    optimize = project.last("optimize") or {}
    promised = (optimize.get("value") or {}).get("per_decision")
    windows = [
        _window(part, bundles, spec, latest - (k + 1) * width, latest - k * width)
        for k, part in sorted(frame.groupby("window"), key=lambda kv: -kv[0])
    ]
    for w in windows:
        inside = (rejected["time"] > w.start) & (rejected["time"] <= w.end)
        w.rejected_rows = int(rejected.loc[inside, "rows"].sum())
    classes, shifts = _shifts(windows, bundles)
    result = MonitorResult(
        name=spec.name,
        window=window or settings.window,
        rows=len(frame),
        labelled=int(frame["label"].notna().sum()),
        windows=windows,
        alerts=_alerts(windows[-1], spec, [s for s in shifts if s["window"] == len(windows) - 1]),
        promised_per_decision=promised,
        currency=spec.value.currency,
        classes=classes,
        shifts=shifts,
        shift_false_alarm_rate=_shift_alpha(len(classes)) if classes else None,
    )
    if result.alerts and settings.webhook:
        result.webhook = _post(settings.webhook, {"project": spec.name, "alerts": result.alerts})
    project.remember("monitor", result.to_dict())
    return result


def _post(url: str, doc: dict[str, Any]) -> dict[str, Any]:
    """POST ``doc`` as JSON; a webhook that fails is reported, never fatal (the alerts still stand)."""
    import json
    import urllib.error
    import urllib.request

    from poc2prod._secrets import redact

    req = urllib.request.Request(
        url, data=json.dumps(doc).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    shown = redact(url)  # a webhook's path is often its secret: the result goes into runs and reports
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return {"url": shown, "status": res.status}
    except urllib.error.HTTPError as e:
        return {"url": shown, "status": e.code, "error": f"the webhook answered {e.code} {e.reason}"}
    except (OSError, ValueError) as e:
        return {"url": shown, "status": None, "error": f"the webhook could not be reached ({e})"}


def _window(part: pd.DataFrame, bundles: dict, spec, start: float, end: float) -> Window:
    from poc2prod.monitor._drift import feature_drift

    version = int(part["version"].mode().iloc[0])  # the reference of the version most rows came from
    bundle = bundles[version]
    reference = bundle.reference
    features = [f for f in reference.get("features", {}) if f in part.columns]
    drift = [feature_drift(f, reference["features"][f], part[f].to_numpy()).to_dict() for f in features]
    score_drift = None
    if "score" in part.columns and "score" in reference:
        score_drift = feature_drift("score", reference["score"], part["score"].to_numpy()).to_dict()
    labelled = part[part["label"].notna()]
    texts = _text_drift(part, reference)
    mix = None
    if "predicted" in part.columns and reference.get("classes"):
        from poc2prod.monitor._text import mix_drift

        classes = list(reference["classes"])
        mix = mix_drift(reference["classes"], part["predicted"].astype(str).to_numpy(), classes)
        mix["reference_shares"] = [reference["classes"][c] for c in classes]
    out = Window(
        start=start,
        end=end,
        rows=len(part),
        requests=int(part["request_id"].nunique()),
        versions=sorted(int(v) for v in part["version"].unique()),
        flagged_share=float((part["flags"] > 0).mean()),
        rejected_rows=0,
        drift=drift,
        score_drift=score_drift,
        labelled=len(labelled),
        texts=texts,
        mix=mix,
        automation_rate=float(1 - part["routed"].astype(bool).mean()) if "routed" in part.columns else None,
    )
    if len(labelled):
        out.metrics, out.value = _performance(labelled, bundle.settings, spec)
        if "shadow_score" in labelled.columns and labelled["shadow_score"].notna().all():
            s = labelled["shadow_score"].to_numpy(dtype=float)
            decided = labelled.assign(
                score=s, positive=s >= float(bundle.settings["threshold"]), prediction=s
            )
            metrics, value = _performance(decided, bundle.settings, spec)
            out.shadow = {
                "version": int(labelled["shadow_version"].iloc[0]),
                "metrics": metrics,
                "value": value,
            }
    return out


def _text_drift(part: pd.DataFrame, reference: dict[str, Any]) -> list[dict[str, Any]]:
    """Vocabulary drift of each text column of the window against the training texts."""
    from poc2prod.monitor._text import TextReference, text_drift

    return [
        {"column": c, **text_drift(TextReference.from_dict(ref), part[c].fillna("").astype(str).tolist())}
        for c, ref in (reference.get("texts") or {}).items()
        if c in part.columns
    ]


def _shifts(windows: list[Window], bundles: dict) -> tuple[list[str], list[dict[str, Any]]]:
    """A control chart of each class's share over the windows (oldest first): the windows where a
    share moved beyond what the preceding windows make plausible, with its time."""
    from poc2prod.monitor._text import mix_shifts

    mixes = [w.mix for w in windows]
    if not mixes or any(m is None for m in mixes):
        return [], []
    classes = list(next(iter(bundles.values())).reference["classes"])
    counts = np.array([m["counts"] for m in mixes])
    if len(windows) <= _SHIFT_BASELINE:
        return classes, []
    shifts = mix_shifts(counts, classes, baseline=_SHIFT_BASELINE, alpha=_shift_alpha(len(classes)))
    for s in shifts:
        s["start"], s["end"] = windows[s["window"]].start, windows[s["window"]].end
    return classes, shifts


def _shift_alpha(n_classes: int) -> float:
    """The false-alarm rate per class and window of the mix's control chart."""
    return min(_SHIFT_ALPHA, _SHIFT_WINDOW_ALPHA / max(1, n_classes))


def _performance(labelled: pd.DataFrame, settings: dict, spec) -> tuple[dict[str, float], dict | None]:
    """The criteria's metrics on the labelled rows and, for a binary task, the money their
    decisions made under the value model."""
    from poc2prod.metrics import compute, default_metrics
    from poc2prod.spec import ValueModel
    from poc2prod.value import outcomes, realised

    names = list(dict.fromkeys([*(c.metric for c in spec.criteria), spec.primary]))
    task = settings["task"]
    if task == "binary":
        positive = settings.get("positive_class", settings["classes"][-1])
        labels = labelled["label"]
        if isinstance(positive, int | float) and not isinstance(positive, bool):
            # Labels of a window with unlabelled rows come out of the merge as floats (2 -> 2.0).
            y = (pd.to_numeric(labels, errors="coerce") == float(positive)).to_numpy().astype(int)
        else:
            y = (labels.astype(str) == str(positive)).to_numpy().astype(int)
        scores = labelled["score"].to_numpy(dtype=float)
        metrics = _safe(compute, task, names or default_metrics(task)[:1], y, scores, settings["threshold"])
        counts = outcomes(y, labelled["positive"].to_numpy(dtype=float), 0.5)
        return metrics, realised(counts, ValueModel(**settings["value"]))
    if task == "regression":
        y = labelled["label"].to_numpy(dtype=float)
        return _safe(compute, task, names, y, labelled["prediction"].to_numpy(dtype=float)), None
    return _multiclass(labelled, settings, names or default_metrics(task)[:1])


def _multiclass(
    labelled: pd.DataFrame, settings: dict, names: list[str]
) -> tuple[dict[str, float], dict | None]:
    """A classifier's metrics on the labelled rows (from its class probabilities when the log kept
    them, else only the metrics its predicted classes decide) and, for intents, the money made by
    the queries answered automatically (right or wrong) and those routed to a person."""
    from poc2prod.metrics import METRICS, compute
    from poc2prod.spec import ValueModel
    from poc2prod.value import realised, routing_counts

    classes = [str(c) for c in settings["classes"]]
    index = {c: i for i, c in enumerate(classes)}
    truth = labelled["label"].map(lambda v: _class_text(v, classes)).map(index)
    known = truth.notna().to_numpy()
    rows = labelled[known]
    y = truth[known].to_numpy(dtype=int)
    predicted = rows["predicted"].astype(str).map(index).fillna(-1).to_numpy(dtype=int)
    columns = [f"p_{c}" for c in classes]
    if all(c in rows.columns for c in columns):
        proba = rows[columns].to_numpy(dtype=float)
    else:  # only the decision was logged: metrics of the decision only
        proba = np.zeros((len(rows), len(classes)))
        proba[predicted >= 0, predicted[predicted >= 0]] = 1.0
        names = [n for n in names if n in ("accuracy", "macro_f1", "balanced_accuracy", "weighted_f1")]
        names = names or ["accuracy", "macro_f1"]
    metrics = _safe(compute, "multiclass", [n for n in names if n in METRICS], y, proba)
    if "routed" not in rows.columns or not len(rows):
        return metrics, None
    counts = routing_counts(~rows["routed"].astype(bool).to_numpy(), predicted == y)
    return metrics, realised(counts, ValueModel(**settings["value"]))


def _class_text(value: Any, classes: list[str]) -> str | None:
    """A late label as the class name it means (a label 2 arrives as 2.0 beside missing ones)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value)
    if text not in classes and isinstance(value, float) and value.is_integer():
        text = str(int(value))
    return text if text in classes else None


def _safe(compute, task, names, y, p, threshold: float = 0.5) -> dict[str, float]:
    """Metrics that a window's labels can support (one class only: no AUC) are left out."""
    out = {}
    for name in names:
        try:
            value = compute(task, [name], y, p, threshold)[name]
        except ValueError:
            continue
        if value == value:
            out[name] = float(value)
    return out


def _alerts(latest: Window, spec, shifts: list[dict[str, Any]]) -> list[str]:
    m = spec.monitoring
    alerts = [
        f"{d['feature']} drifted: PSI {d['psi']:.2f} > {m.psi_alert:g}"
        for d in latest.drift
        if d["psi"] == d["psi"] and d["psi"] > m.psi_alert
    ]
    s = latest.score_drift
    if s and s["psi"] == s["psi"] and s["psi"] > m.score_psi_alert:
        alerts.append(f"the scores drifted: PSI {s['psi']:.2f} > {m.score_psi_alert:g}")
    for t in latest.texts:
        if t["psi"] == t["psi"] and t["psi"] > max(m.psi_alert, t["psi_noise"]):
            words = ", ".join(r["token"] for r in t["risen"][:5])
            alerts.append(
                f"the words of {t['column']} drifted: PSI {t['psi']:.2f} > {m.psi_alert:g}, "
                f"{t['oov_rate']:.1%} unknown words (training {t['reference_oov_rate']:.1%})"
                + (f"; rising: {words}" if words else "")
            )
    # A many-class mix on few rows has a large PSI by chance: the chi-square test must agree.
    mix = latest.mix
    if mix and mix["psi"] == mix["psi"] and mix["psi"] > m.psi_alert and mix["p_value"] < 0.001:
        alerts.append(f"the mix of predicted classes drifted: PSI {latest.mix['psi']:.2f} > {m.psi_alert:g}")
    for s in shifts:
        alerts.append(
            f"the share of {s['class']} moved {s['direction']} to {s['share']:.1%} (expected "
            f"{s['expected']:.1%}, limits {s['lower']:.1%}–{s['upper']:.1%}; false-alarm rate "
            f"{_shift_alpha(len(latest.mix['shares'])):.3%} per class and window)"
        )
    refused = latest.rejected_rows / max(latest.rows + latest.rejected_rows, 1)
    if refused > m.flagged_alert:
        alerts.append(
            f"{refused:.0%} of rows were refused for breaking the schema (missing fields, wrong types) "
            f"> {m.flagged_alert:.0%}"
        )
    if latest.flagged_share > m.flagged_alert:
        alerts.append(
            f"{latest.flagged_share:.0%} of rows were flagged (unseen categories or values outside the "
            f"training range) > {m.flagged_alert:.0%}"
        )
    if latest.labelled >= m.min_labels:
        for c in spec.criteria:
            value = latest.metrics.get(c.metric)
            if value is not None and not c.passed(value):
                alerts.append(
                    f"{c.metric} is {value:.3f} on {latest.labelled} labelled rows: criterion {c} fails"
                )
    return alerts

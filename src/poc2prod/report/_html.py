"""The customer-success report: one self-contained HTML page, read top to bottom by the client.

It is built from what each gate recorded in the project (``.poc2prod/<gate>.json``) and the
registry's versions; a gate that has not run yet leaves its section saying so and which command
fills it. Everything is inline: the styles, the charts (SVG drawn by :mod:`poc2prod.report._svg`);
the page makes no request and runs no script.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import TYPE_CHECKING, Any

from poc2prod.report._svg import line_chart

if TYPE_CHECKING:
    from poc2prod.project import Project

_CSS = """
body{font:15px/1.5 system-ui,sans-serif;color:#1d2733;max-width:920px;margin:2em auto;padding:0 1.2em}
h1{font-size:1.7em;margin-bottom:.1em}
h2{border-bottom:2px solid #e3e8ee;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.93em}
th,td{padding:.3em .7em;border-bottom:1px solid #e3e8ee;text-align:right}
th:first-child,td:first-child{text-align:left}
.muted{color:#6b7785}
.go{color:#1e7d3a;font-weight:700}
.nogo,.alert{color:#b3261e;font-weight:700}
.pending{background:#f6f8fa;border-left:4px solid #9aa5b1;padding:.5em 1em}
.chart{width:100%;max-width:560px;height:auto;font-size:11px;fill:#44505c}
.chart .grid{stroke:#e3e8ee}
.chart .diag{stroke:#9aa5b1;stroke-dasharray:4 3}
.chart .mark{stroke:#b3261e;stroke-dasharray:3 3}
.chart .label{font-size:12px;fill:#1d2733}
.chart .mark-label{fill:#b3261e}
code{background:#f1f3f5;padding:.1em .3em;border-radius:3px}
"""


def build_report(project: Project) -> str:
    """The report of ``project`` as one HTML document."""
    spec = project.spec
    docs = {g: project.last(g) for g in ("prove", "optimize", "deploy", "monitor", "retrain")}
    versions = project.models()
    if spec.task == "recommend":
        from poc2prod.report import _recommend as rec

        opt, monitor = docs["optimize"], docs["monitor"]
        sections = [
            _summary(project, docs, versions),
            _question(project),
            _data(docs["prove"], project),
            _proof(docs["prove"], project),
            rec.optimization(opt, _money)
            if opt
            else "<h2>Optimization</h2>" + _pending("optimize", "optimize", project),
            rec.production(monitor, _money) + _service_health(project)
            if monitor
            else "<h2>In production</h2>"
            + _service_health(project)
            + _pending("monitor", "monitor", project),
            _versions(versions, None, project),
            rec.how_to(escape(str(project.root))),
        ]
    else:
        sections = [
            _summary(project, docs, versions),
            _question(project),
            _data(docs["prove"], project),
            _proof(docs["prove"], project),
            _optimization(docs["optimize"], project),
            _holdout_charts(project, versions),
            _production(docs["monitor"], docs["optimize"], project),
            _versions(versions, docs["retrain"], project),
            _how_to(project),
        ]
    title = f"{escape(spec.name)}: from proof of concept to production"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style></head>'
        f"<body><h1>{title}</h1>"
        f'<p class="muted">Written {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by poc2prod from '
        f"the project's tracked runs.</p>{''.join(sections)}</body></html>"
    )


# -- sections ------------------------------------------------------------------------------


def _pending(what: str, command: str, project: Project) -> str:
    return (
        f'<p class="pending">{escape(what)} has not run yet: '
        f"<code>poc2prod {escape(command)} -C {escape(str(project.root))}</code> fills this section.</p>"
    )


def _summary(project: Project, docs: dict, versions: list) -> str:
    prove, optimize, monitor = docs["prove"], docs["optimize"], docs["monitor"]
    items = []
    if prove:
        cls = "go" if prove["verdict"] == "go" else "nogo"
        items.append(f'Proof of concept: <span class="{cls}">{escape(prove["verdict"].upper())}</span>')
    if optimize and optimize.get("value"):
        v = optimize["value"]
        if "incremental_vs_most_popular" in v:  # recommendations: what the lists add to most-popular
            inc = v["incremental_vs_most_popular"]
            items.append(
                f"the lists would earn <b>{_money(v['optimized']['per_month'], v['currency'])}</b> a month, "
                f"{_money(inc['per_month'], v['currency'])} against most-popular"
            )
        else:
            items.append(f"expected value: <b>{_money(v.get('per_month'), v['currency'])}</b> per month")
    champion = next((v for v in versions if v.champion), None)
    if champion:
        items.append(f"in production: version {champion.version}")
    if monitor:
        alerts = monitor.get("alerts") or []
        items.append(
            f'<span class="alert">{len(alerts)} alert(s)</span> in the latest window'
            if alerts
            else "no alerts in the latest window"
        )
    body = " · ".join(items) if items else "Nothing has run yet: start with <code>poc2prod prove</code>."
    return f"<h2>Summary</h2><p>{body}</p>"


def _subject(spec) -> str:
    """What the model predicts, in words: the target, or for recommendations who gets what."""
    if spec.task == "recommend":
        c = spec.columns
        return (
            f"the {spec.recommend.k} items (<code>{escape(c.item)}</code>) each user "
            f"(<code>{escape(c.user)}</code>) is most likely to take next"
        )
    return f"<code>{escape(spec.target)}</code>"


def _question(project: Project) -> str:
    spec = project.spec
    criteria = (
        "".join(f"<li><code>{escape(str(c))}</code></li>" for c in spec.criteria) or "<li>none agreed</li>"
    )
    vm = spec.value
    outcomes = (
        (
            ("query answered automatically, and rightly", "automated_correct"),
            ("query answered automatically, and wrongly", "automated_wrong"),
            ("query routed to a person (confidence under the threshold)", "routed"),
        )
        if spec.task == "text-intent"
        else (
            ("model says positive, and it is (true positive)", "true_positive"),
            ("model says positive, and it is not (false positive)", "false_positive"),
            ("model says negative, and it is positive (false negative)", "false_negative"),
            ("model says negative, and it is not (true negative)", "true_negative"),
        )
    )
    priced = spec.problem == "binary" or spec.task == "text-intent"
    rows = "".join(
        f"<tr><td>{label}</td><td>{_money(getattr(vm, key), vm.currency)}</td></tr>"
        for label, key in outcomes
    )
    volume = (
        f"{vm.decisions_per_month:,} decisions a month"
        if vm.decisions_per_month
        else "no monthly volume given"
    )
    texts = (
        f" from the text of <code>{escape(', '.join(spec.columns.text))}</code>" if spec.columns.text else ""
    )
    if spec.task == "recommend":
        from poc2prod.report._recommend import worth

        money = worth(project)
    elif priced:
        money = (
            f"<p>What each decision is worth ({volume}):</p>"
            f"<table><tr><th>outcome</th><th>value</th></tr>{rows}</table>"
        )
    else:
        money = ""
    return (
        f"<h2>The question</h2><p>A <b>{escape(spec.task)}</b> model of {_subject(spec)}"
        f"{texts}. Success criteria agreed with the client, judged on data the model never saw:</p>"
        f"<ul>{criteria}</ul>{money}"
    )


def _data(prove: dict | None, project: Project) -> str:
    if not prove:
        return "<h2>The data</h2>" + _pending("prove", "prove", project)
    d = prove["data"]
    if prove.get("task") == "recommend":
        notes = "".join(f"<li>{escape(n)}</li>" for n in prove.get("notes") or [])
        return (
            f"<h2>The data</h2><p>{d['rows']:,} rows of interactions; {d['labelled_rows']:,} kept after "
            f"cleaning, from {d['users']:,} users and {d['items']:,} items. The {d['holdout_rows']:,} "
            f"interactions after {escape(d['cut'])} are the future the model is judged on; the candidates "
            f"were ranked on a cut inside the past, at {escape(d['selection_cut'])}.</p>"
            f"<p>What was dropped and set aside:</p><ul>{notes}</ul>"
        )
    findings = "".join(f"<li>{escape(str(f.get('message', f)))}</li>" for f in prove.get("findings") or [])
    return (
        f"<h2>The data</h2><p>{d['rows']:,} rows ({d['labelled_rows']:,} labelled), {d['features']} features "
        f"({len(d.get('numeric') or [])} numeric, {len(d.get('categorical') or [])} categorical, "
        f"{len(d.get('texts') or [])} text). "
        f"{d['holdout_rows']:,} rows were set aside as a final holdout before any model was chosen.</p>"
        + (
            f"<p>What the profile found:</p><ul>{findings}</ul>"
            if findings
            else "<p>The profile found no issues.</p>"
        )
    )


def _proof(prove: dict | None, project: Project) -> str:
    if not prove:
        return "<h2>Proof of concept</h2>" + _pending("prove", "prove", project)
    cls = "go" if prove["verdict"] == "go" else "nogo"
    rows = "".join(
        f"<tr><td><code>{escape(c['metric'])} {escape(c['op'])} {c['threshold']:g}</code></td>"
        f"<td>{c['value']:.3f}</td><td>{c['interval'][0]:.3f} to {c['interval'][1]:.3f}</td>"
        f"<td>{'met' if c['passed'] else 'not met'}</td></tr>"
        for c in prove["criteria"]
    )
    primary = prove["primary_metric"]
    how = "on a cut inside the past," if prove.get("task") == "recommend" else "cross-validated"
    board = "".join(
        f"<tr><td>{escape(r['model'])}</td><td>{_num(r['cv'].get(primary, {}).get('mean'))}</td>"
        f"<td>{escape(r['status'])}</td></tr>"
        for r in prove["leaderboard"][:6]
    )
    return (
        f'<h2>Proof of concept</h2><p>Verdict: <span class="{cls}">{escape(prove["verdict"].upper())}</span> '
        f"with {escape(prove['best']['model'])}.</p>"
        f"<table><tr><th>criterion</th><th>holdout</th><th>90% interval</th><th></th></tr>{rows}</table>"
        f"<p>Candidates raced ({how} "
        f"{escape(primary)}):</p>"
        f"<table><tr><th>model</th><th>{escape(primary)}</th><th>status</th></tr>{board}</table>"
    )


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:.1f}%"


def _optimization(opt: dict | None, project: Project) -> str:
    if not opt:
        return "<h2>Optimization</h2>" + _pending("optimize", "optimize", project)
    gain, primary = opt["gain"], opt["primary_metric"]
    before, after = opt["baseline"]["holdout"], opt["optimized"]["holdout"]
    out = [
        "<h2>Optimization</h2>",
        f"<p>{escape(opt['optimized']['model'])}: holdout {escape(primary)} {_num(before.get(primary))} → "
        f"{_num(after.get(primary))} (gain {gain['value']:+.4f}, 90% interval {gain['low']:+.4f} to "
        f"{gain['high']:+.4f}{'; within noise' if gain.get('within_noise') else ''}).</p>",
    ]
    value = opt.get("value")
    if value:
        from poc2prod.value import do_nothing

        cur = value["currency"]
        nothing_label, nothing = do_nothing(value)
        out.append(
            "<table><tr><th>per 1,000 decisions</th><th>value</th></tr>"
            f"<tr><td>this model, threshold {value['threshold']:.3f}</td>"
            f"<td><b>{_money(value['per_1000_decisions'], cur)}</b></td></tr>"
            f"<tr><td>the proven model at {value['prove_model']['threshold']:.3f}</td>"
            f"<td>{_money(value['prove_model']['per_1000_decisions'], cur)}</td></tr>"
            f"<tr><td>{escape(nothing_label)}</td>"
            f"<td>{_money(nothing['per_1000_decisions'], cur)}</td></tr></table>"
        )
        curve = value.get("curve") or {}
        if curve.get("threshold"):
            out.append(
                "<p>Value per decision at each threshold (cross-validated); "
                "the chosen threshold is marked:</p>"
                + line_chart(
                    {"value per decision": (curve["threshold"], curve["value_per_decision"])},
                    x_label="decision threshold",
                    y_label=f"{cur} per decision",
                    x_range=(0.0, 1.0),
                    marks={"chosen": value["threshold"]},
                )
            )
        if curve.get("automation_rate"):
            pairs = [
                (a, c)
                for a, c in zip(curve["automation_rate"], curve["automated_accuracy"], strict=True)
                if c is not None and c == c
            ]
            out.append(
                f"<p>Automation against accuracy: at the chosen confidence threshold "
                f"{value['threshold']:.3f}, {_pct(value['automation_rate'])} of the holdout's queries are "
                f"answered automatically and {_pct(value['automated_accuracy'])} of those answers are "
                "right; the rest go to a person. Lower the threshold to automate more, at the cost of "
                "more wrong answers (cross-validated):</p>"
                + line_chart(
                    {
                        "accuracy of automated answers": ([a for a, _ in pairs], [c for _, c in pairs]),
                    },
                    x_label="share of queries answered automatically",
                    y_label="accuracy",
                    x_range=(0.0, 1.0),
                    marks={"chosen": value["automation_rate"]},
                )
            )
    reliability = (opt.get("calibration") or {}).get("reliability_holdout")
    if reliability:
        out.append(
            "<p>Calibration on the holdout: predicted probability against the share that turned out "
            "positive (the diagonal is perfect calibration):</p>"
            + line_chart(
                {"holdout": ([r["predicted"] for r in reliability], [r["observed"] for r in reliability])},
                x_label="predicted probability",
                y_label="observed share",
                x_range=(0.0, 1.0),
                y_range=(0.0, 1.0),
                diagonal=True,
                points=True,
            )
        )
    return "".join(out)


def _holdout_charts(project: Project, versions: list) -> str:
    """ROC and cumulative gains of the champion on the frozen holdout, scored here."""
    if not any(v.champion for v in versions) or project.spec.problem != "binary":
        return ""
    import numpy as np
    from sklearn.metrics import roc_auc_score, roc_curve

    from poc2prod.gates._prepare import prepare
    from poc2prod.learn import predict
    from poc2prod.store._registry import load_bundle

    bundle = load_bundle(project.tracking_uri, project.spec.name)
    prep = prepare(project, notes=[])
    features = [
        *bundle.settings["numeric"],
        *bundle.settings["categorical"],
        *(bundle.settings.get("dates") or []),
    ]
    y = np.asarray(prep.y_hold)
    scores = predict(bundle.model, prep.X_hold[features], "binary", 2)
    fpr, tpr, _ = roc_curve(y, scores)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 200)).astype(int))
    ranked = y[np.argsort(-scores, kind="stable")]
    flagged = np.linspace(0, 1, 101)
    captured = np.r_[0, np.cumsum(ranked) / max(ranked.sum(), 1)][np.round(flagged * len(y)).astype(int)]
    return (
        f"<h3>The deployed model (version {bundle.version}) on the {len(y):,} holdout rows</h3>"
        f"<p>ROC curve (AUC {roc_auc_score(y, scores):.3f}); the diagonal is a coin toss:</p>"
        + line_chart(
            {"model": (fpr[keep].tolist(), tpr[keep].tolist())},
            x_label="false positive rate",
            y_label="true positive rate",
            x_range=(0.0, 1.0),
            y_range=(0.0, 1.0),
            diagonal=True,
        )
        + "<p>Cumulative gains: the share of all positives found when the highest-scored share of "
        "cases is flagged (the diagonal is flagging at random):</p>"
        + line_chart(
            {"model": (flagged.tolist(), captured.tolist())},
            x_label="share of cases flagged, highest scores first",
            y_label="share of positives found",
            x_range=(0.0, 1.0),
            y_range=(0.0, 1.0),
            diagonal=True,
        )
    )


def _service_health(project: Project) -> str:
    """Requests, errors and latency of the last service run, from its Prometheus files."""
    runs = sorted((project.state_dir / "metrics").glob("*/*.db"), key=lambda f: f.stat().st_mtime)
    if not runs:
        return ""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(runs[-1].parent))
    by_status: dict[str, float] = {}
    buckets: dict[float, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.labels.get("endpoint") != "predict":
                continue
            if sample.name == "poc2prod_requests_total":
                by_status[sample.labels["status"]] = by_status.get(sample.labels["status"], 0) + sample.value
            elif sample.name == "poc2prod_request_seconds_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0) + sample.value
    total = sum(by_status.values())
    if not total:
        return ""

    def within(q: float) -> str:  # the bucket bound under which a share q of requests answered
        count = buckets.get(float("inf"), total)
        bound = next((b for b in sorted(buckets) if buckets[b] >= q * count), float("inf"))
        return "over 1 s" if bound == float("inf") else f"within {bound * 1000:g} ms"

    errors = sum(n for status, n in by_status.items() if not status.startswith("2"))
    return (
        f"<p>Service health, its last run (port {escape(runs[-1].parent.name)}): {total:,.0f} prediction "
        f"requests, {errors:,.0f} refused or failed ({errors / total:.1%}); half answered "
        f"{within(0.5)}, 99% {within(0.99)} (Prometheus histogram bounds, time in the server).</p>"
    )


def _texts_over_time(monitor: dict, axis: dict, ends: list[int]) -> str:
    """For text tasks: the predicted class mix per window with the control chart's shifts, the
    words' drift and, for intents, the share of queries answered without a person."""
    windows, classes = monitor["windows"], monitor.get("classes") or []
    out = []
    if classes and all(w.get("mix") for w in windows) and len(classes) <= 12:
        shifts = monitor.get("shifts") or []
        rate = monitor.get("shift_false_alarm_rate")
        out.append(
            "<p>The mix of predicted classes per window (share of rows)"
            + (
                f"; a control chart flags a class whose share leaves what the previous windows make "
                f"plausible (false-alarm rate {100 * rate:.2f}% per class and window):</p>"
                if rate
                else ":</p>"
            )
            + line_chart(
                {c: (ends, [w["mix"]["shares"][i] for w in windows]) for i, c in enumerate(classes)},
                y_label="share of rows",
                y_range=(0.0, 1.0),
                points=True,
                marks={f"{s['class']} {s['direction']}": s["window"] + 1 for s in shifts[:4]},
                **axis,
            )
        )
        if shifts:
            out.append(
                "<table><tr><th>window ends</th><th>class</th><th>share</th><th>expected</th>"
                "<th>limits</th></tr>"
                + "".join(
                    f"<tr><td>{dt.datetime.fromtimestamp(s['end'], dt.UTC):%Y-%m-%d %H:%M}</td>"
                    f"<td>{escape(str(s['class']))} ({s['direction']})</td><td>{_pct(s['share'])}</td>"
                    f"<td>{_pct(s['expected'])}</td><td>{_pct(s['lower'])} – {_pct(s['upper'])}</td></tr>"
                    for s in shifts
                )
                + "</table>"
            )
    automation = [
        (i, w["automation_rate"])
        for i, w in zip(ends, windows, strict=True)
        if w.get("automation_rate") is not None
    ]
    if automation:
        out.append(
            "<p>Share of queries answered without a person, per window:</p>"
            + line_chart(
                {"answered automatically": ([i for i, _ in automation], [a for _, a in automation])},
                y_label="share of queries",
                y_range=(0.0, 1.0),
                points=True,
                **axis,
            )
        )
    for t in windows[-1].get("texts") or []:
        risen = ", ".join(escape(r["token"]) for r in t["risen"][:10]) or "none"
        out.append(
            f"<p>Latest window, the words of <code>{escape(t['column'])}</code>: PSI {_num(t['psi'], 3)}; "
            f"{_pct(t['oov_rate'])} of words unknown to the model "
            f"(training {_pct(t['reference_oov_rate'])}); "
            f"words on the rise: {risen}.</p>"
        )
    return "".join(out)


def _drift_series(windows: list[dict], ends: list[int]) -> dict[str, tuple[list, list]]:
    """PSI per window of what the windows measured: the scores, the most-moved feature, the words
    of each text column."""
    series = {}
    if any(w.get("score_drift") for w in windows):
        series["scores"] = (ends, [(w.get("score_drift") or {}).get("psi", float("nan")) for w in windows])
    if any(w["drift"] for w in windows):
        series["most-moved feature"] = (
            ends,
            [max((d["psi"] for d in w["drift"]), default=0.0) for w in windows],
        )
    for i, t in enumerate(windows[-1].get("texts") or []):
        values = [(w.get("texts") or [{}] * (i + 1))[i].get("psi", float("nan")) for w in windows]
        series[f"words of {t['column']}"] = (ends, values)
    return series


def _production(monitor: dict | None, opt: dict | None, project: Project) -> str:
    if not monitor:
        return "<h2>In production</h2>" + _service_health(project) + _pending("monitor", "monitor", project)
    windows = monitor["windows"]
    ends = list(range(1, len(windows) + 1))
    # Windows are numbered, oldest first; counts and PSI start from zero.
    axis = {"x_label": "window (oldest first)", "x_range": (0.5, len(windows) + 0.5), "x_ticks": ends}
    series = _drift_series(windows, ends)
    psi = [v for _, values in series.values() for v in values if v == v]  # not NaN
    primary = project.spec.primary
    out = [
        "<h2>In production</h2>",
        f"<p>{monitor['rows']:,} predictions logged, {monitor['labelled']:,} with their outcome; "
        f"windows of {escape(monitor['window'])}, the latest ending "
        f"{dt.datetime.fromtimestamp(windows[-1]['end'], dt.UTC):%Y-%m-%d %H:%M} UTC.</p>",
        _service_health(project),
        line_chart(
            {"rows scored": (ends, [w["rows"] for w in windows])},
            y_label="rows",
            y_range=(0, 1.15 * max(w["rows"] for w in windows)),
            points=True,
            **axis,
        ),
    ]
    if series:
        out.append(
            f"<p>Drift of the {', '.join(series)} against the training data (PSI; above "
            f"{project.spec.monitoring.psi_alert:g} is an alert):</p>"
            + line_chart(
                series,
                y_label="PSI",
                y_range=(0, max(0.25, 1.15 * max(psi, default=0.0))),
                points=True,
                **axis,
            )
        )
    perf = [
        (i, w["metrics"].get(primary))
        for i, w in zip(ends, windows, strict=True)
        if w["metrics"].get(primary)
    ]
    if perf:
        out.append(
            f"<p>{escape(primary)} on the labelled rows of each window:</p>"
            + line_chart(
                {primary: ([i for i, _ in perf], [v for _, v in perf])},
                y_label=primary,
                points=True,
                **axis,
            )
        )
    realised = [(w, w["value"]) for w in windows if w.get("value")]
    if realised:
        cur = monitor["currency"]
        promised = monitor.get("promised_per_decision")
        rows = "".join(
            f"<tr><td>{dt.datetime.fromtimestamp(w['end'], dt.UTC):%Y-%m-%d %H:%M}</td>"
            f"<td>{w['labelled']:,}</td>"
            f"<td>{_money(v['per_1000_decisions'], cur)}</td></tr>"
            for w, v in realised
        )
        out.append(
            "<p>Value realised on the decisions whose outcome is known, per 1,000 decisions"
            + (f" (optimize promised {_money(1000 * promised, cur)})" if promised is not None else "")
            + ":</p><table><tr><th>window ends</th><th>labelled</th><th>value</th></tr>"
            + rows
            + "</table>"
        )
    latest = windows[-1]
    moved = sorted(latest["drift"], key=lambda d: -(d["psi"] if d["psi"] == d["psi"] else 0))[:8]
    if moved:
        out.append(
            "<p>Latest window, the features that moved most:</p><table><tr><th>feature</th><th>PSI</th>"
            "<th>test p-value</th><th>missing</th></tr>"
            + "".join(
                f"<tr><td>{escape(d['feature'])}</td><td>{_num(d['psi'], 3)}</td><td>{d['p_value']:.2g}</td>"
                f"<td>{d['missing_rate']:.1%}</td></tr>"
                for d in moved
            )
            + "</table>"
        )
    out.append(_texts_over_time(monitor, axis, ends))
    alerts = monitor.get("alerts") or []
    out.append(
        "<ul>" + "".join(f'<li class="alert">{escape(a)}</li>' for a in alerts) + "</ul>"
        if alerts
        else "<p>No alerts in the latest window.</p>"
    )
    return "".join(out)


def _versions(versions: list, retrain: dict | None, project: Project) -> str:
    if not versions:
        return "<h2>Model versions</h2>" + _pending("deploy", "deploy", project)
    primary = project.spec.primary
    rows = "".join(
        f"<tr><td>{v.version}</td><td>{escape(', '.join(v.aliases))}</td>"
        f"<td>{dt.datetime.fromtimestamp(v.created / 1000, dt.UTC):%Y-%m-%d %H:%M}</td>"
        f"<td>{escape(v.tags.get('poc2prod.source_gate', ''))}</td>"
        f"<td>{escape(v.tags.get('poc2prod.model', ''))}</td>"
        f"<td>{_num(v.metrics().get(primary))}</td></tr>"
        for v in versions
    )
    last = (
        f"<p>Latest retraining: the challenger was <b>{escape(retrain['decision'])}</b>: "
        f"{escape(retrain['reason'])}.</p>"
        if retrain
        else ""
    )
    return (
        "<h2>Model versions</h2><table><tr><th>version</th><th>alias</th><th>registered (UTC)</th>"
        f"<th>from</th><th>model</th><th>{escape(primary)}</th></tr>{rows}</table>{last}"
    )


def _how_to(project: Project) -> str:
    root = escape(str(project.root))
    return (
        "<h2>How to use and maintain this model</h2><ul>"
        f"<li>Serve it: <code>poc2prod serve -C {root} --port 8000 --workers 2</code>; send rows to "
        "<code>POST /predict</code> as JSON; <code>?explain=true</code> gives the reasons behind each score. "
        "The fields and their types are in <code>GET /openapi.json</code>.</li>"
        "<li>Send outcomes back as they become known: <code>POST /feedback</code> with the request id, "
        "the row and the label. Without them, performance and value realised cannot be measured.</li>"
        f"<li>Check it on a schedule: <code>poc2prod monitor -C {root}</code> exits with status 3 when "
        "a window raises an alert (drift, flagged rows, a criterion failing).</li>"
        f"<li>Refresh it with newer labelled data: <code>poc2prod retrain -C {root} --data newer.csv</code>; "
        "it replaces the model only when the new one is better beyond noise.</li>"
        f"<li>Undo a change: <code>poc2prod deploy -C {root} --version N</code> makes version N the champion "
        "again.</li>"
        f"<li>Score a file: <code>poc2prod score -C {root} --input new.csv "
        "--output scored.parquet</code>.</li>"
        "</ul>"
    )


def _money(v: Any, currency: str) -> str:
    return "—" if v is None else f"{v:+,.0f} {escape(currency)}"


def _num(v: Any, digits: int = 4) -> str:
    return "—" if v is None or v != v else f"{v:.{digits}f}"

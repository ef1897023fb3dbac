"""Terminal rendering of gate results with rich: tables a data scientist reads at a glance."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from poc2prod.gates import MonitorResult, OptimizeResult, ProveResult
    from poc2prod.learn import CandidateResult
    from poc2prod.project import Project


def _fmt(v: float | None, digits: int = 4) -> str:
    return "—" if v is None or v != v else f"{v:.{digits}f}"


def candidate_line(r: CandidateResult, primary: str) -> str:
    """One line per finished candidate, printed while the race runs."""
    if not r.usable:
        return f"  [dim]· {r.name:<20} {r.status}: {r.note}[/]"
    mark = "[green]✓[/]" if r.status == "done" else "[yellow]~[/]"
    text = (
        f"  {mark} {r.name:<20} {primary} {r.mean(primary):.4f} ± {r.std(primary):.4f}"
        f"  {r.folds_done}/{r.folds_total} folds  {r.fit_seconds:.1f}s/fold"
    )
    return text + (f"  [dim]({r.note})[/]" if r.note else "")


def show_prove(result: ProveResult, project: Project, console: Console | None = None) -> None:
    """Print findings, the leaderboard, the holdout check and the verdict."""
    out = console or Console()
    data = result.data
    recommend = result.task == "recommend"
    if recommend:
        out.print(
            f"\n[bold]{project.spec.name}[/]: recommend; {data['labelled_rows']:,} interactions of "
            f"{data['users']:,} users and {data['items']:,} items after cleaning; time cut {data['cut']}: "
            f"{data['train_rows']:,} interactions before it (the past), {data['holdout_rows']:,} after (the "
            f"future); candidates raced on a second cut at {data['selection_cut']}",
            highlight=False,
        )
    else:
        out.print(
            f"\n[bold]{project.spec.name}[/]: {result.task}, target [bold]{project.spec.target}[/]"
            f"{f' (positive = {result.positive_class!r})' if result.positive_class is not None else ''}; "
            f"{data['labelled_rows']:,} labelled rows, {data['features']} "
            f"feature{'s' if data['features'] != 1 else ''}"
            + (f" (text: {', '.join(data['texts'])})" if data.get("texts") else "")
            + "; "
            f"{data['split']} split: {data['train_rows']:,} train / {data['holdout_rows']:,} holdout, "
            f"{data['folds']}-fold CV",
            highlight=False,
        )
    warnings = [f for f in result.findings if f["level"] == "warning"]
    for f in warnings:
        out.print(f"[yellow]warning:[/] {f['message']}", highlight=False)
    for note in result.notes:
        out.print(f"[cyan]note:[/] {note}", highlight=False)

    primary = result.primary_metric
    shown = list(dict.fromkeys([primary, *(c.metric for c in result.criteria)]))
    k = project.spec.recommend.k
    usual = (f"ndcg@{k}", f"coverage@{k}") if recommend else ("log_loss", "rmse", "accuracy")
    extra = [m for m in usual if m not in shown and any(m in row["cv"] for row in result.leaderboard)]
    extra = extra[: 2 if recommend else 1]
    where = "scored on the last part of the past" if recommend else "cross-validated on the training rows"
    table = Table(title=f"leaderboard ({where})", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("model")
    for m in shown + extra:
        table.add_column(m, justify="right")
    table.add_column("folds", justify="right")
    table.add_column("fit s/fold", justify="right")
    rank, footnotes = 0, []
    for row in result.leaderboard:
        cells = []
        for m in shown + extra:
            s = row["cv"].get(m)
            if not s:
                cells.append("—")
            else:  # a figure without a spread (a catalogue-wide one) shows its value alone
                cells.append(_fmt(s["mean"]) + (f" ± {_fmt(s['std'], 3)}" if s["std"] is not None else ""))
        rank += 1 if row["cv"] else 0
        name = row["model"]
        if row["note"]:
            footnotes.append(f"[{len(footnotes) + 1}] {name}: {row['note']}")
            name += f" [{len(footnotes)}]"
        style = "bold" if row["model"] == result.best["model"] else ("dim" if not row["cv"] else None)
        fit = f"{row['fit_seconds']:.2f}"
        table.add_row(str(rank) if row["cv"] else "", name, *cells, row["folds"], fit, style=style)
    out.print(table)
    for line in footnotes:
        out.print(f"[dim]{line}[/]", highlight=False)

    if recommend:
        out.print(
            f"best: [bold]{result.best['model']}[/], refitted on all the past and scored once on the future",
            highlight=False,
        )
        vs = result.best.get("versus_most_popular")
        if vs:
            out.print(
                f"{primary} over {vs['baseline']} on the future: {vs['difference']:+.4f} "
                f"(90% paired bootstrap {vs['low']:+.4f} to {vs['high']:+.4f}): "
                + ("[green]a clear margin[/]" if vs["clear"] else "[yellow]within the noise[/]"),
                highlight=False,
            )
    else:
        out.print(
            f"best: [bold]{result.best['model']}[/], refitted on all {data['train_rows']:,} training rows "
            f"and scored once on the {data['holdout_rows']:,} holdout rows",
            highlight=False,
        )
    verdict = Table(title="success criteria (judged on the holdout)", title_justify="left")
    for col in (
        "criterion",
        "selection" if recommend else "cv mean",
        "holdout",
        "90% interval",
        "margin",
        "result",
    ):
        verdict.add_column(col, justify="left" if col == "criterion" else "right")
    for c in result.criteria:
        lo, hi = c.interval
        verdict.add_row(
            f"{c.metric} {c.op} {c.threshold:g}",
            _fmt(c.cv_mean),
            _fmt(c.value),
            f"{_fmt(lo, 3)} – {_fmt(hi, 3)}",
            f"{c.margin:+.4f}",
            ("[green]pass[/]" if c.passed else "[red]fail[/]") + ("" if c.firm else " (not firm)"),
        )
    out.print(verdict)
    colour = "green" if result.verdict == "go" else "red"
    out.print(
        f"verdict: [bold {colour}]{result.verdict.upper()}[/]  "
        f"({result.elapsed_seconds:.1f}s of a {result.budget_seconds:.0f}s budget)"
    )
    out.print(
        f"[dim]run {result.run_id} — browse with: mlflow ui --backend-store-uri {project.tracking_uri}[/]",
        highlight=False,
    )


def trial_line(trial, primary: str) -> str:
    """One line per finished Optuna trial, printed while tuning runs."""
    model = trial.params.get("model", "?")
    if trial.state.name != "COMPLETE":
        return f"  [dim]· trial {trial.number:<4} {model:<20} {trial.state.name.lower()}[/]"
    seconds = trial.user_attrs.get("seconds")
    took = f"  {seconds:.1f}s" if seconds is not None else ""
    return f"  [green]✓[/] trial {trial.number:<4} {model:<20} {primary} {trial.value:.4f}{took}"


def _money(v: float | None, currency: str) -> str:
    return "—" if v is None else f"{v:+,.0f} {currency}"


def show_optimize(result: OptimizeResult, project: Project, console: Console | None = None) -> None:
    """Print what was tried, the before/after table with its noise, and the money."""
    out = console or Console()
    if result.task == "recommend":
        _show_optimize_recommend(result, project, out)
        return
    for note in result.notes:
        out.print(f"[cyan]note:[/] {note}", highlight=False)
    st = result.study
    out.print(
        f"\n[bold]{project.spec.name}[/]: {st['finished']} trials in study {st['name']} "
        f"({st['this_run']} in this run; {st['pruned']} pruned; by model: "
        + ", ".join(f"{k} {v}" for k, v in st["by_model"].items())
        + ")",
        highlight=False,
    )
    tested = result.features.get("tested", {})
    for family, t in tested.get("families", {}).items():
        kept = "[green]kept[/]" if t["kept"] else f"[dim]{t.get('note', 'not kept')}[/]"
        out.print(
            f"  features {family:<10} cv {_fmt(t['cv'])} vs {_fmt(tested.get('without'))} without: {kept}",
            highlight=False,
        )
    if tested.get("note"):
        out.print(f"  [dim]features: {tested['note']}[/]", highlight=False)
    if result.ensemble:
        e = result.ensemble
        verdict = "[green]kept[/]" if e["kept"] else "[dim]not kept (a single model is as good)[/]"
        out.print(
            f"  ensemble cv {_fmt(e['cv'])} vs best single {_fmt(e['best_single_nested_cv'])} "
            f"(both chosen on other folds; the best single's own cv: {_fmt(e['best_single_cv'])}): {verdict}"
        )
    if result.calibration:
        c = result.calibration
        losses = ", ".join(f"{k} {v:.4f}" for k, v in c["cv_log_loss"].items())
        out.print(f"  calibration: [bold]{c['method'] or 'none'}[/] (cross-fitted log loss: {losses})")
        bins = c.get("reliability_holdout") or []
        if bins:
            pairs = "  ".join(f"{b['predicted']:.2f}→{b['observed']:.2f}" for b in bins)
            out.print(f"  [dim]reliability on the holdout (predicted→observed, by decile): {pairs}[/]")

    primary = result.primary_metric
    parts = [p for p in ("holdout", "newer") if p in result.optimized]
    metrics = list(result.optimized["holdout"])[:6]
    table = Table(title="before / after (scored once)", title_justify="left")
    table.add_column("model")
    table.add_column("data")
    for m in metrics:
        table.add_column(m, justify="right")
    for part in parts:
        for label, doc in (
            ("prove: " + result.baseline["model"], result.baseline),
            ("optimized", result.optimized),
        ):
            table.add_row(label, part, *(_fmt(doc[part].get(m)) for m in metrics))
    out.print(table)
    out.print(f"optimized model: [bold]{result.optimized['model']}[/]", highlight=False)
    for part in parts:
        g = result.gain if part == "holdout" else result.gain[part]
        noise = "[yellow]within the noise[/]" if g["within_noise"] else "[green]beyond the noise[/]"
        out.print(
            f"gain in {primary} on {part}: [bold]{g['value']:+.4f}[/] "
            f"(90% paired bootstrap {g['low']:+.4f} to {g['high']:+.4f}, {g['rows']:,} rows): {noise}",
            highlight=False,
        )
    if result.value:
        v = result.value
        cur = v["currency"]
        money = Table(title=f"value on the holdout, threshold {result.threshold:.3f}", title_justify="left")
        for col in ("decision rule", "per 1,000 decisions", "per month"):
            money.add_column(col, justify="left" if col == "decision rule" else "right")
        from poc2prod.value import do_nothing

        rows = [
            do_nothing(v),
            (f"prove model at {v['prove_model']['threshold']:g}", v["prove_model"]),
            (f"optimized at {result.threshold:.3f}", v),
        ]
        for label, doc in rows:
            money.add_row(label, _money(doc["per_1000_decisions"], cur), _money(doc["per_month"], cur))
        out.print(money)
        if v.get("automation_rate") is not None:
            accuracy = v["automated_accuracy"]
            out.print(
                f"queries answered automatically: [bold]{v['automation_rate']:.1%}[/]"
                + (f", {accuracy:.1%} of them right" if accuracy is not None else "")
                + f"; below {result.threshold:.3f} confidence a query goes to a person",
                highlight=False,
            )
    out.print(f"({result.elapsed_seconds:.1f}s of a {result.budget_seconds:.0f}s budget)")
    out.print(
        f"[dim]run {result.run_id} — browse with: mlflow ui --backend-store-uri {project.tracking_uri}[/]",
        highlight=False,
    )


def _show_optimize_recommend(result, project: Project, out: Console) -> None:
    """The recommendation study, each family's best and the blend, before / after on the future
    against prove's model and most-popular, and what the lists would have earned."""
    for note in result.notes:
        out.print(f"[cyan]note:[/] {note}", highlight=False)
    st, primary = result.study, result.primary_metric
    out.print(
        f"\n[bold]{project.spec.name}[/]: {st['finished']} trials in study {st['name']} "
        f"({st['this_run']} in this run; by model: "
        + ", ".join(f"{k} {v}" for k, v in st["by_model"].items())
        + ")",
        highlight=False,
    )
    for c in result.candidates:
        style = "bold" if c["model"] == result.optimized["model"] else "dim"
        out.print(
            f"  [{style}]{c['model']:<34} {primary} {_fmt(c['selection'][primary])} on the selection cut[/]"
        )
    metrics = list(result.optimized["holdout"])[:6]
    table = Table(title="on the future (scored once)", title_justify="left")
    table.add_column("model")
    for m in metrics:
        table.add_column(m, justify="right")
    for label, doc in (
        (f"most-popular: {result.popular['model']}", result.popular),
        (f"prove: {result.baseline['model']}", result.baseline),
        (f"optimized: {result.optimized['model']}", result.optimized),
    ):
        table.add_row(label, *(_fmt(doc["holdout"].get(m)) for m in metrics))
    out.print(table)
    for what, g in (
        ("prove's model", result.gain),
        (result.versus_popular["baseline"], result.versus_popular),
    ):
        noise = (
            "[green]beyond the noise[/]"
            if g["clear"]
            else ("[yellow]within the noise[/]" if g["high"] >= 0 else "[red]worse[/]")
        )
        out.print(
            f"{primary} over {what}: [bold]{g['difference']:+.4f}[/] "
            f"(90% paired bootstrap {g['low']:+.4f} to {g['high']:+.4f}): {noise}",
            highlight=False,
        )
    v = result.value
    if v:
        cur = v["currency"]
        money = Table(title="what the lists would have earned on the future", title_justify="left")
        for col in ("list", "per 1,000 lists", "per month"):
            money.add_column(col, justify="left" if col == "list" else "right")
        for label, key in (
            ("most-popular", "most_popular"),
            ("prove's model", "prove_model"),
            ("optimized", "optimized"),
        ):
            money.add_row(label, _money(v[key]["per_1000_lists"], cur), _money(v[key]["per_month"], cur))
        out.print(money)
        inc = v["incremental_vs_most_popular"]
        out.print(
            f"over most-popular: [bold]{_money(inc['per_month'], cur)}[/] a month "
            f"(90% interval {_money(inc['per_month_low'], cur)} to {_money(inc['per_month_high'], cur)}; "
            f"{v['lists_per_month']:,.0f} lists a month: {v['lists_per_month_source']})",
            highlight=False,
        )
        out.print(f"[dim]{v['caveat']}[/]", highlight=False)
    out.print(f"({result.elapsed_seconds:.1f}s of a {result.budget_seconds:.0f}s budget)")
    out.print(
        f"[dim]run {result.run_id} — browse with: mlflow ui --backend-store-uri {project.tracking_uri}[/]",
        highlight=False,
    )


def show_models(versions, project: Project, console: Console | None = None) -> None:
    """The registered versions, newest first, with their holdout metrics; the champion in bold."""
    import datetime as dt

    out = console or Console()
    if not versions:
        out.print(f"nothing deployed yet; run [bold]poc2prod deploy -C {project.root}[/]")
        return
    metric = project.spec.primary
    table = Table(title=f"{project.spec.name}: registered versions", title_justify="left")
    for col in ("version", "aliases", "deployed", "from", "model", metric, "threshold"):
        table.add_column(col, justify="right" if col in ("version", metric, "threshold") else "left")
    for v in versions:
        when = dt.datetime.fromtimestamp(v.created / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            str(v.version),
            ", ".join(v.aliases),
            when,
            v.tags.get("poc2prod.source_gate", ""),
            v.tags.get("poc2prod.model", ""),
            _fmt(v.metrics().get(metric)),
            _fmt(float(v.tags["poc2prod.threshold"]), 3) if "poc2prod.threshold" in v.tags else "—",
            style="bold" if v.champion else None,
        )
    out.print(table)


def show_monitor(result: MonitorResult, project: Project, console: Console | None = None) -> None:
    """The windows (oldest first), the latest window's drift per feature, and the alerts."""
    import datetime as dt

    out = console or Console()
    from poc2prod.gates._monitor_recommend import RecommendMonitorResult

    if isinstance(result, RecommendMonitorResult):
        _show_monitor_recommend(result, out)
        return
    primary = project.spec.primary
    table = Table(title=f"{result.name}: windows of {result.window}", title_justify="left")
    for col in (
        "ends (UTC)",
        "rows",
        "refused",
        "labelled",
        "score PSI",
        "flagged",
        primary,
        "value / 1,000",
    ):
        table.add_column(col, justify="left" if col == "ends (UTC)" else "right")
    for w in result.windows:
        value = (w.value or {}).get("per_1000_decisions")
        table.add_row(
            dt.datetime.fromtimestamp(w.end, dt.UTC).strftime("%m-%d %H:%M"),
            f"{w.rows:,}",
            f"{w.rejected_rows:,}",
            f"{w.labelled:,}",
            _fmt((w.score_drift or {}).get("psi"), 3),
            f"{w.flagged_share:.1%}",
            _fmt(w.metrics.get(primary)),
            _money(value, result.currency),
        )
    out.print(table)
    if result.promised_per_decision is not None:
        out.print(
            f"promised by optimize: {_money(1000 * result.promised_per_decision, result.currency)} per 1,000"
        )
    latest = result.windows[-1]
    drift = Table(title="latest window: drift against the training reference", title_justify="left")
    for col in ("feature", "PSI", "test", "p-value", "missing", "missing in training"):
        drift.add_column(col, justify="left" if col in ("feature", "test") else "right")
    limit = project.spec.monitoring.psi_alert
    for d in sorted(latest.drift, key=lambda d: -(d["psi"] if d["psi"] == d["psi"] else 0)):
        drift.add_row(
            d["feature"],
            _fmt(d["psi"], 3),
            d["test"],
            f"{d['p_value']:.2g}",
            f"{d['missing_rate']:.1%}",
            f"{d['reference_missing_rate']:.1%}",
            style="bold red" if d["psi"] == d["psi"] and d["psi"] > limit else None,
        )
    if latest.drift:
        out.print(drift)
    for t in latest.texts:
        out.print(
            f"latest window, words of {t['column']}: PSI {_fmt(t['psi'], 3)}, unknown words "
            f"{t['oov_rate']:.1%} (training {t['reference_oov_rate']:.1%}), "
            f"{t['mean_length']:.1f} words per text (training {t['reference_mean_length']:.1f})"
            + (f"; rising: {', '.join(r['token'] for r in t['risen'][:8])}" if t["risen"] else ""),
            highlight=False,
        )
    if latest.mix and result.classes:
        moved = sorted(
            zip(result.classes, latest.mix["shares"], latest.mix["reference_shares"], strict=True),
            key=lambda c: -abs(c[1] - c[2]),
        )[:5]
        out.print(
            f"latest window, predicted mix: PSI {_fmt(latest.mix['psi'], 3)} "
            f"(chi-square p {latest.mix['p_value']:.2g}); most moved: "
            + ", ".join(f"{c} {now:.1%} (training {ref:.1%})" for c, now, ref in moved),
            highlight=False,
        )
    if latest.automation_rate is not None:
        out.print(f"latest window: {latest.automation_rate:.1%} of queries answered without a person")
    for shift in result.shifts:
        when = dt.datetime.fromtimestamp(shift["end"], dt.UTC).strftime("%m-%d %H:%M")
        out.print(
            f"shift: {shift['class']} {shift['direction']} to {shift['share']:.1%} in the window ending "
            f"{when} (expected {shift['expected']:.1%})",
            highlight=False,
        )
    for a in result.alerts:
        out.print(f"[bold red]alert[/]: {a}", highlight=False)
    if not result.alerts:
        out.print("[green]no alerts[/] on the latest window")
    elif result.webhook:
        hook = result.webhook
        out.print(
            f"[yellow]{hook['error']}[/]; the alerts are above"
            if hook.get("error")
            else f"alerts posted to {hook['url']}",
            highlight=False,
        )


def _show_monitor_recommend(result, out: Console) -> None:
    """The recommendation windows: lists, coverage, popularity drift, acceptance and value."""
    import datetime as dt

    table = Table(title=f"{result.name}: windows of {result.window}", title_justify="left")
    for col in (
        "ends (UTC)",
        "lists",
        "cold",
        "coverage",
        "slots PSI",
        "purchases",
        "buys PSI",
        "accepted",
        "hit rate",
        "value",
    ):
        table.add_column(col, justify="left" if col == "ends (UTC)" else "right")
    for w in result.windows:
        rate = w.get("hit_rate")
        table.add_row(
            dt.datetime.fromtimestamp(w["end"], dt.UTC).strftime("%m-%d %H:%M"),
            f"{w['lists']:,}",
            f"{w['cold_share']:.0%}" if "cold_share" in w else "—",
            f"{w['coverage']:.1%}" if "coverage" in w else "—",
            _fmt(w.get("slot_psi"), 3),
            f"{w['purchases']:,}",
            _fmt(w.get("purchase_psi"), 3),
            f"{w.get('accepted', 0):,}",
            "—" if rate is None else f"{rate:.1%} of {w['matured_lists']:,}",
            _money(w.get("value"), result.currency) if "value" in w else "—",
        )
    out.print(table)
    expected = result.expected_hit_rate
    out.print(
        f"{result.lists:,} lists, {result.purchases:,} purchases reported, {result.accepted:,} of them "
        f"from a list (within {result.attribution})"
        + (f"; the holdout's hit rate was {expected:.1%}" if expected is not None else "")
        + (
            f"; value from accepted recommendations {_money(result.value, result.currency)}"
            if result.value is not None
            else ""
        ),
        highlight=False,
    )
    for note in result.notes:
        out.print(f"[cyan]note:[/] {note}", highlight=False)
    for alert in result.alerts:
        out.print(f"[red]alert:[/] {alert}", highlight=False)
    if not result.alerts:
        out.print("[green]no alert[/] on the latest window")

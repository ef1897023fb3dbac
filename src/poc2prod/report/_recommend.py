"""The report's sections for a recommendation project: what the tuned lists gain over prove's model
and over most-popular, what they would have earned, and how the served lists fare in production."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import TYPE_CHECKING

from poc2prod.report._svg import line_chart

if TYPE_CHECKING:
    from poc2prod.project import Project


def worth(project: Project) -> str:
    """What an accepted recommendation earns, in words, for "The question"."""
    vm = project.spec.value
    parts = []
    if vm.accepted:
        parts.append(f"{vm.accepted:,.2f} {escape(vm.currency)}")
    if vm.margin:
        parts.append(f"{vm.margin:.0%} of the item's price")
    if not parts:
        return (
            "<p>No value is agreed for an accepted recommendation yet (<code>value.accepted</code>, or "
            "<code>value.margin</code> with a price column), so the lists are judged on metrics alone.</p>"
        )
    worth = " plus ".join(parts)
    return f"<p>What an accepted recommendation (a listed item the user buys) is worth: {worth}.</p>"


def optimization(opt: dict, money) -> str:
    """Tuned lists against prove's model and most-popular on the future, and what they would earn."""
    primary = opt["primary_metric"]
    rows = "".join(
        f"<tr><td>{escape(label)}</td>"
        + "".join(f"<td>{_num(doc['holdout'].get(m))}</td>" for m in list(opt["optimized"]["holdout"])[:5])
        + "</tr>"
        for label, doc in (
            (f"most-popular ({opt['popular']['model']})", opt["popular"]),
            (f"proven: {opt['baseline']['model']}", opt["baseline"]),
            (f"optimized: {opt['optimized']['model']}", opt["optimized"]),
        )
    )
    head = "".join(f"<th>{escape(m)}</th>" for m in list(opt["optimized"]["holdout"])[:5])
    out = [
        "<h2>Optimization</h2>",
        f"<p>{opt['study']['finished']} tuning trials; the chosen lists come from "
        f"<b>{escape(opt['optimized']['model'])}</b>. On the weeks after the cut, scored once:</p>",
        f"<table><tr><th>lists from</th>{head}</tr>{rows}</table>",
    ]
    for what, g in (("the proven model", opt["gain"]), ("most-popular", opt["versus_popular"])):
        verdict = "beyond the noise" if g["clear"] else ("within the noise" if g["high"] >= 0 else "worse")
        out.append(
            f"<p>{escape(primary)} over {what}: {g['difference']:+.4f} (90% paired bootstrap over users "
            f"{g['low']:+.4f} to {g['high']:+.4f}): {verdict}.</p>"
        )
    v = opt.get("value")
    if v:
        cur, inc = v["currency"], v["incremental_vs_most_popular"]
        out.append(
            "<p>What the lists would have earned on those weeks, had each purchase of a listed item come "
            f"from the list ({v['lists_per_month']:,.0f} lists a month: "
            f"{escape(v['lists_per_month_source'])}):</p>"
            "<table><tr><th>lists from</th><th>per 1,000 lists</th><th>per month</th></tr>"
            + "".join(
                f"<tr><td>{label}</td><td>{money(v[key]['per_1000_lists'], cur)}</td>"
                f"<td>{money(v[key]['per_month'], cur)}</td></tr>"
                for label, key in (
                    ("most-popular", "most_popular"),
                    ("the proven model", "prove_model"),
                    ("optimized", "optimized"),
                )
            )
            + "</table>"
            f"<p>Incremental value over most-popular: <b>{money(inc['per_month'], cur)}</b> a month (90% "
            f"interval {money(inc['per_month_low'], cur)} to {money(inc['per_month_high'], cur)}). "
            f"{escape(v['caveat'].capitalize())}.</p>"
        )
    return "".join(out)


def production(monitor: dict, money) -> str:
    """The served lists per window: coverage, popularity drift, acceptance and value."""
    windows = monitor["windows"]
    ends = list(range(1, len(windows) + 1))
    axis = {"x_label": "window (oldest first)", "x_range": (0.5, len(windows) + 0.5), "x_ticks": ends}
    cur = monitor["currency"]
    out = [
        "<h2>In production</h2>",
        f"<p>{monitor['lists']:,} lists served, {monitor['purchases']:,} purchases reported, "
        f"{monitor['accepted']:,} of them of an item listed for that user within "
        f"{escape(monitor['attribution'])} before (accepted recommendations); windows of "
        f"{escape(monitor['window'])}, the latest ending "
        f"{dt.datetime.fromtimestamp(windows[-1]['end'], dt.UTC):%Y-%m-%d %H:%M} UTC.</p>",
        "<p>Catalogue coverage (share of the items in at least one list) and the share of lists for users "
        "the model has never seen (they get the popular list):</p>"
        + line_chart(
            {
                "coverage": (
                    [i for i, w in zip(ends, windows, strict=True) if "coverage" in w],
                    [w["coverage"] for w in windows if "coverage" in w],
                ),
                "cold start": (
                    [i for i, w in zip(ends, windows, strict=True) if "cold_share" in w],
                    [w["cold_share"] for w in windows if "cold_share" in w],
                ),
            },
            y_label="share",
            y_range=(0.0, 1.0),
            points=True,
            **axis,
        ),
    ]
    drift = {
        name: (
            [i for i, w in zip(ends, windows, strict=True) if w.get(key) is not None],
            [w[key] for w in windows if w.get(key) is not None],
        )
        for name, key in (("purchases", "purchase_psi"), ("recommended slots", "slot_psi"))
    }
    values = [v for _, ys in drift.values() for v in ys]
    if values:
        out.append(
            "<p>Popularity drift against deploy time (PSI over ten popularity bins; above 0.2 is an alert): "
            "of what people buy, and of what the lists show:</p>"
            + line_chart(
                drift, y_label="PSI", y_range=(0, max(0.25, 1.15 * max(values))), points=True, **axis
            )
        )
    rated = [(i, w["hit_rate"]) for i, w in zip(ends, windows, strict=True) if w.get("hit_rate") is not None]
    if rated:
        expected = monitor.get("expected_hit_rate")
        out.append(
            f"<p>Hit rate: the share of lists (whose {escape(monitor['attribution'])} have passed) from "
            "which the user bought at least one item"
            + (f"; on the holdout it was {100 * expected:.1f}%" if expected is not None else "")
            + ":</p>"
            + line_chart(
                {"hit rate": ([i for i, _ in rated], [r for _, r in rated])},
                y_label="hit rate",
                y_range=(0.0, 1.0),
                points=True,
                **axis,
            )
        )
    if monitor.get("value") is not None:
        rows = "".join(
            f"<tr><td>{dt.datetime.fromtimestamp(w['end'], dt.UTC):%Y-%m-%d}</td><td>{w['lists']:,}</td>"
            f"<td>{w.get('accepted', 0):,}</td><td>{money(w.get('value'), cur)}</td></tr>"
            for w in windows
        )
        out.append(
            "<p>Value realised by accepted recommendations: "
            f"<b>{money(monitor['value'], cur)}</b> in all.</p>"
            f"<table><tr><th>window ends</th><th>lists</th><th>accepted</th><th>value</th></tr>{rows}</table>"
        )
    out += [f'<p class="muted">{escape(n)}</p>' for n in monitor.get("notes") or []]
    alerts = monitor.get("alerts") or []
    out.append(
        "<ul>" + "".join(f'<li class="alert">{escape(a)}</li>' for a in alerts) + "</ul>"
        if alerts
        else "<p>No alerts in the latest window.</p>"
    )
    return "".join(out)


def how_to(root: str) -> str:
    """How to run and keep up the recommendation service."""
    return (
        "<h2>How to use and maintain this model</h2><ul>"
        f"<li>Serve it: <code>poc2prod serve -C {root} --port 8000 --workers 2</code>; "
        "<code>GET /recommend/{user}?k=10</code> gives one user's list (<code>&amp;explain=true</code>: "
        "which of her purchases each item was bought with), <code>POST /recommend</code> several users' "
        "lists. Users it has never seen get the popular list.</li>"
        "<li>Send purchases back: <code>POST /feedback</code> with the user, the item and "
        '<code>"event": "purchase"</code>. A bought item is never recommended to that user again, '
        "and acceptance and value realised are measured from them.</li>"
        f"<li>Check it on a schedule: <code>poc2prod monitor -C {root}</code> exits with status 3 when a "
        "window raises an alert (popularity drift, many unknown users, a hit rate under the holdout's).</li>"
        "<li>Refresh it: append the new interactions to the data, then "
        f"<code>poc2prod optimize -C {root}</code> and <code>deploy</code>; a recommender is refitted "
        "on its whole log.</li>"
        f"<li>Undo a change: <code>poc2prod deploy -C {root} --version N</code>.</li>"
        f"<li>Every user's list in one job: <code>poc2prod score -C {root} --all-users "
        "--output lists.parquet</code>.</li>"
        "</ul>"
    )


def _num(v, digits: int = 4) -> str:
    return "—" if v is None or v != v else f"{v:.{digits}f}"

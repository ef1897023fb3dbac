"""Charts as inline SVG, drawn here: the report must open offline, with no script and no request.

>>> svg = line_chart({"model": ([0, 1], [0, 1])}, x_label="x", y_label="y")
>>> svg.startswith("<svg") and "polyline" in svg
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

_COLOURS = ("#1f5fa8", "#d9822b", "#2e8b57", "#8e44ad", "#7f8c8d")
_W, _H, _PAD = 560, 260, 46


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


def _fmt(v: float) -> str:
    a = abs(v)
    if float(v).is_integer() and a < 1e3:
        return str(int(v))
    if a >= 1e6:
        return f"{v / 1e6:.1f}M"
    if a >= 1e3:
        return f"{v / 1e3:.0f}k"
    return f"{v:.2f}" if a < 10 else f"{v:.0f}"


def line_chart(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    x_label: str,
    y_label: str,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    x_ticks: Sequence[float] | None = None,
    marks: Mapping[str, float] | None = None,
    diagonal: bool = False,
    points: bool = False,
) -> str:
    """Lines (one per series, with a legend), optional vertical marks (name -> x) and a y = x line;
    ``x_ticks`` labels chosen x values (such as window numbers) instead of evenly spaced ones."""
    xs = [x for sx, _ in series.values() for x in sx]
    ys = [y for _, sy in series.values() for y in sy if y == y]
    if not xs or not ys:
        return '<p class="muted">no data to draw yet</p>'
    x0, x1 = x_range or (min(xs), max(xs))
    y0, y1 = y_range or (min(ys), max(ys))
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 == y0:
        y0, y1 = y0 - 1, y1 + 1

    def px(x: float) -> float:
        return _PAD + (x - x0) / (x1 - x0) * (_W - 2 * _PAD)

    def py(y: float) -> float:
        return _H - _PAD + -(y - y0) / (y1 - y0) * (_H - 2 * _PAD)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="{escape(y_label)} by {escape(x_label)}" class="chart">'
    ]
    for t in _ticks(y0, y1):
        parts.append(
            f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{py(t):.1f}" y2="{py(t):.1f}" class="grid"/>'
            f'<text x="{_PAD - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>'
        )
    for t in x_ticks if x_ticks is not None else _ticks(x0, x1):
        parts.append(f'<text x="{px(t):.1f}" y="{_H - _PAD + 16}" text-anchor="middle">{_fmt(t)}</text>')
    parts.append(
        f'<text x="{_W / 2}" y="{_H - 8}" text-anchor="middle" class="label">{escape(x_label)}</text>'
    )
    parts.append(
        f'<text x="14" y="{_H / 2}" text-anchor="middle" class="label" '
        f'transform="rotate(-90 14 {_H / 2})">{escape(y_label)}</text>'
    )
    if diagonal:
        lo, hi = max(x0, y0), min(x1, y1)
        parts.append(
            f'<line x1="{px(lo):.1f}" y1="{py(lo):.1f}" x2="{px(hi):.1f}" y2="{py(hi):.1f}" class="diag"/>'
        )
    for name, x in (marks or {}).items():
        parts.append(
            f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{_PAD}" y2="{_H - _PAD}" class="mark"/>'
            f'<text x="{px(x) + 4:.1f}" y="{_PAD + 10}" class="mark-label">{escape(name)}</text>'
        )
    for i, (name, (sx, sy)) in enumerate(series.items()):
        colour = _COLOURS[i % len(_COLOURS)]
        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(sx, sy, strict=True) if y == y)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if points:
            parts += [
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>'
                for x, y in zip(sx, sy, strict=True)
                if y == y
            ]
        parts.append(
            f'<rect x="{_W - _PAD - 150}" y="{_PAD + 14 * i - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{_W - _PAD - 135}" y="{_PAD + 14 * i}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)

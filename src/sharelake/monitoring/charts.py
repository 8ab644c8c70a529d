"""Inline SVG charts for the monitoring report: no script, no external resource.

Examples
--------
>>> svg = bar_chart([("2021Q1", 4), ("2021Q2", 9)], title="contacts")
>>> svg.startswith("<svg") and "2021Q2" in svg
True
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["bar_chart", "estimate_chart", "heatmap", "methods_chart", "upset_chart"]

_BLUE, _GREY, _RED, _GREEN = "#2b6cb0", "#a0aec0", "#c53030", "#2f855a"


def esc(x: object) -> str:
    """``x`` as text safe inside HTML elements and attribute values."""
    return html.escape(str(x), quote=True)


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str = "",
    truth: Sequence[float] | None = None,
    width: int = 640,
    height: int = 220,
) -> str:
    """A vertical bar chart as inline SVG; ``truth`` draws a marker per bar."""
    n = max(len(items), 1)
    top = max([v for _, v in items] + list(truth or []) + [1])
    bw = (width - 60) / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 40}" '
        f'role="img" aria-label="{esc(title)}">'
    ]
    for i, (label, v) in enumerate(items):
        h = (height - 20) * v / top
        x = 40 + i * bw
        parts.append(
            f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{bw * 0.8:.1f}" '
            f'height="{h:.1f}" fill="{_BLUE}"><title>{esc(label)}: {v:g}</title></rect>'
        )
        if truth is not None:
            ty = height - (height - 20) * truth[i] / top
            parts.append(
                f'<line x1="{x:.1f}" x2="{x + bw * 0.8:.1f}" y1="{ty:.1f}" y2="{ty:.1f}" '
                f'stroke="{_RED}" stroke-width="2"/>'
            )
        if n <= 24 or i % max(n // 12, 1) == 0:
            parts.append(
                f'<text x="{x + bw * 0.4:.1f}" y="{height + 14}" font-size="9" '
                f'text-anchor="middle">{esc(label)}</text>'
            )
    parts.append(
        f'<text x="40" y="{height + 32}" font-size="10" fill="#555">max {top:g}'
        f"{' · red line: truth' if truth is not None else ''}</text></svg>"
    )
    return "".join(parts)


def upset_chart(table: pd.DataFrame, lists: Sequence[str], *, truth: Mapping[str, int]) -> str:
    """An UpSet-style chart: one bar per overlap pattern, with its dot matrix below."""
    pats = table.sort_values("count", ascending=False).reset_index(drop=True)
    n, row_h, bar_h = len(pats), 18, 160
    width = 170 + 34 * max(n, 1)
    top = max([int(pats["count"].max()) if n else 1, *truth.values(), 1])
    height = bar_h + 20 + row_h * len(lists)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'role="img" aria-label="overlap of the lists">'
    ]
    for i, r in pats.iterrows():
        x = 170 + 34 * int(str(i))
        key = "".join("1" if r[f"in_{o}"] else "0" for o in lists)
        h = (bar_h - 14) * r["count"] / top
        out.append(
            f'<rect x="{x}" y="{bar_h - h:.1f}" width="24" height="{h:.1f}" fill="{_BLUE}">'
            f"<title>{key}: {int(r['count'])} (truth {truth.get(key, 0)})</title></rect>"
        )
        out.append(
            f'<text x="{x + 12}" y="{bar_h - h - 3:.1f}" font-size="8" '
            f'text-anchor="middle">{int(r["count"])}</text>'
        )
        t = truth.get(key, 0)
        ty = bar_h - (bar_h - 14) * t / top
        out.append(
            f'<line x1="{x}" x2="{x + 24}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="{_RED}" '
            'stroke-width="2"/>'
        )
        for j, o in enumerate(lists):
            cy = bar_h + 20 + row_h * j
            fill = "#1a202c" if r[f"in_{o}"] else "#e2e8f0"
            out.append(f'<circle cx="{x + 12}" cy="{cy}" r="5" fill="{fill}"/>')
    for j, o in enumerate(lists):
        out.append(
            f'<text x="160" y="{bar_h + 24 + row_h * j}" font-size="11" '
            f'text-anchor="end">{esc(o)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def estimate_chart(
    observed: int, total: float, interval: tuple[float, float], truth: int | None
) -> str:
    """The estimate on a number line: observed, interval, point estimate and truth."""
    hi_v = interval[1] if np.isfinite(interval[1]) else total * 2
    top = max(hi_v, truth or 0, total) * 1.1
    w, x0 = 600, 20

    def x(v: float) -> float:
        return x0 + (w - 40) * v / top

    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="620" height="90" role="img" '
        'aria-label="population estimate">',
        f'<line x1="{x0}" x2="{w - 20}" y1="45" y2="45" stroke="#cbd5e0"/>',
        f'<rect x="{x0}" y="38" width="{x(observed) - x0:.1f}" height="14" fill="{_GREY}">'
        f"<title>seen on some list: {observed}</title></rect>",
        f'<line x1="{x(interval[0]):.1f}" x2="{x(hi_v):.1f}" y1="45" y2="45" '
        f'stroke="{_BLUE}" stroke-width="6"/>',
        f'<circle cx="{x(total):.1f}" cy="45" r="7" fill="{_BLUE}"/>',
        f'<text x="{x(total):.1f}" y="25" font-size="11" text-anchor="middle">'
        f"estimate {total:,.0f}</text>",
        f'<text x="{x(interval[0]):.1f}" y="75" font-size="10" text-anchor="middle">'
        f"{interval[0]:,.0f}</text>",
        f'<text x="{x(hi_v):.1f}" y="75" font-size="10" text-anchor="middle">'
        f"{interval[1]:,.0f}</text>",
    ]
    if truth is not None:
        parts.append(
            f'<line x1="{x(truth):.1f}" x2="{x(truth):.1f}" y1="30" y2="60" '
            f'stroke="{_RED}" stroke-width="3"><title>truth {truth}</title></line>'
            f'<text x="{x(truth):.1f}" y="88" font-size="10" fill="{_RED}" '
            f'text-anchor="middle">truth {truth:,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def methods_chart(rows: Sequence[Mapping[str, object]], truth: int | None = None) -> str:
    """Every estimation method's estimate and interval on one axis, the first one bold.

    ``rows`` hold ``label``, ``total`` and ``interval`` (an infinite bound is drawn to the
    edge with an arrow).

    Examples
    --------
    >>> rows = [{"label": "stepwise", "total": 120.0, "interval": (100.0, 150.0)},
    ...         {"label": "AIC", "total": 140.0, "interval": (110.0, float("inf"))}]
    >>> svg = methods_chart(rows, truth=130)
    >>> svg.count("<circle") == 2 and "truth 130" in svg
    True
    """

    def num(v: object) -> float:
        return float(v) if isinstance(v, int | float) else float("nan")

    finite = [
        num(b)
        for r in rows
        for b in (*r["interval"], r["total"])  # type: ignore[misc]
        if np.isfinite(num(b))
    ]
    top = max([*finite, float(truth or 0), 1.0]) * 1.08
    left, w, rh = 190, 620, 26
    height = 30 + rh * len(rows) + 24

    def x(v: float) -> float:
        return left + (w - left - 20) * min(v, top) / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" role="img" '
        'aria-label="the estimate of every method">',
        f'<line x1="{left}" x2="{w - 20}" y1="{height - 22}" y2="{height - 22}" stroke="#cbd5e0"/>',
        f'<text x="{left}" y="{height - 6}" font-size="10">0</text>',
        f'<text x="{w - 20}" y="{height - 6}" font-size="10" text-anchor="end">{top:,.0f}</text>',
    ]
    for i, r in enumerate(rows):
        y = 30 + rh * i
        lo, hi = (num(v) for v in r["interval"])  # type: ignore[attr-defined]
        total = num(r["total"])
        colour = _BLUE if i == 0 else _GREY
        weight = "bold" if i == 0 else "normal"
        end = x(hi) if np.isfinite(hi) else w - 20
        parts.append(
            f'<text x="{left - 8}" y="{y + 4}" font-size="11" text-anchor="end" '
            f'font-weight="{weight}">{esc(r["label"])}</text>'
            f'<line x1="{x(lo):.1f}" x2="{end:.1f}" y1="{y}" y2="{y}" stroke="{colour}" '
            f'stroke-width="5"><title>{lo:,.0f} to {hi:,.0f}</title></line>'
            f'<circle cx="{x(total):.1f}" cy="{y}" r="6" fill="{colour}">'
            f"<title>{total:,.0f}</title></circle>"
            f'<text x="{x(total):.1f}" y="{y - 8}" font-size="9" text-anchor="middle">'
            f"{total:,.0f}</text>"
        )
    if truth is not None:
        parts.append(
            f'<line x1="{x(truth):.1f}" x2="{x(truth):.1f}" y1="16" y2="{height - 22}" '
            f'stroke="{_RED}" stroke-width="2" stroke-dasharray="4 3"/>'
            f'<text x="{x(truth):.1f}" y="12" font-size="10" fill="{_RED}" '
            f'text-anchor="middle">truth {truth:,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def heatmap(table: pd.DataFrame, row: str, col: str, *, title: str) -> str:
    """A cross-tabulation as a shaded grid (empty cells: suppressed or zero)."""
    rows = sorted({str(v) for v in table[row]})
    cols = sorted({str(v) for v in table[col]})
    cell = {
        (str(a), str(b)): int(c) for a, b, c in table[[row, col, "count"]].itertuples(index=False)
    }
    top = max(cell.values(), default=1)
    cw, ch, left, head = 44, 20, 110, 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + cw * len(cols) + 10}" '
        f'height="{head + ch * len(rows) + 10}" role="img" aria-label="{esc(title)}">'
    ]
    for j, c in enumerate(cols):
        out.append(
            f'<text x="{left + cw * j + cw / 2}" y="{head - 8}" font-size="9" '
            f'text-anchor="middle">{esc(c)}</text>'
        )
    for i, r in enumerate(rows):
        y = head + ch * i
        out.append(
            f'<text x="{left - 6}" y="{y + 14}" font-size="10" text-anchor="end">{esc(r)}</text>'
        )
        for j, c in enumerate(cols):
            v = cell.get((r, c))
            shade = 0.1 + 0.9 * (v or 0) / top
            fill = f"rgba(43,108,176,{shade:.2f})" if v else "#f7fafc"
            out.append(
                f'<rect x="{left + cw * j}" y="{y}" width="{cw - 2}" height="{ch - 2}" '
                f'fill="{fill}"><title>{esc(r)} × {esc(c)}: {v if v else "—"}</title></rect>'
            )
            if v:
                color = "#fff" if shade > 0.55 else "#1a202c"
                out.append(
                    f'<text x="{left + cw * j + cw / 2 - 1}" y="{y + 13}" font-size="9" '
                    f'text-anchor="middle" fill="{color}">{v}</text>'
                )
    out.append("</svg>")
    return "".join(out)

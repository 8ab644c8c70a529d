"""``python -m sharelake.monitoring.mse TABLE.csv ...``: every method on every table, as Markdown.

This is the command that generates the comparison table in the README; one row per
table with each method's estimate and interval (BMA only for 3 to 5 lists).
"""

from __future__ import annotations

import sys
from pathlib import Path

from .core import compare_methods
from .table import read_capture_table


def _cell(total: float, lo: float, hi: float) -> str:
    def f(v: float) -> str:
        return f"{v:,.0f}" if v == v and v != float("inf") else "inf"

    return f"{f(total)} ({f(lo)}-{f(hi)})"


def markdown(paths: list[Path]) -> str:
    """The Markdown comparison table of :func:`compare_methods` over ``paths``."""
    lines = [
        "| table | lists | seen | stepwise (SparseMSE) | forward AIC | forward BIC | BMA |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in paths:
        t = read_capture_table(p)
        by = {r.method: r for r in compare_methods(t)}
        cells = [
            _cell(by[m].total, *by[m].interval) if m in by else "n/a (needs 3-5 lists)"
            for m in ("stepwise", "aic", "bic", "bma")
        ]
        lines.append(f"| {p.stem} | {len(t.lists)} | {t.observed:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown([Path(a) for a in sys.argv[1:]]))

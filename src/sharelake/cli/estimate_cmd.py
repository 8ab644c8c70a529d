"""``sharelake estimate CAPTURE.csv``: the population estimate from a capture-history table.

The table has one 0/1 column per list and a last column with the number of persons seen
on exactly that combination of lists (an overlap table released by the lake, or a
published one). The command prints the estimate of the chosen method with its interval
and model, the notes a reader must know, and every method side by side.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console

from .errors import fail

if TYPE_CHECKING:
    from ..monitoring.mse import MSEResult

MethodName = Literal["stepwise", "aic", "bic", "bma"]
IntervalName = Literal["wald", "profile", "bootstrap", "credible"]


def _fmt(x: float | None) -> str:
    return "inf" if x is None or x != x or x == float("inf") else f"{x:,.0f}"


def comparison_rows(results: list[MSEResult]) -> list[dict[str, Any]]:
    """One JSON-ready row per method: estimate, interval, interval kind and model."""
    return [
        {
            "method": r.method,
            "total": r.total,
            "interval": list(r.interval),
            "interval_method": r.interval_method,
            "model": r.model_description,
        }
        for r in results
    ]


def estimate(
    capture: Annotated[Path, typer.Argument(help="Capture-history CSV: list columns, count.")],
    method: Annotated[
        MethodName, typer.Option("--method", help="Model choice (default: SparseMSE stepwise).")
    ] = "stepwise",
    interval: Annotated[
        IntervalName | None,
        typer.Option("--interval", help="wald, profile, bootstrap (BCa) or credible (bma)."),
    ] = None,
    level: Annotated[float, typer.Option("--level", help="Interval level.")] = 0.95,
    pthresh: Annotated[float, typer.Option("--pthresh", help="Stepwise p-value threshold.")] = 0.02,
    boot: Annotated[int, typer.Option("--boot", help="Bootstrap replicates.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 1234,
    compare: Annotated[
        bool, typer.Option("--compare/--no-compare", help="Also run the other methods.")
    ] = True,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the result and comparison as JSON.")
    ] = None,
) -> None:
    """Estimate the total population (seen on some list or on none) from CAPTURE.csv.
    \f

    Parameters
    ----------
    capture
        The capture-history table.
    method
        ``stepwise`` (SparseMSE, default), ``aic``, ``bic`` or ``bma``.
    interval
        The interval (default: wald for stepwise, profile for aic/bic, credible for bma).
    level, pthresh, boot, seed
        Interval level, stepwise threshold, bootstrap replicates and seed.
    compare
        Run the other methods too and print them side by side.
    json_file
        Write ``{"result": ..., "comparison": [...]}`` here.
    """
    from rich.table import Table

    from ..monitoring.mse import METHOD_LABELS, MSEError, read_capture_table
    from ..monitoring.mse import estimate as run

    console = Console()
    try:
        table = read_capture_table(capture)
        result = run(
            table,
            method=method,
            interval=interval,
            level=level,
            pthresh=pthresh,
            n_boot=boot,
            seed=seed,
        )
        results = [result]
        skipped: list[str] = []
        if compare:
            for other in ("stepwise", "aic", "bic", "bma"):
                if other == method:
                    continue
                try:
                    results.append(run(table, method=other, level=level, pthresh=pthresh))
                except MSEError as e:
                    skipped.append(f"{other}: {e}")
    except MSEError as e:
        fail(console, "cannot estimate", e, 2)
    lo, hi = result.interval
    console.print(
        f"[bold]{capture.name}[/bold]: {len(result.lists)} lists "
        f"({', '.join(result.lists)}), {result.observed:,} persons seen"
    )
    console.print(
        f"estimated total: [bold]{result.total:,.0f}[/bold]  "
        f"({result.level:.0%} {result.interval_method} interval {_fmt(lo)} to {_fmt(hi)}; "
        f"{METHOD_LABELS[result.method]})"
    )
    console.print(f"model: {result.model_description}")
    if result.path:
        steps = ", ".join(f"{a}:{b} (p={p:.2g})" for (a, b), p in result.path)
        console.print(f"added in order: {steps}")
    if result.bma is not None:
        console.print(f"prior: {result.bma.prior}")
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    if len(results) > 1:
        t = Table(title="every method on this table")
        for col in ("method", "estimate", "interval", "kind", "model"):
            t.add_column(col, justify="right" if col in ("estimate", "interval") else "left")
        for r in results:
            a, b = r.interval
            t.add_row(
                METHOD_LABELS[r.method],
                _fmt(r.total),
                f"{_fmt(a)}-{_fmt(b)}",
                r.interval_method,
                r.model_description,
            )
        console.print(t)
    for s in skipped:
        console.print(f"[dim]not run: {s}[/dim]")
    if json_file is not None:
        doc = {"result": result.to_dict(), "comparison": comparison_rows(results)}
        json_file.write_text(json.dumps(finite(doc), indent=2, allow_nan=False))
        console.print(f"wrote {json_file}")


def finite(x: Any) -> Any:
    """``x`` with every infinite or NaN float replaced by ``None`` (valid JSON)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [finite(v) for v in x]
    return x

"""The monitoring analyses on real tables, and their report, for the portal and the shell.

The demo (:mod:`sharelake.monitoring.demo`) runs on synthetic data it generated itself;
this module runs the same kinds of analysis on the tables members uploaded (with the
portal's wizard or ``sharelake upload``), through an analyst's own session, so every
query meets the nodes' policies and approvals:

- :func:`overlap_query`: the overlap (capture-history) table of person lists on their
  match key, from which :func:`estimate_of` gives the population estimate;
- :func:`compare_query`: how many persons of one list are also on another;
- :func:`modus_query`: cases of a table counted by one field (small groups suppressed).

:func:`render_html` and :func:`report_json` write what was released, with the plan hashes
that the owners approved; ``sharelake report monitoring`` and the portal's "Download the
report" both use them.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from ..client.frame import Table, overlap
from ..client.results import suppression_legend
from ..client.session import Session
from . import mse

__all__ = [
    "AnalysisKind",
    "Section",
    "compare_query",
    "estimate_of",
    "modus_query",
    "overlap_query",
    "render_html",
    "report_json",
    "section_of",
    "table_html",
]

AnalysisKind = Literal["overlap", "compare", "modus"]
MATCH_KEY = "person_key"
"""The match key column of the person lists (``<table>_keys``; see the data model)."""


def overlap_query(session: Session, lists: Sequence[str]) -> Table:
    """The overlap table of two or more person lists on :data:`MATCH_KEY`.

    Examples
    --------
    >>> q = overlap_query(session, ["ngo_a_keys", "police_keys"])  # doctest: +SKIP
    """
    if len(lists) < 2:
        raise ValueError("the overlap needs at least two lists")
    return overlap([session.table(t) for t in lists], on=MATCH_KEY)


def compare_query(session: Session, mine: str, other: str) -> Table:
    """How many persons of list ``mine`` are also on ``other``, victims and others apart."""
    a, b = session.table(mine), session.table(other)
    return a.merge(b, on=MATCH_KEY, how="semi").groupby("victim").size()


def modus_query(session: Session, table: str, by: str) -> Table:
    """Cases of ``table`` counted by field ``by`` (groups under the owner's k suppressed)."""
    return session.table(table).groupby(by).size()


def estimate_of(released: pd.DataFrame) -> dict[str, Any]:
    """The population estimate (the field's default method) of a released overlap table.

    Examples
    --------
    >>> t = pd.DataFrame({"in_a": [True, False, True], "in_b": [False, True, True],
    ...                   "count": [60, 40, 20]})
    >>> round(estimate_of(t)["total"])
    240
    """

    table = released.rename(columns=lambda c: str(c).removeprefix("in_"))
    r = mse.estimate(table.astype(dict.fromkeys(table.columns, int)))
    return {
        "observed": int(r.observed),
        "total": float(r.total),
        "interval": [float(r.interval[0]), float(r.interval[1])],
        "notes": list(r.notes),
    }


@dataclass(frozen=True)
class Section:
    """One released result of a report: what ran, over which tables, under which plan."""

    kind: AnalysisKind
    title: str
    tables: tuple[str, ...]
    plan_hash: str
    result: pd.DataFrame
    estimate: dict[str, Any] | None = None
    suppressed: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def legend(self) -> str:
        """The legend of the suppressed groups: how many, why and by which policy ("" if
        none), from the result's ``attrs`` (:func:`sharelake.client.results.suppression_legend`)."""
        if self.suppressed <= 0:
            return ""
        df = pd.DataFrame()
        df.attrs.update(self.result.attrs)
        df.attrs["suppressed_groups"] = self.suppressed
        return suppression_legend(df)


def section_of(
    kind: AnalysisKind,
    title: str,
    tables: Sequence[str],
    plan_hash: str,
    result: pd.DataFrame,
    estimate: dict[str, Any] | None = None,
) -> Section:
    """A report section of a collected result, its suppressed groups read from the
    result's ``attrs`` (as :meth:`sharelake.client.frame.Table.collect` sets them)."""
    suppressed = int(result.attrs.get("suppressed_groups", 0) or 0)
    return Section(kind, title, tuple(tables), plan_hash, result, estimate, suppressed)


def table_html(df: pd.DataFrame, *, css_class: str = "", suppressed: int = 0) -> str:
    """A released result as an accessible HTML table (every value escaped); with
    ``suppressed`` groups, a last row marks them with ``*`` (the legend explains it)."""
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in df.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    if suppressed > 0:
        groups = "1 group" if suppressed == 1 else f"{suppressed} groups"
        rows += (
            f'<tr class="suppressed"><td colspan="{max(len(df.columns), 1)}">'
            f"* {groups} suppressed (see the legend)</td></tr>"
        )
    cls = f' class="{html.escape(css_class)}"' if css_class else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def render_html(sections: Sequence[Section], *, analyst: str, when: float | None = None) -> str:
    """A self-contained report.html of released results (no script, no external asset)."""
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(when or time.time()))
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>sharelake monitoring report</title><style>",
        "body{font-family:sans-serif;max-width:60rem;margin:2rem auto}",
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2rem .5rem}",
        "</style></head><body><h1>Monitoring report</h1>",
        f"<p>Computed with secure multi-party computation on the consortium's three nodes for "
        f"{html.escape(analyst)}, {stamp}. Only the results below left the nodes; each ran "
        "under the tables' policies or with the owners' signed approval of its plan hash.</p>",
    ]
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        parts.append(
            f"<p>Tables: {html.escape(', '.join(s.tables))} · plan SHA-256 "
            f"<code>{s.plan_hash}</code></p>"
        )
        parts.append(table_html(s.result, suppressed=s.suppressed))
        if s.suppressed:
            parts.append(
                f'<p class="legend">{html.escape(s.legend)} They were suppressed inside the '
                "secure computation: their keys and values are not shown and not counted.</p>"
            )
        if s.estimate is not None:
            e = s.estimate
            parts.append(
                f"<h3>Population estimate</h3><p>{e['total']:,.0f} persons in all (95% interval "
                f"{e['interval'][0]:,.0f}–{e['interval'][1]:,.0f}); {e['observed']:,} are on "
                "at least one list.</p>"
            )
            parts += [f"<p>{html.escape(n)}</p>" for n in e.get("notes", [])]
        parts += [f"<p>{html.escape(n)}</p>" for n in s.notes]
    parts.append("</body></html>")
    return "\n".join(parts)


def report_json(sections: Sequence[Section], *, analyst: str) -> dict[str, Any]:
    """The report's content as JSON (results as records)."""
    return {
        "analyst": analyst,
        "sections": [
            {
                "kind": s.kind,
                "title": s.title,
                "tables": list(s.tables),
                "plan_hash": s.plan_hash,
                "result": s.result.astype(object).to_dict("records"),
                "suppressed": s.suppressed,
                "legend": s.legend,
                "estimate": s.estimate,
                "notes": list(s.notes),
            }
            for s in sections
        ],
    }

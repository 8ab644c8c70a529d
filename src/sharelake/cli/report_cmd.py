"""``sharelake report monitoring``: the monitoring analyses on real tables, from the shell.

The same analyses and report as the portal's analyst pages: the overlap table of person
lists with the population estimate, and cases counted by fields. A query that needs the
owners' approval is not run: the command says which, and with ``--request`` files the
requests (with ``--explanation``, for the agreed ``--purpose``) for the owners to decide in
their portals or with ``sharelake approvals``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import SharelakeError

report_app = typer.Typer(help="Write reports from the lake.", no_args_is_help=True)


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


@report_app.command("monitoring")
def monitoring(
    member: Annotated[str, typer.Option("--as", help="Your member name (an analyst).")],
    consortium: Annotated[Path, typer.Option("--consortium", help="consortium.toml of the lake.")],
    lists: Annotated[
        str, typer.Option("--lists", help="Person lists (…_keys tables), comma-separated.")
    ] = "",
    cases: Annotated[
        str, typer.Option("--cases", help="Case tables to count by --by, comma-separated.")
    ] = "",
    by: Annotated[
        str, typer.Option("--by", help="Fields to count the cases by, comma-separated.")
    ] = "recruitment,exploitation_sector",
    out: Annotated[
        Path, typer.Option("--out", help="Folder for report.html and report.json.")
    ] = Path("report"),
    request: Annotated[
        bool, typer.Option("--request", help="File approval requests for what needs them.")
    ] = False,
    purpose: Annotated[
        str | None,
        typer.Option("--purpose", help="The agreed purpose the results serve (consortium file)."),
    ] = None,
    explanation: Annotated[
        str,
        typer.Option(
            "--explanation", help="What the results are for, in your words (owners read it)."
        ),
    ] = "",
    key: Annotated[Path | None, typer.Option("--key", help="Your private key.")] = None,
) -> None:
    """Run the overlap table, population estimate and case counts; write the report."""
    from ..client.frame import Table
    from ..client.session import connect
    from ..monitoring.lake_report import (
        AnalysisKind,
        estimate_of,
        modus_query,
        overlap_query,
        render_html,
        report_json,
        section_of,
    )
    from ..plan.canonical import plan_hash

    if request and not explanation:
        raise typer.BadParameter("--request needs --explanation: the owners decide on it")
    try:
        with connect(consortium, member, key=key, purpose=purpose) as s:
            planned: list[tuple[AnalysisKind, str, list[str], Table]] = []
            if lists:
                names = _names(lists)
                planned.append(
                    ("overlap", f"Overlap of {', '.join(names)}", names, overlap_query(s, names))
                )
            for t in _names(cases):
                for f in _names(by):
                    planned.append(("modus", f"Cases of {t} by {f}", [t], modus_query(s, t, f)))
            if not planned:
                raise typer.BadParameter("name --lists and/or --cases")
            waiting = []
            for _, title, _, q in planned:
                plan = s.with_purpose(q.plan)
                digest = plan_hash(plan)
                v = s.plan_verdict(plan)
                if v["decision"] == "deny":
                    typer.echo(
                        f"error: {title}: the policies forbid it: {v.get('text', '')}", err=True
                    )
                    raise typer.Exit(1)
                if v["decision"] == "needs_approval":
                    mine = [
                        r
                        for r in s.approvals()
                        if r["plan_hash"] == digest and r["analyst"] == s.member
                    ]
                    if mine and mine[0]["status"] == "approved":
                        continue
                    if request and not mine:
                        rid = s.request_approval(q.plan, explanation=explanation)[0]["id"]
                        waiting.append(f"{title}: request {rid} filed for the owners")
                    else:
                        status = mine[0]["status"] if mine else "not requested"
                        waiting.append(f"{title}: needs the owners' approval ({status})")
            if waiting:
                for w in waiting:
                    typer.echo(w)
                typer.echo("nothing was run; run again once the owners have approved")
                raise typer.Exit(1)
            sections = []
            for kind, title, tables, q in planned:
                df = q.collect()
                sections.append(
                    section_of(
                        kind,
                        title,
                        tables,
                        plan_hash(s.with_purpose(q.plan)),
                        df,
                        estimate_of(df) if kind == "overlap" else None,
                    )
                )
            analyst = s.member
    except SharelakeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.html").write_text(render_html(sections, analyst=analyst), encoding="utf-8")
    doc = report_json(sections, analyst=analyst)
    (out / "report.json").write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    typer.echo(f"wrote {out / 'report.html'} and {out / 'report.json'} ({len(sections)} results)")

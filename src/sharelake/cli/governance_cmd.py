"""``sharelake approvals list|show|approve|reject`` and ``sharelake audit verify|show``.

Approvals talk to the nodes as a signed member; ``approve`` and ``reject`` recompute the
plan's hash from the plan they show before signing it, so a node cannot get a
different plan signed than the one displayed. The signature goes to all three nodes.
Audit commands read the nodes' log files (each node operator can verify its own log;
``verify`` with the three logs also checks that the nodes agree).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import SharelakeError

approvals_app = typer.Typer(
    help="Review plans that need your approval, and sign or reject them.",
    no_args_is_help=True,
)
audit_app = typer.Typer(help="Check and read the nodes' audit logs.", no_args_is_help=True)

_AS = typer.Option("--as", help="Your member name.")
_CONS = typer.Option("--consortium", help="consortium.toml of the lake.")
_KEY = typer.Option("--key", help="Your private key (default: members/MEMBER.key).")


def _fail(text: str) -> typer.Exit:
    typer.echo(f"error: {text}", err=True)
    return typer.Exit(1)


def parse_duration(text: str) -> int:
    """Seconds in ``30m``, ``12h``, ``7d`` or a plain number of seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    t = text.strip().lower()
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError:
        raise typer.BadParameter(f"not a duration: {text!r} (e.g. 30m, 12h, 7d)") from None


def render_request(req: dict[str, Any]) -> str:
    """The readable form of a plan request: steps, verdict, release, recipients."""
    from ..plan.canonical import plan_hash
    from ..plan.nodes import describe

    v = req["verdict"]
    rel = v["releases"]
    lines = [
        f"request {req['id']}  (submitted {req['submitted']} by analyst {req['analyst']!r})",
        f"plan hash: {req['plan_hash']}"
        + ("" if plan_hash(req["plan"]) == req["plan_hash"] else "  [DOES NOT MATCH THE PLAN]"),
        f"tables: {', '.join(v.get('tables', []))}   owners: {', '.join(req['owners'])}",
        f"purpose it serves: {req.get('purpose') or '(the default purpose)'}"
        + (f" ({req['purpose_description']})" if req.get("purpose_description") else ""),
        f"explanation given by the analyst: {req.get('explanation') or '(none given)'}",
        "",
        "what it computes:",
        *("  " + ln for ln in describe(req["plan"]).splitlines()),
        "",
        f"verdict: {v['decision']}",
    ]
    for r in v["reasons"]:
        where = r["table"] + (f".{r['column']}" if r["column"] else "")
        lines.append(f"  - {where} ({r['rule']}): {r['text']}")
    what = "rows" if rel["kind"] == "rows" else "an aggregate"
    release = f"releases {what} with columns {', '.join(rel['columns'])} to {rel['to']!r} only"
    if rel.get("min_group_size"):
        release += f"; groups under {rel['min_group_size']} rows suppressed"
    if rel.get("sizes"):
        release += f"; reveals join/intersection sizes of {', '.join(rel['sizes'])}"
    lines += ["", release]
    if req.get("decisions"):
        lines.append("decisions so far:")
        for d in req["decisions"]:
            when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(d["expires"]))
            why = f": {d['reason']}" if d.get("reason") else ""
            lines.append(f"  - {d['approver']}: {d['decision']} (expires {when} UTC){why}")
    missing = req.get("missing") or {}
    if req.get("status") == "rejected":
        lines.append("status: rejected")
    else:
        lines.append(
            "status: approved" if not missing else "waiting for: " + "; ".join(missing.values())
        )
    return "\n".join(lines)


_LEGEND = (
    "legend: * waits for your decision; status pending = not every owner approved yet, "
    "approved = it may run, rejected = an owner said no (see `approvals show ID`)"
)


@approvals_app.command("list")
def list_requests(
    member: Annotated[str, _AS],
    consortium: Annotated[Path, _CONS],
    key: Annotated[Path | None, _KEY] = None,
    node: Annotated[int, typer.Option("--node", help="Ask this node (0, 1 or 2).")] = 0,
    status: Annotated[
        str | None, typer.Option("--status", help="Only pending, approved or rejected.")
    ] = None,
    waiting: Annotated[
        bool, typer.Option("--waiting", help="Only requests that wait for your decision.")
    ] = False,
) -> None:
    """List the plan requests you may see (yours, and those you may decide on)."""
    from ..client.session import connect

    if status not in (None, "pending", "approved", "rejected"):
        raise typer.BadParameter("--status must be pending, approved or rejected")
    try:
        with connect(consortium, member, key=key) as s:
            reqs = s.approvals(node=node)
            cons = s.consortium
    except SharelakeError as exc:
        raise _fail(str(exc)) from None
    shown = 0
    for r in reqs:
        mine = r["status"] == "pending" and _waits_for(cons, member, r)
        if (status and r["status"] != status) or (waiting and not mine):
            continue
        shown += 1
        purpose = f"  purpose={r['purpose'][:60]}" if r.get("purpose") else ""
        typer.echo(
            f"{'*' if mine else ' '} {r['id']}  {r['status']:<8}  analyst={r['analyst']}  "
            f"owners={','.join(r['owners'])}  submitted={r['submitted']}{purpose}"
        )
    typer.echo("no plan requests" if not shown else _LEGEND)


def _waits_for(consortium: Any, member: str, req: dict[str, Any]) -> bool:
    """Whether a pending request still misses a decision this member may give."""
    from ..governance.approvals import speaks_for

    decided = {d["approver"] for d in req.get("decisions", [])}
    return member not in decided and any(
        speaks_for(consortium, member, owner) for owner in req.get("missing") or {}
    )


@approvals_app.command("show")
def show(
    request_id: Annotated[str, typer.Argument(help="The request id (from list).")],
    member: Annotated[str, _AS],
    consortium: Annotated[Path, _CONS],
    key: Annotated[Path | None, _KEY] = None,
    node: Annotated[int, typer.Option("--node", help="Ask this node (0, 1 or 2).")] = 0,
) -> None:
    """Print a plan request readably: tables, columns, operators, release, recipient."""
    from ..client.session import connect

    try:
        with connect(consortium, member, key=key) as s:
            req = s.approval(request_id, node=node)
    except SharelakeError as exc:
        raise _fail(str(exc)) from None
    typer.echo(render_request(req))


def _decide(
    request_id: str,
    member: str,
    consortium: Path,
    key: Path | None,
    expires_in: str,
    decision: str,
    reason: str,
) -> None:
    from ..client.session import connect

    try:
        with connect(consortium, member, key=key) as s:
            if decision == "approve":
                req = s.approve(request_id, expires_in=parse_duration(expires_in), reason=reason)
            else:
                req = s.reject(request_id, reason=reason)
    except SharelakeError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{decision}d request {request_id} for analyst {req['analyst']!r} on all nodes")


_REASON = typer.Option("--reason", help="Why (the analyst sees it; signed with your decision).")


@approvals_app.command("approve")
def approve(
    request_id: Annotated[str, typer.Argument(help="The request id (from list).")],
    member: Annotated[str, _AS],
    consortium: Annotated[Path, _CONS],
    key: Annotated[Path | None, _KEY] = None,
    expires_in: Annotated[
        str, typer.Option("--expires-in", help="How long the approval holds (30m, 12h, 7d).")
    ] = "7d",
    reason: Annotated[str, _REASON] = "",
) -> None:
    """Sign the plan's hash for its analyst, until the expiry, and send it to all nodes."""
    _decide(request_id, member, consortium, key, expires_in, "approve", reason)


@approvals_app.command("reject")
def reject(
    request_id: Annotated[str, typer.Argument(help="The request id (from list).")],
    member: Annotated[str, _AS],
    consortium: Annotated[Path, _CONS],
    key: Annotated[Path | None, _KEY] = None,
    reason: Annotated[str, _REASON] = "",
) -> None:
    """Sign a rejection of the plan (it then cannot run, even with other approvals)."""
    _decide(request_id, member, consortium, key, "365d", "reject", reason)


def _logs(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        if p.is_dir():
            found = sorted(p.glob("nodes/P*/data/audit.jsonl")) or sorted(p.glob("audit.jsonl"))
            out += found
        else:
            out.append(p)
    return out


@audit_app.command("verify")
def verify(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Audit logs, or a cluster directory (all nodes' logs)."),
    ],
    consortium: Annotated[
        Path | None,
        typer.Option(
            "--consortium",
            help="The consortium file listing the nodes' audit keys (default: "
            "consortium.toml of a cluster directory).",
        ),
    ] = None,
) -> None:
    """Check each log's chain and signatures, the chain heads the peers stored, and that
    the nodes agree on every field of every shared event."""
    from ..consortium.members import Consortium
    from ..governance.audit import verify_logs

    logs = _logs(paths)
    if not logs:
        raise _fail("no audit log found")
    if consortium is None:
        found = [p / "consortium.toml" for p in paths if (p / "consortium.toml").is_file()]
        consortium = found[0] if found else None
    keys: dict[int, bytes | None] = {}
    if consortium is not None:
        keys = {n.id: n.audit_key for n in Consortium.load(consortium).nodes}
    for i in sorted(set(range(3)) - {i for i, k in keys.items() if k is not None}):
        if len(logs) > 1 or i == 0:
            typer.echo(f"note: no audit key of P{i} given: its signatures are not checked")
    problems = verify_logs(logs, keys)
    for line in problems:
        typer.echo(line)
    if problems:
        raise typer.Exit(1)
    typer.echo(
        f"ok: {len(logs)} audit log(s) intact" + (" and in agreement" if len(logs) > 1 else "")
    )


@audit_app.command("show")
def show_log(
    path: Annotated[Path, typer.Argument(help="An audit log, or a cluster directory.")],
    last: Annotated[int, typer.Option("--last", help="Only the last N entries.")] = 0,
) -> None:
    """List audit entries readably (no data values are ever in them)."""
    from ..governance.audit import format_entry, read_entries

    for log in _logs([path]):
        entries = read_entries(log)
        typer.echo(f"== {log}")
        for e in entries[-last:] if last else entries:
            typer.echo(format_entry(e))

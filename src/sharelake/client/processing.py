"""The record of processing activities for a data protection officer (GDPR art. 30).

:func:`processing_record` builds it, as plain data, from the consortium file (who the
members and node operators are, the agreed purposes), the tables the three nodes list
alike (owner, purposes, retention, column classes, size) and the nodes' audit trails
(each chain verified and the three nodes compared: who ran what, for which purpose,
what was released to whom, refusals, policy changes, erasures and retention
destructions). :func:`write_processing_report` writes it as ``processing.json`` and
``processing.html``; ``sharelake report processing`` calls it. docs/privacy.md explains
the roles and what the record does not show.

The record holds names, purposes, plan hashes, decisions and row counts, never a value
of a table: the audit trail holds nothing else.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..consortium.members import DEFAULT_PURPOSE, Consortium
from ..governance.policy import Policy, PolicyError
from ..governance.retention import expires_at, expiry_text, retention_text
from .catalog import TableInfo

if TYPE_CHECKING:
    from .session import AuditTrail, Session

__all__ = ["processing_record", "render_html", "write_processing_report"]


def _policy(info: TableInfo) -> Policy:
    try:
        return Policy.from_dict(info.policy)
    except PolicyError:
        return Policy()


def processing_record(
    consortium: Consortium,
    tables: Sequence[TableInfo],
    trail: AuditTrail,
    *,
    created: Mapping[str, float] | None = None,
    generated_by: str = "",
    now: float | None = None,
) -> dict[str, Any]:
    """The record of processing activities as a JSON-ready dict.

    Parameters
    ----------
    consortium
        The consortium file.
    tables
        The tables the three nodes list alike (:meth:`Session.tables`).
    trail
        The nodes' audit logs (:meth:`Session.audit`); its problems are reported.
    created
        Table name -> first commit time, for ``retain_days`` expiries.
    generated_by, now
        Who made the record, and when (Unix seconds; default: now).

    Examples
    --------
    >>> from pathlib import Path
    >>> from sharelake.client.session import AuditTrail
    >>> c = Consortium("c", (), {}, Path("ca.pem"))  # type: ignore[arg-type]
    >>> r = processing_record(c, [], AuditTrail(((), (), ()), ()), now=0.0)
    >>> r["purposes"][0]["name"], r["audit"]["verified"]
    ('unspecified', True)
    """
    now = time.time() if now is None else now
    created = created or {}
    agreed = consortium.agreed_purposes
    members = consortium.members
    table_rows: list[dict[str, Any]] = []
    for t in tables:
        pol = _policy(t)
        at = expires_at(pol, created=created[t.name]) if t.name in created else None
        owner = members.get(t.owner)
        table_rows.append(
            {
                "table": t.name,
                "controller": t.owner,
                "organisation": owner.organisation if owner else "",
                "rows": t.rows,
                "version": t.version,
                "purposes": list(pol.purposes) if pol.purposes is not None else None,
                "retention": retention_text(pol),
                "expires": expiry_text(at)
                if at is not None
                else ("see retain_days" if pol.retain_days is not None else "never"),
                "columns": {s.name: pol.column_class(s.name) or "unclassified" for s in t.schema},
                "analysts": list(pol.analysts) if pol.analysts is not None else None,
                "min_group_size": pol.min_group_size,
            }
        )
    purposes = [
        {
            "name": p.name,
            "description": p.description,
            "tables": [
                str(r["table"])
                for r in table_rows
                if r["purposes"] is None or p.name in list(r["purposes"] or ())
            ],
        }
        for p in agreed.values()
    ]
    entries = list(trail.entries[0]) if trail.entries else []
    default = DEFAULT_PURPOSE if not consortium.purposes else ""

    def pick(kind: str, *fields: str) -> list[dict[str, Any]]:
        out = []
        for e in entries:
            if e.get("kind") == kind:
                row = {f: e.get(f) for f in ("time", "member", *fields)}
                if "purpose" in fields and not row.get("purpose"):
                    row["purpose"] = default or "(not recorded)"
                out.append(row)
        return out

    return {
        "title": f"Record of processing activities: consortium {consortium.name}",
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "generated_by": generated_by,
        "consortium": consortium.name,
        "controllers": [
            {"member": m.name, "organisation": m.organisation, "roles": sorted(m.roles)}
            for m in consortium.members_with_role("provider")
        ],
        "members": [
            {"member": m.name, "organisation": m.organisation, "roles": sorted(m.roles)}
            for _, m in sorted(members.items())
        ],
        "processors": [
            {"node": n.name, "api": n.api_url, "certificate_sha256": n.cert_fingerprint}
            for n in consortium.nodes
        ],
        "purposes": purposes,
        "tables": table_rows,
        "not_purpose_bound": [r["table"] for r in table_rows if r["purposes"] is None],
        "runs": pick("run", "purpose", "plan_hash", "decision", "session"),
        "releases": pick("release", "purpose", "plan_hash", "rows", "detail"),
        "refusals": pick("refusal", "purpose", "plan_hash", "detail"),
        "policy_changes": pick("policy", "decision", "detail"),
        "erasures": pick("erasure", "rows", "detail"),
        "retention_destructions": pick("retention", "detail"),
        "audit": {
            "verified": trail.ok,
            "problems": list(trail.problems),
            "entries_per_node": [len(e) for e in trail.entries],
        },
    }


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    if not rows:
        return "<p><em>none</em></p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_text(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _text(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, list | tuple):
        return ", ".join(str(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {x}" for k, x in v.items())
    return str(v)


def render_html(record: Mapping[str, Any]) -> str:
    """The record as one self-contained HTML page (every text escaped)."""
    r = record
    audit = r["audit"]
    verdict = (
        "verified: every node's chain is intact and the three nodes agree"
        if audit["verified"]
        else "NOT verified: " + "; ".join(audit["problems"][:20])
    )
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(r['title'])}</title>",
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}"
        "td,th{border:1px solid #999;padding:.25em .5em;text-align:left;vertical-align:top}"
        "th{background:#eee}</style></head><body>",
        f"<h1>{html.escape(r['title'])}</h1>",
        f"<p>Generated {html.escape(r['generated'])} by {html.escape(r['generated_by'] or '-')}"
        f". Audit trail: {html.escape(verdict)}.</p>",
        "<h2>Controllers (data providers)</h2>",
        _table(
            ["member", "organisation", "roles"],
            [(c["member"], c["organisation"], c["roles"]) for c in r["controllers"]],
        ),
        "<h2>Processors (node operators, under the consortium agreement)</h2>",
        _table(
            ["node", "API", "certificate SHA-256"],
            [(p["node"], p["api"], p["certificate_sha256"]) for p in r["processors"]],
        ),
        "<h2>Members</h2>",
        _table(
            ["member", "organisation", "roles"],
            [(m["member"], m["organisation"], m["roles"]) for m in r["members"]],
        ),
        "<h2>Purposes</h2>",
        _table(
            ["purpose", "description", "tables that may serve it"],
            [(p["name"], p["description"], p["tables"]) for p in r["purposes"]],
        ),
        "<h2>Tables</h2>",
        _table(
            [
                "table",
                "controller",
                "organisation",
                "rows",
                "purposes",
                "retention",
                "expires",
                "analysts",
                "k",
                "columns",
            ],
            [
                (
                    t["table"],
                    t["controller"],
                    t["organisation"],
                    t["rows"],
                    t["purposes"] if t["purposes"] is not None else "any agreed purpose",
                    t["retention"],
                    t["expires"],
                    t["analysts"] if t["analysts"] is not None else "any analyst",
                    t["min_group_size"],
                    t["columns"],
                )
                for t in r["tables"]
            ],
        ),
    ]
    if r["not_purpose_bound"]:
        parts.append(
            "<p><strong>Not purpose-bound</strong> (their policy names no purposes, so they "
            "may serve every agreed purpose): "
            + html.escape(", ".join(r["not_purpose_bound"]))
            + "</p>"
        )
    parts += [
        "<h2>Queries run</h2>",
        _table(
            ["time", "analyst", "purpose", "plan hash", "decision"],
            [
                (e["time"], e["member"], e["purpose"], e["plan_hash"], e["decision"])
                for e in r["runs"]
            ],
        ),
        "<h2>Releases</h2>",
        _table(
            ["time", "to", "purpose", "plan hash", "rows", "what"],
            [
                (e["time"], e["member"], e["purpose"], e["plan_hash"], e["rows"], e["detail"])
                for e in r["releases"]
            ],
        ),
        "<h2>Refusals</h2>",
        _table(
            ["time", "member", "purpose", "plan hash", "why"],
            [
                (e["time"], e["member"], e["purpose"], e["plan_hash"], e["detail"])
                for e in r["refusals"]
            ],
        ),
        "<h2>Policy changes</h2>",
        _table(
            ["time", "member", "decision", "detail"],
            [(e["time"], e["member"], e["decision"], e["detail"]) for e in r["policy_changes"]],
        ),
        "<h2>Erasures</h2>",
        _table(
            ["time", "owner", "rows erased", "detail"],
            [(e["time"], e["member"], e["rows"], e["detail"]) for e in r["erasures"]],
        ),
        "<h2>Tables destroyed at the end of their retention</h2>",
        _table(
            ["time", "owner", "detail"],
            [(e["time"], e["member"], e["detail"]) for e in r["retention_destructions"]],
        ),
        "</body></html>",
    ]
    return "\n".join(parts)


def write_processing_report(session: Session, out_dir: str | Path = ".") -> tuple[Path, Path]:
    """Fetch the tables and verified audit trails and write ``processing.json`` and
    ``processing.html`` into ``out_dir``; returns both paths.

    Examples
    --------
    >>> with sharelake.connect("lake/consortium.toml", "ngo_a") as s:  # doctest: +SKIP
    ...     write_processing_report(s, "dpo")
    (PosixPath('dpo/processing.json'), PosixPath('dpo/processing.html'))
    """
    tables = session.tables()
    listed = session.request(0, "GET", "/v1/tables").json()
    created = {str(t["name"]): float(t["created"]) for t in listed if "created" in t}
    record = processing_record(
        session.consortium,
        tables,
        session.audit(),
        created=created,
        generated_by=session.member,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jpath, hpath = out / "processing.json", out / "processing.html"
    jpath.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    hpath.write_text(render_html(record), encoding="utf-8")
    return jpath, hpath

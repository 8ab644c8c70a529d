"""``sharelake erase`` and ``sharelake report processing`` (docs/privacy.md).

``erase`` removes a person's rows from the caller's table on the three nodes: the record
ids are read from a file, validated against the id column and secret-shared here, the
nodes remove the matching rows inside MPC and destroy the old version. ``report
processing`` writes the record of processing activities (JSON and HTML) from the
consortium file, the tables' policies and the verified audit trails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputValidationError, SharelakeError
from .errors import fail
from .report_cmd import report_app  # `report processing` joins `report monitoring`

_CONS = typer.Option("--consortium", help="consortium.toml of the lake.")
_KEY = typer.Option("--key", help="Your private key (default: members/MEMBER.key).")


def erase(
    table: Annotated[str, typer.Option("--table", help="Your table.")],
    record_ids: Annotated[
        Path,
        typer.Option(
            "--record-ids", help="File of the ids to erase: one per line, or a CSV with --column."
        ),
    ],
    member: Annotated[str, typer.Option("--as", help="Your member name (the table's owner).")],
    consortium: Annotated[Path, _CONS],
    column: Annotated[
        str, typer.Option("--column", help="The table's record id column.")
    ] = "record_id",
    key: Annotated[Path | None, _KEY] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds the nodes may take.", min=1.0)
    ] = 600.0,
) -> None:
    """Erase the rows of your TABLE whose record id is in the file, on all three nodes.

    The ids never leave this machine in the clear. The nodes learn how many rows were
    removed (and a power-of-two bound on how many ids were sent), never which ids; the
    audit records the count. A bad id (wrong kind) is refused naming the file and row
    before anything is sent (exit status 2); a node's refusal exits with status 1.
    """
    from rich.console import Console

    from ..client.session import connect

    console = Console(stderr=True)
    try:
        with connect(consortium, member, key=key, timeout=timeout) as s:
            out = s.erase(table, record_ids, column=column, timeout=timeout)
    except InputValidationError as exc:
        fail(console, "refused, nothing was sent", exc, 2)
    except SharelakeError as exc:
        fail(console, "erasure failed", exc, 1)
    typer.echo(
        f"table {table!r}: {out['erased']} rows erased on all three nodes; "
        f"version {out['version']} holds {out['rows']} rows; the old version is destroyed"
    )


@report_app.command("processing")
def processing(
    consortium: Annotated[Path, _CONS],
    out: Annotated[Path, typer.Option("--out", help="Directory for the report.")] = Path("."),
    member: Annotated[
        str | None,
        typer.Option(
            "--as", help="Your member name (default: the first member with a key beside the file)."
        ),
    ] = None,
    key: Annotated[Path | None, _KEY] = None,
) -> None:
    """Write the record of processing activities as processing.json and processing.html.

    Built from the consortium file (controllers, processors, purposes), the tables'
    policies as the three nodes enforce them (purposes, retention, column classes) and
    the nodes' audit trails, each chain verified and the nodes compared (who ran what,
    for which purpose, what was released to whom). Exit status 1 when the audit trails
    do not verify (the report is written all the same, saying so).
    """
    from rich.console import Console

    from ..client.processing import write_processing_report
    from ..client.session import connect
    from ..consortium.members import Consortium

    console = Console(stderr=True)
    path = consortium / "consortium.toml" if consortium.is_dir() else consortium
    try:
        who = member or _default_member(Consortium.load(path), path)
        with connect(path, who, key=key) as s:
            jpath, hpath = write_processing_report(s, out)
    except SharelakeError as exc:
        fail(console, "report failed", exc, 1)

    ok = json.loads(jpath.read_text(encoding="utf-8"))["audit"]["verified"]
    typer.echo(f"wrote {jpath} and {hpath}")
    if not ok:
        console.print("[red]the audit trails do not verify[/red]: see the report")
        raise typer.Exit(1)


def _default_member(consortium: object, path: Path) -> str:
    from ..consortium.members import Consortium

    assert isinstance(consortium, Consortium)
    for name in sorted(consortium.members):
        if (path.parent / "members" / f"{name}.key").exists():
            return name
    raise SharelakeError(f"no member key beside {path}: name yourself with --as")

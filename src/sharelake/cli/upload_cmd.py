"""``sharelake upload CSV --table NAME --policy POLICY.toml --as MEMBER --consortium FILE``.

Validates the file at the client (errors name the file, row and column), prints what
will be shared (columns, kinds, row count, public details, problems found) and asks to
confirm (``--yes`` answers for you; without a terminal to ask on, ``--yes`` is needed),
then secret-shares it here and uploads it to the three nodes all-or-nothing, with a
progress bar.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import InputValidationError, SharelakeError
from .errors import fail

if TYPE_CHECKING:
    from rich.console import Console

    from ..client.preview import UploadPreview


def confirm_preview(console: Console, *, yes: bool) -> Callable[[UploadPreview], bool]:
    """Print the preview; True with ``--yes``, else the answer to a question on the
    terminal (an error naming ``--yes`` when there is no terminal to ask on)."""

    def ask(preview: UploadPreview) -> bool:
        console.print(preview.render(), markup=False, highlight=False, soft_wrap=True)
        if yes:
            return True
        if not sys.stdin.isatty():
            raise InputValidationError(
                "not confirmed (no terminal to ask on): check the preview above, then "
                "rerun with --yes to upload it"
            )
        return typer.confirm("Share this table with the three nodes?", default=False, err=True)

    return ask


def upload(
    data: Annotated[Path, typer.Argument(help="CSV (or Parquet) file to upload.")],
    table: Annotated[str, typer.Option("--table", help="Name of the table in the lake.")],
    policy: Annotated[
        Path, typer.Option("--policy", help="The table's policy (TOML), signed by you.")
    ],
    member: Annotated[str, typer.Option("--as", help="Your member name (a provider).")],
    consortium: Annotated[Path, typer.Option("--consortium", help="consortium.toml of the lake.")],
    schema: Annotated[
        Path | None,
        typer.Option("--schema", help="Column schema (TOML file of columns); inferred if omitted."),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="Your private key (default: members/MEMBER.key)."),
    ] = None,
    upload_id: Annotated[
        str | None,
        typer.Option("--upload-id", help="Retry a failed upload with the id it printed."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds each node may take.", min=1.0)
    ] = 120.0,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Replace an existing table of that name (voids approvals of the old version).",
        ),
    ] = False,
    lenient: Annotated[
        bool,
        typer.Option(
            "--lenient",
            help="Upload a column of mostly numbers or dates with a few other values as text.",
        ),
    ] = False,
    people: Annotated[
        bool,
        typer.Option(
            "--people",
            help="A person table for linkage: encode the names here, upload the encodings.",
        ),
    ] = False,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Upload after printing the preview, without asking."),
    ] = False,
    normalize: Annotated[
        list[str] | None,
        typer.Option(
            "--normalize",
            help="COLUMN=STEPS: strip, lower or upper a text column here before sharing "
            "(e.g. name=strip,lower); repeat for more columns.",
        ),
    ] = None,
) -> None:
    """Validate, preview, secret-share and upload a table to the three nodes.

    Nothing is sent when a value does not fit the schema: the error names the file,
    row and column. The preview (columns, kinds, row count, what the nodes learn,
    problems found) is printed and must be confirmed, or passed with --yes. If a node
    fails, the upload is undone on all three and the command prints the ``--upload-id``
    to retry with (exit status 1).
    \f

    Parameters
    ----------
    data
        The CSV or Parquet file.
    table
        The table's name in the lake.
    policy
        The table's policy file.
    member
        The uploading member.
    consortium
        The consortium file.
    schema
        Optional schema file; see :func:`sharelake.client.upload.infer_schema` for the
        rule used without one.
    key
        The member's private key file.
    upload_id
        Id of a failed upload to retry.
    timeout
        Seconds per node request.
    replace
        Allow replacing an existing table (refused without it).
    lenient
        Without ``--schema``: make a mostly-number or mostly-date column with a few
        other values text, with a warning naming the rows (default: refused).
    people
        Upload a person table with its linkage encodings
        (:func:`sharelake.client.linkage.upload_people`).
    yes
        Confirm the preview without a question (needed without a terminal).
    normalize
        ``COLUMN=STEPS`` text normalisations done before sharing
        (``normalize=`` of :func:`sharelake.client.upload.upload`).
    """
    from rich.console import Console

    from ..client.session import connect
    from ..client.upload import preview_upload

    console = Console(stderr=True)
    steps: dict[str, str] = {}
    for item in normalize or []:
        column, sep, value = item.partition("=")
        if not sep or not column or not value:
            fail(
                console,
                "refused, nothing was sent",
                InputValidationError(f"--normalize {item!r}: write COLUMN=STEPS, e.g. name=lower"),
                2,
            )
        steps[column] = value
    try:
        if not people:  # a bad file is named before any node is contacted (even when down)
            preview_upload(data, table, schema=schema, lenient=lenient, normalize=steps or None)
        with connect(consortium, member, key=key, timeout=timeout) as session:
            common: dict[str, Any] = {
                "schema": schema,
                "policy": policy,
                "upload_id": upload_id,
                "replace": replace,
                "progress": True,
            }
            if people:
                res = session.upload_people(data, table, **common)
            else:
                ask = confirm_preview(console, yes=yes)
                res = session.upload(
                    data, table, lenient=lenient, confirm=ask, normalize=steps or None, **common
                )
    except InputValidationError as exc:
        fail(console, "refused, nothing was sent", exc, 2)
    except SharelakeError as exc:
        fail(console, "upload failed", exc, 1)
    kinds = ", ".join(f"{s.name}:{s.kind}" for s in res.schema)
    typer.echo(
        f"uploaded {res.rows} rows to table {res.table!r} (version {res.version}) "
        f"in {res.seconds:.2f} s; columns {kinds}; upload id {res.upload_id}"
    )

"""``sharelake schema infer CSV [--out schema.toml] [--lenient]``.

Infers a file's schema by the rule uploads use without ``--schema``
(:func:`sharelake.client.upload.infer_schema`) and writes it as a schema file
(``[[columns]]`` entries, :func:`sharelake.client.upload.schema_toml`) to edit and pass to
``sharelake upload --schema``. Nothing is sent anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputValidationError
from .errors import fail

schema_app = typer.Typer(help="Column schemas of files to upload.", no_args_is_help=True)


@schema_app.command("infer")
def infer(
    data: Annotated[Path, typer.Argument(help="CSV (or Parquet) file to describe.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the schema here (default: print it).")
    ] = None,
    lenient: Annotated[
        bool,
        typer.Option(
            "--lenient",
            help="Make a column of mostly numbers or dates with a few other values text.",
        ),
    ] = False,
) -> None:
    """Infer the schema of a file and write it as a schema file to edit.

    A column of mostly numbers or dates with a few other values is refused, naming the
    rows (exit status 2), unless --lenient.
    \f

    Parameters
    ----------
    data
        The CSV or Parquet file.
    out
        The schema file to write; printed when omitted.
    lenient
        Make mixed columns text instead of refusing them.
    """
    from rich.console import Console

    from ..client.upload import infer_schema, read_data, schema_toml

    console = Console(stderr=True)
    try:
        df, source = read_data(data)
        specs = infer_schema(df, source=source, lenient=lenient)
    except InputValidationError as exc:
        fail(console, "cannot infer the schema", exc, 2)
    text = schema_toml(specs)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    kinds = ", ".join(f"{s.name}:{s.kind}" for s in specs)
    typer.echo(f"wrote {out} ({kinds}); edit it, then upload with --schema {out}")

"""``sharelake node run|init|import-cert|status|backup|restore|fsck``: one node's life."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import SharelakeError
from .ceremony_cmd import node_apply_change, node_import_cert, node_init
from .fsck_cmd import fsck as fsck_command

node_app = typer.Typer(
    name="node",
    help="Run a compute node (one of P0, P1, P2).",
    no_args_is_help=True,
    add_completion=False,
)
node_app.command("init")(node_init)
node_app.command("import-cert")(node_import_cert)
node_app.command("apply-change")(node_apply_change)


@node_app.command("run")
def run(
    config: Annotated[Path, typer.Argument(help="The node's node.toml.")],
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "info",
    log_format: Annotated[
        str, typer.Option("--log-format", help="json (one object a line) or text.")
    ] = "json",
    ready_file: Annotated[
        Path | None,
        typer.Option("--ready-file", help="Write the process id here once listening."),
    ] = None,
) -> None:
    """Run one node: its HTTPS API for clients and its TLS listener for the peer nodes.

    Start-up fails with a clear message (exit status 2) when the configuration cannot
    be read, a founder has not signed the consortium file, the certificate does not
    chain to the node's anchor or does not match its pinned fingerprint, the
    certificate and key do not belong together, or a port is taken. SIGINT and SIGTERM
    stop it cleanly (exit status 0).
    \f

    Parameters
    ----------
    config
        Path of the node's ``node.toml``.
    log_level, log_format
        Logging to standard error (JSON lines by default; never a value or a name).
    ready_file
        For supervisors: proof that this process bound its ports.
    """
    from ..node.server import run_node

    code = run_node(config, log_level, log_format, ready_file)
    if code:
        raise typer.Exit(code)


@node_app.command("status")
def status(
    config: Annotated[Path, typer.Argument(help="The node's node.toml.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a node's files and, when it runs, the node and its peers; exit 1 on a problem.
    \f

    Parameters
    ----------
    config
        Path of the node's ``node.toml``.
    as_json
        Machine-readable output.
    """

    from ..node.operations import node_status

    st = node_status(config)
    if as_json:
        typer.echo(json.dumps(st.as_dict(), indent=1))
    else:
        for c in st.checks:
            typer.echo(f"{st.node} {'ok ' if c.ok else 'BAD'} {c.name:<13} {c.detail}")
    if not st.ok:
        raise typer.Exit(1)


@node_app.command("backup")
def backup(
    config: Annotated[Path, typer.Argument(help="The node's node.toml.")],
    out: Annotated[Path, typer.Option("--out", help="The archive to write (.tar.gz).")],
    include_keys: Annotated[
        bool,
        typer.Option("--include-keys", help="Also store the node's TLS private key."),
    ] = False,
) -> None:
    """Back up a node folder (data, catalog, configuration, consortium, certificates).
    \f

    Parameters
    ----------
    config, out, include_keys
        See the options.
    """
    from ..node.operations import backup_node

    try:
        manifest = backup_node(config, out, include_keys=include_keys)
    except SharelakeError as exc:
        typer.echo(f"sharelake node backup: {exc}", err=True)
        raise typer.Exit(1) from None
    size = sum(f["bytes"] for f in manifest["files"].values())
    typer.echo(f"wrote {out}: {len(manifest['files'])} files, {size:,} bytes (SHA-256 manifest)")


@node_app.command("restore")
def restore(
    config: Annotated[Path, typer.Argument(help="The node's node.toml.")],
    archive: Annotated[Path, typer.Argument(help="A backup made by `sharelake node backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Keep a non-empty data directory aside and restore.")
    ] = False,
) -> None:
    """Restore a stopped node's data from a backup (every SHA-256 checked first), then fsck.
    \f

    Parameters
    ----------
    config, archive, force
        See the options.
    """
    from ..node.operations import restore_node

    try:
        problems = restore_node(config, archive, force=force)
    except SharelakeError as exc:
        typer.echo(f"sharelake node restore: {exc}", err=True)
        raise typer.Exit(1) from None
    for p in problems:
        typer.echo(f"fsck: {p}")
    if problems:
        typer.echo(f"restored, but {len(problems)} problem(s) remain: sharelake node fsck --repair")
        raise typer.Exit(1)
    typer.echo(f"restored {archive}; fsck found nothing wrong")


node_app.command("fsck")(fsck_command)

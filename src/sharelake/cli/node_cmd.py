"""``sharelake node run|init|import-cert``: make and run one node of a consortium."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .ceremony_cmd import node_import_cert, node_init

node_app = typer.Typer(
    name="node",
    help="Run a compute node (one of P0, P1, P2).",
    no_args_is_help=True,
    add_completion=False,
)
node_app.command("init")(node_init)
node_app.command("import-cert")(node_import_cert)


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

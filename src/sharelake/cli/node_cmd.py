"""``sharelake node run CONFIG``: run one node of a consortium until interrupted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

node_app = typer.Typer(
    name="node",
    help="Run a compute node (one of P0, P1, P2).",
    no_args_is_help=True,
    add_completion=False,
)


@node_app.command("run")
def run(
    config: Annotated[
        Path, typer.Argument(help="The node's node.toml (from `sharelake cluster init`).")
    ],
) -> None:
    """Run one node: its HTTPS API for clients and its TLS listener for the peer nodes.

    Start-up fails with a clear message (exit status 2) when the configuration cannot
    be read, the certificate is not from the consortium CA or does not match its
    fingerprint in consortium.toml, the certificate and key do not belong together, or
    a port is taken.

    Parameters
    ----------
    config
        Path of the node's ``node.toml``.
    """
    import logging

    from ..node.server import NodeStartupError, serve

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    try:
        serve(config)
    except NodeStartupError as exc:
        typer.echo(f"sharelake node: cannot start: {exc}", err=True)
        raise typer.Exit(2) from None

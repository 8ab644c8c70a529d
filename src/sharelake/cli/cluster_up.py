"""``sharelake cluster up DIR``: run the three nodes of a local consortium until Ctrl-C."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from ..errors import SharelakeError
from .cluster import cluster_app


@cluster_app.command("up")
def up(
    directory: Annotated[
        Path, typer.Argument(help="A directory made by `sharelake cluster init`.")
    ],
    start_timeout: Annotated[
        float, typer.Option("--start-timeout", help="Seconds to wait for the nodes to answer.")
    ] = 30.0,
) -> None:
    """Start nodes P0, P1 and P2 of DIR as three processes; stop them on Ctrl-C.

    Each node writes its JSON log to ``DIR/logs/P{i}.log``. Exits with status 1 when a
    node does not come up (a port in use, a bad file: the reason is printed) or stops
    on its own; with status 0 after SIGINT (Ctrl-C, ``kill -INT``) or SIGTERM, in the
    foreground or in the background, once the three nodes have stopped.
    \f

    Parameters
    ----------
    directory
        The consortium directory.
    start_timeout
        How long to wait for every node's health check.
    """
    from ..node.local import LocalCluster

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Stop the nodes on SIGTERM as on Ctrl-C; SIGINT is set explicitly too, because a
    # shell starts a background job (`cluster up lake &`) with SIGINT ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)

    try:
        cluster = LocalCluster(directory, start_deadline=start_timeout).start()
    except SharelakeError as exc:
        typer.echo(f"sharelake cluster up: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("sharelake cluster up: interrupted while starting; nodes stopped", err=True)
        raise typer.Exit(130) from None
    for i in range(3):
        typer.echo(f"P{i}: {cluster.api_url(i)} (log {cluster.log_path(i)})")
    typer.echo("the three nodes are up; press Ctrl-C to stop them")
    try:
        while all(cluster.running(i) for i in range(3)):
            time.sleep(0.5)
        dead = [i for i in range(3) if not cluster.running(i)]
        typer.echo(f"node P{dead[0]} stopped; stopping the others", err=True)
        cluster.stop()
        raise typer.Exit(1)
    except KeyboardInterrupt:
        typer.echo("stopping the nodes")
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut it short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    finally:
        cluster.stop()
    typer.echo("the three nodes have stopped")

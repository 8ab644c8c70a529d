"""``sharelake fsck NODE.toml [--repair]``: check (and repair) a stopped node's data folder.

Runs :meth:`Store.fsck <sharelake.storage.store.Store.fsck>` on the node's data
directory: temporary files of interrupted writes, orphan or broken staging, prepared
uploads without files, unreferenced version directories, missing or corrupt share files.
Exit status 0 when nothing is left to report, 1 when problems remain (a corrupt share of
a visible table cannot be repaired locally: restore it from a backup or upload the table
again), 2 when the node is running or its configuration cannot be read.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer

from ..errors import SharelakeError


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def fsck(
    config: Annotated[Path, typer.Argument(help="The node's node.toml.")],
    repair: Annotated[
        bool, typer.Option("--repair", help="Remove garbage and finish interrupted commits.")
    ] = False,
) -> None:
    """Check a node's data directory against its catalog; with --repair, fix what can be.

    The node must be stopped (its API port must not answer): a running node's writes in
    progress would look like garbage.
    \f

    Parameters
    ----------
    config
        Path of the node's ``node.toml``.
    repair
        Remove temporary files and orphan staging, abort broken prepared uploads and
        complete interrupted commits.
    """
    from ..consortium.cluster import NodeConfig
    from ..storage.store import Store

    try:
        cfg = NodeConfig.load(config)
    except SharelakeError as exc:
        typer.echo(f"sharelake fsck: {exc}", err=True)
        raise typer.Exit(2) from None
    if _listening(cfg.api_host, cfg.api_port):
        typer.echo(
            f"sharelake fsck: {cfg.name} is running (its API answers on "
            f"{cfg.api_host}:{cfg.api_port}); stop it first",
            err=True,
        )
        raise typer.Exit(2)
    if not cfg.data_dir.is_dir():
        typer.echo(f"sharelake fsck: {cfg.name}: no data directory {cfg.data_dir}", err=True)
        raise typer.Exit(2)
    with Store(cfg.data_dir, recover=repair) as store:
        found = list(store.recovered) + store.fsck(repair=repair)
    for p in found:
        typer.echo(f"{cfg.name}: {p}")
    left = [p for p in found if not p.repaired]
    if not found:
        typer.echo(f"{cfg.name}: OK ({cfg.data_dir})")
    elif not left:
        typer.echo(f"{cfg.name}: repaired {len(found)} problem(s)")
    else:
        hint = "" if repair else " (run with --repair)"
        typer.echo(f"{cfg.name}: {len(left)} problem(s) left{hint}")
        raise typer.Exit(1)

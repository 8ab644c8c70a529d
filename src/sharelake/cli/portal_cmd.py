"""``sharelake portal``: the member's local web portal (see :mod:`sharelake.portal`)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from ..errors import SharelakeError

DEFAULT_PORT = 8765


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def portal(
    member: Annotated[str, typer.Option("--as", help="Your member name.")],
    consortium: Annotated[Path, typer.Option("--consortium", help="consortium.toml of the lake.")],
    key: Annotated[
        Path | None, typer.Option("--key", help="Your private key (default: members/MEMBER.key).")
    ] = None,
    port: Annotated[int, typer.Option("--port", help="Port on this computer.")] = DEFAULT_PORT,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (default: this computer only).")
    ] = "127.0.0.1",
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Listen on a non-loopback address (others on the network reach the sign-in page).",
        ),
    ] = False,
) -> None:
    """Run your portal on this computer and print the link that signs your browser in."""
    import uvicorn

    from ..client.session import connect
    from ..portal.access import Access
    from ..portal.app import create_app

    if not _loopback(host) and not allow_remote:
        typer.echo(
            f"error: {host} is not this computer only; the portal acts with your key, "
            "so it listens on 127.0.0.1 unless you add --allow-remote",
            err=True,
        )
        raise typer.Exit(2)
    try:
        session = connect(consortium, member, key=key)
    except SharelakeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    names = {f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"}
    access = Access(names)
    app = create_app(session, access)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    typer.echo(f"sharelake portal for {session.member}: open this link once, in your browser:")
    typer.echo(f"  http://{shown}:{port}/start?token={access.start_token}")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        session.close()

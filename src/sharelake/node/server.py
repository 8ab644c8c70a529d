"""Run one node: ``python -m sharelake.node.server NODE.toml`` (or ``sharelake node run``).

Start-up checks, each failing with a clear :class:`NodeStartupError` (exit status 2)
before anything listens: the configuration and ``consortium.toml`` load; the node's
certificate names this node, is issued by the consortium CA and has the fingerprint
``consortium.toml`` lists; the certificate and key belong together; the API and peer
ports are free. Then the peer listener starts and uvicorn serves the API over HTTPS
with the node certificate until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import ssl
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature

from ..consortium.changes import check_authorised
from ..consortium.cluster import NodeConfig, check_node_files
from ..consortium.members import Consortium
from ..errors import SharelakeError
from ..net.framing import PROTOCOL_VERSION
from ..net.tls import bind_listener, make_context
from ..storage.store import Store
from .observability import configure_logging
from .peers import PeerRouter

__all__ = ["NodeStartupError", "main", "prepare_node", "run_node", "serve"]

log = logging.getLogger("sharelake.node")


class NodeStartupError(SharelakeError):
    """A node cannot start: bad configuration, certificate, key or a port in use."""


def _bind(host: str, port: int, what: str, node: int) -> socket.socket:
    try:
        return bind_listener((host, port), backlog=128)
    except OSError as exc:
        raise NodeStartupError(
            f"P{node}: cannot listen for {what} on {host}:{port}: {exc.strerror or exc} "
            "(is another node or program using this port?)"
        ) from None


def prepare_node(
    config_path: str | Path,
) -> tuple[NodeConfig, Consortium, socket.socket, socket.socket]:
    """Load and check everything a node needs; bind its API and peer sockets.

    Raises
    ------
    NodeStartupError
        With a message saying what is wrong and where.
    """
    try:
        config = NodeConfig.load(config_path)
        consortium = Consortium.load(config.consortium_path)
    except SharelakeError as exc:
        raise NodeStartupError(f"{config_path}: {exc}") from None
    try:
        check_node_files(config, consortium)
        check_authorised(consortium, config.data_dir)
    except SharelakeError as exc:
        raise NodeStartupError(f"P{config.id}: {exc}") from None
    except InvalidSignature:
        raise NodeStartupError(
            f"P{config.id}: the certificate {config.cert_path} is not issued by the "
            f"consortium CA {config.ca_path}"
        ) from None
    try:
        make_context(
            server=True,
            certfile=config.cert_path,
            keyfile=config.key_path,
            cadata=consortium.trust_pem(),
        )
    except ssl.SSLError as exc:
        raise NodeStartupError(
            f"P{config.id}: the certificate {config.cert_path} and key {config.key_path} "
            f"do not belong together or cannot be read ({exc.reason})"
        ) from None
    except OSError as exc:
        raise NodeStartupError(f"P{config.id}: cannot read the TLS files: {exc}") from None
    api = _bind(config.api_host, config.api_port, "clients", config.id)
    try:
        peer = _bind(config.peer_host, config.peer_port, "peer nodes", config.id)
    except BaseException:
        api.close()
        raise
    return config, consortium, api, peer


def serve(config_path: str | Path, *, ready_file: str | Path | None = None) -> None:
    """Run the node described by ``config_path`` until interrupted.

    Parameters
    ----------
    config_path
        The node's ``node.toml``.
    ready_file
        Written (with this process's id) once every start-up check passed and both
        sockets are bound: proof for a supervisor that *this* process holds the ports.

    Raises
    ------
    NodeStartupError
        When a start-up check fails.
    """
    import uvicorn

    from .service import create_app

    config, consortium, api, peer = prepare_node(config_path)
    store = Store(config.data_dir)
    addrs = [n.peer_addr for n in consortium.nodes]
    router = PeerRouter(
        config.id,
        addrs,
        config.cert_path,
        config.key_path,
        None,
        cadata=consortium.trust_pem(),
        pins=consortium.pins(),
        listener=peer,
    )
    router.start()
    app = create_app(config, consortium, store, router)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            ssl_certfile=str(config.cert_path),
            ssl_keyfile=str(config.key_path),
            log_level=logging.getLevelName(logging.getLogger().level).lower(),
            log_config=None,  # keep the JSON handler configured by configure_logging
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    )
    log.warning(
        "P%d serving clients on %s:%d and peers on %s:%d (protocol %d)",
        config.id,
        config.api_host,
        config.api_port,
        config.peer_host,
        config.peer_port,
        PROTOCOL_VERSION,
    )
    if ready_file is not None:
        Path(ready_file).write_text(f"{os.getpid()}\n")
    app.state.node.privacy.start()  # the periodic retention check
    try:
        server.run(sockets=[api])
    finally:
        app.state.node.privacy.stop()
        router.close()
        store.close()
        api.close()
        log.warning("P%d stopped", config.id)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m sharelake.node.server CONFIG``; returns the exit status.

    Options: ``--log-level debug|info|warning|error`` (default info), ``--log-format
    json|text`` (default json), ``--ready-file PATH`` (see :func:`serve`).
    """
    parser = argparse.ArgumentParser(prog="python -m sharelake.node.server")
    parser.add_argument("config")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--log-format", default="json", choices=("json", "text"))
    parser.add_argument("--ready-file", default=None)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return run_node(args.config, args.log_level, args.log_format, args.ready_file)


def run_node(
    config: str | Path,
    log_level: str = "info",
    log_format: str = "json",
    ready_file: str | Path | None = None,
) -> int:
    """Configure logging, serve until SIGINT/SIGTERM; 0 when stopped, 2 when it cannot start."""
    try:
        configure_logging(
            level=log_level,
            fmt="text" if log_format == "text" else "json",
            node=_node_label(config),
        )
    except ValueError as exc:
        print(f"sharelake node: {exc}", file=sys.stderr)
        return 2
    # A node started in the background of a non-interactive shell inherits SIGINT as
    # ignored; take it back so that `kill -INT` stops it like Ctrl-C does.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        serve(config, ready_file=ready_file)
    except NodeStartupError as exc:
        print(f"sharelake node: cannot start: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


def _node_label(config: str | Path) -> str:
    try:
        return f"P{NodeConfig.load(config).id}"
    except SharelakeError:
        return "-"


if __name__ == "__main__":
    sys.exit(main())

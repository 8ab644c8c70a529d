"""Run one node: ``python -m sharelake.node.server NODE.toml`` (or ``sharelake node run``).

Start-up checks, each failing with a clear :class:`NodeStartupError` (exit status 2)
before anything listens: the configuration and ``consortium.toml`` load; the node's
certificate names this node, is issued by the consortium CA and has the fingerprint
``consortium.toml`` lists; the certificate and key belong together; the API and peer
ports are free. Then the peer listener starts and uvicorn serves the API over HTTPS
with the node certificate until SIGINT or SIGTERM.
"""

from __future__ import annotations

import logging
import socket
import ssl
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature

from ..consortium.cluster import NodeConfig, check_node_files
from ..consortium.members import Consortium
from ..errors import SharelakeError
from ..net.tls import bind_listener, make_context
from ..storage.store import Store
from .peers import PeerRouter

__all__ = ["NodeStartupError", "main", "prepare_node", "serve"]

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
    except SharelakeError as exc:
        raise NodeStartupError(f"P{config.id}: {exc}") from None
    except InvalidSignature:
        raise NodeStartupError(
            f"P{config.id}: the certificate {config.cert_path} is not issued by the "
            f"consortium CA {config.ca_path}"
        ) from None
    try:
        make_context(
            server=True, certfile=config.cert_path, keyfile=config.key_path, cafile=config.ca_path
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


def serve(config_path: str | Path) -> None:
    """Run the node described by ``config_path`` until interrupted.

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
        config.id, addrs, config.cert_path, config.key_path, config.ca_path, listener=peer
    )
    router.start()
    app = create_app(config, consortium, store, router)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            ssl_certfile=str(config.cert_path),
            ssl_keyfile=str(config.key_path),
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    )
    log.warning(
        "P%d serving clients on https://%s:%d and peers on %s:%d",
        config.id,
        config.api_host,
        config.api_port,
        config.peer_host,
        config.peer_port,
    )
    try:
        server.run(sockets=[api])
    finally:
        router.close()
        store.close()
        api.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m sharelake.node.server CONFIG``; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sharelake.node.server NODE.toml", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    try:
        serve(args[0])
    except NodeStartupError as exc:
        print(f"sharelake node: cannot start: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

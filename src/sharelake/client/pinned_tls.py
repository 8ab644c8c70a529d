"""Pinned TLS for the client: each node must present the one certificate the consortium lists.

A node's HTTPS connection is accepted only when its certificate is issued by the
consortium CA *and* its SHA-256 fingerprint is the one ``consortium.toml`` lists for that
node; the check runs right after the handshake, before a single byte of a request is sent.
The host name is not checked: the pinned fingerprint is stronger. Used by
:class:`sharelake.client.session.Session` for each node's ``httpx`` client.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
from pathlib import Path
from typing import Any

from ..consortium.members import NodeInfo


class _PinnedContext(ssl.SSLContext):
    """Client TLS context that also requires one exact server certificate (SHA-256)."""

    pinned = ""
    node_name = ""

    def wrap_socket(self, sock: socket.socket, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        wrapped = super().wrap_socket(sock, *args, **kwargs)
        _check_pin(wrapped.getpeercert(binary_form=True), self.pinned, self.node_name, wrapped)
        return wrapped

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        raise ssl.SSLError("sharelake: TLS over memory BIOs is not used (no proxies)")


def _check_pin(der: bytes | None, pinned: str, node: str, sock: ssl.SSLSocket) -> None:
    got = hashlib.sha256(der or b"").hexdigest()
    if der is None or got != pinned:
        sock.close()
        raise ssl.SSLCertVerificationError(
            f"{node} presented certificate {got[:16]}..., but consortium.toml pins "
            f"{pinned[:16]}...: refusing to talk to it"
        )


def _tls_context(ca: Path, node: NodeInfo) -> _PinnedContext:
    ctx = _PinnedContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False  # the fingerprint pin below is stricter
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(ca))
    ctx.pinned = node.cert_fingerprint.lower()
    ctx.node_name = node.name or f"P{node.id}"
    return ctx

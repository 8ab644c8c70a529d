"""Peers of different protocol versions refuse each other, naming both versions; and a
peer whose certificate is not the one the consortium pins is refused even from a CA the
node trusts."""

from __future__ import annotations

import secrets
import socket
import ssl
import threading
from pathlib import Path

import pytest

from sharelake.consortium.certs import issue_node_cert, make_ca
from sharelake.errors import AuthenticationError, ProtocolVersionError
from sharelake.net.framing import HEADER, HEADER_SIZE, MAGIC, PROTOCOL_VERSION, Kind
from sharelake.net.identity import fingerprint
from sharelake.net.tls import bind_listener, make_context
from sharelake.node.peers import ACK_VERSION, PeerRouter

pytestmark = pytest.mark.timeout(60)
OTHER = PROTOCOL_VERSION + 1


def _frame(version: int, kind: Kind, sid: bytes, payload: bytes) -> bytes:
    return HEADER.pack(MAGIC, version, kind, sid, 0, len(payload)) + payload


def _recv(sock: ssl.SSLSocket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Path, list[tuple[Path, Path]]]:
    ca = make_ca(tmp_path / "ca")
    certs = []
    for i in range(3):
        issued = issue_node_cert(ca, i, tmp_path / f"P{i}")
        certs.append((issued.cert_path, issued.key_path))
    return ca.cert_path, certs


def test_a_node_answers_a_hello_of_another_version_with_its_own_version(
    pki: tuple[Path, list[tuple[Path, Path]]],
) -> None:
    ca, certs = pki
    listener = bind_listener(("127.0.0.1", 0))
    addrs = [("127.0.0.1", listener.getsockname()[1]), ("127.0.0.1", 1), ("127.0.0.1", 2)]
    router = PeerRouter(0, addrs, *certs[0], ca, listener=listener)
    router.start()
    try:
        ctx = make_context(server=False, certfile=certs[1][0], keyfile=certs[1][1], cafile=ca)
        with ctx.wrap_socket(socket.create_connection(addrs[0], timeout=5)) as tls:
            sid = secrets.token_bytes(16)
            tls.sendall(_frame(OTHER, Kind.HELLO, sid, bytes([1, 0])))
            ack = _recv(tls, HEADER_SIZE + 1)
        _, version, kind, _, _, length = HEADER.unpack(ack[:HEADER_SIZE])
        assert (version, kind, length, ack[HEADER_SIZE]) == (
            PROTOCOL_VERSION,
            Kind.ACK,
            1,
            ACK_VERSION,
        )
    finally:
        router.close()


def test_dialling_a_peer_of_another_version_fails_at_once_naming_both_versions(
    pki: tuple[Path, list[tuple[Path, Path]]],
) -> None:
    ca, certs = pki
    fake = bind_listener(("127.0.0.1", 0))
    server_ctx = make_context(server=True, certfile=certs[1][0], keyfile=certs[1][1], cafile=ca)

    def newer_peer() -> None:
        raw, _ = fake.accept()
        with server_ctx.wrap_socket(raw, server_side=True) as tls:
            hello = _recv(tls, HEADER_SIZE + 2)
            sid = HEADER.unpack(hello[:HEADER_SIZE])[3]
            tls.sendall(_frame(OTHER, Kind.ACK, sid, bytes([0])))

    t = threading.Thread(target=newer_peer, daemon=True)
    t.start()
    listener = bind_listener(("127.0.0.1", 0))
    addrs = [("127.0.0.1", listener.getsockname()[1]), ("127.0.0.1", fake.getsockname()[1])]
    addrs.append(("127.0.0.1", 1))
    router = PeerRouter(0, addrs, *certs[0], ca, listener=listener)
    router.start()
    try:
        with pytest.raises(ProtocolVersionError) as info:
            router.open_session(secrets.token_hex(16), setup_deadline=20.0)
        msg = str(info.value)
        assert f"version {OTHER}" in msg and f"this node speaks {PROTOCOL_VERSION}" in msg
        assert "P1" in msg
    finally:
        router.close()
        fake.close()


def test_a_peer_with_a_valid_but_unpinned_certificate_is_refused(
    pki: tuple[Path, list[tuple[Path, Path]]], tmp_path: Path
) -> None:
    ca, certs = pki
    from sharelake.consortium.certs import load_ca

    # Another certificate for P1 from the same, trusted CA: valid, but not the pinned one.
    rogue = issue_node_cert(load_ca(ca.parent), 1, tmp_path / "rogue")
    fake = bind_listener(("127.0.0.1", 0))
    server_ctx = make_context(
        server=True, certfile=rogue.cert_path, keyfile=rogue.key_path, cafile=ca
    )

    def rogue_peer() -> None:
        raw, _ = fake.accept()
        try:
            with server_ctx.wrap_socket(raw, server_side=True) as tls:
                _recv(tls, HEADER_SIZE + 2)
        except (OSError, ssl.SSLError):
            pass

    threading.Thread(target=rogue_peer, daemon=True).start()
    listener = bind_listener(("127.0.0.1", 0))
    addrs = [("127.0.0.1", listener.getsockname()[1]), ("127.0.0.1", fake.getsockname()[1])]
    addrs.append(("127.0.0.1", 1))
    pins = [fingerprint(c) for c, _ in certs]
    router = PeerRouter(
        0, addrs, *certs[0], None, cadata=ca.read_text(), pins=pins, listener=listener
    )
    router.start()
    try:
        with pytest.raises(AuthenticationError, match="pins"):
            router.open_session(secrets.token_hex(16), setup_deadline=20.0)
    finally:
        router.close()
        fake.close()

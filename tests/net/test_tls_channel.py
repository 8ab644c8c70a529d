"""The TLS transport: certificates, frames, the per-direction channel and mesh setup."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import stat
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharelake.consortium import certs
from sharelake.errors import (
    AuthenticationError,
    PeerAbortError,
    PeerDisconnectedError,
    PeerTimeoutError,
    ProtocolError,
)
from sharelake.mpc.channel import abort_name
from sharelake.net import framing, identity, tls

SESSION = "0123456789abcdef0123456789abcdef"
SID = framing.session_bytes(SESSION)


# ---- certificates -------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("pki")
    ca = certs.make_ca(d / "ca")
    nodes = [certs.issue_node_cert(ca, i, d / "nodes") for i in range(3)]
    other = certs.make_ca(d / "other", name="rogue-ca")
    rogue = [certs.issue_node_cert(other, i, d / "rogue") for i in range(3)]
    return {"ca": ca, "nodes": nodes, "rogue": rogue}


def test_node_certificates_carry_the_node_id(pki: dict[str, Any]) -> None:
    for i, n in enumerate(pki["nodes"]):
        assert identity.node_id_from_cert(n.cert) == i
        assert identity.node_id_from_cert(n.cert_path.read_bytes()) == i
        assert identity.common_name(n.cert) == f"sharelake-node-P{i}"


def test_private_keys_are_readable_by_the_owner_only(pki: dict[str, Any]) -> None:
    for path in [pki["ca"].key_path, *(n.key_path for n in pki["nodes"])]:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_member_certificate_names_no_node(pki: dict[str, Any], tmp_path: Path) -> None:
    member = certs.issue_cert(pki["ca"], "analyst-alice", tmp_path, key_type="ed25519")
    with pytest.raises(AuthenticationError):
        identity.node_id_from_cert(member.cert)


def test_fingerprints_are_sha256_of_the_der_encoding(pki: dict[str, Any]) -> None:
    fp = identity.fingerprint(pki["nodes"][0].cert_path)
    assert len(fp) == 64
    assert fp == identity.fingerprint(pki["nodes"][0].cert)
    assert fp != identity.fingerprint(pki["nodes"][1].cert)


def test_a_saved_ca_loads_back(pki: dict[str, Any]) -> None:
    again = certs.load_ca(pki["ca"].cert_path.parent)
    assert identity.fingerprint(again.cert) == identity.fingerprint(pki["ca"].cert)


# ---- frames -------------------------------------------------------------------------


def test_frames_decode_back_to_their_payloads() -> None:
    payloads = [b"", b"x", bytes(range(256)) * 10]
    wire = b"".join(framing.encode_frame(SID, k, p) for k, p in enumerate(payloads))
    assert framing.decode_frames(wire, session=SID) == payloads


def test_a_frame_with_a_wrong_magic_is_a_protocol_error() -> None:
    head = bytearray(framing.encode_header(SID, 0, 0))
    head[0] ^= 0xFF
    with pytest.raises(ProtocolError, match="magic"):
        framing.parse_header(head)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=3))
def test_the_decoder_raises_only_protocol_errors_on_random_bytes(data: bytes, seq: int) -> None:
    with contextlib.suppress(ProtocolError):
        framing.decode_frames(data, session=SID, first_seq=seq)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=framing.HEADER_SIZE, max_size=framing.HEADER_SIZE), st.integers(0, 50))
def test_any_header_either_parses_or_is_a_protocol_error(head: bytes, seq: int) -> None:
    with contextlib.suppress(ProtocolError):
        framing.decode_header(head, session=SID, seq=seq, length=8)


# ---- the channel over plain socket pairs ----------------------------------------------


def _pair(deadline: float = 5.0) -> tuple[tls.TLSChannel, tls.TLSChannel, socket.socket]:
    """Parties 0 and 1 joined by two socket pairs; also returns 1's raw outbound socket."""
    a_out, b_in = socket.socketpair()
    b_out, a_in = socket.socketpair()
    c0 = tls.TLSChannel(0, SESSION, {1: a_out}, {1: a_in}, deadline=deadline)
    c1 = tls.TLSChannel(1, SESSION, {0: b_out}, {0: b_in}, deadline=deadline)
    return c0, c1, b_out


def test_a_message_round_trip_updates_the_counters() -> None:
    c0, c1, _ = _pair()
    try:
        c0.send(1, b"hello")
        assert bytes(c1.recv(0, 5)) == b"hello"
        c1.send(0, memoryview(b"world!"))
        assert bytes(c0.recv(1, 6)) == b"world!"
        assert (c0.stats.messages, c0.stats.bytes_sent) == (1, 5)
        assert (c1.stats.messages, c1.stats.bytes_sent) == (1, 6)
    finally:
        c0.close()
        c1.close()


def test_order_and_sizes_are_preserved_for_large_and_empty_messages() -> None:
    c0, c1, _ = _pair()
    big = np.random.default_rng(1).integers(0, 2**63, size=1 << 20, dtype=np.uint64)
    sizes = [big.nbytes, 0, 3, big.nbytes, 0]
    try:
        for k, n in enumerate(sizes):
            data = big.data.cast("B")[:n] if n > 3 else bytes([k] * n)
            c0.send(1, data)
        got = [c1.recv(0, n) for n in sizes]
        assert np.array_equal(np.frombuffer(got[0], dtype=np.uint64), big)
        assert np.array_equal(np.frombuffer(got[3], dtype=np.uint64), big)
        assert [g.nbytes for g in got] == sizes
        assert bytes(got[2]) == bytes([2, 2, 2])
    finally:
        c0.close()
        c1.close()


def test_an_abort_notice_raises_peer_abort_naming_the_sender_and_its_check() -> None:
    c0, c1, _ = _pair()
    try:
        c0.send(1, b"data")
        c0.abort("open")
        assert bytes(c1.recv(0, 4)) == b"data"  # what was sent before the notice arrives
        with pytest.raises(PeerAbortError, match="P0 aborted the query") as info:
            c1.recv(0, 8)  # whatever size the protocol expected next
        assert (info.value.node, info.value.check, info.value.session) == (0, "open", SESSION)
    finally:
        c0.close()
        c1.close()


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (b"sort:lt", "sort:lt"),
        (b"bad\nname", "unnamed"),
        (b"\xff\xfe", "unnamed"),
        (b"", "unnamed"),
    ],
)
def test_a_forged_abort_notice_names_at_most_a_short_plain_check(raw: bytes, named: str) -> None:
    c0, c1, out = _pair()
    try:
        out.sendall(framing.encode_frame(SID, 1, raw, framing.Kind.ABORT))
        with pytest.raises(PeerAbortError) as info:
            c0.recv(1, 4)
        assert (info.value.node, info.value.check) == (1, named)
    finally:
        c0.close()
        c1.close()


def test_an_oversized_or_foreign_abort_notice_is_a_protocol_error() -> None:
    c0, c1, out = _pair()
    try:
        out.sendall(framing.encode_frame(SID, 1, b"x" * 65, framing.Kind.ABORT))
        with pytest.raises(ProtocolError, match="abort notice of 65 bytes"):
            c0.recv(1, 4)
    finally:
        c0.close()
        c1.close()
    c0, c1, out = _pair()
    try:
        other = framing.session_bytes("other")
        out.sendall(framing.encode_frame(other, 1, b"open", framing.Kind.ABORT))
        with pytest.raises(ProtocolError, match="ABORT frame"):  # not this query's notice
            c0.recv(1, 4)
    finally:
        c0.close()
        c1.close()


def test_a_check_name_is_sent_as_a_short_plain_name_or_not_at_all() -> None:
    assert abort_name("open") == b"open"
    assert abort_name("a" * 100) == b"a" * 64
    assert abort_name("caf\u00e9") == b"integrity"
    assert abort_name("two\nlines") == b"integrity"


def test_a_frame_of_another_session_is_a_protocol_error() -> None:
    c0, c1, raw = _pair()
    try:
        raw.sendall(framing.encode_frame(framing.session_bytes("other"), 1, b"abcd"))
        with pytest.raises(ProtocolError, match="session"):
            c0.recv(1, 4)
    finally:
        c0.close()
        c1.close()


def test_an_out_of_sequence_frame_is_a_protocol_error() -> None:
    c0, c1, raw = _pair()
    try:
        raw.sendall(framing.encode_frame(SID, 2, b"abcd"))  # frame 1 is expected first
        with pytest.raises(ProtocolError, match="frame number 2"):
            c0.recv(1, 4)
    finally:
        c0.close()
        c1.close()


def test_a_message_of_the_wrong_size_is_a_protocol_error() -> None:
    c0, c1, _ = _pair()
    try:
        c1.send(0, b"abc")
        with pytest.raises(ProtocolError, match="3 bytes, expected 4"):
            c0.recv(1, 4)
    finally:
        c0.close()
        c1.close()


def test_a_silent_peer_raises_a_timeout_naming_it_within_the_deadline() -> None:
    c0, c1, _ = _pair(deadline=0.3)
    try:
        t0 = time.monotonic()
        with pytest.raises(PeerTimeoutError, match="P1") as info:
            c0.recv(1, 8)
        assert info.value.node == 1 and info.value.session == SESSION
        assert time.monotonic() - t0 < 5.0
    finally:
        c0.close()
        c1.close()


def test_a_peer_that_closes_raises_disconnected() -> None:
    c0, c1, _ = _pair()
    c1.close()
    try:
        with pytest.raises(PeerDisconnectedError) as info:
            c0.recv(1, 8)
        assert info.value.node == 1
    finally:
        c0.close()


# ---- the TLS mesh -------------------------------------------------------------------


def _mesh(
    node_certs: list[certs.Issued],
    cafile: Path,
    *,
    setup_deadline: float = 10.0,
    skip: int | None = None,
) -> tuple[list[tls.TLSChannel | None], list[BaseException | None]]:
    """Connect three parties in threads; party ``skip`` never starts."""
    listeners = [tls.bind_listener(("127.0.0.1", 0)) for _ in range(3)]
    addrs = [lsn.getsockname()[:2] for lsn in listeners]
    chans: list[tls.TLSChannel | None] = [None, None, None]
    errs: list[BaseException | None] = [None, None, None]

    def go(i: int) -> None:
        c = node_certs[i]
        try:
            chans[i] = tls.connect_mesh(
                i,
                addrs,
                c.cert_path,
                c.key_path,
                cafile,
                SESSION,
                deadline=5.0,
                setup_deadline=setup_deadline,
                listener=listeners[i],
            )
        except BaseException as exc:
            errs[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(3) if i != skip]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for lsn in listeners:
        lsn.close()
    return chans, errs


def _close(chans: list[tls.TLSChannel | None]) -> None:
    for c in chans:
        if c is not None:
            c.close()


def test_three_nodes_form_a_mutual_tls_mesh_and_exchange(pki: dict[str, Any]) -> None:
    chans, errs = _mesh(pki["nodes"], pki["ca"].cert_path)
    try:
        assert errs == [None, None, None]
        live = [c for c in chans if c is not None]
        for c in live:
            for j in range(3):
                if j != c.party:
                    c.send(j, bytes([c.party, j]) * 1000)
        for c in live:
            for j in range(3):
                if j != c.party:
                    assert bytes(c.recv(j, 2000)) == bytes([j, c.party]) * 1000
    finally:
        _close(chans)


def test_a_node_serving_a_certificate_from_another_ca_is_refused(
    pki: dict[str, Any],
) -> None:
    rogue = pki["rogue"][1]
    ctx = tls.make_context(
        server=True, certfile=rogue.cert_path, keyfile=rogue.key_path, cafile=pki["ca"].cert_path
    )
    listener = tls.bind_listener(("127.0.0.1", 0))
    listener.settimeout(5.0)

    def serve() -> None:
        try:
            raw, _ = listener.accept()
            raw.settimeout(5.0)
            with ctx.wrap_socket(raw, server_side=True):
                pass
        except (OSError, ssl.SSLError):
            pass

    t = threading.Thread(target=serve)
    t.start()
    c = pki["nodes"][0]
    addrs = [("127.0.0.1", 1), listener.getsockname()[:2], ("127.0.0.1", 1)]
    try:
        with pytest.raises(AuthenticationError, match="did not verify"):
            tls.connect_mesh(
                0,
                addrs,
                c.cert_path,
                c.key_path,
                pki["ca"].cert_path,
                SESSION,
                setup_deadline=5.0,
            )
    finally:
        t.join(10)
        listener.close()


def test_a_client_certificate_from_another_ca_is_refused(pki: dict[str, Any]) -> None:
    listeners = [tls.bind_listener(("127.0.0.1", 0)) for _ in range(3)]
    addrs = [lsn.getsockname()[:2] for lsn in listeners]
    errs: list[BaseException] = []

    def node0() -> None:
        c = pki["nodes"][0]
        try:
            tls.connect_mesh(
                0,
                addrs,
                c.cert_path,
                c.key_path,
                pki["ca"].cert_path,
                SESSION,
                setup_deadline=2.0,
                listener=listeners[0],
            )
        except BaseException as exc:
            errs.append(exc)

    t = threading.Thread(target=node0)
    t.start()
    rogue = pki["rogue"][1]
    ctx = tls.make_context(
        server=False, certfile=rogue.cert_path, keyfile=rogue.key_path, cafile=pki["ca"].cert_path
    )
    try:
        raw = socket.create_connection(addrs[0], timeout=5.0)
        with pytest.raises((ssl.SSLError, ConnectionError)), ctx.wrap_socket(raw) as s:
            s.sendall(framing.encode_frame(SID, 0, bytes([1, 0]), framing.Kind.HELLO))
            s.recv(1)
    finally:
        t.join(30)
        for lsn in listeners:
            lsn.close()
    assert isinstance(errs[0], PeerTimeoutError)  # P0 kept waiting for the real P1


def test_node_2s_certificate_in_node_1s_slot_is_refused(pki: dict[str, Any]) -> None:
    node_certs = [pki["nodes"][0], pki["nodes"][2], pki["nodes"][2]]
    chans, errs = _mesh(node_certs, pki["ca"].cert_path, setup_deadline=3.0)
    _close(chans)
    assert isinstance(errs[0], AuthenticationError), errs[0]
    assert "certificate of P2" in str(errs[0])
    assert errs[1] is not None and errs[2] is not None


def test_a_node_that_never_starts_is_named_at_setup(pki: dict[str, Any]) -> None:
    chans, errs = _mesh(pki["nodes"], pki["ca"].cert_path, setup_deadline=1.0, skip=2)
    _close(chans)
    for i in (0, 1):
        err = errs[i]
        assert isinstance(err, PeerTimeoutError), err
        assert err.node == 2

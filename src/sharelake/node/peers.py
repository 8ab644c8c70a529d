"""Peer sessions of a node: one TLS listener, many concurrent sessions kept apart.

Every node listens on ONE peer address. For each session (a query or an upload commit)
a node dials each of the two other nodes once (its outbound stream, as in
:func:`sharelake.net.tls.connect_mesh`) and accepts one inbound stream from each. The
hello frame that opens a stream carries the session id (``net/framing.py``); the
:class:`PeerRouter` reads it, checks the dialler's identity against its verified
certificate, and hands the stream to the local session with that id. A stream that
arrives before the local node has opened the session waits (bounded in time and
number) and is acknowledged only when the session claims it, so a mesh forms only
between nodes that derived the same session id. A stream for a session the node never
opens is dropped after :attr:`PeerRouter.pending_ttl` seconds.

Each :meth:`PeerRouter.open_session` returns an ordinary
:class:`~sharelake.net.tls.TLSChannel`; sessions share nothing but the listener.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import (
    AuthenticationError,
    PeerTimeoutError,
    ProtocolError,
    ProtocolVersionError,
    SharelakeError,
)
from ..net.framing import (
    HEADER_SIZE,
    PROTOCOL_VERSION,
    SESSION_BYTES,
    Kind,
    decode_header,
    encode_frame,
    parse_header,
    session_bytes,
)
from ..net.identity import node_id_from_cert
from ..net.tls import (
    Addr,
    TLSChannel,
    bind_listener,
    make_context,
    read_setup_bytes,
    tune_socket,
)

__all__ = ["PeerRouter", "SessionBusyError"]

log = logging.getLogger(__name__)

# Acknowledgement codes of the hello exchange (the same wire values as net/tls.py).
ACK_OK, ACK_IDENTITY, ACK_SESSION, ACK_SLOT, ACK_VERSION = 0, 1, 2, 3, 4
HELLO_SIZE = HEADER_SIZE + 2
HANDSHAKE_SECONDS = 5.0
MAX_PENDING = 256


class SessionBusyError(SharelakeError):
    """A session with this id is already open at this node."""


@dataclass
class _Pending:
    """An inbound stream waiting for its session to be opened here."""

    sock: ssl.SSLSocket
    sid: bytes
    peer: int
    since: float


@dataclass
class _Waiter:
    """A local session collecting its two inbound streams."""

    sid: bytes
    peers: set[int]
    inbound: dict[int, ssl.SSLSocket] = field(default_factory=dict)
    cond: threading.Condition = field(default_factory=threading.Condition)


def _peer_addr(sock: socket.socket) -> str:
    try:
        host, port = sock.getpeername()[:2]
    except OSError:
        return "an unknown address"
    return f"{host}:{port}"


def tls_reason(exc: ssl.SSLError) -> str:
    """Why a TLS handshake failed, in words (e.g. "certificate has expired")."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate rejected: {exc.verify_message}"
    if exc.reason:
        return f"TLS handshake failed: {exc.reason}"
    return f"TLS handshake failed: {exc}"


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _ack(sock: ssl.SSLSocket, sid: bytes, code: int) -> bool:
    try:
        sock.sendall(encode_frame(sid, 0, bytes([code]), Kind.ACK))
        return True
    except OSError:
        return False


class PeerRouter:
    """The peer listener of node ``party`` and the factory of its peer sessions.

    Parameters
    ----------
    party
        This node's id (0, 1 or 2).
    addrs
        The peer addresses of the three nodes, by node id.
    certfile, keyfile, cafile
        This node's certificate and key, and the consortium CA (``None`` when the
        anchors come as ``cadata``).
    cadata
        PEM text of the trust anchors (the nodes' self-signed certificates or their
        organisations' CAs, from ``consortium.toml``).
    pins
        The certificate fingerprints of P0, P1 and P2: a peer must present exactly the
        one of its slot (so an organisation's CA cannot issue a certificate for another
        organisation's node).
    listener
        An already bound socket for ``addrs[party]`` (else one is bound by :meth:`start`).
    pending_ttl
        Seconds an inbound stream may wait for its session to be opened here.
    """

    def __init__(
        self,
        party: int,
        addrs: Sequence[Addr],
        certfile: str | Path,
        keyfile: str | Path,
        cafile: str | Path | None,
        *,
        cadata: str | None = None,
        pins: Sequence[str] | None = None,
        listener: socket.socket | None = None,
        pending_ttl: float = 30.0,
    ) -> None:
        self.party = party
        self.pins = [p.lower() for p in pins] if pins is not None else None
        self.addrs = [(str(a[0]), int(a[1])) for a in addrs]
        self.pending_ttl = pending_ttl
        self._server_ctx = make_context(
            server=True, certfile=certfile, keyfile=keyfile, cafile=cafile, cadata=cadata
        )
        self._client_ctx = make_context(
            server=False, certfile=certfile, keyfile=keyfile, cafile=cafile, cadata=cadata
        )
        self._listener = listener
        self._lock = threading.Lock()
        self._pending: dict[tuple[bytes, int], _Pending] = {}
        self._waiters: dict[bytes, _Waiter] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Bind the listener (if not given) and start accepting peer streams."""
        if self._listener is None:
            self._listener = bind_listener(self.addrs[self.party], backlog=64)
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"sharelake-peers-P{self.party}", daemon=True
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the listener thread accepts peer streams."""
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def close(self) -> None:
        """Stop accepting and drop every waiting stream (open sessions are not touched)."""
        self._stop.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
        if self._thread is not None:
            self._thread.join(2.0)
        with self._lock:
            pending = list(self._pending.values())
            self._pending.clear()
        for p in pending:
            _close(p.sock)

    # ---- accepting --------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        self._listener.settimeout(0.5)
        while not self._stop.is_set():
            self._expire()
            try:
                raw, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(
                target=self._admit, args=(raw,), name=f"sharelake-admit-P{self.party}", daemon=True
            ).start()

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            old = [k for k, p in self._pending.items() if now - p.since > self.pending_ttl]
            dropped = [self._pending.pop(k) for k in old]
        for p in dropped:
            log.info("P%d: dropped an unclaimed stream from P%d", self.party, p.peer)
            _ack(p.sock, p.sid, ACK_SESSION)
            _close(p.sock)

    def _admit(self, raw: socket.socket) -> None:
        """TLS handshake, hello, identity check; then route the stream by session id."""
        try:
            raw.settimeout(HANDSHAKE_SECONDS)
            tune_socket(raw)
            where = _peer_addr(raw)
            tls = self._server_ctx.wrap_socket(raw, server_side=True)
        except ssl.SSLError as exc:
            # a certificate from another CA, an expired one, plaintext on the TLS port:
            # an operator must see these (a misconfigured or hostile peer)
            log.warning(
                "P%d: refused a peer connection from %s: %s", self.party, where, tls_reason(exc)
            )
            _close(raw)
            return
        except OSError as exc:
            log.info("P%d: refused an inbound peer connection: %s", self.party, exc)
            _close(raw)
            return
        try:
            der = tls.getpeercert(binary_form=True) or b""
            peer = node_id_from_cert(der)
            self._check_pin(peer, der)
            hello = read_setup_bytes(tls, HELLO_SIZE)
            hdr = parse_header(hello[:HEADER_SIZE])
            decode_header(
                hello[:HEADER_SIZE], session=hdr.session, seq=0, length=2, kind=Kind.HELLO
            )
        except ProtocolVersionError as exc:
            # Answer in our own version, so the dialler can name both versions too.
            log.warning(
                "P%d: refused P%d: it speaks protocol version %d, this node speaks %d",
                self.party,
                peer,
                exc.theirs,
                PROTOCOL_VERSION,
            )
            with contextlib.suppress(OSError):
                tls.sendall(encode_frame(bytes(SESSION_BYTES), 0, bytes([ACK_VERSION]), Kind.ACK))
            _close(tls)
            return
        except (OSError, ssl.SSLError, SharelakeError) as exc:
            log.info("P%d: refused an inbound peer stream: %s", self.party, exc)
            _close(tls)
            return
        sid, claimed, to = hdr.session, hello[HEADER_SIZE], hello[HEADER_SIZE + 1]
        if claimed != peer:
            log.warning(
                "P%d: a peer claiming P%d presented P%d's certificate", self.party, claimed, peer
            )
            _ack(tls, sid, ACK_IDENTITY)
            _close(tls)
            return
        if to != self.party or peer == self.party:
            _ack(tls, sid, ACK_SLOT)
            _close(tls)
            return
        self._route(_Pending(tls, sid, peer, time.monotonic()))

    def _route(self, item: _Pending) -> None:
        """Hand ``item`` to its open session (acknowledged now) or park it until then."""
        replaced: _Pending | None = None
        with self._lock:
            waiter = self._waiters.get(item.sid)
            if waiter is None and len(self._pending) < MAX_PENDING:
                # A newer stream for the same session and peer replaces an older one
                # (the peer restarted or retried); the older one is dead or stale.
                replaced = self._pending.pop((item.sid, item.peer), None)
                self._pending[(item.sid, item.peer)] = item
                if replaced is None:
                    return
            elif waiter is not None:
                with waiter.cond:
                    if item.peer not in waiter.inbound and item.peer in waiter.peers:
                        if _ack(item.sock, item.sid, ACK_OK):
                            waiter.inbound[item.peer] = item.sock
                            waiter.cond.notify_all()
                            return
                        _close(item.sock)
                        return
        if replaced is not None:
            _close(replaced.sock)
            return
        _ack(item.sock, item.sid, ACK_SLOT)
        _close(item.sock)

    def _check_pin(self, peer: int, der: bytes) -> None:
        """The certificate must be the one ``consortium.toml`` pins for ``peer``."""
        if self.pins is None:
            return
        got = hashlib.sha256(der).hexdigest()
        if got != self.pins[peer]:
            raise AuthenticationError(
                f"P{self.party}: P{peer} presented certificate {got[:16]}..., but the "
                f"consortium pins {self.pins[peer][:16]}... for P{peer} (revoked or replaced?)"
            )

    # ---- sessions ---------------------------------------------------------------------

    def open_session(
        self,
        session: str,
        *,
        deadline: float = 30.0,
        setup_deadline: float = 10.0,
    ) -> TLSChannel:
        """Join the three-node session ``session`` and return this node's channel.

        Parameters
        ----------
        session
            The session id (32 hex digits, e.g. from :func:`sharelake.plan.canonical.session_id`).
        deadline
            Receive deadline of the channel, in seconds.
        setup_deadline
            How long to wait for both peers to join, in seconds.

        Raises
        ------
        PeerTimeoutError
            A peer did not join within ``setup_deadline`` (names the node and session).
        AuthenticationError
            A peer's certificate did not verify or named another node.
        SessionBusyError
            The session is already open at this node.
        """
        sid = session_bytes(session)
        end = time.monotonic() + setup_deadline
        peers = {j for j in range(3) if j != self.party}
        waiter = _Waiter(sid, peers)
        claimed: list[_Pending] = []
        with self._lock:
            if sid in self._waiters:
                raise SessionBusyError(f"P{self.party}: session {session} is already open here")
            self._waiters[sid] = waiter
            for j in peers:
                item = self._pending.pop((sid, j), None)
                if item is not None:
                    claimed.append(item)
        outbound: dict[int, socket.socket] = {}
        try:
            for item in claimed:
                if _ack(item.sock, sid, ACK_OK):
                    with waiter.cond:
                        waiter.inbound[item.peer] = item.sock
                else:
                    _close(item.sock)
            for j in ((self.party + 1) % 3, (self.party + 2) % 3):
                outbound[j] = self._dial(j, sid, session, end)
            with waiter.cond:
                ok = waiter.cond.wait_for(
                    lambda: len(waiter.inbound) == len(peers), max(end - time.monotonic(), 0.0)
                )
                if not ok:
                    missing = sorted(peers - set(waiter.inbound))[0]
                    raise PeerTimeoutError(
                        f"P{self.party}: P{missing} did not join session {session} "
                        f"within {setup_deadline:.1f} s",
                        node=missing,
                        session=session,
                    )
                inbound: dict[int, socket.socket] = dict(waiter.inbound)
        except BaseException:
            with self._lock:
                self._waiters.pop(sid, None)
            with waiter.cond:
                for s in (*outbound.values(), *waiter.inbound.values()):
                    _close(s)
                waiter.inbound.clear()
            raise
        with self._lock:
            self._waiters.pop(sid, None)
        return TLSChannel(self.party, session, outbound, inbound, deadline=deadline)

    def _dial(self, peer: int, sid: bytes, session: str, end: float) -> socket.socket:
        """Dial ``peer`` until it acknowledges our hello or the setup deadline passes."""
        host, port = self.addrs[peer]
        pause = 0.02
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise PeerTimeoutError(
                    f"P{self.party}: P{peer} at {host}:{port} did not join session {session} "
                    "in time",
                    node=peer,
                    session=session,
                )
            try:
                raw = socket.create_connection((host, port), timeout=min(remaining, 2.0))
            except OSError:
                time.sleep(min(pause, max(remaining, 0.0)))
                pause = min(pause * 2, 0.25)
                continue
            tune_socket(raw)
            raw.settimeout(max(remaining, 0.05))
            try:
                tls = self._client_ctx.wrap_socket(raw)
            except ssl.SSLCertVerificationError as exc:
                _close(raw)
                raise AuthenticationError(
                    f"P{self.party}: the certificate of the node at {host}:{port} (slot "
                    f"P{peer}) did not verify: {exc.verify_message} (session {session})"
                ) from None
            except (OSError, ssl.SSLError):
                _close(raw)
                time.sleep(pause)
                continue
            der = tls.getpeercert(binary_form=True) or b""
            got = node_id_from_cert(der)
            if got != peer:
                _close(tls)
                raise AuthenticationError(
                    f"P{self.party}: the node at {host}:{port} presented the certificate of "
                    f"P{got}, expected P{peer} (session {session})"
                )
            try:
                self._check_pin(peer, der)
            except AuthenticationError:
                _close(tls)
                raise
            try:
                tls.sendall(encode_frame(sid, 0, bytes([self.party, peer]), Kind.HELLO))
                ack = read_setup_bytes(tls, HEADER_SIZE + 1)
                decode_header(ack[:HEADER_SIZE], session=sid, seq=0, length=1, kind=Kind.ACK)
            except TimeoutError:
                _close(tls)
                continue  # the deadline check at the top of the loop reports it
            except ProtocolVersionError as exc:
                _close(tls)
                raise ProtocolVersionError(
                    f"P{self.party}: P{peer} at {host}:{port} speaks sharelake protocol "
                    f"version {exc.theirs}, this node speaks {PROTOCOL_VERSION}: upgrade "
                    f"the older node (session {session})",
                    theirs=exc.theirs,
                ) from None
            except (OSError, ssl.SSLError, ProtocolError):
                # The peer restarted, dropped an unclaimed stream or refused it: try again.
                _close(tls)
                time.sleep(pause)
                pause = min(pause * 2, 0.25)
                continue
            status = ack[HEADER_SIZE]
            if status == ACK_IDENTITY:
                _close(tls)
                raise AuthenticationError(
                    f"P{peer} did not accept our identity as P{self.party} (session {session})"
                )
            if status != ACK_OK:
                _close(tls)
                time.sleep(pause)
                pause = min(pause * 2, 0.25)
                continue
            return tls

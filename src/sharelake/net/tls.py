"""The real transport: one mutually authenticated TLS 1.3 stream per ordered pair of nodes.

Each party listens; it dials each peer for its outbound stream and accepts one inbound
stream from each peer. A socket is therefore written by exactly one thread on one side
(a per-peer sender thread, so :meth:`TLSChannel.send` never waits for the peer) and read
by exactly one thread on the other (the protocol thread, straight into a fresh buffer
with ``recv_into``). Identities come from the verified certificates (only the
consortium CA is trusted) and are checked against the slot each peer must fill:
the certificate of P2 presented as P1 raises :class:`~sharelake.errors.AuthenticationError`.

Every wait is bounded: a receive by ``deadline`` (:class:`~sharelake.errors.PeerTimeoutError`
naming the node), the mesh setup by ``setup_deadline``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np

from ..errors import (
    AuthenticationError,
    PeerAbortError,
    PeerDisconnectedError,
    PeerError,
    PeerTimeoutError,
    ProtocolError,
    SharelakeError,
)
from ..mpc.channel import (
    ABORT_NAME_MAX,
    Buffer,
    Channel,
    ChannelStats,
    abort_name,
    peer_abort,
)
from .framing import (
    HEADER_SIZE,
    Kind,
    check_header,
    decode_header,
    encode_frame,
    encode_header,
    parse_header,
    session_bytes,
)
from .identity import node_id_from_cert

log = logging.getLogger(__name__)

Addr = tuple[str, int]
SOCK_BUF = 4 << 20
_SMALL = 1 << 16  # payloads up to this size go out in one write with their header
_ACK_OK, _ACK_IDENTITY, _ACK_SESSION, _ACK_SLOT = 0, 1, 2, 3
_ABORT_DRAIN = 2.0  # seconds an abort notice may take to leave before the node stops


def make_context(
    *,
    server: bool,
    certfile: str | Path,
    keyfile: str | Path,
    cafile: str | Path | None = None,
    cadata: str | None = None,
) -> ssl.SSLContext:
    """A TLS 1.3 context that presents our certificate and trusts only the given anchors.

    The anchors are ``cafile`` and/or ``cadata`` (PEM text: the consortium CA, the
    nodes' organisation CAs or their self-signed certificates); at least one is needed.
    Pinning the exact peer certificate is the caller's job (see ``node/peers.py``).
    """
    if cafile is None and not cadata:
        raise ValueError("make_context needs trust anchors (cafile or cadata)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False  # identity is the node id in the verified certificate
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(str(certfile), str(keyfile))
    if cafile is not None:
        ctx.load_verify_locations(cafile=str(cafile))
    if cadata:
        ctx.load_verify_locations(cadata=cadata)
    if server:
        ctx.num_tickets = 0
    return ctx


def tune_socket(sock: socket.socket, *, bufsize: int | None = SOCK_BUF) -> None:
    """TCP_NODELAY, and large kernel buffers when ``bufsize`` is given."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if bufsize:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, bufsize)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, bufsize)


class _Sender:
    """A thread that writes queued frames to one peer's outbound socket, in order."""

    def __init__(self, chan: TLSChannel, peer: int, sock: socket.socket) -> None:
        self.chan, self.peer, self.sock = chan, peer, sock
        self.q: queue.SimpleQueue[tuple[bytes, Buffer | None] | None] = queue.SimpleQueue()
        self.pending = 0
        self.cond = threading.Condition()
        self.error: PeerError | None = None
        self.thread = threading.Thread(
            target=self._run, name=f"sharelake-send-P{chan.party}-P{peer}", daemon=True
        )
        self.thread.start()

    def put(self, head: bytes, payload: Buffer | None) -> None:
        with self.cond:
            self.pending += 1
        self.q.put((head, payload))

    def _run(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                return
            if self.error is None:
                try:
                    self.sock.sendall(item[0])
                    if item[1] is not None:
                        self.sock.sendall(item[1])
                except TimeoutError:
                    self.error = self.chan.timeout_error(self.peer, "accept our data")
                except (OSError, ValueError) as exc:
                    self.error = self.chan.disconnected_error(self.peer, exc)
            with self.cond:
                self.pending -= 1
                if self.pending == 0:
                    self.cond.notify_all()

    def drain(self, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.pending == 0, timeout)

    def stop(self) -> None:
        self.q.put(None)


class TLSChannel(Channel):
    """Party ``party``'s channel over per-direction TLS (or any stream) sockets.

    ``outbound[j]`` is written only by the sender thread for peer j, ``inbound[j]``
    read only by the caller of :meth:`recv`. A buffer given to :meth:`send` is written
    without copying: do not modify it before :meth:`flush` returns.
    """

    def __init__(
        self,
        party: int,
        session: str,
        outbound: dict[int, socket.socket],
        inbound: dict[int, socket.socket],
        *,
        deadline: float = 30.0,
    ) -> None:
        self.party = party
        self.session = session
        self.stats = ChannelStats()
        self.deadline = deadline
        self._sid = session_bytes(session)
        self._in = inbound
        self._out = outbound
        self._send_seq = dict.fromkeys(outbound, 1)  # frame 0 is the hello
        self._recv_seq = dict.fromkeys(inbound, 1)
        self._hdr = bytearray(HEADER_SIZE)
        self._hdr_view = memoryview(self._hdr)
        for s in (*inbound.values(), *outbound.values()):
            s.settimeout(deadline)
        self._senders = {j: _Sender(self, j, s) for j, s in outbound.items()}
        self._closed = False

    # ---- errors naming the node and the session -------------------------------------

    def timeout_error(self, peer: int, what: str = "send a message") -> PeerTimeoutError:
        return PeerTimeoutError(
            f"P{self.party}: P{peer} did not {what} within {self.deadline:.1f} s "
            f"(session {self.session})",
            node=peer,
            session=self.session,
        )

    def disconnected_error(self, peer: int, exc: BaseException | None) -> PeerDisconnectedError:
        why = f": {type(exc).__name__}" if exc is not None else ""
        return PeerDisconnectedError(
            f"P{self.party}: connection to P{peer} closed{why} (session {self.session})",
            node=peer,
            session=self.session,
        )

    # ---- Channel ---------------------------------------------------------------------

    def send(self, to: int, payload: Buffer) -> None:
        sender = self._senders[to]
        if sender.error is not None:
            raise sender.error
        n = len(payload) if not isinstance(payload, memoryview) else payload.nbytes
        seq = self._send_seq[to]
        self._send_seq[to] = seq + 1
        if n <= _SMALL:
            sender.put(encode_frame(self._sid, seq, bytes(payload)), None)
        else:
            sender.put(encode_header(self._sid, seq, n), payload)
        self.stats.messages += 1
        self.stats.bytes_sent += n

    def abort(self, check: str) -> None:
        name = abort_name(check)
        for j, sender in self._senders.items():
            if sender.error is None:
                sender.put(encode_frame(self._sid, self._send_seq[j], name, Kind.ABORT), None)
        for sender in self._senders.values():
            if sender.error is None:
                sender.drain(min(self.deadline, _ABORT_DRAIN))

    def recv(self, frm: int, nbytes: int) -> memoryview:
        end = time.monotonic() + self.deadline
        try:
            self._read_exact(frm, self._hdr_view, end)
        except (PeerDisconnectedError, PeerTimeoutError):
            self._notice_elsewhere(frm)
            raise
        seq = self._recv_seq[frm]
        hdr = parse_header(self._hdr)
        if hdr.kind == Kind.ABORT and hdr.session == self._sid:
            self._peer_aborted(frm, hdr.length, end)
        check_header(hdr, session=self._sid, seq=seq, length=nbytes, peer=f"P{frm}")
        self._recv_seq[frm] = seq + 1
        view = np.empty(nbytes, dtype=np.uint8).data
        if nbytes:
            self._read_exact(frm, view, end)
        return view

    def _notice_elsewhere(self, lost: int, grace: float = _ABORT_DRAIN) -> None:
        """After losing ``lost``: raise the other peer's abort notice if one is pending.

        A node waiting on a cheater that stopped never reads the detecting node's
        stream; its next frames are read for at most ``grace`` seconds (data frames
        skipped: the query is over) and an abort notice among them is raised.
        """
        other = 3 - self.party - lost
        sock = self._in.get(other)
        if sock is None:
            return
        end = time.monotonic() + min(grace, self.deadline)
        hdr = memoryview(bytearray(HEADER_SIZE))
        scratch = memoryview(bytearray(1 << 16))
        try:
            sock.settimeout(max(0.05, end - time.monotonic()))
            while time.monotonic() < end:
                self._read_exact(other, hdr, end)
                head = parse_header(hdr)
                if head.session != self._sid:
                    return
                if head.kind == Kind.ABORT:
                    self._peer_aborted(other, head.length, end)
                left = head.length
                while left:
                    k = min(left, scratch.nbytes)
                    self._read_exact(other, scratch[:k], end)
                    left -= k
        except PeerAbortError:
            raise
        except SharelakeError:
            return  # nothing (more) from the other peer: the loss stands
        finally:
            with contextlib.suppress(OSError):
                sock.settimeout(self.deadline)

    def _peer_aborted(self, frm: int, length: int, end: float) -> NoReturn:
        """Read the abort notice that just arrived from ``frm`` and raise it."""
        if length > ABORT_NAME_MAX:
            raise ProtocolError(
                f"P{self.party}: P{frm} sent an abort notice of {length} bytes "
                f"(session {self.session})"
            )
        raw = np.empty(length, dtype=np.uint8)
        if length:
            self._read_exact(frm, raw.data, end)
        raise peer_abort(self.party, frm, self.session, raw.tobytes())

    def _read_exact(self, frm: int, view: memoryview, end: float) -> None:
        sock = self._in[frm]
        n, got = view.nbytes, 0
        while got < n:
            try:
                k = sock.recv_into(view[got:], n - got)
            except TimeoutError:
                raise self.timeout_error(frm) from None
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError, ConnectionError) as exc:
                raise self.disconnected_error(frm, exc) from None
            except ssl.SSLError as exc:
                raise ProtocolError(
                    f"P{self.party}: TLS error on the stream from P{frm}: {exc.reason} "
                    f"(session {self.session})"
                ) from None
            except OSError as exc:
                raise self.disconnected_error(frm, exc) from None
            if k == 0:
                raise self.disconnected_error(frm, None)
            got += k
            if got < n and time.monotonic() > end:
                raise self.timeout_error(frm)

    def flush(self) -> None:
        for j, sender in self._senders.items():
            if not sender.drain(self.deadline + 1.0) and sender.error is None:
                raise self.timeout_error(j, "accept our data")
            if sender.error is not None:
                raise sender.error

    def interrupt(self) -> None:
        """Shut every socket down (from any thread): a blocked receive or send fails now.

        The sockets stay open until :meth:`close`, which the protocol thread still calls.
        """
        for s in (*self._out.values(), *self._in.values()):
            with contextlib.suppress(OSError):
                socket.socket.shutdown(s, socket.SHUT_RDWR)

    def close(self, *, drain: bool = True) -> None:
        """Hand over queued messages (when ``drain``), then close every socket."""
        if self._closed:
            return
        self._closed = True
        if drain:
            for sender in self._senders.values():
                if sender.error is None:
                    sender.drain(self.deadline)
        for sender in self._senders.values():
            sender.stop()
        for s in (*self._out.values(), *self._in.values()):
            _hard_close(s)
        for sender in self._senders.values():
            sender.thread.join(1.0)


def _hard_close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


# ---- mesh setup -------------------------------------------------------------------------


def bind_listener(addr: Addr, *, backlog: int = 8) -> socket.socket:
    """A listening TCP socket on ``addr`` (port 0 picks a free port)."""
    sock = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(addr)
    sock.listen(backlog)
    return sock


def _addr(a: Sequence[object]) -> Addr:
    return (str(a[0]), int(str(a[1])))


def read_setup_bytes(sock: socket.socket, n: int) -> bytes:
    """Exactly ``n`` bytes from ``sock`` during connection setup (hello/ack frames)."""
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise ConnectionResetError("closed during setup")
        got += k
    return bytes(buf)


class _Acceptor:
    """Accepts the inbound stream of each peer, identified by its certificate."""

    def __init__(
        self,
        party: int,
        listener: socket.socket,
        ctx: ssl.SSLContext,
        sid: bytes,
        session: str,
        end: float,
    ) -> None:
        self.party, self.listener, self.ctx, self.sid = party, listener, ctx, sid
        self.session, self.end = session, end
        self.peers = {j for j in range(3) if j != party}
        self.inbound: dict[int, socket.socket] = {}
        self.error: SharelakeError | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"sharelake-accept-P{party}")
        self.thread.daemon = True
        self.thread.start()

    def _run(self) -> None:
        while len(self.inbound) < len(self.peers) and not self.stop.is_set():
            remaining = self.end - time.monotonic()
            if remaining <= 0:
                return
            self.listener.settimeout(min(remaining, 0.2))
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                self._admit(raw, remaining)
            except AuthenticationError as exc:
                self.error = exc
                return
            except (OSError, ssl.SSLError, ProtocolError) as exc:
                log.info("P%d: refused an inbound connection: %s", self.party, exc)
                _hard_close(raw)

    def _admit(self, raw: socket.socket, remaining: float) -> None:
        raw.settimeout(min(remaining, 5.0))
        tune_socket(raw)
        tls = self.ctx.wrap_socket(raw, server_side=True)
        try:
            self._hello(tls)
        except BaseException:
            _hard_close(tls)
            raise

    def _hello(self, tls: ssl.SSLSocket) -> None:
        peer = node_id_from_cert(tls.getpeercert(binary_form=True) or b"")
        hello = read_setup_bytes(tls, HEADER_SIZE + 2)
        try:
            decode_header(hello[:HEADER_SIZE], session=self.sid, seq=0, length=2, kind=Kind.HELLO)
        except ProtocolError:
            tls.sendall(encode_frame(self.sid, 0, bytes([_ACK_SESSION]), Kind.ACK))
            raise
        claimed, to = hello[HEADER_SIZE], hello[HEADER_SIZE + 1]
        if claimed != peer:
            tls.sendall(encode_frame(self.sid, 0, bytes([_ACK_IDENTITY]), Kind.ACK))
            raise AuthenticationError(
                f"P{self.party}: a peer claiming to be P{claimed} presented the "
                f"certificate of P{peer} (session {self.session})"
            )
        if to != self.party or peer not in self.peers or peer in self.inbound:
            tls.sendall(encode_frame(self.sid, 0, bytes([_ACK_SLOT]), Kind.ACK))
            raise ProtocolError(f"P{self.party}: unexpected connection from P{peer}")
        tls.sendall(encode_frame(self.sid, 0, bytes([_ACK_OK]), Kind.ACK))
        self.inbound[peer] = tls


def _dial(
    party: int,
    peer: int,
    addr: Addr,
    ctx: ssl.SSLContext,
    sid: bytes,
    session: str,
    end: float,
    acceptor: _Acceptor,
) -> socket.socket:
    """Dial ``peer`` until it answers or the setup deadline passes; check its identity."""
    pause = 0.02
    while True:
        if acceptor.error is not None:
            raise acceptor.error
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise PeerTimeoutError(
                f"P{party}: P{peer} at {addr[0]}:{addr[1]} never accepted a connection "
                f"(session {session})",
                node=peer,
                session=session,
            )
        try:
            raw = socket.create_connection(addr, timeout=remaining)
        except OSError:
            time.sleep(min(pause, max(remaining, 0.0)))
            pause = min(pause * 2, 0.25)
            continue
        tune_socket(raw)
        try:
            tls = ctx.wrap_socket(raw)
        except ssl.SSLCertVerificationError as exc:
            _hard_close(raw)
            raise AuthenticationError(
                f"P{party}: the certificate of the node at {addr[0]}:{addr[1]} (slot P{peer}) "
                f"did not verify: {exc.verify_message} (session {session})"
            ) from None
        except ssl.SSLError as exc:
            _hard_close(raw)
            raise AuthenticationError(
                f"P{party}: TLS handshake with P{peer} failed: {exc.reason} (session {session})"
            ) from None
        except OSError:
            _hard_close(raw)
            time.sleep(pause)
            continue
        got = node_id_from_cert(tls.getpeercert(binary_form=True) or b"")
        if got != peer:
            _hard_close(tls)
            raise AuthenticationError(
                f"P{party}: the node at {addr[0]}:{addr[1]} presented the certificate of "
                f"P{got}, expected P{peer} (session {session})"
            )
        try:
            tls.sendall(encode_frame(sid, 0, bytes([party, peer]), Kind.HELLO))
            ack = read_setup_bytes(tls, HEADER_SIZE + 1)
        except ssl.SSLError as exc:
            _hard_close(tls)
            raise AuthenticationError(
                f"P{party}: P{peer} refused our certificate: {exc.reason} (session {session})"
            ) from None
        except OSError:
            _hard_close(tls)
            raise AuthenticationError(
                f"P{party}: P{peer} closed the connection during setup (session {session})"
            ) from None
        try:
            decode_header(ack[:HEADER_SIZE], session=sid, seq=0, length=1, kind=Kind.ACK)
        except ProtocolError:
            _hard_close(tls)
            raise
        status = ack[HEADER_SIZE]
        if status == _ACK_IDENTITY:
            _hard_close(tls)
            raise AuthenticationError(f"P{peer} did not accept our identity as P{party}")
        if status != _ACK_OK:
            _hard_close(tls)
            raise ProtocolError(f"P{peer} refused our stream (status {status}, session {session})")
        return tls


def connect_mesh(
    party: int,
    addrs: Sequence[Addr],
    certfile: str | Path,
    keyfile: str | Path,
    cafile: str | Path,
    session: str,
    *,
    deadline: float = 30.0,
    setup_deadline: float | None = None,
    listener: socket.socket | None = None,
) -> TLSChannel:
    """Connect party ``party`` to its two peers at ``addrs`` and return its channel.

    ``listener`` is an already bound socket for ``addrs[party]`` (else one is bound).
    Dials are retried until ``setup_deadline`` (default ``max(deadline, 10)``) since
    peers start at different times; a peer that never appears raises PeerTimeoutError
    naming it.
    """
    limit = setup_deadline if setup_deadline is not None else max(deadline, 10.0)
    end = time.monotonic() + limit
    sid = session_bytes(session)
    server_ctx = make_context(server=True, certfile=certfile, keyfile=keyfile, cafile=cafile)
    client_ctx = make_context(server=False, certfile=certfile, keyfile=keyfile, cafile=cafile)
    lsock = listener if listener is not None else bind_listener(_addr(addrs[party]))
    acceptor = _Acceptor(party, lsock, server_ctx, sid, session, end)
    outbound: dict[int, socket.socket] = {}
    try:
        for j in ((party + 1) % 3, (party + 2) % 3):
            outbound[j] = _dial(party, j, _addr(addrs[j]), client_ctx, sid, session, end, acceptor)
        acceptor.thread.join(max(end - time.monotonic(), 0.0) + 1.0)
        if acceptor.error is not None:
            raise acceptor.error
        missing = sorted(acceptor.peers - set(acceptor.inbound))
        if missing:
            raise PeerTimeoutError(
                f"P{party}: P{missing[0]} did not connect within {limit:.1f} s (session {session})",
                node=missing[0],
                session=session,
            )
    except BaseException:
        acceptor.stop.set()
        acceptor.thread.join(1.0)
        for s in (*outbound.values(), *acceptor.inbound.values()):
            _hard_close(s)
        raise
    finally:
        if listener is None:
            lsock.close()
    return TLSChannel(party, session, outbound, dict(acceptor.inbound), deadline=deadline)

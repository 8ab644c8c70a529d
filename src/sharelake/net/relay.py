"""A latency-injecting TCP relay: a wide-area link between nodes on one machine.

These machines have no ``netem``, so WAN conditions are made in user space. A
:class:`Relay` listens on a local port and forwards every connection to a target
address; each direction of each connection is its own simulated link with a one-way
``delay`` and an optional bandwidth cap. A chunk that arrives at time ``t`` starts
being sent when the link is free (``start = max(t, free)``), occupies it for
``len * 8 / bandwidth`` seconds, and is delivered ``delay`` seconds after that (the
classic store-and-forward model of a serialisation delay plus a propagation delay).
Order is kept, nothing is lost. TLS passes through untouched: the relay sees only
ciphertext and is not trusted with anything.

A relay in front of each node's listening port, with ``delay = rtt / 2`` for both
directions, gives every node-to-node message one half of the round-trip time, so a
protocol round costs ``rtt`` as between hosts that far apart.

>>> with Relay(("127.0.0.1", 9), delay_up=0.005, delay_down=0.005) as relay:  # doctest: +SKIP
...     host, port = relay.address       # dial this instead of the target

The relay costs a little CPU per byte (two copies in Python), so benchmarks run it
for both the baseline and the delayed figures when comparing.
"""

from __future__ import annotations

import collections
import contextlib
import re
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

__all__ = ["LinkSpec", "Relay", "parse_bandwidth", "parse_duration", "relay_all"]

_CHUNK = 256 << 10
_WINDOW = 16 << 20
_DURATION = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*(us|µs|ms|s)?\s*", re.IGNORECASE)
_RATE = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*([kmg]?)(bit|bps|b)?(/s)?\s*", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """Seconds from ``"10ms"``, ``"0.05s"``, ``"250us"`` or a bare number of seconds.

    Examples
    --------
    >>> parse_duration("10ms"), parse_duration("0.5s"), parse_duration("0")
    (0.01, 0.5, 0.0)
    """
    m = _DURATION.fullmatch(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration (e.g. 10ms, 0.05s)")
    unit = (m.group(2) or "s").lower()
    scale = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}[unit]
    return float(m.group(1)) * scale


def parse_bandwidth(text: str) -> float:
    """Bits per second from ``"1Gbit"``, ``"100Mbit"``, ``"500kbit"`` or a bare number.

    Examples
    --------
    >>> parse_bandwidth("1Gbit"), parse_bandwidth("100mbit"), parse_bandwidth("8000")
    (1000000000.0, 100000000.0, 8000.0)
    """
    m = _RATE.fullmatch(text)
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a bandwidth (e.g. 1Gbit, 100Mbit)")
    scale = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2).lower()]
    return float(m.group(1)) * scale


@dataclass(frozen=True)
class LinkSpec:
    """One simulated link: a one-way delay in seconds and a cap in bits per second.

    Examples
    --------
    >>> LinkSpec.from_rtt(0.05).delay
    0.025
    """

    delay: float = 0.0
    bandwidth: float | None = None

    @classmethod
    def from_rtt(cls, rtt: float, bandwidth: float | None = None) -> LinkSpec:
        """A link whose round trip (there and back) takes ``rtt`` seconds."""
        if rtt < 0:
            raise ValueError(f"rtt must not be negative, got {rtt}")
        return cls(rtt / 2.0, bandwidth)


class _Pipe:
    """One direction of one connection: read, timestamp, deliver after the link's delay."""

    def __init__(self, src: socket.socket, dst: socket.socket, link: LinkSpec, name: str) -> None:
        self.src, self.dst, self.link = src, dst, link
        self.queue: collections.deque[tuple[float, bytes | None]] = collections.deque()
        self.cond = threading.Condition()
        self.free_at = 0.0
        self.queued = 0
        self.dead = False
        # In flight at most: what a TCP window would allow on this link (the sender's own
        # window would otherwise be bypassed by a relay that reads eagerly).
        bdp = (link.bandwidth or 0.0) * link.delay / 8.0
        self.limit = int(max(_WINDOW, 2 * bdp))
        self.reader = threading.Thread(target=self._read, name=f"{name}-rd", daemon=True)
        self.writer = threading.Thread(target=self._write, name=f"{name}-wr", daemon=True)

    def start(self) -> None:
        self.reader.start()
        self.writer.start()

    def _read(self) -> None:
        while True:
            try:
                data = self.src.recv(_CHUNK)
            except OSError:
                data = b""
            now = time.monotonic()
            if data:
                start = max(now, self.free_at)
                bw = self.link.bandwidth
                self.free_at = start + (len(data) * 8.0 / bw if bw else 0.0)
                due = self.free_at + self.link.delay
            else:
                due = max(now, self.free_at) + self.link.delay
            with self.cond:
                self.queue.append((due, data or None))
                self.queued += len(data)
                self.cond.notify_all()
                self.cond.wait_for(lambda: self.queued < self.limit or self.dead)
            if not data or self.dead:
                return

    def _write(self) -> None:
        while True:
            with self.cond:
                self.cond.wait_for(lambda: bool(self.queue))
                due, data = self.queue.popleft()
                self.queued -= len(data or b"")
                self.cond.notify_all()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if data is None:
                with contextlib.suppress(OSError):
                    self.dst.shutdown(socket.SHUT_WR)
                return
            try:
                self.dst.sendall(data)
            except OSError:
                with self.cond:
                    self.dead = True
                    self.cond.notify_all()
                with contextlib.suppress(OSError):
                    self.src.shutdown(socket.SHUT_RD)
                return


class Relay:
    """Forward connections made to :attr:`address` to ``target`` over a simulated link.

    Parameters
    ----------
    target
        ``(host, port)`` to forward to.
    delay_up, delay_down
        One-way delay in seconds from the dialler to the target (up) and back (down).
    bandwidth
        Bits per second of each direction of each connection (no cap when None).
    listen
        Where to listen; port 0 (the default) picks a free port.

    Examples
    --------
    >>> relay = Relay(("127.0.0.1", 9), delay_up=0.025, delay_down=0.025)  # doctest: +SKIP
    >>> relay.start(); relay.address  # doctest: +SKIP
    ('127.0.0.1', 40193)
    """

    def __init__(
        self,
        target: tuple[str, int],
        *,
        delay_up: float = 0.0,
        delay_down: float = 0.0,
        bandwidth: float | None = None,
        listen: tuple[str, int] = ("127.0.0.1", 0),
    ) -> None:
        if delay_up < 0 or delay_down < 0:
            raise ValueError("delays must not be negative")
        if bandwidth is not None and bandwidth <= 0:
            raise ValueError("bandwidth must be positive")
        self.target = target
        self.up = LinkSpec(delay_up, bandwidth)
        self.down = LinkSpec(delay_down, bandwidth)
        family = socket.AF_INET6 if ":" in listen[0] else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(listen)
        self._sock.listen(64)
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.connections = 0

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` to dial instead of the target."""
        host, port = self._sock.getsockname()[:2]
        return (str(host), int(port))

    def start(self) -> Relay:
        """Start accepting connections (in a background thread)."""
        self._thread = threading.Thread(target=self._accept, name="sharelake-relay", daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10.0)
            except OSError:
                client.close()  # the target is down: the dialler sees a closed connection
                continue
            for s in (client, upstream):
                s.settimeout(None)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns += [client, upstream]
                self.connections += 1
            n = self.connections
            _Pipe(client, upstream, self.up, f"relay{n}-up").start()
            _Pipe(upstream, client, self.down, f"relay{n}-down").start()

    def close(self) -> None:
        """Stop accepting and close every relayed connection."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        if self._thread is not None:
            self._thread.join(2.0)
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def __enter__(self) -> Relay:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def relay_all(
    targets: Sequence[tuple[str, int]], *, rtt: float, bandwidth: float | None = None
) -> list[Relay]:
    """One started relay in front of each target, each link ``rtt / 2`` each way."""
    link = LinkSpec.from_rtt(rtt, bandwidth)
    relays: list[Relay] = []
    try:
        for t in targets:
            relays.append(
                Relay(t, delay_up=link.delay, delay_down=link.delay, bandwidth=bandwidth).start()
            )
    except BaseException:
        for r in relays:
            r.close()
        raise
    return relays

"""An in-memory Channel: three parties as threads in one process, for unit tests only.

It enforces the same rules as the TLS channel (exact sizes, deadlines, a peer that
has gone away is reported by name) so protocol tests mean the same thing on both.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from ..errors import PeerAbortError, PeerDisconnectedError, PeerTimeoutError, ProtocolError
from ..mpc.channel import (
    Buffer,
    Channel,
    ChannelStats,
    abort_name,
    notify_abort,
    peer_abort,
)
from ..mpc.checks import Security
from ..mpc.party import Party

_POLL = 0.05
_GRACE = 2.0  # seconds a node that lost one peer looks for the other peer's abort notice


class _Abort(bytes):
    """An abort notice in a mailbox (its bytes: the check's name)."""


class _Hub:
    """The mailboxes of one three-party session."""

    def __init__(self, session: str) -> None:
        self.session = session
        self.boxes: dict[tuple[int, int], queue.SimpleQueue[bytes]] = {
            (s, d): queue.SimpleQueue() for s in range(3) for d in range(3) if s != d
        }
        self.closed = [threading.Event() for _ in range(3)]


class MemoryChannel(Channel):
    """One party's end of an in-memory three-party session."""

    def __init__(
        self, hub: _Hub, party: int, *, deadline: float = 30.0, tamper: Any = None
    ) -> None:
        self._hub = hub
        self.party = party
        self.session = hub.session
        self.stats = ChannelStats()
        self.deadline = deadline
        self._tamper = tamper

    def send(self, to: int, payload: Buffer) -> None:
        in_place = getattr(self._tamper, "in_place", None)
        if in_place is not None:
            in_place(self.party, to, payload)  # a cheater that keeps what it sends
        data = bytes(payload)
        if self._tamper is not None:
            data = self._tamper(self.party, to, data)
        self.stats.messages += 1
        self.stats.bytes_sent += len(data)
        self._hub.boxes[(self.party, to)].put(data)

    def abort(self, check: str) -> None:
        for to in range(3):
            if to != self.party:
                self._hub.boxes[(self.party, to)].put(_Abort(abort_name(check)))

    def _notice_elsewhere(self, lost: int, grace: float = _GRACE) -> None:
        """After losing ``lost``: raise the other peer's abort notice if one is pending.

        A node waiting on a cheater that stopped never reads the detecting node's
        mailbox; the notice there names the failed check (data before it is dropped:
        the query is over). Waits at most ``grace`` seconds for it.
        """
        other = 3 - self.party - lost
        box = self._hub.boxes[(other, self.party)]
        end = time.monotonic() + min(grace, self.deadline)
        while True:
            try:
                data = box.get(timeout=_POLL)
            except queue.Empty:
                if self._hub.closed[other].is_set() or time.monotonic() > end:
                    return
                continue
            if isinstance(data, _Abort):
                self._raise_abort(other, data)

    def _raise_abort(self, frm: int, data: bytes) -> NoReturn:
        raise peer_abort(self.party, frm, self.session, data)

    def recv(self, frm: int, nbytes: int) -> memoryview:
        box = self._hub.boxes[(frm, self.party)]
        end = time.monotonic() + self.deadline
        while True:
            try:
                data = box.get(timeout=_POLL)
                break
            except queue.Empty:
                if self._hub.closed[frm].is_set() and box.empty():
                    self._notice_elsewhere(frm)
                    raise PeerDisconnectedError(
                        f"P{self.party}: peer P{frm} left session {self.session}",
                        node=frm,
                        session=self.session,
                    ) from None
                if time.monotonic() > end:
                    raise PeerTimeoutError(
                        f"P{self.party}: no message from P{frm} within {self.deadline:.1f} s "
                        f"(session {self.session})",
                        node=frm,
                        session=self.session,
                    ) from None
        if isinstance(data, _Abort):
            self._raise_abort(frm, data)
        if len(data) != nbytes:
            raise ProtocolError(
                f"P{self.party}: message from P{frm} has {len(data)} bytes, expected "
                f"{nbytes} (session {self.session})"
            )
        return memoryview(data)

    def close(self) -> None:
        self._hub.closed[self.party].set()


PartyFn = Callable[..., Any]


def run_in_memory(
    fn: PartyFn,
    inputs: list[Mapping[str, Any]] | None = None,
    *,
    deadline: float = 30.0,
    tamper: Any = None,
    session: str = "memory",
    security: Security | None = None,
    ends: bool = False,
) -> list[Any]:
    """Run ``fn(party, **inputs[i])`` as three threads and return the three results.

    ``ends=True`` returns each party's own end instead of raising: its result or the
    exception it raised.

    ``tamper(src, dst, data) -> data`` may alter messages in flight (fault tests).
    ``security`` is the parties' level (default: :func:`~sharelake.mpc.party.default_security`).
    After all threads have stopped, the first party's own failure is re-raised (before a
    peer's abort notice, and that before a lost peer).
    """
    hub = _Hub(session)
    args = inputs or [{}, {}, {}]
    results: list[Any] = [None, None, None]
    errors: list[BaseException | None] = [None, None, None]

    def body(i: int) -> None:
        chan = MemoryChannel(hub, i, deadline=deadline, tamper=tamper)
        try:
            party = Party.setup(chan, security=security)
            results[i] = fn(party, **args[i])
        except BaseException as exc:
            errors[i] = exc
            notify_abort(chan, exc)
        finally:
            chan.close()

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if ends:
        return [e if e is not None else r for e, r in zip(errors, results, strict=True)]
    # a party's own failure first, then a peer's abort notice, then a lost peer
    for told in (False, True):
        for exc in errors:
            if exc is None or isinstance(exc, PeerDisconnectedError):
                continue
            if isinstance(exc, PeerAbortError) == told:
                raise exc
    for exc in errors:
        if exc is not None:
            raise exc
    return results

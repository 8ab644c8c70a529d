"""The total time limit of one query at one node (``[deadlines] query`` in ``node.toml``).

Each node enforces it on its own. A :class:`QueryWatchdog` starts when the node
accepts the query; when the limit passes it interrupts the query's peer channel
(:meth:`~sharelake.net.tls.TLSChannel.interrupt`), so the protocol thread fails at its
next receive or send, closes its sockets, joins its sender threads and drops its
shares as it does for any failure. The failure is then reported as
:class:`QueryDeadlineError` (HTTP 503), naming the node and the query's session id.
Purely local computation between two messages is not cut short; it ends at the next
message. The other two nodes see the connection close and abort too.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Protocol

from ..errors import SharelakeError

__all__ = ["QueryDeadlineError", "QueryWatchdog"]


class QueryDeadlineError(SharelakeError):
    """A query ran longer than the node's ``query`` deadline and was stopped (503)."""

    def __init__(self, message: str, *, node: int, session: str, seconds: float) -> None:
        super().__init__(message)
        self.node = node
        self.session = session
        self.seconds = seconds


class _Interruptible(Protocol):
    def interrupt(self) -> None: ...


class QueryWatchdog:
    """Stops one query at ``seconds`` after it was created (a context manager).

    Parameters
    ----------
    node
        This node's id.
    session
        The query's session id.
    seconds
        The total time limit.
    """

    def __init__(self, node: int, session: str, seconds: float) -> None:
        self.node, self.session, self.seconds = node, session, float(seconds)
        self.end = time.monotonic() + self.seconds
        self._lock = threading.Lock()
        self._chan: _Interruptible | None = None
        self._fired = False
        self._timer = threading.Timer(max(self.seconds, 0.0), self._fire)
        self._timer.name = f"sharelake-deadline-P{node}"
        self._timer.daemon = True

    def __enter__(self) -> QueryWatchdog:
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._timer.cancel()
        self._timer.join(1.0)
        with self._lock:
            self._chan = None

    def _fire(self) -> None:
        with self._lock:
            self._fired = True
            chan = self._chan
        if chan is not None:
            chan.interrupt()

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(self.end - time.monotonic(), 0.0)

    @property
    def expired(self) -> bool:
        """Whether the limit has passed."""
        return self._fired or time.monotonic() >= self.end

    def attach(self, chan: _Interruptible) -> None:
        """The query's channel, to interrupt at the limit (at once if already past)."""
        with self._lock:
            self._chan = chan
            fired = self._fired
        if fired:
            chan.interrupt()

    def check(self) -> None:
        """Raise :class:`QueryDeadlineError` when the limit has passed."""
        if self.expired:
            raise self.error()

    def error(self) -> QueryDeadlineError:
        """The error that reports this query's deadline."""
        return QueryDeadlineError(
            f"P{self.node}: query {self.session} exceeded its deadline of "
            f"{self.seconds:g} s and was stopped at this node",
            node=self.node,
            session=self.session,
            seconds=self.seconds,
        )

    def translate(self, exc: BaseException) -> BaseException:
        """``exc``, or the deadline error when the query failed because of the limit."""
        if isinstance(exc, QueryDeadlineError) or not self.expired:
            return exc
        return self.error()

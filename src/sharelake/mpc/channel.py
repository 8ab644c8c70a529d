"""The Channel interface through which every protocol talks, and its counters.

A channel connects one party to the two others. Protocols never see sockets: they call
:meth:`Channel.send` and :meth:`Channel.recv`, and :class:`~sharelake.mpc.party.Party`
groups those into rounds. Implementations live in :mod:`sharelake.net`.

Message sizes are always known to the receiver in advance (they depend only on public
sizes), so a receiver states the exact number of bytes it expects and a channel treats
any other length as a :class:`~sharelake.errors.ProtocolError`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from ..errors import IntegrityError, PeerAbortError

Buffer = bytes | bytearray | memoryview

#: The longest check name an abort notice carries.
ABORT_NAME_MAX = 64
_NAME = re.compile(rb"[A-Za-z0-9_.:+ -]{1,64}")


def abort_name(check: str) -> bytes:
    """The wire form of a check name in an abort notice (ASCII, at most 64 bytes)."""
    raw = check.encode("ascii", "replace")[:ABORT_NAME_MAX]
    return raw if _NAME.fullmatch(raw) else b"integrity"


def parse_abort_name(raw: bytes) -> str:
    """A received check name, or ``"unnamed"`` when it is not a plain short name."""
    return raw.decode("ascii") if _NAME.fullmatch(raw) else "unnamed"


def peer_abort(party: int, frm: int, session: str, raw: bytes) -> PeerAbortError:
    """The error a node raises for the abort notice ``raw`` that peer ``frm`` sent it."""
    check = parse_abort_name(bytes(raw[: ABORT_NAME_MAX + 1]))
    return PeerAbortError(
        f"P{party}: P{frm} aborted the query: its check {check!r} failed (session {session})",
        node=frm,
        check=check,
        session=session,
    )


def notify_abort(chan: Channel, exc: BaseException) -> None:
    """Tell both peers that this node's own check failed (``exc``), before it stops.

    Only an :class:`~sharelake.errors.IntegrityError` this node raised itself is
    announced (never a :class:`~sharelake.errors.PeerAbortError`, which would echo);
    the notice carries the check's name, never a value. Best effort: a peer that is
    gone is not waited for.
    """
    if isinstance(exc, IntegrityError) and not isinstance(exc, PeerAbortError):
        chan.abort(str(getattr(exc, "check", "") or "integrity"))


@dataclass
class ChannelStats:
    """Traffic counters of one party: rounds, messages and payload bytes sent."""

    rounds: int = 0
    messages: int = 0
    bytes_sent: int = 0
    per_op: dict[str, list[int]] = field(default_factory=dict)

    def snapshot(self) -> tuple[int, int]:
        """(rounds, bytes_sent) now, for measuring one operation by difference."""
        return self.rounds, self.bytes_sent


class Channel(ABC):
    """Ordered, authenticated, deadline-bound messages between this party and its peers.

    ``party`` is this party's id (0, 1 or 2). The identity of a peer is established by
    the implementation (for TLS, from the verified certificate), never from a message.
    """

    party: int
    session: str
    stats: ChannelStats

    @abstractmethod
    def send(self, to: int, payload: Buffer) -> None:
        """Queue ``payload`` for party ``to``; must not wait for the peer to read it."""

    @abstractmethod
    def recv(self, frm: int, nbytes: int) -> memoryview:
        """The next message from ``frm``; it must be exactly ``nbytes`` long.

        Raises :class:`~sharelake.errors.PeerTimeoutError` after the deadline,
        :class:`~sharelake.errors.PeerDisconnectedError` when the peer is gone and
        :class:`~sharelake.errors.ProtocolError` on a wrong session, sequence or size.
        """

    def abort(self, check: str) -> None:  # noqa: B027 - optional hook
        """Send both peers an abort notice naming ``check`` (see :func:`notify_abort`).

        A peer that receives it raises :class:`~sharelake.errors.PeerAbortError` from
        its next :meth:`recv` from this party, whatever it expected.
        """

    def flush(self) -> None:  # noqa: B027 - optional hook
        """Wait until every queued message has been handed to the transport."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the transport."""

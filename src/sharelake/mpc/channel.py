"""The Channel interface through which every protocol talks, and its counters.

A channel connects one party to the two others. Protocols never see sockets: they call
:meth:`Channel.send` and :meth:`Channel.recv`, and :class:`~sharelake.mpc.party.Party`
groups those into rounds. Implementations live in :mod:`sharelake.net`.

Message sizes are always known to the receiver in advance (they depend only on public
sizes), so a receiver states the exact number of bytes it expects and a channel treats
any other length as a :class:`~sharelake.errors.ProtocolError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

Buffer = bytes | bytearray | memoryview


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

    def flush(self) -> None:  # noqa: B027 - optional hook
        """Wait until every queued message has been handed to the transport."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the transport."""

"""Every failure sharelake reports, one class per failure mode.

The tree::

    SharelakeError
    ├── ProtocolError            a peer broke the message protocol (wrong session,
    │                            sequence or size); the query aborts
    ├── IntegrityError           redundant copies of a share disagree: a party
    │                            tampered with data; the query aborts
    ├── PeerError                a named peer could not be reached in time
    │   ├── PeerTimeoutError     no message within the deadline
    │   └── PeerDisconnectedError  the connection closed or broke
    ├── AuthenticationError      a certificate or identity check failed
    └── InputValidationError     client input rejected before sharing

Messages name the node (``P0``, ``P1``, ``P2``) and the session, never a data value.
"""

from __future__ import annotations


class SharelakeError(Exception):
    """Base class of every error sharelake raises on purpose."""


class ProtocolError(SharelakeError):
    """A message violated the protocol: wrong session, sequence number or size."""


class IntegrityError(SharelakeError):
    """Two copies of the same share disagree; a party deviated from the protocol."""


class PeerError(SharelakeError):
    """A peer node failed; ``node`` names it and ``session`` the query."""

    def __init__(self, message: str, *, node: int, session: str = "") -> None:
        super().__init__(message)
        self.node = node
        self.session = session


class PeerTimeoutError(PeerError):
    """A peer sent nothing within the receive deadline."""


class PeerDisconnectedError(PeerError):
    """A peer's connection closed or broke."""


class AuthenticationError(SharelakeError):
    """A certificate, signature or claimed identity did not verify."""


class InputValidationError(SharelakeError):
    """Client input was rejected before anything was shared.

    ``source``, ``row`` and ``column`` locate the offending value when known.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        where = ", ".join(
            part
            for part in (
                f"file {source}" if source else "",
                f"row {row}" if row is not None else "",
                f"column {column!r}" if column else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.row = row
        self.column = column

"""What upload, policy changes and erasure need of a connected member.

:class:`Connection` is the narrow face of :class:`~sharelake.client.session.Session` that
the helper modules (:mod:`.upload`, :mod:`.policy`, :mod:`.erase`) call: the member's name
and consortium, the signed calls to the three nodes (:mod:`.transport`), the member's key
derivation and the catalog. They depend on this protocol, not on the session, so the
session imports them and nothing of theirs imports the session back.

Examples
--------
>>> from sharelake.client.connection import Connection
>>> from sharelake.client.session import Session
>>> all(hasattr(Session, m) for m in ("request", "on_each", "on_all", "derive_key"))
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from ..consortium.members import Consortium
from .catalog import TableInfo
from .transport import Reply

__all__ = ["Connection"]


class Connection(Protocol):
    """A member connected to the three nodes (a :class:`~sharelake.client.session.Session`)."""

    member: str
    consortium: Consortium

    def node_name(self, i: int) -> str:
        """The name of node ``i`` (0, 1 or 2) in the consortium file."""
        ...

    def request(
        self,
        node: int,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        content_type: str = "application/json",
        timeout: float | None = None,
        chunks: Callable[[bytes], Iterator[bytes]] | None = None,
        body_sha256: str | None = None,
    ) -> Reply:
        """One signed call to node ``node``."""
        ...

    def on_all(
        self,
        calls: Sequence[Callable[[], Reply]],
        *,
        timeout: float | None = None,
        wait_all: bool = False,
    ) -> list[Reply]:
        """Run one call per node in parallel."""
        ...

    def on_each(
        self,
        method: str,
        path: str,
        bodies: Sequence[bytes] | bytes = b"",
        *,
        content_type: str = "application/json",
        timeout: float | None = None,
        wait_all: bool = False,
    ) -> list[Reply]:
        """The same call (or one body per node) to the three nodes in parallel."""
        ...

    def derive_key(self, label: bytes) -> bytes:
        """A 16-byte key only this member can derive, the same on every call."""
        ...

    def table_info(self, name: str) -> TableInfo:
        """The catalog entry of ``name`` as the three nodes list it alike."""
        ...

"""What a node must remember across restarts to use every request once.

:class:`RequestLedger` keeps, in ``DATA/requests.sqlite``:

* the nonces of accepted requests, each until its timestamp leaves the accepted clock
  skew (then the request is refused as stale anyway and the row is deleted), so a
  request replayed to the same node after a restart is refused like one replayed
  before it (:class:`~sharelake.consortium.signing.NonceStore`);
* the session id of every query the node started, for good, so a query runs at most
  once at this node whatever its request looked like (:meth:`RequestLedger.claim_session`).

Both inserts commit (SQLite WAL) before the request goes on, so a node killed or restarted
right after an accepted request does not forget it. ``synchronous=NORMAL``: a commit
survives any crash of the node process; only a power loss of the machine in the last
moments could lose the latest ones (``FULL`` would fsync per request, about 5 ms each, on
the API's event loop). The store is bounded: when it
holds ``max_nonces`` live nonces, new requests are refused (401 ``ReplayError``, "the
replay store is full") until old ones go stale; per-member rate limits keep a member far
below that bound.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from ..consortium.signing import ReplayError
from ..errors import SharelakeError

__all__ = ["LEDGER_FILE", "RequestLedger", "SessionReusedError"]

LEDGER_FILE = "requests.sqlite"
DEFAULT_MAX_NONCES = 1_000_000


class SessionReusedError(SharelakeError):
    """A query's session id already ran at this node (answered with 409)."""


class RequestLedger:
    """Persistent nonces and used session ids of one node (thread-safe).

    Parameters
    ----------
    path
        The SQLite file (created if missing).
    max_nonces
        Bound on live nonces kept.
    """

    def __init__(self, path: str | Path, *, max_nonces: int = DEFAULT_MAX_NONCES) -> None:
        self.path = Path(path)
        self.max_nonces = max_nonces
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS nonces (member TEXT NOT NULL, nonce TEXT NOT NULL, "
            "expires REAL NOT NULL, PRIMARY KEY (member, nonce))"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS nonces_expires ON nonces (expires)")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sessions (session TEXT PRIMARY KEY, "
            "member TEXT NOT NULL, at REAL NOT NULL)"
        )
        self._count = int(self._db.execute("SELECT COUNT(*) FROM nonces").fetchone()[0])
        self._next_purge = 0.0

    def add(self, key: tuple[str, str], expires: float, now: float) -> None:
        """Record a nonce until ``expires``; ReplayError if it is already recorded."""
        member, nonce = key
        with self._lock:
            if now >= self._next_purge or self._count >= self.max_nonces:
                cur = self._db.execute("DELETE FROM nonces WHERE expires < ?", (now,))
                self._count -= max(cur.rowcount, 0)
                self._next_purge = now + 5.0
            if self._count >= self.max_nonces:
                raise ReplayError(
                    f"request of {member!r} refused: the node's replay store is full "
                    f"({self.max_nonces} live nonces); retry later"
                )
            try:
                self._db.execute(
                    "INSERT INTO nonces (member, nonce, expires) VALUES (?, ?, ?)",
                    (member, nonce, expires),
                )
            except sqlite3.IntegrityError:
                raise ReplayError(
                    f"nonce of {member!r} was already used at this node: a replayed request"
                ) from None
            self._count += 1

    def claim_session(self, session: str, member: str) -> None:
        """Mark a query's session id as run; SessionReusedError if it ran before."""
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO sessions (session, member, at) VALUES (?, ?, ?)",
                    (session, member, time.time()),
                )
            except sqlite3.IntegrityError:
                raise SessionReusedError(
                    f"query session {session} of {member!r} already ran at this node: "
                    "a query runs once (send it again with a fresh nonce)"
                ) from None

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

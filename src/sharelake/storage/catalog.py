"""The catalog of one node: tables, uploads and schema migrations in SQLite.

The database runs in WAL mode with ``synchronous=FULL``, so a committed transaction
survives a crash or power loss. Four tables:

``tables``
    One row per visible table: owner, current version and the upload that made it,
    row count, schema and policy (JSON, opaque to storage), the layout of its share
    files, the content digest, created/updated times (Unix seconds).
``uploads``
    One row per upload id: table, owner, state (``prepared`` → ``committed`` or
    ``aborted``), the version it became, digest, rows, schema, policy and layout.
``derived``
    What a table the nodes made themselves was made from (a stored persons table: its
    lists' subplans, linkage and table versions; JSON), per upload id.
``schema_migrations``
    The applied migration numbers; :data:`MIGRATIONS` lists them in order.

One connection is shared by every thread behind a lock: catalog operations are a few
small statements each, and the node serves requests from a thread pool.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import SharelakeError

UploadState = Literal["prepared", "committed", "aborted"]


class CatalogError(SharelakeError):
    """The catalog cannot be opened or an operation on it is not allowed."""


class TableNotFoundError(CatalogError):
    """No committed table has this name."""


class UploadStateError(CatalogError):
    """An upload id is unknown, or used in a way its state does not allow."""


class TableOwnerError(CatalogError):
    """A table exists and belongs to another member."""


class TableExistsError(CatalogError):
    """An upload to a table name that exists, without ``replace`` (answered with 409)."""


#: Schema migrations, applied in order; never edit one that has shipped, add a new one.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE tables (
            name        TEXT PRIMARY KEY,
            owner       TEXT NOT NULL,
            version     INTEGER NOT NULL,
            upload_id   TEXT NOT NULL,
            rows        INTEGER NOT NULL,
            schema_json TEXT NOT NULL,
            policy_json TEXT NOT NULL,
            layout_json TEXT NOT NULL,
            digest      TEXT NOT NULL,
            created     REAL NOT NULL,
            updated     REAL NOT NULL
        );
        CREATE TABLE uploads (
            upload_id   TEXT PRIMARY KEY,
            table_name  TEXT NOT NULL,
            owner       TEXT NOT NULL,
            state       TEXT NOT NULL CHECK (state IN ('prepared', 'committed', 'aborted')),
            version     INTEGER,
            digest      TEXT NOT NULL,
            rows        INTEGER NOT NULL,
            schema_json TEXT NOT NULL,
            policy_json TEXT NOT NULL,
            layout_json TEXT NOT NULL,
            created     REAL NOT NULL,
            updated     REAL NOT NULL
        );
        CREATE INDEX uploads_by_table ON uploads (table_name, state);
        """,
    ),
    (
        2,
        """
        CREATE TABLE derived (
            upload_id       TEXT PRIMARY KEY,
            table_name      TEXT NOT NULL,
            definition_json TEXT NOT NULL,
            created         REAL NOT NULL
        );
        """,
    ),
)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class UploadRecord:
    """One row of ``uploads``."""

    upload_id: str
    table: str
    owner: str
    state: UploadState
    version: int | None
    digest: str
    rows: int
    schema: Any
    policy: Any
    layout: Any
    created: float
    updated: float


@dataclass(frozen=True)
class TableRecord:
    """One row of ``tables``: a visible table and its current version."""

    name: str
    owner: str
    version: int
    upload_id: str
    rows: int
    schema: Any
    policy: Any
    layout: Any
    digest: str
    created: float
    updated: float

    def public(self) -> dict[str, Any]:
        """The table's public description (as in ``GET /v1/tables``, plus digest and times)."""
        return {
            "name": self.name,
            "owner": self.owner,
            "rows": self.rows,
            "version": self.version,
            "schema": self.schema,
            "policy": self.policy,
            "digest": self.digest,
            "created": self.created,
            "updated": self.updated,
        }


_UPLOAD_COLS = (
    "upload_id, table_name, owner, state, version, digest, rows, "
    "schema_json, policy_json, layout_json, created, updated"
)
_TABLE_COLS = (
    "name, owner, version, upload_id, rows, schema_json, policy_json, layout_json, "
    "digest, created, updated"
)


def _upload(row: tuple[Any, ...]) -> UploadRecord:
    return UploadRecord(
        upload_id=row[0],
        table=row[1],
        owner=row[2],
        state=row[3],
        version=row[4],
        digest=row[5],
        rows=row[6],
        schema=json.loads(row[7]),
        policy=json.loads(row[8]),
        layout=json.loads(row[9]),
        created=row[10],
        updated=row[11],
    )


def _table(row: tuple[Any, ...]) -> TableRecord:
    return TableRecord(
        name=row[0],
        owner=row[1],
        version=row[2],
        upload_id=row[3],
        rows=row[4],
        schema=json.loads(row[5]),
        policy=json.loads(row[6]),
        layout=json.loads(row[7]),
        digest=row[8],
        created=row[9],
        updated=row[10],
    )


class Catalog:
    """A node's SQLite catalog (WAL, ``synchronous=FULL``), safe to share between threads.

    Parameters
    ----------
    path
        The database file; created with mode 0600 and migrated if needed.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._conn.execute("PRAGMA synchronous=FULL")
            # deleted rows are overwritten with zeros, not left in free pages
            self._conn.execute("PRAGMA secure_delete=ON")
        except sqlite3.Error as exc:
            raise CatalogError(f"cannot open catalog {self.path.name}: {exc}") from exc
        if str(mode).lower() != "wal":
            self._conn.close()
            raise CatalogError(f"catalog {self.path.name}: WAL mode unavailable ({mode})")
        try:
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        """Close the connection (a checkpoint folds the WAL into the database)."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on error)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._conn.execute(sql, args).fetchall())

    def _migrate(self) -> None:
        with self._tx() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied REAL NOT NULL)"
            )
            have = c.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            current = int(have.fetchone()[0])
            known = MIGRATIONS[-1][0]
            if current > known:
                raise CatalogError(
                    f"catalog {self.path.name} has schema version {current}; this sharelake "
                    f"knows up to {known}"
                )
            for number, script in MIGRATIONS:
                if number > current:
                    for statement in script.split(";"):
                        if statement.strip():
                            c.execute(statement)
                    c.execute(
                        "INSERT INTO schema_migrations (version, applied) VALUES (?, ?)",
                        (number, time.time()),
                    )

    # -- inspection -----------------------------------------------------------------

    def pragma(self, name: str) -> Any:
        """The value of ``PRAGMA name`` (e.g. ``journal_mode``, ``synchronous``)."""
        if not name.isidentifier():
            raise CatalogError(f"not a pragma name: {name!r}")
        return self._query(f"PRAGMA {name}")[0][0]

    def schema_version(self) -> int:
        """The highest applied migration."""
        return int(self._query("SELECT MAX(version) FROM schema_migrations")[0][0])

    # -- uploads --------------------------------------------------------------------

    def get_upload(self, upload_id: str) -> UploadRecord | None:
        """The upload row, or None if the id was never prepared."""
        rows = self._query(f"SELECT {_UPLOAD_COLS} FROM uploads WHERE upload_id = ?", (upload_id,))
        return _upload(rows[0]) if rows else None

    def uploads(self, state: UploadState | None = None) -> list[UploadRecord]:
        """Every upload row (in one state, if given), oldest first."""
        if state is None:
            rows = self._query(f"SELECT {_UPLOAD_COLS} FROM uploads ORDER BY created")
        else:
            rows = self._query(
                f"SELECT {_UPLOAD_COLS} FROM uploads WHERE state = ? ORDER BY created", (state,)
            )
        return [_upload(r) for r in rows]

    def put_prepared(
        self,
        *,
        upload_id: str,
        table: str,
        owner: str,
        digest: str,
        rows: int,
        schema: Any,
        policy: Any,
        layout: Any,
    ) -> None:
        """Record a staged upload as ``prepared`` (new id, or one that was aborted)."""
        now = time.time()
        with self._tx() as c:
            got = c.execute(
                "SELECT state FROM uploads WHERE upload_id = ?", (upload_id,)
            ).fetchone()
            if got is not None and got[0] != "aborted":
                raise UploadStateError(f"upload {upload_id!r} is already {got[0]}")
            c.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
            c.execute(
                f"INSERT INTO uploads ({_UPLOAD_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    upload_id,
                    table,
                    owner,
                    "prepared",
                    None,
                    digest,
                    rows,
                    _dumps(schema),
                    _dumps(policy),
                    _dumps(layout),
                    now,
                    now,
                ),
            )

    def set_aborted(self, upload_id: str) -> None:
        """Mark a prepared upload aborted (no-op if already aborted)."""
        with self._tx() as c:
            got = c.execute(
                "SELECT state FROM uploads WHERE upload_id = ?", (upload_id,)
            ).fetchone()
            if got is None:
                raise UploadStateError(f"upload {upload_id!r} is unknown")
            if got[0] == "committed":
                raise UploadStateError(f"upload {upload_id!r} is committed; drop the table")
            c.execute(
                "UPDATE uploads SET state = 'aborted', updated = ? WHERE upload_id = ?",
                (time.time(), upload_id),
            )

    def commit(self, upload_id: str) -> tuple[int, str | None]:
        """Make a prepared upload the current version of its table, in one transaction.

        Returns
        -------
        (version, previous_upload_id)
            The new version number and the upload whose files it replaces (None for a
            new table). For an upload that is already committed: its version and None.

        Raises
        ------
        UploadStateError
            The upload is unknown or aborted.
        TableOwnerError
            The table exists and belongs to another member.
        """
        now = time.time()
        with self._tx() as c:
            row = c.execute(
                f"SELECT {_UPLOAD_COLS} FROM uploads WHERE upload_id = ?", (upload_id,)
            ).fetchone()
            if row is None:
                raise UploadStateError(f"upload {upload_id!r} is unknown")
            up = _upload(row)
            if up.state == "committed":
                assert up.version is not None
                return up.version, None
            if up.state != "prepared":
                raise UploadStateError(f"upload {upload_id!r} is {up.state}")
            cur = c.execute(
                "SELECT owner, version, upload_id, created FROM tables WHERE name = ?",
                (up.table,),
            ).fetchone()
            if cur is not None and cur[0] != up.owner:
                raise TableOwnerError(f"table {up.table!r} belongs to another member")
            last = c.execute(
                "SELECT COALESCE(MAX(version), 0) FROM uploads "
                "WHERE table_name = ? AND state = 'committed'",
                (up.table,),
            ).fetchone()[0]
            version = max(int(last), int(cur[1]) if cur else 0) + 1
            created = float(cur[3]) if cur else now
            c.execute("DELETE FROM tables WHERE name = ?", (up.table,))
            c.execute(
                f"INSERT INTO tables ({_TABLE_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    up.table,
                    up.owner,
                    version,
                    upload_id,
                    up.rows,
                    _dumps(up.schema),
                    _dumps(up.policy),
                    _dumps(up.layout),
                    up.digest,
                    created,
                    now,
                ),
            )
            c.execute(
                "UPDATE uploads SET state = 'committed', version = ?, updated = ? "
                "WHERE upload_id = ?",
                (version, now, upload_id),
            )
            return version, (str(cur[2]) if cur else None)

    # -- tables ---------------------------------------------------------------------

    def get_table(self, name: str) -> TableRecord | None:
        """The visible table ``name``, or None."""
        rows = self._query(f"SELECT {_TABLE_COLS} FROM tables WHERE name = ?", (name,))
        return _table(rows[0]) if rows else None

    def tables(self) -> list[TableRecord]:
        """Every visible table, by name."""
        return [_table(r) for r in self._query(f"SELECT {_TABLE_COLS} FROM tables ORDER BY name")]

    def scrub_uploads(self, table: str, upload_ids: list[str]) -> int:
        """Scrub the rows of destroyed uploads of ``table`` (retention, erasure).

        Each row keeps its state and version (table versions never repeat, so nothing
        bound to an old version can match a new one) but loses its upload id (replaced
        by a random ``destroyed-...`` id), schema, policy, layout and digest. Deleted
        content is zeroed (``secure_delete``), and the WAL, which may still hold the old
        pages, is checkpointed and truncated to zero bytes. Returns the rows scrubbed.
        """
        count = 0
        with self._tx() as c:
            for uid in upload_ids:
                cur = c.execute(
                    "UPDATE uploads SET upload_id = ?, schema_json = '[]', policy_json = '{}', "
                    "layout_json = '{}', digest = '', updated = ? "
                    "WHERE table_name = ? AND upload_id = ?",
                    (f"destroyed-{secrets.token_hex(8)}", time.time(), table, uid),
                )
                count += int(cur.rowcount)
        self.truncate_wal()
        return count

    def committed_uploads(self, table: str) -> list[str]:
        """The ids of every committed upload of ``table`` still named in the catalog."""
        rows = self._query(
            "SELECT upload_id FROM uploads WHERE table_name = ? AND state = 'committed' "
            "AND upload_id NOT LIKE 'destroyed-%'",
            (table,),
        )
        return [str(r[0]) for r in rows]

    def put_definition(self, upload_id: str, table: str, definition: Any) -> None:
        """Record what the (prepared) upload ``upload_id`` of a derived table was made from."""
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO derived (upload_id, table_name, definition_json, created)"
                " VALUES (?, ?, ?, ?)",
                (upload_id, table, _dumps(definition), time.time()),
            )

    def definition(self, upload_id: str) -> Any:
        """The recorded definition of a derived table's upload, or None (an upload)."""
        rows = self._query("SELECT definition_json FROM derived WHERE upload_id = ?", (upload_id,))
        return json.loads(rows[0][0]) if rows else None

    def truncate_wal(self) -> None:
        """Fold the WAL into the database and truncate it to zero bytes."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def delete_table(self, name: str) -> TableRecord:
        """Remove the table's row (its upload rows stay as history); returns what was removed.

        Raises
        ------
        TableNotFoundError
            No table has this name.
        """
        with self._tx() as c:
            row = c.execute(f"SELECT {_TABLE_COLS} FROM tables WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise TableNotFoundError(f"no table {name!r}")
            c.execute("DELETE FROM tables WHERE name = ?", (name,))
            return _table(row)

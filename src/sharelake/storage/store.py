"""The storage facade of one node: two-phase uploads, verified loads, drop, fsck, recovery.

Data directory layout::

    DATA/catalog.sqlite             the catalog (WAL mode; see catalog.py)
    DATA/staging/<upload_id>/       files of a prepared upload (not visible)
    DATA/tables/<table>/<upload_id>/  files of the table's current version

A version directory is named by the upload that wrote it, so the rename that publishes
it needs no decision beyond the upload id, and a directory always says which upload row
it belongs to. The catalog's ``tables`` row says which upload is current.

Upload, in two phases (the node runs the cross-node digest check in between):

``prepare_upload``
    Writes every file into a private temporary directory ``staging/.<id>.<rand>.tmp``,
    fsyncs it, renames it to ``staging/<id>``, then records the upload as ``prepared``.
    Preparing the same id again with the same payload (same digest) returns the digest
    and writes nothing; a different payload raises :class:`UploadStateError`. An id
    whose upload was aborted may be prepared again.
``commit_upload``
    Renames ``staging/<id>`` to ``tables/<table>/<id>`` (fsync of both directories),
    then in one catalog transaction makes it the table's current version and marks the
    upload committed; the previous version's directory is removed afterwards.
    Committing a committed upload returns its version.

Crash cases (a node process killed at any instant):

* during prepare, before the staging rename: a ``.tmp`` directory is left; the upload is
  unknown and a retry writes it again. The next open of the store (node start) removes
  every ``.tmp`` leftover (listed in ``Store.recovered``), as ``fsck(repair=True)`` does.
* after the staging rename, before the catalog row: an orphan ``staging/<id>``; a retry
  replaces it. fsck reports it.
* prepared, never committed: the row stays ``prepared`` and the staged files stay, across
  restarts; a retry of the commit with the same id commits.
* during commit, before the rename: as above, the old version stays current.
* after the rename, before the catalog transaction: on open, the store finds the
  prepared upload's directory under ``tables/`` and **completes** the commit if every
  file verifies (the node only commits after all three nodes passed the digest check, so
  the decision was already "commit"); if a file does not verify, the directory is
  removed and the upload marked aborted. ``Store.recovered`` lists what was done.
* after the catalog transaction, before removing the old version: the new version is
  current; the old directory is garbage that fsck reports and removes.
* during drop, after the catalog row is gone: the table is gone; fsck removes its files.

A single process owns a data directory; within it, every method is thread-safe. The
check and the recovery on open are in :mod:`sharelake.storage.fsck`.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import InputValidationError
from ..mpc.shares import AShare
from .catalog import (
    Catalog,
    TableExistsError,
    TableNotFoundError,
    TableOwnerError,
    TableRecord,
    UploadRecord,
    UploadStateError,
)
from .fsck import FsckMixin, Problem
from .shares import (
    DIR_MODE,
    TMP_SUFFIX,
    VALID,
    PairLike,
    ShareIntegrityError,
    check_name,
    combined_digests,
    component_digest,
    component_digests,
    fsync_dir,
    make_dir,
    normalise_upload,
    read_column,
    read_valid,
    upload_digest,
    write_table_files,
)
from .shred import shred_tree

log = logging.getLogger(__name__)


class LoadedTable(NamedTuple):
    """A verified table version: public meta, column parts and validity shares."""

    meta: dict[str, Any]
    columns: dict[str, dict[str, AShare]]
    valid: AShare


class Store(FsckMixin):
    """A node's share storage: catalog plus share files under ``data_dir``.

    Parameters
    ----------
    data_dir
        Created (mode 0700) if missing.
    recover
        Complete commits interrupted by a crash (see the module docstring); the
        findings are in :attr:`recovered`.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from sharelake.mpc.shares import AShare
    >>> z = np.zeros(2, np.uint64)
    >>> with tempfile.TemporaryDirectory() as d, Store(d) as s:
    ...     _ = s.prepare_upload("u1", "t", "ngo_a", [{"name": "x"}], {}, 2,
    ...                          {"x": {"values": AShare(z, z)}}, valid=AShare(z, z))
    ...     s.commit_upload("u1"), [m["name"] for m in s.list_tables()]
    (1, ['t'])
    """

    def __init__(self, data_dir: str | os.PathLike[str], *, recover: bool = True) -> None:
        self.root = Path(data_dir)
        make_dir(self.root)
        os.chmod(self.root, DIR_MODE)
        self.staging = self.root / "staging"
        self.tables = self.root / "tables"
        make_dir(self.staging)
        make_dir(self.tables)
        self.catalog = Catalog(self.root / "catalog.sqlite")
        self._lock = threading.RLock()
        self.recovered: list[Problem] = self._recover() if recover else []

    def close(self) -> None:
        """Close the catalog."""
        self._closed = True
        self.catalog.close()

    @property
    def is_open(self) -> bool:
        """Whether the store is usable (not closed, its folders present)."""
        return not getattr(self, "_closed", False) and self.tables.is_dir()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- paths and helpers -----------------------------------------------------------

    def _version_dir(self, table: str, upload_id: str) -> Path:
        return self.tables / table / upload_id

    def _rel(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    def _remove(self, path: Path) -> None:
        """Destroy a file or directory tree of shares (best effort, logged): every file
        overwritten before it is unlinked (:mod:`sharelake.storage.shred`)."""
        try:
            shred_tree(path)
        except OSError as exc:
            log.warning("could not remove a stored file: %s", exc.strerror)

    def _verify_dir(self, directory: Path, table: str, upload_id: str, layout: Any) -> None:
        for col in layout["columns"]:
            read_column(directory, col, table=table, upload_id=upload_id)
        read_valid(directory, layout["valid"], table=table, upload_id=upload_id)

    # -- upload ----------------------------------------------------------------------

    def prepare_upload(
        self,
        upload_id: str,
        table: str,
        owner: str,
        schema: Any,
        policy: Any,
        rows: int,
        columns: Mapping[str, Mapping[str, PairLike]],
        *,
        valid: PairLike,
        replace: bool = True,
    ) -> str:
        """Stage this node's shares of an upload; nothing becomes visible.

        Parameters
        ----------
        upload_id, table
            Names of 1-128 letters, digits, ``_`` or ``-``.
        owner
            The uploading member; only the owner may replace an existing table.
        schema, policy
            JSON values kept as given; ``schema`` lists one object per column with its
            ``"name"``, in the order of ``columns``.
        rows
            Public row count; every part and ``valid`` has it as first dimension.
        columns
            Column -> part (``values``, ``null``, ``text``) -> this node's pair of uint64
            arrays (an :class:`AShare` or a tuple ``(a, b)``).
        valid
            This node's pair of the validity bits.
        replace
            Whether the upload may replace an existing table of that name (a new
            version, which voids the approvals and budgets bound to the old one).

        Returns
        -------
        str
            The digest of the staged payload (hex SHA-256).

        Raises
        ------
        UploadStateError
            The upload id was already used (prepared or committed) with another payload.
        TableExistsError
            The table exists and ``replace`` is false.
        InputValidationError
            Malformed names, schema, shapes or dtypes.
        """
        check_name(upload_id, "upload id")
        check_name(table, "table name")
        cols, v = normalise_upload(schema, rows, columns, valid)
        digests = component_digests(cols, v)  # every share byte hashed once, here
        digest = upload_digest(
            table=table,
            owner=owner,
            rows=rows,
            schema=schema,
            policy=policy,
            columns=cols,
            valid=v,
            digests=digests,
        )
        seen = self.catalog.get_upload(upload_id)
        if seen is not None and seen.state != "aborted":
            return self._same_payload(seen, digest)
        current = self.catalog.get_table(table)
        if current is not None and current.owner != owner:
            raise TableOwnerError(f"table {table!r} belongs to another member")
        if current is not None and not replace:
            raise TableExistsError(
                f"table {table!r} exists (version {current.version}); uploading it again "
                f"would make version {current.version + 1} and void the approvals and "
                "budgets bound to version "
                f"{current.version}: upload with replace=True (CLI: --replace) to do that"
            )
        tmp = self.staging / f".{upload_id}.{secrets.token_hex(6)}{TMP_SUFFIX}"
        try:
            layout = write_table_files(
                tmp, table=table, upload_id=upload_id, columns=cols, valid=v, digests=digests
            )
            with self._lock:
                seen = self.catalog.get_upload(upload_id)
                if seen is not None and seen.state != "aborted":
                    return self._same_payload(seen, digest)
                final = self.staging / upload_id
                if final.exists():
                    self._remove(final)  # orphan of a crashed or aborted attempt
                os.rename(tmp, final)
                fsync_dir(self.staging)
                self.catalog.put_prepared(
                    upload_id=upload_id,
                    table=table,
                    owner=owner,
                    digest=digest,
                    rows=rows,
                    schema=schema,
                    policy=policy,
                    layout=layout,
                )
        finally:
            if tmp.exists():
                self._remove(tmp)
        log.info("prepared upload %s (%d rows)", upload_id, rows)  # ids and counts, no names
        return digest

    @staticmethod
    def _same_payload(seen: UploadRecord, digest: str) -> str:
        if seen.digest != digest:
            raise UploadStateError(
                f"upload {seen.upload_id!r} is {seen.state} with a different payload; "
                "use a new upload id"
            )
        return digest

    def commit_upload(self, upload_id: str) -> int:
        """Publish a prepared upload as the new current version of its table.

        Returns
        -------
        int
            The table version it became (the same on a repeated commit).

        Raises
        ------
        UploadStateError
            The upload is unknown, aborted, or its staged files are gone.
        TableOwnerError
            The table exists and belongs to another member.
        """
        check_name(upload_id, "upload id")
        with self._lock:
            up = self.catalog.get_upload(upload_id)
            if up is None:
                raise UploadStateError(f"upload {upload_id!r} is unknown")
            if up.state == "committed":
                assert up.version is not None
                return up.version
            if up.state != "prepared":
                raise UploadStateError(f"upload {upload_id!r} is {up.state}")
            current = self.catalog.get_table(up.table)
            if current is not None and current.owner != up.owner:
                raise TableOwnerError(f"table {up.table!r} belongs to another member")
            src = self.staging / upload_id
            dst = self._version_dir(up.table, upload_id)
            if not dst.is_dir():
                if not src.is_dir():
                    raise UploadStateError(
                        f"upload {upload_id!r}: staged files are missing; prepare it again"
                    )
                make_dir(dst.parent)
                os.rename(src, dst)
                fsync_dir(dst.parent)
                fsync_dir(self.staging)
            try:
                version, previous = self.catalog.commit(upload_id)
            except BaseException:
                if not src.exists():
                    os.rename(dst, src)  # stay prepared: the files go back to staging
                raise
            if previous is not None and previous != upload_id:
                self._remove(self._version_dir(up.table, previous))
        log.info("committed upload %s as version %d", upload_id, version)
        return version

    def abort_upload(self, upload_id: str) -> None:
        """Discard a prepared upload's staged files (no-op for an aborted or unknown id).

        Raises
        ------
        UploadStateError
            The upload is committed (drop the table instead).
        """
        check_name(upload_id, "upload id")
        with self._lock:
            up = self.catalog.get_upload(upload_id)
            if up is not None:
                self.catalog.set_aborted(upload_id)
            if (self.staging / upload_id).exists():
                self._remove(self.staging / upload_id)
        log.info("aborted upload %s", upload_id)

    def upload(self, upload_id: str) -> UploadRecord | None:
        """The catalog's record of an upload id, or None."""
        return self.catalog.get_upload(upload_id)

    def staged_components(self, upload_id: str) -> dict[str, AShare]:
        """Every share pair of an upload, verified, for the cross-node digest check.

        Keys are ``"<column>.<part>"`` (columns in upload order, parts by name), then
        ``"_valid"``; all three nodes get the same keys in the same order. Works for
        prepared uploads and for committed ones whose version is still on disk (a
        repeated commit request).

        Raises
        ------
        UploadStateError
            Unknown or aborted upload, or its files are gone.
        ShareIntegrityError
            A staged file fails verification.
        """
        up = self.catalog.get_upload(upload_id)
        if up is None or up.state == "aborted":
            raise UploadStateError(f"upload {upload_id!r} is {up.state if up else 'unknown'}")
        directory = self.staging / upload_id
        if not directory.is_dir():
            directory = self._version_dir(up.table, upload_id)
        if not directory.is_dir():
            raise UploadStateError(f"upload {upload_id!r}: its files are gone")
        out: dict[str, AShare] = {}
        for col in up.layout["columns"]:
            parts = read_column(directory, col, table=up.table, upload_id=upload_id)
            for part, pair in parts.items():
                out[f"{col['column']}.{part}"] = pair
        out[VALID] = read_valid(directory, up.layout["valid"], table=up.table, upload_id=upload_id)
        return out

    def staged_digests(self, upload_id: str) -> dict[str, tuple[bytes, bytes]]:
        """The SHA-256 digests of every share pair of an upload, for the commit check.

        Keys and order as :meth:`staged_components`. Taken from the catalog's layout
        (computed once at prepare), so a commit reads no share file; computed from the
        files for an upload staged by an older version without digests.

        Raises
        ------
        UploadStateError
            Unknown or aborted upload (or, without stored digests, its files are gone).
        """
        up = self.catalog.get_upload(upload_id)
        if up is None or up.state == "aborted":
            raise UploadStateError(f"upload {upload_id!r} is {up.state if up else 'unknown'}")
        layout = up.layout
        if combined_digests(layout) is None:
            return {
                key: (
                    bytes.fromhex(component_digest(pair.a)),
                    bytes.fromhex(component_digest(pair.b)),
                )
                for key, pair in self.staged_components(upload_id).items()
            }
        out: dict[str, tuple[bytes, bytes]] = {}
        for col in layout["columns"]:
            for part in col["parts"]:
                a, b = col["digests"][part]
                out[f"{col['column']}.{part}"] = (bytes.fromhex(a), bytes.fromhex(b))
        a, b = layout["valid"]["digests"]
        out[VALID] = (bytes.fromhex(a), bytes.fromhex(b))
        return out

    # -- tables ----------------------------------------------------------------------

    def record_definition(self, upload_id: str, table: str, definition: Any) -> None:
        """Record what a derived table's (prepared) upload was made from (JSON)."""
        check_name(upload_id, "upload id")
        self.catalog.put_definition(upload_id, table, definition)

    def definition(self, upload_id: str) -> Any:
        """What the table version ``upload_id`` was made from (a derived table's recorded
        definition), or None for an ordinary upload."""
        return self.catalog.definition(upload_id)

    def list_tables(self) -> list[dict[str, Any]]:
        """Public descriptions of every committed table, by name."""
        return [t.public() for t in self.catalog.tables()]

    def table_info(self, name: str) -> dict[str, Any]:
        """Public description of one committed table.

        Raises
        ------
        TableNotFoundError
            No such table.
        """
        rec = self.catalog.get_table(name)
        if rec is None:
            raise TableNotFoundError(f"no table {name!r}")
        return rec.public()

    def load_table(self, name: str, columns: Sequence[str] | None = None) -> LoadedTable:
        """Load the current version of a table (or some of its columns), verified.

        Raises
        ------
        TableNotFoundError
            No such table.
        ShareIntegrityError
            A share file is missing, corrupted or does not match the catalog; the error
            names the table and the column.
        """
        last: ShareIntegrityError | None = None
        for _ in range(10):
            rec = self.catalog.get_table(name)
            if rec is None:
                raise TableNotFoundError(f"no table {name!r}")
            try:
                return self._load(rec, columns)
            except ShareIntegrityError as exc:
                # A concurrent commit may have replaced the version being read: retry.
                again = self.catalog.get_table(name)
                if again is None or again.upload_id == rec.upload_id:
                    raise
                last = exc
        assert last is not None
        raise last

    def _load(self, rec: TableRecord, columns: Sequence[str] | None) -> LoadedTable:
        directory = self._version_dir(rec.name, rec.upload_id)
        layouts = {c["column"]: c for c in rec.layout["columns"]}
        wanted = list(layouts) if columns is None else list(columns)
        for c in wanted:
            if c not in layouts:
                raise InputValidationError(f"table {rec.name!r} has no such column", column=c)
        cols = {
            c: read_column(directory, layouts[c], table=rec.name, upload_id=rec.upload_id)
            for c in wanted
        }
        valid = read_valid(directory, rec.layout["valid"], table=rec.name, upload_id=rec.upload_id)
        meta = rec.public()
        meta["upload_id"] = rec.upload_id
        combined = combined_digests(rec.layout) if columns is None else None
        if combined is not None:
            meta["component_digests"] = [combined[0].hex(), combined[1].hex()]
        return LoadedTable(meta, cols, valid)

    def drop_table(self, name: str, *, owner: str | None = None) -> None:
        """Remove a table's catalog row, then its files.

        Raises
        ------
        TableNotFoundError
            No such table.
        TableOwnerError
            ``owner`` is given and is not the table's owner.
        """
        with self._lock:
            rec = self.catalog.get_table(name)
            if rec is None:
                raise TableNotFoundError(f"no table {name!r}")
            if owner is not None and rec.owner != owner:
                raise TableOwnerError(f"table {name!r} belongs to another member")
            self.catalog.delete_table(name)
            self._remove(self.tables / name)
        log.info("dropped a table")  # the audit names it; the log does not

    def destroy_table(self, name: str) -> TableRecord:
        """Destroy a table for good (retention): catalog row, share files, upload ids.

        The catalog row goes first (no query can load the table after that), then every
        share file is overwritten and unlinked, then the table's committed upload rows
        are scrubbed (:meth:`Catalog.scrub_uploads`). Returns the removed record.

        Raises
        ------
        TableNotFoundError
            No such table.
        """
        with self._lock:
            rec = self.catalog.get_table(name)
            if rec is None:
                raise TableNotFoundError(f"no table {name!r}")
            self.catalog.delete_table(name)
            self._remove(self.tables / name)
            self.catalog.scrub_uploads(name, self.catalog.committed_uploads(name))
        log.info("destroyed a table at its retention")  # the audit names it
        return rec

    def destroy_version(self, table: str, upload_id: str) -> None:
        """Destroy a replaced version of ``table`` (erasure): its files (if still there)
        and its upload id in the catalog.

        Raises
        ------
        UploadStateError
            ``upload_id`` is the table's current version.
        """
        with self._lock:
            rec = self.catalog.get_table(table)
            if rec is not None and rec.upload_id == upload_id:
                raise UploadStateError(f"upload {upload_id!r} is the current version")
            self._remove(self._version_dir(table, upload_id))
            self.catalog.scrub_uploads(table, [upload_id])

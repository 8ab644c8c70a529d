"""Checking a node's data directory against its catalog, and finishing interrupted commits.

:meth:`Store.fsck <sharelake.storage.store.Store.fsck>` reports (and with ``repair=True``
removes or completes) what a crash or a tampered disk leaves behind: temporary files,
orphan or broken staging directories, prepared uploads without files, unreferenced
version directories and missing or corrupt share files of visible tables. On open, a
store finishes the commits that crashed between the rename and the catalog transaction
(:attr:`Store.recovered <sharelake.storage.store.Store.recovered>`). The methods live in
:class:`FsckMixin`, which :class:`~sharelake.storage.store.Store` inherits; the crash
cases are listed in :mod:`sharelake.storage.store`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .catalog import Catalog, UploadRecord
from .shares import TMP_SUFFIX, ShareIntegrityError

__all__ = ["FsckMixin", "Problem", "ProblemKind"]

log = logging.getLogger("sharelake.storage.store")  # the store's log, as before the split


ProblemKind = Literal[
    "temp_file",
    "orphan_staging",
    "corrupt_staging",
    "missing_staging",
    "unfinished_commit",
    "unreferenced_files",
    "missing_files",
    "corrupt_share",
]


@dataclass(frozen=True)
class Problem:
    """One finding of :meth:`Store.fsck` (``path`` is relative to the data directory)."""

    kind: ProblemKind
    path: str
    detail: str
    repaired: bool = False

    def __str__(self) -> str:
        done = " (repaired)" if self.repaired else ""
        return f"{self.kind}: {self.path}: {self.detail}{done}"


class FsckMixin:
    """:meth:`fsck` and crash recovery of a :class:`~sharelake.storage.store.Store`."""

    root: Path
    staging: Path
    tables: Path
    catalog: Catalog
    _lock: threading.RLock

    if TYPE_CHECKING:  # defined by Store

        def _version_dir(self, table: str, upload_id: str) -> Path: ...

        def _rel(self, path: Path) -> str: ...

        def _remove(self, path: Path) -> None: ...

        def _verify_dir(self, directory: Path, table: str, upload_id: str, layout: Any) -> None: ...

    def _recover(self) -> list[Problem]:
        """Remove stale staging (``.tmp``) of interrupted writes; finish crashed commits.

        Runs when a store opens, before anything can write to it (one node process per
        data directory), so every temporary file or directory found is stale.
        """
        found: list[Problem] = []
        with self._lock:
            found += self._fsck_temp(True)
            for up in self.catalog.uploads("prepared"):
                dst = self._version_dir(up.table, up.upload_id)
                if (self.staging / up.upload_id).is_dir() or not dst.is_dir():
                    continue
                found.append(self._finish_commit(up, dst))
        for p in found:
            log.warning("recovery: %s", p)
        return found

    def _finish_commit(self, up: UploadRecord, dst: Path) -> Problem:
        rel = self._rel(dst)
        try:
            self._verify_dir(dst, up.table, up.upload_id, up.layout)
        except ShareIntegrityError as exc:
            self._remove(dst)
            self.catalog.set_aborted(up.upload_id)
            return Problem("unfinished_commit", rel, f"aborted, files do not verify: {exc}", True)
        version, previous = self.catalog.commit(up.upload_id)
        if previous is not None and previous != up.upload_id:
            self._remove(self._version_dir(up.table, previous))
        return Problem("unfinished_commit", rel, f"completed as version {version}", True)

    def fsck(self, *, repair: bool = False) -> list[Problem]:
        """Check the data directory against the catalog; verify every share file.

        Reports temporary files of interrupted writes, staging directories without a
        prepared upload (or with broken files), prepared uploads without files, version
        directories the catalog does not reference, and missing or corrupt share files of
        visible tables. With ``repair=True`` it removes garbage, aborts prepared uploads
        whose files are broken and completes interrupted commits; corrupt files of
        visible tables cannot be repaired locally and are only reported.

        Returns
        -------
        list of Problem
            Empty when everything is consistent.
        """
        out: list[Problem] = []
        with self._lock:
            out += self._fsck_temp(repair)
            out += self._fsck_staging(repair)
            out += self._fsck_tables(repair)
        return out

    def _fsck_temp(self, repair: bool) -> list[Problem]:
        out = []
        for base in (self.staging, self.tables):
            for path in sorted(base.rglob(f"*{TMP_SUFFIX}")):
                if not path.exists():
                    continue  # inside a temp directory already removed
                if repair:
                    self._remove(path)
                out.append(Problem("temp_file", self._rel(path), "interrupted write", repair))
        return out

    def _fsck_staging(self, repair: bool) -> list[Problem]:
        out = []
        prepared = {u.upload_id: u for u in self.catalog.uploads("prepared")}
        for path in sorted(self.staging.iterdir()):
            if path.name.endswith(TMP_SUFFIX):
                continue
            up = prepared.get(path.name)
            if up is None:
                if repair:
                    self._remove(path)
                out.append(Problem("orphan_staging", self._rel(path), "no prepared upload", repair))
                continue
            try:
                self._verify_dir(path, up.table, up.upload_id, up.layout)
            except ShareIntegrityError as exc:
                if repair:
                    self._remove(path)
                    self.catalog.set_aborted(up.upload_id)
                out.append(Problem("corrupt_staging", self._rel(path), str(exc), repair))
        for up in prepared.values():
            dst = self._version_dir(up.table, up.upload_id)
            if (self.staging / up.upload_id).is_dir():
                continue
            if dst.is_dir():
                if repair:
                    out.append(self._finish_commit(up, dst))
                else:
                    out.append(Problem("unfinished_commit", self._rel(dst), "rename done"))
                continue
            if repair:
                self.catalog.set_aborted(up.upload_id)
            out.append(
                Problem("missing_staging", f"staging/{up.upload_id}", "no staged files", repair)
            )
        return out

    def _fsck_tables(self, repair: bool) -> list[Problem]:
        out = []
        current = {t.name: t for t in self.catalog.tables()}
        prepared = {u.upload_id for u in self.catalog.uploads("prepared")}
        for tdir in sorted(self.tables.iterdir()):
            rec = current.get(tdir.name)
            entries = sorted(tdir.iterdir()) if tdir.is_dir() else [tdir]
            for path in entries:
                if path.name.endswith(TMP_SUFFIX) or path.name in prepared:
                    continue
                if rec is not None and path.name == rec.upload_id:
                    continue
                if repair:
                    self._remove(path)
                out.append(
                    Problem("unreferenced_files", self._rel(path), "not a current version", repair)
                )
            if repair and rec is None and tdir.is_dir() and not any(tdir.iterdir()):
                self._remove(tdir)
        for rec in current.values():
            directory = self._version_dir(rec.name, rec.upload_id)
            if not directory.is_dir():
                out.append(Problem("missing_files", self._rel(directory), "version dir missing"))
                continue
            try:
                self._verify_dir(directory, rec.name, rec.upload_id, rec.layout)
            except ShareIntegrityError as exc:
                out.append(Problem("corrupt_share", self._rel(directory), str(exc)))
            known = {c["file"] for c in rec.layout["columns"]} | {rec.layout["valid"]["file"]}
            for path in sorted(directory.iterdir()):
                if path.name not in known and not path.name.endswith(TMP_SUFFIX):
                    if repair:
                        self._remove(path)
                    out.append(Problem("unreferenced_files", self._rel(path), "stray file", repair))
        return out

"""Destroying share files: overwrite in place, flush, then unlink.

A share file that is only unlinked stays on the disk until its blocks are reused; a
retention deadline or an erasure must destroy it. :func:`shred_file` overwrites the
whole file with random bytes, ``fsync``\\ s it, truncates it, and unlinks it;
:func:`shred_tree` does that to every file below a directory, then removes the
directories (and fsyncs the parent).

LIMITS (SECURITY.md, docs/privacy.md): on copy-on-write file systems (btrfs, ZFS), on
SSDs with wear levelling, and in snapshots or backups, an overwrite in place need not
reach the old blocks. Nodes should keep their data directory on an encrypted volume;
the overwrite is the part of destruction a process can do.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp()) / "v1"
>>> d.mkdir(); _ = (d / "c0.slsb").write_bytes(b"share bytes")
>>> shred_tree(d), d.exists()
(1, False)
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

__all__ = ["shred_file", "shred_tree"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


def shred_file(path: Path) -> None:
    """Overwrite ``path`` with random bytes, fsync, truncate, unlink (missing: no-op)."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        done = 0
        while done < size:
            n = min(_CHUNK, size - done)
            done += os.pwrite(fd, os.urandom(n), done)
        os.fsync(fd)
        os.ftruncate(fd, 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink(missing_ok=True)


def shred_tree(path: Path) -> int:
    """Shred every regular file below ``path`` (or ``path`` itself), then remove it.

    Returns the number of files shredded. Symbolic links are unlinked, never followed.
    """
    if not path.exists() and not path.is_symlink():
        return 0
    count = 0
    if path.is_symlink() or path.is_file():
        if path.is_file() and not path.is_symlink():
            shred_file(path)
            count = 1
        else:
            path.unlink(missing_ok=True)
    else:
        for root, dirs, files in os.walk(path, followlinks=False):
            for name in files:
                f = Path(root) / name
                if f.is_symlink():
                    f.unlink(missing_ok=True)
                else:
                    shred_file(f)
                    count += 1
            for name in dirs:
                d = Path(root) / name
                if d.is_symlink():
                    d.unlink(missing_ok=True)
        shutil.rmtree(path, ignore_errors=True)
    try:
        fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        log.warning("could not fsync a directory after destroying files: %s", exc.strerror)
    return count

"""Share files: one checksummed bundle per column of a table version, written atomically.

A table version lives in one directory of a node's data directory::

    <version dir>/c0.slsb, c1.slsb, ...   one file per column (every part of it)
    <version dir>/_valid.slsb             the validity bit of every row

A column file is a share bundle (:mod:`sharelake.storage.bundle`) whose meta names the
table, the column and the upload that wrote it, and whose arrays are ``"<part>.a"`` and
``"<part>.b"`` for each part of the column (``values``, ``null``, ``text``): this node's
pair of components. Files are named by position, not by column name, so any column name
is safe on any file system; the catalog's *layout* maps names to files and records the
shape of every part, and :func:`read_column` checks the file against it.

Writes are atomic: a temporary file in the same directory (mode 0600), flush and fsync,
``os.replace``, then fsync of the directory. A crash leaves either the old file or the
new one, never a torn file; the temporary files of an interrupted write are named
``.*.tmp`` and are removed by ``Store.fsck(repair=True)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InputValidationError, SharelakeError
from ..mpc.shares import AShare
from .bundle import BundleError, bundle_parts, decode_bundle

FILE_MODE = 0o600
DIR_MODE = 0o700
SUFFIX = ".slsb"
TMP_SUFFIX = ".tmp"
VALID_FILE = "_valid" + SUFFIX
VALID = "_valid"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$")
_PART = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

#: A party's pair of components: an :class:`AShare` or a tuple ``(a, b)`` of arrays.
PairLike = AShare | tuple[npt.NDArray[Any], npt.NDArray[Any]]

#: Layout of one column file: ``{"column", "file", "parts": {part: shape}}``.
ColumnLayout = dict[str, Any]


class ShareIntegrityError(SharelakeError):
    """A stored share file is missing, corrupted or does not match the catalog.

    ``table`` and ``column`` name what could not be loaded (never a value).
    """

    def __init__(self, message: str, *, table: str, column: str) -> None:
        super().__init__(f"table {table!r}, column {column!r}: {message}")
        self.table = table
        self.column = column


def as_pair(x: PairLike, *, what: str) -> AShare:
    """Check ``x`` is a pair of equally shaped uint64 arrays; return it as an AShare."""
    a, b = (x.a, x.b) if isinstance(x, AShare) else x
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    if a.dtype != np.uint64 or b.dtype != np.uint64:
        raise InputValidationError(f"{what}: shares must be uint64 arrays")
    if a.shape != b.shape:
        raise InputValidationError(f"{what}: the two components differ in shape")
    return AShare(a, b)


def fsync_dir(path: Path) -> None:
    """Flush a directory entry (a rename or unlink in it) to disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dir(path: Path) -> None:
    """Create ``path`` (mode 0700) and its parents if missing; fsync the parent."""
    if path.is_dir():
        return
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename), mode 0600.

    With ``sync_dir=False`` the caller fsyncs the directory once after several writes.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{TMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def column_file(index: int) -> str:
    """File name of the column at position ``index``."""
    return f"c{index}{SUFFIX}"


def component_digest(arr: npt.NDArray[Any]) -> str:
    """Hex SHA-256 of one share component's little-endian bytes."""
    return hashlib.sha256(np.ascontiguousarray(arr, dtype="<u8").data).hexdigest()


#: Per column, per part, the digests of this node's two components; and of the validity.
Digests = tuple[dict[str, dict[str, list[str]]], list[str]]


def component_digests(columns: Mapping[str, Mapping[str, AShare]], valid: AShare) -> Digests:
    """The digest of every component of an upload (each byte hashed once)."""
    cols = {
        name: {part: [component_digest(x.a), component_digest(x.b)] for part, x in parts.items()}
        for name, parts in columns.items()
    }
    return cols, [component_digest(valid.a), component_digest(valid.b)]


def combined_digests(layout: Mapping[str, Any]) -> tuple[bytes, bytes] | None:
    """SHA-256 over every first (second) component digest of a layout, in catalog order
    (columns, their parts, then validity); None when the layout has no digests."""
    ha = hashlib.sha256(b"sharelake-components-v1\x00")
    hb = hashlib.sha256(b"sharelake-components-v1\x00")
    pairs: list[Any] = []
    for col in layout["columns"]:
        if "digests" not in col:
            return None
        pairs += [col["digests"][part] for part in col["parts"]]
    if "digests" not in layout["valid"]:
        return None
    for a, b in [*pairs, layout["valid"]["digests"]]:
        ha.update(bytes.fromhex(a))
        hb.update(bytes.fromhex(b))
    return ha.digest(), hb.digest()


def _write_new(path: Path, meta: Mapping[str, Any], arrays: Mapping[str, Any]) -> None:
    """Stream a bundle into a new file (no copy of the arrays; not yet fsynced)."""
    head, parts = bundle_parts(meta, arrays)
    h = hashlib.sha256(head)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb", buffering=0) as f:
        f.write(head)
        for part in parts:
            h.update(part)
            view, done = part, 0
            while done < view.nbytes:
                done += f.write(view[done:]) or 0
        f.write(h.digest())


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_table_files(
    directory: Path,
    *,
    table: str,
    upload_id: str,
    columns: Mapping[str, Mapping[str, AShare]],
    valid: AShare,
    digests: Digests | None = None,
) -> dict[str, Any]:
    """Write every column and the validity shares of one table version into ``directory``.

    Parameters
    ----------
    directory
        The (new, empty) version or staging directory; created if missing.
    table, upload_id
        Recorded in every file's meta and checked at load.
    columns
        Column name -> part name (``values``, ``null``, ``text``) -> this node's pair.
    valid
        This node's pair of the validity bits.

    digests
        The :func:`component_digests` of the upload, if already computed.

    Returns
    -------
    dict
        The layout to keep in the catalog: ``{"columns": [ColumnLayout...],
        "valid": {"file", "shape", "digests"}}``; each column layout also holds the
        ``"digests"`` of its parts' components (for the cross-node checks).

    Notes
    -----
    Each file is streamed from the arrays' memory (no copy) into a temporary name; all
    files are fsynced after all are written (so the disk works while the next one is
    hashed), then renamed, then the directory is fsynced once.
    """
    make_dir(directory)
    col_digests, valid_digests = digests or component_digests(columns, valid)
    layout: list[ColumnLayout] = []
    files: list[tuple[Path, Path]] = []

    def write(name: str, meta: Mapping[str, Any], arrays: Mapping[str, Any]) -> None:
        final = directory / name
        tmp = final.with_name(f".{name}.{secrets.token_hex(6)}{TMP_SUFFIX}")
        files.append((tmp, final))
        _write_new(tmp, meta, arrays)

    try:
        for i, (name, parts) in enumerate(columns.items()):
            arrays: dict[str, npt.NDArray[Any]] = {}
            shapes: dict[str, list[int]] = {}
            for part, pair in parts.items():
                arrays[f"{part}.a"] = pair.a
                arrays[f"{part}.b"] = pair.b
                shapes[part] = list(pair.a.shape)
            write(column_file(i), {"table": table, "column": name, "upload_id": upload_id}, arrays)
            layout.append(
                {
                    "column": name,
                    "file": column_file(i),
                    "parts": shapes,
                    "digests": {part: col_digests[name][part] for part in parts},
                }
            )
        meta = {"table": table, "column": VALID, "upload_id": upload_id}
        write(VALID_FILE, meta, {"valid.a": valid.a, "valid.b": valid.b})
        for tmp, _ in files:
            _fsync_file(tmp)
        for tmp, final in files:
            os.replace(tmp, final)
    except BaseException:
        for tmp, _ in files:
            tmp.unlink(missing_ok=True)
        raise
    fsync_dir(directory)
    return {
        "columns": layout,
        "valid": {"file": VALID_FILE, "shape": list(valid.a.shape), "digests": valid_digests},
    }


def _read_bundle(path: Path, *, table: str, column: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        size = path.stat().st_size
        buf = bytearray(size)
        with path.open("rb") as f:
            got = f.readinto(buf)
    except FileNotFoundError:
        raise ShareIntegrityError(
            f"share file {path.name} is missing", table=table, column=column
        ) from None
    except OSError as exc:
        raise ShareIntegrityError(
            f"share file {path.name} unreadable ({exc.strerror})", table=table, column=column
        ) from exc
    if got != size:
        raise ShareIntegrityError(f"share file {path.name} truncated", table=table, column=column)
    try:
        # A bytearray buffer gives writable arrays without a copy.
        return decode_bundle(buf, what=path.name)
    except BundleError as exc:
        raise ShareIntegrityError(str(exc), table=table, column=column) from exc


def _check_meta(
    meta: Mapping[str, Any], *, path: Path, table: str, column: str, upload_id: str
) -> None:
    want = {"table": table, "column": column, "upload_id": upload_id}
    for key, value in want.items():
        if meta.get(key) != value:
            raise ShareIntegrityError(
                f"share file {path.name} belongs to another {key} than the catalog says",
                table=table,
                column=column,
            )


def _pair(
    arrays: Mapping[str, npt.NDArray[Any]],
    part: str,
    shape: Iterable[int],
    *,
    path: Path,
    table: str,
    column: str,
) -> AShare:
    want = tuple(int(s) for s in shape)
    out = []
    for side in ("a", "b"):
        arr = arrays.get(f"{part}.{side}")
        if arr is None or arr.dtype != np.uint64 or arr.shape != want:
            raise ShareIntegrityError(
                f"share file {path.name}: part {part!r} is missing or has the wrong "
                f"type or shape (expected {list(want)})",
                table=table,
                column=column,
            )
        out.append(arr)
    return AShare(out[0], out[1])


def read_column(
    directory: Path, layout: Mapping[str, Any], *, table: str, upload_id: str
) -> dict[str, AShare]:
    """Load and verify one column file against its catalog layout.

    Raises
    ------
    ShareIntegrityError
        The file is missing, fails its checksum, names another table, column or upload,
        or its arrays differ in name or shape from ``layout``.
    """
    column = str(layout["column"])
    path = directory / str(layout["file"])
    meta, arrays = _read_bundle(path, table=table, column=column)
    _check_meta(meta, path=path, table=table, column=column, upload_id=upload_id)
    parts: Mapping[str, Any] = layout["parts"]
    expected = {f"{p}.{s}" for p in parts for s in ("a", "b")}
    if set(arrays) != expected:
        raise ShareIntegrityError(
            f"share file {path.name} holds other parts than the catalog says",
            table=table,
            column=column,
        )
    return {
        part: _pair(arrays, part, shape, path=path, table=table, column=column)
        for part, shape in parts.items()
    }


def read_valid(directory: Path, layout: Mapping[str, Any], *, table: str, upload_id: str) -> AShare:
    """Load and verify the validity shares of a table version (see :func:`read_column`)."""
    path = directory / str(layout["file"])
    meta, arrays = _read_bundle(path, table=table, column=VALID)
    _check_meta(meta, path=path, table=table, column=VALID, upload_id=upload_id)
    if set(arrays) != {"valid.a", "valid.b"}:
        raise ShareIntegrityError(
            f"share file {path.name} holds other arrays than the catalog says",
            table=table,
            column=VALID,
        )
    return _pair(arrays, "valid", layout["shape"], path=path, table=table, column=VALID)


def columns_from_arrays(
    arrays: Mapping[str, npt.NDArray[Any]],
) -> dict[str, dict[str, AShare]]:
    """Group wire arrays ``"<col>.<part>.a"`` / ``"<col>.<part>.b"`` into column pairs.

    Column order is the order of first appearance. A column name may itself contain
    dots (the part and side are taken from the right).

    Raises
    ------
    InputValidationError
        A name is not of that form, or a part lacks one of its two components.
    """
    sides: dict[str, dict[str, dict[str, npt.NDArray[Any]]]] = {}
    for key, arr in arrays.items():
        bits = key.rsplit(".", 2)
        if len(bits) != 3 or not bits[0] or not bits[1] or bits[2] not in ("a", "b"):
            raise InputValidationError(f"array {key!r}: expected '<column>.<part>.a|b'")
        col, part, side = bits
        sides.setdefault(col, {}).setdefault(part, {})[side] = arr
    out: dict[str, dict[str, AShare]] = {}
    for col, parts in sides.items():
        out[col] = {}
        for part, pair in parts.items():
            if set(pair) != {"a", "b"}:
                raise InputValidationError(
                    f"part {part!r} needs both components '.a' and '.b'", column=col
                )
            out[col][part] = as_pair((pair["a"], pair["b"]), what=f"{col}.{part}")
    return out


def columns_to_arrays(
    columns: Mapping[str, Mapping[str, PairLike]],
) -> dict[str, npt.NDArray[Any]]:
    """The inverse of :func:`columns_from_arrays`: flat ``"<col>.<part>.a|b"`` arrays."""
    out: dict[str, npt.NDArray[Any]] = {}
    for col, parts in columns.items():
        for part, x in parts.items():
            pair = as_pair(x, what=f"{col}.{part}")
            out[f"{col}.{part}.a"] = pair.a
            out[f"{col}.{part}.b"] = pair.b
    return out


def check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InputValidationError(
            f"{what} must be 1-128 letters, digits, '_' or '-' (not starting with '-')"
        )
    return value


def upload_digest(
    *,
    table: str,
    owner: str,
    rows: int,
    schema: Any,
    policy: Any,
    columns: Mapping[str, Mapping[str, AShare]],
    valid: AShare,
    digests: Digests | None = None,
) -> str:
    """SHA-256 (hex) of one node's upload: its public description and the digest of
    every share component (:func:`component_digests`, computed here when not given)."""
    shapes = [
        [name, [[p, list(x.a.shape)] for p, x in parts.items()]] for name, parts in columns.items()
    ]
    try:
        head = json.dumps(
            {
                "table": table,
                "owner": owner,
                "rows": rows,
                "schema": schema,
                "policy": policy,
                "columns": shapes,
                "valid": list(valid.a.shape),
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InputValidationError("schema and policy must be JSON values") from exc
    col_digests, valid_digests = digests or component_digests(columns, valid)
    h = hashlib.sha256(b"sharelake-upload-v2\0")
    h.update(len(head).to_bytes(8, "little"))
    h.update(head)
    pairs = [col_digests[c][p] for c, parts in columns.items() for p in parts] + [valid_digests]
    for a, b in pairs:
        h.update(bytes.fromhex(a))
        h.update(bytes.fromhex(b))
    return h.hexdigest()


def normalise_upload(
    schema: Any,
    rows: int,
    columns: Mapping[str, Mapping[str, PairLike]],
    valid: PairLike,
) -> tuple[dict[str, dict[str, AShare]], AShare]:
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise InputValidationError("rows must be a non-negative integer")
    names = [c.get("name") if isinstance(c, Mapping) else None for c in schema or []]
    if not isinstance(schema, list) or names != list(columns):
        raise InputValidationError(
            "schema must be a list of column objects whose names are the uploaded columns, in order"
        )
    out: dict[str, dict[str, AShare]] = {}
    for name, parts in columns.items():
        if not isinstance(name, str) or not name:
            raise InputValidationError("column names must be non-empty strings")
        if not parts:
            raise InputValidationError("a column needs at least one part", column=name)
        out[name] = {}
        for part, x in parts.items():
            if not _PART.match(part):
                raise InputValidationError(f"bad part name {part!r}", column=name)
            pair = as_pair(x, what=f"column {name!r} part {part!r}")
            if pair.a.ndim == 0 or pair.a.shape[0] != rows:
                raise InputValidationError(f"part {part!r} does not have {rows} rows", column=name)
            out[name][part] = pair
    v = as_pair(valid, what="validity shares")
    if v.a.shape != (rows,):
        raise InputValidationError(f"validity shares must have shape ({rows},)")
    return out, v

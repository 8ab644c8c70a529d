"""The share bundle: a JSON header and raw uint64 arrays, checksummed. No pickle.

One format serves the wire (a client's upload to a node, a node's result shares to a
client) and the disk (a node's share files)::

    magic  b"SLSB" | version u16 | header length u32 | header (UTF-8 JSON)
    payload: the arrays, little-endian, in header order
    trailer: SHA-256 of everything before it (32 bytes)

The header holds free-form metadata under ``"meta"`` and, under ``"arrays"``, the
name, dtype (``"u64"`` or ``"u8"``) and shape of every array. Decoding checks the magic,
version, sizes and checksum and raises :class:`BundleError` naming ``what`` (e.g. the
table and column) on any mismatch.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import SharelakeError

MAGIC = b"SLSB"
VERSION = 1
_PREFIX = struct.Struct("<4sHI")
_DTYPES: dict[str, np.dtype[Any]] = {"u64": np.dtype("<u8"), "u8": np.dtype("u1")}
_NAMES = {np.dtype("<u8"): "u64", np.dtype("u1"): "u8"}
MAX_HEADER = 16 << 20
#: Length of the SHA-256 trailer that ends every bundle.
TRAILER = 32


class BundleError(SharelakeError, ValueError):
    """A bundle is truncated, corrupted or malformed."""


def bundle_parts(
    meta: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]]
) -> tuple[bytes, list[memoryview]]:
    """The head (magic, version, header) and the array buffers of a bundle, uncopied.

    The bundle is the head, then the buffers, then the SHA-256 of all of them: this lets
    a writer stream a large bundle to a file or socket without building it in memory.
    """
    specs = []
    parts: list[memoryview] = []
    for name, arr in arrays.items():
        a = np.ascontiguousarray(arr)
        if a.dtype not in _NAMES:
            raise BundleError(f"array {name!r}: dtype {a.dtype} not allowed (uint64 or uint8)")
        specs.append({"name": name, "dtype": _NAMES[a.dtype], "shape": list(a.shape)})
        parts.append(
            a.astype(a.dtype.newbyteorder("<"), copy=False).reshape(-1).view(np.uint8).data
        )
    return bundle_head(meta, specs), parts


def bundle_head(meta: Mapping[str, Any], specs: Sequence[Mapping[str, Any]]) -> bytes:
    """The head of a bundle: magic, version, header length and the JSON header.

    ``specs`` lists every array as ``{"name", "dtype" ("u64" | "u8"), "shape"}``, in payload
    order. A writer that fills the payload itself (the client's upload bundles are written
    in place by the PRG) appends the arrays and then the SHA-256 of everything before it
    (:data:`TRAILER` bytes).
    """
    header = json.dumps({"meta": dict(meta), "arrays": list(specs)}, sort_keys=True)
    data = header.encode("utf-8")
    return _PREFIX.pack(MAGIC, VERSION, len(data)) + data


def encode_bundle(meta: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]]) -> bytes:
    """Serialise ``meta`` and ``arrays`` (uint64 or uint8) into one checksummed bundle."""
    head, parts = bundle_parts(meta, arrays)
    h = hashlib.sha256(head)
    for part in parts:
        h.update(part)
    return b"".join([head, *parts, h.digest()])  # one copy of the payload


def decode_bundle(
    data: bytes | bytearray | memoryview, *, what: str = "bundle", checksum: bytes | None = None
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """Parse and verify a bundle; returns (meta, arrays), views of ``data`` (read-only
    when ``data`` is).

    ``checksum``, when given, is the SHA-256 of ``data`` without its 32-byte trailer,
    already computed by the caller while receiving it: it is compared with the trailer
    instead of hashing ``data`` again.
    """
    buf = memoryview(data).cast("B")
    if len(buf) < _PREFIX.size + 32:
        raise BundleError(f"{what}: truncated ({len(buf)} bytes)")
    magic, version, hlen = _PREFIX.unpack_from(buf, 0)
    if magic != MAGIC:
        raise BundleError(f"{what}: not a sharelake share bundle")
    if version != VERSION:
        raise BundleError(f"{what}: unsupported bundle version {version}")
    if hlen > MAX_HEADER or _PREFIX.size + hlen + 32 > len(buf):
        raise BundleError(f"{what}: header length out of range")
    body_end = len(buf) - 32
    if checksum is None:
        checksum = hashlib.sha256(buf[:body_end]).digest()
    if checksum != bytes(buf[body_end:]):
        raise BundleError(f"{what}: checksum mismatch (file or message corrupted)")
    try:
        header = json.loads(bytes(buf[_PREFIX.size : _PREFIX.size + hlen]).decode("utf-8"))
        specs = header["arrays"]
        meta = header["meta"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{what}: malformed header") from exc
    pos = _PREFIX.size + hlen
    arrays: dict[str, npt.NDArray[Any]] = {}
    for spec in specs:
        try:
            dt = _DTYPES[spec["dtype"]]
            shape = tuple(int(s) for s in spec["shape"])
            name = str(spec["name"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{what}: malformed array entry") from exc
        if any(s < 0 for s in shape):
            raise BundleError(f"{what}: negative array size")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if pos + nbytes > body_end:
            raise BundleError(f"{what}: array {name!r} runs past the end")
        arrays[name] = np.frombuffer(buf[pos : pos + nbytes], dtype=dt).reshape(shape)
        pos += nbytes
    if pos != body_end:
        raise BundleError(f"{what}: trailing bytes after the arrays")
    return meta, arrays

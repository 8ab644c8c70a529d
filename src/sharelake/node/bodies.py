"""Receive a large request body once: into one buffer, hashed as it arrives.

An upload's body is a share bundle (``storage/bundle.py``) of up to a few hundred MB.
:func:`receive_body` copies each network chunk once into a buffer of the announced
``Content-Length`` and feeds a single SHA-256 as the chunks arrive, holding back the
last 32 bytes. That one pass gives both the SHA-256 of the bundle without its trailer
(its checksum, compared with the trailer by ``decode_bundle(checksum=...)``) and the
SHA-256 of the whole body (for the request signature): nothing is hashed twice and the
body is never joined from a list of chunks.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from fastapi import Request

from ..errors import InputValidationError

__all__ = ["Body", "receive_body"]

TRAILER = 32


class Body(NamedTuple):
    """A received body: its bytes, hex SHA-256, and SHA-256 without the last 32 bytes."""

    data: bytearray
    sha256: str
    checksum: bytes | None


async def receive_body(request: Request, *, limit: int = 1 << 34) -> Body:
    """Read the whole body of ``request`` (see the module docstring).

    Raises
    ------
    InputValidationError
        The body is longer or shorter than its ``Content-Length``, or over ``limit``.
    """
    text = request.headers.get("content-length", "")
    if not text.isdigit():
        raw = bytearray(await request.body())
        n = len(raw)
        checksum = hashlib.sha256(raw[: n - TRAILER]).digest() if n >= TRAILER else None
        return Body(raw, hashlib.sha256(raw).hexdigest(), checksum)
    n = int(text)
    if n > limit:
        raise InputValidationError(f"the request body is over {limit} bytes")
    buf = bytearray(n)
    view = memoryview(buf)
    h = hashlib.sha256()
    pos = hashed = 0
    cut = max(n - TRAILER, 0)
    async for chunk in request.stream():
        k = len(chunk)
        if pos + k > n:
            raise InputValidationError("the request body is longer than its Content-Length")
        view[pos : pos + k] = chunk
        pos += k
        upto = min(pos, cut)
        if upto > hashed:
            h.update(view[hashed:upto])
            hashed = upto
    if pos != n:
        raise InputValidationError("the request body is shorter than its Content-Length")
    checksum = h.copy().digest() if n >= TRAILER else None
    h.update(view[hashed:n])
    return Body(buf, h.hexdigest(), checksum)

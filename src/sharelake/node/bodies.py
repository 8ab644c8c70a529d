"""Receive a request body once, under a size cap, hashed as it arrives.

An upload's body is a share bundle (``storage/bundle.py``) of up to a few hundred MB.
:func:`receive_body` refuses a ``Content-Length`` over the endpoint's cap before reading
a byte, then appends each network chunk to one growing buffer (never allocated from the
announced length: a client that announces 16 GiB and sends nothing costs nothing) and
feeds a single SHA-256 as the chunks arrive, holding back the last 32 bytes. That one
pass gives both the SHA-256 of the bundle without its trailer (its checksum, compared
with the trailer by ``decode_bundle(checksum=...)``) and the SHA-256 of the whole body,
which must be the one the request signed (``X-Sharelake-Content-SHA256``, checked with
the signature before the body is read).
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from fastapi import Request

from ..consortium.signing import SignatureError
from .limits import BodyTooLargeError, MalformedBodyError

__all__ = ["Body", "receive_body"]

TRAILER = 32


class Body(NamedTuple):
    """A received body: its bytes, hex SHA-256, and SHA-256 without the last 32 bytes."""

    data: bytearray
    sha256: str
    checksum: bytes | None


def _too_large(limit: int) -> BodyTooLargeError:
    return BodyTooLargeError(f"the request body is over this endpoint's limit of {limit} bytes")


async def receive_body(request: Request, *, limit: int, sha256: str | None = None) -> Body:
    """Read the whole body of ``request`` (see the module docstring).

    Parameters
    ----------
    request
        The request, its signature already verified from the headers.
    limit
        Largest body accepted, in bytes.
    sha256
        The signed SHA-256 of the body (lowercase hex); compared once it is read.

    Raises
    ------
    BodyTooLargeError
        ``Content-Length`` or the bytes received are over ``limit``.
    MalformedBodyError
        ``Content-Length`` is not a number, or the body is longer or shorter than it.
    SignatureError
        The body is not the one the request signed.
    """
    text = request.headers.get("content-length")
    n: int | None = None
    if text is not None:
        if not text.isdigit() or len(text) > 20:
            raise MalformedBodyError("Content-Length is not a decimal number of bytes")
        n = int(text)
        if n > limit:
            raise _too_large(limit)
    buf = bytearray()
    h = hashlib.sha256()
    hashed = 0
    async for chunk in request.stream():
        if len(buf) + len(chunk) > min(limit, n if n is not None else limit):
            if n is not None and len(buf) + len(chunk) > n:
                raise MalformedBodyError("the request body is longer than its Content-Length")
            raise _too_large(limit)
        buf += chunk
        upto = len(buf) - TRAILER
        if upto > hashed:
            with memoryview(buf) as view:
                h.update(view[hashed:upto])
            hashed = upto
    size = len(buf)
    if n is not None and size != n:
        raise MalformedBodyError("the request body is shorter than its Content-Length")
    checksum = h.copy().digest() if size >= TRAILER else None
    with memoryview(buf) as view:
        h.update(view[hashed:size])
    digest = h.hexdigest()
    if sha256 is not None and digest != sha256:
        raise SignatureError(
            "the request body is not the one its signature covers "
            "(X-Sharelake-Content-SHA256 differs)"
        )
    return Body(buf, digest, checksum)

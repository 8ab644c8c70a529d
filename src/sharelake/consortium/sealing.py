"""Result shares sealed to the client that asked for them.

A query's answer at each node is that node's pair of shares of the released rows; two
answers rebuild the result. So that a copied answer (a proxy's log, a node operator
reading another node's traffic, a replay that slipped through) is useless, the client
puts a fresh X25519 public key in every signed ``/v1/queries`` request (``reply_key``,
base64 of 32 bytes; the private half stays in the client's memory for that one query),
and each node seals its answer to it (ECIES):

* the node makes its own ephemeral X25519 key and the shared secret with ``reply_key``;
* HKDF-SHA256 (RFC 5869) derives a 256-bit AES-GCM key from it, with
  ``info = "sharelake-reply-v1" || context``, where the context names the consortium, the
  node and the query's session id;
* the answer is ``b"SLKR1" || node public key (32) || nonce (12) || AES-256-GCM(bundle)``
  with the context as associated data.

Only the holder of the private half opens it, and only as the answer of that node to
that query (a node's answer cannot pass for another node's). References: RFC 7748
(X25519), RFC 5869 (HKDF), NIST SP 800-38D (GCM); the construction is ECIES as in
SEC 1 v2, section 5.1.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import AuthenticationError, InputValidationError

__all__ = [
    "SEAL_MAGIC",
    "SealError",
    "new_reply_key",
    "open_sealed",
    "parse_reply_key",
    "reply_context",
    "seal",
]

SEAL_MAGIC = b"SLKR1"
_INFO = b"sharelake-reply-v1\x00"
_RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


class SealError(AuthenticationError):
    """A sealed answer cannot be opened with this key and context (tampered or not ours)."""


def reply_context(consortium: str, node: int, session: str) -> bytes:
    """The context an answer is sealed under: consortium id, node id, session id."""
    return f"{consortium}\n{node}\n{session}".encode()


def new_reply_key() -> tuple[X25519PrivateKey, str]:
    """A fresh key pair for one query: the private key and the public key in base64.

    Examples
    --------
    >>> private, public = new_reply_key()
    >>> len(base64.b64decode(public))
    32
    """
    private = X25519PrivateKey.generate()
    return private, base64.b64encode(private.public_key().public_bytes(*_RAW)).decode("ascii")


def parse_reply_key(text: object) -> X25519PublicKey:
    """The client's public key from a request's ``reply_key``.

    Raises
    ------
    InputValidationError
        Not base64 of 32 bytes.
    """
    if not isinstance(text, str) or len(text) > 64:
        raise InputValidationError("reply_key must be base64 of a 32-byte X25519 public key")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise InputValidationError("reply_key is not valid base64") from None
    if len(raw) != 32:
        raise InputValidationError("reply_key must be base64 of a 32-byte X25519 public key")
    return X25519PublicKey.from_public_bytes(raw)


def _key(shared: bytes, context: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO + context).derive(
        shared
    )


def seal(data: bytes | bytearray, reply_key: X25519PublicKey, *, context: bytes) -> bytes:
    """Encrypt ``data`` so that only the holder of ``reply_key``'s private half reads it."""
    eph = X25519PrivateKey.generate()
    try:
        shared = eph.exchange(reply_key)
    except ValueError:  # a low-order point: no key agreement possible
        raise InputValidationError("reply_key is not a usable X25519 public key") from None
    key = _key(shared, context)
    nonce = os.urandom(12)
    body = AESGCM(key).encrypt(nonce, bytes(data), context)
    return SEAL_MAGIC + eph.public_key().public_bytes(*_RAW) + nonce + body


def open_sealed(blob: bytes, private: X25519PrivateKey, *, context: bytes) -> bytes:
    """Decrypt a sealed answer (see the module docstring).

    Raises
    ------
    SealError
        Not a sealed answer, sealed to another key, for another context, or altered.
    """
    head = len(SEAL_MAGIC)
    if len(blob) < head + 32 + 12 + 16 or blob[:head] != SEAL_MAGIC:
        raise SealError("the answer is not sealed to this query's key")
    eph = X25519PublicKey.from_public_bytes(blob[head : head + 32])
    nonce = blob[head + 32 : head + 44]
    try:
        return AESGCM(_key(private.exchange(eph), context)).decrypt(
            nonce, blob[head + 44 :], context
        )
    except (InvalidTag, ValueError):
        raise SealError(
            "the answer does not open with this query's key (sealed for another query, "
            "another node or another client, or altered)"
        ) from None

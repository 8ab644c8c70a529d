"""Request signing and verification, exactly as ``docs/node-api.md`` defines it.

Every client request carries four headers:

==========================  ==========================================================
``X-Sharelake-Member``      member name as in ``consortium.toml``
``X-Sharelake-Timestamp``   Unix seconds (decimal); refused beyond ``max_skew`` (300 s)
``X-Sharelake-Nonce``       32 hex characters, fresh per request; a replay is refused
``X-Sharelake-Signature``   base64 Ed25519 signature over the signing string
==========================  ==========================================================

The signing string (UTF-8) is::

    "sharelake-req-v1\\n" + METHOD + "\\n" + PATH + "\\n" + TIMESTAMP + "\\n" + NONCE
    + "\\n" + hex(SHA-256(body))

``METHOD`` is upper case. ``PATH`` is the request target as sent: the path, followed by
``?`` and the query string when there is one (the API's endpoints take none). The
timestamp and nonce enter exactly as they appear in their headers.

:class:`RequestVerifier` checks, in order: the headers are present and well formed;
the member exists; the timestamp is within ``max_skew`` of the node's clock; the
signature verifies; the nonce was not seen before (recorded only after the signature
verified, so unauthenticated requests cannot fill the cache). Every failure is an
:class:`~sharelake.errors.AuthenticationError` subclass (HTTP 401).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping

from cryptography.hazmat.primitives.asymmetric import ed25519

from ..errors import AuthenticationError
from .keys import SignatureError, verify
from .members import Consortium, Member

__all__ = [
    "HEADER_MEMBER",
    "HEADER_NONCE",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "MAX_SKEW",
    "SIGNING_PREFIX",
    "MalformedRequestError",
    "ReplayError",
    "RequestVerifier",
    "SignatureError",
    "StaleRequestError",
    "body_digest",
    "new_nonce",
    "sign_request",
    "signing_string",
]

HEADER_MEMBER = "X-Sharelake-Member"
HEADER_TIMESTAMP = "X-Sharelake-Timestamp"
HEADER_NONCE = "X-Sharelake-Nonce"
HEADER_SIGNATURE = "X-Sharelake-Signature"
SIGNING_PREFIX = "sharelake-req-v1"
MAX_SKEW = 300
DEFAULT_CACHE_SIZE = 100_000

_NONCE_RE = re.compile(r"[0-9a-fA-F]{32}")
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
_METHOD_RE = re.compile(r"[A-Za-z]{1,16}")


class MalformedRequestError(AuthenticationError):
    """An authentication header is missing or malformed."""


class StaleRequestError(AuthenticationError):
    """The request's timestamp is too far from the node's clock."""


class ReplayError(AuthenticationError):
    """The request's nonce was already used (a replayed request)."""


def body_digest(body: bytes | None) -> str:
    """Lowercase hex SHA-256 of the request body (of ``b""`` when there is none)."""
    return hashlib.sha256(body or b"").hexdigest()


def new_nonce() -> str:
    """A fresh nonce: 32 lowercase hex characters (128 random bits)."""
    return secrets.token_hex(16)


def _check_method_path(method: str, path: str) -> tuple[str, str]:
    if not _METHOD_RE.fullmatch(method):
        raise MalformedRequestError(f"invalid HTTP method {method!r}")
    if not path.startswith("/") or any(c in path for c in "\r\n"):
        raise MalformedRequestError("the request path must start with '/' and be one line")
    return method.upper(), path


def signing_string(
    method: str,
    path: str,
    timestamp: str,
    nonce: str,
    body: bytes | None,
    *,
    body_sha256: str | None = None,
) -> bytes:
    """The bytes a member signs for one request (see the module docstring).

    Parameters
    ----------
    method
        HTTP method; upper-cased.
    path
        Request target: path, plus ``?query`` if any.
    timestamp
        Decimal Unix seconds, as in the header.
    nonce
        As in the header.
    body
        Raw request body (``None`` or ``b""`` for none).
    body_sha256
        The body's lowercase hex SHA-256, when the caller already hashed it while
        building or receiving it (``body`` is then not hashed again).

    Returns
    -------
    bytes
        The UTF-8 signing string.
    """
    m, p = _check_method_path(method, path)
    digest = body_sha256 if body_sha256 is not None else body_digest(body)
    text = "\n".join((SIGNING_PREFIX, m, p, timestamp, nonce, digest))
    return text.encode("utf-8")


def sign_request(
    key: ed25519.Ed25519PrivateKey,
    member: str | Member,
    method: str,
    path: str,
    body: bytes | None = b"",
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
    body_sha256: str | None = None,
) -> dict[str, str]:
    """The authentication headers of one request.

    Parameters
    ----------
    key
        The member's Ed25519 private key.
    member
        The member (or its name) as listed in ``consortium.toml``.
    method, path, body
        The request exactly as it will be sent (see :func:`signing_string`).
    timestamp
        Unix seconds; now by default.
    nonce
        32 hex characters; fresh random by default. Never reuse one.
    body_sha256
        The body's hex SHA-256 when already known (see :func:`signing_string`).

    Returns
    -------
    dict of str to str
        The four ``X-Sharelake-*`` headers, to merge into the request's headers.
    """
    name = member.name if isinstance(member, Member) else member
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    n = new_nonce() if nonce is None else nonce
    if not _NONCE_RE.fullmatch(n):
        raise ValueError("a nonce is 32 hex characters")
    sig = key.sign(signing_string(method, path, ts, n, body, body_sha256=body_sha256))
    return {
        HEADER_MEMBER: name,
        HEADER_TIMESTAMP: ts,
        HEADER_NONCE: n,
        HEADER_SIGNATURE: base64.b64encode(sig).decode("ascii"),
    }


class _NonceCache:
    """Nonces seen within the replay window, bounded in size.

    Each entry expires when its request's timestamp leaves the skew window (after that
    the request is refused as stale anyway). When the cache is full, the entry that
    expires first is evicted and ``floor`` rises to its expiry: any request whose own
    expiry is not after ``floor`` is then refused, so eviction never lets a replay in.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.heap: list[tuple[float, tuple[str, str]]] = []
        self.seen: set[tuple[str, str]] = set()
        self.floor = float("-inf")
        self.lock = threading.Lock()

    def add(self, key: tuple[str, str], expires: float, now: float) -> None:
        with self.lock:
            while self.heap and self.heap[0][0] < now:
                self.seen.discard(heapq.heappop(self.heap)[1])
            if expires <= self.floor:
                raise ReplayError(
                    f"request of {key[0]!r} is older than the replay window can still "
                    "check (the nonce cache is full); send it again with a fresh timestamp"
                )
            if key in self.seen:
                raise ReplayError(f"nonce of {key[0]!r} was already used: a replayed request")
            self.seen.add(key)
            heapq.heappush(self.heap, (expires, key))
            while len(self.heap) > self.max_entries:
                old_expiry, old = heapq.heappop(self.heap)
                self.seen.discard(old)
                self.floor = max(self.floor, old_expiry)

    def __len__(self) -> int:
        return len(self.seen)


class RequestVerifier:
    """Checks signed requests against a consortium (one per node; thread-safe).

    Parameters
    ----------
    consortium
        Whose members may sign.
    max_skew
        Largest accepted distance, in seconds, between the request's timestamp and
        ``clock()``.
    clock
        Returns the current Unix time (injectable for tests).
    max_nonces
        Bound of the replay cache.
    """

    def __init__(
        self,
        consortium: Consortium,
        *,
        max_skew: int = MAX_SKEW,
        clock: Callable[[], float] = time.time,
        max_nonces: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        if max_skew <= 0 or max_nonces <= 0:
            raise ValueError("max_skew and max_nonces must be positive")
        self.consortium = consortium
        self.max_skew = max_skew
        self.clock = clock
        self._nonces = _NonceCache(max_nonces)

    def verify(
        self,
        headers: Mapping[str, str],
        method: str,
        path: str,
        body: bytes | None,
        *,
        body_sha256: str | None = None,
    ) -> Member:
        """Authenticate one request.

        Parameters
        ----------
        headers
            The request headers (names matched case-insensitively).
        method, path, body
            The request as received (see :func:`signing_string`).

        Returns
        -------
        Member
            The authenticated member.

        Raises
        ------
        MalformedRequestError
            A header is missing or malformed.
        sharelake.consortium.members.UnknownMemberError
            The member is not in the consortium.
        StaleRequestError
            The timestamp is more than ``max_skew`` seconds away from the clock.
        SignatureError
            The signature is malformed or does not verify under the member's key.
        ReplayError
            The nonce was used before.
        """
        h = {k.lower(): v for k, v in headers.items()}

        def header(name: str) -> str:
            val = h.get(name.lower())
            if val is None or not val:
                raise MalformedRequestError(f"missing header {name}")
            return val

        name = header(HEADER_MEMBER)
        ts_text = header(HEADER_TIMESTAMP)
        nonce = header(HEADER_NONCE)
        sig_text = header(HEADER_SIGNATURE)
        if not _TIMESTAMP_RE.fullmatch(ts_text):
            raise MalformedRequestError(f"{HEADER_TIMESTAMP} must be decimal Unix seconds")
        if not _NONCE_RE.fullmatch(nonce):
            raise MalformedRequestError(f"{HEADER_NONCE} must be 32 hex characters")
        try:
            sig = base64.b64decode(sig_text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise SignatureError(f"{HEADER_SIGNATURE} is not valid base64") from None
        member = self.consortium.member(name)
        now = self.clock()
        ts = int(ts_text)
        if abs(now - ts) > self.max_skew:
            raise StaleRequestError(
                f"request of {name!r} is timestamped {ts - now:+.0f} s from this node's "
                f"clock (allowed: ±{self.max_skew} s)"
            )
        message = signing_string(method, path, ts_text, nonce, body, body_sha256=body_sha256)
        verify(member.public_key, sig, message, who=f"member {name!r}")
        self._nonces.add((name, nonce.lower()), ts + self.max_skew, now)
        return member

    @property
    def cached_nonces(self) -> int:
        """How many nonces the replay cache holds now."""
        return len(self._nonces)

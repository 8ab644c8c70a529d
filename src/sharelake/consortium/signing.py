"""Request signing and verification, exactly as ``docs/node-api.md`` defines it.

Every client request carries five headers:

==============================  ======================================================
``X-Sharelake-Member``          member name as in ``consortium.toml``
``X-Sharelake-Timestamp``       Unix seconds (decimal); refused beyond ``max_skew``
``X-Sharelake-Nonce``           32 hex characters, fresh per request; a replay is refused
``X-Sharelake-Content-SHA256``  lowercase hex SHA-256 of the body (of ``b""`` if none)
``X-Sharelake-Signature``       base64 Ed25519 signature over the signing string
==============================  ======================================================

The signing string (UTF-8) is::

    "sharelake-req-v2\\n" + CONSORTIUM_ID + "\\n" + NODE_ID + "\\n" + METHOD + "\\n"
    + PATH + "\\n" + TIMESTAMP + "\\n" + NONCE + "\\n" + hex(SHA-256(body))

``CONSORTIUM_ID`` is :func:`consortium_id` of ``consortium.toml`` and ``NODE_ID`` the
decimal id (0, 1, 2) of the node the request is sent to: a client signs each node's
copy of a request separately, and a node verifies with *its own* id and consortium id
(from its configuration, never from the request), so a request signed for one node is
refused by the other two (cross-node replay) and by any node of another consortium.
``METHOD`` is upper case. ``PATH`` is the request target as sent: the path, followed by
``?`` and the query string when there is one (the API's endpoints take none). The
timestamp and nonce enter exactly as they appear in their headers.

The body's hash travels in a header so that a node checks the signature *before* it
reads the body (:meth:`RequestVerifier.verify_headers`); it then streams the body under
a size cap and compares its SHA-256 with the signed one at the end.

:class:`RequestVerifier` checks, in order: the headers are present and well formed;
the member exists; the timestamp is within ``max_skew`` of the node's clock; the
signature verifies; the nonce was not seen before (recorded only after the signature
verified, so unauthenticated requests cannot fill the cache; a node keeps them in its
data directory until they go stale, so a restart forgets none, see
:class:`NonceStore`). Every failure is an :class:`~sharelake.errors.AuthenticationError`
subclass (HTTP 401).
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
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import ed25519

from ..errors import AuthenticationError
from .keys import SignatureError, verify
from .members import Consortium, Member

__all__ = [
    "HEADER_CONTENT_SHA256",
    "HEADER_MEMBER",
    "HEADER_NONCE",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "MAX_SKEW",
    "SIGNING_PREFIX",
    "MalformedRequestError",
    "MemoryNonces",
    "NonceStore",
    "ReplayError",
    "RequestVerifier",
    "SignatureError",
    "StaleRequestError",
    "body_digest",
    "consortium_id",
    "new_nonce",
    "sign_request",
    "signing_string",
]

HEADER_MEMBER = "X-Sharelake-Member"
HEADER_TIMESTAMP = "X-Sharelake-Timestamp"
HEADER_NONCE = "X-Sharelake-Nonce"
HEADER_SIGNATURE = "X-Sharelake-Signature"
HEADER_CONTENT_SHA256 = "X-Sharelake-Content-SHA256"
SIGNING_PREFIX = "sharelake-req-v2"
MAX_SKEW = 300
DEFAULT_CACHE_SIZE = 100_000

_NONCE_RE = re.compile(r"[0-9a-fA-F]{32}")
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
_METHOD_RE = re.compile(r"[A-Za-z]{1,16}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


class MalformedRequestError(AuthenticationError):
    """An authentication header is missing or malformed."""


class StaleRequestError(AuthenticationError):
    """The request's timestamp is too far from the node's clock."""


class ReplayError(AuthenticationError):
    """The request's nonce was already used (a replayed request)."""


def body_digest(body: bytes | None) -> str:
    """Lowercase hex SHA-256 of the request body (of ``b""`` when there is none)."""
    return hashlib.sha256(body or b"").hexdigest()


def consortium_id(consortium: Consortium) -> str:
    """The id a request is bound to: 32 hex characters naming this consortium.

    The SHA-256 of the consortium's name and its three node certificate fingerprints
    (all in ``consortium.toml``), so two consortia never share an id even under the
    same name, and every client and node computes it from the file alone.

    Examples
    --------
    >>> len(consortium_id(consortium))  # doctest: +SKIP
    32
    """
    text = "\n".join(
        [
            "sharelake-consortium-v1",
            consortium.name,
            *(n.cert_fingerprint for n in consortium.nodes),
        ]
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


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
    consortium: str,
    node: int,
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
    consortium
        The :func:`consortium_id` the request is for.
    node
        The id of the node the request is sent to (its audience).

    Returns
    -------
    bytes
        The UTF-8 signing string.
    """
    m, p = _check_method_path(method, path)
    digest = body_sha256 if body_sha256 is not None else body_digest(body)
    if node not in (0, 1, 2):
        raise ValueError(f"node id must be 0, 1 or 2, not {node!r}")
    text = "\n".join((SIGNING_PREFIX, consortium, str(node), m, p, timestamp, nonce, digest))
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
    consortium: str,
    node: int,
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
    consortium, node
        The :func:`consortium_id` and the id of the node this copy of the request is
        for: sign each node's copy on its own.

    Returns
    -------
    dict of str to str
        The five ``X-Sharelake-*`` headers, to merge into the request's headers.
    """
    name = member.name if isinstance(member, Member) else member
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    n = new_nonce() if nonce is None else nonce
    if not _NONCE_RE.fullmatch(n):
        raise ValueError("a nonce is 32 hex characters")
    digest = body_sha256 if body_sha256 is not None else body_digest(body)
    message = signing_string(
        method, path, ts, n, None, body_sha256=digest, consortium=consortium, node=node
    )
    return {
        HEADER_MEMBER: name,
        HEADER_TIMESTAMP: ts,
        HEADER_NONCE: n,
        HEADER_CONTENT_SHA256: digest,
        HEADER_SIGNATURE: base64.b64encode(key.sign(message)).decode("ascii"),
    }


class NonceStore(Protocol):
    """Where a verifier records the nonces it accepted, until they go stale.

    ``add`` records ``(member, nonce)`` valid until ``expires`` (Unix seconds) or raises
    :class:`ReplayError` when it is already recorded (or can no longer be checked). A
    node uses a persistent store (its data directory) so a restart forgets nothing;
    the default is :class:`MemoryNonces`.
    """

    def add(self, key: tuple[str, str], expires: float, now: float) -> None:
        """Record ``key`` until ``expires``; raise ReplayError if it was seen."""


class MemoryNonces:
    """Nonces seen within the replay window, in memory, bounded in size.

    Each entry expires when its request's timestamp leaves the skew window (after that
    the request is refused as stale anyway). When the cache is full, the entry that
    expires first is evicted and ``floor`` rises to its expiry: any request whose own
    expiry is not after ``floor`` is then refused, so eviction never lets a replay in.
    """

    def __init__(self, max_entries: int = DEFAULT_CACHE_SIZE) -> None:
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        self.max_entries = max_entries
        self.heap: list[tuple[float, tuple[str, str]]] = []
        self.seen: set[tuple[str, str]] = set()
        self.floor = float("-inf")
        self.lock = threading.Lock()

    def add(self, key: tuple[str, str], expires: float, now: float) -> None:
        """Record ``key`` until ``expires``; raise ReplayError if it was seen."""
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
    """Checks signed requests sent to one node of a consortium (thread-safe).

    Parameters
    ----------
    consortium
        Whose members may sign.
    node
        The id of the node this verifier runs at: only requests signed for this node
        (and this consortium) verify.
    max_skew
        Largest accepted distance, in seconds, between the request's timestamp and
        ``clock()``.
    clock
        Returns the current Unix time (injectable for tests).
    max_nonces
        Bound of the default in-memory replay cache.
    nonces
        Where accepted nonces are recorded (a node passes its persistent store).
    """

    def __init__(
        self,
        consortium: Consortium,
        *,
        node: int,
        max_skew: int = MAX_SKEW,
        clock: Callable[[], float] = time.time,
        max_nonces: int = DEFAULT_CACHE_SIZE,
        nonces: NonceStore | None = None,
    ) -> None:
        if max_skew <= 0 or max_nonces <= 0:
            raise ValueError("max_skew and max_nonces must be positive")
        if node not in (0, 1, 2):
            raise ValueError(f"node id must be 0, 1 or 2, not {node!r}")
        self.consortium = consortium
        self.node = node
        self.consortium_id = consortium_id(consortium)
        self.max_skew = max_skew
        self.clock = clock
        self._memory: MemoryNonces | None = None
        if nonces is None:
            self._memory = MemoryNonces(max_nonces)
            nonces = self._memory
        self._nonces: NonceStore = nonces

    def verify_headers(
        self, headers: Mapping[str, str], method: str, path: str
    ) -> tuple[Member, str]:
        """Authenticate a request from its headers alone, before its body is read.

        Returns
        -------
        tuple of (Member, str)
            The authenticated member and the body SHA-256 it signed (lowercase hex):
            the caller reads the body under its size cap and compares its hash.

        Raises
        ------
        MalformedRequestError
            A header is missing or malformed.
        sharelake.consortium.members.UnknownMemberError
            The member is not in the consortium.
        StaleRequestError
            The timestamp is more than ``max_skew`` seconds away from the clock.
        SignatureError
            The signature is malformed or does not verify under the member's key for
            this node and consortium.
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
        digest = header(HEADER_CONTENT_SHA256)
        sig_text = header(HEADER_SIGNATURE)
        if not _TIMESTAMP_RE.fullmatch(ts_text):
            raise MalformedRequestError(f"{HEADER_TIMESTAMP} must be decimal Unix seconds")
        if not _NONCE_RE.fullmatch(nonce):
            raise MalformedRequestError(f"{HEADER_NONCE} must be 32 hex characters")
        if not _SHA256_RE.fullmatch(digest):
            raise MalformedRequestError(f"{HEADER_CONTENT_SHA256} must be 64 lowercase hex")
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
        message = signing_string(
            method,
            path,
            ts_text,
            nonce,
            None,
            body_sha256=digest,
            consortium=self.consortium_id,
            node=self.node,
        )
        verify(
            member.public_key,
            sig,
            message,
            who=f"member {name!r} (for node P{self.node} of this consortium)",
        )
        self._nonces.add((name, nonce.lower()), ts + self.max_skew, now)
        return member, digest

    def verify(
        self,
        headers: Mapping[str, str],
        method: str,
        path: str,
        body: bytes | None,
        *,
        body_sha256: str | None = None,
    ) -> Member:
        """Authenticate one request whose body is already read (see :meth:`verify_headers`).

        Raises
        ------
        SignatureError
            Also when the body's SHA-256 is not the signed one.
        """
        member, signed = self.verify_headers(headers, method, path)
        digest = body_sha256 if body_sha256 is not None else body_digest(body)
        if digest != signed:
            raise SignatureError(
                f"the body of {member.name!r}'s request is not the one it signed "
                f"({HEADER_CONTENT_SHA256} differs)"
            )
        return member

    @property
    def cached_nonces(self) -> int:
        """How many nonces the in-memory replay cache holds now (0 with a persistent store)."""
        return len(self._memory) if self._memory is not None else 0

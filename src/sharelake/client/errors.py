"""The client's typed errors, and how a node's refusal becomes one.

Failures name the node: :class:`NodeUnavailableError` (not reachable, timed out, or a peer
failure, 503), and :class:`NodeError` subclasses for a node's refusal
(:class:`NodeAuthError` 401, :class:`NodePolicyError` 403, :class:`NodeNotFoundError`
404, :class:`NodeConflictError` 409, :class:`NodeInputError` 422).
:class:`UnknownTableError` is the client's own: no committed table of that name on all
three nodes. :mod:`sharelake.client.transport` raises them; the session re-exports them.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from ..errors import AuthenticationError, PeerError, SharelakeError

if TYPE_CHECKING:
    from .transport import Reply

__all__ = [
    "NodeAuthError",
    "NodeCertificateError",
    "NodeConflictError",
    "NodeError",
    "NodeInputError",
    "NodeNotFoundError",
    "NodePolicyError",
    "NodeUnavailableError",
    "SuppressedCountError",
    "UnknownTableError",
]


class NodeError(SharelakeError):
    """A node refused a request; ``node`` is its id, ``status`` the HTTP status.

    ``kind`` is the error class name the node reported.
    """

    def __init__(self, message: str, *, node: int, status: int, kind: str = "") -> None:
        super().__init__(message)
        self.node = node
        self.status = status
        self.kind = kind


class NodeAuthError(NodeError, AuthenticationError):
    """The node did not accept the request's signature or member (401)."""


class NodePolicyError(NodeError):
    """The node's policy check refused the request (403)."""


class NodeNotFoundError(NodeError):
    """The node has no such table or upload (404)."""


class NodeConflictError(NodeError):
    """The request conflicts with the node's state (409), e.g. a table name in use."""


class NodeInputError(NodeError):
    """The node rejected the request's content (422), e.g. a plan that does not fit."""


class NodeUnavailableError(PeerError):
    """A node could not be reached in time, its certificate was wrong, or it lost a peer.

    ``node`` is the node that failed: the unreachable one, or, when a node answered that
    it lost a peer (503 ``PeerTimeoutError``/``PeerDisconnectedError``), that peer;
    ``reported_by`` is the node whose answer said so (``node`` itself when it failed to
    answer).
    """

    def __init__(self, message: str, *, node: int, session: str = "") -> None:
        super().__init__(message, node=node, session=session)
        self.reported_by = node


class NodeCertificateError(NodeUnavailableError):
    """A node presented a certificate the client refuses: not the one ``consortium.toml``
    pins for it, not from the consortium CA, or expired; ``node`` names it."""


class UnknownTableError(SharelakeError, KeyError):
    """No committed table of that name is visible on all three nodes."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class SuppressedCountError(SharelakeError):
    """``len(t)`` or ``t.shape`` of a selection the policy suppressed (fewer rows than its
    minimum group size): there is no number to return."""


_STATUS_ERRORS: dict[int, type[NodeError]] = {
    401: NodeAuthError,
    403: NodePolicyError,
    404: NodeNotFoundError,
    409: NodeConflictError,
    422: NodeInputError,
}


def is_certificate_error(exc: BaseException) -> bool:
    """Whether a transport failure was a refused certificate (somewhere in its chain)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def unreachable_reason(exc: BaseException) -> str:
    """Why a node could not be reached: a rejected certificate is named as such."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError):
            # OpenSSL's failures carry verify_message; the pin check's own does not
            return f"certificate rejected: {getattr(cur, 'verify_message', None) or cur}"
        cur = cur.__cause__ or cur.__context__
    text = str(exc) or type(exc).__name__
    return text


def refusal_error(reply: Reply, name: str, method: str, path: str) -> SharelakeError:
    """The typed error for a node's refusal (status >= 400) of ``method path``."""
    kind, message = "", reply.body[:300].decode("utf-8", "replace")
    d: object = None
    try:
        d = reply.json()
        if isinstance(d, dict):
            kind = str(d.get("error", ""))
            message = str(d.get("message", d.get("detail", message)))
    except ValueError:
        pass
    text = f"{name} refused {method} {path} ({reply.status}{' ' + kind if kind else ''}): {message}"
    if reply.status >= 500:
        # A peer failure names the peer that failed (a frozen or partitioned node), not
        # the node that reported it; ``reported_by`` keeps the reporter.
        culprit = d.get("node") if isinstance(d, dict) else None
        node = culprit if culprit in (0, 1, 2) and culprit != reply.node else reply.node
        err = NodeUnavailableError(text, node=node)
        err.reported_by = reply.node
        return err
    cls = _STATUS_ERRORS.get(reply.status, NodeError)
    return cls(text, node=reply.node, status=reply.status, kind=kind)

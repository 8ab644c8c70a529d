"""The client's transport: signed HTTPS calls to the three nodes, in parallel, pinned.

:class:`Transport` is the only place where the client speaks HTTP. It signs every request
as ``docs/node-api.md`` defines (bound to the node and the consortium), sends it to one node
or to all three in parallel threads under one deadline, and turns a failure into a typed
error naming the node (:mod:`sharelake.client.errors`). :class:`sharelake.client.session.Session`
composes one; the helper modules of the client call it through the session.

Pinned TLS: a node's HTTPS connection is accepted only when its certificate chains to the
node's trust anchor in ``consortium.toml`` (its own self-signed certificate, its
organisation's CA, or the consortium CA) *and* its SHA-256 fingerprint is the one
``consortium.toml`` lists for that node; the check runs right after the handshake, before a
single byte of a request is sent. The host name is not checked: the pinned fingerprint is stronger.

In-process: :meth:`Transport.in_process` routes the three nodes' requests to Python
handlers through :class:`httpx.MockTransport` instead of sockets (unit tests of the client).

Examples
--------
>>> import httpx
>>> from sharelake.client.transport import Transport
>>> def node(request: httpx.Request) -> httpx.Response:
...     return httpx.Response(200, json={"path": request.url.path})
>>> t = Transport.in_process(consortium, "analyst", key, [node] * 3)  # doctest: +SKIP
>>> [r.json()["path"] for r in t.on_each("GET", "/v1/health")]  # doctest: +SKIP
['/v1/health', '/v1/health', '/v1/health']
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ed25519

from ..consortium.members import Consortium, NodeInfo
from ..consortium.signing import consortium_id, sign_request
from ..errors import PeerTimeoutError
from .errors import (
    NodeCertificateError,
    NodeUnavailableError,
    is_certificate_error,
    refusal_error,
    unreachable_reason,
)

__all__ = ["CONNECT_TIMEOUT", "DEFAULT_TIMEOUT", "Reply", "Transport", "tls_context"]

DEFAULT_TIMEOUT = 60.0
CONNECT_TIMEOUT = 10.0


class _PinnedContext(ssl.SSLContext):
    """Client TLS context that also requires one exact server certificate (SHA-256)."""

    pinned = ""
    node_name = ""

    def wrap_socket(self, sock: socket.socket, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        wrapped = super().wrap_socket(sock, *args, **kwargs)
        _check_pin(wrapped.getpeercert(binary_form=True), self.pinned, self.node_name, wrapped)
        return wrapped

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        raise ssl.SSLError("sharelake: TLS over memory BIOs is not used (no proxies)")


def _check_pin(der: bytes | None, pinned: str, node: str, sock: ssl.SSLSocket) -> None:
    got = hashlib.sha256(der or b"").hexdigest()
    if der is None or got != pinned:
        sock.close()
        raise ssl.SSLCertVerificationError(
            f"{node} presented certificate {got[:16]}..., but consortium.toml pins "
            f"{pinned[:16]}...: refusing to talk to it"
        )


def tls_context(anchor_pem: str, node: NodeInfo) -> ssl.SSLContext:
    """A client TLS context that trusts ``node``'s anchor and pins its certificate.

    The anchor (PEM) is the node's own self-signed certificate, its organisation's CA
    or the consortium CA (:meth:`~sharelake.consortium.members.Consortium.trust_pem`).
    """
    ctx = _PinnedContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False  # the fingerprint pin below is stricter
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=anchor_pem)
    ctx.pinned = node.cert_fingerprint.lower()
    ctx.node_name = node.name or f"P{node.id}"
    return ctx


@dataclass(frozen=True)
class Reply:
    """A node's answer: its id, HTTP status, content type and body."""

    node: int
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


CONCURRENT_CALLS = 8
"""Fan-outs to the three nodes (e.g. queries) one transport runs at the same time."""

KEEPALIVE_SECONDS = 2.0
"""How long an idle connection to a node is reused: well under the node's (uvicorn's
default 5 s), so a request is never sent on a connection the node is closing (with
concurrent queries and a WAN's delay that race showed as "Server disconnected")."""


def _release_when_done(
    futures: Sequence[cf.Future[Reply]], slot: threading.BoundedSemaphore
) -> None:
    """Release ``slot`` once every future is done (also after an early raise)."""
    left = [len(futures)]
    lock = threading.Lock()

    def done(_: cf.Future[Reply]) -> None:
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            slot.release()

    if not futures:
        slot.release()
    for f in futures:
        f.add_done_callback(done)


class Transport:
    """Signed calls from one member to the three nodes of a consortium.

    ``clients`` (one ``httpx.Client`` per node) replaces the pinned HTTPS clients, e.g.
    with in-process ones (:meth:`in_process`).
    """

    def __init__(
        self,
        consortium: Consortium,
        member: str,
        key: ed25519.Ed25519PrivateKey,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        clients: Sequence[httpx.Client] | None = None,
    ) -> None:
        self.consortium = consortium
        self.member = consortium.member(member).name
        self.timeout = float(timeout)
        self._key = key
        self.consortium_id = consortium_id(consortium)
        # at most CONCURRENT_CALLS fan-outs in flight, each with a worker per node: a
        # fan-out never waits for a worker while its other calls hold the nodes
        self._slots = threading.BoundedSemaphore(CONCURRENT_CALLS)
        self._pool = cf.ThreadPoolExecutor(
            max_workers=3 * CONCURRENT_CALLS, thread_name_prefix="sharelake-client"
        )
        self._clients = (
            list(clients)
            if clients is not None
            else [
                httpx.Client(
                    base_url=n.api_url,
                    verify=tls_context(consortium.trust_pem(n.id), n),
                    timeout=httpx.Timeout(self.timeout, connect=min(CONNECT_TIMEOUT, self.timeout)),
                    limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS),
                    trust_env=False,
                )
                for n in consortium.nodes
            ]
        )

    @classmethod
    def in_process(
        cls,
        consortium: Consortium,
        member: str,
        key: ed25519.Ed25519PrivateKey,
        handlers: Sequence[Callable[[httpx.Request], httpx.Response]],
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Transport:
        """A transport whose three nodes are Python handlers (no sockets, no TLS)."""
        clients = [
            httpx.Client(base_url=n.api_url, transport=httpx.MockTransport(h))
            for n, h in zip(consortium.nodes, handlers, strict=True)
        ]
        return cls(consortium, member, key, timeout=timeout, clients=clients)

    def close(self) -> None:
        """Close the connections to the nodes.

        Calls still in flight (after a first failure was raised without ``wait_all``)
        are waited for first: closing a socket under a thread that is still using it lets
        the OS hand its descriptor to the next connection, which the old thread would
        then read and write.
        """
        self._pool.shutdown(wait=True, cancel_futures=True)
        for c in self._clients:
            c.close()

    def node_name(self, i: int) -> str:
        """Display name of node ``i`` (``P0``...)."""
        return self.consortium.nodes[i].name or f"P{i}"

    def request(
        self,
        node: int,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        content_type: str = "application/json",
        timeout: float | None = None,
        chunks: Callable[[bytes], Iterator[bytes]] | None = None,
        body_sha256: str | None = None,
    ) -> Reply:
        """Send one signed request to node ``node``; raises a typed error naming it.

        ``chunks`` may split the body for streaming (e.g. to drive a progress bar).
        ``body_sha256`` is the body's hex SHA-256 when the caller already computed it.
        """
        name = self.node_name(node)
        t = self.timeout if timeout is None else timeout
        headers = sign_request(
            self._key,
            self.member,
            method,
            path,
            body,
            body_sha256=body_sha256,
            consortium=self.consortium_id,
            node=node,
        )
        headers["Content-Type"] = content_type
        content: bytes | Iterator[bytes] = body
        if chunks is not None and body:
            headers["Content-Length"] = str(len(body))
            content = chunks(body)
        try:
            r = self._clients[node].request(
                method,
                path,
                content=content if body or method != "GET" else None,
                headers=headers,
                timeout=httpx.Timeout(t, connect=min(CONNECT_TIMEOUT, t)),
            )
        except httpx.TimeoutException:
            raise PeerTimeoutError(
                f"{name} did not answer {method} {path} within {t:.0f} s", node=node
            ) from None
        except httpx.TransportError as exc:
            cls = NodeCertificateError if is_certificate_error(exc) else NodeUnavailableError
            raise cls(
                f"{name} ({self.consortium.nodes[node].api_url}) is not reachable: "
                f"{unreachable_reason(exc)}",
                node=node,
            ) from None
        reply = Reply(node, r.status_code, r.headers.get("content-type", ""), r.content)
        if r.status_code >= 400:
            raise refusal_error(reply, name, method, path)
        return reply

    def on_all(
        self,
        calls: Sequence[Callable[[], Reply]],
        *,
        timeout: float | None = None,
        wait_all: bool = False,
    ) -> list[Reply]:
        """Run one call per node in parallel; the first failure is raised.

        With ``wait_all`` the other calls are waited for before raising (so that, e.g.,
        an abort can follow safely); otherwise the first error is raised at once.

        Safe to call from several threads at once (e.g. concurrent queries of one
        session): at most :data:`CONCURRENT_CALLS` fan-outs run at a time, each with a
        worker for every call, so the three calls of one query always reach their nodes
        together (a node waits for its peers' part of a session; three calls queued
        behind another query's would stall both). Further callers wait for a slot.
        """
        if len(calls) > 3:
            raise ValueError(f"on_all runs one call per node (3), got {len(calls)}")
        t = self.timeout if timeout is None else timeout
        self._slots.acquire()
        try:
            futures = [self._pool.submit(c) for c in calls]
        except BaseException:
            self._slots.release()
            raise
        _release_when_done(futures, self._slots)
        deadline = time.monotonic() + t + CONNECT_TIMEOUT
        pending = set(futures)
        first: BaseException | None = None
        while pending:
            left = deadline - time.monotonic()
            done, pending = cf.wait(pending, timeout=max(left, 0), return_when=cf.FIRST_EXCEPTION)
            if not done:
                i = futures.index(next(iter(pending)))
                raise PeerTimeoutError(f"{self.node_name(i)} missed the {t:.0f} s deadline", node=i)
            for f in done:
                exc = f.exception()
                if exc is not None and first is None:
                    first = exc
            if first is not None and not wait_all:
                break
        if first is not None:
            raise first
        return [f.result() for f in futures]

    def on_each(
        self,
        method: str,
        path: str,
        bodies: Sequence[bytes] | bytes = b"",
        *,
        content_type: str = "application/json",
        timeout: float | None = None,
        wait_all: bool = False,
    ) -> list[Reply]:
        """The same request (or one body per node) to all three nodes in parallel."""
        per = [bodies] * 3 if isinstance(bodies, bytes) else list(bodies)

        def call(i: int) -> Callable[[], Reply]:
            return lambda: self.request(
                i, method, path, per[i], content_type=content_type, timeout=timeout
            )

        return self.on_all([call(i) for i in range(3)], timeout=timeout, wait_all=wait_all)

"""What an operator watches: probes, Prometheus metrics and structured JSON logs.

``GET /healthz`` (the process answers), ``GET /readyz`` (storage open, peer listener
up, consortium loaded) and ``GET /metrics`` (Prometheus text format) need no
authentication and carry no data and no names: counters, durations, byte totals,
peer reachability by node slot (``P0``..``P2``) and the software and protocol versions.

Metrics (all prefixed ``sharelake_``):

=====================================  ===============================================
``requests_total{route,status}``       HTTP requests by route *template* and status
``request_seconds{route}``             their durations (histogram)
``queries_total{outcome}``             ``released``, ``refused`` or ``failed``
``refusals_total{reason}``             refusals by error class (``AuthenticationError``)
``query_seconds``                      this node's wall time of a released query
``peer_bytes_sent_total``              payload bytes sent to peers in queries
``peer_rounds_total``                  communication rounds of those queries
``peer_up{peer}``                      1 when the peer's channel accepts TCP, else 0
``info{version,protocol,node}``        always 1
=====================================  ===============================================

Logs are one JSON object per line (:class:`JsonFormatter`): time, level, logger,
node, message, and the ``request`` and ``session`` (query) ids of the request being
served (set through :func:`log_context`). What is logged is routes, ids, statuses,
classes of errors, counts and durations; never a value, a table, column or member
name, or a request path with a name in it.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import secrets
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = [
    "JsonFormatter",
    "LogFormat",
    "NodeMetrics",
    "configure_logging",
    "log_context",
    "mount_observability",
]

LogFormat = Literal["json", "text"]
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_session_id: contextvars.ContextVar[str] = contextvars.ContextVar("session_id", default="")
_node_name = "-"
_PROBES = ("/healthz", "/readyz", "/metrics")


@contextlib.contextmanager
def log_context(*, session: str | None = None, request: str | None = None) -> Iterator[None]:
    """Tag every log line inside the block with a session (query) or request id.

    Examples
    --------
    >>> with log_context(session="0f" * 16):
    ...     logging.getLogger("sharelake.node").info("query admitted")
    """
    tokens = []
    if session is not None:
        tokens.append((_session_id, _session_id.set(session)))
    if request is not None:
        tokens.append((_request_id, _request_id.set(request)))
    try:
        yield
    finally:
        for var, tok in reversed(tokens):
            var.reset(tok)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, node, msg, request, session, error."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "node": _node_name,
            "msg": record.getMessage(),
        }
        if rid := _request_id.get():
            doc["request"] = rid
        if sid := _session_id.get():
            doc["session"] = sid
        for key in ("route", "status", "seconds", "error", "peer", "rows"):
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        if record.exc_info and record.exc_info[0] is not None:
            doc["error"] = record.exc_info[0].__name__  # the class only, never its text
        return json.dumps(doc, ensure_ascii=False)


def configure_logging(
    *, level: str = "info", fmt: LogFormat = "json", node: str = "-", stream: Any = None
) -> None:
    """Send the ``sharelake`` and server logs to ``stream`` (stderr) in ``fmt`` at ``level``.

    Raises
    ------
    ValueError
        For an unknown level or format.
    """
    global _node_name
    lvl = logging.getLevelName(level.upper())
    if not isinstance(lvl, int):
        raise ValueError(f"unknown log level {level!r} (debug, info, warning, error)")
    if fmt not in ("json", "text"):
        raise ValueError(f"unknown log format {fmt!r} (json, text)")
    _node_name = node
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(lvl)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # raw paths may name tables


class NodeMetrics:
    """The Prometheus metrics of one node, in a registry of its own."""

    def __init__(self, node: int, version: str, protocol: int) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "sharelake_requests", "HTTP requests", ["route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "sharelake_request_seconds", "HTTP request durations", ["route"], registry=r
        )
        self.queries = Counter("sharelake_queries", "Queries by outcome", ["outcome"], registry=r)
        self.refusals = Counter(
            "sharelake_refusals", "Refused requests by error class", ["reason"], registry=r
        )
        self.query_seconds = Histogram(
            "sharelake_query_seconds",
            "Wall time of released queries at this node",
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
            registry=r,
        )
        self.peer_bytes = Counter(
            "sharelake_peer_bytes_sent", "Payload bytes sent to peers in queries", registry=r
        )
        self.peer_rounds = Counter(
            "sharelake_peer_rounds", "Communication rounds of queries", registry=r
        )
        self.peer_up = Gauge(
            "sharelake_peer_up",
            "Whether a peer's channel accepts connections",
            ["peer"],
            registry=r,
        )
        info = Gauge(
            "sharelake_info",
            "Software and protocol version",
            ["version", "protocol", "node"],
            registry=r,
        )
        info.labels(version=version, protocol=str(protocol), node=f"P{node}").set(1)
        for outcome in ("released", "refused", "failed"):
            self.queries.labels(outcome=outcome)

    def query_released(self, cost: dict[str, Any]) -> None:
        """Count a released query and its cost (``rounds``, ``bytes``, ``seconds``)."""
        self.queries.labels(outcome="released").inc()
        self.query_seconds.observe(float(cost.get("seconds", 0.0)))
        self.peer_bytes.inc(int(cost.get("bytes", 0)))
        self.peer_rounds.inc(int(cost.get("rounds", 0)))

    def refused(self, exc: BaseException, *, query: bool) -> None:
        """Count a refusal (4xx) by error class, and a refused query."""
        self.refusals.labels(reason=type(exc).__name__).inc()
        if query:
            self.queries.labels(outcome="refused").inc()

    def failed(self, *, query: bool) -> None:
        """Count a query that failed at this node (5xx)."""
        if query:
            self.queries.labels(outcome="failed").inc()

    def check_peers(self, me: int, addrs: Sequence[tuple[str, int]], timeout: float = 0.5) -> None:
        """Probe each peer's channel with a TCP connect (no TLS, no data) and set ``peer_up``."""
        for j, (host, port) in enumerate(addrs):
            if j == me:
                continue
            up = 0
            with contextlib.suppress(OSError):
                socket.create_connection((host, port), timeout=timeout).close()
                up = 1
            self.peer_up.labels(peer=f"P{j}").set(up)

    def render(self) -> bytes:
        """The metrics in the Prometheus text format."""
        return generate_latest(self.registry)


def _route_of(scope: Any) -> str:
    path = getattr(scope.get("route"), "path", None)
    return str(path) if path else "unmatched"


class _RequestLog:
    """Pure ASGI middleware: request id, metrics and one log line per request (by route)."""

    def __init__(self, app: Any, *, metrics: NodeMetrics, log: logging.Logger) -> None:
        self.app, self.metrics, self.log = app, metrics, log

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = secrets.token_hex(8)
        t0 = time.perf_counter()
        status = [500]

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        token = _request_id.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _request_id.reset(token)
            if scope.get("path") not in _PROBES:
                route, seconds = _route_of(scope), time.perf_counter() - t0
                self.metrics.requests.labels(route=route, status=str(status[0])).inc()
                self.metrics.request_seconds.labels(route=route).observe(seconds)
                with log_context(request=rid):
                    self.log.info(
                        "%s %s -> %d",
                        scope.get("method", "?"),
                        route,
                        status[0],
                        extra={"route": route, "status": status[0], "seconds": seconds},
                    )


def mount_observability(
    app: FastAPI,
    metrics: NodeMetrics,
    *,
    ready: Callable[[], bool],
    peers: Callable[[], None],
) -> None:
    """Add ``/healthz``, ``/readyz``, ``/metrics`` and the request-log middleware to ``app``.

    Parameters
    ----------
    app
        The node's application.
    metrics
        Its metrics.
    ready
        Whether the node can serve (storage open, peer listener running).
    peers
        Refreshes ``peer_up`` (called on each scrape of ``/metrics``).
    """
    log = logging.getLogger("sharelake.node.requests")

    app.add_middleware(_RequestLog, metrics=metrics, log=log)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        ok = ready()
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(peers)
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

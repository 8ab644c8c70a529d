"""The client API of a node (``docs/node-api.md``), as a FastAPI application.

Every request is authenticated first, from its headers alone:
:class:`~sharelake.consortium.signing.RequestVerifier` checks the member's Ed25519
signature over this node's id, the consortium id, the method, path, timestamp, nonce and
the body's SHA-256 (a signed header), and records the nonce in the node's
:class:`~sharelake.node.ledger.RequestLedger` (on disk: a restart forgets none). Then the
member's rate limit, then the body is streamed under the endpoint's size cap and its
hash compared (:mod:`sharelake.node.limits`, :mod:`sharelake.node.bodies`); a JSON body
is parsed with bounded depth and size. A query's session id runs once per node, and its
answer is sealed to the client's one-query key (:mod:`sharelake.consortium.sealing`).
Then the role is checked (uploads: ``provider``, and the
owner is the caller; queries: ``analyst`` and :func:`~sharelake.node.authz.authorize`).
Blocking work (storage, peer sessions, MPC) runs in worker threads, so several queries
and uploads proceed at once, kept apart by their session ids.

Errors are JSON ``{"error": <class name>, "message": <text>}`` with the status of
:func:`status_of`; messages name nodes, sessions, tables and columns, never a value.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._version import __version__
from ..consortium.cluster import NodeConfig
from ..consortium.members import Consortium, Member, PurposeError
from ..consortium.sealing import parse_reply_key, reply_context, seal
from ..consortium.signing import RequestVerifier
from ..engine import persons_table
from ..engine.executor import Released, execute, release_rows
from ..engine.tables import secret_table
from ..errors import (
    AuthenticationError,
    InputValidationError,
    IntegrityError,
    PeerError,
    ProtocolError,
    SharelakeError,
)
from ..mpc.channel import ChannelStats, notify_abort
from ..mpc.party import Party
from ..mpc.verify import verify
from ..net.framing import PROTOCOL_VERSION
from ..plan import tree
from ..plan.canonical import PlanError, plan_hash, session_id
from ..relational.table import SecretTable
from ..storage.bundle import BundleError, encode_bundle
from ..storage.catalog import (
    TableExistsError,
    TableNotFoundError,
    TableOwnerError,
    UploadStateError,
)
from ..storage.shares import ShareIntegrityError
from ..storage.store import Store
from . import uploads
from .authz import AuthorizationError, authorize
from .bodies import Body, receive_body
from .consistency import DataInconsistencyError, check_tables
from .deadline import QueryDeadlineError, QueryWatchdog
from .governance import Governance
from .governance_routes import mount as mount_governance
from .ledger import LEDGER_FILE, RequestLedger, SessionReusedError
from .limits import BodyTooLargeError, MalformedBodyError, RateLimiter, RateLimitError, parse_json
from .observability import NodeMetrics, log_context, mount_observability
from .peers import PeerRouter, SessionBusyError
from .privacy import NodePrivacy

__all__ = ["create_app", "query_cost", "status_of"]

log = logging.getLogger(__name__)

T = TypeVar("T")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,127}")
BUNDLE_TYPE = "application/octet-stream"

_STATUS: list[tuple[type[BaseException], int]] = [
    (MalformedBodyError, 400),
    (BodyTooLargeError, 413),
    (RateLimitError, 429),
    (AuthenticationError, 401),
    (AuthorizationError, 403),
    (TableOwnerError, 403),
    (TableNotFoundError, 404),
    (UploadStateError, 409),
    (TableExistsError, 409),
    (SessionBusyError, 409),
    (SessionReusedError, 409),
    (DataInconsistencyError, 409),
    (persons_table.StaleTableError, 409),
    (InputValidationError, 422),
    (PlanError, 422),
    (BundleError, 422),
    (PeerError, 503),
    (QueryDeadlineError, 503),
    (ProtocolError, 503),
    (IntegrityError, 503),
    (ShareIntegrityError, 500),
]


def status_of(exc: BaseException) -> int:
    """The HTTP status a failure is answered with (500 when unknown)."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def query_cost(stats: ChannelStats, seconds: float) -> dict[str, Any]:
    """This node's cost of one query, for the bundle meta's ``"cost"``.

    ``rounds``, ``messages`` and ``bytes`` (payload bytes this node sent to its two
    peers) are the counters of the query's peer session, from the table consistency
    check to the released shares; ``seconds`` is this node's wall time over the same
    span. They depend only on public sizes and the plan (and the machine, for the
    seconds), never on a secret value.

    Examples
    --------
    >>> query_cost(ChannelStats(rounds=3, messages=6, bytes_sent=96), 0.25)
    {'rounds': 3, 'messages': 6, 'bytes': 96, 'seconds': 0.25}
    """
    return {
        "rounds": int(stats.rounds),
        "messages": int(stats.messages),
        "bytes": int(stats.bytes_sent),
        "seconds": round(float(seconds), 6),
    }


def _error(status: int, exc: BaseException | str, cls: str | None = None) -> JSONResponse:
    name = cls or type(exc).__name__
    body: dict[str, Any] = {"error": name, "message": str(exc)}
    if isinstance(exc, PeerError) and exc.node in (0, 1, 2):
        body["node"] = int(exc.node)  # the peer that failed (not this node, the reporter)
    return JSONResponse(body, status_code=status)


def _public(info: dict[str, Any], gov: Governance) -> dict[str, Any]:
    """A catalog entry as listed: the policy is the one in force, with its version."""
    # "created": the table's first commit (the start of a retain_days period)
    out = {k: info[k] for k in ("name", "owner", "rows", "version", "schema", "created")}
    out["policy_version"], out["policy"] = gov.in_force(info)
    return out


class _Node:
    """The state behind one node's endpoints."""

    def __init__(
        self,
        config: NodeConfig,
        consortium: Consortium,
        store: Store,
        router: PeerRouter,
        verifier: RequestVerifier,
        ledger: RequestLedger,
    ) -> None:
        self.config, self.consortium, self.store = config, consortium, store
        self.router, self.verifier, self.ledger = router, verifier, ledger
        self.limits = config.limits
        self.rates = RateLimiter(self.limits.requests_per_second, self.limits.request_burst)
        self.party = config.id
        # verdicts, approvals, audit (issue 5); policy changes bound to table versions
        versions = {str(t["name"]): int(t["version"]) for t in store.list_tables()}
        self.gov = Governance(config, consortium, versions)
        self.metrics = NodeMetrics(config.id, __version__, PROTOCOL_VERSION)
        # retention and erasure (docs/privacy.md); expired tables go before serving
        self.privacy = NodePrivacy(config.id, config.data_dir, store, self.gov)
        self.privacy.sweep()

    async def authenticate(
        self, request: Request, *, limit: int | None = None
    ) -> tuple[Member, bytes]:
        """Verify the signature from the headers, check the rate, then read the body."""
        member, body = await self.receive(request, limit=limit)
        return member, bytes(body.data)

    async def receive(self, request: Request, *, limit: int | None = None) -> tuple[Member, Body]:
        """:meth:`authenticate` keeping the received body's buffer and checksum."""
        member, digest = self.verifier.verify_headers(
            request.headers, request.method, request.url.path
        )
        request.state.member = member.name  # authenticated: the audit names this member
        self.rates.take(member.name)
        cap = self.limits.json_body if limit is None else limit
        return member, await receive_body(request, limit=cap, sha256=digest)

    def parse_json(self, raw: bytes | bytearray) -> Any:
        """A JSON request body parsed within this node's depth and size limits."""
        lim = self.limits
        return parse_json(raw, max_depth=lim.json_depth, max_values=lim.plan_nodes)

    # ---- queries ------------------------------------------------------------------

    def run_query(self, member: Member, request: dict[str, Any]) -> bytes:
        plan, given_hash, nonce = (
            request.get("plan"),
            request.get("plan_hash"),
            request.get("nonce"),
        )
        if not isinstance(given_hash, str) or not _HEX64.fullmatch(given_hash):
            raise PlanError("plan_hash must be 64 lowercase hex characters")
        if not isinstance(nonce, str) or not _HEX32.fullmatch(nonce):
            raise PlanError("nonce must be 32 lowercase hex characters")
        # the one parse: the JSON plan is checked and typed here; past this line the
        # node, governance and the engine read only the typed plan (plan/tree.py)
        typed = tree.from_json(plan)
        if typed.release not in ("rows", "table"):
            raise PlanError("plan.release.kind: this node releases only 'rows' or a 'table'")
        if plan_hash(plan) != given_hash:  # the hash of the text as it came
            raise PlanError("plan_hash is not the SHA-256 of the plan's canonical form")
        reply_key = parse_reply_key(request.get("reply_key"))
        names = tree.tables(typed)
        session = session_id(given_hash, member.name, nonce)
        try:  # the plan names its purpose (or the consortium's default one applies)
            purpose = self.consortium.resolve_purpose(typed.purpose)
        except PurposeError as exc:
            self.gov.audit.append(
                "refusal",
                session=session,
                plan_hash=given_hash,
                member=member.name,
                detail=str(exc),
            )
            raise AuthorizationError(str(exc)) from None
        catalog = {name: self.store.table_info(name) for name in names}
        # a table past its retention is never read, whatever the other nodes did
        self.privacy.refuse_expired(
            catalog, member=member.name, session=session, plan_hash=given_hash, purpose=purpose
        )
        authorize(typed, member, catalog)
        if typed.table is not None:  # never over an upload (or another member's table)
            try:
                owner = self.store.table_info(typed.table)["owner"]
            except TableNotFoundError:
                owner = persons_table.OWNER
            if owner != persons_table.OWNER or typed.table in names:
                raise TableOwnerError(
                    f"table {typed.table!r} exists and is not a stored persons table of "
                    "other lists: choose another name"
                )
        # refuses (audited) or admits; the purpose is checked against every table's policy
        adm = self.gov.admit(typed, member, catalog, session, purpose=purpose)
        self.ledger.claim_session(session, member.name)  # a query runs once at this node
        d = self.config.deadlines
        with log_context(session=session), QueryWatchdog(self.party, session, d.query) as dog:
            log.info("query admitted (%d tables)", len(names))  # ids and counts, no names
            answer = self._run_session(typed, given_hash, member, session, names, adm, dog)
        context = reply_context(self.verifier.consortium_id, self.party, session)
        return seal(answer, reply_key, context=context)

    def _run_session(
        self,
        plan: tree.Plan,
        given_hash: str,
        member: Member,
        session: str,
        names: list[str],
        adm: Any,
        dog: QueryWatchdog,
    ) -> bytes:
        stored = tree.stored_tables(plan)  # persons tables read in place of linking again
        for n in stored:
            if self._version_of(n) is None:
                raise persons_table.StaleTableError(
                    f"there is no stored persons table {n!r} (one is destroyed when a list "
                    f"it was made from changes): make it (persons(...).stored_as({n!r})"
                    ".collect()) with the owners' approval"
                )
        loaded = {name: self.store.load_table(name) for name in [*names, *stored]}
        tables: dict[str, SecretTable] = {name: secret_table(t) for name, t in loaded.items()}
        found = {n: self.store.definition(str(loaded[n].meta["upload_id"])) for n in stored}
        versions: dict[str, int | None] = {n: int(loaded[n].meta["version"]) for n in names}
        for n in stored:
            persons_table.check_sources(n, found[n], versions)
        d = self.config.deadlines
        try:
            chan = self.router.open_session(
                session,
                deadline=d.peer_receive,
                setup_deadline=min(d.peer_setup, max(dog.remaining(), 0.05)),
            )
        except Exception as exc:
            err = dog.translate(exc)
            if err is exc:
                raise
            raise err from None
        dog.attach(chan)
        t0 = time.perf_counter()
        try:
            check_tables(chan, loaded)  # the same table versions everywhere, before any protocol
            p = Party.setup(chan, security=self.consortium.security)
            result = execute(p, adm.plan, tables.__getitem__, stored=found)
            if plan.table is not None:  # nothing released: the nodes keep the persons
                kept = self._keep(p, plan, result, session, loaded)
                suppressed, least = 0, None
                released = Released({"columns": [], "rows": 0, "stored": kept}, {})
                self.gov.stored(adm, plan.table, kept["version"], kept["rows"])
            else:
                result, suppressed, least = self.gov.protect(p, adm, result, tables)
                released = release_rows(p, result, ordered=tree.ordered(plan))
                # audit the release, then show the peers this node's signed chain head (and
                # keep theirs): a log cut short or rewritten later no longer matches them
                self.gov.released(adm, released.meta["rows"], suppressed, least)
            self.gov.exchange_heads(p)
            chan.flush()
            dog.check()
        except Exception as exc:
            notify_abort(chan, exc)  # a check of this node failed: the peers abort too
            err = dog.translate(exc)
            self.gov.failed(session, given_hash, member.name, err)
            if err is exc:
                raise
            raise err from None
        finally:
            chan.close(drain=not dog.expired)
            tables.clear()
            loaded.clear()
        log.info("query released", extra={"rows": int(released.meta["rows"])})
        released.meta["suppressed"] = suppressed
        if least is not None:
            released.meta["min_rows"] = least  # secondary suppression (governance.protect)
        released.meta["cost"] = query_cost(chan.stats, time.perf_counter() - t0)
        self.metrics.query_released(released.meta["cost"])
        return encode_bundle(released.meta, released.arrays)

    def _keep(
        self,
        p: Party,
        plan: tree.Plan,
        result: SecretTable,
        session: str,
        loaded: dict[str, Any],
    ) -> dict[str, Any]:
        """Keep a concat by linkage as the stored persons table ``plan.table``.

        Every node stages its pair of the ``person`` ids and the validity bits (checked
        gates only: the queue is verified first) with the table's definition
        (:func:`sharelake.engine.persons_table.definition`); one round tells each node
        that both others staged; then each commits (as an erasure's new version).
        """
        assert plan.table is not None
        names = tree.tables(plan)
        versions = {n: int(loaded[n].meta["version"]) for n in names}
        sizes = {n: int(loaded[n].meta["rows"]) for n in names}
        found = persons_table.definition(plan, versions, sizes)
        verify(p, check="store")  # no unchecked gate reaches the stored shares
        schema, parts = persons_table.stored_columns(result)
        upload_id = f"persons-{session[:24]}"
        try:
            self.store.prepare_upload(
                upload_id,
                plan.table,
                persons_table.OWNER,
                schema,
                persons_table.POLICY,
                result.n,
                parts,
                valid=result.valid,
            )
            self.store.record_definition(upload_id, plan.table, found)
            # all three staged the new version: only then does any node commit it
            p.exchange({p.next: b"\x01", p.prev: b"\x01"}, {p.next: 1, p.prev: 1})
        except BaseException:
            self.store.abort_upload(upload_id)
            raise
        before = self._version_of(plan.table)
        version = self.store.commit_upload(upload_id)
        if before is not None:  # the old labels' budgets and records go with them
            self.gov.dropped(plan.table, before)
        return {"table": plan.table, "version": version, "rows": result.n}

    def _version_of(self, name: str) -> int | None:
        try:
            return int(self.store.table_info(name)["version"])
        except TableNotFoundError:
            return None


def create_app(
    config: NodeConfig,
    consortium: Consortium,
    store: Store,
    router: PeerRouter,
    *,
    verifier: RequestVerifier | None = None,
) -> FastAPI:
    """The FastAPI application of one node.

    Parameters
    ----------
    config
        This node's configuration (id, deadlines).
    consortium
        Who may sign requests.
    store
        This node's share storage.
    router
        This node's peer listener, already started.
    verifier
        Request verifier (default: one over ``consortium`` with the configured skew).

    Returns
    -------
    fastapi.FastAPI
        The application; serve it over HTTPS with the node's certificate.
    """
    skew = max(1, int(config.deadlines.request_skew))
    ledger = RequestLedger(config.data_dir / LEDGER_FILE)
    if verifier is None:
        verifier = RequestVerifier(consortium, node=config.id, max_skew=skew, nonces=ledger)
    node = _Node(config, consortium, store, router, verifier, ledger)
    app = FastAPI(title=f"sharelake node P{config.id}", version=__version__, docs_url=None)
    app.state.node = node
    mount_governance(app)  # governance endpoints and the audit middleware
    addrs = [n.peer_addr for n in consortium.nodes]
    mount_observability(
        app,
        node.metrics,
        ready=lambda: router.running and store.is_open,
        peers=lambda: node.metrics.check_peers(config.id, addrs),
    )

    @app.exception_handler(SharelakeError)
    async def _sharelake_error(request: Request, exc: SharelakeError) -> JSONResponse:
        status = status_of(exc)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        is_query = route == "/v1/queries"
        if status < 500:
            node.metrics.refused(exc, query=is_query)
        else:
            node.metrics.failed(query=is_query)
        log.info(
            "%s %s -> %d %s",
            request.method,
            route,  # the route template: a raw path may name a table
            status,
            type(exc).__name__,
            extra={"error": type(exc).__name__, "status": status},
        )
        return _error(status, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # routing failures (no such endpoint, wrong method) answer in the API's error form
        names = {404: "NoSuchEndpointError", 405: "MethodNotAllowedError"}
        name = names.get(exc.status_code, f"HTTP{exc.status_code}Error")
        return _error(exc.status_code, str(exc.detail), cls=name)

    @app.exception_handler(BundleError)
    async def _bundle_error(request: Request, exc: BundleError) -> JSONResponse:
        return _error(422, exc)

    @app.exception_handler(PlanError)
    async def _plan_error(request: Request, exc: PlanError) -> JSONResponse:
        return _error(422, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The message of an unexpected error is not ours to vouch for: keep it in the log
        # (class and place only) and answer with the class name.
        node.metrics.failed(query=request.url.path == "/v1/queries")
        log.error(
            "%s %s failed: %s",
            request.method,
            getattr(request.scope.get("route"), "path", "unmatched"),
            type(exc).__name__,
            extra={"error": type(exc).__name__},
        )
        return _error(500, "internal error at this node", cls=type(exc).__name__)

    async def blocking(fn: Callable[..., T], *args: Any) -> T:
        return await run_in_threadpool(fn, *args)

    @app.get("/v1/health")
    async def health(request: Request) -> dict[str, Any]:
        await node.authenticate(request)
        tables = await blocking(store.list_tables)
        return {"node": node.party, "version": __version__, "tables": len(tables)}

    @app.get("/v1/tables")
    async def list_tables(request: Request) -> list[dict[str, Any]]:
        await node.authenticate(request)
        tables = node.privacy.visible(await blocking(store.list_tables))
        return [_public(t, node.gov) for t in tables]

    @app.delete("/v1/tables/{name}")
    async def drop_table(request: Request, name: str) -> dict[str, Any]:
        member, _ = await node.authenticate(request)

        def drop() -> None:
            version = int(store.table_info(name)["version"])
            try:
                store.drop_table(name, owner=member.name)
            except TableOwnerError as exc:
                node.gov.audit.append(
                    "refusal",
                    session=f"drop:{name}:{version}",
                    member=member.name,
                    detail=str(exc),
                )
                raise
            node.gov.dropped(name, version)  # its policy changes go with it
            node.gov.audit_drop(member.name, name, version)
            node.privacy.drop_stale()  # the stored persons tables made from it

        await blocking(drop)
        return {"table": name, "dropped": True}

    def _upload_id(upload_id: str) -> str:
        if not _ID.fullmatch(upload_id):
            raise InputValidationError("upload id must be 1-128 letters, digits, '_' or '-'")
        return upload_id

    @app.post("/v1/uploads/{upload_id}/prepare")
    async def prepare(request: Request, upload_id: str) -> dict[str, Any]:
        uid = _upload_id(upload_id)
        # signature from the headers first; then the body, streamed under the upload cap
        member, body = await node.receive(request, limit=config.limits.upload_body)
        return await blocking(
            lambda: uploads.prepare(
                store,
                node.party,
                uid,
                body.data,
                member,
                checksum=body.checksum,
                consortium=consortium,
            )
        )

    @app.post("/v1/uploads/{upload_id}/commit")
    async def commit(request: Request, upload_id: str) -> dict[str, Any]:
        member, _ = await node.authenticate(request)
        uid = _upload_id(upload_id)
        d = config.deadlines

        def commit_and_audit() -> dict[str, Any]:
            try:
                out = uploads.commit(
                    store,
                    router,
                    uid,
                    member,
                    receive_deadline=d.peer_receive,
                    setup_deadline=d.peer_setup,
                )
            except Exception as exc:
                node.gov.audit.append(
                    "failure",
                    session=f"upload:{uid}",
                    member=member.name,
                    detail=f"upload commit: {type(exc).__name__}",
                )
                raise
            info = store.table_info(str(out["table"]))
            node.gov.audit_upload(member.name, uid, {**out, "rows": info.get("rows")})
            node.privacy.drop_stale()  # stored persons tables of the replaced version
            return out

        return await blocking(commit_and_audit)

    @app.post("/v1/uploads/{upload_id}/abort")
    async def abort(request: Request, upload_id: str) -> dict[str, Any]:
        member, _ = await node.authenticate(request)
        return await blocking(uploads.abort, store, _upload_id(upload_id), member)

    @app.post("/v1/erasures/{erasure_id}")
    async def erase(request: Request, erasure_id: str) -> dict[str, Any]:
        if not _HEX32.fullmatch(erasure_id):
            raise InputValidationError("erasure id must be 32 lowercase hex characters")
        # the ids' share bundle, read after the signature under the upload cap
        member, body = await node.authenticate(request, limit=config.limits.upload_body)
        d = config.deadlines
        return await blocking(
            lambda: node.privacy.erase(
                router,
                member,
                erasure_id,
                body,
                receive_deadline=d.peer_receive,
                setup_deadline=d.peer_setup,
            )
        )

    @app.post("/v1/queries")
    async def query(request: Request) -> Response:
        member, body = await node.authenticate(request)
        doc = node.parse_json(body)
        if not isinstance(doc, dict):
            raise PlanError("the request body must be an object")
        data = await blocking(node.run_query, member, doc)
        return Response(content=data, media_type=BUNDLE_TYPE)

    return app

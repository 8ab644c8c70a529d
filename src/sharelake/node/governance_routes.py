"""The governance endpoints of a node (``docs/node-api.md``, "Governance") and the
middleware that audits every request.

Plan requests, approvals and rejections, owner-signed policy changes and the audit log are
served here; every decision is :class:`~sharelake.node.governance.Governance`'s.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..consortium.members import PurposeError
from ..consortium.signing import HEADER_MEMBER
from ..errors import SharelakeError
from ..governance.approvals import MAX_REASON, Approval, ApprovalError, request_id, visible_to
from ..governance.policy import PolicyChange, PolicyError
from ..plan import tree
from ..plan.canonical import PlanError, plan_hash
from ..storage.catalog import TableNotFoundError
from .authz import AuthorizationError
from .governance import Governance, now_text

__all__ = ["mount"]


def mount(app: FastAPI) -> None:
    """Add the governance endpoints and the audit middleware to a node's app.

    Needs ``app.state.node`` (the service's node object, with ``authenticate``,
    ``store`` and ``gov``).
    """
    node = app.state.node
    gov: Governance = node.gov
    anonymous = UnauthenticatedTally()

    @app.middleware("http")
    async def _audit_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        status = response.status_code
        if status >= 400 or request.url.path.startswith("/v1/queries"):
            what = f"{request.method} {request.url.path}"[:300]
            member = getattr(request.state, "member", None)
            if member is not None:
                gov.audit.append("request", member=member, decision=str(status), detail=what)
            else:
                audit_it, held = anonymous.add(time.monotonic())
                if audit_it:
                    more = (
                        f"; {held} more unauthenticated refusals were only counted" if held else ""
                    )
                    gov.audit.append(
                        "request",
                        member=request.headers.get(HEADER_MEMBER, "")[:64],
                        decision=str(status),
                        detail=(what + more)[:300],
                    )
        return response

    def catalog_of(names: list[str]) -> dict[str, dict[str, Any]]:
        return {n: node.store.table_info(n) for n in names}

    def versions_of(plan: Mapping[str, Any]) -> dict[str, int]:
        """The catalog versions now (-1: no such table) of the tables of a filed request's
        plan (a JSON record of the approval book)."""

        out = {}
        for t in tree.tables(tree.from_json(plan)):
            try:
                out[t] = int(node.store.table_info(t)["version"])
            except TableNotFoundError:
                out[t] = -1
        return out

    def parse_plan(doc: Any) -> tuple[dict[str, Any], tree.Plan]:
        """A request's plan as it came (hashed, filed) and checked and typed (read)."""
        plan = doc.get("plan") if isinstance(doc, dict) else None
        typed = tree.from_json(plan)  # checks the plan's grammar first
        assert isinstance(plan, dict)
        return plan, typed

    @app.post("/v1/explain")
    async def explain(request: Request) -> dict[str, Any]:
        member, body = await node.authenticate(request)
        plan, typed = parse_plan(node.parse_json(body))

        catalog = await run_in_threadpool(catalog_of, tree.tables(typed))
        v = gov.verdict(typed, member, catalog)
        out = v.to_dict()
        out["plan_hash"] = plan_hash(plan)
        out["text"] = v.text()
        return out

    @app.post("/v1/requests")
    async def submit(request: Request) -> dict[str, Any]:
        member, body = await node.authenticate(request)
        doc = node.parse_json(body)
        plan, typed = parse_plan(doc)
        # the analyst's words; a client from before purposes sent them as "purpose"
        explanation = doc.get("explanation", doc.get("purpose", ""))
        if not isinstance(explanation, str) or len(explanation) > MAX_REASON:
            raise PlanError(f"explanation must be text of at most {MAX_REASON} characters")
        try:  # the purpose the plan serves: agreed, and allowed by every table it reads
            purpose = node.consortium.resolve_purpose(typed.purpose)
        except PurposeError as exc:
            raise AuthorizationError(str(exc)) from None

        catalog = await run_in_threadpool(catalog_of, tree.tables(typed))
        for name, ref in sorted(gov.refs(catalog).items()):
            if not ref.policy.serves(purpose):
                text = (
                    f"table {name!r} may not serve the purpose {purpose!r} "
                    f"(its policy allows: {', '.join(ref.policy.purposes or ())})"
                )
                gov.audit.append(
                    "refusal",
                    plan_hash=plan_hash(plan),
                    member=member.name,
                    detail=text,
                    purpose=purpose,
                )
                raise AuthorizationError(text)
        v = gov.verdict(typed, member, catalog)
        req = gov.book.submit(
            plan,  # filed as it came (approvals sign its hash)
            member.name,
            v.owners,
            v.to_dict(),
            submitted=now_text(),
            explanation=explanation,
            purpose=purpose,
        )
        gov.audit.append(
            "submission",
            session=req.id,
            plan_hash=req.plan_hash,
            member=member.name,
            decision=v.decision,
            purpose=purpose,
        )
        return {"id": req.id, "plan_hash": req.plan_hash, "verdict": v.to_dict()}

    def summary(req_id: str) -> dict[str, Any]:
        req = gov.book.request(req_id)
        missing = gov.book.problems(
            req.plan_hash,
            req.analyst,
            req.owners,
            time.time(),
            versions_of(req.plan),
        )
        decisions = gov.book.decisions(req.plan_hash, req.analyst)
        rejected = any(a.decision == "reject" for a in decisions)
        return {
            **req.to_dict(),
            "decisions": [
                {k: v for k, v in a.to_dict().items() if k != "signature"} for a in decisions
            ],
            "missing": missing,
            "status": "rejected" if rejected else "approved" if not missing else "pending",
            "purpose_description": _purpose_text(req.purpose),
        }

    def _purpose_text(name: str) -> str:
        agreed = node.consortium.agreed_purposes
        return agreed[name].description if name in agreed else ""

    @app.get("/v1/approvals")
    async def list_requests(request: Request) -> list[dict[str, Any]]:
        member, _ = await node.authenticate(request)
        out = []
        for req in gov.book.requests():
            if not visible_to(gov.consortium, member.name, req):
                continue  # a member sees its own requests and those it may decide on
            s = summary(req.id)
            del s["plan"]
            out.append(s)
        return out

    @app.get("/v1/approvals/{req_id}")
    async def show_request(request: Request, req_id: str) -> dict[str, Any]:
        member, _ = await node.authenticate(request)
        try:
            req = gov.book.request(req_id)
        except ApprovalError as exc:
            raise _NotFoundError(str(exc)) from None
        if not visible_to(gov.consortium, member.name, req):
            raise _NotFoundError(f"no plan request {req_id!r} at this node for {member.name!r}")
        return summary(req_id)

    @app.get("/v1/audit")
    async def audit_lines(request: Request) -> dict[str, Any]:
        """This node's audit log as stored (names, hashes and decisions, never values)."""
        await node.authenticate(request)
        return {"node": node.party, "lines": await run_in_threadpool(gov.audit.lines)}

    @app.post("/v1/approvals")
    async def add_approval(request: Request) -> dict[str, Any]:
        member, body = await node.authenticate(request)
        approval = Approval.from_dict(node.parse_json(body))
        if approval.approver != member.name:
            raise AuthorizationError(
                f"an approval by {approval.approver!r} must be sent by that member, "
                f"not {member.name!r}"
            )
        try:
            req = gov.book.request(_request_id(approval))
        except ApprovalError:
            req = None  # bound when the plan is first checked here (Governance.admit)
        versions = None if req is None else await run_in_threadpool(versions_of, req.plan)
        try:
            gov.book.add(approval, now=time.time(), table_versions=versions)
        except ApprovalError as exc:
            raise AuthorizationError(str(exc)) from None
        rid = _request_id(approval)
        gov.audit.append(
            "approval" if approval.decision == "approve" else "rejection",
            session=rid,
            plan_hash=approval.plan_hash,
            member=member.name,
            decision=approval.decision,
            detail=f"for analyst {approval.analyst!r}, expires {approval.expires}",
        )
        return {"id": rid, "recorded": True}

    @app.post("/v1/tables/{name}/policy")
    async def change_policy(request: Request, name: str) -> dict[str, Any]:
        member, body = await node.authenticate(request)
        change = PolicyChange.from_dict(node.parse_json(body))
        if change.table != name:
            raise AuthorizationError(f"the change is signed for table {change.table!r}")
        info = await run_in_threadpool(node.store.table_info, name)
        version = gov.change_policy(member, change, info)
        return {"table": name, "policy_version": version}

    @app.exception_handler(_NotFoundError)
    async def _not_found(request: Request, exc: _NotFoundError) -> Response:
        return Response(
            json.dumps({"error": "ApprovalError", "message": str(exc)}),
            status_code=404,
            media_type="application/json",
        )

    @app.exception_handler(ApprovalError)
    async def _approval_error(request: Request, exc: ApprovalError) -> Response:
        return _json_error(422, exc)

    @app.exception_handler(PolicyError)
    async def _policy_error(request: Request, exc: PolicyError) -> Response:
        return _json_error(422, exc)


class _NotFoundError(SharelakeError):
    """No such plan request at this node."""


class UnauthenticatedTally:
    """Refused requests that never authenticated: the first ``burst`` of every ``every``
    seconds are audited one by one, the rest only counted (the count goes into the next
    audited one), so an anonymous client cannot grow the audit log (and the disk) request by
    request (issue 11: nothing is allocated for a request before its signature is checked).
    """

    def __init__(self, every: float = 60.0, burst: int = 10) -> None:
        self.every, self.burst = every, burst
        self._start = -math.inf
        self._seen = self._held = 0
        self._lock = threading.Lock()

    def add(self, now: float) -> tuple[bool, int]:
        """Count one refusal: whether to audit it, and how many were only counted before."""
        with self._lock:
            if now - self._start >= self.every:
                self._start, self._seen = now, 0
            self._seen += 1
            if self._seen > self.burst:
                self._held += 1
                return False, 0
            held, self._held = self._held, 0
            return True, held


def _json_error(status: int, exc: BaseException) -> Response:
    return Response(
        json.dumps({"error": type(exc).__name__, "message": str(exc)}),
        status_code=status,
        media_type="application/json",
    )


def _request_id(a: Approval) -> str:

    return request_id(a.plan_hash, a.analyst)

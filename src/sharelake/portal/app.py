"""The portal's pages: one FastAPI app per member, rendered on the server with Jinja2.

:func:`create_app` takes an open :class:`~sharelake.client.session.Session` (the
member's own key signs everything) and serves, by role:

- provider (data officer): the upload wizard (file -> column mapping and label
  recoding -> every problem by row and column -> policy per column -> shares uploaded
  with a progress bar), the member's tables, policy changes and drops;
- approver: the inbox of requests waiting for this member, each in plain language with
  the technical plan and hash beside it, approve or reject with a signed reason, history;
- analyst: the monitoring analyses on real tables (name-list comparison, overlap table
  and population estimate, modus operandi), approval requests with a purpose, results
  and a downloadable report;
- everyone: the audit trail verified across the three nodes, node health, roles, help.

Only results the nodes release to this member are ever rendered; nothing of another
organisation's table reaches a page.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from ..client.frame import Table
from ..client.session import Session
from ..errors import SharelakeError
from ..monitoring.analyses import UPLOAD_COLUMNS, keys_table, upload_frames, upload_schema
from ..monitoring.lake_report import (
    AnalysisKind,
    compare_query,
    estimate_of,
    modus_query,
    overlap_query,
    render_html,
    section_of,
    table_html,
)
from ..monitoring.model import FIELDS
from ..plan.canonical import plan_hash
from ..plan.nodes import describe
from .access import COOKIE, SECURITY_HEADERS, Access, Visitor
from .mapping import (
    DATE_FIELDS,
    DateOrder,
    apply_mapping,
    read_table,
    suggest_mapping,
    unknown_labels,
)

__all__ = ["POLICY_CLASSES", "Analysis", "Portal", "create_app"]

POLICY_CLASSES: dict[str, str] = {
    "reveal": "may be released as it is, row by row",
    "group": "may name the groups of a released count or sum (small groups suppressed)",
    "aggregate": "only counts, sums and means of it leave the nodes",
    "match": "only used to find the same person in other lists; never released",
    "private": "never used in any query",
}
"""The policy classes, each with the one line the wizard shows beside it."""

_KEY_POLICY = {"min_group_size": 1, "columns": {"person_key": "match", "victim": "match"}}


@dataclass
class Wizard:
    """One upload in progress: the file as read, the choices made, the outcome."""

    id: str
    filename: str
    raw: pd.DataFrame
    table: str
    mapping: dict[str, str] = field(default_factory=dict)
    dates: dict[str, DateOrder] = field(default_factory=dict)
    recode: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    valid: pd.DataFrame | None = None
    progress: dict[str, tuple[float, float]] = field(default_factory=dict)
    done: bool = False
    error: str = ""


@dataclass
class Analysis:
    """One analysis the analyst set up in this portal: its plan, request and result."""

    id: str
    kind: AnalysisKind
    title: str
    tables: list[str]
    query: Table
    purpose: str | None = None
    created: float = field(default_factory=time.time)
    request_id: str = ""
    result: pd.DataFrame | None = None
    estimate: dict[str, Any] | None = None
    error: str = ""

    def plan(self, session: Session) -> dict[str, Any]:
        """The plan as it runs: naming the purpose it serves."""
        return session.with_purpose(self.query.plan, self.purpose)

    def plan_hash(self, session: Session) -> str:
        """SHA-256 of the plan as it runs (what approvals sign)."""
        return plan_hash(self.plan(session))


class Portal:
    """The state of one member's portal: its session, signed-in browsers, uploads and
    analyses (kept in memory for the life of the process)."""

    def __init__(self, session: Session, access: Access) -> None:
        self.session = session
        self.access = access
        self.member = session.consortium.member(session.member)
        self.wizards: dict[str, Wizard] = {}
        self.analyses: dict[str, Analysis] = {}
        self.lock = threading.Lock()

    def has(self, role: str) -> bool:
        """Whether this member holds ``role``."""
        return role in self.member.roles

    def waiting(self) -> list[dict[str, Any]]:
        """Pending requests that still miss a decision this member may give."""
        from ..governance.approvals import speaks_for

        if not self.has("approver") and not self.has("provider"):
            return []
        out = []
        for r in self.session.approvals():
            decided = {d["approver"] for d in r.get("decisions", [])}
            if (
                r["status"] == "pending"
                and self.member.name not in decided
                and any(
                    speaks_for(self.session.consortium, self.member.name, o)
                    for o in r.get("missing") or {}
                )
            ):
                out.append(r)
        return out


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("sharelake.portal", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda t: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(float(t)))
    return env


def create_app(session: Session, access: Access) -> FastAPI:
    """The portal app of ``session``'s member; ``access`` decides who may use it.

    Examples
    --------
    >>> app = create_app(sharelake.connect("lake", "ngo_a"), Access({"127.0.0.1:8765"}))
    ... # doctest: +SKIP
    """
    portal = Portal(session, access)
    env = _env()
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = portal
    from importlib.resources import files

    app.mount("/static", StaticFiles(directory=str(files("sharelake.portal") / "static")))

    def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        visitor: Visitor | None = getattr(request.state, "visitor", None)
        try:
            waiting = len(portal.waiting()) if visitor is not None else 0
        except SharelakeError:
            waiting = 0
        text = env.get_template(name).render(
            member=portal.member,
            csrf=visitor.csrf if visitor else "",
            waiting=waiting,
            path=request.url.path,
            **ctx,
        )
        return HTMLResponse(text, status_code=status)

    def back(url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303)

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not access.host_ok(request.headers.get("host")):
            resp: Response = Response("unknown host", status_code=400)
        else:
            resp = await _guarded(request, call_next)
        for k, v in SECURITY_HEADERS.items():
            resp.headers[k] = v
        return resp

    async def _guarded(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        visitor = access.visitor(request.cookies.get(COOKIE))
        request.state.visitor = visitor
        if path in ("/start", "/signin") or path.startswith("/static/"):
            return await call_next(request)
        if visitor is None:
            return page(request, "signin.html", status=401)
        if request.method == "POST":
            if not access.same_origin(
                request.headers.get("origin"), request.headers.get("referer")
            ):
                return page(request, "error.html", 403, error="cross-site request refused")
            await request.body()  # cached first, so the endpoint reads the same body again
            form = await request.form()
            token = str(form.get("csrf", ""))
            await form.close()
            if not access.csrf_ok(visitor, token):
                return page(request, "error.html", 403, error="the form is out of date: reload it")
        return await call_next(request)

    @app.exception_handler(SharelakeError)
    async def _sharelake_error(request: Request, exc: SharelakeError) -> HTMLResponse:
        return page(request, "error.html", 400, error=str(exc))

    # ---- sign-in ---------------------------------------------------------------------

    @app.get("/start")
    def start(request: Request, token: str = "") -> Response:
        v = access.sign_in(token)
        if v is None:
            return page(request, "signin.html", 401, spent=True)
        resp = back("/")
        resp.set_cookie(COOKIE, v.cookie, httponly=True, samesite="strict", path="/")
        return resp

    @app.get("/signin")
    def signin(request: Request) -> HTMLResponse:
        return page(request, "signin.html", 401)

    @app.post("/signout")
    def signout(request: Request) -> Response:
        access.sign_out(request.cookies.get(COOKIE, ""))
        resp = back("/signin")
        resp.delete_cookie(COOKIE, path="/")
        return resp

    # ---- everyone --------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        try:
            health = session.health()
        except SharelakeError as exc:
            health = [{"node": "?", "status": f"unreachable: {exc}"}]
        return page(request, "home.html", health=health)

    @app.get("/help", response_class=HTMLResponse)
    def help_page(request: Request) -> HTMLResponse:
        return page(request, "help.html", classes=POLICY_CLASSES)

    @app.get("/roles", response_class=HTMLResponse)
    def roles(request: Request) -> HTMLResponse:
        return page(request, "roles.html", members=list(session.consortium.members.values()))

    @app.get("/audit", response_class=HTMLResponse)
    def audit(request: Request) -> HTMLResponse:
        trail = session.audit()
        entries = sorted(trail.entries[0], key=lambda e: int(e.get("seq", 0)), reverse=True)
        counts = [len(e) for e in trail.entries]
        return page(request, "audit.html", trail=trail, entries=entries[:300], counts=counts)

    # ---- tables (provider) -----------------------------------------------------------

    @app.get("/tables", response_class=HTMLResponse)
    def tables(request: Request) -> HTMLResponse:
        return page(request, "tables.html", tables=session.tables(), classes=POLICY_CLASSES)

    @app.get("/tables/{name}", response_class=HTMLResponse)
    def table(request: Request, name: str) -> HTMLResponse:
        info = session.table_info(name)
        return page(request, "table.html", t=info, classes=POLICY_CLASSES)

    @app.post("/tables/{name}/policy")
    async def change_policy(request: Request, name: str) -> Response:
        form = await request.form()
        info = session.table_info(name)
        pol = dict(info.policy)
        pol["columns"] = {
            c: str(form.get(f"class_{c}", "private")) for c in info.columns if f"class_{c}" in form
        }
        pol["min_group_size"] = int(str(form.get("min_group_size", "5")) or 5)
        session.set_policy(name, pol)
        return back(f"/tables/{name}?changed=1")

    @app.post("/tables/{name}/drop")
    async def drop(request: Request, name: str) -> Response:
        form = await request.form()
        if form.get("confirm") != name:
            return page(request, "error.html", 400, error="type the table's name to drop it")
        session.drop(name)
        return back("/tables")

    # ---- the upload wizard -------------------------------------------------------------

    @app.get("/upload", response_class=HTMLResponse)
    def upload_start(request: Request) -> HTMLResponse:
        return page(request, "upload.html", fields=FIELDS)

    @app.post("/upload")
    async def upload_file(request: Request) -> Response:
        form = await request.form()
        f = form.get("file")
        name = str(form.get("table", "")).strip()
        if f is None or isinstance(f, str) or not name:
            return page(
                request, "upload.html", 400, fields=FIELDS, error="choose a file and a name"
            )
        data = await f.read()
        await form.close()
        raw = read_table(data, f.filename or "upload.csv")
        wid = secrets.token_urlsafe(8)
        w = Wizard(wid, f.filename or "upload.csv", raw, name, suggest_mapping(list(raw.columns)))
        portal.wizards[wid] = w
        return back(f"/upload/{wid}/map")

    def wizard(wid: str) -> Wizard:
        w = portal.wizards.get(wid)
        if w is None:
            raise SharelakeError("this upload is no longer open: start again")
        return w

    def map_page(request: Request, w: Wizard, status: int = 200) -> HTMLResponse:
        labels = unknown_labels(w.raw, w.mapping) if w.mapping else {}
        return page(
            request,
            "mapping.html",
            status,
            w=w,
            fields=FIELDS,
            labels=labels,
            date_fields=DATE_FIELDS,
            codebooks=_codebooks(),
            preview=_table(w.raw.head(5)),
        )

    @app.get("/upload/{wid}/map", response_class=HTMLResponse)
    def mapping(request: Request, wid: str) -> HTMLResponse:
        return map_page(request, wizard(wid))

    @app.post("/upload/{wid}/map")
    async def mapping_post(request: Request, wid: str) -> Response:
        w = wizard(wid)
        form = await request.form()
        w.mapping = {c: str(form.get(f"map_{i}", "")) for i, c in enumerate(w.raw.columns)}
        w.dates = {d: _order(str(form.get(f"date_{d}", "ymd"))) for d in DATE_FIELDS}
        w.recode = {}
        for key, value in form.multi_items():
            if key.startswith("recode_") and str(value):
                fld, _, idx = key[len("recode_") :].partition("__")
                labels = unknown_labels(w.raw, w.mapping).get(fld, [])
                if idx.isdigit() and int(idx) < len(labels):
                    w.recode.setdefault(fld, {})[labels[int(idx)]] = str(value)
        try:
            out = apply_mapping(w.raw, w.mapping, w.recode, source=w.filename, dates=w.dates)
        except SharelakeError as exc:
            w.problems, w.valid = [str(exc)], None
            return map_page(request, w, 422)
        w.problems = [str(p) for p in out.problems]
        w.valid = out.table
        if w.valid is None:
            return map_page(request, w, 422)
        return back(f"/upload/{wid}/policy")

    @app.post("/upload/{wid}/file")
    async def replace_file(request: Request, wid: str) -> Response:
        w = wizard(wid)
        form = await request.form()
        f = form.get("file")
        if f is None or isinstance(f, str):
            return map_page(request, w, 400)
        data = await f.read()
        await form.close()
        w.raw = read_table(data, f.filename or w.filename)
        w.filename = f.filename or w.filename
        kept = {c: w.mapping.get(c, "") for c in w.raw.columns}
        w.mapping = kept if any(kept.values()) else suggest_mapping(list(w.raw.columns))
        w.problems, w.valid = [], None
        return back(f"/upload/{wid}/map")

    @app.get("/upload/{wid}/policy", response_class=HTMLResponse)
    def policy_page(request: Request, wid: str) -> HTMLResponse:
        w = wizard(wid)
        if w.valid is None:
            return back(f"/upload/{wid}/map")  # type: ignore[return-value]
        cols = [c for c in UPLOAD_COLUMNS if c not in ("record_id", "person_key", "victim")]
        analysts = [m.name for m in session.consortium.members.values() if "analyst" in m.roles]
        return page(
            request,
            "policy.html",
            w=w,
            columns=cols,
            defaults=_default_classes(cols),
            classes=POLICY_CLASSES,
            analysts=analysts,
            rows=len(w.valid),
        )

    @app.post("/upload/{wid}/policy")
    async def policy_post(request: Request, wid: str) -> Response:
        w = wizard(wid)
        if w.valid is None:
            return back(f"/upload/{wid}/map")
        form = await request.form()
        cols = [c for c in UPLOAD_COLUMNS if c not in ("record_id", "person_key", "victim")]
        policy: dict[str, Any] = {
            "min_group_size": max(1, int(str(form.get("min_group_size", "5")) or 5)),
            "columns": {c: str(form.get(f"class_{c}", "private")) for c in cols}
            | {"person_key": "match", "victim": "match"},
        }
        chosen = [str(a) for a in form.getlist("analysts")]
        if chosen:
            policy["analysts"] = chosen
        for c, cls in policy["columns"].items():
            if cls not in POLICY_CLASSES:
                return page(request, "error.html", 400, error=f"{c}: unknown class {cls!r}")
        threading.Thread(target=_upload, args=(w, policy), daemon=True).start()
        return back(f"/upload/{wid}/progress")

    def _upload(w: Wizard, policy: dict[str, Any]) -> None:
        assert w.valid is not None
        frame = upload_frames({w.table: w.valid})[w.table]
        schema = upload_schema()

        def tick(step: str, done: float, total: float) -> None:
            w.progress[step] = (done, total)

        try:
            # the wizard run again on a table replaces it (its own and its keys table)
            session.upload(
                frame, w.table, schema=schema, policy=policy, replace=True, progress=tick
            )
            keys = [s for s in schema if s.name in ("record_id", "person_key", "victim")]
            session.upload(
                frame[["record_id", "person_key", "victim"]],
                keys_table(w.table),
                schema=keys,
                policy=_KEY_POLICY,
                replace=True,
                progress=tick,
            )
        except SharelakeError as exc:
            w.error = str(exc)
        finally:
            w.done = True

    @app.get("/upload/{wid}/progress", response_class=HTMLResponse)
    def progress(request: Request, wid: str) -> HTMLResponse:
        w = wizard(wid)
        done = sum(d for d, _ in w.progress.values())
        total = sum(t for _, t in w.progress.values()) or 1.0
        return page(request, "progress.html", w=w, done=done, total=total)

    # ---- approvals (approver, and the analyst's own requests) ---------------------------

    @app.get("/inbox", response_class=HTMLResponse)
    def inbox(request: Request, status: str = "") -> HTMLResponse:
        everything = session.approvals()
        waiting = {r["id"] for r in portal.waiting()}
        mine = [r for r in everything if r["analyst"] == portal.member.name]
        others = [r for r in everything if r["analyst"] != portal.member.name]
        if status in ("pending", "approved", "rejected"):
            others = [r for r in others if r["status"] == status]
        return page(
            request,
            "inbox.html",
            waiting_ids=waiting,
            others=others,
            mine=mine,
            shown=status,
        )

    @app.get("/requests/{rid}", response_class=HTMLResponse)
    def request_page(request: Request, rid: str) -> HTMLResponse:
        req = session.approval(rid)
        intact = plan_hash(req["plan"]) == req["plan_hash"]
        earlier = [
            r
            for r in session.approvals()
            if r["id"] != rid and r["status"] == "approved" and r["analyst"] == req["analyst"]
        ]
        return page(
            request,
            "request.html",
            req=req,
            steps=[
                re.sub(r"^\d+\.\s*", "", ln)
                for ln in describe(req["plan"]).splitlines()
                if ln.strip() and not ln.startswith("Reveals")
            ],
            plan_json=json.dumps(req["plan"], indent=2, sort_keys=True),
            intact=intact,
            may_decide=rid in {r["id"] for r in portal.waiting()},
            differs=_differences(req, earlier),
        )

    @app.post("/requests/{rid}/decide")
    async def decide(request: Request, rid: str) -> Response:
        form = await request.form()
        reason = str(form.get("reason", "")).strip()
        if form.get("decision") == "approve":
            days = float(str(form.get("days", "7")) or 7)
            session.approve(rid, expires_in=days * 86400, reason=reason)
        elif form.get("decision") == "reject":
            if not reason:
                return page(request, "error.html", 400, error="give the analyst a reason")
            session.reject(rid, reason=reason)
        return back(f"/requests/{rid}")

    # ---- analyses (analyst) ----------------------------------------------------------

    @app.get("/analyses", response_class=HTMLResponse)
    def analyses(request: Request) -> HTMLResponse:
        infos = session.tables()
        keys = [t.name for t in infos if "person_key" in t.columns and t.name.endswith("_keys")]
        cases = [t for t in infos if not t.name.endswith("_keys")]
        items = sorted(portal.analyses.values(), key=lambda a: a.created, reverse=True)
        purposes = session.consortium.purposes
        return page(
            request, "analyses.html", keys=keys, cases=cases, items=items, purposes=purposes
        )

    @app.post("/analyses")
    async def new_analysis(request: Request) -> Response:
        form = await request.form()
        kind = str(form.get("kind", ""))
        chosen = [str(t) for t in form.getlist("tables")]
        purpose = str(form.get("purpose", "")) or None
        agreed = session.consortium.agreed_purposes
        if session.consortium.purposes and purpose not in agreed:
            return page(request, "error.html", 400, error="choose the purpose the result serves")
        if kind == "overlap":
            if len(chosen) < 2:
                return page(request, "error.html", 400, error="pick at least two lists")
            q = overlap_query(session, chosen)
            title = "Overlap of " + ", ".join(chosen) + " and the population estimate"
        elif kind == "compare":
            if len(chosen) != 2:
                return page(request, "error.html", 400, error="pick exactly two lists")
            q = compare_query(session, chosen[0], chosen[1])
            title = f"Persons of {chosen[0]} also on {chosen[1]}"
        elif kind == "modus":
            t, col = str(form.get("table", "")), str(form.get("column", ""))
            q = modus_query(session, t, col)
            title, chosen = f"Cases of {t} by {col}", [t]
        else:
            return page(request, "error.html", 400, error="choose an analysis")
        aid = secrets.token_urlsafe(6)
        portal.analyses[aid] = Analysis(aid, kind, title, chosen, q, purpose)  # type: ignore[arg-type]
        return back(f"/analyses/{aid}")

    def analysis(aid: str) -> Analysis:
        a = portal.analyses.get(aid)
        if a is None:
            raise SharelakeError("no such analysis in this portal")
        return a

    @app.get("/analyses/{aid}", response_class=HTMLResponse)
    def analysis_page(request: Request, aid: str) -> HTMLResponse:
        a = analysis(aid)
        verdict = session.plan_verdict(a.plan(session))
        req = None
        digest = a.plan_hash(session)
        for r in session.approvals():
            if r["plan_hash"] == digest and r["analyst"] == portal.member.name:
                req = session.approval(r["id"])
        return page(
            request,
            "analysis.html",
            a=a,
            digest=digest,
            verdict=verdict,
            req=req,
            result=None if a.result is None else _table(a.result),
        )

    @app.post("/analyses/{aid}/request")
    async def ask(request: Request, aid: str) -> Response:
        a = analysis(aid)
        form = await request.form()
        why = str(form.get("explanation", "")).strip()
        if not why:
            return page(request, "error.html", 400, error="say what the result is for")
        a.request_id = session.request_approval(a.query.plan, purpose=a.purpose, explanation=why)[
            0
        ]["id"]
        return back(f"/analyses/{aid}")

    @app.post("/analyses/{aid}/run")
    def run(request: Request, aid: str) -> Response:
        a = analysis(aid)
        try:
            a.result = a.query.collect(purpose=a.purpose)
            a.error = ""
            if a.kind == "overlap":
                a.estimate = estimate_of(a.result)
        except SharelakeError as exc:
            a.error = str(exc)
        return back(f"/analyses/{aid}")

    @app.get("/analyses/{aid}/report.html")
    def report(request: Request, aid: str) -> Response:
        a = analysis(aid)
        if a.result is None:
            return page(request, "error.html", 400, error="run the analysis first")
        section = section_of(a.kind, a.title, a.tables, a.plan_hash(session), a.result, a.estimate)
        text = render_html([section], analyst=portal.member.name)
        return Response(
            text,
            media_type="text/html",
            headers={"Content-Disposition": f'attachment; filename="report-{aid}.html"'},
        )

    return app


def _table(df: pd.DataFrame) -> str:
    return table_html(df, css_class="data", suppressed=int(df.attrs.get("suppressed_groups", 0)))


def _order(text: str) -> DateOrder:
    return text if text in ("ymd", "dmy", "mdy") else "ymd"  # type: ignore[return-value]


def _codebooks() -> Mapping[str, tuple[str, ...]]:
    from ..monitoring.model import CODEBOOKS

    return CODEBOOKS


def _default_classes(cols: list[str]) -> dict[str, str]:
    """The wizard's proposal: case fields may name groups of counts; the birth year only
    in aggregates; the record id never leaves."""
    out = {c: "group" for c in cols}
    out["birth_year"] = "aggregate"
    for c in ("birth_month", "birth_day", "given_name", "family_name", "transport_route"):
        if c in out:
            out[c] = "private"
    return out


def _differences(req: Mapping[str, Any], earlier: Sequence[Mapping[str, Any]]) -> list[str]:
    """How a request differs from the requests approved before for the same analyst."""
    if not earlier:
        return ["no earlier request of this analyst was approved: judge it on its own"]
    rel = req["verdict"].get("releases", {})
    cols = set(rel.get("columns", []))
    tables = set(req["verdict"].get("tables", []))
    out = []
    for r in earlier[-5:]:
        r_rel = r["verdict"].get("releases", {})
        new_cols = cols - set(r_rel.get("columns", []))
        new_tables = tables - set(r["verdict"].get("tables", []))
        bits = []
        if new_tables:
            bits.append("reads tables " + ", ".join(sorted(new_tables)))
        if new_cols:
            bits.append("releases columns " + ", ".join(sorted(new_cols)))
        if rel.get("kind") != r_rel.get("kind"):
            bits.append(f"releases {rel.get('kind')} instead of {r_rel.get('kind')}")
        text = "; ".join(bits) if bits else "releases the same kind of result over the same data"
        out.append(
            f"against request {r['id']} ({r.get('explanation') or 'no purpose given'}): {text}"
        )
    return out

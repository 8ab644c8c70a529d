"""A member's session with the three nodes of a consortium: the client's façade.

:func:`connect` reads ``consortium.toml`` and the member's Ed25519 key and opens a
:class:`~sharelake.client.transport.Transport` (signed requests over pinned HTTPS to the
three nodes, in parallel under one deadline; failures typed and naming the node, see
:mod:`sharelake.client.errors`, re-exported here). :class:`Session` composes it with the
catalog, uploads, lazy tables, linkage, policies and the governance calls (approvals,
audit), so that callers never write a node path themselves.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from ..consortium.keys import load_private_key, public_key_bytes
from ..consortium.members import DEFAULT_PURPOSE, Consortium, PurposeError
from ..consortium.sealing import SealError, new_reply_key, open_sealed, reply_context
from ..errors import AuthenticationError, IntegrityError, PeerTimeoutError, SharelakeError
from ..governance.approvals import Approval
from ..governance.audit import compare_logs, parse_lines, verify_lines
from ..governance.policy import DEFAULT_MIN_GROUP_SIZE
from ..plan.canonical import canonical_json, plan_hash, session_id
from ..plan.nodes import tables_of, validate_plan
from ..relational.table import ColumnSpec
from .catalog import TableInfo, common_tables, find_table
from .erase import erase
from .errors import (
    NodeAuthError,
    NodeCertificateError,
    NodeConflictError,
    NodeError,
    NodeInputError,
    NodeNotFoundError,
    NodePolicyError,
    NodeUnavailableError,
    UnknownTableError,
)
from .policy import set_policy
from .preview import UploadPreview
from .results import rebuild, stored_result, suppression_notes
from .transport import DEFAULT_TIMEOUT, Reply, Transport
from .upload import ProgressCallback, UploadResult, preview_upload, upload

if TYPE_CHECKING:
    import pandas as pd

    from .frame import Table

__all__ = [
    "DEFAULT_TIMEOUT",
    "AuditTrail",
    "NodeAuthError",
    "NodeCertificateError",
    "NodeConflictError",
    "NodeError",
    "NodeInputError",
    "NodeNotFoundError",
    "NodePolicyError",
    "NodeUnavailableError",
    "Session",
    "TableInfo",
    "UnknownTableError",
    "connect",
]

Body = bytes | Callable[[int], bytes]


# ---- session ----------------------------------------------------------------------------


class Session:
    """A member's connection to the three nodes of a consortium.

    Use :func:`connect` to make one. A session is a context manager; closing it closes
    the connections.

    Examples
    --------
    >>> import sharelake
    >>> with sharelake.connect("lake/consortium.toml", "analyst") as s:  # doctest: +SKIP
    ...     people = s.table("people")
    ...     adults = people[people.age >= 18].groupby("region").agg(n=("*", "count"))
    ...     print(adults.explain())
    ...     df = adults.collect()
    """

    def __init__(
        self,
        consortium: Consortium,
        member: str,
        key: ed25519.Ed25519PrivateKey,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: Transport | None = None,
        purpose: str | None = None,
    ) -> None:
        self.consortium = consortium
        self.member = consortium.member(member).name
        self.timeout = float(timeout)
        #: the purpose queries and approval requests serve when they name none
        self.purpose = None if purpose is None else consortium.resolve_purpose(purpose)
        self._key = key
        #: the signed calls to the three nodes (pinned HTTPS, or in-process in unit tests)
        self.transport = transport or Transport(consortium, member, key, timeout=timeout)
        self.consortium_id = self.transport.consortium_id

    # -- plumbing -------------------------------------------------------------------------

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections to the nodes (calls in flight are waited for first)."""
        self.transport.close()

    def __repr__(self) -> str:
        return f"<sharelake.Session {self.member!r} @ {self.consortium.name!r}>"

    def derive_key(self, label: bytes) -> bytes:
        """A secret 16-byte key bound to this member and ``label``.

        Ed25519 signatures are deterministic, so the hash of the member's signature of
        ``label`` is the same on every call and unknown to anyone without the key.
        """
        sig = self._key.sign(b"sharelake-derive-v1\x00" + label)
        return hashlib.sha256(sig).digest()[:16]

    def with_purpose(
        self, plan: Mapping[str, Any], purpose: str | None = None, *, required: bool = True
    ) -> dict[str, Any]:
        """``plan`` naming the purpose it serves: ``purpose``, else the plan's own, else
        the session's default (:attr:`purpose`).

        The purpose is part of the plan, so the plan hash (what approvals sign and the
        audit names) covers it. The consortium's implicit default purpose (a consortium
        file without ``[[purposes]]``) is left out of the plan, so plans that name no
        purpose keep the hash they always had.

        Raises
        ------
        sharelake.consortium.members.PurposeError
            The purpose is not agreed in the consortium file, the plan already names
            another one, or (``required``) none is given where purposes are agreed.

        Examples
        --------
        >>> session.with_purpose(q.plan, "monitoring")["purpose"]  # doctest: +SKIP
        'monitoring'
        """

        out = dict(plan)
        own = out.get("purpose")
        if purpose is not None and own is not None and purpose != own:
            raise PurposeError(f"the plan already names the purpose {own!r}, not {purpose!r}")
        chosen = purpose if purpose is not None else own if own is not None else self.purpose
        if chosen is None and not required:
            return out
        name = self.consortium.resolve_purpose(chosen)
        if name == DEFAULT_PURPOSE and not self.consortium.purposes:
            out.pop("purpose", None)
        else:
            out["purpose"] = name
        return out

    def node_name(self, i: int) -> str:
        """Display name of node ``i`` (``P0``...)."""
        return self.transport.node_name(i)

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
        """One signed request to node ``node`` (:meth:`Transport.request`)."""
        return self.transport.request(
            node,
            method,
            path,
            body,
            content_type=content_type,
            timeout=timeout,
            chunks=chunks,
            body_sha256=body_sha256,
        )

    def on_all(
        self,
        calls: Sequence[Callable[[], Reply]],
        *,
        timeout: float | None = None,
        wait_all: bool = False,
    ) -> list[Reply]:
        """One call per node in parallel (:meth:`Transport.on_all`)."""
        return self.transport.on_all(calls, timeout=timeout, wait_all=wait_all)

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
        return self.transport.on_each(
            method, path, bodies, content_type=content_type, timeout=timeout, wait_all=wait_all
        )

    # -- catalog --------------------------------------------------------------------------

    def health(self) -> list[dict[str, Any]]:
        """Each node's ``/v1/health`` answer, in node order.

        Examples
        --------
        >>> [h["node"] for h in session.health()]  # doctest: +SKIP
        [0, 1, 2]
        """
        return [r.json() for r in self.on_each("GET", "/v1/health")]

    def tables(self) -> list[TableInfo]:
        """The committed tables the three nodes list alike (version and policy in force).

        A table whose version, policy version or policy differs between the nodes is
        left out (:meth:`table_info` says how the nodes differ).

        Examples
        --------
        >>> [t.name for t in session.tables()]  # doctest: +SKIP
        ['people']
        """
        return common_tables([r.json() for r in self.on_each("GET", "/v1/tables")])

    def table_info(self, name: str) -> TableInfo:
        """The catalog entry of table ``name``; :class:`UnknownTableError` if none.

        Also raised, saying what each node holds, when the nodes list the table with
        different versions or policies.
        """
        lists = [r.json() for r in self.on_each("GET", "/v1/tables")]
        return find_table(lists, name, [self.node_name(i) for i in range(3)])

    def table(self, name: str) -> Table:
        """A lazy table over the stored table ``name`` (nothing is computed yet).

        Examples
        --------
        >>> people = session.table("people")  # doctest: +SKIP
        >>> people.columns  # doctest: +SKIP
        ['pid', 'age', 'region']
        """
        from .frame import Table

        info = self.table_info(name)
        return Table.of(name, info.columns, session=self)

    def set_policy(
        self, table: str, policy: Mapping[str, Any] | str | Path, *, progress: bool = False
    ) -> TableInfo:
        """Change the policy of your table ``table`` on the three nodes.

        Signs, with your key, the next policy version of the table's current upload and
        sends it to all three nodes (waiting for each).

        Parameters
        ----------
        table
            A table you own.
        policy
            The new policy: a TOML file (as ``sharelake upload --policy``) or its dict.
            It replaces the policy in force as a whole.
        progress
            Show a status line on stderr while the nodes answer.

        Returns
        -------
        TableInfo
            The table as the nodes now list it (``policy_version`` one higher).

        Raises
        ------
        UnknownTableError
            No such table on the three nodes (or they list it differently).
        sharelake.governance.policy.PolicyError
            You do not own the table, or the policy is invalid (the message names the
            file and the bad setting, column or class); nothing is signed.
        NodeError
            A node refused the change (e.g. :class:`NodePolicyError` when another change
            was accepted meanwhile).

        Examples
        --------
        >>> with sharelake.connect("lake/consortium.toml", "ngo_a") as s:  # doctest: +SKIP
        ...     info = s.set_policy("people", {"columns": {"age": "aggregate"}})
        >>> info.policy_version  # doctest: +SKIP
        2
        """

        return set_policy(self, self._key, table, policy, progress=progress)

    def erase(
        self,
        table: str,
        record_ids: Sequence[Any] | str | Path,
        *,
        column: str = "record_id",
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Erase the rows of your table ``table`` whose ``column`` is one of ``record_ids``.

        The ids are secret-shared here (padded with null ids to a power of two) and the
        nodes remove the matching rows inside MPC, write the rest as the table's next
        version and destroy the old one on all three nodes; see
        :func:`sharelake.client.erase.erase`. The nodes learn how many rows were removed,
        never which ids.

        Parameters
        ----------
        table
            A table you own.
        record_ids
            The ids, or a file with one id per line (a CSV with a ``column`` header is
            read by that column).
        column
            The table's record id column.
        timeout
            Seconds the nodes may take.

        Returns
        -------
        dict
            ``{"table", "erased", "version", "rows"}``: rows removed, the new table
            version, rows kept.

        Examples
        --------
        >>> session.erase("people", ["A-17", "B-3"])["erased"]  # doctest: +SKIP
        2
        """

        return erase(self, table, record_ids, column=column, timeout=timeout)

    def drop(self, name: str) -> None:
        """Delete table ``name`` on all three nodes (its owner only)."""
        self.on_each("DELETE", f"/v1/tables/{name}", wait_all=True)

    def upload(
        self,
        data: pd.DataFrame | str | Path,
        name: str,
        *,
        schema: Sequence[ColumnSpec] | Mapping[str, Any] | str | Path | None = None,
        policy: Mapping[str, Any] | str | Path | None = None,
        upload_id: str | None = None,
        replace: bool = False,
        lenient: bool = False,
        progress: bool | ProgressCallback = True,
        timeout: float | None = None,
        confirm: Callable[[UploadPreview], bool] | None = None,
        normalize: Mapping[str, str | Sequence[str]] | None = None,
    ) -> UploadResult:
        """Validate, secret-share and upload a table (all-or-nothing on the three nodes).

        ``schema`` is inferred when None; a bad value raises
        :class:`~sharelake.errors.InputValidationError` naming file, row and column before
        anything is sent. Pass the ``upload_id`` of a failed upload to retry it safely.
        An existing table name is refused unless ``replace=True`` (a new version voids
        the approvals and budgets bound to the old one).
        Parameters are those of :func:`sharelake.client.upload.upload`.

        Examples
        --------
        >>> session.upload("people.csv", "people", policy="policy.toml")  # doctest: +SKIP
        UploadResult(table='people', rows=1000, ...)
        """

        return upload(
            self,
            data,
            name,
            schema=schema,
            policy=policy,
            upload_id=upload_id,
            replace=replace,
            lenient=lenient,
            progress=progress,
            timeout=timeout,
            confirm=confirm,
            normalize=normalize,
        )

    def preview_upload(
        self,
        data: pd.DataFrame | str | Path,
        name: str,
        *,
        schema: Sequence[ColumnSpec] | Mapping[str, Any] | str | Path | None = None,
        lenient: bool = False,
        normalize: Mapping[str, str | Sequence[str]] | None = None,
    ) -> UploadPreview:
        """What :meth:`upload` would share (columns, kinds, row count, public details,
        problems found), validated as the upload validates; nothing is sent.

        Examples
        --------
        >>> print(session.preview_upload("cases.csv", "cases"))  # doctest: +SKIP
        Upload preview: table 'cases' from cases.csv: 84 rows, 3 columns. ...
        """
        return preview_upload(data, name, schema=schema, lenient=lenient, normalize=normalize)

    def upload_people(
        self,
        data: pd.DataFrame | str | Path,
        name: str,
        *,
        policy: Mapping[str, Any] | str | Path | None = None,
        keep_names: bool = False,
        **kwargs: Any,
    ) -> UploadResult:
        """Upload a person table with its linkage encodings, computed here before sharing.

        See :func:`sharelake.client.linkage.upload_people` (names are not uploaded unless
        ``keep_names``; encoding columns the policy does not classify are ``match``).

        Examples
        --------
        >>> pol = {"columns": {"record_id": "reveal"}, "release_sizes": True}
        >>> session.upload_people("people.csv", "people_a", policy=pol)  # doctest: +SKIP
        """
        from .linkage import upload_people

        return upload_people(self, data, name, policy=policy, keep_names=keep_names, **kwargs)

    def link(
        self,
        left: str | Sequence[str],
        right: str | None = None,
        *,
        mode: str = "probabilistic",
        reveal: str = "own",
        params: Mapping[str, int] | None = None,
        blocking: str = "auto",
        window: int | None = None,
        progress: bool = True,
        timeout: float | None = None,
    ) -> pd.DataFrame:
        """Link two person tables inside MPC; see :func:`sharelake.client.linkage.link`.

        ``mode``: ``probabilistic`` (Fellegi-Sunter, the default), ``exact``, ``fuzzy``
        or ``hybrid``; ``reveal``: ``pairs``, ``own`` or
        ``count``. A reveal mode the policies forbid is refused before anything runs.
        ``blocking``: ``auto`` (sorted-neighbourhood blocking above 2,000 x 2,000
        records), ``none`` (every pair) or ``sorted_neighbourhood``; ``window``: its
        window (LINKAGE.md).

        ``left`` a list of k >= 2 person tables (and no ``right``): the records of all
        of them are linked at once and clustered into persons inside MPC
        (:func:`sharelake.client.linkage.link_many`; ``mode`` ``probabilistic``,
        ``fuzzy`` or ``exact``; ``reveal`` ``overlap``, ``count`` or ``own``: the first
        table's records, each with the number of other lists it is linked to, for the
        owner of the first table only).

        Examples
        --------
        >>> session.link("people_a", "people_b", reveal="pairs")  # doctest: +SKIP
        >>> session.link(["ngo_a", "ngo_b", "police"], mode="fuzzy",
        ...              reveal="overlap")  # doctest: +SKIP
        """
        from .linkage import link, link_many

        if not isinstance(left, str):
            if right is not None:
                raise TypeError("link([t1, ..., tk]) takes no right table")
            return link_many(
                self,
                list(left),
                mode=mode,  # type: ignore[arg-type]
                reveal=reveal,  # type: ignore[arg-type]
                window=window,
                progress=progress,
                timeout=timeout,
            )
        if right is None:
            raise TypeError("link(left, right) needs a right table")
        return link(
            self,
            left,
            right,
            mode=mode,  # type: ignore[arg-type]
            reveal=reveal,  # type: ignore[arg-type]
            params=params,
            blocking=blocking,  # type: ignore[arg-type]
            window=window,
            progress=progress,
            timeout=timeout,
        )

    def plan_verdict(self, plan: Mapping[str, Any]) -> dict[str, Any]:
        """The nodes' policy verdict on ``plan`` (``POST /v1/explain``); nothing runs.

        Asked of the first node that answers (each node decides alone, by the same
        rules). Returns ``{"decision", "reasons", "releases", "owners", "text", ...}``.
        """
        body = json.dumps({"plan": dict(plan)}, sort_keys=True).encode("utf-8")
        last: SharelakeError | None = None
        for i in range(3):
            try:
                answer: dict[str, Any] = self.request(i, "POST", "/v1/explain", body).json()
                return answer
            except (NodeUnavailableError, PeerTimeoutError) as exc:
                last = exc
        assert last is not None
        raise last

    def request_approval(
        self, plan: Mapping[str, Any], *, purpose: str | None = None, explanation: str = ""
    ) -> list[dict[str, Any]]:
        """Ask the owners to approve ``plan`` for you (``POST /v1/requests`` on every node).

        ``purpose`` is the purpose the query serves, one the consortium file lists
        (default: the session's :attr:`purpose`); it becomes part of the plan, so the
        approval is for that purpose only (see :meth:`with_purpose`). ``explanation`` is
        your own words, shown to the approvers beside the plan. Nothing else files a
        request: a refused :meth:`query` only says how to ask.

        Examples
        --------
        >>> session.request_approval(q.plan, purpose="monitoring",
        ...                          explanation="2026 overlap")  # doctest: +SKIP
        """
        bound = self.with_purpose(plan, purpose)
        body = json.dumps({"plan": bound, "explanation": explanation}, sort_keys=True).encode()
        return [r.json() for r in self.on_each("POST", "/v1/requests", body, wait_all=True)]

    # -- approvals ------------------------------------------------------------------------

    def approvals(self, *, node: int = 0) -> list[dict[str, Any]]:
        """The plan requests you may see (yours, and those you may decide on), oldest first.

        Each has ``id``, ``analyst``, ``owners``, ``purpose`` (the purpose the plan
        serves), ``explanation`` (the analyst's words), ``status`` (``pending``,
        ``approved`` or ``rejected``), ``missing`` (owner -> what is missing),
        ``decisions`` and the node's ``verdict``. Asked of one node (``node``).

        Examples
        --------
        >>> [r["id"] for r in session.approvals() if r["status"] == "pending"]  # doctest: +SKIP
        ['1ed7acc36bfbec1a']
        """
        out: list[dict[str, Any]] = self.request(node, "GET", "/v1/approvals").json()
        return out

    def approval(self, request_id: str, *, node: int = 0) -> dict[str, Any]:
        """One plan request with its plan (as :meth:`approvals`, plus ``plan``)."""
        out: dict[str, Any] = self.request(node, "GET", f"/v1/approvals/{request_id}").json()
        return out

    def approve(
        self, request_id: str, *, expires_in: float = 7 * 86400, reason: str = ""
    ) -> dict[str, Any]:
        """Sign your approval of a request's plan for its analyst and send it to all nodes.

        The plan's hash is recomputed here from the plan the node shows, so a node
        cannot get another plan signed than the one reviewed.

        Raises
        ------
        IntegrityError
            The node's plan does not match its hash (nothing is signed).

        Examples
        --------
        >>> session.approve("1ed7acc36bfbec1a", expires_in=86400)  # doctest: +SKIP
        """
        return self._decide(request_id, "approve", expires_in, reason)

    def reject(self, request_id: str, *, reason: str = "") -> dict[str, Any]:
        """Sign a rejection (with the reason the analyst sees) and send it to all nodes.

        Examples
        --------
        >>> session.reject("1ed7acc36bfbec1a", reason="groups too small")  # doctest: +SKIP
        """
        return self._decide(request_id, "reject", 365 * 86400, reason)

    def _decide(
        self, request_id: str, decision: str, expires_in: float, reason: str
    ) -> dict[str, Any]:
        req = self.approval(request_id)
        if plan_hash(req["plan"]) != req["plan_hash"]:
            raise IntegrityError(
                f"{self.node_name(0)}: the plan of request {request_id} does not match its "
                "hash; nothing signed"
            )
        approval = Approval.create(
            self._key,
            req["plan_hash"],
            req["analyst"],
            int(time.time() + expires_in),
            self.member,
            "approve" if decision == "approve" else "reject",
            reason=reason,
        )
        body = canonical_json(approval.to_dict()).encode("utf-8")
        self.on_each("POST", "/v1/approvals", body, wait_all=True)
        return req

    def audit(self) -> AuditTrail:
        """The three nodes' audit logs, each chain checked and the nodes compared.

        Audit entries hold member names, plan hashes and decisions, never values.

        Examples
        --------
        >>> trail = session.audit()  # doctest: +SKIP
        >>> trail.problems  # doctest: +SKIP
        []
        """

        lines = [r.json()["lines"] for r in self.on_each("GET", "/v1/audit", wait_all=True)]
        names = [self.node_name(i) for i in range(3)]
        keys = [self.consortium.node(i).audit_key for i in range(3)]  # None: not listed
        problems = [
            p for i in range(3) for p in verify_lines(lines[i], names[i], public_key=keys[i])
        ]
        entries = [parse_lines(ls) for ls in lines]
        problems += compare_logs(entries, names)
        return AuditTrail(tuple(tuple(e) for e in entries), tuple(problems))

    def query(
        self,
        plan: Mapping[str, Any],
        *,
        timeout: float | None = None,
        columns: Sequence[str] | None = None,
        purpose: str | None = None,
    ) -> pd.DataFrame:
        """Run a plan on the three nodes and rebuild its released rows.

        Most users call :meth:`sharelake.client.frame.Table.collect` instead; ``columns``
        orders the result's columns. ``purpose``: the purpose the query serves (default:
        the plan's own, else the session's; see :meth:`with_purpose`).

        Raises
        ------
        sharelake.consortium.members.PurposeError
            No purpose where the consortium lists purposes, or one it does not list.
        NodePolicyError
            A node refused, e.g. a table's policy does not allow the purpose.
        """

        plan = self.with_purpose(plan, purpose)
        validate_plan(plan)
        digest = plan_hash(plan)
        answers = self.query_answers(plan, digest, timeout=timeout)
        names = [self.node_name(i) for i in range(3)]
        if plan["release"]["kind"] == "table":  # a stored persons table: nothing released
            return stored_result(answers, names=names)
        df = rebuild(answers, plan, names=names, columns=columns)
        if int(df.attrs.get("suppressed_groups", 0)) > 0:
            self._name_suppression_policies(df, plan)
        return df

    def _name_suppression_policies(self, df: pd.DataFrame, plan: Mapping[str, Any]) -> None:
        """Replace the generic suppression note of ``df`` by one naming the rule and the
        policies of the tables the plan read (one catalog listing; only when groups were
        suppressed)."""
        try:
            lists = [r.json() for r in self.on_each("GET", "/v1/tables")]
            listed = {t.name: t for t in common_tables(lists)}
        except SharelakeError:  # the result stands; the generic note stays
            return
        policies: dict[str, tuple[int, int]] = {}
        for name in tables_of(plan):
            info = listed.get(name)
            if info is None:
                return
            k = info.policy.get("min_group_size", DEFAULT_MIN_GROUP_SIZE)
            policies[name] = (int(k), int(info.policy_version))
        df.attrs["notes"] = suppression_notes(
            int(df.attrs["suppressed_groups"]), policies, min_rows=df.attrs.get("min_rows")
        )
        df.attrs["suppression_policies"] = {
            t: {"min_group_size": k, "policy_version": v} for t, (k, v) in policies.items()
        }

    def query_answers(
        self,
        plan: Mapping[str, Any],
        digest: str,
        *,
        timeout: float | None = None,
        wait_all: bool = False,
    ) -> list[bytes]:
        """Send a query to the three nodes; their answers (share bundles), opened.

        Each copy of the request is signed for its node; the request carries a fresh
        X25519 key whose private half never leaves this call, and each node seals its
        answer to it (:mod:`sharelake.consortium.sealing`), so a copied answer is useless.
        """

        private, public = new_reply_key()
        nonce = _nonce()
        body = json.dumps(
            {"plan": plan, "plan_hash": digest, "nonce": nonce, "reply_key": public},
            sort_keys=True,
        ).encode("utf-8")
        replies = self.on_each("POST", "/v1/queries", body, timeout=timeout, wait_all=wait_all)
        session = session_id(digest, self.member, nonce)
        out = []
        for r in replies:
            try:
                ctx = reply_context(self.consortium_id, r.node, session)
                out.append(open_sealed(r.body, private, context=ctx))
            except SealError as exc:
                raise NodeUnavailableError(
                    f"{self.node_name(r.node)}: {exc}", node=r.node
                ) from None
        return out


@dataclass(frozen=True)
class AuditTrail:
    """The nodes' audit entries (``entries[i]``: node i's, in order) and what the chain
    checks and the comparison of the nodes found (``problems``; empty: intact, agreed)."""

    entries: tuple[tuple[dict[str, Any], ...], ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether every log is intact and the nodes agree."""
        return not self.problems


def _nonce() -> str:
    return secrets.token_hex(16)


def connect(
    consortium: str | Path,
    member: str,
    *,
    key: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    purpose: str | None = None,
) -> Session:
    """Open a session with the three nodes of a consortium as ``member``.

    Parameters
    ----------
    consortium
        Path of ``consortium.toml`` (or of the directory that holds it).
    member
        Your member name, as listed in ``consortium.toml``.
    key
        Your Ed25519 private key (PEM). Default: ``members/<member>.key`` beside
        ``consortium.toml``.
    timeout
        Seconds each request may take (a query's whole run included).
    purpose
        The purpose (from the consortium file's ``[[purposes]]``) this session's queries
        and approval requests serve when they name none.

    Returns
    -------
    Session
        Nothing is sent until the first call (connections open lazily).

    Raises
    ------
    sharelake.consortium.members.ConsortiumConfigError
        The consortium file is missing or malformed.
    sharelake.consortium.members.UnknownMemberError
        ``member`` is not listed.
    sharelake.consortium.members.PurposeError
        ``purpose`` is not agreed in the consortium file.
    sharelake.consortium.keys.KeyFileError
        The key cannot be read.
    AuthenticationError
        The key is not the one ``consortium.toml`` lists for ``member``.

    Examples
    --------
    >>> import sharelake
    >>> s = sharelake.connect("lake/consortium.toml", "analyst")  # doctest: +SKIP
    >>> s.tables()  # doctest: +SKIP
    [TableInfo(name='people', ...)]
    """

    path = Path(consortium)
    if path.is_dir():
        path = path / "consortium.toml"
    cons = Consortium.load(path)
    m = cons.member(member)
    key_path = Path(key) if key is not None else path.parent / "members" / f"{m.name}.key"
    private = load_private_key(key_path)
    if public_key_bytes(private) != m.public_key:
        raise AuthenticationError(f"the key {key_path} is not {m.name!r}'s key listed in {path}")
    if timeout <= 0:
        raise ValueError("timeout must be a positive number of seconds")
    return Session(cons, m.name, private, timeout=timeout, purpose=purpose)

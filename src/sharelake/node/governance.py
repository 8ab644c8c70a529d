"""Node governance in one class: admission, approvals, budgets, release history, audit calls.

:class:`Governance` is the node's governance state, kept in its data directory::

    audit.jsonl       the hash-chained audit log (governance/audit.py)
    approvals.jsonl   plan requests and owners' signed approvals (governance/approvals.py),
                      each bound to the uploads (table versions) of the plan's tables
    policies.jsonl    owner-signed policy changes (governance/policy.py), each bound to
                      the table upload it was made for, and drop markers
    budget.json       released queries per analyst and table upload (governance/outputs.py)
    released.jsonl    row sets of released aggregates per table upload, for the
                      differencing check

The query path of :mod:`sharelake.node.service` calls :meth:`Governance.admit` before
anything runs (verdict, approvals, budget; refusals are audited and raise
:class:`~sharelake.node.authz.AuthorizationError`), :meth:`Governance.protect` inside
the MPC session (k-suppression on shares, the differencing check) and
:meth:`Governance.released` after the release. The HTTP endpoints are in
:mod:`sharelake.node.governance_routes`.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..consortium.cluster import NodeConfig, audit_key_path
from ..consortium.keys import generate_key, load_private_key, public_key_bytes, save_private_key
from ..consortium.members import Consortium, ConsortiumConfigError, Member
from ..engine.atoms import small_atoms
from ..engine.noise import add_joint_noise
from ..engine.protect import suppress_small_groups
from ..errors import InputValidationError, PeerAbortError, ProtocolError, SharelakeError
from ..governance.approvals import ApprovalBook, request_id
from ..governance.audit import HEADS_FILE, AuditLog, Head, PeerHeads
from ..governance.lineage import Cells, release_cells
from ..governance.noise import (
    NoiseBudget,
    NoiseBudgetError,
    NoiseError,
    NoisePlan,
    clip_plan,
    noise_plan,
)
from ..governance.outputs import (
    HIDDEN_COUNT,
    BudgetExceededError,
    DifferencingError,
    DifferencingGuard,
    QueryBudget,
    protected_plan,
)
from ..governance.policy import Policy, PolicyChange, PolicyError
from ..governance.verdict import TableRef, Verdict, check_plan
from ..mpc.arith import open_arith
from ..mpc.checks import VerificationError
from ..mpc.party import Party
from ..plan import tree
from ..plan.canonical import PlanError
from ..relational.table import SecretTable
from .authz import AuthorizationError
from .consistency import ReleaseHistoryError, check_release_history

__all__ = ["Admission", "Governance", "check_upload_policy"]


def secondary_thresholds(k: int) -> tuple[int, ...]:
    """The group sizes secondary suppression tries above ``k`` (public; at most two).

    Examples
    --------
    >>> secondary_thresholds(5)
    (8, 10)
    >>> secondary_thresholds(1)
    ()
    """
    if k <= 1:
        return ()
    return tuple(sorted({t for t in (math.ceil(1.5 * k), 2 * k) if t > k}))


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Admission:
    """An admitted query: the verdict, and the plan the node executes."""

    session: str
    plan_hash: str
    analyst: str
    verdict: Verdict
    plan: tree.Plan  # what runs: the admitted plan, rewritten for protection and noise
    count_col: str | None
    hidden: bool
    rows: Cells | None  # the cells the release reveals (None: not covered by the check)
    versions: Mapping[str, int] = field(default_factory=dict)  # table -> catalog version
    noise: NoisePlan | None = None  # differential privacy on this release (None: exact)
    purpose: str = ""  # the purpose the query serves (consortium file), audited with it


def check_upload_policy(meta: Mapping[str, Any], consortium: Consortium | None = None) -> None:
    """Refuse an upload whose policy names an unknown column, class or purpose (or is
    malformed). Purposes are checked against ``consortium`` when given.

    Raises
    ------
    InputValidationError
        Naming the table and the offending setting, column, class or purpose.
    """
    schema = meta.get("schema")
    names = (
        [c.get("name") for c in schema if isinstance(c, Mapping)]
        if isinstance(schema, list)
        else []
    )
    try:
        policy = Policy.from_dict(meta.get("policy") or {}, schema=[str(n) for n in names])
        if consortium is not None:
            check_policy_purposes(policy, consortium)
    except PolicyError as exc:
        raise InputValidationError(f"table {meta.get('table')!r}: {exc}") from None


def check_policy_purposes(policy: Policy, consortium: Consortium) -> None:
    """Refuse a policy naming a purpose the consortium file does not list.

    Raises
    ------
    PolicyError
        Naming the purpose and the agreed ones.
    """
    agreed = consortium.agreed_purposes
    for name in policy.purposes or ():
        if name not in agreed:
            raise PolicyError(
                f"policy: purpose {name!r} is not agreed in the consortium "
                f"(agreed: {', '.join(sorted(agreed))})"
            )


def _reasons_text(v: Verdict) -> str:
    return "; ".join(f"{r.table}{'.' + r.column if r.column else ''} ({r.rule})" for r in v.reasons)


class Governance:
    """A node's governance state (see the module docstring)."""

    def __init__(
        self,
        config: NodeConfig,
        consortium: Consortium,
        tables: Mapping[str, int] | None = None,
    ) -> None:
        """``tables``: the catalog version of every committed table (to bind changes,
        budget use and release records stored by an older node, which named no upload;
        see :meth:`_bind_unbound`, ``QueryBudget.bind`` and ``DifferencingGuard.bind``)."""
        d = Path(config.data_dir)
        d.mkdir(parents=True, exist_ok=True)
        self.consortium = consortium
        self.audit = AuditLog(d / "audit.jsonl", node=config.id, key=_audit_key(config, consortium))
        self.heads = PeerHeads(d / HEADS_FILE)  # the peers' signed chain heads
        self.book = ApprovalBook(d / "approvals.jsonl", consortium)
        self.budget = QueryBudget(d / "budget.json")
        self.guard = DifferencingGuard(d / "released.jsonl")
        self.noise_budget = NoiseBudget(d / "noise_budget.json")  # epsilon per upload
        self._policies_path = d / "policies.jsonl"
        self._lock = threading.Lock()
        # table name -> catalog version of an upload -> (policy version, policy in force)
        self._policies: dict[str, dict[int, tuple[int, Policy]]] = {}
        unbound: dict[str, tuple[int, Policy]] = {}
        if self._policies_path.exists():
            for line in self._policies_path.read_text(encoding="utf-8").splitlines():
                try:
                    doc = json.loads(line)
                    if isinstance(doc, dict) and "signature" not in doc:
                        self._replay_marker(doc, unbound)
                        continue
                    ch = PolicyChange.from_dict(doc)
                except (ValueError, TypeError, KeyError, SharelakeError):
                    continue
                if ch.table_version is None:
                    unbound[ch.table] = (ch.version, ch.policy)
                else:
                    self._policies.setdefault(ch.table, {})[ch.table_version] = (
                        ch.version,
                        ch.policy,
                    )
        if unbound:
            self._bind_unbound(unbound, tables or {})
        if tables is not None:
            # budget use and release records stored by an older node named no upload
            self.budget.bind(tables)
            self.guard.bind(tables)
            # approvals stored by an older node: bound to the uploads current now

            for digest, plan in self.book.unbound_plans().items():
                try:
                    scans = tree.tables(tree.from_json(plan))
                except PlanError:  # a plan this node would refuse to run binds nothing
                    continue
                self.book.bind(digest, {t: int(tables.get(t, -1)) for t in scans})

    def _replay_marker(self, doc: dict[str, Any], unbound: dict[str, tuple[int, Policy]]) -> None:
        """Apply a node-written line of ``policies.jsonl`` while loading it."""
        table, tv = str(doc["table"]), int(doc["table_version"])
        if doc.get("event") == "dropped":
            unbound.pop(table, None)
            kept = {v: p for v, p in self._policies.get(table, {}).items() if v > tv}
            self._policies[table] = kept
        elif doc.get("event") == "bound" and table in unbound:
            self._policies.setdefault(table, {})[tv] = unbound.pop(table)

    def _mark(self, event: str, table: str, table_version: int) -> None:
        line = {"event": event, "table": table, "table_version": table_version}
        with self._policies_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, sort_keys=True) + "\n")

    def _bind_unbound(
        self, unbound: Mapping[str, tuple[int, Policy]], tables: Mapping[str, int]
    ) -> None:
        """Bind changes stored before they named an upload (no ``table_version``).

        Such a change was enforced over whatever upload had the table's name; it is
        bound, once and for good, to the upload current now (the one it was being
        enforced over), so loosening nothing. One whose table is gone is dropped.
        """
        for table, entry in unbound.items():
            if table in tables:
                self._policies.setdefault(table, {})[int(tables[table])] = entry
                self._mark("bound", table, int(tables[table]))
                log.info("an older policy change bound to its table's upload")
            else:
                self._mark("dropped", table, 0)
                log.info("an older policy change of a table that is gone")

    # ---- policies -----------------------------------------------------------------------

    def _changed(self, info: Mapping[str, Any]) -> tuple[int, Policy] | None:
        """The latest accepted change for this upload of the table (by catalog version)."""
        with self._lock:
            return self._policies.get(str(info["name"]), {}).get(int(info["version"]))

    def refs(self, catalog: Mapping[str, Mapping[str, Any]]) -> dict[str, TableRef]:
        """TableRefs of catalog entries, with owner-signed policy changes applied.

        A change applies only to the upload it was made for (the entry's ``version``):
        a table dropped and uploaded again, or replaced, starts from its upload's policy.
        """
        out = {}
        for name, info in catalog.items():
            schema = tuple(str(c["name"]) for c in info["schema"])
            changed = self._changed(info)
            if changed is not None:
                policy = changed[1]
            else:
                try:
                    policy = Policy.from_dict(info.get("policy") or {})
                except PolicyError as exc:
                    raise AuthorizationError(f"table {name!r}: stored policy: {exc}") from None
            out[name] = TableRef(str(info["owner"]), schema, policy)
        return out

    def in_force(self, info: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """The version and dict form of the policy in force over a catalog entry.

        The latest accepted owner-signed change made for this upload of the table
        (version 2, 3, ...), else the policy stored with the upload (version 1), as
        :meth:`refs` enforces it.
        """
        changed = self._changed(info)
        if changed is not None:
            return changed[0], changed[1].to_dict()
        return 1, dict(info.get("policy") or {})

    def change_policy(self, member: Member, change: PolicyChange, info: Mapping[str, Any]) -> int:
        """Apply an owner-signed policy change; returns the new policy version.

        The change must name the table version (upload) ``info`` describes.
        """
        name, table_version = str(info["name"]), int(info["version"])
        # the same event at every node: table, upload and the version the change asks for
        sid = f"policy:{name}:{table_version}:{change.version}"
        with self._lock:
            current = self._policies.get(name, {}).get(table_version, (1, None))[0]
            try:
                if member.name != change.owner:
                    raise PolicyError(
                        f"table {change.table!r}: the change is signed for {change.owner!r} "
                        f"but sent by {member.name!r}"
                    )
                change.verify(
                    self.consortium,
                    table_owner=str(info["owner"]),
                    current_version=current,
                    table_version=table_version,
                )
                Policy.from_dict(
                    change.policy.to_dict(), schema=[c["name"] for c in info["schema"]]
                )
                check_policy_purposes(change.policy, self.consortium)
            except PolicyError as exc:
                self.audit.append(
                    "policy", session=sid, member=member.name, decision="refused", detail=str(exc)
                )
                raise AuthorizationError(str(exc)) from None
            except SharelakeError as exc:
                self.audit.append(
                    "policy", session=sid, member=member.name, decision="refused", detail=str(exc)
                )
                raise
            with self._policies_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(change.to_dict(), sort_keys=True) + "\n")
            self._policies.setdefault(name, {})[table_version] = (change.version, change.policy)
        self.audit.append(
            "policy",
            session=sid,
            member=member.name,
            decision="changed",
            detail=f"table {name!r} (table version {table_version}) policy version "
            f"{change.version}",
        )
        return change.version

    def dropped(self, name: str, table_version: int) -> None:
        """Forget the policy changes, budget use and release records of a dropped table
        (its uploads up to ``table_version``).

        They could not apply again (a new upload gets a higher table version); the
        marker keeps ``policies.jsonl`` from carrying them over a lost catalog.
        """
        with self._lock:
            kept = {v: p for v, p in self._policies.get(name, {}).items() if v > table_version}
            if kept:
                self._policies[name] = kept
            else:
                self._policies.pop(name, None)
            self._mark("dropped", name, table_version)
        self.budget.forget(name, table_version)  # a new upload starts afresh
        self.guard.forget(name, table_version)
        self.noise_budget.forget(name, table_version)

    def audit_drop(self, member: str, name: str, table_version: int) -> None:
        """Audit a DROP TABLE (the same event id at every node)."""
        self.audit.append(
            "drop",
            session=f"drop:{name}:{table_version}",
            member=member,
            decision="dropped",
            detail=f"table {name!r} (table version {table_version})",
        )

    def audit_upload(self, member: str, upload_id: str, result: Mapping[str, Any]) -> None:
        """Audit a committed upload: its member, table, version and row count."""
        self.audit.append(
            "upload",
            session=f"upload:{upload_id}",
            member=member,
            decision="committed",
            rows=int(result["rows"]) if "rows" in result else None,
            detail=f"table {result.get('table')!r} (table version {result.get('version')})",
        )

    def exchange_heads(self, p: Party) -> None:
        """One round on the query's peer channel: send this node's signed chain head to
        both peers and store theirs (checked against their audit keys in the consortium).

        Raises
        ------
        ProtocolError
            A peer's head does not carry its node's valid signature.
        """
        mine = self.audit.signed_head().pack()
        got = p.exchange({p.prev: mine, p.next: mine}, {p.prev: len(mine), p.next: len(mine)})
        for j, raw in sorted(got.items()):
            head = Head.unpack(bytes(raw))
            key = self.consortium.node(j).audit_key
            if head.node != j or (key is not None and not head.valid(key)):
                raise ProtocolError(f"P{j} sent a chain head not signed by its audit key")
            self.heads.store(head)

    # ---- queries ------------------------------------------------------------------------

    def verdict(
        self, plan: tree.Plan, member: Member, catalog: Mapping[str, Mapping[str, Any]]
    ) -> Verdict:
        """The verdict on ``plan`` for ``member`` (nothing is recorded)."""
        return check_plan(plan, self.refs(catalog), member.name)

    def admit(
        self,
        plan: tree.Plan,
        member: Member,
        catalog: Mapping[str, Mapping[str, Any]],
        session: str,
        *,
        purpose: str = "",
    ) -> Admission:
        """Decide on a query before it runs; audit the verdict; refuse or admit it.

        ``purpose`` is the purpose the query serves (resolved against the consortium
        file); it is audited with every entry of the query.

        Raises
        ------
        AuthorizationError
            A table's policy does not allow ``purpose``; the verdict is ``deny``; or
            ``needs_approval`` without a valid approval of every owner (the request is
            then recorded for the owners to review); or the analyst's budget over a
            table is spent.
        """
        digest = tree.digest(plan)
        refs = self.refs(catalog)

        def refuse(text: str) -> AuthorizationError:
            self.audit.append(
                "refusal",
                session=session,
                plan_hash=digest,
                member=member.name,
                detail=text,
                purpose=purpose,
            )
            return AuthorizationError(text)

        for name in sorted(refs):
            allowed = refs[name].policy.purposes
            if allowed is not None and purpose not in allowed:
                raise refuse(
                    f"table {name!r} may not serve the purpose {purpose!r} "
                    f"(its policy allows: {', '.join(allowed)})"
                )
        v = check_plan(plan, refs, member.name)
        versions = {t: int(catalog[t]["version"]) for t in v.tables}
        self.audit.append(
            "verdict",
            session=session,
            plan_hash=digest,
            member=member.name,
            decision=v.decision,
            detail=_reasons_text(v),
            purpose=purpose,
        )

        if v.decision == "deny":
            raise refuse(f"plan {digest[:12]} is denied: " + _reasons_text(v))
        if v.decision == "needs_approval":
            # approvals count for the uploads they were given for (the catalog versions
            # of the plan's tables); one recorded before this node knew the plan binds now
            scanned = {t: int(catalog[t]["version"]) for t in tree.tables(plan)}
            self.book.bind(digest, scanned)
            problems = self.book.problems(digest, member.name, v.owners, time.time(), scanned)
            if problems:
                # nothing is filed here: asking for approval is the analyst's explicit act
                rid = request_id(digest, member.name)
                filed = rid in {r.id for r in self.book.requests()}
                ask = (
                    f"request {rid} is waiting for them"
                    if filed
                    else "ask for it with q.request_approval(purpose=...) or in the portal"
                )
                raise refuse(
                    f"plan {digest[:12]} needs the approval of every owner "
                    f"({', '.join(sorted(v.owners))}; {ask}): "
                    + "; ".join(problems.values())
                    + f". Rules: {_reasons_text(v)}"
                )
        try:
            self.budget.check(member.name, versions)
        except BudgetExceededError as exc:
            raise refuse(str(exc)) from None
        if v.releases.min_group_size is None:  # rows, or an aggregate of reveal columns
            run_plan, count_col, hidden = plan, None, False
        else:
            run_plan, count_col, hidden = protected_plan(plan)
        rows = release_cells(plan) if count_col is not None else None
        noise = None
        noised = [t for t in v.tables if self.refs(catalog)[t].policy.noise is not None]
        if noised and count_col is not None:
            spec = self.refs(catalog)[noised[0]].policy.noise
            assert spec is not None
            try:
                if len(v.tables) > 1:
                    raise NoiseError(
                        f"table {noised[0]!r} puts noise on its aggregates, which is supported "
                        "only for aggregates over that one table"
                    )
                noise = noise_plan(plan, spec, count_col)
                self.noise_budget.check(
                    noise.table, versions[noise.table], spec.epsilon, spec.budget
                )
            except (NoiseError, NoiseBudgetError) as exc:
                raise refuse(str(exc)) from None
            run_plan = clip_plan(run_plan, spec)
        self.audit.append(
            "run",
            session=session,
            plan_hash=digest,
            member=member.name,
            decision=v.decision,
            purpose=purpose,
        )
        return Admission(
            session,
            digest,
            member.name,
            v,
            run_plan,
            count_col,
            hidden,
            rows,
            versions,
            noise,
            purpose,
        )

    def protect(
        self, p: Party, adm: Admission, result: SecretTable, tables: Mapping[str, SecretTable]
    ) -> tuple[SecretTable, int, int | None]:
        """Inside the session: the differencing check, then k-suppression of an aggregate.

        Returns the table to release, the number of suppressed groups (opened) and the
        group size below which groups were suppressed when it is above k (secondary
        suppression), else None.

        Secondary suppression: when the release at k would leave a small atom (typically
        groups of 12, 9 and 7 rows released beside a suppressed group of 2, whose size the
        table's public row count then gives away), the check is tried again with the new
        release keeping only its groups of at least each of :func:`secondary_thresholds`
        rows; the first that leaves no small atom and still shows a group is used (every
        group below it is suppressed), else the release is refused as before. Each try
        opens one more bit. The record of released cells stays the one at k (more cells
        than were shown: later checks are stricter, never looser).

        Raises
        ------
        ReleaseHistoryError
            The nodes' records of earlier releases over the table differ (audited).
        AuthorizationError
            The differencing check refuses the release (audited).
        """
        k = adm.verdict.releases.min_group_size
        if adm.count_col is None or k is None:
            return result, 0, None
        if adm.noise is not None:
            # differential privacy instead of the exact differencing check: noise drawn
            # by every node on its own, then groups suppressed on their noisy counts
            noisy = add_joint_noise(p, result, adm.noise.scale)
            kept, gone = suppress_small_groups(p, noisy, adm.count_col, k)
            suppressed = int(open_arith(p, gone)[0])
            if adm.hidden:
                kept = kept.select([c for c in kept.names if c != HIDDEN_COUNT])
            return kept, suppressed, None
        least: int | None = None
        if adm.rows is not None and adm.verdict.decision == "allow":
            # In the same order at every node, and the same list (else a clean refusal).
            tv = adm.versions.get(adm.rows.table, 0)
            earlier = sorted(self.guard.earlier(adm.rows, tv), key=lambda r: r.text())
            try:
                check_release_history(p, adm.rows.table, [(r.text(),) for r in earlier])
            except ReleaseHistoryError as exc:
                self._audit_refusal(adm, exc)
                raise
            # every atom of the released cells (with the public row count) has 0 or >= k
            # rows, checked inside MPC; one bit is opened
            table = tables[adm.rows.table]
            small = small_atoms(p, table, adm.rows, earlier, k)
            for higher in secondary_thresholds(k) if small else ():
                if not small_atoms(p, table, adm.rows, earlier, k, min_rows=higher):
                    small, least = False, higher
                    break
            try:
                DifferencingGuard.refuse(adm.rows, small, len(earlier), k)
            except DifferencingError as exc:
                self._audit_refusal(adm, exc)
                raise AuthorizationError(str(exc)) from None
        # No count exceeds the total number of input rows (a public bound).
        bound = sum(t.n for t in tables.values())
        kept, gone = suppress_small_groups(
            p, result, adm.count_col, k if least is None else least, max_count=bound
        )
        suppressed = int(open_arith(p, gone)[0])
        if adm.hidden:
            kept = kept.select([c for c in kept.names if c != HIDDEN_COUNT])
        return kept, suppressed, least

    def _audit_refusal(self, adm: Admission, exc: Exception) -> None:
        self.audit.append(
            "refusal",
            session=adm.session,
            plan_hash=adm.plan_hash,
            member=adm.analyst,
            detail=str(exc),
            purpose=adm.purpose,
        )

    def released(
        self, adm: Admission, rows: int, suppressed: int, min_rows: int | None = None
    ) -> None:
        """Record a release: audit (what, to whom, row counts), budget, row set."""
        rel = adm.verdict.releases
        detail = (
            f"{rel.text()}; {suppressed} groups suppressed"
            if rel.kind == "aggregate"
            else rel.text()
        )
        if min_rows is not None:
            detail += f" (secondary suppression: groups under {min_rows} rows)"
        if adm.noise is not None:
            detail += f"; noise: epsilon {adm.noise.epsilon:g} over table {adm.noise.table!r}"
        self.audit.append(
            "release",
            session=adm.session,
            plan_hash=adm.plan_hash,
            member=adm.analyst,
            rows=rows,
            detail=detail,
            purpose=adm.purpose,
        )
        self.budget.charge(adm.analyst, adm.versions)
        if adm.noise is not None:
            t = adm.noise.table
            self.noise_budget.charge(t, adm.versions.get(t, 0), adm.noise.epsilon)
        elif adm.rows is not None:
            self.guard.record(adm.rows, adm.versions.get(adm.rows.table, 0))

    def stored(self, adm: Admission, table: str, version: int, rows: int) -> None:
        """Audit a stored persons table the query made (nothing was released)."""
        self.audit.append(
            "upload",
            session=adm.session,
            plan_hash=adm.plan_hash,
            member=adm.analyst,
            decision="stored",
            rows=rows,
            detail=f"stored persons table {table!r} (table version {version}) of tables "
            + ", ".join(repr(t) for t in adm.verdict.tables),
            purpose=adm.purpose,
        )

    def failed(self, session: str, digest: str, member: str, exc: BaseException) -> None:
        """Audit a query that failed after admission (class name only, no message).

        A failed malicious-security check adds the check's name and, when the protocol
        could tell, the two nodes one of which deviated (never a value).
        """
        detail = type(exc).__name__
        if isinstance(exc, PeerAbortError):
            detail += f": P{exc.node} reported its check {exc.check!r} failed"
        if isinstance(exc, VerificationError):
            detail += f": check {exc.check!r} failed"
            if exc.suspects:
                detail += "; deviating node among " + ", ".join(f"P{j}" for j in exc.suspects)
        self.audit.append(
            "failure",
            session=session,
            plan_hash=digest,
            member=member,
            detail=detail,
        )


def _audit_key(config: NodeConfig, consortium: Consortium) -> Ed25519PrivateKey:
    """The node's audit key (``audit-key.pem`` beside its TLS key).

    A node set up before audit keys existed makes one on first start (its public half
    is then not in the consortium, so ``audit verify`` cannot check its signatures until
    the consortium lists it); a key that is not the one the consortium lists is refused.
    """
    path = audit_key_path(config.key_path)
    if path.exists():
        key = load_private_key(path)
    else:
        key = generate_key()
        save_private_key(key, path)
        log.warning("P%d: made a new audit key %s; list it in the consortium", config.id, path)
    listed = consortium.node(config.id).audit_key
    if listed is not None and listed != public_key_bytes(key):
        raise ConsortiumConfigError(
            f"{path} is not the audit key the consortium lists for node P{config.id}"
        )
    return key


def now_text() -> str:
    """The current UTC time as ISO 8601 text (seconds), as audit entries and requests show it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

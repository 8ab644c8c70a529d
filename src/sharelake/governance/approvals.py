"""Owners' approvals of plans: signatures over (plan hash, analyst, expiry, approver).

An analyst submits a plan whose verdict is ``needs_approval``; each node keeps the
request. Every owner of a table the plan touches reads it (``sharelake approvals show``)
and signs an :class:`Approval`: an Ed25519 signature over::

    "sharelake-approval-v1\\n" + canonical JSON of
    {"plan_hash", "analyst", "expires", "approver", "decision"}

bound to the plan's hash (a changed plan has another hash), to the analyst (nobody
else can use it), to an expiry (Unix seconds) and to the approver's name. A node runs
the plan only when :meth:`ApprovalBook.valid_for` finds, for every owner, a valid
``approve`` by that owner (or by a member with the ``approver`` role of the owner's
organisation). A signature by anyone else does not count.

Each node stores its book as JSON lines (``approvals.jsonl`` in its data directory);
signatures are verified again on every use, so an edited file gains nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ed25519

from ..consortium.keys import SignatureError, sign, verify
from ..consortium.members import Consortium, UnknownMemberError
from ..errors import SharelakeError
from ..plan.canonical import canonical_json, plan_hash

__all__ = [
    "APPROVALS_FILE",
    "Approval",
    "ApprovalBook",
    "ApprovalError",
    "PlanRequest",
    "request_id",
    "speaks_for",
    "visible_to",
]

APPROVALS_FILE = "approvals.jsonl"
_PREFIX = b"sharelake-approval-v1\n"
_HEX64 = frozenset("0123456789abcdef")


class ApprovalError(SharelakeError):
    """An approval is malformed, expired, by a non-owner, or missing for a plan."""


MAX_REASON = 2000  # characters of an approver's reason or an analyst's explanation


def request_id(plan_digest: str, analyst: str) -> str:
    """The id of an analyst's request to run a plan (16 hex characters).

    Examples
    --------
    >>> request_id("ab" * 32, "ana")
    '1ed7acc36bfbec1a'
    """
    text = f"sharelake-request-v1\x00{plan_digest}\x00{analyst}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Approval:
    """One member's signed decision on a plan for an analyst.

    Examples
    --------
    >>> from sharelake.consortium.keys import generate_key
    >>> a = Approval.create(generate_key(), "ab" * 32, "ana", 2_000_000_000, "ngo")
    >>> Approval.from_dict(a.to_dict()) == a
    True
    """

    plan_hash: str
    analyst: str
    expires: int
    approver: str
    signature: bytes
    decision: Literal["approve", "reject"] = "approve"
    reason: str = ""

    @staticmethod
    def message(
        plan_digest: str,
        analyst: str,
        expires: int,
        approver: str,
        decision: str,
        reason: str = "",
    ) -> bytes:
        """The signed bytes (the reason is signed too; an empty one is left out, so
        approvals signed before reasons existed still verify)."""
        doc: dict[str, Any] = {
            "plan_hash": plan_digest,
            "analyst": analyst,
            "expires": expires,
            "approver": approver,
            "decision": decision,
        }
        if reason:
            doc["reason"] = reason
        return _PREFIX + canonical_json(doc).encode("ascii")

    @classmethod
    def create(
        cls,
        key: ed25519.Ed25519PrivateKey,
        plan_digest: str,
        analyst: str,
        expires: int,
        approver: str,
        decision: Literal["approve", "reject"] = "approve",
        *,
        reason: str = "",
    ) -> Approval:
        """Sign a decision, with an optional reason the analyst sees, as ``approver``."""
        if len(reason) > MAX_REASON:
            raise ApprovalError(f"the reason is longer than {MAX_REASON} characters")
        msg = cls.message(plan_digest, analyst, expires, approver, decision, reason)
        return cls(plan_digest, analyst, expires, approver, sign(key, msg), decision, reason)

    def verify(self, consortium: Consortium) -> None:
        """Check the signature under the approver's key in ``consortium``.

        Raises
        ------
        UnknownMemberError
            The approver is not a member.
        SignatureError
            The signature does not verify.
        """
        member = consortium.member(self.approver)
        msg = self.message(
            self.plan_hash, self.analyst, self.expires, self.approver, self.decision, self.reason
        )
        verify(member.public_key, self.signature, msg, who=f"approval by {self.approver!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form (signature as base64)."""
        return {
            "plan_hash": self.plan_hash,
            "analyst": self.analyst,
            "expires": self.expires,
            "approver": self.approver,
            "decision": self.decision,
            "signature": base64.b64encode(self.signature).decode("ascii"),
            **({"reason": self.reason} if self.reason else {}),
        }

    @classmethod
    def from_dict(cls, doc: Any) -> Approval:
        """Parse the JSON form; raises :class:`ApprovalError` naming the bad field."""
        if not isinstance(doc, Mapping):
            raise ApprovalError("approval: expected an object")
        for f, kind in (
            ("plan_hash", str),
            ("analyst", str),
            ("expires", int),
            ("approver", str),
            ("signature", str),
        ):
            v = doc.get(f)
            if not isinstance(v, kind) or isinstance(v, bool):
                raise ApprovalError(f"approval: field {f!r} is missing or has the wrong type")
        digest = str(doc["plan_hash"])
        if len(digest) != 64 or not set(digest) <= _HEX64:
            raise ApprovalError("approval: plan_hash must be 64 lowercase hex characters")
        decision = doc.get("decision", "approve")
        if decision not in ("approve", "reject"):
            raise ApprovalError("approval: decision must be 'approve' or 'reject'")
        reason = doc.get("reason", "")
        if not isinstance(reason, str) or len(reason) > MAX_REASON:
            raise ApprovalError(f"approval: reason must be text of at most {MAX_REASON} characters")
        try:
            sig = base64.b64decode(str(doc["signature"]), validate=True)
        except (binascii.Error, ValueError):
            raise SignatureError("approval: signature is not base64") from None
        return cls(
            digest,
            str(doc["analyst"]),
            int(doc["expires"]),
            str(doc["approver"]),
            sig,
            decision,
            reason,
        )


@dataclass(frozen=True)
class PlanRequest:
    """An analyst's request to run a plan that needs approval.

    ``verdict`` is the node's verdict in JSON form (reasons, release, owners);
    ``explanation`` the analyst's own words on why, shown to the approvers; ``purpose``
    the purpose (consortium file) the plan serves: the plan's ``purpose``, or the
    consortium's default one. A line stored before purposes existed had the analyst's
    words under ``purpose``; it is read as the explanation.
    """

    id: str
    plan: dict[str, Any]
    plan_hash: str
    analyst: str
    owners: tuple[str, ...]
    submitted: str
    verdict: dict[str, Any]
    explanation: str = ""
    purpose: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "plan": self.plan,
            "plan_hash": self.plan_hash,
            "analyst": self.analyst,
            "owners": list(self.owners),
            "submitted": self.submitted,
            "verdict": self.verdict,
            "explanation": self.explanation,
            "purpose": self.purpose,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> PlanRequest:
        """Inverse of :meth:`to_dict`."""
        return cls(
            str(doc["id"]),
            dict(doc["plan"]),
            str(doc["plan_hash"]),
            str(doc["analyst"]),
            tuple(str(o) for o in doc["owners"]),
            str(doc["submitted"]),
            dict(doc["verdict"]),
            str(doc.get("explanation", doc.get("purpose", ""))),
            str(doc.get("purpose", "")) if "explanation" in doc else "",
        )


def speaks_for(consortium: Consortium, approver: str, owner: str) -> bool:
    """Whether ``approver`` may approve for ``owner``: the owner itself, or a member
    with the ``approver`` role of the same organisation."""
    if approver == owner:
        return True
    try:
        a, o = consortium.member(approver), consortium.member(owner)
    except UnknownMemberError:
        return False
    return "approver" in a.roles and a.organisation == o.organisation


def visible_to(consortium: Consortium, member: str, req: PlanRequest) -> bool:
    """Whether ``member`` may see request ``req``: its analyst, or a member who speaks
    for one of its owners (an owner or an approver of an owner's organisation)."""
    return member == req.analyst or any(speaks_for(consortium, member, o) for o in req.owners)


class ApprovalBook:
    """A node's store of plan requests and approvals (JSON lines, thread-safe).

    Parameters
    ----------
    path
        The JSON-lines file (``approvals.jsonl`` in the node's data directory).
    consortium
        Whose keys verify the approvals.

    An approval is signed over the plan hash, which names tables but not their
    uploads; the node binds each approval to the catalog versions of the plan's tables
    (``table_versions``, node-written next to it) when it records it for a known
    request, or else when it is first checked (:meth:`bind`). An approval bound to
    other versions (the owner approved a query over data since replaced, or dropped
    and uploaded again) does not count; a rejection always does.
    """

    def __init__(self, path: str | Path, consortium: Consortium) -> None:
        self.path = Path(path)
        self.consortium = consortium
        self._lock = threading.Lock()
        self._requests: dict[str, PlanRequest] = {}
        self._approvals: list[Approval] = []
        self._bound: dict[Approval, dict[str, int]] = {}  # approval -> table versions
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                self._load(line)

    def _load(self, line: str) -> None:
        try:
            doc = json.loads(line)
            if doc.get("type") == "request":
                req = PlanRequest.from_dict(doc["request"])
                self._requests[req.id] = req
            elif doc.get("type") in ("approval", "bound"):
                a = Approval.from_dict(doc["approval"])
                if doc.get("type") == "approval" and a not in self._approvals:
                    self._approvals.append(a)
                tv = doc.get("table_versions")
                if isinstance(tv, dict):
                    self._bound[a] = {str(t): int(v) for t, v in tv.items()}
        except (ValueError, KeyError, TypeError, AttributeError, SharelakeError):
            return  # a torn or foreign line counts for nothing

    def _write(self, doc: Mapping[str, Any]) -> None:
        line = json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    # ---- requests ---------------------------------------------------------------------

    def submit(
        self,
        plan: Mapping[str, Any],
        analyst: str,
        owners: Iterable[str],
        verdict: Mapping[str, Any],
        *,
        submitted: str,
        explanation: str = "",
        purpose: str = "",
    ) -> PlanRequest:
        """Record a request (idempotent for the same plan and analyst); returns it.

        A request made again with an explanation where the first had none records the
        explanation (the latest line of a request wins when the book is read back).
        ``purpose`` is the purpose the plan serves (part of the plan, so of its hash).
        """
        digest = plan_hash(plan)
        rid = request_id(digest, analyst)
        with self._lock:
            old = self._requests.get(rid)
            if old is not None and (old.explanation or not explanation):
                return old
            req = PlanRequest(
                rid,
                dict(plan),
                digest,
                analyst,
                tuple(sorted(owners)),
                old.submitted if old is not None else submitted,
                dict(verdict),
                explanation[:MAX_REASON],
                purpose,
            )
            self._write({"type": "request", "request": req.to_dict()})
            self._requests[rid] = req
            return req

    def requests(self) -> list[PlanRequest]:
        """Every request, in submission order."""
        with self._lock:
            return list(self._requests.values())

    def request(self, rid: str) -> PlanRequest:
        """The request with id ``rid``; :class:`ApprovalError` when unknown."""
        with self._lock:
            if rid not in self._requests:
                raise ApprovalError(f"no plan request {rid!r} at this node")
            return self._requests[rid]

    def decisions(self, plan_digest: str, analyst: str) -> list[Approval]:
        """The approvals and rejections recorded for a plan and analyst."""
        with self._lock:
            return [
                a for a in self._approvals if a.plan_hash == plan_digest and a.analyst == analyst
            ]

    # ---- approvals --------------------------------------------------------------------

    def add(
        self,
        approval: Approval,
        *,
        now: float,
        table_versions: Mapping[str, int] | None = None,
    ) -> None:
        """Verify and record an approval or rejection.

        ``table_versions``: the catalog versions of the plan's tables now (the uploads
        the owner approved a query over); None when this node does not know the plan.

        Raises
        ------
        UnknownMemberError, SignatureError
            The approver is not a member, or the signature does not verify.
        ApprovalError
            It has already expired, or the plan's request is known and the approver
            speaks for none of its owners.
        """
        approval.verify(self.consortium)
        if approval.expires <= now:
            raise ApprovalError(f"the approval by {approval.approver!r} has already expired")
        req = self._requests.get(request_id(approval.plan_hash, approval.analyst))
        if req is not None and not any(
            speaks_for(self.consortium, approval.approver, o) for o in req.owners
        ):
            raise ApprovalError(
                f"{approval.approver!r} owns none of the tables of plan request {req.id} "
                f"(owners: {', '.join(req.owners)})"
            )
        tv = None if table_versions is None else {str(t): int(v) for t, v in table_versions.items()}
        with self._lock:
            if approval not in self._approvals:
                doc: dict[str, Any] = {"type": "approval", "approval": approval.to_dict()}
                if tv is not None:
                    doc["table_versions"] = tv
                self._write(doc)
                self._approvals.append(approval)
            elif tv is not None and self._bound.get(approval) != tv:
                # sent again by its approver: for the uploads current now
                self._write({"type": "bound", "approval": approval.to_dict(), "table_versions": tv})
            if tv is not None:
                self._bound[approval] = tv

    def bind(self, plan_digest: str, table_versions: Mapping[str, int]) -> None:
        """Bind the approvals of a plan recorded without table versions to these."""
        tv = {str(t): int(v) for t, v in table_versions.items()}
        with self._lock:
            for a in self._approvals:
                if a.plan_hash == plan_digest and a not in self._bound:
                    self._write({"type": "bound", "approval": a.to_dict(), "table_versions": tv})
                    self._bound[a] = tv

    def unbound_plans(self) -> dict[str, dict[str, Any]]:
        """Plan hash -> plan of the known requests with approvals not yet bound to table
        versions (recorded by an older node, or before the request was known here)."""
        with self._lock:
            by_hash = {r.plan_hash: r.plan for r in self._requests.values()}
            waiting = {a.plan_hash for a in self._approvals if a not in self._bound}
        return {d: by_hash[d] for d in sorted(waiting) if d in by_hash}

    def problems(
        self,
        plan_digest: str,
        analyst: str,
        owners: Iterable[str],
        now: float,
        table_versions: Mapping[str, int] | None = None,
    ) -> dict[str, str]:
        """Owner -> why its approval is not valid (empty: every owner approved).

        An approval counts for an owner only when it is for exactly this plan hash and
        analyst, by the owner (see :func:`speaks_for`), not expired, its signature
        verifies, the owner has not also rejected the plan, and (with ``table_versions``)
        it is bound to no other uploads of the plan's tables.
        """
        tv = None if table_versions is None else {str(t): int(v) for t, v in table_versions.items()}
        with self._lock:
            mine = [a for a in self._approvals if a.plan_hash == plan_digest]
            bound = {a: self._bound.get(a) for a in mine}
        out: dict[str, str] = {}
        for owner in sorted(set(owners)):
            why = f"no approval by owner {owner!r}"
            valid = rejected = False
            for a in mine:
                if not speaks_for(self.consortium, a.approver, owner):
                    continue
                if a.analyst != analyst:
                    why = f"owner {owner!r} approved this plan for {a.analyst!r}, not {analyst!r}"
                    continue
                try:
                    a.verify(self.consortium)
                except (SignatureError, UnknownMemberError):
                    why = f"the approval by {a.approver!r} does not verify"
                    continue
                if a.decision == "reject":
                    rejected = True
                elif tv is not None and bound[a] is not None and bound[a] != tv:
                    why = (
                        f"the approval by {a.approver!r} was given for another upload of "
                        "the plan's tables (a table was replaced or uploaded again since)"
                    )
                elif a.expires <= now:
                    why = f"the approval by {a.approver!r} expired"
                else:
                    valid = True
            if rejected:
                out[owner] = f"owner {owner!r} rejected this plan"
            elif not valid:
                out[owner] = why
        return out

    def valid_for(
        self, plan_digest: str, analyst: str, owners: Iterable[str], now: float
    ) -> set[str]:
        """The owners whose valid approval of this plan for this analyst is missing.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from sharelake.consortium.cluster import init_cluster
        >>> from sharelake.consortium.members import Consortium
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = init_cluster(d)
        >>> book = ApprovalBook(d / "approvals.jsonl", Consortium.load(d / "consortium.toml"))
        >>> sorted(book.valid_for("ab" * 32, "analyst", ["ngo_a", "police"], now=0))
        ['ngo_a', 'police']
        """
        return set(self.problems(plan_digest, analyst, owners, now))

"""Asking for, deciding on and reading approvals through the client, over three real nodes.

A refused query files nothing by itself; a request is the analyst's explicit act, with a
purpose the approvers see; only the analyst and those who may decide see a request; a
rejection carries its signed reason back to the analyst; the audit trail comes back from
the three nodes checked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

import sharelake
from sharelake.client.session import AuditTrail, Session
from sharelake.consortium.cluster import DEFAULT_MEMBERS, MemberSpec, init_cluster
from sharelake.consortium.keys import SignatureError, generate_key, public_key_bytes
from sharelake.consortium.members import Consortium
from sharelake.errors import IntegrityError, SharelakeError
from sharelake.governance.approvals import Approval, ApprovalError
from sharelake.node.local import LocalCluster

pytestmark = pytest.mark.timeout(300)

POLICY = {
    "min_group_size": 3,
    "analysts": ["analyst", "analyst2"],
    "columns": {"case_id": "reveal", "region": "group", "age": "aggregate"},
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    d = tmp_path_factory.mktemp("lake")
    init_cluster(
        d, members=[*DEFAULT_MEMBERS, MemberSpec("analyst2", "uni", frozenset({"analyst"}))]
    )
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "case_id": np.arange(30),
            "region": pd.Categorical(rng.choice(["east", "west"], 30)),
            "age": rng.integers(18, 70, 30),
        }
    )
    with LocalCluster(d) as c:
        with sharelake.connect(c.consortium_path, "ngo_a") as s:
            s.upload(df, "cases", policy=POLICY, progress=False)
        yield c


def connect(cluster: LocalCluster, member: str) -> Session:
    return sharelake.connect(cluster.consortium_path, member)


def test_a_refused_query_files_no_request_and_says_how_to_ask(cluster: LocalCluster) -> None:
    with connect(cluster, "analyst") as s:
        q = s.table("cases")[["region", "case_id"]]
        with pytest.raises(SharelakeError) as err:
            q.collect()
        assert "request_approval(purpose=...)" in str(err.value)
        assert [r for r in s.approvals() if r["plan_hash"] == q.plan_hash] == []


def test_a_request_with_a_purpose_reaches_the_owner_and_no_uninvolved_member(
    cluster: LocalCluster,
) -> None:
    with connect(cluster, "analyst") as s:
        q = s.table("cases")[["case_id", "age"]]
        rid = s.request_approval(q.plan, explanation="ages of the cases for the annual report")[0][
            "id"
        ]
    with connect(cluster, "ngo_a") as owner:
        seen = {r["id"]: r for r in owner.approvals()}
        assert seen[rid]["explanation"] == "ages of the cases for the annual report"
        assert seen[rid]["status"] == "pending" and "ngo_a" in seen[rid]["missing"]
    with connect(cluster, "analyst2") as other:
        assert rid not in {r["id"] for r in other.approvals()}
        with pytest.raises(SharelakeError):
            other.approval(rid)


def test_a_rejection_carries_its_signed_reason_to_the_analyst(cluster: LocalCluster) -> None:
    with connect(cluster, "analyst") as s:
        q = s.table("cases")[["case_id", "region"]]
        rid = s.request_approval(q.plan, explanation="regions")[0]["id"]
    with connect(cluster, "ngo_a") as owner:
        owner.reject(rid, reason="case ids may not leave the shelter")
    with connect(cluster, "analyst") as s:
        for node in range(3):
            req = s.approval(rid, node=node)
            assert req["status"] == "rejected"
            assert req["decisions"][0]["reason"] == "case ids may not leave the shelter"
        with pytest.raises(SharelakeError, match="rejected"):
            s.table("cases")[["case_id", "region"]].collect()


def test_an_approval_lets_the_plan_run_for_its_analyst_only(cluster: LocalCluster) -> None:
    with connect(cluster, "analyst") as s:
        q = s.table("cases")[["age"]]
        rid = s.request_approval(q.plan, explanation="age distribution")[0]["id"]
    with connect(cluster, "ngo_a") as owner:
        owner.approve(rid, expires_in=600, reason="fine")
    with connect(cluster, "analyst") as s:
        assert s.approval(rid)["status"] == "approved"
        got = s.table("cases")[["age"]].collect()
        assert len(got) == 30
    with connect(cluster, "analyst2") as s2, pytest.raises(SharelakeError):
        s2.table("cases")[["age"]].collect()


def settled_audit(s: Session) -> AuditTrail:
    """The audit trail once the nodes finished logging the previous test's query (after a
    refusal the client returns at the first node's answer; the others log a moment later)."""
    deadline = time.monotonic() + 15
    trail = s.audit()
    while not trail.ok and time.monotonic() < deadline:
        time.sleep(0.2)
        trail = s.audit()
    return trail


def test_the_audit_trail_comes_back_from_three_nodes_checked(cluster: LocalCluster) -> None:
    with connect(cluster, "ngo_a") as s:
        trail = settled_audit(s)
        assert trail.ok, trail.problems
        assert all(len(e) > 0 for e in trail.entries)
        kinds = {e["kind"] for e in trail.entries[0]}
        assert "submission" in kinds
        path = cluster.dir / "nodes" / "P2" / "data" / "audit.jsonl"
        lines = path.read_text().splitlines()
        doc = json.loads(lines[1])
        doc["member"] = "someone_else"
        lines[1] = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        original = path.read_text()
        path.write_text("\n".join(lines) + "\n")
        try:
            bad = s.audit()
            assert not bad.ok
            assert any("P2" in p or "node 2" in p for p in bad.problems), bad.problems
        finally:
            path.write_text(original)


def test_a_reason_is_signed_so_a_changed_reason_does_not_verify(tmp_path: object) -> None:
    key = generate_key()
    a = Approval.create(key, "ab" * 32, "ana", 2_000_000_000, "ngo", "reject", reason="no")
    doc = a.to_dict()
    doc["reason"] = "yes, go ahead"
    forged = Approval.from_dict(doc)
    cons = Consortium.__new__(Consortium)  # only member lookup is used by verify
    member = type("M", (), {"public_key": public_key_bytes(key), "name": "ngo"})()
    object.__setattr__(cons, "member", lambda name: member)
    a.verify(cons)
    with pytest.raises(SignatureError):
        forged.verify(cons)


def test_an_approval_signed_without_a_reason_keeps_its_old_signed_form() -> None:
    key = generate_key()
    a = Approval.create(key, "cd" * 32, "ana", 2_000_000_000, "ngo")
    assert "reason" not in a.to_dict()
    assert b"reason" not in Approval.message("cd" * 32, "ana", 2_000_000_000, "ngo", "approve")
    with pytest.raises(ApprovalError):
        Approval.create(key, "cd" * 32, "ana", 2_000_000_000, "ngo", reason="x" * 5000)


def test_a_node_showing_a_plan_that_does_not_match_its_hash_gets_nothing_signed(
    cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect(cluster, "analyst") as s:
        rid = s.request_approval(s.table("cases")[["region"]].plan, explanation="x")[0]["id"]
        other_plan = s.table("cases")[["age", "region"]].plan
    with connect(cluster, "ngo_a") as owner:
        real = owner.approval

        def lying(request_id: str, *, node: int = 0) -> dict[str, object]:
            req = real(request_id, node=node)
            req["plan"] = other_plan
            return req

        monkeypatch.setattr(owner, "approval", lying)
        with pytest.raises(IntegrityError):
            owner.approve(rid)

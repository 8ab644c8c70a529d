"""Governance enforced by three node processes over TLS: one test per attempt to break it.

Every attempt must be refused by every node on its own and leave an audit entry
(in each node's ``audit.jsonl``). The positive controls next to them show the same
request passes once the rule is met.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sharelake
from sharelake.client.session import Session
from sharelake.consortium.cluster import DEFAULT_MEMBERS, MemberSpec, init_cluster
from sharelake.consortium.keys import generate_key, load_private_key
from sharelake.errors import SharelakeError
from sharelake.governance.approvals import Approval, request_id
from sharelake.governance.audit import read_entries
from sharelake.governance.policy import Policy, PolicyChange
from sharelake.node.local import LocalCluster
from sharelake.plan import nodes as pn
from sharelake.plan.canonical import canonical_json, plan_hash
from sharelake.storage.bundle import decode_bundle

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

PEOPLE_POLICY = {
    "min_group_size": 5,
    "analysts": ["analyst", "analyst2"],
    "release_sizes": True,
    "columns": {"pid": "match", "region": "group", "age": "aggregate", "case_id": "reveal"},
}
VISITS_POLICY = {
    "analysts": ["analyst", "analyst2"],
    "release_sizes": True,
    "columns": {"pid": "match", "clinic": "group"},
}


def people() -> pd.DataFrame:
    # regions: east 12 rows, north 9 rows, south 3 and west 3 rows (each under k = 5; the
    # two together are 6 rows, so a by-region release is not refused for differencing)
    region = ["east"] * 12 + ["north"] * 9 + ["south"] * 3 + ["west"] * 3
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "pid": np.arange(27),
            "region": pd.Categorical(region, categories=["east", "north", "south", "west"]),
            "age": rng.integers(18, 80, 27),
            "case_id": np.arange(100, 127),
        }
    )


def visits() -> pd.DataFrame:
    return pd.DataFrame({"pid": np.arange(10, 40), "clinic": np.arange(30) % 3})


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    d = tmp_path_factory.mktemp("lake")
    init_cluster(
        d, members=[*DEFAULT_MEMBERS, MemberSpec("analyst2", "uni", frozenset({"analyst"}))]
    )
    with LocalCluster(d) as c:
        with sharelake.connect(c.consortium_path, "ngo_a") as s:
            s.upload(people(), "people", policy=PEOPLE_POLICY, progress=False)
        with sharelake.connect(c.consortium_path, "ngo_b") as s:
            s.upload(visits(), "visits", policy=VISITS_POLICY, progress=False)
        yield c


def session(cluster: LocalCluster, member: str) -> Session:
    return sharelake.connect(cluster.consortium_path, member)


def run(cluster: LocalCluster, member: str, root: dict[str, Any]) -> list[Any]:
    """Send a query to all three nodes (waiting for each); the bundles' metas."""
    plan = pn.make_plan(root)
    with session(cluster, member) as s:
        answers = s.query_answers(plan, plan_hash(plan), wait_all=True)
    return [decode_bundle(b)[0] for b in answers]


def refused(cluster: LocalCluster, member: str, root: dict[str, Any], status: int = 403) -> str:
    with pytest.raises(SharelakeError) as err:
        run(cluster, member, root)
    assert getattr(err.value, "status", None) == status, str(err.value)
    return str(err.value)


def audit(cluster: LocalCluster, i: int) -> list[dict[str, Any]]:
    return read_entries(cluster.dir / "nodes" / f"P{i}" / "data" / "audit.jsonl")


def audited_on_every_node(cluster: LocalCluster, kind: str, **match: Any) -> None:
    # The client stops at the first refusal; the other nodes answer (and audit) in
    # parallel, so each node gets a moment to write its own entry.
    for i in range(3):
        hits: list[dict[str, Any]] = []
        for _ in range(100):
            hits = [
                e
                for e in audit(cluster, i)
                if e["kind"] == kind and all(e.get(k) == v for k, v in match.items())
            ]
            if hits:
                break
            time.sleep(0.1)
        assert hits, f"no {kind} entry {match} in the audit log of P{i}"


def approve(
    cluster: LocalCluster, owner: str, root: dict[str, Any], analyst: str = "analyst", **kw: Any
) -> None:
    digest = plan_hash(pn.make_plan(root))
    expires = kw.get("expires", int(time.time()) + 3600)
    key = load_private_key(cluster.member_key_path(owner))
    a = Approval.create(key, digest, analyst, expires, owner)
    with session(cluster, owner) as s:
        s.on_each("POST", "/v1/approvals", canonical_json(a.to_dict()).encode(), wait_all=True)


MATCH_ROWS = pn.scan("people", ["pid", "case_id"])


def test_revealing_a_match_column_is_refused_and_audited(cluster: LocalCluster) -> None:
    text = refused(cluster, "analyst", MATCH_ROWS)
    assert "people.pid (match:released)" in text and "ngo_a" in text
    digest = plan_hash(pn.make_plan(MATCH_ROWS))
    audited_on_every_node(cluster, "verdict", plan_hash=digest, decision="needs_approval")
    audited_on_every_node(cluster, "refusal", plan_hash=digest)


def test_grouping_by_an_aggregate_column_is_refused_and_audited(cluster: LocalCluster) -> None:
    root = pn.groupby(pn.scan("people"), ["age"], {"n": ("*", "count")})
    assert "people.age (aggregate:group_key)" in refused(cluster, "analyst", root)
    audited_on_every_node(cluster, "refusal", plan_hash=plan_hash(pn.make_plan(root)))


def test_a_group_under_k_is_suppressed_inside_mpc_and_the_release_says_so(
    cluster: LocalCluster,
) -> None:
    root = pn.groupby(pn.scan("people"), ["region"], {"n": ("*", "count")})
    metas = run(cluster, "analyst", root)
    assert all(m["rows"] == 2 and m["suppressed"] == 2 for m in metas)
    with session(cluster, "analyst") as s:
        got = s.query(pn.make_plan(root))
    assert sorted(got["n"].tolist()) == [9, 12]  # the 3-row groups never left MPC
    audited_on_every_node(
        cluster, "release", plan_hash=plan_hash(pn.make_plan(root)), member="analyst", rows=2
    )


def test_a_plan_approved_by_only_one_of_its_two_owners_does_not_run(
    cluster: LocalCluster,
) -> None:
    root = pn.project(
        pn.join(
            pn.scan("people", ["pid", "case_id"]),
            pn.scan("visits", ["pid"]),
            on=["pid"],
            how="semi",
        ),
        ["case_id"],
    )
    approve(cluster, "ngo_a", root)
    text = refused(cluster, "analyst", root)
    assert "no approval by owner 'ngo_b'" in text
    audited_on_every_node(cluster, "refusal", plan_hash=plan_hash(pn.make_plan(root)))
    approve(cluster, "ngo_b", root)  # control: with both owners' approvals it runs
    assert all(m["rows"] == 17 for m in run(cluster, "analyst", root))


def test_an_approved_plan_changed_afterwards_does_not_run(cluster: LocalCluster) -> None:
    approved = pn.scan("people", ["pid"])
    approve(cluster, "ngo_a", approved)
    changed = pn.head(pn.scan("people", ["pid"]), 5)
    assert "no approval by owner 'ngo_a'" in refused(cluster, "analyst", changed)
    audited_on_every_node(cluster, "refusal", plan_hash=plan_hash(pn.make_plan(changed)))
    assert all(m["rows"] == 27 for m in run(cluster, "analyst", approved))  # control


def test_another_analysts_approval_does_not_run_the_plan(cluster: LocalCluster) -> None:
    root = pn.scan("people", ["pid", "region"])
    approve(cluster, "ngo_a", root, analyst="analyst")
    text = refused(cluster, "analyst2", root)
    assert "approved this plan for 'analyst', not 'analyst2'" in text
    audited_on_every_node(cluster, "refusal", member="analyst2")


def test_a_replayed_expired_approval_is_refused_and_the_plan_does_not_run(
    cluster: LocalCluster,
) -> None:
    root = pn.scan("people", ["pid", "age"])
    with pytest.raises(SharelakeError) as err:
        approve(cluster, "ngo_a", root, expires=int(time.time()) - 60)
    assert getattr(err.value, "status", None) == 403 and "expired" in str(err.value)
    refused(cluster, "analyst", root)
    audited_on_every_node(cluster, "refusal", plan_hash=plan_hash(pn.make_plan(root)))


def test_a_request_signed_with_an_unknown_key_is_refused_and_audited(
    cluster: LocalCluster,
) -> None:
    import ssl

    import httpx

    from sharelake.consortium.signing import consortium_id, sign_request

    ctx = ssl.create_default_context(cafile=str(cluster.consortium.ca_cert_path))
    ctx.check_hostname = False
    stranger = generate_key()
    with httpx.Client(verify=ctx, timeout=30.0) as http:
        for i in range(3):
            cid = consortium_id(cluster.consortium)
            headers = sign_request(
                stranger, "analyst", "GET", "/v1/tables", b"", consortium=cid, node=i
            )
            r = http.get(f"{cluster.api_url(i)}/v1/tables", headers=headers)
            assert r.status_code == 401, r.text
    audited_on_every_node(cluster, "request", member="analyst", decision="401")


def test_a_policy_change_without_the_owners_signature_is_refused(
    cluster: LocalCluster,
) -> None:
    opened = Policy.from_dict({**PEOPLE_POLICY, "columns": {"pid": "reveal"}})
    forged = PolicyChange.create(
        load_private_key(cluster.member_key_path("analyst")), "ngo_a", "people", 2, opened
    )
    with session(cluster, "analyst") as s, pytest.raises(SharelakeError) as err:
        body = canonical_json(forged.to_dict()).encode()
        s.on_each("POST", "/v1/tables/people/policy", body, wait_all=True)
    assert getattr(err.value, "status", None) == 403
    audited_on_every_node(cluster, "policy", member="analyst", decision="refused")
    # another owner signing in its own name is no better
    theirs = PolicyChange.create(
        load_private_key(cluster.member_key_path("ngo_b")), "ngo_b", "people", 2, opened
    )
    with session(cluster, "ngo_b") as s, pytest.raises(SharelakeError) as err:
        s.on_each("POST", "/v1/tables/people/policy", canonical_json(theirs.to_dict()).encode())
    assert "only its owner 'ngo_a'" in str(err.value)
    refused(cluster, "analyst", MATCH_ROWS)  # the policy did not change


def test_every_node_lists_the_policy_in_force_after_a_signed_change(
    cluster: LocalCluster,
) -> None:
    with session(cluster, "ngo_b") as s:
        s.upload(visits(), "clinics", policy=VISITS_POLICY, progress=False)
        before = [{d["name"]: d for d in r.json()} for r in s.on_each("GET", "/v1/tables")]
    assert all(b["clinics"]["policy_version"] == 1 for b in before)
    assert all(b["clinics"]["policy"]["columns"]["clinic"] == "group" for b in before)
    tighter = Policy.from_dict(
        {**VISITS_POLICY, "min_group_size": 8, "columns": {"pid": "match", "clinic": "aggregate"}}
    )
    change = PolicyChange.create(
        load_private_key(cluster.member_key_path("ngo_b")),
        "ngo_b",
        "clinics",
        2,
        tighter,
        table_version=before[0]["clinics"]["version"],
    )
    with session(cluster, "ngo_b") as s:
        body = canonical_json(change.to_dict()).encode()
        done = s.on_each("POST", "/v1/tables/clinics/policy", body, wait_all=True)
        assert [r.json()["policy_version"] for r in done] == [2, 2, 2]
    with session(cluster, "analyst") as s:
        after = [{d["name"]: d for d in r.json()} for r in s.on_each("GET", "/v1/tables")]
        info = s.table_info("clinics")
    for i, listed in enumerate(after):
        assert listed["clinics"]["policy_version"] == 2, f"P{i}"
        assert listed["clinics"]["policy"] == tighter.to_dict(), f"P{i}"
        assert listed["visits"]["policy_version"] == 1, f"P{i}"  # other tables unchanged
    assert info.policy == tighter.to_dict()
    # and it is the policy enforced: grouping by the now aggregate-only column is refused
    by_clinic = pn.groupby(pn.scan("clinics"), ["clinic"], {"n": ("*", "count")})
    assert "clinics.clinic (aggregate:group_key)" in refused(cluster, "analyst", by_clinic)


def listings(cluster: LocalCluster, name: str) -> list[dict[str, Any]]:
    """Table ``name`` as each node lists it."""
    with session(cluster, "analyst") as s:
        return [
            next(d for d in r.json() if d["name"] == name) for r in s.on_each("GET", "/v1/tables")
        ]


def test_a_table_dropped_and_uploaded_again_by_another_owner_starts_from_its_own_policy(
    cluster: LocalCluster,
) -> None:
    by_clinic = pn.groupby(pn.scan("wards"), ["clinic"], {"n": ("*", "count")})
    with session(cluster, "ngo_a") as s:
        s.upload(visits(), "wards", policy=VISITS_POLICY, progress=False)
    first = listings(cluster, "wards")[0]["version"]
    tighter = Policy.from_dict(
        {**VISITS_POLICY, "columns": {"pid": "match", "clinic": "aggregate"}}
    )
    key_a = load_private_key(cluster.member_key_path("ngo_a"))
    change = PolicyChange.create(key_a, "ngo_a", "wards", 2, tighter, table_version=first)
    with session(cluster, "ngo_a") as s:
        s.on_each("POST", "/v1/tables/wards/policy", canonical_json(change.to_dict()).encode())
    assert [d["policy_version"] for d in listings(cluster, "wards")] == [2, 2, 2]
    assert "wards.clinic (aggregate:group_key)" in refused(cluster, "analyst", by_clinic)
    with session(cluster, "ngo_a") as s:
        s.drop("wards")
    with session(cluster, "ngo_b") as s:
        s.upload(visits(), "wards", policy=VISITS_POLICY, progress=False)
    for i, listed in enumerate(listings(cluster, "wards")):
        assert listed["owner"] == "ngo_b", f"P{i}"
        assert listed["version"] > first, f"P{i}"
        assert listed["policy_version"] == 1, f"P{i}"
        assert listed["policy"]["columns"]["clinic"] == "group", f"P{i}"
    with session(cluster, "analyst") as s:
        info = s.table_info("wards")
    assert (info.owner, info.policy_version) == ("ngo_b", 1)
    # enforcement follows the new upload's policy: grouping by clinic runs again
    metas = run(cluster, "analyst", by_clinic)
    assert [m["rows"] for m in metas] == [3, 3, 3]


def test_a_policy_change_made_for_one_upload_is_refused_for_another_under_the_same_name(
    cluster: LocalCluster,
) -> None:
    key_b = load_private_key(cluster.member_key_path("ngo_b"))
    with session(cluster, "ngo_b") as s:
        s.upload(visits(), "rounds", policy=VISITS_POLICY, progress=False)
    first = listings(cluster, "rounds")[0]["version"]
    with session(cluster, "ngo_b") as s:
        s.upload(visits(), "rounds", policy=VISITS_POLICY, replace=True, progress=False)
    second = listings(cluster, "rounds")[0]["version"]
    assert second > first
    tighter = Policy.from_dict(
        {**VISITS_POLICY, "columns": {"pid": "match", "clinic": "aggregate"}}
    )
    stale = PolicyChange.create(key_b, "ngo_b", "rounds", 2, tighter, table_version=first)
    unbound = PolicyChange.create(key_b, "ngo_b", "rounds", 2, tighter)
    for change, text in (
        (stale, f"was made for table version {first}"),
        (unbound, "names no table version"),
    ):
        with session(cluster, "ngo_b") as s, pytest.raises(SharelakeError) as err:
            body = canonical_json(change.to_dict()).encode()
            s.on_each("POST", "/v1/tables/rounds/policy", body, wait_all=True)
        assert getattr(err.value, "status", None) == 403
        assert text in str(err.value) and f"at version {second}" in str(err.value)
    assert [d["policy_version"] for d in listings(cluster, "rounds")] == [1, 1, 1]
    # the same change signed for the current upload is accepted
    bound = PolicyChange.create(key_b, "ngo_b", "rounds", 2, tighter, table_version=second)
    with session(cluster, "ngo_b") as s:
        s.on_each("POST", "/v1/tables/rounds/policy", canonical_json(bound.to_dict()).encode())
    assert [d["policy_version"] for d in listings(cluster, "rounds")] == [2, 2, 2]


def test_an_edited_audit_entry_on_one_node_fails_verify_which_names_it(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    from sharelake.cli.main import app

    logs = []
    for i in range(3):
        dst = tmp_path / f"P{i}.jsonl"
        shutil.copy(cluster.dir / "nodes" / f"P{i}" / "data" / "audit.jsonl", dst)
        logs.append(dst)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", *map(str, logs)])
    assert ok.exit_code == 0, ok.output
    lines = logs[1].read_text().splitlines()
    seq = next(i for i, ln in enumerate(lines) if json.loads(ln)["kind"] == "release")
    doc = json.loads(lines[seq])
    doc["rows"] = 3
    lines[seq] = json.dumps(doc)
    logs[1].write_text("\n".join(lines) + "\n")
    bad = runner.invoke(app, ["audit", "verify", *map(str, logs)])
    assert bad.exit_code == 1
    assert f"P1.jsonl: entry seq {seq} (line {seq + 1}) was changed" in bad.output


def test_the_approvals_commands_show_and_sign_a_pending_request(cluster: LocalCluster) -> None:
    from sharelake.cli.main import app

    root = pn.scan("people", ["case_id", "region"])
    assert "request_approval(purpose=...)" in refused(cluster, "analyst", root)
    with session(cluster, "analyst") as s:
        s.request_approval(pn.make_plan(root), explanation="regions of the cases, for the report")
    rid = request_id(plan_hash(pn.make_plan(root)), "analyst")
    cons = str(cluster.consortium_path)
    runner = CliRunner()
    listed = runner.invoke(app, ["approvals", "list", "--as", "ngo_a", "--consortium", cons])
    assert rid in listed.output and "pending" in listed.output
    shown = runner.invoke(app, ["approvals", "show", rid, "--as", "ngo_a", "--consortium", cons])
    assert "read table 'people' (columns: case_id, region)" in shown.output
    assert "people.region (group:released)" in shown.output and "to 'analyst' only" in shown.output
    assert "regions of the cases, for the report" in shown.output
    signed = runner.invoke(
        app, ["approvals", "approve", rid, "--as", "ngo_a", "--consortium", cons]
    )
    assert signed.exit_code == 0, signed.output
    assert all(m["rows"] == 27 for m in run(cluster, "analyst", root))


def test_an_aggregate_differing_from_an_earlier_one_by_fewer_than_k_rows_is_refused(
    cluster: LocalCluster,
) -> None:
    base = pn.groupby(pn.scan("people"), ["region"], {"n": ("*", "count")})
    run(cluster, "analyst", base)
    one_less = {"fn": "!=", "args": [{"col": "case_id"}, {"lit": 100}]}
    probe = pn.groupby(
        pn.filter_rows(pn.scan("people"), one_less), ["region"], {"n": ("*", "count")}
    )
    text = refused(cluster, "analyst", probe)
    assert "would reveal a count or sum over fewer than 5 rows (differencing)" in text
    audited_on_every_node(cluster, "refusal", plan_hash=plan_hash(pn.make_plan(probe)))
    far = {"fn": ">=", "args": [{"col": "case_id"}, {"lit": 110}]}  # control: 10 rows apart
    control = pn.groupby(pn.filter_rows(pn.scan("people"), far), ["region"], {"n": ("*", "count")})
    assert all(m["rows"] >= 1 for m in run(cluster, "analyst", control))


def test_an_upload_whose_policy_names_an_unknown_column_is_refused_naming_it(
    cluster: LocalCluster,
) -> None:
    with session(cluster, "ngo_a") as s, pytest.raises(SharelakeError) as err:
        s.upload(people(), "bad", policy={"columns": {"salary": "aggregate"}}, progress=False)
    assert "unknown column 'salary'" in str(err.value)

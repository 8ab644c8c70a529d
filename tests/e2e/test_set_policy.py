"""``Session.set_policy`` over three real node processes with TLS."""

from __future__ import annotations

import secrets
from pathlib import Path

import pandas as pd
import pytest

import sharelake
from sharelake.client.session import NodePolicyError, Session, UnknownTableError
from sharelake.consortium.sealing import new_reply_key
from sharelake.governance.policy import PolicyError
from sharelake.node.local import LocalCluster
from sharelake.plan import nodes as pn
from sharelake.plan.canonical import canonical_json, plan_hash

pytestmark = [pytest.mark.tls, pytest.mark.timeout(300)]

OPEN = {"columns": {"pid": "reveal", "region": "reveal", "age": "reveal"}}


def cases() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pid": range(12),
            "region": ["east", "north", "south"] * 4,
            "age": [20 + i for i in range(12)],
        }
    )


def upload(cluster: LocalCluster, name: str) -> None:
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        s.upload(cases(), name, policy=OPEN, progress=False)


def session(cluster: LocalCluster, member: str) -> Session:
    return sharelake.connect(cluster.consortium_path, member)


def rows_of(table: str) -> bytes:
    plan = pn.make_plan(pn.scan(table, ["pid", "region"]))
    doc = {
        "plan": plan,
        "plan_hash": plan_hash(plan),
        "nonce": secrets.token_hex(16),
        "reply_key": new_reply_key()[1],
    }
    return canonical_json(doc).encode()


def test_the_owner_tightens_a_column_and_every_node_then_refuses_the_query(
    cluster: LocalCluster,
) -> None:
    upload(cluster, "tighten")
    plan = pn.make_plan(pn.scan("tighten", ["pid", "region"]))
    with session(cluster, "analyst") as a:
        assert len(a.query(plan)) == 12
    with session(cluster, "ngo_a") as s:
        tighter = {**OPEN, "columns": {**OPEN["columns"], "region": "group"}}
        info = s.set_policy("tighten", tighter)
    assert info.policy_version == 2 and info.policy["columns"]["region"] == "group"
    with session(cluster, "analyst") as a:
        for i in range(3):
            with pytest.raises(NodePolicyError, match="region"):
                a.request(i, "POST", "/v1/queries", rows_of("tighten"))


def test_a_policy_file_is_read_like_the_upload_policy_and_each_change_is_the_next_version(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    upload(cluster, "from_file")
    f = tmp_path / "policy.toml"
    f.write_text('min_group_size = 3\n[columns]\npid = "match"\nregion = "group"\n')
    with session(cluster, "ngo_a") as s:
        assert s.set_policy("from_file", f).policy_version == 2
        info = s.set_policy("from_file", f)
    assert info.policy_version == 3
    assert info.policy == {
        "min_group_size": 3,
        "release_sizes": False,
        "columns": {"pid": "match", "region": "group"},
    }


def test_a_member_who_does_not_own_the_table_is_refused_before_anything_is_signed(
    cluster: LocalCluster,
) -> None:
    upload(cluster, "not_yours")
    with session(cluster, "ngo_b") as s, pytest.raises(PolicyError) as err:
        s.set_policy("not_yours", {"columns": {"region": "private"}})
    assert "only its owner 'ngo_a' may change its policy, not 'ngo_b'" in str(err.value)
    with session(cluster, "ngo_a") as s:
        assert s.table_info("not_yours").policy_version == 1


def test_an_unknown_table_is_refused_naming_it(cluster: LocalCluster) -> None:
    with session(cluster, "ngo_a") as s, pytest.raises(UnknownTableError, match="'nowhere'"):
        s.set_policy("nowhere", OPEN)


def test_an_invalid_policy_is_refused_naming_the_bad_field(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    upload(cluster, "invalid")
    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\nregion = "secret"\n')
    with session(cluster, "ngo_a") as s:
        with pytest.raises(PolicyError, match="unknown column 'agee'"):
            s.set_policy("invalid", {"columns": {"agee": "reveal"}})
        with pytest.raises(PolicyError) as err:
            s.set_policy("invalid", bad)
        assert str(bad) in str(err.value)
        assert "column 'region' has unknown class 'secret'" in str(err.value)
        with pytest.raises(PolicyError, match="min_group_size"):
            s.set_policy("invalid", {"min_group_size": 0})
        assert s.table_info("invalid").policy_version == 1

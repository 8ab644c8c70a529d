"""A node's policy changes are bound to the table upload they were made for, across restarts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from sharelake.consortium.cluster import NodeConfig, init_cluster, member_key_path, node_config_path
from sharelake.consortium.keys import load_private_key
from sharelake.governance.policy import Policy, PolicyChange
from sharelake.node.authz import AuthorizationError
from sharelake.node.governance import Governance

TIGHT = Policy.from_dict({"columns": {"clinic": "aggregate"}})


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("lake")
    init_cluster(d)
    return d


@pytest.fixture
def config(lake: Path, tmp_path: Path) -> NodeConfig:
    c = NodeConfig.load(node_config_path(lake, 0))
    return dataclasses.replace(c, data_dir=tmp_path / "data")


def info(version: int) -> dict[str, Any]:
    return {
        "name": "t",
        "owner": "ngo_a",
        "version": version,
        "schema": [{"name": "clinic", "kind": "int"}],
        "policy": {"columns": {"clinic": "group"}},
    }


def change(lake: Path, table_version: int | None) -> PolicyChange:
    key = load_private_key(member_key_path(lake, "ngo_a"))
    return PolicyChange.create(key, "ngo_a", "t", 2, TIGHT, table_version=table_version)


def test_a_change_applies_to_its_upload_only_and_survives_a_restart(
    lake: Path, config: NodeConfig
) -> None:
    gov = Governance(config, config.load_consortium())
    member = gov.consortium.member("ngo_a")
    assert gov.change_policy(member, change(lake, 1), info(1)) == 2
    again = Governance(config, config.load_consortium(), {"t": 1})
    assert again.in_force(info(1)) == (2, TIGHT.to_dict())
    assert again.in_force(info(2)) == (1, {"columns": {"clinic": "group"}})
    assert again.refs({"t": info(2)})["t"].policy.columns["clinic"] == "group"


def test_a_change_for_another_upload_or_for_none_is_refused(lake: Path, config: NodeConfig) -> None:
    gov = Governance(config, config.load_consortium())
    member = gov.consortium.member("ngo_a")
    for made_for in (1, None):
        with pytest.raises(AuthorizationError, match="the table is at version 2"):
            gov.change_policy(member, change(lake, made_for), info(2))
    assert gov.in_force(info(2))[0] == 1


def test_a_dropped_tables_changes_are_forgotten_also_after_a_restart(
    lake: Path, config: NodeConfig
) -> None:
    gov = Governance(config, config.load_consortium())
    gov.change_policy(gov.consortium.member("ngo_a"), change(lake, 1), info(1))
    gov.dropped("t", 1)
    assert gov.in_force(info(1))[0] == 1
    assert Governance(config, config.load_consortium()).in_force(info(1))[0] == 1


def test_a_change_stored_without_a_table_version_is_bound_once_to_the_upload_current_then(
    lake: Path, config: NodeConfig
) -> None:
    config.data_dir.mkdir(parents=True)
    legacy = change(lake, None).to_dict()
    (config.data_dir / "policies.jsonl").write_text(json.dumps(legacy) + "\n")
    gov = Governance(config, config.load_consortium(), {"t": 3})
    assert gov.in_force(info(3))[0] == 2  # enforced as before the upgrade: nothing loosens
    # the table is uploaded again (version 4): the old change stays with version 3
    later = Governance(config, config.load_consortium(), {"t": 4})
    assert later.in_force(info(3))[0] == 2
    assert later.in_force(info(4))[0] == 1


def test_a_change_stored_without_a_table_version_for_a_gone_table_never_applies(
    lake: Path, config: NodeConfig
) -> None:
    config.data_dir.mkdir(parents=True)
    legacy = change(lake, None).to_dict()
    (config.data_dir / "policies.jsonl").write_text(json.dumps(legacy) + "\n")
    Governance(config, config.load_consortium(), {})
    later = Governance(config, config.load_consortium(), {"t": 1})
    assert later.in_force(info(1))[0] == 1


def test_an_approval_stored_by_an_older_node_is_bound_to_the_upload_current_at_start(
    lake: Path, config: NodeConfig
) -> None:
    from sharelake.governance.approvals import Approval, ApprovalBook
    from sharelake.plan import nodes as pn
    from sharelake.plan.canonical import plan_hash

    plan = pn.make_plan(pn.scan("t", ["clinic"]))
    digest = plan_hash(plan)
    key = load_private_key(member_key_path(lake, "ngo_a"))
    config.data_dir.mkdir(parents=True)
    book = ApprovalBook(config.data_dir / "approvals.jsonl", config.load_consortium())
    book.submit(plan, "analyst", ["ngo_a"], {}, submitted="t")
    book.add(Approval.create(key, digest, "analyst", 2_000_000_000, "ngo_a"), now=0)
    Governance(config, config.load_consortium(), {"t": 3})
    later = Governance(config, config.load_consortium(), {"t": 4})
    assert later.book.problems(digest, "analyst", ["ngo_a"], 0, {"t": 3}) == {}
    assert (
        "another upload" in later.book.problems(digest, "analyst", ["ngo_a"], 0, {"t": 4})["ngo_a"]
    )


def test_a_failed_check_is_audited_with_its_name_and_the_suspect_nodes_never_a_value(
    config: NodeConfig,
) -> None:
    from sharelake.mpc.checks import VerificationError

    gov = Governance(config, config.load_consortium())
    exc = VerificationError("P0: the 'release' check failed", check="release", suspects=(1, 2))
    gov.failed("s-1", "ab" * 32, "analyst", exc)
    last = gov.audit.entries()[-1]
    assert last["kind"] == "failure"
    assert last["detail"] == (
        "VerificationError: check 'release' failed; deviating node among P1, P2"
    )


def test_a_peers_abort_notice_is_audited_with_the_peer_and_its_check(config: NodeConfig) -> None:
    from sharelake.errors import PeerAbortError

    gov = Governance(config, config.load_consortium())
    exc = PeerAbortError("P1: P0 aborted the query", node=0, check="open", session="s-2")
    gov.failed("s-2", "cd" * 32, "analyst", exc)
    last = gov.audit.entries()[-1]
    assert last["kind"] == "failure"
    assert last["detail"] == "PeerAbortError: P0 reported its check 'open' failed"

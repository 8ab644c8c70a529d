"""Membership changes over three real node processes: add a partner, remove one, rotate
a key, revoke a node certificate. Each is a new revision signed by every approver,
applied by every node (and audited there); what it revokes is refused afterwards."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sharelake
from sharelake.cli.main import app
from sharelake.client.errors import NodeAuthError
from sharelake.consortium.certs import issue_node_cert, load_ca
from sharelake.consortium.cluster import init_cluster, node_config_path
from sharelake.consortium.members import Consortium, UnknownMemberError
from sharelake.consortium.node_folder import write_node_descriptor
from sharelake.governance.audit import read_entries, verify_chain
from sharelake.node.local import LocalCluster

from ..node.queries import people

pytestmark = pytest.mark.timeout(400)
POLICY = {"columns": {"pid": "match", "region": "group", "age": "aggregate"}}
APPROVERS = ("ngo_a", "ngo_b", "police", "hotline")
runner = CliRunner()


def cli(*args: str | Path) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def propose(lake: Path, *change: str | Path, signers: tuple[str, ...] = APPROVERS) -> Path:
    cur = lake / "consortium.toml"
    rev = Consortium.load(cur).revision + 1
    prop = lake / f"revision-{rev}.toml"
    cli("consortium", "propose", cur, "--out", prop, *change)
    for a in signers:
        cli(
            "consortium",
            "sign",
            prop,
            "--previous",
            cur,
            "--as",
            a,
            "--key",
            lake / "members" / f"{a}.key",
        )
    return prop


def apply_everywhere(lake: Path, prop: Path) -> None:
    for i in range(3):
        out = cli("node", "apply-change", node_config_path(lake, i), prop)
        assert "applied" in out
    shutil.copyfile(prop, lake / "consortium.toml")  # the members' copy


def membership_entries(lake: Path, i: int) -> list[dict]:  # type: ignore[type-arg]
    audit = lake / "nodes" / f"P{i}" / "data" / "audit.jsonl"
    assert verify_chain(audit) == []
    return [e for e in read_entries(audit) if e["kind"] == "membership"]


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "lake"
    init_cluster(d)
    yield d


def test_a_new_partner_joins_only_once_every_approver_signed_and_every_node_applied(
    lake: Path, tmp_path: Path
) -> None:
    cli(
        "member",
        "init",
        "--name",
        "uni_c",
        "--org",
        "uni",
        "--roles",
        "provider",
        "--out",
        lake / "members",
    )
    # Three of the four approvers are not enough: every node refuses, naming who is missing.
    short = propose(
        lake, "--add-member", lake / "members" / "uni_c.member.toml", signers=APPROVERS[:3]
    )
    refused = runner.invoke(
        app, ["node", "apply-change", str(node_config_path(lake, 0)), str(short)]
    )
    assert refused.exit_code == 1 and "not signed by hotline" in refused.output
    assert [e["decision"] for e in membership_entries(lake, 0)] == ["refused"]
    with pytest.raises(UnknownMemberError):
        sharelake.connect(lake / "consortium.toml", "uni_c")
    cli(
        "consortium",
        "sign",
        short,
        "--previous",
        lake / "consortium.toml",
        "--as",
        "hotline",
        "--key",
        lake / "members" / "hotline.key",
    )
    apply_everywhere(lake, short)
    with LocalCluster(lake) as cluster, sharelake.connect(cluster.consortium_path, "uni_c") as s:
        s.upload(people(), "people", policy=POLICY, progress=False)
        assert [t.name for t in s.tables()] == ["people"]
    for i in range(3):
        applied = [e for e in membership_entries(lake, i) if e["decision"] == "applied"]
        assert len(applied) == 1 and "add member uni_c" in applied[0]["detail"]


def test_a_removed_member_and_a_rotated_key_are_refused_by_every_node(
    lake: Path, tmp_path: Path
) -> None:
    old_file = tmp_path / "old-consortium.toml"
    shutil.copyfile(lake / "consortium.toml", old_file)
    shutil.copytree(lake / "ca", tmp_path / "ca")  # the old copy's CA path resolves too
    old_key = tmp_path / "ngo_a-old.key"
    shutil.copyfile(lake / "members" / "ngo_a.key", old_key)
    apply_everywhere(lake, propose(lake, "--remove-member", "ngo_b"))
    new_keys = tmp_path / "new"
    cli(
        "member",
        "init",
        "--name",
        "ngo_a",
        "--org",
        "ngo_a",
        "--roles",
        "provider,approver",
        "--out",
        new_keys,
    )
    signers = ("ngo_a", "police", "hotline")  # the approvers of revision 1
    apply_everywhere(
        lake, propose(lake, "--rotate-key", new_keys / "ngo_a.member.toml", signers=signers)
    )
    cons = Consortium.load(lake / "consortium.toml")
    assert cons.revision == 2 and "ngo_b" not in cons.members
    assert len(cons.revoked_keys) == 2
    with LocalCluster(lake) as cluster:
        for member, key in (("ngo_b", lake / "members" / "ngo_b.key"), ("ngo_a", old_key)):
            with sharelake.connect(old_file, member, key=key) as s:
                for i in range(3):
                    with pytest.raises(NodeAuthError) as info:
                        s.transport.request(i, "GET", "/v1/tables")
                    assert info.value.status == 401, (member, i)
        with sharelake.connect(cluster.consortium_path, "ngo_a", key=new_keys / "ngo_a.key") as s:
            s.upload(people(), "people", policy=POLICY, progress=False)
    for i in range(3):
        details = [e["detail"] for e in membership_entries(lake, i)]
        assert details == ["revision 1: remove member ngo_b", "revision 2: rotate the key of ngo_a"]


def test_a_revoked_node_certificate_can_no_longer_start_and_its_replacement_serves(
    lake: Path, tmp_path: Path
) -> None:
    cons = Consortium.load(lake / "consortium.toml")
    fresh = issue_node_cert(load_ca(lake / "ca"), 2, tmp_path / "new-p2")
    from sharelake.net.identity import fingerprint

    p2 = cons.node(2)
    desc = tmp_path / "p2.descriptor.toml"
    from dataclasses import replace

    write_node_descriptor(replace(p2, cert_fingerprint=fingerprint(fresh.cert)), desc)
    apply_everywhere(lake, propose(lake, "--replace-node", desc))
    assert p2.cert_fingerprint in Consortium.load(lake / "consortium.toml").revoked_certs
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "sharelake.node.server", str(node_config_path(lake, 2))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "has been revoked" in done.stderr
    node2 = lake / "nodes" / "P2"
    shutil.copyfile(fresh.cert_path, node2 / "node2.pem")
    shutil.copyfile(fresh.key_path, node2 / "node2-key.pem")
    with LocalCluster(lake) as cluster:
        with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
            s.upload(people(), "people", policy=POLICY, progress=False)
        with sharelake.connect(cluster.consortium_path, "analyst") as a:
            from ..node.queries import by_region

            got = a.query(by_region())
    assert sorted(got["n"].astype(int).tolist()) == [20, 20]

"""The key ceremony of three organisations: nobody ever holds another's private key.

Each organisation makes its node folder and member key on its own (``node init``,
``member init``), one assembles the consortium file from the public descriptors, each
founder signs it, and the three nodes, each started only from its own folder, serve a
query whose answer matches pandas.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import sharelake
from sharelake.cli.main import app
from sharelake.consortium.founding import check_founders_signed, missing_founders
from sharelake.consortium.members import Consortium
from sharelake.consortium.node_folder import read_node_descriptor

from ..node.queries import by_region, people
from .ceremony import ORGS, NodeProcesses, found

pytestmark = pytest.mark.timeout(300)
POLICY = {"columns": {"pid": "match", "region": "group", "age": "aggregate"}}
runner = CliRunner()


def _start_once(node_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sharelake.node.server", str(node_dir / "node.toml")],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_each_organisation_folder_holds_only_its_own_private_keys(tmp_path: Path) -> None:
    f = found(tmp_path, csr_org="ngo")
    for org in ORGS:
        private = sorted(
            p.relative_to(f.org(org)).as_posix()
            for p in f.org(org).rglob("*")
            if p.is_file() and (p.name.endswith("-key.pem") or p.suffix == ".key")
        )
        extra = ["org-ca/ca-key.pem"] if org == "ngo" else []
        mine = [f"keys/{org}.key", "node/tls/node-key.pem", "node/tls/audit-key.pem"]
        assert private == sorted([*mine, *extra])
        for p in private:
            assert stat.S_IMODE((f.org(org) / p).stat().st_mode) == 0o600
    cons = Consortium.load(f.consortium)
    assert cons.founders == ORGS
    check_founders_signed(cons)
    # The self-signed nodes are their own anchors; the CSR node's anchor is its org's CA.
    for i in range(3):
        info = read_node_descriptor(f.node_dir(i) / "descriptor.toml")
        assert cons.node(i) == info
        assert cons.node(i).organisation == ORGS[i]
    ngo_ca = (f.org("ngo") / "org-ca" / "ca.pem").read_text()
    assert cons.node(1).tls_anchor.strip() == ngo_ca.strip()


def test_a_node_refuses_to_start_naming_the_founders_who_have_not_signed(tmp_path: Path) -> None:
    f = found(tmp_path, sign_by=("police",))
    assert missing_founders(Consortium.load(f.consortium)) == ["ngo", "uni"]
    done = _start_once(f.node_dir(0))
    assert done.returncode == 2
    assert "not signed by ngo, uni" in done.stderr
    result = runner.invoke(app, ["consortium", "verify", str(f.consortium)])
    assert result.exit_code == 1 and "not signed by ngo, uni" in result.output


def test_an_edit_after_signing_voids_the_signatures(tmp_path: Path) -> None:
    f = found(tmp_path)
    text = f.consortium.read_text().replace('name = "three-orgs"', 'name = "three-orgz"')
    (f.node_dir(2) / "consortium.toml").write_text(text)
    done = _start_once(f.node_dir(2))
    assert done.returncode == 2
    assert "not signed by police, ngo, uni" in done.stderr
    assert "invalid signatures" in done.stderr


def test_only_an_approver_of_a_founder_can_sign(tmp_path: Path) -> None:
    f = found(tmp_path, sign_by=())
    sign = ["consortium", "sign", str(f.consortium)]
    result = runner.invoke(app, [*sign, "--as", "analyst", "--key", str(f.key("analyst"))])
    assert result.exit_code == 1
    assert "not an approver" in result.output or "not a founder" in result.output
    result = runner.invoke(app, [*sign, "--as", "police", "--key", str(f.key("ngo"))])
    assert result.exit_code == 1 and "not the key" in result.output


def test_three_nodes_from_their_own_folders_answer_a_query_as_pandas_does(tmp_path: Path) -> None:
    f = found(tmp_path, csr_org="uni")
    with NodeProcesses(f):
        with sharelake.connect(f.consortium, "police", key=f.key("police")) as s:
            s.upload(people(), "people", policy=POLICY, progress=False)
        with sharelake.connect(f.consortium, "analyst", key=f.key("analyst")) as a:
            got = a.query(by_region())
    want = people().groupby("region", observed=True).size()
    got_counts = dict(zip(got["region"].astype(str), got["n"].astype(int), strict=True))
    assert got_counts == {str(k): int(v) for k, v in want.items()}


def test_node_init_refuses_an_existing_folder_and_bad_ids(tmp_path: Path) -> None:
    node = tmp_path / "n"
    args = ["node", "init", str(node), "--org", "police", "--advertise", "10.0.0.1"]
    assert runner.invoke(app, [*args, "--id", "P1"]).exit_code == 0
    again = runner.invoke(app, [*args, "--id", "P1"])
    assert again.exit_code == 1 and "already holds a node" in again.output
    bad = runner.invoke(
        app, ["node", "init", str(tmp_path / "m"), "--org", "x", "--advertise", "h", "--id", "P3"]
    )
    assert bad.exit_code == 2 and "P0, P1 or P2" in bad.output
    info = read_node_descriptor(node / "descriptor.toml")
    assert (info.api_host, info.api_port, info.peer_port) == ("10.0.0.1", 7340, 7341)
    assert pd.Series([info.organisation]).tolist() == ["police"]

"""``sharelake cluster init``."""

from __future__ import annotations

import stat
from pathlib import Path

from typer.testing import CliRunner

from sharelake.cli.main import app
from sharelake.consortium.cluster import NodeConfig, check_node_files, node_config_path
from sharelake.consortium.members import Consortium

runner = CliRunner()


def test_cluster_init_writes_a_consortium_and_lists_what_it_wrote(tmp_path: Path) -> None:
    result = runner.invoke(app, ["cluster", "init", str(tmp_path / "c"), "--base-port", "7600"])
    assert result.exit_code == 0, result.output
    cons = Consortium.load(tmp_path / "c" / "consortium.toml")
    assert sorted(cons.members) == ["analyst", "hotline", "ngo_a", "ngo_b", "police"]
    assert [n.api_port for n in cons.nodes] == [7600, 7601, 7602]
    for text in ("consortium.toml", "nodes/P0/node.toml", "members/analyst.key", "7603"):
        assert text in result.output
    for i in range(3):
        check_node_files(NodeConfig.load(node_config_path(tmp_path / "c", i)), cons)
    key = tmp_path / "c" / "members" / "police.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_cluster_init_takes_members_and_hosts(tmp_path: Path) -> None:
    args = ["cluster", "init", str(tmp_path)]
    args += ["--members", "shelter:Shelter X:provider+approver,eve:analyst"]
    args += ["--host", "127.0.0.1,localhost,127.0.0.1", "--name", "pilot"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    cons = Consortium.load(tmp_path / "consortium.toml")
    assert cons.name == "pilot"
    assert cons.member("shelter").roles == {"provider", "approver"}
    assert cons.member("eve").organisation == "eve"
    assert cons.node(1).api_host == "localhost"


def test_cluster_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    assert runner.invoke(app, ["cluster", "init", str(tmp_path)]).exit_code == 0
    before = (tmp_path / "consortium.toml").read_text()
    result = runner.invoke(app, ["cluster", "init", str(tmp_path)])
    assert result.exit_code == 1
    assert "already holds a consortium" in result.output
    assert (tmp_path / "consortium.toml").read_text() == before
    assert runner.invoke(app, ["cluster", "init", str(tmp_path), "--force"]).exit_code == 0
    assert (tmp_path / "consortium.toml").read_text() != before


def test_cluster_init_rejects_a_bad_member_list_naming_the_role(tmp_path: Path) -> None:
    result = runner.invoke(app, ["cluster", "init", str(tmp_path), "--members", "a:A:boss"])
    assert result.exit_code == 2
    assert "boss" in result.output
    assert not (tmp_path / "consortium.toml").exists()

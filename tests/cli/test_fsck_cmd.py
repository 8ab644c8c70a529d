"""``sharelake fsck NODE.toml [--repair]`` on a node's data folder (the node stopped)."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from sharelake.cli.main import app
from sharelake.consortium.cluster import NodeConfig, init_cluster, node_config_path
from sharelake.storage.store import Store

from ..storage.test_store import _upload

runner = CliRunner()


def node0(tmp_path: Path) -> tuple[Path, Path]:
    lake = tmp_path / "lake"
    init_cluster(lake)
    config = node_config_path(lake, 0)
    data = NodeConfig.load(config).data_dir
    with Store(data) as store:
        _upload(store, "u1")
    return config, data


def test_fsck_of_a_clean_node_says_ok_and_exits_0(tmp_path: Path) -> None:
    config, _ = node0(tmp_path)
    r = runner.invoke(app, ["fsck", str(config)])
    assert r.exit_code == 0, r.output
    assert "P0: OK" in r.output


def test_fsck_reports_stale_staging_and_repair_removes_it(tmp_path: Path) -> None:
    config, data = node0(tmp_path)
    stale = data / "staging" / ".u2.0123456789ab.tmp"
    stale.mkdir()
    (data / "staging" / "u9").mkdir()  # renamed, the catalog row never written
    r = runner.invoke(app, ["fsck", str(config)])
    assert r.exit_code == 1, r.output
    assert "temp_file" in r.output and "orphan_staging" in r.output and "--repair" in r.output
    assert stale.exists()  # a check changes nothing
    r = runner.invoke(app, ["fsck", str(config), "--repair"])
    assert r.exit_code == 0, r.output
    assert "repaired" in r.output and not stale.exists()
    assert "P0: OK" in runner.invoke(app, ["fsck", str(config)]).output


def test_fsck_names_a_share_file_with_a_flipped_byte_and_cannot_repair_it(tmp_path: Path) -> None:
    config, data = node0(tmp_path)
    share = next((data / "tables").rglob("*.slsb"))
    raw = bytearray(share.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    share.write_bytes(bytes(raw))
    r = runner.invoke(app, ["fsck", str(config), "--repair"])
    assert r.exit_code == 1, r.output
    assert "corrupt_share" in r.output and "cases" in r.output


def test_fsck_refuses_to_run_while_the_node_is_running(tmp_path: Path) -> None:
    config, _ = node0(tmp_path)
    cfg = NodeConfig.load(config)
    with socket.create_server((cfg.api_host, cfg.api_port)):
        r = runner.invoke(app, ["fsck", str(config), "--repair"])
    assert r.exit_code == 2
    assert "is running" in r.output

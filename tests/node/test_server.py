"""Node start-up refuses, with a clear message, what would make it unsafe or unusable."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sharelake.consortium.cluster import NodeConfig, init_cluster, node_config_path

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]


def start_node(config: Path) -> subprocess.CompletedProcess[str]:
    """Run a node that is expected to refuse to start (it exits at once)."""
    return subprocess.run(
        [sys.executable, "-m", "sharelake.node.server", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lake")
    init_cluster(root)
    return root


def test_a_taken_port_is_named_at_start_up(lake: Path) -> None:
    config = NodeConfig.load(node_config_path(lake, 0))
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind((config.api_host, config.api_port))
        blocker.listen()
        done = start_node(node_config_path(lake, 0))
    assert done.returncode == 2
    assert f"{config.api_host}:{config.api_port}" in done.stderr
    assert "Address already in use" in done.stderr


def test_a_key_that_does_not_match_the_certificate_is_refused(lake: Path, tmp_path: Path) -> None:
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    shutil.copy(copy / "nodes/P1/node1-key.pem", copy / "nodes/P0/node0-key.pem")
    done = start_node(node_config_path(copy, 0))
    assert done.returncode == 2
    assert "do not belong together" in done.stderr


def test_a_certificate_from_another_ca_is_refused(lake: Path, tmp_path: Path) -> None:
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    other = tmp_path / "other"
    init_cluster(other)
    for name in ("node0.pem", "node0-key.pem"):
        shutil.copy(other / "nodes/P0" / name, copy / "nodes/P0" / name)
    done = start_node(node_config_path(copy, 0))
    assert done.returncode == 2
    assert "not issued by the consortium CA" in done.stderr

"""`sharelake cluster up` as an operator runs it: failures exit non-zero, signals stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sharelake.consortium.cluster import init_cluster
from sharelake.consortium.members import Consortium

pytestmark = pytest.mark.timeout(180)
_SHARELAKE = [sys.executable, "-c", "from sharelake.cli.main import app; app()"]


def _up(directory: Path, *, background: bool = False) -> subprocess.Popen[str]:
    """``sharelake cluster up DIR``; ``background`` starts it as a shell does with ``&``."""

    def as_background_job() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # what `cmd &` does in a script

    return subprocess.Popen(
        [*_SHARELAKE, "cluster", "up", str(directory), "--start-timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=as_background_job if background else None,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


def _all_answer(cons: Consortium) -> bool:
    for n in cons.nodes:
        try:
            r = httpx.get(f"{n.api_url}/healthz", verify=False, timeout=2)
        except httpx.HTTPError:
            return False
        if r.status_code != 200:
            return False
    return True


def _wait_up(proc: subprocess.Popen[str], cons: Consortium) -> str:
    """Read cluster up's output until it says the nodes are up; check they answer."""
    assert proc.stdout is not None
    seen = ""
    for line in proc.stdout:
        seen += line
        if "the three nodes are up" in line:
            assert _all_answer(cons)
            return seen
    raise AssertionError(f"cluster up ended before the nodes were up:\n{seen}")


def _ports_free(cons: Consortium) -> bool:
    for n in cons.nodes:
        for host, port in ((n.api_host, n.api_port), (n.peer_host, n.peer_port)):
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((host, port))
                except OSError:
                    return False
    return True


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    init_cluster(tmp_path / "lake")
    return tmp_path / "lake"


def test_a_port_in_use_makes_cluster_up_fail_naming_the_port(lake: Path) -> None:
    cons = Consortium.load(lake / "consortium.toml")
    n = cons.node(1)
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind((n.peer_host, n.peer_port))
        blocker.listen()
        proc = _up(lake)
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, out
    assert f"{n.peer_port}" in out and "cannot listen" in out
    assert "are up" not in out
    assert _ports_free(cons)  # the nodes that did start were stopped


def test_a_second_cluster_up_on_the_same_folder_fails_while_the_first_runs(lake: Path) -> None:
    cons = Consortium.load(lake / "consortium.toml")
    first = _up(lake)
    try:
        _wait_up(first, cons)
        second = _up(lake)
        out, _ = second.communicate(timeout=120)
        assert second.returncode == 1, out
        assert "are up" not in out
        assert "cannot listen" in out
        assert first.poll() is None  # the first one is untouched
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)


def test_a_node_that_dies_at_start_fails_cluster_up(lake: Path) -> None:
    (lake / "nodes" / "P2" / "node2-key.pem").unlink()
    proc = _up(lake)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, out
    assert "P2" in out and "node key" in out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("background", [False, True])
def test_a_signal_stops_cluster_up_and_its_nodes_in_foreground_and_background(
    lake: Path, sig: signal.Signals, background: bool
) -> None:
    cons = Consortium.load(lake / "consortium.toml")
    proc = _up(lake, background=background)
    _wait_up(proc, cons)
    os.kill(proc.pid, sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "the three nodes have stopped" in out
    assert _ports_free(cons)

"""Three hosts: one node in each of three network namespaces, joined by veth pairs.

Each node is set up only with its own ``node init`` folder and the signed consortium
file, binds its namespace's own address (never loopback), and the monitoring demo's
analyses run across the three of them with the same report figures as the plaintext
(which the one-host demo test checks the same way). Needs root and ``ip netns``;
skipped with the reason otherwise. Run with ``make test-multihost``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sharelake.monitoring.demo import ANALYST, run_demo
from sharelake.monitoring.synth import ORGANISATIONS

from .ceremony import NodeProcesses, found

pytestmark = [pytest.mark.multihost, pytest.mark.timeout(900)]

SUBNET = "10.213.7"


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


def _why_not() -> str | None:
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"slprobe{os.getpid() % 10000}"
    made = _ip("netns", "add", probe)
    if made.returncode != 0:
        return f"cannot make a network namespace: {made.stderr.strip()}"
    _ip("netns", "del", probe)
    return None


@dataclass(frozen=True)
class Hosts:
    """Three namespaces (the "hosts"), their addresses, and the bridge joining them."""

    names: tuple[str, str, str]
    addrs: tuple[str, str, str]
    bridge: str


@pytest.fixture(scope="module")
def hosts() -> Iterator[Hosts]:
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    tag = os.getpid() % 10000
    names = tuple(f"slh{tag}n{i}" for i in range(3))
    bridge = f"slbr{tag}"
    addrs = tuple(f"{SUBNET}.{i + 1}" for i in range(3))
    steps = [
        ["link", "add", bridge, "type", "bridge"],
        ["addr", "add", f"{SUBNET}.254/24", "dev", bridge],  # the clients' host
        ["link", "set", bridge, "up"],
    ]
    for i, ns in enumerate(names):
        host_end, ns_end = f"slv{tag}h{i}", f"slv{tag}n{i}"
        steps += [
            ["netns", "add", ns],
            ["link", "add", host_end, "type", "veth", "peer", "name", ns_end],
            ["link", "set", ns_end, "netns", ns],
            ["link", "set", host_end, "master", bridge],
            ["link", "set", host_end, "up"],
            ["-n", ns, "addr", "add", f"{addrs[i]}/24", "dev", ns_end],
            ["-n", ns, "link", "set", ns_end, "up"],
            ["-n", ns, "link", "set", "lo", "up"],
        ]
    try:
        for step in steps:
            done = _ip(*step)
            if done.returncode != 0:
                pytest.skip(f"cannot set up the namespaces (ip {' '.join(step)}): {done.stderr}")
        yield Hosts(names, addrs, bridge)  # type: ignore[arg-type]
    finally:
        for i, ns in enumerate(names):
            _ip("link", "del", f"slv{tag}h{i}")
            _ip("netns", "del", ns)
        _ip("link", "del", bridge)


class _RemoteCluster:
    """What the demo needs of a running consortium: its file (keys beside it) and a dir."""

    def __init__(self, consortium_path: Path) -> None:
        self.consortium_path = consortium_path
        self.dir = consortium_path.parent


def test_the_demo_across_three_namespaces_gives_the_plaintext_figures(
    hosts: Hosts, tmp_path: Path
) -> None:
    roles = "provider,approver,analyst"  # the demo's organisations; police runs a node too
    members = [(o, o, roles) for o in ORGANISATIONS if o != "police"]
    f = found(
        tmp_path,
        hosts=hosts.addrs,
        bind_hosts=hosts.addrs,
        more_members=members,
        org_roles=roles,
    )
    # Every node folder names only its own address to listen on.
    for i in range(3):
        text = (f.node_dir(i) / "node.toml").read_text()
        assert hosts.addrs[i] in text and "127.0.0.1" not in text
    # The members' clients run on the bridge's host: each with its own key.
    keys = f.consortium.parent / "members"
    keys.mkdir()
    for name in (*ORGANISATIONS, ANALYST):
        shutil.copyfile(f.key(name), keys / f"{name}.key")
    procs = NodeProcesses(f, wrap=[["ip", "netns", "exec", ns] for ns in hosts.names])
    with procs:
        # Each node listens in its own namespace only: not reachable on loopback here.
        listening = subprocess.run(
            ["ip", "netns", "exec", hosts.names[1], "ss", "-ltn"], capture_output=True, text=True
        ).stdout
        assert f"{hosts.addrs[1]}:" in listening
        out = tmp_path / "report"
        remote = _RemoteCluster(f.consortium)
        summary = run_demo(out, scale=0.15, seed=5, progress=False, log=print, cluster=remote)
    doc = json.loads(Path(summary["report_json"]).read_text("utf-8"))
    figures = doc["figures"]
    overlap = figures["overlap"]
    assert overlap["distinct_victims"]["released"] == overlap["distinct_victims"]["plaintext"]
    assert all(p["released"] == p["plaintext"] for p in overlap["patterns"])
    pe = figures["population_estimate"]
    assert pe["total"] == pytest.approx(pe["plaintext"]["total"])
    for org, v in figures["name_list_comparison"].items():
        counts = v.get("by_number_of_others", v.get("counts", {}))
        assert counts, org
        assert all(c["released"] == c["plaintext"] for c in counts.values()), org
    costs = figures["costs"]
    assert any(c["queries"] and c["bytes"] > 0 for c in costs.values())

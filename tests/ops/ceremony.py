"""Three organisations found a consortium the way their operators would, through the CLI.

Each organisation gets its own folder (its node folder and its members' keys) and
hands over only public files; :func:`found` returns where everything is.
:class:`NodeProcesses` runs the three nodes from their own folders as real processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from sharelake.cli.main import app

ORGS = ("police", "ngo", "uni")
runner = CliRunner()


def cli(*args: str | Path) -> str:
    """Run ``sharelake ARGS`` in-process; fail with its output when it exits non-zero."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    with contextlib.ExitStack() as stack:
        out = []
        for _ in range(n):
            s = stack.enter_context(socket.socket())
            s.bind((host, 0))
            out.append(int(s.getsockname()[1]))
        return out


@dataclass(frozen=True)
class Founded:
    """Where the ceremony put things: one folder per organisation, one consortium file."""

    root: Path
    consortium: Path  # the signed file, as a client keeps it (beside the analyst's key)

    def org(self, name: str) -> Path:
        return self.root / name

    def node_dir(self, i: int) -> Path:
        return self.root / ORGS[i] / "node"

    def key(self, member: str) -> Path:
        for p in self.root.glob(f"*/keys/{member}.key"):
            return p
        raise FileNotFoundError(member)


def found(
    root: Path,
    *,
    hosts: Sequence[str] = ("127.0.0.1",) * 3,
    bind_hosts: Sequence[str] | None = None,
    csr_org: str | None = None,
    sign_by: Sequence[str] = ORGS,
    more_members: Sequence[tuple[str, str, str]] = (),
    org_roles: str = "provider,approver",
) -> Founded:
    """Run the ceremony: node init and member init per organisation, assemble, sign.

    ``csr_org`` gets a certificate from its own CA instead of a self-signed one;
    ``sign_by`` lists the organisations that sign (all three by default);
    ``more_members`` adds ``(name, organisation, roles)`` members, each made in the
    folder of its organisation (``ORG/keys``).
    """
    ports = free_ports(6) if all(h == "127.0.0.1" for h in hosts) else [7340, 7341] * 3
    descriptors = []
    members = []
    for i, org in enumerate(ORGS):
        api, peer = ports[2 * i], ports[2 * i + 1]
        node = root / org / "node"
        args: list[str | Path] = ["node", "init", node, "--id", f"P{i}", "--org", org]
        args += ["--advertise", f"{hosts[i]}:{api}", "--advertise-peer", f"{hosts[i]}:{peer}"]
        if bind_hosts is not None:
            args += ["--bind", f"{bind_hosts[i]}:{api}", "--bind-peer", f"{bind_hosts[i]}:{peer}"]
        if org == csr_org:
            from sharelake.consortium.certs import make_ca, sign_node_csr

            cli(*args, "--csr")
            ca = make_ca(root / org / "org-ca", name=f"{org} CA")
            sign_node_csr(ca, node / "tls" / "node.csr", root / org / "issued.pem")
            cli(
                "node",
                "import-cert",
                node,
                "--cert",
                root / org / "issued.pem",
                "--ca",
                ca.cert_path,
            )
        else:
            cli(*args)
        descriptors.append(node / "descriptor.toml")
        keys = root / org / "keys"
        cli("member", "init", "--name", org, "--roles", org_roles, "--out", keys)
        members.append(keys / f"{org}.member.toml")
    analysts = root / "analysts" / "keys"
    cli(
        "member",
        "init",
        "--name",
        "analyst",
        "--org",
        "uni",
        "--roles",
        "analyst",
        "--out",
        analysts,
    )
    members.append(analysts / "analyst.member.toml")
    for name, org, roles in more_members:
        keys = root / org / "keys"
        cli("member", "init", "--name", name, "--org", org, "--roles", roles, "--out", keys)
        members.append(keys / f"{name}.member.toml")
    shared = root / "shared" / "consortium.toml"
    shared.parent.mkdir(parents=True)
    assemble = ["consortium", "assemble", "--name", "three-orgs", "--out", shared]
    assemble += ["--founders", ",".join(ORGS)]
    for d in descriptors:
        assemble += ["--node", d]
    for m in members:
        assemble += ["--member", m]
    cli(*assemble)
    for org in sign_by:  # the file travels from organisation to organisation
        cli("consortium", "sign", shared, "--as", org, "--key", root / org / "keys" / f"{org}.key")
    for i in range(3):
        shutil.copyfile(shared, root / ORGS[i] / "node" / "consortium.toml")
    return Founded(root, shared)


class NodeProcesses:
    """The three nodes, each started from its own folder as ``sharelake node run``."""

    def __init__(self, founded: Founded, *, wrap: Sequence[Sequence[str]] | None = None) -> None:
        self.founded = founded
        self.wrap = wrap  # per node, a command prefix (e.g. ``ip netns exec NS``)
        self.procs: list[subprocess.Popen[bytes] | None] = [None, None, None]

    def log(self, i: int) -> Path:
        return self.founded.node_dir(i) / "node.log"

    def start(self, i: int) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "sharelake.cli.main", "node", "run"]
        cmd += [str(self.founded.node_dir(i) / "node.toml")]
        prefix = list(self.wrap[i]) if self.wrap else []
        with open(self.log(i), "ab") as log:
            p = subprocess.Popen(
                [*prefix, *cmd],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
            )
        self.procs[i] = p
        return p

    def start_all(self, *, timeout: float = 60.0) -> None:
        for i in range(3):
            self.start(i)
        self.wait_ready(range(3), timeout=timeout)

    def wait_ready(self, nodes: Sequence[int] | range, *, timeout: float = 60.0) -> None:
        import httpx

        from sharelake.consortium.members import Consortium

        cons = Consortium.load(self.founded.consortium)
        end = time.monotonic() + timeout
        for i in nodes:
            while True:
                p = self.procs[i]
                assert p is not None
                if p.poll() is not None:
                    raise AssertionError(f"P{i} exited {p.returncode}:\n{self.log(i).read_text()}")
                with contextlib.suppress(httpx.HTTPError, OSError):
                    r = httpx.get(f"{cons.node(i).api_url}/healthz", verify=False, timeout=2)
                    if r.status_code == 200:
                        break
                if time.monotonic() > end:
                    raise AssertionError(f"P{i} never answered:\n{self.log(i).read_text()}")
                time.sleep(0.1)

    def stop(self, i: int) -> None:
        p = self.procs[i]
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        self.procs[i] = None

    def stop_all(self) -> None:
        for i in range(3):
            self.stop(i)

    def __enter__(self) -> NodeProcesses:
        self.start_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

"""Three local node processes with TLS, from Python: ``sharelake.LocalCluster()``.

>>> with LocalCluster() as cluster:                       # doctest: +SKIP
...     session = sharelake.connect(cluster.consortium_path, "analyst")

Each node runs as ``python -m sharelake.node.server nodes/P{i}/node.toml`` in its own
process (its output goes to ``logs/P{i}.log`` in the cluster directory). The cluster
is up when each node's own process reports its ports bound and answers ``GET /readyz``
over HTTPS (CA pinned).
:meth:`LocalCluster.kill` and :meth:`LocalCluster.restart` exist for fault tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from ..consortium.cluster import (
    Deadlines,
    MemberSpec,
    consortium_path,
    free_ports,
    init_cluster,
    member_key_path,
    node_config_path,
)
from ..consortium.keys import load_private_key
from ..consortium.members import Consortium
from ..consortium.signing import consortium_id, sign_request
from ..errors import SharelakeError
from ..net.relay import LinkSpec, Relay

__all__ = ["ClusterStartError", "LocalCluster"]


class ClusterStartError(SharelakeError):
    """A local node did not come up (it exited, or never answered within the deadline)."""


def _tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


class LocalCluster:
    """Three node processes on this machine, as a context manager.

    Parameters
    ----------
    dir
        A directory made by ``sharelake cluster init``; when None, a fresh consortium is
        created in a temporary directory (removed by :meth:`stop`).
    members
        Members of a fresh consortium (default: the ``cluster init`` defaults).
    base_port
        Ports of a fresh consortium (default: free ports).
    deadlines
        Deadlines of a fresh consortium (short ones make fault tests fast).
    start_deadline
        Seconds to wait for every node to answer its health check.
    link
        A simulated wide-area link (:mod:`sharelake.net.relay`): every node's API and
        peer port sits behind a latency relay, so node-to-node and client-to-node
        traffic pays ``link.delay`` each way (fresh clusters only).
    rtt
        Shorthand for ``link=LinkSpec.from_rtt(rtt)`` (seconds).
    log_level
        The nodes' log level (their JSON logs go to ``logs/P{i}.log``).
    """

    def __init__(
        self,
        dir: str | Path | None = None,
        *,
        members: Sequence[MemberSpec] | None = None,
        base_port: int | None = None,
        deadlines: Deadlines | None = None,
        start_deadline: float = 120.0,
        log_level: str = "info",
        link: LinkSpec | None = None,
        rtt: float | None = None,
    ) -> None:
        if rtt is not None:
            link = LinkSpec.from_rtt(rtt)
        self.log_level = log_level
        self._owned = dir is None
        self._relays: list[Relay] = []
        self.dir = Path(tempfile.mkdtemp(prefix="sharelake-cluster-")) if dir is None else Path(dir)
        if link is not None and not self._owned:
            raise ValueError("a simulated link needs a fresh cluster (dir=None)")
        if link is not None:
            bound = free_ports(["127.0.0.1"] * 6)
            d, bw = link.delay, link.bandwidth
            self._relays = [
                Relay(("127.0.0.1", p), delay_up=d, delay_down=d, bandwidth=bw).start()
                for p in bound
            ]
            adv = [r.address[1] for r in self._relays]
            init_cluster(
                self.dir,
                members=members,
                api_ports=bound[:3],
                peer_ports=bound[3:],
                advertise_api_ports=adv[:3],
                advertise_peer_ports=adv[3:],
                deadlines=deadlines,
            )
        elif self._owned:
            init_cluster(self.dir, members=members, base_port=base_port, deadlines=deadlines)
        self.consortium = Consortium.load(self.consortium_path)
        self.start_deadline = start_deadline
        self._procs: list[subprocess.Popen[bytes] | None] = [None, None, None]
        self._logs: list[IO[bytes] | None] = [None, None, None]
        self._probe = next(iter(self.consortium.members))

    # ---- paths ------------------------------------------------------------------------

    @property
    def consortium_path(self) -> Path:
        """``consortium.toml`` of this cluster."""
        return consortium_path(self.dir)

    def member_key_path(self, name: str) -> Path:
        """The private key file of member ``name``."""
        return member_key_path(self.dir, name)

    def log_path(self, i: int) -> Path:
        """Where node ``i`` writes its output."""
        return self.dir / "logs" / f"P{i}.log"

    def api_url(self, i: int) -> str:
        """``https://host:port`` of node ``i``."""
        return self.consortium.node(i).api_url

    # ---- processes --------------------------------------------------------------------

    def _spawn(self, i: int) -> None:
        self.log_path(i).parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path(i), "ab")  # noqa: SIM115 - closed in _reap
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        ready = self._ready_path(i)
        ready.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "sharelake.node.server", str(node_config_path(self.dir, i))]
        self._procs[i] = subprocess.Popen(
            [*cmd, "--ready-file", str(ready), "--log-level", self.log_level],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        self._logs[i] = log

    def _ready_path(self, i: int) -> Path:
        return self.dir / "logs" / f"P{i}.ready"

    def _is_ready(self, i: int) -> bool:
        """Whether node ``i``'s own process (not another on its port) reported it listens."""
        proc = self._procs[i]
        try:
            pid = int(self._ready_path(i).read_text().strip() or 0)
        except (OSError, ValueError):
            return False
        return proc is not None and pid == proc.pid

    def _reap(self, i: int) -> None:
        log = self._logs[i]
        if log is not None:
            log.close()
        self._logs[i] = None
        self._procs[i] = None

    def start(self) -> LocalCluster:
        """Start the three nodes and wait until each answers its health check."""
        try:
            for i in range(3):
                if self._procs[i] is None:
                    self._spawn(i)
            self.wait_healthy(range(3))
        except BaseException:
            self.stop()
            raise
        return self

    def _client(self) -> httpx.Client:
        ctx = ssl.create_default_context(cadata=self.consortium.trust_pem())
        ctx.check_hostname = False
        return httpx.Client(verify=ctx, timeout=2.0)

    def health(self, i: int, client: httpx.Client | None = None) -> dict[str, Any]:
        """Node ``i``'s signed ``GET /v1/health`` answer (raises on any failure)."""
        key = load_private_key(self.member_key_path(self._probe))
        headers = sign_request(
            key,
            self._probe,
            "GET",
            "/v1/health",
            b"",
            consortium=consortium_id(self.consortium),
            node=i,
        )
        with contextlib.ExitStack() as stack:
            c = client or stack.enter_context(self._client())
            r = c.get(f"{self.api_url(i)}/v1/health", headers=headers)
            r.raise_for_status()
            out: dict[str, Any] = r.json()
            return out

    def wait_healthy(self, nodes: Sequence[int] | range) -> None:
        """Wait until every node in ``nodes`` answers, within :attr:`start_deadline`.

        Raises
        ------
        ClusterStartError
            A node exited (its last log lines are in the message) or never answered.
        """
        end = time.monotonic() + self.start_deadline
        pending = list(nodes)
        with self._client() as client:
            while pending:
                i = pending[0]
                proc = self._procs[i]
                if proc is None or proc.poll() is not None:
                    code = None if proc is None else proc.returncode
                    raise ClusterStartError(
                        f"node P{i} exited with status {code}:\n{_tail(self.log_path(i))}"
                    )
                try:
                    if self._is_ready(i):  # our process holds the ports: then ask it
                        r = client.get(f"{self.api_url(i)}/readyz")  # no member key needed
                        r.raise_for_status()
                        pending.pop(0)
                        continue
                except (httpx.HTTPError, OSError):
                    pass
                if time.monotonic() > end:
                    raise ClusterStartError(
                        f"node P{i} did not answer within {self.start_deadline:.0f} s:\n"
                        f"{_tail(self.log_path(i))}"
                    )
                time.sleep(0.05)

    def kill(self, i: int) -> None:
        """SIGKILL node ``i`` (a crash, for fault tests) and wait for it to die."""
        proc = self._procs[i]
        if proc is not None:
            proc.kill()
            proc.wait(10)
            self._reap(i)

    def restart(self, i: int) -> None:
        """Start node ``i`` again (after :meth:`kill`) and wait until it answers."""
        if self._procs[i] is not None:
            self.kill(i)
        self._spawn(i)
        self.wait_healthy([i])

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL after 10 s); remove a temporary dir."""
        for proc in self._procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for i, proc in enumerate(self._procs):
            if proc is None:
                continue
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            self._reap(i)
        for relay in self._relays:
            relay.close()
        self._relays = []
        if self._owned:
            shutil.rmtree(self.dir, ignore_errors=True)

    def pid(self, i: int) -> int | None:
        """The process id of node ``i`` while it runs (for resource checks in tests)."""
        proc = self._procs[i]
        return proc.pid if proc is not None and proc.poll() is None else None

    def running(self, i: int) -> bool:
        """Whether node ``i``'s process is alive."""
        proc = self._procs[i]
        return proc is not None and proc.poll() is None

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

"""The peer router: one listener per node, sessions routed by id, strangers refused."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from sharelake.consortium.certs import issue_node_cert, make_ca
from sharelake.errors import AuthenticationError, PeerTimeoutError
from sharelake.mpc.arith import open_arith
from sharelake.mpc.party import Party
from sharelake.mpc.shares import AShare
from sharelake.net.tls import bind_listener
from sharelake.node.peers import PeerRouter, SessionBusyError

pytestmark = pytest.mark.timeout(60)


def make_routers(tmp: Path, *, foreign: int | None = None) -> list[PeerRouter]:
    ca = make_ca(tmp / "ca")
    other = make_ca(tmp / "other-ca")
    listeners = [bind_listener(("127.0.0.1", 0), backlog=64) for _ in range(3)]
    addrs = [("127.0.0.1", int(s.getsockname()[1])) for s in listeners]
    routers = []
    for i in range(3):
        issued = issue_node_cert(other if i == foreign else ca, i, tmp / f"P{i}")
        r = PeerRouter(
            i,
            addrs,
            issued.cert_path,
            issued.key_path,
            ca.cert_path,
            listener=listeners[i],
            pending_ttl=5.0,
        )
        r.start()
        routers.append(r)
    return routers


@pytest.fixture
def routers(tmp_path: Path) -> Iterator[list[PeerRouter]]:
    rs = make_routers(tmp_path)
    yield rs
    for r in rs:
        r.close()


def open_sum(router: PeerRouter, session: str, value: int) -> int:
    """Join ``session``; each node inputs ``value`` as component ``i``; open the sum."""
    chan = router.open_session(session, deadline=5.0, setup_deadline=5.0)
    try:
        p = Party.setup(chan)
        v = np.array([value], dtype=np.uint64)
        got = p.exchange({p.prev: v}, {p.next: 8})  # i holds (x_i, x_{i+1})
        share = AShare(v, np.frombuffer(got[p.next], dtype=np.uint64).copy())
        return int(open_arith(p, share)[0])
    finally:
        chan.close()


def test_three_nodes_form_a_session_through_their_listeners(routers: list[PeerRouter]) -> None:
    sid = secrets.token_hex(16)
    with ThreadPoolExecutor(3) as pool:
        results = [
            f.result() for f in [pool.submit(open_sum, routers[i], sid, i + 1) for i in range(3)]
        ]
    assert results == [6, 6, 6]


def test_concurrent_sessions_are_kept_apart(routers: list[PeerRouter]) -> None:
    sessions = {secrets.token_hex(16): k for k in (10, 20, 30, 40)}
    with ThreadPoolExecutor(12) as pool:
        futures = {
            (sid, i): pool.submit(open_sum, routers[i], sid, k * (i + 1))
            for sid, k in sessions.items()
            for i in range(3)
        }
        got = {key: f.result() for key, f in futures.items()}
    for (sid, _), total in got.items():
        assert total == 6 * sessions[sid]


def test_a_session_that_a_peer_never_opens_times_out_naming_it(routers: list[PeerRouter]) -> None:
    sid = secrets.token_hex(16)
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(routers[i].open_session, sid, deadline=1.0, setup_deadline=1.5)
            for i in (0, 1)
        ]
        for f in futures:
            with pytest.raises(PeerTimeoutError) as err:
                f.result()
            assert err.value.node == 2
            assert err.value.session == sid


def test_the_same_session_cannot_be_opened_twice_at_one_node(routers: list[PeerRouter]) -> None:
    sid = secrets.token_hex(16)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(routers[0].open_session, sid, deadline=1.0, setup_deadline=1.5)
        time.sleep(0.2)
        with pytest.raises(SessionBusyError):
            routers[0].open_session(sid, deadline=1.0, setup_deadline=0.5)
        with pytest.raises(PeerTimeoutError):
            first.result()


def test_a_node_with_a_certificate_from_another_ca_is_refused(tmp_path: Path) -> None:
    rs = make_routers(tmp_path, foreign=2)
    try:
        sid = secrets.token_hex(16)
        with ThreadPoolExecutor(3) as pool:
            futures = [
                pool.submit(rs[i].open_session, sid, deadline=1.0, setup_deadline=2.0)
                for i in range(3)
            ]
            errors = []
            for f in futures:
                with pytest.raises((AuthenticationError, PeerTimeoutError)) as err:
                    f.result()
                errors.append(err.value)
        assert isinstance(errors[0], AuthenticationError) or isinstance(
            errors[1], AuthenticationError
        )
    finally:
        for r in rs:
            r.close()

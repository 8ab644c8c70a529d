"""The client transport signs every call for its node and types every refusal; in process too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from sharelake.client.errors import NodePolicyError, NodeUnavailableError
from sharelake.client.session import Session
from sharelake.client.transport import Transport
from sharelake.consortium.cluster import consortium_path, init_cluster, member_key_path
from sharelake.consortium.keys import load_private_key
from sharelake.consortium.members import Consortium
from sharelake.consortium.signing import RequestVerifier
from sharelake.errors import AuthenticationError

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("lake")
    init_cluster(d)
    return d


def _signed_node(consortium: Consortium, node: int, seen: list[tuple[int, str, str]]) -> Handler:
    verifier = RequestVerifier(consortium, node=node)

    def handle(request: httpx.Request) -> httpx.Response:
        member, _ = verifier.verify_headers(request.headers, request.method, request.url.path)
        seen.append((node, member.name, request.url.path))
        if request.url.path == "/v1/approvals":
            return httpx.Response(200, json=[{"id": f"r{node}", "status": "pending"}])
        return httpx.Response(200, json={"node": node})

    return handle


def _transport(lake: Path, member: str, handlers: list[Handler]) -> Transport:
    consortium = Consortium.load(consortium_path(lake))
    key = load_private_key(member_key_path(lake, member))
    return Transport.in_process(consortium, member, key, handlers)


def test_each_node_receives_a_request_signed_for_it_and_answers_in_node_order(lake: Path) -> None:
    consortium = Consortium.load(consortium_path(lake))
    seen: list[tuple[int, str, str]] = []
    member = "analyst"
    t = _transport(lake, member, [_signed_node(consortium, i, seen) for i in range(3)])
    try:
        replies = t.on_each("GET", "/v1/health")
    finally:
        t.close()
    assert [r.json()["node"] for r in replies] == [0, 1, 2]
    assert sorted(seen) == [(i, member, "/v1/health") for i in range(3)]


def test_a_request_signed_for_one_node_does_not_verify_at_another(lake: Path) -> None:
    consortium = Consortium.load(consortium_path(lake))
    seen: list[tuple[int, str, str]] = []
    member = "analyst"
    swapped = [_signed_node(consortium, (i + 1) % 3, seen) for i in range(3)]
    t = _transport(lake, member, swapped)
    try:
        with pytest.raises(AuthenticationError, match="node"):
            t.request(0, "GET", "/v1/health")
    finally:
        t.close()
    assert seen == []


def test_a_refusal_becomes_a_typed_error_naming_the_node(lake: Path) -> None:
    def ok(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={})

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"error": "PolicyError", "message": "k too small"})

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    t = _transport(lake, "analyst", [ok, refuse, down])
    try:
        with pytest.raises(NodePolicyError, match="k too small") as refused:
            t.request(1, "POST", "/v1/query", b"{}")
        assert refused.value.node == 1
        assert refused.value.kind == "PolicyError"
        with pytest.raises(NodeUnavailableError, match="not reachable") as unreachable:
            t.request(2, "GET", "/v1/health")
        assert unreachable.value.node == 2
    finally:
        t.close()


def test_a_session_over_the_in_process_transport_lists_approvals_without_raw_paths(
    lake: Path,
) -> None:
    consortium = Consortium.load(consortium_path(lake))
    seen: list[tuple[int, str, str]] = []
    member = "analyst"
    t = _transport(lake, member, [_signed_node(consortium, i, seen) for i in range(3)])
    key = load_private_key(member_key_path(lake, member))
    with Session(consortium, member, key, transport=t) as s:
        assert s.approvals(node=2) == [{"id": "r2", "status": "pending"}]
    assert seen == [(2, member, "/v1/approvals")]


def test_one_transport_serves_many_threads_whose_nodes_each_wait_for_their_peers(
    lake: Path,
) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    # like a query: each node blocks until the other two received the same session
    barriers: dict[bytes, threading.Barrier] = {}
    lock = threading.Lock()

    def node(i: int) -> Handler:
        def handle(request: httpx.Request) -> httpx.Response:
            with lock:
                barrier = barriers.setdefault(request.content, threading.Barrier(3))
            barrier.wait(timeout=20)
            return httpx.Response(200, json={"node": i, "session": request.content.decode()})

        return handle

    t = _transport(lake, "analyst", [node(i) for i in range(3)])
    sessions = [f"s{n}".encode() for n in range(24)]  # more than the transport's workers/3
    try:
        with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
            answers = list(pool.map(lambda b: t.on_each("POST", "/v1/queries", b), sessions))
    finally:
        t.close()
    for body, replies in zip(sessions, answers, strict=True):
        assert [r.json() for r in replies] == [
            {"node": i, "session": body.decode()} for i in range(3)
        ]


def test_a_fan_out_of_more_than_one_call_per_node_is_refused(lake: Path) -> None:
    t = _transport(lake, "analyst", [lambda r: httpx.Response(200, json={})] * 3)
    try:
        with pytest.raises(ValueError, match="one call per node"):
            t.on_all([lambda: t.request(0, "GET", "/v1/health")] * 4)
    finally:
        t.close()

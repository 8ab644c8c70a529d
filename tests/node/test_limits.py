"""Issue 11, finding 3 (memory exhaustion before authentication), over real node processes.

Each attack is sent as the issue describes it; the node's resident memory (``VmRSS`` of
its process) is read before and after, and the API must keep answering. The bound this
suite states: an attack grows a node by less than ``RSS_BOUND`` bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sharelake.consortium.cluster import (
    Deadlines,
    Limits,
    NodeConfig,
    init_cluster,
    node_config_path,
)
from sharelake.consortium.keys import load_private_key
from sharelake.consortium.signing import consortium_id, sign_request
from sharelake.node.local import LocalCluster

pytestmark = [pytest.mark.tls, pytest.mark.faults, pytest.mark.timeout(300)]

RSS_BOUND = 64 << 20  # what one attack may add to a node's resident memory
LIMITS = Limits(
    upload_body=1 << 20,
    json_body=64 << 10,
    json_depth=32,
    plan_nodes=2000,
    # a slow refill, so the burst runs out however slowly a loaded machine sends requests
    requests_per_second=1.0,
    request_burst=40,
)


def rss(pid: int) -> int:
    """Resident memory of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    lake = tmp_path_factory.mktemp("limits") / "lake"
    init_cluster(lake, deadlines=Deadlines(peer_receive=5.0, peer_setup=5.0))
    for i in range(3):
        path = node_config_path(lake, i)
        dataclasses.replace(NodeConfig.load(path), limits=LIMITS).save(path)
    with LocalCluster(lake) as c:
        yield c


def tls_context(cluster: LocalCluster) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cluster.consortium.ca_cert_path))
    ctx.check_hostname = False
    return ctx


def signed(
    cluster: LocalCluster, member: str, node: int, method: str, path: str, body: bytes
) -> dict[str, str]:
    key = load_private_key(cluster.member_key_path(member))
    cid = consortium_id(cluster.consortium)
    return sign_request(key, member, method, path, body, consortium=cid, node=node)


def raw_request(cluster: LocalCluster, node: int, head: bytes, body: bytes = b"") -> bytes:
    """Send raw HTTP over TLS; the start of the answer (the node may close early)."""
    info = cluster.consortium.nodes[node]
    with (
        socket.create_connection((info.api_host, info.api_port), timeout=10) as raw,
        tls_context(cluster).wrap_socket(raw) as tls,
    ):
        tls.sendall(head)
        if body:
            with contextlib.suppress(OSError):
                tls.sendall(body)
        out = b""
        try:
            while b"\r\n\r\n" not in out:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                out += chunk
        except OSError:
            pass
        return out


def answers_health(cluster: LocalCluster, node: int) -> bool:
    t0 = time.monotonic()
    ok = cluster.health(node)["node"] == node
    return ok and time.monotonic() - t0 < 5


def test_two_unsigned_400_mb_bodies_are_refused_without_growing_the_node(
    cluster: LocalCluster,
) -> None:
    pid = cluster.pid(0)
    assert pid is not None
    before = rss(pid)
    chunk = b"\0" * (1 << 20)

    def body() -> Iterator[bytes]:
        for _ in range(400):
            yield chunk

    with httpx.Client(verify=tls_context(cluster), timeout=60) as client:
        for _ in range(2):
            try:
                r = client.post(
                    f"{cluster.api_url(0)}/v1/uploads/u1/prepare",
                    content=body(),
                    headers={"Content-Length": str(400 << 20)},
                )
                assert r.status_code == 401, r.text
                assert r.json()["error"] == "MalformedRequestError"
            except httpx.TransportError:
                pass  # the node answered 401 and closed while we were still sending
    assert rss(pid) - before < RSS_BOUND
    assert answers_health(cluster, 0)


def test_an_unsigned_content_length_of_16_gib_is_refused_at_once_without_growing_the_node(
    cluster: LocalCluster,
) -> None:
    pid = cluster.pid(1)
    assert pid is not None
    before = rss(pid)
    head = (
        b"POST /v1/uploads/u2/prepare HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Length: 17179869183\r\n\r\n"
    )
    answer = raw_request(cluster, 1, head, b"\0" * 4096)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert rss(pid) - before < RSS_BOUND
    assert answers_health(cluster, 1)


def test_a_signed_upload_over_the_cap_is_refused_before_its_body_is_read(
    cluster: LocalCluster,
) -> None:
    pid = cluster.pid(2)
    assert pid is not None
    before = rss(pid)
    path = "/v1/uploads/u3/prepare"
    headers = signed(cluster, "ngo_a", 2, "POST", path, b"")  # the hash cannot matter here
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 17179869183\r\n{lines}\r\n"
    ).encode()
    answer = raw_request(cluster, 2, head, b"\0" * 4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"BodyTooLargeError" in answer or b"413" in answer
    assert rss(pid) - before < RSS_BOUND
    assert answers_health(cluster, 2)


def test_a_signed_body_longer_than_the_json_cap_gives_a_typed_413(cluster: LocalCluster) -> None:
    body = json.dumps({"plan": {"x": "y" * (LIMITS.json_body + 10)}}).encode()
    headers = signed(cluster, "analyst", 0, "POST", "/v1/explain", body)
    with httpx.Client(verify=tls_context(cluster), timeout=30) as client:
        r = client.post(f"{cluster.api_url(0)}/v1/explain", content=body, headers=headers)
    assert (r.status_code, r.json()["error"]) == (413, "BodyTooLargeError")


@pytest.mark.parametrize("path", ["/v1/queries", "/v1/explain", "/v1/requests", "/v1/approvals"])
def test_deeply_nested_json_gives_a_typed_400_never_a_500(cluster: LocalCluster, path: str) -> None:
    with httpx.Client(verify=tls_context(cluster), timeout=30) as client:
        for body in (b"[" * 20_000 + b"]" * 20_000, b'{"a":' * 40 + b"1" + b"}" * 40):
            headers = signed(cluster, "analyst", 1, "POST", path, body)
            r = client.post(f"{cluster.api_url(1)}{path}", content=body, headers=headers)
            assert (r.status_code, r.json()["error"]) == (400, "MalformedBodyError"), r.text
            assert "nested" in r.json()["message"]


def test_a_body_other_than_the_signed_one_is_refused(cluster: LocalCluster) -> None:
    headers = signed(cluster, "analyst", 0, "POST", "/v1/explain", b'{"plan": 1}')
    with httpx.Client(verify=tls_context(cluster), timeout=30) as client:
        r = client.post(f"{cluster.api_url(0)}/v1/explain", content=b'{"plan": 2}', headers=headers)
    assert (r.status_code, r.json()["error"]) == (401, "SignatureError")


def test_a_member_over_the_rate_limit_gets_429_and_others_are_still_served(
    cluster: LocalCluster,
) -> None:
    statuses = []
    with httpx.Client(verify=tls_context(cluster), timeout=30) as client:
        for _ in range(int(LIMITS.request_burst) + 20):
            h = signed(cluster, "hotline", 2, "GET", "/v1/health", b"")
            statuses.append(client.get(f"{cluster.api_url(2)}/v1/health", headers=h).status_code)
        h = signed(cluster, "police", 2, "GET", "/v1/health", b"")
        other = client.get(f"{cluster.api_url(2)}/v1/health", headers=h)
    assert 429 in statuses and set(statuses) <= {200, 429}
    assert statuses[: int(LIMITS.request_burst) - 5].count(200) == int(LIMITS.request_burst) - 5
    assert other.status_code == 200


def test_unsigned_requests_cannot_grow_the_audit_log_line_by_line(cluster: LocalCluster) -> None:
    log = cluster.dir / "nodes" / "P1" / "data" / "audit.jsonl"
    before = len(log.read_text().splitlines())
    with httpx.Client(verify=tls_context(cluster), timeout=30) as client:
        for i in range(60):
            r = client.get(
                f"{cluster.api_url(1)}/v1/tables", headers={"X-Sharelake-Member": f"m{i}"}
            )
            assert r.status_code == 401
        h = signed(cluster, "analyst", 1, "GET", "/v1/approvals/nosuch", b"")
        assert client.get(f"{cluster.api_url(1)}/v1/approvals/nosuch", headers=h).status_code == 404
    lines = [json.loads(x) for x in log.read_text().splitlines()[before:]]
    anonymous = [e for e in lines if e["kind"] == "request" and e["member"].startswith("m")]
    assert 1 <= len(anonymous) <= 10  # the first of the minute one by one, the rest counted
    assert [e["member"] for e in lines if e["kind"] == "request"][-1] == "analyst"

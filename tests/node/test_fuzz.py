"""Hypothesis fuzzing of every client endpoint and of the peer port of real node processes.

Random methods, paths, headers and bodies (random bytes, random JSON, plan-shaped JSON,
deep nesting), unsigned, badly signed and correctly signed, are sent to a running node.
The node must answer every one with a typed error or a success (never a 500, never a
dropped connection), keep answering its health check, and stay under the memory bound
``RSS_BOUND`` over its resident memory before the run. The peer port gets random bytes
in the clear and random frames over TLS with a real node certificate.
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharelake.consortium.cluster import Deadlines, NodeConfig, init_cluster, node_config_path
from sharelake.consortium.keys import load_private_key
from sharelake.consortium.signing import consortium_id, sign_request
from sharelake.net.framing import HEADER_SIZE, Kind, encode_header
from sharelake.node.local import LocalCluster

pytestmark = [pytest.mark.tls, pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(900)]

RSS_BOUND = 96 << 20  # what a whole fuzz run may add to a node's resident memory
MEMBERS = ["analyst", "ngo_a", "ngo_b", "police", "hotline"]
ENDPOINTS = [
    ("GET", "/v1/health"),
    ("GET", "/v1/tables"),
    ("DELETE", "/v1/tables/{name}"),
    ("POST", "/v1/uploads/{name}/prepare"),
    ("POST", "/v1/uploads/{name}/commit"),
    ("POST", "/v1/uploads/{name}/abort"),
    ("POST", "/v1/queries"),
    ("POST", "/v1/explain"),
    ("POST", "/v1/requests"),
    ("GET", "/v1/approvals"),
    ("GET", "/v1/approvals/{name}"),
    ("POST", "/v1/approvals"),
    ("POST", "/v1/tables/{name}/policy"),
    ("GET", "/v1/audit"),
]
NAMES = st.one_of(
    st.sampled_from(["people", "u1", "x" * 200, "..", "%2e%2e", "a-b_c"]),
    st.text(alphabet="abcxyz019_-.%", min_size=1, max_size=40),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda kids: (
        st.lists(kids, max_size=6) | st.dictionaries(st.text(max_size=10), kids, max_size=6)
    ),
    max_leaves=40,
)
PLANISH = st.fixed_dictionaries(
    {
        "plan": st.fixed_dictionaries(
            {
                "version": st.sampled_from([1, 2, "1", None]),
                "root": st.one_of(
                    JSON,
                    st.fixed_dictionaries(
                        {
                            "op": st.sampled_from(
                                ["scan", "filter", "groupby", "link", "sort", "x"]
                            ),
                            "table": NAMES,
                            "columns": st.none() | st.lists(st.text(max_size=8)),
                        }
                    ),
                ),
                "release": st.sampled_from([{"kind": "rows"}, {"kind": "aggregate"}, {}, None]),
            }
        ),
        "plan_hash": st.sampled_from(["0" * 64, "zz", ""]),
        "nonce": st.sampled_from([secrets.token_hex(16), "", "g" * 32]),
        "reply_key": st.sampled_from(["AAAA", "A" * 44, "", None]),
    }
)
BODIES = st.one_of(
    st.binary(max_size=2048),
    JSON.map(lambda d: json.dumps(d).encode()),
    PLANISH.map(lambda d: json.dumps(d).encode()),
    st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 5000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
)


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    lake = tmp_path_factory.mktemp("fuzz") / "lake"
    init_cluster(lake, deadlines=Deadlines(peer_receive=2.0, peer_setup=2.0, query=10.0))
    with LocalCluster(lake) as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster: LocalCluster) -> Iterator[httpx.Client]:
    ctx = ssl.create_default_context(cafile=str(cluster.consortium.ca_cert_path))
    ctx.check_hostname = False
    with httpx.Client(verify=ctx, timeout=30) as c:
        yield c


def test_random_requests_to_every_endpoint_never_crash_a_node_or_grow_its_memory_past_the_bound(
    cluster: LocalCluster, client: httpx.Client
) -> None:
    node = 0
    pid = cluster.pid(node)
    assert pid is not None
    keys = {m: load_private_key(cluster.member_key_path(m)) for m in MEMBERS}
    cid = consortium_id(cluster.consortium)
    before = rss(pid)
    seen: set[int] = set()

    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        derandomize=False,
    )
    @given(
        endpoint=st.sampled_from(ENDPOINTS),
        name=NAMES,
        body=BODIES,
        how=st.sampled_from(["signed", "signed", "signed", "unsigned", "wrong_node", "garbled"]),
        member=st.sampled_from(MEMBERS),
        extra=st.dictionaries(
            st.sampled_from(
                [
                    "Content-Type",
                    "X-Sharelake-Nonce",
                    "X-Sharelake-Timestamp",
                    "X-Sharelake-Content-SHA256",
                    "X-Sharelake-Member",
                ]
            ),
            st.text(alphabet="abcdef0123456789-", max_size=70),
            max_size=2,
        ),
    )
    def one(
        endpoint: tuple[str, str],
        name: str,
        body: bytes,
        how: str,
        member: str,
        extra: dict[str, str],
    ) -> None:
        method, template = endpoint
        path = template.replace("{name}", name)
        if method == "GET":
            body = b""
        headers: dict[str, str] = {}
        if how != "unsigned":
            target = (node + 1) % 3 if how == "wrong_node" else node
            headers = sign_request(
                keys[member], member, method, path, body, consortium=cid, node=target
            )
        if how == "garbled":
            headers.update(extra)
        r = client.request(method, f"{cluster.api_url(node)}{path}", content=body, headers=headers)
        seen.add(r.status_code)
        assert r.status_code < 500 or r.status_code == 503, (method, path, r.status_code, r.text)
        if r.status_code >= 400:
            err = r.json()
            assert set(err) >= {"error", "message"}, r.text
            assert err["error"] not in ("RecursionError", "KeyError", "TypeError", "ValueError")

    one()
    grown = rss(pid) - before
    assert grown < RSS_BOUND, f"P{node} grew by {grown >> 20} MiB"
    assert cluster.health(node)["node"] == node
    assert 401 in seen and ({400, 404, 422, 403} & seen)


def test_random_bytes_and_frames_on_the_peer_port_never_crash_a_node(cluster: LocalCluster) -> None:
    node = 1
    info = cluster.consortium.nodes[node]
    pid = cluster.pid(node)
    assert pid is not None
    before = rss(pid)
    lake = cluster.dir
    peer_cfg = NodeConfig.load(node_config_path(lake, 0))  # a real peer's certificate
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_cert_chain(str(peer_cfg.cert_path), str(peer_cfg.key_path))
    ctx.load_verify_locations(cafile=str(peer_cfg.ca_path))

    @settings(
        max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        clear=st.binary(max_size=512),
        kind=st.integers(0, 5),
        seq=st.integers(0, 2**64 - 1),
        length=st.integers(0, 2**64 - 1),
        tail=st.binary(max_size=256),
        tls=st.booleans(),
    )
    def one(clear: bytes, kind: int, seq: int, length: int, tail: bytes, tls: bool) -> None:
        with socket.create_connection((info.peer_host, info.peer_port), timeout=1) as raw:
            if not tls:
                try:
                    raw.sendall(clear)
                    raw.recv(64)
                except OSError:
                    pass
                return
            with ctx.wrap_socket(raw) as s:
                try:
                    head = encode_header(secrets.token_bytes(16), seq, length, Kind.DATA)
                    head = head[:4] + head[4:6] + kind.to_bytes(2, "big") + head[8:]
                    assert len(head) == HEADER_SIZE
                    s.sendall(head + tail)
                    s.recv(64)
                except OSError:
                    pass

    one()
    assert rss(pid) - before < RSS_BOUND
    assert cluster.health(node)["node"] == node

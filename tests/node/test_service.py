"""The node service over a real LocalCluster: three OS processes, HTTPS and peer TLS.

Requests are made by hand here (signed raw HTTP, shares from ``share_table``), so these
tests pin the contract of ``docs/node-api.md`` independently of ``client/``.
"""

from __future__ import annotations

import json
import secrets
import ssl
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from sharelake.consortium.cluster import Deadlines
from sharelake.consortium.keys import generate_key, load_private_key
from sharelake.consortium.sealing import new_reply_key, open_sealed, reply_context
from sharelake.consortium.signing import consortium_id, sign_request
from sharelake.node.local import LocalCluster
from sharelake.plan.canonical import canonical_json, plan_hash, session_id
from sharelake.relational import plain
from sharelake.relational.encode import decode_column, encode_frame, share_table
from sharelake.relational.expr import col, lit, to_json
from sharelake.relational.table import ColumnSpec, SecretTable, spec_from_json, spec_to_json
from sharelake.storage.bundle import decode_bundle, encode_bundle

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

CATS = ("north", "south")
SPECS = [
    ColumnSpec("id", "int", nullable=False),
    ColumnSpec("age", "int"),
    ColumnSpec("region", "category", categories=CATS),
    ColumnSpec("name", "string", max_len=12),
]
REPLY_KEY, REPLY_PUBLIC = new_reply_key()  # the analyst's one-query key (one for all here)
CONSORTIUM_ID: list[str] = []  # of the module's cluster
DEADLINES = Deadlines(peer_receive=3.0, peer_setup=3.0, query=60.0, upload_commit=10.0)


def people(n: int = 40, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = [None if i % 7 == 2 else int(a) for i, a in enumerate(rng.integers(5, 80, n))]
    return pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64),
            "age": pd.array(age, dtype="Int64"),
            "region": pd.Categorical(rng.choice(CATS, n), categories=list(CATS)),
            "name": [f"person{i}" for i in range(n)],
        }
    )


# ---- a hand-made client ------------------------------------------------------------------


class Caller:
    """Signed HTTPS requests to the three nodes of a cluster, as one member."""

    def __init__(self, cluster: LocalCluster, member: str, key: Any = None) -> None:
        self.cluster = cluster
        self.member = member
        self.key = key if key is not None else load_private_key(cluster.member_key_path(member))
        ctx = ssl.create_default_context(cafile=str(cluster.consortium.ca_cert_path))
        ctx.check_hostname = False
        self.http = httpx.Client(verify=ctx, timeout=30.0)

    def close(self) -> None:
        self.http.close()

    def call(self, i: int, method: str, path: str, body: bytes = b"") -> httpx.Response:
        cid = consortium_id(self.cluster.consortium)
        headers = sign_request(self.key, self.member, method, path, body, consortium=cid, node=i)
        return self.http.request(
            method, f"{self.cluster.api_url(i)}{path}", content=body, headers=headers
        )

    def on_all(
        self, method: str, path: str, bodies: list[bytes] | None = None
    ) -> list[httpx.Response]:
        """The same request to the three nodes at once (they wait for each other)."""
        parts = bodies or [b"", b"", b""]
        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(self.call, i, method, path, parts[i]) for i in range(3)]
            return [f.result() for f in futures]


def upload_bundles(df: pd.DataFrame, table: str, owner: str, policy: dict[str, Any]) -> list[bytes]:
    parts: list[SecretTable] = share_table(encode_frame(df, SPECS), name=table)
    out = []
    for t in parts:
        arrays: dict[str, Any] = {}
        for name, c in t.columns.items():
            for part, pair in (("values", c.values), ("null", c.null), ("text", c.text)):
                if pair is not None:
                    arrays[f"{name}.{part}.a"] = pair.a
                    arrays[f"{name}.{part}.b"] = pair.b
        meta = {
            "table": table,
            "owner": owner,
            "rows": len(df),
            "schema": [spec_to_json(s) for s in SPECS],
            "policy": policy,
        }
        out.append(encode_bundle(meta, arrays))
    return out


def upload(provider: Caller, df: pd.DataFrame, table: str, upload_id: str | None = None) -> str:
    uid = upload_id or secrets.token_hex(8)
    policy = {"analysts": ["analyst"], "columns": {str(c): "reveal" for c in df.columns}}
    bundles = upload_bundles(df, table, provider.member, policy)
    for r in provider.on_all("POST", f"/v1/uploads/{uid}/prepare", bundles):
        assert r.status_code == 200, r.text
    for r in provider.on_all("POST", f"/v1/uploads/{uid}/commit", [b"{}"] * 3):
        assert r.status_code == 200, r.text
    return uid


def query_body(root: dict[str, Any]) -> bytes:
    plan = {"version": 1, "root": root, "release": {"kind": "rows"}}
    doc = {
        "plan": plan,
        "plan_hash": plan_hash(plan),
        "nonce": secrets.token_hex(16),
        "reply_key": REPLY_PUBLIC,
    }
    return canonical_json(doc).encode()


def opened_answer(r: httpx.Response, node: int) -> bytes:
    """Node ``node``'s answer opened with the analyst's reply key (it is sealed to it)."""
    doc = json.loads(r.request.content)
    session = session_id(doc["plan_hash"], "analyst", doc["nonce"])
    cid = CONSORTIUM_ID[0]
    return open_sealed(r.content, REPLY_KEY, context=reply_context(cid, node, session))


def reconstruct(responses: list[httpx.Response]) -> pd.DataFrame:
    """Rebuild the result from the three bundles, checking both copies of each component."""
    assert [r.status_code for r in responses] == [200] * 3, [r.text for r in responses]
    got = [decode_bundle(opened_answer(r, i)) for i, r in enumerate(responses)]
    # Each node reports its own query cost; everything else must agree.
    metas = [{k: v for k, v in g[0].items() if k != "cost"} for g in got]
    meta = metas[0]
    assert all(m == meta for m in metas)
    arrays = [g[1] for g in got]

    def opened(key: str) -> np.ndarray[Any, Any]:
        for i in range(3):
            assert np.array_equal(arrays[i][f"{key}.a"], arrays[(i + 2) % 3][f"{key}.b"])
        return arrays[0][f"{key}.a"] + arrays[1][f"{key}.a"] + arrays[2][f"{key}.a"]

    data: dict[str, Any] = {}
    for sd in meta["columns"]:
        spec = spec_from_json(sd)
        null = opened(f"{spec.name}.null") if f"{spec.name}.null.a" in arrays[0] else None
        data[spec.name] = decode_column(spec, opened(f"{spec.name}.values"), null).to_numpy()
    return pd.DataFrame(data)


def rows(df: pd.DataFrame) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(None if pd.isna(v) else (v if isinstance(v, str) else int(v)) for v in r))
        for r in df.itertuples(index=False)
    )


ADULT = col("age") >= lit(18)
FILTER_PLAN = {
    "op": "project",
    "columns": ["id", "age", "region"],
    "input": {
        "op": "filter",
        "predicate": to_json(ADULT),
        "input": {"op": "scan", "table": "people", "columns": None},
    },
}


def adults(df: pd.DataFrame) -> pd.DataFrame:
    return plain.filter_rows(df, ADULT)[["id", "age", "region"]]


def table_names(caller: Caller, i: int) -> set[str]:
    r = caller.call(i, "GET", "/v1/tables")
    assert r.status_code == 200, r.text
    return {t["name"] for t in r.json()}


# ---- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(deadlines=DEADLINES) as c:
        CONSORTIUM_ID[:] = [consortium_id(c.consortium)]
        yield c


@pytest.fixture(scope="module")
def provider(cluster: LocalCluster) -> Iterator[Caller]:
    caller = Caller(cluster, "ngo_a")
    yield caller
    caller.close()


@pytest.fixture(scope="module")
def analyst(cluster: LocalCluster) -> Iterator[Caller]:
    caller = Caller(cluster, "analyst")
    yield caller
    caller.close()


@pytest.fixture(scope="module")
def loaded(provider: Caller) -> pd.DataFrame:
    df = people()
    upload(provider, df, "people")
    return df


# ---- tests -----------------------------------------------------------------------------------


def test_every_node_answers_its_health_check(cluster: LocalCluster) -> None:
    assert [cluster.health(i)["node"] for i in range(3)] == [0, 1, 2]


def test_a_request_signed_by_an_unknown_key_is_refused(cluster: LocalCluster) -> None:
    impostor = Caller(cluster, "analyst", key=generate_key())
    r = impostor.call(0, "GET", "/v1/tables")
    assert r.status_code == 401
    assert r.json()["error"] == "SignatureError"
    stranger = Caller(cluster, "analyst", key=generate_key())
    stranger.member = "mallory"
    assert stranger.call(1, "GET", "/v1/health").status_code == 401
    impostor.close()
    stranger.close()
    assert httpx.get(f"{cluster.api_url(2)}/v1/health", verify=False).status_code == 401


def test_an_uploaded_table_answers_a_filter_query_like_pandas(
    analyst: Caller, loaded: pd.DataFrame
) -> None:
    got = reconstruct(analyst.on_all("POST", "/v1/queries", [query_body(FILTER_PLAN)] * 3))
    assert rows(got) == rows(adults(loaded))


def test_two_queries_at_once_are_kept_apart(analyst: Caller, loaded: pd.DataFrame) -> None:
    young = {
        "op": "filter",
        "predicate": to_json(col("age") < lit(18)),
        "input": FILTER_PLAN["input"]["input"],
    }
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(analyst.on_all, "POST", "/v1/queries", [query_body(FILTER_PLAN)] * 3)
        b = pool.submit(analyst.on_all, "POST", "/v1/queries", [query_body(young)] * 3)
        got_a, got_b = reconstruct(a.result()), reconstruct(b.result())
    assert rows(got_a) == rows(adults(loaded))
    assert len(got_b) == int((loaded["age"] < 18).sum())


def test_roles_and_policies_are_enforced_by_each_node(
    provider: Caller, analyst: Caller, cluster: LocalCluster, loaded: pd.DataFrame
) -> None:
    del loaded
    assert provider.call(0, "POST", "/v1/queries", query_body(FILTER_PLAN)).status_code == 403
    bundle = upload_bundles(people(3), "t_analyst", "analyst", {})[0]
    r = analyst.call(0, "POST", "/v1/uploads/u-by-analyst/prepare", bundle)
    assert r.status_code == 403
    other = Caller(cluster, "ngo_b")
    assert other.call(0, "DELETE", "/v1/tables/people").status_code == 403
    other.close()


def test_a_malformed_plan_or_a_wrong_hash_is_refused(analyst: Caller, loaded: pd.DataFrame) -> None:
    del loaded
    plan = {
        "version": 1,
        "root": {"op": "scan", "table": "people", "columns": None},
        "release": {"kind": "rows"},
    }
    body = canonical_json({"plan": plan, "plan_hash": "0" * 64, "nonce": secrets.token_hex(16)})
    r = analyst.call(0, "POST", "/v1/queries", body.encode())
    assert (r.status_code, r.json()["error"]) == (422, "PlanError")
    missing = query_body({"op": "scan", "table": "nowhere", "columns": None})
    assert analyst.call(0, "POST", "/v1/queries", missing).status_code == 404


def on_each(fn: Callable[[int], Any]) -> list[Any]:
    return [fn(i) for i in range(3)]


def test_killing_a_node_during_an_upload_leaves_no_table_and_the_retry_succeeds(
    cluster: LocalCluster, provider: Caller
) -> None:
    df = people(10, seed=5)
    uid = secrets.token_hex(8)
    bundles = upload_bundles(df, "half_done", provider.member, {})
    for r in provider.on_all("POST", f"/v1/uploads/{uid}/prepare", bundles):
        assert r.status_code == 200, r.text
    cluster.kill(2)
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(provider.call, i, "POST", f"/v1/uploads/{uid}/commit", b"{}")
            for i in (0, 1)
        ]
        answers = [f.result() for f in futures]
    assert [r.status_code for r in answers] == [503, 503]
    assert {r.json()["error"] for r in answers} <= {"PeerTimeoutError", "PeerDisconnectedError"}
    cluster.restart(2)
    assert all("half_done" not in table_names(provider, i) for i in range(3))
    for r in provider.on_all("POST", f"/v1/uploads/{uid}/prepare", bundles):
        assert r.status_code == 200, r.text
    for r in provider.on_all("POST", f"/v1/uploads/{uid}/commit", [b"{}"] * 3):
        assert r.status_code == 200, r.text
    assert all("half_done" in table_names(provider, i) for i in range(3))


def test_killing_a_node_during_a_query_fails_in_time_and_the_rerun_is_right(
    cluster: LocalCluster, analyst: Caller, provider: Caller
) -> None:
    big = people(20_000, seed=11)  # the checked (malicious) sort of 20k rows takes seconds
    upload(provider, big, "big")
    plan = {
        "op": "sort",
        "by": ["age", "id"],
        "descending": [False, True],
        "input": {"op": "scan", "table": "big", "columns": ["id", "age"]},
    }
    body = query_body(plan)
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(analyst.call, i, "POST", "/v1/queries", body) for i in range(3)]
        time.sleep(0.8)  # the sort takes seconds: P2 dies in the middle of it
        cluster.kill(2)
        answers = [f.result() for f in futures[:2]]
    assert [r.status_code for r in answers] == [503, 503], [r.text for r in answers]
    assert {r.json()["error"] for r in answers} <= {"PeerTimeoutError", "PeerDisconnectedError"}
    cluster.restart(2)
    got = reconstruct(analyst.on_all("POST", "/v1/queries", [query_body(plan)] * 3))
    want = big.sort_values(["age", "id"], ascending=[True, False], na_position="last")
    assert got["id"].tolist() == want["id"].tolist()


def test_a_cluster_restart_keeps_the_tables(
    cluster: LocalCluster, analyst: Caller, loaded: pd.DataFrame
) -> None:
    for i in range(3):
        cluster.kill(i)
    for i in range(3):
        cluster.restart(i)
    assert all("people" in table_names(analyst, i) for i in range(3))
    got = reconstruct(analyst.on_all("POST", "/v1/queries", [query_body(FILTER_PLAN)] * 3))
    assert rows(got) == rows(adults(loaded))

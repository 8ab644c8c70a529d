"""Issue 11, finding 1 (cross-node replay), reproduced over three real node processes.

A node operator who receives an analyst's signed ``/v1/queries`` request sends the same
bytes to the other two nodes, to its own node again, and to its own node after a
restart; and copies the answers. Every replay is refused, and the copied answers do not
open without the analyst's one-query key.
"""

from __future__ import annotations

import json
import secrets
import ssl
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

import sharelake
from sharelake.consortium.cluster import Deadlines, init_cluster
from sharelake.consortium.keys import load_private_key
from sharelake.consortium.sealing import (
    SealError,
    new_reply_key,
    open_sealed,
    reply_context,
)
from sharelake.consortium.signing import consortium_id, sign_request
from sharelake.node.local import LocalCluster
from sharelake.plan import nodes as pn
from sharelake.plan.canonical import plan_hash, session_id
from sharelake.relational.expr import col, lit, to_json
from sharelake.storage.bundle import BundleError, decode_bundle

pytestmark = [pytest.mark.tls, pytest.mark.faults, pytest.mark.timeout(240)]

OPEN = {"columns": {"pid": "reveal", "age": "reveal"}}


@dataclass
class Sent:
    """One request exactly as it went over the wire."""

    node: int
    headers: dict[str, str]
    body: bytes


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    lake = tmp_path_factory.mktemp("replay") / "lake"
    init_cluster(lake, deadlines=Deadlines(peer_receive=5.0, peer_setup=5.0))
    with LocalCluster(lake) as c:
        with sharelake.connect(c.consortium_path, "ngo_a") as s:
            df = pd.DataFrame({"pid": range(30), "age": [15 + i for i in range(30)]})
            s.upload(df, "people", policy=OPEN, progress=False)
        yield c


def http(cluster: LocalCluster) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(cluster.consortium.ca_cert_path))
    ctx.check_hostname = False
    return httpx.Client(verify=ctx, timeout=60.0)


def send(client: httpx.Client, cluster: LocalCluster, to: int, sent: Sent) -> httpx.Response:
    return client.post(f"{cluster.api_url(to)}/v1/queries", content=sent.body, headers=sent.headers)


def analysts_query(
    cluster: LocalCluster,
) -> tuple[list[Sent], list[httpx.Response], X25519PrivateKey, str]:
    """The analyst's genuine query: three copies, each signed for its node."""
    key = load_private_key(cluster.member_key_path("analyst"))
    cid = consortium_id(cluster.consortium)
    plan = pn.make_plan(pn.filter_rows(pn.scan("people"), to_json(col("age") >= lit(18))))
    private, public = new_reply_key()
    nonce = secrets.token_hex(16)
    doc = {"plan": plan, "plan_hash": plan_hash(plan), "nonce": nonce, "reply_key": public}
    body = json.dumps(doc).encode()
    sent = [
        Sent(
            i,
            sign_request(key, "analyst", "POST", "/v1/queries", body, consortium=cid, node=i),
            body,
        )
        for i in range(3)
    ]
    with http(cluster) as client, ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda s: send(client, cluster, s.node, s), sent))
    return sent, answers, private, session_id(plan_hash(plan), "analyst", nonce)


def test_an_analysts_query_replayed_to_each_other_node_to_its_own_and_after_a_restart_is_refused(
    cluster: LocalCluster,
) -> None:
    sent, answers, _, _ = analysts_query(cluster)
    assert [r.status_code for r in answers] == [200, 200, 200], [r.text for r in answers]
    with http(cluster) as client:
        for copy in sent:
            for other in range(3):
                r = send(client, cluster, other, copy)
                assert r.status_code == 401, r.text
                want = "ReplayError" if other == copy.node else "SignatureError"
                assert r.json()["error"] == want, (copy.node, other, r.text)
                if other != copy.node:
                    assert f"for node P{other}" in r.json()["message"]
    cluster.kill(0)
    cluster.restart(0)
    with http(cluster) as client:
        r = send(client, cluster, 0, sent[0])
    assert (r.status_code, r.json()["error"]) == (401, "ReplayError"), r.text


def test_a_query_session_resent_with_fresh_signatures_runs_at_most_once_per_node(
    cluster: LocalCluster,
) -> None:
    # The analyst (or anyone with the analyst's key) re-signs the same body: the query's
    # session id (plan hash, analyst, body nonce) has run, so every node refuses it.
    sent, answers, _, sid = analysts_query(cluster)
    assert [r.status_code for r in answers] == [200, 200, 200]
    key = load_private_key(cluster.member_key_path("analyst"))
    cid = consortium_id(cluster.consortium)
    with http(cluster) as client:
        for i in range(3):
            again = Sent(
                i,
                sign_request(
                    key, "analyst", "POST", "/v1/queries", sent[i].body, consortium=cid, node=i
                ),
                sent[i].body,
            )
            r = send(client, cluster, i, again)
            assert (r.status_code, r.json()["error"]) == (409, "SessionReusedError"), r.text
            assert sid in r.json()["message"]


def test_copied_answers_are_useless_without_the_analysts_one_query_key(
    cluster: LocalCluster,
) -> None:
    sent, answers, private, sid = analysts_query(cluster)
    cid = consortium_id(cluster.consortium)
    blobs = [r.content for r in answers]
    for blob in blobs:  # not a share bundle as sent
        with pytest.raises(BundleError):
            decode_bundle(blob)
    other, _ = new_reply_key()
    for i, blob in enumerate(blobs):
        with pytest.raises(SealError):
            open_sealed(blob, other, context=reply_context(cid, i, sid))
        # nor can one node's answer pass for another's
        with pytest.raises(SealError):
            open_sealed(blob, private, context=reply_context(cid, (i + 1) % 3, sid))
    # the analyst opens all three, and they rebuild the released rows
    metas = [
        decode_bundle(open_sealed(b, private, context=reply_context(cid, i, sid)))[0]
        for i, b in enumerate(blobs)
    ]
    assert {m["rows"] for m in metas} == {27}
    del sent


def test_an_answer_with_one_flipped_byte_does_not_open(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    _, answers, private, sid = analysts_query(cluster)
    cid = consortium_id(cluster.consortium)
    blob = bytearray(answers[1].content)
    blob[len(blob) // 2] ^= 1
    with pytest.raises(SealError):
        open_sealed(bytes(blob), private, context=reply_context(cid, 1, sid))
    del tmp_path

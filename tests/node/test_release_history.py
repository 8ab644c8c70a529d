"""Over three node processes: the nodes' records of earlier releases must agree.

The differencing check compares a new aggregate with every earlier released one over
the same table, inside MPC, so the three nodes must compare with the same list. A node
that lost or missed a record used to break the protocol mid-query; now every node
refuses the query (409, audited) naming the node whose record differs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import sharelake
from sharelake.client.session import NodeConflictError
from sharelake.consortium.cluster import init_cluster
from sharelake.governance.audit import read_entries
from sharelake.node.local import LocalCluster

from .queries import by_region, data_dir, people, query_on_each_node

pytestmark = [pytest.mark.tls, pytest.mark.timeout(300)]

POLICY = {"columns": {"pid": "match", "region": "group", "age": "aggregate"}}


def test_a_node_that_missed_recording_a_release_makes_every_node_refuse_naming_it(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    init_cluster(lake)
    older = {"fn": ">=", "args": [{"col": "age"}, {"lit": 40}]}
    probe = by_region({"fn": ">=", "args": [{"col": "age"}, {"lit": 30}]})
    with LocalCluster(lake) as cluster:
        with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
            s.upload(people(), "people", policy=POLICY, progress=False)
        with sharelake.connect(cluster.consortium_path, "analyst") as a:
            a.query(by_region())
            a.query(by_region(older))
        # P2 loses its record of the second release (as if it had missed writing it).
        cluster.kill(2)
        released = data_dir(lake, 2) / "released.jsonl"
        kept = released.read_text(encoding="utf-8").splitlines()[:1]
        released.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        cluster.restart(2)
        with sharelake.connect(cluster.consortium_path, "analyst") as a:
            sid, replies = query_on_each_node(a, probe)
            for i, r in enumerate(replies):
                assert isinstance(r, NodeConflictError), f"P{i}: {r!r}"
                assert r.status == 409 and r.kind == "ReleaseHistoryError", f"P{i}: {r}"
                text = str(r)
                assert "P2 has a different record of earlier releases" in text, text
                assert "table 'people'" in text and "Nothing was released" in text, text
            for i in range(3):
                entries = read_entries(data_dir(lake, i) / "audit.jsonl")
                refusals = [e for e in entries if e["kind"] == "refusal" and e["session"] == sid]
                assert refusals and "P2" in refusals[0]["detail"], f"P{i}"
            # Once P2's record is repaired (copied from a node that agrees), it runs.
            cluster.kill(2)
            shutil.copy(data_dir(lake, 0) / "released.jsonl", released)
            cluster.restart(2)
            got = a.query(probe)
    assert sorted(got["n"].tolist()) == sorted(
        people().query("age >= 30").groupby("region", observed=True).size().tolist()
    )

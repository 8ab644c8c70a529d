"""Stored persons tables over three real node processes with TLS.

One k-list linkage kept by the nodes (``persons([...]).stored_as(name).collect()``, with
every owner's approval) serves later queries (``overlap(..., stored=name)``): the overlap
table equals the one the lists give when linked again. The table is real (share files,
catalog entry owned by no member, audited at every node), is never scanned directly, and
is destroyed when a list it was made from is uploaded again (a query naming it is then
refused until it is made again).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import sharelake
from sharelake.client.errors import NodeConflictError
from sharelake.client.session import NodePolicyError, Session
from sharelake.errors import SharelakeError
from sharelake.governance.audit import read_entries
from sharelake.linkage.synth import make_lists
from sharelake.node.local import LocalCluster

pytestmark = [pytest.mark.tls, pytest.mark.timeout(900)]

N = 30
OPEN = {"columns": {"record_id": "reveal"}, "release_sizes": True}
LISTS = ("pt_a", "pt_b")
NAME = "pt_persons"


@pytest.fixture(scope="module")
def lists() -> Any:
    return make_lists(N, seed=19)


@pytest.fixture(scope="module")
def cluster(cluster: LocalCluster, lists: Any) -> LocalCluster:
    """The session's cluster with this module's two person lists uploaded once."""
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        s.upload_people(lists.left, "pt_a", policy=OPEN, progress=False)
    with sharelake.connect(cluster.consortium_path, "ngo_b") as s:
        s.upload_people(lists.right, "pt_b", policy=OPEN, progress=False)
    return cluster


@pytest.fixture
def ngo_a(cluster: LocalCluster) -> Iterator[Session]:
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        yield s


def _approve(cluster: LocalCluster, session: Session, plan: dict[str, Any]) -> None:
    (req, *_) = session.request_approval(plan, explanation="one linkage for every query")
    for owner in ("ngo_a", "ngo_b"):
        with sharelake.connect(cluster.consortium_path, owner) as s:
            s.approve(req["id"], expires_in=3600)


def _cells(df: pd.DataFrame) -> dict[tuple[bool, ...], int]:
    return {
        tuple(bool(r[f"in_{t}"]) for t in LISTS): int(r["count"])
        for _, r in df.iterrows()
        if not pd.isna(r["count"])
    }


def test_one_stored_linkage_serves_the_overlap_as_linking_again_does(
    cluster: LocalCluster, ngo_a: Session
) -> None:
    parts = [ngo_a.table(t) for t in LISTS]
    keep = sharelake.persons(parts, linkage="exact").stored_as(NAME)
    with pytest.raises(NodePolicyError, match=r"stored_table|every owner"):
        keep.collect()  # not without the approval of every owner of the lists
    _approve(cluster, ngo_a, keep.plan)
    made = keep.collect()
    assert made.to_dict("records") == [{"table": NAME, "version": 1, "rows": 2 * N}]
    info = ngo_a.table_info(NAME)
    assert (info.owner, info.rows) == ("~nodes", 2 * N)
    for i in range(3):  # real share files at every node, and an audited creation
        node = cluster.dir / "nodes" / f"P{i}" / "data"
        assert list((node / "tables" / NAME).glob("*/*"))
        kinds = [(e["kind"], e["decision"]) for e in read_entries(node / "audit.jsonl")]
        assert ("upload", "stored") in kinds

    again = _cells(sharelake.overlap(parts, on="person", linkage="exact").collect())
    stored = sharelake.overlap(list(reversed(parts)), on="person", linkage="exact", stored=NAME)
    assert "stored persons table 'pt_persons'" in str(stored.explain(verdict=False))
    got = _cells(stored.collect())
    assert got == {(a, b): c for (b, a), c in again.items()}
    assert sum(got.values()) > N, "some records are on both lists"

    with pytest.raises(NodePolicyError, match="does not admit"):
        ngo_a.table(NAME).collect()  # the person ids are never scanned directly


@pytest.mark.slow
def test_a_stored_persons_table_is_refused_after_a_list_is_uploaded_again(
    cluster: LocalCluster, ngo_a: Session, lists: Any
) -> None:
    parts = [ngo_a.table(t) for t in LISTS]
    keep = sharelake.persons(parts, linkage="exact").stored_as("pt_stale")
    _approve(cluster, ngo_a, keep.plan)
    keep.collect()
    with sharelake.connect(cluster.consortium_path, "ngo_b") as s:
        s.upload_people(lists.right.head(N - 1), "pt_b", policy=OPEN, progress=False, replace=True)
    parts = [ngo_a.table(t) for t in LISTS]
    use = sharelake.overlap(parts, on="person", linkage="exact", stored="pt_stale")
    with pytest.raises(NodeConflictError, match="no stored persons table 'pt_stale'"):
        use.collect()  # destroyed at every node when pt_b's version 2 was committed
    for i in range(3):
        node = cluster.dir / "nodes" / f"P{i}" / "data"
        assert not list((node / "tables" / "pt_stale").glob("*/*"))
        entries = read_entries(node / "audit.jsonl")
        assert any(e["session"].startswith("stale:pt_stale:") for e in entries)
    remade = sharelake.persons(parts, linkage="exact").stored_as("pt_stale")
    _approve(cluster, ngo_a, remade.plan)
    assert remade.collect()["version"].tolist() == [2]
    assert sum(_cells(use.collect()).values()) >= N  # made again from version 2
    with pytest.raises(SharelakeError, match=r"another member|belongs"):
        ngo_a.upload_people(lists.left, "pt_stale", policy=OPEN, progress=False, replace=True)

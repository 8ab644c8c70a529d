"""An upload that loses a node is undone everywhere, and its retry with the same id works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import sharelake
from sharelake.client.upload import UploadError
from sharelake.consortium.cluster import init_cluster
from sharelake.node.local import LocalCluster

pytestmark = [pytest.mark.tls, pytest.mark.faults]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    init_cluster(tmp_path / "lake")
    with LocalCluster(tmp_path / "lake") as c:
        yield c


REVEAL = {"columns": {"pid": "reveal", "age": "reveal"}}


def test_an_upload_with_a_node_down_is_aborted_and_the_retry_succeeds(
    cluster: LocalCluster,
) -> None:
    df = pd.DataFrame({"pid": range(50), "age": [20 + i % 50 for i in range(50)]})
    cluster.kill(2)
    with sharelake.connect(cluster.consortium_path, "ngo_a", timeout=5.0) as s:
        with pytest.raises(UploadError, match=r"P2 .*not reachable.*upload_id='fault-0001'") as e:
            s.upload(df, "people", upload_id="fault-0001", policy=REVEAL, progress=False)
        assert e.value.node == 2 and e.value.upload_id == "fault-0001"
        cluster.restart(2)
        assert [t.name for t in s.tables()] == []
        res = s.upload(df, "people", upload_id="fault-0001", policy=REVEAL, progress=False)
        assert res.rows == 50
        assert [(t.name, t.rows) for t in s.tables()] == [("people", 50)]
    with sharelake.connect(cluster.consortium_path, "analyst") as a:
        people = a.table("people")
        out = people[people.age >= 60].groupby("age").size().collect()
    assert out["size"].sum() == (df.age >= 60).sum()

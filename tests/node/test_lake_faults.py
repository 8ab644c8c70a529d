"""Over three node processes: stale table versions, the query deadline, a lost peer."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sharelake
from sharelake.client.frame import Table
from sharelake.client.session import NodeConflictError, UnknownTableError
from sharelake.governance.cluster import NodeConfig, init_cluster, node_config_path
from sharelake.node.local import LocalCluster

pytestmark = pytest.mark.tls


def frame(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"pid": np.arange(n), "age": rng.integers(0, 90, n)})


OPEN = {"columns": {"pid": "reveal", "age": "reveal"}}


def data_dir(lake: Path, i: int) -> Path:
    return NodeConfig.load(node_config_path(lake, i)).data_dir


def adults(people: Table) -> pd.DataFrame:
    out: pd.DataFrame = people[people.age >= 18].collect()
    return out.sort_values("pid").reset_index(drop=True)


def test_a_node_restored_to_an_older_table_version_refuses_the_query_naming_it(
    tmp_path: Path,
) -> None:
    # The reported failure: a node that did not take part in the latest commit of a
    # table (killed, restarted from older data) made queries fail deep in the protocol
    # with "P0 sent a message of 576 bytes, expected 11232" (its row count differed).
    lake = tmp_path / "lake"
    init_cluster(lake)
    backup = tmp_path / "p2-before"
    with LocalCluster(lake) as cluster:
        with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
            s.upload(frame(3), "people", upload_id="people-v1-0001", policy=OPEN, progress=False)
            cluster.kill(2)
            shutil.copytree(data_dir(lake, 2), backup)
            cluster.restart(2)
            s.upload(frame(50), "people", upload_id="people-v2-0001", policy=OPEN, progress=False)
        with sharelake.connect(cluster.consortium_path, "analyst") as a:
            people = a.table("people")  # the analyst saw version 2 everywhere ...
            cluster.kill(2)  # ... then P2 came back with its older data
            shutil.rmtree(data_dir(lake, 2))
            shutil.copytree(backup, data_dir(lake, 2))
            cluster.restart(2)
            with pytest.raises(NodeConflictError) as e:
                adults(people)
            with pytest.raises(UnknownTableError, match=r"P2: version 1"):
                a.table("people")
        assert e.value.kind == "DataInconsistencyError" and e.value.status == 409
        text = str(e.value)
        assert "'people'" in text and "P2 has version 1 (3 rows)" in text
        assert "P0 and P1 have version 2 (50 rows)" in text
        # The retry of the upload with the same id completes it on the lagging node.
        with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
            s.upload(frame(50), "people", upload_id="people-v2-0001", policy=OPEN, progress=False)
        with sharelake.connect(cluster.consortium_path, "analyst") as a:
            got = adults(a.table("people"))
    want = frame(50)
    want = want[want.age >= 18].reset_index(drop=True)
    assert got["pid"].tolist() == want["pid"].tolist()
    assert got["age"].tolist() == want["age"].tolist()

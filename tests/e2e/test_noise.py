"""Noise on released aggregates over three real node processes: every node draws its own
share of the noise, and every node enforces the table's privacy budget.

Runs on the session's cluster (``tests/e2e/conftest.py``) with its own table ``noised``;
no other module puts noise on a table, so the audit's noise entries are this module's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sharelake
from sharelake.errors import SharelakeError
from sharelake.governance.audit import read_entries
from sharelake.node.local import LocalCluster
from sharelake.plan import nodes as pn

pytestmark = pytest.mark.timeout(600)

POLICY = {
    "min_group_size": 5,
    "columns": {"pid": "match", "region": "group", "age": "aggregate"},
    "noise": {"epsilon": 1.0, "budget": 2.5, "bounds": {"age": [0, 100]}},
}


def people() -> pd.DataFrame:
    return pd.DataFrame(
        {"pid": np.arange(60), "region": np.arange(60) % 2, "age": np.arange(60) + 20}
    )


@pytest.fixture(scope="module")
def cluster(cluster: LocalCluster) -> LocalCluster:
    """The session's cluster with this module's noised table uploaded once."""
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        s.upload(people(), "noised", policy=POLICY, progress=False)
    return cluster


def query(c: LocalCluster, root: dict[str, object]) -> pd.DataFrame:
    with sharelake.connect(c.consortium_path, "analyst") as a:
        return a.query(pn.make_plan(root))


BY_REGION = pn.groupby(pn.scan("noised"), ["region"], {"n": ("*", "count"), "s": ("age", "sum")})


def test_noisy_aggregates_are_released_until_the_tables_budget_is_spent(
    cluster: LocalCluster,
) -> None:
    exact = people().groupby("region").agg(n=("pid", "count"), s=("age", "sum"))
    diffs = []
    for _ in range(2):  # 2 x epsilon 1.0 of the budget 2.5
        got = query(cluster, BY_REGION).sort_values("region")
        assert got["region"].tolist() == [0, 1]
        # scale 2 / 1.0 for the count, 2 * 100 / 1.0 for the sum: far inside these
        assert np.all(np.abs(got["n"].to_numpy() - exact["n"].to_numpy()) < 80)
        assert np.all(np.abs(got["s"].to_numpy() - exact["s"].to_numpy()) < 8000)
        diffs += list(got["n"].to_numpy() - exact["n"].to_numpy())
        diffs += list(got["s"].to_numpy() - exact["s"].to_numpy())
    assert any(d != 0 for d in diffs)  # noise was added (all 8 zero: p < 1e-3)
    with pytest.raises(SharelakeError, match="privacy budget of table 'noised' is spent") as err:
        query(cluster, BY_REGION)
    assert getattr(err.value, "status", None) == 403
    for i in range(3):
        log = read_entries(cluster.dir / "nodes" / f"P{i}" / "data" / "audit.jsonl")
        assert sum("noise: epsilon 1" in e["detail"] for e in log if e["kind"] == "release") == 2
        assert any("privacy budget" in e["detail"] for e in log if e["kind"] == "refusal")


def test_a_distinct_count_over_a_noised_table_is_refused(cluster: LocalCluster) -> None:
    root = pn.groupby(pn.scan("noised"), ["region"], {"d": ("age", "count_distinct")})
    with pytest.raises(SharelakeError, match="no bounded sensitivity") as err:
        query(cluster, root)
    assert getattr(err.value, "status", None) == 403

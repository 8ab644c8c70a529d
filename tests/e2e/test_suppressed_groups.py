"""Groups suppressed as too small are visible to the analyst: in ``df.attrs``, in a note
logged at INFO, and in ``explain()`` (three real node processes over TLS)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

import sharelake
from sharelake.node.local import LocalCluster
from sharelake.relational.table import ColumnSpec

pytestmark = [pytest.mark.tls, pytest.mark.timeout(300)]

K = 5
POLICY = {
    "min_group_size": K,
    "analysts": ["analyst"],
    "columns": {"pid": "aggregate", "region": "group", "age": "aggregate"},
}

# the region dictionary is given: inference keeps values under 5 rows out of a public one
SCHEMA = [
    ColumnSpec("pid", "int", False),
    ColumnSpec("region", "category", False, categories=("east", "north", "south", "west")),
    ColumnSpec("age", "int", False),
]


def cases() -> pd.DataFrame:
    regions = ["north"] * 9 + ["south"] * 6 + ["east"] * 4 + ["west"] * 3
    return pd.DataFrame(
        {
            "pid": range(len(regions)),
            "region": pd.Categorical(regions),
            "age": [20 + 3 * i % 50 for i in range(len(regions))],
        }
    )


def test_collect_says_how_many_groups_were_suppressed_and_why(
    cluster: LocalCluster, caplog: pytest.LogCaptureFixture
) -> None:
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        s.upload(cases(), "suppressed_cases", schema=SCHEMA, policy=POLICY, progress=False)
    df = cases()
    sizes = df.groupby("region", observed=True).size()
    want = sizes[sizes >= K].sort_index()
    with sharelake.connect(cluster.consortium_path, "analyst") as a:
        q = a.table("suppressed_cases").groupby("region").agg(n=("*", "count"))
        explained = str(q.explain())
        with caplog.at_level(logging.INFO, logger="sharelake.client.results"):
            got = q.collect()
    assert got["region"].astype(str).tolist() == [str(r) for r in want.index]
    assert got["n"].tolist() == want.tolist()
    gone = int((sizes < K).sum())
    assert gone == 2
    assert got.attrs["suppressed_groups"] == gone
    assert got.attrs["notes"] == [
        "2 groups were suppressed: each had fewer than 5 rows, the minimum group size (k) "
        "of the policy of table 'suppressed_cases' (policy version 1), so they are left out "
        "of this result."
    ]
    assert got.attrs["suppression_policies"] == {
        "suppressed_cases": {"min_group_size": K, "policy_version": 1}
    }
    assert any("2 groups were suppressed" in r.getMessage() for r in caplog.records)
    assert "Groups with fewer rows than the tables' minimum group size (k) are suppressed" in (
        explained
    )


def test_a_result_without_suppressed_groups_has_no_note(cluster: LocalCluster) -> None:
    big = cases()[lambda d: d.region.isin(["north", "south"])].reset_index(drop=True)
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        s.upload(big, "large_groups", schema=SCHEMA, policy=POLICY, progress=False)
    with sharelake.connect(cluster.consortium_path, "analyst") as a:
        t = a.table("large_groups")
        df = t.groupby("region").agg(n=("*", "count")).collect()
        explained = str(t.head(3).explain(verdict=False))
    assert df["n"].tolist() == [9, 6]  # north, south: sorted by key as pandas does
    assert df.attrs["suppressed_groups"] == 0 and df.attrs["notes"] == []
    assert "are suppressed" not in explained  # a row release suppresses nothing


def test_groups_of_12_9_7_and_2_rows_are_released_with_secondary_suppression_not_refused(
    cluster: LocalCluster,
) -> None:
    """At k = 5 the groups of 12, 9 and 7 rows and the table's public row count (30) would
    give the group of 2 away (differencing), so the release at k is refused inside MPC;
    the nodes then suppress the groups under 8 rows as well (secondary suppression)."""
    regions = ["north"] * 12 + ["south"] * 9 + ["east"] * 7 + ["west"] * 2
    df = pd.DataFrame(
        {
            "pid": range(len(regions)),
            "region": pd.Categorical(regions),
            "age": [18 + 7 * i % 60 for i in range(len(regions))],
        }
    )
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        s.upload(df, "secondary_cases", schema=SCHEMA, policy=POLICY, progress=False)
    with sharelake.connect(cluster.consortium_path, "analyst") as a:
        got = a.table("secondary_cases").groupby("region")["age"].sum().collect()
    want = df[df.region.isin(["north", "south"])].groupby("region", observed=True)["age"].sum()
    assert got["region"].astype(str).tolist() == ["north", "south"]
    assert got["age"].tolist() == want.tolist()
    assert got.attrs["suppressed_groups"] == 2 and got.attrs["min_rows"] == 8
    assert (
        "fewer than 8 rows was suppressed in this result (secondary suppression)"
        in (got.attrs["notes"][-1])
    )
    assert got.attrs["notes"][0].startswith("2 groups were suppressed")

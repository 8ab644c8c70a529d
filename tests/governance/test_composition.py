"""Output protection against composition, over three real node processes (issue 11).

Every attack the issue quotes, and one composition of our own per operator, is sent to
the three nodes as an analyst would; the nodes must refuse it (403, audited) on their
own, and a positive control next to it shows the rule does not refuse everything. Each
test uploads its own table, so earlier releases of other tests do not interfere.

The people table: 60 rows; region (a code) east 30 (ages 20..49), north 27 (ages 30..56), south 3
(ages 40..42). With ``min_group_size = 5`` the south group is always suppressed.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sharelake
from sharelake.consortium.cluster import init_cluster
from sharelake.errors import SharelakeError
from sharelake.governance.audit import read_entries
from sharelake.node.local import LocalCluster
from sharelake.plan import nodes as pn
from sharelake.plan.canonical import plan_hash
from sharelake.storage.bundle import decode_bundle

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

POLICY = {
    "min_group_size": 5,
    "release_sizes": True,
    "columns": {"pid": "match", "region": "group", "age": "aggregate", "case_id": "reveal"},
}


def people() -> pd.DataFrame:
    region = ["east"] * 30 + ["north"] * 27 + ["south"] * 3
    age = [*range(20, 50), *range(30, 57), 40, 41, 42]
    return pd.DataFrame(
        {
            "pid": np.arange(60),
            "region": np.array([code(r) for r in region]),  # 0 east, 1 north, 2 south
            "age": np.array(age),
            "case_id": np.arange(1000, 1060),
        }
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    d = tmp_path_factory.mktemp("lake")
    init_cluster(d)
    with LocalCluster(d) as c:
        yield c


def upload(cluster: LocalCluster, frame: pd.DataFrame | None = None) -> str:
    name = "people_" + secrets.token_hex(4)
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        s.upload(people() if frame is None else frame, name, policy=POLICY, progress=False)
    return name


def run(cluster: LocalCluster, root: dict[str, Any]) -> list[dict[str, Any]]:
    plan = pn.make_plan(root)
    with sharelake.connect(cluster.consortium_path, "analyst") as s:
        answers = s.query_answers(plan, plan_hash(plan), wait_all=True)
    return [decode_bundle(b)[0] for b in answers]


def collect(cluster: LocalCluster, root: dict[str, Any]) -> pd.DataFrame:
    with sharelake.connect(cluster.consortium_path, "analyst") as s:
        return s.query(pn.make_plan(root))


def refused(cluster: LocalCluster, root: dict[str, Any], *, rule: str) -> None:
    with pytest.raises(SharelakeError) as err:
        run(cluster, root)
    assert getattr(err.value, "status", None) == 403, str(err.value)
    assert rule in str(err.value), str(err.value)
    digest = plan_hash(pn.make_plan(root))
    for i in range(3):  # the other nodes answer (and audit) in parallel: give them a moment
        path = cluster.dir / "nodes" / f"P{i}" / "data" / "audit.jsonl"
        for _ in range(100):
            if any(e["kind"] == "refusal" and e["plan_hash"] == digest for e in read_entries(path)):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"no refusal of {digest[:12]} in the audit log of P{i}")


DIFF = "(differencing)"


def col(name: str) -> dict[str, Any]:
    return {"col": name}


def lit(v: int) -> dict[str, Any]:
    return {"lit": v}


def fn(op: str, *args: dict[str, Any]) -> dict[str, Any]:
    return {"fn": op, "args": list(args)}


def code(region: str) -> int:
    return ["east", "north", "south"].index(region)


def adults(t: str) -> dict[str, Any]:
    return pn.filter_rows(pn.scan(t), fn(">=", col("age"), lit(30)))


def by_region(rows: dict[str, Any]) -> dict[str, Any]:
    return pn.groupby(rows, ["region"], {"n": ("*", "count"), "m": ("age", "mean")})


def grand_total(rows: dict[str, Any]) -> dict[str, Any]:
    one = pn.assign(rows, {"one": lit(1)})
    return pn.groupby(one, ["one"], {"n": ("*", "count"), "s": ("age", "sum")})


# ---- the attacks the issue quotes -----------------------------------------------------


def test_a_constant_column_does_not_switch_the_differencing_check_off(
    cluster: LocalCluster,
) -> None:
    t = upload(cluster)
    # by region over the 50 people aged 30+: south (3) is suppressed; the 10 under 30 and
    # south together (13) are outside every released group, so this release is allowed
    got = collect(cluster, by_region(adults(t)))
    assert sorted(got["n"].tolist()) == [20, 27]
    # the grand total of the same rows through `.assign(one=1)` would give south's count
    # and age sum as the total minus the released groups: refused
    refused(cluster, grand_total(adults(t)), rule=DIFF)
    # control: the grand total of all 60 rows reveals nothing beyond 13 rows together
    assert collect(cluster, grand_total(pn.scan(t)))["n"].tolist() == [60]


def test_a_complement_filter_against_the_public_row_count_is_refused(
    cluster: LocalCluster,
) -> None:
    t = upload(cluster)
    # `A[A.region != south]`: 57 of the 60 rows listed in the catalog
    ne = pn.filter_rows(pn.scan(t), fn("!=", col("region"), lit(code("south"))))
    refused(cluster, grand_total(ne), rule=DIFF)
    # control: a split with at least k rows on either side
    assert collect(cluster, grand_total(adults(t)))["n"].tolist() == [50]


def test_a_three_query_chain_of_complementary_filters_is_refused_at_its_third_query(
    cluster: LocalCluster,
) -> None:
    t = upload(cluster)
    young = pn.filter_rows(pn.scan(t), fn("<", col("age"), lit(30)))  # 10 (east)
    east = pn.filter_rows(adults(t), fn("==", col("region"), lit(code("east"))))  # 20
    north = pn.filter_rows(adults(t), fn("==", col("region"), lit(code("north"))))  # 27
    assert collect(cluster, grand_total(young))["n"].tolist() == [10]
    assert collect(cluster, grand_total(east))["n"].tolist() == [20]
    # 60 - 10 - 20 - 27 = south's 3: each pair differs by many rows, the chain does not
    refused(cluster, grand_total(north), rule=DIFF)


@pytest.mark.parametrize("agg", ["min", "max"])
def test_a_per_group_minimum_or_maximum_of_an_aggregate_column_needs_approval(
    cluster: LocalCluster, agg: str
) -> None:
    t = upload(cluster)
    root = pn.groupby(pn.scan(t), ["region"], {"x": ("age", agg)})  # type: ignore[dict-item]
    refused(cluster, root, rule="age (aggregate:order_statistic)")
    # control: a reveal column's maximum is released per group (groups >= k)
    ok = pn.groupby(adults(t), ["region"], {"x": ("case_id", "max")})
    assert sorted(collect(cluster, ok)["x"].tolist()) == [1029, 1056]


def test_two_mean_by_region_releases_differing_by_two_rows_in_one_group_are_refused(
    cluster: LocalCluster,
) -> None:
    t = upload(cluster)
    # the second release leaves out 11 people: 9 in east, 2 in north
    out = fn(
        "|",
        fn("&", fn(">=", col("pid"), lit(10)), fn("<", col("pid"), lit(19))),
        fn("&", fn(">=", col("pid"), lit(30)), fn("<", col("pid"), lit(32))),
    )
    first = by_region(adults(t))
    assert sorted(collect(cluster, first)["n"].tolist()) == [20, 27]
    second = by_region(pn.filter_rows(adults(t), fn("not", out)))
    refused(cluster, second, rule=DIFF)
    # control: 11 people out, 6 in east and 5 in north (each group moves by >= k)
    out_ok = fn(
        "|",
        fn("&", fn(">=", col("pid"), lit(20)), fn("<", col("pid"), lit(26))),
        fn("&", fn(">=", col("pid"), lit(35)), fn("<", col("pid"), lit(40))),
    )
    third = by_region(pn.filter_rows(adults(t), fn("not", out_ok)))
    assert sorted(collect(cluster, third)["n"].tolist()) == [14, 22]


# ---- compositions of our own, one per operator ----------------------------------------


def test_assign_a_computed_column_filtered_on_is_the_same_row_set_as_its_definition(
    cluster: LocalCluster,
) -> None:
    t = upload(cluster)
    assert sorted(collect(cluster, by_region(adults(t)))["n"].tolist()) == [20, 27]
    twice = pn.assign(pn.scan(t), {"a2": fn("*", col("age"), lit(2))})
    same_rows = pn.filter_rows(twice, fn(">=", col("a2"), lit(60)))  # age >= 30
    refused(cluster, grand_total(same_rows), rule=DIFF)


def test_filter_a_negated_predicate_is_the_complement_whatever_its_syntax(
    cluster: LocalCluster,
) -> None:
    t = upload(cluster)
    not_south = fn("not", fn("==", col("region"), lit(code("south"))))
    refused(cluster, grand_total(pn.filter_rows(pn.scan(t), not_south)), rule=DIFF)


def test_groupby_a_computed_key_isolating_the_small_group_is_refused(
    cluster: LocalCluster,
) -> None:
    t = upload(cluster)
    flag = pn.assign(pn.scan(t), {"s": fn("==", col("region"), lit(code("south")))})
    root = pn.groupby(flag, ["s"], {"n": ("*", "count"), "a": ("age", "sum")})
    refused(cluster, root, rule=DIFF)


def test_sort_and_head_above_the_group_by_do_not_hide_the_released_groups(
    cluster: LocalCluster,
) -> None:
    t = upload(cluster)
    top = pn.head(pn.sort(by_region(adults(t)), ["n"], descending=True), 1)
    assert collect(cluster, top)["n"].tolist() == [27]
    # the released cells are still every group of at least k rows (conservatively):
    # the grand total of the same rows is refused as in the attack
    refused(cluster, grand_total(adults(t)), rule=DIFF)


def test_project_below_the_group_by_reads_the_same_rows(cluster: LocalCluster) -> None:
    t = upload(cluster)
    slim = pn.project(adults(t), ["region", "age"])
    assert sorted(collect(cluster, by_region(slim))["n"].tolist()) == [20, 27]
    refused(cluster, grand_total(pn.project(adults(t), ["age"])), rule=DIFF)


def test_head_over_rows_sorted_by_an_aggregate_column_is_an_order_statistic(
    cluster: LocalCluster,
) -> None:
    t = upload(cluster)
    oldest = pn.head(pn.sort(pn.scan(t), ["age"], descending=True), 1)
    root = pn.groupby(pn.assign(oldest, {"one": lit(1)}), ["one"], {"s": ("age", "sum")})
    refused(cluster, root, rule="age (aggregate:order_statistic)")

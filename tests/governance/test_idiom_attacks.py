"""Attacks through the pandas idioms: none is a new way to release a single row.

Every idiom builds a plan of the existing operators, so the verdict (column lineage
against the policies), the k-suppression on shares and the differencing check see it as
what it is: ``value_counts`` of an identifier is a group-by on it, ``agg({"x": "max"})``
(a ``describe`` row) is an order statistic, ``nlargest`` a top-k, ``count_rows`` of a
filter a count of the rows it keeps, ``rename`` keeps the lineage. Each attack is tried
here; the runs go through three in-memory parties with the node's k-suppression.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from sharelake.client.frame import Table
from sharelake.engine.atoms import small_atoms_plain
from sharelake.governance.lineage import release_cells
from sharelake.governance.verdict import Verdict, check_plan
from sharelake.plan import tree
from sharelake.relational.table import ColumnSpec

from ..client.helpers_idioms import frame_equal, run

K = 5
POLICY = {
    "columns": {
        "pid": "match",
        "age": "aggregate",
        "region": "group",
        "name": "private",
        "case": "reveal",
    },
    "min_group_size": K,
}
SCHEMA = ["pid", "age", "region", "name", "case"]
TABLES: dict[str, Any] = {
    "people": ("ngo", SCHEMA, POLICY),
    "visits": ("clinic", ["person", "clinic"], {"columns": {"person": "match"}}),
}
SPECS = [
    ColumnSpec("pid", "int", nullable=False),
    ColumnSpec("age", "int"),
    ColumnSpec("region", "category", categories=("east", "north", "lone")),
    ColumnSpec("name", "int"),
    ColumnSpec("case", "int"),
]


def frame() -> pd.DataFrame:
    """12 rows in east and north, and one person alone in region 'lone'."""
    rng = np.random.default_rng(3)
    regions = ["east"] * 12 + ["north"] * 12 + ["lone"]
    n = len(regions)
    return pd.DataFrame(
        {
            "pid": np.arange(n, dtype=np.int64),
            "age": pd.array(rng.integers(1, 90, n), dtype="Int64"),
            "region": pd.Categorical(regions, categories=["east", "north", "lone"]),
            "name": pd.array(rng.integers(0, 10**6, n), dtype="Int64"),
            "case": pd.array(np.arange(100, 100 + n), dtype="Int64"),
        }
    )


FRAMES = {"people": (frame(), SPECS)}


def people() -> Table:
    return Table.of("people", SCHEMA)


def verdict(q: Table) -> Verdict:
    return check_plan(tree.from_json(q.plan), TABLES, "ana")


def rules(v: Verdict) -> set[str]:
    return {f"{r.column}:{r.rule}" for r in v.reasons}


def test_value_counts_of_an_identifier_lists_no_rows() -> None:
    q = people().value_counts("pid")
    v = verdict(q)
    assert v.decision == "needs_approval" and "pid:match:group_key" in rules(v)
    # even approved, every identifier is a group of one row: all suppressed
    got = run(q, FRAMES, k=K)
    assert len(got) == 0


def test_value_counts_of_an_aggregate_column_is_not_a_listing_of_its_values() -> None:
    v = verdict(people().value_counts("age"))
    assert v.decision == "needs_approval" and "age:aggregate:group_key" in rules(v)


def test_a_group_of_one_is_suppressed_for_every_groupby_selection_shortcut() -> None:
    df = frame()
    for fn in ("sum", "mean", "count", "nunique"):
        q = getattr(people().groupby("region")["age"], fn)()
        assert verdict(q).decision == "allow"
        got = run(q, FRAMES, k=K)
        want = getattr(df.groupby("region", observed=True)["age"], fn)().reset_index()
        frame_equal(got, want[want.region != "lone"], by=["region"])
        assert "lone" not in set(got.region.astype(str))


@pytest.mark.parametrize("fn", ["min", "max"])
def test_min_and_max_of_a_group_or_the_whole_table_need_the_owners_approval(fn: str) -> None:
    for q in (getattr(people().groupby("region")["age"], fn)(), people().agg({"age": fn})):
        v = verdict(q)
        assert v.decision == "needs_approval"
        assert "age:aggregate:order_statistic" in rules(v)


def test_nlargest_and_nsmallest_are_top_k_listings_that_need_approval() -> None:
    for q in (people().nlargest(1, "age")[["case"]], people().nsmallest(1, "age")[["case"]]):
        v = verdict(q)
        assert v.decision == "needs_approval"
        assert "age:aggregate:order_statistic" in rules(v)


def test_count_rows_of_a_filter_isolating_one_person_releases_nothing() -> None:
    t = people()
    one = t[t.pid.isin([7])].count_rows()
    assert verdict(one).decision == "allow"
    got = run(one, FRAMES, k=K)  # pandas' one row, its count missing (never 0 or 1)
    assert len(got) == 1 and got["rows"].isna().all() and got.attrs["suppressed_groups"] == 1
    by_query = t.query("pid == 7 and age.notna()").count_rows()
    assert run(by_query, FRAMES, k=K)["rows"].isna().all()


def test_count_rows_of_all_but_one_person_is_refused_as_differencing() -> None:
    t = people()
    everyone = release_cells(tree.from_json(t.count_rows().plan))
    but_one = release_cells(tree.from_json(t[~t.pid.isin([7])].count_rows().plan))
    assert everyone is not None and but_one is not None
    # the whole table's row count is public: all but one person leaves an atom of one row
    assert small_atoms_plain(frame(), but_one, [everyone], K)
    assert small_atoms_plain(frame(), but_one, [], K)
    # a filter keeping a big share of rows in big atoms passes
    north = release_cells(tree.from_json(t.query("pid < 12").count_rows().plan))
    assert north is not None and not small_atoms_plain(frame(), north, [everyone], K)


def test_renaming_a_private_column_does_not_launder_it() -> None:
    q = people().rename(columns={"name": "label"})[["case", "label"]]
    v = verdict(q)
    assert v.decision == "deny" and "name:private:released" in rules(v)


def test_a_query_string_on_a_private_column_is_denied() -> None:
    q = people().query("name > 10")[["case"]]
    assert verdict(q).decision == "deny"


def test_merge_with_left_on_right_on_does_not_release_a_match_key() -> None:
    q = people()[["pid", "case"]].merge(
        Table.of("visits", ["person", "clinic"]), left_on="pid", right_on="person"
    )
    v = verdict(q)
    assert v.decision == "needs_approval"
    assert {"pid:match:released", "person:match:released"} <= rules(v)


def test_fillna_and_clip_keep_the_lineage_of_the_column() -> None:
    t = people()
    q = t.fillna({"age": -1}).assign(age=t.age.clip(0, 50)).value_counts("age")
    assert "age:aggregate:group_key" in rules(verdict(q))


def test_the_median_of_a_group_of_one_needs_approval_and_is_suppressed_anyway() -> None:
    q = people().groupby("region")["age"].median()
    v = verdict(q)
    assert v.decision == "needs_approval" and "age:aggregate:order_statistic" in rules(v)
    got = run(q, FRAMES, k=K)  # as if approved: the lone person's age is not released
    assert "lone" not in set(got.region.astype(str)) and len(got) == 2
    df = frame()
    want = df[df.region != "lone"].groupby("region", observed=True).age.median()
    frame_equal(got, want.astype("float64").reset_index(), by=["region"])


@pytest.mark.parametrize("q", [0.0, 1.0, 0.5, 0.25])
def test_a_quantile_used_as_a_min_or_max_is_an_order_statistic(q: float) -> None:
    for query in (
        people().groupby("region")["age"].quantile(q),
        people().agg({"age": "p0" if q == 0 else "p100"}),
    ):
        v = verdict(query)
        assert v.decision == "needs_approval"
        assert "age:aggregate:order_statistic" in rules(v)


def test_a_quantile_of_a_reveal_column_is_allowed_like_its_min() -> None:
    v = verdict(people().groupby("region")["case"].median())
    assert v.decision == "allow"


def test_noise_refuses_a_median_it_cannot_bound() -> None:
    from sharelake.governance.noise import NoiseError, NoiseSpec, noise_plan

    plan = tree.from_json(people().groupby("region")["age"].median().plan)
    with pytest.raises(NoiseError, match="no bounded sensitivity"):
        noise_plan(plan, NoiseSpec(1.0, 5.0, {"age": (0, 120)}), "__rows")


def test_describe_needs_approval_for_its_min_max_and_percentiles_only() -> None:
    v = verdict(people().describe("age"))
    assert v.decision == "needs_approval" and rules(v) == {"age:aggregate:order_statistic"}
    assert verdict(people().describe("age", order_statistics=False)).decision == "allow"


def test_describe_of_a_table_under_k_releases_nothing() -> None:
    lone = people().query("region == 'lone'")
    got = run(lone.describe("age", order_statistics=False), FRAMES, k=K)
    assert got.isna().all().all()

"""The lazy pandas-like Table builds plans and explains them without any cluster."""

from __future__ import annotations

import pytest

import sharelake
from sharelake.client.frame import Table
from sharelake.plan import nodes as pn
from sharelake.plan.canonical import plan_hash


@pytest.fixture
def people() -> Table:
    return Table.of("people", ["pid", "age", "region", "score"])


@pytest.fixture
def visits() -> Table:
    return Table.of("visits", ["pid", "clinic"])


def test_a_boolean_mask_becomes_a_filter_on_the_expression(people: Table) -> None:
    adults = people[(people.age >= 18) & (people["region"] == 2)]
    root = adults.plan["root"]
    assert root["op"] == "filter"
    assert root["predicate"]["fn"] == "&"
    assert adults.columns == people.columns


def test_a_typo_in_a_column_name_lists_the_columns(people: Table) -> None:
    with pytest.raises(AttributeError, match=r"no column 'agee'.*pid, age, region, score"):
        _ = people.agee
    with pytest.raises(KeyError, match="no column 'weight'"):
        people.groupby("weight")
    with pytest.raises(KeyError, match="no-such column 'x'"):
        people[sharelake.col("x") > 1]


def test_assign_merge_groupby_sort_and_head_chain_into_one_plan(
    people: Table, visits: Table
) -> None:
    t = (
        visits.merge(people.assign(adult=people.age >= 18), on="pid", how="left")
        .groupby(["clinic", "adult"])
        .agg(n=("pid", "count"), mean_score=("score", "mean"), kinds=("region", "nunique"))
        .sort_values("n", ascending=False)
        .head(3)
    )
    assert t.columns == ["clinic", "adult", "n", "mean_score", "kinds"]
    plan = t.plan
    pn.validate_plan(plan)
    assert pn.tables_of(plan) == ["visits", "people"]
    group = plan["root"]["input"]["input"]
    assert group["aggs"]["kinds"] == ["region", "count_distinct"]
    assert group["input"]["how"] == "left" and group["input"]["validate"] == "m:1"


def test_the_plan_hash_is_stable_and_changes_with_the_plan(people: Table) -> None:
    a = people[people.age >= 18].head(5)
    b = people[people.age >= 18].head(5)
    assert a.plan_hash == b.plan_hash == plan_hash(a.plan)
    assert people[people.age >= 19].head(5).plan_hash != a.plan_hash


def test_explain_shows_the_hash_the_steps_and_what_is_revealed(people: Table) -> None:
    t = people[people.age >= 18].groupby("region").agg(n=("*", "count"))
    text = t.explain()
    assert text.splitlines()[0] == f"Plan SHA-256: {t.plan_hash}"
    assert "group step 2 by region: n = number of rows" in text
    assert text.splitlines()[-2].endswith("(columns: region, n).")
    assert "(k) are suppressed" in text.splitlines()[-1]
    assert repr(text) == str(text)


def test_overlap_of_tables_has_one_flag_per_list_and_a_count() -> None:
    a, b, c = (Table.of(n, ["pid", "x"]) for n in ("ngo_a", "police", "hotline"))
    o = sharelake.overlap([a, b, c], on="pid")
    assert o.columns == ["in_ngo_a", "in_police", "in_hotline", "count"]
    assert o.plan["root"]["op"] == "overlap"


def test_drop_duplicates_and_projection_keep_the_named_columns(people: Table) -> None:
    t = people[["region", "age"]].drop_duplicates(subset="region")
    assert t.columns == ["region", "age"]
    assert t.plan["root"]["keys"] == ["region"]


def test_options_are_checked_before_anything_runs(people: Table, visits: Table) -> None:
    with pytest.raises(ValueError, match="ascending has 2 flags for 1"):
        people.sort_values("age", ascending=[True, False])
    with pytest.raises(ValueError, match="unknown function 'mode'"):
        people.groupby("region").agg(m=("age", "mode"))
    with pytest.raises(Exception, match="max_multiplicity"):
        visits.merge(people, on="pid", validate="m:m")
    with pytest.raises(TypeError, match="finite number"):
        people.assign(half=float("nan"))


def test_a_float_literal_goes_into_the_plan_as_its_exact_binary_value(people: Table) -> None:
    t = people[people.age > 0.5].assign(x=people.age * 1.25, y=0.1)
    pn.validate_plan(t.plan)
    assert t.plan["root"]["input"]["predicate"]["args"][1] == {"lit": 1, "shift": 1}
    assert t.plan["root"]["columns"]["x"]["args"][1] == {"lit": 5, "shift": 2}
    assert t.plan["root"]["columns"]["y"] == {"lit": 3602879701896397, "shift": 55}
    assert "age > 0.5" in t.explain()


def test_a_whole_float_and_the_integer_give_the_same_plan_hash(people: Table) -> None:
    assert people[people.age >= 18.0].plan_hash == people[people.age >= 18].plan_hash


def test_collect_without_a_session_says_how_to_get_one(people: Table) -> None:
    with pytest.raises(RuntimeError, match=r"session\.table"):
        people.collect()


def test_the_row_count_of_a_table_without_a_session_is_not_available(people: Table) -> None:
    with pytest.raises(TypeError, match=r"released by the nodes.*t\.count_rows\(\)\.collect\(\)"):
        len(people)


def test_a_pandas_method_a_lazy_table_lacks_says_so_and_what_to_write_instead(
    people: Table,
) -> None:
    with pytest.raises(AttributeError) as err:
        _ = people.iloc
    text = str(err.value)
    assert "pandas' 'iloc' is not supported on a lazy sharelake table" in text
    assert "instead: head(n) after sort_values" in text and "docs/pandas.md" in text
    with pytest.raises(AttributeError, match=r"'melt' .*no row index or labels.*docs/pandas"):
        _ = people.melt
    with pytest.raises(AttributeError, match=r"no column 'agee', and no such method.*pandas.md"):
        _ = people.agee


def test_every_pandas_method_a_table_or_group_by_lacks_names_its_documented_alternative() -> None:
    from sharelake.client.frame import GroupBy
    from sharelake.client.pandas_api import names, status

    t = Table.of("people", ["age", "region"])
    g = t.groupby("region")
    for kind, obj, cls in (("DataFrame", t, Table), ("GroupBy", g, GroupBy)):
        for name in names(kind):  # type: ignore[arg-type]
            supported, text = status(kind, name)  # type: ignore[arg-type]
            assert hasattr(cls, name) == supported, (kind, name)
            if supported:
                continue
            with pytest.raises(AttributeError) as err:
                getattr(obj, name)
            message = str(err.value)
            assert f"pandas' {name!r} is not supported" in message, message
            assert f"instead: {text}" in message and "docs/pandas.md" in message

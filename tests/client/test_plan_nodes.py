"""Plan builders, validation with field paths, tables_of, output columns and describe."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sharelake.plan import nodes as pn
from sharelake.plan.canonical import PlanError, canonical_json

AGE_GE_18 = {"fn": ">=", "args": [{"col": "age"}, {"lit": 18}]}
SCHEMAS = {"people": ["pid", "age", "region"], "visits": ["pid", "clinic", "age"]}


def big_plan() -> dict[str, Any]:
    people = pn.filter_rows(pn.scan("people"), AGE_GE_18)
    joined = pn.join(pn.scan("visits"), people, on=["pid"], how="left", validate="m:1")
    grouped = pn.groupby(joined, ["clinic"], {"n": ("*", "count"), "m": ("age_y", "mean")})
    return pn.make_plan(pn.head(pn.sort(grouped, ["n"], True), 10))


def test_every_builder_makes_a_plan_that_validates() -> None:
    s = pn.scan("people", ["pid", "age"])
    roots = [
        s,
        pn.filter_rows(s, AGE_GE_18),
        pn.assign(s, {"adult": AGE_GE_18}),
        pn.project(s, ["age"]),
        pn.join(s, pn.scan("visits"), on=["pid"], validate="m:m", max_multiplicity=3),
        pn.groupby(s, ["age"], {"n": ("pid", "count_distinct")}),
        pn.sort(s, ["age", "pid"], [True, False]),
        pn.distinct(s, ["age"]),
        pn.head(s, 0),
        pn.overlap([pn.scan("a"), pn.scan("b")], ["pid"]),
        pn.concat([s, s]),
    ]
    for root in roots:
        plan = pn.make_plan(root)
        pn.validate_plan(plan)
        canonical_json(plan)


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda p: p["root"].update(n=-1), "plan.root.n"),
        (lambda p: p["root"]["input"].update(op="explode"), "plan.root.input.op"),
        (lambda p: p["root"]["input"]["input"]["aggs"]["n"].__setitem__(1, "mode"), "aggs.n[1]"),
        (lambda p: p["root"]["input"].update(descending=[True, True]), "input.descending"),
        (lambda p: p["root"]["input"]["input"]["input"].update(how="outer"), ".input.how"),
        (
            lambda p: p["root"]["input"]["input"]["input"]["right"].update(predicate={"x": 1}),
            "right.predicate",
        ),
        (lambda p: p["root"].update(extra=1), "plan.root.extra"),
        (lambda p: p.update(release={"kind": "everything"}), "plan.release.kind"),
        (lambda p: p.update(version=2), "plan.version"),
        (lambda p: p["root"].update(n=1.5), "plan.root.n"),
    ],
)
def test_a_bad_field_is_refused_with_its_path(edit: Any, path: str) -> None:
    plan = copy.deepcopy(big_plan())
    pn.validate_plan(plan)
    edit(plan)
    with pytest.raises(PlanError) as info:
        pn.validate_plan(plan)
    assert path in str(info.value)


def test_an_m_to_m_join_without_a_multiplicity_is_refused() -> None:
    plan = pn.make_plan(pn.join(pn.scan("a"), pn.scan("b"), on=["k"], validate="m:m"))
    with pytest.raises(PlanError, match=r"plan\.root\.max_multiplicity"):
        pn.validate_plan(plan)


def test_an_expression_with_a_wrong_arity_names_its_argument_list() -> None:
    bad = {"fn": "when", "args": [{"col": "a"}]}
    plan = pn.make_plan(pn.assign(pn.scan("t"), {"x": bad}))
    with pytest.raises(PlanError, match=r"plan\.root\.columns\.x\.args"):
        pn.validate_plan(plan)


def test_tables_of_lists_each_table_once_in_first_seen_order() -> None:
    assert pn.tables_of(big_plan()) == ["visits", "people"]


def test_output_columns_follow_pandas_merge_naming_and_split_means() -> None:
    cols = pn.output_columns(big_plan(), SCHEMAS)
    assert cols == ["clinic", "n", "m_sum", "m_count"]
    root = pn.join(pn.scan("visits"), pn.scan("people"), on=["pid"])
    assert pn.output_columns(root, SCHEMAS) == ["pid", "clinic", "age_x", "age_y", "region"]


def test_output_columns_name_the_step_that_reads_a_missing_column() -> None:
    root = pn.filter_rows(pn.scan("people"), {"col": "weight"})
    with pytest.raises(PlanError, match=r"plan\.root\.predicate: no column 'weight'"):
        pn.output_columns(root, SCHEMAS)


def test_describe_numbers_the_steps_and_says_what_is_revealed() -> None:
    text = pn.describe(big_plan(), SCHEMAS)
    lines = text.splitlines()
    assert lines[0] == "1. read table 'visits' (all columns)"
    assert lines[2] == "3. keep the rows of step 2 where age >= 18"
    assert "keeping unmatched rows of 1" in lines[3]
    assert "sort step 5 by n descending" in lines[5]
    assert lines[-2].startswith("Reveals to the analyst: the rows of step 7")
    assert lines[-1].startswith("Groups with fewer rows than the tables' minimum group size")
    assert lines[-2].endswith("(columns: clinic, n, m).")


def test_describe_expr_brackets_only_where_precedence_needs_it() -> None:
    e = {"fn": "*", "args": [{"fn": "+", "args": [{"col": "a"}, {"lit": 1}]}, {"col": "b"}]}
    assert pn.describe_expr(e) == "(a + 1) * b"
    both = {"fn": "&", "args": [AGE_GE_18, {"fn": "is_null", "args": [{"col": "x"}]}]}
    assert pn.describe_expr(both) == "age >= 18 and x is missing"

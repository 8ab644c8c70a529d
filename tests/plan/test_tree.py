"""The typed plan: JSON in and out unchanged, one walker, column lineage computed once."""

from __future__ import annotations

from typing import Any

import pytest

from sharelake.plan import nodes as pn
from sharelake.plan import tree
from sharelake.plan.canonical import PlanError, plan_hash

from .test_plan_hashes import PINNED, PLANS

SCHEMAS = {
    "people": ["age", "city", "pid"],
    "t": ["x", "k", "y"],
    "cases": ["region", "age"],
    "a": ["id", "key", "record_id"],
    "b": ["id", "key", "record_id"],
    "c": ["id", "key", "record_id"],
}


@pytest.mark.parametrize("name", sorted(PLANS))
def test_a_plan_passes_through_its_typed_form_unchanged_and_keeps_its_hash(name: str) -> None:
    typed = tree.from_json(PLANS[name])
    back = tree.to_json(typed)
    assert back == PLANS[name]
    assert plan_hash(back) == PINNED[name]
    assert tree.from_json(back) == typed


def test_typed_plans_are_frozen_and_compare_by_value() -> None:
    one = tree.from_json(PLANS["groupby"])
    two = tree.from_json(
        pn.make_plan(
            pn.groupby(
                pn.scan("cases"), ["region"], {"n": ("region", "count"), "avg": ("age", "mean")}
            )
        )
    )
    assert one.root == two.root
    with pytest.raises(AttributeError):
        one.root.keys = ("other",)  # type: ignore[misc]


def test_from_json_refuses_a_malformed_plan_naming_the_field() -> None:
    with pytest.raises(PlanError, match=r"plan\.root\.n"):
        tree.from_json(pn.make_plan(pn.head(pn.scan("t"), -1)))


def test_fold_visits_every_node_once_children_first_with_its_path() -> None:
    plan = tree.from_json(PLANS["join"])
    seen: list[tuple[str, str]] = []

    def visit(n: tree.Node, subs: Any, path: str) -> None:
        seen.append((type(n).__name__, path))

    tree.fold(plan, visit)
    assert seen == [("Scan", "plan.root.left"), ("Scan", "plan.root.right"), ("Join", "plan.root")]


@pytest.mark.parametrize("name", sorted(PLANS))
def test_the_lineage_names_are_the_output_columns(name: str) -> None:
    b = tree.Bound(tree.from_json(PLANS[name]), SCHEMAS)
    assert b.columns == pn.output_columns(PLANS[name], SCHEMAS)
    assert b.lineage is b.lineage  # computed once, then kept


def test_lineage_follows_columns_through_joins_and_computations() -> None:
    js = pn.make_plan(
        pn.filter_rows(
            pn.assign(
                pn.join(pn.scan("a"), pn.scan("b"), on=["id"], how="inner", validate="1:1"),
                {"z": {"fn": "+", "args": [{"col": "key_x"}, {"col": "key_y"}]}},
            ),
            {"fn": ">", "args": [{"col": "z"}, {"lit": 1}]},
        )
    )
    lin = tree.Bound(tree.from_json(js), SCHEMAS).lineage
    assert lin.columns["id"] == {("a", "id"), ("b", "id")}
    assert lin.columns["z"] == {("a", "key"), ("b", "key")}
    assert lin.rows == {("a", "id"), ("b", "id"), ("a", "key"), ("b", "key")}


def test_lineage_names_the_path_of_an_unknown_column() -> None:
    js = pn.make_plan(pn.project(pn.scan("t"), ["nope"]))
    with pytest.raises(PlanError, match=r"plan\.root\.columns: no column 'nope'"):
        tree.lineage(tree.from_json(js), SCHEMAS)


def test_the_tables_of_a_plan_come_once_each_in_order() -> None:
    js = pn.make_plan(pn.join(pn.scan("b"), pn.concat([pn.scan("a"), pn.scan("b")]), on=["id"]))
    assert tree.tables(tree.from_json(js)) == ["b", "a"]


def test_the_plan_layer_knows_the_prefix_of_person_table_encodings() -> None:
    from sharelake.linkage.people_table import PREFIX

    assert tree.LINKAGE_PREFIX == PREFIX


def test_an_overlap_by_linkage_keeps_its_linkage_through_the_typed_form() -> None:
    js = pn.make_plan(
        pn.overlap(
            [pn.scan("a"), pn.scan("b")],
            ["person"],
            linkage={"mode": "exact", "window": None, "rounds": 2},
        )
    )
    assert tree.to_json(tree.from_json(js)) == js


def test_a_plan_naming_its_purpose_keeps_it_and_its_hash_through_the_typed_form() -> None:
    js = {**pn.make_plan(pn.scan("people")), "purpose": "research"}
    typed = tree.from_json(js)
    assert typed.purpose == "research"
    assert tree.to_json(typed) == js
    assert tree.digest(typed) == plan_hash(js) != plan_hash(pn.make_plan(pn.scan("people")))


@pytest.mark.parametrize("name", sorted(PLANS))
def test_the_digest_of_a_typed_plan_is_its_pinned_hash(name: str) -> None:
    assert tree.digest(tree.from_json(PLANS[name])) == PINNED[name]


def test_a_rewrite_below_the_top_restacks_the_nodes_above_unchanged() -> None:
    gb = pn.groupby(pn.scan("t"), ["k"], {"n": ("*", "count")})
    plan = tree.from_json(pn.make_plan(pn.project(pn.sort(gb, ["k"]), ["k"])))
    found = tree.released_groupby(plan)
    assert found is not None
    above, below = found
    assert [type(n).__name__ for n in above] == ["Project", "Sort"]
    assert tree.restack(above, below) == plan.root
    other = tree.restack(above, tree.Scan("u"))
    assert tree.to_json(tree.Plan(other))["root"] == pn.project(pn.sort(pn.scan("u"), ["k"]), ["k"])
    join = pn.join(pn.scan("a"), pn.scan("b"), on=["k"])
    assert tree.released_groupby(tree.from_json(pn.make_plan(join))) is None


def test_the_lineage_says_what_every_column_holds_a_row_value_a_group_key_or_an_aggregate() -> None:
    schemas = {"t": ("k", "a"), "u": ("k", "b")}
    gb = pn.groupby(pn.scan("t"), ["k"], {"n": ("*", "count"), "m": ("a", "mean")})
    plus = {"fn": "+", "args": [{"col": "n"}, {"lit": 1}]}
    grouped = pn.assign(gb, {"r": plus, "one": {"lit": 1}})
    lin = tree.lineage(tree.from_json(pn.make_plan(grouped)), schemas)
    want = {"k": "key", "n": "agg", "m_sum": "agg", "m_count": "agg", "r": "agg", "one": "key"}
    assert lin.forms == want and lin.aggregated
    rows = pn.assign(pn.scan("t"), {"one": {"lit": 1}})
    lin = tree.lineage(tree.from_json(pn.make_plan(rows)), schemas)
    assert lin.forms == {"k": "raw", "a": "raw", "one": "raw"} and not lin.aggregated
    joined = pn.join(gb, pn.scan("u"), on=["k"])
    lin = tree.lineage(tree.from_json(pn.make_plan(joined)), schemas)
    assert lin.forms["k"] == "key" and lin.forms["b"] == "raw" and not lin.aggregated


def test_a_bound_plan_keeps_the_lineage_of_every_node_by_its_path() -> None:
    plan = tree.from_json(pn.make_plan(pn.head(pn.project(pn.scan("t"), ["a"]), 2)))
    bound = tree.Bound(plan, {"t": ("k", "a")})
    assert sorted(bound.lineages) == ["plan.root", "plan.root.input", "plan.root.input.input"]
    assert bound.lineages["plan.root.input.input"].names == ["k", "a"]
    assert bound.lineage is bound.lineages["plan.root"] and bound.columns == ["a"]

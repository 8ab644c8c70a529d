"""The verdict: column lineage through plans against the policies of every table."""

from __future__ import annotations

from typing import Any

import pytest

from sharelake.governance.verdict import Verdict, check_plan
from sharelake.plan import nodes as pn
from sharelake.plan import tree
from sharelake.plan.canonical import PlanError

PEOPLE = {
    "columns": {
        "pid": "match",
        "region": "group",
        "age": "aggregate",
        "case_id": "reveal",
        "notes": "private",
    },
    "analysts": ["ana", "bob"],
    "min_group_size": 5,
}
CASES = {"columns": {"pid": "match", "kind": "group", "year": "reveal"}, "min_group_size": 8}
TABLES: dict[str, Any] = {
    "people": ("ngo", ["pid", "region", "age", "case_id", "notes", "extra"], PEOPLE),
    "cases": ("police", ["pid", "kind", "year"], CASES),
}


def verdict(root: dict[str, Any], analyst: str = "ana", tables: Any = None) -> Verdict:
    return check_plan(tree.from_json(pn.make_plan(root)), tables or TABLES, analyst)


def rules(v: Verdict) -> set[tuple[str, str, str]]:
    return {(r.table, r.column, r.rule) for r in v.reasons}


def count_by(node: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    return pn.groupby(node, keys, {"n": ("*", "count")})


def test_releasing_reveal_columns_as_rows_is_allowed() -> None:
    v = verdict(pn.scan("people", ["case_id"]))
    assert v.decision == "allow" and v.reasons == ()
    assert v.releases.kind == "rows" and v.releases.to == "ana"
    assert v.releases.columns == ("case_id",) and v.owners == {"ngo"}


def test_counting_per_group_column_is_an_allowed_aggregate_with_k() -> None:
    v = verdict(count_by(pn.scan("people"), ["region"]))
    assert v.decision == "allow"
    assert v.releases.kind == "aggregate" and v.releases.min_group_size == 5


def test_aggregating_an_aggregate_column_per_group_is_allowed() -> None:
    root = pn.groupby(pn.scan("people"), ["region"], {"m": ("age", "mean"), "s": ("age", "sum")})
    v = verdict(root)
    assert v.decision == "allow" and v.releases.columns == ("region", "m_sum", "m_count", "s")


@pytest.mark.parametrize("fn", ["min", "max"])
def test_a_per_group_minimum_or_maximum_of_an_aggregate_column_needs_approval(fn: str) -> None:
    root = pn.groupby(pn.scan("people"), ["region"], {"x": ("age", fn)})
    v = verdict(root)
    assert v.decision == "needs_approval"
    assert {(r.column, r.rule) for r in v.reasons} == {("age", "aggregate:order_statistic")}


def test_a_per_group_maximum_of_a_reveal_column_is_allowed() -> None:
    pol = {**PEOPLE, "columns": {**PEOPLE["columns"], "age": "reveal"}}
    root = pn.groupby(pn.scan("people"), ["region"], {"x": ("age", "max")})
    v = check_plan(
        tree.from_json(pn.make_plan(root)),
        {"people": ("ngo", ["pid", "region", "age"], pol)},
        "ana",
    )
    assert v.decision == "allow"


def test_aggregating_the_top_k_rows_by_an_aggregate_column_needs_approval() -> None:
    top = pn.head(pn.sort(pn.scan("people"), ["age"], descending=True), 1)
    root = pn.groupby(top, ["region"], {"s": ("age", "sum")})
    v = verdict(root)
    assert v.decision == "needs_approval"
    assert ("age", "aggregate:order_statistic") in {(r.column, r.rule) for r in v.reasons}


@pytest.mark.parametrize("between", ["filter", "project", "assign"])
def test_a_top_k_stays_an_order_statistic_through_filters_projections_and_computed_columns(
    between: str,
) -> None:
    # found while typing the verdict: an always-true filter (or a projection) between the
    # sort and the head made the head forget the order it picks by, so the sum of the k
    # oldest (and, by two releases, the k-th oldest age) was released without approval
    ordered = pn.sort(pn.scan("people"), ["age"], descending=True)
    step = {
        "filter": pn.filter_rows(ordered, {"fn": ">", "args": [{"col": "age"}, {"lit": -1}]}),
        "project": pn.project(ordered, ["region", "age"]),
        "assign": pn.assign(ordered, {"one": {"lit": 1}}),
    }[between]
    root = pn.groupby(pn.head(step, 5), ["region"], {"s": ("age", "sum")})
    v = verdict(root)
    assert v.decision == "needs_approval"
    assert ("age", "aggregate:order_statistic") in {(r.column, r.rule) for r in v.reasons}


def test_a_head_after_a_groupby_does_not_pick_by_the_sort_below_it() -> None:
    ordered = pn.sort(pn.scan("people"), ["age"])
    root = pn.head(pn.groupby(ordered, ["region"], {"n": ("*", "count")}), 1)
    assert "aggregate:order_statistic" not in {r.rule for r in verdict(root).reasons}


def test_filtering_on_an_aggregate_column_before_aggregating_is_allowed() -> None:
    root = count_by(
        pn.filter_rows(pn.scan("people"), {"fn": ">=", "args": [{"col": "age"}, {"lit": 18}]}),
        ["region"],
    )
    assert verdict(root).decision == "allow"


def test_releasing_a_match_column_needs_approval_naming_table_column_and_rule() -> None:
    v = verdict(pn.scan("people", ["pid", "case_id"]))
    assert v.decision == "needs_approval"
    assert rules(v) == {("people", "pid", "match:released")}
    assert "never released" in v.reasons[0].text


def test_grouping_by_an_aggregate_column_needs_approval() -> None:
    v = verdict(count_by(pn.scan("people"), ["age"]))
    assert v.decision == "needs_approval"
    assert ("people", "age", "aggregate:group_key") in rules(v)


def test_releasing_a_group_column_as_rows_needs_approval() -> None:
    v = verdict(pn.scan("people", ["region"]))
    assert rules(v) == {("people", "region", "group:released")}


def test_releasing_an_aggregate_column_as_rows_needs_approval() -> None:
    assert rules(verdict(pn.scan("people", ["age"]))) == {("people", "age", "aggregate:released")}


def test_a_column_derived_from_a_match_column_is_still_not_released() -> None:
    root = pn.assign(
        pn.scan("people", ["pid"]), {"p2": {"fn": "+", "args": [{"col": "pid"}, {"lit": 1}]}}
    )
    root = pn.project(root, ["p2"])
    assert rules(verdict(root)) == {("people", "pid", "match:released")}


def test_rows_selected_by_a_group_column_need_approval() -> None:
    root = pn.filter_rows(
        pn.scan("people", ["case_id", "region"]),
        {"fn": "==", "args": [{"col": "region"}, {"lit": 0}]},
    )
    root = pn.project(root, ["case_id"])
    assert rules(verdict(root)) == {("people", "region", "group:selects_rows")}


def test_using_a_private_column_anywhere_is_denied() -> None:
    root = count_by(
        pn.filter_rows(pn.scan("people"), {"fn": "is_null", "args": [{"col": "notes"}]}), ["region"]
    )
    v = verdict(root)
    assert v.decision == "deny"
    assert ("people", "notes", "private:filter") in rules(v)


def test_a_private_column_read_but_dropped_before_release_is_not_a_use() -> None:
    root = pn.project(pn.scan("people"), ["case_id"])
    assert verdict(root).decision == "allow"


def test_an_unclassified_column_needs_approval() -> None:
    v = verdict(pn.scan("people", ["extra"]))
    assert rules(v) == {("people", "extra", "unclassified:released")}


def test_an_analyst_not_listed_is_denied() -> None:
    v = verdict(pn.scan("people", ["case_id"]), analyst="eve")
    assert v.decision == "deny" and rules(v) == {("people", "", "analysts")}


def test_a_join_on_match_keys_needs_release_sizes_of_both_tables() -> None:
    root = count_by(
        pn.join(
            pn.scan("people"), pn.scan("cases"), on=["pid"], validate="m:m", max_multiplicity=3
        ),
        ["kind"],
    )
    v = verdict(root)
    assert v.decision == "needs_approval"
    assert rules(v) == {("people", "", "release_sizes"), ("cases", "", "release_sizes")}
    assert v.owners == {"ngo", "police"} and v.releases.min_group_size == 8
    assert v.releases.sizes == ("cases", "people")


def test_a_join_on_match_keys_is_allowed_when_both_tables_release_sizes() -> None:
    tables = {n: (o, s, {**p, "release_sizes": True}) for n, (o, s, p) in TABLES.items()}
    root = count_by(
        pn.join(
            pn.scan("people"), pn.scan("cases"), on=["pid"], validate="m:m", max_multiplicity=3
        ),
        ["kind", "region"],
    )
    assert verdict(root, tables=tables).decision == "allow"


def test_joining_on_an_aggregate_column_needs_approval() -> None:
    root = count_by(
        pn.join(
            pn.scan("people", ["age", "region"]),
            pn.scan("people", ["age", "case_id"]),
            on=["age"],
            validate="m:m",
            max_multiplicity=2,
        ),
        ["region"],
    )
    assert ("people", "age", "aggregate:join_key") in rules(verdict(root))


def test_an_overlap_table_on_match_keys_is_an_aggregate_that_needs_release_sizes() -> None:
    root = pn.overlap([pn.scan("people"), pn.scan("cases")], ["pid"])
    v = verdict(root)
    assert v.releases.kind == "aggregate" and v.releases.columns == (
        "in_people",
        "in_cases",
        "count",
    )
    assert {r.rule for r in v.reasons} == {"release_sizes"}


def test_sorting_rows_by_an_aggregate_column_needs_approval_when_rows_are_released() -> None:
    root = pn.head(pn.sort(pn.scan("people", ["case_id", "age"]), ["age"]), 3)
    root = pn.project(root, ["case_id"])
    assert rules(verdict(root)) == {
        ("people", "age", "aggregate:selects_rows"),
        ("people", "age", "aggregate:order_statistic"),  # the 3 oldest: a top-k
    }


def test_a_semi_join_filters_rows_by_match_keys_which_a_rows_release_may_not_show() -> None:
    tables = {n: (o, s, {**p, "release_sizes": True}) for n, (o, s, p) in TABLES.items()}
    root = pn.join(
        pn.scan("people", ["pid", "case_id"]), pn.scan("cases", ["pid"]), on=["pid"], how="semi"
    )
    v = verdict(pn.project(root, ["case_id"]), tables=tables)
    assert rules(v) == {
        ("people", "pid", "match:selects_rows"),
        ("cases", "pid", "match:selects_rows"),
    }


def test_the_verdict_text_names_decision_reasons_and_release() -> None:
    text = verdict(pn.scan("people", ["pid"])).text()
    assert "needs_approval" in text and "people.pid (match:released)" in text
    assert "needs approval by: ngo" in text


def test_an_unknown_column_is_a_plan_error_naming_it() -> None:
    with pytest.raises(PlanError, match="no column 'salary'"):
        verdict(pn.scan("people", ["salary"]))


def test_an_unknown_table_is_a_plan_error_naming_it() -> None:
    with pytest.raises(PlanError, match="no table 'ghosts'"):
        verdict(pn.scan("ghosts"))


def test_an_aggregate_over_reveal_columns_only_needs_no_suppression() -> None:
    root = count_by(pn.scan("people", ["case_id"]), ["case_id"])
    v = verdict(root)
    assert v.decision == "allow" and v.releases.min_group_size is None


def test_a_table_without_column_rules_needs_the_owners_approval_to_release_anything() -> None:
    tables = {"open": ("ngo", ["a", "b"], {"analysts": ["ana"]})}
    assert verdict(pn.scan("open"), tables=tables).decision == "needs_approval"


def test_an_aggregate_whose_groups_cannot_be_suppressed_needs_approval() -> None:
    agg = count_by(pn.scan("people"), ["region"])
    root = pn.join(agg, agg, on=["region"], validate="1:1")
    v = verdict(root)
    assert v.decision == "needs_approval" and "min_group_size" in {r.rule for r in v.reasons}


def _person_tables() -> dict[str, Any]:
    from sharelake.linkage.people_table import ENCODING_COLUMNS

    cols = ["record_id", *ENCODING_COLUMNS]
    pol = {"columns": {c: "match" for c in ENCODING_COLUMNS}, "min_group_size": 1}
    return {"ppl_a": ("ngo", cols, pol), "ppl_b": ("police", cols, pol)}


def test_the_own_reveal_of_k_lists_is_for_the_owner_of_the_first_list_only() -> None:
    lk = {"mode": "probabilistic", "window": 8, "rounds": 3, "reveal": "own"}
    root = pn.overlap([pn.scan("ppl_a"), pn.scan("ppl_b")], ["person"], linkage=lk)
    tables = _person_tables()
    mine = verdict(root, "ngo", tables)
    assert "link_own" not in {r.rule for r in mine.reasons}
    theirs = verdict(root, "police", tables)
    assert theirs.decision == "deny"
    assert ("ppl_a", "", "link_own") in rules(theirs)


def test_the_linked_person_is_governed_as_the_encodings_it_comes_from() -> None:
    lk = {"mode": "fuzzy", "window": 8, "rounds": 3}
    tables = _person_tables()
    both = pn.concat([pn.scan("ppl_a"), pn.scan("ppl_b")], linkage=lk)
    # de-duplicating on the person and counting uses the encodings as match keys: allowed
    deduped = pn.assign(pn.distinct(both, ["person"]), {"one": {"lit": 1}})
    counted = verdict(count_by(deduped, ["one"]), "ngo", tables)
    assert not any(r.column.startswith("lk_") for r in counted.reasons)
    # releasing the person ids as rows releases values derived from match columns
    shown = verdict(pn.project(both, ["person"]), "ngo", tables)
    assert shown.decision != "allow"
    assert ("ppl_b", "lk_pipeline", "match:released") in rules(shown)
    # grouping by it is a use as a group key, which match columns do not allow
    grouped = verdict(count_by(both, ["person"]), "ngo", tables)
    assert any(r.rule == "match:group_key" for r in grouped.reasons)

"""Plan hashes stay byte-identical across refactorings, so signed approvals stay valid.

The hashes below were computed by the untyped (dict) plan builders before the typed plan
replaced them; an owner's signature over one of these hashes must still match the plan an
analyst builds today.
"""

from __future__ import annotations

from typing import Any

import pytest

from sharelake.client.frame import Table
from sharelake.plan import nodes as pn
from sharelake.plan.canonical import canonical_json, plan_hash


def c(name: str) -> dict[str, Any]:
    return {"col": name}


def f(fn: str, *args: Any) -> dict[str, Any]:
    return {"fn": fn, "args": list(args)}


PLANS: dict[str, Any] = {
    "scan": pn.make_plan(pn.scan("people")),
    "scan_columns": pn.make_plan(pn.scan("people", ["age", "city"])),
    "filter_head": pn.make_plan(
        pn.head(pn.filter_rows(pn.scan("people"), f(">=", c("age"), {"lit": 18})), 10)
    ),
    "real_constant": pn.make_plan(
        pn.filter_rows(pn.scan("t"), f(">", c("x"), {"lit": 1, "shift": 1}))
    ),
    "assign_project": pn.make_plan(
        pn.project(pn.assign(pn.scan("t"), {"y": f("+", c("x"), {"lit": 2})}), ["y"])
    ),
    "groupby": pn.make_plan(
        pn.groupby(pn.scan("cases"), ["region"], {"n": ("region", "count"), "avg": ("age", "mean")})
    ),
    # added with the quantile aggregates (issue 14): new plans, new hashes
    "groupby_quantiles": pn.make_plan(
        pn.groupby(
            pn.scan("cases"),
            ["region"],
            {"med": ("age", "median"), "q1": ("age", "p25")},  # type: ignore[dict-item]
        )
    ),
    # pandas idioms are plans of the existing operators: their builders stay stable too
    "idiom_value_counts": Table.of("cases", ["region", "age"]).value_counts("region").plan,
    "idiom_query_isin": Table.of("cases", ["region", "age"])
    .query("age.between(18, 65) and region in [1, 2]")
    .plan,
    "idiom_merge_left_on": Table.of("people", ["age", "city", "pid"])
    .merge(Table.of("t", ["x", "k", "y"]), left_on="pid", right_on="k", how="right")
    .plan,
    "join": pn.make_plan(
        pn.join(pn.scan("a"), pn.scan("b"), on=["id"], how="left", validate="1:m")
    ),
    "sort_distinct": pn.make_plan(
        pn.sort(pn.distinct(pn.scan("t"), ["k"]), ["k"], descending=True)
    ),
    "overlap": pn.make_plan(pn.overlap([pn.scan("a"), pn.scan("b"), pn.scan("c")], on=["key"])),
    "concat": pn.make_plan(pn.concat([pn.scan("a"), pn.scan("b")])),
    "link": pn.make_plan(pn.link(pn.scan("a"), pn.scan("b"), mode="exact", reveal="count")),
    "link_window": pn.make_plan(
        pn.link(
            pn.scan("a"),
            pn.scan("b"),
            mode="fuzzy",
            reveal="own",
            params={"threshold_pct": 80},
            window=8,
        )
    ),
    "when_isnull": pn.make_plan(
        pn.assign(pn.scan("t"), {"z": f("when", f("is_null", c("x")), {"lit": 0}, c("x"))})
    ),
}

PINNED = {
    "scan": "70fc2d32a813493360dcfeb44731ace92d6d7f3bb5f129a0c017c0fd90f2cbf0",
    "scan_columns": "dd123e8714d3b026996081d4f02dc0568b77444929785d2c59e67ac6f355c5ee",
    "filter_head": "082c721729bf73409c90399ededcfeb82faeb6b01f0249b1b66e218aa3efc25f",
    "real_constant": "35dd0a386dfcfec0933f96bc75625d8c6482fc1ea9a60d7b7c9496f8adc8e0af",
    "assign_project": "3727b7b4b2c31815b4cbe7b44925dcfc8f35fb069efb1a35386b063b18ef432c",
    "groupby": "6aa37b18c60d628612b84e351d3d03703e5e05b5fc44623ce27d6147b19a98c6",
    "join": "1f5094a38920aaccd57a89b1f943ec62e2ac63597d535447803cdc4d37531bcf",
    "sort_distinct": "c34790aa3844aed4988cbc0c5c1ca8f74bae429744e518c47c37126ca5bb76fb",
    "overlap": "f5abeef19e2c3b399bb1619754e886514d91a2dbb21792db831d8c3753a2d786",
    "concat": "b0f138252871bb1650ae92d10d3beb5bf7faf59dd5aa84426af1d471b2e046f3",
    "link": "513b8fcac6f16aab4508a80a729ad5a4a34c1a299f738c7c554bcc872650a02b",
    "link_window": "aaef36f418a508d22f6d9f3509c4f04424bff95592f94c7cccda3dfe7b71630e",
    "when_isnull": "ae20d1e588b5f87f7df2b07555650af3e0d0ed536ee0abf5c3c3e7b706dad840",
    "groupby_quantiles": "9abdabfdc34eef79476d8a11a3c7f6178c7047e180196378261845561944bbb4",
    "idiom_value_counts": "319c05a42d314cdd6965c0cb1d25a69304903777c00a2931afbe192d54737510",
    "idiom_query_isin": "0ba68def8b0cb277d3f2ace542daf6f07f33f39efba0e119562405e4c74192be",
    "idiom_merge_left_on": "227d7569f7c217a6a9dd748449e0de2427a61dbbd8676e94529c9f80c5ffb269",
}

GROUPBY_TEXT = (
    '{"release":{"kind":"rows"},"root":{"aggs":{"avg":["age","mean"],"n":["region","c'
    'ount"]},"input":{"columns":null,"op":"scan","table":"cases"},"keys":["region"],"'
    'op":"groupby"},"version":1}'
)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_a_representative_plan_hashes_as_it_did_before_the_typed_plan(name: str) -> None:
    pn.validate_plan(PLANS[name])
    assert plan_hash(PLANS[name]) == PINNED[name]


def test_the_canonical_text_of_a_group_by_plan_is_unchanged() -> None:
    assert canonical_json(PLANS["groupby"]) == GROUPBY_TEXT


def test_the_pinned_plans_are_all_different() -> None:
    assert len(set(PINNED.values())) == len(PINNED)

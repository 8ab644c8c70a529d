"""The differencing check: cells from the plan's lineage, and the atom check in MPC against
its plaintext twin."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from sharelake.engine.atoms import group_sizes, small_atoms, small_atoms_plain
from sharelake.governance.lineage import Cells, release_cells
from sharelake.harness.runner import run_parties
from sharelake.mpc.arith import open_arith
from sharelake.mpc.party import Party
from sharelake.plan import nodes as pn
from sharelake.plan import tree
from sharelake.plan.canonical import canonical_json
from sharelake.relational.table import ColumnSpec

from ..relational.helpers import table_inputs, unpack_table

SPECS = [ColumnSpec("region", "int"), ColumnSpec("age", "int", nullable=True)]
# region 1: 6 rows, region 2: 3 rows, region 3: 6 rows (k = 5: region 2 is suppressed)
FRAME = pd.DataFrame(
    {
        "region": [1] * 6 + [2] * 3 + [3] * 6,
        "age": pd.array(
            [30, 31, 32, 33, 34, 35, 40, 41, 42, 50, 51, 52, 53, 54, None], dtype="Int64"
        ),
    }
)
NO_SMALL = FRAME[FRAME["region"] != 2].reset_index(drop=True)  # regions 1 and 3: 6 rows each
REGION = canonical_json({"col": "region"})


def _lit(op: str, col: str, v: int) -> str:
    return canonical_json({"fn": op, "args": [{"col": col}, {"lit": v}]})


def body_atoms(p: Party, t: dict[str, Any], new: dict[str, Any], old: list[Any], k: int) -> bool:
    return small_atoms(
        p, unpack_table(t), Cells.from_dict(new), [Cells.from_dict(o) for o in old], k
    )


def secure(
    frame: pd.DataFrame, specs: list[ColumnSpec], new: Cells, old: list[Cells], k: int
) -> bool:
    inputs = table_inputs({"t": (frame, specs)})
    args = [
        {"t": x["t"], "new": new.to_dict(), "old": [o.to_dict() for o in old], "k": k}
        for x in inputs
    ]
    out = run_parties(body_atoms, args)
    assert out[0] == out[1] == out[2]
    return bool(out[0])


BY_REGION = Cells("t", (), (REGION,))
TOTAL = Cells("t", (), ())


@pytest.mark.parametrize(
    ("name", "frame", "new", "old", "expected"),
    [
        # the grand total after a by-region release with region 2 (3 rows) suppressed
        ("grand total after groups", FRAME, TOTAL, [BY_REGION], True),
        # a by-region release alone: the table's row count is public, 3 rows are missing
        ("suppressed group against the public row count", FRAME, BY_REGION, [], True),
        # region != 2: its 12 rows against the public 15
        ("complement filter", FRAME, Cells("t", (_lit("!=", "region", 2),), ()), [], True),
        # two filters leaving 6 and 6 rows, and the 3 of region 2 in neither: a chain
        (
            "chain of complementary filters",
            FRAME,
            Cells("t", (_lit("==", "region", 3),), ()),
            [Cells("t", (_lit("==", "region", 1),), ())],
            True,
        ),
        # by region over everything, then by region over age > 31: region 1 loses 2 rows
        (
            "per-group difference",
            NO_SMALL,
            Cells("t", (_lit(">", "age", 31),), (REGION,)),
            [Cells("t", (), (REGION,))],
            True,
        ),
        # age >= 40 (8 rows, 7 outside): every atom has 0 or >= 5 rows
        ("a coarse split passes", FRAME, Cells("t", (_lit(">=", "age", 40),), ()), [], False),
        ("the grand total alone passes", FRAME, TOTAL, [], False),
        (
            "the same release twice passes",
            FRAME,
            Cells("t", (_lit(">=", "age", 40),), ()),
            [Cells("t", (_lit(">=", "age", 40),), ())],
            False,
        ),
        ("by region without a small group passes", NO_SMALL, BY_REGION, [], False),
    ],
)
def test_the_atom_check_in_mpc_matches_its_plaintext_twin_on_each_attack(
    name: str, frame: pd.DataFrame, new: Cells, old: list[Cells], expected: bool
) -> None:
    assert small_atoms_plain(frame, new, old, 5) is expected, name
    assert secure(frame, SPECS, new, old, 5) is expected, name


def test_the_atom_check_matches_its_plaintext_twin_on_random_tables_and_releases() -> None:
    rng = np.random.default_rng(7)
    for trial in range(4):
        n = int(rng.integers(8, 30))
        frame = pd.DataFrame(
            {
                "region": rng.integers(0, 4, n),
                "age": pd.array(
                    [None if rng.random() < 0.1 else int(v) for v in rng.integers(0, 60, n)],
                    dtype="Int64",
                ),
            }
        )
        cuts = [int(c) for c in rng.integers(0, 60, 3)]
        cells = [
            Cells("t", (_lit(">", "age", cuts[0]),), (REGION,)),
            Cells("t", (_lit("<=", "age", cuts[1]),), ()),
            Cells("t", (), (REGION, canonical_json({"col": "age"}))),
            Cells("t", (_lit("!=", "region", int(rng.integers(0, 4))),), ()),
        ]
        k = int(rng.integers(2, 5))
        new, old = cells[trial], [c for i, c in enumerate(cells) if i < trial]
        assert secure(frame, SPECS, new, old, k) == small_atoms_plain(frame, new, old, k)


def body_sizes(p: Party, t: dict[str, Any]) -> list[int]:
    tab = unpack_table(t)
    lab = tab["region"].values
    both = type(lab)(np.concatenate([lab.a, lab.a]), np.concatenate([lab.b, lab.b]))
    return [int(v) for v in open_arith(p, group_sizes(p, both, blocks=[tab.n, tab.n]))]


def test_group_sizes_count_each_rows_group_within_its_block() -> None:
    inputs = table_inputs({"t": (FRAME, SPECS)})
    got = run_parties(body_sizes, [{"t": x["t"]} for x in inputs])[0]
    want = FRAME["region"].map(FRAME["region"].value_counts()).tolist()
    assert got == want * 2


def test_a_constant_column_is_no_group_key_and_computed_columns_reduce_to_stored_ones() -> None:
    one = pn.assign(pn.scan("t"), {"one": {"lit": 1}})
    total = pn.make_plan(pn.groupby(one, ["one"], {"n": ("*", "count"), "s": ("age", "sum")}))
    assert release_cells(tree.from_json(total)) == Cells("t", (), ())
    x = pn.assign(
        pn.scan("t"),
        {"r": {"col": "region"}, "a2": {"fn": "+", "args": [{"col": "age"}, {"lit": 1}]}},
    )
    f = pn.filter_rows(x, {"fn": ">", "args": [{"col": "a2"}, {"lit": 31}]})
    plan = pn.make_plan(pn.sort(pn.groupby(f, ["r"], {"n": ("*", "count")}), ["n"]))
    direct = pn.filter_rows(
        pn.scan("t"),
        {"fn": ">", "args": [{"fn": "+", "args": [{"col": "age"}, {"lit": 1}]}, {"lit": 31}]},
    )
    same = pn.make_plan(pn.groupby(direct, ["region"], {"n": ("*", "count")}))
    assert release_cells(tree.from_json(plan)) == release_cells(tree.from_json(same))


def test_aggregates_over_joins_distinct_or_head_have_no_cells() -> None:
    j = pn.join(pn.scan("a"), pn.scan("b"), on=["k"])
    assert (
        release_cells(tree.from_json(pn.make_plan(pn.groupby(j, ["k"], {"n": ("*", "count")}))))
        is None
    )
    h = pn.head(pn.sort(pn.scan("a"), ["v"]), 3)
    assert (
        release_cells(tree.from_json(pn.make_plan(pn.groupby(h, ["k"], {"n": ("*", "count")}))))
        is None
    )
    assert release_cells(tree.from_json(pn.make_plan(pn.scan("a")))) is None


def _sizes_frame(sizes: list[int]) -> pd.DataFrame:
    region = np.repeat(np.arange(len(sizes)), sizes)
    ages = pd.array([20 + i % 50 for i in range(len(region))], dtype="Int64")
    return pd.DataFrame({"region": region, "age": ages})


def body_secondary(p: Party, t: dict[str, Any], new: dict[str, Any], least: int) -> bool:
    return small_atoms(p, unpack_table(t), Cells.from_dict(new), [], 5, min_rows=least)


def test_groups_of_12_9_7_2_are_refused_at_k_and_pass_once_the_7_is_suppressed_too() -> None:
    frame = _sizes_frame([12, 9, 7, 2])
    # at k = 5 the groups 12, 9 and 7 with the public row count 30 give the 2 away
    assert small_atoms_plain(frame, BY_REGION, [], 5) is True
    assert secure(frame, SPECS, BY_REGION, [], 5) is True
    inputs = table_inputs({"t": (frame, SPECS)})
    for least, bad in ((7, True), (8, False), (13, True)):  # 13: no group would be shown
        assert small_atoms_plain(frame, BY_REGION, [], 5, min_rows=least) is bad, least
        args = [{"t": x["t"], "new": BY_REGION.to_dict(), "least": least} for x in inputs]
        out = run_parties(body_secondary, args)
        assert out[0] == out[1] == out[2] == bad, least


def test_a_secondary_threshold_never_turns_a_single_group_refusal_into_a_release() -> None:
    frame = _sizes_frame([29, 1])
    all_but_one = Cells("t", (_lit("!=", "region", 1),), ())
    for least in (5, 8, 10, 30):
        assert small_atoms_plain(frame, all_but_one, [], 5, min_rows=least) is True
    empty = Cells("t", (_lit(">", "region", 5),), (REGION,))  # no kept row: nothing to hide
    assert small_atoms_plain(frame, empty, [], 5, min_rows=8) is False
    inputs = table_inputs({"t": (frame, SPECS)})
    for cells, bad in ((all_but_one, True), (empty, False)):  # the same in MPC
        args = [{"t": x["t"], "new": cells.to_dict(), "least": 8} for x in inputs]
        out = run_parties(body_secondary, args)
        assert out[0] == out[1] == out[2] == bad

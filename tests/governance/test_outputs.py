"""Output protection: k-suppression on shares, budgets, the differencing check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sharelake.engine.protect import suppress_small_groups
from sharelake.governance.lineage import Cells
from sharelake.governance.outputs import (
    HIDDEN_COUNT,
    BudgetExceededError,
    DifferencingError,
    DifferencingGuard,
    QueryBudget,
    protected_plan,
)
from sharelake.harness.runner import run_parties
from sharelake.mpc.arith import open_arith
from sharelake.mpc.party import Party
from sharelake.plan import nodes as pn
from sharelake.plan import tree
from sharelake.relational.groupby import groupby
from sharelake.relational.table import ColumnSpec

from ..relational.helpers import released, released_frame, table_inputs, unpack_table

SPECS = [ColumnSpec("region", "int"), ColumnSpec("age", "int")]
# region 1: 6 rows, region 2: 2 rows, region 3: 5 rows
FRAME = pd.DataFrame(
    {
        "region": [1] * 6 + [2] * 2 + [3] * 5,
        "age": pd.array([30, 31, 32, 33, 34, 35, 40, 41, 50, 51, 52, 53, None], dtype="Int64"),
    }
)
AGE_GT = {"fn": ">", "args": [{"col": "age"}, {"lit": 30}]}
AGE_NE = {"fn": "!=", "args": [{"col": "age"}, {"lit": 35}]}


def body_suppress(p: Party, t: dict[str, Any], k: int) -> dict[str, Any]:
    g = groupby(p, unpack_table(t), ["region"], {"n": ("*", "count")})
    kept, gone = suppress_small_groups(p, g, "n", k)
    return {"result": released(p, kept), "suppressed": int(open_arith(p, gone)[0])}


def test_groups_under_k_are_suppressed_on_shares_and_counted() -> None:
    inputs = table_inputs({"t": (FRAME, SPECS)})
    out = run_parties(body_suppress, [{"t": x["t"], "k": 5} for x in inputs])[0]
    got = released_frame(out["result"]).sort_values("region")
    assert got["region"].tolist() == [1, 3] and got["n"].tolist() == [6, 5]
    assert out["suppressed"] == 1


def test_with_k_one_nothing_is_suppressed() -> None:
    inputs = table_inputs({"t": (FRAME, SPECS)})
    out = run_parties(body_suppress, [{"t": x["t"], "k": 1} for x in inputs])[0]
    assert len(released_frame(out["result"])) == 3 and out["suppressed"] == 0


def test_the_guard_remembers_released_cells_across_restarts_and_refuses_on_a_flag(
    tmp_path: Path,
) -> None:
    g = DifferencingGuard(tmp_path / "diff.jsonl")
    a, b = Cells("t", (), ()), Cells("t", ('{"col":"x"}',), ())
    g.record(a)
    g.record(a)
    again = DifferencingGuard(tmp_path / "diff.jsonl")
    assert again.earlier(b) == [a] and again.earlier(a) == []
    with pytest.raises(DifferencingError, match="fewer than 5 rows"):
        DifferencingGuard.refuse(b, True, 1, 5)
    DifferencingGuard.refuse(b, False, 1, 5)


def test_a_hidden_count_is_added_when_the_aggregate_has_none() -> None:
    root = pn.sort(pn.groupby(pn.scan("t"), ["k"], {"s": ("v", "sum")}), ["k"])
    new, col, hidden = protected_plan(tree.from_json(pn.make_plan(root)))
    assert (col, hidden) == (HIDDEN_COUNT, True)
    assert tree.to_json(new)["root"]["input"]["aggs"][HIDDEN_COUNT] == ["*", "count"]


def test_an_existing_row_count_is_used_as_it_is() -> None:
    root = pn.groupby(pn.scan("t"), ["k"], {"rows": ("*", "count")})
    assert protected_plan(tree.from_json(pn.make_plan(root)))[1:] == ("rows", False)
    ov = pn.overlap([pn.scan("a"), pn.scan("b")], ["pid"])
    assert protected_plan(tree.from_json(pn.make_plan(ov)))[1:] == ("count", False)


def test_a_row_release_has_no_count_column() -> None:
    assert protected_plan(tree.from_json(pn.make_plan(pn.scan("t"))))[1:] == (None, False)


def test_a_budget_is_per_analyst_and_table_and_survives_a_restart(tmp_path: Path) -> None:
    b = QueryBudget(tmp_path / "budget.json", limit=2)
    b.charge("ana", ["people", "cases"])
    b.charge("ana", ["people"])
    b.check("bob", ["people"])
    b.check("ana", ["cases"])
    again = QueryBudget(tmp_path / "budget.json", limit=2)
    assert again.used("ana", "people") == 2
    with pytest.raises(BudgetExceededError, match="table 'people'"):
        again.check("ana", ["cases", "people"])


def test_suppression_of_an_empty_table_suppresses_nothing() -> None:
    def body(p: Party, t: dict[str, Any]) -> int:
        tt = unpack_table(t)
        empty = tt.take(np.arange(0, dtype=np.intp))
        return int(open_arith(p, suppress_small_groups(p, empty, "age", 5)[1])[0])

    inputs = table_inputs({"t": (FRAME, SPECS)})
    assert run_parties(body, [{"t": x["t"]} for x in inputs]) == [0, 0, 0]


def body_suppress_counts(p: Party, t: dict[str, Any], k: int) -> dict[str, Any]:
    kept, gone = suppress_small_groups(p, unpack_table(t), "n", k)
    return {"result": released(p, kept), "suppressed": int(open_arith(p, gone)[0])}


def test_large_counts_in_a_table_of_few_rows_are_kept() -> None:
    # An overlap table has few rows but counts far above its row count.
    frame = pd.DataFrame({"pattern": [1, 2, 3], "n": [119, 3, 100_000]})
    specs = [ColumnSpec("pattern", "int"), ColumnSpec("n", "int")]
    inputs = table_inputs({"t": (frame, specs)})
    out = run_parties(body_suppress_counts, [{"t": x["t"], "k": 5} for x in inputs])[0]
    got = released_frame(out["result"]).sort_values("pattern")
    assert got["n"].tolist() == [119, 100_000] and out["suppressed"] == 1


def test_budget_use_is_per_upload_and_old_counts_bind_to_the_current_upload(
    tmp_path: Path,
) -> None:
    path = tmp_path / "budget.json"
    path.write_text('{"ana": {"people": 2, "gone": 1}}', encoding="utf-8")
    b = QueryBudget(path, limit=2)
    assert b.used("ana", "people", 3) == 0  # unbound: counts for no upload yet
    b.bind({"people": 3})
    with pytest.raises(BudgetExceededError):
        b.check("ana", {"people": 3})
    b.check("ana", {"people": 4})  # another upload of the name starts afresh
    again = QueryBudget(path, limit=2)
    assert again.used("ana", "people", 3) == 2 and again.used("ana", "gone", 0) == 0
    again.forget("people", 3)
    assert QueryBudget(path, limit=2).used("ana", "people", 3) == 0


def test_release_records_are_per_upload_and_old_ones_bind_to_the_current_upload(
    tmp_path: Path,
) -> None:
    path = tmp_path / "released.jsonl"
    a, b = Cells("t", (), ()), Cells("t", ('{"col":"x"}',), ())
    path.write_text('{"table": "t", "predicates": []}\n{"table": "u", "predicates": []}\n')
    g = DifferencingGuard(path)
    assert g.earlier(b, 5) == []
    g.bind({"t": 5})
    assert g.earlier(b, 5) == [a] and g.earlier(b, 6) == []
    again = DifferencingGuard(path)
    assert again.earlier(b, 5) == [a] and again.earlier(Cells("u", ('{"col":"x"}',), ()), 0) == []
    again.record(b, 6)
    again.forget("t", 5)
    last = DifferencingGuard(path)
    assert last.earlier(a, 5) == [] and last.earlier(a, 6) == [b]

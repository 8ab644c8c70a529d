"""The executor runs plans in memory; released shares rebuild the pandas answer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from sharelake.engine.executor import (
    Released,
    execute,
    release_rows,
)
from sharelake.harness.runner import run_parties
from sharelake.mpc.party import Party
from sharelake.plan import tree
from sharelake.plan.canonical import PlanError
from sharelake.relational import plain
from sharelake.relational.encode import decode_column, encode_frame, share_table
from sharelake.relational.expr import col, lit, to_json
from sharelake.relational.table import ColumnSpec, SecretTable, spec_from_json

CATS = ("x", "y", "z")
PEOPLE = [
    ColumnSpec("id", "int", nullable=False),
    ColumnSpec("age", "int"),
    ColumnSpec("region", "category", categories=CATS),
]
CASES = [ColumnSpec("id", "int", nullable=False), ColumnSpec("amount", "int")]


def people() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 12
    age = [None if i % 5 == 3 else int(a) for i, a in enumerate(rng.integers(10, 60, n))]
    return pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64),
            "age": pd.array(age, dtype="Int64"),
            "region": pd.Categorical(rng.choice(CATS, n), categories=list(CATS)),
        }
    )


def cases() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.array([1, 3, 5, 7, 20], dtype=np.int64),
            "amount": pd.array([10, 20, 30, None, 50]),
        }
    )


def shared(frames: dict[str, tuple[pd.DataFrame, list[ColumnSpec]]]) -> list[dict[str, Any]]:
    parts: list[dict[str, SecretTable]] = [{}, {}, {}]
    for name, (df, specs) in frames.items():
        for i, t in enumerate(share_table(encode_frame(df, specs), name=name)):
            parts[i][name] = t
    return [{"tables": parts[i]} for i in range(3)]


def body(p: Party, tables: dict[str, SecretTable], plan: dict[str, Any]) -> Released:
    typed = tree.from_json(plan)  # where a node parses the plan it received
    return release_rows(p, execute(p, typed, tables.__getitem__), ordered=tree.ordered(typed))


def reconstruct(rel: list[Released]) -> pd.DataFrame:
    """Rebuild the result from the three pairs, checking each component's two copies."""
    meta = rel[0].meta
    assert all(r.meta == meta for r in rel)
    data: dict[str, Any] = {}

    def opened(key: str) -> np.ndarray[Any, Any]:
        for i in range(3):
            assert np.array_equal(rel[i].arrays[f"{key}.a"], rel[(i + 2) % 3].arrays[f"{key}.b"])
        return rel[0].arrays[f"{key}.a"] + rel[1].arrays[f"{key}.a"] + rel[2].arrays[f"{key}.a"]

    for sd in meta["columns"]:
        spec = spec_from_json(sd)
        null = opened(f"{spec.name}.null") if f"{spec.name}.null.a" in rel[0].arrays else None
        data[spec.name] = decode_column(spec, opened(f"{spec.name}.values"), null).to_numpy()
    out = pd.DataFrame(data)
    assert len(out) == meta["rows"]
    return out


def run(plan_root: dict[str, Any], **frames: tuple[pd.DataFrame, list[ColumnSpec]]) -> pd.DataFrame:
    plan = {"version": 1, "root": plan_root, "release": {"kind": "rows"}}
    inputs = shared(frames)
    for d in inputs:
        d["plan"] = plan
    return reconstruct(run_parties(body, inputs))


def rows(df: pd.DataFrame, *, ordered: bool = False) -> list[tuple[Any, ...]]:
    out = [
        tuple(None if pd.isna(v) else (v if isinstance(v, str) else int(v)) for v in r)
        for r in df.itertuples(index=False)
    ]
    return out if ordered else sorted(out, key=repr)


def scan(table: str, columns: list[str] | None = None) -> dict[str, Any]:
    return {"op": "scan", "table": table, "columns": columns}


def test_scan_filter_assign_project_matches_pandas() -> None:
    adult = col("age") >= lit(18)
    plan = {
        "op": "project",
        "columns": ["id", "older"],
        "input": {
            "op": "assign",
            "columns": {"older": to_json(col("age") + lit(1))},
            "input": {"op": "filter", "predicate": to_json(adult), "input": scan("people")},
        },
    }
    got = run(plan, people=(people(), PEOPLE))
    df = plain.filter_rows(people(), adult)
    want = pd.DataFrame({"id": df["id"], "older": df["age"] + 1})
    assert rows(got) == rows(want)


def test_sort_then_head_keeps_the_order() -> None:
    plan = {
        "op": "head",
        "n": 4,
        "input": {
            "op": "sort",
            "by": ["age", "id"],
            "descending": [True, False],
            "input": scan("people"),
        },
    }
    got = run(plan, people=(people(), PEOPLE))
    want = people().sort_values(["age", "id"], ascending=[False, True], na_position="last").head(4)
    assert rows(got, ordered=True) == rows(want, ordered=True)


def test_head_of_a_filter_returns_the_first_valid_rows() -> None:
    young = col("age") < lit(30)
    plan = {
        "op": "head",
        "n": 3,
        "input": {"op": "filter", "predicate": to_json(young), "input": scan("people")},
    }
    got = run(plan, people=(people(), PEOPLE))
    assert rows(got, ordered=True) == rows(plain.filter_rows(people(), young).head(3), ordered=True)


def test_groupby_counts_and_sums_per_region() -> None:
    plan = {
        "op": "groupby",
        "keys": ["region"],
        "aggs": {"n": ["*", "count"], "ages": ["age", "sum"]},
        "input": scan("people"),
    }
    got = run(plan, people=(people(), PEOPLE))
    want = plain.groupby(people(), ["region"], {"n": ("*", "count"), "ages": ("age", "sum")})
    assert rows(got) == rows(want)


def test_inner_join_and_distinct_match_pandas() -> None:
    join = {
        "op": "join",
        "left": scan("cases"),
        "right": scan("people", ["id", "region"]),
        "on": ["id"],
        "how": "inner",
        "validate": "m:1",
        "max_multiplicity": None,
    }
    got = run(
        {
            "op": "distinct",
            "keys": ["region"],
            "input": {"op": "project", "columns": ["region"], "input": join},
        },
        people=(people(), PEOPLE),
        cases=(cases(), CASES),
    )
    merged = cases().merge(people()[["id", "region"]], on="id")
    assert rows(got) == rows(merged[["region"]].drop_duplicates())


def test_concat_and_overlap_of_two_lists() -> None:
    a = scan("people", ["id"])
    b = scan("cases", ["id"])
    got = run({"op": "concat", "inputs": [a, b]}, people=(people(), PEOPLE), cases=(cases(), CASES))
    assert rows(got) == rows(pd.concat([people()[["id"]], cases()[["id"]]]))
    ov = run(
        {"op": "overlap", "inputs": [a, b], "on": ["id"]},
        people=(people(), PEOPLE),
        cases=(cases(), CASES),
    )
    counts = {(int(r[0]), int(r[1])): int(r[2]) for r in rows(ov)}
    assert counts == {(1, 0): 8, (0, 1): 1, (1, 1): 4}


def test_the_tables_and_the_row_order_of_a_result_are_read_from_the_typed_plan() -> None:
    root = {
        "op": "sort",
        "by": ["id"],
        "descending": [False],
        "input": {"op": "concat", "inputs": [scan("a"), scan("b"), scan("a")]},
    }
    plan = tree.from_json({"version": 1, "root": root, "release": {"kind": "rows"}})
    assert tree.tables(plan) == ["a", "b"]
    assert tree.ordered(plan)
    kept = {"op": "project", "columns": ["id"], "input": {"op": "head", "n": 2, "input": root}}
    assert tree.ordered(tree.node_from_json(kept))  # a projection keeps the order
    assert not tree.ordered(tree.node_from_json(scan("a")))
    grouped = {"op": "groupby", "keys": ["id"], "aggs": {}, "input": root}
    assert not tree.ordered(tree.node_from_json(grouped))  # groups come in no order


@pytest.mark.parametrize(
    "root",
    [
        {"op": "explode", "input": scan("people")},
        {"op": "filter", "input": scan("people")},
        {"op": "project", "columns": ["nope"], "input": scan("people")},
        {"op": "head", "n": "3", "input": scan("people")},
    ],
)
def test_a_malformed_plan_is_refused_before_computing(root: dict[str, Any]) -> None:
    with pytest.raises(PlanError):
        run(root, people=(people(), PEOPLE))

"""Distinct (keep the first row per key) and top-k against pandas."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharelake.harness.runner import run_parties
from sharelake.mpc.party import Party
from sharelake.relational import plain
from sharelake.relational.distinct import distinct
from sharelake.relational.expr import col
from sharelake.relational.ops import filter_rows
from sharelake.relational.table import ColumnSpec
from sharelake.relational.topk import top_k

from .helpers import (
    I64_MAX,
    I64_MIN,
    canon,
    canon_sorted,
    released,
    released_frame,
    table_inputs,
    unpack_table,
)

SPECS = [
    ColumnSpec("k", "int"),
    ColumnSpec("name", "string", max_len=12),
    ColumnSpec("v", "int"),
]
EDGE = [0, 1, -1, I64_MIN, I64_MAX]
NAMES = ["ana", "bo", "чен", "ana "]


def body_distinct_topk(
    p: Party, t: dict[str, Any], keys: list[str], by: list[str], k: int, desc: bool
) -> dict[str, Any]:
    tt = filter_rows(p, unpack_table(t), col("v") != 99)
    return {
        "distinct": released(p, distinct(p, tt, keys)),
        "top": released(p, top_k(p, tt, by, k, descending=desc)),
    }


def _frame(k: list[Any], names: list[Any], v: list[Any]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "k": pd.array(k, dtype="Int64"),
            "name": pd.array(names, dtype=object),
            "v": pd.array(v, dtype="Int64"),
        }
    )


def _run(
    df: pd.DataFrame,
    keys: list[str],
    by: list[str],
    k: int,
    desc: bool = True,
    transport: str = "memory",
) -> None:
    inputs = table_inputs({"t": (df, SPECS)})
    for i in range(3):
        inputs[i].update(keys=keys, by=by, k=k, desc=desc)
    res = run_parties(body_distinct_topk, inputs, transport=transport)[0]
    src = df[(df["v"] != 99).fillna(False).astype(bool)].reset_index(drop=True)
    got_d = released_frame(res["distinct"])
    got_d["name"] = got_d["name"].astype(object)
    want_d = plain.distinct(src, keys)
    # the secure result is in key order, the twin in first-seen order: compare as sets,
    # with the text column standing for strings
    got_d = _with_names(got_d, res["distinct"])
    assert canon_sorted(got_d, ["k", "name", "v"]) == canon_sorted(want_d, ["k", "name", "v"])
    got_t = _with_names(released_frame(res["top"]), res["top"])
    assert canon(got_t, ["k", "name", "v"]) == canon(plain.top_k(src, by, k, descending=desc))


def _with_names(df: pd.DataFrame, res: dict[str, Any]) -> pd.DataFrame:
    """Decode the packed string bytes of ``name`` (the digest column decodes to numbers)."""
    text = res["data"]["name.text"]
    null = res["data"]["name.null"]
    out = df.copy()
    out["name"] = [
        None if z else bytes(row.tobytes()).rstrip(b"\0").decode("utf-8")
        for row, z in zip(text, null, strict=True)
    ]
    return out


@st.composite
def frames(draw: Any, max_rows: int = 9) -> pd.DataFrame:
    n = draw(st.integers(0, max_rows))
    k = draw(st.lists(st.one_of(st.none(), st.sampled_from(EDGE)), min_size=n, max_size=n))
    nm = draw(st.lists(st.one_of(st.none(), st.sampled_from(NAMES)), min_size=n, max_size=n))
    v = draw(
        st.lists(
            st.one_of(st.none(), st.integers(-3, 3), st.just(99), st.sampled_from(EDGE)),
            min_size=n,
            max_size=n,
        )
    )
    return _frame(k, nm, v)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frames(),
    st.sampled_from([["k"], ["name"], ["k", "name"]]),
    st.sampled_from([["v"], ["k", "v"]]),
    st.integers(0, 6),
    st.booleans(),
)
def test_distinct_and_top_k_match_pandas_on_random_tables(
    df: pd.DataFrame, keys: list[str], by: list[str], k: int, desc: bool
) -> None:
    _run(df, keys, by, k, desc)


@pytest.mark.parametrize(
    ("k", "v"),
    [
        ([], []),
        ([5], [I64_MIN]),
        ([7] * 5, [3, 3, 3, 3, 3]),
        ([I64_MIN, I64_MAX, I64_MIN, I64_MAX], [I64_MAX, I64_MIN, None, 0]),
    ],
    ids=["empty", "one row", "all duplicates", "int64 limits and nulls"],
)
def test_distinct_keeps_the_first_row_and_top_k_breaks_ties_by_input_order(
    k: list[Any], v: list[Any]
) -> None:
    names = [NAMES[i % len(NAMES)] for i in range(len(k))]
    _run(_frame(k, names, v), ["k"], ["v"], 2)
    _run(_frame(k, names, v), ["k"], ["v"], 10, desc=False)


def test_top_k_larger_than_the_valid_rows_keeps_them_all() -> None:
    df = _frame([1, 2, 3], ["a", "b", "c"], [99, 5, 99])
    _run(df, ["k"], ["v"], 5)


def test_distinct_and_top_k_run_across_three_processes_over_tls(transport: str) -> None:
    df = _frame([1, 1, None, 2, None], ["ana", "bo", None, "bo", "x"], [4, 4, -1, 99, 2])
    _run(df, ["k"], ["v"], 3, transport=transport)

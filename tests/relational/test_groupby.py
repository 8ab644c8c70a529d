"""Group-by against pandas ``groupby(dropna=False)``: count, sum, mean, min, max, count-distinct."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharelake.harness.runner import run_parties
from sharelake.mpc.party import Party
from sharelake.relational import plain
from sharelake.relational.expr import col
from sharelake.relational.groupby import AggFn, groupby
from sharelake.relational.ops import filter_rows
from sharelake.relational.table import ColumnSpec

from .helpers import (
    I64_MAX,
    I64_MIN,
    canon_sorted,
    released,
    released_frame,
    table_inputs,
    unpack_table,
)

CATS = ("a", "b", "c")
SPECS = [
    ColumnSpec("k", "int"),
    ColumnSpec("c", "category", categories=CATS),
    ColumnSpec("v", "int"),
    ColumnSpec("x", "fixed", frac_bits=8),
]
AGGS: dict[str, tuple[str, AggFn]] = {
    "rows": ("*", "count"),
    "nv": ("v", "count"),
    "total": ("v", "sum"),
    "avg": ("v", "mean"),
    "lo": ("v", "min"),
    "hi": ("v", "max"),
    "kinds": ("c", "count_distinct"),
    "values": ("v", "count_distinct"),
    "xs": ("x", "sum"),
    "xmax": ("x", "max"),
}
EDGE = [0, 1, -1, 9, I64_MIN, I64_MAX]


def body_groupby(
    p: Party, t: dict[str, Any], keys: list[str], aggs: dict[str, list[str]], where: bool
) -> dict[str, Any]:
    tt = unpack_table(t)
    if where:
        tt = filter_rows(p, tt, col("k") != 9)
    spec: dict[str, tuple[str, AggFn]] = {k: (v[0], v[1]) for k, v in aggs.items()}  # type: ignore[misc]
    return released(p, groupby(p, tt, keys, spec))


def _run(
    df: pd.DataFrame,
    keys: list[str],
    aggs: dict[str, tuple[str, AggFn]] = AGGS,
    *,
    where: bool = False,
    transport: str = "memory",
) -> None:
    inputs = table_inputs({"t": (df, SPECS)})
    for i in range(3):
        inputs[i].update(keys=keys, aggs={k: list(v) for k, v in aggs.items()}, where=where)
    res = run_parties(body_groupby, inputs, transport=transport)[0]
    got = released_frame(res)
    src = df[df["k"] != 9] if where else df
    want = plain.groupby(src, keys, aggs)
    cols = list(want.columns)
    assert canon_sorted(got, cols) == canon_sorted(want, cols)


@st.composite
def frames(draw: Any, max_rows: int = 10) -> pd.DataFrame:
    n = draw(st.integers(0, max_rows))
    pool = draw(st.lists(st.sampled_from(EDGE), min_size=1, max_size=3))
    k = draw(st.lists(st.one_of(st.none(), st.sampled_from(pool)), min_size=n, max_size=n))
    c = draw(st.lists(st.one_of(st.none(), st.sampled_from(CATS)), min_size=n, max_size=n))
    v = draw(
        st.lists(
            st.one_of(st.none(), st.integers(-5, 5), st.sampled_from(EDGE)), min_size=n, max_size=n
        )
    )
    x = draw(st.lists(st.one_of(st.none(), st.integers(-40, 40)), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "k": pd.array(k, dtype="Int64"),
            "c": pd.Categorical(c, categories=list(CATS)),
            "v": pd.array(v, dtype="Int64"),
            "x": pd.array([None if q is None else q / 4 for q in x], dtype="Float64"),
        }
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.sampled_from([["k"], ["c"], ["c", "k"]]), st.booleans())
def test_groupby_matches_pandas_on_random_tables_with_nulls_and_int64_limits(
    df: pd.DataFrame, keys: list[str], where: bool
) -> None:
    _run(df, keys, where=where)


def _frame(k: list[Any], v: list[Any], c: list[Any] | None = None) -> pd.DataFrame:
    n = len(k)
    return pd.DataFrame(
        {
            "k": pd.array(k, dtype="Int64"),
            "c": pd.Categorical(c if c is not None else ["a"] * n, categories=list(CATS)),
            "v": pd.array(v, dtype="Int64"),
            "x": pd.array([0.5] * n, dtype="Float64"),
        }
    )


def test_groupby_of_an_empty_table_has_no_groups() -> None:
    _run(_frame([], []), ["k"])


def test_groupby_of_one_row_is_one_group() -> None:
    _run(_frame([I64_MIN], [I64_MAX]), ["k"])


def test_all_duplicate_keys_make_one_group_and_sums_wrap_like_int64() -> None:
    _run(_frame([3] * 6, [I64_MAX, I64_MAX, 1, None, -2, I64_MIN]), ["k"])


def test_min_and_max_of_an_all_null_group_are_null_and_null_keys_form_a_group() -> None:
    _run(_frame([None, None, 1, 1, None], [None, None, 4, None, 7]), ["k"])


def test_a_filter_that_keeps_no_row_gives_no_group() -> None:
    _run(_frame([9, 9, 9], [1, 2, 3]), ["k"], where=True)


def test_means_are_released_as_sum_and_count_and_divided_after_release() -> None:
    df = _frame([1, 1, 2, 2, 2], [2, 5, None, None, None])
    want = plain.finish_means(plain.groupby(df, ["k"], {"m": ("v", "mean")}), ["m"])
    assert list(want["m_sum"]) == [7, 0] and list(want["m_count"]) == [2, 0]
    assert want["m"].iloc[0] == 3.5 and np.isnan(want["m"].iloc[1])
    _run(df, ["k"], {"m": ("v", "mean")})


def test_groupby_runs_across_three_processes_over_tls(transport: str) -> None:
    df = _frame([1, 2, 1, None, 2, 2], [5, -1, None, 3, 8, 8], ["a", "b", "a", "c", None, "b"])
    _run(df, ["k"], transport=transport)

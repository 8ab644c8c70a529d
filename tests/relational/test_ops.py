"""Filter, project, assign, concat/union, sort and compaction against their pandas twins."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharelake.harness.runner import run_parties
from sharelake.mpc import scan
from sharelake.mpc.arith import open_arith
from sharelake.mpc.party import Party
from sharelake.mpc.sharing import share_arith
from sharelake.relational import ops, plain
from sharelake.relational.compact import compact
from sharelake.relational.expr import col, when
from sharelake.relational.table import ColumnSpec

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

CATS = ("north", "east", "south", "west")
SPECS = [
    ColumnSpec("k", "int"),
    ColumnSpec("v", "int"),
    ColumnSpec("c", "category", categories=CATS),
    ColumnSpec("b", "bool"),
]
SETTINGS = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EDGE = [0, 1, -1, 7, -7, I64_MIN, I64_MAX]


@st.composite
def frames(draw: Any, max_rows: int = 9) -> pd.DataFrame:
    """Random tables: few distinct keys (duplicates), nulls, negatives, int64 limits."""
    n = draw(st.integers(0, max_rows))
    pool = draw(st.lists(st.sampled_from(EDGE), min_size=1, max_size=3))
    k = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    v = draw(
        st.lists(
            st.one_of(st.none(), st.integers(-40, 40), st.sampled_from([I64_MIN, I64_MAX])),
            min_size=n,
            max_size=n,
        )
    )
    c = draw(st.lists(st.one_of(st.none(), st.sampled_from(CATS)), min_size=n, max_size=n))
    b = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "k": pd.array(k, dtype="Int64"),
            "v": pd.array(v, dtype="Int64"),
            "c": pd.Categorical(c, categories=list(CATS)),
            "b": pd.array(b, dtype=bool),
        }
    )


def fixed_frame(n: int, seed: int = 1) -> pd.DataFrame:
    """A deterministic table of ``n`` rows with the same shape as :func:`frames`."""
    rng = np.random.default_rng(seed)
    v = [None if rng.random() < 0.2 else int(x) for x in rng.integers(-40, 40, n)]
    c = [None if rng.random() < 0.2 else str(x) for x in rng.choice(CATS, n)]
    return pd.DataFrame(
        {
            "k": pd.array(rng.choice(EDGE, n), dtype="Int64"),
            "v": pd.array(v, dtype="Int64"),
            "c": pd.Categorical(c, categories=list(CATS)),
            "b": pd.array(rng.random(n) < 0.5, dtype=bool),
        }
    )


PRED = (col("v") >= 0) | col("b")


def body_single_table_ops(p: Party, t: dict[str, Any], u: dict[str, Any]) -> dict[str, Any]:
    tt, uu = unpack_table(t), unpack_table(u)
    kept = ops.filter_rows(p, tt, PRED)
    return {
        "filter": released(p, kept),
        "project": released(p, ops.project(p, kept, ["b", "k"])),
        "assign": released(
            p,
            ops.assign(
                p, tt, w=when(col("b"), col("v") * 2, col("k") - 1), big=col("v") > col("k")
            ),
        ),
        "sort": released(p, ops.sort_table(p, tt, ["c", "v"], descending=[True, False])),
        "sort_filtered": released(p, ops.sort_table(p, kept, "k")),
        "concat": released(p, ops.concat(p, [kept, uu])),
        "union": released(p, ops.union(p, [tt.select(["k", "c"]), uu.select(["k", "c"])])),
        "compact": released(p, compact(p, kept, order="random")),
    }


def _run(df: pd.DataFrame, df2: pd.DataFrame, transport: str = "memory") -> dict[str, Any]:
    inputs = table_inputs({"t": (df, SPECS), "u": (df2, SPECS)})
    res: dict[str, Any] = run_parties(body_single_table_ops, inputs, transport=transport)[0]
    return res


def _check(df: pd.DataFrame, df2: pd.DataFrame, res: dict[str, Any]) -> None:
    kept = plain.filter_rows(df, PRED)
    got = {k: released_frame(v) for k, v in res.items()}
    assert canon(got["filter"]) == canon(kept)
    assert canon(got["project"]) == canon(plain.project(kept, ["b", "k"]))
    want_assign = plain.assign(
        df, w=when(col("b"), col("v") * 2, col("k") - 1), big=col("v") > col("k")
    )
    assert canon(got["assign"]) == canon(want_assign)
    want_sort = plain.sort_table(df, ["c", "v"], descending=[True, False])
    assert canon(got["sort"]) == canon(want_sort)
    assert canon(got["sort_filtered"]) == canon(plain.sort_table(kept, "k"))
    assert canon(got["concat"]) == canon(plain.concat([kept, df2]))
    want_union = plain.union([df[["k", "c"]], df2[["k", "c"]]])
    assert canon_sorted(got["union"]) == canon_sorted(want_union)
    assert canon_sorted(got["compact"]) == canon_sorted(kept)


@SETTINGS
@given(frames(), frames(max_rows=4))
def test_single_table_operators_match_pandas_on_random_tables(
    df: pd.DataFrame, df2: pd.DataFrame
) -> None:
    _check(df, df2, _run(df, df2))


def test_operators_handle_empty_and_one_row_tables() -> None:
    empty = fixed_frame(0)
    one = pd.DataFrame(
        {
            "k": pd.array([I64_MIN], dtype="Int64"),
            "v": pd.array([None], dtype="Int64"),
            "c": pd.Categorical(["west"], categories=list(CATS)),
            "b": pd.array([True], dtype=bool),
        }
    )
    _check(empty, one, _run(empty, one))
    _check(one, empty, _run(one, empty))


def test_sort_keeps_ties_in_input_order_and_puts_nulls_and_int64_limits_right() -> None:
    df = pd.DataFrame(
        {
            "k": pd.array([I64_MAX, None, I64_MIN, 0, I64_MAX, None, -1, 0], dtype="Int64"),
            "v": pd.array(range(8), dtype="Int64"),
            "c": pd.Categorical(["west", None, "north", "east"] * 2, categories=list(CATS)),
            "b": pd.array([True, False] * 4, dtype=bool),
        }
    )
    _check(df, df.iloc[:2], _run(df, df.iloc[:2]))


def test_single_table_operators_run_across_three_processes_over_tls(transport: str) -> None:
    df = fixed_frame(7)
    _check(df, df.iloc[:2], _run(df, df.iloc[:2], transport))


def test_a_filter_predicate_must_be_boolean() -> None:
    parts = table_inputs({"t": (fixed_frame(5), SPECS)})

    def body(p: Party, t: dict[str, Any]) -> None:
        ops.filter_rows(p, unpack_table(t), col("v") + 1)

    with pytest.raises(TypeError, match="boolean"):
        run_parties(body, [{"t": x["t"]} for x in parts])


def test_assign_infers_kinds_and_rejects_meaningless_arithmetic() -> None:
    parts = table_inputs({"t": (fixed_frame(5), SPECS)})
    t = unpack_table(parts[0]["t"])
    assert ops.infer_spec(t, col("v") > 3, "x").kind == "bool"
    assert ops.infer_spec(t, col("v") * col("b"), "x").kind == "int"
    assert ops.infer_spec(t, col("c"), "x").categories == CATS
    with pytest.raises(TypeError):
        ops.infer_spec(t, col("c") + 1, "x")


# ---- the scan building blocks ---------------------------------------------------------------


def body_scans(p: Party, keys: Any, x: Any) -> dict[str, Any]:
    s = scan.segment_starts(p, [keys], bits=64)
    copied, keycopy = scan.segmented_copy(p, s, [x, keys])
    (summed,) = scan.segmented_sum(p, s, [x])
    (low,) = scan.segmented_min(p, s, [x])
    (high,) = scan.segmented_max(p, s, [x])
    return {
        k: open_arith(p, v)
        for k, v in dict(
            starts=s, copy=copied, keycopy=keycopy, sum=summed, min=low, max=high
        ).items()
    }


@settings(max_examples=8, deadline=None)
@given(
    st.lists(st.sampled_from(EDGE), min_size=0, max_size=20),
    st.integers(0, 2**32),
)
def test_segmented_scans_match_pandas_cumulative_group_operations(
    raw: list[int], seed: int
) -> None:
    keys = np.sort(np.array(raw, dtype=np.int64))
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([*EDGE, 3, 12], dtype=np.int64), len(keys))
    ks, xs = share_arith(keys.view(np.uint64)), share_arith(x.view(np.uint64))
    r = run_parties(body_scans, [{"keys": ks[i], "x": xs[i]} for i in range(3)])[0]
    g = pd.DataFrame({"k": keys, "x": x}).groupby("k", sort=False)["x"]
    starts = np.r_[np.ones(min(1, len(keys)), bool), keys[1:] != keys[:-1]]
    np.testing.assert_array_equal(r["starts"], starts.astype(np.uint64))
    np.testing.assert_array_equal(r["copy"].view(np.int64), g.transform("first"))
    np.testing.assert_array_equal(r["keycopy"].view(np.int64), keys)
    with np.errstate(over="ignore"):
        want_sum = g.transform(lambda s: np.cumsum(s.to_numpy(), dtype=np.int64))
    np.testing.assert_array_equal(r["sum"].view(np.int64), want_sum)
    np.testing.assert_array_equal(r["min"].view(np.int64), g.cummin())
    np.testing.assert_array_equal(r["max"].view(np.int64), g.cummax())

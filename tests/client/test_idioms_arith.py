"""Secure division inside MPC (three in-memory parties, default security level) equals
pandas: ``/`` between integer and decimal columns and constants (a decimal quotient,
exact up to its 2^-16 truncation), ``//`` and ``%`` on integer columns (Python's floor
semantics with negative numbers), in computed columns, filters, query strings and
group keys. A zero or missing divisor gives a missing value (pandas: inf or NaN).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sharelake.client.frame import Table
from sharelake.plan.canonical import PlanError
from sharelake.relational.table import ColumnSpec

from .helpers_idioms import frame_equal, run

SPECS = [
    ColumnSpec("pid", "int", nullable=False),
    ColumnSpec("a", "int"),
    ColumnSpec("b", "int"),
    ColumnSpec("x", "fixed"),
    ColumnSpec("y", "fixed"),
]
COLS = [s.name for s in SPECS]
STEP = 2.0**-16


def frame(seed: int) -> pd.DataFrame:
    """Random signed values with zeros and missing values, plus the sign edge cases."""
    rng = np.random.default_rng(seed)
    n = 30
    a = [7, -7, 7, -7, 0, 5, 1000003, -1, *rng.integers(-500, 500, n).tolist()]
    b = [2, 2, -2, -2, 3, 0, 7, 1000, *rng.integers(-9, 9, n).tolist()]
    m = len(a)
    am, bm = pd.array(a, dtype="Int64"), pd.array(b, dtype="Int64")
    am[rng.random(m) < 0.1] = pd.NA
    bm[rng.random(m) < 0.1] = pd.NA
    x = pd.array(np.round(rng.uniform(-100, 100, m) * 8) / 8, dtype="Float64")
    y = pd.array(np.round(rng.uniform(-4, 4, m) * 4) / 4, dtype="Float64")  # zeros too
    x[rng.random(m) < 0.1] = pd.NA
    return pd.DataFrame({"pid": np.arange(m, dtype=np.int64), "a": am, "b": bm, "x": x, "y": y})


def t() -> Table:
    return Table.of("t", COLS)


def exact(num: Any, den: Any, op: str) -> float | None:
    """Python's semantics on exact values; None for a missing or zero divisor; ``/`` is
    the quotient truncated toward zero to a multiple of 2^-16 (the stated precision)."""
    if pd.isna(num) or pd.isna(den) or den == 0:
        return None
    n, d = Fraction(float(num)), Fraction(float(den))
    if op == "//":
        return float(n // d)
    if op == "%":
        return float(n % d)
    q = n / d
    return math.copysign(float(math.floor(abs(q) * 2**16)) / 2**16, float(q))


def want(df: pd.DataFrame, left: str | float, right: str | float, op: str) -> list[Any]:
    ls = df[left] if isinstance(left, str) else [left] * len(df)
    rs = df[right] if isinstance(right, str) else [right] * len(df)
    return [exact(u, v, op) for u, v in zip(ls, rs, strict=True)]


def got_of(df: pd.DataFrame, col: str) -> list[Any]:
    out = []
    for v in df.sort_values("pid")[col].astype(object).tolist():
        out.append(
            None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else float(v)
        )
    return out


@pytest.mark.parametrize("seed", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_floor_division_and_modulo_of_integer_columns_equal_python_with_negative_numbers(
    seed: int,
) -> None:
    df = frame(seed)
    q = t()
    got = run(q.assign(f=q.a // q.b, m=q.a % q.b)[["pid", "f", "m"]], {"t": (df, SPECS)})
    assert got_of(got, "f") == want(df, "a", "b", "//")
    assert got_of(got, "m") == want(df, "a", "b", "%")
    ok = df.b.notna() & df.a.notna() & (df.b != 0)
    pandas_f = (df.a[ok] // df.b[ok]).astype(float).tolist()  # pandas agrees where defined
    assert [v for v, k in zip(got_of(got, "f"), ok, strict=True) if k] == pandas_f


def test_true_division_of_integer_and_decimal_columns_is_the_quotient_truncated_to_2_pow_16() -> (
    None
):
    df = frame(3)
    q = t()
    res = run(
        q.assign(ab=q.a / q.b, xy=q.x / q.y, xb=q.x / q.b, ay=q.a / q.y)[
            ["pid", "ab", "xy", "xb", "ay"]
        ],
        {"t": (df, SPECS)},
    )
    for name, (lcol, rcol) in {
        "ab": ("a", "b"),
        "xy": ("x", "y"),
        "xb": ("x", "b"),
        "ay": ("a", "y"),
    }.items():
        assert got_of(res, name) == want(df, lcol, rcol, "/"), name
        ok = df[lcol].notna() & df[rcol].notna() & (df[rcol] != 0)
        pandas_q = (df[lcol][ok] / df[rcol][ok]).astype(float).to_numpy()
        mine = np.array([v for v, k in zip(got_of(res, name), ok, strict=True) if k])
        assert np.all(np.abs(mine - pandas_q) < STEP), name


def test_division_by_constants_and_of_a_constant_by_a_column_equals_pandas() -> None:
    df = frame(4)
    q = t()
    res = run(
        q.assign(a3=q.a / 3, x10=q.x / 10, inv=100 / q.b, fd=q.a // -4, md=q.a % 3)[
            ["pid", "a3", "x10", "inv", "fd", "md"]
        ],
        {"t": (df, SPECS)},
    )
    assert got_of(res, "a3") == want(df, "a", 3, "/")
    assert got_of(res, "x10") == want(df, "x", 10, "/")
    assert got_of(res, "inv") == want(df.assign(c=100), "c", "b", "/")
    assert got_of(res, "fd") == want(df, "a", -4, "//")
    assert got_of(res, "md") == want(df, "a", 3, "%")


def test_modulo_filters_query_strings_and_group_keys_equal_pandas() -> None:
    df = frame(5)
    q = t()
    even = run(q[q.a % 2 == 0][["pid"]], {"t": (df, SPECS)})
    assert sorted(even.pid.tolist()) == df.pid[(df.a % 2 == 0).fillna(False)].tolist()
    odd = run(q.query("a % 2 == 1 and a // 10 >= 0")[["pid"]], {"t": (df, SPECS)})
    keep = ((df.a % 2 == 1) & (df.a // 10 >= 0)).fillna(False)
    assert sorted(odd.pid.tolist()) == df.pid[keep].tolist()
    per = run(q.assign(bucket=q.a // 100).groupby("bucket").size(), {"t": (df, SPECS)})
    w = df.assign(bucket=df.a // 100).groupby("bucket", dropna=False).size()
    frame_equal(per, w.rename("size").reset_index(), by=["bucket"])


def test_a_numerator_beyond_the_stated_range_gives_a_missing_value() -> None:
    df = pd.DataFrame(
        {
            "pid": np.arange(4, dtype=np.int64),
            "a": pd.array([2**44 - 1, 2**44, -(2**44), 2**59], dtype="Int64"),
            "b": pd.array([1, 1, 1, 1], dtype="Int64"),
            "x": pd.array([0.0] * 4, dtype="Float64"),
            "y": pd.array([1.0] * 4, dtype="Float64"),
        }
    )
    q = t()
    res = run(q.assign(r=q.a / q.b, f=q.a // q.b)[["pid", "r", "f"]], {"t": (df, SPECS)})
    assert got_of(res, "r") == [float(2**44 - 1), None, None, None]  # |a| < 2^44 for "/"
    assert got_of(res, "f") == [float(v) for v in df.a]  # |a| < 2^60 for "//"


def test_floor_division_of_a_decimal_column_is_refused_with_the_alternative() -> None:
    df = frame(6)
    q = t()
    with pytest.raises((TypeError, PlanError), match=r"integer columns.*x / y"):
        run(q.assign(f=q.x // q.y)[["pid", "f"]], {"t": (df, SPECS)})

"""Number literals meeting fixed-point columns: encoded at the column's scale, as pandas.

Each secure result (``bind_literals`` then ``eval_secret`` on three in-memory parties) is
checked against pandas on the decoded column values (which are multiples of 2^-16).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharelake.harness.runner import run_parties
from sharelake.mpc.arith import open_arith
from sharelake.mpc.party import Party
from sharelake.mpc.ring import to_signed
from sharelake.relational.expr import (
    BinOp,
    FixedLit,
    Scaled,
    col,
    eval_plain,
    eval_secret,
    from_json,
    lit,
    to_json,
    when,
)
from sharelake.relational.literals import bind_literals
from sharelake.relational.table import ColumnSpec

from .helpers import table_inputs, unpack_table

F = 16
UNIT = 2.0**-F
LIMIT = 2.0 ** (62 - F)  # |x| < LIMIT: the range of a 16-bit fixed column
SPECS = [ColumnSpec("x", "fixed"), ColumnSpec("n", "int")]
SPEC_OF = {s.name: s for s in SPECS}.__getitem__
SETTINGS = settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COMPARISONS = ("<", "<=", ">", ">=")


def _frame(xs: list[float | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": pd.array(xs, dtype="Float64"),
            "n": pd.array([0] * len(xs), dtype="Int64"),
        }
    )


def _body(p: Party, t: dict[str, Any], exprs: list[Any]) -> list[dict[str, Any]]:
    table = unpack_table(t)
    out = []
    for d in exprs:
        v, nl = eval_secret(p, table, bind_literals(from_json(d), table))
        out.append({"v": open_arith(p, v), "null": None if nl is None else open_arith(p, nl)})
    return out


def secure(xs: list[float | None], exprs: list[Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each expression's (signed ring values, null mask) computed in MPC on column x."""
    parts = table_inputs({"t": (_frame(xs), SPECS)})
    plans = [to_json(e) for e in exprs]
    res = run_parties(_body, [{"t": x["t"], "exprs": plans} for x in parts])[0]
    out = []
    for r in res:
        nl = np.zeros(len(xs), bool) if r["null"] is None else np.asarray(r["null"]) != 0
        out.append((to_signed(np.asarray(r["v"], dtype=np.uint64)), nl))
    return out


def on_grid(draw: Any, low: float, high: float) -> float:
    return draw(st.integers(int(low / UNIT), int(high / UNIT))) * UNIT


@st.composite
def columns(draw: Any) -> list[float | None]:
    """Values on the 2^-16 grid: small, negative, zero, nulls and near the range limits."""
    edge = [0.0, UNIT, -UNIT, 0.5, -0.5, LIMIT / 2 - UNIT, -LIMIT / 2 + UNIT]
    small = st.builds(lambda k: k * UNIT, st.integers(-(2**22), 2**22))
    item = st.one_of(st.none(), small, st.sampled_from(edge))
    return draw(st.lists(item, min_size=1, max_size=8))


LITERALS = st.one_of(
    st.sampled_from([0, 1, -1, 0.5, -0.5, 0.1, -0.1, 1e-9, -1e-9, 2.5, 3, 1 / 3, UNIT / 2]),
    st.floats(-100, 100, allow_nan=False),
    st.integers(-1000, 1000),
)


def _pandas_compare(x: pd.Series, op: str, c: float) -> np.ndarray:
    return {
        "<": x < c,
        "<=": x <= c,
        ">": x > c,
        ">=": x >= c,
    }[op].to_numpy(dtype=bool, na_value=False)


@SETTINGS
@given(columns(), LITERALS)
def test_comparisons_with_a_number_literal_match_pandas_exactly(
    xs: list[float | None], c: float
) -> None:
    exprs: list[Any] = []
    for op in COMPARISONS:
        exprs.append(BinOp(op, col("x"), lit(c)))  # x op c
        exprs.append(BinOp(op, lit(c), col("x")))  # c op x
    got = secure(xs, exprs)
    x = _frame(xs)["x"]
    for i, op in enumerate(COMPARISONS):
        for j, (c_left, e) in enumerate(((False, exprs[2 * i]), (True, exprs[2 * i + 1]))):
            v, nl = got[2 * i + j]
            flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op] if c_left else op
            want = _pandas_compare(x, flipped, c)
            assert list((v != 0) & ~nl) == list(want), (e, op, c)
            assert list(nl) == list(x.isna())


@SETTINGS
@given(columns(), LITERALS)
def test_adding_and_subtracting_a_literal_match_pandas_within_half_a_unit(
    xs: list[float | None], c: float
) -> None:
    got = secure(xs, [col("x") + c, col("x") - c, c - col("x")])
    x = _frame(xs)["x"].to_numpy(dtype=float, na_value=np.nan)
    exact = float(c * 2**F).is_integer()
    for (v, nl), want in zip(got, (x + c, x - c, c - x), strict=True):
        assert list(nl) == list(np.isnan(x))
        diff = np.abs(v[~nl] * UNIT - want[~nl])
        assert np.all(diff <= (0 if exact else UNIT / 2)), (c, diff)


@SETTINGS
@given(columns(), st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -0.25, 1.5, 2.0])))
def test_multiplying_by_an_integer_or_a_short_binary_fraction_is_pandas_rounded_down(
    xs: list[float | None], c: float
) -> None:
    (v, nl), (w, _) = secure(xs, [col("x") * c, c * col("x")])
    x = _frame(xs)["x"].to_numpy(dtype=float, na_value=np.nan)
    want = np.floor(x * c * 2**F)
    big = np.abs(x * c) >= LIMIT / 2  # beyond the column's range: wraps, as int arithmetic
    keep = ~nl & ~big
    assert list(v[keep]) == list(want[keep].astype(np.int64))
    assert list(w[keep]) == list(want[keep].astype(np.int64))


def test_multiplying_by_an_inexact_literal_errs_at_most_half_a_unit_per_unit_of_x() -> None:
    xs = [0.0, 1.0, -1.0, 1000.0, -1234.5, 65535.0]
    ((v, _),) = secure(xs, [col("x") * 0.1])
    got = v * UNIT
    want = np.array(xs) * 0.1
    assert np.all(np.abs(got - want) <= np.abs(xs) * UNIT / 2 + UNIT)


def test_equality_with_a_representable_literal_matches_pandas() -> None:
    xs = [0.5, -0.5, 0.0, None, 0.5 + UNIT, 3.0]
    (eq, nl), (ne, _), (eq3, _) = secure(
        xs, [col("x") == 0.5, col("x") != 0.5, BinOp("==", lit(3), col("x"))]
    )
    x = _frame(xs)["x"]
    assert list((eq != 0) & ~nl) == list((x == 0.5).to_numpy(dtype=bool, na_value=False))
    assert list((ne != 0) & ~nl) == list((x != 0.5).to_numpy(dtype=bool, na_value=False))
    assert list((eq3 != 0) & ~nl) == [False, False, False, False, False, True]


def test_fill_null_and_when_take_a_number_literal_on_a_fixed_column() -> None:
    xs = [1.25, None, -2.0]
    ((v, nl), (w, _)) = secure(xs, [col("x").fill_null(0.5), when(col("x") > 0, col("x"), -1)])
    assert list(v * UNIT) == [1.25, 0.5, -2.0] and not nl.any()
    assert list(w[[0, 2]] * UNIT) == [1.25, -1.0]


def test_comparisons_and_sums_near_the_range_limits_are_exact() -> None:
    top = LIMIT - 1.0  # the float grid is 2^-6 here: every float literal is on the scale
    (v, _), (w, _), (s, _) = secure(
        [top, -top, 0.0], [col("x") >= top - 1.5, col("x") < -top + 0.25, col("x") - 0.75]
    )
    assert list(s * UNIT) == [top - 0.75, -top - 0.75, -0.75]
    assert list(v != 0) == [True, False, False]
    assert list(w != 0) == [False, True, False]


# ---- binding: how literals are encoded, and the errors -------------------------------------


def test_a_literal_is_encoded_at_the_scale_of_its_fixed_column() -> None:
    x8 = {"x": ColumnSpec("x", "fixed", frac_bits=8)}.__getitem__
    b = bind_literals(col("x") > 0.5, x8)
    assert isinstance(b, BinOp) and isinstance(b.right, FixedLit)
    assert (b.right.value, b.right.frac_bits) == (128, 8)


def test_comparisons_round_an_inexact_literal_towards_keeping_them_exact() -> None:
    enc = {}
    for op in COMPARISONS:
        b = bind_literals(BinOp(op, col("x"), lit(0.1)), SPEC_OF)
        assert isinstance(b, BinOp) and isinstance(b.right, FixedLit)
        enc[op] = b.right.value
    # 0.1 * 2^16 = 6553.6
    assert enc == {"<": 6554, "<=": 6553, ">": 6553, ">=": 6554}


def test_multiplication_keeps_integers_and_scales_fractions() -> None:
    two = bind_literals(col("x") * 2.0, SPEC_OF)
    assert isinstance(two, BinOp) and two.right.value == 2  # type: ignore[attr-defined]
    half = bind_literals(0.5 * col("x"), SPEC_OF)
    assert isinstance(half, Scaled) and (half.num, half.shift) == (1, 1)
    tenth = bind_literals(col("x") * 0.1, SPEC_OF)
    assert isinstance(tenth, Scaled) and (tenth.num, tenth.shift) == (6554, 16)


@pytest.mark.parametrize("c", [LIMIT, -LIMIT, 1e30, float("inf")])
def test_a_literal_outside_the_fixed_range_is_refused_naming_the_column(c: float) -> None:
    with pytest.raises(ValueError, match="column 'x'"):
        bind_literals(col("x") < c, SPEC_OF)
    with pytest.raises(ValueError, match="column 'x'"):
        bind_literals(col("x") + c, SPEC_OF)


def test_equality_with_a_literal_off_the_grid_is_refused_naming_the_column() -> None:
    with pytest.raises(ValueError, match=r"column 'x'.*range"):
        bind_literals(col("x") == 0.1, SPEC_OF)


def test_a_non_integer_literal_meeting_an_int_column_is_refused() -> None:
    with pytest.raises(TypeError, match="column 'n' is int"):
        bind_literals(col("n") > 17.5, SPEC_OF)
    assert bind_literals(col("n") > 17.0, SPEC_OF).right.value == 17  # type: ignore[attr-defined]


def test_an_integer_literal_on_an_int_column_is_left_as_it_was() -> None:
    b = bind_literals((col("n") + 1) * 3 >= 7, SPEC_OF)
    assert to_json(b) == to_json((col("n") + 1) * 3 >= 7)


def test_the_plain_twin_evaluates_a_bound_scaled_product() -> None:
    df = pd.DataFrame({"x": [3 * 2**F, -(2**F), 1]})
    v, _ = eval_plain(df, bind_literals(col("x") * 0.5, SPEC_OF))
    assert list(v) == [3 * 2**F // 2, -(2**F) // 2, 0]

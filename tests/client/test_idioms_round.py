"""``round(decimals)`` of decimal columns inside MPC (three in-memory parties, default
security level) equals pandas' (ties to even) within the column's 2^-16 grid; an
integer column is unchanged; missing stays missing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sharelake.client.frame import Table
from sharelake.relational.table import ColumnSpec

from .helpers_idioms import run

SPECS = [ColumnSpec("pid", "int", nullable=False), ColumnSpec("x", "fixed"), ColumnSpec("a", "int")]


def frame(seed: int) -> pd.DataFrame:
    """Multiples of 1/64 (exact in both pandas' floats and the 2^-16 grid), with ties
    such as 0.125 (round(2) -> 0.12) and 2.5 (round(0) -> 2), negatives and missing."""
    rng = np.random.default_rng(seed)
    ties = [0.125, 0.375, -0.125, 2.5, 3.5, -2.5, 0.5, -0.5, 1.0625, 0.0]
    x = ties + (rng.integers(-64000, 64000, 30) / 64).tolist()
    m = len(x)
    xs = pd.array(x, dtype="Float64")
    xs[rng.random(m) < 0.1] = pd.NA
    return pd.DataFrame(
        {"pid": np.arange(m, dtype=np.int64), "x": xs, "a": rng.integers(-50, 50, m)}
    )


@pytest.mark.parametrize(
    "decimals",
    [0, 2, pytest.param(1, marks=pytest.mark.slow), pytest.param(3, marks=pytest.mark.slow)],
)
def test_round_of_a_decimal_column_equals_pandas_with_ties_to_even(decimals: int) -> None:
    df = frame(decimals)
    t = Table.of("t", ["pid", "x", "a"])
    got = run(
        t.assign(r=t.x.round(decimals), i=t.a.round(decimals))[["pid", "r", "i"]],
        {"t": (df, SPECS)},
    )
    got = got.sort_values("pid").reset_index(drop=True)
    want = df.x.astype("float64").round(decimals)
    assert got.r.isna().tolist() == want.isna().tolist()
    ok = want.notna()
    assert np.all(np.abs(got.r[ok].to_numpy(float) - want[ok].to_numpy()) < 2.0**-16)
    assert got.i.tolist() == df.a.tolist()


def test_round_takes_zero_to_six_decimals() -> None:
    t = Table.of("t", ["x"])
    with pytest.raises(ValueError, match="0 to 6"):
        t.x.round(-1)
    with pytest.raises(ValueError, match="0 to 6"):
        t.x.round(7)

"""var and std per group and over the whole table inside MPC (three in-memory parties, at
the default security level) equal pandas'.

Seeded random data with negative values, missing values, a group of one (missing for
ddof 1, 0 for ddof 0), a group whose values are all missing, rows a filter dropped,
decimal columns on the fixed-point grid (where the secure squares are exact) and off it
(where the stated bound applies), values near the stated range, and describe's std row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sharelake.client.frame import Table
from sharelake.plan.canonical import PlanError
from sharelake.relational.plain import finish_moments
from sharelake.relational.table import ColumnSpec

from .helpers_idioms import frame_equal, run

SPECS = [
    ColumnSpec("g", "int", nullable=False),
    ColumnSpec("v", "int"),
    ColumnSpec("x", "fixed"),
    ColumnSpec("keep", "bool", nullable=False),
]
COLS = [s.name for s in SPECS]


def frame(seed: int, *, scale: float = 100.0, grid: int = 8) -> pd.DataFrame:
    """Groups 0..5 of random sizes, a group of one (8), of two (9) and one whose values
    are all missing (10); x on the grid 1/``grid`` (1/8: exact squares at 2^-16)."""
    rng = np.random.default_rng(seed)
    n = 50
    g = np.concatenate([rng.integers(0, 6, n), [8, 9, 9, 10, 10]])
    m = len(g)
    v = rng.integers(-30, 30, m).astype(object)
    v[rng.random(m) < 0.15] = None
    v[g == 10] = None
    x = pd.Series(np.round(rng.uniform(-scale, scale, m) * grid) / grid, dtype="Float64")
    x[rng.random(m) < 0.1] = pd.NA
    x[g == 10] = pd.NA
    return pd.DataFrame(
        {
            "g": g.astype(np.int64),
            "v": pd.array(v, dtype="Int64"),
            "x": x,
            "keep": rng.random(m) < 0.8,
        }
    )


def t() -> Table:
    return Table.of("t", COLS)


def want_spread(df: pd.DataFrame, fn: str, ddof: int) -> pd.DataFrame:
    g = df.groupby("g")
    out = pd.DataFrame(
        {
            c: g[c].apply(lambda s, f=fn: getattr(s.astype("float64"), f)(ddof=ddof))
            for c in ("v", "x")
        }
    )
    return out.reset_index()


@pytest.mark.parametrize("seed", [3, pytest.param(4, marks=pytest.mark.slow)])
@pytest.mark.parametrize(("fn", "ddof"), [("var", 1), ("std", 1), ("var", 0), ("std", 0)])
def test_var_and_std_per_group_equal_pandas_with_missing_values_and_tiny_groups(
    seed: int, fn: str, ddof: int
) -> None:
    df = frame(seed)
    gb = t().groupby("g")[["v", "x"]]
    q = gb.var(ddof=ddof) if fn == "var" else gb.std(ddof=ddof)
    got = run(q, {"t": (df, SPECS)})
    frame_equal(got, want_spread(df, fn, ddof))


def test_std_after_a_filter_beside_mean_and_count_equals_pandas() -> None:
    df = frame(5)
    q = (
        t()[t().keep]
        .groupby("g")
        .agg(s=("x", "std"), m=("x", "mean"), n=("v", "count"), w=("v", "var"))
    )
    got = run(q, {"t": (df, SPECS)})
    kept = df[df.keep].groupby("g")
    want = pd.DataFrame(
        {
            "s": kept.x.std().astype("float64"),
            "m": kept.x.mean().astype("float64"),
            "n": kept.v.count(),
            "w": kept.v.var().astype("float64"),
        }
    ).reset_index()
    frame_equal(got, want)


def test_a_decimal_variance_off_the_grid_is_within_the_stated_bound() -> None:
    """Two-decimal values are not multiples of 2^-16: the encoded values differ from the
    CSV's by < 2^-17 each, and every square is rounded down by < 2^-16 (stated bound:
    count / (count - ddof) * 2^-16 for the squares, plus the encoding's own error)."""
    df = frame(6, scale=10_000.0, grid=100)
    got = run(t().groupby("g")["x"].var(), {"t": (df, SPECS)})
    enc = df.assign(x=(df.x * 65536).round() / 65536)  # the values the column holds
    want = enc.groupby("g").x.var().astype("float64")
    for g, w in want.items():
        gv = float(got.loc[got.g == g, "x"].iloc[0])
        if np.isnan(w):
            assert np.isnan(gv)
        else:
            n = int(enc[enc.g == g].x.count())
            assert abs(gv - w) <= n / (n - 1) * 2**-16 + 1e-9 * abs(w), (g, gv, w)


def test_values_near_the_stated_range_square_without_wrapping() -> None:
    """|x| up to 8 * 10^6 (stated: |x| < 2^23.5 = 1.18e7 per value and a group's sum of
    squares below 2^47 = 1.4e14 for a fixed column; int values up to 10^9)."""
    rng = np.random.default_rng(7)
    x = pd.Series(np.round(rng.uniform(-8e6, 8e6, 12) * 4) / 4, dtype="Float64")
    df = pd.DataFrame(
        {"g": np.repeat(np.arange(6), 2), "v": pd.array(rng.integers(-(10**9), 10**9, 12)), "x": x}
    )
    df["keep"] = True
    got = run(t().groupby("g")[["v", "x"]].std(), {"t": (df, SPECS)})
    want = df.groupby("g")[["v", "x"]].std().astype("float64").reset_index()
    for c in ("v", "x"):
        np.testing.assert_allclose(got[c].to_numpy(), want[c].to_numpy(), rtol=1e-12)


def test_whole_table_std_and_var_equal_pandas() -> None:
    df = frame(8)
    got = run(t().agg({"v": ["std", "var"], "x": "std"}), {"t": (df, SPECS)})
    want = [
        float(df.v.astype("float64").std()),
        float(df.v.astype("float64").var()),
        float(df.x.astype("float64").std()),
    ]
    assert list(got.columns) == ["v_std", "v_var", "x"]
    np.testing.assert_allclose(got.iloc[0].to_numpy(dtype=float), want, rtol=1e-9)


def test_describe_has_the_std_row_of_pandas() -> None:
    df = frame(9)
    got = run(t().describe(["v", "x"]), {"t": (df, SPECS)})
    want = df[["v", "x"]].astype("float64").describe()
    assert list(got.index) == list(want.index)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-9)


def test_a_group_of_one_is_suppressed_before_its_spread_could_be_released() -> None:
    df = frame(10)
    got = run(t().groupby("g")["v"].std(), {"t": (df, SPECS)}, k=3)
    sizes = df.groupby("g").size()
    assert sorted(got.g.tolist()) == sorted(sizes[sizes >= 3].index.tolist())
    assert got.v.notna().all()


def test_the_released_sums_become_pandas_variance_exactly() -> None:
    df = pd.DataFrame({"v_sum": [6, 10**9, 0], "v_sumsq": [14, 10**18, 0], "v_count": [3, 1, 0]})
    got = finish_moments(df, {"v": ("var", 1)})
    assert got.v.iloc[0] == 1.0
    assert np.isnan(got.v.iloc[1]) and np.isnan(got.v.iloc[2])
    big = pd.DataFrame(
        {"s_sum": [3 * 10**8 + 3], "s_sumsq": [3 * 10**16 + 6 * 10**8 + 5], "s_count": [3]}
    )
    # values 1e8, 1e8 + 1, 1e8 + 2: float64 sums would cancel; the exact rational does not
    assert finish_moments(big, {"s": ("std", 1)}).s.iloc[0] == 1.0


def test_var_of_a_text_column_and_a_ddof_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="ddof"):
        t().groupby("g")["v"].var(ddof=10)
    specs = [*SPECS, ColumnSpec("name", "string", max_len=8)]
    df = frame(11).assign(name="a")
    q = Table.of("t", [*COLS, "name"]).groupby("g")["name"].var()
    with pytest.raises((TypeError, PlanError), match="cannot var"):
        run(q, {"t": (df, specs)})


def test_noise_refuses_a_variance_which_has_no_bounded_sensitivity() -> None:
    from sharelake.governance.noise import NoiseError, NoiseSpec, noise_plan
    from sharelake.plan import tree

    spec = NoiseSpec.from_dict({"epsilon": 0.5, "budget": 2, "bounds": {"v": [0, 120]}})
    plan = tree.from_json(t().groupby("g")["v"].std().plan)
    with pytest.raises(NoiseError, match="no bounded sensitivity"):
        noise_plan(plan, spec, None)

"""median and quantile per group inside MPC (three in-memory parties) equal pandas'.

pandas' linear interpolation on seeded random data: negative values, ties, missing
values, groups of one and two rows, a group whose values are all missing, rows a filter
dropped (invalid rows inside the engine), decimal columns, and alongside the other
aggregates of the same group-by.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sharelake.client.frame import Table
from sharelake.plan import nodes as pn
from sharelake.plan.canonical import PlanError
from sharelake.relational.table import ColumnSpec

from .helpers_idioms import frame_equal, run

SPECS = [
    ColumnSpec("g", "int", nullable=False),
    ColumnSpec("v", "int"),
    ColumnSpec("x", "fixed"),
    ColumnSpec("keep", "bool", nullable=False),
]
COLS = [s.name for s in SPECS]


def frame(seed: int) -> pd.DataFrame:
    """Groups 0..7 of random sizes, plus a group of one (8), of two (9) and one whose
    values are all missing (10)."""
    rng = np.random.default_rng(seed)
    n = 60
    g = np.concatenate([rng.integers(0, 8, n), [8, 9, 9, 10, 10]])
    m = len(g)
    v = rng.integers(-20, 20, m).astype(object)  # many ties
    v[rng.random(m) < 0.15] = None
    v[g == 10] = None
    x = pd.Series(np.round(rng.uniform(-100, 100, m) * 8) / 8, dtype="Float64")
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


def want_quantile(df: pd.DataFrame, col: str, q: float) -> pd.DataFrame:
    s = df.groupby("g")[col].quantile(q)
    return s.astype("float64").reset_index()


@pytest.mark.parametrize("seed", [1, 2])
def test_median_and_percentiles_per_group_equal_pandas(seed: int) -> None:
    df = frame(seed)
    frames = {"t": (df, SPECS)}
    q = t().groupby("g").agg({"v": ["median", "p0", "p25", "p90", "p100"], "x": ["median", "p75"]})
    got = run(q, frames)
    g = df.groupby("g")
    want = pd.DataFrame(
        {
            "v_median": g.v.median(),
            "v_p0": g.v.quantile(0.0),
            "v_p25": g.v.quantile(0.25),
            "v_p90": g.v.quantile(0.9),
            "v_p100": g.v.quantile(1.0),
            "x_median": g.x.median(),
            "x_p75": g.x.quantile(0.75),
        }
    ).astype("float64")
    assert want.loc[10].isna().all()  # the all-missing group: missing, as pandas
    frame_equal(got, want.reset_index(), by=["g"])


def test_p0_and_p100_are_min_and_max() -> None:
    df = frame(3)
    got = run(t().groupby("g")["v"].agg(["p0", "p100", "min", "max"]), {"t": (df, SPECS)})
    both = got.dropna()
    assert (both.v_p0 == both.v_min).all() and (both.v_p100 == both.v_max).all()


def test_quantiles_after_a_filter_and_beside_other_aggregates_equal_pandas() -> None:
    df = frame(4)
    q = (
        t()[t().keep]
        .groupby("g")
        .agg(
            med=("v", "median"),
            n=("v", "nunique"),
            avg=("x", "mean"),
            q=("x", "p10"),
            s=("v", "sum"),
        )
    )
    kept = df[df.keep]
    g = kept.groupby("g")
    want = pd.DataFrame(
        {
            "med": g.v.median().astype("float64"),
            "n": g.v.nunique(),
            "avg": g.x.mean().astype("float64"),
            "q": g.x.quantile(0.1).astype("float64"),
            "s": g.v.sum(),
        }
    ).reset_index()
    frame_equal(run(q, {"t": (df, SPECS)}), want, by=["g"])


def test_the_selection_shortcuts_and_the_whole_table_median_equal_pandas() -> None:
    df = frame(5)
    frames = {"t": (df, SPECS)}
    frame_equal(
        run(t().groupby("g")["x"].quantile(0.3), frames),
        want_quantile(df, "x", 0.3),
        by=["g"],
    )
    frame_equal(
        run(t().groupby("g")["v"].median(), frames),
        df.groupby("g").v.median().astype("float64").reset_index(),
        by=["g"],
    )
    got = run(t().agg({"v": "median", "x": ["p50", "count"]}), frames)
    want = pd.DataFrame(
        {"v": [df.v.median()], "x_p50": [df.x.quantile(0.5)], "x_count": [df.x.count()]}
    )
    frame_equal(got, want)


def test_an_empty_table_and_an_empty_selection_give_no_groups() -> None:
    df = frame(6)
    empty = df.iloc[:0]
    assert len(run(t().groupby("g")["v"].median(), {"t": (empty, SPECS)})) == 0
    none = t()[t().g > 100]
    assert len(run(none.groupby("g")["x"].quantile(0.5), {"t": (df, SPECS)})) == 0


def test_a_quantile_outside_percentiles_or_of_a_non_number_is_refused() -> None:
    with pytest.raises(ValueError, match=r"multiple of 0\.01"):
        t().groupby("g")["v"].quantile(0.333)
    with pytest.raises(ValueError, match="between 0 and 1"):
        t().groupby("g")["v"].quantile(1.5)
    with pytest.raises(PlanError, match=r"unknown aggregate 'p101'"):
        pn.validate_plan(pn.make_plan(pn.groupby(pn.scan("t"), ["g"], {"m": ("v", "p101")})))  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"unknown function 'quantile'.*p25"):
        t().groupby("g").agg(m=("v", "quantile"))

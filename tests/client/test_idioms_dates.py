"""``.dt.year``, ``.dt.month`` and ``.dt.quarter`` of secret dates inside MPC (three
in-memory parties, default security level) equal pandas': leap days, month and year
ends, dates before 1970, missing dates, in computed columns, filters and group keys;
dates outside the stated years are missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sharelake.client.frame import Table
from sharelake.plan.canonical import PlanError
from sharelake.relational.dates import FIRST_YEAR, LAST_YEAR
from sharelake.relational.table import ColumnSpec

from .helpers_idioms import frame_equal, run

SPECS = [
    ColumnSpec("pid", "int", nullable=False),
    ColumnSpec("day", "date"),
    ColumnSpec("n", "int"),
]
EDGES = [
    "2024-02-29", "2023-02-28", "2023-03-01", "2024-03-01", "1969-12-31", "1970-01-01",
    "1900-02-28", "1900-03-01", "2000-02-29", "2000-03-01", "2100-03-01", "2023-03-31",
    "2023-04-01", "2023-06-30", "2023-07-01", "2023-09-30", "2023-10-01", "2023-12-31",
    f"{FIRST_YEAR}-01-01", f"{LAST_YEAR}-12-31",
]  # fmt: skip


def frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lo = (pd.Timestamp(f"{FIRST_YEAR}-01-01") - pd.Timestamp("1970-01-01")).days
    hi = (pd.Timestamp(f"{LAST_YEAR}-12-31") - pd.Timestamp("1970-01-01")).days
    rand = pd.to_datetime(rng.integers(lo, hi + 1, 30), unit="D")
    day = pd.Series(list(pd.to_datetime(EDGES)) + list(rand) + [pd.NaT], dtype="datetime64[ns]")
    m = len(day)
    return pd.DataFrame(
        {"pid": np.arange(m, dtype=np.int64), "day": day, "n": rng.integers(0, 9, m)}
    )


def t() -> Table:
    return Table.of("t", ["pid", "day", "n"])


def test_year_month_and_quarter_equal_pandas_on_leap_days_and_dates_before_1970() -> None:
    df = frame(1)
    q = t()
    got = run(
        q.assign(y=q.day.dt.year, m=q.day.dt.month, qu=q.day.dt.quarter)[["pid", "y", "m", "qu"]],
        {"t": (df, SPECS)},
    )
    want = pd.DataFrame(
        {
            "pid": df.pid,
            "y": df.day.dt.year.astype("Int64"),
            "m": df.day.dt.month.astype("Int64"),
            "qu": df.day.dt.quarter.astype("Int64"),
        }
    )
    frame_equal(got, want, by=["pid"])


def test_date_parts_filter_rows_and_key_groups_as_pandas() -> None:
    df = frame(2)
    q = t()
    rows = run(q[(q.day.dt.quarter == 1) & (q.day.dt.year < 1970)][["pid"]], {"t": (df, SPECS)})
    keep = (df.day.dt.quarter == 1) & (df.day.dt.year < 1970)
    assert sorted(rows.pid.tolist()) == df.pid[keep].tolist()
    per = run(q.assign(m=q.day.dt.month).groupby("m").agg(total=("n", "sum")), {"t": (df, SPECS)})
    want = df.assign(m=df.day.dt.month.astype("Int64")).groupby("m", dropna=False).n.sum()
    frame_equal(per, want.rename("total").reset_index(), by=["m"])


def test_a_date_outside_the_stated_years_has_missing_parts() -> None:
    day = pd.to_datetime([f"{FIRST_YEAR - 1}-12-31", f"{LAST_YEAR + 1}-01-01", "1800-06-01"])
    df = pd.DataFrame({"pid": np.arange(3, dtype=np.int64), "day": day, "n": [1, 2, 3]})
    got = run(t().assign(y=t().day.dt.year)[["pid", "y"]], {"t": (df, SPECS)})
    assert got.y.isna().all()


def test_other_date_parts_and_parts_of_a_number_are_refused_with_the_alternative() -> None:
    with pytest.raises(AttributeError, match=r"\.dt\.day.*between.*before upload"):
        _ = t().day.dt.day
    with pytest.raises((TypeError, PlanError), match=r"\.dt\.year needs date"):
        run(t().assign(y=t().n.dt.year)[["y"]], {"t": (frame(3), SPECS)})

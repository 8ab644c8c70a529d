"""The pandas idioms through three real node processes over TLS, equal to pandas.

The same idioms as tests/client/test_idioms.py (which runs them in memory on random data),
here through the nodes' governance: a group-by selection, value_counts, a query with isin,
a median, count_rows, len and shape (a governed size release), dtypes (no query), merges
with left_on/right_on and how="right" and "outer". Every group has at
least k rows (suppression, secondary suppression included, is tested in memory and in
tests/e2e/test_suppressed_groups.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sharelake
from sharelake.node.local import LocalCluster
from sharelake.relational.table import ColumnSpec

from ..client.helpers_idioms import frame_equal

pytestmark = [pytest.mark.tls, pytest.mark.timeout(600)]

K = 5
REGIONS = ("east", "north", "south", "west")
POLICY = {
    "min_group_size": K,
    "analysts": ["analyst"],
    "columns": {"pid": "reveal", "region": "group", "age": "aggregate", "score": "reveal"},
}
SCHEMA = [
    ColumnSpec("pid", "int", False),
    ColumnSpec("region", "category", categories=REGIONS),
    ColumnSpec("age", "int"),
    ColumnSpec("score", "int"),
]
CLINIC_POLICY = {
    "min_group_size": K,
    "analysts": ["analyst"],
    "columns": {"person": "reveal", "clinic": "reveal"},
}
CLINIC_SCHEMA = [ColumnSpec("person", "int", False), ColumnSpec("clinic", "int")]


def people() -> pd.DataFrame:
    rng = np.random.default_rng(21)
    regions = ["north"] * 12 + ["south"] * 9 + ["east"] * 7 + ["west"] * 5
    n = len(regions)
    age = rng.integers(5, 80, n).astype(object)
    age[[3, 17]] = None
    score = rng.integers(-3, 4, n).astype(object)
    score[[5]] = None
    return pd.DataFrame(
        {
            "pid": np.arange(n, dtype=np.int64),
            "region": pd.Categorical(regions, categories=list(REGIONS)),
            "age": pd.array(age, dtype="Int64"),
            "score": pd.array(score, dtype="Int64"),
        }
    )


def clinics() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person": np.array([1, 4, 9, 40, 41], dtype=np.int64),
            "clinic": pd.array([1, 2, None, 1, 3], dtype="Int64"),
        }
    )


@pytest.fixture(scope="module")
def lake(cluster: LocalCluster) -> LocalCluster:
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        s.upload(people(), "idiom_people", schema=SCHEMA, policy=POLICY, progress=False)
        s.upload(
            clinics(), "idiom_clinics", schema=CLINIC_SCHEMA, policy=CLINIC_POLICY, progress=False
        )
    return cluster


def test_groupby_selection_value_counts_and_a_query_equal_pandas(lake: LocalCluster) -> None:
    df = people()
    sizes = df.groupby("region", observed=True).size()
    big = sizes[sizes >= K].index
    with sharelake.connect(lake.consortium_path, "analyst") as a:
        t = a.table("idiom_people")
        got = t.groupby("region")["age"].sum().collect()
        want = df[df.region.isin(big)].groupby("region", observed=True)["age"].sum()
        frame_equal(got.astype({"region": str}), want.reset_index().astype({"region": str}))
        assert got.attrs["suppressed_groups"] == 0

        vc = t.value_counts("region").collect()
        want_vc = df.value_counts("region").reset_index()
        want_vc = want_vc[want_vc["count"] >= K]
        assert vc.region.astype(str).tolist() == want_vc.region.astype(str).tolist()
        assert vc["count"].tolist() == want_vc["count"].tolist()

        shares = t.value_counts("region", normalize=True).collect()  # nothing suppressed
        want_share = df.value_counts("region", normalize=True)
        assert shares.region.astype(str).tolist() == want_share.index.astype(str).tolist()
        assert shares.proportion.tolist() == pytest.approx(want_share.tolist())

        # a filter finer than the released regions would leave small atoms (differencing)
        n = t.query("region in ['north', 'south']").count_rows().collect()
        assert n["rows"].tolist() == [int(df.region.isin(["north", "south"]).sum())]
        # len() and shape release the same count again (governed and logged as a query)
        north_south = t.query("region in ['north', 'south']")
        assert len(north_south) == int(df.region.isin(["north", "south"]).sum())
        assert north_south.shape == (len(north_south), 4)
        assert t.dtypes.astype(str).to_dict() == {
            "pid": "int64",
            "region": "category",
            "age": "int64",
            "score": "int64",
        }


def test_a_median_of_a_reveal_column_per_group_equals_pandas(lake: LocalCluster) -> None:
    df = people()
    with sharelake.connect(lake.consortium_path, "analyst") as a:
        got = a.table("idiom_people").groupby("region")["score"].median().collect()
    g = df.groupby("region", observed=True)
    want = g.score.median()[g.size() >= K].astype("float64").reset_index()
    frame_equal(got.astype({"region": str}), want.astype({"region": str}))


def test_merge_with_left_on_right_on_how_right_equals_pandas(lake: LocalCluster) -> None:
    df, cl = people(), clinics()
    with sharelake.connect(lake.consortium_path, "analyst") as a:
        t = a.table("idiom_people")[["pid", "score"]]
        q = t.merge(a.table("idiom_clinics"), left_on="pid", right_on="person", how="right")
        got = q.collect()
        outer = t.merge(a.table("idiom_clinics"), left_on="pid", right_on="person", how="outer")
        got_outer = outer.collect()
    want = df[["pid", "score"]].merge(cl, left_on="pid", right_on="person", how="right")
    frame_equal(got, want, by=["person"])
    want_outer = df[["pid", "score"]].merge(cl, left_on="pid", right_on="person", how="outer")
    frame_equal(got_outer, want_outer, by=["pid", "person"])


def test_count_rows_of_one_person_or_of_all_but_one_releases_nothing(lake: LocalCluster) -> None:
    from sharelake.client.errors import NodePolicyError, SuppressedCountError

    # a count over reveal columns only is not protected (the rows could be listed), so
    # the filters read the aggregate column age too
    with sharelake.connect(lake.consortium_path, "analyst") as a:
        t = a.table("idiom_people")
        one = t[t.pid.isin([7]) & (t.age < 200)].count_rows().collect()
        assert len(one) == 1 and one["rows"].isna().all()  # pandas' one row, suppressed
        assert one.attrs["suppressed_groups"] == 1  # a group of 1
        with pytest.raises(SuppressedCountError, match="suppressed by the policy"):
            len(t[t.pid.isin([8]) & (t.age < 200)])
        with pytest.raises(NodePolicyError, match="differencing"):
            t.query("pid != 7 and age < 200").count_rows().collect()


def test_std_and_var_per_group_of_an_aggregate_column_equal_pandas(lake: LocalCluster) -> None:
    df = people()
    with sharelake.connect(lake.consortium_path, "analyst") as a:
        got = (
            a.table("idiom_people")
            .groupby("region")
            .agg(s=("age", "std"), v=("age", "var_ddof0"))
            .collect()
        )
    g = df.groupby("region", observed=True)
    want = pd.DataFrame(
        {"s": g.age.std().astype("float64"), "v": g.age.var(ddof=0).astype("float64")}
    )[g.size() >= K].reset_index()
    frame_equal(got.astype({"region": str}), want.astype({"region": str}))


def test_division_floor_division_and_modulo_per_row_equal_pandas(lake: LocalCluster) -> None:
    df = people()
    with sharelake.connect(lake.consortium_path, "analyst") as a:
        t = a.table("idiom_people")
        got = (
            t.assign(r=t.score / t.pid, f=t.pid // t.score, m=t.pid % 4)[["pid", "r", "f", "m"]]
            .collect()
            .sort_values("pid")
            .reset_index(drop=True)
        )
    ok = df.score.notna() & (df.score != 0)
    assert got.f.isna().tolist() == (~ok).tolist()  # a zero or missing divisor: missing
    assert got.f[ok].astype(int).tolist() == (df.pid[ok] // df.score[ok]).astype(int).tolist()
    assert got.m.astype(int).tolist() == (df.pid % 4).tolist()
    want_r = (df.score / df.pid.where(df.pid != 0)).astype("float64")
    assert got.r.isna().tolist() == want_r.isna().tolist()
    assert np.allclose(got.r[want_r.notna()], want_r.dropna(), atol=2.0**-16, rtol=0)


def test_date_parts_and_round_of_a_decimal_equal_pandas(lake: LocalCluster) -> None:
    days = pd.to_datetime(["2024-02-29", "1969-12-31", "1900-03-01", "2023-10-01", None])
    x = pd.array([0.125, -2.5, 3.375, None, 7.0625], dtype="Float64")
    df = pd.DataFrame({"pid": np.arange(5, dtype=np.int64), "day": days, "x": x})
    schema = [ColumnSpec("pid", "int", False), ColumnSpec("day", "date"), ColumnSpec("x", "fixed")]
    policy = {
        "min_group_size": K,
        "analysts": ["analyst"],
        "columns": {"pid": "reveal", "day": "reveal", "x": "reveal"},
    }
    with sharelake.connect(lake.consortium_path, "ngo_a") as s:
        s.upload(df, "idiom_days", schema=schema, policy=policy, progress=False)
    with sharelake.connect(lake.consortium_path, "analyst") as a:
        t = a.table("idiom_days")
        got = t.assign(
            y=t.day.dt.year, m=t.day.dt.month, q=t.day.dt.quarter, r=t.x.round(2), r0=t.x.round()
        )[["pid", "y", "m", "q", "r", "r0"]]
        res = got.collect().sort_values("pid").reset_index(drop=True)
    want = pd.DataFrame(
        {
            "pid": df.pid,
            "y": df.day.dt.year.astype("Int64"),
            "m": df.day.dt.month.astype("Int64"),
            "q": df.day.dt.quarter.astype("Int64"),
            "r0": df.x.round(0).astype("float64"),
        }
    )
    frame_equal(res.drop(columns="r"), want, by=["pid"])
    r = df.x.round(2).astype("float64")  # 0.12, -2.5, 3.38, NA, 7.06 (ties to even)
    assert res.r.isna().tolist() == r.isna().tolist()
    assert np.all(np.abs(res.r[r.notna()].to_numpy(float) - r.dropna().to_numpy()) < 2.0**-16)


def test_startswith_and_contains_of_a_string_column_equal_pandas(lake: LocalCluster) -> None:
    names = ["Amsterdam", "Edam", "北京市", "", None, "Rotterdam-Zuid"]
    df = pd.DataFrame(
        {"pid": np.arange(6, dtype=np.int64), "name": pd.array(names, dtype="string")}
    )
    schema = [ColumnSpec("pid", "int", False), ColumnSpec("name", "string", max_len=16)]
    policy = {
        "min_group_size": K,
        "analysts": ["analyst"],
        "columns": {"pid": "reveal", "name": "reveal"},
    }
    with sharelake.connect(lake.consortium_path, "ngo_a") as s:
        s.upload(df, "idiom_names", schema=schema, policy=policy, progress=False)
    with sharelake.connect(lake.consortium_path, "analyst") as a:
        t = a.table("idiom_names")
        got = t.assign(s=t.name.str.startswith("Am"), c=t.name.str.contains("dam"))[
            ["pid", "s", "c"]
        ]
        res = got.collect()
    want = pd.DataFrame(
        {"pid": df.pid, "s": df.name.str.startswith("Am"), "c": df.name.str.contains("dam")}
    )
    frame_equal(res, want, by=["pid"])

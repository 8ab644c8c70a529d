"""The pandas idioms analysts type, run inside MPC (three in-memory parties), equal pandas.

Each idiom builds a plan of existing operators (no new operator, so no new leakage and no
plan hash changes); each is checked against pandas on seeded random data with missing
values, negative numbers and ties, and on edge inputs (empty results, all-missing).
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from sharelake.client.frame import Table, concat
from sharelake.client.query_text import QueryError
from sharelake.relational.table import ColumnSpec

from .helpers_idioms import frame_equal, run

REGIONS = ("east", "north", "south", "west")
PEOPLE = [
    ColumnSpec("pid", "int", nullable=False),
    ColumnSpec("age", "int"),
    ColumnSpec("score", "int"),
    ColumnSpec("amount", "fixed"),
    ColumnSpec("region", "category", categories=REGIONS),
    ColumnSpec("day", "date"),
]
VISITS = [
    ColumnSpec("person", "int", nullable=False),
    ColumnSpec("clinic", "int"),
    ColumnSpec("age", "int"),
]


def people_frame(n: int = 40, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(0, 90, n).astype(object)
    age[rng.random(n) < 0.15] = None
    score = rng.integers(-5, 6, n).astype(object)  # negatives and many ties
    score[rng.random(n) < 0.2] = None
    amount = np.round(rng.uniform(-50, 50, n) * 4) / 4  # multiples of 1/4: exact
    amount_s = pd.Series(amount, dtype="Float64")
    amount_s[rng.random(n) < 0.1] = pd.NA
    region = pd.Series(pd.Categorical(rng.choice(REGIONS, n), categories=list(REGIONS)))
    region[rng.random(n) < 0.1] = None
    day = pd.Series(np.datetime64("2022-01-01") + rng.integers(0, 900, n).astype("timedelta64[D]"))
    return pd.DataFrame(
        {
            "pid": np.arange(n, dtype=np.int64),
            "age": pd.array(age, dtype="Int64"),
            "score": pd.array(score, dtype="Int64"),
            "amount": amount_s,
            "region": region,
            "day": day,
        }
    )


def visits_frame(n: int = 30, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    clinic = rng.integers(1, 4, n).astype(object)
    clinic[rng.random(n) < 0.1] = None
    return pd.DataFrame(
        {
            "person": rng.choice(np.arange(60), n, replace=False).astype(np.int64),
            "clinic": pd.array(clinic, dtype="Int64"),
            "age": pd.array(rng.integers(0, 90, n), dtype="Int64"),
        }
    )


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return people_frame()


@pytest.fixture(scope="module")
def frames(df: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, list[ColumnSpec]]]:
    return {"people": (df, PEOPLE), "visits": (visits_frame(), VISITS)}


def people() -> Table:
    return Table.of("people", [s.name for s in PEOPLE])


def visits() -> Table:
    return Table.of("visits", [s.name for s in VISITS])


# ---- masks ------------------------------------------------------------------------------


def test_isin_between_isna_notna_and_invert_filter_as_pandas(df: pd.DataFrame, frames) -> None:
    t = people()
    mask = (
        t.score.isin([-5, 0, 3]) | t.age.between(20, 40, inclusive="left") | t.amount.isna()
    ) & ~t.region.isna()
    got = run(t[mask][["pid"]], frames)
    want_mask = (
        df.score.isin([-5, 0, 3]).fillna(False)
        | df.age.between(20, 40, inclusive="left").fillna(False)
        | df.amount.isna()
    ) & df.region.notna()
    frame_equal(got, df[want_mask.astype(bool)][["pid"]], by=["pid"])


def test_isin_and_between_as_columns_are_false_not_missing_where_the_value_is_missing(
    df: pd.DataFrame, frames
) -> None:
    t = people()
    q = t.assign(
        a=t.score.isin([1, 2, -3]), b=t.age.between(30, 60), c=t.age.notna(), e=t.score.isin([])
    )[["pid", "a", "b", "c", "e"]]
    got = run(q, frames)
    want = pd.DataFrame(
        {
            "pid": df.pid,
            "a": df.score.isin([1, 2, -3]).fillna(False).astype(bool),
            "b": df.age.between(30, 60).fillna(False).astype(bool),
            "c": df.age.notna(),
            "e": df.score.isin([]).astype(bool),
        }
    )
    frame_equal(got, want, by=["pid"])


def test_dates_compare_with_date_constants(df: pd.DataFrame, frames) -> None:
    t = people()
    lo, hi = datetime.date(2022, 6, 1), datetime.date(2023, 1, 1)
    got = run(t[(t.day >= lo) & (t.day < hi)][["pid"]], frames)
    want = df[(df.day >= pd.Timestamp(lo)) & (df.day < pd.Timestamp(hi))][["pid"]]
    frame_equal(got, want, by=["pid"])


QUERIES = [
    ("age >= 18 and score < 0", lambda d: (d.age >= 18) & (d.score < 0)),
    ("18 <= age < 65", lambda d: (d.age >= 18) & (d.age < 65)),
    ("score in [1, -2] or not (age > 50)", lambda d: d.score.isin([1, -2]) | ~(d.age > 50)),
    ("score not in [0, 1]", lambda d: ~d.score.isin([0, 1]).fillna(False)),
    ("age.isna() | score.notna()", lambda d: d.age.isna() | d.score.notna()),
    ("age.between(10, 20, inclusive='neither')", lambda d: d.age.between(10, 20, "neither")),
    ("age * 2 - 10 > score + 100", lambda d: d.age * 2 - 10 > d.score + 100),
    ("amount / 4 >= -2.5", lambda d: d.amount / 4 >= -2.5),
    ("day >= date(2023, 3, 1)", lambda d: d.day >= pd.Timestamp("2023-03-01")),
    ("100 - age > 50", lambda d: 100 - d.age > 50),
]


@pytest.mark.parametrize(("text", "mask"), QUERIES, ids=[q for q, _ in QUERIES])
def test_query_strings_keep_the_rows_pandas_keeps(df: pd.DataFrame, frames, text, mask) -> None:
    got = run(people().query(text)[["pid"]], frames)
    keep = mask(df)
    keep = keep.fillna(False).astype(bool) if hasattr(keep, "fillna") else keep
    frame_equal(got, df[keep][["pid"]], by=["pid"])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("__import__('os').system('id')", "function call"),
        ("age.__class__", "kind of expression"),
        ("age > @limit", "'@variable' is not supported"),
        ("`my col` > 1", "backtick"),
        ("age >", "not a pandas expression"),
        ("age is None", "'is' / 'is not'"),
        ("lambda: 1", "kind of expression"),
    ],
)
def test_a_query_outside_the_subset_is_refused_never_run(text: str, words: str) -> None:
    with pytest.raises(QueryError, match=words):
        people().query(text)


def test_a_query_naming_no_column_lists_the_columns() -> None:
    with pytest.raises(KeyError, match=r"no column 'agee' \(columns: pid, age"):
        people().query("agee > 1")


# ---- arithmetic ---------------------------------------------------------------------------


def test_abs_clip_negation_and_division_by_a_power_of_two_as_pandas(
    df: pd.DataFrame, frames
) -> None:
    t = people()
    q = t.assign(
        a=abs(t.score),
        c=t.age.clip(10, 60),
        lo=t.score.clip(lower=0),
        n=-t.score,
        h=t.amount / 4,
        m=t.amount.abs(),
    )[["pid", "a", "c", "lo", "n", "h", "m"]]
    got = run(q, frames)
    want = pd.DataFrame(
        {
            "pid": df.pid,
            "a": df.score.abs(),
            "c": df.age.clip(10, 60),
            "lo": df.score.clip(lower=0),
            "n": -df.score,
            "h": df.amount / 4,
            "m": df.amount.abs(),
        }
    )
    frame_equal(got, want, by=["pid"])


def test_division_of_a_decimal_column_by_any_number_is_within_the_stated_precision(
    df: pd.DataFrame, frames
) -> None:
    t = people()
    got = run(t.assign(r=t.amount / 3)[["pid", "r"]], frames).sort_values("pid")
    want = (df.amount / 3).to_numpy(dtype=float, na_value=np.nan)
    g = got.r.to_numpy(dtype=float, na_value=np.nan)
    assert np.array_equal(np.isnan(g), np.isnan(want))
    ok = ~np.isnan(want)
    # the exact quotient of the encoded value, truncated to 2^-16 (secure division)
    bound = 2.0**-16
    assert np.all(np.abs(g[ok] - want[ok]) <= bound)


def test_a_division_by_the_constant_zero_or_a_fractional_floor_divisor_is_refused() -> None:
    t = people()
    with pytest.raises(TypeError, match="non-zero"):
        _ = t.amount / 0
    with pytest.raises(TypeError, match="non-zero"):
        _ = t.age // 0
    with pytest.raises(TypeError, match="must be an integer"):
        _ = t.age % 2.5


def test_str_and_dt_accessors_are_refused_with_an_alternative() -> None:
    t = people()
    with pytest.raises(AttributeError, match=r"normalise the column when you upload.*isin"):
        _ = t.region.str.lower()
    with pytest.raises(AttributeError, match=r"date ranges.*between.*before upload"):
        _ = t.day.dt.day


# ---- aggregation --------------------------------------------------------------------------


def test_groupby_selection_sum_mean_min_max_count_nunique_equal_pandas(
    df: pd.DataFrame, frames
) -> None:
    t = people()
    g = df.groupby("region", observed=True, dropna=False)
    for fn in ("sum", "mean", "min", "max", "count", "nunique"):
        got = run(getattr(t.groupby("region")["score"], fn)(), frames)
        want = getattr(g["score"], fn)().reset_index()
        frame_equal(got, want, by=["region"])


def test_groupby_agg_with_a_dict_and_lists_of_functions_equals_pandas(
    df: pd.DataFrame, frames
) -> None:
    t = people()
    q = t.groupby("region").agg({"age": ["min", "max", "mean"], "amount": "sum"})
    got = run(q, frames)
    want = df.groupby("region", observed=True, dropna=False).agg(
        age_min=("age", "min"),
        age_max=("age", "max"),
        age_mean=("age", "mean"),
        amount=("amount", "sum"),
    )
    frame_equal(got, want.reset_index(), by=["region"])
    sel = t.groupby("region")[["age", "score"]].agg("sum")
    want2 = df.groupby("region", observed=True, dropna=False)[["age", "score"]].sum()
    frame_equal(run(sel, frames), want2.reset_index(), by=["region"])


def test_whole_table_aggregates_and_the_row_count_equal_pandas(df: pd.DataFrame, frames) -> None:
    t = people()
    got = run(t.agg({"age": ["sum", "mean", "count"], "score": "nunique"}), frames)
    want = pd.DataFrame(
        {
            "age_sum": [df.age.sum()],
            "age_mean": [df.age.mean()],
            "age_count": [df.age.count()],
            "score": [df.score.nunique()],
        }
    )
    frame_equal(got, want)
    frame_equal(run(t.count_rows(), frames, k=5), pd.DataFrame({"rows": [len(df)]}))
    adults = t.query("age >= 18")
    frame_equal(
        run(adults.count_rows(), frames, k=5), pd.DataFrame({"rows": [int((df.age >= 18).sum())]})
    )


def test_value_counts_equals_pandas_most_frequent_first_ties_by_value(
    df: pd.DataFrame, frames
) -> None:
    t = people()
    got = run(t.value_counts("score"), frames)
    want = df.value_counts("score").reset_index()
    want = want.sort_values(["count", "score"], ascending=[False, True], kind="stable")
    frame_equal(got, want)  # released in the plan's order
    got2 = run(t.value_counts(["region", "score"], dropna=False, sort=False), frames)
    want2 = df.value_counts(["region", "score"], dropna=False).reset_index()
    # pandas lists the unobserved categories of a category column with count 0; a group
    # of no rows does not exist here (it would be suppressed under any k anyway)
    frame_equal(got2, want2[want2["count"] > 0], by=["region", "score"])


def test_value_counts_under_k_suppresses_the_rare_values(df: pd.DataFrame, frames) -> None:
    got = run(people().value_counts("score"), frames, k=5)
    vc = df.value_counts("score")
    want = vc[vc >= 5].reset_index()
    want = want.sort_values(["count", "score"], ascending=[False, True], kind="stable")
    frame_equal(got, want)


def test_an_empty_selection_gives_no_groups_and_pandas_one_whole_table_row(
    df: pd.DataFrame, frames
) -> None:
    t = people()
    none = t[t.age > 1000]
    assert len(run(none.groupby("region")["age"].sum(), frames)) == 0
    assert len(run(none.value_counts("region"), frames)) == 0
    empty = df[df.age > 1000]
    spec = {"age": ["sum", "count", "mean", "max", "nunique"], "amount": "sum"}
    got = run(none.agg(spec), frames, k=5)
    want = pd.DataFrame(
        {
            f"{c}_{fn}" if isinstance(fns, list) else c: [getattr(empty[c], fn)()]
            for c, fns in spec.items()
            for fn in (fns if isinstance(fns, list) else [fns])
        }
    )
    frame_equal(got, want)
    assert got.attrs["suppressed_groups"] == 0
    frame_equal(run(none.count_rows(), frames, k=5), pd.DataFrame({"rows": [0]}))
    d = run(none.describe("age", order_statistics=False), frames, k=5)
    assert d.loc["count", "age"] == 0 and np.isnan(d.loc["mean", "age"])


def test_a_suppressed_whole_table_row_is_missing_values_never_zero(
    df: pd.DataFrame, frames
) -> None:
    t = people()
    few = t[t.pid < 3]  # 3 rows, k = 5
    got = run(few.agg({"age": ["count", "sum"]}), frames, k=5)
    assert len(got) == 1 and got.isna().all().all()
    assert got.attrs["suppressed_groups"] == 1
    rows = run(few.count_rows(), frames, k=5)
    assert len(rows) == 1 and rows["rows"].isna().all()


def test_value_counts_normalize_equals_pandas_when_nothing_is_suppressed(
    df: pd.DataFrame, frames
) -> None:
    t = people()
    for dropna in (True, False):
        got = run(t.value_counts("region", normalize=True, dropna=dropna), frames, k=1)
        want = df.value_counts("region", normalize=True, dropna=dropna).reset_index()
        want = want.sort_values(["proportion", "region"], ascending=[False, True], kind="stable")
        assert list(got.columns) == ["region", "proportion"]
        frame_equal(got, want[want["proportion"] > 0])


def test_value_counts_normalize_with_suppressed_values_divides_by_the_released_total(
    df: pd.DataFrame, frames
) -> None:
    got = run(people().value_counts("score", normalize=True), frames, k=5)
    assert got.attrs["suppressed_groups"] > 0  # so the total came from a second release
    vc = df.value_counts("score", normalize=True)
    counts = df.value_counts("score")
    want = vc[counts >= 5].reset_index()
    want = want.sort_values(["proportion", "score"], ascending=[False, True], kind="stable")
    frame_equal(got, want)


# ---- shape and columns --------------------------------------------------------------------


def test_rename_drop_fillna_dropna_equal_pandas(df: pd.DataFrame, frames) -> None:
    t = people()
    q = (
        t.rename(columns={"age": "years", "score": "points"})
        .drop(columns=["amount", "day"])
        .fillna({"points": -100})
        .dropna("years")
    )
    got = run(q, frames)
    want = (
        df.rename(columns={"age": "years", "score": "points"})
        .drop(columns=["amount", "day"])
        .fillna({"points": -100})
        .dropna(subset=["years"])
    )
    frame_equal(got, want, by=["pid"])


def test_nlargest_and_nsmallest_equal_pandas_with_ties_and_missing(
    df: pd.DataFrame, frames
) -> None:
    t = people()
    got = run(t.nlargest(7, "age")[["pid", "age"]], frames)
    frame_equal(got, df.nlargest(7, "age")[["pid", "age"]])
    got = run(t.nsmallest(6, ["score", "pid"])[["pid", "score"]], frames)
    frame_equal(got, df.nsmallest(6, ["score", "pid"])[["pid", "score"]])


def test_concat_of_two_filters_equals_pandas(df: pd.DataFrame, frames) -> None:
    t = people()
    got = run(concat([t.query("age < 20"), t.query("age > 70")])[["pid", "age"]], frames)
    want = pd.concat([df[df.age < 20], df[df.age > 70]])[["pid", "age"]]
    frame_equal(got, want, by=["pid"])


# ---- merge ----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["inner", "left", "right"])
def test_merge_left_on_right_on_with_suffixes_equals_pandas(
    df: pd.DataFrame, frames, how: str
) -> None:
    v = visits_frame()
    q = people()[["pid", "age", "score"]].merge(
        visits(), left_on="pid", right_on="person", how=how, suffixes=("_p", "_v")
    )
    want = df[["pid", "age", "score"]].merge(
        v, left_on="pid", right_on="person", how=how, suffixes=("_p", "_v")
    )
    assert q.columns == list(want.columns)
    frame_equal(run(q, frames), want, by=["person", "pid"])


def test_merge_how_right_on_a_shared_key_keeps_pandas_column_order(
    df: pd.DataFrame, frames
) -> None:
    v = visits_frame().rename(columns={"person": "pid"})
    fr = {**frames, "visits2": (v, [ColumnSpec("pid", "int", False), *VISITS[1:]])}
    right = Table.of("visits2", ["pid", "clinic", "age"])
    q = people()[["pid", "age", "region"]].merge(right, on="pid", how="right")
    want = df[["pid", "age", "region"]].merge(v, on="pid", how="right")
    assert q.columns == list(want.columns) == ["pid", "age_x", "region", "clinic", "age_y"]
    frame_equal(run(q, fr), want, by=["pid"])


@pytest.mark.parametrize("validate", ["m:1", "1:1"])
def test_merge_outer_with_left_on_right_on_equals_pandas(
    df: pd.DataFrame, frames, validate: str
) -> None:
    v = visits_frame()
    q = people()[["pid", "age", "region"]].merge(
        visits(), left_on="pid", right_on="person", how="outer", validate=validate
    )
    want = df[["pid", "age", "region"]].merge(
        v, left_on="pid", right_on="person", how="outer", validate=validate
    )
    assert q.columns == list(want.columns)
    assert want.pid.isna().any() and want.person.isna().any()  # both sides have misses
    frame_equal(run(q, frames), want, by=["person", "pid"])


def test_merge_outer_on_a_shared_key_equals_pandas_and_keeps_every_key(
    df: pd.DataFrame, frames
) -> None:
    v = visits_frame().rename(columns={"person": "pid"})
    fr = {**frames, "visits2": (v, [ColumnSpec("pid", "int", False), *VISITS[1:]])}
    right = Table.of("visits2", ["pid", "clinic", "age"])
    q = people()[["pid", "age", "score"]].merge(right, on="pid", how="outer", suffixes=("", "_v"))
    want = df[["pid", "age", "score"]].merge(v, on="pid", how="outer", suffixes=("", "_v"))
    assert q.columns == list(want.columns) == ["pid", "age", "score", "clinic", "age_v"]
    got = run(q, fr)
    frame_equal(got, want, by=["pid"])
    assert set(got.pid) == set(df.pid) | set(v.pid)


def test_merge_outer_refuses_a_column_named_like_its_marker_and_mixed_keys() -> None:
    with pytest.raises(ValueError, match="__matched"):
        Table.of("a", ["pid", "__matched"]).merge(
            visits(), left_on="pid", right_on="person", how="outer"
        )
    with pytest.raises(TypeError, match="not both"):
        people().merge(visits(), on="pid", left_on="pid", right_on="person")
    with pytest.raises(ValueError, match=r"left_on 'age' is also a column of the right"):
        people().merge(visits(), left_on="age", right_on="person")
    with pytest.raises(ValueError, match="unknown how='cross'"):
        people().merge(visits(), left_on="pid", right_on="person", how="cross")  # type: ignore[arg-type]


def test_and_or_with_missing_values_follow_pandas_three_valued_logic(
    df: pd.DataFrame, frames
) -> None:
    t = people()
    q = t.assign(o=(t.age > 50) | (t.score > 0), a=(t.age > 50) & (t.score > 0))
    got = run(q[["pid", "o", "a"]], frames)
    age_hi = df.age.gt(50).astype("boolean")
    score_hi = df.score.gt(0).astype("boolean")
    want = pd.DataFrame({"pid": df.pid, "o": age_hi | score_hi, "a": age_hi & score_hi})
    assert want.o.isna().any() and want.a.isna().any()  # the data has the NA cases
    frame_equal(got, want, by=["pid"])


def test_describe_equals_pandas_describe_with_its_std_row(df: pd.DataFrame, frames) -> None:
    got = run(people().describe(["age", "amount"], percentiles=[0.1, 0.5, 0.9]), frames, k=5)
    want = df[["age", "amount"]].astype("float64").describe(percentiles=[0.1, 0.5, 0.9])
    assert list(got.index) == list(want.index)
    assert list(got.index) == ["count", "mean", "std", "min", "10%", "50%", "90%", "max"]
    assert np.allclose(got.to_numpy(), want.to_numpy(), rtol=1e-9, atol=2.0**-16)
    counts = run(people().describe("score", order_statistics=False), frames)
    assert list(counts.index) == ["count", "mean", "std"]
    assert counts.loc["count", "score"] == df.score.count()
    assert abs(counts.loc["mean", "score"] - df.score.mean()) < 1e-9


def test_pivot_table_of_two_keys_equals_pandas(df: pd.DataFrame, frames) -> None:
    t = people()
    got = run(
        t.pivot_table(values="amount", index="region", columns="score", aggfunc="sum"), frames
    )
    want = df.pivot_table(
        values="amount", index="region", columns="score", aggfunc="sum", observed=True
    )
    got.index = got.index.astype(str)
    want.index = want.index.astype(str)
    assert list(got.index) == list(want.index) and list(got.columns) == list(want.columns)
    assert np.allclose(
        got.to_numpy(dtype=float), want.to_numpy(dtype=float), equal_nan=True, atol=1e-9
    )


def test_a_reshaped_result_takes_no_more_plan_steps() -> None:
    d = people().describe("age")
    with pytest.raises(TypeError, match=r"describe\(\) is reshaped after collect"):
        d.head(2)
    with pytest.raises(TypeError, match="offline needs the columns"):
        people().describe()


def test_len_and_shape_without_a_session_say_the_count_is_released_by_the_nodes() -> None:
    t = people()
    with pytest.raises(TypeError, match=r"released by the nodes.*len\(t\)"):
        len(t)
    with pytest.raises(TypeError, match="released by the nodes"):
        _ = t.shape
    with pytest.raises(TypeError, match="collect"):
        iter(t)
    assert "age" in t and "nope" not in t  # column membership, as pandas
    with pytest.raises(TypeError, match="catalog"):
        _ = t.dtypes

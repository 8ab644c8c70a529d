"""Secure joins agree with their pandas twins on random tables, and leak no sizes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharelake.harness.runner import run_parties
from sharelake.mpc.party import Party
from sharelake.relational.compact import reveal
from sharelake.relational.encode import string_digest
from sharelake.relational.join import join
from sharelake.relational.plain_join import plain_join
from sharelake.relational.table import ColumnSpec
from tests.relational.helpers import table_inputs, unpack_table

LO, HI = -(2**63), 2**63 - 1
KEYS = st.sampled_from([LO, HI, -7, -1, 0, 1, 2, 3, None])
VALS = st.sampled_from([LO, HI, -5, 0, 4, 17])
SETTINGS = settings(max_examples=12, deadline=None)

SPEC_L = [ColumnSpec("k", "int"), ColumnSpec("v", "int")]
SPEC_R = [ColumnSpec("k", "int"), ColumnSpec("v", "int"), ColumnSpec("w", "int")]


def frame(rows: list[tuple[Any, ...]], names: list[str]) -> pd.DataFrame:
    """A DataFrame of nullable 64-bit integer columns."""
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pd.DataFrame(
        {nm: pd.array(list(c), dtype="Int64") for nm, c in zip(names, cols, strict=True)}
    )


def unique_keys(rows: list[tuple[Any, ...]], width: int = 1) -> list[tuple[Any, ...]]:
    """Drop rows whose (non-null) key was seen before."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for r in rows:
        key = r[:width]
        if None not in key and key in seen:
            continue
        seen.add(key)
        out.append(r)
    return out


def has_duplicate_keys(df: pd.DataFrame) -> bool:
    """Whether a non-null key occurs twice (a broken uniqueness promise)."""
    return bool(df["k"].dropna().duplicated().any())


def canonical(df: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Rows as sorted tuples of Python ints / None, columns by name."""
    cols = sorted(df.columns)
    out = []
    for row in df[cols].itertuples(index=False, name=None):
        out.append(tuple(None if pd.isna(x) else int(x) for x in row))
    return sorted(out, key=lambda t: [(x is None, x or 0) for x in t])


def decoded(revealed: dict[str, Any]) -> pd.DataFrame:
    """Opened ring columns as a DataFrame of nullable ints (strings as their digests)."""
    data = {}
    for name, vals in revealed.items():
        if "." in name:
            continue
        ints = np.asarray(vals, dtype=np.uint64).view(np.int64)
        null = revealed.get(f"{name}.null")
        col = [None if null is not None and null[i] else int(x) for i, x in enumerate(ints)]
        data[name] = pd.array(col, dtype="Int64")
    return pd.DataFrame(data)


def join_body(
    p: Party, left: dict[str, Any], right: dict[str, Any], runs: list[dict[str, Any]]
) -> list[Any]:
    lt, rt = unpack_table(left), unpack_table(right)
    out = []
    for opts in runs:
        t = join(p, lt, rt, **opts)
        out.append({"n": t.n, "rows": reveal(p, t)})
    return out


def secure_joins(
    left: pd.DataFrame,
    right: pd.DataFrame,
    runs: list[dict[str, Any]],
    *,
    spec_l: list[ColumnSpec] = SPEC_L,
    spec_r: list[ColumnSpec] = SPEC_R,
    transport: str = "memory",
) -> list[dict[str, Any]]:
    inputs = table_inputs({"left": (left, spec_l), "right": (right, spec_r)})
    for i in range(3):
        inputs[i]["runs"] = runs
    results: list[dict[str, Any]] = run_parties(join_body, inputs, transport=transport)[0]  # type: ignore[arg-type]
    return results


def check_against_pandas(
    left: pd.DataFrame, right: pd.DataFrame, runs: list[dict[str, Any]]
) -> None:
    got = secure_joins(left, right, runs)
    for opts, res in zip(runs, got, strict=True):
        want = plain_join(left, right, **opts)
        assert canonical(decoded(res["rows"])) == canonical(want), opts


rows_l = st.lists(st.tuples(KEYS, VALS), max_size=6)
rows_r = st.lists(st.tuples(KEYS, VALS, VALS), max_size=6)


@SETTINGS
@given(rows_l, rows_r)
def test_inner_and_left_joins_on_a_unique_right_side_match_pandas(
    lrows: list[tuple[Any, ...]], rrows: list[tuple[Any, ...]]
) -> None:
    left = frame(lrows, ["k", "v"])
    right = frame(unique_keys(rrows), ["k", "v", "w"])
    runs = [{"on": ["k"], "how": h, "validate": "m:1"} for h in ("inner", "left")]
    check_against_pandas(left, right, runs)


@SETTINGS
@given(rows_l, rows_r)
def test_one_to_many_inner_and_left_joins_match_pandas(
    lrows: list[tuple[Any, ...]], rrows: list[tuple[Any, ...]]
) -> None:
    left = frame(unique_keys(lrows), ["k", "v"])
    right = frame(rrows, ["k", "v", "w"])
    runs = [{"on": ["k"], "how": h, "validate": "1:m"} for h in ("inner", "left")]
    check_against_pandas(left, right, runs)


@SETTINGS
@given(rows_l, rows_r, st.integers(1, 3))
def test_many_to_many_joins_keep_the_first_declared_multiplicity_like_the_twin(
    lrows: list[tuple[Any, ...]], rrows: list[tuple[Any, ...]], c: int
) -> None:
    left = frame(lrows, ["k", "v"])
    right = frame(rrows, ["k", "v", "w"])
    runs = [
        {"on": ["k"], "how": h, "validate": "m:m", "max_multiplicity": c} for h in ("inner", "left")
    ]
    check_against_pandas(left, right, runs)


@SETTINGS
@given(rows_l, rows_r)
def test_semi_and_anti_joins_match_the_twin_with_duplicates_on_both_sides(
    lrows: list[tuple[Any, ...]], rrows: list[tuple[Any, ...]]
) -> None:
    left = frame(lrows, ["k", "v"])
    right = frame(rrows, ["k", "v", "w"])
    runs = [{"on": ["k"], "how": h} for h in ("semi", "anti")]
    check_against_pandas(left, right, runs)


@SETTINGS
@given(
    st.lists(st.tuples(KEYS, st.sampled_from([0, 1, None]), VALS), max_size=6),
    st.lists(st.tuples(KEYS, st.sampled_from([0, 1, None]), VALS), max_size=6),
)
def test_joins_on_two_key_columns_compare_every_key(
    lrows: list[tuple[Any, ...]], rrows: list[tuple[Any, ...]]
) -> None:
    spec_l = [ColumnSpec("k", "int"), ColumnSpec("j", "int"), ColumnSpec("v", "int")]
    spec_r = [ColumnSpec("k", "int"), ColumnSpec("j", "int"), ColumnSpec("w", "int")]
    left = frame(lrows, ["k", "j", "v"])
    right = frame(unique_keys(rrows, 2), ["k", "j", "w"])
    runs = [{"on": ["k", "j"], "how": h, "validate": "m:1"} for h in ("inner", "left", "anti")]
    got = secure_joins(left, right, runs, spec_l=spec_l, spec_r=spec_r)
    for opts, res in zip(runs, got, strict=True):
        want = plain_join(left, right, **opts)
        assert canonical(decoded(res["rows"])) == canonical(want), opts


EDGE_CASES = {
    "empty left": ([], [(1, 2, 3)]),
    "empty right": ([(1, 2)], []),
    "both empty": ([], []),
    "one row each, matching": ([(HI, 2)], [(HI, 5, 6)]),
    "all keys equal": ([(3, 1), (3, 2), (3, 3)], [(3, 4, 5)]),
    "no matches": ([(1, 1), (2, 2)], [(3, 3, 3), (LO, 0, 0)]),
    "all matches": ([(1, 1), (2, 2), (LO, 3)], [(LO, 7, 7), (2, 8, 8), (1, 9, 9)]),
    "only null keys": ([(None, 1)], [(None, 2, 3)]),
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_edge_cases_of_every_join_kind_match_the_twin(case: str) -> None:
    lrows, rrows = EDGE_CASES[case]
    left, right = frame(lrows, ["k", "v"]), frame(rrows, ["k", "v", "w"])
    promised = [v for v, t in (("m:1", right), ("1:m", left)) if not has_duplicate_keys(t)]
    runs: list[dict[str, Any]] = [
        {"on": ["k"], "how": h, "validate": v} for h in ("inner", "left") for v in promised
    ]
    runs += [{"on": ["k"], "how": h} for h in ("semi", "anti")]
    runs += [{"on": ["k"], "how": "left", "validate": "m:m", "max_multiplicity": 2}]
    check_against_pandas(left, right, runs)


def test_output_sizes_depend_only_on_the_input_sizes() -> None:
    left = frame([(1, 1), (1, 2), (2, 3), (None, 4)], ["k", "v"])
    right = frame([(1, 5, 5), (9, 6, 6), (2, 7, 7)], ["k", "v", "w"])
    runs: list[dict[str, Any]] = [
        {"on": ["k"], "how": "inner", "validate": "m:1"},
        {"on": ["k"], "how": "left", "validate": "1:m"},
        {"on": ["k"], "how": "inner", "validate": "m:m", "max_multiplicity": 3},
        {"on": ["k"], "how": "semi"},
    ]
    sizes = [r["n"] for r in secure_joins(left, right, runs)]
    assert sizes == [4, 3 + 4, 3 * 4, 4]


def test_suffixes_rename_clashing_columns_and_keys_appear_once() -> None:
    left = frame([(1, 10)], ["k", "v"])
    right = frame([(1, 20, 30)], ["k", "v", "w"])
    (res,) = secure_joins(left, right, [{"on": ["k"], "suffixes": ("_l", "_r")}])
    assert sorted(res["rows"]) == sorted(
        ["k", "k.null", "v_l", "v_l.null", "v_r", "v_r.null", "w", "w.null"]
    )


def test_string_payloads_travel_with_their_bytes() -> None:
    spec_r = [ColumnSpec("k", "int"), ColumnSpec("name", "string", max_len=12)]
    left = frame([(1, 0), (2, 0), (3, 0)], ["k", "v"])
    right = pd.DataFrame({"k": pd.array([3, 1], dtype="Int64"), "name": ["Ana", "Bogdan"]})
    (res,) = secure_joins(left, right, [{"on": ["k"], "how": "inner"}], spec_r=spec_r)
    rows = res["rows"]
    order = np.argsort(rows["k"].view(np.int64))
    assert list(rows["name"][order]) == list(string_digest(["Bogdan", "Ana"]))
    text = rows["name.text"][order].view(np.uint8).reshape(2, -1)
    assert bytes(text[0]).rstrip(b"\0") == b"Bogdan"


def test_a_many_to_many_join_needs_a_declared_multiplicity() -> None:
    left = frame([(1, 1)], ["k", "v"])
    right = frame([(1, 2, 3)], ["k", "v", "w"])
    with pytest.raises(Exception, match="max_multiplicity"):
        secure_joins(left, right, [{"on": ["k"], "validate": "m:m"}])


def test_every_join_kind_runs_across_three_processes(transport: str) -> None:
    left = frame([(1, 1), (2, 2), (2, 3), (None, 4), (LO, 5)], ["k", "v"])
    right = frame([(2, 7, 7), (LO, 8, 8), (5, 9, 9)], ["k", "v", "w"])
    runs: list[dict[str, Any]] = [
        {"on": ["k"], "how": "inner"},
        {"on": ["k"], "how": "left"},
        {"on": ["k"], "how": "semi"},
        {"on": ["k"], "how": "anti"},
    ]
    got = secure_joins(left, right, runs, transport=transport)
    for opts, res in zip(runs, got, strict=True):
        assert canonical(decoded(res["rows"])) == canonical(plain_join(left, right, **opts))


def test_joins_of_over_a_thousand_rows_copy_by_partition_and_match_pandas() -> None:
    # n_left + n_right >= 1,024: the segmented copy runs by stable partition
    rng = np.random.default_rng(21)

    def rows(n: int, width: int) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for _ in range(n):
            k = None if rng.random() < 0.05 else int(rng.integers(-300, 300))
            out.append((k, *(int(v) for v in rng.integers(-(2**40), 2**40, width - 1))))
        return out

    left = frame(rows(600, 2), ["k", "v"])
    right = frame(unique_keys(rows(500, 3)), ["k", "v", "w"])
    runs = [{"on": ["k"], "how": h, "validate": "m:1"} for h in ("inner", "left")]
    check_against_pandas(left, right, runs)
    left_u = frame(unique_keys(rows(500, 2)), ["k", "v"])
    right_m = frame(rows(600, 3), ["k", "v", "w"])
    runs = [{"on": ["k"], "how": h, "validate": "1:m"} for h in ("inner", "left")]
    check_against_pandas(left_u, right_m, runs)

"""PSI and overlap (capture-history) tables agree with their plaintext twins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharelake.harness.runner import run_parties
from sharelake.mpc.arith import open_arith
from sharelake.mpc.party import Party
from sharelake.relational.compact import reveal
from sharelake.relational.overlap import overlap
from sharelake.relational.plain_join import (
    plain_intersection,
    plain_overlap,
    plain_psi_cardinality,
    plain_psi_flags,
)
from sharelake.relational.psi import intersection, psi_cardinality, psi_flags
from sharelake.relational.table import ColumnSpec
from tests.relational.helpers import table_inputs, unpack_table

LO, HI = -(2**63), 2**63 - 1
KEYS = st.sampled_from([LO, HI, -3, -1, 0, 1, 2, 5, None])
SETTINGS = settings(max_examples=12, deadline=None)
SPEC = [ColumnSpec("k", "int")]


def keys_frame(keys: list[Any]) -> pd.DataFrame:
    return pd.DataFrame({"k": pd.array(keys, dtype="Int64")})


def psi_body(p: Party, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    ta, tb = unpack_table(a), unpack_table(b)
    inter = intersection(p, ta, tb, on="k")
    return {
        "card": open_arith(p, psi_cardinality(p, ta, tb, on="k")),
        "flags": open_arith(p, psi_flags(p, ta, tb, on="k")),
        "inter_n": inter.n,
        "inter": reveal(p, inter)["k"],
    }


def secure_psi(a: pd.DataFrame, b: pd.DataFrame, transport: str = "memory") -> dict[str, Any]:
    inputs = table_inputs({"a": (a, SPEC), "b": (b, SPEC)})
    out: dict[str, Any] = run_parties(psi_body, inputs, transport=transport)[0]
    return out


def check_psi(a: pd.DataFrame, b: pd.DataFrame, transport: str = "memory") -> None:
    got = secure_psi(a, b, transport)
    assert int(got["card"][0]) == plain_psi_cardinality(a, b, on=["k"])
    assert got["flags"].tolist() == plain_psi_flags(a, b, on=["k"]).tolist()
    assert got["inter_n"] == len(a) + len(b)
    want = plain_intersection(a, b, on=["k"])["k"].astype("int64").tolist()
    assert sorted(got["inter"].view(np.int64).tolist()) == sorted(want)


@SETTINGS
@given(st.lists(KEYS, max_size=8), st.lists(KEYS, max_size=8))
def test_psi_cardinality_flags_and_intersection_match_the_twins(a: list[Any], b: list[Any]) -> None:
    check_psi(keys_frame(a), keys_frame(b))


PSI_CASES = {
    "both empty": ([], []),
    "one side empty": ([1, 2], []),
    "one row": ([HI], [HI]),
    "all duplicates": ([7, 7, 7], [7, 7]),
    "no matches": ([1, 2, 3], [4, 5, LO]),
    "all match": ([LO, 0, HI], [HI, LO, 0]),
    "null keys never match": ([None, 1], [None, 2]),
}


@pytest.mark.parametrize("case", list(PSI_CASES))
def test_psi_edge_cases_match_the_twins(case: str) -> None:
    a, b = PSI_CASES[case]
    check_psi(keys_frame(a), keys_frame(b))


def test_invalid_rows_are_left_out_of_the_intersection() -> None:
    def body(p: Party, a: dict[str, Any], b: dict[str, Any]) -> list[int]:
        ta, tb = unpack_table(a), unpack_table(b)
        mask = p.public_a(np.array([1, 0, 1], dtype=np.uint64))
        from sharelake.mpc.arith import mul

        ta = ta.with_valid(mul(p, ta.valid, mask))
        return [int(open_arith(p, psi_cardinality(p, ta, tb, on="k"))[0])]

    inputs = table_inputs({"a": (keys_frame([1, 2, 3]), SPEC), "b": (keys_frame([1, 2, 3]), SPEC)})
    assert run_parties(body, inputs)[0] == [2]


def overlap_body(p: Party, lists: list[dict[str, Any]]) -> dict[str, Any]:
    t = overlap(p, [unpack_table(d) for d in lists], on="k")
    return {"n": t.n, "rows": reveal(p, t)}


def secure_overlap(frames: list[pd.DataFrame], transport: str = "memory") -> pd.DataFrame:
    names = [f"L{j}" for j in range(len(frames))]
    packed = table_inputs({nm: (f, SPEC) for nm, f in zip(names, frames, strict=True)})
    inputs = [{"lists": [packed[i][nm] for nm in names]} for i in range(3)]
    res = run_parties(overlap_body, inputs, transport=transport)[0]
    assert res["n"] == 2 ** len(frames) - 1
    rows = res["rows"]
    data = {c: rows[c].astype(bool) for c in rows if c.startswith("in_") and "." not in c}
    data["count"] = rows["count"].view(np.int64)
    return pd.DataFrame(data)


def check_overlap(frames: list[pd.DataFrame], transport: str = "memory") -> None:
    got = secure_overlap(frames, transport)
    want = plain_overlap(frames, on="k", names=[f"L{j}" for j in range(len(frames))])
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)


@SETTINGS
@given(st.lists(st.lists(KEYS, max_size=6), min_size=2, max_size=4))
def test_overlap_counts_match_the_twin_for_two_to_four_lists(lists: list[list[Any]]) -> None:
    check_overlap([keys_frame(x) for x in lists])


def test_overlap_of_empty_lists_is_all_zero() -> None:
    check_overlap([keys_frame([]), keys_frame([]), keys_frame([1])])


def test_a_person_listed_twice_in_one_list_counts_once() -> None:
    check_overlap([keys_frame([1, 1, 2]), keys_frame([1, 3, 3])])


def test_overlap_rejects_a_single_list() -> None:
    with pytest.raises(Exception, match="2 to"):
        secure_overlap([keys_frame([1])])


def test_psi_and_overlap_run_across_three_processes(transport: str) -> None:
    a, b = keys_frame([1, 2, 2, None, LO]), keys_frame([2, LO, 9])
    check_psi(a, b, transport)
    check_overlap([a, b, keys_frame([9, 1, HI])], transport)


def _many_keys(rng: np.random.Generator, n: int, pool: int) -> pd.DataFrame:
    """n keys drawn from a small pool (many duplicates across and within lists), some null."""
    k = pd.array(rng.integers(-pool, pool, n), dtype="Int64")
    k[rng.random(n) < 0.1] = pd.NA
    return pd.DataFrame({"k": k})


def test_psi_and_overlap_over_many_word_boundaries_match_the_twins() -> None:
    # hundreds of rows: the packed-bit scans cross many 64-bit word boundaries
    rng = np.random.default_rng(11)
    a, b, c = _many_keys(rng, 150, 60), _many_keys(rng, 131, 60), _many_keys(rng, 70, 60)
    check_psi(a, b)
    check_overlap([a, b, c])


CAT = ColumnSpec("k", "category", categories=tuple(f"c{j}" for j in range(5)))


def cat_psi_body(p: Party, a: dict[str, Any], b: dict[str, Any]) -> int:
    return int(open_arith(p, psi_cardinality(p, unpack_table(a), unpack_table(b), on="k"))[0])


def test_psi_on_a_category_key_sorts_on_its_declared_width() -> None:
    rng = np.random.default_rng(12)
    frames = [pd.DataFrame({"k": [f"c{j}" for j in rng.integers(0, 5, m)]}) for m in (40, 9)]
    inputs: list[Mapping[str, Any]] = [
        *table_inputs({"a": (frames[0], [CAT]), "b": (frames[1], [CAT])})
    ]
    got = run_parties(cat_psi_body, inputs)[0]
    assert got == plain_psi_cardinality(frames[0], frames[1], on=["k"])

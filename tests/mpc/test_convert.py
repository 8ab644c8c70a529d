"""Conversions (A2B, B2A, bit injection, bit extraction) against plaintext twins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharelake.harness.runner import run_parties
from sharelake.mpc import convert, plain
from sharelake.mpc.arith import open_arith, open_bool
from sharelake.mpc.bits import BitShare, open_bits, pack
from sharelake.mpc.party import Party
from sharelake.mpc.ring import to_ring
from sharelake.mpc.shares import AShare, BShare
from sharelake.mpc.sharing import reconstruct_arith, reconstruct_bool, share_arith, share_bool
from sharelake.net.memory import run_in_memory

I64 = np.iinfo(np.int64)
EDGES = np.array(
    [0, 1, -1, I64.min, I64.max, I64.min + 1, I64.max - 1, 2, -2, 1 << 32, 5, 5],
    dtype=np.int64,
)
Array = np.ndarray[Any, Any]


def _column(rng: np.random.Generator, n: int) -> Array:
    return np.concatenate([EDGES, rng.integers(I64.min, I64.max, n, dtype=np.int64)])


def body_a2b(p: Party, x: AShare) -> dict[str, Any]:
    sk = convert.a2b(p, x)
    ks = convert.a2b(p, x, adder="kogge_stone")
    return {"sklansky": open_bool(p, sk), "kogge_stone": open_bool(p, ks), "pair": sk}


def test_a2b_gives_the_same_words_with_both_prefix_adders(transport: str) -> None:
    x = _column(np.random.default_rng(1), 200)
    res = run_parties(body_a2b, [{"x": s} for s in share_arith(to_ring(x))], transport=transport)
    for r in res:
        np.testing.assert_array_equal(r["sklansky"], plain.a2b(x))
        np.testing.assert_array_equal(r["kogge_stone"], plain.a2b(x))
    np.testing.assert_array_equal(reconstruct_bool([r["pair"] for r in res]), plain.a2b(x))


def body_a2b_narrow(p: Party, x: AShare, widths: list[int]) -> dict[str, Any]:
    return {str(w): open_bool(p, convert.a2b(p, x, bits=w)) for w in widths}


def test_a2b_of_the_low_bits_only_is_the_words_mod_2_to_the_bits() -> None:
    x = _column(np.random.default_rng(3), 300)
    widths = [1, 2, 3, 10, 31, 33, 63, 64]
    inputs: list[Mapping[str, Any]] = [{"x": s, "widths": widths} for s in share_arith(to_ring(x))]
    res = run_in_memory(body_a2b_narrow, inputs)
    full = plain.a2b(x)
    for r in res:
        for w in widths:
            mask = np.uint64((1 << w) - 1) if w < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
            np.testing.assert_array_equal(r[str(w)], full & mask)


def body_b2a(p: Party, x: BShare) -> dict[str, Any]:
    a = convert.b2a(p, x)
    return {"opened": open_arith(p, a), "pair": a}


def test_b2a_gives_an_arithmetic_sharing_of_the_same_words(transport: str) -> None:
    x = to_ring(_column(np.random.default_rng(2), 200))
    res = run_parties(body_b2a, [{"x": s} for s in share_bool(x)], transport=transport)
    for r in res:
        np.testing.assert_array_equal(r["opened"], plain.b2a(x))
    np.testing.assert_array_equal(reconstruct_arith([r["pair"] for r in res]), x)


def body_b2a_bits(p: Party, c: BShare, n: int) -> dict[str, Any]:
    a = convert.b2a_bits(p, BitShare(c.a, c.b, n))
    return {"opened": open_arith(p, a), "pair": a}


@settings(max_examples=10, deadline=None)
@given(st.lists(st.booleans(), min_size=0, max_size=200))
def test_bit_injection_turns_each_bit_into_zero_or_one(bits: list[bool]) -> None:
    c = np.array(bits, dtype=bool)
    res = run_in_memory(body_b2a_bits, [{"c": s, "n": len(c)} for s in share_bool(pack(c))])
    np.testing.assert_array_equal(res[0]["opened"], plain.b2a_bits(c))
    np.testing.assert_array_equal(reconstruct_arith([r["pair"] for r in res]), plain.b2a_bits(c))


def body_bits(p: Party, x: AShare, i: int, k: int) -> dict[str, Any]:
    planes = convert.bits_of(p, x, bits=k)
    return {
        "bit": open_bits(p, convert.bit_extract(p, x, i)),
        "planes": np.stack([open_bits(p, b) for b in planes]),
    }


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 63), st.integers(1, 64), st.integers(0, 90), st.integers(0, 2**32))
def test_bit_extraction_and_bit_planes_match_the_plaintext_bits(
    i: int, k: int, n: int, seed: int
) -> None:
    x = _column(np.random.default_rng(seed), n)
    inputs = [{"x": s, "i": i, "k": k} for s in share_arith(to_ring(x))]
    r = run_in_memory(body_bits, inputs)[1]
    np.testing.assert_array_equal(r["bit"], plain.bit_extract(x, i))
    np.testing.assert_array_equal(r["planes"], np.stack(plain.bits_of(x, bits=k)))


def body_costs(p: Party, x: AShare, xb: BShare) -> dict[str, list[int]]:
    out = {}
    for name, fn in (
        ("a2b", lambda: convert.a2b(p, x)),
        ("b2a", lambda: convert.b2a(p, xb)),
        ("inject", lambda: convert.b2a_bits(p, BitShare(xb.a, xb.b, 64 * len(x)))),
    ):
        r0, b0 = p.chan.stats.snapshot()
        fn()
        r1, b1 = p.chan.stats.snapshot()
        out[name] = [r1 - r0, b1 - b0]
    return out


def test_conversions_cost_log_rounds_and_a_few_words_per_element_in_the_semi_honest_setting() -> (
    None
):
    n = 640
    xs = share_arith(to_ring(np.arange(n)))
    xbs = share_bool(to_ring(np.arange(n)))
    inputs = [{"x": xs[i], "xb": xbs[i]} for i in range(3)]
    res = run_in_memory(body_costs, inputs, security="semi-honest")
    for r in res:
        assert r["a2b"][0] == 8
        assert r["a2b"][1] <= 8 * 8 * n
        assert r["b2a"][0] == 9
        assert r["b2a"][1] <= 9 * 8 * n
        assert r["inject"][0] == 2
        assert r["inject"][1] <= 8 * 64 * n  # at most one ring element per bit


def test_empty_and_single_element_columns_convert() -> None:
    for n in (0, 1):
        x = np.full(n, -7, dtype=np.int64)
        res = run_in_memory(body_a2b, [{"x": s} for s in share_arith(to_ring(x))])
        assert res[0]["sklansky"].tolist() == to_ring(x).tolist()
        res2 = run_in_memory(body_b2a, [{"x": s} for s in share_bool(to_ring(x))])
        assert res2[0]["opened"].tolist() == to_ring(x).tolist()
        r3 = run_in_memory(body_bits, [{"x": s, "i": 63, "k": 3} for s in share_arith(to_ring(x))])
        assert r3[0]["bit"].tolist() == [True] * n


def body_bad_index(p: Party, x: AShare) -> None:
    convert.bit_extract(p, x, 64)


def test_bit_index_outside_the_word_is_rejected() -> None:
    with pytest.raises(ValueError, match="bit index"):
        run_in_memory(body_bad_index, [{"x": s} for s in share_arith(to_ring(np.arange(3)))])

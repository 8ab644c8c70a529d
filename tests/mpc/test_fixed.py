"""Fixed-point multiplication and exact truncation against plaintext twins."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharelake.harness.runner import run_parties
from sharelake.mpc import fixed, plain
from sharelake.mpc.arith import open_arith
from sharelake.mpc.party import Party
from sharelake.mpc.ring import FRAC_BITS, decode_fixed, encode_fixed, to_ring, to_signed
from sharelake.mpc.shares import AShare
from sharelake.mpc.sharing import reconstruct_arith, share_arith
from sharelake.net.memory import run_in_memory

I64 = np.iinfo(np.int64)
EDGES = np.array(
    [0, 1, -1, I64.min, I64.max, I64.min + 1, I64.max - 1, 2, -2, 65535, 65536, -65536, -65537],
    dtype=np.int64,
)
Array = np.ndarray[Any, Any]


def _inputs(**cols: Any) -> list[dict[str, Any]]:
    shared = {
        k: share_arith(to_ring(v)) if isinstance(v, np.ndarray) else [v] * 3
        for k, v in cols.items()
    }
    return [{k: s[i] for k, s in shared.items()} for i in range(3)]


def body_trunc(p: Party, x: AShare, d: int) -> dict[str, Any]:
    t = fixed.trunc_exact(p, x, d)
    return {"opened": open_arith(p, t), "pair": t}


def test_exact_truncation_is_the_floor_on_the_whole_signed_range(transport: str) -> None:
    rng = np.random.default_rng(4)
    x = np.concatenate([EDGES, rng.integers(I64.min, I64.max, 300, dtype=np.int64)])
    res = run_parties(body_trunc, _inputs(x=x, d=FRAC_BITS), transport=transport)
    want = plain.trunc(x, FRAC_BITS)
    for r in res:
        np.testing.assert_array_equal(r["opened"], want)
    np.testing.assert_array_equal(reconstruct_arith([r["pair"] for r in res]), want)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 63), st.integers(0, 80), st.integers(0, 2**32))
def test_exact_truncation_by_any_distance_equals_an_arithmetic_shift(
    d: int, n: int, seed: int
) -> None:
    x = np.concatenate([EDGES, np.random.default_rng(seed).integers(I64.min, I64.max, n)])
    r = run_in_memory(body_trunc, _inputs(x=x, d=d))[0]
    np.testing.assert_array_equal(to_signed(r["opened"]), x >> d)


def body_mul_fixed(p: Party, x: AShare, y: AShare) -> dict[str, Array]:
    return {
        "exact": open_arith(p, fixed.mul_fixed(p, x, y)),
        "prob": open_arith(p, fixed.mul_fixed(p, x, y, trunc="probabilistic")),
        "t_prob": open_arith(p, fixed.trunc(p, x, 3, mode="probabilistic")),
    }


def test_fixed_point_products_are_exact_or_within_one_unit(transport: str) -> None:
    rng = np.random.default_rng(8)
    # Large values: exact truncation must be exact. Probabilistic truncation of a product
    # of magnitude 2^l fails with probability 2^(l+1-64) per element (ABY3), about 2^-8
    # here, so it is only checked on the small values below.
    big_a = np.concatenate([[0.0, 1.0, -1.0, 0.5, -0.5, 1e-4, -3.25], rng.normal(0, 1000, 200)])
    big_b = np.concatenate([[7.0, -1.0, -1.0, 0.5, 2.0, -1e-4, -3.25], rng.normal(0, 1000, 200)])
    # Small values (|x·y| < 2^7): failure probability below 2^-24 per element.
    small_a, small_b = rng.uniform(-8, 8, 200), rng.uniform(-8, 8, 200)
    a, b = np.concatenate([big_a, small_a]), np.concatenate([big_b, small_b])
    nbig = len(big_a)
    xa, xb = encode_fixed(a), encode_fixed(b)
    res = run_parties(body_mul_fixed, _inputs(x=xa, y=xb), transport=transport)
    want = plain.mul_fixed(xa, xb)
    for r in res:
        np.testing.assert_array_equal(r["exact"], want)
        diff = to_signed(r["prob"] - want)[nbig:]
        assert np.all((diff == 0) | (diff == 1))
        tdiff = to_signed(r["t_prob"] - plain.trunc(xa, 3))
        assert np.all((tdiff == 0) | (tdiff == 1))
    np.testing.assert_allclose(
        decode_fixed(res[0]["exact"]), a * b, atol=2 ** -(FRAC_BITS - 1) * 1e3
    )


def test_empty_and_single_element_columns_truncate() -> None:
    for n in (0, 1):
        x = np.full(n, -5, dtype=np.int64)
        r = run_in_memory(body_trunc, _inputs(x=x, d=1))[0]
        assert to_signed(r["opened"]).tolist() == [-3] * n


def body_trunc_cost(p: Party, x: AShare) -> list[int]:
    r0 = p.chan.stats.rounds
    fixed.trunc_exact(p, x, FRAC_BITS)
    return [p.chan.stats.rounds - r0]


def test_exact_truncation_takes_eleven_rounds() -> None:
    res = run_in_memory(body_trunc_cost, _inputs(x=np.arange(100)))
    assert all(r == [11] for r in res)


def test_truncation_distance_outside_the_word_is_rejected() -> None:
    with pytest.raises(ValueError, match="truncation distance"):
        run_in_memory(body_trunc, _inputs(x=np.arange(3), d=64))

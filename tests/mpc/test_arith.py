"""Arithmetic protocols against their plaintext twins, in memory and over TLS."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharelake.errors import IntegrityError
from sharelake.harness.runner import run_parties
from sharelake.mpc import arith
from sharelake.mpc.party import Party
from sharelake.mpc.ring import to_ring, to_signed
from sharelake.mpc.shares import AShare
from sharelake.mpc.sharing import reconstruct_arith, share_arith
from sharelake.net.memory import run_in_memory

I64 = np.iinfo(np.int64)
EDGES = np.array([0, 1, -1, I64.min, I64.max, I64.min + 1, I64.max - 1, 2, -2], dtype=np.int64)


def _inputs(**cols: np.ndarray[Any, Any]) -> list[dict[str, Any]]:
    shared = {name: share_arith(to_ring(v)) for name, v in cols.items()}
    return [{name: s[i] for name, s in shared.items()} for i in range(3)]


def body_mul_and_open(p: Party, x: AShare, y: AShare) -> dict[str, Any]:
    arith.check_input(p, x)
    arith.check_input(p, y)
    prod = arith.mul(p, x, y)
    return {"opened": arith.open_arith(p, prod), "pair": prod}


def test_multiplication_matches_numpy_wrapping_product_on_edges_and_random(
    transport: str,
) -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate([EDGES, rng.integers(I64.min, I64.max, 500, dtype=np.int64)])
    y = np.concatenate([EDGES[::-1], rng.integers(I64.min, I64.max, 500, dtype=np.int64)])
    res = run_parties(body_mul_and_open, _inputs(x=x, y=y), transport=transport)
    with np.errstate(over="ignore"):
        want = x * y
    for r in res:
        np.testing.assert_array_equal(to_signed(r["opened"]), want)
    np.testing.assert_array_equal(to_signed(reconstruct_arith([r["pair"] for r in res])), want)


def body_dot(p: Party, x: AShare, y: AShare) -> np.ndarray[Any, Any]:
    return arith.open_arith(p, arith.dot(p, x, y))


def body_matmul(p: Party, x: AShare, y: AShare) -> np.ndarray[Any, Any]:
    return arith.open_arith(p, arith.matmul(p, x, y))


def test_dot_and_matmul_match_numpy_with_one_resharing_per_output() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(-1000, 1000, (40, 16))
    y = rng.integers(-1000, 1000, (40, 16))
    got = run_in_memory(body_dot, _inputs(x=x, y=y))[0]
    np.testing.assert_array_equal(to_signed(got), (x * y).sum(axis=1))
    yt = rng.integers(-1000, 1000, (16, 7))
    got2 = run_in_memory(body_matmul, _inputs(x=x, y=yt))[0]
    np.testing.assert_array_equal(to_signed(got2), x @ yt)


def body_count_rounds(p: Party, x: AShare, y: AShare) -> list[int]:
    r0, b0 = p.chan.stats.snapshot()
    arith.mul(p, x, y)
    r1, b1 = p.chan.stats.snapshot()
    return [r1 - r0, b1 - b0]


def test_multiplication_costs_one_round_and_one_element_per_value() -> None:
    x = np.arange(1000)
    res = run_in_memory(body_count_rounds, _inputs(x=x, y=x))
    for rounds, sent in res:
        assert rounds == 1
        assert sent == 8 * 1000


def body_trunc(p: Party, x: AShare, d: int) -> AShare:
    return arith.trunc_prob(p, x, d)


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.integers(-(2**40), 2**40), min_size=0, max_size=50),
    st.integers(1, 20),
)
def test_probabilistic_truncation_is_floor_or_one_more(values: list[int], d: int) -> None:
    x = np.array(values, dtype=np.int64)
    res = run_in_memory(body_trunc, [{"x": s, "d": d} for s in share_arith(to_ring(x))])
    got = to_signed(reconstruct_arith(res))
    diff = got - (x >> d)
    assert np.all((diff == 0) | (diff == 1))


def body_open_only(p: Party, x: AShare) -> np.ndarray[Any, Any]:
    return arith.open_arith(p, x)


def _flip_from_1_to_0(src: int, dst: int, data: bytes) -> bytes:
    if src == 1 and dst == 0 and len(data) > 32:
        return bytes([data[0] ^ 1]) + data[1:]
    return data


def test_opening_aborts_with_integrity_error_when_a_node_alters_its_share() -> None:
    x = np.arange(100)
    with pytest.raises(IntegrityError):
        run_in_memory(body_open_only, _inputs(x=x), tamper=_flip_from_1_to_0)


def test_input_check_rejects_a_client_that_sends_inconsistent_pairs() -> None:
    shares = share_arith(to_ring(np.arange(10)))
    bad = AShare(shares[1].a, shares[1].b + np.uint64(1))
    with pytest.raises(IntegrityError):
        run_in_memory(body_mul_and_open, [{"x": s, "y": s} for s in (shares[0], bad, shares[2])])


def test_reconstruction_at_the_client_rejects_a_tampered_pair() -> None:
    shares = share_arith(to_ring(np.arange(10)))
    bad = AShare(shares[2].a ^ np.uint64(4), shares[2].b)
    with pytest.raises(IntegrityError, match="component 2"):
        reconstruct_arith([shares[0], shares[1], bad])


def test_sharing_of_a_constant_column_looks_uniform() -> None:
    shares = share_arith(np.zeros(20000, dtype=np.uint64))
    top_bits = (shares[0].a >> np.uint64(63)).astype(np.int64)
    assert 0.47 < top_bits.mean() < 0.53
    again = share_arith(np.zeros(20000, dtype=np.uint64))
    assert not np.array_equal(again[0].a, shares[0].a)


def test_empty_and_single_element_columns_multiply() -> None:
    for n in (0, 1):
        x = np.full(n, -3)
        res = run_in_memory(body_mul_and_open, _inputs(x=x, y=x))
        np.testing.assert_array_equal(to_signed(res[0]["opened"]), x * x)

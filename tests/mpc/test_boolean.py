"""Boolean gates, bit-matrix transpose and packed bit vectors against plaintext twins."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sharelake.harness.runner import run_parties
from sharelake.mpc import boolean
from sharelake.mpc.arith import open_bool
from sharelake.mpc.bits import (
    BitShare,
    and_bits,
    and_bits_many,
    concat,
    open_bits,
    or_bits,
    pack,
    unpack,
)
from sharelake.mpc.party import Party
from sharelake.mpc.shares import BShare
from sharelake.mpc.sharing import reconstruct_bool, share_bool
from sharelake.net.memory import run_in_memory

Array = np.ndarray[Any, Any]
U64MAX = 0xFFFFFFFFFFFFFFFF


def _words(rng: np.random.Generator, n: int) -> Array:
    w = rng.integers(0, U64MAX, n, dtype=np.uint64, endpoint=True)
    w[: min(n, 3)] = [0, U64MAX, 1 << 63][: min(n, 3)]
    return w


def _bit_matrix(words: Array) -> Array:
    """Plaintext: bits of each word, little-endian, shape (len, 64)."""
    return np.unpackbits(words.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")


def test_transpose64_swaps_rows_and_columns_of_each_64_by_64_block() -> None:
    words = _words(np.random.default_rng(1), 3 * 64).reshape(3, 64)
    out = boolean.transpose64(words)
    for b in range(3):
        np.testing.assert_array_equal(_bit_matrix(out[b]), _bit_matrix(words[b]).T)
    np.testing.assert_array_equal(boolean.transpose64(out), words)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 300), st.integers(0, 2**32))
def test_bit_planes_hold_bit_j_of_every_element_and_invert_exactly(n: int, seed: int) -> None:
    words = _words(np.random.default_rng(seed), n)
    planes = boolean.to_planes(words)
    assert planes.shape == (64, (n + 63) // 64)
    for j in (0, 1, 31, 63):
        np.testing.assert_array_equal(unpack(planes[j], n), _bit_matrix(words)[:, j] == 1)
    np.testing.assert_array_equal(boolean.from_planes(planes, n), words)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.booleans(), max_size=300))
def test_pack_and_unpack_are_inverse_with_little_endian_bit_order(bits: list[bool]) -> None:
    b = np.array(bits, dtype=bool)
    w = pack(b)
    assert w.shape == ((len(b) + 63) // 64,)
    np.testing.assert_array_equal(unpack(w, len(b)), b)
    if len(b) > 0:
        assert int(w[0]) & 1 == int(b[0])


def body_gates(p: Party, x: BShare, y: BShare) -> dict[str, Any]:
    r0 = p.chan.stats.rounds
    a1, a2 = boolean.and_many(p, [(x, y), (x, x)])
    rounds = p.chan.stats.rounds - r0
    return {
        "and": open_bool(p, boolean.and_(p, x, y)),
        "or": open_bool(p, boolean.or_(p, x, y)),
        "many0": open_bool(p, a1),
        "many1": open_bool(p, a2),
        "pair": a1,
        "rounds": rounds,
    }


def test_and_or_gates_match_numpy_and_batch_into_one_round(transport: str) -> None:
    rng = np.random.default_rng(3)
    x, y = _words(rng, 150), _words(rng, 150)
    xs, ys = share_bool(x), share_bool(y)
    res = run_parties(body_gates, [{"x": xs[i], "y": ys[i]} for i in range(3)], transport=transport)
    for r in res:
        np.testing.assert_array_equal(r["and"], x & y)
        np.testing.assert_array_equal(r["or"], x | y)
        np.testing.assert_array_equal(r["many0"], x & y)
        np.testing.assert_array_equal(r["many1"], x)
        assert r["rounds"] == 1
    np.testing.assert_array_equal(reconstruct_bool([r["pair"] for r in res]), x & y)


def body_bitvectors(p: Party, x: BShare, y: BShare, n: int) -> dict[str, Any]:
    bx, by = BitShare(x.a, x.b, n), BitShare(y.a, y.b, n)
    both, nx = and_bits_many(p, [(bx, by), (bx, bx.invert(p.id))])
    cut = n // 3
    return {
        "and": open_bits(p, and_bits(p, bx, by)),
        "or": open_bits(p, or_bits(p, bx, by)),
        "xor": open_bits(p, bx ^ by),
        "not": open_bits(p, bx.invert(p.id)),
        "many": open_bits(p, both),
        "x_and_not_x": open_bits(p, nx),
        "concat": open_bits(p, concat([bx, by])),
        "slice": open_bits(p, bx[cut : n - 1]),
        "aligned": open_bits(p, concat([bx[0:64], by])) if n >= 64 else np.zeros(0, bool),
    }


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 200), st.integers(0, 2**32))
def test_secret_bit_vectors_support_logic_slicing_and_concatenation(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n).astype(bool)
    y = rng.integers(0, 2, n).astype(bool)
    xs, ys = share_bool(pack(x)), share_bool(pack(y))
    r = run_in_memory(body_bitvectors, [{"x": xs[i], "y": ys[i], "n": n} for i in range(3)])[0]
    np.testing.assert_array_equal(r["and"], x & y)
    np.testing.assert_array_equal(r["or"], x | y)
    np.testing.assert_array_equal(r["xor"], x ^ y)
    np.testing.assert_array_equal(r["not"], ~x)
    np.testing.assert_array_equal(r["many"], x & y)
    np.testing.assert_array_equal(r["x_and_not_x"], np.zeros(n, bool))
    np.testing.assert_array_equal(r["concat"], np.concatenate([x, y]))
    np.testing.assert_array_equal(r["slice"], x[n // 3 : n - 1])
    if n >= 64:
        np.testing.assert_array_equal(r["aligned"], np.concatenate([x[:64], y]))


def test_transposes_never_modify_their_input_even_for_a_single_block() -> None:
    words = _words(np.random.default_rng(6), 64)
    keep = words.copy()
    boolean.to_planes(words)
    boolean.transpose64(words.reshape(1, 64))
    np.testing.assert_array_equal(words, keep)

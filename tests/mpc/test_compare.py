"""Comparisons and selection against their plaintext twins, in memory and over TLS."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sharelake.harness.runner import run_parties
from sharelake.mpc import compare, plain
from sharelake.mpc.arith import open_arith
from sharelake.mpc.bits import BitShare, open_bits, pack
from sharelake.mpc.party import Party
from sharelake.mpc.ring import to_ring
from sharelake.mpc.shares import AShare
from sharelake.mpc.sharing import share_arith, share_bool
from sharelake.net.memory import run_in_memory

I64 = np.iinfo(np.int64)
EDGES = np.array(
    [0, 1, -1, I64.min, I64.max, I64.min + 1, I64.max - 1, 2, -2, 1 << 32, -(1 << 32)],
    dtype=np.int64,
)
U64MAX = np.uint64(0xFFFFFFFFFFFFFFFF)

Array = np.ndarray[Any, Any]


def _inputs(public: dict[str, Any] | None = None, **cols: Any) -> list[dict[str, Any]]:
    """Secret-share the numpy columns; pass ``public`` values to every party as they are."""
    shared = {}
    for name, v in cols.items():
        shared[name] = share_arith(to_ring(v)) if isinstance(v, np.ndarray) else [v, v, v]
    return [{**(public or {}), **{name: s[i] for name, s in shared.items()}} for i in range(3)]


def _pairs_with_edges(rng: np.random.Generator, n: int) -> tuple[Array, Array]:
    """Every edge against every edge, equal values, duplicates and random values."""
    ex, ey = np.meshgrid(EDGES, EDGES)
    rx = rng.integers(I64.min, I64.max, n, dtype=np.int64, endpoint=True)
    ry = rng.integers(I64.min, I64.max, n, dtype=np.int64, endpoint=True)
    ry[: n // 4] = rx[: n // 4]  # equal values
    ry[n // 4 : n // 2] = rx[n // 4 : n // 2] + rng.integers(-3, 4, n // 2 - n // 4)
    return np.concatenate([ex.ravel(), rx]), np.concatenate([ey.ravel(), ry])


def body_all_comparisons(p: Party, x: AShare, y: AShare) -> dict[str, Array]:
    out: dict[str, Array] = {}
    for signed in (True, False):
        tag = "s" if signed else "u"
        out["lt" + tag] = open_bits(p, compare.lt(p, x, y, signed=signed))
        out["le" + tag] = open_bits(p, compare.le(p, x, y, signed=signed))
        out["gt" + tag] = open_bits(p, compare.gt(p, x, y, signed=signed))
        out["ge" + tag] = open_bits(p, compare.ge(p, x, y, signed=signed))
    out["eq"] = open_bits(p, compare.eq(p, x, y))
    out["msb"] = open_bits(p, compare.msb(p, x))
    return out


def test_comparisons_are_exact_over_the_full_signed_and_unsigned_range(transport: str) -> None:
    rng = np.random.default_rng(11)
    x, y = _pairs_with_edges(rng, 300)
    res = run_parties(body_all_comparisons, _inputs(x=x, y=y), transport=transport)
    xu, yu = to_ring(x), to_ring(y)
    for r in res:
        for signed in (True, False):
            tag = "s" if signed else "u"
            for op in ("lt", "le", "gt", "ge"):
                want = getattr(plain, op)(xu, yu, signed=signed)
                np.testing.assert_array_equal(r[op + tag], want, err_msg=op + tag)
        np.testing.assert_array_equal(r["eq"], plain.eq(xu, yu))
        np.testing.assert_array_equal(r["msb"], plain.msb(xu))


def test_unsigned_comparison_orders_uint64_max_above_everything() -> None:
    x = np.array([0xFFFFFFFFFFFFFFFF, 0, 1 << 63, (1 << 63) - 1, 5], dtype=np.uint64)
    y = np.array([0, 0xFFFFFFFFFFFFFFFF, (1 << 63) - 1, 1 << 63, 5], dtype=np.uint64)
    res = run_in_memory(body_all_comparisons, _inputs(x=x, y=y))
    assert res[0]["ltu"].tolist() == [False, True, False, True, False]
    assert res[0]["lts"].tolist() == [True, False, True, False, False]
    assert res[0]["eq"].tolist() == [False, False, False, False, True]


def body_narrow(p: Party, x: AShare, y: AShare, bits: int) -> dict[str, Array]:
    return {
        "lt": open_bits(p, compare.lt(p, x, y, bits=bits)),
        "ge": open_bits(p, compare.ge(p, x, y, bits=bits)),
        "eq": open_bits(p, compare.eq(p, x, y, bits=bits)),
        "msb": open_bits(p, compare.msb(p, x, bits=bits)),
    }


@settings(max_examples=12, deadline=None)
@given(st.integers(2, 63), st.integers(0, 70), st.integers(0, 2**32))
def test_narrow_comparisons_are_exact_inside_their_promise(bits: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    half = 1 << (bits - 2)
    x = rng.integers(-half, half, n, dtype=np.int64)
    y = rng.integers(-half, half, n, dtype=np.int64)
    y[: n // 3] = x[: n // 3]
    if n >= 2:
        x[:2] = [-half, half - 1]
        y[:2] = [half - 1, -half]
    r = run_in_memory(body_narrow, _inputs(x=x, y=y, bits=bits))[0]
    np.testing.assert_array_equal(r["lt"], x < y)
    np.testing.assert_array_equal(r["ge"], x >= y)
    np.testing.assert_array_equal(r["eq"], x == y)
    np.testing.assert_array_equal(r["msb"], x < 0)


def body_costs(p: Party, x: AShare, y: AShare) -> dict[str, list[int]]:
    out = {}
    for name, fn in (
        ("msb", lambda: compare.msb(p, x)),
        ("lt", lambda: compare.lt(p, x, y)),
        ("lt16", lambda: compare.lt(p, x, y, bits=16)),
        ("eq", lambda: compare.eq(p, x, y)),
    ):
        r0, b0 = p.chan.stats.snapshot()
        fn()
        r1, b1 = p.chan.stats.snapshot()
        out[name] = [r1 - r0, b1 - b0]
    return out


def test_comparisons_cost_few_rounds_and_few_words_per_element_in_the_semi_honest_setting() -> None:
    n = 64 * 40
    x = np.arange(n, dtype=np.int64)
    res = run_in_memory(body_costs, _inputs(x=x, y=x[::-1].copy()), security="semi-honest")
    for pid, r in enumerate(res):
        extra = 8 * n if pid == 0 else 0  # party 0 reshares its operand for eq
        assert r["msb"][0] == 7
        assert r["msb"][1] <= 2.5 * 8 * n
        assert r["lt"][0] == 8
        assert r["lt"][1] <= 7.5 * 8 * n
        assert r["lt16"][0] == 5
        assert r["lt16"][1] <= 0.75 * 8 * n
        assert r["eq"][0] == 7
        assert r["eq"][1] - extra <= 1.0 * 8 * n


def body_public(p: Party, x: AShare, c: Any) -> dict[str, Array]:
    return {
        "lt": open_bits(p, compare.lt_public(p, x, c)),
        "ltu": open_bits(p, compare.lt_public(p, x, c, signed=False)),
        "eq": open_bits(p, compare.eq_public(p, x, c)),
    }


def test_comparisons_with_public_constants_and_arrays_match_numpy(transport: str) -> None:
    rng = np.random.default_rng(5)
    x = np.concatenate([EDGES, rng.integers(I64.min, I64.max, 100, dtype=np.int64)])
    for c in (0, -1, 7, int(I64.min), int(I64.max)):
        r = run_parties(body_public, _inputs(x=x, c=c), transport=transport)[1]
        cu = to_ring(np.full(len(x), c, dtype=np.int64))
        np.testing.assert_array_equal(r["lt"], plain.lt(to_ring(x), cu))
        np.testing.assert_array_equal(r["ltu"], plain.lt(to_ring(x), cu, signed=False))
        np.testing.assert_array_equal(r["eq"], plain.eq(to_ring(x), cu))
    carr = rng.permutation(x)
    r = run_in_memory(body_public, _inputs({"c": carr}, x=x))[2]
    np.testing.assert_array_equal(r["lt"], x < carr)
    np.testing.assert_array_equal(r["eq"], x == carr)


def body_select(p: Party, c: Any, x: AShare, y: AShare, z: AShare) -> dict[str, Array]:
    n = len(x)
    bits = BitShare(c.a, c.b, n)
    one = compare.select(p, bits, x, y)
    many = compare.select_many(p, bits, [x, z], [y, x])
    return {
        "one": open_arith(p, one),
        "m0": open_arith(p, many[0]),
        "m1": open_arith(p, many[1]),
    }


def test_select_picks_x_where_the_bit_is_set_for_one_and_many_columns(transport: str) -> None:
    rng = np.random.default_rng(9)
    n = 131
    c = rng.integers(0, 2, n).astype(bool)
    x = rng.integers(I64.min, I64.max, n, dtype=np.int64)
    y = rng.integers(I64.min, I64.max, n, dtype=np.int64)
    z = np.concatenate([EDGES, rng.integers(-5, 5, n - len(EDGES))])
    cs = share_bool(pack(c))
    inputs = _inputs(x=x, y=y, z=z)
    for i in range(3):
        inputs[i]["c"] = cs[i]
    res = run_parties(body_select, inputs, transport=transport)
    for r in res:
        np.testing.assert_array_equal(r["one"], plain.select(c, x, y))
        np.testing.assert_array_equal(r["m0"], plain.select(c, x, y))
        np.testing.assert_array_equal(r["m1"], plain.select(c, z, x))


def test_empty_and_single_element_columns_compare_and_select() -> None:
    for n in (0, 1):
        x = np.full(n, -3, dtype=np.int64)
        y = np.full(n, 4, dtype=np.int64)
        r = run_in_memory(body_all_comparisons, _inputs(x=x, y=y))[0]
        assert r["lts"].tolist() == [True] * n
        assert r["ltu"].tolist() == [False] * n
        assert r["eq"].tolist() == [False] * n
        cs = share_bool(pack(np.ones(n, dtype=bool)))
        inputs = _inputs(x=x, y=y, z=y)
        for i in range(3):
            inputs[i]["c"] = cs[i]
        s = run_in_memory(body_select, inputs)[0]
        assert s["one"].tolist() == to_ring(x).tolist()


def test_comparison_of_a_column_with_duplicates_finds_every_equal_pair() -> None:
    x = np.array([5, 5, 5, -1, -1, 0, 0, 0, 0], dtype=np.int64)
    y = np.array([5, 4, 6, -1, 0, 0, -1, 1, 0], dtype=np.int64)
    r = run_in_memory(body_all_comparisons, _inputs(x=x, y=y))[0]
    np.testing.assert_array_equal(r["eq"], x == y)
    np.testing.assert_array_equal(r["les"], x <= y)

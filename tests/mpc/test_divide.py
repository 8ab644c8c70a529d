"""Secure division (trunc, floor, mod) against its plaintext twin: Python's integer
division on the same values, at the default security level (checked products)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sharelake.harness.runner import run_parties
from sharelake.mpc.arith import open_arith
from sharelake.mpc.divide import QUOTIENT_BITS, DivMode, divide
from sharelake.mpc.party import Party
from sharelake.mpc.ring import to_ring, to_signed
from sharelake.mpc.shares import AShare
from sharelake.mpc.sharing import share_arith

I64 = np.iinfo(np.int64)
Array = np.ndarray[Any, Any]


def parties(a: Array, d: Array, shift: int, mode: DivMode) -> list[dict[str, Any]]:
    """The three parties' inputs: their shares of a and d, and the public options."""
    sa, sd = share_arith(to_ring(a)), share_arith(to_ring(d))
    return [{"a": sa[i], "d": sd[i], "shift": shift, "mode": mode} for i in range(3)]


def body(p: Party, a: AShare, d: AShare, shift: int, mode: DivMode) -> dict[str, Any]:
    v, bad = divide(p, a, d, shift=shift, mode=mode)
    return {"v": to_signed(open_arith(p, v)), "bad": open_arith(p, bad)}


def want(a: Array, d: Array, shift: int, mode: DivMode) -> tuple[list[int], list[int]]:
    vals, bad = [], []
    for x, y in zip(a.tolist(), d.tolist(), strict=True):
        if y == 0 or abs(x) >= 1 << (QUOTIENT_BITS - shift):
            vals.append(0)
            bad.append(1)
            continue
        if mode == "trunc":
            q = abs(x << shift) // abs(y)
            vals.append(q if (x < 0) == (y < 0) else -q)
        elif mode == "floor":
            vals.append(x // y)
        else:
            vals.append(x % y)
        bad.append(0)
    return vals, bad


def operands(seed: int) -> tuple[Array, Array]:
    rng = np.random.default_rng(seed)
    edges_a = [0, 1, -1, 7, -7, 7, -7, 2**44 - 1, -(2**44) + 1, 2**44, I64.min, I64.max, 5, 5]
    edges_d = [1, 1, 1, 2, 2, -2, -2, 3, -3, 3, 5, 7, 0, I64.min]
    small = rng.integers(-1000, 1000, 40)
    big = rng.integers(-(2**59), 2**59, 20)
    a = np.array(edges_a + small.tolist() + big.tolist(), dtype=np.int64)
    dsmall = rng.integers(-50, 50, 40)
    dbig = rng.integers(-(2**62), 2**62, 20)
    d = np.array(edges_d + dsmall.tolist() + dbig.tolist(), dtype=np.int64)
    return a, d


@pytest.mark.parametrize(
    ("shift", "mode"),
    [
        (0, "floor"),
        (16, "trunc"),
        pytest.param(0, "mod", marks=pytest.mark.slow),
        pytest.param(0, "trunc", marks=pytest.mark.slow),
    ],
)
def test_division_equals_python_integer_division_on_random_and_edge_values(
    shift: int, mode: DivMode
) -> None:
    a, d = operands(shift + len(mode))
    res = run_parties(body, parties(a, d, shift, mode))
    vals, bad = want(a, d, shift, mode)
    for r in res:
        assert r["v"].tolist() == vals
        assert r["bad"].tolist() == bad

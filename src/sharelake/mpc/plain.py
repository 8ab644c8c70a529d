"""Plaintext twins (numpy) of the boolean, comparison, conversion and fixed-point protocols.

Each function computes on ring elements (uint64 arrays, two's complement) exactly what
the secure protocol of the same name opens to; tests compare the two on random inputs
and edge cases.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .ring import FRAC_BITS, Arr

Bools = npt.NDArray[np.bool_]
_SIGN = np.uint64(1 << 63)


def _u(x: Any) -> Arr:
    a = np.asarray(x)
    if a.dtype == np.uint64:
        return a
    return a.astype(np.int64).view(np.uint64)


def msb(x: Any, *, bits: int = 64) -> Bools:
    """Bit ``bits - 1`` of each ring element."""
    return ((_u(x) >> np.uint64(bits - 1)) & np.uint64(1)).astype(np.bool_)


def bit_extract(x: Any, i: int) -> Bools:
    """Bit i of each ring element."""
    return msb(x, bits=i + 1)


def bits_of(x: Any, *, bits: int = 64) -> list[Bools]:
    """The low ``bits`` bits, bit j as a boolean array."""
    return [bit_extract(x, j) for j in range(bits)]


def lt(x: Any, y: Any, *, signed: bool = True, bits: int = 64) -> Bools:
    """x < y over the full range (``bits=64``), or msb(x - y, bits) for bits < 64."""
    xu, yu = _u(x), _u(y)
    if bits < 64:
        return msb(xu - yu, bits=bits)
    if signed:
        return xu.view(np.int64) < yu.view(np.int64)
    return xu < yu


def le(x: Any, y: Any, *, signed: bool = True, bits: int = 64) -> Bools:
    return ~lt(y, x, signed=signed, bits=bits)


def gt(x: Any, y: Any, *, signed: bool = True, bits: int = 64) -> Bools:
    return lt(y, x, signed=signed, bits=bits)


def ge(x: Any, y: Any, *, signed: bool = True, bits: int = 64) -> Bools:
    return ~lt(x, y, signed=signed, bits=bits)


def eq(x: Any, y: Any, *, bits: int = 64) -> Bools:
    """x == y on the low ``bits`` bits."""
    mask = np.uint64((1 << bits) - 1)
    d: Arr = (_u(x) - _u(y)) & mask
    return np.asarray(d == 0, dtype=np.bool_)


def select(c: Any, x: Any, y: Any) -> Arr:
    """c ? x : y."""
    return np.where(np.asarray(c, dtype=np.bool_), _u(x), _u(y))


def a2b(x: Any) -> Arr:
    """Arithmetic to boolean is the identity on the value."""
    return _u(x).copy()


def b2a(x: Any) -> Arr:
    """Boolean to arithmetic is the identity on the value."""
    return _u(x).copy()


def b2a_bits(c: Any) -> Arr:
    """Bits as 0/1 ring elements."""
    return np.asarray(c, dtype=np.bool_).astype(np.uint64)


def _floor_shift(x: Arr, d: int) -> Arr:
    return (x.view(np.int64) >> np.int64(d)).view(np.uint64)


def trunc(x: Any, d: int) -> Arr:
    """floor(x / 2^d) of signed values (arithmetic shift)."""
    return _floor_shift(_u(x), d)


def mul_fixed(
    x: Any,
    y: Any,
    *,
    trunc: Literal["exact", "probabilistic"] = "exact",
    frac_bits: int = FRAC_BITS,
) -> Arr:
    """floor(x * y / 2^frac_bits) on the wrapped 64-bit product (the ``"exact"`` result;
    the probabilistic protocol returns this or one more)."""
    return _floor_shift(_u(x) * _u(y), frac_bits)

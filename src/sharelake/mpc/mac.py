"""Arithmetic for information-theoretic MACs: Z_2^128 on word pairs and GF(2^64).

The malicious shuffle (:mod:`sharelake.mpc.shuffle_check`) authenticates arithmetic
values with a MAC over Z_2^128 (the SPDZ2k idea of Cramer, Damgard, Escudero, Scholl and
Xing, "SPDZ2k: Efficient MPC mod 2^k with Active Security for Dishonest Majority",
CRYPTO 2018: values live in Z_2^64, MACs in a ring 64 bits larger, so the zero divisors
of Z_2^64 do not let an error through) and XOR-shared words with a MAC over the field
GF(2^64). This module is the local arithmetic: no communication, no secrets of its own.

A Z_2^128 array is a pair (lo, hi) of uint64 arrays, the value lo + 2^64 * hi; scalars
are Python ints. GF(2^64) is GF(2)[t] / (t^64 + t^4 + t^3 + t + 1); a word's bit j is
the coefficient of t^j.
"""

from __future__ import annotations

import numpy as np

from .ring import Arr

MASK64 = (1 << 64) - 1
MASK128 = (1 << 128) - 1
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_POLY = 0b11011  # t^4 + t^3 + t + 1: the low terms of the reduction polynomial


# ---- Z_2^128 -------------------------------------------------------------------------------


def add_wide(dlo: Arr, dhi: Arr, slo: Arr, shi: Arr) -> None:
    """(dlo, dhi) += (slo, shi) modulo 2^128, in place."""
    np.add(dlo, slo, out=dlo)
    carry = dlo < slo
    np.add(dhi, shi, out=dhi)
    dhi += carry


def sub_wide(dlo: Arr, dhi: Arr, slo: Arr, shi: Arr) -> None:
    """(dlo, dhi) -= (slo, shi) modulo 2^128, in place."""
    borrow = dlo < slo
    np.subtract(dlo, slo, out=dlo)
    np.subtract(dhi, shi, out=dhi)
    dhi -= borrow


def mulhi(x: Arr, y: Arr | np.uint64) -> Arr:
    """The high 64 bits of the 128-bit products x * y (elementwise, or by a scalar).

    Schoolbook on 32-bit halves, in place where possible (fresh large temporaries cost
    page faults).
    """
    x0 = x & _M32
    x1 = x >> _S32
    y0, y1 = y & _M32, y >> _S32
    mid = x0 * y0
    mid >>= _S32  # carry part of lo*lo
    t = x0  # x0 * y1, reusing x0's memory
    np.multiply(x0, y1, out=t)
    out: Arr = x1 * y1
    out += t >> _S32
    t &= _M32
    mid += t
    np.multiply(x1, y0, out=x1)  # x1 * y0
    out += x1 >> _S32
    x1 &= _M32
    mid += x1
    mid >>= _S32
    out += mid
    return out


def mul_wide_const(lo: Arr, hi: Arr, c: int) -> tuple[Arr, Arr]:
    """(lo, hi) * c modulo 2^128 for a public or local scalar c (a Python int)."""
    c &= MASK128
    clo, chi = np.uint64(c & MASK64), np.uint64(c >> 64)
    out_hi = mulhi(lo, clo)
    out_hi += lo * chi
    out_hi += hi * clo
    return lo * clo, out_hi


def dot_wide(chi: Arr, lo: Arr, hi: Arr) -> int:
    """sum_i chi_i * (lo_i + 2^64 hi_i) modulo 2^128, for chi_i in Z_2^64 (n < 2^32)."""
    plo = chi * lo
    phi = mulhi(chi, lo)
    phi += chi * hi
    # sum the low words exactly (32-bit halves cannot overflow a uint64 below 2^32 terms)
    s0 = int(np.sum(plo & _M32, dtype=np.uint64))
    s1 = int(np.sum(plo >> _S32, dtype=np.uint64))
    s_hi = int(np.sum(phi, dtype=np.uint64))  # wraps modulo 2^64: it is scaled by 2^64
    return (s0 + (s1 << 32) + (s_hi << 64)) & MASK128


def split_wide(v: int) -> tuple[int, int]:
    """A Z_2^128 scalar as its (lo, hi) words."""
    v &= MASK128
    return v & MASK64, v >> 64


def join_wide(lo: int, hi: int) -> int:
    """The Z_2^128 scalar lo + 2^64 hi."""
    return (int(lo) + (int(hi) << 64)) & MASK128


# ---- GF(2^64) ------------------------------------------------------------------------------


def _xtime(a: int) -> int:
    """a * t in GF(2^64)."""
    a <<= 1
    if a >> 64:
        a = (a & MASK64) ^ _POLY
    return a


def gf_mul(a: int, b: int) -> int:
    """The product of two GF(2^64) scalars."""
    out = 0
    a &= MASK64
    for j in range(64):
        if (b >> j) & 1:
            out ^= a
        a = _xtime(a)
    return out


def _tables(c: int) -> Arr:
    """Eight 256-entry tables: T[k][v] = c * (v t^{8k}) in GF(2^64)."""
    basis = np.empty(64, dtype=np.uint64)
    a = c & MASK64
    for j in range(64):
        basis[j] = a
        a = _xtime(a)
    v = np.arange(256, dtype=np.uint64)
    out = np.zeros((8, 256), dtype=np.uint64)
    for k in range(8):
        for bit in range(8):
            sel = ((v >> np.uint64(bit)) & np.uint64(1)).astype(bool)
            out[k, sel] ^= basis[8 * k + bit]
    return out


def gf_mul_const(x: Arr, c: int) -> Arr:
    """Each word of ``x`` times the GF(2^64) scalar ``c`` (byte-table method)."""
    tab = _tables(c)
    out = np.take(tab[0], (x & np.uint64(0xFF)).astype(np.intp))
    for k in range(1, 8):
        idx = ((x >> np.uint64(8 * k)) & np.uint64(0xFF)).astype(np.intp)
        out ^= np.take(tab[k], idx)
    return out


def parity(x: Arr) -> Arr:
    """The parity (0 or 1) of each word."""
    x = x.copy()
    for s in (32, 16, 8, 4, 2, 1):
        x ^= x >> np.uint64(s)
    return x & np.uint64(1)


def subset_xors(planes: Arr, chi_planes: Arr) -> Arr:
    """64 random subset-XORs of the rows whose bit-planes are ``planes`` (64, nb).

    ``chi_planes`` (64, nb): bit e of plane t says whether element e is in subset t.
    Returns 64 words; word t is the XOR of the elements of subset t. For any non-zero
    vector of elements, each word is non-zero with probability 1/2, independently.
    """
    out = np.zeros(64, dtype=np.uint64)
    prod = np.empty_like(planes)
    weights = np.uint64(1) << np.arange(64, dtype=np.uint64)
    for t in range(64):
        np.bitwise_and(planes, chi_planes[t], out=prod)
        folded = np.bitwise_xor.reduce(prod, axis=1)  # bit b: XOR over words of plane b
        out[t] = np.bitwise_or.reduce(parity(folded) * weights)
    return out

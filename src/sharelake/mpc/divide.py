"""Secure division of secret signed integers: truncated quotient (with extra fractional
bits for fixed point), floor quotient and Python's modulo, exactly.

Method: digit-recurrence (restoring) division in radix 4 on shares, as taught by
Knuth (TAOCP vol. 2, section 4.3.1) and Ercegovac & Lang ("Division and Square Root",
1994, chapter 1), on the magnitudes. Catrina & Saxena ("Secure Computation with
Fixed-Point Numbers", FC 2010) divide fixed-point numbers with Goldschmidt's iteration
from a normalised initial approximation; that gives an approximate quotient and needs a
bit decomposition for the normalisation anyway, so for results that must equal pandas'
``//`` and ``%`` digit for digit the recurrence is used here: every quotient digit is
exact, the remainder is exact, and the fixed-point quotient is the exact quotient
truncated to the output scale.

For numerator ``N = |a| * 2^shift`` (``|a| < 2^bits``, ``bits + shift = 60``) and divisor
``D = |d|``, with the numerator's bits from one bit decomposition
(:func:`sharelake.mpc.convert.bits_of`), each of the 30 steps takes the next two bits:
``r' = 4 r + digit``, compares ``r'`` with ``D``, ``2D``, ``3D`` (one batched
:func:`sharelake.mpc.compare.msb_many` of 3n values: the comparison outcomes stay
secret), injects the three bits (:func:`sharelake.mpc.convert.b2a_bits`) and subtracts
``c1 D + c2 D + c3 D`` (one multiplication round); the quotient digit is
``c1 + c2 + c3``. The invariant ``r < D`` and ``r <= N`` keeps every value below
``2^62``; a divisor of ``2^60`` or more is clamped to ``2^60`` (the quotient is 0
either way), so the comparisons fit in 63 signed bits.

Signs come from one batched ``msb`` of ``a`` and ``d``; the range checks
(``|a| < 2^bits``, ``|d| < 2^60``, ``d == 0``) from one batched unsigned comparison with
public bounds. Out of range or a zero divisor: the value is 0 and ``invalid`` is 1 (the
caller makes it missing). Everything runs on the checked primitives
(:mod:`sharelake.mpc.verify` verifies the queued products before any opening); nothing
is opened here.

Rounds: about 8 (signs) + 1 + 8 (ranges) + 8 (bits) + 2 + 30 x (7 + 2 + 1) + 3 to 12
(signs back, the remainder's zero test for ``floor``/``mod``): about 330.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .bits import BitShare, nwords
from .compare import lt_public, msb_many
from .convert import b2a_bits, bits_of
from .party import Party
from .scan import mul_many
from .shares import AShare, concat_a

__all__ = ["QUOTIENT_BITS", "DivMode", "divide"]

#: bits of the quotient magnitude: numerator bits + shift
QUOTIENT_BITS = 60
#: comparisons of r' - j D (|.| < 3 * 2^60) fit in this many signed bits
_CMP_BITS = 63

DivMode = Literal["trunc", "floor", "mod"]


def _split(x: AShare, k: int) -> list[AShare]:
    n = len(x) // k
    return [AShare(x.a[i * n : (i + 1) * n], x.b[i * n : (i + 1) * n]) for i in range(k)]


def _bits(p: Party, xs: list[AShare], bits: int = 64) -> list[AShare]:
    """msb of each array (all in one call), as arithmetic 0/1 sharings."""
    (s,) = msb_many(p, [concat_a(xs)], bits=bits)
    return _split(b2a_bits(p, s), len(xs))


def divide(
    p: Party, a: AShare, d: AShare, *, shift: int = 0, mode: DivMode = "trunc"
) -> tuple[AShare, AShare]:
    """``(a * 2^shift) / d`` of signed 64-bit sharings, elementwise: (values, invalid).

    ``mode="trunc"``: the quotient rounded toward zero (a fixed-point quotient when
    ``shift`` adds the output's fractional bits). ``"floor"``: Python's ``a // d``;
    ``"mod"``: Python's ``a % d`` (the sign of ``d``); both with ``shift=0``.
    ``invalid`` (0/1) is 1 where ``d == 0`` or ``|a| >= 2^(60 - shift)``; the value is 0
    there. Cost: see the module docstring (about 330 rounds, whatever the values).
    """
    if not 0 <= shift < QUOTIENT_BITS:
        raise ValueError(f"shift must be between 0 and {QUOTIENT_BITS - 1}")
    if mode != "trunc" and shift:
        raise ValueError("floor division and modulo take no fractional shift")
    n = len(a)
    bits = QUOTIENT_BITS - shift
    one = p.public_a(np.ones(n, dtype=np.uint64))
    with p.measure("divide"):
        sa, sd = _bits(p, [a, d])
        ta, td, sad = mul_many(p, [(sa, a), (sd, d), (sa, sd)])
        mag_a, mag_d = a - ta.scale(2), d - td.scale(2)
        neg = sa + sd - sad.scale(2)  # the quotient's sign: sa xor sd
        bounds = np.concatenate(
            [
                np.full(n, 1 << bits, dtype=np.uint64),
                np.full(n, 1 << QUOTIENT_BITS, dtype=np.uint64),
                np.ones(n, dtype=np.uint64),
            ]
        )
        below = b2a_bits(p, lt_public(p, concat_a([mag_a, mag_d, mag_d]), bounds, signed=False))
        a_ok, d_small, d_zero = _split(below, 3)
        # a divisor of 2^60 or more is clamped to 2^60 (the quotient is 0 either way)
        big = p.public_a(np.full(n, 1 << QUOTIENT_BITS, dtype=np.uint64))
        (keep,) = mul_many(p, [(d_small, mag_d - big)])
        dd = big + keep
        num = _inject(p, bits_of(p, mag_a, bits=bits), n)  # bit j of |a|
        zero = p.public_a(np.zeros(n, dtype=np.uint64))
        seq = [*num[::-1], *([zero] * shift)]  # the numerator's bits, most significant first
        q, r = _recurrence(p, seq, dd, n)
        invalid = one - _and(p, a_ok, one - d_zero)
        if mode == "trunc":
            (sq,) = mul_many(p, [(neg, q)])
            val = q - sq.scale(2)
        else:
            (nz0,) = _split(b2a_bits(p, lt_public(p, r, 1, signed=False)), 1)
            nz = one - nz0  # remainder != 0
            (w,) = mul_many(p, [(neg, nz)])  # the signs differ and r != 0
            if mode == "floor":
                (t,) = mul_many(p, [(neg, q.scale(2))])
                val = q - t - w  # -(q + 1) where w, -q where only the signs differ
            else:
                (wd,) = mul_many(p, [(w, mag_d)])
                m = r - wd
                (t,) = mul_many(p, [(sa, m)])
                val = m - t.scale(2)
        (out,) = mul_many(p, [(val, one - invalid)])
    return out, invalid


def _and(p: Party, x: AShare, y: AShare) -> AShare:
    (z,) = mul_many(p, [(x, y)])
    return z


def _inject(p: Party, planes: list[BitShare], n: int) -> list[AShare]:
    """:func:`b2a_bits` of several packed bit arrays of n bits in the same rounds."""
    nw = nwords(n)
    both = BitShare(
        np.concatenate([b.a for b in planes]),
        np.concatenate([b.b for b in planes]),
        64 * nw * len(planes),
    )
    inj = b2a_bits(p, both)
    return [
        AShare(inj.a[64 * nw * i : 64 * nw * i + n], inj.b[64 * nw * i : 64 * nw * i + n])
        for i in range(len(planes))
    ]


def _recurrence(p: Party, seq: list[AShare], dd: AShare, n: int) -> tuple[AShare, AShare]:
    """Radix-4 restoring division of the numerator given by its bits ``seq`` (most
    significant first, an even number of them) by ``dd > 0``: (quotient, remainder)."""
    one = p.public_a(np.ones(n, dtype=np.uint64))
    q = p.public_a(np.zeros(n, dtype=np.uint64))
    r = q
    for k in range(0, len(seq), 2):
        r1 = r.scale(4) + seq[k].scale(2) + seq[k + 1]
        below = _bits(p, [r1 - dd.scale(j) for j in (1, 2, 3)], bits=_CMP_BITS)
        c = [one - s for s in below]  # r' >= j D, monotone in j
        sub = mul_many(p, [(cj, dd) for cj in c])
        r = r1 - sub[0] - sub[1] - sub[2]
        q = q.scale(4) + c[0] + c[1] + c[2]
    return q, r

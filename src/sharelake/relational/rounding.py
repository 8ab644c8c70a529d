"""pandas' ``round(decimals)`` of secret fixed-point values, ties to even.

A value ``x = X / 2^f`` is rounded to ``k / 10^d`` with ``k`` the integer nearest to
``x 10^d``, ties to the even one (numpy's and so pandas' rule): ``Y = X 10^d`` (a local
scaling), ``k = floor((Y + 2^(f-1)) / 2^f)`` by the exact truncation
(:func:`sharelake.mpc.fixed.trunc_exact`, ABY3's exact truncation, Mohassel & Rindal CCS
2018 section 5.1.1); a tie is ``Y mod 2^f == 2^(f-1)`` (an equality on the low f bits,
:func:`sharelake.mpc.compare.eq_public`), where an odd ``k`` (its low bit,
:func:`sharelake.mpc.convert.bit_extract`) is lowered by one. The result ``k / 10^d`` is
put back on the ``2^-f`` grid by the secure division of :mod:`sharelake.mpc.divide`
(truncated toward zero: within ``2^-f`` of ``k / 10^d``; exact for ``d = 0``).

Range: ``|x| 10^d < 2^(62 - f)``; beyond it the value is missing. Leakage: none.
"""

from __future__ import annotations

import numpy as np

from ..mpc.compare import eq_public
from ..mpc.convert import b2a_bits, bit_extract
from ..mpc.divide import QUOTIENT_BITS, divide
from ..mpc.fixed import trunc_exact
from ..mpc.party import Party
from ..mpc.scan import mul_many
from ..mpc.shares import AShare

__all__ = ["round_fixed", "round_fixed_plain"]


def round_fixed(p: Party, x: AShare, f: int, decimals: int) -> tuple[AShare, AShare]:
    """(rounded values at scale f, invalid flags) of fixed-point ``x`` of scale ``f``."""
    n = len(x)
    y = x.scale(10**decimals)
    k = trunc_exact(p, y.add_public(np.uint64(1 << (f - 1)), p.id), f)
    low = y.add_public(np.uint64((-(1 << (f - 1))) % (1 << 64)), p.id)
    tie_bits = eq_public(p, low, 0, bits=f)
    odd_bits = bit_extract(p, k, 0)
    tie, odd = b2a_bits(p, tie_bits), b2a_bits(p, odd_bits)
    (both,) = mul_many(p, [(tie, odd)])
    k = k - both
    if decimals == 0:
        return k.scale(1 << f), p.public_a(np.zeros(n, dtype=np.uint64))
    ten = p.public_a(np.full(n, 10**decimals, dtype=np.uint64))
    return divide(p, k, ten, shift=f, mode="trunc")


def round_fixed_plain(
    x: np.ndarray[tuple[int], np.dtype[np.int64]], f: int, decimals: int
) -> tuple[np.ndarray[tuple[int], np.dtype[np.int64]], np.ndarray[tuple[int], np.dtype[np.bool_]]]:
    """The plaintext twin of :func:`round_fixed` on int64 encodings."""
    out = np.zeros(len(x), dtype=np.int64)
    bad = np.zeros(len(x), dtype=bool)
    for i, v in enumerate(np.asarray(x, dtype=np.int64).tolist()):
        y = v * 10**decimals
        k, r = divmod(y + (1 << (f - 1)), 1 << f)
        if r == 0 and k % 2:  # a tie (y's low bits were exactly one half): to even
            k -= 1
        if decimals == 0:
            out[i] = k << f
        elif abs(k) >= 1 << (QUOTIENT_BITS - f):
            bad[i] = True
        else:
            q = (abs(k) << f) // 10**decimals
            out[i] = q if k >= 0 else -q
    return out, bad

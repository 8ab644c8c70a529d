"""Fixed-point arithmetic: values x encoded as round(x * 2^FRAC_BITS) in Z_2^64.

A product of two encodings carries 2 * FRAC_BITS fractional bits and is truncated back:

- ``trunc="probabilistic"``: ABY3's Pi_trunc1 (Mohassel & Rindal, CCS 2018, after
  SecureML, Mohassel & Zhang S&P 2017), :func:`sharelake.mpc.arith.trunc_prob`. One
  round. For |x| < 2^l the result is floor(x / 2^d) or floor(x / 2^d) + 1; with
  probability at most 2^(l + 1 - 64) it is wrong by about 2^(64 - d) (a wrap).
- ``trunc="exact"``: :func:`trunc_exact`, exactly floor(x / 2^d) for every signed
  64-bit x (no error, no failure probability); about 11 rounds.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .arith import mul, trunc_prob
from .bits import BitShare
from .boolean import and_, known_by_12, nblocks, reduce_gp, to_planes, two_operands
from .convert import b2a_bits
from .party import Party
from .ring import FRAC_BITS, SIGN_BIT
from .shares import AShare, BShare

Trunc = Literal["exact", "probabilistic"]


def trunc_exact(p: Party, x: AShare, d: int) -> AShare:
    """Exact floor(x / 2^d) of signed 64-bit values (arithmetic shift right by d).

    With the bias x' = x + 2^63 (so x' is the unsigned image of x) and the two-operand
    split x' = u + v - 2^64 w (u = x'_0 + x'_1 at party 0, v = x'_2 at parties 1 and 2,
    w the wrap bit):

        floor(x' / 2^d) = (u >> d) + (v >> d) + c_d - 2^(64-d) w,

    where c_d is the carry out of the low d bits of u + v. Both c_d and w come from ONE
    pass of a generate/propagate tree over the bit-planes of u and v (segment [0, d)
    reduced to its carry, segment [d, 64) to its group generate and propagate, then
    w = G_hi ^ P_hi & c_d), as in ABY3's exact truncation via bit decomposition
    (Mohassel & Rindal, CCS 2018, section 5.1.1). The two bits are injected into the
    ring (:func:`sharelake.mpc.convert.b2a_bits`) and the bias 2^(63-d) removed.
    Party 0 shares u >> d arithmetically in the same message as the planes of u.
    Rounds: 1 + 1 + ceil(log2 max(d, 64 - d)) + 1 + 2 (11 for d = 16).
    """
    if not 0 <= d < 64:
        raise ValueError("truncation distance must be between 0 and 63")
    if d == 0:
        return x.copy()
    p.checks.unverified("fixed.trunc_exact")
    n = len(x)
    nb = nblocks(n)
    sd = np.uint64(d)
    xb = x.add_public(SIGN_BIT, p.id)
    u, v = two_operands(p, xb)
    shape = (64, nb)
    zeros_n = np.zeros(n, dtype=np.uint64)
    zeros_p = np.zeros(shape, dtype=np.uint64)
    if p.id == 0:
        assert u is not None
        rp = p.prg_next.words(shape)
        ap = to_planes(u) ^ rp
        r1 = p.prg_next.words(n)
        h0 = (u >> sd) - r1
        p.exchange({2: np.concatenate([ap.reshape(-1), h0])}, {})
        us = BShare(ap, rp)
        uh = AShare(h0, r1)
    elif p.id == 1:
        rp = p.prg_own.words(shape)
        r1 = p.prg_own.words(n)
        p.exchange({}, {})
        us = BShare(rp, zeros_p)
        uh = AShare(r1, zeros_n)
    else:
        got = p.exchange({}, {0: 8 * (64 * nb + n)})
        buf = np.frombuffer(got[0], dtype=np.uint64)
        us = BShare(zeros_p, buf[: 64 * nb].reshape(shape))
        uh = AShare(zeros_n, buf[64 * nb :])
    vs = known_by_12(p, to_planes(v) if v is not None else None, shape)
    vh = (
        AShare(zeros_n, zeros_n)
        if v is None
        else (AShare(zeros_n, v >> sd) if p.id == 1 else AShare(v >> sd, zeros_n))
    )
    g = and_(p, us, vs)
    q = BShare(us.a ^ vs.a, us.b ^ vs.b)
    (cd, _), (gh, ph) = reduce_gp(p, [(g[:d], q[:d], False), (g[d:], q[d:], True)])
    assert ph is not None
    t = and_(p, ph, cd)
    w = BShare(gh.a ^ t.a, gh.b ^ t.b)
    both = BitShare(np.concatenate([cd.a, w.a]), np.concatenate([cd.b, w.b]), 128 * nb)
    inj = b2a_bits(p, both)
    c_arith = inj[:n]
    w_arith = inj[64 * nb : 64 * nb + n]
    out = uh + vh + c_arith - w_arith.scale(np.uint64(1 << (64 - d)))
    return out.add_public(np.uint64((1 << 64) - (1 << (63 - d))), p.id)


def trunc(p: Party, x: AShare, d: int, *, mode: Trunc = "exact") -> AShare:
    """floor(x / 2^d): exactly (``"exact"``) or within one unit (``"probabilistic"``)."""
    if mode == "exact":
        return trunc_exact(p, x, d)
    return trunc_prob(p, x, d)


def mul_fixed(
    p: Party,
    x: AShare,
    y: AShare,
    *,
    trunc: Trunc = "exact",
    frac_bits: int = FRAC_BITS,
) -> AShare:
    """Fixed-point product: (x * y) / 2^frac_bits, one multiplication round then truncation.

    ``"exact"``: floor of the exact product, provided x * y (as integers) fits in a
    signed 64-bit word; ``"probabilistic"``: that floor or one more unit, failing with
    probability 2^(l + 1 - 64) when |x * y| < 2^l.
    """
    z = mul(p, x, y)
    if trunc == "exact":
        return trunc_exact(p, z, frac_bits)
    return trunc_prob(p, z, frac_bits)

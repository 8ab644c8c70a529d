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
from .boolean import (
    and_,
    component_planes,
    known_by_12,
    nblocks,
    reduce_gp,
    to_planes,
    two_operands,
)
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
    if p.checks.enabled:
        return _trunc_exact_checked(p, x, d)
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


def _trunc_exact_checked(p: Party, x: AShare, d: int) -> AShare:
    """:func:`trunc_exact` in the malicious setting: only checked AND and product rounds.

    With x' = x + 2^63 = x'_0 + x'_1 + x'_2 - 2^64 W (each component known to two parties,
    W in {0, 1, 2} the wrap count), floor(x' / 2^d) is

        sum_j (x'_j >> d) + maj_{d-1} + c_d - 2^(64-d) (maj_63 + c_64),

    where maj is the carry-save carry of the three components' bit-planes (one AND
    round), s = x'_0 ^ x'_1 ^ x'_2, and c_d, c_64 are the carries out of the low d and
    of all 64 positions of s + (maj << 1), from one generate/propagate tree (as in ABY3's
    exact truncation, Mohassel & Rindal CCS 2018, section 5.1.1, here with three
    pair-known operands instead of party 0's resharing). The sum of the shifted
    components is a replicated sharing as it stands (party i shifts its own pair); the four
    bits are injected with the checked :func:`~sharelake.mpc.convert.b2a_bits`. Rounds:
    1 + 1 + ceil(log2 max(d, 64 - d)) + 1 + 2 (11 for d = 16), as the semi-honest path.
    """
    n = len(x)
    nb = nblocks(n)
    sd = np.uint64(d)
    xb = x.add_public(SIGN_BIT, p.id)
    c0, c1, c2 = component_planes(p, xb, 64)
    s = BShare(c0.a ^ c1.a ^ c2.a, c0.b ^ c1.b ^ c2.b)
    t02 = BShare(c0.a ^ c2.a, c0.b ^ c2.b)
    t12 = BShare(c1.a ^ c2.a, c1.b ^ c2.b)
    m = and_(p, t02, t12)
    maj = BShare(m.a ^ c2.a, m.b ^ c2.b)  # carry of bit j goes to position j + 1
    zero = np.zeros((1, nb), dtype=np.uint64)
    c = BShare(np.concatenate([zero, maj.a[:63]]), np.concatenate([zero, maj.b[:63]]))
    g = and_(p, s, c)
    q = BShare(s.a ^ c.a, s.b ^ c.b)
    (cd, _), (gh, ph) = reduce_gp(p, [(g[:d], q[:d], False), (g[d:], q[d:], True)])
    assert ph is not None
    t = and_(p, ph, cd)
    c64 = BShare(gh.a ^ t.a, gh.b ^ t.b)
    rows = [maj[d - 1], cd, maj[63], c64]
    bits = BitShare(
        np.concatenate([r.a for r in rows]), np.concatenate([r.b for r in rows]), 256 * nb
    )
    inj = b2a_bits(p, bits)
    part = [inj[64 * nb * i : 64 * nb * i + n] for i in range(4)]
    high = AShare(xb.a >> sd, xb.b >> sd)
    wraps = (part[2] + part[3]).scale(np.uint64(1 << (64 - d)))
    out = high + part[0] + part[1] - wraps
    return out.add_public(np.uint64((1 << 64) - (1 << (63 - d))), p.id)


def trunc(p: Party, x: AShare, d: int, *, mode: Trunc = "exact") -> AShare:
    """floor(x / 2^d): exactly (``"exact"``) or within one unit (``"probabilistic"``).

    In the malicious setting ``"probabilistic"`` runs the checked exact truncation (its
    result is within the probabilistic one's promise): ABY3's one-message Pi_trunc1 lets
    party 1 send any value.
    """
    if mode == "exact":
        return trunc_exact(p, x, d)
    if p.checks.enabled:  # Pi_trunc1's one-party message is not checkable; exact is in spec
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
    if p.checks.enabled:  # as in :func:`trunc`: the exact floor is a valid result
        return trunc_exact(p, z, frac_bits)
    return trunc_prob(p, z, frac_bits)

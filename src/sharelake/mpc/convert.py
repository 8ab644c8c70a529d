"""Conversions between arithmetic and boolean sharings (Mohassel & Rindal, ABY3, CCS 2018).

- :func:`b2a_bits`: each secret bit to a 0/1 ring element ("bit injection", ABY3 5.4),
  2 rounds, at most one ring element per bit sent by any party (3 in total).
- :func:`a2b`: full bit decomposition with a parallel prefix adder on bit-planes after
  the two-operand reduction (ABY3 5.3); see :mod:`sharelake.mpc.boolean`.
- :func:`b2a`: full words, ABY3 5.3: two components drawn from pairwise PRGs, the third
  computed with a boolean adder and opened to the two parties that hold it.
- :func:`bit_extract`, :func:`bits_of`: one bit, or the low k bits as planes.
"""

from __future__ import annotations

import numpy as np

from .arith import mul, open_bool
from .bits import BitShare, unpack
from .boolean import (
    Adder,
    add_planes,
    from_planes,
    msb_planes,
    nblocks,
    reshare_from,
    split_checked,
    split_planes,
    to_planes,
    two_operands,
)
from .party import Party
from .ring import Arr
from .shares import AShare, BShare


def _unpack_u64(words: Arr, n: int) -> Arr:
    return unpack(words, n).astype(np.uint64)


def b2a_bits(p: Party, c: BitShare, *, wire: int = 64) -> AShare:
    """Each secret bit of ``c`` as an arithmetic sharing of 0 or 1 (ABY3 bit injection).

    c = e ^ c_2 with e = c_0 ^ c_1 known to party 0 and c_2 known to parties 1 and 2, so
    [c] = [e] (1 - 2 c_2) + c_2. Round 1: party 0 shares e arithmetically (component 1
    from the PRG it shares with party 1, component 0 sent to party 2). Then
    party 1 holds s1 = e_1 (1 - 2 c_2) + c_2 and party 2 holds s2 = e_0 (1 - 2 c_2), a
    2-out-of-2 sharing. Round 2: it is re-shared into replicated form with components 0
    and 1 drawn from PRGs; parties 1 and 2 exchange one masked word each.
    Cost: 2 rounds; party 0 sends n words, parties 1 and 2 send n words each.
    ``wire=32``: the words travel as 32 bits and the result is correct modulo 2^32 only
    (for callers that read at most 32 bits of it), halving the traffic.
    """
    if wire not in (32, 64):
        raise ValueError("wire must be 32 or 64")
    if p.checks.enabled:
        return _b2a_bits_checked(p, c)
    n = c.n
    dt = np.uint32 if wire == 32 else np.uint64
    size = n * (wire // 8)

    def w(x: Arr) -> Arr:
        return x.astype(dt) if wire == 32 else x

    def r(buf: memoryview) -> Arr:
        return np.frombuffer(buf, dtype=dt).astype(np.uint64)

    def cut(x: Arr) -> Arr:  # both holders of the component agree on all 64 bits
        return x & np.uint64(0xFFFFFFFF) if wire == 32 else x

    if p.id == 0:
        e = _unpack_u64(c.a ^ c.b, n)
        r1 = p.prg_next.words(n)
        p.exchange({2: w(e - r1)}, {})
        d0 = p.prg_own.words(n)
        d1 = p.prg_next.words(n)
        p.exchange({}, {})
        return AShare(d0, d1)
    if p.id == 1:
        c2 = _unpack_u64(c.b, n)
        r1 = p.prg_own.words(n)
        p.exchange({}, {})
        s1 = r1 * (np.uint64(1) - (c2 << np.uint64(1))) + c2
        d1 = p.prg_own.words(n)
        s1 -= d1
        got = p.exchange({2: w(s1)}, {2: size})
        d2 = cut(s1 + r(got[2]))
        return AShare(d1, d2)
    c2 = _unpack_u64(c.a, n)
    got = p.exchange({}, {0: size})
    f0 = r(got[0])
    s2 = f0 * (np.uint64(1) - (c2 << np.uint64(1)))
    d0 = p.prg_next.words(n)
    s2 -= d0
    got = p.exchange({1: w(s2)}, {1: size})
    d2 = cut(s2 + r(got[1]))
    return AShare(d2, d0)


def _b2a_bits_checked(p: Party, c: BitShare) -> AShare:
    """:func:`b2a_bits` in the malicious setting: two checked multiplication rounds.

    c = c_0 ^ c_1 ^ c_2 and component j is known to parties j and j-1, which hold
    arithmetic component j too: each c_j is the trivial arithmetic sharing of a 0/1 value
    (no communication, nothing one party chooses alone). Then
    t = c_0 + c_1 - 2 c_0 c_1 and c = t + c_2 - 2 t c_2 (ABY3, Mohassel & Rindal CCS 2018,
    section 5.4, with products by :func:`~sharelake.mpc.arith.mul`, queued for the
    check). 2 rounds, one ring element per bit per party and round (the ``wire=32``
    saving of the semi-honest path is not taken).
    """
    n = c.n
    own = _unpack_u64(c.a, n)  # component i of party i ...
    nxt = _unpack_u64(c.b, n)  # ... and component i + 1
    zero = np.zeros(n, dtype=np.uint64)
    comps = [AShare(own if j == p.id else zero, nxt if j == p.next else zero) for j in range(3)]
    two = np.uint64(2)
    t = comps[0] + comps[1] - mul(p, comps[0], comps[1]).scale(two)
    return t + comps[2] - mul(p, t, comps[2]).scale(two)


def _decompose(p: Party, x: AShare, k: int, adder: Adder) -> BShare:
    """Sum planes (k, nblocks) of the low k bits of x."""
    if p.checks.enabled:  # three pair-known operands instead of party 0's resharing
        s, c = split_checked(p, x, k)
        return add_planes(p, s, c, adder=adder)
    u, v = two_operands(p, x)
    us, vs = split_planes(p, u, v, len(x), k)
    return add_planes(p, us, vs, adder=adder)


def a2b(p: Party, x: AShare, *, adder: Adder = "sklansky", bits: int = 64) -> BShare:
    """Full bit decomposition: a boolean sharing of the same 64-bit words (ABY3 5.3).

    x = u + v (two-operand reduction), both transposed to bit-planes, then a parallel
    prefix adder (Sklansky by default, or Kogge-Stone) computes all 63 carries.
    Rounds: 1 + 1 + 6 = 8. Words sent per element: 1 by party 0 for the resharing, then
    about 6 (Sklansky) or 10 (Kogge-Stone) by every party.

    ``bits < 64``: only the low ``bits`` bits of x (x mod 2^bits) are converted, the
    higher bits of the result are 0: ``bits`` planes are reshared and the adder runs over
    ``bits - 1`` carries (2 + ceil(log2(bits - 1)) rounds, about bits / 64 of the words).
    Nothing is opened either way.
    """
    if not 1 <= bits <= 64:
        raise ValueError("bit width must be between 1 and 64")
    n = len(x)
    s = _decompose(p, x, bits, adder)
    return BShare(from_planes(s.a, n), from_planes(s.b, n))


def bits_of(p: Party, x: AShare, *, bits: int = 64, adder: Adder = "sklansky") -> list[BitShare]:
    """The low ``bits`` bits of x, bit j as a packed BitShare (bit-planes for radix sorts).

    Same protocol as :func:`a2b` restricted to ``bits`` planes:
    2 + ceil(log2(bits - 1)) rounds.
    """
    if not 1 <= bits <= 64:
        raise ValueError("bit width must be between 1 and 64")
    n = len(x)
    s = _decompose(p, x, bits, adder)
    return [BitShare.of(s[j], n) for j in range(bits)]


def bit_extract(p: Party, x: AShare, i: int) -> BitShare:
    """Bit ``i`` of each element of x (0 = least significant), via a sparse carry tree.

    Bit i of u + v = u_i ^ v_i ^ carry into i; only that carry is computed
    (2 + ceil(log2(ceil(i / 2))) rounds; see :func:`sharelake.mpc.boolean.msb_planes`).
    """
    if not 0 <= i < 64:
        raise ValueError("bit index must be between 0 and 63")
    (w,) = msb_planes(p, [x], i + 1)
    return BitShare.of(w, len(x))


def b2a(p: Party, x: BShare, *, adder: Adder = "sklansky") -> AShare:
    """Boolean-shared 64-bit words to an arithmetic sharing of the same values (ABY3 5.3).

    Components 1 and 2 of the result are drawn from the PRGs of the pairs that hold
    them; party 1 knows both and boolean-shares w = -(c1 + c2) in plane form. A prefix
    adder computes y = x + w = c0 in boolean form, which is opened to parties 0 and 2
    only (party 1 sends component 2 of y to party 0, party 0 sends component 1 to
    party 2). Rounds: 1 + 1 + 6 + 1 = 9 (the resharing of w runs alongside no other
    work). Words per element: 1 by party 1 (resharing), about 6 by each party in the
    adder, then 1 by parties 0 and 1. In the malicious setting (``p.checks.enabled``)
    the one-party resharing and the one-sided openings are replaced by a masked, checked
    opening (:func:`_b2a_checked`).
    """
    if p.checks.enabled:
        return _b2a_checked(p, x, adder=adder)
    n = int(x.a.shape[0])
    nb = nblocks(n)
    c1 = p.prg_next.words(n) if p.id == 0 else None
    c2 = p.prg_own.words(n) if p.id == 2 else None
    w_planes = None
    if p.id == 1:
        c1 = p.prg_own.words(n)
        c2 = p.prg_next.words(n)
        w_planes = to_planes(np.uint64(0) - c1 - c2)
    ws = reshare_from(p, 1, w_planes, (64, nb))
    xs = BShare(to_planes(x.a), to_planes(x.b))
    s = add_planes(p, xs, ws, adder=adder)
    ya = from_planes(s.a, n)
    yb = from_planes(s.b, n)
    if p.id == 0:
        got = p.exchange({2: yb}, {1: 8 * n})
        c0 = ya ^ yb ^ np.frombuffer(got[1], dtype=np.uint64)
        assert c1 is not None
        return AShare(c0, c1)
    if p.id == 1:
        p.exchange({0: yb}, {})
        assert c1 is not None and c2 is not None
        return AShare(c1, c2)
    got = p.exchange({}, {0: 8 * n})
    c0 = ya ^ yb ^ np.frombuffer(got[0], dtype=np.uint64)
    assert c2 is not None
    return AShare(c2, c0)


def _b2a_checked(p: Party, x: BShare, *, adder: Adder) -> AShare:
    """:func:`b2a` in the malicious setting: mask, add in boolean form, open, unmask.

    A random arithmetic sharing [r] comes from the pairwise PRGs (correct by
    construction, nobody knows r). Its negation is converted by the checked A2B
    (:func:`a2b`), a boolean adder computes [x - r] in boolean form, and d = x - r is
    opened by the checked opening (which first verifies every queued AND word, so d is
    the sum of the shared words); then [x] = d + [r]. d is uniformly random whatever x
    is. No step relies on one party's message alone: every AND is queued for the batched
    check and the opening is redundant. The masked-opening conversion of Demmler,
    Schneider & Zohner (ABY, NDSS 2015, section III-C) and Mohassel & Rindal (ABY3,
    CCS 2018, section 5.3), with checked gates (Furukawa et al., EUROCRYPT 2017).
    Rounds: the two adders (about 8 + 7) and one checked opening.
    """
    n = int(x.a.shape[0])
    r = p.rand_a(n)
    neg = _decompose(p, -r, 64, adder)
    d = add_planes(p, BShare(to_planes(x.a), to_planes(x.b)), neg, adder=adder)
    opened = open_bool(p, BShare(from_planes(d.a, n), from_planes(d.b, n)), check="b2a")
    return p.public_a(opened) + r

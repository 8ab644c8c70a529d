"""Comparisons of arithmetic sharings and oblivious selection.

Built on the two-operand reduction and bit-plane circuits of
:mod:`sharelake.mpc.boolean` (Mohassel & Rindal, ABY3, CCS 2018, sections 5.3-5.4):

- :func:`msb`: the sign bit, as the top bit of u + v from a sparse carry tree.
- :func:`lt` and friends over the full 64-bit range, signed or unsigned: the signs of
  x, y and x - y come from ONE batched :func:`msb` call over 3n values, then
  x < y = sd ^ ((sx ^ sy) & (sx ^ sd)) (one AND round). With ``bits=k < 64`` the caller
  promises that x - y fits in k signed bits and a single msb(x - y, bits=k) suffices.
- :func:`eq`: d = x - y is zero iff u = d_0 + d_1 (party 0) equals w = -d_2 (parties 1
  and 2): the planes of NOT(u ^ w) are ANDed together by a 6-level tree. In the malicious
  setting party 0 cannot reshare u alone; the test d_0 + d_1 = -d_2 is then made without
  carry propagation (one AND layer, :func:`_zero_checked`) before the same tree.
- :func:`select` / :func:`select_many`: c ? x : y = y + b2a(c) (x - y).

Every result is a packed :class:`~sharelake.mpc.bits.BitShare` of n bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .bits import BitShare, and_bits, pack
from .boolean import ONES, and_, component_planes, msb_planes, split_planes, two_operands
from .convert import b2a_bits
from .party import Party
from .ring import SIGN_BIT, Arr
from .shares import AShare, BShare, concat_a


def _check_bits(bits: int) -> None:
    if not 1 <= bits <= 64:
        raise ValueError("bit width must be between 1 and 64")


def msb(p: Party, x: AShare, *, bits: int = 64) -> BitShare:
    """The sign bit of x (bit ``bits - 1``); with bits < 64 only the low bits are used.

    ``bits=k``: the caller promises x is a k-bit signed value (its bits above k - 1 are
    ignored). Rounds: 2 + ceil(log2(ceil((k - 1) / 2))) (7 for k = 64). Words sent per
    element for k = 64: about 1.9 by parties 1 and 2 and 2.4 by party 0 (measured:
    15.0 and 19.1 bytes).
    """
    _check_bits(bits)
    (w,) = msb_planes(p, [x], bits)
    return BitShare.of(w, len(x))


def msb_many(p: Party, xs: Sequence[AShare], *, bits: int = 64) -> list[BitShare]:
    """:func:`msb` of several arrays in the same rounds."""
    _check_bits(bits)
    ws = msb_planes(p, xs, bits)
    return [BitShare.of(w, len(x)) for w, x in zip(ws, xs, strict=True)]


def _bias(p: Party, x: AShare) -> AShare:
    return x.add_public(SIGN_BIT, p.id)


def lt(p: Party, x: AShare, y: AShare, *, signed: bool = True, bits: int = 64) -> BitShare:
    """Secret x < y, elementwise, as packed bits.

    ``bits=64`` (default): exact over the whole range, signed (two's complement) or
    unsigned (``signed=False``; the top bits are flipped first by adding 2^63, which maps
    unsigned order onto signed order). sx, sy, sd = msb of x, y, x - y in one call over 3n
    values; x < y is sx where the signs differ, else sd:
    sd ^ ((sx ^ sy) & (sx ^ sd)). Rounds 8; bytes per element: 45 (parties 1, 2), 57.5
    (party 0).

    ``bits=k < 64``: the caller promises -2^(k-1) <= x - y < 2^(k-1) as integers, e.g.
    both signed values in [-2^(k-2), 2^(k-2)) or both unsigned values in [0, 2^(k-1)).
    Then x < y is msb(x - y, bits=k): 2 + ceil(log2(ceil((k - 1) / 2))) rounds, about
    2k/64 words per element. Outside that promise the result is meaningless (but nothing leaks).
    """
    _check_bits(bits)
    n = len(x)
    if len(y) != n:
        raise ValueError("lt: operands differ in length")
    if bits < 64:
        return msb(p, x - y, bits=bits)
    if not signed:
        x, y = _bias(p, x), _bias(p, y)
    sx, sy, sd = msb_many(p, [x, y, x - y])
    t = and_bits(p, sx ^ sy, sx ^ sd)
    return sd ^ t


def gt(p: Party, x: AShare, y: AShare, *, signed: bool = True, bits: int = 64) -> BitShare:
    """Secret x > y (= y < x)."""
    return lt(p, y, x, signed=signed, bits=bits)


def le(p: Party, x: AShare, y: AShare, *, signed: bool = True, bits: int = 64) -> BitShare:
    """Secret x <= y (= NOT y < x)."""
    return lt(p, y, x, signed=signed, bits=bits).invert(p.id)


def ge(p: Party, x: AShare, y: AShare, *, signed: bool = True, bits: int = 64) -> BitShare:
    """Secret x >= y (= NOT x < y)."""
    return lt(p, x, y, signed=signed, bits=bits).invert(p.id)


def _eq_zero(p: Party, d: AShare, bits: int) -> BitShare:
    """d == 0 mod 2^bits: AND of the planes of NOT(u ^ w) with u + (-w) = d."""
    _check_bits(bits)
    n = len(d)
    if p.checks.enabled:
        return BitShare.of(_and_rows(p, _zero_checked(p, d, bits))[0], n)
    u, w = two_operands(p, d)
    if w is not None:
        w = np.uint64(0) - w
    us, ws = split_planes(p, u, w, n, bits)
    e = BShare(us.a ^ ws.a, us.b ^ ws.b).xor_public(ONES, p.id)
    return BitShare.of(_and_rows(p, e)[0], n)


def _zero_checked(p: Party, d: AShare, k: int) -> BShare:
    """Planes (k, nb) that are all ones exactly where d == 0 mod 2^k, by one checked AND layer.

    d = d_0 + d_1 + d_2 is zero iff x + y = z for the pair-known operands x = d_0,
    y = d_1, z = -d_2 (each trivially shared by the two parties that hold that component,
    :func:`~sharelake.mpc.boolean.component_planes`). A sum is tested without propagating
    carries: x + y = z iff the carries c = x ^ y ^ z satisfy c_0 = 0 and
    c_(i+1) = maj(x_i, y_i, c_i), and given z that majority is the multiplexer
    m = x ^ ((x ^ y) & (x ^ NOT z)) (it is x where x = y, else NOT z). So
    d == 0 iff x ^ y ^ z ^ (m << 1) has no bit set: k - 1 AND words per 64 values, one
    round, every AND queued for the check; the caller ANDs the negated planes by a tree.
    The operands are the three-component split of Mohassel & Rindal (ABY3, CCS 2018,
    section 5.3); the carry identity is the full adder's (derived in the text above).
    It replaces a carry-save layer and a full adder (about ten rounds) in the checked path.
    """
    # component 2 negated by its two holders (parties 2 and 1): z = -d_2
    a = np.uint64(0) - d.a if p.id == 2 else d.a
    b = np.uint64(0) - d.b if p.id == 1 else d.b
    x, y, z = component_planes(p, AShare(a, b), k)
    t = x ^ y
    e = t ^ z  # the carries c, which must equal (m << 1)
    if k > 1:
        m = x[: k - 1] ^ and_(p, t[: k - 1], (x[: k - 1] ^ z[: k - 1]).invert(p.id))
        e = BShare(
            np.concatenate([e.a[:1], e.a[1:] ^ m.a]), np.concatenate([e.b[:1], e.b[1:] ^ m.b])
        )
    return e.xor_public(ONES, p.id)


def _and_rows(p: Party, e: BShare) -> BShare:
    """AND of all rows of e (shape (k, nb)) by a tree: ceil(log2 k) rounds."""
    while e.a.shape[0] > 1:
        k = e.a.shape[0]
        h = k // 2
        z = and_(p, e[:h], e[h : 2 * h])
        e = BShare(np.concatenate([z.a, e.a[2 * h :]]), np.concatenate([z.b, e.b[2 * h :]]))
    return e


def eq(p: Party, x: AShare, y: AShare, *, bits: int = 64) -> BitShare:
    """Secret x == y, elementwise.

    d = x - y is zero iff the two operands u = d_0 + d_1 (party 0) and w = -d_2 (parties
    1 and 2) are equal; party 0 reshares u in plane form and the planes of NOT(u ^ w)
    are ANDed by a tree. Rounds 1 + ceil(log2 bits) (7 for 64 bits); words per element:
    bits/64 by party 0, then (bits - 1)/64 by every party (about 1 for 64 bits).
    ``bits=k``: compare only the low k bits (exact when x - y is a k-bit value, e.g. both
    in [0, 2^k) or both in [-2^(k-1), 2^(k-1))).
    """
    if len(x) != len(y):
        raise ValueError("eq: operands differ in length")
    return _eq_zero(p, x - y, bits)


def _ring(c: Any, n: int) -> Arr:
    arr = np.asarray(c)
    if arr.dtype.kind not in "iub":
        raise TypeError("public comparison operands must be integers")
    arr = arr.astype(np.int64).view(np.uint64) if arr.dtype != np.uint64 else arr
    return np.broadcast_to(arr, (n,)).copy()


def _public(p: Party, c: Any, n: int) -> AShare:
    return p.public_a(_ring(c, n))


def eq_public(p: Party, x: AShare, c: Any, *, bits: int = 64) -> BitShare:
    """Secret x == c for a public constant or array c (same cost as :func:`eq`)."""
    return _eq_zero(p, x - _public(p, c, len(x)), bits)


def lt_public(p: Party, x: AShare, c: Any, *, signed: bool = True, bits: int = 64) -> BitShare:
    """Secret x < c for a public constant or array c.

    Full range: the sign sc of c is public, so only msb(x) and msb(x - c) are computed
    (2n values in one call): x < c = sx & sd if sc else sx | sd. Rounds 8, about 4 words
    per element. ``bits < 64`` as in :func:`lt`.
    """
    n = len(x)
    cc = _public(p, c, n)
    if bits < 64:
        return lt(p, x, cc, signed=signed, bits=bits)
    craw = _ring(c, n)
    if not signed:
        x, cc = _bias(p, x), _bias(p, cc)
        craw = craw ^ SIGN_BIT
    sx, sd = msb_many(p, [x, x - cc])
    t = and_bits(p, sx, sd)
    not_sc = ~pack((craw >> np.uint64(63)).astype(np.bool_))
    # sc ? t : sx ^ sd ^ t  ==  t ^ (~sc & (sx ^ sd))
    return t ^ (sx ^ sd).and_public(not_sc)


def select_many(p: Party, c: BitShare, xs: Sequence[AShare], ys: Sequence[AShare]) -> list[AShare]:
    """c ? x : y for several column pairs sharing one condition vector.

    b2a(c) once (2 rounds), then ONE multiplication round over all columns
    (Araki et al. CCS 2016): 3 rounds in total, one ring element per output per party
    plus the conversion.
    """
    n = c.n
    if len(xs) != len(ys):
        raise ValueError("select_many: as many x columns as y columns are needed")
    for x, y in zip(xs, ys, strict=True):
        if len(x) != n or len(y) != n:
            raise ValueError("select_many: columns must have the condition's length")
    ca = b2a_bits(p, c)
    if not xs:
        return []
    d = concat_a([x - y for x, y in zip(xs, ys, strict=True)])
    m = len(xs)
    da = d.a.reshape(m, n)
    db = d.b.reshape(m, n)
    z = da * ca.a
    z += da * ca.b
    z += db * ca.a
    z += p.zero_share(z.shape)
    got = p.pass_prev(z.reshape(-1)).reshape(z.shape)
    cb = AShare(np.broadcast_to(ca.a, z.shape), np.broadcast_to(ca.b, z.shape))
    p.checks.record_mul(AShare(da, db), cb, AShare(z, got))
    return [AShare(ys[i].a + z[i], ys[i].b + got[i]) for i in range(m)]


def select(p: Party, c: BitShare, x: AShare, y: AShare) -> AShare:
    """c ? x : y elementwise (3 rounds; see :func:`select_many`)."""
    return select_many(p, c, [x], [y])[0]

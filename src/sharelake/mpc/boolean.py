"""Boolean circuits on XOR-shared words: AND gates, bit-matrix transpose, prefix carries.

Boolean (XOR) replicated sharing and its one-round AND gate come from Araki, Furukawa,
Lindell, Nof and Ohara (CCS 2016): party i computes
``z_i = x_i&y_i ^ x_i&y_{i+1} ^ x_{i+1}&y_i`` plus its term of a zero-sharing and passes it
to the previous party. Every call here batches all its gates into ONE exchange.

Comparisons and conversions work on *bit-planes*: 64 consecutive elements form a 64x64
bit matrix, and its transpose (local, linear, so applied to each share component) turns
"one 64-bit value per element" into "plane j = bit j of 64 elements". A secret AND of
two planes then evaluates 64 gates in one word operation with no wasted bits.

Two-operand reduction (Mohassel & Rindal, ABY3, CCS 2018, section 5.3): an arithmetic
sharing x = x_0 + x_1 + x_2 is the sum of u = x_0 + x_1, known to party 0, and
v = x_2, known to parties 1 and 2. Party 0 boolean-shares u (one round, one word per
element, its second component drawn from the PRG it shares with party 1); v is a trivial
boolean sharing. Carries of u + v then come from a generate/propagate prefix circuit:
a sparse tree when only one carry is needed (its first level computed in one round
straight from u and v, see :func:`_pair_gp`), Sklansky (J. Sklansky, IRE Trans. Electronic
Computers 1960) or Kogge-Stone (IEEE Trans. Computers 1973) when all are.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from .party import Party
from .ring import Arr
from .shares import AShare, BShare

U64 = np.uint64
ONES = U64(0xFFFFFFFFFFFFFFFF)

#: The masked-swap steps of a 64x64 bit transpose: (distance j, mask of columns c with c&j == 0).
_STEPS: tuple[tuple[int, U64], ...] = (
    (32, U64(0x00000000FFFFFFFF)),
    (16, U64(0x0000FFFF0000FFFF)),
    (8, U64(0x00FF00FF00FF00FF)),
    (4, U64(0x0F0F0F0F0F0F0F0F)),
    (2, U64(0x3333333333333333)),
    (1, U64(0x5555555555555555)),
)

Adder = Literal["sklansky", "kogge_stone"]


# ---- AND gates ------------------------------------------------------------------------


def and_many(p: Party, pairs: Sequence[tuple[BShare, BShare]]) -> list[BShare]:
    """Bitwise AND of several pairs of equally shaped boolean sharings in ONE round.

    Araki et al. (CCS 2016): each party sends one word per output word to its previous
    neighbour. The pairs are concatenated into a single message.
    """
    sizes = []
    for x, y in pairs:
        if x.a.shape != y.a.shape:
            raise ValueError("and_many: operands of a pair must have the same shape")
        sizes.append(int(x.a.size))
    total = sum(sizes)
    z = np.empty(total, dtype=np.uint64)
    tmp = np.empty(max(sizes, default=0), dtype=np.uint64)
    off = 0
    for (x, y), s in zip(pairs, sizes, strict=True):
        zz = z[off : off + s].reshape(x.a.shape)
        t = tmp[:s].reshape(x.a.shape)
        np.bitwise_xor(y.a, y.b, out=zz)
        zz &= x.a
        np.bitwise_and(x.b, y.a, out=t)
        zz ^= t
        off += s
    r = p.prg_own.words(total)
    z ^= r
    z ^= p.prg_next.fill(r)
    got = p.pass_prev(z)
    out = []
    off = 0
    for (x, y), s in zip(pairs, sizes, strict=True):
        res = BShare(z[off : off + s].reshape(x.a.shape), got[off : off + s].reshape(x.a.shape))
        p.checks.record_and(x, y, res)
        out.append(res)
        off += s
    return out


def and_(p: Party, x: BShare, y: BShare) -> BShare:
    """Bitwise AND of two boolean sharings of the same shape (one round)."""
    return and_many(p, [(x, y)])[0]


def or_(p: Party, x: BShare, y: BShare) -> BShare:
    """Bitwise OR, as x ^ y ^ (x & y) (one round)."""
    z = and_(p, x, y)
    return BShare(x.a ^ y.a ^ z.a, x.b ^ y.b ^ z.b)


# ---- 64x64 bit-matrix transpose -------------------------------------------------------


def _transpose_rows(m: Arr) -> Arr:
    """Transpose every 64x64 bit block of ``m`` (shape (64, nb), C-contiguous) in place.

    Row r, column b is a 64-bit word; block b is the matrix M[r][c] = bit c of m[r, b].
    Six vectorised masked-swap steps (the recursive block transpose of Warren,
    *Hacker's Delight*, section 7-3), each on whole contiguous row ranges.
    """
    nb = m.shape[1]
    tmp = np.empty(32 * nb, dtype=np.uint64)
    for j, mask in _STEPS:
        v = m.reshape(64 // (2 * j), 2, j * nb)
        lo = v[:, 0, :]
        hi = v[:, 1, :]
        t = tmp.reshape(64 // (2 * j), j * nb)
        sj = U64(j)
        np.right_shift(lo, sj, out=t)
        t ^= hi
        t &= mask
        hi ^= t
        t <<= sj
        lo ^= t
    return m


def transpose64(words: Arr) -> Arr:
    """Transpose each 64x64 bit block: ``words`` has shape (nblocks, 64), so does the result.

    ``out[b, j]`` has bit r equal to bit j of ``words[b, r]``. The map is linear over
    GF(2) and an involution, so it applies to each share component separately.
    """
    m = np.asarray(words, dtype=np.uint64).T.copy(order="C")  # never a view of the input
    return np.ascontiguousarray(_transpose_rows(m).T)


def nblocks(n: int) -> int:
    """Number of 64-element blocks (= words per bit-plane) for ``n`` elements."""
    return (n + 63) // 64


def to_planes(words: Arr) -> Arr:
    """Bit-planes of a 1-D word array: shape (64, nblocks), row j = bit j of each element.

    Element e sits at word e // 64, bit e % 64 of every plane; padding elements are zero.
    """
    n = int(words.shape[0])
    nb = nblocks(n)
    if n == nb * 64:
        m = words.reshape(nb, 64).T.copy(order="C")  # never a view: it is changed in place
    else:
        m = np.zeros((64, nb), dtype=np.uint64)
        full = n // 64
        m[:, :full] = words[: full * 64].reshape(full, 64).T
        m[: n - full * 64, full] = words[full * 64 :]
    return _transpose_rows(m)


def from_planes(planes: Arr, n: int) -> Arr:
    """Inverse of :func:`to_planes`: ``planes`` (k <= 64 rows; missing rows are zero) -> n words."""
    k, nb = planes.shape
    m = np.zeros((64, nb), dtype=np.uint64)
    m[:k] = planes
    _transpose_rows(m)
    return np.ascontiguousarray(m.T).reshape(-1)[:n]


# ---- resharing and the two-operand split ----------------------------------------------


def reshare_from(p: Party, owner: int, value: Arr | None, shape: tuple[int, ...]) -> BShare:
    """Boolean-share a value known only to ``owner`` (one round, one word per word, ABY3).

    Component ``owner+1`` is drawn from the PRG the owner shares with the next party,
    component ``owner`` = value ^ that, sent to the previous party; component ``owner+2``
    is zero. ``value`` is ignored at the other parties.

    Not covered by the malicious-security checks (the owner may share any value); the
    checked comparisons and conversions use :func:`component_planes` instead.
    """
    p.checks.unverified("boolean.reshare_from")
    if p.id == owner:
        assert value is not None
        r = p.prg_next.words(shape)
        a = np.bitwise_xor(value, r)
        p.exchange({p.prev: a.reshape(-1)}, {})
        return BShare(a, r)
    if p.id == (owner + 1) % 3:
        r = p.prg_own.words(shape)
        p.exchange({}, {})
        return BShare(r, np.zeros(shape, dtype=np.uint64))
    got = p.exchange({}, {(owner) % 3: int(np.prod(shape)) * 8})
    a = np.frombuffer(got[owner], dtype=np.uint64).reshape(shape)
    return BShare(np.zeros(shape, dtype=np.uint64), a)


def known_by_12(p: Party, value: Arr | None, shape: tuple[int, ...]) -> BShare:
    """The trivial boolean sharing of a value known to parties 1 and 2 (component 2)."""
    z = np.zeros(shape, dtype=np.uint64)
    if p.id == 0:
        return BShare(z, z.copy())
    assert value is not None
    return BShare(value, z) if p.id == 2 else BShare(z, value)


def split_planes(p: Party, u: Arr | None, v: Arr | None, n: int, k: int) -> tuple[BShare, BShare]:
    """Boolean sharings of the low ``k`` bit-planes of u (party 0's word) and v (parties 1, 2).

    One round (party 0 sends k * nblocks(n) words to party 2). The random component is
    drawn directly in plane form, so each party transposes only the one word array it
    knows.
    """
    nb = nblocks(n)
    uplanes = to_planes(u)[:k] if (p.id == 0 and u is not None) else None
    vplanes = to_planes(v)[:k] if (p.id != 0 and v is not None) else None
    us = reshare_from(p, 0, uplanes, (k, nb))
    vs = known_by_12(p, vplanes, (k, nb))
    return us, vs


def two_operands(p: Party, x: AShare) -> tuple[Arr | None, Arr | None]:
    """(u, v) with x = u + v: u = x_0 + x_1 at party 0, v = x_2 at parties 1 and 2."""
    if p.id == 0:
        return x.a + x.b, None
    return None, (x.b if p.id == 1 else x.a)


# ---- generate/propagate circuits ------------------------------------------------------


def _xor(x: BShare, y: BShare) -> BShare:
    return BShare(x.a ^ y.a, x.b ^ y.b)


def _cat(parts: Sequence[BShare]) -> BShare:
    return BShare(np.concatenate([q.a for q in parts]), np.concatenate([q.b for q in parts]))


def _bitrev(levels: int) -> npt.NDArray[np.intp]:
    r = np.zeros(1, dtype=np.intp)
    for _ in range(levels):
        r = np.concatenate([2 * r, 2 * r + 1])
    return r


def reduce_gp(
    p: Party, segments: Sequence[tuple[BShare, BShare, bool]]
) -> list[tuple[BShare, BShare | None]]:
    """Group generate (and propagate) of whole segments of bit positions, batched.

    Each segment is (G, P, need_p) with G, P of shape (k, nb): per-position generate and
    propagate planes, position 0 lowest. Returns, per segment, the group generate of all
    k positions (= the carry out of them with carry-in 0) and, when ``need_p``, the group
    propagate, each of shape (nb,). A pairwise tree, ceil(log2 k) rounds for all
    segments together: (G_hi, P_hi) o (G_lo, P_lo) = (G_hi ^ P_hi & G_lo, P_hi & P_lo)
    (the two terms of the generate are exclusive, so XOR is OR). The spine (the group
    holding position 0) skips its propagate gate unless ``need_p``, so a k-position
    carry costs about 3k gates.

    Each segment is padded below position 0 to a power of two with the identity
    (G, P) = (0, 1) and its rows are stored in bit-reversed order, so at every level
    the low halves of the pairs are rows [0, h) and the high halves rows [h, 2h):
    contiguous, in place, with no copies between levels.
    """
    work = []
    for g, q, need in segments:
        k = g.a.shape[0]
        nb = g.a.shape[1]
        levels = max(k - 1, 0).bit_length()
        kk = 1 << levels
        rows = _bitrev(levels) - (kk - k)  # position held by each row; < 0 is padding
        pad = rows < 0
        src = np.where(pad, 0, rows)
        G = BShare(g.a[src], g.b[src])
        P = BShare(q.a[src], q.b[src])
        G.a[pad] = 0
        G.b[pad] = 0
        P.a[pad] = 0
        P.b[pad] = 0
        if p.id == 0:
            P.a[pad] = ONES
        elif p.id == 2:
            P.b[pad] = ONES
        work.append((G, P, need, kk, nb))
    while any(kk > 1 for _, _, _, kk, _ in work):
        pairs: list[tuple[BShare, BShare]] = []
        for G, P, need, kk, _ in work:
            if kk > 1:
                h = kk // 2
                st = 0 if need else 1
                pairs.append((P[h:kk], G[0:h]))
                pairs.append((P[h + st : kk], P[st:h]))
        res = and_many(p, pairs)
        i = 0
        nxt = []
        for G, P, need, kk, nb in work:
            if kk > 1:
                h = kk // 2
                st = 0 if need else 1
                pg, pp = res[i], res[i + 1]
                i += 2
                np.bitwise_xor(G.a[h:kk], pg.a, out=G.a[0:h])
                np.bitwise_xor(G.b[h:kk], pg.b, out=G.b[0:h])
                P.a[st:h] = pp.a
                P.b[st:h] = pp.b
                kk = h
            nxt.append((G, P, need, kk, nb))
        work = nxt
    return [(G[0], P[0] if need else None) for G, P, need, _, _ in work]


def prefix_generate(p: Party, g: BShare, q: BShare, *, adder: Adder = "sklansky") -> BShare:
    """All prefix generates G[0..j] for j < k (carry into position j + 1), shape (k, nb).

    ``adder="sklansky"`` (default): level s updates the positions with bit s set from the
    top of the lower half of their 2s-block -- about (k/2) log2 k generate gates.
    ``"kogge_stone"``: level s updates every position j >= s from j - s -- more gates,
    same ceil(log2 k) rounds. Propagate gates are computed only where a later level
    needs them.
    """
    k = g.a.shape[0]
    G = BShare(g.a.copy(), g.b.copy())
    P = BShare(q.a.copy(), q.b.copy())
    s = 1
    while s < k:
        if adder == "sklansky":
            hi = np.array([j for j in range(k) if j & s], dtype=np.intp)
            lo = (hi & ~(s - 1)) - 1
            need = (hi & ~(2 * s - 1)) != 0
        else:
            hi = np.arange(s, k, dtype=np.intp)
            lo = hi - s
            need = hi >= 2 * s
        hp, lp = hi[need], lo[need]
        pg, pp = and_many(p, [(P[hi], G[lo]), (P[hp], P[lp])])
        G.a[hi] ^= pg.a
        G.b[hi] ^= pg.b
        P.a[hp] = pp.a
        P.b[hp] = pp.b
        s *= 2
    return G


def _pair_gp(p: Party, us: BShare, vs: BShare, v: Arr | None, m: int) -> tuple[BShare, BShare]:
    """(G, P) of adjacent position pairs of u + v in ONE round, straight from the operands.

    With u known to party 0 (boolean-shared as (c0, c1, 0), together with the pair
    products w = u_hi & u_lo) and v known to parties 1 and 2, every term of
    G = u1 v1 ^ w v0 ^ u0 (v1 v0) and P = w ^ u1 v0 ^ u0 v1 ^ v1 v0 is a product of a
    party-0 value and a party-1/2 value, so party 1 (holding c1) and party 2 (holding
    c0) each compute an XOR share locally; one round re-shares that 2-out-of-2 sharing
    into replicated form (components 0 and 1 from PRGs, parties 1 and 2 exchange one
    masked word each; party 0 sends nothing). This replaces the generate round and the
    first tree level. Positions are padded below 0 to an even count with a zero position.
    ``us`` rows: the m position planes of u then the m//2-ish pair products.
    """
    p.checks.unverified("boolean.pair_gp")
    odd = m % 2
    npairs = (m + 1) // 2
    nb = us.a.shape[1]
    shape = (2 * npairs - 1, nb)
    if p.id == 0:
        d0 = p.prg_own.words(shape)
        d1 = p.prg_next.words(shape)
        p.exchange({}, {})
        res = BShare(d0, d1)
    else:
        assert v is not None
        mine = us.a if p.id == 1 else us.b  # this party's share of party 0's values
        ue = np.zeros((2 * npairs, nb), dtype=np.uint64)
        ue[odd:] = mine[:m]
        ve = np.zeros((2 * npairs, nb), dtype=np.uint64)
        ve[odd:] = v[:m]
        u0, u1, w = ue[0::2], ue[1::2], mine[m : m + npairs]
        v0, v1 = ve[0::2], ve[1::2]
        v10 = v1 & v0
        sg = (u1 & v1) ^ (w & v0) ^ (u0 & v10)
        sp = w ^ (u1 & v0) ^ (u0 & v1)
        if p.id == 1:
            sp ^= v10
        s_all = np.concatenate([sg, sp[1:]])
        other = 2 if p.id == 1 else 1
        d = p.prg_own.words(shape) if p.id == 1 else p.prg_next.words(shape)
        s_all ^= d
        got = p.exchange({other: s_all.reshape(-1)}, {other: s_all.nbytes})
        d2 = s_all ^ np.frombuffer(got[other], dtype=np.uint64).reshape(shape)
        res = BShare(d, d2) if p.id == 1 else BShare(d2, d)
    g = res[:npairs]
    zero = np.zeros((1, nb), dtype=np.uint64)
    q = BShare(np.concatenate([zero, res.a[npairs:]]), np.concatenate([zero, res.b[npairs:]]))
    return g, q


def msb_planes(p: Party, xs: Sequence[AShare], k: int) -> list[BShare]:
    """Bit k-1 of each arithmetic sharing in ``xs``, as packed bit words (one call).

    Bit k-1 of u + v = u_{k-1} ^ v_{k-1} ^ carry into k-1. Party 0 reshares the k
    planes of u and the products of adjacent pairs of them (one round); the (G, P) of
    position pairs follow in one more round (:func:`_pair_gp`), and a sparse tree
    (:func:`reduce_gp`) reduces the ceil((k-1)/2) pairs to the carry.
    Rounds: 2 + ceil(log2((k-1)/2)) (7 for k = 64). Words sent per element for k = 64:
    party 0 1.5 + 1.4, parties 1 and 2 about 2.4.
    Inputs are padded to whole blocks so each result is word aligned.
    Returns one (nblocks(len(x)),) BShare per input.
    """
    if not 1 <= k <= 64:
        raise ValueError("bit width must be between 1 and 64")
    if p.checks.enabled:
        return _msb_planes_checked(p, xs, k)
    lens = [len(x) for x in xs]
    nbs = [nblocks(n) for n in lens]
    nbt = sum(nbs)
    total = 64 * nbt
    buf = np.zeros(total, dtype=np.uint64)
    off = 0
    for x, n, nb in zip(xs, lens, nbs, strict=True):
        if p.id == 0:
            np.add(x.a, x.b, out=buf[off : off + n])
        else:
            buf[off : off + n] = x.b if p.id == 1 else x.a
        off += 64 * nb
    planes = to_planes(buf)[:k]
    m = k - 1
    npairs = (m + 1) // 2
    value = None
    if p.id == 0:
        ue = np.zeros((2 * npairs, nbt), dtype=np.uint64)
        ue[m % 2 :] = planes[:m]
        value = np.concatenate([planes, ue[1::2] & ue[0::2]])
    us = reshare_from(p, 0, value, (k + npairs, nbt))
    v = None if p.id == 0 else planes
    vs = known_by_12(p, v, (k, nbt))
    top = _xor(us[k - 1], vs[k - 1])
    if k > 1:
        usp = BShare(np.delete(us.a, k - 1, axis=0), np.delete(us.b, k - 1, axis=0))
        g, q = _pair_gp(p, usp, vs, v, m)
        ((carry, _),) = reduce_gp(p, [(g, q, False)])
        top = _xor(top, carry)
    return _split_words(top, nbs)


def _split_words(top: BShare, nbs: Sequence[int]) -> list[BShare]:
    """Cut a row of words into consecutive pieces of ``nbs`` words each."""
    cuts = np.cumsum([0, *nbs])
    return [top[int(a) : int(b)] for a, b in itertools.pairwise(cuts)]


# ---- the checked (malicious-setting) split: three pair-known operands -------------------


def component_planes(p: Party, x: AShare, k: int) -> tuple[BShare, BShare, BShare]:
    """Boolean sharings of the low ``k`` bit-planes of each component x_0, x_1, x_2 of x.

    Component j is known to parties j and j-1, and boolean component j is held by the same
    two parties, so the planes of x_j become the trivial sharing (planes at component j,
    zero elsewhere) with no communication and nothing a single party chooses alone: a
    holder that uses another copy is caught by the redundant openings of the checks
    (Mohassel & Rindal, ABY3, CCS 2018, section 5.3, malicious variant).
    Shapes (k, nblocks(len(x))).
    """
    pa = to_planes(np.ascontiguousarray(x.a))[:k]
    pb = to_planes(np.ascontiguousarray(x.b))[:k]
    zero = np.zeros_like(pa)
    out = []
    for j in range(3):
        a = pa if j == p.id else zero
        b = pb if j == p.next else zero
        out.append(BShare(a, b))
    return out[0], out[1], out[2]


def split_checked(p: Party, x: AShare, k: int) -> tuple[BShare, BShare]:
    """Plane sharings (s, c) with s + c = x mod 2^k from the three components (one AND round).

    A carry-save layer: s = x_0 ^ x_1 ^ x_2, and c is the majority of the three shifted
    up one position, maj = ((x_0 ^ x_2) & (x_1 ^ x_2)) ^ x_2 (one AND word per plane word;
    queued for the check like every AND). Used instead of the two-operand reduction, whose
    party-0 resharing no check covers.
    """
    c0, c1, c2 = component_planes(p, x, k)
    s = _xor(_xor(c0, c1), c2)
    if k == 1:
        return s, BShare(np.zeros_like(s.a), np.zeros_like(s.b))
    maj = _xor(and_(p, _xor(c0, c2)[: k - 1], _xor(c1, c2)[: k - 1]), c2[: k - 1])
    zero = np.zeros((1, s.a.shape[1]), dtype=np.uint64)
    c = BShare(np.concatenate([zero, maj.a]), np.concatenate([zero, maj.b]))
    return s, c


def _msb_planes_checked(p: Party, xs: Sequence[AShare], k: int) -> list[BShare]:
    """:func:`msb_planes` in the malicious setting: carry-save split, then a carry tree.

    Bit k-1 of s + c = s_{k-1} ^ c_{k-1} ^ the carry into k-1, reduced by
    :func:`reduce_gp` from G = s & c, P = s ^ c. Every message is an AND round (checked):
    1 + 1 + ceil(log2(k - 1)) rounds (8 for k = 64).
    """
    lens = [len(x) for x in xs]
    nbs = [nblocks(n) for n in lens]
    total = 64 * sum(nbs)
    ba = np.zeros(total, dtype=np.uint64)
    bb = np.zeros(total, dtype=np.uint64)
    off = 0
    for x, n, nb in zip(xs, lens, nbs, strict=True):
        ba[off : off + n] = x.a
        bb[off : off + n] = x.b
        off += 64 * nb
    s, c = split_checked(p, AShare(ba, bb), k)
    top = _xor(s[k - 1], c[k - 1])
    if k > 1:
        g = and_(p, s[: k - 1], c[: k - 1])
        ((carry, _),) = reduce_gp(p, [(g, _xor(s, c)[: k - 1], False)])
        top = _xor(top, carry)
    return _split_words(top, nbs)


def add_planes(p: Party, x: BShare, y: BShare, *, adder: Adder = "sklansky") -> BShare:
    """Sum planes of x + y (mod 2^k) for boolean plane sharings of shape (k, nb).

    One round of generate gates, then :func:`prefix_generate` over k - 1 positions.
    """
    k = x.a.shape[0]
    s = _xor(x, y)
    if k == 1:
        return s
    g = and_(p, x[: k - 1], y[: k - 1])
    carries = prefix_generate(p, g, s[: k - 1], adder=adder)
    out = BShare(s.a.copy(), s.b.copy())
    out.a[1:] ^= carries.a
    out.b[1:] ^= carries.b
    return out

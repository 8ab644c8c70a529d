"""Secure fuzzy scoring of n x m person pairs, threshold, mutual-best rule, hybrid mode.

Inputs are the client encodings of :mod:`sharelake.linkage.encode`, secret-shared
(:class:`SharedPeople`): bigram indicator matrices ``given`` and ``family`` with their
``*_count`` columns, the ``dob`` one-hot matrix and, for the hybrid mode, the match keys;
they and the public :class:`FuzzyParams` are defined in :mod:`sharelake.linkage.fuzzy_inputs`.
Everything is integer arithmetic on the replicated sharing over Z_2^64 of Araki,
Furukawa, Lindell, Nof and Ohara (CCS 2016); no division is ever computed -- fractions
are compared by cross-multiplication. The plaintext twin is
:func:`sharelake.linkage.plain_match.fuzzy_match_plain`.

Per pair (left record a, right record b), with c' = max(c, 1) per count (an empty name
has Dice 0 with anything, so the denominators may be made non-zero this way without
changing any Dice value):

1. Inner products i_gg, i_ff, i_gf, i_fg of the bigram vectors (both name orders) and
   the weighted DOB agreement x = <dob_a, w * dob_b> (w = year / month / day weights):
   ONE local BLAS product per share pair and ONE resharing for all five outputs
   (:func:`sharelake.mpc.arith.local_matmul`).
2. Name score per order as a fraction N/D: Dice(g) + Dice(f) =
   2 (i_gg s_ff + i_ff s_gg) / (s_gg s_ff) with s = c'_a + c'_b (local); swapped
   likewise with s_gf, s_fg. One multiplication round.
3. The better order: sign of N_n D_s - N_s D_n (one round, one narrow comparison), then
   an oblivious select of (N, D) (bit injection + one round); ties keep the normal order.
4. Score E = w_name N/D + x (+ ``bonus`` when some match key agrees, hybrid mode), kept as
   (N'' = w_name N + X D, D) with X = x + bonus * key: one multiplication round. The key
   agreement is an OR over keys of exact 64-bit equalities, computed as "Hamming distance
   0": each record's keys are bit-decomposed once (O(n), :func:`_key_bits`), the distances
   of all pairs are local matrix products modulo 2^8 and tested for zero on 7 bits
   straight from the local terms (:func:`_eq0_terms`), with no per-pair 64-bit circuit.
5. Candidate: E >= t_num / t_den, i.e. t_den N'' - t_num D >= 0 (narrow comparison).
6. Mutual best: for every left row the first column of maximal E (an arg-max tree over
   the row: log2 m levels, each one cross-multiplication round, one narrow comparison
   and one select of (N'', D)); for every right column likewise over the rows; both
   trees share their rounds. Only the secret decision bits of each level are kept; a
   leaf is its row's (column's) arg-max when it won every pair on its path (an AND of
   log2 m bits, boolean gates only). Pair (a, b) matches when it is a candidate and the
   arg-max of both its row and its column.

Blocks: left rows are processed in blocks of at most ``block_pairs`` pairs; each block
runs the same rounds. The row trees are complete inside a block; the column maxima of a
block are merged with the best of the earlier blocks by one more tree level, and a
block's column winner must also win (or survive) every later merge.

Cost at 1000 x 1000 (one party, three nodes on two cores, one BLAS thread each):
default parameters 225 bytes a pair, 150 rounds, about 1.0 CPU-second; the recommended
hybrid configuration (41-bit ring, four keys) 246-256 bytes a pair, 178 rounds, about
1.3 CPU-seconds. Most of the CPU is the local matrix product (two 20-21-bit limbs).

LEAKAGE: nothing until a release. Scores, inner products, orders, candidates and arg-max
indices stay secret; the sizes n, m, the block layout and the public parameters are
public. The ``reveal_*`` functions then open exactly what the ``--reveal`` mode releases:
``pairs`` the matched (left row, right row) list, ``own`` per left row its 0/1 match flag
and its number of matched right rows, ``count`` the number of matched pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..mpc.arith import PreparedRight, local_matmul
from ..mpc.bits import ONES, BitShare, and_bits, and_bits_many, concat, pack, unpack
from ..mpc.boolean import and_many
from ..mpc.compare import eq_public, msb_many
from ..mpc.convert import b2a_bits, bits_of
from ..mpc.party import Party
from ..mpc.ring import Arr
from ..mpc.shares import AShare, BShare
from .fuzzy_inputs import FuzzyParams, SharedPeople, _Widths, share_people
from .fuzzy_inputs import _widths as _widths
from .secure import reveal_count, reveal_own, reveal_pairs

__all__ = [
    "FuzzyParams",
    "SharedPeople",
    "fuzzy_match",
    "reveal_count",
    "reveal_own",
    "reveal_pairs",
    "share_people",
]

FIELDS = ("given", "family")
#: Pairs per block (bounds memory: a few arrays of this many words per party).
BLOCK_PAIRS = 1 << 20


# ---- helpers -----------------------------------------------------------------------------


def _cat(xs: Sequence[AShare]) -> AShare:
    return AShare(
        np.concatenate([x.a.reshape(-1) for x in xs]), np.concatenate([x.b.reshape(-1) for x in xs])
    )


def _split(x: AShare, sizes: Sequence[int]) -> list[AShare]:
    out, off = [], 0
    for s in sizes:
        out.append(AShare(x.a[off : off + s], x.b[off : off + s]))
        off += s
    return out


def _reshare_sum(p: Party, z: Arr) -> AShare:
    """3-out-of-3 local terms -> replicated sharing (one round, Araki et al. 2016)."""
    z = z + p.zero_share(z.shape)
    return AShare(z, p.pass_prev(z))


def _dots(p: Party, pairs: Sequence[Sequence[tuple[AShare, AShare]]]) -> list[AShare]:
    """Several sums of elementwise products, each with ONE resharing, all in one round."""
    terms = []
    for group in pairs:
        z: Arr | None = None
        for x, y in group:
            t = x.a * (y.a + y.b)
            t += x.b * y.a
            z = t if z is None else z + t
        assert z is not None
        terms.append(z.reshape(-1))
    sizes = [len(t) for t in terms]
    r = _reshare_sum(p, np.concatenate(terms))
    return _split(r, sizes)


def _select(p: Party, c: BitShare, a: Sequence[AShare], b: Sequence[AShare]) -> list[AShare]:
    """c ? b : a for several columns (bit injection, one round)."""
    ca = b2a_bits(p, c)
    diffs = [(ca, bb - aa) for aa, bb in zip(a, b, strict=True)]
    prods = _dots(p, [[d] for d in diffs])
    return [aa + pr for aa, pr in zip(a, prods, strict=True)]


def _gt0(p: Party, xs: Sequence[AShare], bits: int) -> list[BitShare]:
    """x > 0 for each (signed ``bits``-bit) x: msb(-x), one batched call."""
    return msb_many(p, [-x for x in xs], bits=bits)


# ---- stage 1-5: scores of one block ------------------------------------------------------


def _counts(p: Party, t: SharedPeople, prm: FuzzyParams, w: _Widths) -> dict[str, AShare]:
    """c' = c + [c == 0] for the name fields (one batched equality)."""
    fields = [*FIELDS, "all"] if prm.w_all else list(FIELDS)
    cs = [t.columns[f"{f}_count"] for f in fields]
    z = b2a_bits(p, eq_public(p, _cat(cs), 0, bits=w.count))
    parts = _split(_cat(cs) + z, [len(c) for c in cs])
    return dict(zip(fields, parts, strict=True))


#: Bits of a match key (64-bit digests).
KEY_BITS = 64
#: Width of the Hamming distances of two keys (at most 64 < 2^7).
HD_BITS = 7


def _key_bits(p: Party, t: SharedPeople, keys: Sequence[str]) -> list[AShare]:
    """Per key, the n x 64 arithmetic 0/1 sharing of its bits (per record, not per pair).

    One batched bit decomposition (:func:`sharelake.mpc.convert.bits_of`) of all keys,
    then one bit injection (:func:`sharelake.mpc.convert.b2a_bits`): O(n) work and
    traffic, shared by every pair the record takes part in.
    """
    n, nk = t.n, len(keys)
    planes = bits_of(p, _cat([t.columns[k] for k in keys]), bits=KEY_BITS)
    bits = b2a_bits(p, concat(planes))
    a = bits.a.reshape(KEY_BITS, nk, n)
    b = bits.b.reshape(KEY_BITS, nk, n)
    return [AShare(a[:, j, :].T.copy(), b[:, j, :].T.copy()) for j in range(nk)]


def _eq0_terms(p: Party, z: Arr, bits: int) -> BitShare:
    """[d == 0 mod 2^bits] from this party's 3-out-of-3 term z of d (bits <= 8).

    The terms are masked by a zero-sharing and cut to bytes. Party 0 keeps u = z_0;
    parties 1 and 2 swap their (masked) bytes, so both know v = z_1 + z_2, and d = 0
    iff u = -v mod 2^bits. In the same round party 0 reshares the ``bits`` bit-planes of
    u (as in :func:`sharelake.mpc.compare.eq`); the planes of NOT(u ^ -v) are then ANDed
    by a tree (ceil(log2 bits) rounds). Bytes per element: one by parties 1 and 2,
    bits/8 by party 0, then (bits - 1)/8 by every party. Each message has a fixed
    size; what a party receives is a term masked by a key it does not hold.
    """
    if not 1 <= bits <= 8:
        raise ValueError("_eq0_terms works on at most 8 bits")
    n = int(z.shape[0])
    z8 = z.astype(np.uint8)
    mask = p.prg_own.fill(np.empty(n, np.uint8))
    z8 += mask
    z8 -= p.prg_next.fill(mask)
    nw = (n + 63) // 64
    shape = (bits, nw)
    zero = np.zeros(shape, dtype=np.uint64)

    def planes(v: npt.NDArray[np.uint8]) -> Arr:
        return np.stack([pack((v >> np.uint8(j)) & np.uint8(1)) for j in range(bits)])

    if p.id == 0:
        r = p.prg_next.words(shape)
        a = planes(z8) ^ r
        p.exchange({2: a.reshape(-1)}, {})
        us, ws = BShare(a, r), BShare(zero, zero.copy())
    elif p.id == 1:
        r = p.prg_own.words(shape)
        got = p.exchange({2: z8.tobytes()}, {2: n})
        w = planes(np.uint8(0) - (z8 + np.frombuffer(got[2], dtype=np.uint8)))
        us, ws = BShare(r, zero), BShare(zero.copy(), w)
    else:
        got = p.exchange({1: z8.tobytes()}, {0: bits * nw * 8, 1: n})
        a = np.frombuffer(got[0], dtype=np.uint64).reshape(shape).copy()
        w = planes(np.uint8(0) - (z8 + np.frombuffer(got[1], dtype=np.uint8)))
        us, ws = BShare(zero, a), BShare(w, zero.copy())
    e = BShare(us.a ^ ws.a, us.b ^ ws.b).xor_public(ONES, p.id)
    while e.a.shape[0] > 1:
        h = e.a.shape[0] // 2
        (y,) = and_many(p, [(e[:h], e[h : 2 * h])])
        e = BShare(np.concatenate([y.a, e.a[2 * h :]]), np.concatenate([y.b, e.b[2 * h :]]))
    return BitShare.of(e[0], n)


def _key_any(p: Party, ka: list[AShare], kb: list[PreparedRight], rows: slice) -> AShare:
    """0/1 per pair of the block: some match key agrees (row-major, arithmetic).

    Keys agree iff their Hamming distance |a| + |b| - 2<a, b> is 0. The distances of all
    pairs are local matrix products of the per-record bit matrices (:func:`_key_bits`),
    computed modulo 2^8 only (they are at most 64), and tested for zero on 7 bits
    (:func:`_eq0_terms`) without a full-width resharing; an OR tree over the keys and a
    bit injection follow.
    """
    terms = []
    for la, rb in zip(ka, kb, strict=True):
        lft = AShare(la.a[rows], la.b[rows])
        ip = rb.matmul(np.concatenate([lft.a, lft.b], axis=1))
        # the bottom half of the prepared right side is the first components x_i
        ones = rb.b[KEY_BITS:].sum(axis=0)
        hd = np.add.outer(lft.a.sum(axis=1), ones) - (ip << np.uint64(1))
        terms.append(hd.reshape(-1))
    nm = len(terms[0])
    e = _eq0_terms(p, np.concatenate(terms), HD_BITS)
    parts = [e[j * nm : (j + 1) * nm] for j in range(len(terms))]
    nots = [q.invert(p.id) for q in parts]
    while len(nots) > 1:
        h = len(nots) // 2
        nots = and_bits_many(p, list(zip(nots[:h], nots[h : 2 * h], strict=True))) + nots[2 * h :]
    return b2a_bits(p, nots[0].invert(p.id))


def _pair_right(x: AShare, bits: int) -> PreparedRight:
    """x (m x d, secret) prepared as the right side of a 3-out-of-3 product term.

    Party i's term of <l, x> is [l_i | l_{i+1}] @ [x_i + x_{i+1} ; x_i] (one float product
    with inner dimension 2d); the right side is split into limbs once per operator.
    """
    return PreparedRight(np.concatenate([x.a + x.b, x.a], axis=1).T.copy(), bits=bits)


@dataclass(frozen=True)
class _Right:
    """The right table's operands of the local products, prepared once (all blocks)."""

    names: PreparedRight
    dob: PreparedRight
    all: PreparedRight | None

    @classmethod
    def of(cls, p: Party, b: SharedPeople, prm: FuzzyParams, w: _Widths) -> _Right:
        gb, fb = (b.matrices[f] for f in FIELDS)
        names = AShare(np.concatenate([gb.a, fb.a]), np.concatenate([gb.b, fb.b]))
        db = _dob_ext(b, slice(0, b.n))
        wt = prm.dob_matrix(db.a.shape[1] - 3).view(np.uint64)
        rb = AShare(local_matmul(db.a, wt.T, bits=w.ring), local_matmul(db.b, wt.T, bits=w.ring))
        alls = _pair_right(b.matrices["all"], w.ring) if prm.w_all else None
        return cls(_pair_right(names, w.ring), _pair_right(rb, w.ring), alls)


def _block_scores(
    p: Party,
    a: SharedPeople,
    b: SharedPeople,
    ca: dict[str, AShare],
    cb: dict[str, AShare],
    rows: slice,
    prm: FuzzyParams,
    w: _Widths,
    keys: tuple[list[AShare], list[PreparedRight]] | None,
    rp: _Right,
) -> tuple[AShare, AShare]:
    """(N'', D) of the block's pairs, flattened row-major (n_b * m)."""
    nb, m = rows.stop - rows.start, b.n
    ga, fa = (a.matrices[f][rows] for f in FIELDS)
    left = np.concatenate(
        [np.concatenate([ga.a, ga.b], axis=1), np.concatenate([fa.a, fa.b], axis=1)]
    )
    z = rp.names.matmul(left)
    da = _dob_ext(a, rows)
    zd = rp.dob.matmul(np.concatenate([da.a, da.b], axis=1))
    outs = [z.reshape(-1), zd.reshape(-1)]
    if rp.all is not None:
        aa = a.matrices["all"][rows]
        outs.append(rp.all.matmul(np.concatenate([aa.a, aa.b], axis=1)).reshape(-1))
    prods = _reshare_sum(p, np.concatenate(outs))
    ip = prods[: 4 * nb * m].reshape(2 * nb, 2 * m)
    x = prods[4 * nb * m : 5 * nb * m]
    i_gg, i_gf = ip[:nb, :m].reshape(-1), ip[:nb, m:].reshape(-1)
    i_fg, i_ff = ip[nb:, :m].reshape(-1), ip[nb:, m:].reshape(-1)

    def size(fa_: str, fb_: str) -> AShare:
        u, v = ca[fa_][rows], cb[fb_]
        return AShare(np.add.outer(u.a, v.a).reshape(-1), np.add.outer(u.b, v.b).reshape(-1))

    s_gg, s_ff, s_gf, s_fg = (
        size("given", "given"),
        size("family", "family"),
        size("given", "family"),
        size("family", "given"),
    )
    n_n, d_n, n_s, d_s = _dots(
        p,
        [
            [(i_gg, s_ff), (i_ff, s_gg)],
            [(s_gg, s_ff)],
            [(i_gf, s_fg), (i_fg, s_gf)],
            [(s_gf, s_fg)],
        ],
    )
    n_n, n_s = n_n.scale(2), n_s.scale(2)
    key = None if keys is None else _key_any(p, keys[0], keys[1], rows)
    (diff,) = _dots(p, [[(n_s, d_n), (-n_n, d_s)]])
    (swap,) = _gt0(p, [diff], w.order)
    num, den = _select(p, swap, [n_n, d_n], [n_s, d_s])
    if prm.w_all:
        s_aa = size("all", "all")
        i_aa = prods[5 * nb * m :]
        num, den = _dots(
            p, [[(num.scale(prm.w_name), s_aa), (i_aa.scale(2 * prm.w_all), den)], [(den, s_aa)]]
        )
    else:
        num = num.scale(prm.w_name)
    extra = x if key is None else x + key.scale(prm.bonus)
    (xd,) = _dots(p, [[(extra, den)]])
    return num + xd, den


def _dob_ext(t: SharedPeople, rows: slice) -> AShare:
    """The ``dob`` one-hot rows followed by the three presence flags."""
    cols = [t.matrices["dob"][rows]] + [
        t.columns[f"dob_{c}_present"][rows].reshape(-1, 1) for c in ("year", "month", "day")
    ]
    return AShare(
        np.concatenate([c.a for c in cols], axis=1), np.concatenate([c.b for c in cols], axis=1)
    )


# ---- stage 6: arg-max trees ----------------------------------------------------------------


@dataclass
class _Tree:
    """Rows of candidates (g groups x w leaves) reducing to their first arg-max.

    ``steps`` records, per level, the width before it and the secret decision bits
    ("the right one of the pair wins"), g x (width // 2) row-major: the winner of every
    leaf is recovered from them afterwards (:func:`_winners`), so no index is carried.
    """

    num: AShare  # (g, w)
    den: AShare
    steps: list[tuple[int, BitShare]] = field(default_factory=list)

    @property
    def width(self) -> int:
        return int(self.num.a.shape[1])

    @property
    def groups(self) -> int:
        return int(self.num.a.shape[0])


def _level(p: Party, trees: list[_Tree], bits: int) -> None:
    """One level of every tree that is still wider than 1, in shared rounds (in place).

    Pair (2k, 2k + 1) of a row: the right one wins when N_r D_l - N_l D_r > 0 (one
    round of products, one narrow comparison); ties keep the left (lower index). The
    winner's (N, D) is selected obliviously (bit injection, one round).
    """
    live = [t for t in trees if t.width > 1]
    if not live:
        return
    los, his = [], []
    for t in live:
        h = t.width // 2
        los.append([AShare(c.a[:, 0 : 2 * h : 2], c.b[:, 0 : 2 * h : 2]) for c in (t.num, t.den)])
        his.append([AShare(c.a[:, 1 : 2 * h : 2], c.b[:, 1 : 2 * h : 2]) for c in (t.num, t.den)])
    sizes = [t.groups * (t.width // 2) for t in live]
    diffs = _dots(p, [[(hi[0], lo[1]), (-lo[0], hi[1])] for lo, hi in zip(los, his, strict=True)])
    better = _gt0(p, [_cat(diffs)], bits)[0]
    flat_lo = [_cat([lo[k] for lo in los]) for k in range(2)]
    flat_hi = [_cat([hi[k] for hi in his]) for k in range(2)]
    new = _select(p, better, flat_lo, flat_hi)
    parts = [_split(c, sizes) for c in new]
    off = 0
    for j, t in enumerate(live):
        g, w, h = t.groups, t.width, t.width // 2
        t.steps.append((w, better[off : off + sizes[j]]))
        off += sizes[j]
        cols = [parts[k][j].reshape(g, h) for k in range(2)]
        if w % 2:
            cols = [
                AShare(
                    np.concatenate([c.a, o.a[:, -1:]], axis=1),
                    np.concatenate([c.b, o.b[:, -1:]], axis=1),
                )
                for c, o in zip(cols, (t.num, t.den), strict=True)
            ]
        t.num, t.den = cols


def _reduce(p: Party, trees: list[_Tree], bits: int) -> None:
    while any(t.width > 1 for t in trees):
        _level(p, trees, bits)


def _expand(p: Party, bits: BitShare, g: int, w: int, level: int, width: int) -> BitShare:
    """Per leaf of a g x width tree: did it win its pair at ``level`` (local)?

    Leaf j sits at position q = j >> level; it won when q is odd and the right side won,
    or q is even and it did not; the unpaired last position of an odd width passes.
    """
    h = w // 2
    q = np.arange(width) >> level
    paired = q < 2 * h
    col = np.minimum(q >> 1, max(h - 1, 0))
    pub = np.where(paired, (q & 1) == 0, True)
    comps = []
    for c in (bits.a, bits.b):
        x = unpack(c, g * h).reshape(g, h)[:, col] & paired
        comps.append(pack(x.reshape(-1)))
    out = BitShare(comps[0], comps[1], g * width)
    return out.xor_public(pack(np.tile(pub, g)), p.id)


def _and_all(p: Party, xs: list[BitShare]) -> BitShare:
    """AND of several equally long bit vectors: a tree, one round a level."""
    while len(xs) > 1:
        h = len(xs) // 2
        xs = and_bits_many(p, list(zip(xs[:h], xs[h : 2 * h], strict=True))) + xs[2 * h :]
    return xs[0]


def _winners(p: Party, trees: list[_Tree], widths: list[int]) -> list[BitShare]:
    """Per tree, the g x width leaf bits "this leaf is its row's arg-max" (shared rounds)."""
    lists = []
    for t, width in zip(trees, widths, strict=True):
        lists.append([_expand(p, b, t.groups, w, lv, width) for lv, (w, b) in enumerate(t.steps)])
    depth = max((len(x) for x in lists), default=0)
    if depth == 0:
        return [_ones(p, t.groups * wd) for t, wd in zip(trees, widths, strict=True)]
    # pad the shorter lists with constant ones, then AND level-wise in shared rounds
    lists = [
        x + [_ones(p, t.groups * wd)] * (depth - len(x))
        for x, t, wd in zip(lists, trees, widths, strict=True)
    ]
    while depth > 1:
        h = depth // 2
        pairs = [pr for x in lists for pr in zip(x[:h], x[h : 2 * h], strict=True)]
        res = and_bits_many(p, pairs)
        lists = [res[k * h : (k + 1) * h] + x[2 * h :] for k, x in enumerate(lists)]
        depth = len(lists[0])
    return [x[0] for x in lists]


def _ones(p: Party, n: int) -> BitShare:
    z = np.zeros((n + 63) // 64, np.uint64)
    return BitShare(z, z.copy(), n).invert(p.id)


def _rows_of(x: BitShare, nb: int, m: int) -> BitShare:
    """Transpose an m x nb bit matrix (column tree layout) to nb x m (local)."""
    comps = [pack(unpack(c, nb * m).reshape(m, nb).T.reshape(-1)) for c in (x.a, x.b)]
    return BitShare(comps[0], comps[1], nb * m)


def _tile_rows(x: BitShare, nb: int, m: int) -> BitShare:
    """Repeat a length-m bit vector for nb rows (local)."""
    comps = [pack(np.tile(unpack(c, m), nb)) for c in (x.a, x.b)]
    return BitShare(comps[0], comps[1], nb * m)


# ---- the operator --------------------------------------------------------------------------


def fuzzy_match(
    p: Party,
    left: SharedPeople,
    right: SharedPeople,
    prm: FuzzyParams | None = None,
    *,
    hybrid: bool = False,
    block_pairs: int = BLOCK_PAIRS,
) -> BitShare:
    """Secret n x m match bits (row-major, packed) of the mutual-best rule; see the module.

    ``hybrid=True``: a pair whose match keys agree gets ``bonus`` extra points (it always
    passes the threshold and wins the arg-max over pairs without a key agreement).
    LEAKAGE: nothing (the bits stay secret; see the ``reveal_*`` functions).
    """
    prm = prm or FuzzyParams()
    w = _widths(prm)
    n, m = left.n, right.n
    if n == 0 or m == 0:
        z = np.zeros((n * m + 63) // 64, np.uint64)
        return BitShare(z, z.copy(), n * m)
    ca, cb = _counts(p, left, prm, w), _counts(p, right, prm, w)
    keys = None
    if hybrid:
        kr = [_pair_right(x, 8) for x in _key_bits(p, right, prm.keys)]
        keys = (_key_bits(p, left, prm.keys), kr)
    rp = _Right.of(p, right, prm, w)
    step = max(1, block_pairs // m)
    stored: list[BitShare] = []
    sizes: list[int] = []
    merges: list[BitShare] = []  # per later block: "its candidate beat the earlier best"
    best: _Tree | None = None
    for r0 in range(0, n, step):
        rows = slice(r0, min(n, r0 + step))
        nb = rows.stop - rows.start
        num, den = _block_scores(p, left, right, ca, cb, rows, prm, w, keys, rp)
        below = msb_many(p, [num.scale(prm.t_den) - den.scale(prm.t_num)], bits=w.score)[0]
        cand = below.invert(p.id)  # E >= t_num / t_den
        row_t = _Tree(num.reshape(nb, m), den.reshape(nb, m))
        col_t = _Tree(
            AShare(num.a.reshape(nb, m).T.copy(), num.b.reshape(nb, m).T.copy()),
            AShare(den.a.reshape(nb, m).T.copy(), den.b.reshape(nb, m).T.copy()),
        )
        _reduce(p, [row_t, col_t], w.score)
        rw, cw = _winners(p, [row_t, col_t], [m, nb])
        if best is not None:  # earlier blocks hold lower row indices: they go first
            merged = _Tree(
                AShare(
                    np.concatenate([best.num.a, col_t.num.a], axis=1),
                    np.concatenate([best.num.b, col_t.num.b], axis=1),
                ),
                AShare(
                    np.concatenate([best.den.a, col_t.den.a], axis=1),
                    np.concatenate([best.den.b, col_t.den.b], axis=1),
                ),
            )
            _reduce(p, [merged], w.score)
            merges.append(merged.steps[0][1])
            col_t = merged
        best = _Tree(col_t.num, col_t.den)
        stored.append(_and_all(p, [rw, _rows_of(cw, nb, m), cand]))
        sizes.append(nb)
    # a block's column winner must also survive the merges with every later block
    keep = [_ones(p, m) for _ in stored]
    later = _ones(p, m)
    for b in range(len(stored) - 1, 0, -1):
        beat = merges[b - 1]
        keep[b] = and_bits(p, later, beat)
        later = and_bits(p, later, beat.invert(p.id))
    keep[0] = later
    final = and_bits_many(
        p, [(s, _tile_rows(k, nb, m)) for s, k, nb in zip(stored, keep, sizes, strict=True)]
    )
    return concat(final)

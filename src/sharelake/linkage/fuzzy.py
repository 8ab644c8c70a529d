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
   straight from the local terms (:func:`eq0_terms`), with no per-pair 64-bit circuit.
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
from dataclasses import dataclass

import numpy as np

from ..mpc.arith import PreparedRight, check_products, local_matmul
from ..mpc.bits import BitShare, and_bits, and_bits_many, concat
from ..mpc.compare import eq_public, msb_many
from ..mpc.convert import b2a_bits, bits_of
from ..mpc.party import Party
from ..mpc.shares import AShare, concat_a
from .fuzzy_inputs import FuzzyParams, SharedPeople, Widths, widths
from .kernels import (
    Tree,
    and_all,
    cat,
    dots,
    eq0_terms,
    gt0,
    ones,
    prepared_right,
    reduce_trees,
    reshare_sum,
    right_share,
    rows_of,
    select,
    split,
    tile_rows,
    winners,
)
from .secure import reveal_count, reveal_own, reveal_pairs

__all__ = [
    "fuzzy_match",
    "name_counts",
    "reveal_count",
    "reveal_own",
    "reveal_pairs",
]

FIELDS = ("given", "family")
#: Pairs per block (bounds memory: a few arrays of this many words per party).
BLOCK_PAIRS = 1 << 20


# ---- stage 1-5: scores of one block ------------------------------------------------------


def name_counts(p: Party, t: SharedPeople, prm: FuzzyParams, w: Widths) -> dict[str, AShare]:
    """c' = c + [c == 0] for the name fields (one batched equality)."""
    fields = [*FIELDS, "all"] if prm.w_all else list(FIELDS)
    cs = [t.columns[f"{f}_count"] for f in fields]
    z = b2a_bits(p, eq_public(p, cat(cs), 0, bits=w.count))
    parts = split(cat(cs) + z, [len(c) for c in cs])
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
    planes = bits_of(p, cat([t.columns[k] for k in keys]), bits=KEY_BITS)
    bits = b2a_bits(p, concat(planes))
    a = bits.a.reshape(KEY_BITS, nk, n)
    b = bits.b.reshape(KEY_BITS, nk, n)
    return [AShare(a[:, j, :].T.copy(), b[:, j, :].T.copy()) for j in range(nk)]


def _key_any(p: Party, ka: list[AShare], kb: list[PreparedRight], rows: slice) -> AShare:
    """0/1 per pair of the block: some match key agrees (row-major, arithmetic).

    Keys agree iff their Hamming distance |a| + |b| - 2<a, b> is 0. The distances of all
    pairs are local matrix products of the per-record bit matrices (:func:`_key_bits`),
    computed modulo 2^8 only (they are at most 64), and tested for zero on 7 bits
    (:func:`eq0_terms`) without a full-width resharing; an OR tree over the keys and a
    bit injection follow. In the malicious setting the products are reshared and checked
    and the zero test is a checked equality (:func:`_key_zero_checked`).
    """
    if p.checks.enabled:
        e = _key_zero_checked(p, ka, kb, rows)
        nm = len(e) // len(ka)
    else:
        terms = []
        for la, rb in zip(ka, kb, strict=True):
            lft = AShare(la.a[rows], la.b[rows])
            ip = rb.matmul(np.concatenate([lft.a, lft.b], axis=1))
            # the bottom half of the prepared right side is the first components x_i
            ones = rb.b[KEY_BITS:].sum(axis=0)
            hd = np.add.outer(lft.a.sum(axis=1), ones) - (ip << np.uint64(1))
            terms.append(hd.reshape(-1))
        nm = len(terms[0])
        e = eq0_terms(p, np.concatenate(terms), HD_BITS)
    parts = [e[j * nm : (j + 1) * nm] for j in range(len(ka))]
    nots = [q.invert(p.id) for q in parts]
    while len(nots) > 1:
        h = len(nots) // 2
        nots = and_bits_many(p, list(zip(nots[:h], nots[h : 2 * h], strict=True))) + nots[2 * h :]
    return b2a_bits(p, nots[0].invert(p.id))


def _key_zero_checked(p: Party, ka: list[AShare], kb: list[PreparedRight], rows: slice) -> BitShare:
    """:func:`_key_any`'s zero tests in the malicious setting (keys concatenated).

    The inner products of the key bits are reshared (one round) and verified by
    :func:`sharelake.mpc.arith.check_products` (modulo 2^8), the Hamming distances
    |a| + |b| - 2<a, b> are then local, and their zero test is the checked equality
    :func:`sharelake.mpc.compare.eq_public` on 7 bits, instead of the zero test on local
    terms (:func:`eq0_terms`), whose swapped bytes no check covers.
    """
    lefts = [AShare(la.a[rows], la.b[rows]) for la in ka]
    rights = [right_share(rb) for rb in kb]
    terms = [rb.matmul(np.concatenate([x.a, x.b], axis=1)) for x, rb in zip(lefts, kb, strict=True)]
    nb, m = terms[0].shape
    ips = split(
        reshare_sum(p, np.concatenate([t.reshape(-1) for t in terms]), checked=True),
        [nb * m] * len(terms),
    )
    check_products(
        p,
        [(x, y, ip.reshape(nb, m)) for x, y, ip in zip(lefts, rights, ips, strict=True)],
        bits=8,
        check="match keys",
    )
    hds = []
    for x, y, ip in zip(lefts, rights, ips, strict=True):
        u, v = AShare(x.a.sum(axis=1), x.b.sum(axis=1)), AShare(y.a.sum(axis=0), y.b.sum(axis=0))
        both = AShare(np.add.outer(u.a, v.a).reshape(-1), np.add.outer(u.b, v.b).reshape(-1))
        hds.append(both - ip.scale(np.uint64(2)))
    return eq_public(p, cat(hds), 0, bits=HD_BITS)


@dataclass(frozen=True)
class _Right:
    """The right table's operands of the local products, prepared once (all blocks)."""

    names: PreparedRight
    dob: PreparedRight
    all: PreparedRight | None

    @classmethod
    def of(cls, p: Party, b: SharedPeople, prm: FuzzyParams, w: Widths) -> _Right:
        gb, fb = (b.matrices[f] for f in FIELDS)
        names = AShare(np.concatenate([gb.a, fb.a]), np.concatenate([gb.b, fb.b]))
        db = _dob_ext(b, slice(0, b.n))
        wt = prm.dob_matrix(db.a.shape[1] - 3).view(np.uint64)
        rb = AShare(local_matmul(db.a, wt.T, bits=w.ring), local_matmul(db.b, wt.T, bits=w.ring))
        alls = prepared_right(b.matrices["all"], w.ring) if prm.w_all else None
        return cls(prepared_right(names, w.ring), prepared_right(rb, w.ring), alls)


def _block_scores(
    p: Party,
    a: SharedPeople,
    b: SharedPeople,
    ca: dict[str, AShare],
    cb: dict[str, AShare],
    rows: slice,
    prm: FuzzyParams,
    w: Widths,
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
    prods = reshare_sum(p, np.concatenate(outs), checked=True)
    ip = prods[: 4 * nb * m].reshape(2 * nb, 2 * m)
    x = prods[4 * nb * m : 5 * nb * m]
    # malicious setting: the one resharing of all the block's BLAS products is verified
    # (Freivalds-compressed, sharelake.mpc.arith.check_products) before anything uses it
    checks = [
        (concat_a([ga, fa]), right_share(rp.names), ip),
        (da, right_share(rp.dob), x.reshape(nb, m)),
    ]
    if rp.all is not None:
        checks.append((aa, right_share(rp.all), prods[5 * nb * m :].reshape(nb, m)))
    check_products(p, checks, bits=w.ring, check="fuzzy scores")
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
    n_n, d_n, n_s, d_s = dots(
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
    (diff,) = dots(p, [[(n_s, d_n), (-n_n, d_s)]])
    (swap,) = gt0(p, [diff], w.order)
    num, den = select(p, swap, [n_n, d_n], [n_s, d_s])
    if prm.w_all:
        s_aa = size("all", "all")
        i_aa = prods[5 * nb * m :]
        num, den = dots(
            p, [[(num.scale(prm.w_name), s_aa), (i_aa.scale(2 * prm.w_all), den)], [(den, s_aa)]]
        )
    else:
        num = num.scale(prm.w_name)
    extra = x if key is None else x + key.scale(prm.bonus)
    (xd,) = dots(p, [[(extra, den)]])
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
    w = widths(prm)
    n, m = left.n, right.n
    if n == 0 or m == 0:
        z = np.zeros((n * m + 63) // 64, np.uint64)
        return BitShare(z, z.copy(), n * m)
    ca, cb = name_counts(p, left, prm, w), name_counts(p, right, prm, w)
    keys = None
    if hybrid:
        kr = [prepared_right(x, 8) for x in _key_bits(p, right, prm.keys)]
        keys = (_key_bits(p, left, prm.keys), kr)
    rp = _Right.of(p, right, prm, w)
    step = max(1, block_pairs // m)
    stored: list[BitShare] = []
    sizes: list[int] = []
    merges: list[BitShare] = []  # per later block: "its candidate beat the earlier best"
    best: Tree | None = None
    for r0 in range(0, n, step):
        rows = slice(r0, min(n, r0 + step))
        nb = rows.stop - rows.start
        num, den = _block_scores(p, left, right, ca, cb, rows, prm, w, keys, rp)
        below = msb_many(p, [num.scale(prm.t_den) - den.scale(prm.t_num)], bits=w.score)[0]
        cand = below.invert(p.id)  # E >= t_num / t_den
        row_t = Tree(num.reshape(nb, m), den.reshape(nb, m))
        col_t = Tree(
            AShare(num.a.reshape(nb, m).T.copy(), num.b.reshape(nb, m).T.copy()),
            AShare(den.a.reshape(nb, m).T.copy(), den.b.reshape(nb, m).T.copy()),
        )
        reduce_trees(p, [row_t, col_t], w.score)
        rw, cw = winners(p, [row_t, col_t], [m, nb])
        if best is not None:  # earlier blocks hold lower row indices: they go first
            assert best.den is not None and col_t.den is not None
            merged = Tree(
                AShare(
                    np.concatenate([best.num.a, col_t.num.a], axis=1),
                    np.concatenate([best.num.b, col_t.num.b], axis=1),
                ),
                AShare(
                    np.concatenate([best.den.a, col_t.den.a], axis=1),
                    np.concatenate([best.den.b, col_t.den.b], axis=1),
                ),
            )
            reduce_trees(p, [merged], w.score)
            merges.append(merged.steps[0][1])
            col_t = merged
        best = Tree(col_t.num, col_t.den)
        stored.append(and_all(p, [rw, rows_of(cw, nb, m), cand]))
        sizes.append(nb)
    # a block's column winner must also survive the merges with every later block
    keep = [ones(p, m) for _ in stored]
    later = ones(p, m)
    for b in range(len(stored) - 1, 0, -1):
        beat = merges[b - 1]
        keep[b] = and_bits(p, later, beat)
        later = and_bits(p, later, beat.invert(p.id))
    keep[0] = later
    final = and_bits_many(
        p, [(s, tile_rows(k, nb, m)) for s, k, nb in zip(stored, keep, sizes, strict=True)]
    )
    return concat(final)

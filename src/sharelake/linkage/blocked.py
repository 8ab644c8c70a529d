"""Sorted-neighbourhood blocking inside MPC: fuzzy linkage of large lists without all pairs.

Method (Hernández & Stolfo, "The merge/purge problem for large databases", SIGMOD 1995),
every step on secret shares (replicated sharing over Z_2^64, Araki et al. CCS 2016):

1. **Passes.** For each blocking key of :data:`sharelake.linkage.blocking.BLOCK_KEYS`
   (order-preserving 64-bit words the client computed), the union of both lists (left
   rows, then right rows) is sorted obliviously by that key
   (:func:`sharelake.mpc.sort.sort_undoable`: a secret shuffle, then a quicksort whose
   opened outcomes depend on the shuffle only; Hamada et al. ICISC 2012). The records'
   encodings (q-gram matrices, birth-date one-hot rows, counts, match keys), their union
   row number and their list bit travel along under the same secret permutation.
2. **Windows.** In sorted order, record i is scored against records i+1 .. i+w with the
   scorer of :mod:`sharelake.linkage.fuzzy` (same integers, same fractions): the inner
   products of the pairs come from local banded matrix products (blocks of rows against
   the next rows, one resharing for all pairs of the pass), then one batched pipeline for
   every pair of the pass. A pair is *valid* when it is a candidate (score >= threshold)
   and joins records of different lists (the XOR of the two list bits, local).
3. **Best per record and pass.** Each record has 2w slots per pass (its w successors and
   its w predecessors); invalid slots hold a public score below the threshold. An
   arg-max tree (ties: the first slot, successors by distance, then predecessors) gives
   per record its best score of the pass and the secret "this slot won" bits.
4. **Merge of the passes.** The per-record best scores go back to input order (undoing
   the sort: :func:`sharelake.mpc.sort.unsort`), a second arg-max tree over the passes
   picks the first pass holding the record's best score, and its secret "this pass won"
   bits are sorted into each pass's order again (the pass's own secret permutation).
5. **One-to-one.** A slot is *chosen* by its record when it won the record's tree, the
   pass won the record's merge and the slot is valid; a pair (i, i+d) is linked when
   both ends chose it. Each record chooses at most one slot over all passes, so a pair
   found by several passes is linked once (both ends pick the first pass holding their
   common best score), and the links are a one-to-one assignment (mutual best, as the
   all-pairs scorer; candidates are only the pairs inside some window).
6. **Output.** Per record its secret link flag and its partner's union row, summed over
   the slots and the passes in input order (at most one term is non-zero).

The plaintext twin is :func:`blocked_match_plain` (same passes, same order, same ties).

LEAKAGE: the sizes n and m, the number of passes and the window w (public parameters),
and the sort's opened comparison outcomes, which are a function of the secret shuffle
alone. Nothing about the records, their keys, scores, candidates or links is opened;
which pairs were compared is secret (the sorted order is never opened).

Cost: per pass one sort of n + m rows whose payload is the records' encodings (about
1,200 ring words per record: the price of moving the q-gram matrices), (n + m) * w pair
scores, 2w-leaf trees per record; then one unsort of two columns per pass, a P-leaf
tree, one re-sort of one column per pass and one multiplication round for the outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..mpc.arith import local_matmul
from ..mpc.bits import BitShare, and_bits_many, pack, unpack
from ..mpc.compare import eq, msb_many
from ..mpc.convert import b2a_bits
from ..mpc.party import Party
from ..mpc.shares import AShare, BShare
from ..mpc.shuffle import apply_public_perm, invert_perm, shuffle
from ..mpc.sort import Sorted, sort_undoable, unsort
from .blocking import BLOCK_KEYS, DEFAULT_WINDOW, sorted_order
from .fuzzy import _counts, _dots, _gt0, _reduce, _reshare_sum, _select, _Tree, _winners
from .fuzzy_inputs import FuzzyParams, SharedPeople, _widths

__all__ = ["BlockedLinks", "blocked_match", "blocked_match_plain"]

#: Rows per banded product block (a block of rows against its next rows + w).
BAND_ROWS = 64


@dataclass(frozen=True)
class BlockedLinks:
    """Secret results of :func:`blocked_match` (this party's shares), input order.

    ``left_flag`` (n) / ``right_flag`` (m): 0/1, the record is linked;
    ``left_partner`` (n): the linked right row (meaningful where ``left_flag`` is 1).
    """

    left_flag: AShare
    left_partner: AShare
    right_flag: AShare


def _cat_rows(x: AShare, y: AShare) -> AShare:
    return AShare(np.concatenate([x.a, y.a]), np.concatenate([x.b, y.b]))


def _columns_of(x: AShare) -> list[AShare]:
    """A 2-D sharing as its 1-D columns (contiguous copies)."""
    at, bt = np.ascontiguousarray(x.a.T), np.ascontiguousarray(x.b.T)
    return [AShare(at[j], bt[j]) for j in range(at.shape[0])]


def _stack_cols(cols: Sequence[AShare | BShare]) -> AShare:
    return AShare(np.stack([c.a for c in cols], axis=1), np.stack([c.b for c in cols], axis=1))


def _dob_ext(t: SharedPeople) -> AShare:
    cols = [t.matrices["dob"]] + [
        t.columns[f"dob_{c}_present"].reshape(-1, 1) for c in ("year", "month", "day")
    ]
    return AShare(
        np.concatenate([c.a for c in cols], axis=1), np.concatenate([c.b for c in cols], axis=1)
    )


def _band(x: AShare, y: AShare, w: int, bits: int) -> npt.NDArray[np.uint64]:
    """This party's 3-out-of-3 terms of <x_i, y_{i+d}> for d = 1..w (local).

    Returns the terms (w, N) (d-major; zero where i + d >= N) for the pairs of every
    row, from products of blocks of :data:`BAND_ROWS` rows against their next rows.
    ``x`` and ``y`` may be stacks (N, k, dim) of k vectors per row: then the terms are
    (w, N, k, k), entry [d, i, s, t] = <x_i[s], y_{i+d}[t]>.
    """
    xa, xb, ya = x.a, x.b, y.a
    yab = y.a + y.b
    n = xa.shape[0]
    stacked = xa.ndim == 3
    k = xa.shape[1] if stacked else 1
    dim = xa.shape[-1]
    out = np.zeros((w, n, k, k), dtype=np.uint64)
    for r0 in range(0, n - 1, BAND_ROWS):
        r1 = min(n, r0 + BAND_ROWS)
        c0, c1 = r0 + 1, min(n, r1 + w)
        left = np.concatenate(
            [xa[r0:r1].reshape(-1, dim), xb[r0:r1].reshape(-1, dim)], axis=1
        )  # ((r1-r0) k, 2 dim)
        right = np.concatenate(
            [yab[c0:c1].reshape(-1, dim), ya[c0:c1].reshape(-1, dim)], axis=1
        )  # ((c1-c0) k, 2 dim)
        z = local_matmul(left, np.ascontiguousarray(right.T), bits=bits)
        z = z.reshape(r1 - r0, k, c1 - c0, k)
        rows = np.arange(r0, r1)
        for d in range(1, w + 1):
            ok = rows + d < n
            if not ok.any():
                continue
            rr = rows[ok]
            out[d - 1, rr] = z[rr - r0, :, rr + d - c0, :]
    return out


@dataclass(frozen=True)
class _Pass:
    """One pass in sorted order: the sort, the moved encodings, the pairs' scores."""

    srt: Sorted
    num: AShare  # (w, N) score numerators of pairs (i, i+d)
    den: AShare
    valid: BitShare  # (w N) valid pairs, d-major


def _shift(x: AShare, d: int) -> AShare:
    """Row i <- row i + d, zero-padded at the end (local)."""
    n = x.a.shape[0]
    za = np.zeros_like(x.a)
    zb = np.zeros_like(x.b)
    za[: n - d], zb[: n - d] = x.a[d:], x.b[d:]
    return AShare(za, zb)


def _pair_scores(
    p: Party,
    moved: dict[str, AShare],
    prm: FuzzyParams,
    w: int,
    hybrid: bool,
) -> tuple[AShare, AShare]:
    """(N'', D) of the pairs (i, i+d), d = 1..w, flattened d-major (w N)."""
    wd = _widths(prm)
    names = AShare(
        np.stack([moved["given"].a, moved["family"].a], axis=1),
        np.stack([moved["given"].b, moved["family"].b], axis=1),
    )  # (N, 2, q)
    n = names.a.shape[0]
    dob = moved["dob_ext"]
    wt = prm.dob_matrix(dob.a.shape[1] - 3).view(np.uint64)
    dw = AShare(local_matmul(dob.a, wt.T, bits=wd.ring), local_matmul(dob.b, wt.T, bits=wd.ring))
    zn = _band(names, names, w, wd.ring)  # (w, N, 2, 2)
    zd = _band(
        AShare(dob.a[:, None, :], dob.b[:, None, :]),
        AShare(dw.a[:, None, :], dw.b[:, None, :]),
        w,
        wd.ring,
    )
    terms = [zn[:, :, s, t].reshape(-1) for s, t in ((0, 0), (1, 1), (0, 1), (1, 0))]
    prods = _reshare_sum(p, np.concatenate([*terms, zd.reshape(-1)]))
    wn = w * n
    i_gg, i_ff, i_gf, i_fg, x = (prods[j * wn : (j + 1) * wn] for j in range(5))

    def rep(c: AShare) -> AShare:  # c_i for every d
        return AShare(np.tile(c.a, w), np.tile(c.b, w))

    def nxt(c: AShare) -> AShare:  # c_{i+d} for every d
        parts = [_shift(c, d) for d in range(1, w + 1)]
        return AShare(np.concatenate([q.a for q in parts]), np.concatenate([q.b for q in parts]))

    cg, cf = moved["given_count"], moved["family_count"]
    s_gg, s_ff = rep(cg) + nxt(cg), rep(cf) + nxt(cf)
    s_gf, s_fg = rep(cg) + nxt(cf), rep(cf) + nxt(cg)
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
    key = None
    if hybrid:
        ka = [rep(moved[k]) for k in prm.keys]
        kb = [nxt(moved[k]) for k in prm.keys]
        same = eq(p, _cat(ka), _cat(kb), bits=64)
        parts = [same[j * wn : (j + 1) * wn] for j in range(len(prm.keys))]
        nots = [q.invert(p.id) for q in parts]
        while len(nots) > 1:
            h = len(nots) // 2
            nots = (
                and_bits_many(p, list(zip(nots[:h], nots[h : 2 * h], strict=True))) + nots[2 * h :]
            )
        key = b2a_bits(p, nots[0].invert(p.id))
    (diff,) = _dots(p, [[(n_s, d_n), (-n_n, d_s)]])
    (swap,) = _gt0(p, [diff], wd.order)
    num, den = _select(p, swap, [n_n, d_n], [n_s, d_s])
    num = num.scale(prm.w_name)
    extra = x if key is None else x + key.scale(prm.bonus)
    (xd,) = _dots(p, [[(extra, den)]])
    return num + xd, den


def _cat(xs: Sequence[AShare]) -> AShare:
    return AShare(np.concatenate([x.a for x in xs]), np.concatenate([x.b for x in xs]))


def _take_bits(x: BitShare, idx: npt.NDArray[np.intp]) -> BitShare:
    return BitShare(pack(unpack(x.a, x.n)[idx]), pack(unpack(x.b, x.n)[idx]), len(idx))


def _slots(n: int, w: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Per record i (rows) its 2w slots as indices into the d-major pair list, in range.

    A slot outside the list points at pair (n - 1, n), which is out of range and
    therefore holds the masked public score.
    """
    i = np.arange(n)[:, None]
    d = np.arange(1, w + 1)[None, :]
    fwd = (d - 1) * n + i
    bwd = (d - 1) * n + (i - d)
    idx = np.concatenate([fwd, bwd], axis=1)
    ok = np.concatenate([i + d < n, i - d >= 0], axis=1)
    return np.where(ok, idx, n - 1).astype(np.intp), ok


def _masked(
    p: Party, prm: FuzzyParams, num: AShare, den: AShare, valid: BitShare
) -> tuple[AShare, AShare]:
    """Invalid pairs get the public score (floor(t) - 1) / 1, below every candidate."""
    low = prm.t_num // prm.t_den - 1
    size = len(num)
    cn = p.public_a(np.full(size, low, dtype=np.int64).view(np.uint64))
    cd = p.public_a(np.ones(size, dtype=np.uint64))
    out = _select(p, valid, [cn, cd], [num, den])
    return out[0], out[1]


def blocked_match(
    p: Party,
    left: SharedPeople,
    right: SharedPeople,
    prm: FuzzyParams | None = None,
    *,
    hybrid: bool = False,
    keys: Sequence[str] = BLOCK_KEYS,
    window: int = DEFAULT_WINDOW,
) -> BlockedLinks:
    """Sorted-neighbourhood fuzzy linkage of ``left`` (n) and ``right`` (m); see the module.

    LEAKAGE: n, m, ``len(keys)`` and ``window`` (public); nothing else.
    """
    prm = prm or FuzzyParams()
    if window < 1 or not keys:
        raise ValueError("blocked linkage needs at least one key and a window of at least 1")
    if prm.w_all:
        raise ValueError("blocked linkage supports w_all = 0 only")
    wd = _widths(prm)
    n, m = left.n, right.n
    nn = n + m
    if n == 0 or m == 0 or nn < 2:
        zl, zr = p.public_a(np.zeros(n, np.uint64)), p.public_a(np.zeros(m, np.uint64))
        return BlockedLinks(zl, zl, zr)
    w = min(window, nn - 1)
    ca, cb = _counts(p, left, prm, wd), _counts(p, right, prm, wd)
    side = p.public_a(np.concatenate([np.zeros(n, np.uint64), np.ones(m, np.uint64)]))
    rowno = p.public_a(np.arange(1, nn + 1, dtype=np.uint64))  # union row + 1
    payload: dict[str, list[AShare]] = {
        "given": _columns_of(_cat_rows(left.matrices["given"], right.matrices["given"])),
        "family": _columns_of(_cat_rows(left.matrices["family"], right.matrices["family"])),
        "dob_ext": _columns_of(_cat_rows(_dob_ext(left), _dob_ext(right))),
        "given_count": [_cat_rows(ca["given"], cb["given"])],
        "family_count": [_cat_rows(ca["family"], cb["family"])],
        "side": [side],
        "row": [rowno],
    }
    if hybrid:
        for k in prm.keys:
            payload[k] = [_cat_rows(left.columns[k], right.columns[k])]
    names = list(payload)
    flat = [c for k in names for c in payload[k]]
    slot_idx, slot_ok = _slots(nn, w)
    in_range = np.concatenate([np.arange(nn) + d < nn for d in range(1, w + 1)])
    passes: list[tuple[Sorted, dict[str, AShare], BitShare, AShare, AShare]] = []
    trees: list[_Tree] = []
    for key in keys:
        kcol = _cat_rows(left.columns[key], right.columns[key])
        srt = sort_undoable(p, [kcol], flat, signed=False, bits=64)
        moved: dict[str, AShare] = {}
        off = 0
        for k in names:
            cols = srt.payload[off : off + len(payload[k])]
            off += len(payload[k])
            moved[k] = _stack_cols(cols) if len(cols) > 1 else cols[0]  # type: ignore[assignment]
        num, den = _pair_scores(p, moved, prm, w, hybrid)
        cand = msb_many(p, [num.scale(prm.t_den) - den.scale(prm.t_num)], bits=wd.score)[0]
        cand = cand.invert(p.id)
        sb = moved["side"]
        one = np.uint64(1)
        sbit = BitShare(pack((sb.a & one).astype(bool)), pack((sb.b & one).astype(bool)), nn)
        nxt_side = _concat_bits(
            [_take_bits(sbit, np.minimum(np.arange(nn) + d, nn - 1)) for d in range(1, w + 1)]
        )
        (valid,) = and_bits_many(p, [(cand, _rep_bits(sbit, w) ^ nxt_side)])
        valid = valid.and_public(pack(in_range))
        mnum, mden = _masked(p, prm, num, den, valid)
        tn = AShare(mnum.a[slot_idx], mnum.b[slot_idx])
        td = AShare(mden.a[slot_idx], mden.b[slot_idx])
        passes.append((srt, moved, valid, mnum, mden))
        trees.append(_Tree(tn, td))
    _reduce(p, trees, wd.score)
    wins = _winners(p, trees, [2 * w] * len(trees))
    # per-record best of every pass, back in input order
    best_num, best_den = [], []
    for (srt, *_rest), t in zip(passes, trees, strict=True):
        bn, bd = unsort(p, [t.num.reshape(nn), t.den.reshape(nn)], srt)
        assert isinstance(bn, AShare) and isinstance(bd, AShare)
        best_num.append(bn)
        best_den.append(bd)
    merge = _Tree(_stack_cols(best_num), _stack_cols(best_den))
    _reduce(p, [merge], wd.score)
    (pwin,) = _winners(p, [merge], [len(passes)])  # nn x P, row-major
    pw = (
        unpack(pwin.a, pwin.n).reshape(nn, len(passes)),
        unpack(pwin.b, pwin.n).reshape(nn, len(passes)),
    )
    flags, parts = [], []
    for j, ((srt, moved, valid, _mn, _md), win) in enumerate(zip(passes, wins, strict=True)):
        col = BShare(pw[0][:, j].astype(np.uint64), pw[1][:, j].astype(np.uint64))
        (sh,) = shuffle(p, [col], plan=srt.plan)
        (srtd,) = apply_public_perm([sh], invert_perm(srt.ranks))
        pbit = BitShare(
            pack((srtd.a & np.uint64(1)).astype(bool)),
            pack((srtd.b & np.uint64(1)).astype(bool)),
            nn,
        )
        # chosen[i, slot] = tree winner AND pass winner AND slot valid
        pb = _rep_cols(pbit, 2 * w)
        vs = _take_bits(valid, slot_idx.reshape(-1)).and_public(pack(slot_ok.reshape(-1)))
        (chosen,) = _and3(p, win, pb, vs)
        ch = (
            unpack(chosen.a, chosen.n).reshape(nn, 2 * w),
            unpack(chosen.b, chosen.n).reshape(nn, 2 * w),
        )
        # pair (i, i+d) linked: chosen by i (forward slot d) and by i+d (backward slot d)
        fa = ch[0][:, :w].T.reshape(-1), ch[1][:, :w].T.reshape(-1)  # d-major over i
        bidx = np.concatenate([np.minimum(np.arange(nn) + d, nn - 1) for d in range(1, w + 1)])
        ba = ch[0][:, w:].T, ch[1][:, w:].T
        bb = (
            np.concatenate([ba[0][d - 1][bidx[(d - 1) * nn : d * nn]] for d in range(1, w + 1)]),
            np.concatenate([ba[1][d - 1][bidx[(d - 1) * nn : d * nn]] for d in range(1, w + 1)]),
        )
        (link,) = and_bits_many(
            p,
            [
                (
                    BitShare(pack(fa[0]), pack(fa[1]), w * nn),
                    BitShare(pack(bb[0]), pack(bb[1]), w * nn),
                )
            ],
        )
        link = link.and_public(pack(in_range))
        la = b2a_bits(p, link)  # (w nn) d-major
        row = moved["row"]
        rep_row = AShare(np.tile(row.a, w), np.tile(row.b, w))
        nxt_row = _cat([_shift(row, d) for d in range(1, w + 1)])
        # i's partner is row_{i+d}; (i+d)'s partner is row_i
        to_i, to_j = _dots(p, [[(la, nxt_row)], [(la, rep_row)]])
        part = _sum_slots(to_i, nn, w, forward=True) + _sum_slots(to_j, nn, w, forward=False)
        flag = _sum_slots(la, nn, w, forward=True) + _sum_slots(la, nn, w, forward=False)
        back = unsort(p, [flag, part], srt)
        assert isinstance(back[0], AShare) and isinstance(back[1], AShare)
        flags.append(back[0])
        parts.append(back[1])
    flag = flags[0]
    part = parts[0]
    for f_, q_ in zip(flags[1:], parts[1:], strict=True):
        flag, part = flag + f_, part + q_
    lp = part[:n].add_public(np.uint64((-(n + 1)) % (1 << 64)), p.id)
    return BlockedLinks(flag[:n], lp, flag[n:])


def _rep_bits(x: BitShare, w: int) -> BitShare:
    ua, ub = unpack(x.a, x.n), unpack(x.b, x.n)
    return BitShare(pack(np.tile(ua, w)), pack(np.tile(ub, w)), w * x.n)


def _concat_bits(xs: Sequence[BitShare]) -> BitShare:
    ua = np.concatenate([unpack(x.a, x.n) for x in xs])
    ub = np.concatenate([unpack(x.b, x.n) for x in xs])
    return BitShare(pack(ua), pack(ub), len(ua))


def _rep_cols(x: BitShare, k: int) -> BitShare:
    """Each bit repeated k times in a row (row-major n x k)."""
    ua, ub = unpack(x.a, x.n), unpack(x.b, x.n)
    return BitShare(pack(np.repeat(ua, k)), pack(np.repeat(ub, k)), k * x.n)


def _and3(p: Party, x: BitShare, y: BitShare, z: BitShare) -> list[BitShare]:
    (xy,) = and_bits_many(p, [(x, y)])
    return and_bits_many(p, [(xy, z)])


def _sum_slots(x: AShare, n: int, w: int, *, forward: bool) -> AShare:
    """Per record the sum over its forward (pairs (i, i+d)) or backward ((i-d, i)) slots."""
    a, b = x.a.reshape(w, n), x.b.reshape(w, n)
    if forward:
        return AShare(a.sum(axis=0, dtype=np.uint64), b.sum(axis=0, dtype=np.uint64))
    oa = np.zeros(n, np.uint64)
    ob = np.zeros(n, np.uint64)
    for d in range(1, w + 1):
        oa[d:] += a[d - 1, : n - d]
        ob[d:] += b[d - 1, : n - d]
    return AShare(oa, ob)


# ---- the plaintext twin ----------------------------------------------------------------------


Frac = tuple[int, int]


def blocked_match_plain(
    union_keys: npt.ArrayLike,
    num: npt.ArrayLike,
    den: npt.ArrayLike,
    n: int,
    prm: FuzzyParams,
    *,
    window: int = DEFAULT_WINDOW,
) -> list[tuple[int, int]]:
    """Twin of :func:`blocked_match`: the linked (left row, right row) pairs, sorted.

    ``union_keys``: (P, N) the blocking keys of the union (left rows first); ``num``,
    ``den``: N x N exact score fractions of every union pair (the scorer is symmetric,
    e.g. :func:`sharelake.linkage.score.pair_scores` of the union with itself);
    ``n``: the left list's size. Same passes, slot order and tie rules as the secure
    operator: per pass a record takes the first slot of maximal score (successors by
    distance, then predecessors; invalid slots score floor(t) - 1), over the passes the
    first pass of maximal score; a pair is linked when both ends took it.
    """
    keys = np.atleast_2d(np.asarray(union_keys, dtype=np.uint64))
    sn, sd = np.asarray(num, dtype=np.int64), np.asarray(den, dtype=np.int64)
    nn = keys.shape[1]
    if n == 0 or n == nn or nn < 2:
        return []
    w = min(window, nn - 1)
    low: Frac = (prm.t_num // prm.t_den - 1, 1)
    side = np.arange(nn) >= n

    def valid(ra: int, rb: int) -> bool:
        return bool(side[ra] != side[rb] and prm.t_den * sn[ra, rb] >= prm.t_num * sd[ra, rb])

    per_pass: list[dict[int, tuple[Frac, int | None]]] = []
    for k in keys:
        order = [int(x) for x in sorted_order(k)]
        got: dict[int, tuple[Frac, int | None]] = {}
        for i in range(nn):
            slots = [(i, i + d) for d in range(1, w + 1)] + [(i - d, i) for d in range(1, w + 1)]
            vals: list[Frac] = []
            partners: list[int | None] = []
            for a, b in slots:
                if a >= 0 and b < nn and valid(order[a], order[b]):
                    vals.append((int(sn[order[a], order[b]]), int(sd[order[a], order[b]])))
                    partners.append(order[b] if a == i else order[a])
                else:
                    vals.append(low)
                    partners.append(None)
            j = _first_max(vals)
            got[order[i]] = (vals[j], partners[j])
        per_pass.append(got)
    choice: dict[int, int | None] = {}
    for r in range(nn):
        q = _first_max([per_pass[x][r][0] for x in range(len(per_pass))])
        choice[r] = per_pass[q][r][1]
    links = []
    for a in range(n):
        partner = choice[a]
        if partner is not None and choice[partner] == a:
            links.append((a, partner - n))
    return sorted(links)


def _first_max(vals: Sequence[Frac]) -> int:
    """First index of the largest fraction (positive denominators), by cross-multiplication."""
    best = 0
    for k in range(1, len(vals)):
        if vals[k][0] * vals[best][1] > vals[best][0] * vals[k][1]:
            best = k
    return best

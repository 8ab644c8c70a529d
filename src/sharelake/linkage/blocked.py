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
1,210 ring values per record: the price of moving the q-gram matrices; as 2-D columns,
and at the semi-honest level the Fellegi-Sunter scorer's inputs as 32-bit words and its
name q-gram matrices as 21-bit lanes, three to a word: about 430 words), (n + m) * w
pair scores (banded BLAS products, :func:`sharelake.linkage.kernels.band_terms`),
2w-leaf trees per record; then one
unsort of two columns per pass, a P-leaf tree, one re-sort of one column per pass and
one multiplication round for the outputs.
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
from .band_check import band_products
from .blocking import BLOCK_KEYS, DEFAULT_WINDOW, KEY_BITS, sorted_order
from .fs import FSConfig, FSWeights
from .fs_secure import (
    NAME_BITS,
    WINDOW_COLUMNS,
    WINDOW_MATRICES,
    fs_tf_units,
    fs_window_weights,
)
from .fuzzy import name_counts
from .fuzzy_inputs import FuzzyParams, SharedPeople, widths
from .kernels import Tree, band_terms, dots, gt0, reduce_trees, reshare_sum, select, winners

__all__ = [
    "BlockedLinks",
    "FSScoring",
    "ListLinks",
    "PassLinks",
    "blocked_match",
    "blocked_match_plain",
    "cluster",
    "cluster_plain",
    "default_rounds",
    "link_lists",
    "link_lists_plain",
]


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
    row (:func:`sharelake.linkage.kernels.band_terms`). ``x`` and ``y`` may be stacks
    (N, k, dim) of k vectors per row: then the terms are (w, N, k, k), entry
    [d, i, s, t] = <x_i[s], y_{i+d}[t]>.
    """
    if x.a.ndim == 2:
        x = AShare(x.a[:, None, :], x.b[:, None, :])
        y = AShare(y.a[:, None, :], y.b[:, None, :])
    return band_terms(x, y, x.a.shape[0], w, bits)


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
    wd = widths(prm)
    names = AShare(
        np.stack([moved["given"].a, moved["family"].a], axis=1),
        np.stack([moved["given"].b, moved["family"].b], axis=1),
    )  # (N, 2, q)
    n = names.a.shape[0]
    dob = moved["dob_ext"]
    wt = prm.dob_matrix(dob.a.shape[1] - 3).view(np.uint64)
    dw = AShare(local_matmul(dob.a, wt.T, bits=wd.ring), local_matmul(dob.b, wt.T, bits=wd.ring))
    dob3 = AShare(dob.a[:, None, :], dob.b[:, None, :])
    dw3 = AShare(dw.a[:, None, :], dw.b[:, None, :])
    pairings = ((0, 0), (1, 1), (0, 1), (1, 0))
    if p.checks.enabled:  # block products reshared and verified (linkage.band_check)
        zns, zds = band_products(
            p, [(names, names, wd.ring), (dob3, dw3, wd.ring)], n, w, check="blocked scores"
        )
        prods = _cat(
            [
                AShare(zns.a[:, :, s, t].reshape(-1), zns.b[:, :, s, t].reshape(-1))
                for s, t in pairings
            ]
            + [AShare(zds.a.reshape(-1), zds.b.reshape(-1))]
        )
    else:
        zn = _band(names, names, w, wd.ring)  # (w, N, 2, 2)
        zd = _band(dob3, dw3, w, wd.ring)
        terms = [zn[:, :, s, t].reshape(-1) for s, t in pairings]
        prods = reshare_sum(p, np.concatenate([*terms, zd.reshape(-1)]))
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
    (diff,) = dots(p, [[(n_s, d_n), (-n_n, d_s)]])
    (swap,) = gt0(p, [diff], wd.order)
    num, den = select(p, swap, [n_n, d_n], [n_s, d_s])
    num = num.scale(prm.w_name)
    extra = x if key is None else x + key.scale(prm.bonus)
    (xd,) = dots(p, [[(extra, den)]])
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
    p: Party, low: int, num: AShare, den: AShare | None, valid: BitShare
) -> tuple[AShare, AShare | None]:
    """Invalid pairs get the public score ``low`` / 1 (floor(t) - 1), below every candidate."""
    size = len(num)
    cn = p.public_a(np.full(size, low, dtype=np.int64).view(np.uint64))
    if den is None:
        return select(p, valid, [cn], [num])[0], None
    cd = p.public_a(np.ones(size, dtype=np.uint64))
    out = select(p, valid, [cn, cd], [num, den])
    return out[0], out[1]


@dataclass(frozen=True)
class PassLinks:
    """One pass's links in its sorted order (this party's shares).

    ``fwd[r-1]`` / ``bwd[r-1]``: (w N) 0/1, d-major: pair (i, i+d) is the link of record
    i (``fwd``), or of record i+d (``bwd``), to the list r places after its own (mod k).
    """

    srt: Sorted
    fwd: list[AShare]
    bwd: list[AShare]


@dataclass(frozen=True)
class ListLinks:
    """Secret one-to-one links between k lists, in union order (lists one after another).

    ``flag[r-1]`` (N): 0/1, the record is linked to a record of the list r places after
    its own (mod k); ``partner[r-1]`` (N): that record's union row + 1 (0 without a
    link). ``passes``: the links in each pass's sorted order (for :func:`cluster`).
    """

    sizes: tuple[int, ...]
    window: int
    flag: list[AShare]
    partner: list[AShare]
    passes: list[PassLinks]


@dataclass(frozen=True)
class FSScoring:
    """Score the window pairs with the Fellegi-Sunter model (LINKAGE.md section 3b).

    ``weights``: the public integer weights and threshold (EM on opened counts, or
    :data:`sharelake.linkage.fs.TRAINED_WEIGHTS`); ``cfg`` the public configuration.
    The weight of a window pair (i, i + d) is
    :func:`sharelake.linkage.fs_secure.fs_pair_weights` with the earlier record of the
    sorted order as its left side (whose term-frequency units count: over both fields of
    the union of all lists, :func:`sharelake.linkage.fs_secure.fs_tf_units`).
    """

    weights: FSWeights
    cfg: FSConfig

    def bits(self) -> int:
        """Signed comparison width of weights, thresholds and weight differences."""
        out = (2 * self.weights.bound() + 4).bit_length() + 2
        if out > 32:  # the weights are reshared on 32-bit wires
            raise ValueError("Fellegi-Sunter weights too large for blocked comparisons")
        return out


#: Window pairs scored per batch of the Fellegi-Sunter scorer (FS_PAIRS / w records a
#: batch; bounds memory, about 12 rounds a batch).
FS_PAIRS = 1 << 16


def _payload(p: Party, tables: Sequence[SharedPeople], prm: FuzzyParams) -> dict[str, list[AShare]]:
    """The columns the weighted scorer needs in sorted order (as 1-D columns)."""
    wd = widths(prm)
    counts = [name_counts(p, t, prm, wd) for t in tables]
    return {
        "given": [_cat([t.matrices["given"] for t in tables])],
        "family": [_cat([t.matrices["family"] for t in tables])],
        "dob_ext": [_cat([_dob_ext(t) for t in tables])],
        "given_count": [_cat([c["given"] for c in counts])],
        "family_count": [_cat([c["family"] for c in counts])],
    }


def _fs_payload(p: Party, tables: Sequence[SharedPeople], fs: FSScoring) -> dict[str, list[AShare]]:
    """The encodings the Fellegi-Sunter window scorer reads
    (:data:`~sharelake.linkage.fs_secure.WINDOW_COLUMNS`, ``c:<name>``, and
    :data:`~sharelake.linkage.fs_secure.WINDOW_MATRICES`, ``m:<name>``), and the
    term-frequency units over the union of the lists."""
    out = {f"c:{c}": [_cat([t.columns[c] for t in tables])] for c in WINDOW_COLUMNS}
    for m in WINDOW_MATRICES:
        out[f"m:{m}"] = [_cat([t.matrices[m] for t in tables])]
    if fs.weights.tf:
        toks = {c: _cat([t.columns[c] for t in tables]) for c in ("tok_given", "tok_family")}
        tg, tf = fs_tf_units(p, SharedPeople(toks, {}), [], fs.cfg)
        out["tf_given"], out["tf_family"] = [tg], [tf]
    return out


def _fs_pair_scores(p: Party, moved: dict[str, AShare], fs: FSScoring, w: int) -> AShare:
    """W of the pairs (i, i+d), d = 1..w, flattened d-major (w N); pairs beyond the end
    (i + d >= N) get 0 (:func:`sharelake.linkage.fs_secure.fs_window_weights`)."""
    sp = SharedPeople(
        {k[2:]: v for k, v in moved.items() if k.startswith("c:")},
        {k[2:]: v for k, v in moved.items() if k.startswith("m:")},
    )
    tf = (moved["tf_given"], moved["tf_family"]) if fs.weights.tf else None
    return fs_window_weights(p, sp, fs.weights, fs.cfg, w, tf, rows=max(1, FS_PAIRS // w))


def _onehot_lists(p: Party, sizes: Sequence[int]) -> list[AShare]:
    k = len(sizes)
    lab = np.repeat(np.arange(k), sizes)
    return [p.public_a((lab == j).astype(np.uint64)) for j in range(k)]


def link_lists(
    p: Party,
    tables: Sequence[SharedPeople],
    prm: FuzzyParams | None = None,
    *,
    hybrid: bool = False,
    keys: Sequence[str] = BLOCK_KEYS,
    window: int = DEFAULT_WINDOW,
    valid: Sequence[AShare] | None = None,
    fs: FSScoring | None = None,
) -> ListLinks:
    """One-to-one links of every pair of the k ``tables`` by sorted-neighbourhood blocking.

    Per record and other list (offset r = 1 .. k-1) the arg-max trees of the module run
    on the slots whose partner is in that list; a pair is linked when both ends chose
    it. For two lists this is :func:`blocked_match`. ``valid``: per table the secret
    0/1 validity of its rows (rows filtered out link to nothing). ``fs``: score the
    window pairs with the Fellegi-Sunter model (:class:`FSScoring`) instead of the
    weighted scorer of ``prm``/``hybrid``. LEAKAGE: the list sizes, k, ``len(keys)``
    and ``window`` (public); nothing else.
    """
    prm = prm or FuzzyParams()
    if window < 1 or not keys:
        raise ValueError("blocked linkage needs at least one key and a window of at least 1")
    if prm.w_all and fs is None:
        raise ValueError("blocked linkage supports w_all = 0 only")
    sizes = tuple(t.n for t in tables)
    k, nn = len(sizes), sum(sizes)
    if k < 2:
        raise ValueError("linkage needs at least two lists")
    offs = list(range(1, k))
    if nn < 2:
        z = p.public_a(np.zeros(nn, np.uint64))
        return ListLinks(sizes, 0, [z for _ in offs], [z for _ in offs], [])
    w = min(window, nn - 1)
    score_bits = widths(prm).score if fs is None else fs.bits()
    payload = _payload(p, tables, prm) if fs is None else _fs_payload(p, tables, fs)
    payload["row"] = [p.public_a(np.arange(1, nn + 1, dtype=np.uint64))]
    payload["list"] = _onehot_lists(p, sizes)
    if valid is not None:
        payload["ok"] = [_cat(list(valid))]
    if hybrid and fs is None:
        for key in prm.keys:
            payload[key] = [_cat([t.columns[key] for t in tables])]
    names = list(payload)
    flat = [c for name in names for c in payload[name]]
    # the Fellegi-Sunter scorer reads its inputs modulo 2^32 only (every product is
    # reshared on 32 bits): they travel as 32-bit words at the semi-honest level; the
    # name q-gram matrices it reads modulo 2^NAME_BITS only (its banded name products):
    # as 21-bit lanes, three to a word
    scorer = [nm for nm in names if fs is not None and nm[:2] in ("c:", "m:", "tf")]
    tiny = {"m:given", "m:family"} if NAME_BITS <= 21 else set()
    narrow: set[int] = set()
    narrow21: set[int] = set()
    off = 0
    for name in names:
        if name in scorer:
            (narrow21 if name in tiny else narrow).update(range(off, off + len(payload[name])))
        off += len(payload[name])
    slot_idx, slot_ok = _slots(nn, w)
    in_range = np.concatenate([np.arange(nn) + d < nn for d in range(1, w + 1)])
    fwd_idx, bwd_idx = slot_idx[:, :w].reshape(-1), slot_idx[:, w:].reshape(-1)
    sorts: list[Sorted] = []
    moved_rows: list[AShare] = []
    slot_valid: list[list[BitShare]] = []  # per pass, per r: (N 2w) valid slots
    trees: list[Tree] = []  # pass-major, r-minor
    for key in keys:
        srt = sort_undoable(
            p,
            [_cat([t.columns[key] for t in tables])],
            flat,
            signed=False,
            bits=KEY_BITS,
            narrow=narrow,
            narrow21=narrow21,
        )
        moved: dict[str, AShare] = {}
        off = 0
        for name in names:
            cols = srt.payload[off : off + len(payload[name])]
            off += len(payload[name])
            if name == "list":
                moved.update({f"list{j}": c for j, c in enumerate(cols)})  # type: ignore[misc]
            elif len(cols) > 1:
                moved[name] = _stack_cols(cols)
            else:
                (single,) = cols
                assert isinstance(single, AShare)
                moved[name] = single
        num: AShare
        den: AShare | None
        if fs is None:
            num, den = _pair_scores(p, moved, prm, w, hybrid)
            margin = num.scale(prm.t_den) - den.scale(prm.t_num)
        else:
            num, den = _fs_pair_scores(p, moved, fs, w), None
            margin = num.add_public(np.int64(-fs.weights.threshold), p.id)
        below = msb_many(p, [margin], bits=score_bits)[0]
        cand = below.invert(p.id).and_public(pack(in_range))
        if valid is not None:
            okb = _low_bit(moved["ok"])
            nxt_ok = _take_many(okb, nn, w)
            (both,) = and_bits_many(p, [(_tile_bits(okb, w), nxt_ok)])
            (cand,) = and_bits_many(p, [(cand, both)])
        # [list(i+d) - list(i) = r mod k] per pair and r: one round of k-term dot products
        lists = [moved[f"list{j}"] for j in range(k)]
        here = [AShare(np.tile(x.a, w), np.tile(x.b, w)) for x in lists]
        there = [_cat([_shift(x, d) for d in range(1, w + 1)]) for x in lists]
        ind = dots(p, [[(here[j], there[(j + r) % k]) for j in range(k)] for r in offs])
        ind_bits = [
            BitShare(
                pack((x.a & np.uint64(1)).astype(bool)),
                pack((x.b & np.uint64(1)).astype(bool)),
                len(x),
            )
            for x in ind
        ]
        pv = and_bits_many(p, [(cand, b) for b in ind_bits])  # per r: valid pair for i
        valids = []
        for r in offs:
            f_ = _take_bits(pv[r - 1], fwd_idx)
            b_ = _take_bits(pv[k - r - 1], bwd_idx)  # i+d sees offset -r = k - r
            v = _interleave(f_, b_, nn, w).and_public(pack(slot_ok.reshape(-1)))
            valids.append(v)
            low = prm.t_num // prm.t_den - 1 if fs is None else fs.weights.threshold - 1
            gden = None if den is None else _gather(den, slot_idx)
            mn, md = _masked(p, low, _gather(num, slot_idx), gden, v)
            trees.append(Tree(mn.reshape(nn, 2 * w), None if md is None else md.reshape(nn, 2 * w)))
        sorts.append(srt)
        moved_rows.append(moved["row"])
        slot_valid.append(valids)
    reduce_trees(p, trees, score_bits)
    wins = winners(p, trees, [2 * w] * len(trees))
    npass, nr = len(keys), k - 1
    # per-record best of every pass and offset, back in input order (one unsort a pass)
    best_num: list[list[AShare]] = [[] for _ in offs]
    best_den: list[list[AShare]] = [[] for _ in offs]
    nc = 1 if fs is not None else 2
    for q, srt in enumerate(sorts):
        cols = []
        for r in offs:
            t = trees[q * nr + r - 1]
            cols += [t.num.reshape(nn)] + ([] if t.den is None else [t.den.reshape(nn)])
        back = unsort(p, cols, srt)
        for r in offs:
            bn = back[nc * (r - 1)]
            assert isinstance(bn, AShare)
            best_num[r - 1].append(bn)
            if nc == 2:
                bd = back[nc * (r - 1) + 1]
                assert isinstance(bd, AShare)
                best_den[r - 1].append(bd)
    merges = [
        Tree(
            _stack_cols(best_num[r - 1]),
            None if fs is not None else _stack_cols(best_den[r - 1]),
        )
        for r in offs
    ]
    reduce_trees(p, merges, score_bits)
    pwins = winners(p, merges, [npass] * nr)  # per r: N x P row-major
    # the pass-winner bits of every offset, one word per record, into each pass's order
    pw = [(unpack(x.a, x.n).reshape(nn, npass), unpack(x.b, x.n).reshape(nn, npass)) for x in pwins]
    passes: list[PassLinks] = []
    flags = [p.public_a(np.zeros(nn, np.uint64)) for _ in offs]
    parts = [p.public_a(np.zeros(nn, np.uint64)) for _ in offs]
    for q, srt in enumerate(sorts):
        wa = np.zeros(nn, np.uint64)
        wb = np.zeros(nn, np.uint64)
        for r in offs:
            wa |= pw[r - 1][0][:, q].astype(np.uint64) << np.uint64(r - 1)
            wb |= pw[r - 1][1][:, q].astype(np.uint64) << np.uint64(r - 1)
        (sh,) = shuffle(p, [BShare(wa, wb)], plan=srt.plan)
        (word,) = apply_public_perm([sh], invert_perm(srt.ranks))
        chosen = []
        for r in offs:
            sh_r = np.uint64(r - 1)
            one = np.uint64(1)
            pbit = BitShare(
                pack(((word.a >> sh_r) & one).astype(bool)),
                pack(((word.b >> sh_r) & one).astype(bool)),
                nn,
            )
            chosen.append((wins[q * nr + r - 1], _rep_cols(pbit, 2 * w), slot_valid[q][r - 1]))
        ab = and_bits_many(p, [(x, y) for x, y, _ in chosen])
        ch = and_bits_many(p, [(x, z) for x, (_, _, z) in zip(ab, chosen, strict=True)])
        # per r: i's forward choice and (i+d)'s backward choice of pair (i, i+d), d-major
        fch = [_slot_part(c, nn, w, forward=True) for c in ch]
        bch = [_slot_part(c, nn, w, forward=False) for c in ch]
        f_any, b_any = fch[0], bch[0]
        for x, y in zip(fch[1:], bch[1:], strict=True):
            f_any, b_any = f_any ^ x, b_any ^ y  # at most one offset is valid per slot
        lk = and_bits_many(p, [(f, b_any) for f in fch] + [(b, f_any) for b in bch])
        lk = [x.and_public(pack(in_range)) for x in lk]
        arith = [b2a_bits(p, x) for x in lk]
        fwd, bwd = arith[:nr], arith[nr:]
        row = moved_rows[q]
        rep_row = AShare(np.tile(row.a, w), np.tile(row.b, w))
        nxt_row = _cat([_shift(row, d) for d in range(1, w + 1)])
        prods = dots(p, [[(x, nxt_row)] for x in fwd] + [[(x, rep_row)] for x in bwd])
        cols = []
        for r in offs:
            cols.append(
                _sum_slots(fwd[r - 1], nn, w, forward=True)
                + _sum_slots(bwd[r - 1], nn, w, forward=False)
            )
            cols.append(
                _sum_slots(prods[r - 1], nn, w, forward=True)
                + _sum_slots(prods[nr + r - 1], nn, w, forward=False)
            )
        back = unsort(p, cols, srt)
        for r in offs:
            fl_, pt_ = back[2 * (r - 1)], back[2 * (r - 1) + 1]
            assert isinstance(fl_, AShare) and isinstance(pt_, AShare)
            flags[r - 1] = flags[r - 1] + fl_
            parts[r - 1] = parts[r - 1] + pt_
        passes.append(PassLinks(srt, fwd, bwd))
    return ListLinks(sizes, w, flags, parts, passes)


def blocked_match(
    p: Party,
    left: SharedPeople,
    right: SharedPeople,
    prm: FuzzyParams | None = None,
    *,
    hybrid: bool = False,
    keys: Sequence[str] = BLOCK_KEYS,
    window: int = DEFAULT_WINDOW,
    fs: FSScoring | None = None,
) -> BlockedLinks:
    """Sorted-neighbourhood fuzzy linkage of ``left`` (n) and ``right`` (m); see the module.

    ``fs``: Fellegi-Sunter scoring of the window pairs (else the weighted scorer).
    LEAKAGE: n, m, ``len(keys)`` and ``window`` (public); nothing else.
    """
    n, m = left.n, right.n
    if n == 0 or m == 0:
        zl, zr = p.public_a(np.zeros(n, np.uint64)), p.public_a(np.zeros(m, np.uint64))
        return BlockedLinks(zl, zl, zr)
    links = link_lists(p, [left, right], prm, hybrid=hybrid, keys=keys, window=window, fs=fs)
    flag, part = links.flag[0], links.partner[0]
    lp = part[:n].add_public(np.uint64((-(n + 1)) % (1 << 64)), p.id)
    return BlockedLinks(flag[:n], lp, flag[n:])


def _low_bit(x: AShare) -> BitShare:
    """The low bit of an arithmetic sharing as a boolean one (local: the low bit of a sum
    is the XOR of the low bits); for 0/1 values, the value itself."""
    one = np.uint64(1)
    return BitShare(pack((x.a & one).astype(bool)), pack((x.b & one).astype(bool)), len(x))


def _tile_bits(x: BitShare, w: int) -> BitShare:
    """Bit i of every d-block is x_i (w blocks, d-major; local)."""
    return BitShare(pack(np.tile(unpack(x.a, x.n), w)), pack(np.tile(unpack(x.b, x.n), w)), w * x.n)


def _take_many(x: BitShare, n: int, w: int) -> BitShare:
    """Bit i of block d is x_{i+d} (the last bit beyond the end; d-major; local)."""
    idx = np.concatenate([np.minimum(np.arange(n) + d, n - 1) for d in range(1, w + 1)])
    return _take_bits(x, idx)


def _gather(x: AShare, idx: npt.NDArray[np.intp]) -> AShare:
    return AShare(x.a[idx.reshape(-1)], x.b[idx.reshape(-1)])


def _interleave(f: BitShare, b: BitShare, n: int, w: int) -> BitShare:
    """Rows of w forward bits then w backward bits (n x 2w, row-major; local)."""
    out = []
    for c in ("a", "b"):
        uf = unpack(getattr(f, c), f.n).reshape(n, w)
        ub = unpack(getattr(b, c), b.n).reshape(n, w)
        out.append(pack(np.concatenate([uf, ub], axis=1).reshape(-1)))
    return BitShare(out[0], out[1], 2 * n * w)


def _slot_part(x: BitShare, n: int, w: int, *, forward: bool) -> BitShare:
    """From n x 2w slot bits, per pair (i, i+d) (d-major): i's forward slot d, or
    (i+d)'s backward slot d (zero beyond the end; local)."""
    comps = []
    for c in (x.a, x.b):
        u = unpack(c, x.n).reshape(n, 2 * w)
        if forward:
            comps.append(pack(u[:, :w].T.reshape(-1)))
            continue
        out = np.zeros((w, n), dtype=np.bool_)
        for d in range(1, w + 1):
            out[d - 1, : n - d] = u[d:, w + d - 1]
        comps.append(pack(out.reshape(-1)))
    return BitShare(comps[0], comps[1], w * n)


def _rep_cols(x: BitShare, k: int) -> BitShare:
    """Each bit repeated k times in a row (row-major n x k)."""
    ua, ub = unpack(x.a, x.n), unpack(x.b, x.n)
    return BitShare(pack(np.repeat(ua, k)), pack(np.repeat(ub, k)), k * x.n)


def _min_many(p: Party, xs: list[AShare], bits: int) -> AShare:
    """Elementwise minimum of several sharings (a tree; one comparison round a level)."""
    n = len(xs[0])
    while len(xs) > 1:
        h = len(xs) // 2
        lo, hi, rest = xs[:h], xs[h : 2 * h], xs[2 * h :]
        c = gt0(p, [_cat([a - b for a, b in zip(lo, hi, strict=True)])], bits)[0]
        sel = select(p, c, [_cat(lo)], [_cat(hi)])[0]  # lo > hi ? hi : lo
        xs = [AShare(sel.a[j * n : (j + 1) * n], sel.b[j * n : (j + 1) * n]) for j in range(h)]
        xs += rest
    return xs[0]


def cluster(p: Party, links: ListLinks, *, rounds: int) -> AShare:
    """A secret person label per record (union order): connected components of the links.

    Min-label propagation (Jacobi): every record starts with its union row as label; a
    round gives each record the minimum of its label and its linked records' labels.
    The neighbours' labels are fetched in each pass's sorted order, where every link is
    a pair (i, i+d) inside the window: the labels are sorted into that order (the
    pass's own secret permutation), multiplied by the secret link bits of the window
    pairs, summed per record and offset, and unsorted. After R rounds a record holds
    the least row within R links of it, so every component of diameter <= R gets one
    label (its least row), and no label ever crosses components.

    Bound on R. Links are one-to-one per pair of lists, so a record has at most k - 1
    links (one per other list). A component that holds at most one record of every
    list -- one person, consistently linked -- has at most k records, hence diameter
    <= k - 1: R = k - 1 rounds label it completely. One-to-one links do NOT bound a
    component in general: a1-b1 (A-B), b1-c1 (B-C), c1-a2 (C-A), a2-b2 (A-B), ... is a
    chain of one-to-one links through two records of list A and grows without limit.
    Such a chain only arises from a false link or a person twice on one list; with R
    rounds it is split into pieces of diameter <= R (never merged with another
    component). :data:`DEFAULT_EXTRA_ROUNDS` rounds beyond k - 1 are the default
    (:func:`default_rounds`), so a component with one such inconsistency stays whole.
    R is public; the labels, the links and the components stay secret.
    LEAKAGE: nothing beyond the public sizes, the number of passes, w and R.
    """
    nn = sum(links.sizes)
    k = len(links.sizes)
    offs = range(1, k)
    nr = k - 1
    label = p.public_a(np.arange(nn, dtype=np.uint64))
    if nn < 2 or not links.passes:
        return label
    bits = max(2, nn.bit_length() + 1)
    w = links.window
    for _ in range(rounds):
        deltas = [p.public_a(np.zeros(nn, np.uint64)) for _ in offs]
        for pl in links.passes:
            (sh,) = shuffle(p, [label], plan=pl.srt.plan)
            (srt_lab,) = apply_public_perm([sh], invert_perm(pl.srt.ranks))
            assert isinstance(srt_lab, AShare)
            rep = AShare(np.tile(srt_lab.a, w), np.tile(srt_lab.b, w))
            diff = _cat([_shift(srt_lab, d) for d in range(1, w + 1)]) - rep
            prods = dots(p, [[(x, diff)] for x in pl.fwd] + [[(x, -diff)] for x in pl.bwd])
            cols = [
                _sum_slots(prods[r - 1], nn, w, forward=True)
                + _sum_slots(prods[nr + r - 1], nn, w, forward=False)
                for r in offs
            ]
            back = unsort(p, cols, pl.srt)
            for r in offs:
                got = back[r - 1]
                assert isinstance(got, AShare)
                deltas[r - 1] = deltas[r - 1] + got
        label = _min_many(p, [label] + [label + d for d in deltas], bits)
    return label


#: Rounds of :func:`cluster` beyond k - 1 by default (see its bound).
DEFAULT_EXTRA_ROUNDS = 2


def default_rounds(k: int) -> int:
    """k - 1 + :data:`DEFAULT_EXTRA_ROUNDS` (see :func:`cluster`).

    Examples
    --------
    >>> default_rounds(4)
    5
    """
    return k - 1 + DEFAULT_EXTRA_ROUNDS


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


def link_lists_plain(
    union_keys: npt.ArrayLike,
    num: npt.ArrayLike,
    den: npt.ArrayLike,
    sizes: Sequence[int],
    prm: FuzzyParams | int,
    *,
    window: int = DEFAULT_WINDOW,
) -> list[tuple[int, int]]:
    """Twin of :func:`link_lists`: the linked pairs (union row, union row), a < b, sorted.

    ``union_keys``: (P, N) the blocking keys of the union (lists one after another);
    ``num``, ``den``: N x N exact score fractions of every union pair, entry [a, b] with
    a the earlier record in sorted order (e.g. :func:`sharelake.linkage.score.pair_scores`
    of the union with itself, or the Fellegi-Sunter weights
    :func:`sharelake.linkage.fs.weights_plain` over ones). ``prm``: the weighted
    scorer's parameters (threshold t_num / t_den), or the integer Fellegi-Sunter
    threshold. Same passes, slot order and tie rules as the secure operator: per pass,
    record and other list, the first slot of maximal score (successors by distance,
    then predecessors; invalid slots score floor(t) - 1); over the passes the first
    pass of maximal score; a pair is linked when both ends took it.
    """
    keys = np.atleast_2d(np.asarray(union_keys, dtype=np.uint64))
    sn, sd = np.asarray(num, dtype=np.int64), np.asarray(den, dtype=np.int64)
    nn, k = keys.shape[1], len(sizes)
    if nn < 2:
        return []
    w = min(window, nn - 1)
    t_num, t_den = (prm, 1) if isinstance(prm, int) else (prm.t_num, prm.t_den)
    low: Frac = (t_num // t_den - 1, 1)
    lst = np.repeat(np.arange(k), sizes)

    def valid(ra: int, rb: int, r: int, me: int) -> bool:
        other = rb if ra == me else ra
        return bool((lst[other] - lst[me]) % k == r and t_den * sn[ra, rb] >= t_num * sd[ra, rb])

    per_pass: list[dict[tuple[int, int], tuple[Frac, int | None]]] = []
    for kk in keys:
        order = [int(x) for x in sorted_order(kk)]
        got: dict[tuple[int, int], tuple[Frac, int | None]] = {}
        for i in range(nn):
            slots = [(i, i + d) for d in range(1, w + 1)] + [(i - d, i) for d in range(1, w + 1)]
            for r in range(1, k):
                vals: list[Frac] = []
                partners: list[int | None] = []
                for a, b in slots:
                    if a >= 0 and b < nn and valid(order[a], order[b], r, order[i]):
                        vals.append((int(sn[order[a], order[b]]), int(sd[order[a], order[b]])))
                        partners.append(order[b] if a == i else order[a])
                    else:
                        vals.append(low)
                        partners.append(None)
                j = _first_max(vals)
                got[(order[i], r)] = (vals[j], partners[j])
        per_pass.append(got)
    choice: dict[tuple[int, int], int | None] = {}
    for rec in range(nn):
        for r in range(1, k):
            q = _first_max([pp[(rec, r)][0] for pp in per_pass])
            choice[(rec, r)] = per_pass[q][(rec, r)][1]
    links = set()
    for (rec, r), partner in choice.items():
        if partner is not None and choice[(partner, (k - r) % k)] == rec:
            links.add((min(rec, partner), max(rec, partner)))
    return sorted(links)


def blocked_match_plain(
    union_keys: npt.ArrayLike,
    num: npt.ArrayLike,
    den: npt.ArrayLike,
    n: int,
    prm: FuzzyParams | int,
    *,
    window: int = DEFAULT_WINDOW,
) -> list[tuple[int, int]]:
    """Twin of :func:`blocked_match`: the linked (left row, right row) pairs, sorted.

    As :func:`link_lists_plain` for the two lists of sizes n and N - n.
    """
    nn = np.atleast_2d(np.asarray(union_keys)).shape[1]
    if n == 0 or n == nn:
        return []
    pairs = link_lists_plain(union_keys, num, den, (n, nn - n), prm, window=window)
    return [(a, b - n) for a, b in pairs]


def cluster_plain(links: Sequence[tuple[int, int]], n: int, rounds: int) -> list[int]:
    """Twin of :func:`cluster`: ``rounds`` Jacobi rounds of min-label propagation.

    Examples
    --------
    >>> cluster_plain([(0, 1), (1, 2)], 4, 1)
    [0, 0, 1, 3]
    """
    label = list(range(n))
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for a, b in links:
        nbrs[a].append(b)
        nbrs[b].append(a)
    for _ in range(rounds):
        label = [min([label[i]] + [label[j] for j in nbrs[i]]) for i in range(n)]
    return label


def _first_max(vals: Sequence[Frac]) -> int:
    """First index of the largest fraction (positive denominators), by cross-multiplication."""
    best = 0
    for k in range(1, len(vals)):
        if vals[k][0] * vals[best][1] > vals[best][0] * vals[k][1]:
            best = k
    return best

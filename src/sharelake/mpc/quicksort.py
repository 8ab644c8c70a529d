"""Quicksort with opened comparison outcomes, and the word-packed comparator it runs on.

The sorting method is that of Hamada, Kikuchi, Chida, Ikarashi and Takahashi,
"Practically efficient multi-party sorting protocols from comparison sort algorithms"
(ICISC 2012): shuffle the rows obliviously, then run an ordinary quicksort whose
comparison results are *opened*. When all composite keys are distinct (a secret row
index is appended as the last key, which also makes the sort stable) and the rows were
permuted uniformly at random, the sequence of opened outcomes is a function of that
random permutation alone: the outcome "row at position i is below the pivot of its
segment" depends only on the ranks of the rows, and after the shuffle the vector of
ranks in the current order is a uniformly random permutation whatever the data. The
number of levels, the segment sizes and the final public reordering therefore have a
distribution that does not depend on the data, and a simulator can sample them.

Levels are breadth-first: at every level, every row still in an unsorted segment is
compared with its segment's pivot (the segment's first row, uniformly random given the
past) in ONE batched comparison, and the segments split locally by the public outcomes.
About 1.39 n log2 n comparisons in 2 to 4 log2 n levels (the depth of a random binary
search tree).

The comparator is the lexicographic "is x below y" over the bit string of the composite
key. For a group of bit positions keep (D, V): D = "x and y differ somewhere in the
group", V = y's bit at the highest differing position. Leaves are free (D = x ^ y,
V = y), and two adjacent groups combine as
``(D_h, V_h) o (D_l, V_l) = (D_h | D_l, V_l ^ D_h & (V_h ^ V_l))`` -- two AND gates
(Araki et al. CCS 2016 boolean gates; the generate/propagate tree of ABY3 section 5.3
with no leaf gates). The tree runs *inside* the 64-bit words, keeping every word full:
stage 1 pairs neighbouring bits of the D and V words of one element, and every later
stage merges two words into one as the groups halve. A 64-bit key costs 63 x 2 gates =
about 2 words sent per comparison and 6 rounds, with no bit transpose. Narrower key
parts are packed several per word so that no bit of any message is padding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from .arith import open_bool
from .boolean import and_many
from .party import Party
from .ring import Arr
from .shares import BShare

U64 = np.uint64
Idx = npt.NDArray[np.intp]
Bools = npt.NDArray[np.bool_]

_E = U64(0x5555555555555555)  # the D bit of every (D, V) slot
_O = U64(0xAAAAAAAAAAAAAAAA)  # the V bit of every (D, V) slot
#: Stage s >= 2 merges two words: the low half of each 2^s-bit field and the shift.
_LO = {
    2: U64(0x3333333333333333),
    3: U64(0x0F0F0F0F0F0F0F0F),
    4: U64(0x00FF00FF00FF00FF),
    5: U64(0x0000FFFF0000FFFF),
    6: U64(0x00000000FFFFFFFF),
}
_ODD_SHIFTS = (2 * np.arange(32, dtype=np.uint64) + U64(1)).astype(np.uint64)


def pow2_width(bits: int) -> int:
    """The comparator width of a ``bits``-wide chunk: the next power of two, at least 2."""
    w = 2
    while w < bits:
        w *= 2
    return w


def pack_chunks(fields: Sequence[tuple[BShare, int]]) -> list[tuple[BShare, int]]:
    """Concatenate key fields (value in the low ``width`` bits) into comparator chunks.

    The bit string of all fields, most significant field first, is cut into 64-bit
    chunks from the top; the remaining r < 64 bits are cut into chunks of descending
    powers of two (a last single bit gets one zero bit of padding), so the comparator
    spends 2 (L - 1) gates on an L-bit string, none on padding. Returns (chunk, width)
    pairs, most significant first, each value in the low ``width`` bits. Local: shifts
    and XORs of disjoint bit fields are linear, so each share component is packed alone.
    """
    chunks: list[tuple[BShare, int]] = []
    n = len(fields[0][0]) if fields else 0
    cur_a = np.zeros(n, dtype=np.uint64)
    cur_b = np.zeros(n, dtype=np.uint64)
    free = 64
    for f, width in fields:
        left = width
        while left > 0:
            take = min(left, free)
            sh = U64(left - take)
            mask = U64((1 << take) - 1)
            up = U64(free - take)
            cur_a |= ((f.a >> sh) & mask) << up
            cur_b |= ((f.b >> sh) & mask) << up
            free -= take
            left -= take
            if free == 0:
                chunks.append((BShare(cur_a, cur_b), 64))
                cur_a = np.zeros(n, dtype=np.uint64)
                cur_b = np.zeros(n, dtype=np.uint64)
                free = 64
    rest = 64 - free
    while rest > 0:
        w = 2 if rest == 1 else 1 << (rest.bit_length() - 1)
        down = U64(64 - w)
        chunks.append((BShare(cur_a >> down, cur_b >> down), w))
        cur_a = cur_a << U64(w)
        cur_b = cur_b << U64(w)
        rest -= min(w, rest)
    return chunks


def chunk_matrix(chunks: Sequence[tuple[BShare, int]]) -> tuple[Arr, list[int]]:
    """Row layout for gathers: row e = (chunk 0 a, chunk 0 b, chunk 1 a, ...) of element e."""
    n = len(chunks[0][0]) if chunks else 0
    mat = np.empty((n, 2 * len(chunks)), dtype=np.uint64)
    for c, (ch, _) in enumerate(chunks):
        mat[:, 2 * c] = ch.a
        mat[:, 2 * c + 1] = ch.b
    return mat, [w for _, w in chunks]


# ---- the word-packed comparator ----------------------------------------------------------


def _stage1(d: Arr, v: Arr) -> tuple[Arr, Arr]:
    """(X, Y) = (low, high) bit of every neighbouring pair, as (D, V) slots (delta swap)."""
    t = d >> U64(1)
    t ^= v
    t &= _E
    y = v ^ t
    t <<= U64(1)
    t ^= d
    return t, y


def _stage(w: Arr, s: int) -> tuple[Arr, Arr]:
    """(X, Y) for stage s >= 2: merge words 2i and 2i+1, low and high groups aligned."""
    lo, sh = _LO[s], U64(1 << (s - 1))
    w0, w1 = w[0::2], w[1::2]
    t = w0 >> sh
    t ^= w1
    t &= lo
    y = w1 ^ t
    t <<= sh
    t ^= w0
    return t, y


def _operands(x: Arr, y: Arr) -> tuple[Arr, Arr, Arr]:
    """(left, right, Y & E): (D_h, D_h) against (D_l, V_h ^ V_l) in every slot."""
    ye = y & _E
    left = ye << U64(1)
    left |= ye
    right = x ^ y
    right ^= ye
    return left, right, ye


def _pack_narrow(arr: Arr, width: int) -> Arr:
    """Pack ``64 / width`` elements per word so the reduced slots come out canonical.

    ``arr`` has shape (rows, mp), mp a multiple of 32. Element e ends in slot e % 32 of
    word e // 32 after the log2(width) stages; that needs packed word f * h + u, lane t,
    to hold element 32 f + t h + u (h = width / 2, t < 64 / width). Lanes are filled by
    halving: neighbours merge into words of twice the width, log2(64 / width) times.
    """
    rows = arr.shape[0]
    if width == 64:
        return arr
    k, h = 64 // width, width // 2
    cur = arr.reshape(rows, -1, k, h)
    if h > 1:
        cur = cur.transpose(0, 1, 3, 2)
    flat = np.ascontiguousarray(cur).reshape(rows, -1)
    w = width
    while w < 64:
        nxt = flat[:, 1::2] << U64(w)
        nxt |= flat[:, 0::2]
        flat = nxt
        w *= 2
    return flat


def compare_rows(p: Party, xs: Arr, ys: Arr, widths: Sequence[int]) -> BShare:
    """Secret (D, V) of row-layout keys ``xs`` vs ``ys`` (see :func:`chunk_matrix`).

    ``xs`` and ``ys`` have shape (2 * #chunks, mp) (row 2c / 2c + 1 = component a / b
    of chunk c, column = element) with mp a multiple of 32. Returns
    mp / 32 words: word e // 32, bits 2(e % 32) and 2(e % 32) + 1 hold D ("keys differ")
    and V (= [x < y] when they differ) of pair e. Chunks run their stages in the same
    rounds, and finished neighbours merge while wider chunks still run: about
    log2(max width) + 1 rounds in all.
    """
    d = xs ^ ys
    # Entries in significance order: [stages left, (Xa, Xb, Ya, Yb) pending, state]
    todo: list[int] = []
    pend: list[tuple[Arr, Arr, Arr, Arr] | None] = []
    state: list[tuple[Arr, Arr] | None] = []
    for c, width in enumerate(widths):
        wd = 64 if width >= 64 else pow2_width(width)
        da, db = _pack_narrow(d[2 * c : 2 * c + 2], wd)
        va, vb = _pack_narrow(ys[2 * c : 2 * c + 2], wd)
        xa, ya = _stage1(da, va)
        xb, yb = _stage1(db, vb)
        todo.append(wd.bit_length() - 1)
        pend.append((xa, xb, ya, yb))
        state.append(None)
    stage_no = [1] * len(widths)
    while len(state) > 1 or todo[0] > 0:
        # Adjacent finished entries merge (hi = the more significant one).
        jobs: list[tuple[int, tuple[Arr, Arr, Arr, Arr]]] = []
        i = 0
        merged_into: list[int] = []
        while i < len(state):
            if todo[i] > 0:
                if stage_no[i] > 1:
                    st = state[i]
                    assert st is not None
                    xa, ya = _stage(st[0], stage_no[i])
                    xb, yb = _stage(st[1], stage_no[i])
                    pend[i] = (xa, xb, ya, yb)
                got = pend[i]
                assert got is not None
                jobs.append((i, got))
                i += 1
            elif i + 1 < len(state) and todo[i + 1] == 0:
                hi, lo = state[i], state[i + 1]
                assert hi is not None and lo is not None
                jobs.append((i, (lo[0], lo[1], hi[0], hi[1])))
                merged_into.append(i)
                i += 2
            else:
                i += 1
        pairs = []
        ops = []
        for _, (xa, xb, ya, yb) in jobs:
            la, ra, yea = _operands(xa, ya)
            lb, rb, yeb = _operands(xb, yb)
            pairs.append((BShare(la, lb), BShare(ra, rb)))
            ops.append((yea, yeb))
        res = and_many(p, pairs)
        for (i, (xa, xb, _, _)), r, (yea, yeb) in zip(jobs, res, ops, strict=True):
            wa = xa ^ r.a
            wa ^= yea
            wb = xb ^ r.b
            wb ^= yeb
            state[i] = (wa, wb)
            if todo[i] > 0:
                todo[i] -= 1
                stage_no[i] += 1
        for i in reversed(merged_into):
            del state[i + 1], todo[i + 1], pend[i + 1], stage_no[i + 1]
    final = state[0]
    assert final is not None
    return BShare(final[0], final[1])


def open_below_rows(p: Party, xs: Arr, ys: Arr, widths: Sequence[int], m: int) -> Bools:
    """Open [x < y] for the first ``m`` row pairs (keys must differ: equal ones give junk)."""
    words = open_bool(p, compare_rows(p, xs, ys, widths))
    bits = (words[:, None] >> _ODD_SHIFTS) & U64(1)
    out: Bools = bits.reshape(-1)[:m].astype(bool)
    return out


def open_below(p: Party, chunks: Sequence[tuple[BShare, int]], xi: Idx, yi: Idx) -> Bools:
    """Open [key[xi] < key[yi]] for every pair of row indices (keys must differ)."""
    mat, widths = chunk_matrix(chunks)
    m = int(xi.shape[0])
    mp = max(32, -(-m // 32) * 32)
    xs = np.zeros((mat.shape[1], mp), dtype=np.uint64)
    ys = np.zeros_like(xs)
    xs[:, :m] = mat[xi].T
    ys[:, :m] = mat[yi].T
    return open_below_rows(p, xs, ys, widths, m)


# ---- quicksort by levels -------------------------------------------------------------------


def quicksort_ranks(p: Party, chunks: Sequence[tuple[BShare, int]], n: int) -> Idx:
    """The rank of every row under the (distinct) composite keys in ``chunks``.

    Breadth-first quicksort; each level is one :func:`open_below` call over every row of
    every unsorted segment against that segment's first row. Only public bookkeeping
    (segment offsets, lengths, ranks) runs between the calls.
    """
    rank = np.zeros(n, dtype=np.intp)
    mat, widths = chunk_matrix(chunks)
    ncol = mat.shape[1]
    rows = mat.view(np.dtype((np.void, 8 * ncol))).reshape(-1)  # one item per row: gathers
    cols = np.ascontiguousarray(mat.T)  # one row per component: pivot broadcasts
    act = np.arange(n, dtype=np.intp)  # rows of unsorted segments, segment by segment
    seg_len = np.array([n] if n >= 2 else [], dtype=np.intp)
    seg_rank = np.zeros(seg_len.shape[0], dtype=np.intp)
    while seg_len.shape[0]:
        nseg = seg_len.shape[0]
        seg_off = np.zeros(nseg, dtype=np.intp)
        np.cumsum(seg_len[:-1], out=seg_off[1:])
        piv = act[seg_off]
        is_piv = np.zeros(act.shape[0], dtype=bool)
        is_piv[seg_off] = True
        rest = act[~is_piv]
        counts = seg_len - 1
        seg_of = np.repeat(np.arange(nseg, dtype=np.intp), counts)
        m = rest.shape[0]
        mp = -(-m // 32) * 32
        xs = np.empty((ncol, mp), dtype=np.uint64)
        ys = np.empty_like(xs)
        xs[:, :m] = rows[rest].view(np.uint64).reshape(m, ncol).T
        for c in range(ncol):
            ys[c, :m] = np.repeat(cols[c, piv], counts)
        xs[:, m:] = 0
        ys[:, m:] = 0
        below = open_below_rows(p, xs, ys, widths, m)
        n_lo = np.bincount(seg_of, weights=below, minlength=nseg).astype(np.intp)
        n_hi = seg_len - 1 - n_lo
        rank[piv] = seg_rank + n_lo
        # New segments: (below part, above part) of each old segment, in order.
        new_len = np.stack([n_lo, n_hi], axis=1).reshape(-1)
        new_rank = np.stack([seg_rank, seg_rank + n_lo + 1], axis=1).reshape(-1)
        new_off = np.zeros(2 * nseg, dtype=np.intp)
        np.cumsum(new_len[:-1], out=new_off[1:])
        # Stable partition: rows below the pivot keep their order at the start of the
        # first new segment, the others at the start of the second.
        lo_i = below.astype(np.intp)
        c_lo = np.cumsum(lo_i)
        c_lo -= lo_i  # rows below the pivot before this one, over all segments
        first = np.zeros(nseg, dtype=np.intp)
        np.cumsum(counts[:-1], out=first[1:])
        lo_base = np.repeat(c_lo[first], counts)
        c_lo -= lo_base  # ... inside this segment
        dest_lo = np.repeat(new_off[0::2], counts)
        dest_lo += c_lo
        dest_hi = np.arange(m, dtype=np.intp)
        dest_hi -= np.repeat(first - new_off[1::2], counts)
        dest_hi -= c_lo
        dest = np.where(below, dest_lo, dest_hi)
        moved = np.empty_like(rest)
        moved[dest] = rest
        single = new_len == 1
        rank[moved[new_off[single]]] = new_rank[single]
        keep = new_len >= 2
        act = moved[np.repeat(keep, new_len)]
        seg_len = new_len[keep]
        seg_rank = new_rank[keep]
    if n == 1:
        rank[0] = 0
    return rank

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
    chunks from the top; the last chunk holds the remaining r bits in its low bits.
    Returns (chunk, width) pairs, most significant first. Local: shifts and XORs of
    disjoint bit fields are linear, so each share component is packed on its own.
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
    if free < 64:
        down = U64(free)
        chunks.append((BShare(cur_a >> down, cur_b >> down), 64 - free))
    return chunks


# ---- the word-packed comparator ----------------------------------------------------------


def _stage1(d: Arr, v: Arr) -> tuple[Arr, Arr]:
    """(X, Y) = (low, high) bit of every neighbouring pair, as (D, V) slots."""
    x = (d & _E) | ((v & _E) << U64(1))
    y = ((d >> U64(1)) & _E) | (v & _O)
    return x, y


def _stage(w: Arr, s: int) -> tuple[Arr, Arr]:
    """(X, Y) for stage s >= 2: merge words 2i and 2i+1, low and high groups aligned."""
    lo, sh = _LO[s], U64(1 << (s - 1))
    w0, w1 = w[0::2], w[1::2]
    x = (w0 & lo) | ((w1 & lo) << sh)
    y = ((w0 >> sh) & lo) | (w1 & ~lo)
    return x, y


def _operands(x: Arr, y: Arr) -> tuple[Arr, Arr]:
    """AND operands: (D_h, D_h) against (D_l, V_h ^ V_l) in every slot."""
    left = y & _E
    left |= left << U64(1)
    right = (x & _E) | ((x ^ y) & _O)
    return left, right


def _merge(x: Arr, y: Arr, r: Arr) -> Arr:
    """New (D, V) slots: D = D_h ^ D_l ^ D_h D_l, V = V_l ^ D_h (V_h ^ V_l)."""
    out = x ^ r
    out ^= y & _E
    return out


def _pack_narrow(arr: Arr, width: int) -> Arr:
    """Pack ``64 / width`` elements per word so the reduced slots come out canonical.

    ``arr`` has a multiple of 32 elements. Element e ends in slot e % 32 of word
    e // 32 after the log2(width) stages; that needs packed word f * h + u, lane t, to
    hold element 32 f + t h + u (h = width / 2, t < 64 / width).
    """
    if width == 64:
        return arr
    k, h = 64 // width, width // 2
    lanes = arr.reshape(-1, k, h).transpose(0, 2, 1).reshape(-1, k)
    shifts = (np.arange(k, dtype=np.uint64) * U64(width)).astype(np.uint64)
    packed: Arr = np.bitwise_or.reduce(lanes << shifts, axis=1)
    return packed


def compare_state(
    p: Party, chunks: Sequence[tuple[BShare, int]], xi: Idx, yi: Idx
) -> tuple[BShare, int]:
    """Secret (D, V) of ``key[xi] vs key[yi]`` for every pair, in canonical slot layout.

    Returns (state, m): word e // 32, bits 2(e % 32) and 2(e % 32) + 1 hold D ("keys
    differ") and V (= [x < y] when they differ) of pair e < m. All chunk stages share
    the rounds: max(log2 width) + ceil(log2 #chunks) rounds in all.
    """
    m = int(xi.shape[0])
    mp = max(32, -(-m // 32) * 32)
    cur: list[tuple[Arr, Arr] | None] = []  # per chunk: state words (a, b) once stage 1 ran
    pend: list[tuple[Arr, Arr, Arr, Arr]] = []  # per chunk: (Xa, Xb, Ya, Yb) of the next gate
    stages: list[int] = []
    for chunk, width in chunks:
        wd = pow2_width(width) if width < 64 else 64
        comps = []
        for comp in (chunk.a, chunk.b):
            x = np.zeros(mp, dtype=np.uint64)
            y = np.zeros(mp, dtype=np.uint64)
            np.take(comp, xi, out=x[:m])
            np.take(comp, yi, out=y[:m])
            x ^= y  # D = x ^ y, V = y
            comps.append(_stage1(_pack_narrow(x, wd), _pack_narrow(y, wd)))
        (xa, ya), (xb, yb) = comps
        pend.append((xa, xb, ya, yb))
        cur.append(None)
        stages.append(wd.bit_length() - 1)
    nsteps = max(stages, default=0)
    for s in range(1, nsteps + 1):
        live = [c for c in range(len(chunks)) if stages[c] >= s]
        if s > 1:
            for c in live:
                st = cur[c]
                assert st is not None
                xa, ya = _stage(st[0], s)
                xb, yb = _stage(st[1], s)
                pend[c] = (xa, xb, ya, yb)
        pairs = []
        for c in live:
            xa, xb, ya, yb = pend[c]
            la, ra = _operands(xa, ya)
            lb, rb = _operands(xb, yb)
            pairs.append((BShare(la, lb), BShare(ra, rb)))
        res = and_many(p, pairs)
        for c, r in zip(live, res, strict=True):
            xa, xb, ya, yb = pend[c]
            cur[c] = (_merge(xa, ya, r.a), _merge(xb, yb, r.b))
    states = [BShare(*st) for st in cur if st is not None]
    # Lexicographic combination of the chunks, most significant first, as a tree.
    while len(states) > 1:
        pairs = []
        xs, ys = [], []
        for i in range(0, len(states) - 1, 2):
            hi, lo = states[i], states[i + 1]
            la, ra = _operands(lo.a, hi.a)
            lb, rb = _operands(lo.b, hi.b)
            pairs.append((BShare(la, lb), BShare(ra, rb)))
            xs.append(lo)
            ys.append(hi)
        res = and_many(p, pairs)
        nxt = [
            BShare(_merge(x.a, y.a, r.a), _merge(x.b, y.b, r.b))
            for x, y, r in zip(xs, ys, res, strict=True)
        ]
        if len(states) % 2:
            nxt.append(states[-1])
        states = nxt
    return states[0], m


def open_below(
    p: Party, chunks: Sequence[tuple[BShare, int]], xi: Idx, yi: Idx
) -> npt.NDArray[np.bool_]:
    """Open [key[xi] < key[yi]] for every pair (the keys must differ: equal pairs give junk)."""
    state, m = compare_state(p, chunks, xi, yi)
    words = open_bool(p, state)
    bits = (words[:, None] >> _ODD_SHIFTS) & U64(1)
    out: npt.NDArray[np.bool_] = bits.reshape(-1)[:m].astype(bool)
    return out


# ---- quicksort by levels -------------------------------------------------------------------


def quicksort_ranks(p: Party, chunks: Sequence[tuple[BShare, int]], n: int) -> Idx:
    """The rank of every row under the (distinct) composite keys in ``chunks``.

    Breadth-first quicksort; each level is one :func:`open_below` call over every row of
    every unsorted segment against that segment's first row. Only public bookkeeping
    (segment offsets, lengths, ranks) runs between the calls.
    """
    rank = np.zeros(n, dtype=np.intp)
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
        seg_of = np.repeat(np.arange(nseg, dtype=np.intp), seg_len - 1)
        below = open_below(p, chunks, rest, piv[seg_of])
        n_lo = np.bincount(seg_of, weights=below, minlength=nseg).astype(np.intp)
        n_hi = seg_len - 1 - n_lo
        rank[piv] = seg_rank + n_lo
        # New segments: (below part, above part) of each old segment, in order.
        new_len = np.stack([n_lo, n_hi], axis=1).reshape(-1)
        new_rank = np.stack([seg_rank, seg_rank + n_lo + 1], axis=1).reshape(-1)
        new_off = np.zeros(2 * nseg, dtype=np.intp)
        np.cumsum(new_len[:-1], out=new_off[1:])
        # Stable partition: the position of each row inside its new segment.
        lo_i = below.astype(np.intp)
        hi_i = 1 - lo_i
        c_lo = np.cumsum(lo_i) - lo_i
        c_hi = np.cumsum(hi_i) - hi_i
        first = np.zeros(nseg, dtype=np.intp)
        np.cumsum(seg_len[:-1] - 1, out=first[1:])
        within = np.where(below, c_lo - c_lo[first][seg_of], c_hi - c_hi[first][seg_of])
        dest = new_off[2 * seg_of + hi_i] + within
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

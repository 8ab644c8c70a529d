"""Quicksort with opened comparison outcomes (see :mod:`sharelake.mpc.comparator`).

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
With random pivots that is about 1.39 n log2 n comparisons in 2 to 4 log2 n levels (the
depth of a random binary search tree); sample-median pivots for the first levels and a
pairwise finishing level (see :func:`quicksort_ranks`) bring it to about n log2 n
comparisons (within 7 % of log2(n!) at n = 1e6) in about 3 log2 n levels.

"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .comparator import (
    Idx,
    Scratch,
    key_words,
    open_below_rows,
)
from .party import Party
from .ring import Arr
from .shares import BShare

__all__ = ["quicksort_ranks"]


# ---- quicksort by levels -------------------------------------------------------------------


def _gather(src: Arr, idx: Idx, mp: int, out: Arr | None = None) -> Arr:
    """Columns ``idx`` of ``src`` (rows, *), zero-padded to ``mp`` columns (into ``out``)."""
    if out is None:
        out = np.empty((src.shape[0], mp), dtype=np.uint64)
    m = int(idx.shape[0])
    for r in range(src.shape[0]):
        np.take(src[r], idx, out=out[r, :m], mode="clip")
    out[:, m:] = 0
    return out


def _split(
    p: Party,
    xs: Arr,
    counts: Idx,
    piv: Arr,
    widths: Sequence[int],
    m: int,
    ys: Arr,
    work: Scratch,
) -> tuple[Idx, Idx]:
    """One level: compare the m grouped rows of ``xs`` with their segment's pivot.

    ``counts`` (zeros allowed) says how many consecutive rows each segment has, ``piv``
    holds one pivot key column per segment; ``ys`` (shaped like ``xs``) is scratch space
    for the pivot keys, ``work`` the comparator's. Returns (``order``, ``n_lo``): the
    gather that stably partitions every segment (rows below the pivot first, each part
    in its old order) and the number of rows below the pivot per segment.
    """
    # One segment number per row, then gathers from the small per-segment arrays (no
    # fresh m-row temporary per key row: large new arrays cost page faults).
    seg = np.repeat(np.arange(counts.shape[0], dtype=np.intp), counts)
    for r in range(ys.shape[0]):
        np.take(piv[r], seg, out=ys[r, :m], mode="clip")
    ys[:, m:] = 0
    below = open_below_rows(p, xs, ys, widths, m, work)
    # rows below the pivot per segment: sums over the non-empty segments' rows
    n_lo = np.zeros(counts.shape[0], dtype=np.intp)
    full = counts > 0
    if m:
        first = np.cumsum(counts) - counts
        n_lo[full] = np.add.reduceat(below.view(np.uint8), first[full], dtype=np.intp)
    # The partitioned layout, segment by segment: the slots of the rows below the pivot,
    # then those of the others. The k-th row below its pivot (in row order) takes the
    # k-th slot of the first kind, the k-th other row the k-th slot of the second.
    lens = np.stack([n_lo, counts - n_lo], axis=1).reshape(-1)
    lo_slot = np.repeat(np.tile(np.array([True, False]), counts.shape[0]), lens)
    order = np.empty(m, dtype=np.intp)
    order[lo_slot] = np.flatnonzero(below)
    order[~lo_slot] = np.flatnonzero(~below)
    return order, n_lo


def _pad32(m: int) -> int:
    return -(-m // 32) * 32


class _Buffers:
    """Three reused key matrices of up to ``size`` columns: two for the grouped rows
    (each level gathers from one into the other) and one for the pivot keys; and the
    comparator's work arrays (``work``), reused by every level.

    Large fresh arrays are mapped anew and page-faulted on first write; at 2e6 rows of
    87-bit keys that cost more than the gathers themselves.
    """

    def __init__(self, rows: int, size: int) -> None:
        self.rows = rows
        self.flat = [np.empty(rows * size, dtype=np.uint64) for _ in range(3)]
        self.cur = 0
        self.work = Scratch()

    def get(self, k: int, mp: int) -> Arr:
        """Buffer ``k`` as a C-contiguous (rows, mp) matrix."""
        return self.flat[k][: self.rows * mp].reshape(self.rows, mp)

    def spare(self, mp: int) -> Arr:
        """The grouped-rows buffer not in use; it becomes the one in use."""
        self.cur ^= 1
        return self.get(self.cur, mp)


class _Level:
    """The unsorted segments of a quicksort level: non-pivot rows grouped by segment."""

    def __init__(self, xs: Arr, ids: Idx, counts: Idx, piv: Arr, pid: Idx, base: Idx) -> None:
        self.xs, self.ids, self.counts = xs, ids, counts  # counts >= 1
        self.piv, self.pid, self.base = piv, pid, base  # pivot key, row, rank of segment

    @classmethod
    def regroup(
        cls, xs: Arr, ids: Idx, order: Idx, lens: Idx, base: Idx, rank: Idx, buf: _Buffers
    ) -> _Level:
        """Segments of ``lens`` rows in the layout ``xs[:, order]`` (smallest rank ``base``).

        Rows alone in their segment get their rank; the first row of every longer
        segment becomes its pivot.
        """
        off = np.cumsum(lens) - lens
        single = lens == 1
        rank[ids[order[off[single]]]] = base[single]
        keep = lens >= 2
        starts = off[keep]
        member = np.repeat(keep, lens)
        member[starts] = False
        pidx = order[starts]
        gidx = order[member]
        mg = _pad32(int(gidx.shape[0]))
        return cls(
            _gather(xs, gidx, mg, buf.spare(mg)),
            ids[gidx],
            lens[keep] - 1,
            _gather(xs, pidx, int(pidx.shape[0])),
            ids[pidx],
            base[keep],
        )


def _pairs_in_segments(counts: Idx, m: int) -> tuple[Idx, Idx]:
    """All (i, j), i < j, of grouped rows that share a segment (``counts`` rows each)."""
    first = np.cumsum(counts) - counts
    later = np.repeat(counts + first, counts) - 1 - np.arange(m, dtype=np.intp)
    i = np.repeat(np.arange(m, dtype=np.intp), later)
    j = i + 1
    j += np.arange(i.shape[0], dtype=np.intp)
    j -= np.repeat(np.cumsum(later) - later, later)
    return i, j


def _finish(p: Party, lv: _Level, widths: Sequence[int], rank: Idx, work: Scratch) -> None:
    """Rank every remaining row in ONE level: each row against its pivot and every other
    row of its segment (sum of c (c + 1) / 2 comparisons for segments of c + 1 rows).

    Cuts off the long tail of nearly finished levels, whose number the deepest segment
    sets. Still only distinct keys are compared, so the outcomes depend on ranks alone.
    """
    m = int(lv.ids.shape[0])
    i, j = _pairs_in_segments(lv.counts, m)
    npair = int(i.shape[0])
    tot = m + npair
    xs = np.empty((lv.xs.shape[0], _pad32(tot)), dtype=np.uint64)
    ys = np.empty_like(xs)
    xs[:, :m] = lv.xs[:, :m]
    for r in range(xs.shape[0]):
        ys[r, :m] = np.repeat(lv.piv[r], lv.counts)
        np.take(lv.xs[r], i, out=xs[r, m:tot], mode="clip")
        np.take(lv.xs[r], j, out=ys[r, m:tot], mode="clip")
    xs[:, tot:] = 0
    ys[:, tot:] = 0
    below = open_below_rows(p, xs, ys, widths, tot, work)
    lo, pair = below[:m], below[m:]
    first = np.cumsum(lv.counts) - lv.counts
    cum = np.zeros(m + 1, dtype=np.intp)
    np.cumsum(lo.view(np.uint8), dtype=np.intp, out=cum[1:])
    rank[lv.pid] = lv.base + cum[first + lv.counts] - cum[first]
    mine = np.repeat(lv.base, lv.counts) + 1
    mine -= lo
    mine += np.bincount(j[pair], minlength=m)
    mine += np.bincount(i[~pair], minlength=m)
    rank[lv.ids] = mine


#: A level that needs at most this many extra pairwise comparisons finishes the sort.
_FINISH_PAIRS = 1 << 12


def _sample_bits(n: int) -> int:
    """log2(s + 1) for a pivot sample of s = 2^q - 1 rows (0: no sample).

    A large sample (up to n / 8) keeps most comparisons in the balanced tree levels,
    where each one halves a segment; sorting the sample costs little more than its
    share, and the random-pivot tail (about 1.39 comparisons per bit) is short. Against
    q = log2(n) / 2 + 2: 21.0 -> 19.7 comparisons per row at n = 1e6 (log2(n!) / n =
    18.5), for about 12 more levels.
    """
    if n < 256:
        return 0
    lg = n.bit_length() - 1
    return min((lg + 1) // 2 + 6, lg - 3)


def _ranks(p: Party, cols: Arr, widths: Sequence[int], sizes: Sequence[int], budget: int) -> Idx:
    """Ranks of the rows of the column-layout key matrix ``cols`` (see quicksort_ranks).

    ``sizes``: the public blocks of consecutive rows, each sorted on its own (block b's
    rows get the ranks off_b ... off_b + size_b - 1). ``budget``: how many pairwise
    comparisons a level that finishes the sort may add.
    """
    sz = np.array(sizes, dtype=np.intp)
    n = int(sz.sum())
    off = np.cumsum(sz) - sz
    rank = np.arange(n, dtype=np.intp)
    if n < 2 or int(sz.max()) < 2:
        return rank
    q = _sample_bits(int(sz.min()))
    buf = _Buffers(cols.shape[0], _pad32(n))
    if int(sz @ (sz - 1)) // 2 <= budget or q == 0:
        lv = _Level.regroup(cols, rank.copy(), rank.copy(), sz, off, rank, buf)
        if int(sz @ (sz - 1)) // 2 <= budget:
            _finish(p, lv, widths, rank, buf.work)
            return rank
    else:
        # Samplesort splitting (Frazer & McKellar, JACM 1970): sort the first s rows of
        # every block, then send the other rows down the perfectly balanced search tree
        # of their block's sample; all blocks in the same rounds.
        s, nb = (1 << q) - 1, len(sz)
        sample = (off[:, None] + np.arange(s, dtype=np.intp)).reshape(-1)
        srank = _ranks(p, np.ascontiguousarray(cols[:, sample]), widths, [s] * nb, budget)
        by_rank = sample[np.argsort(srank)]  # block b's sample holds the ranks b s ...
        sorted_keys = cols[:, by_rank].reshape(cols.shape[0], nb, s)
        ids = np.concatenate(
            [np.arange(o + s, o + z, dtype=np.intp) for o, z in zip(off, sz, strict=True)]
        )
        m = int(ids.shape[0])
        mp = _pad32(m)
        xs = _gather(cols, ids, mp, buf.spare(mp))
        counts = sz - s
        for lvl in range(q):
            step = 1 << (q - lvl)  # sample ranks per tree node at this level, plus one
            piv = sorted_keys[:, :, step // 2 - 1 :: step].reshape(cols.shape[0], -1)
            order, n_lo = _split(p, xs, counts, piv, widths, m, buf.get(2, mp), buf.work)
            xs = _gather(xs, order, mp, buf.spare(mp))
            ids = ids[order]
            counts = np.stack([n_lo, counts - n_lo], axis=1).reshape(-1)
        # Bucket i of block b lies between that block's sample ranks i - 1 and i; before
        # it come the non-sample rows of all earlier buckets and b s + i sample rows.
        t = np.arange(nb * (s + 1), dtype=np.intp)
        base = np.cumsum(counts) - counts + t - t // (s + 1)
        u = np.arange(nb * s, dtype=np.intp)
        rank[by_rank] = base[u + u // s + 1] - 1
        lv = _Level.regroup(xs, ids, np.arange(m, dtype=np.intp), counts, base, rank, buf)
    while lv.ids.shape[0]:
        m = int(lv.ids.shape[0])
        c = lv.counts
        if int(c @ (c - 1)) // 2 <= max(2 * m, budget):
            _finish(p, lv, widths, rank, buf.work)
            break
        ys = buf.get(2, int(lv.xs.shape[1]))
        order, n_lo = _split(p, lv.xs, lv.counts, lv.piv, widths, m, ys, buf.work)
        rank[lv.pid] = lv.base + n_lo
        lens = np.stack([n_lo, lv.counts - n_lo], axis=1).reshape(-1)
        base = np.stack([lv.base, lv.base + n_lo + 1], axis=1).reshape(-1)
        lv = _Level.regroup(lv.xs, lv.ids, order, lens, base, rank, buf)
    return rank


def quicksort_ranks(
    p: Party, chunks: Sequence[tuple[BShare, int]], n: int, *, blocks: Sequence[int] | None = None
) -> Idx:
    """The rank of every row under the (distinct) composite keys in ``chunks``.

    With ``blocks`` (public sizes of consecutive row blocks, summing to n) every block is
    sorted on its own, all blocks in the same rounds: block b's rows get the ranks
    off_b ... off_b + size_b - 1 (keys need only be distinct within a block).

    Breadth-first quicksort; each level is one :func:`open_below_rows` call over every
    row of every unsorted segment against that segment's pivot. Only public bookkeeping
    runs between the calls: the non-pivot rows stay packed segment by segment in one
    column-layout matrix, and each level stably partitions it in one near-sequential
    gather (rows below the pivot first, in their order, then the rest).

    Pivots: for n >= 256 the first s = 2^q - 1 rows (q = min(log2(n) / 2 + 6,
    log2(n) - 3), see :func:`_sample_bits`) are sorted first (recursively), and the
    other rows descend their balanced search tree for q levels, as in samplesort
    (Frazer & McKellar, JACM 1970): every pivot is a sample median, so each of those
    levels halves every segment for n - s comparisons. The buckets between sample rows
    then continue with random pivots (their first row).
    Once the remaining segments need few pairwise comparisons (at most about twice the
    rows left, or n / 32 in all), one last level compares every row with its pivot and
    with every other row of its segment, which cuts off the tail of levels that the
    deepest segment would set. The sample is a uniformly random subset of the shuffled
    rows and every opened outcome still compares two distinct keys, so the outcomes
    remain a function of the random rank permutation alone.
    """
    # (2 * #words, n): one row per word and share component; the narrow chunks share
    # one word, so every gather below moves f + 1 words per component for f full chunks
    cols = key_words(chunks)
    widths = [w for _, w in chunks]
    sizes = [n] if blocks is None else [int(b) for b in blocks]
    if any(b < 0 for b in sizes) or sum(sizes) != n:
        raise ValueError(f"quicksort: blocks {sizes} do not add up to {n} rows")
    return _ranks(p, cols, widths, sizes, max(_FINISH_PAIRS, n // 32))

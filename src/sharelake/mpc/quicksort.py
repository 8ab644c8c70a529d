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
With random pivots that is about 1.39 n log2 n comparisons in 2 to 4 log2 n levels (the
depth of a random binary search tree); sample-median pivots for the first levels and a
pairwise finishing level (see :func:`quicksort_ranks`) bring it to about n log2 n
comparisons (within 7 % of log2(n!) at n = 1e6) in about 3 log2 n levels.

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


_LANE = {8: np.uint8, 16: np.uint16, 32: np.uint32}


def _pack_narrow(arr: Arr, width: int) -> Arr:
    """Pack ``64 / width`` elements per word so the reduced slots come out canonical.

    ``arr`` has shape (rows, mp), mp a multiple of 32, values below 2^width. Element e
    ends in slot e % 32 of word e // 32 after the log2(width) stages; that needs packed
    word f * h + u, lane t, to hold element 32 f + t h + u (h = width / 2,
    t < 64 / width). The lanes are bytes or wider little-endian integers of a narrow
    copy, so the packing is one narrowing cast, one small transpose and a view.
    """
    rows = arr.shape[0]
    if width == 64:
        return arr
    k, h = 64 // width, width // 2
    if width >= 8:
        lanes = arr.astype(_LANE[width]).reshape(rows, -1, k, h)
        packed = np.ascontiguousarray(lanes.transpose(0, 1, 3, 2))
        return packed.view(np.uint64).reshape(rows, -1)
    # width 2 or 4: 8 / width lanes per byte.
    per = 8 // width
    lanes = arr.astype(np.uint8).reshape(rows, -1, k, h)
    t = np.ascontiguousarray(lanes.transpose(0, 1, 3, 2)).reshape(rows, -1, 8, per)
    byte = np.ascontiguousarray(t[..., 0])
    for j in range(1, per):
        byte |= t[..., j] << np.uint8(width * j)
    return byte.view(np.uint64).reshape(rows, -1)


#: Words per block of the local gate work: every temporary of a block stays in cache.
_BLOCK = 1 << 13

# A job of one comparator round yields the (X, Y) words of its groups:
# ("s1", xa, xb, ya, yb): stage 1 of a chunk from the packed key words of x and y;
# ("st", wa, wb, s): stage s >= 2 from the (D, V) state words of the previous stage;
# ("mg", lo_a, lo_b, hi_a, hi_b): merge two finished chunks (X = less significant one).
_Job = tuple[str, Arr, Arr, Arr, Arr, int]


def _job_size(job: _Job) -> int:
    kind, a = job[0], job[1]
    return int(a.shape[0]) // 2 if kind == "st" else int(a.shape[0])


def _job_block(job: _Job, lo: int, hi: int) -> tuple[Arr, Arr, Arr, Arr]:
    """(Xa, Xb, Ya, Yb) of output words [lo, hi) of ``job``."""
    kind, a, b, c, d, s = job
    if kind == "s1":
        ya, yb = c[lo:hi], d[lo:hi]
        xa, ya2 = _stage1(a[lo:hi] ^ ya, ya)
        xb, yb2 = _stage1(b[lo:hi] ^ yb, yb)
        return xa, xb, ya2, yb2
    if kind == "st":
        xa, ya = _stage(a[2 * lo : 2 * hi], s)
        xb, yb = _stage(b[2 * lo : 2 * hi], s)
        return xa, xb, ya, yb
    return a[lo:hi], b[lo:hi], c[lo:hi], d[lo:hi]


def _combine_round(p: Party, jobs: Sequence[_Job]) -> list[tuple[Arr, Arr]]:
    """One round of the comparator: (D, V) of every job's (high o low) group pairs.

    Per slot, left = (D_h, D_h) and right = X ^ (Y & V-bits) = (D_l, V_h ^ V_l); the AND
    of the two (Araki et al. CCS 2016) gives (D_h D_l, D_h (V_h ^ V_l)) and the new
    state is X ^ (Y & D-bits) ^ AND. All jobs share ONE exchange; the local work runs in
    cache-sized blocks.
    """
    sizes = [_job_size(j) for j in jobs]
    total = sum(sizes)
    z = p.prg_own.words(total)
    z ^= p.prg_next.words(total)
    keep_a = np.empty(total, dtype=np.uint64)
    keep_b = np.empty(total, dtype=np.uint64)
    bl = min(_BLOCK, max(total, 1))
    t1 = np.empty(bl, dtype=np.uint64)
    t2 = np.empty(bl, dtype=np.uint64)
    t3 = np.empty(bl, dtype=np.uint64)
    off = 0
    for job, size in zip(jobs, sizes, strict=True):
        for lo in range(0, size, bl):
            hi = min(lo + bl, size)
            k = hi - lo
            xa, xb, ya, yb = _job_block(job, lo, hi)
            ea, eb, r = t1[:k], t2[:k], t3[:k]
            zz = z[off + lo : off + hi]
            # right.a = Xa ^ (Ya & O), kept in r; right.b ^ right.a in yb's place
            np.bitwise_and(ya, _E, out=ea)
            np.bitwise_and(yb, _E, out=eb)
            np.bitwise_xor(xa, ea, out=keep_a[off + lo : off + hi])
            np.bitwise_xor(xb, eb, out=keep_b[off + lo : off + hi])
            np.bitwise_and(ya, _O, out=r)
            r ^= xa
            yo = np.bitwise_and(yb, _O, out=yb if job[0] != "mg" else None)
            yo ^= xb
            yo ^= r  # right.a ^ right.b
            ea *= U64(3)  # left.a = (D_h, D_h)
            yo &= ea
            zz ^= yo
            eb *= U64(3)  # left.b
            eb &= r
            zz ^= eb
        off += size
    got = p.pass_prev(z)
    keep_a ^= z
    keep_b ^= got
    out = []
    off = 0
    for size in sizes:
        out.append((keep_a[off : off + size], keep_b[off : off + size]))
        off += size
    return out


def compare_rows(p: Party, xs: Arr, ys: Arr, widths: Sequence[int]) -> BShare:
    """Secret (D, V) of row-layout keys ``xs`` vs ``ys`` (see :func:`chunk_matrix`).

    ``xs`` and ``ys`` have shape (2 * #chunks, mp) (row 2c / 2c + 1 = component a / b
    of chunk c, column = element) with mp a multiple of 32. Returns
    mp / 32 words: word e // 32, bits 2(e % 32) and 2(e % 32) + 1 hold D ("keys differ")
    and V (= [x < y] when they differ) of pair e. Chunks run their stages in the same
    rounds, and finished neighbours merge while wider chunks still run: about
    log2(max width) + 1 rounds in all.
    """
    # Entries in significance order: stages left, next job, (D, V) state once finished.
    todo: list[int] = []
    nxt: list[_Job | None] = []
    state: list[tuple[Arr, Arr] | None] = []
    stage_no: list[int] = []
    for c, width in enumerate(widths):
        wd = 64 if width >= 64 else pow2_width(width)
        xp = _pack_narrow(xs[2 * c : 2 * c + 2], wd)
        yp = _pack_narrow(ys[2 * c : 2 * c + 2], wd)
        todo.append(wd.bit_length() - 1)
        nxt.append(("s1", xp[0], xp[1], yp[0], yp[1], 1))
        state.append(None)
        stage_no.append(1)
    while len(state) > 1 or todo[0] > 0:
        jobs: list[_Job] = []
        owner: list[int] = []
        merged_into: list[int] = []
        i = 0
        while i < len(state):
            if todo[i] > 0:
                if stage_no[i] > 1:
                    st = state[i]
                    assert st is not None
                    nxt[i] = ("st", st[0], st[1], st[0], st[1], stage_no[i])
                job = nxt[i]
                assert job is not None
                jobs.append(job)
                owner.append(i)
                i += 1
            elif i + 1 < len(state) and todo[i + 1] == 0:
                hi, lo = state[i], state[i + 1]
                assert hi is not None and lo is not None
                jobs.append(("mg", lo[0], lo[1], hi[0], hi[1], 0))
                owner.append(i)
                merged_into.append(i)
                i += 2
            else:
                i += 1
        res = _combine_round(p, jobs)
        for i, r in zip(owner, res, strict=True):
            state[i] = r
            if todo[i] > 0:
                todo[i] -= 1
                stage_no[i] += 1
        for i in reversed(merged_into):
            del state[i + 1], todo[i + 1], nxt[i + 1], stage_no[i + 1]
    final = state[0]
    assert final is not None
    return BShare(final[0], final[1])


def open_below_rows(p: Party, xs: Arr, ys: Arr, widths: Sequence[int], m: int) -> Bools:
    """Open [x < y] for the first ``m`` row pairs (keys must differ: equal ones give junk)."""
    words = open_bool(p, compare_rows(p, xs, ys, widths))
    bits = np.unpackbits(words.view(np.uint8), bitorder="little")[1::2]
    out: Bools = bits[:m].view(np.bool_)
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
    p: Party, xs: Arr, counts: Idx, piv: Arr, widths: Sequence[int], m: int, ys: Arr
) -> tuple[Idx, Idx]:
    """One level: compare the m grouped rows of ``xs`` with their segment's pivot.

    ``counts`` (zeros allowed) says how many consecutive rows each segment has, ``piv``
    holds one pivot key column per segment; ``ys`` (shaped like ``xs``) is scratch space
    for the pivot keys. Returns (``order``, ``n_lo``): the gather
    that stably partitions every segment (rows below the pivot first, each part in its
    old order) and the number of rows below the pivot per segment.
    """
    # One segment number per row, then gathers from the small per-segment arrays (no
    # fresh m-row temporary per key row: large new arrays cost page faults).
    seg = np.repeat(np.arange(counts.shape[0], dtype=np.intp), counts)
    for r in range(ys.shape[0]):
        np.take(piv[r], seg, out=ys[r, :m], mode="clip")
    ys[:, m:] = 0
    below = open_below_rows(p, xs, ys, widths, m)
    first = np.cumsum(counts) - counts
    cum = np.zeros(m + 1, dtype=np.intp)
    np.cumsum(below.view(np.uint8), dtype=np.intp, out=cum[1:])
    lo_start = cum[first]
    n_lo = cum[first + counts] - lo_start
    lo_before = cum[:-1]  # rows below their pivot before this one, over all segments
    # Destination in the partitioned layout: a row below its pivot moves up by the rows
    # above the pivot in earlier segments, a row above moves down past the rows below
    # the pivot in its own and earlier segments.
    dest = np.arange(m, dtype=np.intp)
    dest -= lo_before
    dest += np.take(lo_start + n_lo, seg, mode="clip")
    alt = np.take(first - lo_start, seg, mode="clip")
    alt += lo_before
    np.copyto(dest, alt, where=below)
    del alt, cum
    order = np.empty(m, dtype=np.intp)
    order[dest] = np.arange(m, dtype=np.intp)
    return order, n_lo


def _pad32(m: int) -> int:
    return -(-m // 32) * 32


class _Buffers:
    """Three reused key matrices of up to ``size`` columns: two for the grouped rows
    (each level gathers from one into the other) and one for the pivot keys.

    Large fresh arrays are mapped anew and page-faulted on first write; at 2e6 rows of
    87-bit keys that cost more than the gathers themselves.
    """

    def __init__(self, rows: int, size: int) -> None:
        self.rows = rows
        self.flat = [np.empty(rows * size, dtype=np.uint64) for _ in range(3)]
        self.cur = 0

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


def _finish(p: Party, lv: _Level, widths: Sequence[int], rank: Idx) -> None:
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
    below = open_below_rows(p, xs, ys, widths, tot)
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


def _ranks(p: Party, cols: Arr, widths: Sequence[int], n: int, budget: int) -> Idx:
    """Ranks of the n rows of the column-layout key matrix ``cols`` (see quicksort_ranks).

    ``budget``: how many pairwise comparisons a level that finishes the sort may add.
    """
    rank = np.zeros(n, dtype=np.intp)
    if n < 2:
        return rank
    q = _sample_bits(n)
    buf = _Buffers(cols.shape[0], _pad32(n))
    if n * (n - 1) // 2 <= budget:
        _finish(
            p,
            _Level.regroup(
                cols,
                np.arange(n, dtype=np.intp),
                np.arange(n, dtype=np.intp),
                np.array([n], dtype=np.intp),
                np.zeros(1, dtype=np.intp),
                rank,
                buf,
            ),
            widths,
            rank,
        )
        return rank
    if q == 0:
        lv = _Level.regroup(
            cols,
            np.arange(n, dtype=np.intp),
            np.arange(n, dtype=np.intp),
            np.array([n], dtype=np.intp),
            np.zeros(1, dtype=np.intp),
            rank,
            buf,
        )
    else:
        # Samplesort splitting (Frazer & McKellar, JACM 1970): sort the first s rows,
        # then send the other rows down the perfectly balanced search tree of the sample.
        s = (1 << q) - 1
        srank = _ranks(p, np.ascontiguousarray(cols[:, :s]), widths, s, budget)
        sorted_keys = cols[:, :s][:, np.argsort(srank)]
        m = n - s
        ids = np.arange(s, n, dtype=np.intp)
        mp = _pad32(m)
        xs = _gather(cols, ids, mp, buf.spare(mp))
        counts = np.array([m], dtype=np.intp)
        for lvl in range(q):
            step = 1 << (q - lvl)  # sample ranks per tree node at this level, plus one
            piv = np.ascontiguousarray(sorted_keys[:, step // 2 - 1 :: step])
            order, n_lo = _split(p, xs, counts, piv, widths, m, buf.get(2, mp))
            xs = _gather(xs, order, mp, buf.spare(mp))
            ids = ids[order]
            counts = np.stack([n_lo, counts - n_lo], axis=1).reshape(-1)
        # Bucket i lies between sample ranks i - 1 and i.
        before = np.cumsum(counts) - counts
        base = before + np.arange(s + 1, dtype=np.intp)
        rank[np.argsort(srank)] = base[1:] - 1
        lv = _Level.regroup(xs, ids, np.arange(m, dtype=np.intp), counts, base, rank, buf)
    while lv.ids.shape[0]:
        m = int(lv.ids.shape[0])
        c = lv.counts
        if int(c @ (c - 1)) // 2 <= max(2 * m, budget):
            _finish(p, lv, widths, rank)
            break
        ys = buf.get(2, int(lv.xs.shape[1]))
        order, n_lo = _split(p, lv.xs, lv.counts, lv.piv, widths, m, ys)
        rank[lv.pid] = lv.base + n_lo
        lens = np.stack([n_lo, lv.counts - n_lo], axis=1).reshape(-1)
        base = np.stack([lv.base, lv.base + n_lo + 1], axis=1).reshape(-1)
        lv = _Level.regroup(lv.xs, lv.ids, order, lens, base, rank, buf)
    return rank


def quicksort_ranks(p: Party, chunks: Sequence[tuple[BShare, int]], n: int) -> Idx:
    """The rank of every row under the (distinct) composite keys in ``chunks``.

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
    # (2 * #chunks, n): one row per share component, written directly (no row-layout
    # matrix and transpose)
    cols = np.empty((2 * len(chunks), n), dtype=np.uint64)
    for c, (ch, _) in enumerate(chunks):
        cols[2 * c] = ch.a
        cols[2 * c + 1] = ch.b
    widths = [w for _, w in chunks]
    return _ranks(p, cols, widths, n, max(_FINISH_PAIRS, n // 32))

"""The word-packed comparator: lexicographic "is x below y" on secret composite keys.

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

Between comparisons a key is held as words (:func:`key_words`): every 64-bit chunk in a
word of its own and all narrower chunks together in one more word, so gathering keys
moves no more words than their bits need; the comparator cuts each narrow chunk out of
that word as it lays the chunk out for the gates (:func:`_pack_narrow`).

The quicksort of :mod:`sharelake.mpc.quicksort` opens the outcomes of this comparator.
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
    """Row layout: row e = (chunk 0 a, chunk 0 b, chunk 1 a, ...) of element e.

    One word per chunk and component; the comparator itself takes the packed column
    layout of :func:`key_words`.
    """
    n = len(chunks[0][0]) if chunks else 0
    mat = np.empty((n, 2 * len(chunks)), dtype=np.uint64)
    for c, (ch, _) in enumerate(chunks):
        mat[:, 2 * c] = ch.a
        mat[:, 2 * c + 1] = ch.b
    return mat, [w for _, w in chunks]


def word_layout(widths: Sequence[int]) -> list[tuple[int, int, int]]:
    """Where each chunk lives in the word matrix of :func:`key_words`: (word, shift, width).

    A 64-bit chunk has a word of its own; narrower chunks share words, each in a field
    of its comparator width (:func:`pow2_width`), aligned to that width, the fields
    filled from the top in chunk order. The narrow chunks of :func:`pack_chunks`
    (descending powers of two, under 64 bits in all) therefore fill ONE word: a key of
    f full 64-bit chunks and some narrower bits takes f + 1 words per share component.
    """
    out: list[tuple[int, int, int]] = []
    word, free = -1, 0  # free: the low bits of the current word not yet used
    for w in widths:
        wd = 64 if w >= 64 else pow2_width(w)
        if free < wd:
            word, free = word + 1, 64
        shift = (free // wd - 1) * wd
        out.append((word, shift, wd))
        free = shift
    return out


def key_words(chunks: Sequence[tuple[BShare, int]]) -> Arr:
    """Column layout for gathers: the chunks packed into words (see :func:`word_layout`).

    Shape (2 * #words, n): row 2k / 2k + 1 = component a / b of word k, column = element.
    Local: the chunks occupy disjoint bit fields, so each component is packed alone.
    """
    lay = word_layout([w for _, w in chunks])
    n = len(chunks[0][0]) if chunks else 0
    mat = np.empty((2 * (lay[-1][0] + 1) if lay else 0, n), dtype=np.uint64)
    filled: set[int] = set()
    for (ch, _), (k, sh, _) in zip(chunks, lay, strict=True):
        for r, comp in ((2 * k, ch.a), (2 * k + 1, ch.b)):
            if k in filled:
                mat[r] |= comp << U64(sh)
            else:
                np.left_shift(comp, U64(sh), out=mat[r])
        filled.add(k)
    return mat


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


class Scratch:
    """Work arrays that :func:`compare_rows` reuses from one call to the next.

    A quicksort compares again and again with the same chunk widths and fewer rows each
    time, so the same sequence of arrays serves every level: no fresh large array per
    round, which would be page-faulted anew (zeroed by the kernel) on first write. No
    array from here is sent or handed to the caller of :func:`compare_rows`: a send may
    still be reading its buffer when the next call starts, and a caller may keep the
    result.
    """

    def __init__(self) -> None:
        self._bufs: list[Arr] = []
        self._next = 0

    def reset(self) -> None:
        """Start a new call: hand out the same arrays again, in the same order."""
        self._next = 0

    def take(self, size: int) -> Arr:
        """The next work array of ``size`` words (contents undefined)."""
        i = self._next
        self._next += 1
        if i == len(self._bufs):
            self._bufs.append(np.empty(size, dtype=np.uint64))
        elif self._bufs[i].shape[0] < size:
            self._bufs[i] = np.empty(size, dtype=np.uint64)
        return self._bufs[i][:size]


_LANE = {8: np.uint8, 16: np.uint16, 32: np.uint32}


def _pack_narrow(words: Arr, width: int, shift: int = 0, scratch: Scratch | None = None) -> Arr:
    """Pack ``64 / width`` elements per word so the reduced slots come out canonical.

    ``words`` has shape (rows, mp), mp a multiple of 32, its last axis contiguous; the
    chunk is in bits [shift, shift + width) of every word (``shift`` a multiple of
    ``width``; the other bits are ignored). Element e ends in slot e % 32 of word
    e // 32 after the log2(width) stages; that needs packed word f * h + u, lane t, to
    hold element 32 f + t h + u (h = width / 2, t < 64 / width). The lanes are bytes or
    wider little-endian integers read straight out of ``words``, so the packing is one
    strided copy (a small transpose) into the result; 2- and 4-bit chunks then shift,
    mask and merge their bytes. The result is a work array of ``scratch`` if given.
    """
    rows, mp = words.shape
    if width == 64:
        return words
    k, h = 64 // width, width // 2
    nw = rows * mp * width // 64
    out = np.empty(nw, dtype=np.uint64) if scratch is None else scratch.take(nw)
    if width >= 8:
        lanes = words.view(_LANE[width])[:, shift // width :: k].reshape(rows, -1, k, h)
        dst = out.view(_LANE[width]).reshape(rows, -1, h, k)
        np.copyto(dst, lanes.transpose(0, 1, 3, 2))
        return out.reshape(rows, -1)
    # width 2 or 4: 8 / width lanes per byte.
    per = 8 // width
    lanes = words.view(np.uint8)[:, shift // 8 :: 8].reshape(rows, -1, k, h)
    t = np.ascontiguousarray(lanes.transpose(0, 1, 3, 2)).reshape(rows, -1, 8, per)
    if shift % 8:
        t >>= np.uint8(shift % 8)
    t &= np.uint8((1 << width) - 1)
    byte = out.view(np.uint8).reshape(rows, -1, 8)
    np.copyto(byte, t[..., 0])
    for j in range(1, per):
        byte |= t[..., j] << np.uint8(width * j)
    return out.reshape(rows, -1)


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


def _combine_round(
    p: Party, jobs: Sequence[_Job], scratch: Scratch | None = None
) -> list[tuple[Arr, Arr]]:
    """One round of the comparator: (D, V) of every job's (high o low) group pairs.

    Per slot, left = (D_h, D_h) and right = X ^ (Y & V-bits) = (D_l, V_h ^ V_l); the AND
    of the two (Araki et al. CCS 2016) gives (D_h D_l, D_h (V_h ^ V_l)) and the new
    state is X ^ (Y & D-bits) ^ AND. All jobs share ONE exchange; the local work runs
    in cache-sized blocks. The new state is in work arrays of ``scratch`` if given;
    the words sent are always a fresh array.

    Against a malicious party every AND word (left, right, product) is queued for the
    batched check (:mod:`sharelake.mpc.verify`), which the opening of the quicksort's
    outcomes runs first: the opened comparison bits come from verified ANDs only.
    """
    sizes = [_job_size(j) for j in jobs]
    total = sum(sizes)
    ws = Scratch() if scratch is None else scratch
    rec = p.checks.enabled
    if rec:  # the AND operands, kept for the check (the block work arrays are reused)
        la, lb, ra, rb = (np.empty(total, dtype=np.uint64) for _ in range(4))
    z = p.prg_own.words(total)  # 3-out-of-3 sharing of zero; sent, so a fresh array
    z ^= p.prg_next.fill(ws.take(total))
    keep_a = ws.take(total)
    keep_b = ws.take(total)
    bl = min(_BLOCK, max(total, 1))
    t1, t2, t3 = ws.take(bl), ws.take(bl), ws.take(bl)
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
            eb *= U64(3)  # left.b
            if rec:
                la[off + lo : off + hi] = ea
                lb[off + lo : off + hi] = eb
                ra[off + lo : off + hi] = r
                np.bitwise_xor(yo, r, out=rb[off + lo : off + hi])
            yo &= ea
            zz ^= yo
            eb &= r
            zz ^= eb
        off += size
    got = p.pass_prev(z)
    if rec:
        p.checks.record_and(BShare(la, lb), BShare(ra, rb), BShare(z, got))
    keep_a ^= z
    keep_b ^= got
    out = []
    off = 0
    for size in sizes:
        out.append((keep_a[off : off + size], keep_b[off : off + size]))
        off += size
    return out


def compare_rows(
    p: Party, xs: Arr, ys: Arr, widths: Sequence[int], scratch: Scratch | None = None
) -> BShare:
    """Secret (D, V) of column-layout keys ``xs`` vs ``ys`` (see :func:`key_words`).

    ``xs`` and ``ys`` have shape (2 * #words, mp) (row 2k / 2k + 1 = component a / b
    of word k, column = element; ``widths`` are the chunk widths and
    :func:`word_layout` says where each chunk lies) with mp a multiple of 32. Returns
    mp / 32 words: word e // 32, bits 2(e % 32) and 2(e % 32) + 1 hold D ("keys differ")
    and V (= [x < y] when they differ) of pair e. Chunks run their stages in the same
    rounds, and finished neighbours merge while wider chunks still run: about
    log2(max width) + 1 rounds in all. With a ``scratch``, the work arrays of the
    previous call with it are reused (the result is always a fresh array).
    """
    ws = Scratch() if scratch is None else scratch
    ws.reset()
    # Entries in significance order: stages left, next job, (D, V) state once finished.
    todo: list[int] = []
    nxt: list[_Job | None] = []
    state: list[tuple[Arr, Arr] | None] = []
    stage_no: list[int] = []
    for k, sh, wd in word_layout(widths):
        xp = _pack_narrow(xs[2 * k : 2 * k + 2], wd, sh, ws)
        yp = _pack_narrow(ys[2 * k : 2 * k + 2], wd, sh, ws)
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
        res = _combine_round(p, jobs, ws)
        for i, r in zip(owner, res, strict=True):
            state[i] = r
            if todo[i] > 0:
                todo[i] -= 1
                stage_no[i] += 1
        for i in reversed(merged_into):
            del state[i + 1], todo[i + 1], nxt[i + 1], stage_no[i + 1]
    final = state[0]
    assert final is not None
    return BShare(final[0].copy(), final[1].copy())


def open_below_rows(
    p: Party, xs: Arr, ys: Arr, widths: Sequence[int], m: int, scratch: Scratch | None = None
) -> Bools:
    """Open [x < y] for the first ``m`` row pairs (keys must differ: equal ones give junk)."""
    words = open_bool(p, compare_rows(p, xs, ys, widths, scratch))
    bits = np.unpackbits(words.view(np.uint8), bitorder="little")[1::2]
    out: Bools = bits[:m].view(np.bool_)
    return out


def open_below(p: Party, chunks: Sequence[tuple[BShare, int]], xi: Idx, yi: Idx) -> Bools:
    """Open [key[xi] < key[yi]] for every pair of row indices (keys must differ)."""
    cols = key_words(chunks)
    m = int(xi.shape[0])
    mp = max(32, -(-m // 32) * 32)
    xs = np.zeros((cols.shape[0], mp), dtype=np.uint64)
    ys = np.zeros_like(xs)
    xs[:, :m] = cols[:, xi]
    ys[:, :m] = cols[:, yi]
    return open_below_rows(p, xs, ys, [w for _, w in chunks], m)

"""Segmented prefix scans over sorted secret columns, in log rounds.

Rows are grouped into consecutive *segments*; ``start_flags`` is a 0/1 arithmetic
sharing that is 1 at the first row of every segment (row 0 is always a start, whatever
its flag says). The scans are the Hillis-Steele doubling scans (Hillis & Steele 1986)
with the segmented operator of Blelloch ("Prefix sums and their applications", 1990),
evaluated on replicated shares (Araki et al., CCS 2016): at distance d = 1, 2, 4, ...
every row combines with the row d above it unless a segment start lies in between.
One step costs one batched multiplication round over all columns (plus one comparison
for min/max), so a scan of n rows takes ceil(log2 n) steps whatever the number of
columns. This is how group-by computes per-group aggregates after a sort (Jónsson,
Kreitz & Uddin, "Secure multi-party sorting and applications", 2011; the Secrecy
engine of Liagouris et al., NSDI 2023, uses the same building block).

- :func:`segment_starts`: 1 where a row's keys differ from the previous row's.
- :func:`segmented_copy`: every row gets its segment's first value (the join engine uses
  it to carry left-table payloads down a run of matching right rows).
- :func:`segmented_sum`: inclusive running sums within each segment.
- :func:`segmented_min` / :func:`segmented_max`: running minimum / maximum.
- :func:`segmented_or_bits`: running OR of boolean bit columns (one bit per gate instead
  of a 64-bit ring element: membership flags for PSI and overlap tables).
- :func:`neighbour_same_bits`, :func:`starts_bits`, :func:`ends_bits`: the group
  boundaries as packed boolean bits.

LEAKAGE: none. Every row takes part in every step; flags, values and results stay
secret, and message sizes depend only on n and the number of columns.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from . import arith
from .bits import BitShare, and_bits_many, nwords, pack
from .bits import concat as concat_bits
from .compare import eq, lt, select_many
from .convert import b2a_bits
from .party import Party
from .ring import Arr
from .shares import AShare
from .shuffle import ShufflePlan

__all__ = [
    "and_flags",
    "ends_bits",
    "mul_many",
    "neighbour_same",
    "neighbour_same_bits",
    "segment_starts",
    "segmented_copy",
    "segmented_max",
    "segmented_min",
    "segmented_or_bits",
    "segmented_sum",
    "shift_bits",
    "stable_partition",
    "starts_bits",
    "starts_from_same",
]


def _stack(cols: Sequence[AShare], n: int) -> tuple[Arr, Arr]:
    for c in cols:
        if c.a.shape != (n,):
            raise ValueError("scan columns must be 1-D and as long as the start flags")
    if not cols:
        z = np.zeros((0, n), dtype=np.uint64)
        return z, z.copy()
    return np.stack([c.a for c in cols]), np.stack([c.b for c in cols])


def _unstack(ya: Arr, yb: Arr) -> list[AShare]:
    return [AShare(ya[j].copy(), yb[j].copy()) for j in range(ya.shape[0])]


def _row0_start(p: Party, start_flags: AShare) -> tuple[Arr, Arr]:
    """Flags with row 0 forced to 1 (public fix: component 0 set to 1, others to 0)."""
    fa, fb = start_flags.a.copy(), start_flags.b.copy()
    if fa.shape[0]:
        one = p.public_a(np.ones(1, dtype=np.uint64))
        fa[0], fb[0] = one.a[0], one.b[0]
    return fa, fb


CopyMethod = Literal["scan", "partition", "auto"]

#: From this many rows on, ``method="auto"`` copies by partition (fewer bytes and rounds).
PARTITION_MIN_ROWS = 1 << 10


def segmented_copy(
    p: Party, start_flags: AShare, cols: list[AShare], *, method: CopyMethod = "scan"
) -> list[AShare]:
    """Every row receives the value its segment's first row has, for all ``cols`` at once.

    ``method="scan"``: step at distance d (rows i >= d): y[i] <- y[i-d] + f[i] (y[i] -
    y[i-d]) and f[i] <- f[i] OR f[i-d], where f[i] = 1 means a start lies in rows
    (i-d, i]. All columns and the flag update go into ONE multiplication per step; the
    last step skips the flag update. Rounds: ceil(log2 n); ring elements sent per
    party: about (k + 1) n log2 n for k columns.

    ``method="partition"``: constant rounds, O(k n) words, see
    :func:`_copy_by_partition`. ``"auto"``: partition from :data:`PARTITION_MIN_ROWS`
    rows on. Both give the same values (fresh sharings).

    LEAKAGE: none (the partition method opens only uniformly random permutations).
    """
    n = len(start_flags)
    k = len(cols)
    if method == "auto":
        method = "partition" if n >= PARTITION_MIN_ROWS else "scan"
    if method == "partition" and n > 1 and k > 0:
        return _copy_by_partition(p, start_flags, cols)
    if method not in ("scan", "partition"):
        raise ValueError(f"unknown segmented copy method {method!r}")
    ya, yb = _stack(cols, n)
    if n <= 1 or k == 0:
        return _unstack(ya, yb)
    fa, fb = _row0_start(p, start_flags)
    d = 1
    with p.measure("scan.copy"):
        while d < n:
            last = 2 * d >= n
            m = n - d
            rows = k if last else k + 1
            xa = np.empty((rows, m), dtype=np.uint64)
            xb = np.empty((rows, m), dtype=np.uint64)
            za = np.empty((rows, m), dtype=np.uint64)
            zb = np.empty((rows, m), dtype=np.uint64)
            xa[:k] = fa[d:]
            xb[:k] = fb[d:]
            np.subtract(ya[:, d:], ya[:, :m], out=za[:k])
            np.subtract(yb[:, d:], yb[:, :m], out=zb[:k])
            if not last:
                xa[k], xb[k] = fa[d:], fb[d:]
                za[k], zb[k] = fa[:m], fb[:m]
            prod = arith.mul(p, AShare(xa, xb), AShare(za, zb))
            ya[:, d:] = ya[:, :m] + prod.a[:k]
            yb[:, d:] = yb[:, :m] + prod.b[:k]
            if not last:
                fa[d:] = fa[d:] + fa[:m] - prod.a[k]
                fb[d:] = fb[d:] + fb[:m] - prod.b[k]
            d *= 2
    return _unstack(ya, yb)


def _copy_by_partition(p: Party, start_flags: AShare, cols: list[AShare]) -> list[AShare]:
    """Segmented copy in constant rounds: the start rows' values as prefix sums of their
    differences.

    1. :func:`stable_partition` moves the start rows to the front in order; 2. there,
       the difference of every row's values and the previous row's, times the moved
       start flag (one multiplication), is the jump of the copied value at that start (0
       at non-start rows); 3. the differences return to their rows: the opened
       destinations are undone publicly and the partition's secret shuffle is undone by
       :func:`~sharelake.mpc.shuffle.unshuffle` under the same plan; 4. local prefix sums.
    Rounds: 1 + 3 + 1 (partition), 1, 3 (return). Words per row: a shuffle of k + 2
    columns, an unshuffle of k, k + 1 products, one opening -- instead of (k + 1) log2 n.

    LEAKAGE: none. The partition opens a uniformly random permutation whatever the
    flags; the return opens nothing.
    """
    from .shuffle import unshuffle

    fa, fb = _row0_start(p, start_flags)
    with p.measure("scan.copy"):
        f, vals, where, plan = _partition(p, AShare(fa, fb), cols)
        diffs = []
        for c in vals:
            da, db = c.a.copy(), c.b.copy()
            da[1:] -= c.a[:-1]
            db[1:] -= c.b[:-1]
            diffs.append(AShare(da, db))
        jumps = mul_many(p, [(f, d) for d in diffs])
        # back to the shuffled order (public), then undo the secret shuffle
        back = unshuffle(p, [AShare(j.a[where], j.b[where]) for j in jumps], plan)
    out: list[AShare] = []
    for x in back:
        assert isinstance(x, AShare)
        out.append(
            AShare(
                np.cumsum(x.a, dtype=np.uint64),
                np.cumsum(x.b, dtype=np.uint64),
            )
        )
    return out


def segmented_sum(
    p: Party, start_flags: AShare, cols: list[AShare], *, method: CopyMethod = "scan"
) -> list[AShare]:
    """Inclusive running sums within each segment, for all ``cols`` at once.

    The global prefix sum P is local (shares are linear); the sum within a segment is
    P[i] minus P just before the segment's start, which :func:`segmented_copy` carries
    down from the start row (where it equals P[i] - x[i]). Same cost as the copy
    (``method`` as in :func:`segmented_copy`).

    LEAKAGE: none.
    """
    n = len(start_flags)
    ya, yb = _stack(cols, n)
    pa = np.cumsum(ya, axis=1, dtype=np.uint64)
    pb = np.cumsum(yb, axis=1, dtype=np.uint64)
    before = [AShare(pa[j] - ya[j], pb[j] - yb[j]) for j in range(len(cols))]
    base = segmented_copy(p, start_flags, before, method=method)
    return [AShare(pa[j] - base[j].a, pb[j] - base[j].b) for j in range(len(cols))]


def _segmented_extreme(
    p: Party, start_flags: AShare, cols: list[AShare], *, want_max: bool, signed: bool, bits: int
) -> list[AShare]:
    n = len(start_flags)
    k = len(cols)
    ya, yb = _stack(cols, n)
    if n <= 1 or k == 0:
        return _unstack(ya, yb)
    fa, fb = _row0_start(p, start_flags)
    d = 1
    with p.measure("scan.extreme"):
        while d < n:
            last = 2 * d >= n
            m = n - d
            # h = (1 - f[i]) * (y[i-d] - y[i]): the change if row i takes y[i-d];
            # the flag update f[i] OR f[i-d] rides in the same multiplication.
            rows = k if last else k + 1
            xa = np.empty((rows, m), dtype=np.uint64)
            xb = np.empty((rows, m), dtype=np.uint64)
            za = np.empty((rows, m), dtype=np.uint64)
            zb = np.empty((rows, m), dtype=np.uint64)
            nf = AShare(-fa[d:], -fb[d:]).add_public(np.uint64(1), p.id)
            xa[:k], xb[:k] = nf.a, nf.b
            np.subtract(ya[:, :m], ya[:, d:], out=za[:k])
            np.subtract(yb[:, :m], yb[:, d:], out=zb[:k])
            if not last:
                xa[k], xb[k] = fa[d:], fb[d:]
                za[k], zb[k] = fa[:m], fb[:m]
            prod = arith.mul(p, AShare(xa, xb), AShare(za, zb))
            prev = AShare(ya[:, :m].reshape(-1), yb[:, :m].reshape(-1))
            cur = AShare(ya[:, d:].reshape(-1), yb[:, d:].reshape(-1))
            # take the row above when it is better: min -> prev < cur, max -> cur < prev
            better = (
                lt(p, cur, prev, signed=signed, bits=bits)
                if want_max
                else lt(p, prev, cur, signed=signed, bits=bits)
            )
            h = AShare(prod.a[:k].reshape(-1), prod.b[:k].reshape(-1))
            (new,) = select_many(p, better, [cur + h], [cur])
            ya[:, d:] = new.a.reshape(k, m)
            yb[:, d:] = new.b.reshape(k, m)
            if not last:
                fa[d:] = fa[d:] + fa[:m] - prod.a[k]
                fb[d:] = fb[d:] + fb[:m] - prod.b[k]
            d *= 2
    return _unstack(ya, yb)


def segmented_min(
    p: Party, start_flags: AShare, cols: list[AShare], *, signed: bool = True, bits: int = 64
) -> list[AShare]:
    """Running minimum within each segment, for all ``cols`` at once.

    Each step: one multiplication (the candidate change and the flag update), one
    batched :func:`~sharelake.mpc.compare.lt` over all columns, one select. ``bits`` and
    ``signed`` are passed to ``lt`` (``bits < 64`` promises that differences fit).

    LEAKAGE: none.
    """
    return _segmented_extreme(p, start_flags, cols, want_max=False, signed=signed, bits=bits)


def segmented_max(
    p: Party, start_flags: AShare, cols: list[AShare], *, signed: bool = True, bits: int = 64
) -> list[AShare]:
    """Running maximum within each segment (see :func:`segmented_min`). LEAKAGE: none."""
    return _segmented_extreme(p, start_flags, cols, want_max=True, signed=signed, bits=bits)


def and_flags(p: Party, flags: list[AShare]) -> AShare:
    """The AND of several 0/1 sharings of equal length: a product tree, one round a level."""
    if not flags:
        raise ValueError("and_flags needs at least one flag vector")
    level = list(flags)
    while len(level) > 1:
        h = len(level) // 2
        level = mul_many(p, list(zip(level[:h], level[h : 2 * h], strict=True))) + level[2 * h :]
    return level[0]


def segment_starts(p: Party, keys: list[AShare], *, bits: int | list[int] = 64) -> AShare:
    """0/1 sharing: 1 at row 0 and where any key differs from the previous row's.

    All neighbour equalities run in one batched :func:`~sharelake.mpc.compare.eq` per
    distinct bit width, then an AND tree. ``bits`` (one width, or one per key) lets
    ``eq`` look only at the low bits of narrow keys (category codes, flags).

    LEAKAGE: none.
    """
    if not keys:
        raise ValueError("segment_starts needs at least one key")
    n = len(keys[0])
    widths = [bits] * len(keys) if isinstance(bits, int) else list(bits)
    if len(widths) != len(keys):
        raise ValueError("one bit width per key is needed")
    if n == 0:
        return AShare(np.zeros(0, np.uint64), np.zeros(0, np.uint64))
    same = neighbour_same(p, keys, widths)
    if n == 1:
        return p.public_a(np.ones(1, dtype=np.uint64))
    with p.measure("scan.starts"):
        all_same = and_flags(p, same)
    return starts_from_same(p, all_same)


def mul_many(p: Party, pairs: Sequence[tuple[AShare, AShare]]) -> list[AShare]:
    """Several elementwise products of 1-D sharings (any lengths) in ONE round."""
    if not pairs:
        return []
    lens = [len(x) for x, _ in pairs]
    if any(len(y) != m for (_, y), m in zip(pairs, lens, strict=True)):
        raise ValueError("mul_many: the factors of a product differ in length")
    x = AShare(np.concatenate([x.a for x, _ in pairs]), np.concatenate([x.b for x, _ in pairs]))
    y = AShare(np.concatenate([y.a for _, y in pairs]), np.concatenate([y.b for _, y in pairs]))
    prod = arith.mul(p, x, y) if len(x) else x
    cuts = np.cumsum([0, *lens])
    return [AShare(prod.a[s:e], prod.b[s:e]) for s, e in itertools.pairwise(cuts)]


def neighbour_same_bits(p: Party, keys: list[AShare], bits: list[int]) -> list[BitShare]:
    """Per key, packed bits of length n - 1: row i + 1 equals row i on that key.

    One batched :func:`~sharelake.mpc.compare.eq` per distinct width. LEAKAGE: none.
    """
    if len(bits) != len(keys):
        raise ValueError("one bit width per key is needed")
    if not keys:
        return []
    n = len(keys[0])
    m = max(n - 1, 0)
    out: list[BitShare] = [BitShare(np.zeros(0, np.uint64), np.zeros(0, np.uint64), 0)] * len(keys)
    if m == 0:
        return out
    with p.measure("scan.starts"):
        for w in sorted(set(bits)):
            idx = [j for j, kw in enumerate(bits) if kw == w]
            cur = AShare(
                np.concatenate([keys[j].a[1:] for j in idx]),
                np.concatenate([keys[j].b[1:] for j in idx]),
            )
            prev = AShare(
                np.concatenate([keys[j].a[:-1] for j in idx]),
                np.concatenate([keys[j].b[:-1] for j in idx]),
            )
            got = eq(p, cur, prev, bits=w)
            for pos, j in enumerate(idx):
                out[j] = got[pos * m : (pos + 1) * m]
    return out


def neighbour_same(p: Party, keys: list[AShare], bits: list[int]) -> list[AShare]:
    """Per key, a 0/1 sharing of length n - 1: row i + 1 equals row i on that key.

    One batched :func:`~sharelake.mpc.compare.eq` per distinct width and ONE bit
    injection for all keys. LEAKAGE: none.
    """
    if len(bits) != len(keys):
        raise ValueError("one bit width per key is needed")
    if not keys:
        return []
    n = len(keys[0])
    m = max(n - 1, 0)
    if m == 0:
        return [AShare(np.zeros(0, np.uint64), np.zeros(0, np.uint64)) for _ in keys]
    same = neighbour_same_bits(p, keys, bits)
    with p.measure("scan.starts"):
        flat = b2a_bits(p, concat_bits(same))
    return [
        AShare(flat.a[j * m : (j + 1) * m], flat.b[j * m : (j + 1) * m]) for j in range(len(keys))
    ]


def shift_bits(words: Arr, d: int, n: int) -> Arr:
    """Packed bits moved by ``d`` rows (local, linear): bit i of the result is bit i - d
    (d > 0) or i - d for d < 0 (bit i + |d|); rows shifted in are 0, the result has the
    words of ``n`` bits and its bits past ``n`` are 0."""
    nw = nwords(n)
    src = np.zeros(nw, dtype=np.uint64)
    src[: min(nw, words.shape[0])] = words[:nw]
    rem = n % 64
    if rem and nw:
        src[-1] &= np.uint64((1 << rem) - 1)
    out = np.zeros(nw, dtype=np.uint64)
    q, r = divmod(abs(d), 64)
    if q >= nw:
        return out
    if d >= 0:
        body = src[: nw - q]
        if r == 0:
            out[q:] = body
        else:
            out[q:] = body << np.uint64(r)
            out[q + 1 :] |= body[:-1] >> np.uint64(64 - r)
    else:
        body = src[q:]
        if r == 0:
            out[: nw - q] = body
        else:
            out[: nw - q] = body >> np.uint64(r)
            out[: nw - q - 1] |= body[1:] << np.uint64(64 - r)
    if rem and nw:
        out[-1] &= np.uint64((1 << rem) - 1)
    return out


def _shift(x: BitShare, d: int) -> BitShare:
    return BitShare(shift_bits(x.a, d, x.n), shift_bits(x.b, d, x.n), x.n)


def starts_bits(p: Party, same: BitShare) -> BitShare:
    """Start flags as packed bits (n bits) from the n - 1 "same as the row above" bits:
    NOT same one row down, row 0 a start; bits past n are 0. Local."""
    n = same.n + 1
    down = _shift(BitShare(same.a, same.b, n) if nwords(n) == len(same.a) else _pad(same, n), 1)
    valid = pack(np.ones(n, dtype=np.bool_))
    out = down.xor_public(valid, p.id)
    return out


def _pad(x: BitShare, n: int) -> BitShare:
    a = np.zeros(nwords(n), dtype=np.uint64)
    b = np.zeros(nwords(n), dtype=np.uint64)
    a[: len(x.a)] = x.a
    b[: len(x.b)] = x.b
    return BitShare(a, b, n)


def ends_bits(p: Party, starts: BitShare) -> BitShare:
    """End flags as packed bits: row i ends its segment (row i + 1 starts one, or i is
    the last row). Local."""
    n = starts.n
    up = _shift(starts, -1)
    if n == 0:
        return up
    last = np.zeros(n, dtype=np.bool_)
    last[-1] = True
    return up.xor_public(pack(last), p.id)


def segmented_or_bits(p: Party, starts: BitShare, cols: list[BitShare]) -> list[BitShare]:
    """Running OR within each segment of packed boolean bit columns, all at once.

    ``starts``: packed start bits (row 0 must be a start). Hillis-Steele with the
    segmented operator: at distance d, z = NOT f[i] AND y[i - d], f[i] |= f[i - d] (one
    round), then y[i] |= z (a second round); f[i] = 1 means a start lies in rows
    (i - d, i]. Rounds: 2 ceil(log2 n); bits sent per party: about (2k + 1) n log2 n for
    k columns (one bit per AND gate, Araki et al., CCS 2016) -- 64 times fewer than the
    ring scans above.

    LEAKAGE: none (every row takes part in every step; nothing is opened).
    """
    n = starts.n
    ys = list(cols)
    for y in ys:
        if y.n != n:
            raise ValueError("scan columns must be as long as the start flags")
    if n <= 1 or not ys:
        return ys
    f = starts
    d = 1
    with p.measure("scan.or"):
        while d < n:
            last = 2 * d >= n
            nf = f.invert(p.id)
            pairs = [(nf, _shift(y, d)) for y in ys]
            sf = _shift(f, d)
            if not last:
                pairs.append((f, sf))
            got = and_bits_many(p, pairs)
            if not last:
                h = got.pop()
                f = f ^ sf ^ h
            ors = and_bits_many(p, list(zip(ys, got, strict=True)))
            ys = [y ^ z ^ w for y, z, w in zip(ys, got, ors, strict=True)]
            d *= 2
    return ys


def starts_from_same(p: Party, same: AShare) -> AShare:
    """Start flags (length n) from the n - 1 "same as the row above" flags: 1 - same,
    with row 0 a start. Local."""
    n = len(same) + 1
    ones = p.public_a(np.ones(n, dtype=np.uint64))
    z = np.zeros(1, np.uint64)
    return ones - AShare(np.concatenate([z, same.a]), np.concatenate([z, same.b]))


def stable_partition(p: Party, flag: AShare, cols: list[AShare]) -> tuple[AShare, list[AShare]]:
    """Move the rows whose 0/1 ``flag`` is 1 to the front, both parts in input order.

    One step of the shuffle-and-reveal radix sort (Hamada, Ikarashi, Chida & Takahashi,
    "Oblivious radix sort", ePrint 2014/121): with c1 the running count of flags and
    G their total, row i goes to d_i = f_i (c1_i - 1) + (1 - f_i) (G + i - c1_i), one
    multiplication; then ``flag``, ``cols`` and d are shuffled together under one secret
    permutation (:mod:`sharelake.mpc.shuffle`), d is opened, and the rows are put at
    their destinations locally. Rounds: 1 + 3 + 1; words sent: a few per row and column.

    LEAKAGE: none. The opened destinations of uniformly shuffled rows form a uniformly
    random permutation of 0..n-1 whatever the flags (not even G is revealed).
    Returns (the moved flag, the moved columns).
    """
    f, moved, _, _ = _partition(p, flag, cols)
    return f, moved


def _partition(
    p: Party, flag: AShare, cols: list[AShare]
) -> tuple[AShare, list[AShare], npt.NDArray[np.intp], ShufflePlan]:
    """:func:`stable_partition`, also returning the opened destinations ``where`` (row i
    of the shuffled rows went to ``where[i]``) and the shuffle plan."""
    from .shuffle import make_plan, shuffle

    n = len(flag)
    plan = make_plan(p, n)
    if n == 0:
        return flag, list(cols), np.zeros(0, np.intp), plan
    c1a = np.cumsum(flag.a, dtype=np.uint64)
    c1b = np.cumsum(flag.b, dtype=np.uint64)
    c1 = AShare(c1a, c1b)
    total = AShare(np.full(n, c1a[-1]), np.full(n, c1b[-1]))
    idx = p.public_a(np.arange(n, dtype=np.uint64))
    zero_side = total + idx - c1  # G + i - c1
    one_side = c1.add_public(np.uint64(0xFFFFFFFFFFFFFFFF), p.id)  # c1 - 1
    with p.measure("scan.partition"):
        (delta,) = mul_many(p, [(flag, one_side - zero_side)])
        dest = zero_side + delta
        moved = shuffle(p, [flag, *cols, dest], plan=plan)
        shuffled = [c for c in moved if isinstance(c, AShare)]
        if len(shuffled) != len(moved):
            raise TypeError("stable_partition moves arithmetic sharings only")
        where = arith.open_arith(p, shuffled[-1]).astype(np.intp)
    if not np.array_equal(np.sort(where), np.arange(n)):
        raise ValueError(f"P{p.id}: partition destinations are not a permutation (flag not 0/1)")
    out = []
    for c in shuffled[:-1]:
        a = np.empty_like(c.a)
        b = np.empty_like(c.b)
        a[where] = c.a
        b[where] = c.b
        out.append(AShare(a, b))
    return out[0], out[1:], where, plan

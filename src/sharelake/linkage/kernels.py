"""Shared MPC building blocks of the linkage scorers (fuzzy, Fellegi-Sunter, blocked).

Every function works on the replicated sharing over Z_2^64 of Araki, Furukawa, Lindell,
Nof and Ohara ("High-throughput semi-honest secure three-party computation with an
honest majority", CCS 2016): products are 3-out-of-3 local terms turned back into a
replicated sharing by one resharing (:func:`reshare_sum`), several of them batched into
one round (:func:`dots`). The arg-max trees (:class:`Tree`, :func:`reduce_trees`,
:func:`winners`) keep only the secret decision bit of each comparison and recover the
winning leaf from them afterwards, so no index is carried through the tree.

Used by :mod:`sharelake.linkage.fuzzy` (all pairs), :mod:`sharelake.linkage.fs_secure`
(Fellegi-Sunter) and :mod:`sharelake.linkage.blocked` (sorted-neighbourhood blocking).

LEAKAGE: none; nothing here opens a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..mpc.arith import PreparedRight, limbs, limit_blas_threads, mul
from ..mpc.bits import ONES, BitShare, and_bits_many, pack, unpack
from ..mpc.boolean import and_many
from ..mpc.compare import msb_many
from ..mpc.convert import b2a_bits
from ..mpc.party import Party
from ..mpc.ring import Arr
from ..mpc.shares import AShare, BShare

__all__ = [
    "Tree",
    "and_all",
    "band_terms",
    "cat",
    "dots",
    "eq0_terms",
    "gt0",
    "ones",
    "prepared_right",
    "reduce_trees",
    "reshare_sum",
    "right_share",
    "rows_of",
    "select",
    "split",
    "tile_rows",
    "tree_level",
    "winners",
]


def cat(xs: Sequence[AShare]) -> AShare:
    return AShare(
        np.concatenate([x.a.reshape(-1) for x in xs]), np.concatenate([x.b.reshape(-1) for x in xs])
    )


def split(x: AShare, sizes: Sequence[int]) -> list[AShare]:
    out, off = [], 0
    for s in sizes:
        out.append(AShare(x.a[off : off + s], x.b[off : off + s]))
        off += s
    return out


def reshare_sum(p: Party, z: Arr, *, checked: bool = False) -> AShare:
    """3-out-of-3 local terms -> replicated sharing (one round, Araki et al. 2016).

    ``checked=True``: the caller verifies the result with
    :func:`sharelake.mpc.arith.check_products`; otherwise the step is noted as unverified.
    """
    if not checked:
        p.checks.unverified("linkage.reshare_sum")
    z = z + p.zero_share(z.shape)
    return AShare(z, p.pass_prev(z))


def right_share(prep: PreparedRight) -> AShare:
    """The secret x^T (d x m) that :func:`prepared_right` prepared (local, for checks)."""
    d = prep.b.shape[0] // 2
    return AShare(prep.b[d:], prep.b[:d] - prep.b[d:])


def dots(p: Party, pairs: Sequence[Sequence[tuple[AShare, AShare]]]) -> list[AShare]:
    """Several sums of elementwise products, each with ONE resharing, all in one round.

    In the malicious setting every product is computed by :func:`sharelake.mpc.arith.mul`
    (queued for the batched check) and the sums are local: at most one element per
    product instead of one per sum, still one round.
    """
    if p.checks.enabled:
        return _dots_checked(p, pairs)
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
    r = reshare_sum(p, np.concatenate(terms))
    return split(r, sizes)


def _dots_checked(p: Party, pairs: Sequence[Sequence[tuple[AShare, AShare]]]) -> list[AShare]:
    xs, ys, counts = [], [], []
    for group in pairs:
        for x, y in group:
            xa, ya = np.broadcast_arrays(x.a, y.a)
            xb, yb = np.broadcast_arrays(x.b, y.b)
            xs.append(AShare(xa.reshape(-1), xb.reshape(-1)))
            ys.append(AShare(ya.reshape(-1), yb.reshape(-1)))
        counts.append(len(group))
    prods = iter(split(mul(p, cat(xs), cat(ys)), [len(x) for x in xs]))
    out = []
    for c in counts:
        acc = next(prods)
        for _ in range(c - 1):
            acc = acc + next(prods)
        out.append(acc)
    return out


def select(p: Party, c: BitShare, a: Sequence[AShare], b: Sequence[AShare]) -> list[AShare]:
    """c ? b : a for several columns (bit injection, one round)."""
    ca = b2a_bits(p, c)
    diffs = [(ca, bb - aa) for aa, bb in zip(a, b, strict=True)]
    prods = dots(p, [[d] for d in diffs])
    return [aa + pr for aa, pr in zip(a, prods, strict=True)]


def gt0(p: Party, xs: Sequence[AShare], bits: int) -> list[BitShare]:
    """x > 0 for each (signed ``bits``-bit) x: msb(-x), one batched call."""
    return msb_many(p, [-x for x in xs], bits=bits)


def eq0_terms(p: Party, z: Arr, bits: int) -> BitShare:
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
        raise ValueError("eq0_terms works on at most 8 bits")
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

    p.checks.unverified("linkage.eq0_terms")
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


def prepared_right(x: AShare, bits: int) -> PreparedRight:
    """x (m x d, secret) prepared as the right side of a 3-out-of-3 product term.

    Party i's term of <l, x> is [l_i | l_{i+1}] @ [x_i + x_{i+1} ; x_i] (one float product
    with inner dimension 2d); the right side is split into limbs once per operator.
    """
    return PreparedRight(np.concatenate([x.a + x.b, x.a], axis=1).T.copy(), bits=bits)


@dataclass
class Tree:
    """Rows of candidates (g groups x w leaves) reducing to their first arg-max.

    A leaf's score is the fraction ``num / den`` (positive denominators, compared by
    cross-multiplication) or, with ``den`` None, the integer ``num``. ``steps`` records,
    per level, the width before it and the secret decision bits ("the right one of the
    pair wins"), g x (width // 2) row-major: the winner of every leaf is recovered from
    them afterwards (:func:`winners`), so no index is carried.
    """

    num: AShare  # (g, w)
    den: AShare | None = None
    steps: list[tuple[int, BitShare]] = field(default_factory=list)

    @property
    def width(self) -> int:
        return int(self.num.a.shape[1])

    @property
    def groups(self) -> int:
        return int(self.num.a.shape[0])


def tree_level(p: Party, trees: list[Tree], bits: int) -> None:
    """One level of every tree that is still wider than 1, in shared rounds (in place).

    Pair (2k, 2k + 1) of a row: the right one wins when N_r D_l - N_l D_r > 0 (one
    round of products, one narrow comparison; for integer trees N_r - N_l > 0, local);
    ties keep the left (lower index). The winner's (N, D) is selected obliviously (bit
    injection, one round). All trees of one call are fraction trees or all integer.
    """
    live = [t for t in trees if t.width > 1]
    if not live:
        return
    frac = live[0].den is not None
    if any((t.den is not None) != frac for t in live):
        raise ValueError("tree_level: mix of fraction and integer trees")
    los, his = [], []
    for t in live:
        h = t.width // 2
        comps = [t.num] if t.den is None else [t.num, t.den]
        los.append([AShare(c.a[:, 0 : 2 * h : 2], c.b[:, 0 : 2 * h : 2]) for c in comps])
        his.append([AShare(c.a[:, 1 : 2 * h : 2], c.b[:, 1 : 2 * h : 2]) for c in comps])
    sizes = [t.groups * (t.width // 2) for t in live]
    if frac:
        diffs = dots(
            p, [[(hi[0], lo[1]), (-lo[0], hi[1])] for lo, hi in zip(los, his, strict=True)]
        )
    else:
        diffs = [cat([hi[0]]) - cat([lo[0]]) for lo, hi in zip(los, his, strict=True)]
    better = gt0(p, [cat(diffs)], bits)[0]
    nc = 2 if frac else 1
    flat_lo = [cat([lo[k] for lo in los]) for k in range(nc)]
    flat_hi = [cat([hi[k] for hi in his]) for k in range(nc)]
    new = select(p, better, flat_lo, flat_hi)
    parts = [split(c, sizes) for c in new]
    off = 0
    for j, t in enumerate(live):
        g, w, h = t.groups, t.width, t.width // 2
        t.steps.append((w, better[off : off + sizes[j]]))
        off += sizes[j]
        cols = [parts[k][j].reshape(g, h) for k in range(nc)]
        olds = [t.num] if t.den is None else [t.num, t.den]
        if w % 2:
            cols = [
                AShare(
                    np.concatenate([c.a, o.a[:, -1:]], axis=1),
                    np.concatenate([c.b, o.b[:, -1:]], axis=1),
                )
                for c, o in zip(cols, olds, strict=True)
            ]
        t.num = cols[0]
        if frac:
            t.den = cols[1]


def reduce_trees(p: Party, trees: list[Tree], bits: int) -> None:
    while any(t.width > 1 for t in trees):
        tree_level(p, trees, bits)


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


def and_all(p: Party, xs: list[BitShare]) -> BitShare:
    """AND of several equally long bit vectors: a tree, one round a level."""
    while len(xs) > 1:
        h = len(xs) // 2
        xs = and_bits_many(p, list(zip(xs[:h], xs[h : 2 * h], strict=True))) + xs[2 * h :]
    return xs[0]


def winners(p: Party, trees: list[Tree], widths: list[int]) -> list[BitShare]:
    """Per tree, the g x width leaf bits "this leaf is its row's arg-max" (shared rounds)."""
    lists = []
    for t, width in zip(trees, widths, strict=True):
        lists.append([_expand(p, b, t.groups, w, lv, width) for lv, (w, b) in enumerate(t.steps)])
    depth = max((len(x) for x in lists), default=0)
    if depth == 0:
        return [ones(p, t.groups * wd) for t, wd in zip(trees, widths, strict=True)]
    # pad the shorter lists with constant ones, then AND level-wise in shared rounds
    lists = [
        x + [ones(p, t.groups * wd)] * (depth - len(x))
        for x, t, wd in zip(lists, trees, widths, strict=True)
    ]
    while depth > 1:
        h = depth // 2
        pairs = [pr for x in lists for pr in zip(x[:h], x[h : 2 * h], strict=True)]
        res = and_bits_many(p, pairs)
        lists = [res[k * h : (k + 1) * h] + x[2 * h :] for k, x in enumerate(lists)]
        depth = len(lists[0])
    return [x[0] for x in lists]


def ones(p: Party, n: int) -> BitShare:
    z = np.zeros((n + 63) // 64, np.uint64)
    return BitShare(z, z.copy(), n).invert(p.id)


def rows_of(x: BitShare, nb: int, m: int) -> BitShare:
    """Transpose an m x nb bit matrix (column tree layout) to nb x m (local)."""
    comps = [pack(unpack(c, nb * m).reshape(m, nb).T.reshape(-1)) for c in (x.a, x.b)]
    return BitShare(comps[0], comps[1], nb * m)


def tile_rows(x: BitShare, nb: int, m: int) -> BitShare:
    """Repeat a length-m bit vector for nb rows (local)."""
    comps = [pack(np.tile(unpack(c, m), nb)) for c in (x.a, x.b)]
    return BitShare(comps[0], comps[1], nb * m)


#: Rows per block of :func:`band_terms` (a block of B rows against its next B + w rows:
#: a share w / (B + w) of each product is used) and blocks per batched product.
#: Measured (CPU time, 8,192 records, names (2 x 512 columns), w = 8): B = 8 with 4-8
#: blocks a batch 0.14-0.15 s; B = 16: 0.18-0.39 s (4-64 blocks); B = 32: 0.46 s. Small
#: batches keep the float64 limbs in cache.
BAND_ROWS = 8
BAND_BATCH = 8


def band_terms(x: AShare, y: AShare, nleft: int, w: int, bits: int) -> Arr:
    """This party's 3-out-of-3 terms of <x_i[s], y_(i+d)[t]> for i < ``nleft``, d = 1..w (local).

    ``x``: (M, kl, dim) stacks of kl vectors per row, ``y``: (M, kr, dim); rows of ``y``
    at or beyond M count as zero. Returns (w, nleft, kl, kr) terms, correct modulo
    2^``bits`` (higher bits arbitrary), d-major. The products are banded BLAS products
    (float64 limbs as :func:`sharelake.mpc.arith.local_matmul`): each block of
    :data:`BAND_ROWS` rows of x against the next B + w rows of y, :data:`BAND_BATCH`
    blocks per batched ``matmul`` call, so the Python overhead is per batch, not per row.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.zeros((3, 1, 2), np.uint64)
    >>> a = np.arange(6, dtype=np.uint64).reshape(3, 1, 2)
    >>> band_terms(AShare(a, z), AShare(a, z), 3, 1, 64)[0, :, 0, 0].tolist()
    [3, 23, 0]
    """
    limit_blas_threads()
    kl, dim = x.a.shape[1:]
    kr = y.a.shape[1]
    bsz = BAND_ROWS
    d2 = 2 * dim
    nl, lw = limbs(bits, d2)
    if nl == 0:
        raise ValueError("band_terms: inner dimension too large for exact float64 products")
    out = np.zeros((w, nleft, kl, kr), dtype=np.uint64)
    if nleft == 0:
        return out
    nb_all = -(-nleft // bsz)
    u = np.arange(bsz)[None, :]
    v = u + np.arange(w)[:, None]  # column of pair (u, u + d) in the block: u + d - 1
    for b0 in range(0, nb_all, BAND_BATCH):
        nb = min(BAND_BATCH, nb_all - b0)
        r0 = b0 * bsz
        # float64 limbs of this batch: left rows [r0, r0 + nb B), right rows
        # [r0 + 1, r0 + nb B + w] (zero beyond the end), right limbs in reverse order
        lb = _limb_rows(x.a, x.b, None, r0, nb * bsz, nl, lw, reverse=False)
        lb = lb.reshape(nb, bsz * kl, nl * d2)
        rf = _limb_rows(y.a, y.a, y.b, r0 + 1, nb * bsz + w, nl, lw, reverse=True)
        rb = np.lib.stride_tricks.as_strided(
            rf,
            shape=(nb, (bsz + w) * kr, nl * d2),
            strides=(bsz * rf.strides[0], rf.strides[1], rf.strides[2]),
            writeable=False,
        ).transpose(0, 2, 1)
        z = np.matmul(lb[:, :, :d2], rb[:, (nl - 1) * d2 :, :]).astype(np.int64).view(np.uint64)
        for k in range(1, nl):
            part = np.matmul(lb[:, :, : (k + 1) * d2], rb[:, (nl - 1 - k) * d2 :, :])
            z += part.astype(np.int64).view(np.uint64) << np.uint64(lw * k)
        z5 = z.reshape(nb, bsz, kl, bsz + w, kr)
        got = z5[:, u, :, v, :]  # (w, B, nb, kl, kr)
        got = got.transpose(0, 2, 1, 3, 4).reshape(w, nb * bsz, kl, kr)
        top = min(nleft, r0 + nb * bsz)
        out[:, r0:top] = got[:, : top - r0]
    return out


def _limb_rows(
    a: Arr, b: Arr, add: Arr | None, lo: int, count: int, nl: int, lw: int, *, reverse: bool
) -> npt.NDArray[np.float64]:
    """Rows [lo, lo + count) of [a + add | b] (or [a | b]) as float64 limbs (count, k,
    nl 2 dim): limb i (reverse: limb nl - 1 - i) in the i-th part; zero rows beyond
    the end."""
    m, k, dim = a.shape
    top = min(m, lo + count)
    mask = np.uint64((1 << lw) - 1)  # lw <= 26: limbs pass through uint32 (fast casts)
    out = np.empty((count, k, nl * 2 * dim), dtype=np.float64)
    out[max(0, top - lo) :] = 0
    if top <= lo:
        return out
    first = a[lo:top] + add[lo:top] if add is not None else a[lo:top]
    halves = (first, b[lo:top])
    for i in range(nl):
        j = nl - 1 - i if reverse else i
        for h, half in enumerate(halves):
            c0 = j * 2 * dim + h * dim
            limb = (half >> np.uint64(lw * i)) & mask
            out[: top - lo, :, c0 : c0 + dim] = limb.astype(np.uint32)
    return out

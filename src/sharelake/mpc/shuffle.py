"""Oblivious three-party shuffle by resharing under pairwise-known permutations.

The protocol follows the resharing-based shuffles of Laur, Willemson and Zhang
("Round-efficient oblivious database manipulation", ISC 2011) in the three-party
replicated setting of Araki, Furukawa, Ohara, Rindal and Smart ("Secure graph analysis
at scale", CCS 2021, section 4): the secret permutation is the composition
``pi = pi_0 o pi_1 o pi_2`` where ``pi_j`` is known to the pair (P_j, P_{j+1}) only --
it is drawn from the PRG key k_{j+1} that exactly these two parties hold. Every party
misses one of the three factors, so no single party learns anything about ``pi``.

The data travels as a 2-out-of-2 sharing between the parties of the current pair:

1. Locally, the replicated sharing (x_0, x_1, x_2) becomes the 2-out-of-2 sharing
   ``x_j + x_{j+1}`` (at P_j) and ``x_{j+2}`` (at P_{j+1}) of the first pair.
2. Both parties of a pair permute their half by the pair's permutation.
3. The pair hands over to the next pair, which shares one party with it (the *stayer*):
   the *leaver* sends its half plus a mask ``R`` to the *joiner*; the stayer subtracts
   ``R`` from its own half. ``R`` comes from the key of the leaving pair, unknown to the
   joiner, so the joiner sees a uniformly random array. One message, one round.
4. After the third permutation the last pair (u, v) turns its 2-out-of-2 sharing back
   into a fresh replicated one: the third party w gets two components drawn from the
   keys it shares with u and with v; u and v exchange their halves of the remaining
   component, each masked by one of those components (one round).

Cost per column: 4 words per element in total over the three parties (at most 2 per
party) and 3 rounds, independent of how many columns go together: all columns, of both
kinds, travel in the same three messages; arithmetic columns use + and -, boolean
(XOR-shared) ones use XOR. Columns a caller needs modulo 2^32 only travel at the
semi-honest level as 32-bit lanes, two to a word (lane-wise + and -): half the words;
columns needed modulo 2^21 only as 21-bit lanes, three to a word (lane-wise + and - as
SWAR word operations: carries and borrows stop at each lane's top bit): a third.
The outputs are fresh sharings: the final components are new PRG values, so no party
can link an output row to an input row.

What it reveals: nothing but the number of rows and columns (all message sizes depend
on those alone). Security holds against one semi-honest party; a malicious party could
perturb the values it forwards (additive errors are not detected here; see SECURITY.md).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import shuffle_check
from .mac import add_wide, sub_wide
from .party import Party
from .prg import Prg
from .ring import Arr
from .shares import AShare, BShare

Perm = npt.NDArray[np.intp]
Share = AShare | BShare


@dataclass(frozen=True)
class ShufflePlan:
    """This party's view of one secret permutation of ``n`` rows.

    ``perms[j]`` is the permutation of pass j (pair P_j, P_{j+1}) when this party is in
    that pair, else ``None``: every party holds two of the three factors. Reusing a plan
    applies the same secret permutation again (for instance to columns computed later);
    :func:`unshuffle` applies its inverse.
    """

    n: int
    perms: tuple[Perm | None, Perm | None, Perm | None]
    start: int = 0

    @property
    def passes(self) -> tuple[int, int, int]:
        """The pairs j of the three passes, in forward order (starting at pair ``start``)."""
        s = self.start % 3
        return (s, (s + 1) % 3, (s + 2) % 3)


def random_perm(prg: Prg, n: int, *, blocks: Sequence[int] | None = None) -> Perm:
    """A uniformly random permutation of ``range(n)`` from ``prg`` (argsort of 64-bit words).

    Both holders of a PRG key obtain the same permutation. Ties among the 64-bit words
    (probability below n^2 / 2^65) only bias it negligibly. With ``blocks`` (sizes
    summing to n) the permutation is block-diagonal: every block of consecutive rows is
    permuted uniformly within itself.
    """
    words = prg.words(n)
    if blocks is None:
        return np.argsort(words, kind="quicksort").astype(np.intp, copy=False)
    sizes = _blocks(blocks, n)
    out = np.empty(n, dtype=np.intp)
    off = 0
    for size in sizes:
        out[off : off + size] = np.argsort(words[off : off + size], kind="quicksort") + off
        off += size
    return out


def _blocks(blocks: Sequence[int], n: int) -> list[int]:
    sizes = [int(b) for b in blocks]
    if any(b < 0 for b in sizes) or sum(sizes) != n:
        raise ValueError(f"shuffle blocks {sizes} do not add up to {n} rows")
    return sizes


def make_plan(p: Party, n: int, *, blocks: Sequence[int] | None = None) -> ShufflePlan:
    """Draw this party's two pass permutations for ``n`` rows (no communication).

    With ``blocks`` (public sizes summing to n) every block of consecutive rows is
    shuffled within itself: the secret permutation is block-diagonal, which lets
    independent tables share the rounds of one shuffle (and of one sort) while each
    stays in its own rows.

    Pass j uses key k_{j+1}: party j holds it as ``prg_next``, party j+1 as ``prg_own``.
    All three parties must call this together, in the same order as other PRG draws.
    The first pass rotates from plan to plan (a counter every party keeps in lockstep):
    the party that leads the first pair sends twice as much as the others, so rotating
    spreads the load evenly over many shuffles.
    """
    perms: list[Perm | None] = [None, None, None]
    perms[p.id] = random_perm(p.prg_next, n, blocks=blocks)
    perms[(p.id + 2) % 3] = random_perm(p.prg_own, n, blocks=blocks)
    start = p.shuffle_plans % 3
    p.shuffle_plans += 1
    return ShufflePlan(n, (perms[0], perms[1], perms[2]), start)


def invert_perm(perm: Perm) -> Perm:
    """The inverse permutation: ``x[perm][invert_perm(perm)] == x``."""
    inv = np.empty_like(perm)
    inv[perm] = np.arange(perm.shape[0], dtype=perm.dtype)
    return inv


def apply_public_perm(cols: Sequence[Share], perm: Perm) -> list[Share]:
    """Reorder shared columns by a permutation every party knows (local): row j <- perm[j]."""
    out: list[Share] = []
    for c in cols:
        # np.take: about twice as fast as fancy indexing on long 1-D columns
        if isinstance(c, AShare):
            out.append(AShare(np.take(c.a, perm, axis=0), np.take(c.b, perm, axis=0)))
        else:
            out.append(BShare(np.take(c.a, perm, axis=0), np.take(c.b, perm, axis=0)))
    return out


def shuffle(
    p: Party,
    cols: Sequence[Share],
    *,
    plan: ShufflePlan | None = None,
    narrow: Collection[int] = (),
    narrow21: Collection[int] = (),
) -> list[Share]:
    """Permute all ``cols`` (equal length, any mix of kinds) by one secret permutation.

    Without ``plan`` a fresh permutation is drawn; with it, the plan's permutation is
    applied (row j of the output is row ``pi(j)`` of the input, pi unknown to every
    party). Three rounds; 4 words per element and column in total, at most 2 per party.

    A column may be 2-D (n, k): its k values per row travel together (no copies into
    separate columns). ``narrow``: indices of arithmetic columns needed modulo 2^32
    only; at the semi-honest level they travel as 32-bit words (half the bytes) and come
    back correct modulo 2^32 (higher bits arbitrary). ``narrow21``: likewise for columns
    needed modulo 2^21 only, three to a word (a third of the words). At the malicious
    level both travel as every arithmetic column (checked; the full 64 bits come back).
    """
    n = _check(cols)
    if plan is None:
        plan = make_plan(p, n)
    elif plan.n != n:
        raise ValueError(f"shuffle plan is for {plan.n} rows, columns have {n}")
    seq = [(j, plan.perms[j]) for j in plan.passes]
    with p.measure("shuffle"):
        return _run(p, cols, n, seq, narrow, narrow21)


def unshuffle(
    p: Party,
    cols: Sequence[Share],
    plan: ShufflePlan,
    *,
    narrow: Collection[int] = (),
    narrow21: Collection[int] = (),
) -> list[Share]:
    """Undo :func:`shuffle` under ``plan``: apply the inverse secret permutation.

    The passes run in reverse order, each with the inverse of its permutation. Same
    cost as :func:`shuffle` (and the same 2-D columns and ``narrow``/``narrow21`` options).
    """
    n = _check(cols)
    if plan.n != n:
        raise ValueError(f"shuffle plan is for {plan.n} rows, columns have {n}")
    seq = []
    for j in reversed(plan.passes):
        perm = plan.perms[j]
        seq.append((j, None if perm is None else invert_perm(perm)))
    with p.measure("unshuffle"):
        return _run(p, cols, n, seq, narrow, narrow21)


# ---- the protocol ------------------------------------------------------------------------


def _check(cols: Sequence[Share]) -> int:
    if not cols:
        raise ValueError("shuffle needs at least one column")
    n = int(cols[0].a.shape[0])
    for c in cols:
        if c.a.ndim not in (1, 2) or c.a.shape[0] != n:
            raise ValueError("shuffle columns must be 1-D or 2-D and of equal length")
    return n


def _width(c: Share) -> int:
    return 1 if c.a.ndim == 1 else int(c.a.shape[1])


def _pair_prg(p: Party, j: int) -> Prg:
    """The PRG of key k_{j+1}, held by the pair (P_j, P_{j+1}); only its members call this."""
    return p.prg_next if p.id == j else p.prg_own


@dataclass(frozen=True)
class _Layout:
    """Rows of the matrix a shuffle moves: ``kw`` Z_2^128 values (low words in rows
    [0, kw), high words in [kw, 2 kw)), then ``ka`` Z_2^64 rows, then ``kn`` rows of two
    Z_2^32 lanes each (narrow arithmetic columns), then ``kt`` rows of three Z_2^21
    lanes each (bits 0-20, 21-41, 42-62; bit 63 unused), then XOR-shared rows."""

    kw: int
    ka: int
    kn: int = 0
    kt: int = 0

    @property
    def arith_end(self) -> int:
        return 2 * self.kw + self.ka

    @property
    def narrow_end(self) -> int:
        return self.arith_end + self.kn

    @property
    def lanes21_end(self) -> int:
        return self.narrow_end + self.kt


_L21 = 21
_M21 = np.uint64((1 << _L21) - 1)
_H21 = np.uint64(sum(1 << (_L21 * s + _L21 - 1) for s in range(3)))
"""The top bit of each 21-bit lane."""
_LO21 = np.uint64(sum(((1 << (_L21 - 1)) - 1) << (_L21 * s) for s in range(3)))
"""The 20 low bits of each 21-bit lane."""


def _add21(x: Arr, y: Arr) -> Arr:
    """Lane-wise x + y of words holding three 21-bit lanes (SWAR: the low 20 bits of
    each lane add without reaching the next lane, the top bit is their XOR with the
    carry)."""
    return ((x & _LO21) + (y & _LO21)) ^ ((x ^ y) & _H21)  # type: ignore[no-any-return]


def _sub21(x: Arr, y: Arr) -> Arr:
    """Lane-wise x - y of words holding three 21-bit lanes (SWAR: every lane's top bit
    is set before the subtraction, so no borrow leaves a lane)."""
    return ((x | _H21) - (y & _LO21)) ^ ((x ^ ~y) & _H21)  # type: ignore[no-any-return]


def _add(dst: Arr, src: Arr, lay: _Layout) -> None:
    """dst += src (+ with carry on wide rows, lane-wise on narrow rows, ^ on boolean
    rows), in place."""
    w, e, f, g = lay.kw, lay.arith_end, lay.narrow_end, lay.lanes21_end
    if w:
        add_wide(dst[:w], dst[w : 2 * w], src[:w], src[w : 2 * w])
    dst[2 * w : e] += src[2 * w : e]
    if f > e:
        lanes = dst[e:f].view(np.uint32)
        lanes += src[e:f].view(np.uint32)
    if g > f:
        dst[f:g] = _add21(dst[f:g], src[f:g])
    dst[g:] ^= src[g:]


def _sub(dst: Arr, src: Arr, lay: _Layout) -> None:
    """dst -= src (- with borrow on wide rows, lane-wise on narrow rows, ^ on boolean
    rows), in place."""
    w, e, f, g = lay.kw, lay.arith_end, lay.narrow_end, lay.lanes21_end
    if w:
        sub_wide(dst[:w], dst[w : 2 * w], src[:w], src[w : 2 * w])
    dst[2 * w : e] -= src[2 * w : e]
    if f > e:
        lanes = dst[e:f].view(np.uint32)
        lanes -= src[e:f].view(np.uint32)
    if g > f:
        dst[f:g] = _sub21(dst[f:g], src[f:g])
    dst[g:] ^= src[g:]


def _malicious(p: Party) -> bool:
    return p.checks.enabled


def _semi_honest(
    p: Party,
    cols: Sequence[Share],
    n: int,
    seq: list[tuple[int, Perm | None]],
    narrow: Collection[int],
    narrow21: Collection[int] = frozenset(),
) -> list[Share]:
    """The columns as one matrix per component (2-D columns as k rows, narrow columns
    as 32-bit lanes, two to a row, ``narrow21`` ones as 21-bit lanes, three to a row),
    through the passes, and back."""
    tiny = [i for i, c in enumerate(cols) if isinstance(c, AShare) and i in narrow21]
    thin = [
        i for i, c in enumerate(cols) if isinstance(c, AShare) and i in narrow and i not in tiny
    ]
    arith = [i for i, c in enumerate(cols) if isinstance(c, AShare) and i not in (*thin, *tiny)]
    boolean = [i for i, c in enumerate(cols) if not isinstance(c, AShare)]
    ka = sum(_width(cols[i]) for i in arith)
    lanes = sum(_width(cols[i]) for i in thin)
    kn = (lanes + 1) // 2
    lanes21 = sum(_width(cols[i]) for i in tiny)
    kt = (lanes21 + 2) // 3
    kb = sum(_width(cols[i]) for i in boolean)
    rows = ka + kn + kt + kb
    mats = [np.empty((rows, n), dtype=np.uint64) for _ in range(2)]
    where: dict[int, int] = {}
    for m, comp in zip(mats, ("a", "b"), strict=True):
        r = 0
        for i in arith:
            k = _width(cols[i])
            m[r : r + k] = getattr(cols[i], comp).reshape(n, k).T
            where[i] = r
            r += k
        lane32 = m[ka : ka + kn].view(np.uint32).reshape(kn, n, 2)
        if lanes % 2:
            lane32[kn - 1, :, 1] = 0
        q = 0
        for i in thin:
            k = _width(cols[i])
            x = getattr(cols[i], comp).reshape(n, k)
            for j in range(k):  # lane q: row q // 2, half q % 2
                lane32[(q + j) // 2, :, (q + j) % 2] = x[:, j]
            where[i] = q
            q += k
        if kt:
            flat21 = np.zeros((3 * kt, n), dtype=np.uint64)  # lane q: row q // 3, slot q % 3
            q = 0
            for i in tiny:
                k = _width(cols[i])
                flat21[q : q + k] = getattr(cols[i], comp).reshape(n, k).T & _M21
                where[i] = q
                q += k
            f3 = flat21.reshape(kt, 3, n)
            m[ka + kn : ka + kn + kt] = f3[:, 0] | (f3[:, 1] << _L21) | (f3[:, 2] << 2 * _L21)
        r = ka + kn + kt
        for i in boolean:
            k = _width(cols[i])
            m[r : r + k] = getattr(cols[i], comp).reshape(n, k).T
            where[i] = r
            r += k
    a, b = _passes(p, mats[0], mats[1], n, seq, _Layout(0, ka, kn, kt))
    unpacked = []
    for res in (a, b):
        words = res[ka + kn : ka + kn + kt]
        lanes3 = np.stack([(words >> np.uint64(_L21 * s)) & _M21 for s in range(3)], axis=1)
        unpacked.append(lanes3.reshape(3 * kt, n))
    out: list[Share] = []
    for i, c in enumerate(cols):
        k = _width(c)
        if i in tiny:
            q = where[i]
            got = [np.ascontiguousarray(u[q : q + k].T) for u in unpacked]
        elif i in thin:
            q = where[i]
            got = []
            for res in (a, b):
                lane32 = res[ka : ka + kn].view(np.uint32).reshape(kn, n, 2)
                v = np.empty((n, k), dtype=np.uint64)
                for j in range(k):
                    v[:, j] = lane32[(q + j) // 2, :, (q + j) % 2]
                got.append(v)
        else:
            r = where[i]
            got = [np.ascontiguousarray(res[r : r + k].T) for res in (a, b)]
        ga, gb = (g.reshape(c.a.shape) for g in got)
        out.append(AShare(ga, gb) if isinstance(c, AShare) else BShare(ga, gb))
    return out


def _run(
    p: Party,
    cols: Sequence[Share],
    n: int,
    seq: list[tuple[int, Perm | None]],
    narrow: Collection[int] = (),
    narrow21: Collection[int] = (),
) -> list[Share]:
    """Pass the columns through the pairs ``seq`` = [(j, pi_j at this party or None)].

    Against a malicious party (``p.security == "malicious"``, the default) the columns
    travel with MAC tags and the output is checked (:mod:`.shuffle_check`); 2-D columns
    go as their 1-D columns and ``narrow``/``narrow21`` are ignored (every arithmetic
    column is checked on its 64 bits).
    """
    if not _malicious(p) or n == 0:
        return _semi_honest(p, cols, n, seq, frozenset(narrow), frozenset(narrow21))
    if any(c.a.ndim == 2 for c in cols):
        flat: list[Share] = []
        for c in cols:
            if c.a.ndim == 1:
                flat.append(c)
                continue
            kind = AShare if isinstance(c, AShare) else BShare
            flat += [kind(c.a[:, j], c.b[:, j]) for j in range(c.a.shape[1])]
        moved = _run(p, flat, n, seq)
        out: list[Share] = []
        off = 0
        for c in cols:
            k = _width(c)
            part = moved[off : off + k]
            off += k
            if c.a.ndim == 1:
                out.append(part[0])
                continue
            ga = np.stack([x.a for x in part], axis=1)
            gb = np.stack([x.b for x in part], axis=1)
            out.append(AShare(ga, gb) if isinstance(c, AShare) else BShare(ga, gb))
        return out
    arith = [i for i, c in enumerate(cols) if isinstance(c, AShare)]
    boolean = [i for i, c in enumerate(cols) if not isinstance(c, AShare)]
    k = len(cols)

    keys = shuffle_check.draw_keys(p, len(arith), len(boolean))
    m_arith, m_bool = shuffle_check.tags(
        p,
        keys,
        [(cols[i].a, cols[i].b) for i in arith],
        [(cols[i].a, cols[i].b) for i in boolean],
        n,
    )
    zero = np.zeros(n, dtype=np.uint64)
    kw = len(arith) + (1 if m_arith else 0)
    lo_a = [cols[i].a for i in arith] + ([m_arith[0][0]] if m_arith else [])
    lo_b = [cols[i].b for i in arith] + ([m_arith[1][0]] if m_arith else [])
    hi_a = [zero] * len(arith) + ([m_arith[0][1]] if m_arith else [])
    hi_b = [zero] * len(arith) + ([m_arith[1][1]] if m_arith else [])
    bo_a = [cols[i].a for i in boolean] + ([m_bool[0]] if m_bool else [])
    bo_b = [cols[i].b for i in boolean] + ([m_bool[1]] if m_bool else [])
    a, b = _passes(p, lo_a + hi_a + bo_a, lo_b + hi_b + bo_b, n, seq, _Layout(kw, 0))
    ka = len(arith)
    wide = [((a[r], a[kw + r]), (b[r], b[kw + r])) for r in range(ka)]
    out_m = ((a[ka], a[kw + ka]), (b[ka], b[kw + ka])) if m_arith else None
    bools = [(a[2 * kw + r], b[2 * kw + r]) for r in range(len(boolean))]
    out_b = (a[-1], b[-1]) if m_bool else None
    shuffle_check.verify(p, keys, wide, out_m, bools, out_b, n)
    res: dict[int, Share] = {}
    for r, i in enumerate(arith):
        res[i] = AShare(a[r].copy(), b[r].copy())  # Z_2^128 -> Z_2^64: the low words
    for r, i in enumerate(boolean):
        res[i] = BShare(bools[r][0], bools[r][1])
    return [res[i] for i in range(k)]


def _passes(
    p: Party,
    rows_a: Sequence[Arr] | Arr,
    rows_b: Sequence[Arr] | Arr,
    n: int,
    seq: list[tuple[int, Perm | None]],
    lay: _Layout,
) -> tuple[Arr, Arr]:
    """Move the rows (this party's components ``rows_a``, ``rows_b``) through ``seq``."""
    shape = (len(rows_a), n)

    # 1. Local 2-out-of-2 sharing for the first pair (j, j+1).
    j0 = seq[0][0]
    half: Arr | None = None
    if p.id == j0:
        half = np.array(rows_a, dtype=np.uint64).reshape(shape)
        _add(half, np.asarray(rows_b, dtype=np.uint64).reshape(shape), lay)
    elif p.id == (j0 + 1) % 3:
        half = np.array(rows_b, dtype=np.uint64).reshape(shape)

    # 2-3. Permute within each pair, hand over to the next pair.
    for t, (j, perm) in enumerate(seq):
        if half is not None:
            assert perm is not None
            half = np.take(half, perm, axis=1)
        if t + 1 < len(seq):
            half = _hand_over(p, j, seq[t + 1][0], half, shape, lay)

    # 4. Back to a fresh replicated sharing.
    return _reshare(p, seq[-1][0], half, shape, lay)


def _hand_over(
    p: Party, j: int, j_next: int, half: Arr | None, shape: tuple[int, int], lay: _Layout
) -> Arr | None:
    """Move the 2-out-of-2 sharing from pair (j, j+1) to pair (j_next, j_next+1); one round."""
    cur = {j, (j + 1) % 3}
    nxt = {j_next, (j_next + 1) % 3}
    (stayer,) = cur & nxt
    (leaver,) = cur - nxt
    (joiner,) = nxt - cur
    nbytes = shape[0] * shape[1] * 8
    if p.id == leaver:
        assert half is not None
        mask = _pair_prg(p, j).words(shape)
        _add(half, mask, lay)
        p.exchange({joiner: half.reshape(-1)}, {})
        return None
    if p.id == stayer:
        assert half is not None
        mask = _pair_prg(p, j).words(shape)
        _sub(half, mask, lay)
        p.exchange({}, {})
        return half
    got = p.exchange({}, {leaver: nbytes})
    return np.frombuffer(got[leaver], dtype=np.uint64).reshape(shape).copy()


def _reshare(
    p: Party, j: int, half: Arr | None, shape: tuple[int, int], lay: _Layout
) -> tuple[Arr, Arr]:
    """2-out-of-2 at (u, v) = (P_j, P_{j+1}) -> replicated; w = P_{j+2} gets PRG components.

    Component w comes from key k_w (held by v and w), component u from key k_u (held by
    w and u); component v = total - c_w - c_u is assembled by u and v (one round).
    """
    u, v, w = j, (j + 1) % 3, (j + 2) % 3
    nbytes = shape[0] * shape[1] * 8
    if p.id == w:
        c_w = p.prg_own.words(shape)  # key k_w, shared with v = w - 1
        c_u = p.prg_next.words(shape)  # key k_u = k_{w+1}, shared with u = w + 1
        p.exchange({}, {})
        return c_w, c_u
    assert half is not None
    if p.id == u:
        c_u = p.prg_own.words(shape)  # key k_u, shared with w = u - 1
        _sub(half, c_u, lay)
        got = p.exchange({v: half.reshape(-1)}, {v: nbytes})
        other = np.frombuffer(got[v], dtype=np.uint64).reshape(shape)
        comp_v = half.copy()  # ``half`` may still be queued for sending: do not touch it
        _add(comp_v, other, lay)
        return c_u, comp_v  # (component u, component v)
    c_w = p.prg_next.words(shape)  # key k_w = k_{v+1}, shared with w = v + 1
    _sub(half, c_w, lay)
    got = p.exchange({u: half.reshape(-1)}, {u: nbytes})
    other = np.frombuffer(got[u], dtype=np.uint64).reshape(shape)
    comp_v = half.copy()
    _add(comp_v, other, lay)
    return comp_v, c_w  # (component v, component w)

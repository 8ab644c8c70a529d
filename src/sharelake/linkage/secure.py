"""Exact multi-key record linkage on secret tables: two records match when ANY key agrees.

The match keys are the 64-bit digests the client computes before sharing
(:data:`sharelake.linkage.encode.MATCH_KEYS`; a missing ingredient gives a random filler,
and a null key or an invalid row never matches). Both tables go through one
oblivious sort-merge per key, the PSI on secret-shared data of Mohassel, Rindal and Rosulek
(CCS 2020) with the stable shuffle-then-quicksort of Hamada et al. (ICISC 2012), on the
replicated sharing of Araki et al. (CCS 2016) -- a leaner variant of the kernel of
:func:`sharelake.relational.join.merge`:

1. Per key, one block of m + n rows: the right rows (the "unique" side U, first), then
   the left rows (the M side). Only the right row number travels as a payload column;
   the two usable bits (usable U row, usable M row) ride in the high bits of the sort's
   row-index word (:func:`sharelake.mpc.sort.sort_undoable`), no column of their own
   (the low bit of an arithmetic 0/1 sharing is a local boolean one). ONE sort with
   public blocks (``sort_undoable(blocks=...)``) orders every block on its own by the
   64-bit digest, all blocks in the same rounds: K blocks of m + n rows compare fewer
   and narrower composite keys than one sort of K (m + n) rows with a key-number tag.
2. The sorted blocks are laid end to end; neighbour equality of the digests gives group
   starts and ends as packed bits, with a public cut at every block boundary; ONE
   boolean segmented OR scan over the sorted rows and the reversed rows together gives
   "a usable U row is at or before me in my group" and "a usable M row is at or after
   me"; a segmented copy by partition carries the right row number of the last usable U
   row; the copied number and a word with both flags go back to input order by undoing
   the sort (:func:`sharelake.mpc.sort.unsort`).
3. Per record, the K per-key flags are OR-ed (a product tree of 1 - f).
4. Candidate pairs: for left row i and key k, the right row carried by the copy, i.e. the
   LAST usable right row (in right-table order) with that key value. Pairs found through
   several keys are kept once: candidate k is dropped when an earlier candidate k' < k of
   the same left row is valid and names the same right row (a narrow equality on the
   row numbers).

The plaintext twin is :func:`sharelake.linkage.plain_match.exact_links_plain`.

LEAKAGE: nothing. Flags, candidate right rows and validity bits stay secret; the sizes
(n, m, K) are public. The only openings are the sort's comparison outcomes and the
copy's partition destinations, both uniformly random whatever the data; the return to
input order opens nothing. Only a release step (the ``reveal_*`` functions at the end of
this module, or compaction by the node) opens what the ``--reveal`` mode allows.
Cost: one sort of K blocks of n + m rows on a (64 + log2(n + m))-bit composite key with
one payload column, 2 ceil(log2 2K(n+m)) rounds of a one-bit OR scan, a partition copy
of one column, one unshuffle of two columns, then ~10 rounds of small work for the OR and the
de-duplication.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..mpc.arith import mul, open_arith
from ..mpc.bits import BitShare, and_bits, open_bits, pack, unpack
from ..mpc.bits import concat as concat_bits
from ..mpc.compare import eq, eq_public
from ..mpc.convert import b2a_bits
from ..mpc.party import Party
from ..mpc.ring import Arr
from ..mpc.scan import (
    and_flags,
    ends_bits,
    mul_many,
    neighbour_same_bits,
    segmented_copy,
    segmented_or_bits,
    starts_bits,
)
from ..mpc.shares import AShare, BShare, concat_a, concat_b
from ..mpc.sort import sort_undoable, unsort
from ..relational.join import const, one_minus
from ..relational.table import ColumnSpec, SecretColumn, SecretTable

__all__ = [
    "ExactLinks",
    "exact_links",
    "exact_pair_table",
    "reveal_count",
    "reveal_own",
    "reveal_pairs",
    "row_bits",
]


@dataclass(frozen=True)
class ExactLinks:
    """Secret results of :func:`exact_links` (this party's shares).

    ``left`` (n) / ``right`` (m): 0/1, the row matches some row of the other table by
    some key. ``partner`` (K, n): per key, the right row number found for each left row
    (meaningful where ``found`` is 1). ``found`` (K, n): 0/1, candidate pair (i,
    partner[k, i]) is real and not a repeat of an earlier key's pair.
    """

    left: AShare
    right: AShare
    partner: AShare
    found: AShare


def row_bits(m: int) -> int:
    """Bits of a row number below ``m`` (at least 1)."""
    return max(1, (max(m, 1) - 1).bit_length())


def _usable(p: Party, t: SecretTable, keys: Sequence[str]) -> list[AShare]:
    """Per key: valid AND key not null (one multiplication round for all keys)."""
    out: list[AShare | None] = []
    pairs: list[tuple[AShare, AShare]] = []
    for k in keys:
        col = t[k]
        if col.values.a.ndim != 1:
            raise ValueError(f"match key {k!r} must be one value per row")
        if col.null is None:
            out.append(t.valid)
        else:
            out.append(None)
            pairs.append((t.valid, one_minus(p, col.null)))
    prods = iter(mul_many(p, pairs))
    return [x if x is not None else next(prods) for x in out]


def _stack(xs: Sequence[AShare]) -> AShare:
    return AShare(np.stack([x.a for x in xs]), np.stack([x.b for x in xs]))


def exact_links(p: Party, left: SecretTable, right: SecretTable, keys: Sequence[str]) -> ExactLinks:
    """Exact multi-key linkage of ``left`` (n rows) and ``right`` (m rows); see the module.

    LEAKAGE: nothing (every output is secret; sizes are public).
    """
    if not keys:
        raise ValueError("exact linkage needs at least one match key")
    nk, n, m = len(keys), left.n, right.n
    if n == 0 or m == 0:
        z = const(p, 0, nk * n)
        return ExactLinks(const(p, 0, n), const(p, 0, m), z.reshape(nk, n), z.reshape(nk, n))
    nu, nb = nk * m, m + n
    ok_r = _usable(p, right, keys)
    ok_l = _usable(p, left, keys)
    # usable flags as bits: the low bit of an arithmetic sharing is the XOR of the low
    # bits of its components (local); they ride above the row index through the sort
    okb = [
        BShare(ok.a & _ONE, ok.b & _ONE) for ok in (concat_a([ok_r[j], ok_l[j]]) for j in range(nk))
    ]
    side = np.zeros(nb, np.uint64)
    side[m:] = 1
    shift = (side + _U_BIT).astype(np.uint64)  # bit 62: usable U row, bit 63: usable M row
    rpos = p.public_a(np.concatenate([np.arange(m, dtype=np.uint64), np.zeros(n, np.uint64)]))
    # block j = (right rows, left rows) by key j; each block sorted on its own, all in
    # the same rounds
    nt = nk * nb
    okw = concat_b([BShare(o.a << shift, o.b << shift) for o in okb])
    srt = sort_undoable(
        p,
        [concat_a([c for k in keys for c in (right[k].values, left[k].values)])],
        [concat_a([rpos] * nk)],
        signed=True,
        bits=64,
        extra=okw,
        blocks=[nb] * nk,
    )
    sdig, scarry, word = _arith(srt.keys[0]), _arith(srt.payload[0]), srt.word
    sok_u = _word_bit(word, _U_BIT, nt)
    sok_m = _word_bit(word, _U_BIT + 1, nt)
    # group starts and ends (packed bits): digest equal to the row above, and never
    # across the boundary of two keys' blocks (public positions)
    (same,) = neighbour_same_bits(p, [sdig], [64])
    inside = np.ones(nt - 1, dtype=np.bool_)
    inside[np.arange(1, nk) * nb - 1] = False
    same = same.and_public(pack(inside))
    g = starts_bits(p, same)
    e = ends_bits(p, g)
    # "a usable U row is at or before me in my group" (forward) and "a usable M row is
    # at or after me" (backward, on the reversed rows): one OR scan over both
    with p.measure("scan.or"):
        s_u_and = and_bits(p, g, sok_u)
    has = segmented_or_bits(
        p, concat_bits([g, _reverse(e)]), [concat_bits([sok_u, _reverse(sok_m)])]
    )[0]
    has_u, has_m = has[:nt], _reverse(has[nt:])
    # the right row number of the last usable U row at or before each row: a copy that
    # starts at every group start and every usable U row
    s_u = b2a_bits(p, g ^ sok_u ^ s_u_and)
    (got,) = segmented_copy(p, s_u, [scarry], method="auto")
    flagword = _bits_word(has_u, 0) ^ _bits_word(has_m, 1)
    back_all, flags_all = unsort(p, [got, flagword], srt)
    back_got = [_arith(back_all[j * nb : (j + 1) * nb]) for j in range(nk)]
    assert isinstance(flags_all, BShare)
    back_flags = [flags_all[j * nb : (j + 1) * nb] for j in range(nk)]
    # a candidate is real when the row is usable and the copy found a usable row; the
    # right rows take the backward flag, the left rows the forward one. Layout from here
    # on: every key's right rows, then every key's left rows.
    hasb = concat_bits(
        [_word_bit(f[:m], 1, m) for f in back_flags] + [_word_bit(f[m:], 0, n) for f in back_flags]
    )
    ok = concat_a(ok_r + ok_l)
    okbits = _word_bit(BShare(ok.a & _ONE, ok.b & _ONE), 0, nt)
    f = b2a_bits(p, and_bits(p, okbits, hasb))
    fl = f[nu:].reshape(nk, n)
    fr = f[:nu].reshape(nk, m)
    # OR over keys: 1 - prod(1 - f), left and right together
    none = and_flags(p, [one_minus(p, concat_a([fl[j], fr[j]])) for j in range(nk)])
    any_ = one_minus(p, none)
    partner = _stack([g_[m:] for g_ in back_got])
    found = _dedup(p, fl, partner, m)
    return ExactLinks(any_[:n], any_[n:], partner, found)


def _arith(x: AShare | BShare) -> AShare:
    assert isinstance(x, AShare)
    return x


_ONE = np.uint64(1)
_U_BIT = 62


def _word_bit(w: BShare, bit: int, n: int) -> BitShare:
    """Bit ``bit`` of every boolean word, packed (local: bits of XOR shares are linear)."""
    sh = np.uint64(bit)
    return BitShare(
        pack(((w.a >> sh) & _ONE).astype(np.bool_)), pack(((w.b >> sh) & _ONE).astype(np.bool_)), n
    )


def _bits_word(x: BitShare, bit: int) -> BShare:
    """Packed bits as one boolean word per row, the bit at position ``bit`` (local)."""
    sh = np.uint64(bit)
    return BShare(
        unpack(x.a, x.n).astype(np.uint64) << sh, unpack(x.b, x.n).astype(np.uint64) << sh
    )


def _reverse(x: BitShare) -> BitShare:
    """The bits in reverse row order (local)."""
    return BitShare(pack(unpack(x.a, x.n)[::-1]), pack(unpack(x.b, x.n)[::-1]), x.n)


def _dedup(p: Party, f: AShare, partner: AShare, m: int) -> AShare:
    """Drop candidate k of a left row when a valid earlier candidate names the same row."""
    nk, n = f.a.shape
    if nk == 1:
        return f
    pairs = [(a, b) for b in range(nk) for a in range(b)]
    xa = concat_a([partner[a] for a, _ in pairs])
    xb = concat_a([partner[b] for _, b in pairs])
    same = b2a_bits(p, eq(p, xa, xb, bits=row_bits(m) + 1))
    va = concat_a([f[a] for a, _ in pairs])
    dup = mul(p, same, va)  # earlier candidate valid and equal
    keep = [f[0]]
    blocks = {pr: dup[i * n : (i + 1) * n] for i, pr in enumerate(pairs)}
    factors: list[list[AShare]] = [
        [f[b]] + [one_minus(p, blocks[(a, b)]) for a in range(b)] for b in range(1, nk)
    ]
    # AND of each candidate's factors, all candidates in the same rounds
    width = max(len(x) for x in factors)
    ones = const(p, 1, n)
    cols = [concat_a([fs[j] if j < len(fs) else ones for fs in factors]) for j in range(width)]
    prod = and_flags(p, cols)
    keep += [prod[i * n : (i + 1) * n] for i in range(nk - 1)]
    return _stack(keep)


def exact_pair_table(p: Party, links: ExactLinks, *, name: str = "pairs") -> SecretTable:
    """The candidate pairs as a secret table of K * n rows (``left_row``, ``right_row``).

    ``left_row`` is public (row i of the left table, once per key), ``right_row`` secret;
    validity is ``found``. Compacting it reveals the number of distinct matched pairs;
    revealing it is the ``pairs`` release. LEAKAGE: nothing (local).
    """
    nk, n = links.found.a.shape
    li = np.tile(np.arange(n, dtype=np.uint64), nk)
    spec_l = ColumnSpec("left_row", "int", nullable=False)
    spec_r = ColumnSpec("right_row", "int", nullable=False)
    cols = {
        "left_row": SecretColumn(spec_l, p.public_a(li)),
        "right_row": SecretColumn(spec_r, links.partner.reshape(nk * n)),
    }
    return SecretTable(cols, links.found.reshape(nk * n), name)


# ---- releases (what each --reveal mode opens) --------------------------------------------


def reveal_pairs(p: Party, match: BitShare, n: int, m: int) -> list[tuple[int, int]]:
    """``pairs``: open the match bits; the (left row, right row) list, row-major order.

    LEAKAGE: the matched pairs (this is the release; the positions of the bits are the
    public pair positions, so the opened bits ARE the pair list, nothing more).
    """
    bits = open_bits(p, match)
    li, ri = np.divmod(np.flatnonzero(bits), max(m, 1))
    return [(int(a), int(b)) for a, b in zip(li, ri, strict=True)]


def _row_sums(p: Party, match: BitShare, n: int, m: int) -> AShare:
    x = b2a_bits(p, match)
    return AShare(
        x.a.reshape(n, m).sum(axis=1, dtype=np.uint64),
        x.b.reshape(n, m).sum(axis=1, dtype=np.uint64),
    )


def reveal_own(p: Party, match: BitShare, n: int, m: int) -> tuple[Arr, Arr]:
    """``own``: per left row the 0/1 match flag and its number of matched right rows.

    The row sums are local after a bit injection; the flag is "sum != 0" (a narrow
    equality). LEAKAGE: exactly the flags and counts of the left rows (nothing about
    which right rows matched).
    """
    if n == 0:
        z = np.zeros(0, np.uint64)
        return z, z.copy()
    if m == 0:
        z = np.zeros(n, np.uint64)
        return z, z.copy()
    sums = _row_sums(p, match, n, m)
    none = b2a_bits(p, eq_public(p, sums, 0, bits=max(2, m.bit_length() + 1)))
    flags = AShare(-none.a, -none.b).add_public(np.uint64(1), p.id)
    opened = open_arith(p, concat_a([flags, sums]))
    return opened[:n], opened[n:]


def reveal_count(p: Party, match: BitShare, n: int, m: int) -> int:
    """``count``: the number of matched pairs. LEAKAGE: that number only."""
    if n == 0 or m == 0:
        return 0
    x = b2a_bits(p, match)
    tot = AShare(x.a.sum(dtype=np.uint64).reshape(1), x.b.sum(dtype=np.uint64).reshape(1))
    return int(open_arith(p, tot)[0])

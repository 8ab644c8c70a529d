"""Overlap (capture-history) tables of k lists of persons, without revealing who is where.

For k >= 2 secret tables and a person key, the count of distinct persons for every
non-empty membership pattern ("in list A only", "in A and B but not C", ...): the input
of multiple-systems estimation. Construction, on three-party replicated shares (Araki
et al., CCS 2016), in the sort-and-scan style of the sort-based joins and PSI of
Mohassel, Rindal and Rosulek (CCS 2020):

1. The k key columns are concatenated; row r of list j carries ``ok_j`` = 1 when it is
   valid with a non-null key (0 for the other lists' rows).
2. One stable oblivious sort by key (Hamada et al., ICISC 2012) brings each person's
   rows together, carrying one boolean word per row whose bit j is ``ok_j``; neighbour
   equality flags the group starts, the group ends follow.
3. A segmented OR over boolean bits (Hillis-Steele, 2 log2 n rounds of k + 1 AND
   gates per row) gives at the group's last row the person's membership bit b_j; one
   bit injection turns the bits into 0/1 ring elements.
4. The products b_T of every subset T of lists (2^k - 1 - k multiplications per row in
   ceil(log2 k) rounds) are summed over the group ends with ONE resharing (dot
   products): M_T = #persons in at least the lists T. The exact-pattern counts follow
   locally by inclusion-exclusion: count(S) = sum over T >= S of (-1)^|T - S| M_T.

LEAKAGE: nothing. The output has a public size (2^k - 1 rows, public pattern bits) and
secret counts; only opening a count reveals it (small cells should be suppressed first).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..mpc.arith import dot, mul
from ..mpc.bits import BitShare, and_bits_many, pack, unpack
from ..mpc.bits import concat as concat_bits
from ..mpc.convert import b2a_bits, bit_extract
from ..mpc.party import Party
from ..mpc.scan import ends_bits, neighbour_same_bits, segmented_or_bits, starts_bits
from ..mpc.shares import AShare, BShare, concat_a
from ..mpc.sort import sort
from .join import check_keys, const, key_columns, rows, stack, usable
from .ops import key_width
from .plain_join import pattern_names
from .table import ColumnSpec, SecretColumn, SecretTable

MAX_LISTS = 12


def key_widths(tables: Sequence[SecretTable], on: Sequence[str]) -> tuple[list[int], list[bool]]:
    """(bits, signed) of every key column from the declared schema
    (:func:`sharelake.relational.ops.key_width`): narrow for bools and category codes.

    A key whose declared width differs between the tables is treated as a signed 64-bit
    value. Only equality of keys matters to the callers, so the sort may use it.
    """
    widths: list[int] = []
    signed: list[bool] = []
    for k in on:
        got = {key_width(t[k].spec) for t in tables}
        w, sg = got.pop() if len(got) == 1 else (64, True)
        widths.append(w)
        signed.append(sg)
    return widths, signed


def presence_bits(
    p: Party, tables: Sequence[SecretTable], on: Sequence[str]
) -> tuple[list[AShare], BitShare, list[BitShare]]:
    """:func:`presence` with boolean results: (sorted key columns, packed group-start
    bits, per table the packed bit "a usable row of table j has this key", meaningful at
    group ends). Requires at least one row in all.

    Every row carries one boolean word through the sort whose bit j is "usable row of
    table j" (bit 0 of the 0/1 usable flag: one resharing of one bit-plane, no carries);
    after the sort, neighbour equality gives the group starts, and a segmented OR over
    bits (:func:`sharelake.mpc.scan.segmented_or_bits`) the membership bits.
    Cost: one sort of sum(n_j) rows with one payload column, one neighbour equality on
    the declared key widths, 2 ceil(log2 n) rounds of k + 1 bits per row.
    LEAKAGE: nothing (nothing is opened besides the sort's outcomes on shuffled distinct
    composite keys).
    """
    sizes = [t.n for t in tables]
    n = sum(sizes)
    keys = key_columns(tables, on)
    widths, signed = key_widths(tables, on)
    ok = usable(p, tables, on)
    okb = bit_extract(p, ok, 0)
    tag = np.repeat(np.arange(len(tables), dtype=np.uint64), sizes)
    word = BShare(
        unpack(okb.a, n).astype(np.uint64) << tag, unpack(okb.b, n).astype(np.uint64) << tag
    )
    sk_any, (sword,) = sort(p, keys, [word], signed=signed, bits=widths)
    sk = [c for c in sk_any if isinstance(c, AShare)]
    assert isinstance(sword, BShare)
    same = neighbour_same_bits(p, sk, widths)
    while len(same) > 1:
        h = len(same) // 2
        same = and_bits_many(p, list(zip(same[:h], same[h : 2 * h], strict=True))) + same[2 * h :]
    starts = starts_bits(p, same[0])
    one = np.uint64(1)
    bits = [
        BitShare(pack((sword.a >> np.uint64(j)) & one), pack((sword.b >> np.uint64(j)) & one), n)
        for j in range(len(tables))
    ]
    return sk, starts, segmented_or_bits(p, starts, bits)


def presence(
    p: Party, tables: Sequence[SecretTable], on: Sequence[str]
) -> tuple[list[AShare], AShare, list[AShare]]:
    """Sort the union of ``tables`` by key and flag, per key group, which lists hold it.

    Returns (the sorted key columns, the 0/1 group-end flags, for each table j the 0/1
    flag "a usable row of table j has this key", meaningful at group ends). Rows past
    the group ends carry partial information and must be masked by the end flags.
    Cost: :func:`presence_bits` (one sort of sum(n_j) rows with one boolean payload
    column, one neighbour equality, 2 ceil(log2 n) rounds of k + 1 bits per row), then
    one bit injection of (k + 1) n bits.
    LEAKAGE: nothing.
    """
    check_keys(tables, on)
    n = sum(t.n for t in tables)
    if n == 0:
        return key_columns(tables, on), const(p, 0, 0), [const(p, 0, 0) for _ in tables]
    sk, starts, flags = presence_bits(p, tables, on)
    got = b2a_bits(p, concat_bits([ends_bits(p, starts), *flags]))
    parts = [
        AShare(got.a[j * n : (j + 1) * n], got.b[j * n : (j + 1) * n])
        for j in range(len(flags) + 1)
    ]
    return sk, parts[0], parts[1:]


def subset_products(p: Party, xs: Sequence[AShare]) -> dict[int, AShare]:
    """The product of every non-empty subset of ``xs`` (keyed by bit mask).

    Blocks of variables merge pairwise: a merged block holds both blocks' products and
    every cross product, all cross products of one level in one multiplication round:
    ceil(log2 k) rounds, 2^k - 1 - k products per element.
    """
    blocks: list[dict[int, AShare]] = [{1 << j: x} for j, x in enumerate(xs)]
    while len(blocks) > 1:
        pairs = [(blocks[i], blocks[i + 1]) for i in range(0, len(blocks) - 1, 2)]
        left: list[AShare] = []
        right: list[AShare] = []
        masks: list[int] = []
        for a, b in pairs:
            for ma, va in a.items():
                for mb, vb in b.items():
                    left.append(va)
                    right.append(vb)
                    masks.append(ma | mb)
        z = rows(mul(p, stack(left), stack(right)))
        merged: list[dict[int, AShare]] = []
        pos = 0
        for a, b in pairs:
            block = {**a, **b}
            for _ in range(len(a) * len(b)):
                block[masks[pos]] = z[pos]
                pos += 1
            merged.append(block)
        if len(blocks) % 2:
            merged.append(blocks[-1])
        blocks = merged
    return blocks[0] if blocks else {}


def at_least_counts(p: Party, ends: AShare, flags: Sequence[AShare]) -> dict[int, AShare]:
    """M_T = number of groups whose flags include every list of T, for all non-empty T.

    The subset products, then one batched dot product with the end flags (one
    resharing of 2^k - 1 elements).
    """
    k = len(flags)
    n = len(ends)
    if n == 0:
        return {m: const(p, 0, 1) for m in range(1, 1 << k)}
    prods = subset_products(p, flags)
    order = sorted(prods)
    y = stack([prods[m] for m in order])
    x = AShare(np.broadcast_to(ends.a, y.a.shape), np.broadcast_to(ends.b, y.b.shape))
    sums = dot(p, x, y)
    return {m: sums[i : i + 1] for i, m in enumerate(order)}


def exact_counts(at_least: dict[int, AShare], k: int) -> dict[int, AShare]:
    """Inclusion-exclusion (local): count(S) = sum_{T >= S} (-1)^{|T - S|} M_T."""
    out: dict[int, AShare] = {}
    full = (1 << k) - 1
    for s in range(1, 1 << k):
        acc = at_least[s]
        rest = full & ~s
        sub = rest
        while sub:
            term = at_least[s | sub]
            acc = acc - term if bin(sub).count("1") % 2 else acc + term
            sub = (sub - 1) & rest
        out[s] = acc
    return out


def overlap(p: Party, tables: list[SecretTable], *, on: str | list[str]) -> SecretTable:
    """The capture-history table of ``tables`` on the person key ``on``.

    One row per non-empty membership pattern q = 1 .. 2^k - 1 (bit j = list j), in that
    order: boolean columns ``in_<name>`` (the table's name, or its position when names
    are missing or repeated; public, trivially shared) and ``count`` (secret) = the
    number of distinct usable keys held by exactly the lists of q. Invalid rows and
    null keys are ignored; duplicates inside one list count once.

    Sort-and-scan in the style of Mohassel, Rindal & Rosulek (CCS 2020); see the
    module docstring. LEAKAGE: nothing (public output size 2^k - 1; counts stay secret
    until the caller opens them, e.g. after small-cell suppression).
    """
    keys = [on] if isinstance(on, str) else list(on)
    k = len(tables)
    if not 2 <= k <= MAX_LISTS:
        raise ValueError(f"an overlap table needs 2 to {MAX_LISTS} lists")
    _, ends, flags = presence(p, tables, keys)
    counts = exact_counts(at_least_counts(p, ends, flags), k)
    names = [t.name for t in tables]
    if any(not nm for nm in names) or len(set(names)) != k:
        names = [str(j) for j in range(k)]
    pats = np.arange(1, 1 << k, dtype=np.uint64)
    cols: dict[str, SecretColumn] = {}
    for j, col in enumerate(pattern_names(names)):
        bits = (pats >> np.uint64(j)) & np.uint64(1)
        cols[col] = SecretColumn(ColumnSpec(col, "bool", nullable=False), p.public_a(bits))
    cnt = concat_a([counts[int(q)] for q in pats])
    cols["count"] = SecretColumn(ColumnSpec("count", "int", nullable=False), cnt)
    return SecretTable(cols, const(p, 1, len(pats)), "overlap")

"""Oblivious stable sort of secret rows by one or more secret keys, carrying payload.

Method (Hamada, Kikuchi, Chida, Ikarashi, Takahashi, ICISC 2012): the keys, the payload
and a secret original-row index are shuffled together under one secret permutation
(:mod:`sharelake.mpc.shuffle`; Araki et al. CCS 2021); the keys are converted to
boolean words once (ABY3 A2B); each key is mapped so that unsigned order on its low
``bits`` bits is the wanted order (sign bit flipped for signed keys, all bits inverted
for descending ones); the composite key is "key 1, key 2, ..., row index", which makes
all composite keys distinct and the sort stable. A quicksort with opened outcomes
(:mod:`sharelake.mpc.quicksort`) gives every shuffled row its public rank, and one
local public permutation puts keys and payload in order.

What it reveals: n, the number of key and payload columns and their kinds, and the
opened comparison outcomes, which are a function of the secret shuffle alone (see
:mod:`sharelake.mpc.quicksort`): nothing about the data. The number of levels and the
message sizes depend only on n and on that random permutation.

Precondition for ``bits < 64``: every key fits in ``bits`` bits (signed keys lie in
[-2^(bits-1), 2^(bits-1)), unsigned ones in [0, 2^bits)); otherwise the order is that of
the low ``bits`` bits (nothing leaks either way).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from .comparator import pack_chunks
from .convert import a2b
from .party import Party
from .quicksort import quicksort_ranks
from .shares import AShare, BShare
from .shuffle import (
    Perm,
    ShufflePlan,
    apply_public_perm,
    invert_perm,
    make_plan,
    shuffle,
    unshuffle,
)

Share = AShare | BShare
Method = Literal["quicksort"]


def index_bits(n: int) -> int:
    """Bits of the row-index tiebreaker for n rows."""
    return max(1, (n - 1).bit_length())


def _per_key(opt: bool | int | Sequence[bool] | Sequence[int], k: int, what: str) -> list[int]:
    if isinstance(opt, bool | int):
        return [int(opt)] * k
    vals = [int(v) for v in opt]
    if len(vals) != k:
        raise ValueError(f"sort: {what} has {len(vals)} entries for {k} keys")
    return vals


def sort_order(
    p: Party,
    keys: Sequence[Share],
    payload: Sequence[Share],
    *,
    descending: bool | Sequence[bool] = False,
    signed: bool | Sequence[bool] = True,
    bits: int | Sequence[int] = 64,
    method: Method = "quicksort",
) -> tuple[list[Share], Perm]:
    """Shuffle ``keys + payload`` and compute the public order of the shuffled rows.

    Returns (the shuffled columns, ``perm``) such that ``apply_public_perm(cols, perm)``
    is the stably sorted table. Building block of :func:`sort` and :func:`argsort`.
    """
    if method != "quicksort":
        raise ValueError(f"unknown sort method {method!r}")
    if not keys:
        raise ValueError("sort needs at least one key column")
    n = len(keys[0])
    for c in [*keys, *payload]:
        if c.a.ndim != 1 or len(c) != n:
            raise ValueError("sort columns must be 1-D and of equal length")
    k = len(keys)
    desc = _per_key(descending, k, "descending")
    sgn = _per_key(signed, k, "signed")
    wid = _per_key(bits, k, "bits")
    if any(not 1 <= w <= 64 for w in wid):
        raise ValueError("sort: key widths must be between 1 and 64 bits")
    cols = [*keys, *payload]
    if n < 2:
        return [c.copy() for c in cols], np.arange(n, dtype=np.intp)
    with p.measure("sort"):
        idx = p.public_b(np.arange(n, dtype=np.uint64))
        mixed = shuffle(p, [*cols, idx])
        fields: list[tuple[BShare, int]] = []
        for j in range(k):
            key = mixed[j]
            w = wid[j]
            kb = a2b(p, key, bits=w) if isinstance(key, AShare) else key
            mask = np.uint64((1 << w) - 1) if w < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
            flip = np.uint64(0)
            if sgn[j]:
                flip ^= np.uint64(1 << (w - 1))
            if desc[j]:
                flip ^= mask
            fields.append((kb.and_public(mask).xor_public(flip, p.id), w))
        last = mixed[-1]
        assert isinstance(last, BShare)
        fields.append((last, index_bits(n)))
        ranks = quicksort_ranks(p, pack_chunks(fields), n)
    return mixed[:-1], invert_perm(ranks)


@dataclass(frozen=True)
class Sorted:
    """A stable sort that can be undone: the result of :func:`sort_undoable`.

    ``keys`` / ``payload``: the sorted columns; ``word``: the sorted tiebreak word (the
    original row index, within its block, in the low :func:`index_bits` bits, the
    caller's ``extra`` bits above); ``plan`` and ``ranks`` (public) let :func:`unsort`
    return columns computed in sorted order to the input order.
    """

    keys: list[Share]
    payload: list[Share]
    word: BShare
    plan: ShufflePlan
    ranks: Perm


def sort_undoable(
    p: Party,
    keys: Sequence[AShare | BShare],
    payload: Sequence[Share] = (),
    *,
    signed: bool | Sequence[bool] = True,
    bits: int | Sequence[int] = 64,
    extra: BShare | None = None,
    blocks: Sequence[int] | None = None,
    narrow: Collection[int] = (),
    narrow21: Collection[int] = (),
) -> Sorted:
    """:func:`sort` (ascending), also returning what :func:`unsort` needs.

    ``extra``: a boolean word per row whose bits from :func:`index_bits` (n) upwards ride
    along with the row index (its low bits must be 0; they are not part of the key), so
    a few secret bits travel through the sort without a column of their own.
    ``blocks``: public sizes of consecutive row blocks (summing to n) that are sorted
    each on its own, in the same rounds: the shuffle is block-diagonal, the row index
    counts within the block (so it is narrower), and the result keeps every block in
    its rows. K independent sorts of this kind cost fewer rounds than K calls.
    Payload columns may be 2-D (n, k: k values a row travel together); ``narrow``:
    indices of arithmetic payload columns needed modulo 2^32 only (half the bytes at
    the semi-honest level; see :func:`~sharelake.mpc.shuffle.shuffle`); ``narrow21``:
    those needed modulo 2^21 only (a third of the bytes).
    LEAKAGE: as :func:`sort` (the opened comparison outcomes depend on the shuffle only);
    the block sizes are public.
    """
    n = len(keys[0]) if keys else 0
    k = len(keys)
    sgn = _per_key(signed, k, "signed")
    wid = _per_key(bits, k, "bits")
    if any(not 1 <= w <= 64 for w in wid):
        raise ValueError("sort: key widths must be between 1 and 64 bits")
    for c in keys:
        if c.a.ndim != 1 or len(c) != n:
            raise ValueError("sort columns must be 1-D and of equal length")
    for c in payload:
        if c.a.ndim not in (1, 2) or c.a.shape[0] != n:
            raise ValueError("sort payload columns must be 1-D or 2-D and of equal length")
    sizes = [n] if blocks is None else [int(b) for b in blocks]
    if any(b < 0 for b in sizes) or sum(sizes) != n:
        raise ValueError(f"sort: blocks {sizes} do not add up to {n} rows")
    local = [np.arange(b, dtype=np.uint64) for b in sizes]
    idx = p.public_b(np.concatenate(local) if local else np.zeros(0, dtype=np.uint64))
    if extra is not None:
        idx = idx ^ extra
    plan = make_plan(p, n, blocks=None if blocks is None else sizes)
    if n < 2:
        return Sorted(
            [c.copy() for c in keys],
            [c.copy() for c in payload],
            idx,
            plan,
            np.arange(n, dtype=np.intp),
        )
    with p.measure("sort"):
        mixed = shuffle(
            p,
            [*keys, *payload, idx],
            plan=plan,
            narrow={k + i for i in narrow},
            narrow21={k + i for i in narrow21},
        )
        fields: list[tuple[BShare, int]] = []
        for j in range(k):
            key = mixed[j]
            w = wid[j]
            kb = a2b(p, key, bits=w) if isinstance(key, AShare) else key
            mask = np.uint64((1 << w) - 1) if w < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
            flip = np.uint64(1 << (w - 1)) if sgn[j] else np.uint64(0)
            fields.append((kb.and_public(mask).xor_public(flip, p.id), w))
        last = mixed[-1]
        assert isinstance(last, BShare)
        fields.append((last, index_bits(max(sizes))))
        ranks = quicksort_ranks(p, pack_chunks(fields), n, blocks=sizes)
    out = apply_public_perm(mixed, invert_perm(ranks))
    word = out[-1]
    assert isinstance(word, BShare)
    return Sorted(out[:k], out[k:-1], word, plan, ranks)


def unsort(
    p: Party, cols: Sequence[Share], s: Sorted, *, narrow: Collection[int] = ()
) -> list[Share]:
    """Columns in the sorted order of ``s`` back in the input order.

    The public ranks undo the local reordering, then :func:`~sharelake.mpc.shuffle.unshuffle`
    undoes the secret shuffle (3 rounds, the cost of a shuffle). Columns may be 2-D;
    ``narrow`` as in :func:`sort_undoable`. LEAKAGE: nothing; nothing is opened.
    """
    shuffled = apply_public_perm(cols, s.ranks)
    return unshuffle(p, shuffled, s.plan, narrow=narrow)


def sort(
    p: Party,
    keys: Sequence[AShare | BShare],
    payload: Sequence[Share] = (),
    *,
    descending: bool | Sequence[bool] = False,
    signed: bool | Sequence[bool] = True,
    bits: int | Sequence[int] = 64,
    method: Method = "quicksort",
) -> tuple[list[Share], list[Share]]:
    """Stably sort the rows by ``keys`` (most significant first); returns (keys, payload).

    Keys may be arithmetic (converted once with A2B) or boolean (two's complement words)
    sharings; ``descending``, ``signed`` and ``bits`` apply to all keys or give one value
    per key. Equal composite keys keep their input order. Outputs are fresh sharings of
    the same kinds as the inputs.

    Cost (measured, see BENCHMARKS.md): one shuffle of all columns plus the index, one
    A2B per arithmetic key (of its low ``bits`` bits only), and about n log2 n
    comparisons of the composite key (2 (b - 1) AND gates each, b its width padded as in
    :func:`sharelake.mpc.quicksort.pack_chunks`) in about 3 log2 n levels of
    log2(b) + 2 rounds (see :func:`sharelake.mpc.quicksort.quicksort_ranks`).
    """
    cols, perm = sort_order(
        p, keys, payload, descending=descending, signed=signed, bits=bits, method=method
    )
    out = apply_public_perm(cols, perm)
    return out[: len(keys)], out[len(keys) :]


def argsort(
    p: Party,
    keys: Sequence[AShare | BShare],
    *,
    descending: bool | Sequence[bool] = False,
    signed: bool | Sequence[bool] = True,
    bits: int | Sequence[int] = 64,
) -> AShare:
    """The secret stable sorting order: element j is the input row of the j-th smallest key.

    Like ``numpy.lexsort`` / ``argsort(kind="stable")``, but the result stays secret.
    """
    n = len(keys[0]) if keys else 0
    _, (order,) = sort(
        p,
        keys,
        [p.public_a(np.arange(n, dtype=np.uint64))],
        descending=descending,
        signed=signed,
        bits=bits,
    )
    assert isinstance(order, AShare)
    return order


def plain_sort_order(
    keys: Sequence[npt.ArrayLike],
    *,
    descending: bool | Sequence[bool] = False,
    signed: bool | Sequence[bool] = True,
    bits: int | Sequence[int] = 64,
) -> Perm:
    """Plaintext twin: the stable order :func:`sort` produces (row indices, sorted first).

    Keys are ring words (uint64) or integers; the same width, sign and direction mapping
    as the secure sort is applied, then ``numpy.lexsort`` (stable).
    """
    k = len(keys)
    desc = _per_key(descending, k, "descending")
    sgn = _per_key(signed, k, "signed")
    wid = _per_key(bits, k, "bits")
    mapped = []
    for j, key in enumerate(keys):
        v = np.asarray(key)
        u = v.astype(np.int64).view(np.uint64) if v.dtype != np.uint64 else v
        w = wid[j]
        mask = np.uint64((1 << w) - 1) if w < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
        flip = np.uint64(0)
        if sgn[j]:
            flip ^= np.uint64(1 << (w - 1))
        if desc[j]:
            flip ^= mask
        mapped.append((u & mask) ^ flip)
    if not mapped:
        return np.zeros(0, dtype=np.intp)
    order: Perm = np.lexsort(mapped[::-1]).astype(np.intp)
    return order

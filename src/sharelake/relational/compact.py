"""Compaction (drop invalid rows, revealing only how many are left) and result release.

:func:`compact` shuffles every column and the validity of a table together under one
secret permutation (the resharing shuffle of :mod:`sharelake.mpc.shuffle`; Araki,
Furukawa, Ohara, Rindal & Smart, CCS 2021), then opens ONLY the validity bits and keeps
the rows whose bit is 1. After the shuffle the positions of the ones are uniformly
random, so the opened bits reveal their number and nothing else (the shuffle-then-reveal
compaction of Falk & Ostrovsky, "Secure merge with O(n log log n) secure operations",
ITC 2021, and of Hamada et al.'s shuffle-and-reveal sorts). With ``order="stable"``
the kept rows are put back into their input order by a secret sort on a hidden row
index, so e.g. a sorted result stays sorted.

:func:`reveal` compacts and then opens every column to the three parties: the release
of a result (for tests, or the node's output path, which sends shares instead).

LEAKAGE: ``compact`` opens the number of valid rows (a size). ``reveal`` opens the
number of valid rows and every value of every valid row, in table order with
``order="stable"`` (the default) or in random order.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..errors import IntegrityError
from ..mpc.arith import open_arith
from ..mpc.party import Party
from ..mpc.ring import Arr
from ..mpc.shares import AShare
from ..mpc.shuffle import shuffle
from ..mpc.sort import index_bits, sort
from .ops import table_columns, table_from_columns
from .table import SecretTable

Order = Literal["random", "stable"]

__all__ = ["Order", "compact", "reveal"]


def compact(p: Party, t: SecretTable, *, order: Order = "random") -> SecretTable:
    """The valid rows of ``t`` only (all valid in the result).

    One shuffle of all columns (3 rounds), one opening of the n validity bits (1 round);
    with ``order="stable"`` also one sort of the kept rows by their secret original row
    index (``index_bits(n)``-bit key).

    LEAKAGE: the number of valid rows. Nothing else: which input rows were valid stays
    hidden behind the secret permutation.
    """
    n = t.n
    with p.measure("compact"):
        cols = table_columns(t)
        extra = [p.public_a(np.arange(n, dtype=np.uint64))] if order == "stable" else []
        if n == 0:
            return t
        mixed = [_arith(c) for c in shuffle(p, [*cols, *extra])]
        bits = open_arith(p, mixed[0])
        if np.any(bits > 1):
            raise IntegrityError(f"P{p.id}: opened validity bits are not 0/1; the query aborts")
        keep = np.flatnonzero(bits == 1).astype(np.intp)
        kept = [AShare(c.a[keep], c.b[keep]) for c in mixed]
        if order == "stable" and len(keep) > 1:
            _, moved = sort(p, [kept[-1]], kept[:-1], signed=False, bits=index_bits(n))
            kept = [_arith(c) for c in moved]
        else:
            kept = kept[: len(cols)]
        return table_from_columns(t, kept[: len(cols)])


def _arith(s: object) -> AShare:
    if not isinstance(s, AShare):
        raise TypeError("expected an arithmetic sharing")
    return s


def reveal(p: Party, t: SecretTable, *, order: Order = "stable") -> dict[str, Arr]:
    """Compact, then open every column to all three parties (one batched opening).

    Returns ring values per column name (uint64, two's complement; decode with
    :func:`sharelake.relational.encode.decode_column`), ``"<name>.null"`` (0/1) for
    nullable columns and ``"<name>.text"`` (rows x words) for strings.

    LEAKAGE: the number of valid rows and all their values (this IS the release).
    """
    c = compact(p, t, order=order)
    cols = table_columns(c)[1:]
    m = c.n
    with p.measure("reveal"):
        if cols:
            flat = open_arith(
                p, AShare(np.concatenate([x.a for x in cols]), np.concatenate([x.b for x in cols]))
            )
        else:
            flat = np.zeros(0, dtype=np.uint64)
    out: dict[str, Arr] = {}
    pos = 0

    def take() -> Arr:
        nonlocal pos
        v = flat[pos : pos + m].copy()
        pos += m
        return v

    for name, col in c.columns.items():
        out[name] = take()
        if col.null is not None:
            out[f"{name}.null"] = take()
        if col.text is not None:
            w = col.text.a.shape[1]
            out[f"{name}.text"] = np.stack([take() for _ in range(w)], axis=1).reshape(m, w)
    return out

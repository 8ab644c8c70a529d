"""De-duplication: keep the first valid row of every distinct key.

Method: an oblivious stable sort by (invalid rows last, key null flags, key values)
carrying the whole table (shuffle + quicksort on distinct composite keys, Hamada,
Kikuchi, Chida, Ikarashi & Takahashi, ICISC 2012), one batched neighbour equality
(:func:`sharelake.mpc.scan.neighbour_same`), then validity = valid AND "first
row of its key" (one multiplication). Because the sort is stable, the kept row is the
first in input order among the valid rows with that key (pandas
``drop_duplicates(keep="first")``; nulls compare equal to nulls).

LEAKAGE: nothing. The output keeps the input's row count (in key order); the number
of distinct keys stays secret until a compaction opens the size.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..mpc.party import Party
from ..mpc.scan import and_flags, mul_many, neighbour_same, starts_from_same
from .ops import group_sort_keys, sort_by_keys
from .table import SecretTable

__all__ = ["distinct"]


def distinct(p: Party, t: SecretTable, keys: Sequence[str] | None = None) -> SecretTable:
    """The first valid row of every distinct combination of ``keys`` (default: all
    columns except string bytes; a string compares by its digest).

    Cost: one multiplication (null zeroing), one sort of the table, one batched
    equality over the sorted key fields, an AND tree, one multiplication.

    LEAKAGE: nothing (see the module docstring).
    """
    names = list(keys) if keys is not None else t.names
    if not names:
        raise ValueError("distinct needs at least one key column")
    for nm in names:
        t[nm].spec  # noqa: B018 - raises KeyError naming the column
    if t.n == 0:
        return t
    with p.measure("distinct"):
        sk = group_sort_keys(p, t, names)
        st, skeys, _ = sort_by_keys(p, t, sk)
        if t.n == 1:
            return st
        same = neighbour_same(p, skeys, [k.bits for k in sk])
        all_same = and_flags(p, same)
        first = starts_from_same(p, all_same)
        (valid,) = mul_many(p, [(st.valid, first)])
        return st.with_valid(valid)

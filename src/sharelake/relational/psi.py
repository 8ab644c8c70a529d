"""Private set intersection on secret-shared key columns: cardinality, flags, intersection.

All three run on the oblivious sort-merge kernels of :mod:`sharelake.relational.join`
and :mod:`sharelake.relational.overlap` (the PSI on secret-shared data of Mohassel,
Rindal and Rosulek, CCS 2020, with the stable shuffle-then-quicksort of Hamada et al.,
ICISC 2012, on the replicated sharing of Araki et al., CCS 2016). Sets are the distinct
keys of a table's usable rows (valid, no null key); one or more key columns form a key.

LEAKAGE: nothing; every result is secret. Opening :func:`psi_cardinality` reveals
|A ∩ B|; opening the flags reveals which of A's rows match; compacting the
intersection reveals its size.
"""

from __future__ import annotations

from ..mpc.arith import dot, mul
from ..mpc.party import Party
from ..mpc.shares import AShare
from .join import const, membership
from .overlap import presence
from .table import SecretColumn, SecretTable


def _keys(on: str | list[str]) -> list[str]:
    return [on] if isinstance(on, str) else list(on)


def psi_cardinality(p: Party, a: SecretTable, b: SecretTable, *, on: str | list[str]) -> AShare:
    """|keys(A) ∩ keys(B)| as a secret (a sharing of one element).

    Sort the union by key, mark per key group whether A and B hold it (segmented sum and
    a short equality), multiply, and sum over the group ends with one dot product.
    Cost: one sort of n_A + n_B rows with 2 payload columns, log2(n) scan rounds.
    LEAKAGE: nothing; opening the result reveals the intersection size.
    """
    _, ends, (in_a, in_b) = presence(p, [a, b], _keys(on))
    if len(ends) == 0:
        return const(p, 0, 1)
    both = mul(p, in_a, in_b)
    return dot(p, ends.reshape(1, -1), both.reshape(1, -1))


def psi_flags(p: Party, a: SecretTable, b: SecretTable, *, on: str | list[str]) -> AShare:
    """0/1 per row of A, in A's order: the row is valid, its key is not null and is in B.

    The semi-join kernel: one sort of n_A + n_B rows, a segmented copy, and the return
    to A's order by a fresh shuffle and the opening of uniformly random positions.
    LEAKAGE: nothing; opening the flags reveals which of A's rows are in B.
    """
    return membership(p, a, b, _keys(on))


def intersection(p: Party, a: SecretTable, b: SecretTable, *, on: str | list[str]) -> SecretTable:
    """The distinct keys common to A and B: a table of the key columns only.

    Size n_A + n_B, in key order; a row is valid exactly at the last row of a key group
    held by both tables (each common key once). LEAKAGE: nothing; compacting the result
    reveals |A ∩ B|.
    """
    keys = _keys(on)
    sk, ends, (in_a, in_b) = presence(p, [a, b], keys)
    valid = const(p, 0, 0) if len(ends) == 0 else mul(p, ends, mul(p, in_a, in_b))
    cols = {
        k: SecretColumn(a[k].spec, v, const(p, 0, len(v))) for k, v in zip(keys, sk, strict=True)
    }
    return SecretTable(cols, valid, f"{a.name}&{b.name}")

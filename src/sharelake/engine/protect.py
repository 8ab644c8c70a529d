"""Output protection as MPC operators: groups with fewer than k rows suppressed on shares.

:func:`suppress_small_groups` decides ``count < k`` on shares (a narrow-width comparison,
:func:`~sharelake.mpc.compare.lt_public`), ANDs "not small" into the secret validity and
sums the suppressed groups, all without opening anything. The later compaction opens only
the surviving groups; the release reports how many were suppressed (that one number is
opened). Which plans need it, and the row count it decides on, are the rules of
:mod:`sharelake.governance.outputs`; the differencing check is :mod:`.atoms`.
"""

from __future__ import annotations

import numpy as np

from ..mpc.arith import mul
from ..mpc.compare import lt_public
from ..mpc.convert import b2a_bits
from ..mpc.party import Party
from ..mpc.shares import AShare
from ..relational.table import SecretTable

__all__ = ["suppress_small_groups"]


def suppress_small_groups(
    p: Party, table: SecretTable, count_col: str, k: int, *, max_count: int | None = None
) -> tuple[SecretTable, AShare]:
    """Mark the groups of ``table`` with fewer than ``k`` rows invalid, on shares.

    Parameters
    ----------
    p
        This party's protocol context.
    table
        A group-by result (one row per group, secret validity).
    count_col
        The column holding each group's row count.
    k
        The minimum group size (public).
    max_count
        A public upper bound on any count (e.g. the number of input rows); the
        comparison then runs on ``max(max_count, k).bit_length() + 2`` bits. Without
        it the full 64-bit comparison is used: the result's own row count is NOT a
        bound (an overlap table has few rows but large counts).

    Returns
    -------
    (SecretTable, AShare)
        The table with validity ``valid AND count >= k``, and a one-element sharing of
        the number of valid groups that were suppressed.

    Notes
    -----
    Cost: one comparison (narrow when ``max_count`` is given), one bit
    injection and one multiplication round. LEAKAGE: nothing (the count of suppressed
    groups stays shared until the caller opens it).
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    n = table.n
    if n == 0:
        zero = p.public_a(np.zeros(1, dtype=np.uint64))
        return table, zero
    bits = 64 if max_count is None else min(64, max(max_count, k).bit_length() + 2)
    small = b2a_bits(p, lt_public(p, table[count_col].values, k, bits=bits))
    gone = mul(p, table.valid, small)
    total = AShare(gone.a.sum(keepdims=True), gone.b.sum(keepdims=True))
    return table.with_valid(table.valid - gone), total

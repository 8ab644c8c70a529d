"""Top-k rows by one or more columns.

Method: :func:`sharelake.relational.ops.sort_table` (stable oblivious sort, invalid
rows last, nulls last; Hamada et al., ICISC 2012), then the first k rows keep their
validity and the others become invalid. Since the valid rows come first after the sort,
"position < k" is a public mask and the step is local.

LEAKAGE: nothing. The output keeps the input's row count; how many of the k rows are
valid (min(k, valid rows)) is opened only by a later compaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..mpc.party import Party
from .ops import sort_table
from .table import SecretTable

__all__ = ["top_k"]


def top_k(
    p: Party,
    t: SecretTable,
    by: str | Sequence[str],
    k: int,
    *,
    descending: bool | Sequence[bool] = True,
) -> SecretTable:
    """The k first valid rows in the order of ``by`` (largest first by default), ties
    in input order, nulls after all non-null values (pandas
    ``sort_values(by, ascending=not descending, kind="stable", na_position="last").head(k)``).

    LEAKAGE: nothing (see the module docstring).
    """
    if k < 0:
        raise ValueError("top_k: k must be non-negative")
    with p.measure("top_k"):
        st = sort_table(p, t, by, descending=descending)
        mask = (np.arange(st.n) < k).astype(np.uint64)
        return st.with_valid(st.valid.scale(mask))

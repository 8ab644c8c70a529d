"""Erasure of a person's rows inside MPC: oblivious semi-join, then compaction.

The owner's client secret-shares the record ids to erase (padded with null ids to a
power of two, so the nodes learn only a bound on how many ids were sent). The nodes

1. flag every row of the table whose id occurs among them: the semi-join kernel of
   :func:`sharelake.relational.psi.psi_flags` (the PSI on secret-shared data of
   Mohassel, Rindal and Rosulek, CCS 2020, on the replicated sharing of Araki et al.,
   CCS 2016); a null id never matches;
2. clear those rows' validity bits (``valid - flag``: a flag is only set on a valid row);
3. compact the table with ``order="stable"`` (:func:`sharelake.relational.compact.compact`:
   one resharing shuffle, then the validity bits opened, then the kept rows sorted back
   into their stored order by a secret row index).

The kept rows are fresh shares (the shuffle reshares every value), written as the
table's next version; the old version is destroyed by the node.

LEAKAGE: the number of rows removed (the compaction opens the number of kept rows; the
table's size is public). Not which rows, not which ids, not whether a given id matched.
"""

from __future__ import annotations

from ..mpc.party import Party
from ..relational.compact import compact
from ..relational.psi import psi_flags
from ..relational.table import SecretTable

__all__ = ["erase_rows"]


def erase_rows(p: Party, table: SecretTable, ids: SecretTable, *, column: str) -> SecretTable:
    """``table`` without the rows whose ``column`` occurs in ``ids[column]``.

    Parameters
    ----------
    p
        This party.
    table
        The stored table (every row valid, as stored tables are).
    ids
        A one-column table of the ids to erase (null entries are padding).
    column
        The id column, in both tables.

    Returns
    -------
    SecretTable
        The kept rows, all valid, in their stored order; ``table.n - result.n`` rows were
        removed.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sharelake.harness.runner import run_parties
    >>> from sharelake.relational.encode import encode_frame, share_table
    >>> from sharelake.relational.table import ColumnSpec
    >>> from sharelake.relational.compact import reveal
    >>> spec = [ColumnSpec("record_id", "int", nullable=True), ColumnSpec("age", "int")]
    >>> t = share_table(encode_frame(pd.DataFrame({"record_id": [1, 2, 3], "age": [30, 40, 50]}),
    ...                              spec))
    >>> i = share_table(encode_frame(pd.DataFrame({"record_id": [2, None]}), spec[:1]))
    >>> out = run_parties(lambda p, a, b: reveal(p, erase_rows(p, a, b, column="record_id")),
    ...                   [{"a": t[k], "b": i[k]} for k in range(3)])
    >>> out[0]["age"].view(np.int64).tolist()
    [30, 50]
    """
    if column not in table.columns or column not in ids.columns:
        raise ValueError(f"both tables need the id column {column!r}")
    flags = psi_flags(p, table, ids, on=column)
    return compact(p, table.with_valid(table.valid - flags), order="stable")

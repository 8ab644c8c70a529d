"""Design mode: run a plan on dummy tables generated from the schemas, never the data.

An analyst develops a query without touching anyone's records: the client asks the nodes
for the public schemas of the tables the plan reads, generates dummy tables from them
(:func:`sharelake.engine.design.design_tables`), secret-shares those locally and runs
the very same executor the nodes run, on three in-memory parties. The result has the
shape the real release would have; its values mean nothing. When the query does what it
should, :meth:`sharelake.client.frame.Table.request_approval` submits it.

Nothing is sent to the nodes except the request for schemas; output protection
(suppression of small groups) is not applied to dummy results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..engine.design import design_tables
from ..engine.executor import execute, release_rows
from ..mpc.party import Party
from ..net.memory import run_in_memory
from ..plan import tree
from ..relational.encode import encode_frame, share_table
from ..relational.table import ColumnSpec, SecretTable
from ..storage.bundle import encode_bundle
from .results import rebuild


def _design_body(p: Party, plan: tree.Plan, tables: Mapping[str, SecretTable]) -> bytes:
    result = execute(p, plan, tables.__getitem__)
    released = release_rows(p, result, ordered=tree.ordered(plan))
    return encode_bundle(released.meta, released.arrays)


def run_design(
    plan: Mapping[str, Any],
    schemas: Mapping[str, Sequence[ColumnSpec]],
    *,
    rows: int = 100,
    seed: int = 0,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Run ``plan`` on dummy tables made from ``schemas`` and return the dummy result.

    Parameters
    ----------
    plan
        The plan JSON (as :attr:`Table.plan` gives it).
    schemas
        The public schema of every table the plan reads.
    rows
        Rows per dummy table.
    seed
        Seed of the dummy data generator.
    columns
        The column order of the result, when known.

    Returns
    -------
    pandas.DataFrame
        The result on dummy data; ``df.attrs["design"]`` is True.

    Examples
    --------
    >>> from sharelake.plan import nodes as pn
    >>> from sharelake.relational.table import ColumnSpec
    >>> plan = pn.make_plan(pn.head(pn.scan("t"), 3))
    >>> run_design(plan, {"t": [ColumnSpec("x", "int")]}, rows=10).shape
    (3, 1)
    """
    typed = tree.from_json(plan)  # checked and typed once; the engine reads the typed plan
    needed = tree.tables(typed)
    missing = [t for t in needed if t not in schemas]
    if missing:
        raise KeyError(f"no schema for table(s): {', '.join(missing)}")
    wanted: dict[str, Sequence[ColumnSpec | Mapping[str, Any]]] = {t: schemas[t] for t in needed}
    frames = design_tables(wanted, rows, seed)
    shared = {
        t: share_table(encode_frame(frames[t], list(schemas[t]), source=f"dummy {t}"), name=t)
        for t in needed
    }
    inputs: list[Mapping[str, Any]] = [
        {"plan": typed, "tables": {t: shared[t][i] for t in needed}} for i in range(3)
    ]
    bundles = run_in_memory(_design_body, inputs)
    df = rebuild(bundles, plan, columns=columns)
    df.attrs["design"] = True
    return df

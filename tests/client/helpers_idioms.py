"""Run a lazy table's plan on real frames in memory, the way a node runs it (with k).

The frames are encoded and secret-shared here, the plan runs on three in-memory parties
by the engine's executor, small groups are suppressed on shares as a node's governance
does (:func:`sharelake.governance.outputs.protected_plan`,
:func:`sharelake.engine.protect.suppress_small_groups`), and the client rebuilds the
result as ``collect()`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sharelake.client.frame import Normalize, Table
from sharelake.client.results import rebuild
from sharelake.engine.executor import execute, release_rows
from sharelake.engine.protect import suppress_small_groups
from sharelake.governance.outputs import HIDDEN_COUNT, protected_plan
from sharelake.mpc.arith import open_arith
from sharelake.mpc.party import Party
from sharelake.net.memory import run_in_memory
from sharelake.plan import tree
from sharelake.relational.encode import encode_frame, share_table
from sharelake.relational.table import ColumnSpec, SecretTable
from sharelake.storage.bundle import encode_bundle

Frames = Mapping[str, tuple[pd.DataFrame, Sequence[ColumnSpec]]]


def _body(
    p: Party,
    plan: tree.Plan,
    tables: Mapping[str, SecretTable],
    k: int,
    count_col: str,
    hidden: bool,
) -> bytes:
    result = execute(p, plan, tables.__getitem__)
    suppressed = 0
    if k:
        bound = sum(t.n for t in tables.values())
        result, gone = suppress_small_groups(p, result, count_col, k, max_count=bound)
        suppressed = int(open_arith(p, gone)[0])
        if hidden:
            result = result.select([c for c in result.names if c != HIDDEN_COUNT])
    released = release_rows(p, result, ordered=tree.ordered(plan))
    released.meta["suppressed"] = suppressed  # as a node reports it
    return encode_bundle(released.meta, released.arrays)


def run(q: Table, frames: Frames, *, k: int = 0) -> pd.DataFrame:
    """The DataFrame ``q.collect()`` would give over ``frames`` (k: the minimum group size
    of an aggregate release; 0: no suppression, as for reveal-only results)."""
    typed = tree.from_json(q.plan)
    count_col, hidden = "", False
    if k:
        run_plan, col, hidden = protected_plan(typed)
        assert col is not None, "k given for a result that is not an aggregate"
        typed, count_col = run_plan, col
    names = tree.tables(typed)
    shared = {t: share_table(encode_frame(frames[t][0], list(frames[t][1])), name=t) for t in names}
    inputs: list[Mapping[str, Any]] = [
        {
            "plan": typed,
            "tables": {t: shared[t][i] for t in names},
            "k": k,
            "count_col": count_col,
            "hidden": hidden,
        }
        for i in range(3)
    ]
    bundles = run_in_memory(_body, inputs, deadline=120.0)
    df = rebuild(bundles, q.plan, columns=q.columns)
    if isinstance(q._shape, Normalize) and df.attrs.get("suppressed_groups"):
        return q._shape.apply(df, run(q._shape.total, frames, k=k))
    return df if q._shape is None else q._shape.apply(df)  # as collect() reshapes


def frame_equal(got: pd.DataFrame, want: pd.DataFrame, *, by: Sequence[str] | None = None) -> None:
    """Equal as pandas results: same columns and values (missing = missing), rows sorted by
    ``by`` first when given (a released row order is random unless the plan sorts)."""
    g, w = got.reset_index(drop=True), want.reset_index(drop=True)
    if by is not None:
        g = g.sort_values(list(by), kind="stable").reset_index(drop=True)
        w = w.sort_values(list(by), kind="stable").reset_index(drop=True)
    assert list(g.columns) == list(w.columns), (list(g.columns), list(w.columns))
    assert len(g) == len(w), (len(g), len(w))
    for c in g.columns:
        gv, wv = _plain(g[c]), _plain(w[c])
        assert gv == wv, (c, gv, wv)


def _plain(s: pd.Series[Any]) -> list[Any]:
    out: list[Any] = []
    for v in s.astype(object).tolist():
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
        elif isinstance(v, bool | np.bool_):
            out.append(int(v))
        elif isinstance(v, float | np.floating):
            out.append(round(float(v), 6))
        elif isinstance(v, np.integer):
            out.append(int(v))
        else:
            out.append(v if not isinstance(v, pd.Timestamp) else v.date())
    return out

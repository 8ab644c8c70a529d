"""Filter and assign on a fixed column with number literals, through the node's operators."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sharelake.harness.runner import run_parties
from sharelake.mpc.party import Party
from sharelake.relational import ops
from sharelake.relational.expr import col
from sharelake.relational.table import ColumnSpec

from .helpers import released, released_frame, table_inputs, unpack_table

SPECS = [ColumnSpec("score", "fixed"), ColumnSpec("n", "int")]


def _body(p: Party, t: dict[str, Any]) -> dict[str, Any]:
    tt = unpack_table(t)
    kept = ops.filter_rows(p, tt, (col("score") > 0.5) & (col("score") * 2 <= 3))
    out = ops.assign(p, tt, s=col("score") * 0.5 + 1, f=col("score").fill_null(0.25))
    return {"kept": released(p, kept), "out": released(p, out)}


def test_a_filter_and_an_assign_with_number_literals_on_a_fixed_column_match_pandas() -> None:
    df = pd.DataFrame(
        {
            "score": pd.array([0.5, 0.75, None, -1.0, 1.5, 1.5 + 2**-16, 0.0], dtype="Float64"),
            "n": pd.array(range(7), dtype="Int64"),
        }
    )
    parts = table_inputs({"t": (df, SPECS)})
    res = run_parties(_body, [{"t": x["t"]} for x in parts])[0]
    kept = released_frame(res["kept"])
    want = df[((df.score > 0.5) & (df.score * 2 <= 3)).fillna(False)]
    assert list(kept["n"]) == list(want["n"])
    out = released_frame(res["out"])
    s = df.score.to_numpy(dtype=float, na_value=np.nan)
    got_s = out["s"].to_numpy(dtype=float, na_value=np.nan)
    assert np.allclose(got_s, np.floor(s * 0.5 * 2**16) / 2**16 + 1, equal_nan=True)
    assert list(out["f"]) == [0.5, 0.75, 0.25, -1.0, 1.5, 1.5 + 2**-16, 0.0]

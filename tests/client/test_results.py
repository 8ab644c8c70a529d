"""Rebuilding results from three bundles: types come back, tampering is caught and named."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from sharelake.client.results import rebuild
from sharelake.errors import IntegrityError
from sharelake.mpc.sharing import share_arith
from sharelake.plan import nodes as pn
from sharelake.relational.encode import encode_frame
from sharelake.relational.table import ColumnSpec, spec_to_json
from sharelake.storage.bundle import encode_bundle

SPECS = [
    ColumnSpec("k", "category", categories=("a", "b")),
    ColumnSpec("n", "int"),
    ColumnSpec("x", "fixed"),
    ColumnSpec("name", "string", max_len=8),
    ColumnSpec("day", "date"),
    ColumnSpec("m_sum", "fixed", nullable=False),
    ColumnSpec("m_count", "int", nullable=False),
]
FRAME = pd.DataFrame(
    {
        "k": ["b", "a", None],
        "n": [1, None, 3],
        "x": [0.5, -1.25, 2.0],
        "name": ["Ann", None, "Zoë"],
        "day": ["2024-02-29", "1999-12-31", None],
        "m_sum": [3.0, 0.0, 5.0],
        "m_count": [2, 0, 4],
    }
)


def bundles(frame: pd.DataFrame = FRAME, costs: list[dict[str, Any]] | None = None) -> list[bytes]:
    arrays: list[dict[str, Any]] = [{}, {}, {}]
    for c in encode_frame(frame, SPECS):
        parts = [("values", c.values), ("null", c.null)] + (
            [("text", c.text)] if c.text is not None else []
        )
        for part, x in parts:
            for i, sh in enumerate(share_arith(x)):
                arrays[i][f"{c.spec.name}.{part}.a"] = sh.a
                arrays[i][f"{c.spec.name}.{part}.b"] = sh.b
    meta = {"columns": [spec_to_json(s) for s in SPECS], "rows": len(frame)}
    if costs is None:
        return [encode_bundle(meta, a) for a in arrays]
    return [encode_bundle({**meta, "cost": c}, a) for a, c in zip(arrays, costs, strict=True)]


PLAN = pn.make_plan(pn.groupby(pn.scan("t"), ["k"], {"m": ("x", "mean")}))


def test_the_result_comes_back_with_pandas_types_and_finished_means() -> None:
    df = rebuild(bundles(), PLAN)
    assert list(df.columns) == ["k", "n", "x", "name", "day", "m"]
    assert df["k"].tolist()[:2] == ["a", "b"] and pd.isna(df["k"].iloc[2])  # sorted by key
    assert str(df["n"].dtype) == "Int64"
    assert df["x"].tolist() == [-1.25, 0.5, 2.0]
    assert df["name"].tolist() == [None, "Ann", "Zoë"]
    assert df["day"].iloc[1] == pd.Timestamp("2024-02-29")
    assert df["m"].iloc[1] == 1.5 and np.isnan(df["m"].iloc[0])


def test_a_tampered_share_is_caught_and_the_nodes_are_named() -> None:
    good = bundles()
    from sharelake.storage.bundle import decode_bundle

    meta, arrays = decode_bundle(good[1])
    arrays = {k: v.copy() for k, v in arrays.items()}
    arrays["x.values.a"][0] += np.uint64(1)
    bad = [good[0], encode_bundle(meta, arrays), good[2]]
    with pytest.raises(IntegrityError, match=r"'x\.values'.*P1"):
        rebuild(bad, PLAN)


def test_a_node_that_reports_another_shape_is_named() -> None:
    good = bundles()
    odd = bundles(FRAME.iloc[:2])
    with pytest.raises(IntegrityError, match=r"P2 differ"):
        rebuild([good[0], good[1], odd[2]], PLAN)


def test_a_corrupted_bundle_is_an_integrity_error_naming_the_node() -> None:
    good = bundles()
    broken = good[0][:-1] + bytes([good[0][-1] ^ 1])
    with pytest.raises(IntegrityError, match="result from P0"):
        rebuild([broken, good[1], good[2]], PLAN)


def test_each_nodes_own_cost_is_not_compared_and_is_summed_into_the_query_cost() -> None:
    costs = [
        {"rounds": 40, "messages": 80, "bytes": 9000 + 100 * i, "seconds": 0.1 * (i + 1)}
        for i in range(3)
    ]
    df = rebuild(bundles(costs=costs), PLAN)
    cost = df.attrs["cost"]
    assert cost["rounds"] == 40
    assert cost["bytes"] == 9000 + 9100 + 9200
    assert cost["seconds"] == pytest.approx(0.3)
    assert [n["node"] for n in cost["nodes"]] == ["P0", "P1", "P2"]


def test_a_result_without_reported_costs_has_no_cost() -> None:
    assert "cost" not in rebuild(bundles(), PLAN).attrs

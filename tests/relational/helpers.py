"""Shared helpers of the relational tests: secret tables across ``run_parties``.

``run_parties`` accepts only numpy arrays, share pairs, JSON scalars and lists/dicts of
those (no pickle), so a table travels as :func:`pack_table` (schema as JSON-able dicts,
shares in dicts) and is rebuilt inside the body with :func:`unpack_table`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from sharelake.mpc.shares import AShare
from sharelake.relational.encode import decode_column, encode_frame, share_table
from sharelake.relational.table import ColumnSpec, SecretColumn, SecretTable


def spec_to_json(spec: ColumnSpec) -> dict[str, Any]:
    """A ColumnSpec as a JSON-able dict."""
    d = asdict(spec)
    if d["categories"] is not None:
        d["categories"] = list(d["categories"])
    return d


def spec_from_json(d: dict[str, Any]) -> ColumnSpec:
    """Inverse of :func:`spec_to_json`."""
    cats = d.get("categories")
    return ColumnSpec(
        name=str(d["name"]),
        kind=d["kind"],
        nullable=bool(d.get("nullable", True)),
        categories=None if cats is None else tuple(str(c) for c in cats),
        max_len=None if d.get("max_len") is None else int(d["max_len"]),
        frac_bits=int(d.get("frac_bits", 16)),
    )


def pack_table(t: SecretTable) -> dict[str, Any]:
    """One party's table as a ``run_parties`` input (dicts of shares and JSON)."""
    return {
        "name": t.name,
        "schema": [spec_to_json(c.spec) for c in t.columns.values()],
        "valid": t.valid,
        "values": {k: c.values for k, c in t.columns.items()},
        "null": {k: c.null for k, c in t.columns.items() if c.null is not None},
        "text": {k: c.text for k, c in t.columns.items() if c.text is not None},
    }


def unpack_table(d: dict[str, Any]) -> SecretTable:
    """Rebuild the SecretTable packed by :func:`pack_table` (inside a party's body)."""
    cols: dict[str, SecretColumn] = {}
    nulls: dict[str, AShare] = d.get("null", {})
    texts: dict[str, AShare] = d.get("text", {})
    for sd in d["schema"]:
        spec = spec_from_json(sd)
        cols[spec.name] = SecretColumn(
            spec, d["values"][spec.name], nulls.get(spec.name), texts.get(spec.name)
        )
    return SecretTable(cols, d["valid"], str(d.get("name", "")))


def shared_tables(
    df: pd.DataFrame, specs: list[ColumnSpec], *, name: str = ""
) -> list[SecretTable]:
    """Encode and share a DataFrame: the three parties' SecretTables."""
    return share_table(encode_frame(df, specs), name=name)


def table_inputs(
    tables: dict[str, tuple[pd.DataFrame, list[ColumnSpec]]],
) -> list[dict[str, Any]]:
    """``run_parties`` inputs: each named DataFrame shared and packed per party."""
    out: list[dict[str, Any]] = [{}, {}, {}]
    for key, (df, specs) in tables.items():
        parts = shared_tables(df, specs, name=key)
        for i in range(3):
            out[i][key] = pack_table(parts[i])
    return out


def frame_from_revealed(specs: list[ColumnSpec], revealed: dict[str, Any]) -> pd.DataFrame:
    """Decode the dict of opened ring values (``name`` and ``name.null``) into a DataFrame."""
    data: dict[str, Any] = {}
    for s in specs:
        vals = np.asarray(revealed[s.name], dtype=np.uint64)
        null = revealed.get(f"{s.name}.null")
        data[s.name] = decode_column(
            s, vals, None if null is None else np.asarray(null, dtype=np.uint64)
        ).to_numpy()
    return pd.DataFrame(data)


I64_MIN = -(2**63)
I64_MAX = 2**63 - 1


def _canon_value(v: Any) -> Any:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, bool | np.bool_):
        return int(v)
    if isinstance(v, int | np.integer):
        return ((int(v) + 2**63) % 2**64) - 2**63  # ring semantics: wrap to int64
    if isinstance(v, float | np.floating):
        return int(v) if float(v).is_integer() and abs(v) < 2**53 else float(v)
    return str(v)


def canon(df: pd.DataFrame, columns: list[str] | None = None) -> list[tuple[Any, ...]]:
    """Rows as tuples of plain Python values (None for nulls, ints wrapped to int64)."""
    cols = columns if columns is not None else list(df.columns)
    return [tuple(_canon_value(v) for v in row) for row in df[cols].itertuples(index=False)]


def canon_sorted(df: pd.DataFrame, columns: list[str] | None = None) -> list[tuple[Any, ...]]:
    """:func:`canon`, as a sorted multiset (nulls first in each position)."""
    return sorted(
        canon(df, columns), key=lambda r: tuple((x is not None, str(type(x)), x) for x in r)
    )


def released(p: Any, t: SecretTable) -> dict[str, Any]:
    """Inside a body: reveal ``t`` (stable order) with its schema, as a JSON-able result."""
    from sharelake.relational.compact import reveal

    return {"schema": [spec_to_json(c.spec) for c in t.columns.values()], "data": reveal(p, t)}


def released_frame(res: dict[str, Any]) -> pd.DataFrame:
    """Decode what :func:`released` returned into a DataFrame."""
    specs = [spec_from_json(s) for s in res["schema"]]
    return frame_from_revealed(specs, res["data"])

"""Design mode: dummy tables generated from a table's public schema, never from its data.

An analyst develops a query on dummy data locally (with the plaintext twins of the
operators, or a local cluster), sees its verdict with ``explain()``, and only then
submits it for approval. The dummy values come from a seeded generator and the schema
alone (kinds, categories, maximum string lengths, nullability): nothing of the stored
data, not even its value ranges, goes into them. The row count is the caller's choice
(the table's public row count is a good one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..relational.table import ColumnSpec, spec_from_json

__all__ = ["NULL_RATE", "design_tables", "dummy_frame"]

NULL_RATE = 0.1
_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def _specs(schema: Sequence[ColumnSpec | Mapping[str, Any]]) -> list[ColumnSpec]:
    return [s if isinstance(s, ColumnSpec) else spec_from_json(dict(s)) for s in schema]


def _column(spec: ColumnSpec, n: int, rng: np.random.Generator) -> pd.Series[Any]:
    if spec.kind == "int":
        s: pd.Series[Any] = pd.Series(rng.integers(0, 100, n), dtype="Int64")
    elif spec.kind == "bool":
        s = pd.Series(rng.integers(0, 2, n).astype(bool), dtype="boolean")
    elif spec.kind == "fixed":
        s = pd.Series(np.round(rng.uniform(0, 100, n), 2), dtype="Float64")
    elif spec.kind == "date":
        days = rng.integers(0, 365 * 10, n)
        s = pd.Series(np.datetime64("2015-01-01") + days.astype("timedelta64[D]"))
    elif spec.kind == "category":
        cats = list(spec.categories or ())
        s = pd.Series(pd.Categorical(rng.choice(cats, n), categories=cats))
    else:
        top = max(1, min(int(spec.max_len or 8), 12))
        lens = rng.integers(1, top + 1, n)
        s = pd.Series(["".join(rng.choice(_LETTERS, int(k))) for k in lens], dtype="object")
    if spec.nullable and n:
        s = s.mask(rng.random(n) < NULL_RATE)
    return s.rename(spec.name)


def dummy_frame(
    schema: Sequence[ColumnSpec | Mapping[str, Any]], n: int, seed: int = 0
) -> pd.DataFrame:
    """A DataFrame of ``n`` dummy rows that fits ``schema``.

    Parameters
    ----------
    schema
        Column specs, or their JSON form (as in ``GET /v1/tables``).
    n
        Number of rows.
    seed
        Seed of the generator: the same seed gives the same frame.

    Returns
    -------
    pandas.DataFrame
        ints in 0..99, fixed-point numbers in 0..100, dates in 2015-2024, categories
        from the public dictionary, strings of random letters up to ``max_len``; about
        :data:`NULL_RATE` of a nullable column's values missing.

    Examples
    --------
    >>> from sharelake.relational.table import ColumnSpec
    >>> spec = [ColumnSpec("age", "int"), ColumnSpec("region", "category", categories=("n", "s"))]
    >>> df = dummy_frame(spec, 4, seed=1)
    >>> list(df.columns), len(df)
    (['age', 'region'], 4)
    >>> df.equals(dummy_frame(spec, 4, seed=1))
    True
    """
    if n < 0:
        raise ValueError("n must be non-negative")
    specs = _specs(schema)
    rng = np.random.default_rng(seed)
    return pd.DataFrame({s.name: _column(s, n, rng) for s in specs})


def design_tables(
    schemas: Mapping[str, Sequence[ColumnSpec | Mapping[str, Any]]],
    n: int | Mapping[str, int],
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Dummy frames for several tables (``n`` one count, or one per table).

    Each table gets its own generator seeded from ``seed`` and its position, so adding
    a table does not change the others.

    Examples
    --------
    >>> t = design_tables({"a": [{"name": "x", "kind": "int"}]}, 3)
    >>> t["a"].shape
    (3, 1)
    """
    out: dict[str, pd.DataFrame] = {}
    for i, (name, schema) in enumerate(sorted(schemas.items())):
        rows = n if isinstance(n, int) else n[name]
        out[name] = dummy_frame(schema, rows, seed * 1000 + i)
    return out

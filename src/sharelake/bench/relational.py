"""Benchmarks of the single-table operators for ``sharelake bench``: groupby, distinct.

Registered into :data:`sharelake.bench.suite.REGISTRY` on import. Inputs are made
locally, without a client: the group keys are drawn from the PRG all three parties
share (values in [0, 1000), so about 1,000 groups) and the summed values from correlated
randomness (``p.rand_a``); every row is valid. The operators are oblivious, so their
cost does not depend on the values.

- ``groupby``: count(*) and sum of one column over n rows into about 1,000 groups (the
  issue's target: 1e6 rows in at most 20 s over TLS). The key is a category column
  with a public dictionary of 1,000 values, so the operator sorts on its declared
  10-bit width (:func:`sharelake.relational.ops.key_width`), as it would for any
  category column of that size.
- ``groupby_median``: the median of one column per group, same input as ``groupby``
  (one more sort by key and value, ranks by a segmented sum, three comparisons and four
  multiplication rounds per row: :func:`sharelake.relational.groupby._quantiles`).
- ``distinct``: first row per 64-bit key among n rows (keys in [0, n / 2)), carrying one
  payload column.
- ``groupby_std``: the standard deviation of one decimal column per group, same keys as
  ``groupby`` (the squares, then the group-by's sums: :mod:`sharelake.relational.groupby`).
- ``floordiv``: ``a // b`` of two integer columns (|a| < 2^40, b in [1, 100)), the secure
  division of :mod:`sharelake.mpc.divide` (``/`` and ``%`` cost the same within 3 %).
- ``dt_year``: ``day.dt.year`` of a date column (:mod:`sharelake.relational.dates`).
- ``str_contains``: ``name.str.contains("dam")`` on a string column of ``max_len`` 16
  (:mod:`sharelake.relational.strings`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..mpc.party import Party
from ..relational.distinct import distinct
from ..relational.expr import col
from ..relational.groupby import groupby
from ..relational.ops import assign
from ..relational.table import ColumnSpec, SecretColumn, SecretTable, all_valid
from .suite import Thunk, bench_op

GROUPS = 1000


def keyed_table(p: Party, n: int, distinct_keys: int, *, category: bool = False) -> SecretTable:
    """n valid rows: key ``k`` in [0, distinct_keys) (from the common PRG) and a random ``v``.

    ``category``: ``k`` is a category column whose dictionary has ``distinct_keys``
    entries (codes 0 .. distinct_keys - 1) instead of a 64-bit integer.
    """
    keys = p.prg_all.words(n) % np.uint64(max(distinct_keys, 1))
    spec = (
        ColumnSpec(
            "k",
            "category",
            nullable=False,
            categories=tuple(f"c{j}" for j in range(max(distinct_keys, 1))),
        )
        if category
        else ColumnSpec("k", "int", nullable=False)
    )
    cols = {
        "k": SecretColumn(spec, p.public_a(keys)),
        "v": SecretColumn(ColumnSpec("v", "int", nullable=False), p.rand_a(n)),
    }
    return SecretTable(cols, all_valid(p, n), "bench")


def _plain_groupby(rng: np.random.Generator, n: int) -> Thunk:
    df = pd.DataFrame({"k": rng.integers(0, GROUPS, n), "v": rng.integers(0, 1 << 40, n)})
    return lambda: df.groupby("k").agg(rows=("v", "size"), total=("v", "sum"))


def _plain_distinct(rng: np.random.Generator, n: int) -> Thunk:
    df = pd.DataFrame({"k": rng.integers(0, max(n // 2, 1), n), "v": rng.integers(0, 1 << 40, n)})
    return lambda: df.drop_duplicates("k", keep="first")


@bench_op("groupby", requires="sharelake.relational.groupby", plain=_plain_groupby, unit="rows")
def _groupby(p: Party, n: int) -> Thunk:
    t = keyed_table(p, n, GROUPS, category=True)
    return lambda: groupby(p, t, ["k"], {"rows": ("*", "count"), "total": ("v", "sum")})


def _plain_groupby_median(rng: np.random.Generator, n: int) -> Thunk:
    df = pd.DataFrame({"k": rng.integers(0, GROUPS, n), "v": rng.integers(0, 1 << 40, n)})
    return lambda: df.groupby("k")["v"].median()


@bench_op(
    "groupby_median",
    requires="sharelake.relational.groupby",
    plain=_plain_groupby_median,
    unit="rows",
)
def _groupby_median(p: Party, n: int) -> Thunk:
    t = keyed_table(p, n, GROUPS, category=True)
    return lambda: groupby(p, t, ["k"], {"m": ("v", "median")})


@bench_op("distinct", requires="sharelake.relational.distinct", plain=_plain_distinct, unit="rows")
def _distinct(p: Party, n: int) -> Thunk:
    t = keyed_table(p, n, max(n // 2, 1))
    return lambda: distinct(p, t, ["k"])


def _columns(p: Party, n: int) -> SecretTable:
    """n valid rows of an int ``a``, a positive int ``b``, a decimal ``x``, a date ``day``
    and a 16-byte string ``name`` (public values from the common PRG, shared trivially:
    the cost of an operator does not depend on the values)."""
    w = p.prg_all.words(n)
    a = (w % np.uint64(1 << 40)).astype(np.int64) - (1 << 39)
    b = (w >> np.uint64(40)) % np.uint64(99) + np.uint64(1)
    day = (w % np.uint64(80000)).astype(np.int64) - 40000
    text = np.zeros((n, 2), dtype=np.uint64)
    text[:, 0] = np.frombuffer(b"Rotterd\x00", dtype=np.uint64)[0] + (w & np.uint64(0xFF))
    cols = {
        "a": SecretColumn(ColumnSpec("a", "int", nullable=False), p.public_a(a.view(np.uint64))),
        "b": SecretColumn(ColumnSpec("b", "int", nullable=False), p.public_a(b)),
        "x": SecretColumn(ColumnSpec("x", "fixed", nullable=False), p.rand_a(n)),
        "day": SecretColumn(
            ColumnSpec("day", "date", nullable=False), p.public_a(day.view(np.uint64))
        ),
        "name": SecretColumn(
            ColumnSpec("name", "string", nullable=False, max_len=16),
            p.public_a(w),
            None,
            p.public_a(text.reshape(-1)).reshape(n, 2),
        ),
        "k": SecretColumn(
            ColumnSpec("k", "int", nullable=False), p.public_a(w % np.uint64(GROUPS))
        ),
    }
    return SecretTable(cols, all_valid(p, n), "bench")


def _plain_floordiv(rng: np.random.Generator, n: int) -> Thunk:
    a, b = rng.integers(-(1 << 39), 1 << 39, n), rng.integers(1, 100, n)
    return lambda: a // b


def _plain_dt_year(rng: np.random.Generator, n: int) -> Thunk:
    s = pd.Series(pd.to_datetime(rng.integers(-40000, 40000, n), unit="D"))
    return lambda: s.dt.year


def _plain_str_contains(rng: np.random.Generator, n: int) -> Thunk:
    s = pd.Series(rng.choice(["Rotterdam", "Edam", "Delft"], n))
    return lambda: s.str.contains("dam", regex=False)


def _plain_groupby_std(rng: np.random.Generator, n: int) -> Thunk:
    df = pd.DataFrame({"k": rng.integers(0, GROUPS, n), "x": rng.uniform(-1e3, 1e3, n)})
    return lambda: df.groupby("k")["x"].std()


@bench_op("floordiv", requires="sharelake.mpc.divide", plain=_plain_floordiv, unit="rows")
def _floordiv(p: Party, n: int) -> Thunk:
    t = _columns(p, n)
    return lambda: assign(p, t, q=col("a") // col("b"))


@bench_op("dt_year", requires="sharelake.relational.dates", plain=_plain_dt_year, unit="rows")
def _dt_year(p: Party, n: int) -> Thunk:
    t = _columns(p, n)
    return lambda: assign(p, t, y=col("day").dt.year)


@bench_op(
    "str_contains", requires="sharelake.relational.strings", plain=_plain_str_contains, unit="rows"
)
def _str_contains(p: Party, n: int) -> Thunk:
    t = _columns(p, n)
    return lambda: assign(p, t, c=col("name").str.contains("dam", regex=False))


@bench_op(
    "groupby_std", requires="sharelake.relational.groupby", plain=_plain_groupby_std, unit="rows"
)
def _groupby_std(p: Party, n: int) -> Thunk:
    t = _columns(p, n)
    return lambda: groupby(p, t, ["k"], {"s": ("x", "std")})

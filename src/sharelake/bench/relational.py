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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..mpc.party import Party
from ..relational.distinct import distinct
from ..relational.groupby import groupby
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

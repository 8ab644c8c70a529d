"""Benchmarks of the join family for ``sharelake bench``: psi_cardinality, join, overlap.

Registered into :data:`sharelake.bench.suite.REGISTRY` on import. Inputs are made
locally from correlated randomness (``p.rand_a``): random 64-bit keys, every row valid.
The secure operators are oblivious, so their cost does not depend on the key values.

- ``psi_cardinality``: two sets of n keys -> the secret |A ∩ B|.
- ``join``: inner m:1 join of n ⋈ n rows, each table with a key and 3 payload columns.
- ``overlap``: capture-history table of 4 lists of n / 4 persons each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..mpc.party import Party
from ..relational.join import join
from ..relational.overlap import overlap
from ..relational.psi import psi_cardinality
from ..relational.table import ColumnSpec, SecretColumn, SecretTable, all_valid
from .suite import Thunk, bench_op

PAYLOAD = 3
LISTS = 4


def random_table(p: Party, n: int, payload: int, name: str, prefix: str) -> SecretTable:
    """A secret table of ``n`` valid rows: a random key ``k`` and ``payload`` random columns."""
    cols = {"k": SecretColumn(ColumnSpec("k", "int", nullable=False), p.rand_a(n))}
    for j in range(payload):
        nm = f"{prefix}{j}"
        cols[nm] = SecretColumn(ColumnSpec(nm, "int", nullable=False), p.rand_a(n))
    return SecretTable(cols, all_valid(p, n), name)


def _frame(rng: np.random.Generator, n: int, payload: int, prefix: str) -> pd.DataFrame:
    data = {"k": rng.integers(0, 2 * max(n, 1), n)}
    for j in range(payload):
        data[f"{prefix}{j}"] = rng.integers(0, 1 << 62, n)
    return pd.DataFrame(data)


def _plain_psi(rng: np.random.Generator, n: int) -> Thunk:
    a, b = rng.integers(0, 2 * max(n, 1), n), rng.integers(0, 2 * max(n, 1), n)
    return lambda: len(np.intersect1d(a, b))


def _plain_join(rng: np.random.Generator, n: int) -> Thunk:
    left = _frame(rng, n, PAYLOAD, "a")
    right = _frame(rng, n, PAYLOAD, "b").drop_duplicates("k")
    return lambda: left.merge(right, on="k", how="inner", validate="m:1")


def _plain_overlap(rng: np.random.Generator, n: int) -> Thunk:
    m = max(n // LISTS, 1)
    lists = [pd.Series(rng.integers(0, 2 * n, m)).drop_duplicates() for _ in range(LISTS)]

    def run() -> object:
        tagged = pd.concat(
            [pd.DataFrame({"k": s, "bit": 1 << j}) for j, s in enumerate(lists)], ignore_index=True
        )
        pattern = tagged.groupby("k")["bit"].agg(lambda b: int(np.bitwise_or.reduce(b.to_numpy())))
        return pattern.value_counts()

    return run


@bench_op("psi_cardinality", requires="sharelake.relational.psi", plain=_plain_psi, unit="elements")
def _psi(p: Party, n: int) -> Thunk:
    a = random_table(p, n, 0, "a", "a")
    b = random_table(p, n, 0, "b", "b")
    return lambda: psi_cardinality(p, a, b, on="k")


@bench_op("join", requires="sharelake.relational.join", plain=_plain_join, unit="elements")
def _join(p: Party, n: int) -> Thunk:
    left = random_table(p, n, PAYLOAD, "left", "a")
    right = random_table(p, n, PAYLOAD, "right", "b")
    return lambda: join(p, left, right, on=["k"], how="inner", validate="m:1")


@bench_op("overlap", requires="sharelake.relational.overlap", plain=_plain_overlap, unit="elements")
def _overlap(p: Party, n: int) -> Thunk:
    m = max(n // LISTS, 1)
    lists = [random_table(p, m, 0, f"L{j}", "x") for j in range(LISTS)]
    return lambda: overlap(p, lists, on="k")

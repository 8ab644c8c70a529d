"""Noise made jointly by the three nodes and added to released aggregates, on shares.

Every node draws its own discrete Laplace noise for every row of every noised column
(:func:`sharelake.governance.noise.discrete_laplace`, from its own ``os.urandom``) and
enters it as a secret sharing: its draw plus its term of a fresh 3-out-of-3 zero-sharing
is this node's additive share, re-shared to replicated form in one round (the re-sharing
step of Araki et al., "High-throughput semi-honest secure three-party computation with an
honest majority", CCS 2016, as in :func:`sharelake.mpc.arith.mul`). The three sharings
are added to the column. No node learns another's draw (the value it receives is masked
by a zero-sharing term it cannot compute); the released value carries the sum of the
three draws. The distribution and its guarantee are in :mod:`sharelake.governance.noise`.

LEAKAGE: nothing (one round of masked values).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..governance.noise import discrete_laplace
from ..mpc.party import Party
from ..mpc.shares import AShare
from ..relational.table import SecretColumn, SecretTable

__all__ = ["add_joint_noise", "joint_sharing"]


def joint_sharing(p: Party, mine: np.ndarray) -> AShare:
    """A replicated sharing of ``sum over the three parties of their own `mine```.

    ``mine`` is this party's private int64 array (same shape at every party). One round.
    """
    z = np.ascontiguousarray(mine, dtype=np.int64).view(np.uint64) + p.zero_share(mine.shape)
    return AShare(z, p.pass_prev(z))


def add_joint_noise(
    p: Party,
    table: SecretTable,
    scales: Mapping[str, float],
    *,
    seed: bytes | None = None,
) -> SecretTable:
    """Add ``L_0 + L_1 + L_2`` to every row of each column in ``scales`` (one round).

    ``scales`` maps a column to the scale of its discrete Laplace noise in the column's own
    units; a ``fixed`` column's noise is drawn at its encoded resolution (scale times
    2^frac_bits). ``seed``: this party's seed, for tests only (the default draws from
    ``os.urandom``). Nulls are left as they are.
    """
    names = [c for c in scales if c in table.columns]
    n = table.n
    if not names or n == 0:
        return table
    draws = []
    for j, name in enumerate(names):
        spec = table[name].spec
        unit = float(2**spec.frac_bits) if spec.kind == "fixed" else 1.0
        s = None if seed is None else seed + bytes([p.id, j])
        draws.append(discrete_laplace(n, scales[name] * unit, seed=s))
    noise = joint_sharing(p, np.concatenate(draws))
    out: dict[str, SecretColumn] = {}
    for j, name in enumerate(names):
        col = table[name]
        part = AShare(noise.a[j * n : (j + 1) * n], noise.b[j * n : (j + 1) * n])
        out[name] = SecretColumn(col.spec, col.values + part, col.null, col.text)
    return table.with_columns(out)

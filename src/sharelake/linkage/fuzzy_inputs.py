"""What the secure fuzzy scorer takes: its public parameters and the shared person tables.

:class:`FuzzyParams` holds the public integer weights, penalties, threshold and key bonus
of :func:`sharelake.linkage.fuzzy.fuzzy_match` (also read by its plaintext twin
:mod:`sharelake.linkage.score`) and fixes the widths of every secret comparison
(:func:`widths`); :class:`SharedPeople` is one party's shares of an encoded person table
and :func:`share_people` splits one on the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..mpc.shares import AShare
from ..mpc.sharing import share_arith
from .encode import COUNT_CAP

__all__ = ["FuzzyParams", "SharedPeople", "Widths", "share_people", "widths"]


@dataclass(frozen=True)
class FuzzyParams:
    """Public scoring parameters (integers; the threshold is the fraction t_num / t_den).

    E = w_name * max(Dice(g, g') + Dice(f, f'), Dice(g, f') + Dice(f, g'))
      + w_all * Dice(all, all') + dob^T W dob' (+ bonus if a key agrees, hybrid mode).
    ``dob`` is the birth-date one-hot matrix followed by the three presence flags
    (``dob_year_present``, ...); W (:meth:`dob_matrix`) gives ``w_<part>`` for an
    agreeing part, ``-pen_<part>`` for a part present on both sides that disagrees, and
    ``w_swap`` for A's day = B's month and again for A's month = B's day.
    ``count_cap`` bounds every ``*_count``; it fixes the comparison widths. ``bonus``
    must exceed the largest fuzzy score so that a key agreement always wins.
    """

    w_name: int = 3
    w_all: int = 0
    w_year: int = 1
    w_month: int = 1
    w_day: int = 1
    pen_year: int = 0
    pen_month: int = 0
    pen_day: int = 0
    w_swap: int = 0
    t_num: int = 27
    t_den: int = 5
    bonus: int = 16
    count_cap: int = COUNT_CAP
    dob_slices: tuple[tuple[int, int], ...] = ((0, 136), (136, 148), (148, 179))
    keys: tuple[str, ...] = field(
        default=("key_names_dob", "key_phon_dob", "key_family_initial_dob", "key_names_year")
    )

    def dob_matrix(self, width: int) -> np.ndarray[Any, np.dtype[np.int64]]:
        """W, (width + 3) x (width + 3): the DOB points are ext_a^T W ext_b."""
        w = np.zeros((width + 3, width + 3), dtype=np.int64)
        parts = zip(
            self.dob_slices,
            (self.w_year, self.w_month, self.w_day),
            (self.pen_year, self.pen_month, self.pen_day),
            strict=True,
        )
        for c, ((lo, hi), wt, pen) in enumerate(parts):
            w[np.arange(lo, hi), np.arange(lo, hi)] = wt + pen
            w[width + c, width + c] = -pen
        (mlo, mhi), (dlo, _) = self.dob_slices[1], self.dob_slices[2]
        k = mhi - mlo
        # A's day d == B's month d (d <= 12), plus A's month == B's day
        w[np.arange(dlo, dlo + k), np.arange(mlo, mhi)] += self.w_swap
        w[np.arange(mlo, mhi), np.arange(dlo, dlo + k)] += self.w_swap
        return w

    def max_extra(self) -> int:
        """Largest |X| = |DOB points| + bonus."""
        dob = self.w_year + self.w_month + self.w_day + 2 * abs(self.w_swap)
        pen = self.pen_year + self.pen_month + self.pen_day
        return abs(dob) + 2 * abs(pen) + abs(self.bonus)


@dataclass(frozen=True)
class SharedPeople:
    """One party's shares of an encoded person table (see :mod:`sharelake.linkage.encode`).

    ``columns``: 1-D sharings (counts, keys); ``matrices``: 2-D sharings (n x d).
    """

    columns: dict[str, AShare]
    matrices: dict[str, AShare]

    @property
    def n(self) -> int:
        return len(next(iter((self.matrices or self.columns).values())))

    def pack(self) -> dict[str, Any]:
        """A ``run_parties``-friendly dict (shares only, no pickle)."""
        return {"columns": dict(self.columns), "matrices": dict(self.matrices)}

    @classmethod
    def unpack(cls, d: Mapping[str, Any]) -> SharedPeople:
        return cls(dict(d["columns"]), dict(d["matrices"]))


def share_people(columns: Mapping[str, Any], matrices: Mapping[str, Any]) -> list[SharedPeople]:
    """Client side: split encoded columns and matrices into the three parties' shares."""
    cols: list[dict[str, AShare]] = [{}, {}, {}]
    mats: list[dict[str, AShare]] = [{}, {}, {}]
    for k, v in columns.items():
        for i, s in enumerate(share_arith(np.asarray(v, dtype=np.uint64))):
            cols[i][k] = s
    for k, v in matrices.items():
        for i, s in enumerate(share_arith(np.asarray(v, dtype=np.uint64))):
            mats[i][k] = s
    return [SharedPeople(cols[i], mats[i]) for i in range(3)]


# ---- widths ------------------------------------------------------------------------------


def _bits_of(bound: int) -> int:
    """Signed width holding every integer in [-bound, bound]."""
    return min(64, max(2, bound.bit_length() + 1))


@dataclass(frozen=True)
class Widths:
    count: int  # eq of a count with 0
    order: int  # N_n D_s - N_s D_n
    score: int  # t_den N'' - t_num D and tree cross products
    ring: int  # bits every value must be correct to (the matmul width)


def widths(prm: FuzzyParams) -> Widths:
    c = prm.count_cap
    n_max = 8 * c * c  # 2 (i1 s2 + i2 s1), s <= 2c
    d_max = 4 * c * c
    order = _bits_of(2 * n_max * d_max)
    if prm.w_all:
        n_max, d_max = (
            abs(prm.w_name) * n_max * 2 * c + 2 * abs(prm.w_all) * c * d_max,
            d_max * 2 * c,
        )
    else:
        n_max = abs(prm.w_name) * n_max
    e_max = n_max + prm.max_extra() * d_max
    score = _bits_of(max(2 * e_max * d_max, prm.t_den * e_max + prm.t_num * d_max))
    if score > 64:
        raise ValueError("fuzzy scoring parameters too large for 64-bit comparisons")
    return Widths(_bits_of(c), order, score, max(order, score))

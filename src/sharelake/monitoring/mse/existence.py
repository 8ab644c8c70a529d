"""Existence and identifiability of the maximum-likelihood estimate of a log-linear model.

For Poisson counts ``y`` and design ``X`` the (extended) MLE exists exactly when some
strictly positive mean vector has the same sufficient statistics ``X.T @ y`` (Haberman
1974; Fienberg & Rinaldo 2012, "Maximum likelihood estimation in log-linear models",
Ann. Statist. 40). A linear programme decides it: maximise ``s`` subject to
``X.T @ m = X.T @ y``, ``m >= s``, ``m >= 0``; the MLE exists when the optimum is
positive. Chan, Silverman & Vincent (2021, JASA 116, section 2) apply it after removing
the cells of the pairs of lists in the model that have no overlap (their parameters are
minus infinity, which the extended MLE allows), and add a rank check for
identifiability. :class:`ModelChecker` does exactly that and caches the answers.

Existence depends only on which cells are positive, and it is monotone in them: if the
MLE exists for a support it exists for every larger one (a facial set that contains the
larger support contains the smaller). The cache uses that to skip most linear programmes
when many bootstrap tables are checked.

Examples
--------
>>> X = np.array([[1.0, 1, 0], [1, 0, 1], [1, 1, 1]])  # A only, B only, both
>>> mle_exists(X, np.array([3.0, 4, 0])), mle_exists(X, np.array([3.0, 4, 2]))
(False, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linprog

from .table import CaptureTable

__all__ = ["ModelChecker", "mle_exists"]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def mle_exists(X: FloatArray, y: FloatArray) -> bool:
    """Whether the Poisson log-linear MLE exists for design ``X`` (cells x columns) and ``y``."""
    y = np.asarray(y, dtype=np.float64)
    if (y > 0).all():
        return True
    total = float(y.sum())
    if total <= 0:
        return False
    # The MLE fails to exist exactly when some d = X b, d != 0, is >= 0 on every cell and
    # 0 on the cells with counts (Haberman 1974, thm 2.3). Such b lie in the null space of
    # the rows with counts: none (full rank) means the MLE exists; a one-dimensional null
    # space decides it by the signs of X v; only larger ones need the linear programme.
    seen = y > 0
    _, sv, vt = np.linalg.svd(X[seen], full_matrices=True)
    rank = int((sv > sv[0] * 1e-10).sum()) if len(sv) else 0
    null = vt[rank:]
    if len(null) == 0:
        return True
    if len(null) == 1:
        d = X[~seen] @ null[0]
        d = d / max(float(np.abs(d).max()), 1e-300)
        return bool((d > 1e-9).any() and (d < -1e-9).any())
    n, p = X.shape
    c = np.zeros(n + 1)
    c[-1] = -1.0
    A_eq = np.hstack([X.T, np.zeros((p, 1))])
    b_eq = X.T @ (y / total)
    A_ub = np.hstack([-np.eye(n), np.ones((n, 1))])  # s - m_i <= 0
    res = linprog(
        c,
        A_ub=A_ub,
        b_ub=np.zeros(n),
        A_eq=A_eq,
        b_eq=b_eq,
        bounds=[(0.0, None)] * (n + 1),
        method="highs",
    )
    return bool(res.status == 0 and -float(res.fun) > 1e-10)


class ModelChecker:
    """Checks models (sets of pairs of lists) on tables with the same lists, with a cache.

    A model is given as the sorted tuple of pair indices (see :attr:`CaptureTable.pairs`).
    """

    def __init__(self, table: CaptureTable) -> None:
        self.table = table
        P = table.patterns.astype(np.float64)
        self._main = np.column_stack([np.ones(len(P)), P])
        self._rank: dict[tuple[tuple[int, ...], tuple[int, ...]], bool] = {}
        self._exists: dict[tuple[int, ...], list[int]] = {}
        self._fails: dict[tuple[int, ...], list[int]] = {}
        self.linear_programmes = 0

    def _reduced(
        self, model: tuple[int, ...], y: FloatArray
    ) -> tuple[FloatArray, np.ndarray[Any, np.dtype[np.bool_]], tuple[int, ...], tuple[int, ...]]:
        both = self.table.both
        keep = np.ones(len(y), dtype=bool)
        fitted: list[int] = []
        empty: list[int] = []
        for k in model:
            if float(y @ both[:, k]) == 0.0:
                keep &= both[:, k] == 0
                empty.append(k)
            else:
                fitted.append(k)
        X = np.column_stack([self._main, both[:, fitted]])[keep]
        return X, keep, tuple(fitted), tuple(empty)

    def identifiable(self, model: tuple[int, ...], y: FloatArray) -> bool:
        """Whether the model's design (after removing empty overlaps) has full column rank."""
        X, _, fitted, empty = self._reduced(model, y)
        key = (fitted, empty)
        if key not in self._rank:
            self._rank[key] = int(np.linalg.matrix_rank(X)) == X.shape[1]
        return self._rank[key]

    def exists(self, model: tuple[int, ...], y: FloatArray) -> bool:
        """Whether the extended MLE of ``model`` exists for counts ``y`` (cached by support)."""
        X, keep, fitted, empty = self._reduced(model, y)
        yk = y[keep]
        if (yk > 0).all():
            return True
        key = (*fitted, -1, *empty)
        support = int.from_bytes(np.packbits(y > 0).tobytes(), "big")
        for known in self._exists.get(key, []):
            if support & known == known:
                return True
        for known in self._fails.get(key, []):
            if support & known == support:
                return False
        self.linear_programmes += 1
        ok = mle_exists(X, yk)
        (self._exists if ok else self._fails).setdefault(key, []).append(support)
        return ok

    def check(self, model: tuple[int, ...], y: FloatArray) -> bool:
        """SparseMSE's ``checkident``: the MLE exists and is identifiable."""
        return self.identifiable(model, y) and self.exists(model, y)

"""Model choice for many tables at once: SparseMSE's stepwise rule and forward AIC/BIC.

**Stepwise** (Chan, Silverman & Vincent 2021, JASA 116:1297-1306, section 3.2; SparseMSE's
``stepwisefit``): start from main effects; for every pair of lists not yet in the model,
the number of persons on both lists is, under the current model, Poisson with mean the
sum of the fitted values of the cells containing both; its p-value is
``min(P(X <= n), P(X >= n))``. Add the pair with the smallest p-value among those whose
extended model passes the existence and identifiability check, while that p-value is below
``pthresh`` (0.02). A pair without overlap can enter (its p-value is ``exp(-mean)``); its
cells are then left out.

**Forward AIC/BIC**: add the pair that lowers the criterion most, among pairs that share at
least ``min_overlap`` persons, whose model passes the same check and is not saturated,
until none lowers it.

**Ties** (p-values or criteria equal up to floating-point noise, which symmetric tables
produce) go to the pair whose list names sort first, so the choice does not depend on the
order of the table's columns.

Both run on a batch of tables (the original, bootstrap replicates, jackknife tables) with
one batched fit per step, which is what makes a 1,000-replicate bootstrap with model
reselection take seconds.

Examples
--------
>>> import pandas as pd
>>> from .table import capture_table
>>> t = capture_table(pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]}))
>>> stepwise(t, t.counts[None, :]).models
[()]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import poisson

from .existence import ModelChecker
from .glm import fit_batch
from .loglinear import Criterion, design, model_masks
from .table import CaptureTable

__all__ = ["Selection", "forward", "stepwise"]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass
class Selection:
    """The models chosen for a batch of tables and the fit of each chosen model.

    ``models[b]`` lists pair indices in the order they were added; ``log_hidden`` and
    ``log_hidden_sd`` are the intercept and its standard error under that model;
    ``path`` (first table only) records ``(pair, p-value or criterion)`` at each step.
    """

    models: list[tuple[int, ...]]
    log_hidden: FloatArray
    log_hidden_sd: FloatArray
    converged: np.ndarray[Any, np.dtype[np.bool_]]
    path: list[tuple[int, float]] = field(default_factory=list)

    def totals(self, y: FloatArray) -> FloatArray:
        """Observed plus estimated hidden count of every table."""
        hidden = np.exp(np.minimum(self.log_hidden, 700.0))
        out: FloatArray = y.sum(axis=1) + hidden
        return out


_TIE = 1e-9
"""Relative difference below which two p-values or criteria count as equal."""


def name_ranks(table: CaptureTable) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The rank of every pair by its two list names, sorted: the order ties are broken in."""
    keys = [tuple(sorted(table.pair_name(k))) for k in range(len(table.pairs))]
    ranks = np.empty(len(keys), dtype=np.int64)
    ranks[sorted(range(len(keys)), key=keys.__getitem__)] = np.arange(len(keys))
    return ranks


def _tie_order(values: FloatArray, ranks: np.ndarray[Any, np.dtype[np.int64]]) -> list[int]:
    """Indices of ``values``, smallest first; values within :data:`_TIE` in name order."""
    order = sorted(range(len(values)), key=lambda k: (values[k], ranks[k]))
    out: list[int] = []
    while order:
        head = values[order[0]]
        tol = _TIE * max(abs(head), 1e-300) if np.isfinite(head) else 0.0
        tied = [k for k in order if values[k] <= head + tol or values[k] == head]
        tied.sort(key=lambda k: ranks[k])
        out.extend(tied)
        order = [k for k in order if k not in tied]
    return out


def _fit(table: CaptureTable, y: FloatArray, models: list[tuple[int, ...]]) -> Any:
    columns, cells, n_empty = model_masks(table, y, models)
    return fit_batch(design(table), y, columns=columns, cells=cells), n_empty


def poisson_pvalues(observed: FloatArray, expected: FloatArray) -> FloatArray:
    """SparseMSE's p-value of an overlap count: ``min(P(X <= n), P(X >= n))``, X ~ Poisson."""
    lower = poisson.cdf(observed, expected)
    upper = poisson.sf(observed - 1, expected)
    out: FloatArray = np.minimum(lower, upper)
    return out


def stepwise(
    table: CaptureTable,
    y: FloatArray,
    *,
    pthresh: float = 0.02,
    checker: ModelChecker | None = None,
) -> Selection:
    """SparseMSE's stepwise choice on every row of ``y`` (B tables over ``table``'s cells)."""
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    B = len(y)
    checker = checker or ModelChecker(table)
    both = table.both
    ranks = name_ranks(table)
    nstar = y @ both
    models: list[tuple[int, ...]] = [() for _ in range(B)]
    log_hidden = np.zeros(B)
    sd = np.zeros(B)
    converged = np.zeros(B, dtype=bool)
    path: list[tuple[int, float]] = []
    active = np.arange(B)
    while len(active):
        fit, _ = _fit(table, y[active], [models[b] for b in active])
        log_hidden[active] = fit.beta[:, 0]
        sd[active] = np.sqrt(np.maximum(fit.var0, 0.0))
        converged[active] = fit.converged
        if pthresh <= 0:
            break
        pv = poisson_pvalues(nstar[active], fit.mu @ both)
        still: list[int] = []
        for r, b in enumerate(active):
            p = pv[r].copy()
            p[list(models[b])] = np.inf
            for k in _tie_order(p, ranks):
                if not p[k] < pthresh:
                    break
                trial = (*models[b], int(k))
                if checker.check(tuple(sorted(trial)), y[b]):
                    models[b] = trial
                    still.append(int(b))
                    if b == 0:
                        path.append((int(k), float(p[k])))
                    break
        active = np.array(still, dtype=np.int64)
    return Selection(models, log_hidden, sd, converged, path)


def forward(
    table: CaptureTable,
    y: FloatArray,
    *,
    criterion: Criterion = "aic",
    min_overlap: int = 1,
    checker: ModelChecker | None = None,
) -> Selection:
    """Forward choice by AIC or BIC on every row of ``y``, all candidate fits batched."""
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    B, C = y.shape
    checker = checker or ModelChecker(table)
    K = len(table.lists)
    ranks = name_ranks(table)
    nstar = y @ table.both
    penalty = 2.0 if criterion == "aic" else np.log(np.maximum(y.sum(axis=1), 2.0))
    penalty = np.broadcast_to(penalty, (B,))
    models: list[tuple[int, ...]] = [() for _ in range(B)]
    fit, _ = _fit(table, y, models)
    ic = -2 * fit.loglik + penalty * (1 + K)
    log_hidden = fit.beta[:, 0].copy()
    sd = np.sqrt(np.maximum(fit.var0, 0.0))
    converged = fit.converged.copy()
    path: list[tuple[int, float]] = []
    active = list(range(B))
    while active:
        trials: list[tuple[int, int]] = []
        for b in active:
            for k in range(len(table.pairs)):
                if k in models[b] or nstar[b, k] < min_overlap:
                    continue
                trial = tuple(sorted((*models[b], k)))
                if 1 + K + len(trial) >= C or not checker.check(trial, y[b]):
                    continue
                trials.append((b, k))
        if not trials:
            break
        rows = np.array([b for b, _ in trials])
        tfit, _ = _fit(table, y[rows], [(*models[b], k) for b, k in trials])
        n_par = np.array([2 + K + len(models[b]) for b, _ in trials])
        tic = -2 * tfit.loglik + penalty[rows] * n_par
        ok = tfit.converged & np.isfinite(tic) & (tfit.beta[:, 0] < 700)
        still = []
        for b in active:
            sel = np.flatnonzero((rows == b) & ok)
            if not len(sel):
                continue
            best = sel[_tie_order(tic[sel], ranks[[trials[i][1] for i in sel]])[0]]
            if tic[best] >= ic[b] - 1e-9:
                continue
            models[b] = (*models[b], trials[best][1])
            ic[b] = tic[best]
            log_hidden[b] = tfit.beta[best, 0]
            sd[b] = np.sqrt(max(float(tfit.var0[best]), 0.0))
            converged[b] = tfit.converged[best]
            if b == 0:
                path.append((trials[best][1], float(tic[best])))
            still.append(b)
        active = still
    return Selection(models, log_hidden, sd, converged, path)

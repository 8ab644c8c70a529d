"""The Poisson log-linear models of multiple-systems estimation and their fits.

The counts of persons seen on each non-empty combination of K lists are independent
Poisson variables with ``log E[y] = b0 + sum_i b_i x_i + sum_(i,j) b_ij x_i x_j``: main
effects of every list and a chosen set of two-list interactions (Fienberg 1972; Bishop,
Fienberg & Holland 1975, ch. 6; for trafficking, Bales, Hesketh & Silverman 2015). The
cell "on no list" has mean ``exp(b0)``: the hidden count.

A pair of lists in the model that nobody is on together has interaction minus infinity;
as in Chan, Silverman & Vincent (2021, JASA 116:1297-1306) the cells containing both
lists are then left out of the fit and the parameter still counts in the AIC.

Examples
--------
>>> import pandas as pd
>>> from .table import capture_table
>>> t = capture_table(pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]}))
>>> round(fit_model(t).hidden)
120
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.stats import norm

from .glm import BatchFit, fit_batch
from .table import CaptureTable

__all__ = [
    "Criterion",
    "ModelFit",
    "Pair",
    "design",
    "fit_model",
    "fit_models",
    "model_masks",
    "wald_interval",
]

Criterion = Literal["aic", "bic"]
Pair = tuple[str, str]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]


@dataclass(frozen=True)
class ModelFit:
    """One fitted log-linear model: its interactions, fit statistics and estimate.

    ``interactions`` lists every two-list term of the model; ``empty_overlaps`` those of
    them whose lists share nobody (fitted as minus infinity). ``log_hidden_sd`` is the
    standard error of ``log(hidden)`` from the inverse Fisher information.
    """

    interactions: tuple[Pair, ...]
    parameters: int
    deviance: float
    df_resid: int
    aic: float
    bic: float
    hidden: float
    total: float
    converged: bool
    empty_overlaps: tuple[Pair, ...] = ()
    log_hidden_sd: float = float("nan")

    @property
    def fitted_interactions(self) -> tuple[Pair, ...]:
        """The interactions whose lists overlap (the terms of the fitted formula)."""
        return tuple(p for p in self.interactions if p not in self.empty_overlaps)

    def criterion(self, which: Criterion) -> float:
        """The information criterion ``which`` ("aic" or "bic")."""
        return self.aic if which == "aic" else self.bic

    def describe(self) -> str:
        """The model in the usual notation, e.g. ``main + A:B + B:C``."""
        text = " + ".join(["main", *(f"{a}:{b}" for a, b in self.fitted_interactions)])
        if self.empty_overlaps:
            empty = ", ".join(f"{a}:{b}" for a, b in self.empty_overlaps)
            text += f" (and {empty} with no overlap)"
        return text


def design(table: CaptureTable) -> FloatArray:
    """The full design: intercept, one column per list, one per pair of lists."""
    P = table.patterns.astype(np.float64)
    return np.column_stack([np.ones(len(P)), P, table.both])


def model_masks(
    table: CaptureTable, y: FloatArray, models: Sequence[Sequence[int]]
) -> tuple[BoolArray, BoolArray, np.ndarray[Any, np.dtype[np.int64]]]:
    """Columns and cells of each table's model, and how many of its pairs do not overlap.

    ``y`` is (B, C) and ``models[b]`` the pair indices of table ``b``'s model.
    """
    B, C = y.shape
    K = len(table.lists)
    npairs = len(table.pairs)
    columns = np.zeros((B, 1 + K + npairs), dtype=bool)
    columns[:, : 1 + K] = True
    cells = np.ones((B, C), dtype=bool)
    n_empty = np.zeros(B, dtype=np.int64)
    overlap = y @ table.both  # (B, npairs)
    both = table.both.astype(bool)
    for b, model in enumerate(models):
        for k in model:
            if overlap[b, k] == 0:
                cells[b] &= ~both[:, k]
                n_empty[b] += 1
            else:
                columns[b, 1 + K + k] = True
    return columns, cells, n_empty


def fit_models(
    table: CaptureTable, y: FloatArray, models: Sequence[Sequence[int]]
) -> tuple[BatchFit, np.ndarray[Any, np.dtype[np.int64]]]:
    """Fit table ``b``'s counts ``y[b]`` with model ``models[b]``, all in one batch."""
    columns, cells, n_empty = model_masks(table, y, models)
    return fit_batch(design(table), y, columns=columns, cells=cells), n_empty


def _pairs_of(table: CaptureTable, interactions: Sequence[Pair | int]) -> tuple[int, ...]:
    out: list[int] = []
    for p in interactions:
        out.append(p if isinstance(p, int) else table.pair_index(*p))
    return tuple(out)


def fit_model(table: CaptureTable, interactions: Sequence[Pair | int] = ()) -> ModelFit:
    """Fit main effects plus ``interactions`` (pairs of list names, or pair indices).

    BIC uses the number of persons observed as the sample size (Rcapture's convention);
    AIC is R's ``glm`` AIC plus 2 for every pair without overlap (SparseMSE's convention).

    Examples
    --------
    >>> import pandas as pd
    >>> from .table import capture_table
    >>> t = capture_table(pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]}))
    >>> f = fit_model(t)
    >>> f.describe(), round(f.total)
    ('main', 240)
    """
    model = _pairs_of(table, interactions)
    return fit_summaries(table, table.counts[None, :], [model])[0]


def fit_summaries(
    table: CaptureTable, y: FloatArray, models: Sequence[Sequence[int]]
) -> list[ModelFit]:
    """:class:`ModelFit` of every (counts, model) pair of a batch."""
    columns, cells, n_empty = model_masks(table, y, models)
    fit = fit_batch(design(table), y, columns=columns, cells=cells)
    out = []
    for b, model in enumerate(models):
        n_cells = int(cells[b].sum())
        k = 1 + len(table.lists) + len(model)
        observed = float(y[b].sum())
        b0 = float(fit.beta[b, 0])
        hidden = float(np.exp(b0)) if b0 < 700 else float("inf")
        ll = float(fit.loglik[b])
        names = tuple(table.pair_name(j) for j in model)
        overlap = y[b] @ table.both
        empty = tuple(table.pair_name(j) for j in model if overlap[j] == 0)
        out.append(
            ModelFit(
                interactions=names,
                parameters=k,
                deviance=float(fit.deviance[b]),
                df_resid=n_cells - (k - int(n_empty[b])),
                aic=-2 * ll + 2 * k,
                bic=-2 * ll + k * float(np.log(max(observed, 2.0))),
                hidden=hidden,
                total=observed + hidden,
                converged=bool(fit.converged[b]) and bool(np.isfinite(fit.beta[b]).all()),
                empty_overlaps=empty,
                log_hidden_sd=float(np.sqrt(max(float(fit.var0[b]), 0.0))),
            )
        )
    return out


def wald_interval(observed: float, model: ModelFit, level: float = 0.95) -> tuple[float, float]:
    """SparseMSE's interval: a normal interval for ``log(hidden)``, mapped back and shifted.

    ``observed + exp(log(hidden) -/+ z * se)``, with ``se`` from the inverse Fisher
    information (``estimatepopulation.0`` in SparseMSE 2.0.1).

    Examples
    --------
    >>> import pandas as pd
    >>> from .table import capture_table
    >>> t = capture_table(pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]}))
    >>> lo, hi = wald_interval(t.observed, fit_model(t))
    >>> 180 < lo < 240 < hi < 360
    True
    """
    z = float(norm.ppf(0.5 + level / 2))
    if not np.isfinite(model.hidden) or model.hidden <= 0:
        return float("nan"), float("nan")
    b0 = float(np.log(model.hidden))
    sd = model.log_hidden_sd
    return observed + float(np.exp(b0 - z * sd)), observed + float(np.exp(b0 + z * sd))

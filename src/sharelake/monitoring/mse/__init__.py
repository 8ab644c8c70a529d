"""Multiple-systems estimation (MSE) of a hidden population from a capture-history table.

The default is the method the field uses for sparse trafficking data, SparseMSE's
(Chan, Silverman & Vincent 2021, "Multiple systems estimation for sparse capture data:
inferential challenges when there are nonoverlapping lists", JASA 116:1297-1306): a
Poisson log-linear model with main effects and two-list interactions added stepwise
while their Poisson p-value is below 0.02, every candidate checked for existence and
identifiability of the maximum-likelihood estimate by a linear programme (Fienberg &
Rinaldo 2012), and SparseMSE's interval. Beside it: forward AIC/BIC choice, a BCa
bootstrap with the model chosen again on every resample (Silverman, Chan & Vincent 2023),
and Bayesian model averaging over decomposable graphical models (Madigan & York 1997).

Modules: :mod:`.table` (reading and checking tables), :mod:`.glm` (batched Poisson
fits), :mod:`.existence` (the linear programme), :mod:`.loglinear` (models and their
fits), :mod:`.selection` (stepwise and forward choice), :mod:`.intervals` (profile and
bootstrap), :mod:`.bma` (decomposable graphs), :mod:`.core` (:func:`estimate`).

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "count": [60, 40, 20]})
>>> r = estimate(t)
>>> round(r.total)  # Lincoln-Petersen: 80 * 60 / 20 = 240 persons
240
"""

from __future__ import annotations

from .bma import BMAResult, GraphPosterior, bma_posterior, decomposable_graphs
from .core import (
    METHOD_LABELS,
    METHODS,
    IntervalMethod,
    Method,
    MSEResult,
    compare_methods,
    estimate,
    why_they_differ,
)
from .existence import ModelChecker, mle_exists
from .intervals import BootstrapResult, bootstrap_bca, profile_interval
from .loglinear import Criterion, ModelFit, Pair, fit_model, wald_interval
from .selection import Selection, forward, stepwise
from .table import MAX_LISTS, CaptureTable, MSEError, capture_table, read_capture_table

estimate_population = estimate
"""``sharelake.estimate_population(table, ...)``: the same as :func:`estimate`."""

__all__ = [
    "MAX_LISTS",
    "METHODS",
    "METHOD_LABELS",
    "BMAResult",
    "BootstrapResult",
    "CaptureTable",
    "Criterion",
    "GraphPosterior",
    "IntervalMethod",
    "MSEError",
    "MSEResult",
    "Method",
    "ModelChecker",
    "ModelFit",
    "Pair",
    "Selection",
    "bma_posterior",
    "bootstrap_bca",
    "capture_table",
    "compare_methods",
    "decomposable_graphs",
    "estimate",
    "estimate_population",
    "fit_model",
    "forward",
    "mle_exists",
    "profile_interval",
    "read_capture_table",
    "stepwise",
    "wald_interval",
    "why_they_differ",
]

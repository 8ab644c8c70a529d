"""Intervals for the total population: profile likelihood and the BCa bootstrap.

* :func:`profile_interval`: the intercept ``b0 = log(hidden)`` is fixed, the other
  parameters refitted, and the interval is where the deviance rises by at most the
  ``level`` quantile of chi-square(1) (Cormack 1992; Rivest & Baillargeon's Rcapture). The
  model is held fixed.
* :func:`bootstrap_bca`: the bootstrap of Chan, Silverman & Vincent (2021, section 3.3) as
  SparseMSE's ``estimatepopulation`` does it: multinomial resamples of the observed
  persons over their capture histories, the model chosen again on every resample, a
  jackknife (one person fewer in each observed history, weighted by the counts) for the
  acceleration, and the BCa interval of DiCiccio & Efron (1996) from the quantiles
  (Hyndman-Fan type 8) of the replicate estimates. Model choice is thereby part of the
  interval, which is what Silverman, Chan & Vincent (2023, Statistics and Computing 34)
  recommend; here every replicate reselects over the full stepwise search, made cheap by
  fitting all replicates at once.

Examples
--------
>>> import pandas as pd
>>> from .table import capture_table
>>> from .loglinear import fit_model
>>> t = capture_table(pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]}))
>>> lo, hi = profile_interval(t, fit_model(t))
>>> 180 < lo < 240 < hi < 360
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.stats import chi2, norm

from .glm import fit_batch
from .loglinear import ModelFit, design, model_masks
from .selection import Selection
from .table import CaptureTable

__all__ = ["BootstrapResult", "bootstrap_bca", "profile_interval"]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
Selector = Callable[[CaptureTable, FloatArray], Selection]


def profile_interval(
    table: CaptureTable, model: ModelFit, level: float = 0.95
) -> tuple[float, float]:
    """Profile-likelihood interval for the total population under ``model``.

    An upper bound the data never reach is ``inf``.
    """
    pairs = [table.pair_index(a, b) for a, b in model.interactions]
    y = table.counts[None, :]
    columns, cells, _ = model_masks(table, y, [pairs])
    columns = columns.copy()
    columns[:, 0] = False
    X = design(table)
    if not np.isfinite(model.hidden) or model.hidden <= 0:
        return float("nan"), float("nan")
    b_hat = float(np.log(model.hidden))
    limit = float(chi2.ppf(level, 1))

    def excess(b0: float) -> float:
        fit = fit_batch(X, y, columns=columns, cells=cells, offset=np.array([b0]), max_iter=100)
        return float(fit.deviance[0]) - model.deviance - limit

    def bound(direction: float) -> float:
        step = max(0.05, 0.5 * model.log_hidden_sd if np.isfinite(model.log_hidden_sd) else 0.05)
        inner, outer = b_hat, b_hat + direction * step
        while excess(outer) < 0:
            inner, step = outer, step * 2
            outer = b_hat + direction * step
            if step > 40:
                return float("inf") * direction
        return float(brentq(excess, min(inner, outer), max(inner, outer), xtol=1e-7))

    lo_b, hi_b = bound(-1.0), bound(1.0)
    lo = table.observed + (float(np.exp(lo_b)) if np.isfinite(lo_b) else 0.0)
    hi = table.observed + float(np.exp(hi_b)) if np.isfinite(hi_b) else float("inf")
    return lo, hi


@dataclass(frozen=True)
class BootstrapResult:
    """A BCa bootstrap interval and what it was computed from."""

    interval: tuple[float, float]
    estimate: float
    replicates: FloatArray
    jackknife: FloatArray
    acceleration: float
    bias: float
    n_boot: int
    seed: int
    level: float


def _batched(table: CaptureTable, select: Selector, y: FloatArray) -> FloatArray:
    p = design(table).shape[1]
    chunk = max(1, int(4e6 // (len(table.counts) * p)))
    out = [
        select(table, y[i : i + chunk]).totals(y[i : i + chunk]) for i in range(0, len(y), chunk)
    ]
    return np.concatenate(out) if out else np.zeros(0)


def bca(
    replicates: FloatArray,
    estimate: float,
    acceleration: float,
    probs: FloatArray,
) -> FloatArray:
    """BCa quantiles (DiCiccio & Efron 1996) of ``replicates`` at nominal ``probs``."""
    B = len(replicates)
    share = float(np.mean(replicates < estimate))
    z0 = float(norm.ppf(min(max(share, 0.5 / B), 1 - 0.5 / B)))
    za = norm.ppf(probs)
    adj = norm.cdf(z0 + (z0 + za) / (1 - acceleration * (z0 + za)))
    out: FloatArray = np.quantile(replicates, adj, method="median_unbiased")
    return out


def bootstrap_bca(
    table: CaptureTable,
    select: Selector,
    *,
    n_boot: int = 1000,
    seed: int = 1234,
    level: float = 0.95,
) -> BootstrapResult:
    """BCa interval with the model chosen again by ``select`` on every resample.

    ``select(table, y)`` chooses and fits a model for each row of ``y``; the same seed gives
    the same replicates and interval.
    """
    y = table.counts
    n = int(y.sum())
    estimate = float(select(table, y[None, :]).totals(y[None, :])[0])
    rng = np.random.default_rng(seed)
    Y = rng.multinomial(n, y / n, size=n_boot).astype(np.float64)
    boot = _batched(table, select, Y)
    seen = np.flatnonzero(y > 0)
    J = np.repeat(y[None, :], len(seen), axis=0)
    J[np.arange(len(seen)), seen] -= 1
    jack = _batched(table, select, J)
    w = y[seen]
    resid = float(w @ jack / w.sum()) - jack
    denom = 6.0 * float(w @ resid**2) ** 1.5
    acceleration = float(w @ resid**3) / denom if denom > 0 else 0.0
    a = (1 - level) / 2
    lo, hi = bca(boot, estimate, acceleration, np.array([a, 1 - a]))
    share = float(np.mean(boot < estimate))
    return BootstrapResult(
        interval=(float(lo), float(hi)),
        estimate=estimate,
        replicates=boot,
        jackknife=jack,
        acceleration=acceleration,
        bias=float(norm.ppf(min(max(share, 0.5 / n_boot), 1 - 0.5 / n_boot))),
        n_boot=n_boot,
        seed=seed,
        level=level,
    )

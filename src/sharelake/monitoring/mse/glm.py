"""Poisson log-linear fits of many tables at once: batched iteratively reweighted least squares.

Every model of this package is a Poisson generalised linear model with log link over the
cells of a capture-history table (McCullagh & Nelder 1989, ch. 6). The fit here is
vectorised over a batch of tables that share the cells but not the counts, the columns in
the model or the cells left out (a pair of lists with no overlap leaves out every cell
containing both: Chan, Silverman & Vincent 2021, section 2.3). Columns outside a table's
model are held at zero by replacing their rows and columns of the normal equations with
the identity, so one ``numpy.linalg.solve`` call per iteration fits the whole batch.

The iteration follows R's ``glm.fit`` (start at ``log(y + 0.1)``, stop when the relative
change of the deviance is below ``1e-8``, at most 25 iterations), so a table whose maximum
likelihood estimate does not exist ends where R's would.

Examples
--------
>>> X = np.array([[1.0, 1, 0], [1, 0, 1], [1, 1, 1]])
>>> fit = fit_batch(X, np.array([[60.0, 40, 20]]))
>>> round(float(np.exp(fit.beta[0, 0])))  # the hidden count, 60 * 40 / 20
120
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import gammaln

__all__ = ["BatchFit", "fit_batch"]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]

_MAX_ETA = 700.0


@dataclass(frozen=True)
class BatchFit:
    """The fits of a batch of ``B`` tables over ``C`` cells with ``p`` model columns.

    ``beta`` (B, p) is zero outside each model; ``mu`` (B, C) is zero on left-out cells;
    ``var0`` (B,) is the intercept's entry of the inverse Fisher information (R's
    ``summary(glm)$cov.unscaled[1, 1]``): the variance of ``log(hidden)``.
    """

    beta: FloatArray
    mu: FloatArray
    deviance: FloatArray
    loglik: FloatArray
    var0: FloatArray
    converged: BoolArray
    iterations: int


def _normal_equations(X: FloatArray, w: FloatArray, inactive: BoolArray) -> FloatArray:
    A: FloatArray = np.matmul((w[:, :, None] * X[None, :, :]).transpose(0, 2, 1), X)
    A[inactive[:, :, None] | inactive[:, None, :]] = 0.0
    b, i = np.nonzero(inactive)
    A[b, i, i] = 1.0
    return A


def _solve(A: FloatArray, r: FloatArray) -> FloatArray:
    try:
        out: FloatArray = np.asarray(np.linalg.solve(A, r[..., None])[..., 0], dtype=np.float64)
    except np.linalg.LinAlgError:
        out = np.einsum("bij,bj->bi", np.linalg.pinv(A), r).astype(np.float64)
    return out


def fit_batch(
    X: FloatArray,
    y: FloatArray,
    *,
    columns: BoolArray | None = None,
    cells: BoolArray | None = None,
    offset: FloatArray | None = None,
    max_iter: int = 25,
    tol: float = 1e-8,
) -> BatchFit:
    """Fit ``log E[y] = offset + X @ beta`` by Poisson maximum likelihood, table by table.

    Parameters
    ----------
    X
        Design (C, p) shared by the batch.
    y
        Counts (B, C).
    columns
        (B, p) or (p,): which columns are in each table's model (default all).
    cells
        (B, C) or (C,): which cells each table's likelihood uses (default all).
    offset
        (B,) or (B, C): a fixed part of the linear predictor (for profile likelihoods).
    max_iter, tol
        Iteration limit and convergence tolerance on the relative change of the deviance.
    """
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    B, C = y.shape
    p = X.shape[1]
    cols = np.ones((B, p), dtype=bool) if columns is None else np.broadcast_to(columns, (B, p))
    inactive = ~cols
    use = np.ones((B, C), dtype=bool) if cells is None else np.broadcast_to(cells, (B, C))
    w0 = use.astype(np.float64)
    off = np.zeros((B, C))
    if offset is not None:
        o = np.asarray(offset, dtype=np.float64)
        off = np.broadcast_to(o[:, None] if o.ndim == 1 else o, (B, C))
    mu = y + 0.1
    eta = np.log(mu)
    dev_old = np.full(B, np.inf)
    beta = np.zeros((B, p))
    converged = np.zeros(B, dtype=bool)
    ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        z = eta - off + (y - mu) / mu
        w = mu * w0
        A = _normal_equations(X, w, inactive)
        r = (w * z) @ X
        r[inactive] = 0.0
        beta = _solve(A, r)
        eta = np.minimum(beta @ X.T + off, _MAX_ETA)
        mu = np.maximum(np.exp(eta), 1e-300)
        dev = 2.0 * ((ylogy - y * eta - (y - mu)) * w0).sum(axis=1)
        converged = np.abs(dev - dev_old) / (np.abs(dev) + 0.1) < tol
        dev_old = dev
        if converged.all():
            break
    w = mu * w0
    A = _normal_equations(X, w, inactive)
    e0 = np.zeros((B, p))
    e0[:, 0] = 1.0
    var0 = _solve(A, e0)[:, 0]
    loglik = ((y * eta - mu - gammaln(y + 1.0)) * w0).sum(axis=1)
    return BatchFit(
        beta=beta,
        mu=mu * w0,
        deviance=dev_old,
        loglik=loglik,
        var0=var0,
        converged=converged,
        iterations=it,
    )

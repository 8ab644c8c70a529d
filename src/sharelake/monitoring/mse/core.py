"""The population estimate: one entry point over the methods, with notes and a comparison.

:func:`estimate` runs one method (SparseMSE's stepwise by default, forward AIC or BIC, or
Bayesian model averaging over decomposable graphs) with its interval, and adds what a
reader must know: the models near the chosen one and how far their estimates spread,
and plain notes when the estimate is unstable. :func:`compare_methods` runs all of them
on one table.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]})
>>> r = estimate(t)
>>> r.method, r.model_description, round(r.total)  # Lincoln-Petersen: 80 * 60 / 20
('stepwise', 'main', 240)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from .bma import MAX_LISTS as BMA_MAX
from .bma import MIN_LISTS as BMA_MIN
from .bma import BMAResult, bma_posterior
from .existence import ModelChecker
from .intervals import BootstrapResult, bootstrap_bca, profile_interval
from .loglinear import Criterion, ModelFit, Pair, fit_summaries, wald_interval
from .selection import Selection, forward, stepwise
from .table import CaptureTable, MSEError, capture_table

__all__ = [
    "METHODS",
    "METHOD_LABELS",
    "IntervalMethod",
    "MSEResult",
    "Method",
    "compare_methods",
    "estimate",
    "why_they_differ",
]

Method = Literal["stepwise", "aic", "bic", "bma"]
IntervalMethod = Literal["wald", "profile", "bootstrap", "credible"]
METHODS: tuple[Method, ...] = ("stepwise", "aic", "bic", "bma")
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class MSEResult:
    """The estimate of the total population, its interval, the model and the comparison.

    ``interval`` bounds the total (observed + hidden) at level ``level``. ``model`` is the
    chosen log-linear model (``None`` for ``method="bma"``, whose models are in ``bma``).
    ``comparison`` holds the models near the chosen one (it, its one-pair extensions and
    reductions, main effects only, and the other selection rules' choices);
    ``sensitivity`` is the (min, max) total over those within 2 of the best
    ``criterion`` value; ``notes`` says in words what a reader must know.
    """

    lists: tuple[str, ...]
    observed: int
    hidden: float
    total: float
    interval: tuple[float, float]
    level: float
    interval_method: IntervalMethod
    criterion: Criterion
    model: ModelFit | None
    comparison: tuple[ModelFit, ...]
    sensitivity: tuple[float, float]
    notes: tuple[str, ...] = field(default_factory=tuple)
    method: Method = "stepwise"
    path: tuple[tuple[Pair, float], ...] = ()
    bootstrap: BootstrapResult | None = None
    bma: BMAResult | None = None

    @property
    def model_description(self) -> str:
        """The chosen model in words (for BMA: the most probable graph and its weight)."""
        if self.model is not None:
            return self.model.describe()
        if self.bma is not None:
            top = self.bma.models[0]
            n = len(self.bma.models)
            return f"average over {n} graphs; top {top.describe()} ({top.weight:.0%})"
        return ""

    @property
    def relative_width(self) -> float:
        """Interval width divided by the point estimate (``inf`` for an open interval)."""
        lo, hi = self.interval
        return float((hi - lo) / self.total) if np.isfinite(hi) else float("inf")

    def comparison_frame(self) -> pd.DataFrame:
        """The models considered, best first, with ``delta`` against the best criterion."""
        rows = [
            {
                "model": m.describe(),
                "parameters": m.parameters,
                "deviance": m.deviance,
                "df": m.df_resid,
                "aic": m.aic,
                "bic": m.bic,
                "total": m.total,
            }
            for m in self.comparison
        ]
        df = pd.DataFrame(rows).sort_values(self.criterion, kind="stable")
        df["delta"] = df[self.criterion] - df[self.criterion].min()
        return df.reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (used by the report and ``sharelake estimate --json``)."""

        def fin(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        out: dict[str, Any] = {
            "method": self.method,
            "lists": list(self.lists),
            "observed": self.observed,
            "hidden": fin(self.hidden),
            "total": fin(self.total),
            "interval": [fin(self.interval[0]), fin(self.interval[1])],
            "level": self.level,
            "interval_method": self.interval_method,
            "criterion": self.criterion,
            "model": self.model_description,
            "interactions": (
                [list(p) for p in self.model.fitted_interactions] if self.model else None
            ),
            "empty_overlaps": (
                [list(p) for p in self.model.empty_overlaps] if self.model else None
            ),
            "steps": [{"pair": list(p), "value": v} for p, v in self.path],
            "sensitivity": [fin(self.sensitivity[0]), fin(self.sensitivity[1])],
            "notes": list(self.notes),
            "comparison": [
                {
                    "model": m.describe(),
                    "interactions": [list(p) for p in m.interactions],
                    "parameters": m.parameters,
                    "deviance": m.deviance,
                    "df_resid": m.df_resid,
                    "aic": m.aic,
                    "bic": m.bic,
                    "total": fin(m.total),
                    "hidden": fin(m.hidden),
                    "converged": m.converged,
                }
                for m in sorted(self.comparison, key=lambda m: m.criterion(self.criterion))
            ],
        }
        if self.bootstrap is not None:
            b = self.bootstrap
            out["bootstrap"] = {
                "replicates": b.n_boot,
                "seed": b.seed,
                "acceleration": b.acceleration,
                "bias": b.bias,
            }
        if self.bma is not None:
            out["bma"] = self.bma.to_dict()
        return out


def _as_table(table: CaptureTable | pd.DataFrame) -> CaptureTable:
    t = table if isinstance(table, CaptureTable) else capture_table(table)
    if sum(1 for i in range(len(t.lists)) if t.counts @ t.patterns[:, i] > 0) < 2:
        raise MSEError(
            "fewer than two lists have anybody on them: there is nothing to estimate from"
        )
    return t


def _neighbourhood(
    t: CaptureTable, chosen: tuple[int, ...], others: list[tuple[int, ...]], checker: ModelChecker
) -> list[ModelFit]:
    y = t.counts
    K = len(t.lists)
    base = tuple(sorted(chosen))
    models: list[tuple[int, ...]] = [(), base, *(tuple(sorted(m)) for m in others)]
    for k in range(len(t.pairs)):
        if k in base:
            models.append(tuple(j for j in base if j != k))
        else:
            trial = tuple(sorted((*base, k)))
            if 1 + K + len(trial) < len(y) and checker.check(trial, y):
                models.append(trial)
    unique = list(dict.fromkeys(models))
    fits = fit_summaries(t, np.repeat(y[None, :], len(unique), axis=0), unique)
    return [m for m in fits if m.converged and np.isfinite(m.hidden)]


def _selector(method: Method, pthresh: float, min_overlap: int, checker: ModelChecker) -> Any:
    if method == "stepwise":
        return lambda t, y: stepwise(t, y, pthresh=pthresh, checker=checker)
    crit: Criterion = "bic" if method == "bic" else "aic"
    return lambda t, y: forward(t, y, criterion=crit, min_overlap=min_overlap, checker=checker)


def estimate(
    table: CaptureTable | pd.DataFrame,
    *,
    method: Method = "stepwise",
    interval: IntervalMethod | None = None,
    level: float = 0.95,
    pthresh: float = 0.02,
    min_overlap: int = 1,
    n_boot: int = 1000,
    seed: int = 1234,
    delta: float | None = None,
) -> MSEResult:
    """Estimate the total population (on some list or on none) from a capture-history table.

    Parameters
    ----------
    table
        A :class:`CaptureTable` or a DataFrame of 0/1 list columns and a last count column.
    method
        ``"stepwise"`` (default): SparseMSE's choice of two-list interactions by Poisson
        p-values below ``pthresh`` (Chan, Silverman & Vincent 2021). ``"aic"``/``"bic"``:
        forward choice by the criterion. ``"bma"``: Bayesian model averaging over
        decomposable graphical models (Madigan & York 1997), 3 to 5 lists.
    interval
        ``"wald"`` (SparseMSE's normal interval for log hidden; default of ``stepwise``),
        ``"profile"`` (profile likelihood; default of ``aic``/``bic``), ``"bootstrap"``
        (BCa with the model chosen again on every resample) or ``"credible"`` (the only
        one, and the default, for ``bma``).
    level
        Confidence (or credible) level.
    pthresh
        The p-value threshold of the stepwise rule.
    min_overlap
        For ``aic``/``bic``: a pair is a candidate only when its lists share this many.
    n_boot, seed
        Replicates and seed of the bootstrap (the same seed gives the same interval).
    delta
        For ``bma``: the hyper-Dirichlet prior count per cell (default ``2**-K``).

    Raises
    ------
    MSEError
        For tables that cannot give an estimate (see :func:`capture_table`), or a
        method/interval combination that does not exist.

    Examples
    --------
    >>> t = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]})
    >>> r = estimate(t, method="aic")
    >>> r.model_description, r.observed, round(r.hidden), r.interval_method
    ('main', 120, 120, 'profile')
    """
    if method not in METHODS:
        raise MSEError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    t = _as_table(table)
    if method == "bma":
        if interval not in (None, "credible"):
            raise MSEError("BMA gives a credible interval: use interval='credible'")
        return _estimate_bma(t, level=level, delta=delta)
    iv: IntervalMethod = interval or ("wald" if method == "stepwise" else "profile")
    if iv == "credible":
        raise MSEError("a credible interval needs method='bma'")
    checker = ModelChecker(t)
    select = _selector(method, pthresh, min_overlap, checker)
    y = t.counts[None, :]
    sel: Selection = select(t, y)
    chosen = sel.models[0]
    model = fit_summaries(t, y, [chosen])[0]
    if not checker.check(tuple(sorted(chosen)), t.counts) or not np.isfinite(model.hidden):
        raise MSEError(
            f"the maximum-likelihood estimate of the model {model.describe()} does not exist "
            "on this table (the linear programme of Fienberg & Rinaldo 2012 puts the counts "
            "on the boundary: some lists share nobody, or everybody)"
        )
    boot = None
    if iv == "wald":
        ci = wald_interval(t.observed, model, level)
    elif iv == "profile":
        ci = profile_interval(t, model, level)
    else:
        boot = bootstrap_bca(t, select, n_boot=n_boot, seed=seed, level=level)
        ci = boot.interval
    criterion: Criterion = "bic" if method == "bic" else "aic"
    others = [
        m
        for name in ("stepwise", "aic", "bic")
        if name != method
        for m in _selector(name, pthresh, min_overlap, checker)(t, y).models[:1]
    ]
    comparison = _neighbourhood(t, chosen, others, checker)
    best = min(m.criterion(criterion) for m in comparison)
    close = [m.total for m in comparison if m.criterion(criterion) - best <= 2.0]
    sens = (min(close), max(close)) if close else (model.total, model.total)
    path = tuple((t.pair_name(k), v) for k, v in sel.path)
    return MSEResult(
        lists=t.lists,
        observed=t.observed,
        hidden=model.hidden,
        total=model.total,
        interval=ci,
        level=level,
        interval_method=iv,
        criterion=criterion,
        model=model,
        comparison=tuple(comparison),
        sensitivity=sens,
        notes=tuple(_notes(t, model.total, model.hidden, ci, sens, criterion)),
        method=method,
        path=path,
        bootstrap=boot,
    )


def _estimate_bma(t: CaptureTable, *, level: float, delta: float | None) -> MSEResult:
    post = bma_posterior(t, level=level, delta=delta)
    ci = post.interval
    totals = [m.median for m in post.models if m.weight >= 0.01] or [post.median]
    sens = (min(totals), max(totals))
    notes = _notes(t, post.median, post.median - t.observed, ci, sens, None)
    return MSEResult(
        lists=t.lists,
        observed=t.observed,
        hidden=post.median - t.observed,
        total=post.median,
        interval=ci,
        level=level,
        interval_method="credible",
        criterion="aic",
        model=None,
        comparison=(),
        sensitivity=sens,
        notes=tuple(notes),
        method="bma",
        bma=post,
    )


def _notes(
    t: CaptureTable,
    total: float,
    hidden: float,
    ci: tuple[float, float],
    sens: tuple[float, float],
    criterion: Criterion | None,
) -> list[str]:
    notes = []
    empty = [f"{a}-{b}" for a, b in itertools.combinations(t.lists, 2) if t.overlap(a, b) == 0]
    if empty:
        notes.append(f"lists with no overlap: {', '.join(empty)}")
    zeros = int((t.counts == 0).sum())
    if zeros > len(t.counts) / 2:
        notes.append(f"sparse table: {zeros} of {len(t.counts)} patterns are empty")
    if not np.isfinite(ci[1]):
        notes.append("unstable: the upper bound is infinite, the data do not bound the estimate")
    elif ci[1] - ci[0] > total:
        notes.append(
            f"unstable: the interval {ci[0]:,.0f} to {ci[1]:,.0f} is wider than the estimate"
        )
    elif ci[1] - ci[0] > 0.5 * total:
        notes.append(f"wide interval: {ci[0]:,.0f} to {ci[1]:,.0f} is more than half the estimate")
    if sens[1] - sens[0] > 0.2 * total:
        what = (
            f"models within 2 {criterion.upper()} units of the best"
            if criterion
            else "graphs with at least 1% posterior weight"
        )
        notes.append(
            f"model-dependent: {what} give {sens[0]:,.0f} to {sens[1]:,.0f}, more than 20% apart"
        )
    if hidden > 10 * t.observed:
        notes.append("the hidden part is more than ten times the observed: treat with care")
    return notes


def compare_methods(
    table: CaptureTable | pd.DataFrame,
    *,
    methods: tuple[Method, ...] = METHODS,
    level: float = 0.95,
    pthresh: float = 0.02,
) -> list[MSEResult]:
    """Every method on one table, each with its default interval (BMA only for 3-5 lists).

    Examples
    --------
    >>> t = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]})
    >>> [r.method for r in compare_methods(t)]  # BMA needs three lists or more
    ['stepwise', 'aic', 'bic']
    """
    t = _as_table(table)
    out = []
    for m in methods:
        if m == "bma" and not BMA_MIN <= len(t.lists) <= BMA_MAX:
            continue
        out.append(estimate(t, method=m, level=level, pthresh=pthresh))
    return out


METHOD_LABELS: dict[str, str] = {
    "stepwise": "stepwise (SparseMSE)",
    "aic": "forward AIC",
    "bic": "forward BIC",
    "bma": "BMA (decomposable graphs)",
}


def why_they_differ(results: list[MSEResult]) -> str:
    """One plain sentence on how far the methods' estimates are apart, and why.

    Examples
    --------
    >>> t = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]})
    >>> why_they_differ(compare_methods(t))
    'The methods agree within 1%: every rule keeps the same simple model of how the lists overlap.'
    """
    totals = {r.method: r.total for r in results if np.isfinite(r.total)}
    if len(totals) < 2:
        return "Only one method could be run on this table."
    lo_m, hi_m = min(totals, key=totals.__getitem__), max(totals, key=totals.__getitem__)
    spread = totals[hi_m] / totals[lo_m] - 1
    if spread < 0.1:
        same = len({r.model_description for r in results if r.model is not None}) == 1
        why = (
            "every rule keeps the same simple model of how the lists overlap"
            if same
            else "the models they choose differ little in what they imply for the hidden part"
        )
        return f"The methods agree within {max(spread, 0.01):.0%}: {why}."
    return (
        f"The methods are {spread:.0%} apart ({METHOD_LABELS[lo_m]} {totals[lo_m]:,.0f}, "
        f"{METHOD_LABELS[hi_m]} {totals[hi_m]:,.0f}) because they model the overlaps "
        "between lists differently: the stepwise rule adds a dependence between two lists "
        "only when it is clear (p below 0.02), AIC accepts weaker ones and BIC fewer, and "
        "BMA averages over graphs; each dependence changes how many people the lists are "
        "thought to miss, so on this table the choice of model matters more than chance."
    )

"""Multiple-systems estimation (MSE) of a hidden population from a capture-history table.

The counts of persons seen on each non-empty combination of K lists are modelled as
independent Poisson variables with a log-linear mean: an intercept, one main effect per
list and a chosen set of two-way interactions between lists (Fienberg 1972; Bishop,
Fienberg & Holland 1975, ch. 6; for trafficking, Bales, Hesketh & Silverman 2015). The
model extrapolates to the unobserved cell "on no list", whose fitted value is
``exp(intercept)``.

Model choice is forward stepwise: start from the main-effects model and add, one at a time,
the two-way interaction that lowers the information criterion (AIC by default, BIC on
request) the most, until none does. An interaction is only a candidate when the two lists
overlap in at least ``min_overlap`` persons and when the maximum-likelihood estimate of the
extended model exists (checked exactly with a linear programme, Fienberg & Rinaldo 2012):
this keeps the sparse tables (the Dutch ones) from producing infinite estimates.

The confidence interval is a **profile-likelihood** interval for the intercept (hence for
the hidden count), with the chosen model held fixed; a parametric bootstrap (refitting the
chosen model on Poisson draws from its fitted means) is available as ``interval="bootstrap"``.
Neither accounts for model-selection uncertainty, which is why every result carries the
comparison table of the models considered and the spread of the estimates of the models
within 2 units of the best criterion value: on sparse tables that spread, not the interval,
is the honest statement of uncertainty.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "count": [60, 40, 20]})
>>> r = estimate(t)
>>> round(r.total)  # Lincoln-Petersen: 80 * 60 / 20 = 240 persons
240
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import SharelakeError

Criterion = Literal["aic", "bic"]
IntervalMethod = Literal["profile", "bootstrap"]
Pair = tuple[str, str]

_MAX_LISTS = 12


class MSEError(SharelakeError, ValueError):
    """A capture-history table that cannot be used for estimation."""


@dataclass(frozen=True)
class CaptureTable:
    """A capture-history table in full: every non-empty pattern over ``lists``.

    ``patterns`` has shape ``(2**K - 1, K)`` with 0/1 entries; ``counts`` the number of
    persons seen on exactly that combination of lists (zeros included).
    """

    lists: tuple[str, ...]
    patterns: np.ndarray[tuple[int, int], np.dtype[np.int64]]
    counts: np.ndarray[tuple[int], np.dtype[np.float64]]

    @property
    def observed(self) -> int:
        """Persons seen on at least one list."""
        return int(self.counts.sum())

    def overlap(self, a: str, b: str) -> int:
        """Persons seen on both list ``a`` and list ``b``."""
        i, j = self.lists.index(a), self.lists.index(b)
        both = (self.patterns[:, i] == 1) & (self.patterns[:, j] == 1)
        return int(self.counts[both].sum())

    def to_frame(self, count: str = "count") -> pd.DataFrame:
        """The table as a DataFrame (one 0/1 column per list and ``count``), zeros included."""
        df = pd.DataFrame(self.patterns, columns=list(self.lists))
        df[count] = self.counts.astype(np.int64)
        return df


def capture_table(df: pd.DataFrame, *, count: str | None = None) -> CaptureTable:
    """Read a capture-history DataFrame: list columns (0/1 or booleans) and a count column.

    ``count`` names the count column (default: the last column). Missing patterns count as
    zero; repeated patterns are added up; the all-zero pattern is not allowed.

    Examples
    --------
    >>> t = capture_table(pd.DataFrame({"A": [1, 0], "B": [0, 1], "n": [3, 4]}))
    >>> t.lists, t.observed, t.counts.tolist()
    (('A', 'B'), 7, [3.0, 4.0, 0.0])
    """
    if df.shape[1] < 3:
        raise MSEError("a capture-history table needs at least two list columns and a count")
    count = count or str(df.columns[-1])
    if count not in df.columns:
        raise MSEError(f"no count column {count!r}")
    lists = tuple(str(c) for c in df.columns if c != count)
    if len(lists) > _MAX_LISTS:
        raise MSEError(f"at most {_MAX_LISTS} lists, got {len(lists)}")
    pats = df[list(lists)].astype(np.int64).to_numpy()
    if not np.isin(pats, (0, 1)).all():
        raise MSEError("list columns must hold 0/1")
    n = pd.to_numeric(df[count], errors="raise").to_numpy(dtype=np.float64)
    if (n < 0).any() or not np.all(np.isfinite(n)) or not np.all(n == np.round(n)):
        raise MSEError("counts must be non-negative integers")
    K = len(lists)
    if (pats.sum(axis=1) == 0).any() and n[pats.sum(axis=1) == 0].sum() > 0:
        raise MSEError("the all-zero pattern (on no list) is what MSE estimates: drop it")
    # patterns seen on fewer lists first, then in list order: (1,0,0), (0,1,0), ...
    rows = sorted((p for p in itertools.product((1, 0), repeat=K) if any(p)), key=sum)
    full = np.array(rows, dtype=np.int64)
    weights = 1 << np.arange(K - 1, -1, -1)
    index = {int(c): i for i, c in enumerate(full @ weights)}
    counts = np.zeros(len(full), dtype=np.float64)
    for code, c in zip(pats @ weights, n, strict=True):
        if code:
            counts[index[int(code)]] += c
    return CaptureTable(lists, full, counts)


def read_capture_table(path: str | Path) -> CaptureTable:
    """Read a capture-history CSV (list columns, then the count column).

    Examples
    --------
    >>> t = read_capture_table("tests/data/UKdat_5.csv")  # doctest: +SKIP
    >>> t.lists, t.observed  # doctest: +SKIP
    (('LA', 'NG', 'PFNCA', 'GO', 'GP'), 2744)
    """
    return capture_table(pd.read_csv(path))


@dataclass(frozen=True)
class ModelFit:
    """One fitted log-linear model: its interactions, fit statistics and estimate."""

    interactions: tuple[Pair, ...]
    parameters: int
    deviance: float
    df_resid: int
    aic: float
    bic: float
    hidden: float
    total: float
    converged: bool

    def criterion(self, which: Criterion) -> float:
        """The information criterion ``which`` ("aic" or "bic")."""
        return self.aic if which == "aic" else self.bic

    def describe(self) -> str:
        """The model in the usual bracket notation, e.g. ``main + A:B + B:C``."""
        return " + ".join(["main", *(f"{a}:{b}" for a, b in self.interactions)])


@dataclass(frozen=True)
class MSEResult:
    """The estimate of the total population, its interval and the model comparison.

    ``interval`` bounds the total (observed + hidden) at level ``level``; ``sensitivity``
    is the (min, max) total over the models whose criterion is within 2 of the chosen one;
    ``notes`` says in words what a reader must know (sparse lists, a wide interval, an
    estimate that depends on the model).
    """

    lists: tuple[str, ...]
    observed: int
    hidden: float
    total: float
    interval: tuple[float, float]
    level: float
    interval_method: IntervalMethod
    criterion: Criterion
    model: ModelFit
    comparison: tuple[ModelFit, ...]
    sensitivity: tuple[float, float]
    notes: tuple[str, ...] = field(default_factory=tuple)

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
        """A JSON-ready dictionary (used by the report)."""

        def fin(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        return {
            "lists": list(self.lists),
            "observed": self.observed,
            "hidden": fin(self.hidden),
            "total": fin(self.total),
            "interval": [fin(self.interval[0]), fin(self.interval[1])],
            "level": self.level,
            "interval_method": self.interval_method,
            "criterion": self.criterion,
            "model": self.model.describe(),
            "sensitivity": [fin(self.sensitivity[0]), fin(self.sensitivity[1])],
            "notes": list(self.notes),
            "comparison": [
                {**asdict(m), "interactions": [list(p) for p in m.interactions]}
                | {"model": m.describe(), "total": fin(m.total), "hidden": fin(m.hidden)}
                for m in sorted(self.comparison, key=lambda m: m.criterion(self.criterion))
            ],
        }


def _design(table: CaptureTable, pairs: Sequence[Pair]) -> np.ndarray[Any, np.dtype[np.float64]]:
    P = table.patterns.astype(np.float64)
    cols = [np.ones(len(P)), *P.T]
    for a, b in pairs:
        cols.append(P[:, table.lists.index(a)] * P[:, table.lists.index(b)])
    return np.column_stack(cols)


def mle_exists(X: np.ndarray[Any, np.dtype[np.float64]], y: np.ndarray[Any, Any]) -> bool:
    """Whether the Poisson log-linear MLE exists for design ``X`` and counts ``y``.

    It exists exactly when some strictly positive mean vector has the same sufficient
    statistics ``X.T @ y`` (Haberman 1974; Fienberg & Rinaldo 2012), which a linear
    programme decides: maximise ``s`` subject to ``X.T @ m = X.T @ y``, ``m >= s``,
    ``s <= 1``.

    Examples
    --------
    >>> X = np.array([[1.0, 1, 0], [1, 0, 1], [1, 1, 1]])  # A only, B only, both
    >>> bool(mle_exists(X, np.array([3.0, 4, 0]))), bool(mle_exists(X, np.array([3.0, 4, 2])))
    (False, True)
    """
    from scipy.optimize import linprog

    if (y > 0).all():
        return True
    n, p = X.shape
    scale = max(float(y.max()), 1.0)
    c = np.zeros(n + 1)
    c[-1] = -1.0
    A_eq = np.hstack([X.T, np.zeros((p, 1))])
    b_eq = X.T @ (y / scale)
    A_ub = np.hstack([-np.eye(n), np.ones((n, 1))])  # s - m_i <= 0
    bounds = [(0.0, None)] * n + [(0.0, 1.0)]
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(n), A_eq=A_eq, b_eq=b_eq, bounds=bounds)
    return bool(res.status == 0 and -res.fun > 1e-7)


def _glm(y: np.ndarray[Any, Any], X: np.ndarray[Any, Any], offset: Any = None) -> Any:
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset)
        return model.fit(maxiter=200, tol=1e-10)


def fit_model(table: CaptureTable, interactions: Sequence[Pair] = ()) -> ModelFit:
    """Fit main effects plus ``interactions`` by Poisson maximum likelihood.

    BIC uses the number of persons observed as the sample size (Rcapture's convention).

    Examples
    --------
    >>> t = capture_table(pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]}))
    >>> round(fit_model(t).hidden)
    120
    """
    X = _design(table, interactions)
    y = table.counts
    res = _glm(y, X)
    params = np.asarray(res.params, dtype=np.float64)
    k = X.shape[1]
    llf = float(res.llf)
    hidden = float(np.exp(params[0])) if params[0] < 700 else float("inf")
    converged = bool(getattr(res, "converged", True)) and bool(np.all(np.isfinite(params)))
    return ModelFit(
        interactions=tuple(interactions),
        parameters=k,
        deviance=float(res.deviance),
        df_resid=len(y) - k,
        aic=-2 * llf + 2 * k,
        bic=-2 * llf + k * float(np.log(max(table.observed, 2))),
        hidden=hidden,
        total=table.observed + hidden,
        converged=converged,
    )


def _candidates(table: CaptureTable, chosen: Sequence[Pair], min_overlap: int) -> list[Pair]:
    out: list[Pair] = []
    for a, b in itertools.combinations(table.lists, 2):
        if (a, b) in chosen or table.overlap(a, b) < min_overlap:
            continue
        X = _design(table, [*chosen, (a, b)])
        if np.linalg.matrix_rank(X) < X.shape[1] or X.shape[1] >= len(table.counts):
            continue  # not identifiable, or saturated: nothing left to extrapolate from
        if not mle_exists(X, table.counts):
            continue
        out.append((a, b))
    return out


def select_model(
    table: CaptureTable, *, criterion: Criterion = "aic", min_overlap: int = 1
) -> tuple[ModelFit, list[ModelFit]]:
    """Forward stepwise selection of two-way interactions; returns (chosen, all fitted)."""
    current = fit_model(table)
    fitted = [current]
    while True:
        trial = [
            fit_model(table, [*current.interactions, p])
            for p in _candidates(table, current.interactions, min_overlap)
        ]
        trial = [m for m in trial if m.converged and np.isfinite(m.hidden)]
        fitted.extend(trial)
        if not trial:
            return current, fitted
        best = min(trial, key=lambda m: m.criterion(criterion))
        if best.criterion(criterion) >= current.criterion(criterion) - 1e-9:
            return current, fitted
        current = best


def profile_interval(
    table: CaptureTable, model: ModelFit, level: float = 0.95
) -> tuple[float, float]:
    """Profile-likelihood interval for the total population under ``model``.

    The intercept ``b0`` (log of the hidden count) is fixed on a grid of values, the other
    parameters refitted, and the interval is where the deviance rises by at most the
    ``level`` quantile of chi-square(1). An upper bound that is never reached is ``inf``.

    Examples
    --------
    >>> t = capture_table(pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]}))
    >>> lo, hi = profile_interval(t, fit_model(t))
    >>> 180 < lo < 240 < hi < 360
    True
    """
    from scipy.optimize import brentq
    from scipy.stats import chi2

    X = _design(table, model.interactions)
    y = table.counts
    X0 = X[:, 1:]
    b_hat = float(np.log(model.hidden)) if model.hidden > 0 else -30.0
    limit = float(chi2.ppf(level, 1))

    def excess(b0: float) -> float:
        res = _glm(y, X0, offset=np.full(len(y), b0))
        return float(res.deviance) - model.deviance - limit

    def bound(direction: float) -> float:
        step = 0.05
        inner = b_hat
        outer = b_hat + direction * step
        while excess(outer) < 0:
            inner, step = outer, step * 2
            outer = b_hat + direction * step
            if step > 40:
                return float("inf") * direction
        return float(brentq(excess, min(inner, outer), max(inner, outer), xtol=1e-6))

    lo_b, hi_b = bound(-1.0), bound(1.0)
    lo = table.observed + (float(np.exp(lo_b)) if np.isfinite(lo_b) else 0.0)
    hi = table.observed + float(np.exp(hi_b)) if np.isfinite(hi_b) else float("inf")
    return lo, hi


def bootstrap_interval(
    table: CaptureTable,
    model: ModelFit,
    level: float = 0.95,
    *,
    n_boot: int = 200,
    seed: int = 0,
) -> tuple[float, float]:
    """Parametric bootstrap percentile interval for the total under a fixed ``model``.

    Each replicate draws every observed cell from Poisson(fitted mean) and the hidden
    cell from Poisson(fitted hidden count), refits the model and records
    observed* + hidden* estimate.
    """
    X = _design(table, model.interactions)
    res = _glm(table.counts, X)
    mu = np.asarray(res.fittedvalues, dtype=np.float64)
    rng = np.random.default_rng(seed)
    totals = []
    for _ in range(n_boot):
        y = rng.poisson(mu).astype(np.float64)
        if not mle_exists(X, y):
            continue
        boot = _glm(y, X)
        totals.append(float(y.sum() + np.exp(min(float(boot.params[0]), 700.0))))
    if not totals:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    lo, hi = np.quantile(np.array(totals), [a, 1 - a])
    return float(lo), float(hi)


def estimate(
    table: CaptureTable | pd.DataFrame,
    *,
    criterion: Criterion = "aic",
    level: float = 0.95,
    interval: IntervalMethod = "profile",
    min_overlap: int = 1,
    n_boot: int = 200,
    seed: int = 0,
) -> MSEResult:
    """Estimate the total population (on some list or on none) from a capture-history table.

    Parameters
    ----------
    table
        A :class:`CaptureTable` or a DataFrame of 0/1 list columns and a last count column.
    criterion
        ``"aic"`` (default) or ``"bic"`` for the forward selection of two-way interactions.
    level
        Confidence level of the interval.
    interval
        ``"profile"`` (profile likelihood, default) or ``"bootstrap"`` (parametric).
    min_overlap
        An interaction between two lists is a candidate only when they share at least this
        many persons.
    n_boot, seed
        Replicates and seed of the bootstrap interval.

    Examples
    --------
    >>> t = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]})
    >>> r = estimate(t)
    >>> r.model.describe(), r.observed, round(r.hidden)
    ('main', 120, 120)
    """
    t = table if isinstance(table, CaptureTable) else capture_table(table)
    if t.observed == 0:
        raise MSEError("the table is empty: nobody was seen on any list")
    model, fitted = select_model(t, criterion=criterion, min_overlap=min_overlap)
    if not np.isfinite(model.hidden):
        raise MSEError("the main-effects model has no finite estimate on this table")
    if interval == "profile":
        ci = profile_interval(t, model, level)
    else:
        ci = bootstrap_interval(t, model, level, n_boot=n_boot, seed=seed)
    best = model.criterion(criterion)
    close = [m.total for m in fitted if m.criterion(criterion) - best <= 2.0]
    sens = (min(close), max(close))
    notes = _notes(t, model, ci, sens)
    return MSEResult(
        lists=t.lists,
        observed=t.observed,
        hidden=model.hidden,
        total=model.total,
        interval=ci,
        level=level,
        interval_method=interval,
        criterion=criterion,
        model=model,
        comparison=tuple(fitted),
        sensitivity=sens,
        notes=tuple(notes),
    )


def _notes(
    t: CaptureTable, model: ModelFit, ci: tuple[float, float], sens: tuple[float, float]
) -> list[str]:
    notes = []
    empty = [f"{a}-{b}" for a, b in itertools.combinations(t.lists, 2) if t.overlap(a, b) == 0]
    if empty:
        notes.append(
            f"lists with no overlap: {', '.join(empty)} (their interactions are not estimable)"
        )
    zeros = int((t.counts == 0).sum())
    if zeros > len(t.counts) / 2:
        notes.append(f"sparse table: {zeros} of {len(t.counts)} patterns are empty")
    if not np.isfinite(ci[1]):
        notes.append("the upper confidence bound is infinite: the data do not bound the estimate")
    elif (ci[1] - ci[0]) > 0.5 * model.total:
        notes.append(f"wide interval: {ci[0]:,.0f} to {ci[1]:,.0f} is more than half the estimate")
    if sens[1] - sens[0] > 0.2 * model.total:
        notes.append(
            f"model-dependent: models within 2 of the best criterion give {sens[0]:,.0f} to "
            f"{sens[1]:,.0f}"
        )
    if model.hidden > 10 * t.observed:
        notes.append("the hidden part is more than ten times the observed: treat with care")
    return notes

"""Bayesian model averaging over decomposable graphical models (Madigan & York 1997).

Each decomposable (chordal) graph on the K lists is a model of how the lists depend on
each other: lists not joined by an edge are conditionally independent given the rest.
With a hyper-Dirichlet prior (Dawid & Lauritzen 1993) the marginal likelihood of the
complete 2^K table, with the hidden cell set to ``N0``, is available in closed form:
the product over a perfect sequence of the graph's complete sets ``v + pa(v)`` of the
Dirichlet-multinomial likelihood of the marginal table on that set, divided by the one on
``pa(v)`` (Madigan & York 1997, Biometrika 84:19-31, section 3; the same computation as
the ``dga`` R package of Johndrow, Lum & Ball used by HRDAG). The posterior of
``(graph, N0)`` is that likelihood times the multinomial coefficient
``N! / (N0! prod y!)``, the prior of ``N`` and the prior of the graph.

The prior, stated as results report it:

* graphs: uniform over the decomposable graphs on the K lists;
* cell probabilities: hyper-Dirichlet with ``delta`` prior persons in every cell of the
  full table (default ``2**-K``, one prior person in all; a marginal cell over ``s``
  lists gets ``delta * 2**(K - s)``);
* population size: ``p(N) proportional to 1/N`` (dga's default).

``N0`` runs over a grid from 0 up to a bound that is raised until the posterior mass in
its last hundredth is negligible. Graphs are enumerated (8, 61 and 822 of them for 3, 4
and 5 lists) and each is turned into a row of +1/-1 over the 2^K subsets of lists, so the
posterior of every graph at every ``N0`` is one matrix product.

Examples
--------
>>> import pandas as pd
>>> from .table import capture_table
>>> t = capture_table(pd.DataFrame({"A": [1, 0, 1, 0, 1, 0, 1], "B": [0, 1, 1, 0, 0, 1, 1],
...                                 "C": [0, 0, 0, 1, 1, 1, 1], "n": [60, 50, 20, 40, 15, 12, 5]}))
>>> post = bma_posterior(t)
>>> len(post.models), bool(post.interval[0] < post.median < post.interval[1])
(8, True)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.special import gammaln, logsumexp

from .table import CaptureTable, MSEError

__all__ = ["BMAResult", "GraphPosterior", "bma_posterior", "decomposable_graphs"]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
Graph = tuple[tuple[int, int], ...]

MIN_LISTS, MAX_LISTS = 3, 5
_GRID_POINTS = 20_000


def _perfect_sequence(p: int, edges: Graph) -> list[tuple[int, frozenset[int]]] | None:
    """Maximum cardinality search: ``[(v, pa(v)), ...]`` if the graph is chordal, else None.

    Tarjan & Yannakakis (1984): in an MCS order the earlier neighbours of every vertex
    form a complete set exactly when the graph is chordal.
    """
    nb: list[set[int]] = [set() for _ in range(p)]
    for a, b in edges:
        nb[a].add(b)
        nb[b].add(a)
    seen: list[int] = []
    weight = [0] * p
    out: list[tuple[int, frozenset[int]]] = []
    for _ in range(p):
        v = max((u for u in range(p) if u not in seen), key=lambda u: (weight[u], -u))
        pa = frozenset(nb[v] & set(seen))
        if any(b not in nb[a] for a, b in itertools.combinations(sorted(pa), 2)):
            return None
        out.append((v, pa))
        seen.append(v)
        for u in nb[v]:
            weight[u] += 1
    return out


@lru_cache(maxsize=8)
def decomposable_graphs(p: int) -> tuple[tuple[Graph, tuple[tuple[int, frozenset[int]], ...]], ...]:
    """Every decomposable graph on ``p`` vertices with a perfect sequence of it.

    Examples
    --------
    >>> [len(decomposable_graphs(p)) for p in (3, 4, 5)]
    [8, 61, 822]
    """
    all_edges = list(itertools.combinations(range(p), 2))
    out = []
    for mask in range(1 << len(all_edges)):
        edges = tuple(e for i, e in enumerate(all_edges) if mask >> i & 1)
        seq = _perfect_sequence(p, edges)
        if seq is not None:
            out.append((edges, tuple(seq)))
    return tuple(out)


def _cliques(p: int, seq: tuple[tuple[int, frozenset[int]], ...]) -> list[frozenset[int]]:
    sets = [pa | {v} for v, pa in seq]
    return [s for s in sets if not any(s < other for other in sets)]


@dataclass(frozen=True)
class GraphPosterior:
    """One graph's posterior weight and its posterior median of the total."""

    cliques: tuple[tuple[str, ...], ...]
    weight: float
    median: float

    def describe(self) -> str:
        """The graph by its cliques, e.g. ``[A B][C]``."""
        return "".join(f"[{' '.join(c)}]" for c in self.cliques)


@dataclass(frozen=True)
class BMAResult:
    """The model-averaged posterior of the total population.

    ``grid`` and ``density`` give the posterior of the total on the grid it was computed
    on; ``models`` the graphs, most probable first.
    """

    median: float
    mean: float
    interval: tuple[float, float]
    level: float
    delta: float
    prior: str
    models: tuple[GraphPosterior, ...]
    grid: FloatArray
    density: FloatArray
    upper_limit: float

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        """A JSON-ready summary with the ``top`` most probable graphs."""
        return {
            "median": self.median,
            "mean": self.mean,
            "interval": list(self.interval),
            "level": self.level,
            "delta": self.delta,
            "prior": self.prior,
            "graphs": len(self.models),
            "top": [
                {"graph": m.describe(), "weight": m.weight, "median": m.median}
                for m in self.models[:top]
            ],
        }


def _subset_terms(t: CaptureTable, delta: float, N0: FloatArray) -> FloatArray:
    """``F[s, i]``: log Dirichlet-multinomial likelihood of the margin on subset ``s``."""
    K = len(t.lists)
    A = delta * 2**K
    n = float(t.counts.sum())
    P = t.patterns
    F = np.zeros((1 << K, len(N0)))
    base = gammaln(A) - gammaln(n + N0 + A)
    for s in range(1, 1 << K):
        members = [i for i in range(K) if s >> (K - 1 - i) & 1]
        a = delta * 2 ** (K - len(members))
        code = P[:, members] @ (1 << np.arange(len(members) - 1, -1, -1))
        D = np.bincount(code, weights=t.counts, minlength=1 << len(members))
        rest = float((gammaln(D[1:] + a) - gammaln(a)).sum())
        F[s] = base + gammaln(D[0] + N0 + a) - gammaln(a) + rest
    return F


def _subset_code(K: int, members: frozenset[int]) -> int:
    return sum(1 << (K - 1 - i) for i in members)


def bma_posterior(t: CaptureTable, *, level: float = 0.95, delta: float | None = None) -> BMAResult:
    """Posterior of the total population averaged over the decomposable graphs.

    Raises
    ------
    MSEError
        With fewer than 3 or more than 5 lists.
    """
    K = len(t.lists)
    if not MIN_LISTS <= K <= MAX_LISTS:
        raise MSEError(
            f"BMA over decomposable graphs needs {MIN_LISTS} to {MAX_LISTS} lists, got {K}: "
            "merge lists or use method='stepwise'"
        )
    d = float(delta) if delta is not None else 2.0**-K
    if not d > 0:
        raise MSEError("delta must be positive")
    graphs = decomposable_graphs(K)
    coef = np.zeros((len(graphs), 1 << K))
    for g, (_, seq) in enumerate(graphs):
        for v, pa in seq:
            coef[g, _subset_code(K, pa | {v})] += 1
            coef[g, _subset_code(K, pa)] -= 1
    coef[:, 0] = 0.0  # the empty set's term is zero
    n = float(t.counts.sum())
    y = t.counts
    limit = max(2_000.0, 20.0 * n)
    while True:
        step = max(1.0, np.ceil(limit / _GRID_POINTS))
        N0 = np.arange(0.0, limit + step, step)
        F = _subset_terms(t, d, N0)
        N = n + N0
        extra = gammaln(N + 1) - gammaln(N0 + 1) - float(gammaln(y + 1).sum()) - np.log(N)
        logw = coef @ F + extra[None, :] + np.log(step)
        marginal = logsumexp(logw, axis=0)
        total = float(logsumexp(marginal))
        tail = float(logsumexp(marginal[-max(1, len(N0) // 100) :]))
        if tail - total < np.log(1e-6) or limit >= 1e3 * max(n, 100.0):
            break
        limit *= 4
    post = np.exp(marginal - total)
    post /= post.sum()
    cdf = np.cumsum(post)
    a = (1 - level) / 2

    def q(prob: float, c: FloatArray = cdf) -> float:
        return float(n + np.interp(prob, c, N0))

    model_log = logsumexp(logw, axis=1) - total
    weights = np.exp(model_log)
    order = np.argsort(-weights, kind="stable")
    models = []
    for g in order:
        wg = np.exp(logw[g] - logsumexp(logw[g]))
        names = tuple(tuple(t.lists[i] for i in sorted(c)) for c in _cliques(K, graphs[g][1]))
        models.append(
            GraphPosterior(
                cliques=tuple(sorted(names, key=lambda c: (-len(c), c))),
                weight=float(weights[g]),
                median=q(0.5, np.cumsum(wg)),
            )
        )
    prior = (
        f"graphs uniform over the {len(graphs)} decomposable graphs on {K} lists; "
        f"hyper-Dirichlet cell probabilities with delta = {d:g} prior persons per cell; "
        "p(N) proportional to 1/N"
    )
    return BMAResult(
        median=q(0.5),
        mean=float(n + post @ N0),
        interval=(q(a), q(1 - a)),
        level=level,
        delta=d,
        prior=prior,
        models=tuple(models),
        grid=n + N0,
        density=post / step,
        upper_limit=float(n + N0[-1]),
    )

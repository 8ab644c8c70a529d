"""Bayesian model averaging over decomposable graphs (Madigan & York 1997)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sharelake.monitoring.mse import (
    CaptureTable,
    MSEError,
    bma_posterior,
    capture_table,
    decomposable_graphs,
    estimate,
    read_capture_table,
)
from sharelake.monitoring.mse.glm import fit_batch

DATA = Path(__file__).resolve().parents[1] / "data" / "mse"


def test_the_decomposable_graphs_on_3_4_and_5_lists_are_all_enumerated() -> None:
    # 2^3 graphs on 3 vertices are all chordal; on 4, the three 4-cycles are not
    # (64 - 3); on 5 lists there are 822 chordal graphs of 1024 (OEIS A058862)
    assert [len(decomposable_graphs(p)) for p in (3, 4, 5)] == [8, 61, 822]
    edges = {g for g, _ in decomposable_graphs(4)}
    assert ((0, 1), (0, 2), (1, 3), (2, 3)) not in edges  # the 4-cycle 0-1-3-2-0
    assert ((0, 1), (0, 2), (1, 2), (1, 3), (2, 3)) in edges  # the same with a chord


def _decomposable_mle(t: CaptureTable, cliques: tuple[tuple[str, ...], ...]) -> float:
    P = t.patterns.astype(float)
    terms = sorted(
        {
            s
            for c in cliques
            for r in range(1, len(c) + 1)
            for s in itertools.combinations([t.lists.index(x) for x in c], r)
        }
    )
    X = np.column_stack([np.ones(len(P)), *(np.prod(P[:, list(s)], axis=1) for s in terms)])
    fit = fit_batch(X, t.counts[None, :], max_iter=100)
    return float(t.observed + np.exp(fit.beta[0, 0]))


def test_each_graphs_posterior_median_is_close_to_its_maximum_likelihood_estimate() -> None:
    t = read_capture_table(DATA / "Kosovo.csv")
    post = bma_posterior(t)
    for g in post.models[:3]:
        assert g.median == pytest.approx(_decomposable_mle(t, g.cliques), rel=0.02)


def test_bma_on_kosovo_is_in_the_range_of_the_published_analysis() -> None:
    # Ball et al. (2002): 10,356 (95% 9,002-12,122) from stratified log-linear models;
    # the pooled four-list table puts almost all weight on one graph with two
    # three-list cliques and lands higher (see README, "Population estimate")
    r = estimate(read_capture_table(DATA / "Kosovo.csv"), method="bma")
    assert r.bma is not None
    assert r.interval_method == "credible"
    lo, hi = r.interval
    assert lo < 10_356 < hi  # the published point lies inside our credible interval
    assert 11_000 < r.total < 14_000
    assert r.bma.models[0].describe() == "[EXH ABA OSCE][EXH OSCE HRW]"
    assert "p(N) proportional to 1/N" in r.bma.prior and "61 decomposable graphs" in r.bma.prior
    assert sum(m.weight for m in r.bma.models) == pytest.approx(1.0)


def test_bma_recovers_a_population_with_independent_lists() -> None:
    rng = np.random.default_rng(11)
    N = 3000
    seen = rng.random((N, 3)) < np.array([0.3, 0.4, 0.35])
    seen = seen[seen.any(axis=1)]
    df = pd.DataFrame(seen.astype(int), columns=list("ABC")).value_counts().rename("n")
    post = bma_posterior(capture_table(df.reset_index()))
    assert post.interval[0] < N < post.interval[1]
    assert post.density.sum() * (post.grid[1] - post.grid[0]) == pytest.approx(1.0, rel=1e-6)


def test_bma_refuses_tables_outside_three_to_five_lists() -> None:
    with pytest.raises(MSEError, match="3 to 5 lists, got 6"):
        estimate(read_capture_table(DATA / "UKdat.csv"), method="bma")
    with pytest.raises(MSEError, match="3 to 5 lists, got 2"):
        estimate(pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [6, 4, 2]}), method="bma")
    with pytest.raises(MSEError, match="credible"):
        estimate(read_capture_table(DATA / "Kosovo.csv"), method="bma", interval="profile")


def test_the_prior_count_delta_is_reported_and_changes_the_posterior() -> None:
    t = read_capture_table(DATA / "Kosovo.csv")
    small, large = bma_posterior(t, delta=2.0**-4), bma_posterior(t, delta=1.0)
    assert small.delta == 2.0**-4 and large.delta == 1.0
    assert small.median != pytest.approx(large.median, rel=1e-3)

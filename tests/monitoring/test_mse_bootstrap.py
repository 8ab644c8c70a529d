"""The BCa bootstrap with model reselection: reproducible, and covering the truth."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sharelake.monitoring.mse import (
    ModelChecker,
    bootstrap_bca,
    capture_table,
    estimate,
    read_capture_table,
    stepwise,
)
from sharelake.monitoring.mse.intervals import bca

DATA = Path(__file__).resolve().parents[1] / "data" / "mse"


def test_the_same_seed_gives_the_same_interval_and_another_seed_another() -> None:
    t = read_capture_table(DATA / "NewOrl_5.csv")
    a = estimate(t, interval="bootstrap", n_boot=200, seed=7)
    b = estimate(t, interval="bootstrap", n_boot=200, seed=7)
    c = estimate(t, interval="bootstrap", n_boot=200, seed=8)
    assert a.interval == b.interval
    assert a.bootstrap is not None and b.bootstrap is not None and c.bootstrap is not None
    assert np.array_equal(a.bootstrap.replicates, b.bootstrap.replicates)
    assert not np.array_equal(a.bootstrap.replicates, c.bootstrap.replicates)
    assert a.interval[0] < a.total < a.interval[1]


def test_every_replicate_chooses_its_own_model_like_a_single_stepwise_run() -> None:
    t = read_capture_table(DATA / "UKdat_5.csv")
    rng = np.random.default_rng(5)
    Y = rng.multinomial(t.observed, t.counts / t.observed, size=6).astype(float)
    batch = stepwise(t, Y, checker=ModelChecker(t))
    for b in range(len(Y)):
        alone = stepwise(t, Y[b : b + 1])
        assert alone.models[0] == batch.models[b]
        assert alone.totals(Y[b : b + 1])[0] == pytest.approx(batch.totals(Y)[b], rel=1e-9)
    assert len(set(batch.models)) > 1  # model choice does vary between resamples


def test_the_bca_quantiles_reduce_to_percentiles_without_bias_or_acceleration() -> None:
    reps = np.random.default_rng(4).permutation(np.arange(1.0, 1001.0))
    q = bca(reps, 500.5, 0.0, np.array([0.025, 0.975]))  # half the replicates below
    expected = np.quantile(reps, [0.025, 0.975], method="median_unbiased")
    assert q == pytest.approx(expected, rel=1e-9)


def test_a_positive_acceleration_moves_both_bounds_up() -> None:
    reps = np.random.default_rng(0).normal(100, 10, 4000)
    plain = bca(reps, 100.0, 0.0, np.array([0.025, 0.975]))
    accel = bca(reps, 100.0, 0.1, np.array([0.025, 0.975]))
    assert accel[0] > plain[0] and accel[1] > plain[1]


def test_the_bootstrap_of_the_forward_aic_choice_also_runs() -> None:
    t = read_capture_table(DATA / "Kosovo.csv")
    r = estimate(t, method="aic", interval="bootstrap", n_boot=60, seed=1)
    assert r.interval[0] < r.total < r.interval[1]


# A known 4-list log-linear model: main effects and two positive dependences.
_LISTS = ("A", "B", "C", "D")
_LOGP = np.log(np.array([0.25, 0.3, 0.2, 0.35]) / (1 - np.array([0.25, 0.3, 0.2, 0.35])))
_INTER = {(0, 1): 0.8, (2, 3): 0.6}
_N = 2_000


def _true_table() -> tuple[np.ndarray, np.ndarray]:
    pats = np.array(list(itertools.product((0, 1), repeat=4)), dtype=float)
    eta = pats @ _LOGP + sum(v * pats[:, i] * pats[:, j] for (i, j), v in _INTER.items())
    prob = np.exp(eta) / np.exp(eta).sum()
    return pats, prob


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_bca_interval_covers_the_true_population_about_95_percent_of_the_time() -> None:
    pats, prob = _true_table()
    rng = np.random.default_rng(2026)
    hits = 0
    n_tables = 200
    for _ in range(n_tables):
        counts = rng.multinomial(_N, prob)
        df = pd.DataFrame(pats[1:].astype(int), columns=list(_LISTS))
        df["n"] = counts[1:]
        r = estimate(
            capture_table(df), interval="bootstrap", n_boot=300, seed=int(rng.integers(1 << 31))
        )
        hits += r.interval[0] <= _N <= r.interval[1]
    coverage = hits / n_tables
    print(f"BCa coverage over {n_tables} tables: {coverage:.3f}")
    assert 0.90 <= coverage <= 0.98


def test_a_table_from_the_known_model_gives_an_interval_around_its_population() -> None:
    pats, prob = _true_table()
    counts = np.random.default_rng(1).multinomial(_N, prob)
    df = pd.DataFrame(pats[1:].astype(int), columns=list(_LISTS))
    df["n"] = counts[1:]
    r = estimate(df, interval="bootstrap", n_boot=200, seed=3)
    assert r.interval[0] < _N < r.interval[1]
    assert r.model is not None and {("A", "B"), ("C", "D")} <= set(r.model.interactions)
    res = bootstrap_bca(capture_table(df), lambda t, y: stepwise(t, y), n_boot=50, seed=3)
    assert res.n_boot == 50 and len(res.replicates) == 50

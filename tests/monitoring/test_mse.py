"""Multiple-systems estimation on toy tables and on the published capture-history tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sharelake.monitoring.mse import (
    MSEError,
    capture_table,
    estimate,
    fit_model,
    mle_exists,
    read_capture_table,
)

HERE = Path(__file__).resolve().parent
UK5 = HERE.parent / "data" / "UKdat_5.csv"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "mse"


def shared(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} is not present (the shared data folder sits beside the checkout)")
    return path


def test_two_lists_give_the_lincoln_petersen_estimate() -> None:
    r = estimate(pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]}))
    assert r.total == pytest.approx(80 * 60 / 20, rel=1e-6)
    assert r.model.interactions == ()
    assert r.interval[0] < r.total < r.interval[1]


def test_a_table_is_completed_with_the_patterns_nobody_was_seen_on() -> None:
    t = capture_table(pd.DataFrame({"A": [1], "B": [1], "C": [0], "count": [5]}))
    assert len(t.counts) == 7
    assert t.observed == 5
    assert t.to_frame()["count"].sum() == 5


def test_the_all_zero_pattern_and_negative_counts_are_rejected() -> None:
    with pytest.raises(MSEError, match="all-zero"):
        capture_table(pd.DataFrame({"A": [0, 1], "B": [0, 1], "n": [3, 4]}))
    with pytest.raises(MSEError, match="non-negative"):
        capture_table(pd.DataFrame({"A": [1, 0], "B": [0, 1], "n": [-3, 4]}))


def test_the_mle_existence_check_spots_an_empty_overlap() -> None:
    X = np.array([[1.0, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 1]])
    assert not mle_exists(X, np.array([3.0, 4.0, 0.0]))
    assert mle_exists(X[:, :3], np.array([3.0, 4.0, 0.0])) is False


def test_the_estimate_recovers_a_simulated_population_with_independent_lists() -> None:
    rng = np.random.default_rng(3)
    N, probs = 5000, np.array([0.3, 0.2, 0.25, 0.15])
    seen = rng.random((N, 4)) < probs
    seen = seen[seen.any(axis=1)]
    df = pd.DataFrame(seen.astype(int), columns=list("ABCD"))
    table = df.value_counts().rename("n").reset_index()
    r = estimate(table)
    assert r.interval[0] < N < r.interval[1]
    assert abs(r.total - N) / N < 0.1


def test_the_bootstrap_interval_brackets_the_estimate() -> None:
    r = estimate(read_capture_table(UK5), interval="bootstrap", n_boot=60, seed=1)
    assert r.interval_method == "bootstrap"
    assert r.interval[0] < r.total < r.interval[1]


def test_the_uk_2013_table_gives_the_published_estimate() -> None:
    r = estimate(read_capture_table(UK5))
    assert r.observed == 2744
    # Bales, Hesketh & Silverman (2015): about 11,300 within 10,000-13,000
    assert 10_000 <= r.total <= 13_000
    assert r.total == pytest.approx(11_313, rel=0.01)
    assert r.interval[0] < r.total < r.interval[1]
    assert r.interval[0] > 9_000 and r.interval[1] < 14_000
    assert "LA:NG" in r.model.describe()


def test_the_six_list_uk_table_agrees_with_the_five_list_one() -> None:
    r = estimate(read_capture_table(shared("UKdat.csv")))
    assert 10_000 <= r.total <= 13_000
    assert r.total == pytest.approx(11_418, rel=0.01)


def test_bic_chooses_a_smaller_model_than_aic() -> None:
    t = read_capture_table(UK5)
    aic, bic = estimate(t), estimate(t, criterion="bic")
    assert len(bic.model.interactions) <= len(aic.model.interactions)
    assert 10_000 <= bic.total <= 13_000 + 1_500


@pytest.mark.parametrize("name", ["Ned.csv", "Ned_5.csv"])
def test_a_sparse_dutch_table_says_its_estimate_is_uncertain(name: str) -> None:
    r = estimate(read_capture_table(shared(name)))
    assert r.observed == 8234
    assert np.isfinite(r.total)
    assert r.relative_width > 0.5 or r.sensitivity[1] - r.sensitivity[0] > 0.2 * r.total
    assert any("wide interval" in n or "model-dependent" in n for n in r.notes)
    frame = r.comparison_frame()
    assert frame["delta"].iloc[0] == 0
    assert len(frame) > 5


@pytest.mark.parametrize("name", ["Kosovo.csv", "NewOrl_5.csv", "NewOrl.csv"])
def test_every_shared_table_gives_a_finite_estimate_with_an_interval(name: str) -> None:
    t = read_capture_table(shared(name))
    r = estimate(t)
    assert r.observed == t.observed
    assert r.observed < r.interval[0] <= r.total <= r.interval[1]
    d = r.to_dict()
    assert d["total"] == pytest.approx(r.total)
    assert d["comparison"][0]["model"]


def test_a_model_fit_reports_its_criteria() -> None:
    t = read_capture_table(UK5)
    m = fit_model(t, [("LA", "NG")])
    assert m.parameters == 7
    assert m.aic < m.bic
    assert m.describe() == "main + LA:NG"

"""Multiple-systems estimation: reading tables, fitting models, errors and notes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sharelake
from sharelake.errors import InputValidationError, SharelakeError
from sharelake.monitoring.mse import (
    MSEError,
    capture_table,
    estimate,
    fit_model,
    mle_exists,
    read_capture_table,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "mse"
UK5 = DATA / "UKdat_5.csv"


def test_two_lists_give_the_lincoln_petersen_estimate() -> None:
    r = estimate(pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]}))
    assert r.total == pytest.approx(80 * 60 / 20, rel=1e-6)
    assert r.model is not None and r.model.interactions == ()
    assert r.interval[0] < r.total < r.interval[1]


def test_the_top_level_estimate_population_is_the_same_function() -> None:
    t = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]})
    assert sharelake.estimate_population(t).total == pytest.approx(estimate(t).total)


def test_a_table_is_completed_with_the_patterns_nobody_was_seen_on() -> None:
    t = capture_table(pd.DataFrame({"A": [1], "B": [1], "C": [0], "count": [5]}))
    assert len(t.counts) == 7
    assert t.observed == 5
    assert t.to_frame()["count"].sum() == 5


def test_repeated_patterns_are_added_up() -> None:
    t = capture_table(pd.DataFrame({"A": [1, 1, 0], "B": [0, 0, 1], "n": [2, 3, 4]}))
    assert t.counts.tolist() == [5.0, 4.0, 0.0]


def test_the_all_zero_pattern_and_negative_counts_are_rejected_with_their_row() -> None:
    with pytest.raises(MSEError, match=r"row 1.*all-zero"):
        capture_table(pd.DataFrame({"A": [0, 1], "B": [0, 1], "n": [3, 4]}))
    with pytest.raises(MSEError, match=r"row 1, column 'n'.*non-negative"):
        capture_table(pd.DataFrame({"A": [1, 0], "B": [0, 1], "n": [-3, 4]}))
    with pytest.raises(MSEError, match=r"row 2, column 'B'.*0 or 1"):
        capture_table(pd.DataFrame({"A": [1, 0], "B": [0, 2], "n": [3, 4]}))


def test_unusable_tables_raise_the_estimation_error_of_the_project_tree() -> None:
    assert issubclass(MSEError, InputValidationError)
    assert issubclass(MSEError, SharelakeError)
    with pytest.raises(MSEError, match="at least two list columns"):
        capture_table(pd.DataFrame({"A": [1], "n": [5]}))
    with pytest.raises(MSEError, match="nobody was seen"):
        capture_table(pd.DataFrame({"A": [1, 0], "B": [0, 1], "n": [0, 0]}))
    with pytest.raises(MSEError, match="no rows"):
        capture_table(pd.DataFrame({"A": [], "B": [], "n": []}))
    many = pd.DataFrame(np.eye(13, dtype=int), columns=[f"L{i}" for i in range(13)])
    many["n"] = 1
    with pytest.raises(MSEError, match="at most 12 lists"):
        capture_table(many)
    with pytest.raises(MSEError, match="fewer than two lists have anybody"):
        estimate(pd.DataFrame({"A": [1, 0], "B": [0, 1], "n": [5, 0]}))


def test_two_lists_that_share_nobody_have_no_finite_estimate() -> None:
    with pytest.raises(MSEError, match="estimate of the model main does not exist"):
        estimate(pd.DataFrame({"A": [1, 0], "B": [0, 1], "n": [5, 7]}))
    with pytest.raises(MSEError, match="does not exist"):
        estimate(pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [0, 7, 3]}))


def test_a_file_that_is_not_a_table_is_named_in_the_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.csv"
    bad.write_bytes(b"")
    with pytest.raises(MSEError, match=r"file broken\.csv"):
        read_capture_table(bad)


def test_an_unknown_method_or_interval_combination_is_refused() -> None:
    t = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]})
    with pytest.raises(MSEError, match="unknown method"):
        estimate(t, method="magic")  # type: ignore[arg-type]
    with pytest.raises(MSEError, match="credible interval needs method='bma'"):
        estimate(t, interval="credible")


def test_the_mle_existence_check_spots_an_empty_overlap() -> None:
    X = np.array([[1.0, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 1]])
    assert not mle_exists(X, np.array([3.0, 4.0, 0.0]))
    assert mle_exists(X[:, :3], np.array([3.0, 4.0, 0.0])) is False
    assert mle_exists(X[:, :3], np.array([3.0, 4.0, 1.0])) is True


def test_the_estimate_recovers_a_simulated_population_with_independent_lists() -> None:
    rng = np.random.default_rng(3)
    N, probs = 5000, np.array([0.3, 0.2, 0.25, 0.15])
    seen = rng.random((N, 4)) < probs
    seen = seen[seen.any(axis=1)]
    df = pd.DataFrame(seen.astype(int), columns=list("ABCD"))
    table = df.value_counts().rename("n").reset_index()
    for method in ("stepwise", "aic", "bic", "bma"):
        r = estimate(table, method=method)  # type: ignore[arg-type]
        assert r.interval[0] < N < r.interval[1], method
        assert abs(r.total - N) / N < 0.1, method


def test_the_uk_2013_table_gives_the_published_estimate() -> None:
    r = estimate(read_capture_table(UK5))
    assert r.observed == 2744
    # Bales, Hesketh & Silverman (2015): about 11,300 within 10,000-13,000
    assert 10_000 <= r.total <= 13_000
    assert r.interval[0] > 9_000 and r.interval[1] < 14_000
    assert r.model is not None and ("LA", "NG") in r.model.interactions


def test_bic_chooses_a_smaller_model_than_aic() -> None:
    t = read_capture_table(UK5)
    aic, bic = estimate(t, method="aic"), estimate(t, method="bic")
    assert aic.model is not None and bic.model is not None
    assert len(bic.model.interactions) < len(aic.model.interactions)
    assert (aic.interval_method, bic.criterion) == ("profile", "bic")
    assert 10_000 <= bic.total <= 13_000 + 1_500


def test_forward_aic_on_the_dutch_table_says_its_estimate_is_uncertain() -> None:
    r = estimate(read_capture_table(DATA / "Ned_5.csv"), method="aic")
    assert r.observed == 8234
    assert r.total == pytest.approx(94_875, rel=0.01)  # the former default, kept as "aic"
    assert r.relative_width > 0.5
    assert any("wide interval" in n for n in r.notes)
    frame = r.comparison_frame()
    assert frame["delta"].iloc[0] == 0
    assert len(frame) > 5


def test_models_within_two_aic_units_that_disagree_are_reported() -> None:
    r = estimate(read_capture_table(DATA / "Ned_5.csv"))
    lo, hi = r.sensitivity
    assert hi - lo > 0.2 * r.total
    assert any(n.startswith("model-dependent: models within 2 AIC units") for n in r.notes)


def test_an_interval_wider_than_the_estimate_is_called_unstable() -> None:
    r = estimate(read_capture_table(DATA / "NewOrl_5.csv"))
    assert r.interval[1] - r.interval[0] > r.total
    assert any(n.startswith("unstable: the interval") for n in r.notes)


@pytest.mark.parametrize("name", ["Kosovo.csv", "NewOrl_5.csv", "NewOrl.csv"])
@pytest.mark.parametrize("method", ["stepwise", "aic", "bic"])
def test_every_published_table_gives_a_finite_estimate_with_an_interval(
    name: str, method: str
) -> None:
    t = read_capture_table(DATA / name)
    r = estimate(t, method=method)  # type: ignore[arg-type]
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


def test_a_pair_without_overlap_is_fitted_as_minus_infinity_and_counted_in_the_aic() -> None:
    t = read_capture_table(UK5)
    assert t.overlap("LA", "GP") == 0
    with_empty = fit_model(t, [("LA", "NG"), ("LA", "GP")])
    without = fit_model(t, [("LA", "NG")])
    assert with_empty.empty_overlaps == (("LA", "GP"),)
    assert with_empty.describe() == "main + LA:NG (and LA:GP with no overlap)"
    # the cells on both LA and GP are left out: the other fitted values barely move,
    # the log-likelihood can only rise, and the AIC pays 2 for the extra parameter
    assert with_empty.aic == pytest.approx(
        without.aic + 2 - (without.deviance - with_empty.deviance), rel=1e-6
    )


def _plain_lp_exists(X: np.ndarray, y: np.ndarray) -> bool:
    from scipy.optimize import linprog

    n, p = X.shape
    c = np.zeros(n + 1)
    c[-1] = -1
    res = linprog(
        c,
        A_ub=np.hstack([-np.eye(n), np.ones((n, 1))]),
        b_ub=np.zeros(n),
        A_eq=np.hstack([X.T, np.zeros((p, 1))]),
        b_eq=X.T @ (y / y.sum()),
        bounds=[(0, None)] * (n + 1),
        method="highs",
    )
    return bool(res.status == 0 and -res.fun > 1e-10)


def test_the_null_space_shortcut_of_the_existence_check_agrees_with_the_linear_programme() -> None:
    import itertools

    rng = np.random.default_rng(0)
    checked = 0
    for K in (3, 4, 5):
        P = np.array(
            sorted((p for p in itertools.product((1, 0), repeat=K) if any(p)), key=sum), float
        )
        pairs = list(itertools.combinations(range(K), 2))
        for _ in range(60):
            ks = rng.choice(len(pairs), size=rng.integers(0, len(pairs) + 1), replace=False)
            cols = [P[:, pairs[k][0]] * P[:, pairs[k][1]] for k in ks]
            X = np.column_stack([np.ones(len(P)), P, *cols])
            y = rng.poisson(rng.choice([0.3, 1.0, 3.0], size=len(P))).astype(float)
            if np.linalg.matrix_rank(X) < X.shape[1] or y.sum() == 0:
                continue
            assert mle_exists(X, y) == _plain_lp_exists(X, y)
            checked += 1
    assert checked > 100

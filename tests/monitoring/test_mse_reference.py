"""The six published tables against SparseMSE 2.0.1's figures (tests/data/mse/README.md).

Chan, Silverman & Vincent (2021) is the method the field uses for these tables; its
reference implementation's estimate, 95% interval and chosen interactions are pinned
here: the point within 1%, the bounds within 3% and the same interactions, in the same
order. Pairs that share nobody may also enter the model (their parameter is minus
infinity); SparseMSE reports those apart from the formula, and so does ``ModelFit``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sharelake.monitoring.mse import estimate, fit_model, read_capture_table, wald_interval

DATA = Path(__file__).resolve().parents[1] / "data" / "mse"

# table: (estimate, (low, high), interactions in order, no-overlap pairs, main effects only)
REFERENCE: dict[str, tuple[float, tuple[float, float], str, set[str], tuple[float, ...]]] = {
    "UKdat": (
        11_418,
        (9_977, 13_146),
        "PF:NCA LA:NG NG:GP LA:PF PF:GP GO:GP NG:GO",
        set(),
        (12_214, 10_989, 13_621),
    ),
    "UKdat_5": (
        11_313,
        (9_884, 13_027),
        "LA:NG NG:GP PFNCA:GP LA:PFNCA GO:GP NG:GO",
        set(),
        (13_444, 11_985, 15_133),
    ),
    "Ned": (
        111_139,
        (92_440, 133_991),
        "O:Z P:Z I:Z P:R O:P K:O",
        {"K:R", "I:K"},
        (52_823, 48_524, 57_582),
    ),
    "Ned_5": (
        121_522,
        (98_675, 150_139),
        "IO:Z P:Z P:R IO:P IO:K",
        {"K:R"},
        (52_924, 48_595, 57_718),
    ),
    "NewOrl": (1_184, (721, 2_046), "D:E", set(), (997, 645, 1_618)),
    "NewOrl_5": (1_034, (658, 1_709), "", set(), (1_034, 658, 1_709)),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_the_stepwise_default_reproduces_sparsemse_on_the_published_table(name: str) -> None:
    total, (lo, hi), chosen, empty, _ = REFERENCE[name]
    r = estimate(read_capture_table(DATA / f"{name}.csv"))
    assert (r.method, r.interval_method) == ("stepwise", "wald")
    assert r.total == pytest.approx(total, rel=0.01)
    assert r.interval[0] == pytest.approx(lo, rel=0.03)
    assert r.interval[1] == pytest.approx(hi, rel=0.03)
    assert r.model is not None
    assert [f"{a}:{b}" for a, b in r.model.fitted_interactions] == chosen.split()
    assert {f"{a}:{b}" for a, b in r.model.empty_overlaps} == empty


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_the_main_effects_model_reproduces_sparsemse_on_the_published_table(name: str) -> None:
    *_, (total, lo, hi) = REFERENCE[name]
    t = read_capture_table(DATA / f"{name}.csv")
    m = fit_model(t)
    a, b = wald_interval(t.observed, m)
    assert m.total == pytest.approx(total, rel=0.01)
    assert (a, b) == (pytest.approx(lo, rel=0.03), pytest.approx(hi, rel=0.03))


def test_the_stepwise_path_records_each_pair_with_its_p_value_below_the_threshold() -> None:
    r = estimate(read_capture_table(DATA / "UKdat_5.csv"))
    pairs = [f"{a}:{b}" for (a, b), _ in r.path]
    assert pairs == REFERENCE["UKdat_5"][2].split()
    assert all(0 <= p < 0.02 for _, p in r.path)


def test_a_stricter_threshold_stops_the_search_earlier() -> None:
    t = read_capture_table(DATA / "UKdat_5.csv")
    default, strict = estimate(t), estimate(t, pthresh=0.001)
    assert strict.model is not None
    first = [pair for pair, p in default.path if p < 0.001]
    assert 0 < len(first) < len(default.path)
    # the same path, cut where the first p-value reaches the stricter threshold
    assert [pair for pair, _ in default.path[: len(first)]] == first
    assert list(strict.model.interactions) == first
    assert estimate(t, pthresh=0).model == fit_model(t)


def test_the_profile_likelihood_interval_is_close_to_sparsemses_on_the_uk_table() -> None:
    r = estimate(read_capture_table(DATA / "UKdat_5.csv"), interval="profile")
    assert r.total == pytest.approx(11_313, rel=0.01)
    assert r.interval[0] == pytest.approx(9_884, rel=0.03)
    assert r.interval[1] == pytest.approx(13_027, rel=0.03)

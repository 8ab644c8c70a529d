"""The demo's persons against the generator's truth, with the tolerances of issue 12's targets.

The targets: distinct victims within 0.5% of the truth (at ``--scale 25``); the estimate
within 2% of the perfect-linkage estimate (the same estimator on the true overlap table)
and the truth inside its interval (at scales 1, 5 and 25). These run the demo's plaintext
twin (:class:`~sharelake.monitoring.analyses.PlainLake` with ``linkage="fuzzy"``), whose
persons are those of the secure operator (``test_demo.py`` checks the released overlap
table against it); scale 1 here, the larger scales behind ``slow``. A target this
linkage does not reach yet is an ``xfail(strict=True)``: it is reported, and the test
fails as soon as the target is met, so that the marker comes off.
"""

from __future__ import annotations

from typing import Any

import pytest

from sharelake.monitoring.analyses import (
    NAME_COLUMNS,
    PlainLake,
    overlap_table,
    population_estimate,
    upload_frames,
)
from sharelake.monitoring.evaluation import linkage_quality
from sharelake.monitoring.synth import generate

_CACHE: dict[float, dict[str, Any]] = {}


def _figures(scale: float) -> dict[str, Any]:
    if scale not in _CACHE:
        lake = generate(seed=0, scale=scale)
        people = {o: df[list(NAME_COLUMNS)] for o, df in lake.frames.items()}
        plain = PlainLake(upload_frames(lake.frames), people=people, linkage="fuzzy")
        _, mse = population_estimate(overlap_table(plain))  # analyses 2 and 3 only
        ev = linkage_quality(lake, plain, estimate_total=mse.total)
        _CACHE[scale] = {"ev": ev, "mse": mse, "truth": lake.truth.population}
    return _CACHE[scale]


pytestmark = pytest.mark.timeout(3600)  # scale 1: about 15 s quiet; 25: about 10 min


def _distinct_within(scale: float, share: float) -> None:
    ev = _figures(scale)["ev"]
    assert abs(ev["distinct_error"]) <= share, ev["distinct_error"]


def _estimate_within(scale: float, share: float) -> None:
    ev = _figures(scale)["ev"]
    assert abs(ev["estimate_vs_perfect"]) <= share, ev["estimate_vs_perfect"]


def _truth_inside(scale: float) -> None:
    f = _figures(scale)
    lo, hi = f["mse"].interval
    assert lo <= f["truth"] <= hi, (lo, f["truth"], hi)


def test_at_scale_1_the_linkage_finds_the_distinct_victims_within_half_a_percent() -> None:
    _distinct_within(1.0, 0.005)


def test_at_scale_1_the_linkage_beats_exact_keys_on_recall_and_keeps_precision() -> None:
    ev = _figures(1.0)["ev"]
    assert ev["recall"] > ev["exact_key"]["recall"]
    assert ev["precision"] >= 0.99 and ev["recall"] >= 0.98


def test_at_scale_1_the_estimate_is_within_2_percent_of_perfect_linkage() -> None:
    _estimate_within(1.0, 0.02)


@pytest.mark.xfail(
    strict=True,
    reason="scale 1, seed 0: even perfect linkage's interval (4,002-4,797) misses 4,000",
)
def test_at_scale_1_the_truth_is_inside_the_interval() -> None:
    _truth_inside(1.0)


@pytest.mark.slow
def test_at_scale_5_the_estimate_is_within_2_percent_of_perfect_linkage() -> None:
    _estimate_within(5.0, 0.02)


@pytest.mark.slow
def test_at_scale_5_the_truth_is_inside_the_interval() -> None:
    _truth_inside(5.0)


@pytest.mark.slow
def test_at_scale_5_the_distinct_victims_are_within_half_a_percent() -> None:
    _distinct_within(5.0, 0.005)

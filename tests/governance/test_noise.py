"""Differential privacy on released aggregates: the mechanism's distribution, its
calibration and budget, and the joint noise on shares against its plaintext twin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sharelake.engine.noise import add_joint_noise
from sharelake.governance.noise import (
    NoiseBudget,
    NoiseBudgetError,
    NoiseError,
    NoiseSpec,
    clip_plan,
    discrete_laplace,
    dlap_pmf,
    noise_plan,
    released_pmf,
)
from sharelake.governance.policy import Policy, PolicyError
from sharelake.harness.runner import run_parties
from sharelake.mpc.party import Party
from sharelake.plan import nodes as pn
from sharelake.plan import tree
from sharelake.relational.table import ColumnSpec

from ..relational.helpers import released, released_frame, table_inputs, unpack_table

SPEC = NoiseSpec(1.0, 3.0, {"age": (0, 100)})


def chi_square_p(samples: np.ndarray, pmf: np.ndarray, support: int) -> float:
    """p-value of a chi-square goodness of fit on -support..support, tails pooled."""
    clipped = np.clip(samples, -support - 1, support + 1)
    counts = np.bincount(clipped + support + 1, minlength=2 * support + 3)
    tail = (1.0 - pmf.sum()) / 2  # both tails beyond the support, pooled
    expected = np.concatenate([[tail], pmf, [tail]]) * len(samples)
    keep = expected >= 5
    obs, exp = counts[keep], expected[keep]
    exp = exp * obs.sum() / exp.sum()
    return float(stats.chisquare(obs, exp).pvalue)


def test_one_nodes_draws_have_the_discrete_laplace_distribution() -> None:
    x = discrete_laplace(200_000, 2.0, seed=b"fixed seed: one node")
    assert chi_square_p(x, dlap_pmf(2.0, 15), 15) > 0.001
    a = np.exp(-1 / 2.0)
    assert abs(x.var() - 2 * a / (1 - a) ** 2) < 0.1


def test_the_released_noise_is_the_sum_of_three_discrete_laplace_draws() -> None:
    scale = 1.5
    draws = [discrete_laplace(200_000, scale, seed=f"node {i}".encode()) for i in range(3)]
    total = draws[0] + draws[1] + draws[2]
    assert chi_square_p(total, released_pmf(scale, 20), 20) > 0.001
    a = np.exp(-1 / scale)
    assert abs(total.var() / (3 * 2 * a / (1 - a) ** 2) - 1) < 0.02
    # and it is not a single discrete Laplace (the test can tell them apart)
    assert chi_square_p(total, dlap_pmf(scale, 20), 20) < 1e-6


def test_a_budget_refuses_once_spent_and_survives_a_restart(tmp_path: Path) -> None:
    b = NoiseBudget(tmp_path / "noise_budget.json")
    for _ in range(3):
        b.check("t", 1, 1.0, 3.0)
        b.charge("t", 1, 1.0)
    again = NoiseBudget(tmp_path / "noise_budget.json")
    with pytest.raises(NoiseBudgetError, match="3 of 3 used"):
        again.check("t", 1, 1.0, 3.0)
    again.check("t", 2, 1.0, 3.0)  # another upload of the name starts afresh
    again.forget("t", 1)
    assert NoiseBudget(tmp_path / "noise_budget.json").spent("t", 1) == 0.0


def test_epsilon_is_split_over_the_noised_columns_by_their_sensitivity() -> None:
    gb = pn.groupby(pn.scan("t"), ["k"], {"n": ("*", "count"), "m": ("age", "mean")})
    got = noise_plan(tree.from_json(pn.make_plan(gb)), SPEC, "n")
    assert got.sensitivity == {"n": 1.0, "m_sum": 100.0, "m_count": 1.0}
    assert got.scale == {"n": 3.0, "m_sum": 300.0, "m_count": 3.0} and got.table == "t"


@pytest.mark.parametrize("fn", ["min", "max", "count_distinct"])
def test_order_statistics_and_distinct_counts_are_refused_with_noise(fn: str) -> None:
    gb = pn.groupby(pn.scan("t"), ["k"], {"x": ("age", fn)})  # type: ignore[dict-item]
    with pytest.raises(NoiseError, match="no bounded sensitivity"):
        noise_plan(tree.from_json(pn.make_plan(gb)), SPEC, "n")


def test_a_sum_without_bounds_or_over_a_join_is_refused_with_noise() -> None:
    gb = pn.groupby(pn.scan("t"), ["k"], {"s": ("income", "sum")})
    with pytest.raises(NoiseError, match="no clipping bounds"):
        noise_plan(tree.from_json(pn.make_plan(gb)), SPEC, None)
    j = pn.groupby(pn.join(pn.scan("t"), pn.scan("u"), on=["k"]), ["k"], {"n": ("*", "count")})
    with pytest.raises(NoiseError, match="joins"):
        noise_plan(tree.from_json(pn.make_plan(j)), SPEC, "n")


def test_a_policy_with_noise_round_trips_and_bad_settings_are_named() -> None:
    doc = {
        "columns": {"age": "aggregate"},
        "noise": {"epsilon": 0.5, "budget": 2, "bounds": {"age": [0, 99]}},
    }
    p = Policy.from_dict(doc, schema=["age"])
    assert p.noise == NoiseSpec(0.5, 2.0, {"age": (0, 99)})
    assert Policy.from_dict(p.to_dict()) == p
    for bad, word in [
        ({"epsilon": 0, "budget": 1}, "epsilon"),
        ({"epsilon": 2, "budget": 1}, "must not exceed"),
        ({"epsilon": 1, "budget": 1, "bounds": {"age": [5, 1]}}, "low <= high"),
        ({"epsilon": 1, "budget": 1, "bounds": {"height": [0, 1]}}, "height"),
    ]:
        with pytest.raises(PolicyError, match=word):
            Policy.from_dict({"noise": bad}, schema=["age"])


FRAME = pd.DataFrame({"k": [1, 1, 2, 2, 2], "age": [30, 250, -7, 40, 41]})
SPECS = [ColumnSpec("k", "int"), ColumnSpec("age", "int")]


def body_noise(p: Party, t: dict[str, Any], scales: dict[str, float]) -> dict[str, Any]:
    return {"result": released(p, add_joint_noise(p, unpack_table(t), scales, seed=b"test"))}


def test_joint_noise_on_shares_is_the_sum_of_each_nodes_own_draws() -> None:
    inputs = table_inputs({"t": (FRAME, SPECS)})
    scales = {"age": 4.0}
    out = run_parties(body_noise, [{"t": x["t"], "scales": scales} for x in inputs])
    got = released_frame(out[0]["result"])
    want = sum(discrete_laplace(5, 4.0, seed=b"test" + bytes([i, 0])) for i in range(3))
    assert got["k"].tolist() == FRAME["k"].tolist()  # untouched
    assert (got["age"].to_numpy() - FRAME["age"].to_numpy()).tolist() == want.tolist()


def test_summed_columns_are_clipped_to_their_bounds_below_the_group_by() -> None:
    gb = pn.groupby(pn.scan("t"), ["k"], {"s": ("age", "sum"), "n": ("*", "count")})
    plan = tree.to_json(clip_plan(tree.from_json(pn.make_plan(gb)), SPEC))
    from sharelake.relational.expr import eval_plain, from_json

    clipped, _ = eval_plain(FRAME, from_json(plan["root"]["input"]["columns"]["age"]))
    assert clipped.tolist() == [30, 100, 0, 40, 41]

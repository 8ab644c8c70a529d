"""The report: self-contained HTML (opens offline) and JSON with plaintext and truth."""

from __future__ import annotations

import json
import re

import pytest

from sharelake.monitoring.analyses import (
    PlainLake,
    person_key,
    policy_for,
    upload_frames,
    upload_schema,
)
from sharelake.monitoring.demo import run_analyses, run_demo
from sharelake.monitoring.report import bar_chart, heatmap, upset_chart
from sharelake.monitoring.synth import generate


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("report")
    run_demo(out, scale=0.25, seed=4, secure=False, log=lambda _: None)
    return (out / "report.html").read_text("utf-8"), json.loads((out / "report.json").read_text())


def test_the_page_fetches_nothing_from_the_network(report) -> None:  # type: ignore[no-untyped-def]
    html, _ = report
    assert "<script" not in html.lower()
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html)
    assert "@import" not in html and "url(" not in html
    assert html.count("<svg") >= 5


def test_the_page_shows_every_section(report) -> None:  # type: ignore[no-untyped-def]
    html, _ = report
    for heading in (
        "overlap",
        "including those on no list",
        "recruited",
        "released to whom",
        "suppressed",
        "Cost of each analysis",
        "Evaluation: the linkage against the generator's truth",
        "Only possible on synthetic data",
        "pairwise precision",
        "Estimate with perfect linkage",
    ):
        assert heading in html


def test_the_evaluation_measures_the_linkage_used_and_exact_keys_against_the_truth(report) -> None:  # type: ignore[no-untyped-def]
    html, doc = report
    ev = doc["evaluation"]
    assert doc["meta"]["linkage"] == ev["linkage"] == "fuzzy"
    assert ev["distinct_truth"] == doc["truth"]["observed_distinct_victims"]
    # the distinct victims of the evaluation are those of the released overlap table
    assert ev["distinct_persons"] == doc["figures"]["overlap"]["distinct_victims"]["released"]
    for q in (ev, ev["exact_key"]):
        assert 0 < q["pairs_correct"] <= min(q["pairs_found"], q["pairs_true"])
        assert q["precision"] == q["pairs_correct"] / q["pairs_found"]
        assert q["recall"] == q["pairs_correct"] / q["pairs_true"]
    pe = doc["figures"]["population_estimate"]
    assert ev["perfect_linkage_estimate"]["total"] == pytest.approx(
        pe["with_perfect_linkage"]["total"]
    )
    assert ev["estimate_vs_perfect"] == pytest.approx(
        pe["total"] / pe["with_perfect_linkage"]["total"] - 1
    )
    assert f"{ev['precision']:.4f}" in html and f"{ev['exact_key']['recall']:.4f}" in html
    # a plaintext run does not claim its persons came from MPC
    assert "k-list record linkage (its plaintext twin) (used)" in html
    assert "inside MPC (used)" not in html


def test_every_figure_has_its_plaintext_twin_and_truth(report) -> None:  # type: ignore[no-untyped-def]
    _, doc = report
    f = doc["figures"]
    for p in f["overlap"]["patterns"]:
        assert p["released"] == p["plaintext"] and "truth" in p
    pe = f["population_estimate"]
    assert pe["truth"] == doc["truth"]["population"]
    assert pe["interval"][0] < pe["total"] < pe["interval"][1]
    for table in f["modus_operandi"].values():
        assert all(c["released"] == c["plaintext"] and "truth" in c for c in table["cells"])
        assert all(c["released"] >= 5 for c in table["cells"])
    assert set(f["name_list_comparison"]) == set(doc["organisations"])
    police = f["name_list_comparison"]["police"]
    # counts only: per number of other lists holding the (linked) person, no record ids
    assert "counts only" in police["released_to"]
    assert set(police["by_number_of_others"]) == {"1", "2", "3"}
    assert all(c["released"] == c["plaintext"] for c in police["by_number_of_others"].values())


def test_the_page_shows_every_estimation_method_beside_the_default(report) -> None:  # type: ignore[no-untyped-def]
    html, doc = report
    methods = doc["figures"]["population_estimate"]["methods"]
    rows = methods["rows"]
    assert rows[0]["method"] == doc["figures"]["population_estimate"]["method"] == "stepwise"
    assert rows[0]["total"] == pytest.approx(doc["figures"]["population_estimate"]["total"])
    assert [r["method"] for r in rows[1:3]] == ["aic", "bic"]
    assert all(r["interval"][0] <= r["total"] for r in rows)
    assert "Every method on the same table" in html
    assert 'aria-label="the estimate of every method"' in html
    assert methods["why"].startswith("The methods ")
    assert methods["why"] in html.replace("&#x27;", "'")


def test_the_estimate_is_near_the_truth_on_the_synthetic_lists() -> None:
    lake = generate(seed=0, scale=1.0)
    _, mse = run_analyses(PlainLake(upload_frames(lake.frames)))
    assert 0.7 * lake.truth.population < mse.total < 1.6 * lake.truth.population


def test_a_match_key_ignores_script_order_and_partial_dates() -> None:
    assert person_key("Иван", "Петров", "1990-01-02") == person_key("PETROV", "Ivan", "1990")
    assert person_key("Ivan", "Petrov", "1990") != person_key("Ivan", "Petrov", "1991")


def test_policies_never_release_names_or_keys() -> None:
    pol = policy_for("police")
    assert pol["columns"]["person_key"] == "match"
    assert "given_name" not in {s.name for s in upload_schema()}
    assert policy_for("police", keys=True)["min_group_size"] == 1


def test_charts_are_svg_and_escape_their_labels() -> None:
    import pandas as pd

    svg = bar_chart([("<b>", 3)], title="t&t")
    assert svg.startswith("<svg") and "&lt;b&gt;" in svg
    t = pd.DataFrame({"in_a": [True, False], "in_b": [True, True], "count": [3, 4]})
    assert "<circle" in upset_chart(t, ["a", "b"], truth={"11": 3})
    h = heatmap(pd.DataFrame({"x": ["u"], "y": ["v"], "count": [7]}), "x", "y", title="h")
    assert ">7<" in h

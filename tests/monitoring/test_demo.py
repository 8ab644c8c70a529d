"""The demo end to end on three local node processes: released figures equal the plaintext."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sharelake.monitoring.demo import run_demo

# three node processes over mutual TLS. `make test` runs the demo with exact keys (about a
# minute); the default k-list fuzzy linkage inside MPC takes a few minutes (20 at a load
# average of 30 on two cores) and runs in `make test-slow` (tests/e2e/test_link.py covers
# k-list linkage over three nodes in `make test`). With linkage each list set is linked
# once into a stored persons table (all key records for analysis 1, the victims' for
# analyses 2 and 4) that the eleven queries over linked persons read; that variant runs on
# 163 records (scale 0.05).
pytestmark = [pytest.mark.tls, pytest.mark.timeout(3600)]


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("key", id="key"),
        pytest.param("fuzzy", id="fuzzy", marks=pytest.mark.slow),
    ],
)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("demo")
    summary = run_demo(
        out,
        scale=0.15 if request.param == "key" else 0.05,
        seed=5,
        progress=False,
        log=lambda _: None,
        linkage=request.param,
    )
    doc = json.loads(Path(summary["report_json"]).read_text("utf-8"))
    return {"summary": summary, "doc": doc, "out": out}


def test_the_demo_writes_both_reports(demo) -> None:  # type: ignore[no-untyped-def]
    assert (demo["out"] / "report.html").exists()
    assert demo["doc"]["meta"]["secure"] is True
    assert all("mpc" in c["mode"] for c in demo["doc"]["figures"]["costs"].values())


def test_every_analysis_that_queries_the_nodes_reports_rounds_and_bytes(demo) -> None:  # type: ignore[no-untyped-def]
    costs = demo["doc"]["figures"]["costs"]
    assert costs["population_estimate"]["queries"] == 0  # a local computation
    for name, c in costs.items():
        if c["queries"]:
            assert c["rounds"] > c["queries"] and c["bytes"] > 0 and c["node_seconds"] > 0, name


def test_independent_queries_run_together_and_each_list_set_is_linked_once(
    demo: dict[str, Any],
) -> None:
    costs = demo["doc"]["figures"]["costs"]
    # one query (key), or the stored victims' persons table and then the overlap from it
    assert costs["overlap"]["critical_rounds"] == costs["overlap"]["rounds"]
    linked = demo["doc"]["meta"]["linkage"] != "key"
    assert costs["overlap"]["queries"] == (2 if linked else 1)
    for name in ("name_list_comparison", "modus_operandi"):
        c = costs[name]
        assert c["queries"] > 1, name
        if not linked or name == "modus_operandi":
            # one batch (the victims' persons table was made for the overlap): the
            # longest query, at least the mean, less than the sum
            assert c["rounds"] / c["queries"] <= c["critical_rounds"] < c["rounds"], name
        else:
            # the stored persons table of all records, then the four own reveals at once
            assert c["queries"] == 5, name
            assert c["critical_rounds"] < c["rounds"], name


def test_the_released_overlap_table_equals_the_plaintext(demo) -> None:  # type: ignore[no-untyped-def]
    f = demo["doc"]["figures"]["overlap"]
    assert f["distinct_victims"]["released"] == f["distinct_victims"]["plaintext"]
    assert all(p["released"] == p["plaintext"] for p in f["patterns"])


@pytest.mark.slow
@pytest.mark.parametrize("demo", ["fuzzy"], indirect=True)
def test_the_overlap_counts_the_persons_of_the_k_list_linkage_inside_mpc(demo) -> None:  # type: ignore[no-untyped-def]
    doc = demo["doc"]
    assert doc["meta"]["linkage"] == "fuzzy"
    keys = [u for u in doc["uploads"] if u["table"].endswith("_keys")]
    # record_id, person_key, victim and the names' encodings (never the names)
    assert len(keys) == 4 and all(u["columns"] > 10 for u in keys)
    ev = doc["evaluation"]
    assert ev["linkage"] == "fuzzy"
    assert ev["distinct_persons"] == doc["figures"]["overlap"]["distinct_victims"]["released"]
    # the linkage finds persons that exact keys split
    assert ev["recall"] > ev["exact_key"]["recall"]


def test_the_estimate_equals_the_plaintext_one_and_is_compared_with_the_truth(demo) -> None:  # type: ignore[no-untyped-def]
    pe = demo["doc"]["figures"]["population_estimate"]
    assert pe["total"] == pytest.approx(pe["plaintext"]["total"])
    assert pe["truth"] == demo["summary"]["truth"]
    assert "truth_inside_interval" in pe


def test_every_organisation_learns_what_the_plaintext_says(demo) -> None:  # type: ignore[no-untyped-def]
    for org, v in demo["doc"]["figures"]["name_list_comparison"].items():
        figures = v.get("by_number_of_others", v.get("counts", {}))
        assert figures, org
        for c in figures.values():
            assert c["released"] == c["plaintext"], org
        if org == "police":
            assert "counts only" in v["released_to"]


def test_modus_operandi_cells_equal_the_plaintext_except_the_suppressed(demo) -> None:  # type: ignore[no-untyped-def]
    for name, v in demo["doc"]["figures"]["modus_operandi"].items():
        assert v["cells"], name
        assert all(c["released"] == c["plaintext"] for c in v["cells"]), name
        assert all(c["released"] >= v["suppressed"]["k"] for c in v["cells"])


def test_the_approvals_and_the_audit_are_recorded(demo) -> None:  # type: ignore[no-untyped-def]
    doc = demo["doc"]
    assert doc["approvals"]
    assert doc["audit"]["nodes_agree"] is True
    assert all(not n["chain_problems"] for n in doc["audit"]["nodes"])

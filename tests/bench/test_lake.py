"""``sharelake bench`` cluster operations: upload and query_overhead over a LocalCluster."""

from __future__ import annotations

import pytest

from sharelake.bench.lake import CLUSTER_OPS, QUERY_RUNS, run_cluster_ops
from sharelake.bench.run import default_ops, parse_ops


def test_the_cluster_operations_are_known_to_the_bench_command() -> None:
    assert parse_ops("upload,query_overhead") == ["upload", "query_overhead"]
    assert all(op in default_ops() for op in CLUSTER_OPS)


@pytest.mark.tls
def test_upload_and_query_overhead_records_have_the_suite_shape() -> None:
    steps: list[str] = []
    records = run_cluster_ops(["query_overhead", "upload"], [1000, 3000], on_step=steps.append)
    keys = {"system", "op", "n", "seconds", "rounds", "bytes", "ops_per_s", "note"}
    assert all(set(r) == keys for r in records)
    assert [(r["op"], r["n"]) for r in records] == [
        ("upload", 1000),
        ("upload", 3000),
        ("query_overhead", 1),
    ]
    for r in records:
        assert r["system"] == "sharelake" and r["rounds"] is None and r["bytes"] is None
        assert r["seconds"] is not None and r["seconds"] > 0, r["note"]
        assert "load average" in (r["note"] or "")
    assert f"median of {QUERY_RUNS}" in (records[-1]["note"] or "")
    assert steps == ["upload n=1,000", "upload n=3,000", "query_overhead n=1"]

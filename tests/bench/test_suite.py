"""``sharelake bench``: the records it writes, the operation registry and the MPyC runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from sharelake.bench import suite as bench_suite
from sharelake.bench.baseline_mpyc import mpyc_installed, run_mpyc, run_mpyc_sweep
from sharelake.bench.run import default_ops, parse_ops, parse_sizes, render_table, run_bench
from sharelake.bench.suite import EXTENSIONS, NOT_LOADED, REGISTRY, bench_op, make_record
from sharelake.cli.main import app
from sharelake.mpc.verify import ROUNDS

runner = CliRunner()


@pytest.mark.tls
def test_bench_quick_over_tls_writes_plausible_records_for_mul_at_both_security_levels(
    tmp_path: Path,
) -> None:
    out = tmp_path / "bench.json"
    args = ["bench", "--quick", "--sizes", "1e3", "--ops", "mul", "--no-mpyc", "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    records = json.loads(out.read_text())
    keys = {"system", "op", "n", "seconds", "rounds", "bytes", "ops_per_s", "note"}
    assert all(
        set(r) == keys | ({"security"} if r["system"] == "sharelake" else set()) for r in records
    )
    secure = {r["security"]: r for r in records if r["system"] == "sharelake"}
    assert set(secure) == {"malicious", "semi-honest"}
    for r in secure.values():
        assert (r["op"], r["n"]) == ("mul", 1000)
        assert r["seconds"] > 0
        assert r["ops_per_s"] == pytest.approx(1000 / r["seconds"])
    semi = secure["semi-honest"]
    assert semi["rounds"] == 1  # one resharing round
    assert semi["bytes"] == 8 * 1000  # one ring element per product, per party
    mal = secure["malicious"]
    assert mal["rounds"] == 1 + ROUNDS == 1 + 4  # the product, then the rounds of its check
    assert mal["bytes"] > 3 * semi["bytes"]  # at least k >= 2 triples and their openings
    plain = next(r for r in records if r["system"] == "plaintext")
    assert (plain["op"], plain["n"]) == ("mul", 1000)
    assert plain["seconds"] > 0


@pytest.fixture
def op_not_landed_yet() -> Iterator[str]:
    """A registered operation whose protocol module does not exist."""

    def plain(rng: np.random.Generator, n: int) -> bench_suite.Thunk:
        return lambda: None

    @bench_op("not_landed", requires="sharelake.mpc.not_landed_yet", plain=plain)
    def _secure(p: object, n: int) -> bench_suite.Thunk:
        raise AssertionError("the parties must not run an unavailable operation")

    yield "not_landed"
    del REGISTRY["not_landed"]


def test_an_operation_whose_module_has_not_landed_is_skipped_with_a_note(
    op_not_landed_yet: str,
) -> None:
    records = run_bench(
        [op_not_landed_yet, "mul"],
        [100],
        transport="memory",
        with_mpyc=False,
        console=Console(file=None, quiet=True),
    )
    skipped = next(r for r in records if r["system"] == "sharelake" and r["op"] == "not_landed")
    assert skipped["seconds"] is None
    assert "not available" in (skipped["note"] or "")
    ran = [r for r in records if r["system"] == "sharelake" and r["op"] == "mul"]
    assert {r["security"]: r["rounds"] for r in ran} == {"semi-honest": 1, "malicious": 1 + ROUNDS}
    assert all(r["seconds"] is not None for r in ran)


def test_every_secure_figure_is_the_same_at_all_three_parties() -> None:
    from sharelake.net.memory import run_in_memory

    plan = [{"op": "mul", "n": 50}, {"op": "mul", "n": 70}]
    results = run_in_memory(bench_suite.suite_body, [{"plan": plan}] * 3, security="semi-honest")
    assert results[0] == results[1] == results[2]
    assert [r["bytes"] for r in results[0]] == [400, 560]
    checked = run_in_memory(bench_suite.suite_body, [{"plan": plan}] * 3, security="malicious")
    assert checked[0] == checked[1] == checked[2]
    assert all(r["bytes"] > 3 * 560 for r in checked[0])  # the product and its check


def test_sizes_are_parsed_from_scientific_notation() -> None:
    assert parse_sizes("1e4, 1e5,300") == [10_000, 100_000, 300]


def test_a_fractional_or_unknown_argument_is_rejected() -> None:
    with pytest.raises(ValueError):
        parse_sizes("1.5")
    with pytest.raises(ValueError, match="unknown operation"):
        parse_ops("mul,teleport")


def test_the_table_shows_the_ratio_to_mpyc_and_the_notes_of_skipped_runs() -> None:
    records = [
        make_record("sharelake", "mul", 1000, 0.001, rounds=1, nbytes=8000),
        make_record("mpyc", "mul", 1000, 0.01),
        make_record("mpyc", "lt", 1000, None, note="did not finish within 60 s"),
    ]
    console = Console(record=True, width=160)
    console.print(render_table(records))
    text = console.export_text()
    assert "10.0x" in text
    assert "did not finish within 60 s" in text


needs_mpyc = pytest.mark.skipif(not mpyc_installed(), reason="mpyc (extra 'bench') missing")


@needs_mpyc
def test_the_mpyc_runner_produces_a_checked_record_for_a_tiny_n() -> None:
    rec = run_mpyc("mul", 64, timeout=60)
    assert rec["system"] == "mpyc"
    assert rec["seconds"] is not None, rec["note"]
    assert rec["bytes"] is not None and rec["bytes"] > 0
    assert "MPyC" in (rec["note"] or "")


@needs_mpyc
def test_mpyc_sizes_after_a_timeout_are_recorded_as_skipped() -> None:
    recs = run_mpyc_sweep(["lt"], [40_000, 20_000], timeout=1.0)
    assert [r["n"] for r in recs] == [20_000, 40_000]
    assert all(r["seconds"] is None for r in recs)
    assert "within 1 s" in (recs[0]["note"] or "")
    assert "skipped" in (recs[1]["note"] or "")


def test_extension_modules_register_their_operations_after_the_core_ones() -> None:
    ops = default_ops()
    assert ops[:5] == ["mul", "lt", "eq", "shuffle", "sort"]
    for mod in EXTENSIONS:
        assert mod in NOT_LOADED or len(ops) > 5


@pytest.mark.tls
def test_bench_with_rtt_runs_the_suite_once_per_rtt_and_records_it(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    args = ["bench", "--sizes", "1e3", "--ops", "mul", "--no-mpyc", "--json", str(out)]
    args += ["--security", "semi-honest"]
    result = runner.invoke(app, [*args, "--rtt", "0ms,40ms", "--bandwidth", "1Gbit"])
    assert result.exit_code == 0, result.output
    records = json.loads(out.read_text())
    secure = sorted((r for r in records if r["system"] == "sharelake"), key=lambda r: r["rtt"])
    assert [r["rtt"] for r in secure] == [0.0, 0.04]
    assert [r["rounds"] for r in secure] == [1, 1]  # the link changes time, not the protocol
    assert [r["bytes"] for r in secure] == [8000, 8000]
    assert secure[1]["seconds"] >= 0.02  # one round over a link of rtt / 2 each way
    plain = [r for r in records if r["system"] == "plaintext"]
    assert len(plain) == 1 and "rtt" not in plain[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rtt", "fast"], "duration"),
        (["--bandwidth", "1Gbit"], "needs --rtt"),
        (["--rtt", "10ms", "--transport", "memory"], "tls"),
    ],
)
def test_bench_refuses_a_bad_rtt_or_bandwidth(extra: list[str], message: str) -> None:
    result = runner.invoke(app, ["bench", "--ops", "mul", "--sizes", "1e3", *extra])
    assert result.exit_code == 2
    assert message in result.output

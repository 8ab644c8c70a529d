"""``sharelake estimate CAPTURE.csv``: the estimate, its interval, the model, every method."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sharelake.cli.main import app

runner = CliRunner()
DATA = Path(__file__).resolve().parents[1] / "data" / "mse"


def test_estimate_prints_the_stepwise_estimate_and_every_method_and_writes_json(
    tmp_path: Path,
) -> None:
    out = tmp_path / "kosovo.json"
    result = runner.invoke(app, ["estimate", str(DATA / "Kosovo.csv"), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "4,400 persons seen" in result.output
    assert "estimated total: 14,342" in result.output
    for label in ("stepwise", "forward AIC", "forward BIC", "BMA"):
        assert label in result.output
    doc = json.loads(out.read_text())
    assert doc["result"]["method"] == "stepwise"
    assert doc["result"]["total"] == pytest.approx(14_342, abs=1)
    assert [row["method"] for row in doc["comparison"]] == ["stepwise", "aic", "bic", "bma"]
    assert doc["comparison"][3]["interval_method"] == "credible"


def test_estimate_with_a_bootstrap_interval_and_no_comparison(tmp_path: Path) -> None:
    args = ["estimate", str(DATA / "NewOrl_5.csv"), "--interval", "bootstrap", "--boot", "100"]
    result = runner.invoke(app, [*args, "--seed", "3", "--no-compare"])
    assert result.exit_code == 0, result.output
    assert "95% bootstrap interval" in result.output
    assert "every method" not in result.output
    assert "note: wide interval" in result.output


def test_estimate_says_why_bma_was_not_run_on_six_lists() -> None:
    result = runner.invoke(app, ["estimate", str(DATA / "UKdat.csv")])
    assert result.exit_code == 0, result.output
    assert "not run: bma" in result.output and "3 to 5 lists, got 6" in result.output


def test_estimate_refuses_a_table_with_one_list_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "one.csv"
    bad.write_text("A,count\n1,5\n")
    result = runner.invoke(app, ["estimate", str(bad)])
    assert result.exit_code == 2
    assert "cannot estimate" in result.output and "one.csv" in result.output

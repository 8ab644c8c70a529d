"""``sharelake demo --engine`` (the engine demonstration) and ``sharelake version``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sharelake import __version__
from sharelake.cli import engine_demo
from sharelake.cli.main import app
from sharelake.mpc.ring import Arr

runner = CliRunner()


@pytest.mark.tls
def test_the_demo_over_tls_exits_zero_and_its_json_says_correct(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--engine", "--out", str(tmp_path), "--scale", "500"])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "demo.json").read_text())
    assert doc["correct"] is True
    assert doc["scale"] == 500 and doc["transport"] == "tls"
    assert all(step["correct"] for step in doc["steps"])
    assert "dot" in [step["step"] for step in doc["steps"]]


def test_the_demo_reports_rounds_and_bytes_of_every_step(tmp_path: Path) -> None:
    args = ["demo", "--engine", "--out", str(tmp_path), "--scale", "300", "--transport", "memory"]
    assert runner.invoke(app, args).exit_code == 0
    doc = json.loads((tmp_path / "demo.json").read_text())
    dot = next(step for step in doc["steps"] if step["step"] == "dot")
    assert dot["rounds"] == 1 and dot["bytes"] == 8 * 300
    assert doc["input_check"] == {"rounds": 2, "bytes": 64}
    ran_or_skipped = {step["step"] for step in doc["steps"]} | set(doc["skipped"])
    assert ran_or_skipped == set(engine_demo.STEPS)


@pytest.fixture
def wrong_plaintext_twin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make the plaintext check of the ``dot`` step disagree with the secure result."""
    step = engine_demo.STEPS["dot"]

    def off_by_one(x: Arr, y: Arr) -> Arr:
        return step.plain(x, y) + np.uint64(1)

    bad = dataclasses.replace(step, plain=off_by_one)
    monkeypatch.setitem(engine_demo.STEPS, "dot", bad)
    yield


@pytest.mark.usefixtures("wrong_plaintext_twin")
def test_the_demo_exits_non_zero_when_a_check_fails(tmp_path: Path) -> None:
    args = ["demo", "--engine", "--out", str(tmp_path), "--scale", "100", "--transport", "memory"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert json.loads((tmp_path / "demo.json").read_text())["correct"] is False


def test_version_prints_the_package_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_the_monitoring_demo_draws_realistic_names_when_asked(tmp_path: Path) -> None:
    args = ["demo", "--plaintext", "--scale", "0.05", "--linkage", "key", "--out", str(tmp_path)]
    result = runner.invoke(app, [*args, "--names", "realistic"])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["meta"]["names"] == "realistic"
    bad = runner.invoke(app, [*args, "--names", "zipf"])
    assert bad.exit_code != 0 and "uniform or realistic" in bad.output

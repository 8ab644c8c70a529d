"""The command line's own help: ``--version``, ``-h`` everywhere, no raw docstrings."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from sharelake._version import __version__
from sharelake.cli.main import app


def command_paths() -> list[list[str]]:
    """Every command and group of ``sharelake`` as its argv prefix."""
    out: list[list[str]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        out.append(path)
        for name, sub in getattr(cmd, "commands", {}).items():  # typer's own click
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return out


def test_version_flag_prints_the_version() -> None:
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"sharelake {__version__}"


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "sharelake")
def test_every_command_answers_dash_h_without_a_raw_numpydoc_section(path: list[str]) -> None:
    res = CliRunner().invoke(app, [*path, "-h"], terminal_width=100)
    assert res.exit_code == 0, res.output
    assert "Usage: sharelake" in res.output
    assert "----------" not in res.output and "``" not in res.output

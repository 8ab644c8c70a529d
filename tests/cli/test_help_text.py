"""The command line's own help: ``--version``, ``-h`` everywhere, no raw docstrings."""

from __future__ import annotations

import re
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


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "sharelake")
def test_every_command_help_shows_types_in_words_not_python_placeholders(path: list[str]) -> None:
    res = CliRunner().invoke(app, [*path, "-h"], terminal_width=100)
    assert res.exit_code == 0, res.output
    placeholders = re.findall(r"<(?:bool|str|path|int|float|list|file|directory)[^>]*>", res.output)
    assert not placeholders, (path, placeholders)


def test_help_words_keep_choices_and_ranges_and_show_nothing_for_a_flag() -> None:
    res = CliRunner().invoke(app, ["estimate", "-h"], terminal_width=160)
    assert "stepwise|aic|bic|bma" in res.output
    upload = CliRunner().invoke(app, ["upload", "-h"], terminal_width=160).output
    assert re.search(r"--timeout\s+NUMBER \[x>=1.0\]", upload)
    assert re.search(r"--table\s+TEXT", upload) and re.search(r"--policy\s+PATH", upload)
    assert re.search(r"--replace\s+Replace", upload)  # a flag: no type column
    assert re.search(r"DATA\s+PATH\s+CSV", upload)

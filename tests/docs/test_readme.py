"""The README's quick start runs literally: its shell commands and its Python example, on the
example files the repository ships (three real node processes over TLS)."""

from __future__ import annotations

import re
import shlex
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from sharelake.cli.main import app
from sharelake.node.local import LocalCluster

pytestmark = [pytest.mark.tls, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def code_blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def block_with(lang: str, needle: str) -> str:
    found = [b for b in code_blocks(lang) if needle in b]
    assert found, f"the README has no {lang} block with {needle!r}"
    return found[0]


def commands(block: str) -> list[list[str]]:
    """The block's commands, continuation lines joined, comments and ``&`` dropped."""
    text = block.replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        argv = shlex.split(line, comments=True)
        if argv and argv[-1] == "&":
            argv = argv[:-1]
        if argv:
            out.append(argv)
    return out


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh directory holding the repository's examples, as a fresh clone has them."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def expected_groups() -> pd.DataFrame:
    df = pd.read_csv(ROOT / "examples" / "cases.csv")
    return (
        df[df.age >= 18]
        .groupby("region")
        .agg(n=("record_id", "size"), mean_age=("age", "mean"))
        .reset_index()
    )


def test_the_example_files_are_realistic_enough_for_the_quick_start() -> None:
    df = pd.read_csv(ROOT / "examples" / "cases.csv")
    assert len(df) >= 60 and list(df.columns) == ["record_id", "age", "region"]
    assert df.record_id.is_unique
    assert df.groupby("region").size().min() >= 10  # every region a category value
    assert "[columns]" in (ROOT / "examples" / "policy.toml").read_text(encoding="utf-8")


def test_the_quick_start_shell_commands_run_as_written(workdir: Path) -> None:
    block = block_with("sh", "cluster init")
    runner = CliRunner()
    ran = []
    with ExitStack() as stack:
        for argv in commands(block):
            if argv[0] == "make":
                continue  # this test runs inside `make test`
            assert Path(argv[0]).name == "sharelake", argv
            if argv[1:3] == ["cluster", "up"]:
                # the three node processes `cluster up` starts, stopped when the test ends
                stack.enter_context(LocalCluster(workdir / argv[3]))
            else:
                res = runner.invoke(app, argv[1:])
                assert res.exit_code == 0, f"{shlex.join(argv)}\n{res.output}"
                ran.append((argv[1], res.output))
    assert [name for name, _ in ran] == ["cluster", "upload"]
    assert "uploaded 84 rows to table 'cases' (version 1)" in ran[1][1]
    assert "Upload preview: table 'cases' from examples/cases.csv: 84 rows" in ran[1][1]
    assert "region:category" in ran[1][1]  # inferred: every region has enough rows


def test_the_quick_start_python_example_returns_region_names_like_pandas(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = block_with("python", "sharelake.LocalCluster()")
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # the README's own code
    got: pd.DataFrame = namespace["df"]
    want = expected_groups()
    assert got["region"].astype(str).tolist() == want["region"].tolist()  # values, not #digests
    assert got["n"].tolist() == want["n"].tolist()
    assert got["mean_age"].round(6).tolist() == want["mean_age"].round(6).tolist()
    printed = capsys.readouterr().out
    assert "Plan SHA-256:" in printed and "[]" in printed  # explain(), then no suppression note

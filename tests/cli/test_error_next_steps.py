"""CLI errors end with the next step to take: a sample of the common ones (a missing file,
a bad CSV, an unknown table, a refused query, a node that is down)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sharelake.cli.errors import next_step
from sharelake.cli.main import app
from sharelake.client.errors import NodePolicyError, NodeUnavailableError, UnknownTableError
from sharelake.consortium.members import ConsortiumConfigError
from sharelake.errors import InputValidationError

ROOT = Path(__file__).resolve().parents[2]


def last_line(output: str) -> str:
    return output.rstrip().splitlines()[-1]


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A consortium made by `cluster init`, its nodes not started (a lake that is down)."""
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["cluster", "init", "lake"])
    assert res.exit_code == 0, res.output
    return tmp_path / "lake" / "consortium.toml"


def upload(lake: Path, data: str) -> tuple[int, str]:
    args = ["upload", data, "--table", "t", "--policy", str(ROOT / "examples" / "policy.toml")]
    res = CliRunner().invoke(
        app, [*args, "--as", "ngo_a", "--consortium", str(lake), "--yes", "--timeout", "5"]
    )
    return res.exit_code, res.output


def test_a_missing_file_says_where_relative_paths_start(lake: Path) -> None:
    code, out = upload(lake, "nofile.csv")
    assert code == 2 and "file nofile.csv: file not found" in out
    assert (
        last_line(out)
        == f"Next: check the file's name and folder (relative paths start at {Path.cwd()})."
    )


def test_a_node_that_is_down_says_to_start_the_nodes_and_retry(lake: Path) -> None:
    code, out = upload(lake, str(ROOT / "examples" / "cases.csv"))
    assert code == 1 and "is not reachable" in out
    assert last_line(out).startswith("Next: make sure the three nodes are running")
    assert "then run the command again." in last_line(out)


def test_a_bad_csv_is_named_before_any_node_is_contacted_even_when_they_are_down(
    lake: Path, tmp_path: Path
) -> None:
    data = tmp_path / "bad.csv"
    rows = [f"{i},{20 + i}" for i in range(20)]
    rows[5] = "5,forty"
    data.write_text("record_id,age\n" + "\n".join(rows) + "\n", encoding="utf-8")
    code, out = upload(lake, str(data))
    assert code == 2 and "column 'age'" in out and "rows 6" in out
    assert "not reachable" not in out


def test_a_bad_csv_names_every_bad_column_and_ends_with_how_to_fix_it(tmp_path: Path) -> None:
    rows = [f"{i},{20 + i},2023-01-{1 + i:02d}" for i in range(20)]
    rows[3] = "3,forty,2023-01-04"
    rows[6] = "6,26,07-01-2023"
    data = tmp_path / "bad.csv"
    data.write_text("record_id,age,day\n" + "\n".join(rows) + "\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["schema", "infer", str(data)])
    assert res.exit_code == 2
    assert "2 problems" in res.output and "column 'age'" in res.output
    assert "column 'day'" in res.output and "rows 4" in res.output and "rows 7" in res.output
    step = last_line(res.output)
    assert step.startswith("Next: correct the file where the message says (rows are counted from 1")
    assert "sharelake schema infer FILE --out schema.toml" in step


def test_a_missing_consortium_file_says_how_to_get_one(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app, ["policy", "show", "t", "--as", "ngo_a", "--consortium", str(tmp_path / "no.toml")]
    )
    assert res.exit_code != 0
    assert last_line(res.output).startswith("Next: pass --consortium the consortium.toml")


@pytest.mark.parametrize(
    ("exc", "start"),
    [
        (UnknownTableError("no table 'x' on the nodes"), "check the table's name"),
        (NodePolicyError("refused", node=0, status=403), "the reason is above"),
        (NodeUnavailableError("P1 is not reachable", node=1), "make sure the three nodes"),
        (ConsortiumConfigError("file not found"), "pass --consortium"),
        (InputValidationError("file not found", source="a.csv"), "check the file's name"),
        (InputValidationError("bad", source="a.csv", row=2, column="c"), "correct the file"),
    ],
)
def test_each_common_error_has_its_next_step(exc: Exception, start: str) -> None:
    step = next_step(exc)
    assert step is not None and step.startswith(start)


def test_an_error_that_already_says_what_to_do_gets_no_second_hint() -> None:
    exists = InputValidationError("table 't' exists (version 2); pass --replace to replace it")
    assert next_step(exists) is None
    assert next_step(RuntimeError("unexpected")) is None

"""Bad input is refused at the client, naming file, row and column, before any traffic."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import sharelake
from sharelake.client.session import NodeUnavailableError, Session
from sharelake.client.upload import infer_schema, load_schema
from sharelake.consortium.cluster import init_cluster
from sharelake.errors import AuthenticationError, InputValidationError
from sharelake.relational.table import ColumnSpec


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A consortium whose nodes are not running (nothing listens on their ports)."""
    d = tmp_path_factory.mktemp("lake")
    init_cluster(d)
    return d / "consortium.toml"


@pytest.fixture
def session(lake: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    sent: list[Any] = []

    def no_traffic(self: Session, *args: Any, **kwargs: Any) -> Any:
        sent.append(args)
        raise AssertionError("a request was sent")

    s = sharelake.connect(lake, "ngo_a", timeout=2.0)
    monkeypatch.setattr(Session, "request", no_traffic)
    yield s
    s.close()
    assert sent == []


SCHEMA = {
    "pid": {"kind": "int", "nullable": False},
    "age": "int",
    "region": {"kind": "category", "categories": ["north", "south"]},
    "name": {"kind": "string", "max_len": 8},
}


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("pid,age,region,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("bad_row", "column", "message"),
    [
        ("3,forty,north,Cy", "age", "row 3"),
        ("3,40,west,Cy", "region", "unknown category"),
        ("3,40,north,Cyprianus-the-long", "name", "exceeds the maximum of 8"),
        (",40,north,Cy", "pid", "missing value in a required column"),
    ],
)
def test_a_bad_csv_value_names_file_row_and_column(
    session: Session, tmp_path: Path, bad_row: str, column: str, message: str
) -> None:
    csv = write_csv(tmp_path / "people.csv", ["1,30,north,Ann", "2,41,south,Bo", bad_row])
    with pytest.raises(InputValidationError) as info:
        session.upload(csv, "people", schema=SCHEMA, progress=False)
    err = info.value
    assert err.source == str(csv) and err.row == 3 and err.column == column
    assert message in str(err) and "people.csv" in str(err)


def test_a_column_missing_from_the_schema_is_refused(session: Session) -> None:
    df = pd.DataFrame({"pid": [1], "age": [2], "region": ["north"], "name": ["A"], "x": [1]})
    with pytest.raises(InputValidationError, match="column 'x': column is not in the schema"):
        session.upload(df, "people", schema=SCHEMA, progress=False)


def test_a_bad_table_name_or_upload_id_is_refused(session: Session) -> None:
    df = pd.DataFrame({"a": [1]})
    with pytest.raises(InputValidationError, match="table name"):
        session.upload(df, "people; drop", progress=False)
    with pytest.raises(InputValidationError, match="upload id"):
        session.upload(df, "people", upload_id="../x", progress=False)


def test_a_malformed_schema_entry_names_its_column(session: Session) -> None:
    with pytest.raises(InputValidationError, match=r"column 'r'.*kind must be one of"):
        load_schema({"r": "text"})
    with pytest.raises(InputValidationError, match="needs categories"):
        load_schema({"r": {"kind": "category"}})


def test_a_schema_file_reads_as_toml_columns(tmp_path: Path) -> None:
    f = tmp_path / "schema.toml"
    f.write_text(
        '[[columns]]\nname = "pid"\nkind = "int"\nnullable = false\n'
        '[[columns]]\nname = "region"\nkind = "category"\ncategories = ["n", "s"]\n',
        encoding="utf-8",
    )
    specs = load_schema(f)
    assert specs == [
        ColumnSpec("pid", "int", nullable=False),
        ColumnSpec("region", "category", categories=("n", "s")),
    ]


def test_inference_keeps_rare_values_out_of_public_dictionaries() -> None:
    df = pd.DataFrame(
        {
            "n": [1, 2, None, 4, 5, 6],
            "x": [0.5, 1, 2, 3, 4, 5],
            "ok": [True, False] * 3,
            "day": ["2024-01-0" + str(i) for i in range(1, 7)],
            "region": ["north"] * 5 + ["south"],
            "sex": ["f", "m", "f", "m", "f", "m"],
            "name": ["Ann", "Bo", "Cy", "Di", "Ed", "Fatima Zahra"],
        }
    )
    got = {s.name: s for s in infer_schema(pd.concat([df] * 3, ignore_index=True))}
    assert got["n"].kind == "int" and got["n"].nullable
    assert got["x"].kind == "fixed"
    assert got["ok"].kind == "bool"
    assert got["day"].kind == "date"
    assert got["sex"].kind == "category" and got["sex"].categories == ("f", "m")
    assert got["region"].kind == "string"  # 'south' occurs 3 times: too rare to publish
    assert got["name"].kind == "string" and got["name"].max_len == 16


def test_unreachable_nodes_give_a_typed_error_naming_the_node(lake: Path) -> None:
    with sharelake.connect(lake, "analyst", timeout=2.0) as s:
        with pytest.raises(NodeUnavailableError, match=r"P\d .*not reachable") as info:
            s.health()
        assert info.value.node in (0, 1, 2)


def test_a_key_that_is_not_the_members_is_refused(lake: Path) -> None:
    other = lake.parent / "members" / "analyst.key"
    with pytest.raises(AuthenticationError, match="is not 'ngo_a'"):
        sharelake.connect(lake, "ngo_a", key=other)


def test_the_upload_command_refuses_a_bad_file_before_sending(lake: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sharelake.cli.main import app

    csv = write_csv(tmp_path / "people.csv", ["1,30,north,Ann", "2,x,south,Bo"])
    policy = tmp_path / "policy.toml"
    policy.write_text("", encoding="utf-8")
    schema = tmp_path / "schema.toml"
    schema.write_text(
        '[[columns]]\nname = "pid"\nkind = "int"\n[[columns]]\nname = "age"\n'
        'kind = "int"\n[[columns]]\nname = "region"\nkind = "string"\nmax_len = 8\n'
        '[[columns]]\nname = "name"\nkind = "string"\nmax_len = 8\n',
        encoding="utf-8",
    )
    args = ["upload", str(csv), "--table", "people", "--policy", str(policy), "--as", "ngo_a"]
    args += ["--consortium", str(lake), "--schema", str(schema), "--timeout", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "row 2" in result.output and "'age'" in result.output


def test_a_csv_repeating_a_column_name_is_refused_naming_it(
    session: Session, tmp_path: Path
) -> None:
    csv = tmp_path / "dup.csv"
    csv.write_text("pid,age,age,name,name\n1,30,31,Ann,Bo\n", encoding="utf-8")
    with pytest.raises(InputValidationError) as info:
        session.upload(csv, "people", progress=False)
    assert info.value.source == str(csv)
    assert "repeats the column name(s) 'age', 'name'" in str(info.value)
    df = pd.DataFrame([[1, 2]], columns=["x", "x"])
    with pytest.raises(InputValidationError, match="repeats the column name"):
        session.upload(df, "people", progress=False)


def test_a_header_only_csv_is_refused_rather_than_making_an_empty_table(
    session: Session, tmp_path: Path
) -> None:
    csv = tmp_path / "empty.csv"
    csv.write_text("pid,age,region,name\n", encoding="utf-8")
    with pytest.raises(InputValidationError, match="header but no rows") as info:
        session.upload(csv, "people", schema=SCHEMA, progress=False)
    assert info.value.source == str(csv)


def test_an_inferred_string_column_has_a_width_limit_naming_file_row_and_column(
    session: Session, tmp_path: Path
) -> None:
    csv = tmp_path / "wide.csv"
    big = "x" * (10 << 20)  # the 10 MB cell
    csv.write_text(f"pid,note\n1,short\n2,{big}\n3,also short\n", encoding="utf-8")
    with pytest.raises(InputValidationError) as info:
        session.upload(csv, "notes", progress=False)
    err = info.value
    assert (err.source, err.row, err.column) == (str(csv), 2, "note")
    assert "max_len" in str(err)
    # with a schema that says so, long text is accepted (here: checked, not sent)
    specs = infer_schema(pd.DataFrame({"note": ["y" * 1000, "z"]}))
    assert specs[0].max_len == 1024

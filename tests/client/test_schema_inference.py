"""Schema inference never changes a type silently, and ``sharelake schema infer`` writes the
schema file ``--schema`` reads."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sharelake.cli.main import app
from sharelake.client.upload import infer_schema, load_schema, read_data
from sharelake.errors import InputValidationError


def ages(bad: dict[int, str], n: int = 30) -> pd.DataFrame:
    values: list[object] = [str(20 + i % 40) for i in range(n)]
    for row, v in bad.items():
        values[row - 1] = v  # rows counted from 1
    return pd.DataFrame({"age": values})


def test_a_mostly_integer_column_with_a_word_is_refused_naming_column_and_row() -> None:
    with pytest.raises(InputValidationError) as err:
        infer_schema(ages({3: "forty"}))
    text = str(err.value)
    assert "column 'age'" in text and "mostly numbers" in text
    assert "1 value(s) are not: rows 3;" in text and "lenient" in text


def test_more_than_five_bad_rows_are_listed_five_and_counted() -> None:
    bad = {r: "n/a" for r in (2, 4, 6)} | {r: "?" for r in (8, 10)} | {12: "x", 14: "y"}
    with pytest.raises(
        InputValidationError, match=r"7 value\(s\) are not: rows 2, 4, 6, 8, 10 and 2 more"
    ):
        infer_schema(ages(bad, n=60))


def test_missing_values_are_not_bad_values_and_rows_count_every_row() -> None:
    df = ages({5: "unknown"})
    df.loc[1, "age"] = None
    with pytest.raises(InputValidationError, match=r"rows 5;"):
        infer_schema(df)


def test_dates_in_day_month_year_order_are_refused_not_made_text() -> None:
    df = pd.DataFrame({"seen": [f"{d:02d}-03-2023" for d in range(1, 11)]})
    with pytest.raises(InputValidationError) as err:
        infer_schema(df)
    text = str(err.value)
    assert "mostly dates" in text and "rows 1, 2, 3, 4, 5 and 5 more" in text
    assert "YYYY-MM-DD" in text


def test_iso_dates_with_one_impossible_date_name_its_row() -> None:
    days = [f"2023-01-{d:02d}" for d in range(1, 21)]
    days[16] = "2023-02-30"
    with pytest.raises(InputValidationError, match=r"column 'seen'.*rows 17;"):
        infer_schema(pd.DataFrame({"seen": days}))
    days[16] = "2023-02-28"
    assert infer_schema(pd.DataFrame({"seen": days}))[0].kind == "date"


def test_lenient_makes_the_column_text_and_logs_the_rows(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sharelake.client.upload"):
        spec = infer_schema(ages({3: "forty", 9: "?"}), lenient=True)[0]
    assert spec.kind in ("string", "category")
    messages = [r.getMessage() for r in caplog.records]
    assert any("column 'age'" in m and "rows 3, 9" in m and "as text" in m for m in messages)


def test_text_that_is_not_mostly_numbers_or_dates_is_inferred_as_before() -> None:
    names = ["Ann", "Bo", "Cem", "Dia", "2024", "Eve", "Fay", "Gus", "Hal", "Ida"]
    assert infer_schema(pd.DataFrame({"name": names}))[0].kind == "string"
    codes = pd.DataFrame({"code": ["007", "012", "123"]})  # all numbers, given as text
    assert infer_schema(codes)[0].kind == "string"


def test_a_csv_error_names_the_file(tmp_path: Path) -> None:
    csv = tmp_path / "people.csv"
    ages({4: "forty"}).to_csv(csv, index=False)
    df, source = read_data(csv)
    with pytest.raises(InputValidationError, match=r"file .*people.csv, column 'age'.*rows 4;"):
        infer_schema(df, source=source)


def test_schema_infer_writes_the_file_that_upload_reads(tmp_path: Path) -> None:
    csv = tmp_path / "cases.csv"
    df = pd.DataFrame(
        {
            "record_id": [f"C{i}" for i in range(30)],
            "age": [18 + i for i in range(30)],
            "score": [i / 4 for i in range(30)],
            "region": ["Noord", "Zuid", "Oost"] * 10,
            "seen": [f"2023-01-{1 + i % 28:02d}" for i in range(30)],
            "ok": [i % 2 == 0 for i in range(30)],
        }
    )
    df.to_csv(csv, index=False)
    out = tmp_path / "schema.toml"
    res = CliRunner().invoke(app, ["schema", "infer", str(csv), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert f"--schema {out}" in res.output
    got = load_schema(out)
    assert got == infer_schema(read_data(csv)[0])
    assert [s.kind for s in got] == ["string", "int", "fixed", "category", "date", "bool"]


def test_schema_infer_refuses_a_mixed_column_unless_lenient(tmp_path: Path) -> None:
    csv = tmp_path / "ages.csv"
    ages({3: "forty"}).to_csv(csv, index=False)
    runner = CliRunner()
    refused = runner.invoke(app, ["schema", "infer", str(csv)])
    assert refused.exit_code == 2
    assert "column 'age'" in refused.output and "rows 3" in refused.output
    lenient = runner.invoke(app, ["schema", "infer", str(csv), "--lenient"])
    assert lenient.exit_code == 0, lenient.output
    assert 'name = "age"' in lenient.output and 'kind = "string"' in lenient.output


def test_every_bad_column_of_a_file_is_listed_with_its_rows_not_only_the_first() -> None:
    n = 40
    ages = [str(20 + i) for i in range(n)]
    ages[2], ages[7] = "forty", "n/a"  # rows 3 and 8
    days = [f"2023-01-{1 + i % 28:02d}" for i in range(n)]
    for r in (4, 9, 14, 19, 24, 29, 34):  # seven bad dates: five listed, then a count
        days[r] = "31/12/2023"
    notes = ["ok"] * n
    notes[10] = "x" * 5000  # longer than inference accepts
    df = pd.DataFrame({"age": ages, "day": days, "note": notes, "fine": range(n)})
    with pytest.raises(InputValidationError) as err:
        infer_schema(df, source="cases.csv")
    text = str(err.value)
    assert text.startswith("file cases.csv: 3 problems: ")
    assert "column 'age': the column is mostly numbers, but 2 value(s) are not: rows 3, 8" in text
    assert "column 'day': the column is mostly dates, but 7 value(s) are not: " in text
    assert "rows 5, 10, 15, 20, 25 and 2 more" in text
    assert "row 11, column 'note': a text value of 5000 bytes" in text
    assert [e.column for e in err.value.found] == ["age", "day", "note"]
    assert (err.value.row, err.value.column) == (None, "age")  # the first problem


def test_values_against_a_schema_list_every_bad_column_and_row_counted_from_one() -> None:
    from sharelake.relational.encode import encode_frame
    from sharelake.relational.table import ColumnSpec

    df = pd.DataFrame(
        {
            "pid": [1, None, 3, None],
            "age": ["20", "x", "30", "y"],
            "day": ["2023-01-01", "2023-01-02", "soon", "2023-01-04"],
        }
    )
    specs = [ColumnSpec("pid", "int", False), ColumnSpec("age", "int"), ColumnSpec("day", "date")]
    with pytest.raises(InputValidationError) as err:
        encode_frame(df, specs, source="f.csv")
    text = str(err.value)
    assert text.startswith("file f.csv: 3 problems: ")
    assert "row 2, column 'pid': missing value in a required column (2 rows: 2, 4)" in text
    assert "row 2, column 'age': " in text and "(2 rows: 2, 4)" in text
    assert "row 3, column 'day': " in text
    many = pd.DataFrame({"age": [str(i) if i % 2 else "bad" for i in range(20)]})
    with pytest.raises(
        InputValidationError, match=r"row 1, .*\(10 rows: 1, 3, 5, 7, 9 and 5 more\)"
    ):
        encode_frame(many, [ColumnSpec("age", "int")])

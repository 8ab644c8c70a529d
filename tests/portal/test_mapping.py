"""The upload wizard's rules without a browser: reading files, suggesting a mapping,
recoding labels, converting dates, and listing every problem by row and column."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharelake.errors import InputValidationError
from sharelake.portal.mapping import (
    apply_mapping,
    iso_date,
    read_table,
    suggest_mapping,
    unknown_labels,
)

EXPORT = pd.DataFrame(
    {
        "Dossier": ["D-1", "D-2", "D-3"],
        "Voornaam": ["Ana", "Olena", "Blessing"],
        "Achternaam": ["Popescu", "Kovalenko", "Okafor"],
        "Geboren": ["14-03-1998", "07-1991", "31-04-1996"],
        "Geslacht": ["V", "F", "vrouw"],
        "notes": ["x", "y", "z"],
    }
)
MAPPING = {
    "Dossier": "record_id",
    "Voornaam": "given_name",
    "Achternaam": "family_name",
    "Geboren": "date_of_birth",
    "Geslacht": "sex",
    "notes": "",
}


def test_the_wizard_suggests_the_fields_of_dutch_and_english_column_names() -> None:
    got = suggest_mapping(["Dossier", "Voornaam", "Achternaam", "Geboren", "Geslacht", "notes"])
    assert got == MAPPING
    assert suggest_mapping(["First Name", "Surname", "DOB", "gender"]) == {
        "First Name": "given_name",
        "Surname": "family_name",
        "DOB": "date_of_birth",
        "gender": "sex",
    }


def test_a_field_is_suggested_for_one_column_only() -> None:
    got = suggest_mapping(["firstname", "first_name"])
    assert sorted(got.values()) == ["", "given_name"]


def test_labels_that_are_not_codes_are_listed_and_never_guessed() -> None:
    assert unknown_labels(EXPORT, MAPPING) == {"sex": ["V", "vrouw"]}
    out = apply_mapping(EXPORT, MAPPING, source="export.csv", dates={"date_of_birth": "dmy"})
    assert out.table is None
    where = {(p.row, p.column) for p in out.problems}
    assert (1, "sex") in where and (3, "sex") in where and (2, "sex") not in where


def test_every_problem_names_its_row_and_column_and_a_fix_removes_it() -> None:
    recode = {"sex": {"V": "F", "vrouw": "F"}}
    out = apply_mapping(
        EXPORT, MAPPING, recode, source="export.csv", dates={"date_of_birth": "dmy"}
    )
    assert [(p.row, p.column) for p in out.problems] == [(3, "date_of_birth")]
    assert "1996-04-31" in out.problems[0].message
    fixed = EXPORT.assign(Geboren=["14-03-1998", "07-1991", "30-04-1996"])
    ok = apply_mapping(fixed, MAPPING, recode, source="export.csv", dates={"date_of_birth": "dmy"})
    assert ok.problems == () and ok.table is not None
    assert ok.table["date_of_birth"].tolist() == ["1998-03-14", "1991-07", "1996-04-30"]
    assert ok.table["sex"].tolist() == ["F", "F", "F"]
    assert "notes" not in ok.table.columns


def test_a_missing_required_field_is_a_problem_not_an_exception() -> None:
    out = apply_mapping(EXPORT, {"Dossier": "record_id"}, source="x.csv")
    assert {p.column for p in out.problems} == {"given_name", "family_name"}


def test_two_columns_mapped_to_one_field_are_refused() -> None:
    with pytest.raises(InputValidationError, match="given_name"):
        apply_mapping(EXPORT, {"Voornaam": "given_name", "Achternaam": "given_name"}, source="x")


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_day_first_and_month_first_dates_become_iso(day: dt.date) -> None:
    assert iso_date(day.strftime("%d-%m-%Y"), "dmy") == day.isoformat()
    assert iso_date(day.strftime("%m/%d/%Y"), "mdy") == day.isoformat()
    assert iso_date(day.strftime("%d.%m.%Y"), "dmy") == day.isoformat()
    assert iso_date(day.strftime("%m-%Y"), "dmy") == day.isoformat()[:7]


@pytest.mark.parametrize("text", ["forty", "", "12", "2023-03", "1-2-3-4"])
def test_text_that_is_not_a_date_in_the_stated_order_is_left_for_validation(text: str) -> None:
    got = iso_date(text, "dmy")
    assert got == text or (text == "2023-03" and got == text)


def test_files_are_read_as_text_and_bad_files_are_named() -> None:
    df = read_table(b"id,age\n007,12\n", "list.csv")
    assert df.to_dict("list") == {"id": ["007"], "age": ["12"]}
    buf = io.BytesIO()
    pd.DataFrame({"id": ["1"], "name": ["Ana"]}).to_excel(buf, index=False)
    assert read_table(buf.getvalue(), "list.xlsx")["name"].tolist() == ["Ana"]
    with pytest.raises(InputValidationError, match=r"list\.csv.*no data rows"):
        read_table(b"id,age\n", "list.csv")
    with pytest.raises(InputValidationError, match="repeated column"):
        read_table(b"id,id\n1,2\n", "list.csv")
    with pytest.raises(InputValidationError, match="UTF-8"):
        read_table("id\nZsófia\n".encode("latin-1"), "list.csv")
    with pytest.raises(InputValidationError, match=r"\.csv or \.xlsx"):
        read_table(b"x", "list.pdf")

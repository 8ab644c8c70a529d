"""The shared data model: validation with located errors, codebooks and the lake form."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from sharelake.errors import InputValidationError
from sharelake.monitoring import model as m

TEMPLATE = Path(__file__).resolve().parents[2] / "examples" / "template.csv"


def rows(**overrides: list[str]) -> pd.DataFrame:
    base: dict[str, list[str]] = {
        "record_id": ["a1", "a2"],
        "given_name": ["Ana", "Олена"],
        "family_name": ["Popa", "Коваленко"],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def test_the_template_is_valid_and_covers_every_field() -> None:
    df = m.read_csv(TEMPLATE)
    assert list(df.columns) == list(m.COLUMNS)
    assert len(df) == 5


def test_only_the_record_id_and_the_names_are_required() -> None:
    df = m.validate_frame(rows())
    assert list(df.columns) == list(m.COLUMNS)
    assert (df["nationality"] == "").all()


def test_a_missing_required_column_is_named() -> None:
    with pytest.raises(m.DataModelError) as err:
        m.validate_frame(rows().drop(columns="family_name"), source="ngo.csv")
    assert err.value.column == "family_name"
    assert "ngo.csv" in str(err.value)
    assert isinstance(err.value, InputValidationError)


def test_an_empty_name_is_reported_with_its_row() -> None:
    with pytest.raises(m.DataModelError) as err:
        m.validate_frame(rows(given_name=["Ana", " "]), source="police.csv")
    assert (err.value.row, err.value.column) == (2, "given_name")
    assert str(err.value).startswith("file police.csv, row 2, column 'given_name'")


def test_every_problem_is_listed_not_only_the_first() -> None:
    bad = rows(sex=["female", "F"], nationality=["XX", "ro"], date_of_birth=["1999-13", ""])
    with pytest.raises(m.DataModelError) as err:
        m.validate_frame(bad)
    found = {(p.row, p.column) for p in err.value.problems}
    assert found == {(1, "sex"), (1, "nationality"), (1, "date_of_birth")}


def test_codes_are_case_folded_to_the_codebook() -> None:
    df = m.validate_frame(rows(nationality=["ro", "UA"], role=["Victim", "witness"]))
    assert df["nationality"].tolist() == ["RO", "UA"]
    assert df["role"].tolist() == ["victim", "witness"]


@pytest.mark.parametrize("value", ["1999", "1999-04", "1999-04-30", ""])
def test_partial_birth_dates_are_accepted(value: str) -> None:
    m.validate_frame(rows(date_of_birth=[value, ""]))


@pytest.mark.parametrize("value", ["99", "1999-4", "1999-02-30", "30/04/1999", "2999"])
def test_malformed_birth_dates_are_rejected(value: str) -> None:
    with pytest.raises(m.DataModelError, match="date_of_birth"):
        m.validate_frame(rows(date_of_birth=[value, ""]))


def test_dates_in_the_future_are_rejected() -> None:
    with pytest.raises(m.DataModelError, match="future"):
        m.validate_frame(rows(first_contact=["2024-01-02", ""]), today=dt.date(2024, 1, 1))


def test_a_route_is_a_chain_of_country_codes() -> None:
    df = m.validate_frame(rows(transport_route=["ng > ly>IT>NL", ""]))
    assert df.loc[0, "transport_route"] == "NG>LY>IT>NL"
    with pytest.raises(m.DataModelError, match="country"):
        m.validate_frame(rows(transport_route=["NG>Libya", ""]))


def test_duplicate_record_ids_and_unknown_columns_are_rejected() -> None:
    with pytest.raises(m.DataModelError, match="duplicate"):
        m.validate_frame(rows(record_id=["a1", "a1"]))
    with pytest.raises(m.DataModelError, match="not a field"):
        m.validate_frame(rows(shoe_size=["41", "38"]))
    assert "shoe_size" not in m.validate_frame(rows(shoe_size=["41", "38"]), extra="drop")


def test_the_lake_form_matches_the_lake_schema() -> None:
    df = m.lake_frame(m.read_csv(TEMPLATE))
    schema = m.lake_schema()
    assert [s.name for s in schema] == list(df.columns)
    assert df.loc[1, "birth_year"] == 1991 and df.loc[1, "birth_month"] == 7
    assert pd.isna(df.loc[1, "birth_day"])
    assert df.loc[2, "exploitation_city"] == "Den Haag"
    assert df.loc[0, "contact_quarter"] == "2023Q1"
    for spec in schema:
        if spec.kind == "category":
            present = set(df[spec.name].dropna())
            assert present <= set(spec.categories or ())


def test_the_lake_form_encodes_under_the_engine_schema() -> None:
    from sharelake.relational.encode import encode_frame

    df = m.lake_frame(m.read_csv(TEMPLATE))
    cols = encode_frame(df, m.lake_schema(), source="template.csv")
    assert len(cols) == len(m.lake_schema())


def test_the_country_codebook_is_iso_3166_alpha_2() -> None:
    assert len(m.COUNTRIES) == 249
    assert {"NL", "NG", "RO", "UA", "VN"} <= set(m.COUNTRIES)
    assert all(len(c) == 2 and c.isupper() for c in m.COUNTRIES)


def test_the_mapping_example_writes_a_valid_file(tmp_path: Path) -> None:
    import runpy

    example = runpy.run_path(str(TEMPLATE.parent / "mapping_example.py"))
    out = tmp_path / "mapped.csv"
    assert example["main"](str(out)) == 0
    df = m.read_csv(out)
    assert df["nationality"].tolist()[:3] == ["RO", "UA", "NG"]
    assert df["role"].tolist()[-1] == "suspect"

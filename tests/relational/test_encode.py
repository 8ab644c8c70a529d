"""Client-side encoding: values round-trip, bad input is refused with row and column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sharelake.errors import InputValidationError
from sharelake.mpc.sharing import reconstruct_arith
from sharelake.relational.encode import decode_column, encode_frame, share_table
from sharelake.relational.table import ColumnSpec

SPECS = [
    ColumnSpec("age", "int"),
    ColumnSpec("amount", "fixed"),
    ColumnSpec("seen", "date"),
    ColumnSpec("sector", "category", categories=("agri", "construction", "sex_work")),
    ColumnSpec("name", "string", max_len=12),
]


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [34, None, -1],
            "amount": [1.5, 0.0, -2.25],
            "seen": ["2024-01-31", "1969-12-31", None],
            "sector": ["agri", "sex_work", None],
            "name": ["Ana", "Иван", ""],
        }
    )


def test_encoded_columns_round_trip_through_shares() -> None:
    cols = encode_frame(_frame(), SPECS, source="cases.csv")
    tables = share_table(cols, name="cases")
    for enc in cols:
        values = reconstruct_arith([t[enc.spec.name].values for t in tables])
        null = reconstruct_arith([t[enc.spec.name].null for t in tables])  # type: ignore[misc]
        back = decode_column(enc.spec, values, null)
        if enc.spec.kind == "string":
            assert values[0] != values[1]
            continue
        original = _frame()[enc.spec.name]
        for got, want in zip(back.tolist(), original.tolist(), strict=True):
            if want is None or (isinstance(want, float) and np.isnan(want)):
                assert got is None
            elif enc.spec.kind == "date":
                assert str(got)[:10] == want
            else:
                assert got == want


def test_unknown_category_is_refused_naming_file_row_and_column() -> None:
    df = _frame()
    df.loc[1, "sector"] = "fishing"
    with pytest.raises(InputValidationError, match=r"file cases.csv, row 2, column 'sector'"):
        encode_frame(df, SPECS, source="cases.csv")


def test_non_integer_is_refused_with_its_row() -> None:
    df = _frame().astype({"age": object})
    df.loc[2, "age"] = "forty"
    with pytest.raises(InputValidationError, match=r"row 3, column 'age'"):
        encode_frame(df, SPECS)


def test_overlong_string_is_refused_before_sharing() -> None:
    df = _frame()
    df.loc[0, "name"] = "x" * 13
    with pytest.raises(InputValidationError, match=r"row 1, column 'name'"):
        encode_frame(df, SPECS)


def test_infinite_decimal_is_refused() -> None:
    df = _frame()
    df.loc[0, "amount"] = float("inf")
    with pytest.raises(InputValidationError, match=r"column 'amount'"):
        encode_frame(df, SPECS)


def test_missing_required_column_is_named() -> None:
    with pytest.raises(InputValidationError, match="missing columns: name"):
        encode_frame(_frame().drop(columns=["name"]), SPECS)


def test_missing_value_in_required_column_is_refused() -> None:
    specs = [ColumnSpec("age", "int", nullable=False)]
    with pytest.raises(InputValidationError, match=r"row 2, column 'age'"):
        encode_frame(_frame(), specs)


def test_a_nul_character_in_a_string_is_refused_naming_file_row_and_column() -> None:
    df = pd.DataFrame({"s": ["ok", "bad\x00tail", "fine"]})
    spec = [ColumnSpec("s", "string", max_len=16)]
    with pytest.raises(InputValidationError) as err:
        encode_frame(df, spec, source="names.csv")
    assert (err.value.source, err.value.row, err.value.column) == ("names.csv", 2, "s")
    assert "NUL" in str(err.value)

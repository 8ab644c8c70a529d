"""Design mode: dummy frames from the schema alone, usable with the plaintext twins."""

from __future__ import annotations

from sharelake.engine.design import design_tables, dummy_frame
from sharelake.relational import plain
from sharelake.relational.encode import encode_frame
from sharelake.relational.table import ColumnSpec

SPECS = [
    ColumnSpec("id", "int", nullable=False),
    ColumnSpec("age", "int"),
    ColumnSpec("ok", "bool"),
    ColumnSpec("w", "fixed", frac_bits=8),
    ColumnSpec("seen", "date"),
    ColumnSpec("region", "category", categories=("north", "south")),
    ColumnSpec("name", "string", max_len=6),
]


def test_a_dummy_frame_fits_its_schema_so_it_can_be_encoded_for_upload() -> None:
    df = dummy_frame(SPECS, 50, seed=3)
    assert list(df.columns) == [s.name for s in SPECS] and len(df) == 50
    encode_frame(df, SPECS)  # raises when a value does not fit its column
    assert df["id"].notna().all()
    assert df["name"].dropna().str.len().max() <= 6


def test_the_same_seed_gives_the_same_frame_and_another_seed_another() -> None:
    assert dummy_frame(SPECS, 20, seed=1).equals(dummy_frame(SPECS, 20, seed=1))
    assert not dummy_frame(SPECS, 20, seed=1).equals(dummy_frame(SPECS, 20, seed=2))


def test_a_schema_in_json_form_works_as_well() -> None:
    df = dummy_frame([{"name": "k", "kind": "category", "categories": ["a"]}], 3)
    assert df["k"].dropna().eq("a").all()


def test_a_plan_can_be_developed_on_dummy_tables_with_the_plaintext_twins() -> None:
    tables = design_tables({"people": SPECS}, 40, seed=5)
    got = plain.groupby(tables["people"], ["region"], {"n": ("*", "count")})
    assert int(got["n"].sum()) == 40

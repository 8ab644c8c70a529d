"""Text normalisation at upload (pandas' ``.str.strip/lower/upper``, done by the owner's
client before sharing): the schema records it, the preview shows it, text constants
compared with a normalised column are normalised alike inside the plan binding, and bad
requests are refused naming the column before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sharelake.cli.main import app
from sharelake.client.frame import Table
from sharelake.client.upload import CATEGORY_MIN_COUNT, load_schema, preview_upload, schema_toml
from sharelake.errors import InputValidationError
from sharelake.relational.table import ColumnSpec, normalize_text, spec_from_json, spec_to_json

from .helpers_idioms import frame_equal, run


def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pid": list(range(10)),
            "region": [
                "Noord", "noord", " Zuid", "ZUID ", "Oost", "oost\t", "Noord", "West", None, "zuid"
            ],
            "name": ["Anna", " anna", "ANNA ", "Bo", "bo", "Çelik", "ÇELIK", "Dana", None, ""],
        }
    )  # fmt: skip


def test_variants_that_normalise_alike_become_one_label_and_the_frame_is_unchanged() -> None:
    k = -(-CATEGORY_MIN_COUNT // 3)  # each variant under the minimum, each label over it
    assert k < CATEGORY_MIN_COUNT <= 3 * k
    variants = ["Noord", "noord ", " NOORD", "Zuid", "zuid\t", "ZUID"]
    df = pd.DataFrame({"region": variants * k, "name": ["x"] * (6 * k)})
    before = df.copy()
    assert preview_upload(df, "people").columns[0].spec.kind == "string"  # variants are rare
    pv = preview_upload(df, "people", normalize={"region": "strip,lower", "name": ["lower"]})
    specs = {c.spec.name: c.spec for c in pv.columns}
    assert specs["region"].kind == "category"
    assert specs["region"].categories == ("noord", "zuid")
    assert specs["region"].normalized == ("strip", "lower")
    assert specs["name"].normalized == ("lower",)
    assert "normalised here: strip, lower" in pv.render()
    pd.testing.assert_frame_equal(df, before)


def test_text_compared_with_a_normalised_column_matches_as_pandas_str_methods_would() -> None:
    df = people()
    pv = preview_upload(df, "people", normalize={"region": "strip lower", "name": "strip,lower"})
    specs = [c.spec for c in pv.columns]
    stored = df.copy()
    stored["region"] = df.region.str.strip().str.lower()
    stored["name"] = df.name.str.strip().str.lower()
    t = Table.of("people", ["pid", "region", "name"])
    q = t[(t.region == " NOORD") | t.name.isin(["Çelik", "BO "])][["pid"]]
    got = run(q, {"people": (stored, specs)})
    region = df.region.str.strip().str.lower()
    name = df.name.str.strip().str.lower()
    want = df[(region == "noord") | name.isin(["çelik", "bo"])][["pid"]]
    frame_equal(got, want.reset_index(drop=True), by=["pid"])
    assert sorted(got.pid) == [0, 1, 3, 4, 5, 6]


def test_a_schema_file_keeps_the_normalisations_and_applies_them(tmp_path: Path) -> None:
    pv = preview_upload(people(), "people", normalize={"name": "upper,strip"})
    specs = [c.spec for c in pv.columns]
    path = tmp_path / "schema.toml"
    path.write_text(schema_toml(specs), "utf-8")
    loaded = load_schema(path)
    assert [s.normalized for s in loaded] == [s.normalized for s in specs]
    again = preview_upload(people(), "people", schema=path)
    assert {c.spec.name: c.spec.normalized for c in again.columns}["name"] == ("strip", "upper")
    for s in specs:
        assert spec_from_json(spec_to_json(s)) == s
    assert "normalized" not in spec_to_json(ColumnSpec("x", "string", max_len=4))


@pytest.mark.parametrize(
    ("normalize", "message"),
    [
        ({"name": "casefold"}, "unknown normalisation 'casefold'"),
        ({"name": "lower,upper"}, "lower or upper, not both"),
        ({"pid": "strip"}, "only text columns are normalised"),
        ({"nickname": "lower"}, "not in the data"),
    ],
)
def test_a_bad_normalisation_is_refused_naming_the_column(
    normalize: dict[str, str], message: str
) -> None:
    with pytest.raises(InputValidationError, match=message) as err:
        preview_upload(people(), "people", normalize=normalize)
    assert err.value.column == next(iter(normalize))


def test_the_steps_apply_strip_first_then_the_case() -> None:
    assert normalize_text("  Ünïcode Ä ", ("strip", "upper")) == "ÜNÏCODE Ä"
    assert normalize_text("\tMiXed ", ()) == "\tMiXed "
    with pytest.raises(ValueError, match="in the order"):
        ColumnSpec("x", "string", max_len=4, normalized=("lower", "strip"))


def test_str_lower_names_the_upload_option_that_does_it() -> None:
    t = Table.of("people", ["name"])
    with pytest.raises(AttributeError, match=r"normalize=\{'c': 'lower'\}"):
        t.name.str.lower()


def test_the_cli_refuses_a_malformed_normalize_option_before_connecting(tmp_path: Path) -> None:
    data = tmp_path / "people.csv"
    people().to_csv(data, index=False)
    res = CliRunner().invoke(
        app,
        [
            "upload", str(data), "--table", "people", "--policy", "p.toml", "--as", "ngo",
            "--consortium", str(tmp_path / "none.toml"), "--normalize", "name", "--yes",
        ],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "COLUMN=STEPS" in res.output

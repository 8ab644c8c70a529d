"""The upload preview: what will be shared and the problems found, before anything is
sent; and the legend of suppressed groups in results and reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sharelake.client.preview import summarise
from sharelake.client.results import suppression_legend, suppression_notes
from sharelake.client.upload import UploadDeclinedError, preview_upload, upload
from sharelake.errors import InputValidationError
from sharelake.monitoring.lake_report import render_html, report_json, section_of
from sharelake.relational.table import ColumnSpec


class NoNetwork:
    """A connection that fails the test if the upload touches it at all."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the upload used the connection ({name}) before confirming")


def cases() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(8)],
            "region": ["Noord", "noord", "Zuid", " Zuid", "Oost", "Oost", "Noord", "Zuid"],
            "age": [30, None, 41, 17, 55, 62, 23, 38],
            "note": [None] * 8,
        }
    )


def test_the_preview_lists_columns_kinds_missing_values_and_what_the_nodes_learn() -> None:
    pv = preview_upload(cases(), "cases")
    text = pv.render()
    assert pv.rows == 8
    kinds = {c.spec.name: (c.spec.kind, c.missing) for c in pv.columns}
    assert kinds == {
        "record_id": ("string", 0),
        "region": ("string", 0),
        "age": ("int", 1),
        "note": ("string", 8),
    }
    assert "Upload preview: table 'cases': 8 rows, 4 columns. Nothing has been sent yet." in text
    assert "values secret; at most 8 bytes" in text


def test_the_preview_names_values_differing_only_in_case_or_spaces_and_empty_columns() -> None:
    pv = preview_upload(cases(), "cases")
    region = [p for p in pv.problems if p.startswith("column 'region'")]
    assert region[0].startswith("column 'region': 'Noord' and 'noord' differ only in case or")
    assert "1 more such groups" in region[0]  # ' Zuid' / 'Zuid'
    assert "column 'region': 1 value(s) start or end with spaces (rows 4)" in region[1]
    assert "column 'note': every value is missing" in pv.problems
    assert not [p for p in pv.problems if p.startswith("column 'record_id'")]


def test_a_category_preview_shows_its_public_labels_and_a_clean_table_has_no_problem() -> None:
    df = pd.DataFrame({"sector": ["a", "b", "a"], "n": [1, 2, 3]})
    specs = [
        ColumnSpec("sector", "category", False, categories=("a", "b"), ordered=True),
        ColumnSpec("n", "int", False),
    ]
    pv = summarise(df, specs, table="t", source="t.csv")
    assert pv.problems == []
    assert "labels (ordered): a, b (required)" in pv.render()
    assert "Problems found: none." in pv.render()
    assert "from t.csv" in str(pv)


def test_a_column_made_text_by_lenient_is_listed_as_a_problem(tmp_path: Path) -> None:
    csv = tmp_path / "ages.csv"
    csv.write_text("pid,age\n" + "".join(f"{i},{20 + i}\n" for i in range(9)) + "9,forty\n")
    with pytest.raises(InputValidationError) as err:
        preview_upload(csv, "ages")
    assert (err.value.source, err.value.column) == (str(csv), "age")
    pv = preview_upload(csv, "ages", lenient=True)
    assert any(p.startswith("column 'age': mostly numbers or dates") for p in pv.problems)


def test_a_bad_value_stops_the_preview_naming_file_row_and_column(tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("name\nAnn\nB\x00o\n", encoding="utf-8")
    with pytest.raises(InputValidationError) as err:
        preview_upload(csv, "names")
    assert (err.value.source, err.value.row, err.value.column) == (str(csv), 2, "name")


def test_an_upload_not_confirmed_sends_nothing_and_says_so() -> None:
    seen = []

    def decline(pv: Any) -> bool:
        seen.append(pv)
        return False

    with pytest.raises(UploadDeclinedError, match="nothing was sent"):
        upload(NoNetwork(), cases(), "cases", confirm=decline, progress=False)
    assert len(seen) == 1 and seen[0].rows == 8 and seen[0].table == "cases"


def test_the_suppression_note_names_the_rule_and_the_policies_it_comes_from() -> None:
    one = suppression_notes(2, {"cases": (5, 1)})[0]
    assert one == (
        "2 groups were suppressed: each had fewer than 5 rows, the minimum group size (k) "
        "of the policy of table 'cases' (policy version 1), so they are left out of this "
        "result."
    )
    two = suppression_notes(1, {"b": (10, 3), "a": (5, 1)})[0]
    assert "each had fewer than 10 rows" in two
    assert "the largest of the policies of table 'a' (policy version 1, k = 5), " in two
    assert "table 'b' (policy version 3)" in two


def test_a_report_marks_suppressed_groups_with_a_legend_saying_why_and_which_policy() -> None:
    df = pd.DataFrame({"region": ["Noord"], "size": [12]})
    df.attrs["suppressed_groups"] = 2
    df.attrs["notes"] = suppression_notes(2, {"cases": (5, 1)})
    section = section_of("modus", "Cases by region", ["cases"], "ab" * 32, df)
    page = render_html([section], analyst="analyst", when=0)
    assert '<tr class="suppressed"><td colspan="2">* 2 groups suppressed (see the legend)' in page
    assert "* Suppressed: 2 groups were suppressed: each had fewer than 5 rows" in page
    assert "table &#x27;cases&#x27; (policy version 1)" in page
    assert report_json([section], analyst="analyst")["sections"][0]["legend"] == (
        suppression_legend(df)
    )


def test_a_report_without_suppressed_groups_has_no_legend() -> None:
    df = pd.DataFrame({"region": ["Noord"], "size": [12]})
    df.attrs["suppressed_groups"] = 0
    section = section_of("modus", "Cases by region", ["cases"], "ab" * 32, df)
    page = render_html([section], analyst="analyst", when=0)
    assert "suppressed" not in page.lower()
    assert section.legend == ""

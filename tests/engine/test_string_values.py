"""Released string columns are the uploaded values, opened from their secret bytes.

Every plan runs on three parties in memory through the executor; the three released
bundles are rebuilt by the client's own decoder (``rebuild_columns``) and compared with
pandas on the same data: group keys, selected rows, distinct values and both sides of
a join on strings, with empty strings, non-ASCII text, values of exactly the maximum
length and missing values.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
import pytest

from sharelake.client.results import decode_text, rebuild_columns
from sharelake.engine.executor import Released, execute, release_rows
from sharelake.errors import IntegrityError
from sharelake.harness.runner import run_parties
from sharelake.mpc.party import Party
from sharelake.plan import nodes as pn
from sharelake.plan import tree
from sharelake.relational.encode import encode_frame, share_table
from sharelake.relational.table import ColumnSpec, SecretTable
from sharelake.storage.bundle import encode_bundle

MAX = 16
#: edge values: empty, non-ASCII (2-, 3- and 4-byte UTF-8), exactly MAX bytes, spaces
POOL = ["", "Noord", "Zuid-Öst", "北京", "é" * 8, "abcdefghijklmnop", " a b ", "🙂x", "Noord "]
CASES_SPECS = [
    ColumnSpec("id", "int", nullable=False),
    ColumnSpec("city", "string", max_len=MAX),
    ColumnSpec("amount", "int"),
    ColumnSpec("kind", "category", categories=("a", "b")),
]
CITY_SPECS = [
    ColumnSpec("city", "string", max_len=MAX),
    ColumnSpec("label", "string", max_len=MAX),
]


def cases(seed: int, n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    city = [None if rng.random() < 0.15 else str(rng.choice(POOL)) for _ in range(n)]
    amount = [None if rng.random() < 0.1 else int(x) for x in rng.integers(-50, 50, n)]
    return pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64),
            "city": pd.Series(city, dtype=object),
            "amount": pd.array(amount, dtype="Int64"),
            "kind": pd.Categorical(rng.choice(["a", "b"], n), categories=["a", "b"]),
        }
    )


def cities() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "city": ["Noord", "北京", "", "abcdefghijklmnop", "nowhere"],
            "label": ["north", "Běijīng", "(empty)", "é" * 8, "🙂"],
        }
    )


def _body(p: Party, tables: dict[str, SecretTable], plan: dict[str, Any]) -> Released:
    typed = tree.from_json(plan)
    return release_rows(p, execute(p, typed, tables.__getitem__), ordered=tree.ordered(typed))


def run(root: dict[str, Any], **frames: tuple[pd.DataFrame, list[ColumnSpec]]) -> pd.DataFrame:
    """The released result as the analyst's client rebuilds it from three bundles."""
    parts: list[dict[str, SecretTable]] = [{}, {}, {}]
    for name, (df, specs) in frames.items():
        for i, t in enumerate(share_table(encode_frame(df, specs), name=name)):
            parts[i][name] = t
    plan = {"version": 1, "root": root, "release": {"kind": "rows"}}
    rel = run_parties(_body, [{"tables": parts[i], "plan": plan} for i in range(3)])
    return rebuild_columns([encode_bundle(r.meta, r.arrays) for r in rel])


def scan(table: str) -> dict[str, Any]:
    return {"op": "scan", "table": table, "columns": None}


def rows(df: pd.DataFrame) -> list[tuple[Any, ...]]:
    out = [
        tuple(
            None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v
            for v in r
        )
        for r in df.astype(object).itertuples(index=False)
    ]
    return sorted(out, key=repr)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_string_group_keys_come_back_as_the_values_and_match_pandas(seed: int) -> None:
    df = cases(seed)
    root = {
        "op": "groupby",
        "keys": ["city"],
        "aggs": {"n": ["*", "count"], "total": ["amount", "sum"]},
        "input": scan("cases"),
    }
    got = run(root, cases=(df, CASES_SPECS))
    want = (
        df.groupby("city", dropna=False)
        .agg(n=("id", "size"), total=("amount", "sum"))
        .reset_index()
    )
    assert rows(got[["city", "n", "total"]]) == rows(want)
    assert not any(isinstance(v, str) and v.startswith("#") for v in got["city"])


def test_a_string_and_a_category_key_together_match_pandas() -> None:
    df = cases(4)
    root = {
        "op": "groupby",
        "keys": ["kind", "city"],
        "aggs": {"n": ["*", "count"]},
        "input": scan("cases"),
    }
    got = run(root, cases=(df, CASES_SPECS))
    want = df.groupby(["kind", "city"], dropna=False, observed=True).size().reset_index(name="n")
    got["kind"] = got["kind"].astype(str)
    want["kind"] = want["kind"].astype(str)
    assert rows(got[["kind", "city", "n"]]) == rows(want)


def test_selected_rows_show_the_strings_uploaded_including_empty_and_missing() -> None:
    df = cases(5)
    root = {"op": "project", "columns": ["id", "city"], "input": scan("cases")}
    got = run(root, cases=(df, CASES_SPECS))
    assert rows(got) == rows(df[["id", "city"]])
    assert "" in set(got["city"].dropna()) or "" not in set(df["city"].dropna())


def test_distinct_strings_are_the_values_pandas_drops_duplicates_to() -> None:
    df = cases(6)
    root = {
        "op": "distinct",
        "keys": ["city"],
        "input": {"op": "project", "columns": ["city"], "input": scan("cases")},
    }
    got = run(root, cases=(df, CASES_SPECS))
    assert rows(got) == rows(df[["city"]].drop_duplicates())


@pytest.mark.parametrize("how", ["inner", "left"])
def test_a_join_on_strings_releases_both_sides_values_as_pandas_merge(
    how: Literal["inner", "left"],
) -> None:
    df = cases(7)[["id", "city"]]
    root = pn.join(scan("cases"), scan("cities"), on=["city"], how=how)
    got = run(root, cases=(df, CASES_SPECS[:2]), cities=(cities(), CITY_SPECS))
    want = df.merge(cities(), on="city", how=how)
    if how == "inner":  # a missing key matches nothing (pandas would match NaN with NaN)
        want = want[want["city"].notna()]
    assert rows(got[list(want.columns)]) == rows(want)


@pytest.mark.parametrize("validate", ["m:1", "1:m", "m:m"])
def test_a_null_cell_of_a_left_join_opens_no_bytes_of_another_row(validate: str) -> None:
    df = pd.DataFrame({"id": [1, 2, 3], "city": ["nowhere-else", "Noord", None]})
    parts: list[dict[str, SecretTable]] = [{}, {}, {}]
    for name, (d, specs) in {
        "cases": (df, CASES_SPECS[:2]),
        "cities": (cities(), CITY_SPECS),
    }.items():
        for i, t in enumerate(share_table(encode_frame(d, specs), name=name)):
            parts[i][name] = t
    root = pn.join(
        scan("cases"),
        scan("cities"),
        on=["city"],
        how="left",
        validate=validate,  # type: ignore[arg-type]
        max_multiplicity=2 if validate == "m:m" else None,
    )
    plan = {"version": 1, "root": root, "release": {"kind": "rows"}}
    rel = run_parties(_body, [{"tables": parts[i], "plan": plan} for i in range(3)])
    opened = sum(r.arrays["label.text.a"] for r in rel)
    null = sum(r.arrays["label.null.a"] for r in rel)
    texts = decode_text(np.asarray(opened, dtype=np.uint64))
    assert sorted(t for t, nl in zip(texts, null, strict=True) if nl) == ["", ""]
    assert sorted(t for t, nl in zip(texts, null, strict=True) if not nl) == ["north"]


def test_a_string_column_released_without_its_bytes_is_refused() -> None:
    df = cases(8)[["id", "city"]]
    parts: list[dict[str, SecretTable]] = [{}, {}, {}]
    for i, t in enumerate(share_table(encode_frame(df, CASES_SPECS[:2]), name="cases")):
        parts[i]["cases"] = t
    plan = {"version": 1, "root": scan("cases"), "release": {"kind": "rows"}}
    rel = run_parties(_body, [{"tables": parts[i], "plan": plan} for i in range(3)])
    stripped = [
        encode_bundle(r.meta, {k: v for k, v in r.arrays.items() if ".text." not in k}) for r in rel
    ]
    with pytest.raises(IntegrityError, match="without its text"):
        rebuild_columns(stripped)


def test_a_computed_string_other_than_a_copy_is_refused_with_what_to_do() -> None:
    df = cases(9)[["id", "city"]]
    when = {
        "fn": "when",
        "args": [
            {"fn": ">", "args": [{"col": "id"}, {"lit": 3}]},
            {"col": "city"},
            {"col": "city"},
        ],
    }
    root = {"op": "assign", "columns": {"c2": when}, "input": scan("cases")}
    with pytest.raises(Exception, match="can only copy a string column"):
        run(root, cases=(df, CASES_SPECS[:2]))
    copy = {"op": "assign", "columns": {"c2": {"col": "city"}}, "input": scan("cases")}
    got = run(copy, cases=(df, CASES_SPECS[:2]))
    assert rows(got[["id", "c2"]]) == rows(df.rename(columns={"city": "c2"})[["id", "c2"]])


def test_an_empty_result_with_a_string_column_is_an_empty_frame() -> None:
    df = cases(10)
    root = {
        "op": "filter",
        "predicate": {"fn": "<", "args": [{"col": "id"}, {"lit": 0}]},
        "input": scan("cases"),
    }
    got = run(root, cases=(df, CASES_SPECS))
    assert len(got) == 0 and list(got.columns) == ["id", "city", "amount", "kind"]

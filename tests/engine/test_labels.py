"""Categories and strings compare with their labels, as in pandas.

``t.region == "Noord"`` carries the text in the plan; the node binds it to the column it
meets (a category's code, a string's digest). Each filter runs on three parties in
memory and is compared with the same pandas expression on the same data (missing values
never pass a filter, as SQL: pandas' ``!=`` would keep them, so the twin drops them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from sharelake.client.frame import Table
from sharelake.plan import nodes as pn
from sharelake.plan.canonical import PlanError
from sharelake.plan.validate import MAX_LABEL, validate_plan
from sharelake.relational.expr import BinOp, Expr, Lit, col, to_json
from sharelake.relational.table import ColumnSpec, spec_from_json, spec_to_json
from tests.engine.test_string_values import POOL, rows, run, scan

LEVELS = ("low", "mid", "high")
REGIONS = ("Noord", "Oost", "Zuid", "West-Ö")
SPECS = [
    ColumnSpec("id", "int", nullable=False),
    ColumnSpec("region", "category", categories=REGIONS),
    ColumnSpec("level", "category", categories=LEVELS, ordered=True),
    ColumnSpec("city", "string", max_len=16),
]


def data(seed: int, n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)

    def maybe(values: tuple[str, ...] | list[str]) -> list[str | None]:
        return [None if rng.random() < 0.1 else str(rng.choice(values)) for _ in range(n)]

    return pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64),
            "region": pd.Categorical(maybe(REGIONS), categories=list(REGIONS)),
            "level": pd.Categorical(maybe(LEVELS), categories=list(LEVELS), ordered=True),
            "city": pd.Series(maybe(POOL), dtype=object),
        }
    )


def secure_ids(e: Expr, df: pd.DataFrame) -> list[int]:
    root = {"op": "filter", "predicate": to_json(e), "input": scan("t")}
    got = run(root, t=(df, SPECS))
    return sorted(int(x) for x in got["id"])


def pandas_ids(mask: pd.Series[Any], df: pd.DataFrame, *cols: str) -> list[int]:
    present = df[list(cols)].notna().all(axis=1)
    return sorted(int(x) for x in df.loc[mask.fillna(False).astype(bool) & present, "id"])


@pytest.mark.parametrize("seed", [11, 12])
def test_a_category_filters_by_label_with_eq_ne_and_or_as_pandas(seed: int) -> None:
    df = data(seed)
    assert secure_ids(col("region") == "Noord", df) == pandas_ids(
        df.region == "Noord", df, "region"
    )
    assert secure_ids(col("region") != "Oost", df) == pandas_ids(df.region != "Oost", df, "region")
    either = (col("region") == "West-Ö") | (col("region") == "Zuid")
    assert secure_ids(either, df) == pandas_ids(df.region.isin(["West-Ö", "Zuid"]), df, "region")
    swapped = BinOp("==", Lit("Noord"), col("region"))  # "Noord" == t.region
    assert secure_ids(swapped, df) == secure_ids(col("region") == "Noord", df)


@pytest.mark.parametrize("op", ["<", "<=", ">", ">="])
def test_an_ordered_category_compares_by_the_order_of_its_labels(op: str) -> None:
    df = data(13)
    label = {"<": "mid", "<=": "mid", ">": "low", ">=": "high"}[op]
    e = {
        "<": col("level") < label,
        "<=": col("level") <= label,
        ">": col("level") > label,
        ">=": col("level") >= label,
    }[op]
    twin = {
        "<": df.level < label,
        "<=": df.level <= label,
        ">": df.level > label,
        ">=": df.level >= label,
    }[op]
    assert secure_ids(e, df) == pandas_ids(twin, df, "level")


def test_a_string_column_equals_a_text_including_empty_unicode_and_max_length() -> None:
    df = data(14)
    for text in ["", "北京", "abcdefghijklmnop", "é" * 8, "Noord", "absent"]:
        want = pandas_ids(df.city == text, df, "city")
        assert secure_ids(col("city") == text, df) == want, text
    want_ne = pandas_ids(df.city != "Noord", df, "city")
    assert secure_ids(col("city") != "Noord", df) == want_ne


def test_a_label_not_in_the_category_is_refused_naming_column_and_labels() -> None:
    with pytest.raises(PlanError) as err:
        secure_ids(col("region") == "Nord", data(15))
    text = str(err.value)
    assert "'Nord' is not a label of category column 'region'" in text
    assert "'Noord', 'Oost', 'Zuid', 'West-Ö'" in text


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        (col("region") < "Oost", "is not ordered"),
        (col("city") < "m", "no order"),
        (col("id") == "7", "cannot be compared with the text"),
        ((col("id") + 1) == "7", "only be compared with a category or string column"),
    ],
)
def test_a_label_where_it_has_no_meaning_is_refused_with_what_to_do(expr: Expr, says: str) -> None:
    with pytest.raises(PlanError, match=says):
        secure_ids(expr, data(16))


def test_group_by_after_a_label_filter_equals_pandas() -> None:
    df = data(17)
    root = pn.groupby(
        {"op": "filter", "predicate": to_json(col("level") >= "mid"), "input": scan("t")},
        ["region"],
        {"n": ("*", "count")},
    )
    got = run(root, t=(df, SPECS))
    kept = df[(df.level >= "mid") & df.level.notna()]
    want = kept.groupby("region", dropna=False, observed=True).size().reset_index(name="n")
    got["region"] = got["region"].astype(object)
    want["region"] = want["region"].astype(object)
    assert rows(got) == rows(want)


def test_a_released_ordered_category_is_an_ordered_pandas_categorical() -> None:
    df = data(18)
    got = run({"op": "project", "columns": ["id", "level"], "input": scan("t")}, t=(df, SPECS))
    assert got["level"].cat.ordered
    assert list(got["level"].cat.categories) == list(LEVELS)


def test_the_plan_carries_the_text_and_explain_shows_it_quoted() -> None:
    t = Table.of("t", ["id", "region"])
    plan = t[t.region == "Noord"].plan
    pred = plan["root"]["predicate"]
    assert pred == {"fn": "==", "args": [{"col": "region"}, {"lit": "Noord"}]}
    validate_plan(plan)
    assert "region == 'Noord'" in t[t.region == "Noord"].explain()


def test_a_text_constant_longer_than_the_limit_or_with_nul_is_refused_by_validation() -> None:
    t = Table.of("t", ["id", "region"])
    for bad in ["x" * (MAX_LABEL + 1), "a\x00b"]:
        plan = t[t.region == bad].plan
        with pytest.raises(PlanError, match="text constant"):
            validate_plan(plan)


def test_ordered_is_kept_in_the_schema_json_only_when_true() -> None:
    spec = SPECS[2]
    assert spec_from_json(spec_to_json(spec)) == spec
    assert "ordered" not in spec_to_json(SPECS[1])
    with pytest.raises(ValueError, match="only a category column can be ordered"):
        ColumnSpec("x", "int", ordered=True)


def test_isin_and_query_with_labels_filter_as_pandas() -> None:
    from sharelake.client.query_text import parse_query

    df = data(19)
    assert secure_ids(col("region").isin(["Noord", "West-Ö"]), df) == pandas_ids(
        df.region.isin(["Noord", "West-Ö"]), df, "region"
    )
    assert secure_ids(col("city").isin(["", "北京"]), df) == pandas_ids(
        df.city.isin(["", "北京"]), df, "city"
    )
    q = parse_query("region == 'Zuid' and level >= 'mid'", list(df.columns))
    want = df.query("region == 'Zuid' and level >= 'mid'")
    assert secure_ids(q, df) == sorted(int(x) for x in want["id"])

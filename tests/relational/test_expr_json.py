"""Expressions survive the trip through their plan form, and bad plan forms are refused."""

from __future__ import annotations

import pytest

from sharelake.plan.canonical import canonical_json
from sharelake.relational.expr import col, columns_of, from_json, to_json, when
from sharelake.relational.table import ColumnSpec, spec_from_json, spec_to_json


def test_expression_round_trips_through_json() -> None:
    e = when((col("age") >= 18) & ~col("x").is_null(), col("a") * 2 - 1, col("b").fill_null(0))
    d = to_json(e)
    assert canonical_json(to_json(from_json(d))) == canonical_json(d)
    assert columns_of(e) == {"age", "x", "a", "b"}


def test_unknown_function_in_a_plan_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown function"):
        from_json({"fn": "exp", "args": [{"col": "a"}]})


def test_column_spec_round_trips_through_json() -> None:
    spec = ColumnSpec("sector", "category", categories=("a", "b"), nullable=False)
    assert spec_from_json(spec_to_json(spec)) == spec

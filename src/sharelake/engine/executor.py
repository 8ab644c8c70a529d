"""The executor: interpret a plan over secret tables at one party, and release its rows.

:func:`execute` walks the plan tree (``plan["root"]``, the JSON form documented in
``docs/node-api.md`` and built by the client) and calls the relational operator of each
node on this party's shares. It is pure over a :class:`~sharelake.mpc.party.Party`:
the same call runs in memory (tests) and inside a node over TLS. Tables come from
``load(name)``, so the executor never touches storage.

:func:`release_rows` compacts the result (a shuffle, then only the validity bits are
opened: the number of result rows) and returns this party's pair of every column; the
client rebuilds the values from the three pairs, each component twice.

LEAKAGE: whatever each operator's own docstring says (nothing for every operator
here), plus the number of result rows opened by the compaction in :func:`release_rows`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, cast

import numpy as np

from ..mpc.party import Party
from ..mpc.ring import Arr
from ..mpc.scan import stable_partition
from ..plan.canonical import PlanError
from ..relational import expr as rexpr
from ..relational.compact import compact
from ..relational.distinct import distinct
from ..relational.groupby import AGG_FNS, AggFn, groupby
from ..relational.join import join
from ..relational.ops import (
    assign,
    concat,
    filter_rows,
    project,
    sort_table,
    table_columns,
    table_from_columns,
)
from ..relational.overlap import overlap
from ..relational.table import SecretTable, spec_to_json
from .linkage import run_link, with_persons

__all__ = ["Released", "execute", "plan_tables", "release_rows", "result_is_ordered"]

Loader = Callable[[str], SecretTable]
_HOWS = ("inner", "left", "semi", "anti")
_VALIDATES = ("1:1", "1:m", "m:1", "m:m")


class Released(NamedTuple):
    """This party's part of a released result: bundle metadata and share arrays.

    ``meta`` is ``{"columns": [column specs], "rows": m}``; ``arrays`` holds, per column
    ``c``, ``c.values.a``/``c.values.b`` and, when present, ``c.null.a``/``c.null.b`` and
    ``c.text.a``/``c.text.b`` (this party's components i and i+1).
    """

    meta: dict[str, Any]
    arrays: dict[str, Arr]


def _field(node: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in node:
        raise PlanError(f"plan node {node.get('op')!r} lacks {key!r}")
    value = node[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise PlanError(f"plan node {node.get('op')!r}: {key!r} has the wrong type")
    return value


def _names(node: Mapping[str, Any], key: str) -> list[str]:
    value = _field(node, key, list)
    if not all(isinstance(v, str) for v in value):
        raise PlanError(f"plan node {node.get('op')!r}: {key!r} must be a list of names")
    return cast(list[str], value)


def _expr(d: Any) -> rexpr.Expr:
    try:
        return rexpr.from_json(d)
    except ValueError as exc:
        raise PlanError(f"bad expression: {exc}") from None


def _head(p: Party, t: SecretTable, n: int) -> SecretTable:
    """The first ``n`` valid rows of ``t`` in order: valid rows moved to the front by an
    oblivious stable partition (nothing opened), then a public prefix."""
    if n < 0:
        raise PlanError("head: n must be non-negative")
    cols = table_columns(t)
    if t.n:
        valid, moved = stable_partition(p, t.valid, cols[1:])
        t = table_from_columns(t, [valid, *moved])
    return t.take(np.arange(min(n, t.n), dtype=np.intp))


def _run(p: Party, node: Any, load: Loader) -> SecretTable:
    if not isinstance(node, dict) or not isinstance(node.get("op"), str):
        raise PlanError("a plan node must be an object with an 'op'")
    op = node["op"]
    if op == "scan":
        t = load(_field(node, "table", str))
        cols = node.get("columns")
        return t if cols is None else project(p, t, _names(node, "columns"))
    if op == "link":  # private record linkage of two person tables (engine/linkage.py)
        return run_link(p, node, lambda sub: _run(p, sub, load))
    if op in ("overlap", "concat"):
        inputs = [_run(p, x, load) for x in _field(node, "inputs", list)]
        if op == "concat":
            return concat(p, inputs)
        if node.get("linkage") is not None:  # persons by record linkage (engine/linkage.py)
            inputs = with_persons(p, inputs, node["linkage"])
        return overlap(p, inputs, on=_names(node, "on"))
    if op == "join":
        how = _field(node, "how", str)
        validate = node.get("validate", "m:1")
        mult = node.get("max_multiplicity")
        if how not in _HOWS or validate not in _VALIDATES:
            raise PlanError(f"join: unknown how {how!r} or validate {validate!r}")
        if mult is not None and (not isinstance(mult, int) or isinstance(mult, bool)):
            raise PlanError("join: max_multiplicity must be an integer or null")
        left = _run(p, _field(node, "left", dict), load)
        right = _run(p, _field(node, "right", dict), load)
        return join(
            p, left, right, on=_names(node, "on"), how=how, validate=validate, max_multiplicity=mult
        )
    t = _run(p, _field(node, "input", dict), load)
    if op == "filter":
        return filter_rows(p, t, _expr(node.get("predicate")))
    if op == "assign":
        exprs = _field(node, "columns", dict)
        return assign(p, t, **{str(k): _expr(v) for k, v in exprs.items()})
    if op == "project":
        return project(p, t, _names(node, "columns"))
    if op == "sort":
        by = _names(node, "by")
        desc = node.get("descending", [False] * len(by))
        if not isinstance(desc, list) or not all(isinstance(d, bool) for d in desc):
            raise PlanError("sort: descending must be a list of booleans")
        return sort_table(p, t, by, descending=desc)
    if op == "distinct":
        keys = node.get("keys")
        return distinct(p, t, None if keys is None else _names(node, "keys"))
    if op == "head":
        return _head(p, t, _field(node, "n", int))
    if op == "groupby":
        return groupby(p, t, _names(node, "keys"), _aggs(_field(node, "aggs", dict)))
    raise PlanError(f"unknown plan operator {op!r}")


def _aggs(raw: dict[str, Any]) -> dict[str, tuple[str, AggFn]]:
    out: dict[str, tuple[str, AggFn]] = {}
    for name, spec in raw.items():
        if (
            not isinstance(spec, list)
            or len(spec) != 2
            or not isinstance(spec[0], str)
            or spec[1] not in AGG_FNS
        ):
            raise PlanError(f"groupby: aggregate {name!r} must be [column, function]")
        out[str(name)] = (spec[0], cast(AggFn, spec[1]))
    return out


def execute(p: Party, plan: Mapping[str, Any], load: Loader) -> SecretTable:
    """Run ``plan`` at party ``p`` and return the (uncompacted) result table.

    Parameters
    ----------
    p
        This party's protocol context.
    plan
        The plan JSON: ``{"version": 1, "root": NODE, "release": {...}}``.
    load
        Returns this party's shares of a stored table by name.

    Returns
    -------
    SecretTable
        The result; invalid rows are still present (see :func:`release_rows`).

    Raises
    ------
    PlanError
        When the plan is malformed (unknown operator, missing field, wrong type).
    """
    if not isinstance(plan, Mapping) or plan.get("version") != 1 or "root" not in plan:
        raise PlanError("a plan must be an object with version 1 and a root")
    try:
        return _run(p, plan["root"], load)
    except (TypeError, KeyError) as exc:
        # Operators reject schema misuse (unknown column, wrong kind) before computing.
        raise PlanError(f"the plan does not fit the tables: {exc}") from None


def plan_tables(plan: Mapping[str, Any]) -> list[str]:
    """The names of every table the plan scans, in first-seen order, without repeats."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if node.get("op") == "scan" and isinstance(node.get("table"), str):
            if node["table"] not in out:
                out.append(node["table"])
            return
        for key in ("input", "left", "right"):
            walk(node.get(key))
        for child in node.get("inputs") or []:
            walk(child)

    walk(plan.get("root"))
    return out


def result_is_ordered(plan: Mapping[str, Any]) -> bool:
    """Whether the row order of the result is meaningful (a sort or head at the top,
    seen through filters, assignments and projections, which keep the order)."""
    node = plan.get("root")
    while isinstance(node, dict):
        op = node.get("op")
        if op in ("sort", "head"):
            return True
        if op not in ("filter", "assign", "project"):
            return False
        node = node.get("input")
    return False


def release_rows(p: Party, table: SecretTable, *, ordered: bool = False) -> Released:
    """Compact ``table`` and return this party's pair of every column of the valid rows.

    Parameters
    ----------
    p
        This party's protocol context.
    table
        The result of :func:`execute`.
    ordered
        Keep the valid rows in table order (one extra sort); otherwise their order is
        random.

    Returns
    -------
    Released
        Bundle metadata and arrays (see :class:`Released`).

    Notes
    -----
    LEAKAGE: the number of valid rows (opened by the compaction). Values stay shared:
    only the analyst, holding all three bundles, can reconstruct them.
    """
    c = compact(p, table, order="stable" if ordered else "random")
    arrays: dict[str, Arr] = {}
    for name, col in c.columns.items():
        arrays[f"{name}.values.a"] = col.values.a
        arrays[f"{name}.values.b"] = col.values.b
        if col.null is not None:
            arrays[f"{name}.null.a"] = col.null.a
            arrays[f"{name}.null.b"] = col.null.b
        if col.text is not None:
            arrays[f"{name}.text.a"] = col.text.a
            arrays[f"{name}.text.b"] = col.text.b
    meta = {"columns": [spec_to_json(col.spec) for col in c.columns.values()], "rows": c.n}
    return Released(meta, arrays)

"""Plan nodes: builders, the tables and columns a plan reads and a readable description.

A plan is plain JSON-able data (see :mod:`sharelake.plan.canonical`)::

    {"version": 1, "root": NODE, "release": {"kind": "rows"}}

and ``NODE`` is one of::

    {"op": "scan", "table": str, "columns": [str] | None}
    {"op": "filter", "input": NODE, "predicate": EXPR}
    {"op": "assign", "input": NODE, "columns": {name: EXPR}}
    {"op": "project", "input": NODE, "columns": [str]}
    {"op": "join", "left": NODE, "right": NODE, "on": [str],
     "how": "inner" | "left" | "semi" | "anti", "validate": "1:1" | "1:m" | "m:1" | "m:m",
     "max_multiplicity": int | None}
    {"op": "groupby", "input": NODE, "keys": [str],
     "aggs": {out: [col, "count" | "sum" | "mean" | "min" | "max" | "count_distinct"
                         | "median" | "p0" ... "p100"]}}
    {"op": "sort", "input": NODE, "by": [str], "descending": [bool]}
    {"op": "distinct", "input": NODE, "keys": [str] | None}
    {"op": "head", "input": NODE, "n": int}
    {"op": "overlap", "inputs": [NODE], "on": [str]}
    {"op": "concat", "inputs": [NODE], "linkage": LINKAGE}   (linkage optional)
    {"op": "link", "left": SCAN, "right": SCAN,
     "mode": "exact" | "fuzzy" | "hybrid" | "probabilistic",
     "reveal": "pairs" | "own" | "count", "params": {name: int}}

``link`` (private record linkage of two person tables, see
:mod:`sharelake.engine.linkage`) is only a plan's root, over two scans.

``EXPR`` is the plan form of :mod:`sharelake.relational.expr` (``{"col": name}``,
``{"lit": int}``, a real constant ``{"lit": m, "shift": k}`` meaning the float ``m / 2^k``
(``m`` odd; a client float such as ``0.5``, encoded at a fixed-point column's scale by the
node, see :func:`sharelake.relational.literals.bind_literals`), or
``{"fn": name, "args": [EXPR, ...]}``). The plan layer checks that
grammar itself (:mod:`sharelake.plan.validate`, re-exported here), so it needs nothing from
the layers above it.

Examples
--------
>>> from sharelake.plan import nodes as pn
>>> root = pn.filter_rows(pn.scan("people"), {"fn": ">=", "args": [{"col": "age"}, {"lit": 18}]})
>>> plan = pn.make_plan(pn.head(root, 10))
>>> pn.validate_plan(plan)
>>> pn.tables_of(plan)
['people']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from . import tree
from .canonical import PLAN_VERSION, PlanError
from .explain import describe_expr_text, describe_text
from .tree import JOIN_SUFFIXES, link_columns
from .validate import (
    AGG_FNS,
    HOWS,
    LINK_MODES,
    LINK_REVEALS,
    OPS,
    RELEASE_KINDS,
    VALIDATES,
    validate_plan,
)
from .validate import MAX_DEPTH as MAX_DEPTH
from .validate import MAX_LINK_WINDOW as MAX_LINK_WINDOW
from .validate import MAX_NODES as MAX_NODES
from .validate import MAX_OVERLAP_LISTS as MAX_OVERLAP_LISTS
from .validate import moment_ddof as moment_ddof
from .validate import quantile_fraction as quantile_fraction
from .validate import validate_expr as validate_expr

__all__ = [
    "AGG_FNS",
    "HOWS",
    "JOIN_SUFFIXES",
    "LINK_MODES",
    "LINK_REVEALS",
    "OPS",
    "RELEASE_KINDS",
    "VALIDATES",
    "PlanError",
    "assign",
    "concat",
    "describe",
    "describe_expr",
    "distinct",
    "filter_rows",
    "groupby",
    "head",
    "join",
    "link",
    "link_columns",
    "make_plan",
    "mean_names",
    "moment_columns",
    "moment_ddof",
    "moment_names",
    "output_columns",
    "overlap",
    "project",
    "quantile_divisors",
    "scan",
    "sort",
    "tables_of",
    "validate_plan",
]

Node = dict[str, Any]
Plan = dict[str, Any]
How = Literal["inner", "left", "semi", "anti"]
Validate = Literal["1:1", "1:m", "m:1", "m:m"]
#: an aggregate function; also ``"p0"`` ... ``"p100"`` (percentiles, see quantile_fraction)
AggFn = Literal["count", "sum", "mean", "min", "max", "count_distinct", "median", "var", "std"]


# ---- builders ---------------------------------------------------------------------------


def scan(table: str, columns: Sequence[str] | None = None) -> Node:
    """Read a stored table (all its columns when ``columns`` is None).

    Examples
    --------
    >>> scan("people", ["age"])
    {'op': 'scan', 'table': 'people', 'columns': ['age']}
    """
    return {"op": "scan", "table": table, "columns": None if columns is None else list(columns)}


def filter_rows(input: Node, predicate: Mapping[str, Any]) -> Node:
    """Keep the rows where ``predicate`` (an expression in plan form) holds and is not null.

    Examples
    --------
    >>> filter_rows(scan("t"), {"col": "ok"})["op"]
    'filter'
    """
    return {"op": "filter", "input": input, "predicate": dict(predicate)}


def assign(input: Node, columns: Mapping[str, Mapping[str, Any]]) -> Node:
    """Add or replace columns computed from expressions (pandas ``assign``).

    Examples
    --------
    >>> assign(scan("t"), {"adult": {"fn": ">=", "args": [{"col": "age"}, {"lit": 18}]}})["op"]
    'assign'
    """
    return {"op": "assign", "input": input, "columns": {k: dict(v) for k, v in columns.items()}}


def project(input: Node, columns: Sequence[str]) -> Node:
    """Keep only ``columns``, in that order.

    Examples
    --------
    >>> project(scan("t"), ["a"])["columns"]
    ['a']
    """
    return {"op": "project", "input": input, "columns": list(columns)}


def join(
    left: Node,
    right: Node,
    *,
    on: Sequence[str],
    how: How = "inner",
    validate: Validate = "m:1",
    max_multiplicity: int | None = None,
) -> Node:
    """Join two inputs on key columns (pandas ``merge`` semantics; see ``relational.join``).

    Examples
    --------
    >>> join(scan("a"), scan("b"), on=["id"], how="left")["how"]
    'left'
    """
    return {
        "op": "join",
        "left": left,
        "right": right,
        "on": list(on),
        "how": how,
        "validate": validate,
        "max_multiplicity": max_multiplicity,
    }


def groupby(input: Node, keys: Sequence[str], aggs: Mapping[str, tuple[str, AggFn]]) -> Node:
    """Aggregate per group of ``keys``; ``aggs`` maps an output name to ``(column, fn)``.

    ``("*", "count")`` counts rows.

    Examples
    --------
    >>> groupby(scan("t"), ["region"], {"n": ("*", "count")})["aggs"]
    {'n': ['*', 'count']}
    """
    return {
        "op": "groupby",
        "input": input,
        "keys": list(keys),
        "aggs": {k: [c, f] for k, (c, f) in aggs.items()},
    }


def sort(input: Node, by: Sequence[str], descending: Sequence[bool] | bool = False) -> Node:
    """Sort by ``by`` (stable); ``descending`` is one flag or one per key.

    Examples
    --------
    >>> sort(scan("t"), ["a", "b"], [True, False])["descending"]
    [True, False]
    """
    desc = [descending] * len(by) if isinstance(descending, bool) else list(descending)
    return {"op": "sort", "input": input, "by": list(by), "descending": desc}


def distinct(input: Node, keys: Sequence[str] | None = None) -> Node:
    """Keep the first row of each distinct ``keys`` combination (all columns when None).

    Examples
    --------
    >>> distinct(scan("t"))["keys"] is None
    True
    """
    return {"op": "distinct", "input": input, "keys": None if keys is None else list(keys)}


def head(input: Node, n: int) -> Node:
    """The first ``n`` rows.

    Examples
    --------
    >>> head(scan("t"), 5)["n"]
    5
    """
    return {"op": "head", "input": input, "n": n}


def overlap(
    inputs: Sequence[Node], on: Sequence[str], *, linkage: Mapping[str, Any] | None = None
) -> Node:
    """The capture-history (overlap) table of 2..12 lists on the person key ``on``.

    ``linkage`` (``{"mode": "fuzzy" | "exact" | "probabilistic", "window": w | None,
    "rounds": R}``, with ``on = ["person"]``): the inputs are person tables and the
    persons are found inside MPC by record linkage of all lists at once and clustering
    (:mod:`sharelake.linkage.blocked`); ``window`` None scores every pair. With
    ``"reveal": "own"`` in ``linkage`` the result is instead the first list's records
    (``record_id``, ``lists``, ``matches``: how many other lists each is linked to),
    for the owner of that list only. Fuzzy linkage may carry ``"params"``: scoring
    parameters that replace the recommended ones (names as ``link``'s,
    :data:`sharelake.linkage.people_table.LINK_PARAM_NAMES`).

    Examples
    --------
    >>> overlap([scan("a"), scan("b")], ["pid"])["op"]
    'overlap'
    """
    node: Node = {"op": "overlap", "inputs": list(inputs), "on": list(on)}
    if linkage is not None:
        node["linkage"] = dict(linkage)
    return node


def concat(inputs: Sequence[Node], *, linkage: Mapping[str, Any] | None = None) -> Node:
    """UNION ALL of inputs with the same schema.

    ``linkage`` (as :func:`overlap`'s, without ``reveal``): the 2..12 inputs are person
    tables, linked inside MPC into persons as for an overlap by linkage, and the result
    has one more column ``person``: the secret person id of each row (equal for the rows
    of one linked person), for later operators (de-duplication, joins, group-bys).

    Examples
    --------
    >>> len(concat([scan("a"), scan("b")])["inputs"])
    2
    >>> lk = {"mode": "fuzzy", "window": None, "rounds": 3}
    >>> concat([scan("a"), scan("b")], linkage=lk)["linkage"]["mode"]
    'fuzzy'
    """
    node: Node = {"op": "concat", "inputs": list(inputs)}
    if linkage is not None:
        node["linkage"] = dict(linkage)
    return node


def link(
    left: Node,
    right: Node,
    *,
    mode: Literal["exact", "fuzzy", "hybrid", "probabilistic"] = "probabilistic",
    reveal: Literal["pairs", "own", "count"] = "own",
    params: Mapping[str, int] | None = None,
    window: int | None = None,
) -> Node:
    """Private record linkage of two person tables (scans); only a plan's root.

    ``window``: score only the pairs of the sorted-neighbourhood blocking with this
    window (``{"blocking": {"method": "sorted_neighbourhood", "window": w}}``); None
    scores every pair (and leaves the field out, so older plans hash as before).

    Examples
    --------
    >>> link(scan("a"), scan("b"), mode="exact", reveal="count")["reveal"]
    'count'
    >>> link(scan("a"), scan("b"), window=8)["blocking"]["method"]
    'sorted_neighbourhood'
    """
    node: Node = {
        "op": "link",
        "left": left,
        "right": right,
        "mode": mode,
        "reveal": reveal,
        "params": dict(params or {}),
    }
    if window is not None:
        node["blocking"] = {"method": "sorted_neighbourhood", "window": int(window)}
    return node


def make_plan(
    root: Node, *, release: Literal["rows", "table"] = "rows", table: str | None = None
) -> Plan:
    """Wrap ``root`` into a versioned plan with its release.

    ``release="table"`` (with ``table``, a concat by linkage as ``root``): nothing is
    released; the nodes keep the result as the stored persons table ``table``.

    Examples
    --------
    >>> make_plan(scan("t"))["release"]
    {'kind': 'rows'}
    """
    rel: dict[str, Any] = {"kind": release}
    if release == "table":
        if table is None:
            raise ValueError("release='table' needs the table's name")
        rel["table"] = table
    return {"version": PLAN_VERSION, "root": root, "release": rel}


# ---- reading plans (folds over the typed plan, plan/tree.py) -----------------------------


def _typed(plan_or_node: Mapping[str, Any]) -> tree.Node:
    root = plan_or_node.get("root", plan_or_node)
    return tree.node_from_json(root)


def tables_of(plan: Mapping[str, Any]) -> list[str]:
    """The stored tables a plan (or node) reads, once each, in order of first appearance.

    Examples
    --------
    >>> tables_of(make_plan(join(scan("a"), concat([scan("b"), scan("a")]), on=["k"])))
    ['a', 'b']
    """
    return tree.tables(_typed(plan))


def mean_names(plan: Mapping[str, Any]) -> list[str]:
    """Output names of every ``mean`` aggregate (released as ``m_sum`` and ``m_count``).

    Examples
    --------
    >>> mean_names(make_plan(groupby(scan("t"), ["k"], {"m": ("x", "mean")})))
    ['m']
    """
    return tree.mean_names(_typed(plan))


moment_columns = tree.moment_columns


def moment_names(plan: Mapping[str, Any]) -> dict[str, tuple[str, int]]:
    """Output name -> (``"var"`` | ``"std"``, ddof) of every spread aggregate (released as
    its sum, sum of squares and count, see :func:`moment_columns`).

    Examples
    --------
    >>> moment_names(make_plan(groupby(scan("t"), ["k"], {"s": ("x", "std")})))
    {'s': ('std', 1)}
    """
    return tree.moment_names(_typed(plan))


def quantile_divisors(plan: Mapping[str, Any]) -> dict[str, int]:
    """Output name -> divisor of every quantile aggregate (released as divisor x value).

    Examples
    --------
    >>> quantile_divisors(make_plan(groupby(scan("t"), ["k"], {"m": ("x", "median")})))
    {'m': 2}
    """
    return tree.quantile_divisors(_typed(plan))


def output_columns(
    node: Mapping[str, Any], schemas: Mapping[str, Sequence[str]], path: str = "plan.root"
) -> list[str]:
    """The column names a node's result has, checking every column it reads.

    ``schemas`` maps a table name to its column names. A ``mean`` aggregate ``m`` is two
    columns ``m_sum`` and ``m_count`` until the release divides them. The names are those
    of the node's column lineage (:func:`sharelake.plan.tree.lineage`).

    Examples
    --------
    >>> output_columns(groupby(scan("t"), ["k"], {"n": ("*", "count")}), {"t": ["k", "v"]})
    ['k', 'n']
    """
    return tree.lineage(_typed(node), schemas, path).names


# ---- description (bodies in plan/explain.py) --------------------------------------------


def describe_expr(e: Mapping[str, Any]) -> str:
    """Readable text of an expression in plan form.

    Examples
    --------
    >>> describe_expr({"fn": ">=", "args": [{"col": "age"}, {"lit": 18}]})
    'age >= 18'
    """
    return describe_expr_text(e)


def describe(plan: Mapping[str, Any], schemas: Mapping[str, Sequence[str]] | None = None) -> str:
    """Readable numbered steps of what ``plan`` computes and what it releases.

    With ``schemas`` (table name -> column names) the released columns are listed.

    Examples
    --------
    >>> print(describe(make_plan(head(scan("people", ["age"]), 3))))
    1. read table 'people' (columns: age)
    2. keep the first 3 rows of step 1
    Reveals to the analyst: the rows of step 2, every value and how many.
    """
    return describe_text(plan, schemas)

"""The typed plan: frozen dataclasses for plan nodes and expressions, and one walker.

A plan travels as JSON (:mod:`sharelake.plan.canonical` hashes its canonical text, and the
approvals sign that hash); inside sharelake it is a tree of the frozen dataclasses below.
:func:`from_json` checks the JSON form (:func:`sharelake.plan.validate.validate_plan`) and
builds the tree; :func:`to_json` gives back exactly the JSON it came from, so a plan's hash
never changes by passing through the typed form (``tests/plan/test_plan_hashes.py`` pins
the hashes of representative plans from before the typed plan existed).

One walker, :func:`fold`, visits a tree bottom-up: it hands every node the results of its
children, in order. Everything that reads a plan folds over it: its tables
(:func:`tables`), its column lineage (:func:`lineage`, computed once per plan and schemas:
which stored columns every result column comes from), the engine's execution
(:mod:`sharelake.engine.executor`) and the readable text (:mod:`sharelake.plan.explain`).

Examples
--------
>>> from sharelake.plan import nodes as pn
>>> from sharelake.plan.tree import Scan, from_json, lineage, to_json
>>> js = pn.make_plan(pn.project(pn.scan("people"), ["age"]))
>>> plan = from_json(js)
>>> plan.root.input == Scan("people", None)
True
>>> to_json(plan) == js
True
>>> lineage(plan, {"people": ("age", "pid")}).columns
{'age': frozenset({('people', 'age')})}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal, TypeVar, Union

from .canonical import PLAN_VERSION, PlanError, plan_hash
from .validate import moment_ddof, quantile_fraction, validate_expr, validate_plan

__all__ = [
    "ABOVE_GROUPBY",
    "Assign",
    "Bound",
    "Call",
    "ColRef",
    "Concat",
    "Const",
    "Distinct",
    "Expr",
    "Filter",
    "Form",
    "GroupBy",
    "Head",
    "Join",
    "Lineage",
    "Link",
    "Node",
    "Overlap",
    "Plan",
    "Project",
    "Scan",
    "Sort",
    "children",
    "descend",
    "digest",
    "expr_columns",
    "expr_from_json",
    "expr_to_json",
    "fold",
    "from_json",
    "lineage",
    "mean_names",
    "moment_columns",
    "moment_names",
    "node_from_json",
    "node_to_json",
    "ordered",
    "overlap_keys",
    "quantile_divisors",
    "released_groupby",
    "released_names",
    "restack",
    "stored_tables",
    "tables",
    "to_json",
]

JOIN_SUFFIXES = ("_x", "_y")
#: The column prefix of a person table's linkage encodings (sharelake.linkage.people_table)
LINKAGE_PREFIX = "lk_"


# ---- expressions ------------------------------------------------------------------------


@dataclass(frozen=True)
class ColRef:
    """A column of the input, by name (``{"col": name}``)."""

    name: str


@dataclass(frozen=True)
class Const:
    """A constant: an integer or boolean, the real ``value / 2**shift`` (``value`` odd), or
    a label (a ``str``: a category label or a string value, bound to the column it meets
    by :func:`sharelake.relational.literals.bind_literals`)."""

    value: int | bool | str
    shift: int | None = None


@dataclass(frozen=True)
class Call:
    """A function of expressions (``{"fn": name, "args": [...]}``)."""

    fn: str
    args: tuple[Expr, ...]


Expr = Union[ColRef, Const, Call]  # noqa: UP007 (a runtime alias, used in isinstance-free code)


def expr_from_json(e: Mapping[str, Any]) -> Expr:
    """The typed form of an expression in plan form (checked first)."""
    validate_expr(e, "expr")
    return _expr(e)


def _expr(e: Mapping[str, Any]) -> Expr:
    if "col" in e:
        return ColRef(str(e["col"]))
    if "lit" in e:
        return Const(e["lit"], e.get("shift"))
    return Call(str(e["fn"]), tuple(_expr(a) for a in e["args"]))


def expr_to_json(e: Expr) -> dict[str, Any]:
    """The plan form of a typed expression."""
    if isinstance(e, ColRef):
        return {"col": e.name}
    if isinstance(e, Const):
        return {"lit": e.value} if e.shift is None else {"lit": e.value, "shift": e.shift}
    return {"fn": e.fn, "args": [expr_to_json(a) for a in e.args]}


def expr_columns(e: Expr) -> set[str]:
    """The column names an expression reads."""
    if isinstance(e, ColRef):
        return {e.name}
    if isinstance(e, Const):
        return set()
    out: set[str] = set()
    for a in e.args:
        out |= expr_columns(a)
    return out


# ---- nodes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scan:
    """Read a stored table (all its columns when ``columns`` is None)."""

    table: str
    columns: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Filter:
    """Keep the rows where ``predicate`` holds."""

    input: Node
    predicate: Expr


@dataclass(frozen=True)
class Assign:
    """Add or replace columns computed from expressions, in this order."""

    input: Node
    columns: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True)
class Project:
    """Keep these columns, in this order."""

    input: Node
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Join:
    """Join two inputs on equal key columns."""

    left: Node
    right: Node
    on: tuple[str, ...]
    how: str
    validate: str
    max_multiplicity: int | None = None


@dataclass(frozen=True)
class GroupBy:
    """Group by key columns; ``aggs`` is ``(out, column, function)`` per aggregate."""

    input: Node
    keys: tuple[str, ...]
    aggs: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class Sort:
    """Stable sort by columns, each ascending or descending."""

    input: Node
    by: tuple[str, ...]
    descending: tuple[bool, ...]


@dataclass(frozen=True)
class Distinct:
    """One row per distinct value of ``keys`` (all columns when None)."""

    input: Node
    keys: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Head:
    """The first ``n`` rows."""

    input: Node
    n: int


@dataclass(frozen=True)
class Overlap:
    """The capture-history table of 2 to 12 lists on the person key ``on``."""

    inputs: tuple[Node, ...]
    on: tuple[str, ...]
    #: persons found by record linkage of person tables (``{"mode", "window", "rounds"}``
    #: and optional ``"params"``, ``on == ("person",)``), as its JSON object; None: ``on``
    #: names key columns
    linkage: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Concat:
    """The rows of the inputs one after the other (with ``linkage``: person tables, and a
    secret ``person`` column, the linked person of each row)."""

    inputs: tuple[Node, ...]
    #: persons found by record linkage of the person tables (``{"mode", "window",
    #: "rounds"}`` and optional ``"params"``), as its JSON object; None: a plain concat
    linkage: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Link:
    """Private record linkage of two person tables (only a plan's root)."""

    left: Scan
    right: Scan
    mode: str
    reveal: str
    params: tuple[tuple[str, int], ...] = ()
    #: ``(method, window)`` of the blocking; None scores every pair
    blocking: tuple[str, int] | None = None


Node = Union[  # noqa: UP007
    Scan, Filter, Assign, Project, Join, GroupBy, Sort, Distinct, Head, Overlap, Concat, Link
]


@dataclass(frozen=True)
class Plan:
    """A versioned plan: its root and what it releases."""

    root: Node
    release: str = "rows"
    version: int = PLAN_VERSION
    #: the agreed purpose the plan names (consortium file); None: the default one
    purpose: str | None = None
    #: release ``table``: the name of the stored persons table the nodes keep
    table: str | None = None


def children(node: Node) -> tuple[tuple[str, Node], ...]:
    """The inputs of ``node``, in order (left before right), each with its field path."""
    if isinstance(node, Scan):
        return ()
    if isinstance(node, Join | Link):
        return ((".left", node.left), (".right", node.right))
    if isinstance(node, Overlap | Concat):
        return tuple((f".inputs[{i}]", s) for i, s in enumerate(node.inputs))
    return ((".input", node.input),)


# ---- the walker -------------------------------------------------------------------------

T = TypeVar("T")


def fold(
    node: Node | Plan, visit: Callable[[Node, Sequence[T], str], T], path: str = "plan.root"
) -> T:
    """Walk ``node`` bottom-up: ``visit(n, results of n's children, n's path)`` per node.

    The path names the node from the plan's top (``plan.root.input.left``), for errors.

    Examples
    --------
    >>> from sharelake.plan.tree import Head, Scan, fold
    >>> fold(Head(Scan("t"), 3), lambda n, subs, path: 1 + sum(subs))
    2
    """
    root = node.root if isinstance(node, Plan) else node
    return visit(root, [fold(c, visit, path + f) for f, c in children(root)], path)


def tables(node: Node | Plan) -> list[str]:
    """The stored tables read, once each, in order of first appearance (left to right)."""

    def visit(n: Node, subs: Sequence[list[str]], path: str) -> list[str]:
        if isinstance(n, Scan):
            return [n.table]
        out: list[str] = []
        for s in subs:
            out += [t for t in s if t not in out]
        return out

    return fold(node, visit)


def stored_tables(node: Node | Plan) -> list[str]:
    """The stored persons tables whose person ids the plan uses (``linkage.stored``), once
    each, in order of first appearance; they are read in place of linking again."""

    def visit(n: Node, subs: Sequence[list[str]], path: str) -> list[str]:
        out: list[str] = []
        for s in subs:
            out += [t for t in s if t not in out]
        if isinstance(n, Overlap | Concat) and n.linkage is not None:
            name = n.linkage.get("stored")
            if isinstance(name, str) and name not in out:
                out.append(name)
        return out

    return fold(node, visit)


def mean_names(node: Node | Plan) -> list[str]:
    """Output names of every ``mean`` aggregate (released as ``m_sum`` and ``m_count``)."""

    def visit(n: Node, subs: Sequence[list[str]], path: str) -> list[str]:
        out = [k for k, _, fn in n.aggs if fn == "mean"] if isinstance(n, GroupBy) else []
        for s in subs:
            out += [k for k in s if k not in out]
        return out

    return fold(node, visit)


def moment_columns(name: str) -> tuple[str, str, str]:
    """The released (sum, sum of squares, count) columns of a ``var``/``std`` aggregate.

    Examples
    --------
    >>> moment_columns("v")
    ('v_sum', 'v_sumsq', 'v_count')
    """
    return f"{name}_sum", f"{name}_sumsq", f"{name}_count"


def moment_names(node: Node | Plan) -> dict[str, tuple[str, int]]:
    """Output name -> (``"var"`` | ``"std"``, ddof) of every spread aggregate: released as
    its sum, sum of squares and count (:func:`moment_columns`), finished by the client."""

    def visit(
        n: Node, subs: Sequence[dict[str, tuple[str, int]]], path: str
    ) -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        if isinstance(n, GroupBy):
            for k, _, fn in n.aggs:
                m = moment_ddof(fn)
                if m is not None:
                    out[k] = m
        for s in subs:
            out = {**s, **out}
        return out

    return fold(node, visit)


def released_names(name: str, fn: str) -> list[str]:
    """The columns an aggregate ``name`` of function ``fn`` is released as (a mean as its
    sum and count, a variance as its sum, sum of squares and count)."""
    if fn == "mean":
        return [f"{name}_sum", f"{name}_count"]
    if moment_ddof(fn) is not None:
        return list(moment_columns(name))
    return [name]


def quantile_divisors(node: Node | Plan) -> dict[str, int]:
    """Output name -> divisor ``b`` of every quantile aggregate (``median``, ``pNN``): the
    engine releases ``b`` times the quantile (an integer combination of two values), the
    client divides (:func:`sharelake.plan.validate.quantile_fraction`)."""

    def visit(n: Node, subs: Sequence[dict[str, int]], path: str) -> dict[str, int]:
        out: dict[str, int] = {}
        if isinstance(n, GroupBy):
            for k, _, fn in n.aggs:
                q = quantile_fraction(fn)
                if q is not None:
                    out[k] = q[1]
        for s in subs:
            out = {**s, **out}
        return out

    return fold(node, visit)


#: what may sit above a released group-by: they pick, order, rename or compute from groups
ABOVE_GROUPBY: tuple[type, ...] = (Filter, Project, Sort, Head, Assign)


def descend(node: Node | Plan, through: tuple[type, ...]) -> tuple[list[Node], Node]:
    """Follow single inputs down from ``node`` while a node is one of the types ``through``.

    Returns the nodes passed (top first) and the first node of another type.

    Examples
    --------
    >>> from sharelake.plan.tree import Head, Project, Scan, descend
    >>> descend(Head(Project(Scan("t"), ("a",)), 2), (Head, Project))[1]
    Scan(table='t', columns=None)
    """
    n = node.root if isinstance(node, Plan) else node
    chain: list[Node] = []
    while isinstance(n, through):
        chain.append(n)
        n = n.input  # type: ignore[union-attr]  # every type passed through has one input
    return chain, n


def restack(chain: Sequence[Node], bottom: Node) -> Node:
    """The nodes of ``chain`` (top first, as :func:`descend` gives them) stacked again over
    a new ``bottom``: how a rewrite below the top of a plan rebuilds the frozen nodes above.

    Examples
    --------
    >>> from sharelake.plan.tree import Head, Scan, restack
    >>> restack([Head(Scan("t"), 2)], Scan("u"))
    Head(input=Scan(table='u', columns=None), n=2)
    """
    node = bottom
    for n in reversed(chain):
        node = replace(n, input=node)  # type: ignore[arg-type]  # n has one input
    return node


def released_groupby(node: Node | Plan) -> tuple[list[Node], GroupBy] | None:
    """The released group-by, seen through filters, projections, sorts, heads and computed
    columns (:data:`ABOVE_GROUPBY`), with the nodes above it (top first); None when the
    result is not such an aggregate."""
    chain, n = descend(node, ABOVE_GROUPBY)
    return (chain, n) if isinstance(n, GroupBy) else None


def ordered(plan: Node | Plan) -> bool:
    """Whether the row order of the result is meaningful: a sort or head at the top, seen
    through filters, computed columns and projections (which keep the order).

    Examples
    --------
    >>> from sharelake.plan.tree import Filter, Head, Scan, ColRef, ordered
    >>> ordered(Filter(Head(Scan("t"), 3), ColRef("ok"))), ordered(Scan("t"))
    (True, False)
    """
    return isinstance(descend(plan, (Filter, Assign, Project))[1], Sort | Head)


# ---- JSON edges -------------------------------------------------------------------------


def node_from_json(d: Mapping[str, Any]) -> Node:
    """The typed form of a node in plan form (not checked: see :func:`from_json`)."""
    op = d["op"]
    if op == "scan":
        cols = d["columns"]
        return Scan(str(d["table"]), None if cols is None else tuple(cols))
    if op == "filter":
        return Filter(node_from_json(d["input"]), _expr(d["predicate"]))
    if op == "assign":
        items = tuple((str(k), _expr(v)) for k, v in d["columns"].items())
        return Assign(node_from_json(d["input"]), items)
    if op == "project":
        return Project(node_from_json(d["input"]), tuple(d["columns"]))
    if op == "join":
        return Join(
            node_from_json(d["left"]),
            node_from_json(d["right"]),
            tuple(d["on"]),
            str(d["how"]),
            str(d["validate"]),
            d["max_multiplicity"],
        )
    if op == "groupby":
        aggs = tuple((str(k), str(v[0]), str(v[1])) for k, v in d["aggs"].items())
        return GroupBy(node_from_json(d["input"]), tuple(d["keys"]), aggs)
    if op == "sort":
        return Sort(node_from_json(d["input"]), tuple(d["by"]), tuple(d["descending"]))
    if op == "distinct":
        keys = d["keys"]
        return Distinct(node_from_json(d["input"]), None if keys is None else tuple(keys))
    if op == "head":
        return Head(node_from_json(d["input"]), int(d["n"]))
    if op == "overlap":
        lk = d.get("linkage")
        return Overlap(
            tuple(node_from_json(s) for s in d["inputs"]),
            tuple(d["on"]),
            None if lk is None else dict(lk),
        )
    if op == "concat":
        clk = d.get("linkage")
        return Concat(
            tuple(node_from_json(s) for s in d["inputs"]), None if clk is None else dict(clk)
        )
    if op == "link":
        left, right = node_from_json(d["left"]), node_from_json(d["right"])
        if not isinstance(left, Scan) or not isinstance(right, Scan):
            raise PlanError("plan.root: link reads whole person tables: expected a scan")
        blk = d.get("blocking")
        return Link(
            left,
            right,
            str(d["mode"]),
            str(d["reveal"]),
            tuple((str(k), int(v)) for k, v in d["params"].items()),
            None if blk is None else (str(blk["method"]), int(blk["window"])),
        )
    raise PlanError(f"plan: unknown operator {op!r}")


def node_to_json(n: Node) -> dict[str, Any]:
    """The plan form of a typed node: the same dict :mod:`sharelake.plan.nodes` builds."""
    if isinstance(n, Scan):
        return {"op": "scan", "table": n.table, "columns": _list(n.columns)}
    if isinstance(n, Filter):
        return {
            "op": "filter",
            "input": node_to_json(n.input),
            "predicate": expr_to_json(n.predicate),
        }
    if isinstance(n, Assign):
        cols = {k: expr_to_json(e) for k, e in n.columns}
        return {"op": "assign", "input": node_to_json(n.input), "columns": cols}
    if isinstance(n, Project):
        return {"op": "project", "input": node_to_json(n.input), "columns": list(n.columns)}
    if isinstance(n, Join):
        return {
            "op": "join",
            "left": node_to_json(n.left),
            "right": node_to_json(n.right),
            "on": list(n.on),
            "how": n.how,
            "validate": n.validate,
            "max_multiplicity": n.max_multiplicity,
        }
    if isinstance(n, GroupBy):
        aggs = {out: [src, fn] for out, src, fn in n.aggs}
        return {"op": "groupby", "input": node_to_json(n.input), "keys": list(n.keys), "aggs": aggs}
    if isinstance(n, Sort):
        return {
            "op": "sort",
            "input": node_to_json(n.input),
            "by": list(n.by),
            "descending": list(n.descending),
        }
    if isinstance(n, Distinct):
        return {"op": "distinct", "input": node_to_json(n.input), "keys": _list(n.keys)}
    if isinstance(n, Head):
        return {"op": "head", "input": node_to_json(n.input), "n": n.n}
    if isinstance(n, Overlap):
        ov: dict[str, Any] = {
            "op": "overlap",
            "inputs": [node_to_json(s) for s in n.inputs],
            "on": list(n.on),
        }
        if n.linkage is not None:
            ov["linkage"] = dict(n.linkage)
        return ov
    if isinstance(n, Concat):
        cc: dict[str, Any] = {"op": "concat", "inputs": [node_to_json(s) for s in n.inputs]}
        if n.linkage is not None:
            cc["linkage"] = dict(n.linkage)
        return cc
    out: dict[str, Any] = {
        "op": "link",
        "left": node_to_json(n.left),
        "right": node_to_json(n.right),
        "mode": n.mode,
        "reveal": n.reveal,
        "params": dict(n.params),
    }
    if n.blocking is not None:
        out["blocking"] = {"method": n.blocking[0], "window": n.blocking[1]}
    return out


def _list(names: tuple[str, ...] | None) -> list[str] | None:
    return None if names is None else list(names)


def from_json(plan: Any) -> Plan:
    """Check a plan in JSON form and build its typed form; raises PlanError with the path
    (also when ``plan`` is not a JSON object at all)."""
    validate_plan(plan)
    purpose = plan.get("purpose")
    table = plan["release"].get("table")
    return Plan(
        node_from_json(plan["root"]),
        str(plan["release"]["kind"]),
        int(plan["version"]),
        None if purpose is None else str(purpose),
        None if table is None else str(table),
    )


def to_json(plan: Plan) -> dict[str, Any]:
    """The JSON form of a typed plan; ``to_json(from_json(p)) == p`` for every valid plan."""
    out: dict[str, Any] = {
        "version": plan.version,
        "root": node_to_json(plan.root),
        "release": {"kind": plan.release},
    }
    if plan.table is not None:
        out["release"]["table"] = plan.table
    if plan.purpose is not None:
        out["purpose"] = plan.purpose
    return out


def digest(plan: Plan) -> str:
    """The SHA-256 of the plan's canonical JSON text (what approvals sign, audits name).

    Examples
    --------
    >>> from sharelake.plan import nodes as pn
    >>> js = pn.make_plan(pn.scan("t"))
    >>> digest(from_json(js)) == plan_hash(js)
    True
    """
    return plan_hash(to_json(plan))


# ---- column lineage ---------------------------------------------------------------------

Src = tuple[str, str]
#: What a result column holds: a row-level value, a group key of an aggregate (one value
#: per group), or an aggregate over a group (count, sum, mean, min, max, count-distinct)
Form = Literal["raw", "key", "agg"]


@dataclass(frozen=True)
class Lineage:
    """Where a node's result columns come from, and what they hold.

    ``columns`` maps every result column, in order, to the stored ``(table, column)`` pairs
    its values are computed from; ``rows`` holds the stored columns that decide which rows
    (or in which order) the result has: filter predicates, join, overlap, sort and distinct
    keys. A ``mean`` aggregate ``m`` is the two columns ``m_sum`` and ``m_count``.
    ``forms`` gives every column's :data:`Form`; ``aggregated`` says the rows are groups
    (an aggregate, or an overlap table) rather than stored rows.
    """

    columns: dict[str, frozenset[Src]]
    rows: frozenset[Src] = field(default_factory=frozenset)
    forms: dict[str, Form] = field(default_factory=dict)
    aggregated: bool = False

    @property
    def names(self) -> list[str]:
        """The result column names, in order."""
        return list(self.columns)


def _need(have: Mapping[str, Any] | Sequence[str], names: Sequence[str], path: str) -> None:
    for nm in names:
        if nm not in have:
            raise PlanError(f"{path}: no column {nm!r} (columns: {', '.join(have) or 'none'})")


def _sources(cols: Mapping[str, frozenset[Src]], names: Sequence[str] | set[str]) -> frozenset[Src]:
    return frozenset().union(*(cols[c] for c in names))


def _combine(forms: Sequence[Form], aggregated: bool) -> Form:
    """The form of a value computed from columns of these forms (a constant over stored
    rows is a row value; over groups, a key)."""
    if "raw" in forms or (not forms and not aggregated):
        return "raw"
    return "agg" if "agg" in forms else "key"


def link_columns(reveal: str) -> list[str]:
    """The released columns of a ``link`` in each reveal mode."""
    return {
        "pairs": ["left_record_id", "right_record_id"],
        "own": ["record_id", "lists", "matches"],
        "count": ["matches"],
    }[reveal]


def own_reveal(node: Overlap) -> bool:
    """Does this overlap by linkage release the first list's own records (``reveal`` own)?"""
    return node.linkage is not None and node.linkage.get("reveal") == "own"


def overlap_names(node: Overlap) -> list[str]:
    """The list names of an overlap's ``in_<name>`` columns (table names, or positions)."""
    names = [s.table if isinstance(s, Scan) else str(i) for i, s in enumerate(node.inputs)]
    return names if len(set(names)) == len(names) else [str(i) for i in range(len(names))]


def overlap_keys(node: Overlap | Concat, inputs: Sequence[Lineage]) -> list[list[str]]:
    """The columns of each input an overlap matches persons on: its ``on`` columns, or,
    by linkage (an overlap or a concat with the linked person), the ``lk_*`` encodings of
    every person table (none for a plain concat)."""
    if isinstance(node, Concat):
        if node.linkage is None:
            return [[] for _ in inputs]
        return [[c for c in s.columns if c.startswith(LINKAGE_PREFIX)] for s in inputs]
    if node.linkage is None:
        return [list(node.on) for _ in inputs]
    return [[c for c in s.columns if c.startswith(LINKAGE_PREFIX)] for s in inputs]


def lineage(
    node: Node | Plan,
    schemas: Mapping[str, Sequence[str]],
    path: str = "plan.root",
    *,
    into: dict[str, Lineage] | None = None,
) -> Lineage:
    """The column lineage of ``node``'s result, checking every column it reads.

    ``schemas`` maps a table name to its column names. Raises :class:`PlanError` naming
    the path of the first unknown table or column. With ``into``, the lineage of every
    node is recorded there by its path. :attr:`Bound.lineage` keeps the result.
    """

    def step(n: Node, subs: Sequence[Lineage], path: str) -> Lineage:
        out = visit(n, subs, path)
        if into is not None:
            into[path] = out
        return out

    def visit(n: Node, subs: Sequence[Lineage], path: str) -> Lineage:
        if isinstance(n, Scan):
            if n.table not in schemas:
                raise PlanError(f"{path}.table: no table {n.table!r}")
            have = list(schemas[n.table])
            names = have if n.columns is None else list(n.columns)
            if n.columns is not None:
                _need(have, names, f"{path}.columns")
            return Lineage(
                {c: frozenset({(n.table, c)}) for c in names}, forms=dict.fromkeys(names, "raw")
            )
        if isinstance(n, Concat | Overlap):
            rows = frozenset().union(*(s.rows for s in subs))
            if isinstance(n, Concat):
                for i, s in enumerate(subs[1:], 1):
                    if s.names != subs[0].names:
                        raise PlanError(
                            f"{path}.inputs[{i}]: concat needs the same columns in order"
                        )
                cols = {
                    c: frozenset().union(*(s.columns[c] for s in subs)) for c in subs[0].columns
                }
                forms = {c: _combine([s.forms[c] for s in subs], False) for c in subs[0].columns}
                if n.linkage is not None:  # + the linked person, from every list's encodings
                    for i, s in enumerate(subs):
                        _need(s.columns, ["lk_pipeline"], f"{path}.inputs[{i}]")
                    if "person" in cols:
                        raise PlanError(f"{path}: the inputs already have a column 'person'")
                    cols["person"] = frozenset().union(
                        *(
                            _sources(s.columns, ks)
                            for s, ks in zip(subs, overlap_keys(n, subs), strict=True)
                        )
                    )
                    forms["person"] = "raw"
                return Lineage(cols, rows, forms, all(s.aggregated for s in subs))
            need = ["lk_pipeline"] if n.linkage is not None else list(n.on)
            for i, s in enumerate(subs):
                _need(s.columns, need, f"{path}.inputs[{i}]")
            keys = frozenset().union(
                *(
                    _sources(s.columns, ks)
                    for s, ks in zip(subs, overlap_keys(n, subs), strict=True)
                )
            )
            if own_reveal(n):  # the first list's records and how many lists each is in
                _need(subs[0].columns, ["record_id"], f"{path}.inputs[0]")
                names = link_columns("own")  # record ids only to their owner (verdict)
                return Lineage(
                    {c: frozenset() for c in names},
                    rows | keys,
                    forms=dict.fromkeys(names, "raw"),
                )
            out: dict[str, frozenset[Src]] = {f"in_{nm}": frozenset() for nm in overlap_names(n)}
            kinds: dict[str, Form] = dict.fromkeys(out, "key")
            out["count"], kinds["count"] = frozenset(), "agg"
            return Lineage(out, rows | keys, kinds, True)
        if isinstance(n, Link):
            for side, sub in zip(("left", "right"), subs, strict=True):
                _need(sub.columns, ["record_id"], f"{path}.{side}")
            names = link_columns(n.reveal)
            return Lineage({c: frozenset() for c in names}, forms=dict.fromkeys(names, "raw"))
        if isinstance(n, Join):
            left, right = subs
            _need(left.columns, n.on, f"{path}.on")
            _need(right.columns, n.on, f"{path}.on")
            keys = _sources(left.columns, n.on) | _sources(right.columns, n.on)
            rows = left.rows | right.rows | keys
            if n.how in ("semi", "anti"):
                return Lineage(dict(left.columns), rows, dict(left.forms), left.aggregated)
            rnames = [c for c in right.columns if c not in n.on]
            sx, sy = JOIN_SUFFIXES
            joined: dict[str, frozenset[Src]] = {}
            jforms: dict[str, Form] = {}
            for c, src in left.columns.items():
                if c in n.on:
                    joined[c], jforms[c] = src | right.columns[c], left.forms[c]
                else:
                    name = c + sx if c in rnames else c
                    joined[name], jforms[name] = src, left.forms[c]
            for c in rnames:
                name = c + sy if c in left.columns else c
                joined[name], jforms[name] = right.columns[c], right.forms[c]
            return Lineage(joined, rows, jforms, left.aggregated and right.aggregated)
        (sub,) = subs
        cols = sub.columns
        if isinstance(n, Filter):
            used = sorted(expr_columns(n.predicate))
            _need(cols, used, f"{path}.predicate")
            return Lineage(cols, sub.rows | _sources(cols, used), sub.forms, sub.aggregated)
        if isinstance(n, Assign):
            out = dict(cols)
            forms = dict(sub.forms)
            for k, e in n.columns:  # evaluated on the input table, not on each other
                used = sorted(expr_columns(e))
                _need(cols, used, f"{path}.columns.{k}")
                out[k] = _sources(cols, used)
                forms[k] = _combine([sub.forms[c] for c in used], sub.aggregated)
            return Lineage(out, sub.rows, forms, sub.aggregated)
        if isinstance(n, Project):
            _need(cols, n.columns, f"{path}.columns")
            return Lineage(
                {c: cols[c] for c in n.columns},
                sub.rows,
                {c: sub.forms[c] for c in n.columns},
                sub.aggregated,
            )
        if isinstance(n, GroupBy):
            _need(cols, n.keys, f"{path}.keys")
            out = {k: cols[k] for k in n.keys}
            forms = dict.fromkeys(n.keys, "key")
            for k, col, fn in n.aggs:
                if col != "*":
                    _need(cols, [col], f"{path}.aggs.{k}")
                srcs = frozenset() if col == "*" else cols[col]
                for name in released_names(k, fn):
                    out[name], forms[name] = srcs, "agg"
            return Lineage(out, sub.rows, forms, True)
        if isinstance(n, Sort):
            _need(cols, n.by, f"{path}.by")
            return Lineage(cols, sub.rows | _sources(cols, n.by), sub.forms, sub.aggregated)
        if isinstance(n, Distinct):
            keys_ = list(cols) if n.keys is None else list(n.keys)
            _need(cols, keys_, f"{path}.keys")
            return Lineage(cols, sub.rows | _sources(cols, keys_), sub.forms, sub.aggregated)
        return sub  # head

    return fold(node, step, path)


@dataclass(frozen=True)
class Bound:
    """A typed plan with the schemas of the tables it reads; its lineage computed once.

    Examples
    --------
    >>> from sharelake.plan import nodes as pn
    >>> from sharelake.plan.tree import Bound, from_json
    >>> b = Bound(from_json(pn.make_plan(pn.scan("t"))), {"t": ("a", "b")})
    >>> b.columns
    ['a', 'b']
    """

    plan: Plan
    schemas: Mapping[str, Sequence[str]]

    @cached_property
    def lineages(self) -> dict[str, Lineage]:
        """The lineage of every node, by its path (``plan.root``, ``plan.root.input``, ...;
        computed once, on first use, then kept)."""
        at: dict[str, Lineage] = {}
        lineage(self.plan, self.schemas, into=at)
        return at

    @property
    def lineage(self) -> Lineage:
        """The lineage of the released result."""
        return self.lineages["plan.root"]

    @property
    def columns(self) -> list[str]:
        """The released column names, in order."""
        return self.lineage.names

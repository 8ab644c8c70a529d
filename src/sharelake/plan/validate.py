"""Plan validation: the grammar of plan nodes and expressions, checked field by field.

:func:`validate_plan` checks that a plan is well formed before anyone signs, approves or runs
it; a :class:`~sharelake.plan.canonical.PlanError` names the bad field by its path from the
plan's top (``plan.root.input.n``). Column names are checked against schemas by
:func:`sharelake.plan.nodes.output_columns`. The builders are in :mod:`sharelake.plan.nodes`,
which re-exports everything public here.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .canonical import PLAN_VERSION, PlanError, canonical_json

__all__ = [
    "AGG_FNS",
    "HOWS",
    "LINK_MODES",
    "LINK_REVEALS",
    "MAX_DEPTH",
    "MAX_LIT_SHIFT",
    "MAX_NODES",
    "MAX_OVERLAP_LISTS",
    "OPS",
    "RELEASE_KINDS",
    "VALIDATES",
    "moment_ddof",
    "quantile_fraction",
    "validate_expr",
    "validate_plan",
]

HOWS: tuple[str, ...] = ("inner", "left", "semi", "anti")
VALIDATES: tuple[str, ...] = ("1:1", "1:m", "m:1", "m:m")
AGG_FNS: tuple[str, ...] = ("count", "sum", "mean", "min", "max", "count_distinct", "median")
#: the percentile aggregates ``p0`` ... ``p100`` (pandas ``quantile(q)`` for q = NN / 100)
_PERCENTILE = re.compile(r"p(100|[1-9]?[0-9])")
#: the spread aggregates: ``var`` and ``std`` (ddof 1, pandas' default) and
#: ``var_ddof0`` ... ``std_ddof9`` (pandas ``var(ddof=d)``)
_MOMENT = re.compile(r"(var|std)(?:_ddof([0-9]))?")
RELEASE_KINDS: tuple[str, ...] = ("rows", "table")
"""``rows``: the result's rows go to the analyst; ``table``: nothing is released, the
result (a concat by linkage) is kept by the nodes as a stored persons table named by
``release.table`` (``{"kind": "table", "table": NAME}``)."""
MAX_DEPTH = 64
MAX_NODES = 512
MAX_OVERLAP_LISTS = 12
#: Longest text constant (a category label or a string compared with ``==``), in characters.
MAX_LABEL = 1024

#: Largest ``shift`` of a real constant ``{"lit": m, "shift": k}`` (2^-1074: the least float).
MAX_LIT_SHIFT = 1074
LINK_MODES: tuple[str, ...] = ("exact", "fuzzy", "hybrid", "probabilistic")
LINK_REVEALS: tuple[str, ...] = ("pairs", "own", "count")

_UNARY_FNS = ("not", "is_null", "dt_year", "dt_month", "dt_quarter")
_BINARY_FNS = (
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "str_startswith",
    "str_contains",
    "round",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "!=",
    "&",
    "|",
)

# op -> (required fields besides "op", fields that may be null)
OPS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "scan": (frozenset({"table", "columns"}), frozenset({"columns"})),
    "filter": (frozenset({"input", "predicate"}), frozenset()),
    "assign": (frozenset({"input", "columns"}), frozenset()),
    "project": (frozenset({"input", "columns"}), frozenset()),
    "join": (
        frozenset({"left", "right", "on", "how", "validate", "max_multiplicity"}),
        frozenset({"max_multiplicity"}),
    ),
    "groupby": (frozenset({"input", "keys", "aggs"}), frozenset()),
    "sort": (frozenset({"input", "by", "descending"}), frozenset()),
    "distinct": (frozenset({"input", "keys"}), frozenset({"keys"})),
    "head": (frozenset({"input", "n"}), frozenset()),
    "overlap": (frozenset({"inputs", "on"}), frozenset()),
    "concat": (frozenset({"inputs"}), frozenset()),
    "link": (frozenset({"left", "right", "mode", "reveal", "params"}), frozenset()),
}
#: op -> fields it may carry or leave out (absent means the documented default)
OPTIONAL: dict[str, frozenset[str]] = {
    "link": frozenset({"blocking"}),
    "overlap": frozenset({"linkage"}),
    "concat": frozenset({"linkage"}),
}
#: ``overlap.linkage.mode`` values: persons found by record linkage of person tables
OVERLAP_LINKAGE: tuple[str, ...] = ("fuzzy", "exact", "probabilistic")
#: ``overlap.linkage.reveal`` values: ``own`` releases, instead of the overlap table, the
#: first list's records with the number of other lists each is linked to (absent: the
#: overlap table)
OVERLAP_LINKAGE_REVEALS: tuple[str, ...] = ("own",)
#: Most rounds of the clustering an overlap by linkage may ask for
MAX_CLUSTER_ROUNDS = 32
#: ``link.blocking.method`` values (absent ``blocking``: every pair is scored)
LINK_BLOCKING: tuple[str, ...] = ("sorted_neighbourhood",)
#: Largest window of the sorted-neighbourhood blocking a plan may ask for
MAX_LINK_WINDOW = 64


_PURPOSE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
#: a stored table's name (as the storage's table names)
_TABLE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,127}")


def moment_ddof(fn: str) -> tuple[str, int] | None:
    """``("var" | "std", ddof)`` for a spread aggregate (``var``, ``std``, ``var_ddof0``
    ...); None for the other functions. ``var`` and ``std`` without a suffix use pandas'
    default ``ddof=1``.

    Examples
    --------
    >>> moment_ddof("var"), moment_ddof("std_ddof0"), moment_ddof("sum")
    (('var', 1), ('std', 0), None)
    """
    m = _MOMENT.fullmatch(fn) if isinstance(fn, str) else None
    if m is None:
        return None
    return m.group(1), int(m.group(2) or 1)


def quantile_fraction(fn: str) -> tuple[int, int] | None:
    """The quantile ``a / b`` (lowest terms) an aggregate function stands for: ``median``
    is 1/2, ``pNN`` is NN/100; None for the other functions.

    Examples
    --------
    >>> quantile_fraction("median"), quantile_fraction("p25"), quantile_fraction("p100")
    ((1, 2), (1, 4), (1, 1))
    >>> quantile_fraction("sum") is None, quantile_fraction("p101") is None
    (True, True)
    """
    if fn == "median":
        return 1, 2
    m = _PERCENTILE.fullmatch(fn) if isinstance(fn, str) else None
    if m is None:
        return None
    num = int(m.group(1))
    g = math.gcd(num, 100)
    return num // g, 100 // g


def _fail(path: str, message: str) -> PlanError:
    return PlanError(f"{path}: {message}")


def _name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(path, "expected a non-empty column or table name")
    return value


def _names(value: Any, path: str, *, empty: bool = False) -> list[str]:
    if not isinstance(value, list):
        raise _fail(path, "expected a list of names")
    if not value and not empty:
        raise _fail(path, "expected at least one name")
    out = [_name(v, f"{path}[{i}]") for i, v in enumerate(value)]
    dup = sorted({v for v in out if out.count(v) > 1})
    if dup:
        raise _fail(path, f"repeated name {dup[0]!r}")
    return out


def _int(value: Any, path: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, "expected an integer")
    if value < minimum:
        raise _fail(path, f"must be at least {minimum}")
    return value


def validate_expr(e: Any, path: str, depth: int = 0) -> None:
    """Check the plan form of an expression; raises :class:`PlanError` naming ``path``."""
    if depth > MAX_DEPTH:
        raise _fail(path, "expression nested too deeply")
    if not isinstance(e, dict):
        raise _fail(path, "an expression must be an object")
    keys = set(e)
    if keys == {"col"}:
        _name(e["col"], f"{path}.col")
        return
    if keys == {"lit"}:
        v = e["lit"]
        if isinstance(v, str):  # a label: a category label or a string value
            if len(v) > MAX_LABEL or "\0" in v:
                raise _fail(
                    f"{path}.lit", f"a text constant has at most {MAX_LABEL} characters, no NUL"
                )
            return
        if not isinstance(v, int) or not -(2**63) <= v < 2**63:
            raise _fail(
                f"{path}.lit", "a constant must be a 64-bit integer, a boolean or a text label"
            )
        return
    if keys == {"lit", "shift"}:  # the real m / 2^shift (a float; m odd, only one form)
        m, k = e["lit"], e["shift"]
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_LIT_SHIFT:
            raise _fail(f"{path}.shift", f"expected an integer from 1 to {MAX_LIT_SHIFT}")
        if isinstance(m, bool) or not isinstance(m, int) or m % 2 == 0 or abs(m) >= 2**53:
            raise _fail(f"{path}.lit", "expected an odd integer of at most 53 bits")
        return
    if keys != {"fn", "args"}:
        raise _fail(path, f"malformed expression with fields {sorted(keys)}")
    fn, args = e["fn"], e["args"]
    if not isinstance(args, list):
        raise _fail(f"{path}.args", "expected a list")
    arity = {**dict.fromkeys(_UNARY_FNS, 1), **dict.fromkeys(_BINARY_FNS, 2), "when": 3}
    if not isinstance(fn, str) or fn not in arity:
        raise _fail(f"{path}.fn", f"unknown function {fn!r}")
    if len(args) != arity[fn]:
        raise _fail(f"{path}.args", f"{fn!r} takes {arity[fn]} arguments, not {len(args)}")
    for i, a in enumerate(args):
        validate_expr(a, f"{path}.args[{i}]", depth + 1)


def _validate_node(node: Any, path: str, depth: int, count: list[int]) -> None:
    count[0] += 1
    if count[0] > MAX_NODES:
        raise _fail(path, f"a plan may have at most {MAX_NODES} nodes")
    if depth > MAX_DEPTH:
        raise _fail(path, "plan nested too deeply")
    if not isinstance(node, dict):
        raise _fail(path, "a plan node must be an object")
    op = node.get("op")
    if op not in OPS:
        raise _fail(f"{path}.op", f"unknown operator {op!r} (one of {', '.join(OPS)})")
    fields, nullable = OPS[op]
    missing = sorted(fields - set(node))
    if missing:
        raise _fail(path, f"{op} lacks field {missing[0]!r}")
    extra = sorted(set(node) - fields - OPTIONAL.get(str(op), frozenset()) - {"op"})
    if extra:
        raise _fail(f"{path}.{extra[0]}", f"unknown field of {op}")
    for f in sorted(fields - nullable):
        if node[f] is None:
            raise _fail(f"{path}.{f}", "must not be null")

    def child(field: str) -> None:
        _validate_node(node[field], f"{path}.{field}", depth + 1, count)

    if op == "scan":
        _name(node["table"], f"{path}.table")
        if node["columns"] is not None:
            _names(node["columns"], f"{path}.columns")
    elif op == "filter":
        validate_expr(node["predicate"], f"{path}.predicate")
        child("input")
    elif op == "assign":
        cols = node["columns"]
        if not isinstance(cols, dict) or not cols:
            raise _fail(f"{path}.columns", "expected an object of name: expression")
        for k, v in cols.items():
            _name(k, f"{path}.columns")
            validate_expr(v, f"{path}.columns.{k}")
        child("input")
    elif op == "project":
        _names(node["columns"], f"{path}.columns")
        child("input")
    elif op == "join":
        _names(node["on"], f"{path}.on")
        if node["how"] not in HOWS:
            raise _fail(f"{path}.how", f"unknown join kind {node['how']!r}")
        if node["validate"] not in VALIDATES:
            raise _fail(f"{path}.validate", f"unknown validate mode {node['validate']!r}")
        mm = node["max_multiplicity"]
        if node["validate"] == "m:m" and node["how"] in ("inner", "left") and mm is None:
            raise _fail(f"{path}.max_multiplicity", "an m:m join needs max_multiplicity")
        if mm is not None:
            _int(mm, f"{path}.max_multiplicity", minimum=1)
        child("left")
        child("right")
    elif op == "groupby":
        _names(node["keys"], f"{path}.keys")
        aggs = node["aggs"]
        if not isinstance(aggs, dict) or not aggs:
            raise _fail(f"{path}.aggs", "expected an object of out: [column, function]")
        for k, v in aggs.items():
            p = f"{path}.aggs.{k}"
            _name(k, f"{path}.aggs")
            if k in node["keys"]:
                raise _fail(p, "an aggregate may not reuse a key column's name")
            if not isinstance(v, list) or len(v) != 2:
                raise _fail(p, "expected [column, function]")
            _name(v[0], f"{p}[0]")
            known = v[1] in AGG_FNS or quantile_fraction(v[1]) is not None
            if not known and moment_ddof(v[1]) is None:
                raise _fail(
                    f"{p}[1]",
                    f"unknown aggregate {v[1]!r} (one of {', '.join(AGG_FNS)}, p0 ... p100, "
                    "var, std, var_ddof0 ... std_ddof9)",
                )
            if v[0] == "*" and v[1] != "count":
                raise _fail(f"{p}[0]", "'*' only counts rows")
        child("input")
    elif op == "sort":
        by = _names(node["by"], f"{path}.by")
        desc = node["descending"]
        if not isinstance(desc, list) or len(desc) != len(by):
            raise _fail(f"{path}.descending", "expected one true/false per sort key")
        for i, d in enumerate(desc):
            if not isinstance(d, bool):
                raise _fail(f"{path}.descending[{i}]", "expected true or false")
        child("input")
    elif op == "distinct":
        if node["keys"] is not None:
            _names(node["keys"], f"{path}.keys")
        child("input")
    elif op == "head":
        _int(node["n"], f"{path}.n", minimum=0)
        child("input")
    elif op == "link":
        if path != "plan.root":
            raise _fail(path, "link must be the plan's root")
        if node["mode"] not in LINK_MODES:
            raise _fail(f"{path}.mode", f"unknown link mode {node['mode']!r}")
        if node["reveal"] not in LINK_REVEALS:
            raise _fail(f"{path}.reveal", f"unknown reveal mode {node['reveal']!r}")
        params = node["params"]
        if not isinstance(params, dict):
            raise _fail(f"{path}.params", "expected an object of name: integer")
        for k, v in params.items():
            _name(k, f"{path}.params")
            _int(v, f"{path}.params.{k}", minimum=-(2**12))
        if "blocking" in node:
            blk = node["blocking"]
            if not isinstance(blk, dict) or set(blk) != {"method", "window"}:
                raise _fail(f"{path}.blocking", "expected an object with method and window")
            if blk["method"] not in LINK_BLOCKING:
                raise _fail(f"{path}.blocking.method", f"unknown blocking {blk['method']!r}")
            if node["mode"] == "exact":
                raise _fail(f"{path}.blocking", "exact linkage needs no blocking")
            _int(blk["window"], f"{path}.blocking.window", minimum=1)
            if blk["window"] > MAX_LINK_WINDOW:
                raise _fail(f"{path}.blocking.window", f"at most {MAX_LINK_WINDOW}")
        for side in ("left", "right"):
            sub = node[side]
            if (
                not isinstance(sub, dict)
                or sub.get("op") != "scan"
                or sub.get("columns") is not None
            ):
                raise _fail(f"{path}.{side}", "link reads whole person tables: expected a scan")
            child(side)
    else:  # overlap, concat
        inputs = node["inputs"]
        linked = op == "overlap" or "linkage" in node
        low, high = (2, MAX_OVERLAP_LISTS) if linked else (1, MAX_NODES)
        if not isinstance(inputs, list) or not low <= len(inputs) <= high:
            raise _fail(f"{path}.inputs", f"expected a list of {low} to {high} inputs")
        if op == "overlap":
            _names(node["on"], f"{path}.on")
            if "linkage" in node:
                _linkage(node["linkage"], node["on"], f"{path}.linkage")
        elif "linkage" in node:  # concat with the linked person of every row
            if isinstance(node["linkage"], dict) and "reveal" in node["linkage"]:
                raise _fail(f"{path}.linkage.reveal", "a concat by linkage releases no reveal")
            _linkage(node["linkage"], ["person"], f"{path}.linkage")
        for i, sub in enumerate(inputs):
            _validate_node(sub, f"{path}.inputs[{i}]", depth + 1, count)


def _linkage(lk: Any, on: Any, path: str) -> None:
    """``{"mode": "fuzzy" | "exact" | "probabilistic", "window": int | null, "rounds": int}``
    and optionally ``"reveal": "own"``, ``"params"`` (the fuzzy scorer's integer
    parameters, as ``link``'s; for probabilistic only ``threshold``, the Fellegi-Sunter
    weight threshold in place of the trained one) and ``"stored"`` (the name of a stored
    persons table made by this same linkage of these same inputs, whose person ids are
    used instead of linking again) (on = person)."""
    if not isinstance(lk, dict) or not (
        {"mode", "window", "rounds"}
        <= set(lk)
        <= {"mode", "window", "rounds", "reveal", "params", "stored"}
    ):
        raise _fail(path, "expected an object with mode, window, rounds (reveal, params, stored)")
    if "stored" in lk:  # the persons of a stored persons table instead of linking again
        _name(lk["stored"], f"{path}.stored")
    if "reveal" in lk and lk["reveal"] not in OVERLAP_LINKAGE_REVEALS:
        raise _fail(f"{path}.reveal", f"unknown reveal {lk['reveal']!r} (own)")
    if lk["mode"] not in OVERLAP_LINKAGE:
        raise _fail(f"{path}.mode", f"unknown linkage {lk['mode']!r}")
    if "params" in lk:
        if lk["mode"] == "exact":
            raise _fail(f"{path}.params", "only fuzzy linkage takes scoring parameters")
        if not isinstance(lk["params"], dict):
            raise _fail(f"{path}.params", "expected an object of name: integer")
        if lk["mode"] == "probabilistic" and set(lk["params"]) - {"threshold"}:
            raise _fail(
                f"{path}.params",
                "only fuzzy linkage takes scoring parameters (probabilistic: threshold)",
            )
        for k, v in lk["params"].items():
            _name(k, f"{path}.params")
            _int(v, f"{path}.params.{k}", minimum=-(2**12))
    if lk["window"] is not None:
        _int(lk["window"], f"{path}.window", minimum=1)
        if lk["window"] > MAX_LINK_WINDOW:
            raise _fail(f"{path}.window", f"at most {MAX_LINK_WINDOW}")
    _int(lk["rounds"], f"{path}.rounds", minimum=1)
    if lk["rounds"] > MAX_CLUSTER_ROUNDS:
        raise _fail(f"{path}.rounds", f"at most {MAX_CLUSTER_ROUNDS}")
    if on != ["person"]:
        raise _fail(path, "an overlap by linkage is on the linked person: on must be ['person']")


def validate_plan(plan: Any) -> None:
    """Check that ``plan`` is a well-formed plan; raises :class:`PlanError` with the path.

    The path names the bad field from the plan's top, e.g. ``plan.root.input.n``. Column
    names are not checked against schemas here (see :func:`output_columns`).

    Examples
    --------
    >>> from sharelake.plan.nodes import head, make_plan, scan
    >>> validate_plan(make_plan(head(scan("t"), -1)))
    Traceback (most recent call last):
    ...
    sharelake.plan.canonical.PlanError: plan.root.n: must be at least 0
    """
    canonical_json(plan)  # JSON types only, no floats
    if not isinstance(plan, dict):
        raise _fail("plan", "a plan must be an object")
    for f in ("version", "root", "release"):
        if f not in plan:
            raise _fail("plan", f"lacks field {f!r}")
    extra = sorted(set(plan) - {"version", "root", "release", "purpose"})
    if extra:
        raise _fail(f"plan.{extra[0]}", "unknown field")
    if "purpose" in plan and (
        not isinstance(plan["purpose"], str) or not _PURPOSE.fullmatch(plan["purpose"])
    ):
        raise _fail("plan.purpose", "must be a purpose name from the consortium file")
    if plan["version"] != PLAN_VERSION:
        raise _fail("plan.version", f"unsupported version {plan['version']!r}")
    rel = plan["release"]
    if not isinstance(rel, dict) or "kind" not in rel:
        raise _fail("plan.release", 'expected {"kind": ...}')
    if rel["kind"] not in RELEASE_KINDS:
        raise _fail("plan.release.kind", f"unknown release {rel['kind']!r}")
    if set(rel) != ({"kind", "table"} if rel["kind"] == "table" else {"kind"}):
        raise _fail("plan.release", 'expected {"kind": "rows"} or {"kind": "table", "table": ...}')
    if rel["kind"] == "table":
        if not isinstance(rel["table"], str) or not _TABLE.fullmatch(rel["table"]):
            raise _fail("plan.release.table", "1-128 letters, digits, '_' or '-'")
        root = plan["root"]
        lk = root.get("linkage") if isinstance(root, dict) else None
        if not isinstance(root, dict) or root.get("op") != "concat" or not isinstance(lk, dict):
            raise _fail("plan.root", "a stored persons table is a concat by linkage (persons)")
        if "stored" in lk:
            raise _fail("plan.root.linkage.stored", "a stored persons table links its lists")
    _validate_node(plan["root"], "plan.root", 0, [0])

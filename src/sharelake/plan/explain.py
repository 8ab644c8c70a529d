"""Readable text of plans: numbered steps and what the release reveals.

:func:`sharelake.plan.nodes.describe` and :func:`~sharelake.plan.nodes.describe_expr`
are the public entry points (re-exported there); this module holds their bodies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from . import tree
from .validate import moment_ddof

_PRECEDENCE = {"|": 1, "&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3}
_PRECEDENCE.update({"+": 4, "-": 4, "*": 5, "/": 5, "//": 5, "%": 5})
_WORDS = {"&": "and", "|": "or"}


def describe_expr_text(e: Mapping[str, Any] | tree.Expr) -> str:
    """Body of :func:`sharelake.plan.nodes.describe_expr`."""
    typed = e if isinstance(e, tree.ColRef | tree.Const | tree.Call) else tree.expr_from_json(e)
    return _expr_text(typed, 0)


def _expr_text(e: tree.Expr, outer: int) -> str:
    if isinstance(e, tree.ColRef):
        return e.name
    if isinstance(e, tree.Const):
        v = e.value
        if e.shift is not None and not isinstance(v, str):  # the real m / 2^shift, as a float
            return repr(float(Fraction(v, 1 << e.shift)))
        if isinstance(v, str):
            return repr(v)
        return ("true" if v else "false") if isinstance(v, bool) else str(v)
    fn, args = e.fn, e.args
    if fn == "not":
        return f"not ({_expr_text(args[0], 0)})"
    if fn == "is_null":
        return f"{_expr_text(args[0], 6)} is missing"
    if fn.startswith("dt_"):
        return f"{fn[3:]} of {_expr_text(args[0], 6)}"
    if fn == "round":
        return f"{_expr_text(args[0], 6)} rounded to {_expr_text(args[1], 6)} decimals"
    if fn.startswith("str_"):
        verb = "starts with" if fn == "str_startswith" else "contains"
        return f"{_expr_text(args[0], 6)} {verb} {_expr_text(args[1], 6)}"
    if fn == "when":
        c, t, o = (_expr_text(a, 0) for a in args)
        return f"({t} if {c} else {o})"
    prec = _PRECEDENCE[fn]
    text = f"{_expr_text(args[0], prec)} {_WORDS.get(fn, fn)} {_expr_text(args[1], prec + 1)}"
    return f"({text})" if prec < outer else text


def _agg_text(out: str, src: str, fn: str) -> str:
    if src == "*":
        return f"{out} = number of rows"
    words = {
        "count": "number of non-missing",
        "sum": "sum of",
        "mean": "mean of",
        "min": "smallest",
        "max": "largest",
        "count_distinct": "number of distinct",
        "median": "median of",
        "var": "variance of",
        "std": "standard deviation of",
    }
    mom = moment_ddof(fn)
    if mom is not None and mom[1] != 1:
        return f"{out} = {words[mom[0]]} {src} (ddof={mom[1]})"
    if fn not in words:  # pNN
        return f"{out} = {fn[1:]}th percentile of {src}"
    return f"{out} = {words[fn]} {src}"


_LINK_MODES = {
    "exact": "any exact match key agrees",
    "fuzzy": "the fuzzy name and birth-date score passes the threshold, one-to-one",
    "hybrid": "a match key agrees or the fuzzy score passes the threshold, one-to-one",
    "probabilistic": (
        "the Fellegi-Sunter match probability (names, birth date, name frequencies) "
        "passes the threshold, one-to-one"
    ),
}
_LINK_REVEALS = {
    "pairs": "both record ids of every matched pair",
    "own": "the matching record ids of step {a}, each with its number of matches",
    "count": "the number of matched pairs only",
}


def _link_text(node: tree.Link, a: int, b: int) -> str:
    reveal = _LINK_REVEALS[node.reveal].format(a=a)
    return (
        f"link the people of step {a} with step {b} where {_LINK_MODES[node.mode]} "
        f"(encodings only, inside MPC); keep {reveal}"
    )


def describe_text(
    plan: Mapping[str, Any] | tree.Plan, schemas: Mapping[str, Sequence[str]] | None = None
) -> str:
    """Body of :func:`sharelake.plan.nodes.describe` (see there)."""
    typed = plan if isinstance(plan, tree.Plan) else tree.from_json(plan)
    lines: list[str] = []

    def step(n: tree.Node, subs: Sequence[int], path: str) -> int:
        refs = ", ".join(f"step {i}" for i in subs)
        if isinstance(n, tree.Scan):
            what = "all columns" if n.columns is None else "columns: " + ", ".join(n.columns)
            lines.append(f"read table {n.table!r} ({what})")
        elif isinstance(n, tree.Concat) and n.linkage is not None:
            lines.append(
                f"{_persons_text(n.linkage, refs)}; stack their rows with a secret column "
                "'person' (the linked person of each row)"
            )
        elif isinstance(n, tree.Concat):
            lines.append(f"stack the rows of {refs}")
        elif isinstance(n, tree.Overlap) and tree.own_reveal(n):
            lines.append(
                f"{_persons_text(n.linkage or {}, refs)}; release the records of the first "
                "list, each with the number of other lists it is linked to"
            )
        elif isinstance(n, tree.Overlap):
            if n.linkage is not None and "stored" in n.linkage:
                lines.append(_persons_text(n.linkage, refs))
                refs = f"step {len(lines)}"
            lines.append(
                f"count how many distinct {'+'.join(n.on)} occur in each combination "
                f"of the lists of {refs} (overlap table)"
            )
        elif isinstance(n, tree.Link):
            lines.append(_link_text(n, *subs))
        elif isinstance(n, tree.Join):
            a, b = subs
            how = {
                "inner": "match the rows of step {a} with step {b}",
                "left": "match the rows of step {a} with step {b}, keeping unmatched rows of {a}",
                "semi": "keep the rows of step {a} that have a match in step {b}",
                "anti": "keep the rows of step {a} that have no match in step {b}",
            }[n.how].format(a=a, b=b)
            extra = f", {n.validate}"
            if n.max_multiplicity is not None:
                extra += f", at most {n.max_multiplicity} matches per key"
            lines.append(f"{how} on {', '.join(n.on)} ({extra[2:]})")
        else:
            lines.append(_unary_text(n, subs[0]))
        return len(lines)

    last = tree.fold(typed, step)
    out = [f"{k}. {t}" for k, t in enumerate(lines, 1)]
    if typed.table is not None:  # release "table": the nodes keep it, nothing is released
        out.append(
            f"Reveals nothing: the nodes keep the secret person ids of step {last} as the "
            f"stored persons table {typed.table!r} (with the lists' table versions), for "
            "later queries that name it; every owner of the lists approves it."
        )
        return "\n".join(out)
    reveal = f"Reveals to the analyst: the rows of step {last}, every value and how many"
    if schemas is not None:
        cols = tree.Bound(typed, schemas).columns
        for m in tree.mean_names(typed):
            if f"{m}_sum" in cols:
                cols[cols.index(f"{m}_sum")] = m
                cols.remove(f"{m}_count")
        for v in tree.moment_names(typed):
            s_name, q_name, c_name = tree.moment_columns(v)
            if s_name in cols:
                cols[cols.index(s_name)] = v
                cols.remove(q_name)
                cols.remove(c_name)
        reveal += f" (columns: {', '.join(cols)})"
    out.append(reveal + ".")
    if tree.fold(typed, lambda n, subs, path: isinstance(n, tree.GroupBy) or any(subs)):
        out.append(
            "Groups with fewer rows than the tables' minimum group size (k) are suppressed: "
            "they are left out of the result, and collect() says how many "
            '(df.attrs["suppressed_groups"]).'
        )
    return "\n".join(out)


def _persons_text(linkage: Mapping[str, Any], refs: str) -> str:
    """How the persons of an overlap or concat by linkage are found."""
    if "stored" in linkage:
        return (
            f"take the persons of the lists of {refs} from the stored persons table "
            f"{linkage['stored']!r} ({linkage.get('mode')} linkage, made earlier; "
            "refused if a list changed since)"
        )
    return f"link the person lists of {refs} into persons ({linkage.get('mode')} linkage)"


def _unary_text(n: tree.Node, i: int) -> str:
    if isinstance(n, tree.Filter):
        return f"keep the rows of step {i} where {_expr_text(n.predicate, 0)}"
    if isinstance(n, tree.Assign):
        parts = [f"{k} = {_expr_text(e, 0)}" for k, e in n.columns]
        return f"add to step {i}: " + "; ".join(parts)
    if isinstance(n, tree.Project):
        return f"keep the columns {', '.join(n.columns)} of step {i}"
    if isinstance(n, tree.GroupBy):
        parts = [_agg_text(k, s, f) for k, s, f in n.aggs]
        return f"group step {i} by {', '.join(n.keys)}: " + "; ".join(parts)
    if isinstance(n, tree.Sort):
        keys = [
            f"{b} {'descending' if d else 'ascending'}"
            for b, d in zip(n.by, n.descending, strict=True)
        ]
        return f"sort step {i} by {', '.join(keys)}"
    if isinstance(n, tree.Distinct):
        on = "all columns" if n.keys is None else ", ".join(n.keys)
        return f"drop duplicate rows of step {i} (same {on})"
    assert isinstance(n, tree.Head)
    return f"keep the first {n.n} rows of step {i}"

"""Readable text of plans: numbered steps and what the release reveals.

:func:`sharelake.plan.nodes.describe` and :func:`~sharelake.plan.nodes.describe_expr`
are the public entry points (re-exported there); this module holds their bodies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from .nodes import mean_names, output_columns

_PRECEDENCE = {"|": 1, "&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3}
_PRECEDENCE.update({"+": 4, "-": 4, "*": 5})
_WORDS = {"&": "and", "|": "or"}


def describe_expr_text(e: Mapping[str, Any]) -> str:
    """Body of :func:`sharelake.plan.nodes.describe_expr`."""
    return _expr_text(e, 0)


def _expr_text(e: Mapping[str, Any], outer: int) -> str:
    if "col" in e:
        return str(e["col"])
    if "lit" in e:
        v = e["lit"]
        if "shift" in e:  # the real m / 2^shift, shown as the float it is
            return repr(float(Fraction(v, 1 << e["shift"])))
        return ("true" if v else "false") if isinstance(v, bool) else str(v)
    fn, args = e["fn"], e["args"]
    if fn == "not":
        return f"not ({_expr_text(args[0], 0)})"
    if fn == "is_null":
        return f"{_expr_text(args[0], 6)} is missing"
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
    }
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


def _link_text(node: Mapping[str, Any], a: int, b: int) -> str:
    reveal = _LINK_REVEALS[node["reveal"]].format(a=a)
    return (
        f"link the people of step {a} with step {b} where {_LINK_MODES[node['mode']]} "
        f"(encodings only, inside MPC); keep {reveal}"
    )


def describe_text(
    plan: Mapping[str, Any], schemas: Mapping[str, Sequence[str]] | None = None
) -> str:
    """Body of :func:`sharelake.plan.nodes.describe` (see there)."""
    lines: list[str] = []

    def step(node: Mapping[str, Any]) -> int:
        op = node["op"]
        if op == "scan":
            cols = node["columns"]
            what = "all columns" if cols is None else "columns: " + ", ".join(cols)
            lines.append(f"read table {node['table']!r} ({what})")
            return len(lines)
        if op in ("overlap", "concat"):
            ids = [step(s) for s in node["inputs"]]
            refs = ", ".join(f"step {i}" for i in ids)
            if op == "concat":
                lines.append(f"stack the rows of {refs}")
            else:
                lines.append(
                    f"count how many distinct {'+'.join(node['on'])} occur in each combination "
                    f"of the lists of {refs} (overlap table)"
                )
            return len(lines)
        if op == "link":
            a, b = step(node["left"]), step(node["right"])
            lines.append(_link_text(node, a, b))
            return len(lines)
        if op == "join":
            a, b = step(node["left"]), step(node["right"])
            how = {
                "inner": "match the rows of step {a} with step {b}",
                "left": "match the rows of step {a} with step {b}, keeping unmatched rows of {a}",
                "semi": "keep the rows of step {a} that have a match in step {b}",
                "anti": "keep the rows of step {a} that have no match in step {b}",
            }[node["how"]].format(a=a, b=b)
            extra = f", {node['validate']}"
            if node["max_multiplicity"] is not None:
                extra += f", at most {node['max_multiplicity']} matches per key"
            lines.append(f"{how} on {', '.join(node['on'])} ({extra[2:]})")
            return len(lines)
        i = step(node["input"])
        if op == "filter":
            text = f"keep the rows of step {i} where {describe_expr_text(node['predicate'])}"
        elif op == "assign":
            parts = [f"{k} = {describe_expr_text(v)}" for k, v in node["columns"].items()]
            text = f"add to step {i}: " + "; ".join(parts)
        elif op == "project":
            text = f"keep the columns {', '.join(node['columns'])} of step {i}"
        elif op == "groupby":
            parts = [_agg_text(k, s, f) for k, (s, f) in node["aggs"].items()]
            text = f"group step {i} by {', '.join(node['keys'])}: " + "; ".join(parts)
        elif op == "sort":
            keys = [
                f"{b} {'descending' if d else 'ascending'}"
                for b, d in zip(node["by"], node["descending"], strict=True)
            ]
            text = f"sort step {i} by {', '.join(keys)}"
        elif op == "distinct":
            on = "all columns" if node["keys"] is None else ", ".join(node["keys"])
            text = f"drop duplicate rows of step {i} (same {on})"
        else:
            text = f"keep the first {node['n']} rows of step {i}"
        lines.append(text)
        return len(lines)

    last = step(plan["root"])
    out = [f"{k}. {t}" for k, t in enumerate(lines, 1)]
    reveal = f"Reveals to the analyst: the rows of step {last}, every value and how many"
    if schemas is not None:
        cols = list(output_columns(plan, schemas))
        for m in mean_names(plan):
            if f"{m}_sum" in cols:
                cols[cols.index(f"{m}_sum")] = m
                cols.remove(f"{m}_count")
        reveal += f" (columns: {', '.join(cols)})"
    out.append(reveal + ".")
    return "\n".join(out)

"""pandas ``DataFrame.query`` strings as plan expressions (parsed, never evaluated).

The subset of pandas' query grammar that maps onto plan expressions: column names,
number, boolean, date and string constants, comparisons (chained too: ``18 <= age < 65``),
``and``/``or``/``not`` and ``&``/``|``/``~``, ``+ - * /``, ``in`` / ``not in`` a list, and
the column methods ``isin``, ``between``, ``isna``/``isnull``, ``notna``/``notnull``.
The text is parsed by :mod:`ast` and translated node by node; nothing in it is run.
Anything else (``@variables``, function calls, attribute chains) is refused with an error
naming what to write instead.

Examples
--------
>>> from sharelake.relational.expr import to_json
>>> to_json(parse_query("age >= 18 and not closed", ["age", "closed"]))["fn"]
'&'
"""

from __future__ import annotations

import ast
import datetime
from collections.abc import Sequence
from typing import Any

from ..errors import InputValidationError
from ..relational.expr import BinOp, BinOpName, Col, Expr, Lit, Not

__all__ = ["QueryError", "parse_query"]


class QueryError(InputValidationError, ValueError):
    """A query string outside the supported pandas subset (the message says what to use)."""


_CMP: dict[type, BinOpName] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
}
_ARITH: dict[type, str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
}
_METHODS = ("isin", "between", "isna", "isnull", "notna", "notnull")


def parse_query(text: str, columns: Sequence[str]) -> Expr:
    """The plan expression of a pandas query string over ``columns``.

    Raises :class:`QueryError` naming the unsupported part, or KeyError for an unknown
    column (with the list of columns).

    Examples
    --------
    >>> from sharelake.relational.expr import to_json
    >>> to_json(parse_query("zone in [1, 2]", ["zone"]))["fn"]
    'when'
    """
    if not isinstance(text, str) or not text.strip():
        raise QueryError("query needs a non-empty expression string, e.g. 'age >= 18'")
    if "@" in text:
        raise QueryError(
            "query: '@variable' is not supported; put the value in the string "
            "(f'age >= {limit}') or filter with a mask, t[t.age >= limit]"
        )
    if "`" in text:
        raise QueryError(
            "query: backtick-quoted names are not supported; filter with a mask, "
            "t[t['my col'] >= 1]"
        )
    try:
        tree = ast.parse(" ".join(text.split()), mode="eval")
    except SyntaxError as exc:
        raise QueryError(f"query: not a pandas expression: {exc.msg} in {text!r}") from None
    return _Translate(list(columns)).expr(tree.body)


class _Translate:
    def __init__(self, columns: list[str]) -> None:
        self.columns = columns

    def fail(self, node: ast.AST, what: str) -> QueryError:
        part = ast.unparse(node)
        return QueryError(
            f"query: {what} ({part!r}) is not supported; the supported subset is columns, "
            "constants, comparisons, and/or/not, + - * /, in [...], isin, between, isna, "
            "notna (or filter with a mask: t[(t.a >= 1) & (t.b == 2)])"
        )

    def const(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool):
            return node.value
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int | float)
            and not isinstance(node.operand.value, bool)
        ):
            return -node.operand.value
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("date", "datetime.date"):
            args = [self.const(a) for a in node.args]
            if node.keywords or not all(isinstance(a, int) for a in args):
                raise self.fail(node, "a date other than date(y, m, d)")
            return datetime.date(*args)
        raise self.fail(node, "a value that is not a constant")

    def consts(self, node: ast.AST) -> list[Any]:
        if not isinstance(node, ast.List | ast.Tuple | ast.Set):
            raise self.fail(node, "'in' or isin with something other than a list of constants")
        return [self.const(e) for e in node.elts]

    def operand(self, node: ast.AST) -> Any:
        """An expression, or a constant (left for the operator to bind)."""
        if isinstance(node, ast.Constant) or (
            isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant)
        ):
            return self.const(node)
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("date", "datetime.date"):
            return self.const(node)
        return self.expr(node)

    def expr(self, node: ast.AST) -> Expr:
        if isinstance(node, ast.Name):
            if node.id in self.columns:
                return Col(node.id)
            raise KeyError(f"query: no column {node.id!r} (columns: {', '.join(self.columns)})")
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return Lit(node.value)
        if isinstance(node, ast.BoolOp):
            op: BinOpName = "&" if isinstance(node.op, ast.And) else "|"
            parts = [self.expr(v) for v in node.values]
            out = parts[0]
            for p in parts[1:]:
                out = BinOp(op, out, p)
            return out
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not | ast.Invert):
                return Not(self.expr(node.operand))
            if isinstance(node.op, ast.USub):
                return BinOp("-", Lit(0), self.expr(node.operand))
            raise self.fail(node, "this unary operator")
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.BitAnd | ast.BitOr):
                bop: BinOpName = "&" if isinstance(node.op, ast.BitAnd) else "|"
                return BinOp(bop, self.expr(node.left), self.expr(node.right))
            if type(node.op) not in _ARITH:
                raise self.fail(node, "this arithmetic operator")
            left, right = self.operand(node.left), self.operand(node.right)
            if not isinstance(left, Expr):
                if _ARITH[type(node.op)] in ("/", "//", "%"):
                    if not isinstance(right, Expr):
                        raise self.fail(node, "arithmetic of constants only")
                    return BinOp(_ARITH[type(node.op)], Lit(left), right)  # type: ignore[arg-type]
                left, right = right, left
                if isinstance(node.op, ast.Sub):  # c - x == -(x - c)
                    return BinOp("-", Lit(0), left - right)
            if not isinstance(left, Expr):
                raise self.fail(node, "arithmetic of constants only")
            fn = _ARITH[type(node.op)]
            result: Expr = {
                "+": lambda: left + right,
                "-": lambda: left - right,
                "*": lambda: left * right,
                "/": lambda: left / right,
                "//": lambda: left // right,
                "%": lambda: left % right,
            }[fn]()
            return result
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.fail(node, "this kind of expression")

    def compare(self, node: ast.Compare) -> Expr:
        parts: list[Expr] = []
        left_node = node.left
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                x = self.expr(left_node)
                got = x.isin(self.consts(right_node))
                parts.append(Not(got) if isinstance(op, ast.NotIn) else got)
            elif type(op) in _CMP:
                sym = _CMP[type(op)]
                a, b = self.operand(left_node), self.operand(right_node)
                if isinstance(a, Expr):
                    parts.append(a._bin(sym, b))
                elif isinstance(b, Expr):
                    parts.append(b._bin(sym, a, swap=True))
                else:
                    raise self.fail(node, "a comparison of two constants")
            else:
                raise self.fail(node, "this comparison ('is' / 'is not')")
            left_node = right_node
        out = parts[0]
        for p in parts[1:]:
            out = BinOp("&", out, p)
        return out

    def call(self, node: ast.Call) -> Expr:
        f = node.func
        if not isinstance(f, ast.Attribute) or f.attr not in _METHODS:
            raise self.fail(node, "this function call")
        x = self.expr(f.value)
        if node.keywords and f.attr != "between":
            raise self.fail(node, "keyword arguments here")
        if f.attr == "isin":
            if len(node.args) != 1:
                raise self.fail(node, "isin with other than one list")
            return x.isin(self.consts(node.args[0]))
        if f.attr == "between":
            args = [self.const(a) for a in node.args]
            kw = {str(k.arg): self.const(k.value) for k in node.keywords}
            if len(args) != 2 or set(kw) - {"inclusive"}:
                raise self.fail(node, "between other than (low, high[, inclusive=...])")
            return x.between(args[0], args[1], **kw)
        if node.args:
            raise self.fail(node, f"{f.attr} with arguments")
        return x.isna() if f.attr in ("isna", "isnull") else x.notna()

"""Column expressions with one meaning in MPC and in plaintext.

An expression tree (``col("age") >= 18``, ``(col("a") + col("b")) * 2``,
``when(cond, x, y)``, ``col("x").is_null()``) is evaluated either on a
:class:`~sharelake.relational.table.SecretTable` inside MPC (:func:`eval_secret`) or on a
pandas DataFrame (:func:`eval_plain`, the plaintext twin used by the tests and by
design mode). Booleans are 0/1 values. Nulls propagate as in SQL: an expression is
null when an operand is null, and a null predicate does not keep a row.

Number constants meet fixed-point columns at the column's scale through
:func:`sharelake.relational.literals.bind_literals` (run by the node before typing an
expression; the rounding rules are stated there).

Leakage: none. Every node evaluates every operator on every row; nothing is opened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..mpc import arith
from ..mpc.party import Party
from ..mpc.shares import AShare
from .table import SecretTable

BinOpName = Literal["+", "-", "*", "<", "<=", ">", ">=", "==", "!=", "&", "|"]
COMPARISONS = {"<", "<=", ">", ">=", "==", "!="}


class Expr:
    """Base class of expression nodes; Python operators build trees."""

    def _bin(self, op: BinOpName, other: Any, *, swap: bool = False) -> BinOp:
        o = other if isinstance(other, Expr) else Lit(other)
        return BinOp(op, o, self) if swap else BinOp(op, self, o)

    def __add__(self, o: Any) -> BinOp:
        return self._bin("+", o)

    def __radd__(self, o: Any) -> BinOp:
        return self._bin("+", o, swap=True)

    def __sub__(self, o: Any) -> BinOp:
        return self._bin("-", o)

    def __rsub__(self, o: Any) -> BinOp:
        return self._bin("-", o, swap=True)

    def __mul__(self, o: Any) -> BinOp:
        return self._bin("*", o)

    def __rmul__(self, o: Any) -> BinOp:
        return self._bin("*", o, swap=True)

    def __lt__(self, o: Any) -> BinOp:
        return self._bin("<", o)

    def __le__(self, o: Any) -> BinOp:
        return self._bin("<=", o)

    def __gt__(self, o: Any) -> BinOp:
        return self._bin(">", o)

    def __ge__(self, o: Any) -> BinOp:
        return self._bin(">=", o)

    def __eq__(self, o: Any) -> BinOp:  # type: ignore[override]
        return self._bin("==", o)

    def __ne__(self, o: Any) -> BinOp:  # type: ignore[override]
        return self._bin("!=", o)

    def __and__(self, o: Any) -> BinOp:
        return self._bin("&", o)

    def __or__(self, o: Any) -> BinOp:
        return self._bin("|", o)

    def __invert__(self) -> Not:
        return Not(self)

    def __hash__(self) -> int:
        return id(self)

    def is_null(self) -> IsNull:
        return IsNull(self)

    def fill_null(self, value: Any) -> When:
        return When(IsNull(self), value if isinstance(value, Expr) else Lit(value), self)


@dataclass(frozen=True, eq=False)
class Col(Expr):
    name: str


@dataclass(frozen=True, eq=False)
class Lit(Expr):
    value: int | bool | float


@dataclass(frozen=True, eq=False)
class FixedLit(Lit):
    """A literal already encoded at a fixed-point scale (``value`` is ``c * 2^frac_bits``).

    Made by :func:`bind_literals` on the node; never part of a plan.
    """

    value: int
    frac_bits: int = 16


@dataclass(frozen=True, eq=False)
class Scaled(Expr):
    """``floor(operand * num / 2^shift)``: a fixed-point column times a public constant.

    Made by :func:`bind_literals` for ``x * c``; never part of a plan.
    """

    operand: Expr
    num: int
    shift: int


@dataclass(frozen=True, eq=False)
class BinOp(Expr):
    op: BinOpName
    left: Expr
    right: Expr


@dataclass(frozen=True, eq=False)
class Not(Expr):
    operand: Expr


@dataclass(frozen=True, eq=False)
class IsNull(Expr):
    operand: Expr


@dataclass(frozen=True, eq=False)
class When(Expr):
    cond: Expr
    then: Expr
    other: Expr


def col(name: str) -> Col:
    """A column reference."""
    return Col(name)


def lit(value: int | bool | float) -> Lit:
    """A public integer, boolean or (for fixed-point columns) real constant."""
    return Lit(value)


def when(cond: Expr, then: Any, other: Any) -> When:
    """``then`` where ``cond`` holds, else ``other`` (secure select in MPC)."""
    t = then if isinstance(then, Expr) else Lit(then)
    o = other if isinstance(other, Expr) else Lit(other)
    return When(cond, t, o)


# ---- secure evaluation ----------------------------------------------------------------


def _or(p: Party, a: AShare, b: AShare) -> AShare:
    return a + b - arith.mul(p, a, b)


def _opt_or(p: Party, a: AShare | None, b: AShare | None) -> AShare | None:
    if a is None:
        return b
    if b is None:
        return a
    return _or(p, a, b)


def _one(p: Party, n: int) -> AShare:
    return p.public_a(np.ones(n, dtype=np.uint64))


def _compare(p: Party, op: str, x: AShare, y: AShare) -> AShare:
    from ..mpc import compare, convert

    if op in ("==", "!="):
        bit = convert.b2a_bits(p, compare.eq(p, x, y))
        return bit if op == "==" else _one(p, len(x)) - bit
    a, b = (x, y) if op in ("<", ">=") else (y, x)
    bit = convert.b2a_bits(p, compare.lt(p, a, b))
    return bit if op in ("<", ">") else _one(p, len(x)) - bit


def eval_secret(p: Party, t: SecretTable, e: Expr) -> tuple[AShare, AShare | None]:
    """Evaluate ``e`` on every row of ``t``: (values, null flags or None)."""
    n = t.n
    if isinstance(e, Col):
        column = t[e.name]
        return column.values, column.null
    if isinstance(e, Lit):
        return p.public_a(np.full(n, _int_value(e), dtype=np.int64).view(np.uint64)), None
    if isinstance(e, Scaled):
        from ..mpc.fixed import trunc_exact

        v, nl = eval_secret(p, t, e.operand)
        v = v.scale(e.num)
        return (trunc_exact(p, v, e.shift) if e.shift else v), nl
    if isinstance(e, Not):
        v, nl = eval_secret(p, t, e.operand)
        return _one(p, n) - v, nl
    if isinstance(e, IsNull):
        _, nl = eval_secret(p, t, e.operand)
        return (nl if nl is not None else p.public_a(np.zeros(n, dtype=np.uint64))), None
    if isinstance(e, When):
        c, cn = eval_secret(p, t, e.cond)
        if cn is not None:  # a null condition selects the else branch
            c = arith.mul(p, c, _one(p, n) - cn)
        a, an = eval_secret(p, t, e.then)
        b, bn = eval_secret(p, t, e.other)
        out = b + arith.mul(p, c, a - b)
        nl = None
        if an is not None or bn is not None:
            zero = p.public_a(np.zeros(n, dtype=np.uint64))
            an2, bn2 = an or zero, bn or zero
            nl = bn2 + arith.mul(p, c, an2 - bn2)
        return out, nl
    if isinstance(e, BinOp):
        x, xn = eval_secret(p, t, e.left)
        y, yn = eval_secret(p, t, e.right)
        nl = _opt_or(p, xn, yn)
        if e.op == "+":
            return x + y, nl
        if e.op == "-":
            return x - y, nl
        if e.op in ("*", "&"):
            return arith.mul(p, x, y), nl
        if e.op == "|":
            return _or(p, x, y), nl
        return _compare(p, e.op, x, y), nl
    raise TypeError(f"unsupported expression node {type(e).__name__}")


def predicate_secret(p: Party, t: SecretTable, e: Expr) -> AShare:
    """A 0/1 sharing: the predicate holds and is not null."""
    v, nl = eval_secret(p, t, e)
    if nl is None:
        return v
    return arith.mul(p, v, _one(p, t.n) - nl)


# ---- plaintext twin -------------------------------------------------------------------


def eval_plain(df: pd.DataFrame, e: Expr) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The plaintext twin of :func:`eval_secret` on a DataFrame: (int64 values, null mask)."""
    n = len(df)
    if isinstance(e, Col):
        s = df[e.name]
        nl = s.isna().to_numpy()
        vals = s.where(~s.isna(), 0)
        return np.asarray(vals, dtype=np.int64), nl
    if isinstance(e, Lit):
        return np.full(n, _int_value(e), dtype=np.int64), np.zeros(n, bool)
    if isinstance(e, Scaled):
        v, nl = eval_plain(df, e.operand)
        with np.errstate(over="ignore"):
            return (v * np.int64(e.num)) >> np.int64(e.shift), nl
    if isinstance(e, Not):
        v, nl = eval_plain(df, e.operand)
        return 1 - v, nl
    if isinstance(e, IsNull):
        _, nl = eval_plain(df, e.operand)
        return nl.astype(np.int64), np.zeros(n, bool)
    if isinstance(e, When):
        c, cn = eval_plain(df, e.cond)
        c = c * ~cn
        a, an = eval_plain(df, e.then)
        b, bn = eval_plain(df, e.other)
        return np.where(c != 0, a, b), np.where(c != 0, an, bn)
    if isinstance(e, BinOp):
        x, xn = eval_plain(df, e.left)
        y, yn = eval_plain(df, e.right)
        nl = xn | yn
        with np.errstate(over="ignore"):
            ops: dict[str, Any] = {
                "+": lambda: x + y,
                "-": lambda: x - y,
                "*": lambda: x * y,
                "&": lambda: x * y,
                "|": lambda: x + y - x * y,
                "<": lambda: (x < y).astype(np.int64),
                "<=": lambda: (x <= y).astype(np.int64),
                ">": lambda: (x > y).astype(np.int64),
                ">=": lambda: (x >= y).astype(np.int64),
                "==": lambda: (x == y).astype(np.int64),
                "!=": lambda: (x != y).astype(np.int64),
            }
            return np.asarray(ops[e.op](), dtype=np.int64), nl
    raise TypeError(f"unsupported expression node {type(e).__name__}")


def predicate_plain(df: pd.DataFrame, e: Expr) -> np.ndarray[Any, Any]:
    """Boolean mask: the predicate holds and is not null (plaintext twin)."""
    v, nl = eval_plain(df, e)
    mask: np.ndarray[Any, Any] = (v != 0) & ~nl
    return mask


# ---- plan form (JSON) -----------------------------------------------------------------

_FN_NAMES = {"not": Not, "is_null": IsNull}


def to_json(e: Expr) -> dict[str, Any]:
    """The plan form of an expression: ``{"col"}``, ``{"lit"}`` or ``{"fn", "args"}``."""
    if isinstance(e, Col):
        return {"col": e.name}
    if isinstance(e, FixedLit):
        raise TypeError("an encoded fixed-point literal is not part of a plan")
    if isinstance(e, Lit):
        return literal_json(e.value)
    if isinstance(e, Not):
        return {"fn": "not", "args": [to_json(e.operand)]}
    if isinstance(e, IsNull):
        return {"fn": "is_null", "args": [to_json(e.operand)]}
    if isinstance(e, When):
        return {"fn": "when", "args": [to_json(e.cond), to_json(e.then), to_json(e.other)]}
    if isinstance(e, BinOp):
        return {"fn": e.op, "args": [to_json(e.left), to_json(e.right)]}
    if isinstance(e, Scaled):
        raise TypeError("a scaled product is made on the node, it is not part of a plan")
    raise TypeError(f"unsupported expression node {type(e).__name__}")


_BINOPS: tuple[BinOpName, ...] = ("+", "-", "*", "<", "<=", ">", ">=", "==", "!=", "&", "|")


def from_json(d: Any) -> Expr:
    """Parse the plan form of an expression; raises ValueError naming what is wrong."""
    if not isinstance(d, dict):
        raise ValueError("an expression must be an object")
    if set(d) == {"col"} and isinstance(d["col"], str):
        return Col(d["col"])
    if set(d) == {"lit"} and isinstance(d["lit"], int):
        return Lit(d["lit"])
    if set(d) == {"lit", "shift"}:
        return Lit(_dyadic_value(d["lit"], d["shift"]))
    if set(d) == {"fn", "args"} and isinstance(d["args"], list):
        fn, args = d["fn"], [from_json(a) for a in d["args"]]
        if fn in _FN_NAMES and len(args) == 1:
            return _FN_NAMES[fn](args[0])
        if fn == "when" and len(args) == 3:
            return When(args[0], args[1], args[2])
        for op in _BINOPS:
            if fn == op and len(args) == 2:
                return BinOp(op, args[0], args[1])
        raise ValueError(f"unknown function {fn!r} with {len(args)} arguments")
    raise ValueError(f"malformed expression {sorted(d)!r}")


def columns_of(e: Expr) -> set[str]:
    """The column names an expression reads."""
    if isinstance(e, Col):
        return {e.name}
    if isinstance(e, Lit):
        return set()
    if isinstance(e, Scaled):
        return columns_of(e.operand)
    if isinstance(e, Not | IsNull):
        return columns_of(e.operand)
    if isinstance(e, When):
        return columns_of(e.cond) | columns_of(e.then) | columns_of(e.other)
    if isinstance(e, BinOp):
        return columns_of(e.left) | columns_of(e.right)
    raise TypeError(f"unsupported expression node {type(e).__name__}")


# ---- number literals (plan form and binding to fixed-point columns) ---------------------

#: Largest ``shift`` of a literal's plan form (the smallest float is 2^-1074).
MAX_SHIFT = 1074


def literal_json(value: int | bool | float) -> dict[str, Any]:
    """The canonical plan form of a constant.

    Integers and booleans are ``{"lit": v}``; a float equal to an integer is that integer
    (``2.0`` and ``2`` give the same plan); any other finite float is its exact binary
    value ``{"lit": m, "shift": k}`` = ``m / 2^k`` with ``m`` odd and ``k >= 1``.

    Examples
    --------
    >>> literal_json(0.5), literal_json(-2.0), literal_json(1.25)
    ({'lit': 1, 'shift': 1}, {'lit': -2}, {'lit': 5, 'shift': 2})
    """
    if isinstance(value, bool | int):
        return {"lit": value}
    if not isinstance(value, float) or not math.isfinite(value):
        raise TypeError(f"a constant must be a finite number, not {value!r}")
    if value.is_integer():
        return {"lit": int(value)}
    num, den = value.as_integer_ratio()  # den is a power of two; num is odd
    return {"lit": num, "shift": den.bit_length() - 1}


def _dyadic_value(num: Any, shift: Any) -> float:
    ok = (
        isinstance(num, int)
        and not isinstance(num, bool)
        and isinstance(shift, int)
        and not isinstance(shift, bool)
        and 1 <= shift <= MAX_SHIFT
        and num % 2 == 1
    )
    if ok:
        value = float(Fraction(num, 1 << shift))
        if Fraction(value) == Fraction(num, 1 << shift):
            return value
    raise ValueError("a real constant must be {'lit': odd m, 'shift': k} = m / 2^k, a float")


def _int_value(e: Lit) -> int:
    v = e.value
    if isinstance(v, float) and not v.is_integer():
        raise TypeError(f"the constant {v!r} meets no fixed-point column (see bind_literals)")
    return int(v)

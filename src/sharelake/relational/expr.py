"""Column expressions with one meaning in MPC and in plaintext.

An expression tree (``col("age") >= 18``, ``(col("a") + col("b")) * 2``,
``when(cond, x, y)``, ``col("x").is_null()``) is evaluated either on a
:class:`~sharelake.relational.table.SecretTable` inside MPC (:func:`eval_secret`) or on a
pandas DataFrame (:func:`eval_plain`, the plaintext twin used by the tests and by
design mode). Booleans are 0/1 values. Nulls propagate as in SQL: an expression is
null when an operand is null, and a null predicate does not keep a row.

Number constants meet fixed-point columns at the column's scale: :func:`bind_literals`
(run by the node before typing an expression) encodes a literal ``c`` compared with,
added to or multiplied with a ``fixed`` column of ``f`` fractional bits as follows.

- ``x < c``, ``x <= c``, ``x > c``, ``x >= c``: ``c * 2^f`` rounded in the direction
  that keeps the comparison exact (``x > 0.1`` is ``X > floor(0.1 * 2^16)``), so the
  result is pandas' on every value the column can hold.
- ``x == c``, ``x != c``: ``c`` must be a multiple of ``2^-f`` (``0.1`` is not: an
  error names the column, since such an equality could never hold).
- ``x + c``, ``x - c``, ``when(..., c, x)``: ``c * 2^f`` rounded to the nearest
  integer, ties to even (an error of at most ``2^-(f+1)``).
- ``x * c``: exact for an integer ``c``; for ``c = m / 2^k`` with ``k <= f`` (``0.5``,
  ``1.25``) the exact product rounded down to the scale; otherwise ``c`` is first rounded
  to the scale (error at most ``|x| * 2^-(f+1) + 2^-f``). The product ``X * m`` must fit in
  a signed 64-bit word, as any fixed-point product must.

A literal whose magnitude is not below ``2^(62-f)`` (the range of the column, see
:mod:`sharelake.relational.encode`), or that is not finite, is refused with an error
naming the column; so is a non-integer literal meeting a column that is not ``fixed``.

Leakage: none. Every node evaluates every operator on every row; nothing is opened.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..mpc import arith
from ..mpc.party import Party
from ..mpc.shares import AShare
from .table import ColumnSpec, SecretTable

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


_FLIP: dict[BinOpName, BinOpName] = {
    "<": ">",
    "<=": ">=",
    ">": "<",
    ">=": "<=",
    "==": "==",
    "!=": "!=",
}


def _fixed_bits(e: Expr, spec_of: Callable[[str], ColumnSpec]) -> int | None:
    """The scale of a fixed-point expression (None when it is not fixed-point)."""
    if isinstance(e, Col):
        s = spec_of(e.name)
        return s.frac_bits if s.kind == "fixed" else None
    if isinstance(e, FixedLit):
        return e.frac_bits
    if isinstance(e, Scaled):
        return _fixed_bits(e.operand, spec_of)
    if isinstance(e, BinOp) and e.op in ("+", "-", "*"):
        left = _fixed_bits(e.left, spec_of)
        return left if left is not None else _fixed_bits(e.right, spec_of)
    if isinstance(e, When):
        then = _fixed_bits(e.then, spec_of)
        return then if then is not None else _fixed_bits(e.other, spec_of)
    return None


def _column_name(e: Expr) -> str:
    names = sorted(columns_of(e))
    return names[0] if names else "?"


def _is_number(e: Expr) -> bool:
    return isinstance(e, Lit) and not isinstance(e, FixedLit) and not isinstance(e.value, bool)


def _encode(value: float | int, f: int, op: str, other: Expr) -> int:
    """``value`` at scale ``f`` for ``x op value``: rounded so that the result is exact."""
    name = _column_name(other)
    if not math.isfinite(value) or abs(value) >= 2.0 ** (62 - f):
        raise ValueError(
            f"the constant {value!r} cannot be represented at the scale of fixed-point "
            f"column {name!r} ({f} fractional bits: |value| must be below 2^{62 - f})"
        )
    r = Fraction(value) * (1 << f)
    if op in (">", "<="):
        return math.floor(r)
    if op in ("<", ">="):
        return math.ceil(r)
    if op in ("==", "!=") and r.denominator != 1:
        raise ValueError(
            f"the constant {value!r} is not a multiple of 2^-{f}, the scale of fixed-point "
            f"column {name!r}: {op} would hold for no value; compare with a range "
            "(x >= a) & (x < b) instead"
        )
    return round(r)  # nearest, ties to even


def _bind_pair(op: BinOpName, x: Expr, c: Lit, f: int, swapped: bool) -> Expr:
    """``x op c`` (or ``c op x`` when ``swapped``) with ``x`` fixed-point at scale ``f``."""
    if op in COMPARISONS:
        enc = FixedLit(_encode(c.value, f, _FLIP[op] if swapped else op, x), f)
        return BinOp(op, enc, x) if swapped else BinOp(op, x, enc)
    if op == "*":
        _encode(c.value, f, "*", x)  # the range check
        q = Fraction(c.value)
        if q.denominator == 1:
            return BinOp(op, Lit(int(q)), x) if swapped else BinOp(op, x, Lit(int(q)))
        k = q.denominator.bit_length() - 1
        if k <= f:
            return Scaled(x, q.numerator, k)
        return Scaled(x, round(q * (1 << f)), f)
    if op in ("+", "-"):
        enc = FixedLit(_encode(c.value, f, op, x), f)
        return BinOp(op, enc, x) if swapped else BinOp(op, x, enc)
    return BinOp(op, c, x) if swapped else BinOp(op, x, c)  # & |: the node's typing refuses


def _check_integer(e: Expr, other: Expr, spec_of: Callable[[str], ColumnSpec]) -> Expr:
    if not _is_number(e):
        return e
    assert isinstance(e, Lit)
    v = e.value
    if isinstance(v, float):
        if not v.is_integer():
            names = sorted(columns_of(other))
            where = (
                f" (column {names[0]!r} is {spec_of(names[0]).kind})"
                if isinstance(other, Col)
                else ""
            )
            raise TypeError(
                f"the constant {v!r} is not an integer: only a fixed-point column "
                f"meets non-integer constants{where}"
            )
        return Lit(int(v))
    return e


def bind_literals(e: Expr, spec_of: Callable[[str], ColumnSpec] | SecretTable) -> Expr:
    """Encode the number literals of ``e`` that meet fixed-point columns at their scale.

    ``spec_of`` gives a column's spec (or is the table). Literals that meet no fixed-point
    column must be integers (a float equal to an integer counts as one); see the module
    docstring for the rounding. Raises ValueError (a literal the column cannot hold,
    naming the column) or TypeError (a non-integer literal meeting a non-fixed column).

    Examples
    --------
    >>> from sharelake.relational.table import ColumnSpec
    >>> specs = {"score": ColumnSpec("score", "fixed")}
    >>> b = bind_literals(col("score") > 0.5, specs.__getitem__)
    >>> b.right.value, b.right.frac_bits
    (32768, 16)
    """
    look: Callable[[str], ColumnSpec] = (
        (lambda name: spec_of[name].spec) if isinstance(spec_of, SecretTable) else spec_of
    )
    return _bind(e, look)


def _bind(e: Expr, spec_of: Callable[[str], ColumnSpec]) -> Expr:
    if isinstance(e, Col | Lit):
        return _check_integer(e, e, spec_of) if _is_number(e) else e
    if isinstance(e, Scaled):
        return Scaled(_bind(e.operand, spec_of), e.num, e.shift)
    if isinstance(e, Not):
        return Not(_bind(e.operand, spec_of))
    if isinstance(e, IsNull):
        return IsNull(_bind(e.operand, spec_of))
    if isinstance(e, When):
        cond = _bind(e.cond, spec_of)
        then, other = e.then, e.other
        if not _is_number(then):
            then = _bind(then, spec_of)
        if not _is_number(other):
            other = _bind(other, spec_of)
        ft, fo = _fixed_bits(then, spec_of), _fixed_bits(other, spec_of)
        if _is_number(then) and fo is not None:
            assert isinstance(then, Lit)
            then = FixedLit(_encode(then.value, fo, "+", other), fo)
        if _is_number(other) and ft is not None:
            assert isinstance(other, Lit)
            other = FixedLit(_encode(other.value, ft, "+", then), ft)
        return When(
            cond, _check_integer(then, other, spec_of), _check_integer(other, then, spec_of)
        )
    if isinstance(e, BinOp):
        left, right = e.left, e.right
        if not _is_number(left):
            left = _bind(left, spec_of)
        if not _is_number(right):
            right = _bind(right, spec_of)
        if _is_number(right) and not _is_number(left):
            f = _fixed_bits(left, spec_of)
            if f is not None:
                assert isinstance(right, Lit)
                return _bind_pair(e.op, left, right, f, swapped=False)
        if _is_number(left) and not _is_number(right):
            f = _fixed_bits(right, spec_of)
            if f is not None:
                assert isinstance(left, Lit)
                return _bind_pair(e.op, right, left, f, swapped=True)
        return BinOp(
            e.op, _check_integer(left, right, spec_of), _check_integer(right, left, spec_of)
        )
    raise TypeError(f"unsupported expression node {type(e).__name__}")

"""Number literals meeting fixed-point columns: binding a plan's constants to a scale.

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

Division (``x / y``, ``x // y``, ``x % y``) is bound to a
:class:`~sharelake.relational.expr.Divide` node: ``/`` gives a ``fixed`` quotient with 16
fractional bits, the exact quotient truncated toward zero (the numerator is shifted by
``16 + f_y - f_x`` bits, ``f`` the operands' scales, 0 for integers); ``//`` and ``%``
work on integers only. A constant divisor ``c`` of a ``fixed`` column with ``1 / c`` a
multiple of ``2^-f`` is an exact shift (:class:`~sharelake.relational.expr.Scaled`); a
non-integer constant otherwise meets the division at scale 16 (rounded to the nearest
multiple of ``2^-16``).

A literal whose magnitude is not below ``2^(62-f)`` (the range of the column, see
:mod:`sharelake.relational.encode`), or that is not finite, is refused with an error
naming the column; so is a non-integer literal meeting a column that is not ``fixed``.

Text constants (labels) meet ``category`` and ``string`` columns: ``x == "Noord"`` on a
category column compares with the label's position in the public dictionary (a label
not in it is an error naming the column and its labels; ``<``, ``<=``, ``>``, ``>=``
only on a column whose schema says ``ordered``, by the dictionary's order, as pandas'
ordered categoricals); on a string column ``==`` and ``!=`` compare with the text's
64-bit digest (:func:`sharelake.relational.encode.string_digest`), as the column holds.

Leakage: none (a public rewrite of the expression before it is evaluated).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

from ..mpc.ring import to_signed
from .encode import string_digest
from .expr import (
    COMPARISONS,
    DIVISIONS,
    QUOTIENT_FRAC_BITS,
    BinOp,
    BinOpName,
    Col,
    DatePartOf,
    Divide,
    Expr,
    FixedLit,
    IsNull,
    LabelLit,
    Lit,
    Not,
    RoundTo,
    Scaled,
    StrMatch,
    When,
    columns_of,
)
from .table import ColumnSpec, SecretTable, normalize_text

__all__ = ["bind_literals"]


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
    if isinstance(e, Divide):
        return QUOTIENT_FRAC_BITS if e.op == "/" else None
    if isinstance(e, RoundTo):
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
    return (
        isinstance(e, Lit)
        and not isinstance(e, FixedLit | LabelLit)
        and not isinstance(e.value, bool | str)
    )


def _is_label(e: Expr) -> bool:
    return isinstance(e, Lit) and not isinstance(e, LabelLit) and isinstance(e.value, str)


def _label_branch(label: Expr, column: Col, spec_of: Callable[[str], ColumnSpec]) -> Expr:
    """A label as a ``when`` branch beside a category column: its code there."""
    if spec_of(column.name).kind != "category":
        return label  # refused when evaluated (a computed string has no bytes)
    bound = _bind_label(BinOp("==", column, label), spec_of)
    assert isinstance(bound, BinOp)
    return bound.right


def _bind_label(e: BinOp, spec_of: Callable[[str], ColumnSpec]) -> Expr:
    """``x op 'label'`` (either side) with ``x`` a category or string column: the label
    becomes the category's code (its position in the public dictionary) or the string's
    digest, the values those columns hold inside MPC."""
    swapped = _is_label(e.left)
    label, other = (e.left, e.right) if swapped else (e.right, e.left)
    assert isinstance(label, Lit) and isinstance(label.value, str)
    text = label.value
    if not isinstance(other, Col):
        raise TypeError(  # a computed value or another text
            f"the text {text!r} can only be compared with a category or string column "
            f"(t.region == {text!r}), not with a computed value or another text"
        )
    spec = spec_of(other.name)
    if e.op not in COMPARISONS:
        raise TypeError(f"{e.op} of column {other.name!r} and the text {text!r} is not defined")
    text = normalize_text(text, spec.normalized)  # as the owner's values were at upload
    code: int
    if spec.kind == "category":
        cats = list(spec.categories or ())
        if text not in cats:
            raise TypeError(
                f"{text!r} is not a label of category column {other.name!r} "
                f"(its labels: {', '.join(repr(c) for c in cats)})"
            )
        if e.op not in ("==", "!=") and not spec.ordered:
            raise TypeError(
                f"category column {other.name!r} is not ordered, so only == and != (or isin) "
                "compare it with a label; give it ordered = true in the schema file to "
                "compare by the order of its labels"
            )
        code = cats.index(text)
    elif spec.kind == "string":
        if e.op not in ("==", "!="):
            raise TypeError(
                f"string column {other.name!r} compares with a text only by == and != "
                "(or isin): inside MPC a string is a digest, which has no order"
            )
        code = int(to_signed(string_digest([text]))[0])
    else:
        raise TypeError(
            f"column {other.name!r} is {spec.kind}, so it cannot be compared with the text "
            f"{text!r}"
            + (" (write the date as datetime.date(y, m, d))" if spec.kind == "date" else "")
        )
    lit = LabelLit(code, text)
    return BinOp(e.op, lit, other) if swapped else BinOp(e.op, other, lit)


def _encode(value: float | int | str, f: int, op: str, other: Expr) -> int:
    """``value`` at scale ``f`` for ``x op value``: rounded so that the result is exact."""
    name = _column_name(other)
    if isinstance(value, str):
        raise TypeError(f"the text {value!r} cannot meet fixed-point column {name!r}")
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


def _division_operand(e: Expr, op: str, other: Expr) -> tuple[Expr, int]:
    """A number literal in a division as an encoded operand, and its scale."""
    assert isinstance(e, Lit) and not isinstance(e.value, str)
    q = Fraction(e.value)
    if q.denominator == 1:
        return Lit(int(q)), 0
    if op != "/":
        raise TypeError(f"{op} works on integers: the constant {e.value!r} is not one")
    f = QUOTIENT_FRAC_BITS
    return FixedLit(_encode(e.value, f, "+", other), f), f


def _bind_divide(
    op: BinOpName, left: Expr, right: Expr, spec_of: Callable[[str], ColumnSpec]
) -> Expr:
    """``left op right`` for ``/``, ``//``, ``%``, operands already bound."""
    if _is_number(right) and op == "/":
        fl = _fixed_bits(left, spec_of)
        assert isinstance(right, Lit) and not isinstance(right.value, str)
        inv = 1 / Fraction(right.value)
        k = inv.denominator.bit_length() - 1
        if fl is not None and inv.denominator == 1 << k and k <= fl:
            return Scaled(left, inv.numerator, k)  # an exact shift, as x * (1 / c)
    fl = fr = None
    if _is_number(left):
        left, fl = _division_operand(left, op, right)
    else:
        fl = _fixed_bits(left, spec_of) or 0
    if _is_number(right):
        right, fr = _division_operand(right, op, left)
    else:
        fr = _fixed_bits(right, spec_of) or 0
    if op != "/" and (fl or fr):
        raise TypeError(
            f"{op} works on integer columns; on decimal columns write x / y (a decimal "
            "quotient) and compare or round it"
        )
    shift = QUOTIENT_FRAC_BITS + fr - fl if op == "/" else 0
    if shift < 0:
        raise TypeError(
            f"x / y: x has {fl} fractional bits, more than {QUOTIENT_FRAC_BITS} + those of y"
        )
    return Divide(op, left, right, shift)


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
    >>> from sharelake.relational.expr import col
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
    if isinstance(e, DatePartOf):
        return DatePartOf(e.part, _bind(e.operand, spec_of))
    if isinstance(e, StrMatch):
        return e  # the text constant stays text: it is matched against the bytes
    if isinstance(e, RoundTo):
        inner = _bind(e.operand, spec_of)
        return RoundTo(inner, e.decimals, _fixed_bits(inner, spec_of) or 0)
    if isinstance(e, When):
        cond = _bind(e.cond, spec_of)
        then, other = e.then, e.other
        if not _is_number(then):
            then = _bind(then, spec_of)
        if not _is_number(other):
            other = _bind(other, spec_of)
        if _is_label(then) and isinstance(other, Col):  # fill_null('label') on a category
            then = _label_branch(then, other, spec_of)
        if _is_label(other) and isinstance(then, Col):
            other = _label_branch(other, then, spec_of)
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
    if isinstance(e, Divide):
        return e
    if isinstance(e, BinOp):
        if _is_label(e.left) or _is_label(e.right):
            return _bind_label(e, spec_of)
        left, right = e.left, e.right
        if not _is_number(left):
            left = _bind(left, spec_of)
        if not _is_number(right):
            right = _bind(right, spec_of)
        if e.op in DIVISIONS:
            return _bind_divide(e.op, left, right, spec_of)
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

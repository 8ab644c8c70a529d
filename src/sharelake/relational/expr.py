"""Column expressions with one meaning in MPC and in plaintext.

An expression tree (``col("age") >= 18``, ``(col("a") + col("b")) * 2``,
``when(cond, x, y)``, ``col("x").is_null()``) is evaluated either on a
:class:`~sharelake.relational.table.SecretTable` inside MPC (:func:`eval_secret`) or on a
pandas DataFrame (:func:`eval_plain`, the plaintext twin used by the tests and by
design mode). Booleans are 0/1 values. Nulls propagate as in SQL: an expression is
null when an operand is null, except that ``&`` and ``|`` use three-valued logic as SQL
and pandas' nullable booleans do (``False & NA`` is False, ``True | NA`` is True); a null
predicate does not keep a row.

Division (``/``, ``//``, ``%``) is bound on the node to a :class:`Divide` node and runs
the secure division of :mod:`sharelake.mpc.divide`; a zero or missing divisor makes the
result missing (pandas: inf or NaN).

Number constants meet fixed-point columns at the column's scale through
:func:`sharelake.relational.literals.bind_literals` (run by the node before typing an
expression; the rounding rules are stated there).

Leakage: none. Every node evaluates every operator on every row; nothing is opened.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, NoReturn, get_args

import numpy as np
import pandas as pd

from ..mpc import arith
from ..mpc.party import Party
from ..mpc.shares import AShare
from .table import SecretTable

BinOpName = Literal["+", "-", "*", "/", "//", "%", "<", "<=", ">", ">=", "==", "!=", "&", "|"]
COMPARISONS = {"<", "<=", ">", ">=", "==", "!="}
DIVISIONS = {"/", "//", "%"}
#: fractional bits of a quotient ``x / y`` (a ``fixed`` result, as decimal columns)
QUOTIENT_FRAC_BITS = 16


class Expr:
    """Base class of expression nodes; Python operators build trees."""

    def _bin(self, op: BinOpName, other: Any, *, swap: bool = False) -> BinOp:
        o = other if isinstance(other, Expr) else Lit(_constant(other))
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
        return When(IsNull(self), _as_lit(value), self)

    # -- pandas names (the same expression nodes; nothing new runs in MPC) ----------------

    def isna(self) -> IsNull:
        """pandas ``isna``: 1 where the value is missing (never null itself)."""
        return IsNull(self)

    isnull = isna

    def notna(self) -> Not:
        """pandas ``notna``: 1 where the value is present."""
        return Not(IsNull(self))

    notnull = notna

    def fillna(self, value: Any) -> When:
        """pandas ``fillna``: ``value`` where missing (a number or another expression)."""
        return self.fill_null(value)

    def isin(self, values: Any) -> Expr:
        """pandas ``isin``: 1 where the value equals one of ``values`` (a list of constants).

        An OR of equalities, one per value; a missing value is in no list (pandas: False).
        An empty list holds for no row.

        Examples
        --------
        >>> to_json(col("age").isin([1, 2]))["args"][2]["fn"]
        '|'
        """
        if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
            raise TypeError(
                f"isin needs a list of values, not {type(values).__name__}: "
                "write col.isin([v]) for one value"
            )
        vals = list(dict.fromkeys(values))
        if not vals:
            return Lit(False)
        out: Expr = self._bin("==", vals[0])
        for v in vals[1:]:
            out = BinOp("|", out, self._bin("==", v))
        return _not_null_true(self, out)

    def between(
        self, left: Any, right: Any, inclusive: Literal["both", "neither", "left", "right"] = "both"
    ) -> Expr:
        """pandas ``between``: ``left <= x <= right`` (``inclusive`` as pandas).

        Examples
        --------
        >>> to_json(col("age").between(18, 65))["fn"]
        'when'
        """
        ops: dict[str, tuple[BinOpName, BinOpName]] = {
            "both": (">=", "<="),
            "neither": (">", "<"),
            "left": (">=", "<"),
            "right": (">", "<="),
        }
        if inclusive not in ops:
            raise ValueError(f"inclusive must be one of {', '.join(ops)}, not {inclusive!r}")
        lo, hi = ops[inclusive]
        return _not_null_true(self, BinOp("&", self._bin(lo, left), self._bin(hi, right)))

    def abs(self) -> When:
        """pandas ``abs``: ``-x`` where ``x < 0`` (one secure comparison and select)."""
        return When(self._bin("<", 0), BinOp("-", Lit(0), self), self)

    def __abs__(self) -> When:
        return self.abs()

    def __neg__(self) -> BinOp:
        return BinOp("-", Lit(0), self)

    def round(self, decimals: int = 0) -> RoundTo:
        """pandas ``round(decimals)``: to the nearest multiple of ``10^-decimals``, ties
        to even (numpy's rule), inside MPC. An integer column is unchanged; a decimal
        result is that multiple truncated to the column's 2^-16 grid (within 2^-16).

        Examples
        --------
        >>> to_json(col("x").round(2))
        {'fn': 'round', 'args': [{'col': 'x'}, {'lit': 2}]}
        """
        if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 6:
            raise ValueError(f"round(decimals): an integer from 0 to 6, not {decimals!r}")
        return RoundTo(self, decimals)

    def __round__(self, ndigits: int | None = None) -> RoundTo:
        return self.round(ndigits or 0)

    def clip(self, lower: Any = None, upper: Any = None) -> Expr:
        """pandas ``clip``: values below ``lower`` become ``lower``, above ``upper`` ``upper``.

        Examples
        --------
        >>> to_json(col("age").clip(0, 120))["fn"]
        'when'
        """
        if lower is None and upper is None:
            raise TypeError("clip needs lower, upper or both")
        out: Expr = self
        if lower is not None:
            out = When(out._bin("<", lower), _as_lit(lower), out)
        if upper is not None:
            out = When(out._bin(">", upper), _as_lit(upper), out)
        return out

    def __truediv__(self, o: Any) -> BinOp:
        """pandas ``/``: a fixed-point quotient with 16 fractional bits (a decimal column).

        By a column (or any expression): secure division on the node
        (:func:`sharelake.mpc.divide.divide`), the exact quotient truncated toward zero
        to a multiple of ``2^-16``; missing where the divisor is 0 or missing (pandas:
        inf or NaN). By a public number ``c``: ``x * (1 / c)`` when ``1 / c`` is an
        integer, else the same secure division by ``c`` (on a decimal column a
        ``c`` with ``1 / c`` a multiple of ``2^-16``, as 2, 4 or 8, becomes an exact
        shift instead).

        Examples
        --------
        >>> to_json(col("a") / col("b"))["fn"], to_json(col("a") / 0.5)["fn"]
        ('/', '*')
        """
        if isinstance(o, Expr):
            return BinOp("/", self, o)
        c = _divisor(o, "/")
        inv = Fraction(1) / Fraction(c)
        if inv.denominator == 1:
            return self._bin("*", int(inv))
        return self._bin("/", c)

    def __rtruediv__(self, o: Any) -> BinOp:
        return self._bin("/", o, swap=True)

    def __floordiv__(self, o: Any) -> BinOp:
        """pandas ``//`` on integer columns: floor division (Python's), missing where the
        divisor is 0 or missing (pandas: inf or NaN).

        Examples
        --------
        >>> to_json(col("a") // 7)["fn"]
        '//'
        """
        if not isinstance(o, Expr):
            _divisor(o, "//")
        return self._bin("//", o)

    def __rfloordiv__(self, o: Any) -> BinOp:
        return self._bin("//", o, swap=True)

    def __mod__(self, o: Any) -> BinOp:
        """pandas ``%`` on integer columns: the remainder with the divisor's sign
        (Python's), missing where the divisor is 0 or missing (pandas: NaN).

        Examples
        --------
        >>> to_json(col("a") % 7)["fn"]
        '%'
        """
        if not isinstance(o, Expr):
            _divisor(o, "%")
        return self._bin("%", o)

    def __rmod__(self, o: Any) -> BinOp:
        return self._bin("%", o, swap=True)

    @property
    def str(self) -> StrAccessor:
        """pandas' ``.str`` on a string column: ``startswith(const)`` and
        ``contains(const, regex=False)`` inside MPC (:mod:`sharelake.relational.strings`);
        ``lower``/``upper``/``strip`` are refused with the upload step that does them.

        Examples
        --------
        >>> to_json(col("name").str.startswith("Ams"))["fn"]
        'str_startswith'
        """
        return StrAccessor(self)

    @property
    def dt(self) -> DateAccessor:
        """pandas' ``.dt`` on a date column: ``year``, ``month``, ``quarter`` inside MPC
        (:mod:`sharelake.relational.dates`); other parts are refused with an alternative.

        Examples
        --------
        >>> to_json(col("day").dt.year)
        {'fn': 'dt_year', 'args': [{'col': 'day'}]}
        """
        return DateAccessor(self)


STR_TESTS = ("startswith", "contains")
_REGEX_CHARS = set(".^$*+?{}[]\\|()")


class StrAccessor:
    """``x.str``: prefix and substring tests of secret strings."""

    def __init__(self, operand: Expr) -> None:
        self._operand = operand

    def startswith(self, pat: str) -> StrMatch:
        """1 where the string starts with the constant ``pat`` (missing stays missing)."""
        return StrMatch("startswith", self._operand, _pattern(pat))

    def contains(
        self, pat: str, case: bool = True, flags: int = 0, na: Any = None, regex: bool = True
    ) -> StrMatch:
        """1 where the string contains the constant ``pat`` (bytes, case-sensitive).

        pandas reads ``pat`` as a regular expression by default: a ``pat`` with regex
        characters needs ``regex=False`` (it is matched literally); ``case=False``,
        ``flags`` and ``na`` are refused.
        """
        if not case or flags or na is not None:
            raise TypeError(
                "str.contains runs inside MPC on the exact bytes: case=False, flags and na "
                "are not supported (normalise the case before upload)"
            )
        if regex and set(pat) & _REGEX_CHARS:
            raise TypeError(
                f"str.contains({pat!r}): regular expressions are not run inside MPC; pass "
                "regex=False to match the text literally"
            )
        return StrMatch("contains", self._operand, _pattern(pat))

    def _normalise(self, name: str) -> NoReturn:
        raise AttributeError(
            f"'.str.{name}()' is not computed on secret strings: normalise the column when "
            f"you upload it (session.upload(..., normalize={{'c': '{name}'}}) or `sharelake "
            f"upload --normalize c={name}`; the upload preview lists values that differ only "
            "in case or spaces); a text compared with a normalised column is normalised "
            "alike, so == and isin then match as .str." + name + "() would"
        )

    def lower(self) -> NoReturn:
        self._normalise("lower")

    def upper(self) -> NoReturn:
        self._normalise("upper")

    def strip(self) -> NoReturn:
        self._normalise("strip")

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(
            f"'.str.{name}' is not computed on secret strings (only .str.startswith and "
            ".str.contains): add the derived column before upload, or match whole values "
            "with == or isin (docs/pandas.md)"
        )


def _pattern(pat: Any) -> str:
    if not isinstance(pat, str):
        raise TypeError(f"a .str test needs a text constant, not {pat!r}")
    if "\x00" in pat:
        raise ValueError("a .str test constant cannot hold a NUL character")
    return pat


DATE_PARTS = ("year", "month", "quarter")


class DateAccessor:
    """``x.dt``: the calendar parts computed inside MPC."""

    def __init__(self, operand: Expr) -> None:
        self._operand = operand

    @property
    def year(self) -> DatePartOf:
        return DatePartOf("year", self._operand)

    @property
    def month(self) -> DatePartOf:
        return DatePartOf("month", self._operand)

    @property
    def quarter(self) -> DatePartOf:
        return DatePartOf("quarter", self._operand)

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(
            f"'.dt.{name}' is not computed inside MPC (only .dt.year, .dt.month and "
            ".dt.quarter): filter with date ranges, t.day.between(datetime.date(2023, 1, 1), "
            f"datetime.date(2023, 12, 31)), or add the part as its own column before upload "
            f"(df['{name}'] = df.day.dt.{name})"
        )


def _divisor(o: Any, op: str) -> int | float:
    """A public divisor: a finite non-zero number (an integer for ``//`` and ``%``)."""
    if isinstance(o, bool) or not isinstance(o, int | float) or not math.isfinite(o) or o == 0:
        raise TypeError(f"x {op} c needs a finite non-zero number c, not {o!r}")
    if op != "/" and not float(o).is_integer():
        raise TypeError(f"x {op} c works on integers: c must be an integer, not {o!r}")
    return o


def _as_lit(value: Any) -> Expr:
    return value if isinstance(value, Expr) else Lit(_constant(value))


def _constant(value: Any) -> Any:
    """A date constant as its day number (``date`` columns hold days since 1970-01-01);
    anything else unchanged (a bad constant is refused where the plan is built).

    Examples
    --------
    >>> _constant(datetime.date(1970, 1, 11)), _constant(3)
    (10, 3)
    """
    if isinstance(value, datetime.datetime):
        if value.time() != datetime.time(0) or value.tzinfo is not None:
            raise TypeError(
                f"a date column compares with a date, not the time {value!r}: "
                "write datetime.date(y, m, d)"
            )
        value = value.date()
    if isinstance(value, datetime.date):
        return (value - datetime.date(1970, 1, 1)).days
    return value


def _not_null_true(x: Expr, e: Expr) -> Expr:
    """``e`` where ``x`` is present, else 0 (pandas: a missing value is in no list)."""
    return When(IsNull(x), Lit(False), e)


@dataclass(frozen=True, eq=False)
class Col(Expr):
    name: str


@dataclass(frozen=True, eq=False)
class Lit(Expr):
    value: int | bool | float | str


@dataclass(frozen=True, eq=False)
class FixedLit(Lit):
    """A literal already encoded at a fixed-point scale (``value`` is ``c * 2^frac_bits``).

    Made by :func:`bind_literals` on the node; never part of a plan.
    """

    value: int
    frac_bits: int = 16


@dataclass(frozen=True, eq=False)
class LabelLit(Lit):
    """A text constant bound to the column it meets: ``value`` is the label's category code
    or the string's digest (as a signed 64-bit integer), ``label`` the text.

    Made by :func:`bind_literals` on the node; never part of a plan.
    """

    value: int
    label: str = ""


@dataclass(frozen=True, eq=False)
class Scaled(Expr):
    """``floor(operand * num / 2^shift)``: a fixed-point column times a public constant.

    Made by :func:`bind_literals` for ``x * c``; never part of a plan.
    """

    operand: Expr
    num: int
    shift: int


@dataclass(frozen=True, eq=False)
class RoundTo(Expr):
    """``operand.round(decimals)``: see :meth:`Expr.round`; on a fixed-point operand of
    scale ``frac_bits`` (0: an integer, unchanged). ``frac_bits`` is set by
    :func:`bind_literals`."""

    operand: Expr
    decimals: int
    frac_bits: int = -1


@dataclass(frozen=True, eq=False)
class StrMatch(Expr):
    """``operand.str.startswith(pattern)`` / ``.str.contains(pattern)``: 0/1, missing
    where the string is missing; the operand must be a string column (its bytes)."""

    test: str
    operand: Expr
    pattern: str


@dataclass(frozen=True, eq=False)
class DatePartOf(Expr):
    """``operand.dt.<part>`` of a date expression: an integer (year, month 1-12,
    quarter 1-4), missing outside the years of :mod:`sharelake.relational.dates`."""

    part: str
    operand: Expr


@dataclass(frozen=True, eq=False)
class Divide(Expr):
    """``left / right``, ``left // right`` or ``left % right`` on encoded integers:
    ``(left * 2^shift) / right`` (``op`` ``"/"``: truncated toward zero, so the quotient
    of fixed-point operands meets the output scale), Python's floor division or modulo.

    Made by :func:`bind_literals` from a plan's ``/``, ``//``, ``%``; never part of a plan.
    """

    op: BinOpName
    left: Expr
    right: Expr
    shift: int = 0


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


def _kleene(
    p: Party, op: str, x: AShare, xn: AShare | None, y: AShare, yn: AShare | None
) -> tuple[AShare, AShare]:
    """``x & y`` / ``x | y`` of 0/1 values with SQL's (and pandas') three-valued logic:
    ``False & NA`` is False, ``True | NA`` is True, otherwise NA decides.

    ``x`` where ``x`` is known (not null), for ``|`` its known truth and for ``&`` its
    known falsity, decides alone; the result is null only where no operand decides and
    one is null. Three multiplication rounds (one batched pair each).
    """
    from ..mpc.scan import mul_many

    n = len(x)
    one = _one(p, n)
    zero = p.public_a(np.zeros(n, dtype=np.uint64))
    xk, yk = one - (xn if xn is not None else zero), one - (yn if yn is not None else zero)
    a, b = (x, y) if op == "|" else (one - x, one - y)  # known true for |, false for &
    dx, dy, known = mul_many(p, [(a, xk), (b, yk), (xk, yk)])
    (both,) = mul_many(p, [(dx, dy)])
    decided = dx + dy - both  # some operand decides the result
    (nl,) = mul_many(p, [(one - known, one - decided)])  # undecided, and some operand null
    if op == "|":
        return decided, nl
    # &: 1 where nothing is known false and nothing is null
    return one - decided - nl, nl


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
    if isinstance(e, RoundTo):
        from .rounding import round_fixed

        v, nl = eval_secret(p, t, e.operand)
        if e.frac_bits <= 0:
            return v, nl
        r, bad = round_fixed(p, v, e.frac_bits, e.decimals)
        return r, _opt_or(p, nl, bad)
    if isinstance(e, StrMatch):
        from .strings import match_text

        if not isinstance(e.operand, Col) or t[e.operand.name].text is None:
            raise TypeError(f".str.{e.test} needs a string column, not a computed value")
        column = t[e.operand.name]
        assert column.text is not None and column.spec.max_len is not None
        got = match_text(
            p,
            column.text,
            column.spec.max_len,
            e.pattern.encode(),
            e.test,  # type: ignore[arg-type]
        )
        return got, column.null
    if isinstance(e, DatePartOf):
        from .dates import date_part

        v, nl = eval_secret(p, t, e.operand)
        part, bad = date_part(p, v, e.part)  # type: ignore[arg-type]  # checked in from_json
        return part, _opt_or(p, nl, bad)
    if isinstance(e, Divide):
        from ..mpc.divide import divide

        x, xn = eval_secret(p, t, e.left)
        y, yn = eval_secret(p, t, e.right)
        mode: Literal["trunc", "floor", "mod"] = {"/": "trunc", "//": "floor"}.get(  # type: ignore[assignment]
            e.op, "mod"
        )
        q, bad = divide(p, x, y, shift=e.shift, mode=mode)
        return q, _opt_or(p, _opt_or(p, xn, yn), bad)
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
        if e.op in DIVISIONS:
            raise TypeError(f"{e.op} must be bound to its operands' scales first (bind_literals)")
        if e.op in ("&", "|") and (xn is not None or yn is not None):
            return _kleene(p, e.op, x, xn, y, yn)
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
    if isinstance(e, RoundTo):
        from .rounding import round_fixed_plain

        v, nl = eval_plain(df, e.operand)
        if e.frac_bits <= 0:
            return v, nl
        r, bad = round_fixed_plain(v, e.frac_bits, e.decimals)
        return r, nl | bad
    if isinstance(e, StrMatch):
        from .strings import match_plain

        assert isinstance(e.operand, Col)
        texts: list[str | None] = [
            None if pd.isna(v) else str(v) for v in df[e.operand.name].tolist()
        ]
        hits = match_plain(texts, e.pattern, e.test)  # type: ignore[arg-type]
        return (
            np.array([int(bool(h)) for h in hits], dtype=np.int64),
            np.array([h is None for h in hits], dtype=bool),
        )
    if isinstance(e, DatePartOf):
        from .dates import date_part_plain

        v, nl = eval_plain(df, e.operand)
        part, bad = date_part_plain(v, e.part)  # type: ignore[arg-type]
        return part, nl | bad
    if isinstance(e, Divide):
        x, xn = eval_plain(df, e.left)
        y, yn = eval_plain(df, e.right)
        q, bad = divide_plain(x, y, e.op, e.shift)
        return q, xn | yn | bad
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
        if e.op in DIVISIONS:
            raise TypeError(f"{e.op} must be bound to its operands' scales first (bind_literals)")
        if e.op in ("&", "|"):  # three-valued logic, as _kleene
            tx, ty = (x != 0) & ~xn, (y != 0) & ~yn
            fx, fy = (x == 0) & ~xn, (y == 0) & ~yn
            decided = (tx | ty) if e.op == "|" else (fx | fy)
            nl3 = (xn | yn) & ~decided
            val = decided if e.op == "|" else ~decided & ~nl3
            return val.astype(np.int64), nl3
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


def divide_plain(
    x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], op: str, shift: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The plaintext twin of :func:`sharelake.mpc.divide.divide` on int64 encodings:
    (quotient, invalid) with Python's integer semantics, 0 where invalid (a zero divisor
    or ``|x| >= 2^(60 - shift)``)."""
    from ..mpc.divide import QUOTIENT_BITS

    out = np.zeros(len(x), dtype=np.int64)
    bad = np.zeros(len(x), dtype=bool)
    for i, (a, d) in enumerate(zip(x.tolist(), y.tolist(), strict=True)):
        if d == 0 or abs(a) >= 1 << (QUOTIENT_BITS - shift):
            bad[i] = True
        elif op == "/":
            q = (abs(a) << shift) // abs(d)
            out[i] = q if (a < 0) == (d < 0) else -q
        else:
            out[i] = a // d if op == "//" else a % d
    return out, bad


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
    if isinstance(e, LabelLit):
        return literal_json(e.label)
    if isinstance(e, Lit):
        return literal_json(e.value)
    if isinstance(e, Not):
        return {"fn": "not", "args": [to_json(e.operand)]}
    if isinstance(e, IsNull):
        return {"fn": "is_null", "args": [to_json(e.operand)]}
    if isinstance(e, DatePartOf):
        return {"fn": f"dt_{e.part}", "args": [to_json(e.operand)]}
    if isinstance(e, StrMatch):
        return {"fn": f"str_{e.test}", "args": [to_json(e.operand), literal_json(e.pattern)]}
    if isinstance(e, RoundTo):
        return {"fn": "round", "args": [to_json(e.operand), literal_json(e.decimals)]}
    if isinstance(e, When):
        return {"fn": "when", "args": [to_json(e.cond), to_json(e.then), to_json(e.other)]}
    if isinstance(e, BinOp):
        return {"fn": e.op, "args": [to_json(e.left), to_json(e.right)]}
    if isinstance(e, Scaled | Divide):
        raise TypeError("a bound product or quotient is made on the node, not part of a plan")
    raise TypeError(f"unsupported expression node {type(e).__name__}")


_BINOPS: tuple[BinOpName, ...] = get_args(BinOpName)


def from_json(d: Any) -> Expr:
    """Parse the plan form of an expression; raises ValueError naming what is wrong."""
    if not isinstance(d, dict):
        raise ValueError("an expression must be an object")
    if set(d) == {"col"} and isinstance(d["col"], str):
        return Col(d["col"])
    if set(d) == {"lit"} and isinstance(d["lit"], int | str):
        return Lit(d["lit"])
    if set(d) == {"lit", "shift"}:
        return Lit(_dyadic_value(d["lit"], d["shift"]))
    if set(d) == {"fn", "args"} and isinstance(d["args"], list):
        fn, args = d["fn"], [from_json(a) for a in d["args"]]
        if fn in _FN_NAMES and len(args) == 1:
            return _FN_NAMES[fn](args[0])
        if isinstance(fn, str) and fn.startswith("dt_") and fn[3:] in DATE_PARTS and len(args) == 1:
            return DatePartOf(fn[3:], args[0])
        if isinstance(fn, str) and fn.startswith("str_") and fn[4:] in STR_TESTS and len(args) == 2:
            pat = args[1]
            if not isinstance(pat, Lit) or not isinstance(pat.value, str):
                raise ValueError(f"{fn} needs a text constant as its second argument")
            return StrMatch(fn[4:], args[0], pat.value)
        if fn == "round" and len(args) == 2:
            nd = args[1].value if isinstance(args[1], Lit) else None
            if isinstance(nd, bool) or not isinstance(nd, int) or not 0 <= nd <= 6:
                raise ValueError("round needs a number of decimals from 0 to 6")
            return RoundTo(args[0], nd)
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
    if isinstance(e, Not | IsNull | DatePartOf | StrMatch | RoundTo):
        return columns_of(e.operand)
    if isinstance(e, When):
        return columns_of(e.cond) | columns_of(e.then) | columns_of(e.other)
    if isinstance(e, BinOp | Divide):
        return columns_of(e.left) | columns_of(e.right)
    raise TypeError(f"unsupported expression node {type(e).__name__}")


# ---- number literals (plan form and binding to fixed-point columns) ---------------------

#: Largest ``shift`` of a literal's plan form (the smallest float is 2^-1074).
MAX_SHIFT = 1074


def literal_json(value: int | bool | float | str) -> dict[str, Any]:
    """The canonical plan form of a constant.

    Integers, booleans and labels (``str``) are ``{"lit": v}``; a float equal to an
    integer is that integer (``2.0`` and ``2`` give the same plan); any other finite float
    is its exact binary value ``{"lit": m, "shift": k}`` = ``m / 2^k`` with ``m`` odd and
    ``k >= 1``.

    Examples
    --------
    >>> literal_json(0.5), literal_json(-2.0), literal_json(1.25)
    ({'lit': 1, 'shift': 1}, {'lit': -2}, {'lit': 5, 'shift': 2})
    """
    if isinstance(value, bool | int | str):
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
    if isinstance(v, str):
        raise TypeError(
            f"the text {v!r} meets no category or string column (see bind_literals): "
            "compare a column with it, e.g. t.region == 'Noord'"
        )
    if isinstance(v, float) and not v.is_integer():
        raise TypeError(f"the constant {v!r} meets no fixed-point column (see bind_literals)")
    return int(v)

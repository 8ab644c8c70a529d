"""Lazy, pandas-like tables: build a plan with familiar calls, run it with ``collect()``.

Nothing runs until :meth:`Table.collect`: every method returns a new :class:`Table`
holding a bigger plan (:mod:`sharelake.plan.nodes`). Column names are checked as you
go, so a typo fails at once with the list of columns.

Examples
--------
>>> from sharelake.client.frame import Table
>>> people = Table.of("people", ["pid", "age", "region"])
>>> adults = people[people.age >= 18]
>>> per_region = adults.groupby("region").agg(n=("pid", "count"), mean_age=("age", "mean"))
>>> per_region.columns
['region', 'n', 'mean_age']
>>> print(per_region.explain())  # doctest: +ELLIPSIS
Plan SHA-256: ...
1. read table 'people' (all columns)
2. keep the rows of step 1 where age >= 18
3. group step 2 by region: n = number of non-missing pid; mean_age = mean of age
Reveals to the analyst: the rows of step 3, every value and how many (columns: ...).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..plan import nodes as pn
from ..plan.canonical import PlanError, plan_hash
from ..plan.tree import JOIN_SUFFIXES
from ..relational.expr import Col, Expr, Lit, columns_of, to_json
from .pandas_api import PANDAS_DOC, unsupported

if TYPE_CHECKING:
    import pandas as pd

    from .session import Session

__all__ = ["Explanation", "GroupBy", "Table", "concat", "overlap", "persons"]

How = Literal["inner", "left", "right", "outer", "semi", "anti"]

#: the marker column an outer merge adds to find the right rows without a match
MATCH_KEY = "__matched"

#: the constant group key of a whole-table aggregate (dropped from the result)
ALL_KEY = "__all"


def _missing_attribute(name: str, columns: Sequence[str]) -> AttributeError:
    """The error for ``t.<name>`` that is neither a column nor a method of a lazy table:
    a pandas method names its alternative (:mod:`sharelake.client.pandas_api`)."""
    message = unsupported("DataFrame", name)
    if message is not None:
        return AttributeError(message)
    return AttributeError(
        f"no column {name!r}, and no such method (columns: {', '.join(columns)}; "
        f"pandas methods and their sharelake status: {PANDAS_DOC})"
    )


Validate = Literal["1:1", "1:m", "m:1", "m:m"]

_AGG_ALIASES = {
    "count": "count",
    "size": "count",
    "sum": "sum",
    "mean": "mean",
    "min": "min",
    "max": "max",
    "count_distinct": "count_distinct",
    "nunique": "count_distinct",
    "median": "median",
}


def _agg_fn(fn: str) -> str | None:
    """The plan's name of an aggregate function (aliases, ``pNN`` percentiles, ``var``,
    ``std`` and their ``_ddofN`` forms)."""
    if fn in _AGG_ALIASES:
        return _AGG_ALIASES[fn]
    if pn.quantile_fraction(fn) is not None or pn.moment_ddof(fn) is not None:
        return fn
    return None


def _moment_fn(fn: Literal["var", "std"], ddof: int) -> str:
    """The plan's name of ``var``/``std`` with pandas' ``ddof`` (0 to 9; 1 is the default)."""
    if isinstance(ddof, bool) or not isinstance(ddof, int) or not 0 <= ddof <= 9:
        raise ValueError(f"{fn}: ddof must be an integer from 0 to 9, not {ddof!r}")
    return fn if ddof == 1 else f"{fn}_ddof{ddof}"


def _percentile(q: float) -> str:
    """pandas ``quantile(q)`` as the plan's ``pNN`` (q a multiple of 0.01 in [0, 1])."""
    if isinstance(q, bool) or not isinstance(q, int | float) or not 0 <= q <= 1:
        raise ValueError(f"quantile needs q between 0 and 1, not {q!r}")
    nn = round(q * 100)
    if abs(nn - q * 100) > 1e-9:
        raise ValueError(f"quantile q must be a multiple of 0.01 (a percentile), not {q!r}")
    return f"p{nn}"


class Explanation(str):
    """Text of :meth:`Table.explain`; shows as plain lines in a REPL or notebook."""

    def __repr__(self) -> str:
        return str(self)


def _as_expr(value: Any) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, bool | int):
        return Lit(value)
    if isinstance(value, float) and math.isfinite(value):
        return Lit(value)
    raise TypeError(
        f"expected a column expression or a finite number, got {value!r} ({type(value).__name__})"
    )


def _names(value: str | Sequence[str], what: str) -> list[str]:
    out = [value] if isinstance(value, str) else list(value)
    if not out or not all(isinstance(v, str) for v in out):
        raise TypeError(f"{what} must be a column name or a list of them")
    return out


def _percent_label(q: float) -> str:
    """pandas' row label of a percentile: 0.25 -> '25%', 0.125 -> '12.5%'."""
    return f"{q * 100:g}%"


_EMPTY_ZERO = ("count", "count_distinct", "sum")
"""Whole-table aggregates pandas gives as 0 over no rows (the others are NaN)."""


def _suppressed(df: pd.DataFrame) -> int:
    return int(df.attrs.get("suppressed_groups", 0) or 0)


@dataclass(frozen=True)
class Whole:
    """How a whole-table aggregate (:meth:`Table.agg`, :meth:`Table.count_rows`) shows:
    always pandas' one row.

    A selection of no rows is no group inside MPC, so nothing is released; pandas gives
    one row of 0 (count, nunique, sum) and NaN (the rest), and so does this. A row the
    policy suppressed (fewer rows than its minimum group size) is one row of missing
    values, with the note in ``df.attrs``; it is never shown as 0.
    """

    fns: tuple[tuple[str, str], ...]
    name: str = "agg"
    #: a later plan step drops this reshape instead of refusing (the row is plain data)
    final: bool = False

    def apply(self, df: pd.DataFrame) -> pd.DataFrame:
        """One row: the released one, or pandas' empty-selection / suppressed row."""
        import pandas as pd

        if len(df):
            return df
        empty = _suppressed(df) == 0
        data = {}
        for c, fn in self.fns:
            if c not in df.columns:
                continue
            dtype = df[c].dtype
            if empty and fn in _EMPTY_ZERO:
                data[c] = pd.Series([0], dtype=dtype)
            else:  # a numpy int column cannot hold a missing value: its nullable twin
                data[c] = pd.Series([None], dtype="Int64" if dtype.kind in "iub" else dtype)
        out = pd.DataFrame(data, columns=df.columns)
        out.attrs.update(df.attrs)
        return out


@dataclass(frozen=True)
class Normalize:
    """How ``value_counts(normalize=True)`` divides the released counts by their total.

    With no group suppressed, the total is the sum of the released counts (no further
    release). Otherwise the total is released by a second, governed query (``total``:
    the row count of the same selection); the nodes may refuse it (differencing: the
    total minus the released counts is the size of the suppressed groups).
    """

    total: Table
    name: str = "value_counts"
    final: bool = True

    def apply(self, df: pd.DataFrame, total: pd.DataFrame | None = None) -> pd.DataFrame:
        """``count`` replaced by ``proportion`` (pandas' name), over ``total`` rows."""
        if _suppressed(df) == 0:
            n = float(df["count"].sum())
        elif total is None or not len(total) or total["rows"].isna().all():
            n = float("nan")
        else:
            n = float(total["rows"].iloc[0])
        out = df.rename(columns={"count": "proportion"})
        out["proportion"] = df["count"].astype("float64") / n if n else float("nan")
        out.attrs.update(df.attrs)
        return out


@dataclass(frozen=True)
class Describe:
    """How :meth:`Table.describe` reshapes its one released row: statistics as rows."""

    columns: tuple[str, ...]
    stats: tuple[str, ...]
    name: str = "describe"
    final: bool = True

    def apply(self, df: pd.DataFrame) -> pd.DataFrame:
        """The pandas layout (index: statistics; columns: the described columns)."""
        import pandas as pd

        row = df.iloc[0] if len(df) else None
        # no row: an empty selection (pandas: count 0) or a suppressed one (all missing)
        zero = row is None and _suppressed(df) == 0
        data = {
            c: [
                (0.0 if zero and s == "count" else float("nan"))
                if row is None
                else float(row[f"{c}_{s}"])
                for s in self.stats
            ]
            for c in self.columns
        }
        out = pd.DataFrame(data, index=list(self.stats))
        out.attrs.update(df.attrs)
        return out


@dataclass(frozen=True)
class Pivot:
    """How :meth:`Table.pivot_table` reshapes its group-by: ``index`` x ``columns``."""

    index: str
    columns: str
    values: str
    name: str = "pivot_table"
    final: bool = True

    def apply(self, df: pd.DataFrame) -> pd.DataFrame:
        """pandas' pivot of the released groups (a suppressed group is a missing cell)."""
        out = df.pivot(index=self.index, columns=self.columns, values=self.values)
        out.attrs.update(df.attrs)
        return out


class Table:
    """A lazy table: a plan plus, for checks, the column names of every table it reads.

    Build one with :meth:`sharelake.client.session.Session.table` (or :meth:`of`
    without a session, to write and explain plans offline).

    Examples
    --------
    >>> t = Table.of("visits", ["pid", "clinic", "day"])
    >>> t[["pid", "clinic"]].drop_duplicates().columns
    ['pid', 'clinic']
    """

    __slots__ = ("_columns", "_node", "_schemas", "_session", "_shape", "_store")

    def __init__(
        self,
        node: Mapping[str, Any],
        schemas: Mapping[str, Sequence[str]],
        *,
        session: Session | None = None,
    ) -> None:
        self._node: dict[str, Any] = dict(node)
        self._schemas = {k: list(v) for k, v in schemas.items()}
        self._session = session
        #: a reshape of the collected result (describe, pivot_table); None: as released
        self._shape: Whole | Normalize | Describe | Pivot | None = None
        #: the stored persons table this plan keeps (:meth:`stored_as`); None: released
        self._store: str | None = None
        try:
            self._columns = pn.output_columns(self._node, self._schemas)
        except PlanError as exc:
            raise KeyError(str(exc)) from None

    @classmethod
    def of(cls, name: str, columns: Sequence[str], *, session: Session | None = None) -> Table:
        """A scan of table ``name`` with these ``columns``.

        Examples
        --------
        >>> Table.of("people", ["age"]).columns
        ['age']
        """
        return cls(pn.scan(name), {name: list(columns)}, session=session)

    def _new(self, node: Mapping[str, Any], other: Table | None = None) -> Table:
        for t in (self, other):
            if t is not None and t._store is not None:
                raise TypeError(
                    f"this plan keeps the stored persons table {t._store!r} and releases "
                    "nothing: build queries on persons(..., stored=...) instead"
                )
        for t in (self, other):
            if t is not None and t._shape is not None and t._shape.final:
                raise TypeError(
                    f"the result of {t._shape.name}() is reshaped after collect(): build the "
                    f"rest of the query before {t._shape.name}(), or work on the collected "
                    "DataFrame"
                )
        schemas = dict(self._schemas)
        session = self._session
        if other is not None:
            for k, v in other._schemas.items():
                if k in schemas and schemas[k] != v:
                    raise ValueError(f"table {k!r} appears with two different schemas")
                schemas[k] = v
            session = session or other._session
        return Table(node, schemas, session=session)

    # -- columns and expressions ----------------------------------------------------------

    @property
    def columns(self) -> list[str]:
        """The result's column names (a ``mean`` shows under its own name)."""
        cols = list(self._columns)
        for m in pn.mean_names(self._node):
            if f"{m}_sum" in cols and f"{m}_count" in cols:
                cols[cols.index(f"{m}_sum")] = m
                cols.remove(f"{m}_count")
        for v in pn.moment_names(self._node):
            s_name, q_name, c_name = pn.moment_columns(v)
            if {s_name, q_name, c_name} <= set(cols):
                cols[cols.index(s_name)] = v
                cols.remove(q_name)
                cols.remove(c_name)
        return cols

    def _col(self, name: str) -> Col:
        if name not in self._columns:
            raise KeyError(f"no column {name!r} (columns: {', '.join(self.columns)})")
        return Col(name)

    def _check_expr(self, e: Expr, what: str) -> None:
        missing = sorted(columns_of(e) - set(self._columns))
        if missing:
            raise KeyError(
                f"{what} uses no-such column {missing[0]!r} (columns: {', '.join(self.columns)})"
            )

    def __getattr__(self, name: str) -> Col:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._columns:
            return Col(name)
        raise _missing_attribute(name, self.columns)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._columns))

    def __getitem__(self, key: str | Sequence[str] | Expr) -> Any:
        """``t["col"]`` a column, ``t[["a", "b"]]`` a projection, ``t[mask]`` a filter.

        Examples
        --------
        >>> t = Table.of("people", ["age", "region"])
        >>> t[t.age >= 18].plan["root"]["op"]
        'filter'
        """
        if isinstance(key, Expr):
            self._check_expr(key, "the filter")
            return self._new(pn.filter_rows(self._node, to_json(key)))
        if isinstance(key, str):
            return self._col(key)
        names = _names(key, "a column selection")
        for n in names:
            self._col(n)
        return self._new(pn.project(self._node, names))

    # -- operators ------------------------------------------------------------------------

    def assign(self, **columns: Expr | float | int | bool) -> Table:
        """Add or replace columns computed from expressions (secretly, on every row).

        Examples
        --------
        >>> t = Table.of("people", ["age"])
        >>> t.assign(adult=t.age >= 18, one=1).columns
        ['age', 'adult', 'one']
        """
        if not columns:
            raise TypeError("assign needs at least one column=expression")
        exprs = {k: _as_expr(v) for k, v in columns.items()}
        for k, e in exprs.items():
            self._check_expr(e, f"column {k!r}")
        return self._new(pn.assign(self._node, {k: to_json(e) for k, e in exprs.items()}))

    def merge(
        self,
        other: Table,
        *,
        on: str | Sequence[str] | None = None,
        left_on: str | Sequence[str] | None = None,
        right_on: str | Sequence[str] | None = None,
        how: How = "inner",
        validate: Validate = "m:1",
        suffixes: tuple[str, str] = JOIN_SUFFIXES,
        max_multiplicity: int | None = None,
    ) -> Table:
        """Join with ``other`` on key columns (pandas ``merge``).

        ``on`` names keys both sides share; ``left_on``/``right_on`` name them per side
        (both key columns are kept, as pandas does). ``how`` is ``"inner"``, ``"left"``,
        ``"right"`` (a left join with the sides swapped, columns in pandas' order),
        ``"outer"`` (the left join and the right rows without a match, concatenated: two
        secure joins; rows in no particular order, where pandas sorts them by key),
        ``"semi"`` (left rows with a match) or ``"anti"`` (left rows without). Other clashing column
        names get ``suffixes`` (default ``_x``, ``_y``). ``validate`` promises which side
        has unique keys: ``"m:1"`` (the default) the right, ``"1:m"`` the left, ``"1:1"``
        both; ``"m:m"`` needs ``max_multiplicity``, the most rows a key may have on the
        other side. The promise is checked inside MPC: a duplicate key fails the query.

        Examples
        --------
        >>> a = Table.of("people", ["pid", "age"])
        >>> b = Table.of("visits", ["pid", "clinic"])
        >>> b.merge(a, on="pid", how="left").columns
        ['pid', 'clinic', 'age']
        >>> c = Table.of("cases", ["person", "age"])
        >>> a.merge(c, left_on="pid", right_on="person", suffixes=("_p", "_c")).columns
        ['pid', 'age_p', 'person', 'age_c']
        """
        if not isinstance(other, Table):
            raise TypeError("merge needs another sharelake Table")
        if how not in ("inner", "left", "right", "outer", "semi", "anti"):
            raise ValueError(f"unknown how={how!r} (inner, left, right, outer, semi or anti)")
        if on is not None and (left_on is not None or right_on is not None):
            raise TypeError("merge takes on= or left_on= and right_on=, not both")
        if on is None:
            if left_on is None or right_on is None:
                raise TypeError("merge needs on= (shared key names) or left_on= and right_on=")
            lk, rk = _names(left_on, "left_on"), _names(right_on, "right_on")
            if len(lk) != len(rk):
                raise ValueError(f"left_on has {len(lk)} keys and right_on {len(rk)}")
        else:
            lk = rk = _names(on, "on")
        if not (isinstance(suffixes, tuple | list) and len(suffixes) == 2):
            raise TypeError("suffixes must be a pair of strings, e.g. ('_x', '_y')")
        for k in lk:
            self._col(k)
        for k in rk:
            other._col(k)
        if how == "outer":
            return self._outer(other, lk, rk, validate, suffixes, max_multiplicity)
        if how == "right":
            flipped = {"m:1": "1:m", "1:m": "m:1"}.get(validate, validate)
            joined = other._join(self, rk, lk, "left", flipped, max_multiplicity)
            swap = {"L": "R", "R": "L", "K": "K"}
            plan_name = {
                (swap[side], c): out
                for (side, c), out in _join_layout(other.columns, self.columns, rk, lk)
            }
            want = _join_layout(self.columns, other.columns, lk, rk, suffixes)
            return joined._renamed([(plan_name[key], out) for key, out in want])
        joined = self._join(other, lk, rk, how, validate, max_multiplicity)
        if how in ("semi", "anti") or tuple(suffixes) == JOIN_SUFFIXES:
            return joined
        default = _join_layout(self.columns, other.columns, lk, rk)
        want = _join_layout(self.columns, other.columns, lk, rk, suffixes)
        return joined._renamed([(d, w) for (_, d), (_, w) in zip(default, want, strict=True)])

    def _outer(
        self,
        other: Table,
        lk: list[str],
        rk: list[str],
        validate: Validate,
        suffixes: tuple[str, str],
        max_multiplicity: int | None,
    ) -> Table:
        """The full outer join: the left join, then the right join's rows whose left side
        found no match (a constant marker on the left is missing there), one after the
        other. Two secure joins; every part is an existing operator."""
        if MATCH_KEY in self._columns:
            raise ValueError(f"a column is named {MATCH_KEY!r}: rename it first")
        keys: dict[str, Any] = {"left_on": lk, "right_on": rk} if lk != rk else {"on": lk}
        opts: dict[str, Any] = {
            "validate": validate,
            "suffixes": suffixes,
            "max_multiplicity": max_multiplicity,
            **keys,
        }
        left = self.merge(other, how="left", **opts)
        marked = self.assign(**{MATCH_KEY: 1})
        right = marked.merge(other, how="right", **opts)
        unmatched = right[right._col(MATCH_KEY).isna()]
        return concat([left, unmatched[left.columns]])

    def _join(
        self,
        other: Table,
        lk: list[str],
        rk: list[str],
        how: str,
        validate: str,
        max_multiplicity: int | None,
    ) -> Table:
        """The plan join on ``lk`` = ``rk``: a right key of another name is copied under
        the left key's name on the right side first (the join keeps one column per key;
        the right key itself stays a column, missing where a left row has no match, as in
        pandas)."""
        right = other
        if lk != rk:
            clash = [a for a, b in zip(lk, rk, strict=True) if a != b and a in other.columns]
            if clash:
                raise ValueError(
                    f"left_on {clash[0]!r} is also a column of the right table; rename it "
                    f"first (right.rename(columns={{{clash[0]!r}: ...}})) or join on= it"
                )
            copies = {a: Col(b) for a, b in zip(lk, rk, strict=True) if a != b}
            right = other.assign(**copies)
        node = pn.join(
            self._node,
            right._node,
            on=lk,
            how=how,  # type: ignore[arg-type]
            validate=validate,  # type: ignore[arg-type]
            max_multiplicity=max_multiplicity,
        )
        _check_node(node)
        return self._new(node, right)

    def _renamed(self, pairs: Sequence[tuple[str, str]]) -> Table:
        """Columns ``old -> new`` in this order (a projection over computed copies)."""
        moved = {new: Col(old) for old, new in pairs if old != new}
        t = self.assign(**moved) if moved else self
        return t._new(pn.project(t._node, [new for _, new in pairs]))

    def groupby(self, by: str | Sequence[str]) -> GroupBy:
        """Group by key columns; follow with :meth:`GroupBy.agg`.

        Examples
        --------
        >>> t = Table.of("people", ["region", "age"])
        >>> t.groupby("region").agg(n=("*", "count"), oldest=("age", "max")).columns
        ['region', 'n', 'oldest']
        """
        keys = _names(by, "groupby keys")
        for k in keys:
            self._col(k)
        return GroupBy(self, keys)

    def sort_values(
        self, by: str | Sequence[str], *, ascending: bool | Sequence[bool] = True
    ) -> Table:
        """Sort by columns (stable; missing values last).

        Examples
        --------
        >>> t = Table.of("people", ["age", "pid"])
        >>> t.sort_values(["age", "pid"], ascending=[False, True]).plan["root"]["descending"]
        [True, False]
        """
        keys = _names(by, "sort keys")
        for k in keys:
            self._col(k)
        asc = [ascending] * len(keys) if isinstance(ascending, bool) else list(ascending)
        if len(asc) != len(keys):
            raise ValueError(f"ascending has {len(asc)} flags for {len(keys)} sort keys")
        return self._new(pn.sort(self._node, keys, [not a for a in asc]))

    def drop_duplicates(self, subset: str | Sequence[str] | None = None) -> Table:
        """Keep the first row of each distinct ``subset`` (all columns when None).

        Examples
        --------
        >>> Table.of("t", ["a", "b"]).drop_duplicates("a").plan["root"]["keys"]
        ['a']
        """
        keys = None if subset is None else _names(subset, "subset")
        for k in keys or []:
            self._col(k)
        return self._new(pn.distinct(self._node, keys))

    def head(self, n: int = 5) -> Table:
        """The first ``n`` rows (after a sort: the top ``n``).

        Examples
        --------
        >>> Table.of("t", ["a"]).head(3).plan["root"]["n"]
        3
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError("head needs a whole number n >= 0")
        return self._new(pn.head(self._node, n))

    # -- pandas idioms (each is the plan operators above; nothing new runs in MPC) -----------

    def query(self, expr: str) -> Table:
        """pandas ``query``: keep the rows where the expression holds.

        The supported subset (:mod:`sharelake.client.query_text`): columns, constants,
        comparisons (chained too), ``and``/``or``/``not``, ``+ - * /``, ``in [...]``,
        ``isin``, ``between``, ``isna``, ``notna``. The string is parsed, never run.

        Examples
        --------
        >>> t = Table.of("people", ["age", "score"])
        >>> t.query("age >= 18 and score.notna()").plan["root"]["op"]
        'filter'
        """
        from .query_text import parse_query

        return self[parse_query(expr, self.columns)]  # type: ignore[no-any-return]

    def rename(self, columns: Mapping[str, str] | None = None, **kwargs: Any) -> Table:
        """pandas ``rename(columns={old: new})``: the same columns, in the same order.

        Examples
        --------
        >>> Table.of("t", ["a", "b"]).rename(columns={"a": "x"}).columns
        ['x', 'b']
        """
        if columns is None or kwargs:
            raise TypeError("rename takes columns={old: new} (index labels do not exist here)")
        for old in columns:
            self._col(old)
        new = [columns.get(c, c) for c in self.columns]
        dup = sorted({c for c in new if new.count(c) > 1})
        if dup:
            raise ValueError(f"rename would give two columns named {dup[0]!r}")
        return self._renamed(list(zip(self.columns, new, strict=True)))

    def drop(self, columns: str | Sequence[str] | None = None, **kwargs: Any) -> Table:
        """pandas ``drop(columns=...)``: every other column, in order.

        Examples
        --------
        >>> Table.of("t", ["a", "b", "c"]).drop(columns=["b"]).columns
        ['a', 'c']
        """
        if columns is None or kwargs:
            raise TypeError(
                "drop takes columns=[...]; to drop rows, filter with a mask: t[~(t.a == 1)]"
            )
        gone = _names(columns, "drop columns")
        for c in gone:
            self._col(c)
        keep = [c for c in self.columns if c not in gone]
        if not keep:
            raise ValueError("drop would leave no column")
        return self[keep]  # type: ignore[no-any-return]

    def fillna(self, value: Mapping[str, Any] | float | int | bool) -> Table:
        """pandas ``fillna``: missing values replaced (one value, or ``{column: value}``).

        One value fills every column (each must be able to hold it).

        Examples
        --------
        >>> Table.of("t", ["a", "b"]).fillna({"a": 0}).columns
        ['a', 'b']
        """
        fills = dict(value) if isinstance(value, Mapping) else dict.fromkeys(self.columns, value)
        exprs = {c: self._col(c).fillna(v) for c, v in fills.items()}
        return self.assign(**exprs)

    def dropna(self, subset: str | Sequence[str] | None = None) -> Table:
        """pandas ``dropna``: the rows with no missing value (in ``subset``, or anywhere).

        Examples
        --------
        >>> Table.of("t", ["a", "b"]).dropna("a").plan["root"]["op"]
        'filter'
        """
        cols = self.columns if subset is None else _names(subset, "subset")
        mask: Expr = self._col(cols[0]).notna()
        for c in cols[1:]:
            mask = mask & self._col(c).notna()
        return self[mask]  # type: ignore[no-any-return]

    def nlargest(self, n: int, columns: str | Sequence[str]) -> Table:
        """pandas ``nlargest``: the ``n`` rows with the largest values (missing ones left
        out), largest first. Governed as a top-k: it reveals single rows' values.

        Examples
        --------
        >>> Table.of("t", ["a"]).nlargest(3, "a").plan["root"]["n"]
        3
        """
        keys = _names(columns, "nlargest columns")
        return self.dropna(keys).sort_values(keys, ascending=False).head(n)

    def nsmallest(self, n: int, columns: str | Sequence[str]) -> Table:
        """pandas ``nsmallest``: the ``n`` rows with the smallest values, smallest first.

        Examples
        --------
        >>> Table.of("t", ["a"]).nsmallest(2, "a").plan["root"]["input"]["descending"]
        [False]
        """
        keys = _names(columns, "nsmallest columns")
        return self.dropna(keys).sort_values(keys).head(n)

    def value_counts(
        self,
        subset: str | Sequence[str] | None = None,
        *,
        sort: bool = True,
        ascending: bool = False,
        dropna: bool = True,
        normalize: bool = False,
    ) -> Table:
        """pandas ``value_counts``: rows per distinct value (of ``subset``), in a column
        ``count``; most frequent first (ties by the values). A group-by count: values
        with fewer rows than the policy's minimum group size are suppressed.

        ``normalize=True``: the share of each value, in a column ``proportion`` (pandas'
        name), over the rows counted (without missing values when ``dropna``). With no
        group suppressed, the total is the sum of the released counts (nothing more is
        released); otherwise :meth:`collect` releases the total by a second governed
        query, which the nodes refuse when it would reveal the size of the suppressed
        groups (differencing).

        Examples
        --------
        >>> Table.of("t", ["region"]).value_counts("region").columns
        ['region', 'count']
        >>> Table.of("t", ["region"]).value_counts("region", normalize=True)._shape.name
        'value_counts'
        """
        keys = self.columns if subset is None else _names(subset, "subset")
        if "count" in keys:
            raise ValueError("value_counts names its result 'count': rename that column first")
        src = self.dropna(keys) if dropna else self
        out = src.groupby(keys).agg(count=("*", "count"))
        if sort:
            out = out.sort_values(["count", *keys], ascending=[ascending, *[True] * len(keys)])
        if normalize:
            out._shape = Normalize(src.count_rows())
        return out

    def agg(self, spec: Mapping[str, str | Sequence[str]]) -> Table:
        """Aggregates over the whole table, one row: ``{column: fn or [fns]}``.

        fn: count, size, sum, mean, min, max, nunique. One function names the result
        after the column; several name them ``<column>_<fn>``. Released as an aggregate
        (a table of fewer rows than the policy's minimum group size releases nothing).

        Examples
        --------
        >>> Table.of("t", ["a", "b"]).agg({"a": "sum", "b": ["min", "max"]}).columns
        ['a', 'b_min', 'b_max']
        """
        aggs = _agg_spec(self, spec)
        return self._whole(aggs)

    aggregate = agg

    def count_rows(self) -> Table:
        """The number of rows (pandas ``len(t)`` / ``shape[0]``), as a one-row table with a
        column ``rows``; released under the policy like any count.

        Examples
        --------
        >>> Table.of("t", ["a"]).count_rows().columns
        ['rows']
        """
        return self._whole({"rows": ("*", "count")})

    def _whole(self, aggs: Mapping[str, tuple[str, str]]) -> Table:
        """A group-by with one constant key (the whole table), the key dropped after."""
        if ALL_KEY in self._columns:
            raise ValueError(f"a column is named {ALL_KEY!r}: rename it first")
        grouped = self.assign(**{ALL_KEY: 1}).groupby(ALL_KEY).agg(**aggs)
        out = grouped._new(pn.project(grouped._node, [c for c in grouped._columns if c != ALL_KEY]))
        fns = tuple((c, _agg_fn(fn) or fn) for c, (_, fn) in aggs.items())
        out._shape = Whole(fns)
        return out

    def describe(
        self,
        columns: str | Sequence[str] | None = None,
        *,
        percentiles: Sequence[float] = (0.25, 0.5, 0.75),
        order_statistics: bool = True,
    ) -> Table:
        """pandas ``describe``: count, mean, min, percentiles and max of number columns,
        as one whole-table aggregate reshaped after collect (statistics as rows).

        ``columns``: the number columns to describe; by default every ``int`` or
        ``fixed`` column of a table bound to a session (offline: name them). ``std`` is
        pandas' (ddof 1), from the secure sum of squares (see :meth:`GroupBy.std`). Min,
        max and the percentiles are order
        statistics: over a column that is not ``reveal`` they need the owners' approval;
        ``order_statistics=False`` leaves them out (count and mean only). A table with
        fewer rows than the policy's minimum group size describes as missing values.

        Examples
        --------
        >>> d = Table.of("t", ["age"]).describe("age")
        >>> sorted(d.plan["root"]["input"]["aggs"])[:3]
        ['age_25%', 'age_50%', 'age_75%']
        """
        cols = self._number_columns() if columns is None else _names(columns, "columns")
        for c in cols:
            self._col(c)
        stats: list[tuple[str, str]] = [("count", "count"), ("mean", "mean"), ("std", "std")]
        if order_statistics:
            qs = [(f"{_percent_label(q)}", _percentile(q)) for q in percentiles]
            stats += [("min", "min"), *qs, ("max", "max")]
        named = {f"{c}_{label}": (c, fn) for c in cols for label, fn in stats}
        out = self._whole(named)
        out._shape = Describe(tuple(cols), tuple(label for label, _ in stats))
        return out

    def pivot_table(
        self,
        values: str,
        index: str,
        columns: str,
        aggfunc: str = "mean",
    ) -> Table:
        """pandas ``pivot_table`` for one value column and two keys: a group-by on
        ``(index, columns)``, pivoted after collect (groups under the policy's minimum
        group size are suppressed and show as missing cells).

        Examples
        --------
        >>> t = Table.of("t", ["region", "year", "age"])
        >>> t.pivot_table(values="age", index="region", columns="year").plan["root"]["op"]
        'groupby'
        """
        for c in (values, index, columns):
            if not isinstance(c, str):
                raise TypeError("pivot_table takes one column name each for values, index, columns")
        # pandas leaves missing keys out of a pivot table
        out = self.dropna([index, columns]).groupby([index, columns]).agg({values: aggfunc})
        out._shape = Pivot(index, columns, values)
        return out

    def _number_columns(self) -> list[str]:
        """The int and fixed columns read straight from a stored table (session catalog)."""
        if self._session is None:
            raise TypeError("describe() offline needs the columns: t.describe(['age', ...])")
        kinds: dict[str, str] = {}
        for name in pn.tables_of(self._node):
            for spec in self._session.table_info(name).schema:
                kinds.setdefault(spec.name, spec.kind)
        cols = [c for c in self._columns if kinds.get(c) in ("int", "fixed")]
        if not cols:
            raise ValueError("describe(): no number column to describe; name the columns")
        return cols

    # -- plan and results -----------------------------------------------------------------

    @property
    def plan(self) -> dict[str, Any]:
        """The plan JSON the nodes will run."""
        if self._store is not None:
            return pn.make_plan(self._node, release="table", table=self._store)
        return pn.make_plan(self._node)

    def stored_as(self, name: str) -> Table:
        """The plan that keeps this :func:`persons` table in the lake as ``name``.

        Nothing is released: each node keeps its shares of the secret person id of every
        row (a stored persons table, owned by no member, never scanned directly) with
        what it was made from (the lists' subplans and table versions, the linkage).
        Later queries name it with ``stored=name`` in :func:`persons` or :func:`overlap`
        over the same lists and linkage, and the nodes use its person ids instead of
        linking the lists again. Making it needs the approval of every owner of the
        lists (:meth:`request_approval`); ``collect()`` makes it (again: a new version)
        and returns one row, ``table``, ``version``, ``rows``. When a list is uploaded
        again, erased or dropped, a query naming it is refused until it is made again.

        Examples
        --------
        >>> p, q = Table.of("ngo_a", ["lk_pipeline"]), Table.of("police", ["lk_pipeline"])
        >>> persons([p, q], linkage="exact").stored_as("ngo_police").plan["release"]
        {'kind': 'table', 'table': 'ngo_police'}
        """
        node = self._node
        lk = node.get("linkage")
        if node.get("op") != "concat" or not isinstance(lk, dict) or "stored" in lk:
            raise TypeError("stored_as() keeps the result of persons([...], linkage=...)")
        out = Table(node, self._schemas, session=self._session)
        out._store = str(name)
        pn.validate_plan(out.plan)
        return out

    @property
    def plan_hash(self) -> str:
        """SHA-256 of the plan's canonical form (what approvals sign)."""
        return plan_hash(self.plan)

    def explain(self, *, verdict: bool = True) -> Explanation:
        """What the plan does, its SHA-256 and what it will reveal (readable text).

        On a table bound to a session, and with ``verdict``, the nodes' policy verdict
        is appended (allowed, needs approval or denied, with the reasons); nothing runs.

        Examples
        --------
        >>> print(Table.of("people", ["age"]).head(2).explain())  # doctest: +ELLIPSIS
        Plan SHA-256: ...
        1. read table 'people' (all columns)
        2. keep the first 2 rows of step 1
        Reveals to the analyst: the rows of step 2, every value and how many (columns: age).
        """
        plan = self.plan
        pn.validate_plan(plan)
        text = f"Plan SHA-256: {plan_hash(plan)}\n{pn.describe(plan, self._schemas)}"
        if verdict and self._session is not None:
            from ..errors import SharelakeError

            try:
                text += "\nPolicy check by the nodes:\n" + str(
                    self._session.plan_verdict(plan).get("text", "")
                )
            except SharelakeError as exc:
                text += f"\nPolicy check by the nodes: not available ({exc})"
        return Explanation(text)

    def request_approval(
        self, *, purpose: str | None = None, explanation: str = ""
    ) -> list[dict[str, Any]]:
        """Ask the owners of the tables this plan reads to approve it for you.

        Needed when :meth:`explain` says ``needs_approval``; the owners see the request
        with ``sharelake approvals list``. Returns each node's record of the request.
        ``purpose``: the purpose the query will serve (default: the session's); the
        approval holds for that purpose only. ``explanation``: your words for the owners.

        Examples
        --------
        >>> t.request_approval(purpose="monitoring")[0]["plan_hash"]  # doctest: +SKIP
        '5e0c...'
        """
        if self._session is None:
            raise RuntimeError("this table is not bound to a session: use session.table(name)")
        return self._session.request_approval(self.plan, purpose=purpose, explanation=explanation)

    def design(self, *, rows: int = 100, seed: int = 0) -> pd.DataFrame:
        """Design mode: run this query on dummy tables made from the schemas only.

        The nodes are asked for nothing but the public schemas; the dummy tables are
        generated, secret-shared and computed on here, by the same executor the nodes
        run, so the result has the shape of the real release (its values are
        meaningless). Use it to develop a query before :meth:`request_approval`.

        Examples
        --------
        >>> session.table("people").groupby("region").size().design(rows=50)  # doctest: +SKIP
        """
        if self._session is None:
            raise RuntimeError("this table is not bound to a session: use session.table(name)")
        from .design import run_design

        infos = {t.name: list(t.schema) for t in self._session.tables()}
        df = run_design(self.plan, infos, rows=rows, seed=seed, columns=self.columns)
        return df if self._shape is None else self._shape.apply(df)

    def collect(self, *, purpose: str | None = None, timeout: float | None = None) -> pd.DataFrame:
        """Run the plan on the three nodes and return the released rows as a DataFrame.

        Each node returns only its shares; the result is rebuilt here, and every share
        component is checked against its second copy (a disagreement raises
        :class:`~sharelake.errors.IntegrityError` naming the node). ``purpose`` is the
        purpose the query serves, one the consortium file lists (default: the session's,
        ``sharelake.connect(..., purpose=...)``); every node refuses a purpose a table's
        policy does not allow.

        Examples
        --------
        >>> df = session.table("people").head(5).collect(purpose="research")  # doctest: +SKIP
        """
        if self._session is None:
            raise RuntimeError("this table is not bound to a session: use session.table(name)")
        df = self._session.query(self.plan, timeout=timeout, columns=self.columns, purpose=purpose)
        if isinstance(self._shape, Normalize) and _suppressed(df):
            total = self._shape.total.collect(purpose=purpose, timeout=timeout)
            return self._shape.apply(df, total)
        return df if self._shape is None else self._shape.apply(df)

    def __repr__(self) -> str:
        tables = ", ".join(pn.tables_of(self._node))
        return (
            f"<sharelake.Table (lazy) of {tables}; columns: {', '.join(self.columns)}; "
            "call .collect() to run, .explain() to review>"
        )

    def __len__(self) -> int:
        """pandas ``len(t)``: the number of rows, released by a query (it runs one).

        The same release as ``t.count_rows().collect()``: the nodes' policy decides
        (minimum group size, differencing check, query budget, audit log), and it is
        spent and logged like any other query. A count the policy suppresses raises
        :class:`~sharelake.client.errors.SuppressedCountError`; a refusal raises the
        nodes' error. Offline (no session) there is nothing to count.

        Examples
        --------
        >>> len(session.table("people"))  # doctest: +SKIP
        1204
        """
        if self._session is None:
            raise TypeError(
                "len() of a table with no session: the row count is released by the nodes "
                "(session.table(name), then len(t) or t.count_rows().collect())"
            )
        from .errors import SuppressedCountError

        df = self.count_rows().collect()
        if not len(df) or df["rows"].isna().any():
            raise SuppressedCountError(
                "the row count was suppressed by the policy (fewer rows than its minimum "
                "group size); select more rows, e.g. a coarser filter"
            )
        return int(df["rows"].iloc[0])

    @property
    def shape(self) -> tuple[int, int]:
        """pandas ``shape``: ``(len(t), number of columns)``; the row count is released
        by a query as :meth:`__len__` says (the columns are known without one).

        Examples
        --------
        >>> session.table("people").shape  # doctest: +SKIP
        (1204, 5)
        """
        return len(self), len(self.columns)

    @property
    def dtypes(self) -> pd.Series[Any]:
        """pandas ``dtypes``: the type each result column will have, from the catalog's
        public schemas (no query; the plan runs here on empty tables).

        Decoded as :func:`~sharelake.client.results.rebuild` does: ``int`` -> int64,
        ``fixed`` -> float64, ``bool`` -> bool, ``date`` -> datetime64, ``category`` ->
        category, ``string`` -> object; a column with missing values comes back in
        pandas' nullable twin (``Int64``, ``boolean``).

        Examples
        --------
        >>> session.table("people").dtypes  # doctest: +SKIP
        pid         int64
        age         int64
        region   category
        dtype: object
        """
        if self._session is None:
            raise TypeError("dtypes need the catalog's schemas: use session.table(name)")
        from .design import run_design

        infos = {t.name: list(t.schema) for t in self._session.tables()}
        df = run_design(self.plan, infos, rows=0, columns=self.columns)
        if self._shape is not None and self._shape.final:
            df = self._shape.apply(df)
        return df.dtypes

    def __contains__(self, name: object) -> bool:
        """pandas ``"age" in t``: whether the result has that column (no query).

        Examples
        --------
        >>> "age" in Table.of("people", ["age"]), "pid" in Table.of("people", ["age"])
        (True, False)
        """
        return name in self.columns

    def __iter__(self) -> Any:
        raise TypeError(
            "a lazy table has no rows to iterate over here: collect() first (iterate over "
            "the released DataFrame)"
        )

    def __bool__(self) -> bool:
        return True


class GroupBy:
    """A pending group-by: :meth:`agg`, a selection ``g["b"]`` or ``g[["b", "c"]]``, or a
    shortcut (``sum``, ``mean``, ``min``, ``max``, ``count``, ``nunique``, ``size``)."""

    def __init__(self, table: Table, keys: list[str], selected: list[str] | None = None) -> None:
        self._table = table
        self._keys = keys
        self._selected = selected

    def __getitem__(self, key: str | Sequence[str]) -> GroupBy:
        """pandas ``groupby(k)["b"]``: the aggregates that follow apply to these columns.

        Examples
        --------
        >>> t = Table.of("people", ["region", "age"])
        >>> t.groupby("region")["age"].sum().columns
        ['region', 'age']
        """
        names = _names(key, "a column selection")
        for n in names:
            self._table._col(n)
            if n in self._keys:
                raise KeyError(f"{n!r} is a group key; select the columns to aggregate")
        return GroupBy(self._table, self._keys, names)

    def _values(self) -> list[str]:
        if self._selected is not None:
            return self._selected
        return [c for c in self._table.columns if c not in self._keys]

    def agg(
        self,
        spec: str | Sequence[str] | Mapping[str, str | Sequence[str]] | None = None,
        /,
        **named: tuple[str, str],
    ) -> Table:
        """Aggregates: pandas named aggregation ``out=(column, fn)``, a dict
        ``{column: fn or [fns]}``, or, after a selection, ``fn`` / ``[fns]``.

        fn: count, size, sum, mean, var, std (ddof 1; ``var_ddof0`` ... for others),
        min, max, nunique (count_distinct), median, pNN. ``("*",
        "count")`` (or ``"size"``) counts rows. One function names the result after the
        column; several name them ``<column>_<fn>``.

        Examples
        --------
        >>> t = Table.of("people", ["region", "age"])
        >>> t.groupby("region").agg(n=("age", "size")).plan["root"]["aggs"]
        {'n': ['*', 'count']}
        >>> t.groupby("region").agg({"age": ["min", "max"]}).columns
        ['region', 'age_min', 'age_max']
        >>> t.groupby("region")["age"].agg("mean").columns
        ['region', 'age']
        """
        if spec is not None and named:
            raise TypeError("agg takes a dict/function or out=(column, fn) pairs, not both")
        if spec is not None:
            if isinstance(spec, Mapping):
                pairs = _agg_spec(self._table, spec)
            else:
                pairs = _agg_spec(self._table, dict.fromkeys(self._values(), spec))
        elif named:
            pairs = {}
            for out, one in named.items():
                if not isinstance(one, tuple) or len(one) != 2:
                    raise TypeError(f"{out}=...: expected a (column, function) pair")
                pairs[out] = (str(one[0]), str(one[1]))
        else:
            raise TypeError("agg needs at least one out=(column, function)")
        aggs: dict[str, tuple[str, pn.AggFn]] = {}
        for out, (src, fn) in pairs.items():
            plan_fn = _agg_fn(fn)
            if plan_fn is None:
                raise ValueError(f"{out}=...: unknown function {fn!r}{_agg_hint(fn)}")
            if fn == "size":
                src = "*"
            if src != "*":
                self._table._col(src)
            aggs[out] = (src, plan_fn)  # type: ignore[assignment]
        node = pn.groupby(self._table._node, self._keys, aggs)
        _check_node(node)
        return self._table._new(node)

    def size(self) -> Table:
        """Rows per group, in a column ``size``.

        Examples
        --------
        >>> Table.of("t", ["k"]).groupby("k").size().columns
        ['k', 'size']
        """
        return self.agg(size=("*", "count"))

    def _each(self, fn: str) -> Table:
        cols = self._values()
        if not cols:
            raise ValueError(f"{fn}: no column to aggregate besides the group keys")
        return self.agg(dict.fromkeys(cols, fn))

    def count(self) -> Table:
        """Non-missing values per group of each selected column (pandas ``count``)."""
        return self._each("count")

    def sum(self) -> Table:
        """Sum per group of each selected column (missing values ignored; 0 when none)."""
        return self._each("sum")

    def mean(self) -> Table:
        """Mean per group of each selected column (missing values ignored)."""
        return self._each("mean")

    def var(self, ddof: int = 1) -> Table:
        """Sample variance per group of each selected column (pandas ``var``: missing
        values ignored, ``ddof`` 1 by default; missing where fewer than ``ddof + 1``
        values). Released, like a mean, as the group's sum, sum of squares and count,
        which the client turns into the variance (docs/pandas.md states the precision).

        Examples
        --------
        >>> Table.of("t", ["k", "x"]).groupby("k")["x"].var(ddof=0).plan["root"]["aggs"]
        {'x': ['x', 'var_ddof0']}
        """
        return self._each(_moment_fn("var", ddof))

    def std(self, ddof: int = 1) -> Table:
        """Standard deviation per group (the square root of :meth:`var`).

        Examples
        --------
        >>> Table.of("t", ["k", "x"]).groupby("k")["x"].std().columns
        ['k', 'x']
        """
        return self._each(_moment_fn("std", ddof))

    def min(self) -> Table:
        """Smallest value per group (an order statistic: governed as a row's value)."""
        return self._each("min")

    def max(self) -> Table:
        """Largest value per group (an order statistic: governed as a row's value)."""
        return self._each("max")

    def nunique(self) -> Table:
        """Distinct non-missing values per group of each selected column."""
        return self._each("nunique")

    def median(self) -> Table:
        """Median per group of each selected column (missing values ignored; the mean of
        the two middle values for an even count). An order statistic: governed as a row's
        value (approval for a column that is not ``reveal``).

        Examples
        --------
        >>> Table.of("t", ["k", "x"]).groupby("k")["x"].median().plan["root"]["aggs"]
        {'x': ['x', 'median']}
        """
        return self._each("median")

    def quantile(self, q: float = 0.5) -> Table:
        """The ``q`` quantile per group (pandas' linear interpolation; ``q`` a multiple of
        0.01). An order statistic, as :meth:`median`.

        Examples
        --------
        >>> Table.of("t", ["k", "x"]).groupby("k")["x"].quantile(0.25).plan["root"]["aggs"]
        {'x': ['x', 'p25']}
        """
        return self._each(_percentile(q))

    aggregate = agg

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        message = unsupported("GroupBy", name)
        if message is not None:
            raise AttributeError(message)
        raise AttributeError(
            f"groupby(...).{name} is not a pandas method (supported: agg, size, count, "
            f"sum, mean, std, var, min, max, nunique, median, quantile; {PANDAS_DOC})"
        )


_AGG_HINTS = {
    "quantile": "; write pNN for the NN-th percentile ('p25'), or .quantile(0.25)",
    "first": "; rows have no order inside a group: min or max",
    "last": "; rows have no order inside a group: min or max",
    "apply": "; no user code runs inside MPC: agg with count/sum/mean/min/max/nunique",
    "transform": "; aggregate, then merge the result back on the keys",
}


def _agg_hint(fn: str) -> str:
    return _AGG_HINTS.get(fn, "")


def _agg_spec(table: Table, spec: Mapping[str, str | Sequence[str]]) -> dict[str, tuple[str, str]]:
    """``{column: fn or [fns]}`` as named aggregates (one fn: the column's name; several:
    ``<column>_<fn>``)."""
    if not spec:
        raise TypeError("agg needs at least one column: function")
    out: dict[str, tuple[str, str]] = {}
    for col, fns in spec.items():
        table._col(col)
        many = not isinstance(fns, str)
        for fn in [fns] if isinstance(fns, str) else list(fns):
            if not isinstance(fn, str):
                raise TypeError(f"agg: functions are named by strings, not {fn!r}")
            name = f"{col}_{fn}" if many else col
            if name in out:
                raise ValueError(f"agg: two results named {name!r}")
            out[name] = (col, fn)
    return out


def _join_layout(
    lcols: Sequence[str],
    rcols: Sequence[str],
    lk: Sequence[str],
    rk: Sequence[str],
    suffixes: Sequence[str] = JOIN_SUFFIXES,
) -> list[tuple[tuple[str, str], str]]:
    """pandas' result columns of a left/inner merge, each as ((side, column), name).

    ``side`` is ``"K"`` for a key both sides name alike (one column), ``"L"`` or ``"R"``;
    a non-key name on both sides gets the side's suffix. The plan's join names its
    columns this way with ``_x``/``_y`` (:func:`sharelake.plan.tree.lineage`).
    """
    shared = {a for a, b in zip(lk, rk, strict=True) if a == b}
    out: list[tuple[tuple[str, str], str]] = []
    for c in lcols:
        if c in lk:
            out.append((("K" if c in shared else "L", c), c))
        else:
            out.append((("L", c), c + suffixes[0] if c in rcols else c))
    for c in rcols:
        if c not in shared:
            out.append((("R", c), c + suffixes[1] if c in lcols else c))
    return out


def _check_node(node: Mapping[str, Any]) -> None:
    pn.validate_plan(pn.make_plan(dict(node)))


def overlap(
    tables: Sequence[Table],
    *,
    on: str | Sequence[str],
    linkage: Literal["fuzzy", "exact", "probabilistic"] | None = None,
    window: int | Literal["auto"] | None = "auto",
    rounds: int | None = None,
    reveal: Literal["overlap", "own"] = "overlap",
    params: Mapping[str, int] | None = None,
    stored: str | None = None,
) -> Table:
    """The overlap (capture-history) table of 2 to 12 lists on the person key ``on``.

    One row per non-empty combination of lists: boolean columns ``in_<table>`` and
    ``count``, the number of distinct keys found in exactly those lists.

    With ``linkage`` (``on="person"``), the tables are person tables (uploaded with
    ``upload_people``, possibly filtered) and the persons are found inside MPC: all lists
    are linked at once, one-to-one per pair of lists (``"probabilistic"``: the
    Fellegi-Sunter scorer with its trained weights; ``"fuzzy"``: the recommended hybrid
    scoring; ``"exact"``: some match key agrees), and the records are clustered
    into persons by ``rounds`` rounds of min-label propagation (default k + 1; see
    LINKAGE.md for the bound). ``window``: the sorted-neighbourhood window, None for
    every pair, ``"auto"`` every pair up to :data:`ALL_PAIRS_RECORDS` records in all and
    the default window above. ``reveal="own"`` (with ``linkage``): instead of the
    overlap table, the first table's records that are linked to some other list, with
    ``record_id``, ``lists`` (k) and ``matches`` (how many other lists each is linked
    to); only the owner of the first table may ask for it. ``params``: fuzzy scoring
    parameters in place of the recommended ones (integers, as ``session.link``'s; the
    plan carries them). ``stored``: the name of a stored persons table made from these
    same lists by this same linkage (:meth:`Table.stored_as`): its person ids are used
    instead of linking the lists again (the lists may come in another order).

    Examples
    --------
    >>> import sharelake
    >>> a, b = Table.of("ngo_a", ["pid"]), Table.of("police", ["pid"])
    >>> sharelake.overlap([a, b], on="pid").columns
    ['in_ngo_a', 'in_police', 'count']
    >>> p, q = Table.of("ngo_a", ["lk_pipeline"]), Table.of("police", ["lk_pipeline"])
    >>> sharelake.overlap([p, q], on="person", linkage="fuzzy").columns
    ['in_ngo_a', 'in_police', 'count']
    """
    ts = list(tables)
    if not all(isinstance(t, Table) for t in ts):
        raise TypeError("overlap needs a list of sharelake Tables")
    if len(ts) < 2:
        raise ValueError("overlap needs at least two tables")
    link: dict[str, Any] | None = None
    if linkage is not None:
        link = _linkage_spec(ts, linkage, window, rounds, params, stored)
        if reveal == "own":
            link["reveal"] = "own"
    elif reveal != "overlap":
        raise ValueError("reveal='own' needs linkage")
    elif params is not None or stored is not None:
        raise ValueError("params and stored are for an overlap by linkage")
    node = pn.overlap([t._node for t in ts], _names(on, "on"), linkage=link)
    _check_node(node)
    out = ts[0]
    for t in ts[1:]:
        out = out._new(out._node, t)
    return out._new(node)


def _linkage_spec(
    ts: Sequence[Table],
    linkage: str,
    window: int | Literal["auto"] | None,
    rounds: int | None,
    params: Mapping[str, int] | None,
    stored: str | None = None,
) -> dict[str, Any]:
    """The plan's ``linkage`` object of an overlap or concat by linkage."""
    from ..linkage.blocked import default_rounds
    from ..linkage.blocking import DEFAULT_WINDOW

    if window == "auto":
        total = _rows_read(ts)
        window = None if total is not None and total <= ALL_PAIRS_RECORDS else DEFAULT_WINDOW
    link: dict[str, Any] = {
        "mode": linkage,
        "window": window,
        "rounds": default_rounds(len(ts)) if rounds is None else int(rounds),
    }
    if params is not None:
        link["params"] = {str(k): v for k, v in params.items()}
    if stored is not None:
        link["stored"] = str(stored)
    return link


def persons(
    tables: Sequence[Table],
    *,
    linkage: Literal["fuzzy", "exact", "probabilistic"] = "fuzzy",
    window: int | Literal["auto"] | None = "auto",
    rounds: int | None = None,
    params: Mapping[str, int] | None = None,
    stored: str | None = None,
) -> Table:
    """The rows of 2 to 12 person tables one after the other, with the linked person.

    The tables (uploaded with ``upload_people``, possibly filtered, same columns) are
    linked into persons inside MPC exactly as :func:`overlap` with ``linkage`` does (all
    lists at once, one-to-one per pair of lists, ``rounds`` rounds of clustering); the
    result is their concatenation with one more column ``person``: a secret person id,
    equal for the rows of one person, for later operators -- ``drop_duplicates("person")``
    for de-duplicated persons, a join or group-by on it. The id itself (a row number of
    the union) means nothing outside the query; releasing it needs the owners' approval
    (its lineage is every list's encodings, used as match keys). ``linkage``, ``window``,
    ``rounds``, ``params`` and ``stored`` as :func:`overlap`'s;
    ``persons(...).stored_as(name)`` keeps the person ids in the lake for later queries.

    Examples
    --------
    >>> p, q = Table.of("ngo_a", ["record_id", "lk_pipeline"]), Table.of(
    ...     "police", ["record_id", "lk_pipeline"])
    >>> persons([p, q]).columns
    ['record_id', 'lk_pipeline', 'person']
    >>> persons([p, q]).drop_duplicates("person").columns[-1]
    'person'
    """
    ts = list(tables)
    if not all(isinstance(t, Table) for t in ts):
        raise TypeError("persons needs a list of sharelake Tables")
    if len(ts) < 2:
        raise ValueError("persons needs at least two tables")
    if linkage not in ("fuzzy", "exact", "probabilistic"):
        raise ValueError("linkage must be 'fuzzy', 'exact' or 'probabilistic'")
    link = _linkage_spec(ts, linkage, window, rounds, params, stored)
    node = pn.concat([t._node for t in ts], linkage=link)
    _check_node(node)
    out = ts[0]
    for t in ts[1:]:
        out = out._new(out._node, t)
    return out._new(node)


ALL_PAIRS_RECORDS = 1000
"""``overlap(linkage=..., window="auto")`` scores every pair of records up to this many
records in all (about half a million pairs) and uses the sorted-neighbourhood blocking
above it (LINKAGE.md)."""


def _rows_read(tables: Sequence[Table]) -> int | None:
    """Rows of the stored tables the plans read (from the catalog); None offline."""
    total = 0
    for t in tables:
        if t._session is None:
            return None
        for name in t._schemas:
            total += int(t._session.table_info(name).rows)
    return total


def concat(tables: Sequence[Table]) -> Table:
    """The rows of several tables with the same columns, one after the other (a union all).

    Examples
    --------
    >>> a, b = Table.of("ngo_a", ["pid"]), Table.of("police", ["pid"])
    >>> concat([a, b]).columns
    ['pid']
    """
    ts = list(tables)
    if not all(isinstance(t, Table) for t in ts):
        raise TypeError("concat needs a list of sharelake Tables")
    if not ts:
        raise ValueError("concat needs at least one table")
    node = pn.concat([t._node for t in ts])
    _check_node(node)
    out = ts[0]
    for t in ts[1:]:
        out = out._new(out._node, t)
    return out._new(node)

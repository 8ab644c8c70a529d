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
from typing import TYPE_CHECKING, Any, Literal

from ..plan import nodes as pn
from ..plan.canonical import PlanError, plan_hash
from ..relational.expr import Col, Expr, Lit, columns_of, to_json

if TYPE_CHECKING:
    import pandas as pd

    from .session import Session

__all__ = ["Explanation", "GroupBy", "Table", "concat", "overlap"]

How = Literal["inner", "left", "semi", "anti"]

PANDAS_DOC = "docs/pandas.md"
"""The page listing pandas methods with their sharelake status and alternatives."""

#: pandas DataFrame methods a lazy table does not have, each with what to write instead
#: ("" when there is no alternative yet); kept in step with docs/pandas.md.
UNSUPPORTED: dict[str, str] = {
    "query": "filter with a mask: t[(t.age >= 18) & (t.score > 0.5)]",
    "loc": "filter with a mask, t[t.age >= 18], and pick columns with t[['a', 'b']]",
    "iloc": "head(n) after sort_values(...)",
    "value_counts": "t.groupby('col').size()",
    "describe": "t.groupby(key).agg(n=('*', 'count'), mean=('x', 'mean'), low=('x', 'min'))",
    "count": "t.groupby(key).agg(n=('x', 'count'))",
    "sum": "t.groupby(key).agg(total=('x', 'sum'))",
    "mean": "t.groupby(key).agg(avg=('x', 'mean'))",
    "min": "t.groupby(key).agg(low=('x', 'min'))",
    "max": "t.groupby(key).agg(high=('x', 'max'))",
    "nunique": "t.groupby(key).agg(n=('x', 'nunique'))",
    "shape": "the row count is secret: t.groupby(key).size(), released under the policy",
    "size": "the row count is secret: t.groupby(key).size(), released under the policy",
    "nlargest": "t.sort_values('x', ascending=False).head(n)",
    "nsmallest": "t.sort_values('x').head(n)",
    "join": "t.merge(other, on='key', how='inner')",
    "rename": "t.assign(new_name=t.old_name)[[...columns to keep...]]",
    "drop": "pick the columns to keep: t[['a', 'b']]",
    "dropna": "t[~t.col.is_null()]",
    "to_pandas": "collect()",
    "compute": "collect()",
    "to_csv": "collect().to_csv(...)",
    "apply": "",
    "map": "",
    "pivot_table": "",
    "pivot": "",
    "melt": "",
    "fillna": "t.assign(col=t.col.fill_null(0))",
    "median": "",
    "quantile": "",
    "std": "",
    "var": "",
    "dtypes": "",
    "iterrows": "",
    "itertuples": "",
}


def _missing_attribute(name: str, columns: Sequence[str]) -> AttributeError:
    """The error for ``t.<name>`` that is neither a column nor a method of a lazy table."""
    if name in UNSUPPORTED:
        hint = UNSUPPORTED[name]
        instead = f"; instead: {hint}" if hint else "; there is no equivalent yet"
        return AttributeError(
            f"pandas' {name!r} is not supported on a lazy sharelake table{instead} "
            f"(every pandas method and its status: {PANDAS_DOC})"
        )
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
}


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

    __slots__ = ("_columns", "_node", "_schemas", "_session")

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
        on: str | Sequence[str],
        how: How = "inner",
        validate: Validate = "m:1",
        max_multiplicity: int | None = None,
    ) -> Table:
        """Join with ``other`` on key columns (pandas ``merge``; clashing names get _x/_y).

        ``validate`` promises which side has unique keys: ``"m:1"`` (the default) the
        right, ``"1:m"`` the left, ``"1:1"`` both; ``"m:m"`` needs ``max_multiplicity``,
        the most rows a key may have on the right. ``how`` is ``"inner"``, ``"left"``,
        ``"semi"`` (left rows with a match) or ``"anti"`` (left rows without).

        Examples
        --------
        >>> a = Table.of("people", ["pid", "age"])
        >>> b = Table.of("visits", ["pid", "clinic"])
        >>> b.merge(a, on="pid", how="left").columns
        ['pid', 'clinic', 'age']
        """
        if not isinstance(other, Table):
            raise TypeError("merge needs another sharelake Table")
        keys = _names(on, "on")
        node = pn.join(
            self._node,
            other._node,
            on=keys,
            how=how,
            validate=validate,
            max_multiplicity=max_multiplicity,
        )
        _check_node(node)
        return self._new(node, other)

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

    # -- plan and results -----------------------------------------------------------------

    @property
    def plan(self) -> dict[str, Any]:
        """The plan JSON the nodes will run."""
        return pn.make_plan(self._node)

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
        return run_design(self.plan, infos, rows=rows, seed=seed, columns=self.columns)

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
        return self._session.query(
            self.plan, timeout=timeout, columns=self.columns, purpose=purpose
        )

    def __repr__(self) -> str:
        tables = ", ".join(pn.tables_of(self._node))
        return (
            f"<sharelake.Table (lazy) of {tables}; columns: {', '.join(self.columns)}; "
            "call .collect() to run, .explain() to review>"
        )

    def __len__(self) -> int:
        raise TypeError("the row count of a lazy table is secret until collect()")

    def __bool__(self) -> bool:
        return True


class GroupBy:
    """A pending group-by; call :meth:`agg` with pandas named aggregation."""

    def __init__(self, table: Table, keys: list[str]) -> None:
        self._table = table
        self._keys = keys

    def agg(self, **named: tuple[str, str]) -> Table:
        """Aggregates as ``out=(column, fn)``; fn: count, sum, mean, min, max, count_distinct.

        ``("*", "count")`` (or ``"size"``) counts rows; ``"nunique"`` is an alias of
        ``count_distinct``.

        Examples
        --------
        >>> t = Table.of("people", ["region", "age"])
        >>> t.groupby("region").agg(n=("age", "size")).plan["root"]["aggs"]
        {'n': ['*', 'count']}
        """
        if not named:
            raise TypeError("agg needs at least one out=(column, function)")
        aggs: dict[str, tuple[str, pn.AggFn]] = {}
        for out, spec in named.items():
            if not isinstance(spec, tuple) or len(spec) != 2:
                raise TypeError(f"{out}=...: expected a (column, function) pair")
            src, fn = str(spec[0]), str(spec[1])
            if fn not in _AGG_ALIASES:
                raise ValueError(f"{out}=...: unknown function {fn!r}")
            if fn == "size":
                src = "*"
            if src != "*":
                self._table._col(src)
            aggs[out] = (src, _AGG_ALIASES[fn])  # type: ignore[assignment]
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


def _check_node(node: Mapping[str, Any]) -> None:
    pn.validate_plan(pn.make_plan(dict(node)))


def overlap(
    tables: Sequence[Table],
    *,
    on: str | Sequence[str],
    linkage: Literal["fuzzy", "exact"] | None = None,
    window: int | Literal["auto"] | None = "auto",
    rounds: int | None = None,
) -> Table:
    """The overlap (capture-history) table of 2 to 12 lists on the person key ``on``.

    One row per non-empty combination of lists: boolean columns ``in_<table>`` and
    ``count``, the number of distinct keys found in exactly those lists.

    With ``linkage`` (``on="person"``), the tables are person tables (uploaded with
    ``upload_people``, possibly filtered) and the persons are found inside MPC: all lists
    are linked at once, one-to-one per pair of lists (``"fuzzy"``: the recommended
    hybrid scoring; ``"exact"``: some match key agrees), and the records are clustered
    into persons by ``rounds`` rounds of min-label propagation (default k + 1; see
    LINKAGE.md for the bound). ``window``: the sorted-neighbourhood window, None for
    every pair, ``"auto"`` every pair up to :data:`ALL_PAIRS_RECORDS` records in all and
    the default window above.

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
    link = None
    if linkage is not None:
        from ..linkage.blocked import default_rounds
        from ..linkage.blocking import DEFAULT_WINDOW

        if window == "auto":
            total = _rows_read(ts)
            window = None if total is not None and total <= ALL_PAIRS_RECORDS else DEFAULT_WINDOW
        link = {
            "mode": linkage,
            "window": window,
            "rounds": default_rounds(len(ts)) if rounds is None else int(rounds),
        }
    node = pn.overlap([t._node for t in ts], _names(on, "on"), linkage=link)
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

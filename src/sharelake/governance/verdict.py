"""The verdict on a plan: allow, needs approval, or deny, with the reasons.

Every node calls :func:`check_plan` on its own before a plan touches data. The check
reads the *lineage* of every column through the plan (as SCQL's column control list is
propagated through its plans), computed once per plan and schemas by the plan layer
(:attr:`sharelake.plan.tree.Bound.lineages`): each intermediate column carries the set of
stored columns ``(table, column)`` it was computed from and its *form*:

``raw``
    a row-level value;
``key``
    a group key of an aggregate (one value per group of at least k rows);
``agg``
    an aggregate (count, sum, mean, min, max, count-distinct) over a group.

Each relation also carries the stored columns that decided *which rows* it has and in
what order (filter predicates, join and distinct keys, sort keys). Two kinds of checks
follow from the policies of :mod:`sharelake.governance.policy`:

Uses
    every use of a column (filter, join key, group key, aggregate input, sort key,
    distinct key, overlap key, computed column) is checked against the class of every
    stored column it derives from (:data:`ALLOWED_USES`).
Release
    the result goes to the analyst: a ``raw`` column may derive only from ``reveal``
    columns, a ``key`` column from ``reveal``/``group``, an ``agg`` column from
    ``reveal``/``group``/``aggregate``; rows released at row level may be selected or
    ordered only by ``reveal`` columns (an aggregate release may also be filtered and
    joined by ``aggregate``, ``group`` and ``match`` columns). A join or overlap on a
    non-``reveal`` key releases a join/intersection size, which needs ``release_sizes``.
    An aggregate that derives from any non-``reveal`` column is released with groups
    under k suppressed (k: the largest ``min_group_size`` of the tables it reads); one
    over ``reveal`` columns only is not (its rows could be released anyway).

Order statistics
    a per-group ``min``, ``max``, ``median`` or percentile (``pNN``) and a ``head``
    (top-k) over rows sorted by a column reveal single rows' values whatever the group
    size, so they are governed like raw values: over a column that is not ``reveal``
    they need the owners' approval (rule ``<class>:order_statistic``).

What the released cells are (which stored rows and at which granularity) is derived from
the same lineage by :mod:`sharelake.governance.lineage` for the differencing check.

A ``private`` column used or released, or a table whose ``analysts`` do not include the
analyst, makes the verdict ``deny``. Any other breach makes it ``needs_approval``: it
runs only with an approval signed by every owner of a table the plan touches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..linkage.people_table import ENCODING_COLUMNS, RECORD_ID
from ..plan import tree
from ..plan.canonical import PlanError
from ..plan.validate import quantile_fraction
from .outputs import protected_plan
from .policy import ColumnClass, Policy

__all__ = [
    "ALLOWED_USES",
    "ORDER_STATISTICS",
    "Decision",
    "Reason",
    "Release",
    "TableRef",
    "Verdict",
    "check_plan",
    "is_order_statistic",
]

Decision = Literal["allow", "needs_approval", "deny"]
Use = Literal[
    "filter",
    "join_key",
    "group_key",
    "agg_input",
    "sort_key",
    "distinct_key",
    "overlap_key",
    "compute",
    "link_key",
]
Src = tuple[str, str]

#: Aggregates that return one row's value (governed as raw values); so are the quantiles
#: (``median``, ``p0`` ... ``p100``: one row's value, or two rows' combined), see
#: :func:`is_order_statistic`.
ORDER_STATISTICS = frozenset({"min", "max", "median"})


def is_order_statistic(fn: str) -> bool:
    """Whether aggregate ``fn`` returns one (or two) rows' values whatever the group size.

    Examples
    --------
    >>> is_order_statistic("max"), is_order_statistic("p50"), is_order_statistic("sum")
    (True, True, False)
    """
    return fn in ORDER_STATISTICS or quantile_fraction(fn) is not None


ALLOWED_USES: dict[str, frozenset[str]] = {
    "filter": frozenset({"reveal", "group", "aggregate", "match"}),
    "join_key": frozenset({"reveal", "match"}),
    "group_key": frozenset({"reveal", "group"}),
    "agg_input": frozenset({"reveal", "group", "aggregate"}),
    "sort_key": frozenset({"reveal", "group", "aggregate"}),
    "distinct_key": frozenset({"reveal", "group", "match"}),
    "overlap_key": frozenset({"reveal", "match"}),
    "compute": frozenset({"reveal", "group", "aggregate", "match"}),
    "link_key": frozenset({"reveal", "match"}),
}
_RELEASE_ALLOWED: dict[str, frozenset[str]] = {
    "raw": frozenset({"reveal"}),
    "key": frozenset({"reveal", "group"}),
    "agg": frozenset({"reveal", "group", "aggregate"}),
}
_ROWS_ALLOWED = {
    "rows": frozenset({"reveal"}),
    "aggregate": frozenset({"reveal", "group", "aggregate", "match"}),
}
_USE_WORDS = {
    "filter": "in a filter",
    "join_key": "as a join key",
    "group_key": "as a group key",
    "agg_input": "inside an aggregate",
    "sort_key": "as a sort key",
    "distinct_key": "as a de-duplication key",
    "overlap_key": "as an overlap (match) key",
    "compute": "in a computed column",
    "link_key": "as a record-linkage encoding",
}
_CLASS_WORDS = {
    "reveal": "may be released as rows",
    "group": "may leave only as a group key of a released aggregate",
    "aggregate": "may leave only inside count/sum/mean of a released aggregate",
    "match": "may be used only as a join/match key or in a filter, never released",
    "private": "may not be used at all",
    None: "is not classified by the policy, so any use needs the owner's approval",
}


@dataclass(frozen=True)
class TableRef:
    """What the verdict needs to know about a table: owner, column names and policy."""

    owner: str
    schema: tuple[str, ...]
    policy: Policy


@dataclass(frozen=True)
class Reason:
    """Why a plan is not simply allowed.

    ``rule`` is ``"<class>:<use>"`` (e.g. ``"match:released"``, ``"aggregate:group_key"``,
    ``"private:filter"``, ``"unclassified:released"``), ``"analysts"`` or
    ``"release_sizes"`` or ``"stored_table"`` (the plan keeps a stored persons table: never
    without every owner's approval); ``severity`` says whether an owner's approval can lift it.
    """

    table: str
    column: str
    rule: str
    text: str
    severity: Literal["needs_approval", "deny"] = "needs_approval"


@dataclass(frozen=True)
class Release:
    """What the plan would release, and to whom.

    ``kind`` is ``"rows"`` (row-level values) or ``"aggregate"`` (groups, each opened only
    if it has at least ``min_group_size`` rows; the release says how many were
    suppressed). ``sizes`` lists the tables whose join/intersection sizes it reveals.
    """

    kind: Literal["rows", "aggregate"]
    to: str
    columns: tuple[str, ...]
    min_group_size: int | None
    sizes: tuple[str, ...] = ()

    def text(self) -> str:
        """One readable sentence."""
        cols = ", ".join(self.columns)
        if self.kind == "rows":
            out = f"rows with columns {cols} to {self.to!r}"
        else:
            out = (
                f"an aggregate with columns {cols} to {self.to!r}, groups under "
                f"{self.min_group_size} rows suppressed"
            )
        if self.sizes:
            out += f"; reveals join/intersection sizes of {', '.join(self.sizes)}"
        return out


@dataclass(frozen=True)
class Verdict:
    """A node's decision on a plan for an analyst.

    Attributes
    ----------
    decision
        ``allow``, ``needs_approval`` or ``deny``.
    reasons
        Every rule the plan breaks (empty when allowed).
    releases
        What would be released, and to whom.
    owners
        The owners of every table the plan touches: all of them must approve a plan
        that needs approval.
    tables
        The tables the plan reads.
    """

    decision: Decision
    reasons: tuple[Reason, ...]
    releases: Release
    owners: frozenset[str]
    tables: tuple[str, ...] = ()

    def text(self) -> str:
        """Readable verdict: decision, reasons (table, column, rule) and the release."""
        lines = [f"verdict: {self.decision}"]
        for r in self.reasons:
            where = f"{r.table}.{r.column}" if r.column else r.table
            lines.append(f"  - [{r.severity}] {where} ({r.rule}): {r.text}")
        lines.append(f"releases: {self.releases.text()}")
        if self.decision == "needs_approval":
            lines.append(f"needs approval by: {', '.join(sorted(self.owners))}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (names of tables, columns and rules only; never data values)."""
        rel = self.releases
        return {
            "decision": self.decision,
            "reasons": [
                {
                    "table": r.table,
                    "column": r.column,
                    "rule": r.rule,
                    "text": r.text,
                    "severity": r.severity,
                }
                for r in self.reasons
            ],
            "releases": {
                "kind": rel.kind,
                "to": rel.to,
                "columns": list(rel.columns),
                "min_group_size": rel.min_group_size,
                "sizes": list(rel.sizes),
            },
            "owners": sorted(self.owners),
            "tables": list(self.tables),
        }


@dataclass(frozen=True)
class _Rel:
    """A node's lineage (:attr:`sharelake.plan.tree.Bound.lineages`) and the stored
    columns of the latest sort its rows are still in the order of (for a ``head``)."""

    lin: tree.Lineage
    order: frozenset[Src] = frozenset()


@dataclass
class _Checker:
    tables: Mapping[str, TableRef]
    analyst: str
    reasons: list[Reason] = field(default_factory=list)
    sizes: list[str] = field(default_factory=list)

    def add(self, reason: Reason) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)

    def klass(self, src: Src) -> ColumnClass | None:
        return self.tables[src[0]].policy.column_class(src[1])

    def breach(self, src: Src, rule_use: str, what: str) -> None:
        cls = self.klass(src)
        name = cls or "unclassified"
        text = f"column {src[1]!r} of table {src[0]!r} {_CLASS_WORDS[cls]}; the plan uses it {what}"
        severity: Literal["needs_approval", "deny"] = (
            "deny" if cls == "private" else "needs_approval"
        )
        self.add(Reason(src[0], src[1], f"{name}:{rule_use}", text, severity))

    def use(self, sources: Iterable[Src], use: Use) -> None:
        for src in sorted(sources):
            if self.klass(src) not in ALLOWED_USES[use]:
                self.breach(src, use, _USE_WORDS[use])

    def order_statistic(self, sources: Iterable[Src], what: str) -> None:
        """A minimum, maximum or top-k reveals single rows' values: it is governed as a
        release of raw values (only ``reveal`` columns pass without an approval)."""
        for src in sorted(sources):
            if self.klass(src) != "reveal":
                self.breach(src, "order_statistic", what)

    def sized(self, sources: Iterable[Src], what: str) -> None:
        for table in sorted({t for t, c in sources if self.klass((t, c)) != "reveal"}):
            if table not in self.sizes:
                self.sizes.append(table)
            if not self.tables[table].policy.release_sizes:
                self.add(
                    Reason(
                        table,
                        "",
                        "release_sizes",
                        f"the plan reveals the size of a {what} over table {table!r}, whose "
                        "policy does not release join or intersection sizes",
                    )
                )


def _walk_link(ck: _Checker, node: tree.Link) -> None:
    """``link``: the encodings are used as match keys and decide the matches (a size is
    released in every mode); ``pairs`` releases both tables' ``record_id`` (each must be
    ``reveal``, or the caller's own table), ``own`` only the left table's, to its owner."""
    sides = [node.left.table, node.right.table]
    enc: set[Src] = set()
    for t in sides:
        missing = [c for c in ENCODING_COLUMNS if c not in ck.tables[t].schema]
        if missing:
            raise PlanError(
                f"plan.root: table {t!r} is not a person table (no column {missing[0]!r}); "
                "upload it with upload_people"
            )
        enc |= {(t, c) for c in ENCODING_COLUMNS}
    ck.use(enc, "link_key")
    ck.sized(enc, "record linkage")
    if node.reveal == "pairs":
        for t in sides:
            src = (t, RECORD_ID)
            if ck.tables[t].owner != ck.analyst and ck.klass(src) != "reveal":
                ck.breach(src, "released", "in the released pairs (as row values)")
    elif node.reveal == "own" and ck.tables[sides[0]].owner != ck.analyst:
        ck.add(
            Reason(
                sides[0],
                "",
                "link_own",
                f"reveal 'own' releases the matching records of the left table {sides[0]!r}, "
                f"and only its owner may ask for them (not {ck.analyst!r})",
                "deny",
            )
        )


def _own_lists(ck: _Checker, first: tree.Lineage) -> None:
    """An overlap by linkage with ``reveal`` own releases the first list's ``record_id``
    with the number of other lists each record is linked to: only to the owner of that
    list (every table its record ids come from)."""
    owners = {t for t, _ in first.columns["record_id"]}
    for t in sorted(owners) or [""]:
        if not t or ck.tables[t].owner != ck.analyst:
            ck.add(
                Reason(
                    t,
                    "",
                    "link_own",
                    f"reveal 'own' releases the linked records of the first list {t!r}, "
                    f"and only its owner may ask for them (not {ck.analyst!r})",
                    "deny",
                )
            )


def _checker_visit(
    ck: _Checker, at: Mapping[str, tree.Lineage]
) -> Callable[[tree.Node, Sequence[_Rel], str], _Rel]:
    """The visit function of :func:`sharelake.plan.tree.fold` that applies the policies:
    every use of a column is checked against the class of every stored column it derives
    from, as it happens; where the columns come from and what they hold (raw, key,
    aggregate) is read from the plan's lineage (``at``: each node's, by its path)."""

    def visit(n: tree.Node, subs: Sequence[_Rel], path: str) -> _Rel:
        out = _Rel(at[path])
        if isinstance(n, tree.Link):
            _walk_link(ck, n)
            return out
        if isinstance(n, tree.Concat) and n.linkage is not None:
            # the encodings decide which rows share a person (the ``person`` column's
            # lineage carries them to every later use of it)
            ins = [s.lin for s in subs]
            ck.use(
                frozenset().union(
                    *(
                        s.columns[k]
                        for s, ks in zip(ins, tree.overlap_keys(n, ins), strict=True)
                        for k in ks
                    )
                ),
                "overlap_key",
            )
            return out
        if isinstance(n, tree.Scan | tree.Concat):
            return out
        if isinstance(n, tree.Overlap):
            ins = [s.lin for s in subs]
            keys = frozenset().union(
                *(
                    s.columns[k]
                    for s, ks in zip(ins, tree.overlap_keys(n, ins), strict=True)
                    for k in ks
                )
            )
            ck.use(keys, "overlap_key")
            ck.sized(keys, "list overlap")
            if tree.own_reveal(n):
                _own_lists(ck, ins[0])
            return out
        if isinstance(n, tree.Join):
            left, right = (s.lin.columns for s in subs)
            keys = frozenset().union(*(left[k] | right[k] for k in n.on))
            ck.use(keys, "join_key")
            ck.sized(keys, "join")
            return out
        (rel,) = subs
        cols = rel.lin.columns
        # filters, computed columns and projections keep the rows in their input's order,
        # so a head above them still picks by the latest sort (kept in ``order``)
        if isinstance(n, tree.Filter):
            ck.use(_sources(cols, tree.expr_columns(n.predicate)), "filter")
            return _Rel(out.lin, rel.order)
        if isinstance(n, tree.Assign):
            for name, _ in n.columns:
                ck.use(out.lin.columns[name], "compute")
            return _Rel(out.lin, rel.order)
        if isinstance(n, tree.Project):
            return _Rel(out.lin, rel.order)
        if isinstance(n, tree.GroupBy):
            for k in n.keys:
                ck.use(cols[k], "group_key")
            for _, src, fn in n.aggs:
                srcs = frozenset() if src == "*" else cols[src]
                ck.use(srcs, "agg_input")
                if is_order_statistic(fn):  # one row's value, whatever the group's size
                    what = {"min": "minimum", "max": "maximum", "median": "median"}
                    ck.order_statistic(srcs, f"as a per-group {what.get(fn, 'percentile')}")
            return out
        if isinstance(n, tree.Sort | tree.Distinct):
            if isinstance(n, tree.Sort):
                keys_: Sequence[str] = n.by
            else:
                keys_ = n.keys if n.keys is not None else list(cols)
            srcs = _sources(cols, keys_)
            ck.use(srcs, "sort_key" if isinstance(n, tree.Sort) else "distinct_key")
            return _Rel(out.lin, srcs if isinstance(n, tree.Sort) else rel.order)
        if not rel.lin.aggregated:
            # head over rows: which rows follows the input's order; an aggregate over them
            # (or the rows themselves) is a top-k by the order's columns, an order statistic
            ck.order_statistic(rel.order, "to pick the first rows (head / top-k)")
        return _Rel(out.lin, rel.order)

    return visit


def _sources(cols: Mapping[str, frozenset[Src]], names: Iterable[str]) -> frozenset[Src]:
    return frozenset().union(*(cols[c] for c in names))


def _needs_k(ck: _Checker, lin: tree.Lineage) -> bool:
    srcs = frozenset().union(lin.rows, *lin.columns.values())
    return any(ck.klass(s) != "reveal" for s in srcs)


def _release(ck: _Checker, lin: tree.Lineage) -> Literal["rows", "aggregate"]:
    kind: Literal["rows", "aggregate"] = (
        "aggregate" if lin.aggregated and all(f != "raw" for f in lin.forms.values()) else "rows"
    )
    for name, sources in lin.columns.items():
        form = lin.forms[name]
        for src in sorted(sources):
            if ck.klass(src) not in _RELEASE_ALLOWED[form]:
                what = {"raw": "as row values", "key": "as a group key", "agg": "in an aggregate"}
                ck.breach(src, "released", f"in the released result ({what[form]})")
    for src in sorted(lin.rows):
        if ck.klass(src) not in _ROWS_ALLOWED[kind]:
            ck.breach(src, "selects_rows", f"to select or order the released {kind}")
    return kind


def _table_refs(tables: Mapping[str, Any]) -> dict[str, TableRef]:
    out: dict[str, TableRef] = {}
    for name, ref in tables.items():
        if isinstance(ref, TableRef):
            out[name] = ref
            continue
        owner, schema, policy = ref
        cols = tuple(c["name"] if isinstance(c, Mapping) else str(c) for c in schema)
        pol = policy if isinstance(policy, Policy) else Policy.from_dict(policy)
        out[name] = TableRef(str(owner), cols, pol)
    return out


def check_plan(plan: tree.Plan, tables: Mapping[str, Any], analyst: str) -> Verdict:
    """Decide whether ``analyst`` may run ``plan``, and why not.

    Parameters
    ----------
    plan
        The typed plan (:func:`sharelake.plan.tree.from_json` of its JSON form).
    tables
        Table name -> :class:`TableRef` or ``(owner, schema, policy)``, where schema is
        the column names (or spec dicts with ``"name"``) and policy a :class:`Policy`
        or its dict form.
    analyst
        The member asking.

    Returns
    -------
    Verdict
        ``deny`` when a private column is used or a table does not admit the analyst,
        ``needs_approval`` when any other rule is broken, else ``allow``.

    Raises
    ------
    PlanError
        The plan is malformed, names a table not in ``tables`` or an unknown column.

    Examples
    --------
    >>> from sharelake.plan import nodes as pn
    >>> pol = {"columns": {"region": "group", "age": "aggregate", "pid": "match"}}
    >>> t = {"people": ("ngo", ["pid", "region", "age"], pol)}
    >>> agg = pn.groupby(pn.scan("people"), ["region"], {"n": ("*", "count")})
    >>> check_plan(tree.from_json(pn.make_plan(agg)), t, "ana").decision
    'allow'
    >>> v = check_plan(tree.from_json(pn.make_plan(pn.scan("people", ["pid"]))), t, "ana")
    >>> v.decision, v.reasons[0].rule
    ('needs_approval', 'match:released')
    """
    refs = _table_refs(tables)
    schemas = {name: list(ref.schema) for name, ref in refs.items()}
    bound = tree.Bound(plan, schemas)
    released = bound.columns  # the lineage; raises PlanError naming an unknown column
    ck = _Checker(refs, analyst)
    touched = tree.tables(plan)
    if not touched:
        raise PlanError("plan.root: the plan reads no table")
    for name in touched:
        if not refs[name].policy.admits(analyst):
            ck.add(
                Reason(
                    name,
                    "",
                    "analysts",
                    f"the policy of table {name!r} does not admit analyst {analyst!r}",
                    "deny",
                )
            )
    lin = tree.fold(plan, _checker_visit(ck, bound.lineages)).lin
    kind = _release(ck, lin)
    k = max(refs[t].policy.min_group_size for t in touched)
    protect = kind == "aggregate" and _needs_k(ck, lin)
    if protect and protected_plan(plan)[1] is None:
        ck.add(
            Reason(
                touched[0],
                "",
                "min_group_size",
                "groups under k cannot be suppressed for this plan shape (the released "
                "aggregate is not a group-by or overlap seen through filters, projections, "
                "sorts and heads)",
            )
        )
    if plan.release == "table":  # a stored persons table: every owner of its lists agrees
        for name in touched:
            ck.add(
                Reason(
                    name,
                    "",
                    "stored_table",
                    f"the plan keeps the persons of table {name!r} as the stored table "
                    f"{plan.table!r}: every owner of its lists approves",
                )
            )
    release = Release(kind, analyst, tuple(released), k if protect else None, tuple(ck.sizes))
    decision: Decision = "allow"
    if any(r.severity == "deny" for r in ck.reasons):
        decision = "deny"
    elif ck.reasons:
        decision = "needs_approval"
    return Verdict(
        decision,
        tuple(ck.reasons),
        release,
        frozenset(refs[t].owner for t in touched),
        tuple(touched),
    )

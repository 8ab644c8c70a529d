"""The executor: interpret a plan over secret tables at one party, and release its rows.

:func:`execute` folds over the typed plan (:mod:`sharelake.plan.tree`; its JSON form,
documented in ``docs/node-api.md``, is checked and typed where it enters) and calls the
relational operator of each node on this party's shares. It is pure over a
:class:`~sharelake.mpc.party.Party`: the same call runs in memory (tests) and inside a node
over TLS. Tables come from ``load(name)``, so the executor never touches storage.

:func:`release_rows` compacts the result (a shuffle, then only the validity bits are
opened: the number of result rows) and returns this party's pair of every column; the
client rebuilds the values from the three pairs, each component twice.

LEAKAGE: whatever each operator's own docstring says (nothing for every operator
here), plus the number of result rows opened by the compaction in :func:`release_rows`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, cast

import numpy as np

from ..mpc.party import Party
from ..mpc.ring import Arr
from ..mpc.scan import stable_partition
from ..mpc.verify import verify
from ..plan import tree
from ..plan.canonical import PlanError
from ..relational import expr as rexpr
from ..relational.compact import compact
from ..relational.distinct import distinct
from ..relational.groupby import AggFn, groupby
from ..relational.join import How, Validate, join
from ..relational.ops import (
    assign,
    concat,
    filter_rows,
    project,
    sort_table,
    table_columns,
    table_from_columns,
)
from ..relational.overlap import overlap
from ..relational.table import SecretTable, spec_to_json
from .linkage import own_lists, run_link, with_persons
from .persons_table import segments, stored_persons

__all__ = ["Released", "execute", "release_rows"]

Loader = Callable[[str], SecretTable]


class Released(NamedTuple):
    """This party's part of a released result: bundle metadata and share arrays.

    ``meta`` is ``{"columns": [column specs], "rows": m}``; ``arrays`` holds, per column
    ``c``, ``c.values.a``/``c.values.b`` and, when present, ``c.null.a``/``c.null.b`` and
    ``c.text.a``/``c.text.b`` (this party's components i and i+1).
    """

    meta: dict[str, Any]
    arrays: dict[str, Arr]


def _expr(e: tree.Expr) -> rexpr.Expr:
    try:
        return rexpr.from_json(tree.expr_to_json(e))
    except ValueError as exc:
        raise PlanError(f"bad expression: {exc}") from None


def _head(p: Party, t: SecretTable, n: int) -> SecretTable:
    """The first ``n`` valid rows of ``t`` in order: valid rows moved to the front by an
    oblivious stable partition (nothing opened), then a public prefix."""
    if n < 0:
        raise PlanError("head: n must be non-negative")
    cols = table_columns(t)
    if t.n:
        valid, moved = stable_partition(p, t.valid, cols[1:])
        t = table_from_columns(t, [valid, *moved])
    return t.take(np.arange(min(n, t.n), dtype=np.intp))


def _operator(
    p: Party, load: Loader, stored: Mapping[str, Mapping[str, Any]]
) -> Callable[[tree.Node, Sequence[SecretTable], str], SecretTable]:
    """The visit function of :func:`sharelake.plan.tree.fold`: one operator per node."""

    def linked(n: tree.Overlap | tree.Concat, subs: Sequence[SecretTable]) -> list[SecretTable]:
        """The lists with their linked person: linked now, or from a stored persons table."""
        lk = dict(n.linkage or {})
        name = lk.get("stored")
        if name is None:
            return with_persons(p, list(subs), lk)
        if name not in stored:
            raise PlanError(f"the stored persons table {name!r} was not loaded")
        found = stored[name]
        return stored_persons(list(subs), load(name), found, segments(n, found))

    def visit(n: tree.Node, subs: Sequence[SecretTable], path: str) -> SecretTable:
        if isinstance(n, tree.Scan):
            t = load(n.table)
            return t if n.columns is None else project(p, t, list(n.columns))
        if isinstance(n, tree.Link):  # private record linkage (engine/linkage.py)
            left, right = subs
            js = tree.node_to_json(n)
            by_json = [(js["left"], left), (js["right"], right)]
            return run_link(p, js, lambda sub: next(t for j, t in by_json if j == sub))
        if isinstance(n, tree.Concat):
            if n.linkage is not None:  # + the linked person of every row (engine/linkage.py)
                return concat(p, linked(n, subs))
            return concat(p, list(subs))
        if isinstance(n, tree.Overlap):
            inputs = list(subs)
            if tree.own_reveal(n):  # the first list's records, linked to how many lists
                return own_lists(p, inputs, dict(n.linkage or {}), labelled=linked(n, subs))
            if n.linkage is not None:  # persons by record linkage (engine/linkage.py)
                inputs = linked(n, inputs)
            return overlap(p, inputs, on=list(n.on))
        if isinstance(n, tree.Join):
            left, right = subs
            return join(
                p,
                left,
                right,
                on=list(n.on),
                how=cast(How, n.how),
                validate=cast(Validate, n.validate),
                max_multiplicity=n.max_multiplicity,
            )
        (t,) = subs
        if isinstance(n, tree.Filter):
            return filter_rows(p, t, _expr(n.predicate))
        if isinstance(n, tree.Assign):
            return assign(p, t, **{k: _expr(e) for k, e in n.columns})
        if isinstance(n, tree.Project):
            return project(p, t, list(n.columns))
        if isinstance(n, tree.Sort):
            return sort_table(p, t, list(n.by), descending=list(n.descending))
        if isinstance(n, tree.Distinct):
            return distinct(p, t, None if n.keys is None else list(n.keys))
        if isinstance(n, tree.Head):
            return _head(p, t, n.n)
        aggs = {out: (col, cast(AggFn, fn)) for out, col, fn in n.aggs}
        return groupby(p, t, list(n.keys), aggs)

    return visit


def execute(
    p: Party,
    plan: tree.Plan,
    load: Loader,
    *,
    stored: Mapping[str, Mapping[str, Any]] | None = None,
) -> SecretTable:
    """Run ``plan`` at party ``p`` and return the (uncompacted) result table.

    Parameters
    ----------
    p
        This party's protocol context.
    plan
        The typed plan (:func:`sharelake.plan.tree.from_json` of its JSON form).
    load
        Returns this party's shares of a stored table by name.
    stored
        The recorded definition of every stored persons table the plan's linkage names
        (``linkage.stored``; :mod:`sharelake.engine.persons_table`), checked by the node
        against the catalog's current versions; ``load`` returns their shares.

    Returns
    -------
    SecretTable
        The result; invalid rows are still present (see :func:`release_rows`).

    Raises
    ------
    PlanError
        When the plan does not fit the tables.
    """
    try:
        return tree.fold(plan, _operator(p, load, stored or {}))
    except (TypeError, KeyError) as exc:
        # Operators reject schema misuse (unknown column, wrong kind) before computing.
        raise PlanError(f"the plan does not fit the tables: {exc}") from None


def release_rows(p: Party, table: SecretTable, *, ordered: bool = False) -> Released:
    """Compact ``table`` and return this party's pair of every column of the valid rows.

    Parameters
    ----------
    p
        This party's protocol context.
    table
        The result of :func:`execute`.
    ordered
        Keep the valid rows in table order (one extra sort); otherwise their order is
        random.

    Returns
    -------
    Released
        Bundle metadata and arrays (see :class:`Released`).

    Notes
    -----
    LEAKAGE: the number of valid rows (opened by the compaction). Values stay shared:
    only the analyst, holding all three bundles, can reconstruct them.
    """
    c = compact(p, table, order="stable" if ordered else "random")
    verify(p, check="release")  # nothing computed from an unchecked gate leaves the node
    arrays: dict[str, Arr] = {}
    for name, col in c.columns.items():
        arrays[f"{name}.values.a"] = col.values.a
        arrays[f"{name}.values.b"] = col.values.b
        if col.null is not None:
            arrays[f"{name}.null.a"] = col.null.a
            arrays[f"{name}.null.b"] = col.null.b
        if col.text is not None:
            arrays[f"{name}.text.a"] = col.text.a
            arrays[f"{name}.text.b"] = col.text.b
    meta = {"columns": [spec_to_json(col.spec) for col in c.columns.values()], "rows": c.n}
    return Released(meta, arrays)

"""What an aggregate release reveals about a stored table, derived from the plan's lineage.

An aggregate released over one stored table reveals a count (and sums, means, ...) for
every released *cell*: the rows of the table that pass every filter below the group-by
and share one value of the group keys. :func:`release_cells` derives those cells from the
plan's lineage, not from its syntax:

- a column computed by ``assign`` is replaced by its defining expression over the
  stored columns, in filters and in group keys (so ``x = age * 2`` then ``x > 40`` is the
  predicate ``age * 2 > 40`` of the stored table);
- a group key that reduces to a constant (``assign(one=1).groupby("one")``) is no key at
  all: its single group is the grand total of the rows the filters keep;
- filters, projections, computed columns and sorts below the group-by are seen through;
  filters, sorts, heads and projections *above* it only release fewer groups, which the
  check treats as if every group were released (a finer partition: more conservative).

:class:`Cells` is the result: the table, the conjuncts of the row predicate and the
group key expressions, each in canonical plan JSON. Two plans that release the same
cells (written differently) give the same :class:`Cells`.

Plans whose aggregated rows are not "one stored table, filtered" (joins, concatenations,
de-duplication, a ``head`` below the group-by, nested group-bys, overlap tables, record
linkage) have no cells here; :func:`release_cells` returns ``None`` and the differencing
check does not cover them (see SECURITY.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..plan import tree
from ..plan.canonical import canonical_json

__all__ = ["Cells", "release_cells"]


@dataclass(frozen=True)
class Cells:
    """The cells an aggregate release reveals over one stored table.

    Attributes
    ----------
    table
        The stored table.
    where
        The conjuncts of the row predicate over the table's stored columns (canonical
        JSON of plan expressions, sorted; empty: every row).
    by
        The group key expressions over the stored columns (canonical JSON, in key order;
        constant keys dropped; empty: one cell, the grand total of the kept rows).

    Examples
    --------
    >>> age = '{"args":[{"col":"age"},{"lit":30}],"fn":">"}'
    >>> c = Cells("people", (age,), ('{"col":"region"}',))
    >>> Cells.from_dict(c.to_dict()) == c
    True
    """

    table: str
    where: tuple[str, ...]
    by: tuple[str, ...]

    def predicate(self) -> dict[str, Any] | None:
        """The conjunction as one plan expression (None: every row)."""
        parts = [json.loads(s) for s in self.where]
        if not parts:
            return None
        out = parts[0]
        for e in parts[1:]:
            out = {"fn": "&", "args": [out, e]}
        return dict(out)

    def key_exprs(self) -> list[dict[str, Any]]:
        """The group key expressions in plan form."""
        return [dict(json.loads(s)) for s in self.by]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (stored in ``released.jsonl``)."""
        return {"table": self.table, "where": list(self.where), "by": list(self.by)}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Cells:
        """Parse :meth:`to_dict`'s form; a line of an older node (``predicates``, no keys)
        reads as one cell over its rows."""
        where = doc["where"] if "where" in doc else doc["predicates"]
        return cls(
            str(doc["table"]),
            tuple(str(s) for s in where),
            tuple(str(s) for s in doc.get("by", ())),
        )

    def text(self) -> str:
        """Canonical one-line form (the same at every node; compared across nodes)."""
        return canonical_json(self.to_dict())


def _substitute(e: tree.Expr, env: Mapping[str, tree.Expr]) -> tree.Expr:
    """``e`` with every computed column replaced by its expression over stored columns
    (a name not in ``env`` is a stored column itself)."""
    if isinstance(e, tree.ColRef):
        return env.get(e.name, e)
    if isinstance(e, tree.Const):
        return e
    return tree.Call(e.fn, tuple(_substitute(a, env) for a in e.args))


def _is_constant(e: tree.Expr) -> bool:
    if isinstance(e, tree.ColRef):
        return False
    if isinstance(e, tree.Const):
        return True
    return all(_is_constant(a) for a in e.args)


def _conjuncts(e: tree.Expr) -> list[tree.Expr]:
    if isinstance(e, tree.Call) and e.fn == "&":
        return [c for a in e.args for c in _conjuncts(a)]
    return [e]


def _text(e: tree.Expr) -> str:
    return canonical_json(tree.expr_to_json(e))


def release_cells(plan: tree.Plan) -> Cells | None:
    """The :class:`Cells` an aggregate plan releases, or None when its lineage is not
    "a group-by over one filtered stored table".

    Examples
    --------
    >>> from sharelake.plan import nodes as pn
    >>> from sharelake.plan.tree import from_json
    >>> one = pn.assign(pn.scan("t"), {"one": {"lit": 1}})
    >>> gt = pn.groupby(one, ["one"], {"n": ("*", "count")})
    >>> release_cells(from_json(pn.make_plan(gt)))
    Cells(table='t', where=(), by=())
    >>> x2 = pn.assign(pn.scan("t"), {"x": {"fn": "*", "args": [{"col": "a"}, {"lit": 2}]}})
    >>> f = pn.filter_rows(x2, {"fn": ">", "args": [{"col": "x"}, {"lit": 4}]})
    >>> release_cells(from_json(pn.make_plan(pn.groupby(f, ["k"], {"n": ("*", "count")})))).where
    ('{"args":[{"args":[{"col":"a"},{"lit":2}],"fn":"*"},{"lit":4}],"fn":">"}',)
    """
    found = tree.released_groupby(plan)
    if found is None:
        return None
    gb = found[1]
    chain, node = tree.descend(gb.input, (tree.Filter, tree.Project, tree.Assign, tree.Sort))
    if not isinstance(node, tree.Scan):
        return None
    # computed column name -> its expression over the stored columns; any other name is
    # a stored column (the plan was validated: every name it uses exists where used)
    env: dict[str, tree.Expr] = {}
    where: set[str] = set()
    for n in reversed(chain):
        if isinstance(n, tree.Filter):
            where |= {_text(c) for c in _conjuncts(_substitute(n.predicate, env))}
        elif isinstance(n, tree.Assign):  # evaluated on the input table, not on each other
            env = {**env, **{k: _substitute(e, env) for k, e in n.columns}}
    keys = [_substitute(tree.ColRef(k), env) for k in gb.keys]
    by = [_text(k) for k in keys if not _is_constant(k)]
    return Cells(node.table, tuple(sorted(where)), tuple(by))

"""Stored persons tables: one k-list linkage kept by the nodes for every later query.

A plan whose release is ``{"kind": "table", "table": NAME}`` and whose root is a concat
by linkage (``sharelake.persons([...], linkage=...)``) makes the nodes keep, instead of
releasing anything, the secret ``person`` id of every row of the linked lists (and the
rows' validity) as the table ``NAME``: real share files and a catalog entry like an
upload's, owned by no member (:data:`OWNER`), with a policy that admits no analyst (it is
never scanned), and a *definition* recorded beside it: the canonical JSON of every
list's subplan, the linkage (mode, window, rounds, params), each list's row count and the
version of every table the lists read (:func:`definition`).

A later plan names it in its linkage (``"stored": NAME``, in an overlap by linkage or a
concat by linkage over the *same lists*, in any order, with the same linkage): the node
checks (:func:`segments`, :func:`check_sources`) that the table was made by exactly that
linkage of exactly those lists, from the tables' current versions, and the engine takes
each list's person ids from the stored table (:func:`stored_persons`) instead of linking
the lists again. The plan's lineage and verdict are those of the plan that links again
(the lists are still its inputs), so every owner's policy governs every use as before;
making the table needs the approval of every owner of its lists
(:func:`sharelake.governance.verdict.check_plan`, rule ``stored_table``). A table a list
was re-uploaded, erased or dropped under is stale: a plan naming it is refused with
:class:`StaleTableError` (nothing is computed on old labels), until it is made again.

LEAKAGE: nothing beyond the linkage that made it (:func:`sharelake.engine.linkage.with_persons`)
and its public sizes: the ids and validity stay secret shares; the stored table's row
count is the sum of its lists' (public) sizes; reading it opens nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import SharelakeError
from ..mpc.shares import AShare
from ..plan import tree
from ..plan.canonical import PlanError, canonical_json
from ..relational.table import ColumnSpec, SecretColumn, SecretTable, spec_to_json

__all__ = [
    "DEFINITION_KIND",
    "OWNER",
    "PERSON_SPEC",
    "POLICY",
    "StaleTableError",
    "check_sources",
    "definition",
    "input_rows",
    "segments",
    "stored_columns",
    "stored_persons",
]

#: The catalog owner of a stored persons table: no member (a member name cannot start
#: with "~"), so no member can replace it by an upload or sign a policy change of it.
OWNER = "~nodes"
#: Its policy: the person ids are never scanned directly by any analyst.
POLICY: dict[str, Any] = {"columns": {"person": "private"}, "analysts": []}
PERSON_SPEC = ColumnSpec("person", "int", nullable=False)
DEFINITION_KIND = "persons-v1"
#: Nodes that keep the row count of their input (a list may be filtered or narrowed).
_ROW_KEEPING = (tree.Scan, tree.Filter, tree.Project, tree.Assign)


class StaleTableError(SharelakeError):
    """A stored persons table was made from other versions of its lists, or by another
    linkage of other lists, than the plan that names it (answered with 409)."""


def _link_key(linkage: Mapping[str, Any]) -> dict[str, Any]:
    """The linkage as it decides the persons (without ``stored`` and ``reveal``)."""
    return {k: v for k, v in linkage.items() if k not in ("stored", "reveal")}


def input_rows(node: tree.Node, sizes: Mapping[str, int]) -> int:
    """The public row count of one list's subplan (a person table, filtered or narrowed).

    Raises
    ------
    PlanError
        The subplan changes the row count (a join, group-by, ...): a stored persons
        table keeps the rows of its lists as they are.
    """

    def visit(n: tree.Node, subs: Sequence[int], path: str) -> int:
        if not isinstance(n, _ROW_KEEPING):
            raise PlanError(
                f"{path}: a stored persons table's lists are person tables, filtered or "
                "narrowed (no join, group-by, sort, head or concat)"
            )
        return sizes[n.table] if isinstance(n, tree.Scan) else subs[0]

    return tree.fold(node, visit)


def definition(
    plan: tree.Plan, versions: Mapping[str, int], sizes: Mapping[str, int]
) -> dict[str, Any]:
    """What a stored persons table is made from: recorded beside it in the catalog.

    Parameters
    ----------
    plan
        The plan with release ``table`` (its root a concat by linkage).
    versions, sizes
        The catalog version and row count of every table the plan reads.

    Examples
    --------
    >>> from sharelake.plan import nodes as pn
    >>> lk = {"mode": "exact", "window": None, "rounds": 3}
    >>> js = pn.make_plan(pn.concat([pn.scan("a"), pn.scan("b")], linkage=lk),
    ...                   release="table", table="p")
    >>> d = definition(tree.from_json(js), {"a": 1, "b": 2}, {"a": 3, "b": 4})
    >>> d["rows"], d["sources"]
    ([3, 4], {'a': 1, 'b': 2})
    """
    root = plan.root
    if not isinstance(root, tree.Concat) or root.linkage is None:
        raise PlanError("plan.root: a stored persons table is a concat by linkage (persons)")
    inputs = [canonical_json(tree.node_to_json(s)) for s in root.inputs]
    if len(set(inputs)) != len(inputs):
        raise PlanError("plan.root.inputs: a stored persons table links distinct lists")
    return {
        "kind": DEFINITION_KIND,
        "linkage": _link_key(root.linkage),
        "inputs": inputs,
        "rows": [input_rows(s, sizes) for s in root.inputs],
        "sources": {t: int(versions[t]) for t in tree.tables(root)},
    }


def check_sources(name: str, found: Any, versions: Mapping[str, int | None]) -> None:
    """Refuse a stored persons table made from other versions of its tables.

    ``versions``: the current catalog version of every source table (None: gone).

    Raises
    ------
    StaleTableError
        ``found`` is no persons definition, or a source table changed or is gone.
    """
    if not isinstance(found, Mapping) or found.get("kind") != DEFINITION_KIND:
        raise StaleTableError(f"table {name!r} is not a stored persons table")
    for table, version in sorted(dict(found["sources"]).items()):
        now = versions.get(table)
        if now != version:
            state = "is gone" if now is None else f"is now at version {now}"
            raise StaleTableError(
                f"the stored persons table {name!r} was made from version {version} of "
                f"table {table!r}, which {state}: make it again (persons(...).stored_as("
                f"{name!r}).collect()) with the owners' approval"
            )


def segments(node: tree.Overlap | tree.Concat, found: Mapping[str, Any]) -> tuple[int, ...]:
    """For each input of ``node``, the index of the same list in the stored table.

    Raises
    ------
    StaleTableError
        The node's linkage differs from the one that made the table, or its lists are not
        exactly the table's lists (persons of a subset differ: a person may be tied
        through a list left out).
    """
    assert node.linkage is not None
    name = str(node.linkage["stored"])
    if _link_key(node.linkage) != found["linkage"]:
        raise StaleTableError(
            f"the stored persons table {name!r} was made by another linkage "
            f"({canonical_json(found['linkage'])}) than the plan asks for "
            f"({canonical_json(_link_key(node.linkage))})"
        )
    stored = list(found["inputs"])
    out: list[int] = []
    for i, sub in enumerate(node.inputs):
        text = canonical_json(tree.node_to_json(sub))
        idx = next((j for j, s in enumerate(stored) if s == text and j not in out), None)
        if idx is None:
            raise StaleTableError(
                f"input {i} of the plan is not one of the lists of the stored persons "
                f"table {name!r}"
            )
        out.append(idx)
    if len(out) != len(stored):
        raise StaleTableError(
            f"the plan links {len(out)} of the {len(stored)} lists of the stored persons "
            f"table {name!r}: its persons are those of all its lists"
        )
    return tuple(out)


def stored_persons(
    tables: Sequence[SecretTable],
    stored: SecretTable,
    found: Mapping[str, Any],
    order: Sequence[int],
) -> list[SecretTable]:
    """The lists with their secret ``person`` column taken from the stored table.

    The same output as :func:`sharelake.engine.linkage.with_persons` (the stored ids are
    the labels that linkage gave, equal for the rows of one person); list ``i`` of the
    plan is list ``order[i]`` of the stored table. Local slicing only: no message.
    """
    rows = [int(r) for r in found["rows"]]
    starts = [sum(rows[:j]) for j in range(len(rows))]
    if stored.n != sum(rows):
        raise PlanError("the stored persons table does not have its lists' rows")
    ids = stored["person"].values
    out = []
    for t, j in zip(tables, order, strict=True):
        if t.n != rows[j]:
            raise PlanError(f"list {j} has {t.n} rows, the stored persons table {rows[j]}")
        lo, hi = starts[j], starts[j] + rows[j]
        cols = dict(t.columns)
        cols["person"] = SecretColumn(PERSON_SPEC, AShare(ids.a[lo:hi], ids.b[lo:hi]))
        out.append(SecretTable(cols, t.valid, t.name))
    return out


def stored_columns(table: SecretTable) -> tuple[list[dict[str, Any]], dict[str, dict[str, AShare]]]:
    """The schema and column parts a node keeps of a persons result (``person`` only)."""
    return [spec_to_json(PERSON_SPEC)], {"person": {"values": table["person"].values}}

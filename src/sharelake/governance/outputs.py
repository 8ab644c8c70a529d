"""Output rules: the row count small groups are decided on, query budgets, differencing.

Small groups
    :func:`protected_plan` makes sure the released aggregate carries a row count to decide
    on; the engine then suppresses groups with fewer than k rows inside MPC
    (:func:`sharelake.engine.protect.suppress_small_groups`).

Budgets
    :class:`QueryBudget`: a persisted count of released queries per analyst and table
    upload (catalog version); a release is refused once an analyst's budget for any
    table it reads is spent. A new upload of a table (a replacement, or a drop and a
    new upload) starts with a fresh budget.

Differencing
    The attack: release aggregates over overlapping released cells and combine them (the grand
    total minus the released groups, a filter and its complement, a chain of
    complementary filters, two releases differing by a few rows in one group).
    :class:`DifferencingGuard` records, per table upload, the *cells* every released
    aggregate revealed (:class:`~sharelake.governance.lineage.Cells`, derived from the
    plan's lineage); :func:`~sharelake.engine.atoms.small_atoms` then checks inside
    MPC that, with the new release, every atom of all released cells (and of the whole
    table, whose row count is public) has 0 or at least k rows, and opens that one bit.
    Its limits are in SECURITY.md (joins, concatenations, de-duplication and heads below
    the group-by are not covered; sums may be dominated by one row; a new upload starts
    a fresh record).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import SharelakeError
from ..plan import tree
from .lineage import Cells

__all__ = [
    "HIDDEN_COUNT",
    "BudgetExceededError",
    "DifferencingError",
    "DifferencingGuard",
    "QueryBudget",
    "protected_plan",
]

HIDDEN_COUNT = "__rows"
DEFAULT_BUDGET = 1000


class BudgetExceededError(SharelakeError):
    """An analyst has used up its budget of released queries over a table."""


class DifferencingError(SharelakeError):
    """A release would differ from an earlier one over the same table by fewer than k rows."""


def protected_plan(plan: tree.Plan) -> tuple[tree.Plan, str | None, bool]:
    """The plan a node executes for an aggregate release, and the count column to use.

    If the released result is a group-by (seen through filters, projections, sorts,
    heads and computed columns) without a ``("*", "count")`` aggregate that reaches the
    result, a hidden count :data:`HIDDEN_COUNT` is added and carried through the
    projections above it. An overlap table uses its ``count`` column.

    Returns
    -------
    (plan, count column or None, hidden)
        ``hidden`` says the caller must drop the count column before release. The plan
        hash is always that of the *submitted* plan; this rewrite is deterministic, so
        the three nodes run the same thing.

    Examples
    --------
    >>> from sharelake.plan import nodes as pn
    >>> root = pn.project(pn.groupby(pn.scan("t"), ["k"], {"s": ("v", "sum")}), ["k", "s"])
    >>> new, col, hidden = protected_plan(tree.from_json(pn.make_plan(root)))
    >>> new.root.columns, col, hidden
    (('k', 's', '__rows'), '__rows', True)
    """
    if isinstance(plan.root, tree.Overlap):
        return plan, "count", False
    found = tree.released_groupby(plan)
    if found is None:
        return plan, None, False
    above, gb = found
    for out, src, fn in gb.aggs:
        if (
            src == "*"
            and fn == "count"
            and all(out in n.columns for n in above if isinstance(n, tree.Project))
        ):
            return plan, out, False
    counted = replace(gb, aggs=(*gb.aggs, (HIDDEN_COUNT, "*", "count")))
    carried = [
        replace(n, columns=(*n.columns, HIDDEN_COUNT)) if isinstance(n, tree.Project) else n
        for n in above
    ]
    return replace(plan, root=tree.restack(carried, counted)), HIDDEN_COUNT, True


# ---- budgets -------------------------------------------------------------------------------


class QueryBudget:
    """Released queries per analyst and table upload, persisted as JSON (thread-safe).

    Counts are kept per table *version* (the catalog version of an upload, which grows
    with every upload of a name, across drops): a table dropped and uploaded again is
    different data and starts with a fresh budget. ``tables`` arguments map a table
    name to its version; a plain list of names means version 0.

    ``budget.json`` is ``{analyst: {table: {version: count}}}``. A count written by an
    older node (``{analyst: {table: count}}``, no version) is *unbound* until
    :meth:`bind` ties it to the upload current at node start (or drops it when the
    table is gone); until then it counts for no upload.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> b = QueryBudget(pathlib.Path(tempfile.mkdtemp()) / "budget.json", limit=1)
    >>> b.charge("ana", {"people": 3})
    >>> b.check("ana", {"people": 4})
    >>> b.check("ana", {"people": 3})
    Traceback (most recent call last):
    ...
    sharelake.governance.outputs.BudgetExceededError: analyst 'ana' has used its budget \
of 1 released queries over table 'people'
    """

    def __init__(self, path: str | Path, *, limit: int = DEFAULT_BUDGET) -> None:
        self.path = Path(path)
        self.limit = limit
        self._lock = threading.Lock()
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raw = {}
        # analyst -> table -> table version -> released queries
        self._used: dict[str, dict[str, dict[int, int]]] = {}
        # analyst -> table -> released queries (stored by an older node, no version)
        self._unbound: dict[str, dict[str, int]] = {}
        for a, d in raw.items() if isinstance(raw, dict) else []:
            if not isinstance(d, dict):
                continue
            for t, n in d.items():
                try:
                    if isinstance(n, dict):
                        per = {int(v): int(c) for v, c in n.items()}
                        self._used.setdefault(str(a), {})[str(t)] = per
                    else:
                        self._unbound.setdefault(str(a), {})[str(t)] = int(n)
                except (ValueError, TypeError):
                    continue

    @staticmethod
    def _versions(tables: Mapping[str, int] | Iterable[str]) -> dict[str, int]:
        if isinstance(tables, Mapping):
            return {str(t): int(v) for t, v in tables.items()}
        return {str(t): 0 for t in tables}

    def used(self, analyst: str, table: str, table_version: int = 0) -> int:
        """How many released queries ``analyst`` ran over this upload of ``table``."""
        with self._lock:
            return self._used.get(analyst, {}).get(table, {}).get(table_version, 0)

    def check(self, analyst: str, tables: Mapping[str, int] | Iterable[str]) -> None:
        """Raise :class:`BudgetExceededError` when any table's budget is spent."""
        for t, v in sorted(self._versions(tables).items()):
            if self.used(analyst, t, v) >= self.limit:
                raise BudgetExceededError(
                    f"analyst {analyst!r} has used its budget of {self.limit} released "
                    f"queries over table {t!r}"
                )

    def charge(self, analyst: str, tables: Mapping[str, int] | Iterable[str]) -> None:
        """Count one released query over each of ``tables`` (written atomically)."""
        with self._lock:
            mine = self._used.setdefault(analyst, {})
            for t, v in self._versions(tables).items():
                per = mine.setdefault(t, {})
                per[v] = per.get(v, 0) + 1
            self._save()

    def bind(self, tables: Mapping[str, int]) -> None:
        """Bind counts stored without a version to the upload current now (``tables``:
        name -> catalog version); those of a table that is gone are dropped."""
        with self._lock:
            if not self._unbound:
                return
            for a, d in self._unbound.items():
                for t, n in d.items():
                    if t in tables:
                        per = self._used.setdefault(a, {}).setdefault(t, {})
                        v = int(tables[t])
                        per[v] = max(per.get(v, 0), n)
            self._unbound = {}
            self._save()

    def forget(self, table: str, table_version: int) -> None:
        """Forget the counts over a dropped table's uploads (up to ``table_version``)."""
        with self._lock:
            changed = False
            for d in self._used.values():
                per = d.get(table)
                if per is None:
                    continue
                kept = {v: n for v, n in per.items() if v > table_version}
                changed = changed or len(kept) != len(per)
                if kept:
                    d[table] = kept
                else:
                    del d[table]
            for old in self._unbound.values():
                changed = old.pop(table, None) is not None or changed
            if changed:
                self._save()

    def _save(self) -> None:
        doc: dict[str, dict[str, Any]] = {}
        for a, d in self._used.items():
            for t, per in d.items():
                if per:
                    doc.setdefault(a, {})[t] = {str(v): n for v, n in per.items()}
        for a, d2 in self._unbound.items():
            for t, n in d2.items():
                doc.setdefault(a, {}).setdefault(t, n)
        tmp = self.path.with_suffix(".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)


# ---- differencing --------------------------------------------------------------------------


class DifferencingGuard:
    """A node's record of the cells of released aggregates, per table upload (JSON lines).

    Cells are kept per table *version* (the catalog version of an upload): an
    earlier release over another upload of the name read other rows, so it is not
    compared (each upload starts a fresh record; see the limits above). A line written
    by an older node has no ``table_version``; it is *unbound* (compared with nothing)
    until :meth:`bind` ties it to the upload current at node start or drops it when the
    table is gone. :meth:`bind` and :meth:`forget` rewrite the file atomically.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._sets: dict[tuple[str, int], list[Cells]] = {}
        self._unbound: list[Cells] = []
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    doc = json.loads(line)
                    rs = Cells.from_dict(doc)
                    tv = doc.get("table_version")
                    version = None if tv is None else int(tv)
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue
                if version is None:
                    if rs not in self._unbound:
                        self._unbound.append(rs)
                else:
                    self._remember(rs, version)

    def _remember(self, rs: Cells, table_version: int) -> bool:
        have = self._sets.setdefault((rs.table, table_version), [])
        if rs in have:
            return False
        have.append(rs)
        return True

    def earlier(self, rs: Cells, table_version: int = 0) -> list[Cells]:
        """The cells of the earlier releases over this upload of ``rs.table``, other than
        ``rs`` itself."""
        with self._lock:
            return [r for r in self._sets.get((rs.table, table_version), []) if r != rs]

    def record(self, rs: Cells, table_version: int = 0) -> None:
        """Remember the cells of a release over an upload of its table (idempotent)."""
        with self._lock:
            if self._remember(rs, table_version):
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(self._line(rs, table_version), sort_keys=True))
                    f.write("\n")
                    f.flush()
                    os.fsync(f.fileno())

    def bind(self, tables: Mapping[str, int]) -> None:
        """Bind released cells stored without a version to the upload current now (``tables``:
        name -> catalog version); those of a table that is gone are dropped."""
        with self._lock:
            if not self._unbound:
                return
            for rs in self._unbound:
                if rs.table in tables:
                    self._remember(rs, int(tables[rs.table]))
            self._unbound = []
            self._rewrite()

    def forget(self, table: str, table_version: int) -> None:
        """Forget the released cells over a dropped table's uploads (up to ``table_version``)."""
        with self._lock:
            gone = [k for k in self._sets if k[0] == table and k[1] <= table_version]
            before = len(self._unbound)
            self._unbound = [r for r in self._unbound if r.table != table]
            if not gone and before == len(self._unbound):
                return
            for k in gone:
                del self._sets[k]
            self._rewrite()

    @staticmethod
    def _line(rs: Cells, table_version: int | None) -> dict[str, Any]:
        out: dict[str, Any] = rs.to_dict()
        if table_version is not None:
            out["table_version"] = table_version
        return out

    def _rewrite(self) -> None:
        lines = [
            json.dumps(self._line(rs, v), sort_keys=True)
            for (_, v), sets in sorted(self._sets.items())
            for rs in sets
        ]
        lines += [json.dumps(self._line(rs, None), sort_keys=True) for rs in self._unbound]
        tmp = self.path.with_suffix(".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    @staticmethod
    def refuse(rs: Cells, small: bool, earlier: int, k: int) -> None:
        """Raise :class:`DifferencingError` when the atom check found a small atom (names
        the table and how many earlier releases it was combined with, never a count)."""
        if small:
            raise DifferencingError(
                f"the aggregate over table {rs.table!r}, combined with {earlier} earlier "
                "released aggregate(s) over it and the table's public row count, would "
                f"reveal a count or sum over fewer than {k} rows (differencing); group more "
                "coarsely or filter less finely"
            )

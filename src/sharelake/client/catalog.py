"""The catalog as the three nodes list it: which committed tables a member can use.

A table is usable only when the three nodes list it alike: the same upload version, the
same policy version and the same policy in force. When they differ, the error says what
each node holds (versions, and a short digest of the policy, never the policy itself) and
how such a difference is repaired.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..relational.table import ColumnSpec, spec_from_json
from .errors import UnknownTableError

__all__ = ["TableInfo", "common_tables", "find_table"]

Listing = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class TableInfo:
    """A committed table as listed by the nodes (public catalog data only)."""

    name: str
    owner: str
    rows: int
    version: int
    schema: tuple[ColumnSpec, ...]
    policy: Mapping[str, Any]
    policy_version: int = 1

    @property
    def columns(self) -> list[str]:
        """The column names, in schema order."""
        return [s.name for s in self.schema]


def _policy_digest(d: Mapping[str, Any]) -> str:
    """A short digest of a listed table's policy (to compare, or to tell nodes apart)."""
    text = json.dumps(d.get("policy") or {}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _listing_key(d: Mapping[str, Any]) -> tuple[str, int, int, str]:
    """What must be the same on the three nodes for a listed table to be usable."""
    return (
        str(d["name"]),
        int(d["version"]),
        int(d.get("policy_version", 1)),
        _policy_digest(d),
    )


def common_tables(lists: Sequence[Listing]) -> list[TableInfo]:
    """The tables the three nodes' ``GET /v1/tables`` answers list alike, in node 0's order."""
    seen = [{_listing_key(d) for d in lst} for lst in lists]
    common = seen[0] & seen[1] & seen[2]
    return [
        TableInfo(
            name=str(d["name"]),
            owner=str(d.get("owner", "")),
            rows=int(d.get("rows", 0)),
            version=int(d["version"]),
            schema=tuple(spec_from_json(s) for s in d.get("schema", [])),
            policy=dict(d.get("policy") or {}),
            policy_version=int(d.get("policy_version", 1)),
        )
        for d in lists[0]
        if _listing_key(d) in common
    ]


def find_table(lists: Sequence[Listing], name: str, node_names: Sequence[str]) -> TableInfo:
    """Table ``name`` from the three listings; :class:`UnknownTableError` naming what each
    node holds when they differ, or the known tables when no node has it."""
    infos = common_tables(lists)
    for t in infos:
        if t.name == name:
            return t
    known = ", ".join(sorted(t.name for t in infos)) or "none"
    held = _held(lists, name)
    if held:
        where = ", ".join(f"{node_names[i]}: {v}" for i, v in held.items())
        versions = {v.split(",")[0] for v in held.values()}
        hint = (
            "a node that missed an upload's commit completes it when the upload is "
            "retried with the same upload id"
            if len(versions) > 1
            else "a node that missed an owner-signed policy change accepts it when the "
            "same change is sent to it again"
        )
        raise UnknownTableError(
            f"table {name!r} is not the same on the three nodes ({where}); {hint}"
        )
    raise UnknownTableError(f"no table {name!r} on the nodes (tables: {known})")


def _held(lists: Sequence[Listing], name: str) -> dict[int, str]:
    """What each node holds of table ``name`` ("none" where absent); {} if on none.

    ``"version V, policy version P"``, plus a short digest of the policy when the
    policies listed differ (never the policy itself).
    """
    found = [next((d for d in lst if d.get("name") == name), None) for lst in lists]
    if all(d is None for d in found):
        return {}
    policies = {_policy_digest(d) for d in found if d is not None}
    held = {}
    for i, d in enumerate(found):
        if d is None:
            held[i] = "none"
            continue
        text = f"version {d.get('version')}, policy version {d.get('policy_version', 1)}"
        if len(policies) > 1:
            text += f" (policy {_policy_digest(d)})"
        held[i] = text
    return held

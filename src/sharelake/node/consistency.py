"""Before a query computes: check that the three nodes hold the same version of every table.

A query runs on each node's stored pair of every table it scans. If one node holds
another version (it missed a commit, was restored from a backup, or a commit landed
on it a moment later than on the others), the protocol still starts, and fails deep
inside with a message size mismatch (e.g. ``ProtocolError: P0 sent a message of 576
bytes, expected 11232``), or, worse, computes on mixed data. So right after the peer
mesh forms, before any protocol message, :func:`check_tables` exchanges one fixed-size
record per scanned table with both neighbours (one round):

``meta (32) | version (8) | rows (8) | H(first component) (32) | H(second component) (32)``

``meta`` is the SHA-256 of the table's name, current upload id and schema; ``H(...)``
are SHA-256 digests over every stored component (each column part, then the validity
bits) in catalog order. Node i holds components i and i+1; its first component is its
previous node's second one, so comparing digests with both neighbours checks every
component of every table at two nodes (as the upload commit did). A component digest
reveals nothing about the data (the component is uniformly random to the receiver).

Any difference raises :class:`DataInconsistencyError` (HTTP 409) at every node, naming
the table and the nodes that disagree, with their versions and row counts (never a
value). Nothing was computed; the caller retries after the lagging node caught up (a
retried upload commit completes it).

The differencing check (``governance/outputs.py``) compares a new aggregate, inside MPC,
with every earlier released aggregate over the same table that the node recorded in its
``released.jsonl``. The three nodes must compare with the same list, or the protocol
breaks mid-query (message sizes differ) or computes on mismatched predicates. So
:func:`check_release_history` first exchanges, in one round with both neighbours,
``SHA-256(table, sorted row sets) (32) | count (8)`` and raises
:class:`ReleaseHistoryError` (409, a :class:`DataInconsistencyError`) at every node when
they differ, naming the node whose record differs. The digest covers the analysts' filter
predicates only, never a data value.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import IntegrityError, SharelakeError
from ..mpc.channel import Channel
from ..mpc.party import Party
from ..storage.store import LoadedTable

__all__ = [
    "DataInconsistencyError",
    "ReleaseHistoryError",
    "TableDigest",
    "check_components",
    "check_release_history",
    "check_tables",
    "table_digest",
]

_REC = struct.Struct("<32sQQ32s32s")
RECORD_SIZE = _REC.size
_HIST = struct.Struct("<32sQ")


class DataInconsistencyError(SharelakeError):
    """The nodes hold different versions or contents of a table the query scans (409).

    ``table`` names the table, ``nodes`` the node ids that disagree with the others
    (all three when no two agree), ``session`` the query.
    """

    def __init__(self, message: str, *, table: str, nodes: Sequence[int], session: str) -> None:
        super().__init__(message)
        self.table = table
        self.nodes = tuple(nodes)
        self.session = session


class ReleaseHistoryError(DataInconsistencyError):
    """The nodes' records of earlier released aggregates over a table differ (409)."""


class TableDigest:
    """What one node says about one table: identity, size and component digests."""

    __slots__ = ("first", "meta", "name", "rows", "second", "upload_id", "version")

    def __init__(
        self,
        name: str,
        upload_id: str,
        version: int,
        rows: int,
        meta: bytes,
        first: bytes,
        second: bytes,
    ) -> None:
        self.name, self.upload_id, self.version, self.rows = name, upload_id, version, rows
        self.meta, self.first, self.second = meta, first, second

    def encode(self) -> bytes:
        return _REC.pack(self.meta, self.version, self.rows, self.first, self.second)


def _meta_digest(name: str, upload_id: str, schema: Any) -> bytes:
    text = json.dumps([name, upload_id, schema], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(b"sharelake-table-v1\x00" + text.encode("utf-8")).digest()


def _component_digests(loaded: LoadedTable) -> tuple[bytes, bytes]:
    """SHA-256 over every first (second) component: parts in catalog order, then validity."""
    stored = loaded.meta.get("component_digests")
    if isinstance(stored, list | tuple) and len(stored) == 2:
        return bytes.fromhex(str(stored[0])), bytes.fromhex(str(stored[1]))
    ha = hashlib.sha256(b"sharelake-components-v1\x00")
    hb = hashlib.sha256(b"sharelake-components-v1\x00")
    pairs = [pair for parts in loaded.columns.values() for pair in parts.values()]
    for pair in [*pairs, loaded.valid]:
        ha.update(hashlib.sha256(np.ascontiguousarray(pair.a, dtype="<u8").data).digest())
        hb.update(hashlib.sha256(np.ascontiguousarray(pair.b, dtype="<u8").data).digest())
    return ha.digest(), hb.digest()


def table_digest(loaded: LoadedTable) -> TableDigest:
    """The record of a loaded table version (its meta as :meth:`Store.load_table` gives)."""
    m = loaded.meta
    name, upload_id = str(m["name"]), str(m.get("upload_id", ""))
    first, second = _component_digests(loaded)
    return TableDigest(
        name,
        upload_id,
        int(m["version"]),
        int(m["rows"]),
        _meta_digest(name, upload_id, m["schema"]),
        first,
        second,
    )


def _nodes(ids: Sequence[int]) -> str:
    names = [f"P{i}" for i in sorted(ids)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def check_tables(chan: Channel, tables: Mapping[str, LoadedTable]) -> None:
    """Compare every scanned table with both neighbours (one round); raise on a difference.

    Parameters
    ----------
    chan
        The query's channel, before any protocol message (all three nodes call this
        first, with the tables of the same plan in the same order).
    tables
        The loaded tables, by name, in the plan's scan order.

    Raises
    ------
    DataInconsistencyError
        A table differs in version, upload, row count, schema or share content; the
        message names the table and the nodes that disagree.
    """
    me = chan.party
    nxt, prv = (me + 1) % 3, (me + 2) % 3
    mine = [table_digest(t) for t in tables.values()]
    payload = b"".join(d.encode() for d in mine)
    chan.send(nxt, payload)
    chan.send(prv, payload)
    chan.stats.rounds += 1
    got = {j: bytes(chan.recv(j, len(payload))) for j in (nxt, prv)}
    for k, d in enumerate(mine):
        theirs = {j: _REC.unpack_from(got[j], k * RECORD_SIZE) for j in (nxt, prv)}
        said = {me: (d.meta, d.version, d.rows)}
        said.update({j: (r[0], int(r[1]), int(r[2])) for j, r in theirs.items()})
        if len(set(said.values())) > 1:
            _raise_version(chan.session, d.name, said)
        # Content: my first component is prv's second; my second is nxt's first.
        checks = ((prv, theirs[prv][4] == d.first), (nxt, theirs[nxt][3] == d.second))
        bad = [j for j, ok in checks if not ok]
        if bad:
            raise DataInconsistencyError(
                f"P{me}: table {d.name!r} version {d.version}: the shares held by "
                f"P{me} and {_nodes(bad)} differ (session {chan.session}); the nodes hold "
                "different contents under the same version",
                table=d.name,
                nodes=sorted({me, *bad}),
                session=chan.session,
            )


def _raise_version(session: str, table: str, said: Mapping[int, tuple[bytes, int, int]]) -> None:
    groups: dict[tuple[bytes, int, int], list[int]] = {}
    for node, key in sorted(said.items()):
        groups.setdefault(key, []).append(node)
    parts = [
        f"{_nodes(nodes)} {'has' if len(nodes) == 1 else 'have'} version {v} ({rows} rows)"
        for (_, v, rows), nodes in sorted(groups.items(), key=lambda kv: -len(kv[1]))
    ]
    if len({(v, rows) for _, v, rows in groups}) == 1:
        parts.append("but from different uploads or schemas")
    largest = max(len(n) for n in groups.values())
    odd = [n for nodes in groups.values() if len(nodes) < largest for n in nodes]
    same = all(len(n) == 1 for n in groups.values()) or not odd
    differ = sorted(said) if same else sorted(odd)
    raise DataInconsistencyError(
        f"table {table!r} is not the same on the three nodes: {'; '.join(parts)} "
        f"(session {session}). Nothing was computed. A node that missed an upload's commit "
        "completes it when the upload is retried with the same upload id.",
        table=table,
        nodes=differ,
        session=session,
    )


def check_components(
    p: Party, digests: Mapping[str, tuple[bytes, bytes]], *, what: str = "input"
) -> None:
    """:func:`sharelake.mpc.arith.check_input` of many pairs from their digests, one round.

    ``digests`` maps each part (the same keys in the same order at all three nodes) to
    the SHA-256 of this node's first and second component. Each node sends its first
    digests to the previous node and compares the next node's with its second ones.

    Raises
    ------
    IntegrityError
        A component differs between the two nodes that hold it (names the part).
    """
    keys = list(digests)
    firsts = b"".join(digests[k][0] for k in keys)
    got = bytes(p.exchange({p.prev: firsts}, {p.next: len(firsts)})[p.next])
    for i, key in enumerate(keys):
        if got[32 * i : 32 * (i + 1)] != digests[key][1]:
            raise IntegrityError(
                f"P{p.id}: {what} part {key} share component {p.next} disagrees with "
                f"P{p.next} (session {p.chan.session})"
            )


def check_release_history(p: Party, table: str, records: Sequence[Sequence[str]]) -> None:
    """Check, in one round with both neighbours, that the nodes hold the same release record.

    Parameters
    ----------
    p
        This party's protocol context (all three nodes call this at the same point of
        the query, before the differencing check's MPC).
    table
        The table the aggregate reads.
    records
        This node's earlier released row sets over ``table`` (each the sorted canonical
        predicates), in any order.

    Raises
    ------
    ReleaseHistoryError
        The three records are not the same; the message names the node(s) whose record
        differs and each node's number of earlier releases, never a predicate or value.
    """
    doc = sorted([list(r) for r in records])
    text = json.dumps([table, doc], sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(b"sharelake-releases-v1\x00" + text.encode("utf-8")).digest()
    mine = _HIST.pack(digest, len(doc))
    got = p.exchange({p.prev: mine, p.next: mine}, {p.prev: _HIST.size, p.next: _HIST.size})
    said = {p.id: (digest, len(doc))}
    for j, raw in got.items():
        d, n = _HIST.unpack(bytes(raw))
        said[j] = (d, int(n))
    if len(set(said.values())) == 1:
        return
    groups: dict[tuple[bytes, int], list[int]] = {}
    for node, key in sorted(said.items()):
        groups.setdefault(key, []).append(node)
    session = p.chan.session
    if len(groups) == 3:
        differ = sorted(said)
        who = "P0, P1 and P2 each have a different record of earlier releases"
    else:
        differ = next(nodes for nodes in groups.values() if len(nodes) == 1)
        who = f"{_nodes(differ)} has a different record of earlier releases than the other two"
    counts = "; ".join(
        f"{_nodes(nodes)}: {n} earlier release(s)"
        for (_, n), nodes in sorted(groups.items(), key=lambda kv: kv[1])
    )
    raise ReleaseHistoryError(
        f"this aggregate over table {table!r} cannot be checked against earlier releases: "
        f"{who} ({counts}; session {session}). The check that stops two releases from "
        "revealing a few rows by their difference needs the same record on every node, so "
        "the query is refused. Nothing was released. Please tell the node operators: "
        f"the record (released.jsonl) of {_nodes(differ)} must be repaired before "
        "aggregates over this table can run again.",
        table=table,
        nodes=differ,
        session=session,
    )

"""The audit trail: a hash-chained, append-only log per node, and checks across nodes.

Every node appends every request, verdict, approval, run, release and failure to its
own log, one JSON object per line::

    {"seq": 0, "time": "2024-05-01T12:00:00.123Z", "node": 0, "kind": "verdict",
     "session": "3f...", "plan_hash": "ab...", "member": "analyst",
     "decision": "needs_approval", "rows": null, "detail": "people.pid (match:released)",
     "prev": "000...0", "hash": "5e..."}

``prev`` is the ``hash`` of the entry before (64 zeros for the first) and ``hash`` the
SHA-256 of the entry's canonical JSON without ``hash``. Entries hold names (members,
tables, columns, rules), hashes, decisions and row counts, never a data value: the
fields are fixed and ``detail`` is limited to :data:`MAX_DETAIL` characters of text
that the node composes from names only.

:func:`verify_chain` finds an edited, inserted, reordered or removed entry inside one
log and names it. It cannot see entries cut off the *end* of a log, nor a log rewritten
whole with fresh hashes: :func:`compare_nodes` catches those by checking that the three
nodes logged the same sessions with the same kinds, plan hashes and decisions (a single
corrupt node cannot rewrite the other two logs).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..plan.canonical import canonical_json

__all__ = [
    "AUDIT_FILE",
    "KINDS",
    "MAX_DETAIL",
    "SHARED_KINDS",
    "AuditLog",
    "compare_logs",
    "compare_nodes",
    "entry_hash",
    "format_entry",
    "parse_lines",
    "read_entries",
    "verify_chain",
    "verify_lines",
]

AUDIT_FILE = "audit.jsonl"
GENESIS = "0" * 64
MAX_DETAIL = 2000
KINDS = (
    "request",
    "verdict",
    "submission",
    "approval",
    "rejection",
    "policy",
    "run",
    "release",
    "refusal",
    "failure",
)
SHARED_KINDS = frozenset({"verdict", "submission", "approval", "rejection", "run", "release"})
FIELDS = ("seq", "time", "node", "kind", "session", "plan_hash", "member", "decision", "rows")
_ALL_FIELDS = (*FIELDS, "detail", "prev", "hash")


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``entry`` without its ``hash`` field."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body).encode("ascii")).hexdigest()


class AuditLog:
    """One node's append-only audit log (thread-safe).

    Parameters
    ----------
    path
        The JSON-lines file (created when missing).
    node
        The node id written in every entry.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> log = AuditLog(d / "audit.jsonl", node=0)
    >>> e = log.append("verdict", session="s1", member="ana", decision="allow")
    >>> log.append("release", session="s1", member="ana", rows=3)["prev"] == e["hash"]
    True
    >>> verify_chain(d / "audit.jsonl")
    []
    """

    def __init__(self, path: str | Path, *, node: int) -> None:
        self.path = Path(path)
        self.node = node
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._seq, self._last = 0, GENESIS
        last = _last_line(self.path)
        if last is not None:
            try:
                doc = json.loads(last)
                self._seq, self._last = int(doc["seq"]) + 1, str(doc["hash"])
            except (ValueError, KeyError, TypeError):
                # A torn last line: keep chaining after it; verify_chain names it.
                self._seq, self._last = (
                    _count_lines(self.path),
                    hashlib.sha256(last.encode("utf-8")).hexdigest(),
                )

    def append(
        self,
        kind: str,
        *,
        session: str = "",
        plan_hash: str = "",
        member: str = "",
        decision: str = "",
        rows: int | None = None,
        detail: str = "",
    ) -> dict[str, Any]:
        """Append one entry (written and fsynced before returning) and return it."""
        if kind not in KINDS:
            raise ValueError(f"unknown audit entry kind {kind!r}")
        with self._lock:
            entry: dict[str, Any] = {
                "seq": self._seq,
                "time": _now(),
                "node": self.node,
                "kind": kind,
                "session": session,
                "plan_hash": plan_hash,
                "member": member,
                "decision": decision,
                "rows": rows,
                "detail": detail[:MAX_DETAIL],
                "prev": self._last,
            }
            entry["hash"] = entry_hash(entry)
            line = canonical_json(entry) + "\n"
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)
            self._seq += 1
            self._last = entry["hash"]
            return entry

    def entries(self) -> list[dict[str, Any]]:
        """Every entry that parses (see :func:`read_entries`)."""
        return read_entries(self.path)

    def lines(self) -> list[str]:
        """The log's lines as stored (what :func:`verify_lines` checks)."""
        with self._lock:
            if not self.path.exists():
                return []
            return self.path.read_text(encoding="utf-8", errors="replace").splitlines()


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def _last_line(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            back = min(size, 1 << 16)
            f.seek(size - back)
            lines = f.read().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return None
    lines = [ln for ln in lines if ln.strip()]
    return lines[-1] if lines else None


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for ln in f if ln.strip())


def read_entries(path: str | Path) -> list[dict[str, Any]]:
    """The entries of a log that parse as JSON objects, in file order."""
    return parse_lines(Path(path).read_text(encoding="utf-8", errors="replace").splitlines())


def parse_lines(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The lines of a log that parse as JSON objects, in order."""
    out = []
    for line in lines:
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


def verify_chain(path: str | Path) -> list[str]:
    """Check one node's log; returns the problems, each naming the entry (empty: intact).

    Checks, per line: it parses, has exactly the audit fields, its ``seq`` follows the
    previous one, its ``hash`` matches its content, and its ``prev`` is the previous
    entry's hash.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "audit.jsonl"
    >>> log = AuditLog(p, node=1)
    >>> _ = [log.append("run", session=s) for s in ("a", "b", "c")]
    >>> _ = p.write_text(p.read_text().replace('"session":"b"', '"session":"x"'))
    >>> verify_chain(p)  # doctest: +ELLIPSIS
    ['...: entry seq 1 (line 2) was changed: its hash does not match its content']
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return [f"{p}: cannot read the audit log: {exc.strerror or exc}"]
    return verify_lines(lines, str(p))


def verify_lines(lines: Sequence[str], p: str) -> list[str]:
    """:func:`verify_chain` on a log's lines (e.g. as a node served them); ``p`` names
    the log in the problems."""
    problems: list[str] = []
    prev, expect = GENESIS, 0
    for ln, line in enumerate(lines, 1):
        if not line.strip():
            problems.append(f"{p}: line {ln} is empty")
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            problems.append(f"{p}: line {ln} is not a JSON entry (torn or edited)")
            prev, expect = hashlib.sha256(line.encode("utf-8")).hexdigest(), expect + 1
            continue
        if not isinstance(doc, dict) or set(doc) != set(_ALL_FIELDS):
            problems.append(f"{p}: line {ln} does not have the audit entry fields")
            prev, expect = "", expect + 1
            continue
        name = f"entry seq {doc['seq']} (line {ln})"
        if doc["seq"] != expect:
            problems.append(f"{p}: {name}: expected seq {expect} (an entry is missing or moved)")
        if doc["hash"] != entry_hash(doc):
            problems.append(f"{p}: {name} was changed: its hash does not match its content")
        elif doc["prev"] != prev:
            problems.append(
                f"{p}: {name} does not follow the entry before it (prev hash differs): "
                "an entry before it was removed, inserted or changed"
            )
        prev = str(doc["hash"])
        expect = (doc["seq"] + 1) if isinstance(doc["seq"], int) else expect + 1
    return problems


def _shared(entries: Iterable[Mapping[str, Any]]) -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = {}
    for e in entries:
        if e.get("kind") in SHARED_KINDS and e.get("session"):
            item = (str(e["kind"]), str(e.get("plan_hash", "")), str(e.get("decision", "")))
            out.setdefault(str(e["session"]), []).append(item)
    return out


def compare_nodes(paths: Sequence[str | Path]) -> list[str]:
    """Check that the nodes' logs agree; returns the problems (empty: they agree).

    For every session (query or approval id) the logs must hold the same sequence of
    shared entries (:data:`SHARED_KINDS`: kind, plan hash and decision). Sessions are
    compared one by one, so concurrent queries may interleave differently per node.
    Node-local entries (requests, refused authentication, local failures) are not
    compared.
    """
    return compare_logs([read_entries(p) for p in paths], [str(p) for p in paths])


def compare_logs(
    logs_entries: Sequence[Sequence[Mapping[str, Any]]], names: Sequence[str]
) -> list[str]:
    """:func:`compare_nodes` on the nodes' entries; ``names[i]`` names node i's log."""
    paths = names
    logs = [_shared(entries) for entries in logs_entries]
    problems: list[str] = []
    sessions = sorted(set().union(*(set(g) for g in logs)))
    for sid in sessions:
        seqs = [g.get(sid) for g in logs]
        base = next(s for s in seqs if s is not None)
        for i, s in enumerate(seqs):
            if s is None:
                problems.append(f"session {sid}: missing from the log of node {i} ({paths[i]})")
            elif s != base:
                problems.append(
                    f"session {sid}: node {i} ({paths[i]}) logged "
                    f"{_seq_text(s)}, another node logged {_seq_text(base)}"
                )
    return problems


def _seq_text(items: Sequence[tuple[str, str, str]]) -> str:
    return "[" + ", ".join(f"{k}/{d or '-'}/{h[:12] or '-'}" for k, h, d in items) + "]"


def format_entry(e: Mapping[str, Any]) -> str:
    """One readable line for ``sharelake audit show``."""
    when = str(e.get("time", "")).replace("T", " ")[:19]
    parts = [f"#{e.get('seq')}", when, f"P{e.get('node')}", str(e.get("kind"))]
    for key in ("member", "decision"):
        if e.get(key):
            parts.append(f"{key}={e[key]}")
    if e.get("session"):
        parts.append(f"session={str(e['session'])[:12]}")
    if e.get("plan_hash"):
        parts.append(f"plan={str(e['plan_hash'])[:12]}")
    if e.get("rows") is not None:
        parts.append(f"rows={e['rows']}")
    text = " ".join(parts)
    return f"{text}: {e['detail']}" if e.get("detail") else text

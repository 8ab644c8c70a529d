"""The audit trail: a hash-chained, append-only log per node, and checks across nodes.

Every node appends every request, verdict, approval, run, release and failure to its
own log, one JSON object per line::

    {"seq": 0, "time": "2024-05-01T12:00:00.123Z", "node": 0, "kind": "verdict",
     "session": "3f...", "plan_hash": "ab...", "member": "analyst",
     "decision": "needs_approval", "rows": null, "detail": "people.pid (match:released)",
     "prev": "000...0", "hash": "5e..."}

``prev`` is the ``hash`` of the entry before (64 zeros for the first), ``hash`` the
SHA-256 of the entry's canonical JSON without ``hash`` and ``sig``, and ``sig`` the base64
Ed25519 signature of that hash by the node's *audit key* (``audit-key.pem`` beside the
node's TLS key; its public half is ``audit_key`` of the node in ``consortium.toml``).
Entries hold names (members, tables, columns, rules), hashes, decisions and row counts,
never a data value: the fields are fixed and ``detail`` is limited to :data:`MAX_DETAIL`
characters of text that the node composes from names only.

Three checks, each catching what the others cannot:

:func:`verify_chain`
    one log: an edited, inserted, reordered or removed entry breaks the chain, and an
    entry rewritten by anyone without the node's audit key fails its signature.
:func:`check_heads`
    at the end of every query the nodes exchange their signed chain heads ``(seq, hash)``
    (:meth:`AuditLog.signed_head`, one round on the query's peer channel) and each stores
    the other two's in ``audit_heads.jsonl`` (:class:`PeerHeads`). A log rewritten by its
    own operator (who holds the node's key and can re-sign a whole recomputed chain), or
    cut short, no longer holds the entry a peer saw at that ``seq``: named, with the peer
    that holds the evidence. This also catches the last entries cut off all three logs,
    as long as the peers' head files survive.
:func:`compare_nodes`
    entries of the same event (a query session, an approval request, an upload, a drop, a
    policy change) are logged by all three nodes: every field but the node-local ones
    (``seq``, ``time``, ``node``, ``prev``, ``hash``, ``sig``) must agree, so a member or
    decision rewritten on one node, or an event deleted from one node after the last
    exchange, is named.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import struct
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from ..plan.canonical import canonical_json

__all__ = [
    "AUDIT_FILE",
    "HEADS_FILE",
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
HEADS_FILE = "audit_heads.jsonl"
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
    "upload",
    "drop",
    "membership",
    "retention",
    "erasure",
)
#: Kinds every node logs for the same event (compared across nodes, field by field).
SHARED_KINDS = frozenset(
    {
        "verdict",
        "submission",
        "approval",
        "rejection",
        "run",
        "release",
        "refusal",
        "policy",
        "upload",
        "drop",
        "erasure",
    }
)
FIELDS = ("seq", "time", "node", "kind", "session", "plan_hash", "member", "decision", "rows")
_ALL_FIELDS = (*FIELDS, "detail", "prev", "hash", "sig")
#: The fields that differ between nodes by design (the rest must agree).
LOCAL_FIELDS = frozenset({"seq", "time", "node", "prev", "hash", "sig"})
_ENTRY_CONTEXT = b"sharelake-audit-entry-v1\x00"
_HEAD_CONTEXT = b"sharelake-audit-head-v1\x00"
_HEAD = struct.Struct(">BQ32s64s")  # node, seq, hash, signature: 105 bytes
# present only when set, so entries written before they existed keep their form and hash
OPTIONAL_FIELDS = ("purpose",)


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``entry`` without its ``hash`` and ``sig``."""
    body = {k: v for k, v in entry.items() if k not in ("hash", "sig")}
    return hashlib.sha256(canonical_json(body).encode("ascii")).hexdigest()


def _entry_message(node: int, digest: str) -> bytes:
    return _ENTRY_CONTEXT + bytes([node]) + bytes.fromhex(digest)


def _head_message(node: int, seq: int, digest: bytes) -> bytes:
    return _HEAD_CONTEXT + struct.pack(">BQ", node, seq) + digest


def _verify(public: bytes, sig: bytes, message: bytes) -> bool:
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(sig, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _b64(text: Any) -> bytes | None:
    try:
        return base64.b64decode(str(text).encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


@dataclass(frozen=True)
class Head:
    """A node's signed chain head: its log's last entry ``seq`` and ``hash`` (``seq`` -1
    and 64 zeros for an empty log)."""

    node: int
    seq: int
    hash: str
    sig: bytes

    def pack(self) -> bytes:
        """Fixed-size wire form (105 bytes; an empty log sends seq 2^64 - 1)."""
        seq = self.seq if self.seq >= 0 else (1 << 64) - 1
        return _HEAD.pack(self.node, seq, bytes.fromhex(self.hash), self.sig)

    @classmethod
    def unpack(cls, raw: bytes) -> Head:
        """Parse :meth:`pack`'s form."""
        node, seq, digest, sig = _HEAD.unpack(raw)
        return cls(int(node), -1 if seq == (1 << 64) - 1 else int(seq), digest.hex(), sig)

    def valid(self, public: bytes) -> bool:
        """Whether ``sig`` is the node's signature of (node, seq, hash)."""
        seq = self.seq if self.seq >= 0 else (1 << 64) - 1
        return _verify(public, self.sig, _head_message(self.node, seq, bytes.fromhex(self.hash)))


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

    def __init__(
        self, path: str | Path, *, node: int, key: ed25519.Ed25519PrivateKey | None = None
    ) -> None:
        self.path = Path(path)
        self.node = node
        self.key = key
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
        purpose: str = "",
    ) -> dict[str, Any]:
        """Append one entry (written and fsynced before returning) and return it.

        ``purpose`` (the purpose a query or request serves) is stored only when given.
        """
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
            if purpose:
                entry["purpose"] = purpose[:64]
            entry["hash"] = entry_hash(entry)
            entry["sig"] = (
                ""
                if self.key is None
                else base64.b64encode(
                    self.key.sign(_entry_message(self.node, entry["hash"]))
                ).decode("ascii")
            )
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

    def signed_head(self) -> Head:
        """This log's head (last ``seq`` and ``hash``), signed with the node's audit key."""
        with self._lock:
            seq, digest = self._seq - 1, self._last
        if self.key is None:
            return Head(self.node, seq, digest, bytes(64))
        raw = (1 << 64) - 1 if seq < 0 else seq
        sig = self.key.sign(_head_message(self.node, raw, bytes.fromhex(digest)))
        return Head(self.node, seq, digest, sig)


class PeerHeads:
    """The chain heads a node received from its peers (``audit_heads.jsonl``, appended).

    Each line: ``{"node": i, "seq": n, "hash": h, "sig": base64, "time": ...}``. A head
    whose signature does not verify under the sender's audit key is not stored.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def store(self, head: Head) -> None:
        """Append one received head (fsynced)."""
        line = canonical_json(
            {
                "node": head.node,
                "seq": head.seq,
                "hash": head.hash,
                "sig": base64.b64encode(head.sig).decode("ascii"),
                "time": _now(),
            }
        )
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\n").encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)


def read_heads(path: str | Path) -> list[Head]:
    """The heads stored in a peer-heads file (lines that do not parse are skipped)."""
    out = []
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    for line in text.splitlines():
        try:
            doc = json.loads(line)
            sig = _b64(doc["sig"])
            if sig is None or len(sig) != 64:
                continue
            out.append(Head(int(doc["node"]), int(doc["seq"]), str(doc["hash"]), sig))
        except (ValueError, KeyError, TypeError):
            continue
    return out


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


def verify_chain(path: str | Path, *, public_key: bytes | None = None) -> list[str]:
    """Check one node's log; returns the problems, each naming the entry (empty: intact).

    Checks, per line: it parses, has exactly the audit fields, its ``seq`` follows the
    previous one, its ``hash`` matches its content, its ``prev`` is the previous entry's
    hash and (given the node's audit ``public_key``) its ``sig`` is the node's signature.

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
    return verify_lines(lines, str(p), public_key=public_key)


def verify_lines(lines: Sequence[str], p: str, *, public_key: bytes | None = None) -> list[str]:
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
        if not isinstance(doc, dict) or set(doc) - set(OPTIONAL_FIELDS) != set(_ALL_FIELDS):
            problems.append(f"{p}: line {ln} does not have the audit entry fields")
            prev, expect = "", expect + 1
            continue
        name = f"entry seq {doc['seq']} (line {ln})"
        if doc["seq"] != expect:
            problems.append(f"{p}: {name}: expected seq {expect} (an entry is missing or moved)")
        if doc["hash"] != entry_hash(doc):
            problems.append(f"{p}: {name} was changed: its hash does not match its content")
        elif public_key is not None and not _signed(doc, public_key):
            problems.append(
                f"{p}: {name} is not signed by node P{doc['node']}'s audit key "
                "(rewritten without the node's key)"
            )
        elif doc["prev"] != prev:
            problems.append(
                f"{p}: {name} does not follow the entry before it (prev hash differs): "
                "an entry before it was removed, inserted or changed"
            )
        prev = str(doc["hash"])
        expect = (doc["seq"] + 1) if isinstance(doc["seq"], int) else expect + 1
    return problems


def _signed(doc: Mapping[str, Any], public_key: bytes) -> bool:
    sig = _b64(doc.get("sig", ""))
    if sig is None or len(sig) != 64 or not isinstance(doc.get("node"), int):
        return False
    try:
        message = _entry_message(int(doc["node"]), str(doc["hash"]))
    except ValueError:
        return False
    return _verify(public_key, sig, message)


def check_heads(
    logs: Mapping[int, str | Path],
    heads: Mapping[int, str | Path],
    public_keys: Mapping[int, bytes | None],
) -> list[str]:
    """Check every chain head the peers stored against the log of the node it names.

    Parameters
    ----------
    logs
        Node id -> its audit log.
    heads
        Node id -> the peer-heads file it keeps (:data:`HEADS_FILE`).
    public_keys
        Node id -> its audit public key (None: heads of that node are taken unsigned).

    Returns
    -------
    list of str
        One problem per node whose log no longer holds an entry a peer saw (the latest
        such head per pair), naming both nodes and the ``seq``.
    """
    problems: list[str] = []
    entries = {i: read_entries(p) for i, p in logs.items()}
    by_seq = {i: {e.get("seq"): e.get("hash") for e in es} for i, es in entries.items()}
    for holder, path in sorted(heads.items()):
        named: set[int] = set()  # one problem per (holder, node): its earliest mismatch
        for h in read_heads(path):
            key = public_keys.get(h.node)
            if h.node not in logs or h.node == holder or h.node in named:
                continue
            if key is not None and not h.valid(key):
                continue  # not the node's head (never stored by a node; a forged line)
            if h.seq >= 0 and by_seq[h.node].get(h.seq) != h.hash:
                named.add(h.node)
                problems.append(
                    f"node P{h.node}'s log ({logs[h.node]}) does not hold the entry seq "
                    f"{h.seq} that node P{holder} was shown (signed chain head): its log was "
                    + ("cut short" if h.seq not in by_seq[h.node] else "rewritten")
                )
    return sorted(set(problems))


def _shared(entries: Iterable[Mapping[str, Any]]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for e in entries:
        if e.get("kind") in SHARED_KINDS and e.get("session"):
            item = tuple(
                (k, e.get(k))
                for k in sorted((*_ALL_FIELDS, *OPTIONAL_FIELDS))
                if k not in LOCAL_FIELDS
            )
            out.setdefault(str(e["session"]), []).append(item)
    return out


def compare_nodes(paths: Sequence[str | Path]) -> list[str]:
    """Check that the nodes' logs agree; returns the problems (empty: they agree).

    For every session (query, approval request, upload, drop or policy change) the logs
    must hold the same sequence of shared entries (:data:`SHARED_KINDS`), equal in every
    field but :data:`LOCAL_FIELDS` (so member, decision, rows and detail too). Sessions
    are compared one by one, so concurrent queries may interleave differently per node.
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


def _seq_text(items: Sequence[tuple[Any, ...]]) -> str:
    parts = []
    for item in items:
        d = dict(item)
        text = f"{d['kind']}/{d['decision'] or '-'}/{str(d['plan_hash'])[:12] or '-'}"
        text += f"/member={d['member'] or '-'}"
        if d["rows"] is not None:
            text += f"/rows={d['rows']}"
        parts.append(text)
    return "[" + ", ".join(parts) + "]"


def format_entry(e: Mapping[str, Any]) -> str:
    """One readable line for ``sharelake audit show``."""
    when = str(e.get("time", "")).replace("T", " ")[:19]
    parts = [f"#{e.get('seq')}", when, f"P{e.get('node')}", str(e.get("kind"))]
    for key in ("member", "decision", "purpose"):
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


def verify_logs(
    logs: Sequence[str | Path], public_keys: Mapping[int, bytes | None] | None = None
) -> list[str]:
    """All three checks over the nodes' logs: each chain (and signatures, given the
    nodes' audit ``public_keys``), the peers' stored chain heads (``audit_heads.jsonl``
    beside each log) and, given several logs, the agreement of every shared field.

    Returns the problems (empty: intact and in agreement).
    """
    keys = dict(public_keys or {})
    ids: dict[int, Path] = {}
    problems: list[str] = []
    for i, path in enumerate(logs):
        first = read_entries(path)[:1]
        node = int(first[0]["node"]) if first and isinstance(first[0].get("node"), int) else i
        ids[node] = Path(path)
        problems += verify_chain(path, public_key=keys.get(node))
    heads = {i: p.parent / HEADS_FILE for i, p in ids.items() if (p.parent / HEADS_FILE).exists()}
    problems += check_heads(ids, heads, keys)
    if len(logs) > 1:
        problems += compare_nodes(list(logs))
    return problems

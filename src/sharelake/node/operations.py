"""A node operator's daily tasks: status, backup and restore of one node folder.

:func:`node_status` says whether the node's files are sound (configuration, founders'
signatures, certificate, data) and, when it runs, whether it answers and reaches its
peers. :func:`backup_node` writes one ``.tar.gz`` with a manifest of SHA-256 sums;
:func:`restore_node` checks every sum before it touches anything, puts the data back
and runs the storage check (``sharelake fsck``).

A backup holds the node's data directory (shares, catalog, approvals, audit), its
``node.toml``, ``consortium.toml``, descriptor and certificates. The node's TLS private
key is left out unless asked for (``include_keys``): keep such a backup as carefully as
the key itself. The catalog is copied through SQLite's online backup, so a backup of a
running node is consistent for every table committed before it started; a table
committed during the backup comes back as an unreferenced version that ``fsck
--repair`` removes. The cleanest backup is of a stopped node.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import shutil
import socket
import sqlite3
import ssl
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from ..consortium.cluster import NodeConfig, check_node_files
from ..consortium.founding import missing_founders
from ..consortium.members import Consortium
from ..errors import SharelakeError
from ..net.framing import PROTOCOL_VERSION
from ..net.identity import load_cert
from .privacy import privacy_status

__all__ = [
    "BackupError",
    "Check",
    "NodeStatus",
    "backup_node",
    "node_status",
    "restore_node",
]

MANIFEST = "MANIFEST.json"
BACKUP_FORMAT = 1
_SKIP_DIRS = {"staging"}
_SKIP_SUFFIXES = (".tmp", "-wal", "-shm", "-journal")


class BackupError(SharelakeError):
    """A backup cannot be written, or an archive cannot be restored (names the reason)."""


@dataclass(frozen=True)
class Check:
    """One line of a status report: what was checked, whether it is fine, and details."""

    name: str
    ok: bool
    detail: str


@dataclass
class NodeStatus:
    """The status report of one node (see :func:`node_status`)."""

    node: str
    checks: list[Check] = field(default_factory=list)
    #: tables with their purposes and retention, tables destroyed at their retention,
    #: erasures, the last retention check (:func:`sharelake.node.privacy.privacy_status`)
    privacy: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``sharelake node status --json``)."""
        out: dict[str, Any] = {
            "node": self.node,
            "ok": self.ok,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }
        if self.privacy is not None:
            out["privacy"] = self.privacy
        return out


def _retention_check(st: NodeStatus, cfg: NodeConfig, cons: Consortium) -> Check:
    """The retention line of the status, and :attr:`NodeStatus.privacy` (docs/privacy.md)."""
    try:
        info = privacy_status(cfg, cons)
    except (SharelakeError, OSError, ValueError) as exc:
        return Check("retention", False, f"cannot read the retention state: {exc}")
    st.privacy = info
    expired = [t["table"] for t in info["tables"] if t["expired"]]
    limited = [t for t in info["tables"] if t["expires"] != "never"]
    nxt = min((t["expires"] for t in limited), default="none")
    detail = (
        f"last check {info['last_retention_check'] or 'never'}; "
        f"{len(limited)} tables with a retention (next expiry {nxt}); "
        f"{len(info['destroyed'])} destroyed at their retention; "
        f"{len(info['erasures'])} erasures"
    )
    if expired:
        detail += f"; {len(expired)} expired, destroyed at the next check"
    return Check("retention", True, detail)


def _tcp(host: str, port: int, timeout: float = 1.0) -> bool:
    with contextlib.suppress(OSError):
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    return False


def _probe(url: str) -> int | None:
    """The status of ``GET url`` over TLS without checking the chain (probes carry no data)."""
    import httpx

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        return httpx.get(url, verify=ctx, timeout=3.0).status_code
    except httpx.HTTPError:
        return None


def _local_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)


def node_status(config_path: str | Path) -> NodeStatus:
    """Check a node folder and, if the node runs, the node itself.

    Checks: the configuration loads; the consortium file loads and every founder signed
    it; the certificate is the pinned one and how long it stays valid; the data
    directory and its tables; the API answers ``/healthz`` and ``/readyz``; each peer's
    channel accepts TCP connections.

    Returns
    -------
    NodeStatus
        Every check with its detail; :attr:`NodeStatus.ok` when all passed.
    """
    try:
        cfg = NodeConfig.load(config_path)
    except SharelakeError as exc:
        return NodeStatus("?", [Check("configuration", False, str(exc))])
    st = NodeStatus(cfg.name)
    st.checks.append(Check("configuration", True, f"{cfg.path} (node P{cfg.id})"))
    st.checks.append(
        Check("software", True, f"sharelake {__version__}, peer protocol {PROTOCOL_VERSION}")
    )
    try:
        cons = Consortium.load(cfg.consortium_path)
    except SharelakeError as exc:
        st.checks.append(Check("consortium", False, str(exc)))
        return st
    missing = missing_founders(cons) if cons.founders else ["(no founders named)"]
    if cons.revision == 0 or missing:
        detail = f"{cons.name!r} revision {cons.revision}, founders {', '.join(cons.founders)}"
        if missing:
            detail += f"; not signed by {', '.join(missing)}"
        st.checks.append(Check("consortium", not missing, detail))
    else:
        st.checks.append(Check("consortium", True, f"{cons.name!r} revision {cons.revision}"))
    try:
        check_node_files(cfg, cons)
        cert = load_cert(cfg.cert_path)
        days = (cert.not_valid_after_utc - dt.datetime.now(dt.UTC)).days
        st.checks.append(
            Check("certificate", days > 30, f"pinned fingerprint matches; valid {days} more days")
        )
    except (SharelakeError, OSError, ValueError) as exc:
        st.checks.append(Check("certificate", False, str(exc)))
    if cfg.data_dir.is_dir():
        files = [p for p in cfg.data_dir.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        tables = cfg.data_dir / "tables"
        n = sum(1 for p in tables.iterdir() if p.is_dir()) if tables.is_dir() else 0
        st.checks.append(Check("data", True, f"{n} tables, {len(files)} files, {size:,} bytes"))
        st.checks.append(_retention_check(st, cfg, cons))
    else:
        st.checks.append(Check("data", True, "no data directory yet (made at first start)"))
    me = cons.node(cfg.id)
    host = _local_host(cfg.api_host)
    url = f"https://{'[' + host + ']' if ':' in host else host}:{cfg.api_port}"
    health, ready = _probe(f"{url}/healthz"), _probe(f"{url}/readyz")
    if health is None:
        st.checks.append(
            Check("running", False, f"nothing answers on {cfg.api_host}:{cfg.api_port}")
        )
        return st
    st.checks.append(
        Check(
            "running",
            health == 200 and ready == 200,
            f"healthz {health}, readyz {ready}; advertised as {me.api_url}",
        )
    )
    for peer in cons.nodes:
        if peer.id == cfg.id:
            continue
        up = _tcp(peer.peer_host, peer.peer_port)
        where = f"{peer.peer_host}:{peer.peer_port}"
        st.checks.append(
            Check(f"peer {peer.name}", up, f"{where} {'accepts' if up else 'refuses'} connections")
        )
    return st


# ---- backup -----------------------------------------------------------------------------


def _data_files(data_dir: Path) -> Iterator[Path]:
    for p in sorted(data_dir.rglob("*")):
        rel = p.relative_to(data_dir)
        if rel.parts and rel.parts[0] in _SKIP_DIRS:
            continue
        if p.is_file() and not p.name.endswith(_SKIP_SUFFIXES) and not p.name.startswith("."):
            yield p


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sqlite_copy(path: Path) -> bytes:
    """A consistent copy of a SQLite database (online backup API), as bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "copy.sqlite"
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            out = sqlite3.connect(dst)
            try:
                src.backup(out)
            finally:
                out.close()
        finally:
            src.close()
        return dst.read_bytes()


def backup_node(
    config_path: str | Path, out: str | Path, *, include_keys: bool = False
) -> dict[str, Any]:
    """Write a backup of a node folder to ``out`` (``.tar.gz``); return its manifest.

    Parameters
    ----------
    config_path
        The node's ``node.toml``.
    out
        The archive to write (refused if it exists).
    include_keys
        Also store the node's TLS private key.

    Raises
    ------
    BackupError
        If ``out`` exists or a file cannot be read.
    """
    cfg = NodeConfig.load(config_path)
    target = Path(out)
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new name")
    folder = cfg.path.parent if cfg.path is not None else Path(".")
    members: list[tuple[str, bytes]] = []
    for name, path in (
        ("node.toml", cfg.path),
        ("consortium.toml", cfg.consortium_path),
        ("descriptor.toml", folder / "descriptor.toml"),
        ("tls/node.pem", cfg.cert_path),
        ("tls/ca.pem", cfg.ca_path),
        ("tls/node-key.pem", cfg.key_path if include_keys else None),
    ):
        if path is not None and Path(path).is_file():
            members.append((name, Path(path).read_bytes()))
    if cfg.data_dir.is_dir():
        for p in _data_files(cfg.data_dir):
            rel = p.relative_to(cfg.data_dir).as_posix()
            try:
                data = _sqlite_copy(p) if p.suffix == ".sqlite" else p.read_bytes()
            except (OSError, sqlite3.Error) as exc:
                raise BackupError(f"cannot read {rel} of the data directory: {exc}") from None
            members.append((f"data/{rel}", data))
    manifest = {
        "format": BACKUP_FORMAT,
        "sharelake": __version__,
        "protocol": PROTOCOL_VERSION,
        "node": cfg.id,
        "consortium": Consortium.load(cfg.consortium_path).name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "include_keys": include_keys,
        "files": {name: {"sha256": _sha256(data), "bytes": len(data)} for name, data in members},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for name, data in [(MANIFEST, json.dumps(manifest, indent=1).encode()), *members]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
    tmp.chmod(0o600)
    tmp.replace(target)
    return manifest


def _read_archive(archive: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            files: dict[str, bytes] = {}
            for m in tar.getmembers():
                if not m.isfile():
                    raise BackupError(f"{archive}: unexpected entry {m.name!r} (not a file)")
                parts = Path(m.name).parts
                if m.name.startswith("/") or ".." in parts:
                    raise BackupError(f"{archive}: unsafe path {m.name!r}")
                f = tar.extractfile(m)
                assert f is not None
                files[m.name] = f.read()
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{archive}: not a readable backup ({exc})") from None
    if MANIFEST not in files:
        raise BackupError(f"{archive}: no {MANIFEST}; not a sharelake node backup")
    manifest = json.loads(files.pop(MANIFEST))
    listed = manifest.get("files", {})
    if set(listed) != set(files):
        extra = sorted(set(files) ^ set(listed))
        raise BackupError(f"{archive}: files and manifest differ ({', '.join(extra[:3])})")
    for name, data in files.items():
        if _sha256(data) != listed[name]["sha256"]:
            raise BackupError(f"{archive}: {name} does not match its SHA-256 in the manifest")
    return manifest, files


def restore_node(config_path: str | Path, archive: str | Path, *, force: bool = False) -> list[str]:
    """Put a node's data back from a backup, after checking every file's SHA-256.

    The node must be stopped. Its data directory must be empty or missing, unless
    ``force``: then the current one is kept beside it as ``data.before-restore-TIME``.
    Configuration, consortium file and keys are not overwritten (they are in the archive
    for a rebuild by hand). Afterwards the storage check runs and its findings return.

    Raises
    ------
    BackupError
        The node runs, the archive is damaged or for another node, or data is in the way.
    """
    from ..storage.store import Store

    cfg = NodeConfig.load(config_path)
    if _tcp(_local_host(cfg.api_host), cfg.api_port, timeout=0.5):
        raise BackupError(f"{cfg.name} is running (its API answers); stop it before a restore")
    manifest, files = _read_archive(Path(archive))
    if manifest.get("format") != BACKUP_FORMAT:
        raise BackupError(f"{archive}: backup format {manifest.get('format')} is not supported")
    if manifest.get("node") != cfg.id:
        raise BackupError(f"{archive} is a backup of P{manifest.get('node')}, this is {cfg.name}")
    data = cfg.data_dir
    if data.exists() and any(data.iterdir()):
        if not force:
            raise BackupError(
                f"{data} is not empty; pass --force to keep it aside and restore anyway"
            )
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        data.rename(data.with_name(f"{data.name}.before-restore-{stamp}"))
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=data.parent))
    try:
        for name, blob in files.items():
            if not name.startswith("data/"):
                continue
            dest = staging / name[len("data/") :]
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(blob)
            dest.chmod(0o600)
        if data.exists():
            data.rmdir()
        staging.rename(data)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    with Store(data) as store:
        found = [str(p) for p in (*store.recovered, *store.fsck(repair=False))]
    return found

"""Privacy at a node: retention (expiry at admission, destruction of expired tables) and
erasure of a person's rows (docs/privacy.md).

Retention
    :meth:`NodePrivacy.refuse_expired` runs at every query's admission, on this node's
    own clock, so a query never reads an expired table even when another node has not
    destroyed it yet. :meth:`NodePrivacy.sweep` destroys every expired table (catalog
    row removed, every share file overwritten then unlinked, upload ids scrubbed),
    audits it and records it in ``DATA/privacy.jsonl`` (read by ``sharelake node
    status``); it runs at start-up (before the node serves), every
    ``SHARELAKE_RETENTION_CHECK`` seconds (default 3600) in a background thread, and
    when a query meets an expired table. A backup restored later is swept at the next
    start, and its expired tables are refused at admission before that.

Erasure
    ``POST /v1/erasures/{id}``: the owner's secret-shared record ids arrive at the three
    nodes; they check the ids' shares pairwise, run :func:`sharelake.engine.erase.erase_rows`
    in a peer session, stage the kept rows as the table's next version, confirm to each
    other that all three staged it, commit, destroy the old version's files and upload
    id, void what was bound to it (policy changes carried into the new version's policy,
    approvals, budgets, release records), and audit ``erasure`` with the number of rows
    removed (never an id).

The clock is :func:`node_clock`: the system clock, or, for tests, the Unix time written
in the file named by ``SHARELAKE_CLOCK_FILE`` (read at every call, so a test moves time
forward without sleeping). An operator who sets it only fools its own node: the other
two refuse expired tables on their own clocks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..consortium.cluster import NodeConfig
from ..consortium.members import Consortium, Member
from ..engine import persons_table
from ..engine.erase import erase_rows
from ..engine.tables import schema_specs, secret_table, upload_parts
from ..errors import InputValidationError, IntegrityError
from ..governance.audit import parse_lines
from ..governance.policy import Policy, PolicyError
from ..governance.retention import expires_at, expiry_text, retention_text
from ..mpc.party import Party
from ..mpc.verify import verify
from ..relational.table import SecretColumn, SecretTable, spec_to_json
from ..storage.bundle import BundleError, decode_bundle
from ..storage.catalog import TableNotFoundError, UploadStateError
from ..storage.shares import component_digest
from ..storage.store import Store
from .authz import AuthorizationError, require_role
from .consistency import check_components, check_tables
from .governance import Governance
from .peers import PeerRouter

__all__ = [
    "CHECK_ENV",
    "CLOCK_ENV",
    "PRIVACY_LOG",
    "NodePrivacy",
    "erasure_session",
    "node_clock",
    "privacy_status",
    "read_privacy_log",
]

log = logging.getLogger(__name__)

CLOCK_ENV = "SHARELAKE_CLOCK_FILE"
CHECK_ENV = "SHARELAKE_RETENTION_CHECK"
PRIVACY_LOG = "privacy.jsonl"
CHECK_FILE = "retention-check.json"
DEFAULT_CHECK_SECONDS = 3600.0


def node_clock() -> float:
    """Unix seconds now: the system clock, or the number in ``$SHARELAKE_CLOCK_FILE``.

    Examples
    --------
    >>> abs(node_clock() - time.time()) < 60 or CLOCK_ENV in os.environ
    True
    """
    path = os.environ.get(CLOCK_ENV)
    if path:
        try:
            return float(Path(path).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            log.warning("%s does not hold a Unix time: using the system clock", CLOCK_ENV)
    return time.time()


def check_interval() -> float:
    """Seconds between periodic retention checks (``$SHARELAKE_RETENTION_CHECK``)."""
    raw = os.environ.get(CHECK_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_CHECK_SECONDS
    except ValueError:
        value = DEFAULT_CHECK_SECONDS
    return value if value > 0 else DEFAULT_CHECK_SECONDS


def erasure_session(erasure_id: str, table: str, version: int, owner: str) -> str:
    """The peer session id of an erasure (the same at the three nodes)."""
    text = f"sharelake-erase-v1\x00{erasure_id}\x00{table}\x00{version}\x00{owner}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def read_privacy_log(data_dir: str | Path) -> list[dict[str, Any]]:
    """The retention and erasure records of a node's data directory, oldest first."""
    path = Path(data_dir) / PRIVACY_LOG
    if not path.exists():
        return []
    return parse_lines(path.read_text(encoding="utf-8", errors="replace").splitlines())


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class NodePrivacy:
    """Retention and erasure at one node (see the module docstring)."""

    def __init__(
        self,
        party: int,
        data_dir: str | Path,
        store: Store,
        gov: Governance,
        *,
        clock: Callable[[], float] = node_clock,
    ) -> None:
        self.party, self.store, self.gov, self.clock = party, store, gov, clock
        self.dir = Path(data_dir)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- retention ----------------------------------------------------------------------

    def policy(self, info: Mapping[str, Any]) -> Policy:
        """The policy in force over a catalog entry."""
        try:
            return Policy.from_dict(self.gov.in_force(info)[1])
        except PolicyError as exc:
            raise AuthorizationError(f"table {info['name']!r}: stored policy: {exc}") from None

    def expiry(self, info: Mapping[str, Any]) -> float | None:
        """When the table a catalog entry describes expires (None: never)."""
        return expires_at(self.policy(info), created=float(info["created"]))

    def is_expired(self, info: Mapping[str, Any], now: float | None = None) -> bool:
        """Whether the table is past its retention at ``now`` (default: the clock)."""
        at = self.expiry(info)
        return at is not None and (self.clock() if now is None else now) >= at

    def refuse_expired(
        self,
        catalog: Mapping[str, Mapping[str, Any]],
        *,
        member: str,
        session: str = "",
        plan_hash: str = "",
        purpose: str = "",
    ) -> None:
        """Refuse (audited) a request that reads a table past its retention, and destroy
        the table here at once.

        Raises
        ------
        AuthorizationError
            Naming the table and when it expired.
        """
        now = self.clock()
        for name, info in sorted(catalog.items()):
            if self.is_expired(info, now):
                text = (
                    f"table {name!r} is past its retention (expired "
                    f"{expiry_text(self.expiry(info))}); it is destroyed"
                )
                self.gov.audit.append(
                    "refusal",
                    session=session,
                    plan_hash=plan_hash,
                    member=member,
                    detail=text,
                    purpose=purpose,
                )
                self.sweep(now)
                raise AuthorizationError(text)

    def visible(self, tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The catalog entries that are not past their retention."""
        now = self.clock()
        return [t for t in tables if not self.is_expired(t, now)]

    def sweep(self, now: float | None = None) -> list[dict[str, Any]]:
        """Destroy every table past its retention; returns the records written.

        Each destruction is audited (``retention``) and appended to ``privacy.jsonl``.
        """
        now = self.clock() if now is None else now
        done: list[dict[str, Any]] = []
        with self._lock:
            for info in self.store.list_tables():
                try:
                    expired = self.is_expired(info, now)
                except AuthorizationError:
                    continue
                if not expired:
                    continue
                at = self.expiry(info)
                try:
                    self.store.destroy_table(str(info["name"]))
                except TableNotFoundError:
                    continue
                version = int(info["version"])
                self.gov.dropped(str(info["name"]), version)
                record = {
                    "event": "retention",
                    "table": info["name"],
                    "owner": info["owner"],
                    "version": version,
                    "rule": retention_text(self.policy(info)),
                    "expired": expiry_text(at),
                    "destroyed": _stamp(now),
                }
                self.gov.audit.append(
                    "retention",
                    member=str(info["owner"]),
                    decision="destroyed",
                    detail=f"table {info['name']!r} (version {version}): "
                    f"{record['rule']}; expired {record['expired']}; shares destroyed",
                )
                self._record(record)
                log.warning("P%d: a table passed its retention and was destroyed", self.party)
                done.append(record)
            self._write_check(now)
        self.drop_stale()  # the stored persons tables of what was destroyed
        return done

    def drop_stale(self) -> list[str]:
        """Destroy every stored persons table made from a list version no longer current.

        A list uploaded again, erased, dropped or expired leaves the person ids of its
        old rows in the stored persons tables made from it: they go too, at once (called
        after every commit, drop and erasure, and by :meth:`sweep`). Each destruction is
        audited (``drop``, decision ``destroyed``, the same event id at every node).
        """
        done: list[str] = []
        with self._lock:
            tables = {str(t["name"]): t for t in self.store.list_tables()}
            versions: dict[str, int | None] = {n: int(t["version"]) for n, t in tables.items()}
            for name, info in tables.items():
                if info["owner"] != persons_table.OWNER:
                    continue
                rec = self.store.catalog.get_table(name)
                found = None if rec is None else self.store.definition(rec.upload_id)
                try:
                    persons_table.check_sources(name, found, versions)
                    continue
                except persons_table.StaleTableError as exc:
                    reason = str(exc)
                try:
                    self.store.destroy_table(name)
                except TableNotFoundError:
                    continue
                version = int(info["version"])
                self.gov.dropped(name, version)
                self.gov.audit.append(
                    "drop",
                    session=f"stale:{name}:{version}",
                    member=persons_table.OWNER,
                    decision="destroyed",
                    detail=reason.split(": make it again")[0] + "; shares destroyed",
                )
                log.info("P%d: a stale stored persons table was destroyed", self.party)
                done.append(name)
        return done

    def _record(self, record: Mapping[str, Any]) -> None:
        path = self.dir / PRIVACY_LOG
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(dict(record), sort_keys=True) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def _write_check(self, now: float) -> None:
        path = self.dir / CHECK_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"last_check": _stamp(now), "unix": now}), encoding="utf-8")
        os.replace(tmp, path)

    def start(self, every: float | None = None) -> None:
        """Start the periodic retention check (a daemon thread)."""
        interval = check_interval() if every is None else every

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.sweep()
                except Exception as exc:  # keep checking; the next round retries
                    log.error("P%d: retention check failed: %s", self.party, type(exc).__name__)

        self._thread = threading.Thread(target=loop, name="sharelake-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the periodic check."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # ---- erasure ------------------------------------------------------------------------

    def erase(
        self,
        router: PeerRouter,
        member: Member,
        erasure_id: str,
        body: bytes,
        *,
        receive_deadline: float,
        setup_deadline: float,
    ) -> dict[str, Any]:
        """Erase the rows of the owner's table whose id the body's shares name.

        Returns ``{"table", "erased", "version", "rows"}`` (rows kept, new version).

        Raises
        ------
        AuthorizationError
            The caller is not a provider or not the table's owner, or the table is past
            its retention.
        UploadStateError
            The table is no longer at the version the request names.
        InputValidationError
            A malformed bundle, an unknown id column, or ids of another kind.
        IntegrityError
            The nodes received inconsistent shares of the ids.
        """
        require_role(member, "provider")
        try:
            meta, arrays = decode_bundle(body, what=f"erasure {erasure_id}")
        except BundleError as exc:
            raise InputValidationError(str(exc)) from None
        name, column = meta.get("table"), meta.get("column")
        if not isinstance(name, str) or not isinstance(column, str):
            raise InputValidationError("an erasure names its table and id column")
        info = self.store.table_info(name)
        if info["owner"] != member.name:
            raise AuthorizationError(
                f"only the owner of table {name!r} may erase its rows, not {member.name!r}"
            )
        version = int(info["version"])
        if meta.get("table_version") != version:
            raise UploadStateError(
                f"table {name!r} is at version {version}, the erasure was made for "
                f"version {meta.get('table_version')!r}: ask again"
            )
        self.refuse_expired({name: info}, member=member.name)
        specs = {s.name: s for s in schema_specs(info["schema"])}
        if column not in specs:
            raise InputValidationError(f"table {name!r} has no column {column!r}")
        (given,) = schema_specs(meta.get("schema"))
        want = specs[column]
        if given.name != column or given.kind != want.kind or given.max_len != want.max_len:
            raise InputValidationError(
                f"the ids must be of the kind of column {column!r} ({want.kind})", column=column
            )
        columns, ones = upload_parts(self.party, meta, arrays)
        got = columns[column]
        ids = SecretTable(
            {column: SecretColumn(given, got["values"], got.get("null"), got.get("text"))},
            ones,
            "ids",
        )
        digests = {
            f"{column}.{part}": (
                bytes.fromhex(component_digest(x.a)),
                bytes.fromhex(component_digest(x.b)),
            )
            for part, x in columns[column].items()
        }
        session = erasure_session(erasure_id, name, version, member.name)
        loaded = self.store.load_table(name)
        old_upload = str(loaded.meta["upload_id"])
        table = secret_table(loaded)
        new_upload = f"erase-{session[:24]}"
        _, policy = self.gov.in_force(info)
        chan = router.open_session(
            session, deadline=receive_deadline, setup_deadline=setup_deadline
        )
        try:
            check_tables(chan, {name: loaded})
            p = Party.setup(chan, security=self.gov.consortium.security)
            check_components(p, digests, what=f"erasure {erasure_id} ids")
            kept = erase_rows(p, table, ids, column=column)
            verify(p, check="erasure")  # no unchecked gate reaches the stored shares
            parts = {
                c: {
                    k: v
                    for k, v in (("values", col.values), ("null", col.null), ("text", col.text))
                    if v is not None
                }
                for c, col in kept.columns.items()
            }
            self.store.prepare_upload(
                new_upload,
                name,
                member.name,
                [spec_to_json(specs[c]) for c in kept.columns],
                policy,
                kept.n,
                parts,
                valid=kept.valid,
            )
            # all three staged the new version: only then does any node commit it
            p.exchange({p.next: b"\x01", p.prev: b"\x01"}, {p.next: 1, p.prev: 1})
            chan.flush()
        except BaseException:
            self.store.abort_upload(new_upload)
            raise
        finally:
            chan.close()
            table = None  # type: ignore[assignment]
        new_version = self.store.commit_upload(new_upload)
        self.store.destroy_version(name, old_upload)
        erased = int(info["rows"]) - kept.n
        # the differential-privacy budget spent on the old version carries over: the new
        # version is the same data less the erased rows (a fresh budget would let analysts
        # spend it again on nearly the same data)
        spent = self.gov.noise_budget.spent(name, version)
        self.gov.dropped(name, version)  # policy changes, budgets, release records voided
        if spent > 0:
            self.gov.noise_budget.charge(name, new_version, spent)
        self.gov.audit.append(
            "erasure",
            session=session,
            member=member.name,
            decision="erased",
            rows=erased,
            detail=f"table {name!r}: {erased} rows erased; version {version} destroyed, "
            f"version {new_version} holds {kept.n} rows",
        )
        self._record(
            {
                "event": "erasure",
                "table": name,
                "owner": member.name,
                "old_version": version,
                "version": new_version,
                "erased": erased,
                "time": _stamp(time.time()),
            }
        )
        log.info("P%d: an erasure wrote a new table version", self.party)  # the audit names it
        self.drop_stale()  # no stored person id of an erased row is kept
        if erased < 0:
            raise IntegrityError("an erasure cannot add rows")
        return {"table": name, "erased": erased, "version": new_version, "rows": kept.n}


def privacy_status(
    config: NodeConfig, consortium: Consortium, *, now: float | None = None
) -> dict[str, Any]:
    """What ``sharelake node status`` shows about retention and erasure (the data directory).

    Safe while the node runs (the catalog is read in WAL mode, nothing is written):
    every table with its retention rule and expiry, the tables destroyed at their
    retention, the erasures, and the time of the last retention check.
    """
    from ..storage.catalog import Catalog

    data = Path(config.data_dir)
    gov = Governance(config, consortium)
    now = node_clock() if now is None else now
    catalog = Catalog(data / "catalog.sqlite")
    try:
        tables = [t.public() for t in catalog.tables()]
    finally:
        catalog.close()
    rows = []
    for info in tables:
        policy = Policy.from_dict(gov.in_force(info)[1])
        at = expires_at(policy, created=float(info["created"]))
        rows.append(
            {
                "table": info["name"],
                "owner": info["owner"],
                "version": info["version"],
                "purposes": list(policy.purposes) if policy.purposes is not None else None,
                "retention": retention_text(policy),
                "expires": expiry_text(at),
                "expired": at is not None and now >= at,
            }
        )
    records = read_privacy_log(data)
    check_path = data / CHECK_FILE
    last = None
    if check_path.exists():
        try:
            last = json.loads(check_path.read_text(encoding="utf-8")).get("last_check")
        except ValueError:
            last = None
    return {
        "node": config.id,
        "data_dir": str(data),
        "tables": rows,
        "destroyed": [r for r in records if r.get("event") == "retention"],
        "erasures": [r for r in records if r.get("event") == "erasure"],
        "last_retention_check": last,
    }

"""A consortium on disk: ``init_cluster`` writes it, :class:`NodeConfig` reads a node's part.

Layout written by :func:`init_cluster` in ``DIR``::

    DIR/consortium.toml            public: nodes, fingerprints, members, public keys,
                                   signed by every founder (organisations with an approver)
    DIR/ca/ca.pem, ca-key.pem      the consortium CA (key 0600; keep it offline)
    DIR/nodes/P{i}/node.toml       node i's configuration (see NodeConfig)
    DIR/nodes/P{i}/consortium.toml node i's own copy of the consortium file ...
    DIR/nodes/P{i}/ca.pem          ... and of the CA certificate: the folder is complete
    DIR/nodes/P{i}/node{i}.pem     node i's certificate ...
    DIR/nodes/P{i}/node{i}-key.pem ... and private key (0600)
    DIR/nodes/P{i}/audit-key.pem   node i's Ed25519 audit key (0600; signs its audit log)
    DIR/nodes/P{i}/data/           node i's data directory (created by the node)
    DIR/members/<name>.key         each member's Ed25519 private key (PEM, 0600)

This is the one-machine shortcut: one process holds every key for a moment. Across
organisations use ``sharelake node init``, ``member init`` and ``consortium assemble``
and ``sign`` instead (:mod:`sharelake.consortium.node_folder`, :mod:`.founding`).

``node.toml``::

    version = 1

    [node]
    id = 0
    name = "P0"
    data_dir = "data"                       # paths relative to node.toml's directory
    consortium = "consortium.toml"

    [api]                                   # where this node listens for clients
    host = "127.0.0.1"
    port = 8400

    [peer]                                  # where it listens for the other nodes
    host = "127.0.0.1"
    port = 8403

    [tls]
    cert = "node0.pem"
    key = "node0-key.pem"
    ca = "ca.pem"                           # optional: absent for a self-signed cert

    [deadlines]                             # seconds
    peer_receive = 30.0                     # one receive from a peer
    peer_setup = 30.0                       # forming the peer mesh of a session
    query = 600.0                           # one whole query
    upload_commit = 60.0                    # the digest comparison of an upload commit
    request_skew = 300.0                    # accepted client clock skew

    [limits]                                # optional; checked before a body is read
    upload_body = 4294967296                # bytes of one upload (share bundle) body
    json_body = 8388608                     # bytes of any other request body
    json_depth = 64                         # nesting of a JSON body
    plan_nodes = 20000                      # objects, arrays and values of a plan
    requests_per_second = 50.0              # per member, sustained ...
    request_burst = 200                     # ... with this burst
"""

from __future__ import annotations

import contextlib
import ipaddress
import os.path
import secrets
import shutil
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from cryptography.exceptions import InvalidSignature

from ..errors import AuthenticationError, SharelakeError
from ..net.identity import fingerprint, load_cert
from ..net.identity import node_id_from_cert as _node_id_from_cert
from .certs import DEFAULT_HOSTS, issue_node_cert, make_ca
from .founding import add_signature
from .keys import generate_key, public_key_bytes, save_private_key
from .members import (
    FORMAT_VERSION,
    ROLES,
    Consortium,
    ConsortiumConfigError,
    FieldValidator,
    Member,
    NodeInfo,
    Purpose,
    Role,
    check_member_name,
    read_toml,
    write_toml,
)

__all__ = [
    "AUDIT_KEY_FILE",
    "DEFAULT_MEMBERS",
    "ClusterExistsError",
    "Deadlines",
    "Limits",
    "MemberSpec",
    "NodeConfig",
    "audit_key_path",
    "check_node_files",
    "consortium_path",
    "init_cluster",
    "member_key_path",
    "node_config_path",
    "parse_member_spec",
    "parse_member_specs",
]


AUDIT_KEY_FILE = "audit-key.pem"


class ClusterExistsError(SharelakeError):
    """``init_cluster`` would overwrite an existing consortium (pass ``force=True``)."""


@dataclass(frozen=True)
class MemberSpec:
    """A member to create: name, organisation and roles."""

    name: str
    organisation: str
    roles: frozenset[Role]


DEFAULT_MEMBERS: tuple[MemberSpec, ...] = (
    *(
        MemberSpec(n, n, frozenset({"provider", "approver"}))
        for n in ("ngo_a", "ngo_b", "police", "hotline")
    ),
    MemberSpec("analyst", "analyst", frozenset({"analyst"})),
)


def parse_member_spec(text: str) -> MemberSpec:
    """Parse ``name:organisation:role1+role2`` (or ``name:role1+role2``, organisation = name).

    Raises
    ------
    ValueError
        With a message naming the bad part.
    """
    parts = [p.strip() for p in text.strip().split(":")]
    if len(parts) == 2:
        parts = [parts[0], parts[0], parts[1]]
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"member {text!r}: expected name:organisation:role1+role2")
    name, org, roles_text = parts
    check_member_name(name)
    roles = [r.strip() for r in roles_text.split("+")]
    for r in roles:
        if r not in ROLES:
            raise ValueError(f"member {name!r}: unknown role {r!r} (roles: {', '.join(ROLES)})")
    return MemberSpec(name, org, frozenset(cast(list[Role], roles)))


def parse_member_specs(text: str) -> list[MemberSpec]:
    """Parse a comma-separated list of :func:`parse_member_spec` items; names unique."""
    specs = [parse_member_spec(t) for t in text.split(",") if t.strip()]
    if not specs:
        raise ValueError("no members given")
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"member {dup[0]!r} is given twice")
    return specs


@dataclass(frozen=True)
class Deadlines:
    """A node's deadlines in seconds (see the module docstring)."""

    peer_receive: float = 30.0
    peer_setup: float = 30.0
    query: float = 600.0
    upload_commit: float = 60.0
    request_skew: float = 300.0


_DEADLINE_KEYS = tuple(Deadlines.__dataclass_fields__)


@dataclass(frozen=True)
class Limits:
    """What a node accepts from one request or member (see the module docstring)."""

    upload_body: int = 1 << 32
    json_body: int = 8 << 20
    json_depth: int = 64
    plan_nodes: int = 20_000
    requests_per_second: float = 50.0
    request_burst: int = 200

    def __post_init__(self) -> None:
        for k in _LIMIT_KEYS:
            if not getattr(self, k) > 0:
                raise ValueError(f"limits.{k} must be positive")


_LIMIT_KEYS = tuple(Limits.__dataclass_fields__)


@dataclass(frozen=True)
class NodeConfig:
    """The parsed ``node.toml`` of one node; every path is absolute after :meth:`load`.

    Attributes
    ----------
    id, name
        The node (0, 1 or 2) and its display name.
    data_dir
        Where the node keeps its shares and catalog.
    consortium_path
        The consortium file.
    api_host, api_port, peer_host, peer_port
        Listen addresses of the client API and of the peer channel.
    cert_path, key_path, ca_path
        The node certificate, its private key and the CA that issued the certificate
        (``None`` for a self-signed node certificate).
    deadlines
        Timeouts.
    limits
        Request size, nesting and rate limits.
    path
        The file this was loaded from, if any.
    """

    id: int
    name: str
    data_dir: Path
    consortium_path: Path
    api_host: str
    api_port: int
    peer_host: str
    peer_port: int
    cert_path: Path
    key_path: Path
    ca_path: Path | None
    deadlines: Deadlines = Deadlines()
    limits: Limits = Limits()
    path: Path | None = field(default=None, compare=False)

    @classmethod
    def load(cls, path: str | Path) -> NodeConfig:
        """Read and validate ``node.toml``.

        Raises
        ------
        ConsortiumConfigError
            Naming the file and the offending key.
        """
        p = Path(path)
        doc = read_toml(p)
        v = FieldValidator(p)
        v.keys(
            doc,
            "",
            required={"version", "node", "api", "peer", "tls"},
            optional={"deadlines", "limits"},
        )
        version = v.integer(doc, "version", "version")
        if version != FORMAT_VERSION:
            v.fail("version", f"unsupported format version {version} (this is {FORMAT_VERSION})")
        node = v.table(doc, "node", "node")
        v.keys(node, "node", required={"id", "data_dir", "consortium"}, optional={"name"})
        nid = v.integer(node, "id", "node.id")
        if nid not in (0, 1, 2):
            v.fail("node.id", f"node id must be 0, 1 or 2, got {nid}")
        base = p.parent

        def rel(tbl: Mapping[str, Any], key: str, where: str) -> Path:
            q = Path(v.text(tbl, key, where))
            return q if q.is_absolute() else (base / q).resolve()

        addrs: dict[str, tuple[str, int]] = {}
        for part in ("api", "peer"):
            tbl = v.table(doc, part, part)
            v.keys(tbl, part, required={"host", "port"})
            addrs[part] = (v.text(tbl, "host", f"{part}.host"), v.port(tbl, "port", f"{part}.port"))
        if addrs["api"] == addrs["peer"]:
            v.fail("peer.port", "the peer channel and the API listen on the same address")
        tls = v.table(doc, "tls", "tls")
        v.keys(tls, "tls", required={"cert", "key"}, optional={"ca"})
        deadlines = Deadlines()
        if "deadlines" in doc:
            d = v.table(doc, "deadlines", "deadlines")
            v.keys(d, "deadlines", required=(), optional=_DEADLINE_KEYS)
            deadlines = Deadlines(**{k: v.seconds(d, k, f"deadlines.{k}") for k in d})
        limits = Limits()
        if "limits" in doc:
            lt = v.table(doc, "limits", "limits")
            v.keys(lt, "limits", required=(), optional=_LIMIT_KEYS)
            vals: dict[str, Any] = {}
            for k in lt:
                if k == "requests_per_second":
                    vals[k] = v.seconds(lt, k, f"limits.{k}")
                else:
                    vals[k] = v.integer(lt, k, f"limits.{k}")
                    if vals[k] <= 0:
                        v.fail(f"limits.{k}", f"must be a positive integer, got {vals[k]}")
            limits = Limits(**vals)
        return cls(
            id=nid,
            name=v.text(node, "name", "node.name") if "name" in node else f"P{nid}",
            data_dir=rel(node, "data_dir", "node.data_dir"),
            consortium_path=rel(node, "consortium", "node.consortium"),
            api_host=addrs["api"][0],
            api_port=addrs["api"][1],
            peer_host=addrs["peer"][0],
            peer_port=addrs["peer"][1],
            cert_path=rel(tls, "cert", "tls.cert"),
            key_path=rel(tls, "key", "tls.key"),
            ca_path=rel(tls, "ca", "tls.ca") if "ca" in tls else None,
            deadlines=deadlines,
            limits=limits,
            path=p,
        )

    def save(self, path: str | Path) -> Path:
        """Write ``node.toml``; paths below a common ancestor are written relative."""
        p = Path(path)
        base = p.parent.resolve()

        def rel(q: Path) -> str:
            return _relpath(q, base)

        doc = {
            "version": FORMAT_VERSION,
            "node": {
                "id": self.id,
                "name": self.name,
                "data_dir": rel(self.data_dir),
                "consortium": rel(self.consortium_path),
            },
            "api": {"host": self.api_host, "port": self.api_port},
            "peer": {"host": self.peer_host, "port": self.peer_port},
            "tls": {
                "cert": rel(self.cert_path),
                "key": rel(self.key_path),
                **({"ca": rel(self.ca_path)} if self.ca_path is not None else {}),
            },
            "deadlines": {k: float(getattr(self.deadlines, k)) for k in _DEADLINE_KEYS},
            "limits": {k: getattr(self.limits, k) for k in _LIMIT_KEYS},
        }
        write_toml(p, doc)
        return p

    def load_consortium(self) -> Consortium:
        """The consortium this node belongs to."""
        return Consortium.load(self.consortium_path)


def _relpath(target: Path, base: Path) -> str:
    """``target`` relative to ``base`` (with ``..`` if needed), else absolute."""
    t = target.resolve()
    try:
        return Path(os.path.relpath(t, base)).as_posix()
    except ValueError:  # another drive (Windows)
        return t.as_posix()


def check_node_files(config: NodeConfig, consortium: Consortium | None = None) -> NodeInfo:
    """Check a node's certificate against the consortium before it starts.

    The certificate must name node ``config.id``, chain to the node's trust anchor in
    ``consortium.toml`` (its own self-signed certificate, its organisation's CA or the
    consortium CA), not be revoked, and have the fingerprint ``consortium.toml`` lists.

    Returns
    -------
    NodeInfo
        The consortium's entry for this node.

    Raises
    ------
    ConsortiumConfigError
        A file is missing or unreadable.
    sharelake.errors.AuthenticationError
        The certificate names another node, does not chain to the node's anchor, was
        revoked, or its fingerprint does not match ``consortium.toml``.
    """
    cons = consortium if consortium is not None else config.load_consortium()
    info = cons.node(config.id)
    try:
        cert = load_cert(config.cert_path)
    except (OSError, ValueError) as e:
        raise ConsortiumConfigError(f"cannot load certificate: {e}", path=config.path) from None
    if not config.key_path.is_file():
        raise ConsortiumConfigError(
            f"node key {config.key_path} not found", path=config.path, key="tls.key"
        )
    got = _node_id_from_cert(cert)
    if got != config.id:
        raise AuthenticationError(
            f"certificate {config.cert_path} is for node P{got}, this node is P{config.id}"
        )
    fpr = fingerprint(cert)
    if fpr in cons.revoked_certs:
        raise AuthenticationError(
            f"certificate {config.cert_path} of P{config.id} ({fpr[:16]}...) has been revoked"
        )
    anchors = [load_cert(block.encode()) for block in _pem_blocks(cons.trust_pem(config.id))]
    if not any(_issued_by(cert, a) for a in anchors):
        what = "the consortium CA" if not info.tls_anchor else "the node's tls_anchor"
        raise AuthenticationError(
            f"certificate {config.cert_path} is not issued by {what} in "
            f"{cons.path or 'consortium.toml'}"
        )
    if fpr != info.cert_fingerprint:
        raise AuthenticationError(
            f"certificate {config.cert_path} of P{config.id} has fingerprint {fpr[:16]}..., "
            f"but {cons.path or 'the consortium'} lists {info.cert_fingerprint[:16]}..."
        )
    return info


def _pem_blocks(text: str) -> list[str]:
    end = "-----END CERTIFICATE-----"
    return [b.strip() + "\n" + end + "\n" for b in text.split(end) if "BEGIN" in b]


def _issued_by(cert: Any, anchor: Any) -> bool:
    if fingerprint(cert) == fingerprint(anchor):
        return True  # a self-signed node certificate is its own anchor
    try:
        cert.verify_directly_issued_by(anchor)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# -- layout -------------------------------------------------------------------------------


def consortium_path(directory: str | Path) -> Path:
    """``DIR/consortium.toml``."""
    return Path(directory) / "consortium.toml"


def node_config_path(directory: str | Path, node_id: int) -> Path:
    """``DIR/nodes/P{i}/node.toml``."""
    return Path(directory) / "nodes" / f"P{node_id}" / "node.toml"


def audit_key_path(tls_key_path: str | Path) -> Path:
    """Where a node keeps its Ed25519 audit key: ``audit-key.pem`` beside its TLS key.

    Its public half is the node's ``audit_key`` in ``consortium.toml``.

    Examples
    --------
    >>> audit_key_path("/lake/nodes/P0/node0-key.pem").as_posix()
    '/lake/nodes/P0/audit-key.pem'
    """
    return Path(tls_key_path).parent / AUDIT_KEY_FILE


def member_key_path(directory: str | Path, name: str) -> Path:
    """``DIR/members/<name>.key``."""
    return Path(directory) / "members" / f"{check_member_name(name)}.key"


_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
"""Where Linux keeps the range it draws clients' source ports from."""


def _listen_range() -> range:
    """Ports to pick from: below the OS's ephemeral range, which outgoing connections use.

    A port picked here is free now and released until the node binds it; picked from the
    ephemeral range, any client connection opened meanwhile (another test, a browser) could
    take it as its source port. Below that range only another listener can.
    """
    try:
        low = int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(min(20000, low // 2), low)


def free_ports(hosts: list[str]) -> list[int]:
    """One port per entry of ``hosts`` that is free there now, outside the ephemeral range.

    All sockets are held open together until every port is chosen, so no two entries get
    the same port (closing one before binding the next lets the OS hand it out again).
    Candidates are drawn at random from :func:`_listen_range`; after 200 taken candidates
    the OS picks (from its ephemeral range).
    """
    pool = _listen_range()
    rng = secrets.SystemRandom()
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for host in hosts:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            for attempt in range(201):
                s = socket.socket(family, socket.SOCK_STREAM)
                port = rng.choice(pool) if attempt < 200 else 0
                try:
                    s.bind((host, port))
                except OSError:
                    s.close()
                    continue
                stack.enter_context(s)
                ports.append(int(s.getsockname()[1]))
                break
        return ports


def _cert_hosts(host: str) -> list[str]:
    hosts = [host]
    loopback = host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    if loopback:
        hosts += [h for h in DEFAULT_HOSTS if h != host]
    return hosts


def _three(name: str, given: Sequence[Any] | None, default: list[Any]) -> list[Any]:
    if given is None:
        return default
    if len(given) != 3:
        raise ValueError(f"{name}: give exactly three values (P0, P1, P2), got {len(given)}")
    return list(given)


def init_cluster(
    directory: str | Path,
    *,
    members: Sequence[MemberSpec] | None = None,
    host: str | Sequence[str] = "127.0.0.1",
    base_port: int | None = None,
    api_ports: Sequence[int] | None = None,
    peer_ports: Sequence[int] | None = None,
    advertise_api_ports: Sequence[int] | None = None,
    advertise_peer_ports: Sequence[int] | None = None,
    name: str = "sharelake-local",
    deadlines: Deadlines | None = None,
    force: bool = False,
    purposes: Mapping[str, str] | None = None,
) -> Path:
    """Write a complete consortium in ``directory`` (layout in the module docstring).

    Parameters
    ----------
    directory
        Created if needed.
    members
        Members to create; :data:`DEFAULT_MEMBERS` (``ngo_a``, ``ngo_b``, ``police``,
        ``hotline`` as provider and approver; ``analyst`` as analyst) by default.
    host
        One host for all three nodes, or three (P0, P1, P2); used for both the API and
        the peer address, and in the node certificates.
    base_port
        API ports ``base_port + i``, peer ports ``base_port + 3 + i``. When neither this
        nor ``api_ports``/``peer_ports`` is given, ports are picked free by the OS.
    api_ports, peer_ports
        Three ports each, overriding ``base_port``.
    advertise_api_ports, advertise_peer_ports
        Three ports each that ``consortium.toml`` advertises instead (a relay or a port
        forward in front of the bound ones); default: the bound ports.
    name
        The consortium's name.
    deadlines
        Written into every ``node.toml`` (defaults of :class:`Deadlines` if omitted).
    force
        Overwrite an existing consortium in ``directory`` (its node data directories
        are left in place).
    purposes
        Name -> description of the purposes the members agree on (``[[purposes]]``,
        signed by the founders with the rest); none by default.

    Returns
    -------
    pathlib.Path
        The written ``consortium.toml``.

    Raises
    ------
    ClusterExistsError
        If ``directory`` already holds a consortium and ``force`` is false.
    ValueError
        On bad arguments (wrong counts, duplicate member names, ports out of range).
    """
    d = Path(directory).resolve()
    cpath = consortium_path(d)
    if not force and (cpath.exists() or (d / "ca" / "ca.pem").exists()):
        raise ClusterExistsError(
            f"{d} already holds a consortium; pass force=True (--force) to overwrite it"
        )
    specs = list(DEFAULT_MEMBERS if members is None else members)
    if not specs:
        raise ValueError("a consortium needs at least one member")
    names = [check_member_name(s.name) for s in specs]
    if len(set(names)) != len(names):
        raise ValueError("member names must be unique")
    hosts = _three("host", [host] * 3 if isinstance(host, str) else host, [])
    if base_port is not None:
        if not 1 <= base_port <= 65535 - 5:
            raise ValueError(f"base_port must be in 1-65530, got {base_port}")
        defaults = [base_port + i for i in range(6)]
    elif api_ports is None or peer_ports is None:
        defaults = free_ports(hosts + hosts)  # three API ports, then three peer ports
    else:
        defaults = [0] * 6
    api = _three("api_ports", api_ports, defaults[:3])
    peer = _three("peer_ports", peer_ports, defaults[3:])
    adv_api = _three("advertise_api_ports", advertise_api_ports, api)
    adv_peer = _three("advertise_peer_ports", advertise_peer_ports, peer)
    for p in (*api, *peer, *adv_api, *adv_peer):
        if not 1 <= p <= 65535:
            raise ValueError(f"port {p} out of range 1-65535")

    d.mkdir(parents=True, exist_ok=True)
    if force:
        shutil.rmtree(d / "ca", ignore_errors=True)
        shutil.rmtree(d / "members", ignore_errors=True)
    ca = make_ca(d / "ca", name=f"{name} CA")
    nodes = []
    configs = []
    for i in range(3):
        node_dir = node_config_path(d, i).parent
        issued = issue_node_cert(ca, i, node_dir, hosts=_cert_hosts(hosts[i]))
        audit = generate_key()  # signs the node's audit entries and chain heads
        save_private_key(audit, audit_key_path(issued.key_path))
        shutil.copyfile(ca.cert_path, node_dir / "ca.pem")
        nodes.append(
            NodeInfo(
                id=i,
                name=f"P{i}",
                api_host=hosts[i],
                api_port=adv_api[i],
                peer_host=hosts[i],
                peer_port=adv_peer[i],
                cert_fingerprint=fingerprint(issued.cert),
                audit_key=public_key_bytes(audit),
            )
        )
        configs.append(
            NodeConfig(
                id=i,
                name=f"P{i}",
                data_dir=node_dir / "data",
                consortium_path=node_dir / "consortium.toml",
                api_host=hosts[i],
                api_port=api[i],
                peer_host=hosts[i],
                peer_port=peer[i],
                cert_path=issued.cert_path,
                key_path=issued.key_path,
                ca_path=node_dir / "ca.pem",
                deadlines=deadlines or Deadlines(),
            )
        )
        configs[-1].save(node_config_path(d, i))
    (d / "members").mkdir(mode=0o700, exist_ok=True)
    written: dict[str, Member] = {}
    keys = {}
    for s in specs:
        key = generate_key()
        save_private_key(key, member_key_path(d, s.name))
        keys[s.name] = key
        written[s.name] = Member(s.name, s.organisation, s.roles, public_key_bytes(key))
    signers: dict[str, str] = {}  # founder organisation -> its first approver
    for s in specs:
        if "approver" in s.roles:
            signers.setdefault(s.organisation, s.name)
    consortium = Consortium(
        name=name,
        nodes=(nodes[0], nodes[1], nodes[2]),
        members=written,
        ca_cert_path=ca.cert_path,
        founders=tuple(signers),
        purposes={n: Purpose(n, text) for n, text in (purposes or {}).items()},
    )
    for member in signers.values():  # the founders sign everything, purposes included
        consortium = add_signature(consortium, member, keys[member])
    for cfg in configs:
        assert cfg.ca_path is not None
        replace(consortium, ca_cert_path=cfg.ca_path).save(cfg.consortium_path)
    return consortium.save(cpath)

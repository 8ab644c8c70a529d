"""One organisation's own keys: a node folder (``node init``) and a member key (``member init``).

A node folder is everything one node needs, and nothing of anyone else's::

    DIR/node.toml          configuration: node id, bind addresses, paths (relative to DIR)
    DIR/descriptor.toml    PUBLIC: id, organisation, advertised addresses, certificate
                           fingerprint and trust anchor; send it to the assembler
    DIR/tls/node-key.pem   the node's TLS private key (0600; never leaves DIR)
    DIR/tls/audit-key.pem  the node's Ed25519 audit key (0600): signs its audit entries
    DIR/tls/node.pem       its certificate: self-signed, or issued by the organisation's CA
    DIR/tls/node.csr       (--csr) the request for the organisation's CA
    DIR/tls/ca.pem         (--csr) the organisation's CA certificate, once imported
    DIR/consortium.toml    the signed consortium file, copied in by the operator
    DIR/data/              shares, catalog, approvals, audit (made by the node)

Ports: the API listens on :data:`DEFAULT_API_PORT` and the peer channel on
:data:`DEFAULT_PEER_PORT` unless told otherwise. The *advertised* addresses (what the
other nodes and the clients dial, written into the descriptor and so into
``consortium.toml``) and the *bind* addresses (what this machine listens on, in
``node.toml`` only) are separate: behind NAT or a load balancer they differ.

A member key is made on the member's own machine: ``NAME.key`` (0600) and the public
``NAME.member.toml`` descriptor to send to the assembler.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from ..errors import AuthenticationError, SharelakeError
from ..net.identity import fingerprint, load_cert, node_id_from_cert
from .certs import DEFAULT_HOSTS, node_csr, self_signed_node_cert
from .cluster import Deadlines, NodeConfig, audit_key_path
from .keys import generate_key, load_private_key, public_key_bytes, save_private_key
from .members import (
    FORMAT_VERSION,
    ROLES,
    Consortium,
    FieldValidator,
    Member,
    NodeInfo,
    Role,
    check_member_name,
    parse_members,
    parse_node,
    read_toml,
    write_toml,
)

__all__ = [
    "DEFAULT_API_PORT",
    "DEFAULT_PEER_PORT",
    "NodeFolderError",
    "NodeInit",
    "import_node_cert",
    "init_member",
    "init_node",
    "parse_address",
    "parse_node_id",
    "read_member_descriptor",
    "read_node_descriptor",
    "write_member_descriptor",
    "write_node_descriptor",
]

DEFAULT_API_PORT = 7340
DEFAULT_PEER_PORT = 7341
_NODE_ID = re.compile(r"[Pp]?([0-2])")


class NodeFolderError(SharelakeError):
    """A node folder cannot be made or completed (exists already, wrong certificate...)."""


def parse_node_id(text: str) -> int:
    """``"P1"`` or ``"1"`` -> 1.

    Examples
    --------
    >>> parse_node_id("P2"), parse_node_id("0")
    (2, 0)
    """
    m = _NODE_ID.fullmatch(text.strip())
    if not m:
        raise ValueError(f"node id {text!r}: expected P0, P1 or P2")
    return int(m.group(1))


def parse_address(text: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` -> ``(host, port)``.

    Examples
    --------
    >>> parse_address("p1.police.example:7440", 7340)
    ('p1.police.example', 7440)
    >>> parse_address("10.0.0.5", 7340), parse_address("[fd00::5]:9", 1)
    (('10.0.0.5', 7340), ('fd00::5', 9))
    """
    t = text.strip()
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?", t)
    if m:
        host, port = m.group(1), m.group(2)
    elif t.count(":") == 1:
        host, port = t.split(":")
    else:
        host, port = t, None
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"address {text!r}: expected host or host:port")
    p = default_port if port is None else int(port)
    if not 1 <= p <= 65535:
        raise ValueError(f"address {text!r}: port must be in 1-65535")
    return host, p


@dataclass(frozen=True)
class NodeInit:
    """What :func:`init_node` made: the folder, its config, and the public descriptor."""

    directory: Path
    config: NodeConfig
    descriptor: NodeInfo | None  # None until a CSR's certificate is imported
    csr_path: Path | None


def _node_paths(d: Path) -> dict[str, Path]:
    return {
        "config": d / "node.toml",
        "descriptor": d / "descriptor.toml",
        "tls": d / "tls",
        "cert": d / "tls" / "node.pem",
        "key": d / "tls" / "node-key.pem",
        "ca": d / "tls" / "ca.pem",
        "consortium": d / "consortium.toml",
        "data": d / "data",
    }


def _pem(cert_path: Path) -> str:
    return load_cert(cert_path).public_bytes(serialization.Encoding.PEM).decode("ascii")


def init_node(
    directory: str | Path,
    *,
    node_id: int,
    organisation: str,
    advertise: tuple[str, int],
    advertise_peer: tuple[str, int] | None = None,
    bind: tuple[str, int] | None = None,
    bind_peer: tuple[str, int] | None = None,
    csr: bool = False,
    extra_hosts: tuple[str, ...] = (),
    deadlines: Deadlines | None = None,
    force: bool = False,
) -> NodeInit:
    """Make a node folder (layout in the module docstring) with the node's own TLS key.

    Parameters
    ----------
    directory
        The folder; refused if it already holds a node unless ``force``.
    node_id
        0, 1 or 2 (P0, P1, P2), as agreed between the organisations.
    organisation
        Who runs the node.
    advertise
        ``(host, port)`` clients dial for the API; the host goes into the certificate.
    advertise_peer
        ``(host, port)`` the other nodes dial; default ``(advertise host, 7341)``.
    bind, bind_peer
        Where this machine listens; default ``0.0.0.0`` on the advertised ports.
    csr
        Write a certificate signing request for the organisation's CA instead of a
        self-signed certificate; finish with :func:`import_node_cert`.
    extra_hosts
        More DNS names or addresses for the certificate.
    deadlines
        Written into ``node.toml``.
    force
        Replace an existing node folder's keys and configuration (its data is kept).

    Returns
    -------
    NodeInit
        With the public descriptor (``None`` in CSR mode until the certificate is back).
    """
    d = Path(directory).resolve()
    paths = _node_paths(d)
    if paths["config"].exists() and not force:
        raise NodeFolderError(f"{d} already holds a node (node.toml); pass --force to replace it")
    check_member_name(organisation)  # the same rules keep it safe in files and headers
    peer_adv = advertise_peer or (advertise[0], DEFAULT_PEER_PORT)
    api_bind = bind or ("0.0.0.0", advertise[1])
    peer_bind = bind_peer or (api_bind[0], peer_adv[1])
    if api_bind == peer_bind:
        raise NodeFolderError("the API and the peer channel would listen on the same address")
    hosts = list(dict.fromkeys([advertise[0], peer_adv[0], *extra_hosts]))
    d.mkdir(parents=True, exist_ok=True)
    paths["tls"].mkdir(mode=0o700, exist_ok=True)
    paths["data"].mkdir(exist_ok=True)
    for stale in ("cert", "ca", "descriptor"):
        paths[stale].unlink(missing_ok=True)
    csr_path: Path | None = None
    save_private_key(generate_key(), audit_key_path(paths["key"]))
    if csr:
        csr_path, _ = node_csr(node_id, paths["tls"], hosts=hosts)
    else:
        self_signed_node_cert(node_id, paths["tls"], hosts=hosts or list(DEFAULT_HOSTS))
    config = NodeConfig(
        id=node_id,
        name=f"P{node_id}",
        data_dir=paths["data"],
        consortium_path=paths["consortium"],
        api_host=api_bind[0],
        api_port=api_bind[1],
        peer_host=peer_bind[0],
        peer_port=peer_bind[1],
        cert_path=paths["cert"],
        key_path=paths["key"],
        ca_path=paths["ca"] if csr else None,
        deadlines=deadlines or Deadlines(),
    )
    config.save(paths["config"])
    _write_pending(d, organisation, advertise, peer_adv)
    descriptor = None if csr else _finish_descriptor(d)
    return NodeInit(d, NodeConfig.load(paths["config"]), descriptor, csr_path)


def _write_pending(d: Path, organisation: str, api: tuple[str, int], peer: tuple[str, int]) -> None:
    """The advertised addresses, kept in ``tls/advertise.toml`` until the descriptor exists."""
    write_toml(
        d / "tls" / "advertise.toml",
        {
            "organisation": organisation,
            "api_host": api[0],
            "api_port": api[1],
            "peer_host": peer[0],
            "peer_port": peer[1],
        },
    )


def _finish_descriptor(d: Path) -> NodeInfo:
    paths = _node_paths(d)
    config = NodeConfig.load(paths["config"])
    adv = read_toml(d / "tls" / "advertise.toml")
    anchor = paths["ca"] if config.ca_path is not None else paths["cert"]
    info = NodeInfo(
        id=config.id,
        name=config.name,
        api_host=str(adv["api_host"]),
        api_port=int(adv["api_port"]),
        peer_host=str(adv["peer_host"]),
        peer_port=int(adv["peer_port"]),
        cert_fingerprint=fingerprint(paths["cert"]),
        organisation=str(adv["organisation"]),
        tls_anchor=_pem(anchor),
        audit_key=public_key_bytes(load_private_key(audit_key_path(paths["key"]))),
    )
    write_node_descriptor(info, paths["descriptor"])
    return info


def import_node_cert(directory: str | Path, cert: str | Path, ca: str | Path) -> NodeInfo:
    """Complete a CSR-mode node folder with the certificate its organisation's CA issued.

    Checks that the certificate names this node, belongs to the folder's key and is
    issued by ``ca``; then copies both into ``tls/`` and writes the descriptor.

    Raises
    ------
    NodeFolderError
        Naming what does not fit.
    """
    d = Path(directory).resolve()
    paths = _node_paths(d)
    config = NodeConfig.load(paths["config"])
    try:
        c, a = load_cert(Path(cert)), load_cert(Path(ca))
    except (OSError, ValueError) as e:
        raise NodeFolderError(f"cannot read the certificate or CA: {e}") from None
    try:
        got = node_id_from_cert(c)
    except AuthenticationError as e:
        raise NodeFolderError(f"{cert}: {e}") from None
    if got != config.id:
        raise NodeFolderError(f"{cert} is for node P{got}, this folder is P{config.id}")
    key = serialization.load_pem_private_key(paths["key"].read_bytes(), password=None)
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if c.public_key().public_bytes(der, pub) != key.public_key().public_bytes(der, pub):
        raise NodeFolderError(f"{cert} is not for this folder's key (tls/node-key.pem)")
    try:
        c.verify_directly_issued_by(a)
    except (ValueError, TypeError, Exception) as e:  # InvalidSignature has no message
        raise NodeFolderError(f"{cert} is not issued by {ca} ({type(e).__name__})") from None
    shutil.copyfile(cert, paths["cert"])
    shutil.copyfile(ca, paths["ca"])
    return _finish_descriptor(d)


# -- public descriptors --------------------------------------------------------------------


def write_node_descriptor(info: NodeInfo, path: str | Path) -> Path:
    """Write a node's public descriptor (the ``[[nodes]]`` entry it contributes)."""
    p = Path(path)
    doc = Consortium(
        name="descriptor", nodes=(info, info, info), members={}, ca_cert_path=None
    ).to_dict()["nodes"][0]
    write_toml(p, {"version": FORMAT_VERSION, "node": doc})
    return p


def read_node_descriptor(path: str | Path) -> NodeInfo:
    """Read a node descriptor written by :func:`write_node_descriptor`.

    Raises
    ------
    ConsortiumConfigError
        Naming the file and the key at fault.
    """
    p = Path(path)
    doc = read_toml(p)
    v = FieldValidator(p)
    v.keys(doc, "", required={"version", "node"})
    return parse_node(v, v.table(doc, "node", "node"), "node")


def write_member_descriptor(member: Member, path: str | Path) -> Path:
    """Write a member's public descriptor (name, organisation, roles, public key)."""
    p = Path(path)
    write_toml(
        p,
        {
            "version": FORMAT_VERSION,
            "member": {
                "name": member.name,
                "organisation": member.organisation,
                "roles": [r for r in ROLES if r in member.roles],
                "public_key": member.public_key_b64,
            },
        },
    )
    return p


def read_member_descriptor(path: str | Path) -> Member:
    """Read a member descriptor written by :func:`write_member_descriptor`."""
    p = Path(path)
    doc = read_toml(p)
    v = FieldValidator(p)
    v.keys(doc, "", required={"version", "member"})
    item = dict(v.table(doc, "member", "member"))
    (member,) = parse_members(v, [item]).values()
    return member


def init_member(
    name: str,
    organisation: str,
    roles: frozenset[Role],
    directory: str | Path,
    *,
    force: bool = False,
) -> tuple[Path, Path, Member]:
    """Make a member's Ed25519 key on this machine: ``NAME.key`` (0600), ``NAME.member.toml``.

    Returns
    -------
    tuple
        The private key file, the public descriptor file and the member.
    """
    check_member_name(name)
    if not roles or not roles <= set(ROLES):
        raise ValueError(f"roles must be some of {', '.join(ROLES)}")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    key_path, desc_path = d / f"{name}.key", d / f"{name}.member.toml"
    if key_path.exists() and not force:
        raise NodeFolderError(f"{key_path} exists already; pass --force to replace it")
    key = generate_key()
    save_private_key(key, key_path)
    member = Member(name, organisation, roles, public_key_bytes(key))
    write_member_descriptor(member, desc_path)
    return key_path, desc_path, member

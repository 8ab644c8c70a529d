"""The consortium file: who the three nodes and the members are.

``consortium.toml`` is the one public document every party shares. It names the
consortium and its CA certificate, the three compute nodes (addresses and the SHA-256
fingerprint of each node certificate, which clients pin) and the members (organisation,
roles, Ed25519 public key)::

    version = 1

    [consortium]
    name = "sharelake-local"
    ca_cert = "ca/ca.pem"            # optional: one CA for all nodes (cluster init)
    founders = ["police", "ngo", "uni"]   # organisations that must all sign (optional)
    revision = 0                     # raised by every applied membership change
    revoked_keys = []                # base64 member keys that may never sign again
    revoked_certs = []               # node certificate fingerprints never accepted again

    [[nodes]]                        # exactly three, ids 0, 1, 2
    id = 0
    name = "P0"
    api_host = "127.0.0.1"
    api_port = 8400
    peer_host = "127.0.0.1"
    peer_port = 8403
    cert_fingerprint = "5f0c...e1"   # 64 lowercase hex chars, SHA-256 of the DER
    audit_key = "base64 of the 32 raw Ed25519 bytes"  # optional: signs its audit log
    organisation = "police"          # optional: who runs the node
    tls_anchor = '''-----BEGIN CERTIFICATE-----...'''  # optional: the node's self-signed
                                     # certificate or its organisation's CA (PEM)

    [[members]]
    name = "ngo_a"                   # letters, digits, "_", "-", "." (at most 64)
    organisation = "NGO A"
    roles = ["provider", "approver"] # of provider, analyst, approver, node
    public_key = "base64 of the 32 raw Ed25519 bytes"

    [[signatures]]                   # one per founder (sharelake consortium sign)
    organisation = "police"
    member = "police"                # an approver of that organisation
    signature = "base64 Ed25519 over the founding digest"

The TLS trust of a node is its ``tls_anchor`` when given, else the consortium CA; in
both cases the certificate must also have the pinned ``cert_fingerprint``.

    [[purposes]]                     # optional: the purposes the members agreed on
    name = "monitoring"              # lowercase letters, digits, "_", "-" (at most 64)
    description = "Yearly estimate of the number of victims, for the national report"

    [consortium]
    security = "semi-honest"         # optional; default "malicious" (SECURITY.md)

A file without ``[[purposes]]`` (every file written before purposes existed) keeps
working: it has the one implicit purpose :data:`DEFAULT_PURPOSE` (``"unspecified"``),
which every query without a named purpose serves. Once the file lists purposes, every
query must name one of them (docs/privacy.md).

:meth:`Consortium.load` checks everything and raises :class:`ConsortiumConfigError`
naming the file and the offending key (``nodes[1].api_port``, ``members[ngo_b].roles``).
Unknown keys are refused too, so a misspelt key never silently falls back to a default.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, cast, get_args

import tomli_w
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519

from ..errors import AuthenticationError, SharelakeError
from ..mpc.checks import SECURITY_LEVELS, Security
from .keys import decode_public_key, encode_public_key

__all__ = [
    "DEFAULT_PURPOSE",
    "FORMAT_VERSION",
    "ROLES",
    "Consortium",
    "ConsortiumConfigError",
    "FounderSignature",
    "Member",
    "NodeInfo",
    "Purpose",
    "PurposeError",
    "Role",
    "UnknownMemberError",
    "check_member_name",
]

Role = Literal["provider", "analyst", "approver", "node"]
ROLES: tuple[Role, ...] = get_args(Role)
FORMAT_VERSION = 1
NODE_IDS = (0, 1, 2)

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_PURPOSE_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
DEFAULT_PURPOSE = "unspecified"
DEFAULT_PURPOSE_TEXT = (
    "No purposes are agreed in the consortium file: any use the consortium agreement allows"
)
_FPR_RE = re.compile(r"[0-9a-f]{64}")


class ConsortiumConfigError(SharelakeError):
    """A consortium or node configuration file is missing, malformed or inconsistent.

    ``path`` is the file and ``key`` the offending key (``""`` for the whole file).
    """

    def __init__(self, message: str, *, path: Path | None = None, key: str = "") -> None:
        where = ": ".join(part for part in (str(path) if path else "", key) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.key = key


class UnknownMemberError(AuthenticationError):
    """A member name is not listed in the consortium."""


class PurposeError(SharelakeError):
    """A purpose is missing, malformed or not one the consortium agreed on."""


@dataclass(frozen=True)
class Purpose:
    """A purpose of processing the consortium agreed on (``[[purposes]]``).

    Attributes
    ----------
    name
        Short name queries, approvals, policies and audit entries use.
    description
        Plain words for people (data protection officers, approvers).
    """

    name: str
    description: str


def check_member_name(name: str) -> str:
    """Return ``name`` if it is a valid member name, else raise ``ValueError``.

    A member name is 1 to 64 characters of letters, digits, ``_``, ``-`` and ``.``,
    starting with a letter or digit: it appears in request headers and file names.
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ValueError(
            f"invalid member name {name!r}: use 1-64 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class Member:
    """A member organisation's identity.

    Attributes
    ----------
    name
        Unique member name (as in request headers).
    organisation
        The organisation the member acts for.
    roles
        Subset of ``provider``, ``analyst``, ``approver``, ``node``.
    public_key
        The 32 raw bytes of the member's Ed25519 public key.
    """

    name: str
    organisation: str
    roles: frozenset[Role]
    public_key: bytes

    def has_role(self, role: Role) -> bool:
        """Whether the member holds ``role``."""
        return role in self.roles

    @property
    def public_key_b64(self) -> str:
        """The public key as base64 text (as in ``consortium.toml``)."""
        return encode_public_key(self.public_key)

    def verifying_key(self) -> ed25519.Ed25519PublicKey:
        """The public key as a ``cryptography`` object."""
        return ed25519.Ed25519PublicKey.from_public_bytes(self.public_key)


@dataclass(frozen=True)
class NodeInfo:
    """A compute node's public addresses and pinned certificate.

    Attributes
    ----------
    id
        0, 1 or 2.
    name
        Display name (``P0`` by default).
    api_host, api_port
        Where clients reach the node's HTTPS API.
    peer_host, peer_port
        Where the other nodes reach its mutual-TLS peer channel.
    cert_fingerprint
        SHA-256 of the node certificate's DER encoding, lowercase hex.
    audit_key
        The 32 raw bytes of the node's Ed25519 audit public key (it signs every audit
        entry and chain head of the node; ``audit_key`` in the file, base64), or None
        when the file lists none (signatures are then not checked).
    organisation
        The organisation that runs the node (``""`` when not stated).
    tls_anchor
        PEM of the certificate that anchors the node's TLS trust: its own self-signed
        certificate or its organisation's CA (``""``: the consortium CA).
    """

    id: int
    name: str
    api_host: str
    api_port: int
    peer_host: str
    peer_port: int
    cert_fingerprint: str
    audit_key: bytes | None = None
    organisation: str = ""
    tls_anchor: str = ""

    @property
    def api_url(self) -> str:
        """``https://host:port`` of the client API (IPv6 hosts bracketed)."""
        host = f"[{self.api_host}]" if ":" in self.api_host else self.api_host
        return f"https://{host}:{self.api_port}"

    @property
    def peer_addr(self) -> tuple[str, int]:
        """``(host, port)`` of the peer channel."""
        return (self.peer_host, self.peer_port)


@dataclass(frozen=True)
class FounderSignature:
    """A founding organisation's signature over the consortium file.

    Attributes
    ----------
    organisation
        The founder.
    member
        The approver of that organisation who signed.
    signature
        64 bytes of Ed25519 signature over :func:`sharelake.consortium.founding.digest`.
    """

    organisation: str
    member: str
    signature: bytes


@dataclass(frozen=True)
class Consortium:
    """The parsed ``consortium.toml``.

    Attributes
    ----------
    name
        The consortium's name.
    nodes
        The three nodes, in id order.
    members
        Members by name.
    ca_cert_path
        The consortium CA certificate (absolute after :meth:`load`), if there is one.
    founders
        Organisations that must all sign the file before a node starts on it.
    signatures
        The founders' signatures (see :mod:`sharelake.consortium.founding`).
    revision
        How many membership changes were applied to the file.
    revoked_keys, revoked_certs
        Member public keys (base64) and node certificate fingerprints never accepted again.
    path
        The file this was loaded from, if any.
    purposes
        The purposes of processing the members agreed on.
    security
        ``"malicious"`` (default: every product and AND gate is verified before anything
        that depends on it is opened; a deviating node makes the query abort) or
        ``"semi-honest"`` (faster, honest-but-curious nodes only), the consortium's
        explicit, founder-signed choice (``[consortium] security``).
    """

    name: str
    nodes: tuple[NodeInfo, NodeInfo, NodeInfo]
    members: Mapping[str, Member]
    ca_cert_path: Path | None
    founders: tuple[str, ...] = ()
    signatures: tuple[FounderSignature, ...] = ()
    revision: int = 0
    revoked_keys: frozenset[str] = frozenset()
    revoked_certs: frozenset[str] = frozenset()
    path: Path | None = field(default=None, compare=False)
    purposes: Mapping[str, Purpose] = field(default_factory=dict)
    security: Security = "malicious"

    @property
    def agreed_purposes(self) -> dict[str, Purpose]:
        """The purposes queries may name: those listed, else the one default purpose.

        Examples
        --------
        >>> from pathlib import Path
        >>> c = Consortium("c", (), {}, Path("ca.pem"))  # type: ignore[arg-type]
        >>> list(c.agreed_purposes)
        ['unspecified']
        """
        if self.purposes:
            return dict(self.purposes)
        return {DEFAULT_PURPOSE: Purpose(DEFAULT_PURPOSE, DEFAULT_PURPOSE_TEXT)}

    def resolve_purpose(self, name: str | None) -> str:
        """The purpose a query or request serves: ``name``, checked, or the default.

        Without a name, a consortium that lists no purposes gives :data:`DEFAULT_PURPOSE`;
        one that lists purposes refuses (every query must name its purpose).

        Raises
        ------
        PurposeError
            No name where purposes are agreed, or a name that is not agreed.

        Examples
        --------
        >>> from pathlib import Path
        >>> c = Consortium("c", (), {}, Path("ca.pem"),  # type: ignore[arg-type]
        ...                purposes={"research": Purpose("research", "studies")})
        >>> c.resolve_purpose("research")
        'research'
        >>> c.resolve_purpose("marketing")
        Traceback (most recent call last):
        ...
        sharelake.consortium.members.PurposeError: purpose 'marketing' is not agreed in \
the consortium (agreed: research)
        """
        agreed = self.agreed_purposes
        if name is None or name == "":
            if not self.purposes:
                return DEFAULT_PURPOSE
            raise PurposeError(
                "name the purpose of this query (purpose=...): the consortium agreed on "
                + ", ".join(sorted(agreed))
            )
        if name not in agreed:
            raise PurposeError(
                f"purpose {name!r} is not agreed in the consortium "
                f"(agreed: {', '.join(sorted(agreed))})"
            )
        return name

    def trust_pem(self, node_id: int | None = None) -> str:
        """PEM text of the TLS trust anchors: of node ``node_id``, or of all three.

        A node's anchor is its ``tls_anchor`` when given, else the consortium CA.

        Raises
        ------
        ConsortiumConfigError
            If a node has no anchor and there is no readable consortium CA.
        """
        ids = NODE_IDS if node_id is None else (node_id,)
        out: list[str] = []
        for i in ids:
            pem = self.nodes[i].tls_anchor
            if not pem:
                if self.ca_cert_path is None:
                    raise ConsortiumConfigError(
                        f"node P{i} has no tls_anchor and the consortium names no ca_cert",
                        path=self.path,
                        key=f"nodes[{i}].tls_anchor",
                    )
                try:
                    pem = self.ca_cert_path.read_text()
                except OSError as e:
                    raise ConsortiumConfigError(
                        f"cannot read the consortium CA {self.ca_cert_path}: {e.strerror or e}",
                        path=self.path,
                        key="consortium.ca_cert",
                    ) from None
            if pem not in out:
                out.append(pem)
        return "\n".join(p.strip() + "\n" for p in out)

    def pins(self) -> tuple[str, str, str]:
        """The pinned certificate fingerprints of P0, P1 and P2."""
        return (
            self.nodes[0].cert_fingerprint,
            self.nodes[1].cert_fingerprint,
            self.nodes[2].cert_fingerprint,
        )

    def member(self, name: str) -> Member:
        """The member called ``name``.

        Raises
        ------
        UnknownMemberError
            If no such member is listed.
        """
        try:
            return self.members[name]
        except (KeyError, TypeError):
            known = ", ".join(sorted(self.members)) or "none"
            where = f" in {self.path}" if self.path else ""
            raise UnknownMemberError(f"unknown member {name!r}{where} (members: {known})") from None

    def node(self, node_id: int) -> NodeInfo:
        """Node ``node_id`` (0, 1 or 2)."""
        if node_id not in NODE_IDS:
            raise ValueError(f"node id must be 0, 1 or 2, not {node_id!r}")
        return self.nodes[node_id]

    def members_with_role(self, role: Role) -> list[Member]:
        """Members holding ``role``, sorted by name."""
        return [m for _, m in sorted(self.members.items()) if role in m.roles]

    # -- file format -------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> Consortium:
        """Read and validate ``consortium.toml``.

        Parameters
        ----------
        path
            The file.

        Returns
        -------
        Consortium
            With ``ca_cert_path`` resolved against the file's directory.

        Raises
        ------
        ConsortiumConfigError
            If the file is missing or not TOML, or any key is missing, unknown or invalid;
            the message names the file and the key.
        """
        p = Path(path)
        doc = read_toml(p)
        return cls.from_dict(doc, path=p)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, path: Path | None = None) -> Consortium:
        """Validate a parsed consortium document (see :meth:`load`)."""
        v = FieldValidator(path)
        v.keys(
            doc,
            "",
            required={"version", "consortium", "nodes", "members"},
            optional={"signatures", "purposes"},
        )
        version = v.integer(doc, "version", "version")
        if version != FORMAT_VERSION:
            v.fail("version", f"unsupported format version {version} (this is {FORMAT_VERSION})")
        head = v.table(doc, "consortium", "consortium")
        v.keys(
            head,
            "consortium",
            required={"name"},
            optional={
                "ca_cert",
                "founders",
                "revision",
                "revoked_keys",
                "revoked_certs",
                "security",
            },
        )
        name = v.text(head, "name", "consortium.name")
        ca: Path | None = None
        if "ca_cert" in head:
            ca = Path(v.text(head, "ca_cert", "consortium.ca_cert"))
            if not ca.is_absolute() and path is not None:
                ca = (path.parent / ca).resolve()
        founders = tuple(_texts(v, head, "founders", "consortium.founders"))
        if len(set(founders)) != len(founders):
            v.fail("consortium.founders", "an organisation is listed twice")
        revision = v.integer(head, "revision", "consortium.revision") if "revision" in head else 0
        if revision < 0:
            v.fail("consortium.revision", f"must not be negative, got {revision}")
        revoked_keys = frozenset(_texts(v, head, "revoked_keys", "consortium.revoked_keys"))
        revoked_certs = frozenset(
            t.lower() for t in _texts(v, head, "revoked_certs", "consortium.revoked_certs")
        )
        security: Security = "malicious"
        if "security" in head:
            level = v.text(head, "security", "consortium.security")
            if level not in SECURITY_LEVELS:
                v.fail(
                    "consortium.security",
                    f"must be one of {', '.join(SECURITY_LEVELS)}, got {level!r}",
                )
            security = level
        nodes = _parse_nodes(v, v.array(doc, "nodes", "nodes"))
        if ca is None:
            for n in nodes:
                if not n.tls_anchor:
                    v.fail(
                        f"nodes[{n.id}].tls_anchor",
                        "a node needs a tls_anchor when the consortium names no ca_cert",
                    )
        members = _parse_members(v, v.array(doc, "members", "members"))
        signatures = _parse_signatures(v, doc.get("signatures", []))
        purposes = {}
        if "purposes" in doc:
            purposes = _parse_purposes(v, v.array(doc, "purposes", "purposes"))
        return cls(
            name=name,
            nodes=nodes,
            members=members,
            ca_cert_path=ca,
            founders=founders,
            signatures=signatures,
            revision=revision,
            revoked_keys=revoked_keys,
            revoked_certs=revoked_certs,
            path=path,
            purposes=purposes,
            security=security,
        )

    def to_dict(
        self, *, relative_to: Path | None = None, signatures: bool = True
    ) -> dict[str, Any]:
        """The TOML document; ``ca_cert`` is made relative to ``relative_to`` if possible."""
        head: dict[str, Any] = {"name": self.name}
        if self.ca_cert_path is not None:
            ca = self.ca_cert_path
            if relative_to is not None:
                with contextlib.suppress(ValueError):
                    ca = ca.resolve().relative_to(relative_to.resolve())
            head["ca_cert"] = ca.as_posix()
        if self.founders:
            head["founders"] = list(self.founders)
        if self.revision:
            head["revision"] = self.revision
        if self.revoked_keys:
            head["revoked_keys"] = sorted(self.revoked_keys)
        if self.revoked_certs:
            head["revoked_certs"] = sorted(self.revoked_certs)
        if self.security != "malicious":  # the default is not written (older files sign alike)
            head["security"] = self.security
        nodes = []
        for n in self.nodes:
            item: dict[str, Any] = {
                "id": n.id,
                "name": n.name,
                "api_host": n.api_host,
                "api_port": n.api_port,
                "peer_host": n.peer_host,
                "peer_port": n.peer_port,
                "cert_fingerprint": n.cert_fingerprint,
            }
            if n.organisation:
                item["organisation"] = n.organisation
            if n.tls_anchor:
                item["tls_anchor"] = n.tls_anchor
            if n.audit_key is not None:
                item["audit_key"] = encode_public_key(n.audit_key)
            nodes.append(item)
        doc: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "consortium": head,
            "nodes": nodes,
            "members": [
                {
                    "name": m.name,
                    "organisation": m.organisation,
                    "roles": [r for r in ROLES if r in m.roles],
                    "public_key": m.public_key_b64,
                }
                for m in self.members.values()
            ],
        }
        if signatures and self.signatures:
            doc["signatures"] = [
                {
                    "organisation": s.organisation,
                    "member": s.member,
                    "signature": base64.b64encode(s.signature).decode("ascii"),
                }
                for s in self.signatures
            ]
        if self.purposes:
            doc["purposes"] = [
                {"name": p.name, "description": p.description} for p in self.purposes.values()
            ]
        return doc

    def save(self, path: str | Path) -> Path:
        """Write ``consortium.toml`` (validated first, by round trip).

        Parameters
        ----------
        path
            Destination; ``ca_cert`` is written relative to its directory when the CA
            lies below it.

        Returns
        -------
        pathlib.Path
            ``path``.
        """
        p = Path(path)
        doc = self.to_dict(relative_to=p.parent)
        Consortium.from_dict(doc, path=p)  # refuse to write what could not be read back
        write_toml(p, doc)
        return p


# -- validation helpers (shared with the node configuration) ----------------------------


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, raising :class:`ConsortiumConfigError` naming it on failure."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConsortiumConfigError("file not found", path=path) from None
    except OSError as e:
        raise ConsortiumConfigError(f"cannot read: {e.strerror or e}", path=path) from None
    except tomllib.TOMLDecodeError as e:
        raise ConsortiumConfigError(f"not valid TOML: {e}", path=path) from None


def write_toml(path: Path, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` as TOML to ``path`` (through a temporary file and a rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(tomli_w.dumps(dict(doc)).encode("utf-8"))
    tmp.replace(path)


class FieldValidator:
    """Typed accessors that raise :class:`ConsortiumConfigError` naming the key."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> NoReturn:
        raise ConsortiumConfigError(message, path=self.path, key=key)

    def keys(
        self,
        tbl: Mapping[str, Any],
        where: str,
        *,
        required: Iterable[str],
        optional: Iterable[str] = (),
    ) -> None:
        req = set(required)
        allowed = req | set(optional)
        for k in tbl:
            if k not in allowed:
                self.fail(
                    _join(where, k), f"unknown key (expected one of {', '.join(sorted(allowed))})"
                )
        for k in sorted(req):
            if k not in tbl:
                self.fail(_join(where, k), "missing required key")

    def get(self, tbl: Mapping[str, Any], key: str, where: str) -> Any:
        if key not in tbl:
            self.fail(where, "missing required key")
        return tbl[key]

    def table(self, tbl: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        val = self.get(tbl, key, where)
        if not isinstance(val, dict):
            self.fail(where, f"expected a table, got {_kind(val)}")
        return cast(Mapping[str, Any], val)

    def array(self, tbl: Mapping[str, Any], key: str, where: str) -> list[Any]:
        val = self.get(tbl, key, where)
        if not isinstance(val, list):
            self.fail(where, f"expected an array, got {_kind(val)}")
        return val

    def text(self, tbl: Mapping[str, Any], key: str, where: str) -> str:
        val = self.get(tbl, key, where)
        if not isinstance(val, str):
            self.fail(where, f"expected a string, got {_kind(val)}")
        if not val.strip():
            self.fail(where, "must not be empty")
        return val

    def integer(self, tbl: Mapping[str, Any], key: str, where: str) -> int:
        val = self.get(tbl, key, where)
        if isinstance(val, bool) or not isinstance(val, int):
            self.fail(where, f"expected an integer, got {_kind(val)}")
        return val

    def port(self, tbl: Mapping[str, Any], key: str, where: str) -> int:
        val = self.integer(tbl, key, where)
        if not 1 <= val <= 65535:
            self.fail(where, f"port must be in 1-65535, got {val}")
        return val

    def seconds(self, tbl: Mapping[str, Any], key: str, where: str) -> float:
        val = self.get(tbl, key, where)
        if isinstance(val, bool) or not isinstance(val, int | float):
            self.fail(where, f"expected a number of seconds, got {_kind(val)}")
        if not 0 < val < float("inf"):
            self.fail(where, f"must be a positive number of seconds, got {val}")
        return float(val)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(val: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names.update({list: "an array", dict: "a table"})
    return names.get(type(val), type(val).__name__) + (
        f" ({val!r})" if isinstance(val, bool | int | float | str) else ""
    )


def _audit_key(v: FieldValidator, item: Mapping[str, Any], where: str) -> bytes | None:
    if "audit_key" not in item:
        return None
    try:
        return decode_public_key(v.text(item, "audit_key", where))
    except ValueError as exc:
        v.fail(where, f"the node's audit public key {exc}")


def parse_node(v: FieldValidator, item: Any, where: str) -> NodeInfo:
    """One ``[[nodes]]`` entry (or a node descriptor's ``[node]``), validated."""
    if not isinstance(item, dict):
        v.fail(where, f"expected a table, got {_kind(item)}")
    v.keys(
        item,
        where,
        required={
            "id",
            "api_host",
            "api_port",
            "peer_host",
            "peer_port",
            "cert_fingerprint",
        },
        optional={"name", "organisation", "tls_anchor", "audit_key"},
    )
    nid = v.integer(item, "id", f"{where}.id")
    if nid not in NODE_IDS:
        v.fail(f"{where}.id", f"node id must be 0, 1 or 2, got {nid}")
    name = v.text(item, "name", f"{where}.name") if "name" in item else f"P{nid}"
    fpr = v.text(item, "cert_fingerprint", f"{where}.cert_fingerprint").lower()
    if not _FPR_RE.fullmatch(fpr.replace(":", "")):
        v.fail(
            f"{where}.cert_fingerprint",
            "expected the SHA-256 certificate fingerprint as 64 hex characters",
        )
    return NodeInfo(
        id=nid,
        name=name,
        api_host=v.text(item, "api_host", f"{where}.api_host"),
        api_port=v.port(item, "api_port", f"{where}.api_port"),
        peer_host=v.text(item, "peer_host", f"{where}.peer_host"),
        peer_port=v.port(item, "peer_port", f"{where}.peer_port"),
        cert_fingerprint=fpr.replace(":", ""),
        organisation=(
            v.text(item, "organisation", f"{where}.organisation") if "organisation" in item else ""
        ),
        tls_anchor=_anchor(v, item, f"{where}.tls_anchor"),
        audit_key=_audit_key(v, item, f"{where}.audit_key"),
    )


def _parse_nodes(v: FieldValidator, raw: list[Any]) -> tuple[NodeInfo, NodeInfo, NodeInfo]:
    if len(raw) != 3:
        v.fail("nodes", f"expected exactly 3 nodes (P0, P1, P2), got {len(raw)}")
    by_id: dict[int, NodeInfo] = {}
    endpoints: dict[tuple[str, int], str] = {}
    for i, item in enumerate(raw):
        where = f"nodes[{i}]"
        node = parse_node(v, item, where)
        if node.id in by_id:
            v.fail(f"{where}.id", f"node id {node.id} is listed twice")
        for kind in ("api", "peer"):
            addr = (getattr(node, f"{kind}_host"), getattr(node, f"{kind}_port"))
            key = f"{where}.{kind}_port"
            if addr in endpoints:
                v.fail(key, f"address {addr[0]}:{addr[1]} is also used by {endpoints[addr]}")
            endpoints[addr] = key
        by_id[node.id] = node
    return (by_id[0], by_id[1], by_id[2])


def _anchor(v: FieldValidator, item: Mapping[str, Any], where: str) -> str:
    """An optional PEM certificate; checked to parse."""
    if "tls_anchor" not in item:
        return ""
    pem = v.text(item, "tls_anchor", where)
    try:
        x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        v.fail(where, "expected one PEM certificate")
    return pem


def _texts(v: FieldValidator, tbl: Mapping[str, Any], key: str, where: str) -> list[str]:
    """An optional array of non-empty strings (``[]`` when absent)."""
    if key not in tbl:
        return []
    items = v.array(tbl, key, where)
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            v.fail(f"{where}[{i}]", f"expected a non-empty string, got {_kind(item)}")
    return [str(x) for x in items]


def _parse_signatures(v: FieldValidator, raw: Any) -> tuple[FounderSignature, ...]:
    if not isinstance(raw, list):
        v.fail("signatures", f"expected an array, got {_kind(raw)}")
    out: list[FounderSignature] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"signatures[{i}]"
        if not isinstance(item, dict):
            v.fail(where, f"expected a table, got {_kind(item)}")
        v.keys(item, where, required={"organisation", "member", "signature"})
        org = v.text(item, "organisation", f"{where}.organisation")
        if org in seen:
            v.fail(f"{where}.organisation", f"{org!r} has signed twice")
        seen.add(org)
        try:
            sig = base64.b64decode(v.text(item, "signature", f"{where}.signature"), validate=True)
        except (binascii.Error, ValueError):
            v.fail(f"{where}.signature", "is not valid base64")
        out.append(FounderSignature(org, v.text(item, "member", f"{where}.member"), sig))
    return tuple(out)


def parse_members(v: FieldValidator, raw: list[Any]) -> dict[str, Member]:
    """The ``[[members]]`` entries (or a member descriptor's ``[member]``), validated."""
    return _parse_members(v, raw)


def _parse_members(v: FieldValidator, raw: list[Any]) -> dict[str, Member]:
    if not raw:
        v.fail("members", "the consortium lists no members")
    members: dict[str, Member] = {}
    keys_seen: dict[bytes, str] = {}
    for i, item in enumerate(raw):
        where = f"members[{i}]"
        if not isinstance(item, dict):
            v.fail(where, f"expected a table, got {_kind(item)}")
        v.keys(item, where, required={"name", "organisation", "roles", "public_key"})
        name = v.text(item, "name", f"{where}.name")
        try:
            check_member_name(name)
        except ValueError as e:
            v.fail(f"{where}.name", str(e))
        if name in members:
            v.fail(f"{where}.name", f"member {name!r} is listed twice")
        where = f"members[{name}]"
        organisation = v.text(item, "organisation", f"{where}.organisation")
        roles_raw = v.array(item, "roles", f"{where}.roles")
        if not roles_raw:
            v.fail(f"{where}.roles", f"a member needs at least one role of {', '.join(ROLES)}")
        for r in roles_raw:
            if r not in ROLES:
                v.fail(f"{where}.roles", f"unknown role {r!r} (roles: {', '.join(ROLES)})")
        text = v.text(item, "public_key", f"{where}.public_key")
        try:
            pub = decode_public_key(text)
        except ValueError as e:
            v.fail(f"{where}.public_key", f"public key {e}")
        if pub in keys_seen:
            v.fail(f"{where}.public_key", f"same public key as member {keys_seen[pub]!r}")
        keys_seen[pub] = name
        members[name] = Member(
            name=name,
            organisation=organisation,
            roles=frozenset(cast(list[Role], roles_raw)),
            public_key=pub,
        )
    return members


def _parse_purposes(v: FieldValidator, raw: list[Any]) -> dict[str, Purpose]:
    out: dict[str, Purpose] = {}
    for i, item in enumerate(raw):
        where = f"purposes[{i}]"
        if not isinstance(item, dict):
            v.fail(where, f"expected a table, got {_kind(item)}")
        v.keys(item, where, required={"name", "description"})
        name = v.text(item, "name", f"{where}.name")
        if not _PURPOSE_RE.fullmatch(name):
            v.fail(
                f"{where}.name",
                f"invalid purpose name {name!r}: use 1-64 lowercase letters, digits, '_' or "
                "'-', starting with a letter or digit",
            )
        if name in out:
            v.fail(f"{where}.name", f"purpose {name!r} is listed twice")
        out[name] = Purpose(name, v.text(item, "description", f"purposes[{name}].description"))
    return out

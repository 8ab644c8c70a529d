"""A small certificate authority for the consortium: CA, node and member certificates.

A node's identity is bound to its certificate, never taken from a message: the subject
common name is ``sharelake-node-P{i}`` and a SAN URI ``urn:sharelake:node:{i}`` repeats
it (:func:`sharelake.net.identity.node_id_from_cert` reads and cross-checks the two when a
peer connects). Keys are ECDSA P-256 (default) or Ed25519, written as PEM with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import AuthenticationError
from ..net.identity import NODE_CN_PREFIX, NODE_URI_PREFIX

KeyType = Literal["p256", "ed25519"]
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

DEFAULT_HOSTS = ("127.0.0.1", "localhost")
_VALID_DAYS = 3650


@dataclass(frozen=True)
class CA:
    """A certificate authority: its certificate, private key and their files."""

    cert: x509.Certificate
    key: PrivateKey
    cert_path: Path
    key_path: Path


@dataclass(frozen=True)
class Issued:
    """An issued certificate and the files of it and of its private key."""

    cert: x509.Certificate
    cert_path: Path
    key_path: Path


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def _sign_hash(key: PrivateKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def _write_key(path: Path, key: PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(path, pem)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_ca(directory: str | Path, *, name: str = "sharelake-ca", key_type: KeyType = "p256") -> CA:
    """Create a self-signed CA in ``directory`` (``ca.pem`` and ``ca-key.pem``)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    key = _new_key(key_type)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, _sign_hash(key))
    )
    cert_path, key_path = d / "ca.pem", d / "ca-key.pem"
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return CA(cert, key, cert_path, key_path)


def load_ca(directory: str | Path) -> CA:
    """Load a CA written by :func:`make_ca`."""
    d = Path(directory)
    cert = x509.load_pem_x509_certificate((d / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((d / "ca-key.pem").read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise AuthenticationError(f"unsupported CA key type in {d}")
    return CA(cert, key, d / "ca.pem", d / "ca-key.pem")


def _san_entries(
    hosts: tuple[str, ...] | list[str], uris: tuple[str, ...] | list[str]
) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for h in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    names.extend(x509.UniformResourceIdentifier(u) for u in uris)
    return names


def issue_cert(
    ca: CA,
    common_name: str,
    directory: str | Path,
    *,
    stem: str | None = None,
    hosts: tuple[str, ...] | list[str] = DEFAULT_HOSTS,
    uris: tuple[str, ...] | list[str] = (),
    key_type: KeyType = "p256",
    days: int = _VALID_DAYS,
) -> Issued:
    """Issue a certificate for ``common_name`` usable as TLS server and client.

    Files are ``{stem}.pem`` and ``{stem}-key.pem`` (key mode 0600) in ``directory``;
    ``stem`` defaults to the common name.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    key = _new_key(key_type)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = _leaf_builder(ca, subject, key.public_key(), days)
    sans = _san_entries(hosts, uris)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca.key, _sign_hash(ca.key))
    name = stem or common_name
    cert_path, key_path = d / f"{name}.pem", d / f"{name}-key.pem"
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return Issued(cert, cert_path, key_path)


def issue_node_cert(
    ca: CA,
    node_id: int,
    directory: str | Path,
    *,
    hosts: tuple[str, ...] | list[str] = DEFAULT_HOSTS,
    key_type: KeyType = "p256",
) -> Issued:
    """Issue node ``node_id``'s certificate (files ``node{i}.pem``, ``node{i}-key.pem``)."""
    if node_id not in (0, 1, 2):
        raise ValueError(f"node id must be 0, 1 or 2, not {node_id}")
    return issue_cert(
        ca,
        f"{NODE_CN_PREFIX}{node_id}",
        directory,
        stem=f"node{node_id}",
        hosts=hosts,
        uris=[f"{NODE_URI_PREFIX}{node_id}"],
        key_type=key_type,
    )


def _node_names(node_id: int) -> tuple[x509.Name, list[str]]:
    if node_id not in (0, 1, 2):
        raise ValueError(f"node id must be 0, 1 or 2, not {node_id}")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{NODE_CN_PREFIX}{node_id}")])
    return name, [f"{NODE_URI_PREFIX}{node_id}"]


def self_signed_node_cert(
    node_id: int,
    directory: str | Path,
    *,
    hosts: tuple[str, ...] | list[str] = DEFAULT_HOSTS,
    key_type: KeyType = "p256",
    days: int = _VALID_DAYS,
) -> Issued:
    """Make node ``node_id``'s own key and a self-signed certificate for it.

    The certificate is not a CA (it can sign nothing else); the consortium file lists it
    as the node's trust anchor and pins its fingerprint. Files ``node.pem`` and
    ``node-key.pem`` (0600) in ``directory``.

    Examples
    --------
    >>> issued = self_signed_node_cert(1, "p1/tls", hosts=["p1.police.example"])  # doctest: +SKIP
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    key = _new_key(key_type)
    name, uris = _node_names(node_id)
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(_san_entries(hosts, uris)), critical=False)
    )
    cert = builder.sign(key, _sign_hash(key))
    cert_path, key_path = d / "node.pem", d / "node-key.pem"
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return Issued(cert, cert_path, key_path)


def node_csr(
    node_id: int,
    directory: str | Path,
    *,
    hosts: tuple[str, ...] | list[str] = DEFAULT_HOSTS,
    key_type: KeyType = "p256",
) -> tuple[Path, Path]:
    """Make node ``node_id``'s own key and a certificate signing request for its org's CA.

    Returns the paths of ``node.csr`` and ``node-key.pem`` (0600) in ``directory``; the
    organisation's CA signs the request (:func:`sign_node_csr` or its own tooling) and
    the operator brings the certificate back as ``node.pem``.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    key = _new_key(key_type)
    name, uris = _node_names(node_id)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(name)
        .add_extension(x509.SubjectAlternativeName(_san_entries(hosts, uris)), critical=False)
        .sign(key, _sign_hash(key))
    )
    csr_path, key_path = d / "node.csr", d / "node-key.pem"
    _write_key(key_path, key)
    csr_path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return csr_path, key_path


def _leaf_builder(
    ca: CA, subject: x509.Name, public_key: Any, days: int
) -> x509.CertificateBuilder:
    """A certificate for TLS server and client use issued by ``ca`` (valid from 5 minutes
    ago for ``days``): what node certificates issued here and signed CSRs share."""
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )


def sign_node_csr(ca: CA, csr_path: str | Path, out: str | Path, *, days: int = 825) -> Path:
    """Sign a node's CSR with an organisation's CA, keeping its subject and names.

    What an organisation's CA operator does with :func:`node_csr`'s request (any CA
    tooling will do, as long as the subject and the SAN URI are kept).
    """
    csr = x509.load_pem_x509_csr(Path(csr_path).read_bytes())
    if not csr.is_signature_valid:
        raise AuthenticationError(f"{csr_path}: the request's signature does not verify")
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    cert = (
        _leaf_builder(ca, csr.subject, csr.public_key(), days)
        .add_extension(san, critical=False)
        .sign(ca.key, _sign_hash(ca.key))
    )
    p = Path(out)
    _write_cert(p, cert)
    return p

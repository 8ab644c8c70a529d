"""Who is at the other end of a TLS connection: node ids and fingerprints of certificates.

A node's identity is bound to its certificate, never taken from a message: the subject
common name is ``sharelake-node-P{i}`` and a SAN URI ``urn:sharelake:node:{i}`` repeats
it; :func:`node_id_from_cert` extracts and cross-checks the two. The certificates are
issued by :mod:`sharelake.consortium.certs`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from ..errors import AuthenticationError

NODE_CN_PREFIX = "sharelake-node-P"
NODE_URI_PREFIX = "urn:sharelake:node:"


def load_cert(data_or_path: bytes | str | Path) -> x509.Certificate:
    """A certificate from PEM or DER bytes, or from a PEM file."""
    data = Path(data_or_path).read_bytes() if isinstance(data_or_path, str | Path) else data_or_path
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def fingerprint(cert: x509.Certificate | bytes | str | Path) -> str:
    """SHA-256 fingerprint of a certificate's DER encoding, as lowercase hex."""
    c = cert if isinstance(cert, x509.Certificate) else load_cert(cert)
    return hashlib.sha256(c.public_bytes(serialization.Encoding.DER)).hexdigest()


def common_name(cert: x509.Certificate) -> str:
    """The subject common name of ``cert`` ('' if it has none)."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


def _uris(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(u) for u in san.get_values_for_type(x509.UniformResourceIdentifier)]


def node_id_from_cert(cert: x509.Certificate | bytes) -> int:
    """The node id (0, 1 or 2) a certificate was issued for.

    Reads the CN ``sharelake-node-P{i}`` and the SAN URI ``urn:sharelake:node:{i}``;
    they must agree when both are present. Raises
    :class:`~sharelake.errors.AuthenticationError` if the certificate names no node.
    """
    c = cert if isinstance(cert, x509.Certificate) else load_cert(cert)
    ids: set[str] = set()
    cn = common_name(c)
    if cn.startswith(NODE_CN_PREFIX):
        ids.add(cn[len(NODE_CN_PREFIX) :])
    ids.update(u[len(NODE_URI_PREFIX) :] for u in _uris(c) if u.startswith(NODE_URI_PREFIX))
    if len(ids) != 1:
        raise AuthenticationError(f"certificate {cn!r} does not name exactly one sharelake node")
    (raw,) = ids
    if raw not in ("0", "1", "2"):
        raise AuthenticationError(f"certificate {cn!r} names an invalid node id")
    return int(raw)

"""Ed25519 member keys: generate, store (PEM, mode 0600), load, sign and verify.

Every member of the consortium (provider, analyst, approver, node operator) holds one
Ed25519 private key; its public key is listed in ``consortium.toml`` as the base64 of the
32 raw bytes. Private keys are written as unencrypted PKCS#8 PEM readable by the owner
only, and are never logged or printed.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ..errors import AuthenticationError, SharelakeError

__all__ = [
    "PUBLIC_KEY_BYTES",
    "SIGNATURE_BYTES",
    "KeyFileError",
    "SignatureError",
    "decode_public_key",
    "encode_public_key",
    "generate_key",
    "load_private_key",
    "public_key_bytes",
    "save_private_key",
    "sign",
    "verify",
]

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


class KeyFileError(SharelakeError):
    """A member key file is missing, unreadable, or not an Ed25519 private key."""


class SignatureError(AuthenticationError):
    """A signature is malformed or does not verify under the claimed member's key."""


def generate_key() -> ed25519.Ed25519PrivateKey:
    """A fresh Ed25519 private key.

    Returns
    -------
    cryptography.hazmat.primitives.asymmetric.ed25519.Ed25519PrivateKey
        The new key.
    """
    return ed25519.Ed25519PrivateKey.generate()


def save_private_key(key: ed25519.Ed25519PrivateKey, path: str | Path) -> Path:
    """Write ``key`` to ``path`` as PKCS#8 PEM with mode 0600.

    The file is created with mode 0600 from the start (never world-readable, not even
    briefly); an existing file is truncated and its mode reset to 0600.

    Parameters
    ----------
    key
        The private key.
    path
        Destination file; its directory must exist.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    p = Path(path)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(pem)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return p


def load_private_key(path: str | Path) -> ed25519.Ed25519PrivateKey:
    """Load a member's private key written by :func:`save_private_key`.

    Parameters
    ----------
    path
        The PEM file.

    Returns
    -------
    cryptography.hazmat.primitives.asymmetric.ed25519.Ed25519PrivateKey
        The key.

    Raises
    ------
    KeyFileError
        If the file is missing or unreadable, or holds no Ed25519 private key.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise KeyFileError(f"cannot read member key {p}: {e.strerror or e}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyFileError(f"{p} is not an unencrypted PEM private key") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise KeyFileError(f"{p} holds a {type(key).__name__}, not an Ed25519 member key")
    return key


def public_key_bytes(key: ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of the public half of ``key``."""
    pub = key.public_key() if isinstance(key, ed25519.Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def encode_public_key(key: ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey | bytes) -> str:
    """The base64 text of a public key, as written in ``consortium.toml``.

    Parameters
    ----------
    key
        A private key (its public half is encoded), a public key, or 32 raw bytes.

    Returns
    -------
    str
        Standard base64 (with padding) of the 32 raw public-key bytes.
    """
    raw = key if isinstance(key, bytes) else public_key_bytes(key)
    if len(raw) != PUBLIC_KEY_BYTES:
        raise ValueError(f"an Ed25519 public key has {PUBLIC_KEY_BYTES} bytes, not {len(raw)}")
    return base64.b64encode(raw).decode("ascii")


def decode_public_key(text: str) -> bytes:
    """The 32 raw bytes of a base64 public key; raises ``ValueError`` if malformed."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("is not valid base64") from None
    if len(raw) != PUBLIC_KEY_BYTES:
        raise ValueError(f"decodes to {len(raw)} bytes, an Ed25519 public key has 32")
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise ValueError("is not a valid Ed25519 public key") from None
    return raw


def sign(key: ed25519.Ed25519PrivateKey, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature of ``message`` by ``key``."""
    return key.sign(message)


def verify(
    public_key: ed25519.Ed25519PublicKey | bytes, signature: bytes, message: bytes, *, who: str = ""
) -> None:
    """Check an Ed25519 signature.

    Parameters
    ----------
    public_key
        The signer's public key, or its 32 raw bytes.
    signature
        The 64-byte signature.
    message
        The signed bytes.
    who
        Named in the error message (e.g. the member), never the message itself.

    Raises
    ------
    SignatureError
        If the signature is malformed or does not verify.
    """
    pub = (
        ed25519.Ed25519PublicKey.from_public_bytes(public_key)
        if isinstance(public_key, bytes)
        else public_key
    )
    suffix = f" of {who}" if who else ""
    if len(signature) != SIGNATURE_BYTES:
        raise SignatureError(
            f"signature{suffix} has {len(signature)} bytes, an Ed25519 signature has 64"
        )
    try:
        pub.verify(signature, message)
    except InvalidSignature:
        raise SignatureError(f"signature{suffix} does not verify") from None

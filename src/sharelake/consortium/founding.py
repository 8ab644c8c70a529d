"""Founding a consortium without a single key holder: assemble, sign, check.

Each organisation makes its own keys on its own machines (``sharelake node init``,
``sharelake member init``) and hands over only public descriptors. One of them runs
``sharelake consortium assemble`` to build ``consortium.toml`` from those descriptors;
the file travels to every founding organisation, whose approver adds a signature with
``sharelake consortium sign``. A node starts only on a file that every founder signed
(:func:`check_founders_signed`), and says who has not.

What is signed is :func:`digest`: the SHA-256 of the canonical JSON of the whole file
without its signatures, where the path of a consortium CA is replaced by that CA's
fingerprint (paths differ between machines; the certificate does not). Any change to
nodes, addresses, fingerprints, trust anchors, members, roles, keys, founders or
revocations therefore voids every signature.

Examples
--------
>>> cons = assemble("lake", nodes, members)                 # doctest: +SKIP
>>> cons = add_signature(cons, "police", police_key)        # doctest: +SKIP
>>> missing_founders(cons)                                  # doctest: +SKIP
['ngo', 'uni']
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from ..errors import AuthenticationError
from .keys import public_key_bytes, sign, verify
from .members import (
    Consortium,
    ConsortiumConfigError,
    FounderSignature,
    Member,
    NodeInfo,
)

__all__ = [
    "UnsignedConsortiumError",
    "add_signature",
    "assemble",
    "check_founders_signed",
    "digest",
    "missing_founders",
    "signer_for",
]

_CONTEXT = b"sharelake-consortium-founding-v1\n"


class UnsignedConsortiumError(AuthenticationError):
    """The consortium file lacks a founder's signature, or a signature does not verify."""


def _ca_fingerprint(cons: Consortium) -> str | None:
    if cons.ca_cert_path is None:
        return None
    from ..net.identity import fingerprint

    try:
        return fingerprint(cons.ca_cert_path)
    except (OSError, ValueError) as e:
        raise ConsortiumConfigError(
            f"cannot read the consortium CA {cons.ca_cert_path}: {e}",
            path=cons.path,
            key="consortium.ca_cert",
        ) from None


def digest(cons: Consortium) -> bytes:
    """The 32 bytes every founder signs (see the module docstring).

    Examples
    --------
    >>> len(digest(cons))  # doctest: +SKIP
    32
    """
    doc = cons.to_dict(signatures=False)
    head = dict(doc["consortium"])
    head.pop("ca_cert", None)
    ca = _ca_fingerprint(cons)
    if ca is not None:
        head["ca_cert_sha256"] = ca
    doc["consortium"] = head
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(_CONTEXT + text.encode("utf-8")).digest()


def signer_for(cons: Consortium, organisation: str, member: str) -> Member:
    """The member who may sign for ``organisation``: an approver of it, key not revoked.

    Raises
    ------
    UnsignedConsortiumError
        If ``member`` is unknown, of another organisation, not an approver or revoked.
    """
    m = cons.members.get(member)
    if m is None:
        raise UnsignedConsortiumError(f"{member!r} is not a member of the consortium")
    if m.organisation != organisation:
        raise UnsignedConsortiumError(
            f"member {member!r} belongs to {m.organisation!r}, not to {organisation!r}"
        )
    if "approver" not in m.roles:
        raise UnsignedConsortiumError(f"member {member!r} is not an approver of {organisation!r}")
    if m.public_key_b64 in cons.revoked_keys:
        raise UnsignedConsortiumError(f"the key of member {member!r} has been revoked")
    return m


def add_signature(cons: Consortium, member: str, key: ed25519.Ed25519PrivateKey) -> Consortium:
    """``cons`` with ``member``'s signature for its organisation added (or replaced).

    Raises
    ------
    UnsignedConsortiumError
        If the member may not sign (see :func:`signer_for`), its organisation is not a
        founder, or ``key`` is not the member's key.
    """
    m = cons.members.get(member)
    if m is None:
        raise UnsignedConsortiumError(f"{member!r} is not a member of the consortium")
    org = m.organisation
    if org not in cons.founders:
        raise UnsignedConsortiumError(
            f"{org!r} is not a founder of this consortium (founders: {', '.join(cons.founders)})"
        )
    signer_for(cons, org, member)
    if public_key_bytes(key) != m.public_key:
        raise UnsignedConsortiumError(
            f"the key given is not the key consortium.toml lists for {member!r}"
        )
    sig = FounderSignature(org, member, sign(key, digest(cons)))
    rest = tuple(s for s in cons.signatures if s.organisation != org)
    return dataclasses.replace(cons, signatures=(*rest, sig))


def missing_founders(cons: Consortium) -> list[str]:
    """Founders without a valid signature (a bad signature counts as missing)."""
    d = digest(cons)
    good: set[str] = set()
    for s in cons.signatures:
        try:
            m = signer_for(cons, s.organisation, s.member)
            verify(m.public_key, s.signature, d, who=s.member)
        except AuthenticationError:
            continue
        good.add(s.organisation)
    return [f for f in cons.founders if f not in good]


def check_founders_signed(cons: Consortium) -> None:
    """Raise unless every founder signed ``cons`` and every signature verifies.

    Raises
    ------
    UnsignedConsortiumError
        Naming the file, the founders who have not signed, and any signature that does
        not verify (a stale signature from before an edit, a wrong key).
    """
    where = f"{cons.path}: " if cons.path else ""
    if not cons.founders:
        raise UnsignedConsortiumError(
            f"{where}the consortium names no founders; assemble it with "
            "`sharelake consortium assemble` and have every founder sign it"
        )
    d = digest(cons)
    bad: list[str] = []
    for s in cons.signatures:
        if s.organisation not in cons.founders:
            bad.append(f"{s.organisation} (not a founder)")
            continue
        try:
            m = signer_for(cons, s.organisation, s.member)
            verify(m.public_key, s.signature, d, who=s.member)
        except AuthenticationError as e:
            bad.append(f"{s.organisation} ({e})")
    missing = missing_founders(cons)
    if missing or bad:
        parts = []
        if missing:
            parts.append(f"not signed by {', '.join(missing)}")
        if bad:
            parts.append(f"invalid signatures: {'; '.join(bad)}")
        raise UnsignedConsortiumError(
            f"{where}consortium {cons.name!r} is {' and '.join(parts)} "
            f"(founders: {', '.join(cons.founders)}; sign with `sharelake consortium sign`)"
        )


def assemble(
    name: str,
    nodes: Sequence[NodeInfo],
    members: Sequence[Member],
    *,
    founders: Sequence[str] | None = None,
) -> Consortium:
    """A new, unsigned consortium from the nodes' and members' public descriptors.

    Parameters
    ----------
    name
        The consortium's name.
    nodes
        Exactly three node descriptors (ids 0, 1, 2), each with a ``tls_anchor``.
    members
        The members' descriptors.
    founders
        Organisations that must sign; by default every organisation with an approver.

    Raises
    ------
    ConsortiumConfigError
        When the result would not be a valid consortium file (the message says why).
    """
    names = [m.name for m in members]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConsortiumConfigError(f"member {twice[0]!r} is given twice")
    for n in nodes:
        if not n.tls_anchor:
            raise ConsortiumConfigError(f"the descriptor of P{n.id} has no tls_anchor")
    by_id = {n.id: n for n in nodes}
    if sorted(by_id) != [0, 1, 2] or len(nodes) != 3:
        got = ", ".join(f"P{n.id}" for n in nodes) or "none"
        raise ConsortiumConfigError(f"need exactly the nodes P0, P1 and P2, got {got}")
    approver_orgs = sorted({m.organisation for m in members if "approver" in m.roles})
    chosen = list(founders) if founders is not None else approver_orgs
    if not chosen:
        raise ConsortiumConfigError("no founders: no member has the approver role")
    for org in chosen:
        if org not in approver_orgs:
            raise ConsortiumConfigError(f"founder {org!r} has no approver member to sign for it")
    doc: Mapping[str, Any] = Consortium(
        name=name,
        nodes=(by_id[0], by_id[1], by_id[2]),
        members={m.name: m for m in members},
        ca_cert_path=None,
        founders=tuple(chosen),
    ).to_dict()
    return Consortium.from_dict(doc)  # the same checks as loading the file

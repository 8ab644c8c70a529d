"""Membership changes: a new revision of the consortium file, signed by every approver.

Adding a partner, removing one, rotating a member's key and replacing (revoking) a
node's certificate are all the same act: someone proposes revision ``N + 1`` of
``consortium.toml`` (:func:`propose`), *every* approver listed in revision ``N`` signs
it (:func:`sign_change`; as crandas requires for changing its approver set, no
majority can act over a partner's head), and every node's operator applies it
(:func:`apply_change`, ``sharelake node apply-change``), which checks the signatures
against the node's own revision ``N``, keeps ``N`` in the node's history, writes
``N + 1``, and records the change in the node's audit log. A node then starts on
revision ``N + 1`` only because its history holds the ``N`` that authorises it
(:func:`check_authorised`); revision 0 needs the founders' signatures instead.

What a revision revokes stays revoked: a rotated member key and a replaced node
certificate go into ``revoked_keys`` and ``revoked_certs``; a node refuses to start
with a revoked certificate and its peers refuse it by pin, and a request signed with a
revoked key no longer verifies (the member's listed key is the new one).

Examples
--------
>>> new = propose(current, add_member=partner)                    # doctest: +SKIP
>>> for name, key in approvers_keys:                              # doctest: +SKIP
...     new = sign_change(new, current, name, key)
>>> apply_change(node_config, new)                                # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from ..errors import AuthenticationError
from .founding import check_founders_signed, digest
from .keys import public_key_bytes, sign, verify
from .members import Consortium, ConsortiumConfigError, FounderSignature, Member, NodeInfo

__all__ = [
    "HISTORY_DIR",
    "MembershipChangeError",
    "apply_change",
    "approvers",
    "check_authorised",
    "check_change",
    "describe_change",
    "propose",
    "sign_change",
]

HISTORY_DIR = "consortium-history"


class MembershipChangeError(AuthenticationError):
    """A proposed revision is not authorised: a wrong revision or a missing approver."""


def approvers(cons: Consortium) -> list[Member]:
    """The members who must all sign a change of ``cons``: approvers, keys not revoked."""
    return [
        m for m in cons.members_with_role("approver") if m.public_key_b64 not in cons.revoked_keys
    ]


def propose(
    current: Consortium,
    *,
    add_member: Member | None = None,
    remove_member: str | None = None,
    rotate_key: Member | None = None,
    replace_node: NodeInfo | None = None,
) -> Consortium:
    """Revision ``current.revision + 1`` with one change applied, unsigned.

    Parameters
    ----------
    current
        The consortium in force.
    add_member
        A new member (from its ``member init`` descriptor).
    remove_member
        The name of a member to remove (its key is revoked too).
    rotate_key
        A member's new descriptor: same name, organisation and roles, a new key; the
        old key is revoked.
    replace_node
        A node's new descriptor (new certificate, perhaps new addresses); the old
        certificate is revoked.

    Raises
    ------
    ConsortiumConfigError
        When the change does not fit (unknown or duplicate member, same key...).
    """
    given = [x for x in (add_member, remove_member, rotate_key, replace_node) if x is not None]
    if len(given) != 1:
        raise ConsortiumConfigError("a proposal makes exactly one change")
    members = dict(current.members)
    nodes = list(current.nodes)
    revoked_keys = set(current.revoked_keys)
    revoked_certs = set(current.revoked_certs)
    if add_member is not None:
        if add_member.name in members:
            raise ConsortiumConfigError(f"member {add_member.name!r} exists already")
        if add_member.public_key_b64 in revoked_keys:
            raise ConsortiumConfigError(f"the key of {add_member.name!r} was revoked before")
        members[add_member.name] = add_member
    elif remove_member is not None:
        old = current.member(remove_member)
        del members[remove_member]
        revoked_keys.add(old.public_key_b64)
        if not any("approver" in m.roles for m in members.values()):
            raise ConsortiumConfigError("the change would leave the consortium without approvers")
    elif rotate_key is not None:
        old = current.member(rotate_key.name)
        if (old.organisation, old.roles) != (rotate_key.organisation, rotate_key.roles):
            raise ConsortiumConfigError(
                f"a key rotation keeps {rotate_key.name!r}'s organisation and roles"
            )
        if rotate_key.public_key == old.public_key or rotate_key.public_key_b64 in revoked_keys:
            raise ConsortiumConfigError(f"{rotate_key.name!r} needs a key never used before")
        members[rotate_key.name] = rotate_key
        revoked_keys.add(old.public_key_b64)
    elif replace_node is not None:
        old_node = current.node(replace_node.id)
        if replace_node.cert_fingerprint in (old_node.cert_fingerprint, *revoked_certs):
            raise ConsortiumConfigError(f"P{replace_node.id} needs a certificate never used before")
        nodes[replace_node.id] = replace_node
        revoked_certs.add(old_node.cert_fingerprint)
    new = dataclasses.replace(
        current,
        nodes=(nodes[0], nodes[1], nodes[2]),
        members=members,
        revision=current.revision + 1,
        revoked_keys=frozenset(revoked_keys),
        revoked_certs=frozenset(revoked_certs),
        signatures=(),
    )
    return Consortium.from_dict(new.to_dict(), path=current.path)  # the same checks as a load


def describe_change(previous: Consortium, proposal: Consortium) -> str:
    """One line saying what ``proposal`` changes (for prompts and the audit log)."""
    added = sorted(set(proposal.members) - set(previous.members))
    removed = sorted(set(previous.members) - set(proposal.members))
    rotated = sorted(
        n
        for n in set(previous.members) & set(proposal.members)
        if previous.members[n].public_key != proposal.members[n].public_key
    )
    nodes = [
        f"P{i}"
        for i in range(3)
        if previous.nodes[i].cert_fingerprint != proposal.nodes[i].cert_fingerprint
    ]
    parts = [f"add member {n}" for n in added] + [f"remove member {n}" for n in removed]
    parts += [f"rotate the key of {n}" for n in rotated]
    parts += [f"replace the certificate of {n}" for n in nodes]
    return f"revision {proposal.revision}: " + ("; ".join(parts) or "no change")


def sign_change(
    proposal: Consortium, previous: Consortium, member: str, key: ed25519.Ed25519PrivateKey
) -> Consortium:
    """``proposal`` with ``member``'s signature added: an approver of ``previous``.

    Raises
    ------
    MembershipChangeError
        If ``member`` is not an approver of ``previous``, ``key`` is not its key, or the
        proposal is not the next revision of ``previous``.
    """
    _check_sequence(previous, proposal)
    m = {a.name: a for a in approvers(previous)}.get(member)
    if m is None:
        raise MembershipChangeError(
            f"{member!r} is not an approver of revision {previous.revision}; the approvers are "
            f"{', '.join(a.name for a in approvers(previous))}"
        )
    if public_key_bytes(key) != m.public_key:
        raise MembershipChangeError(
            f"the key given is not {member!r}'s key in revision {previous.revision}"
        )
    sig = FounderSignature(m.organisation, m.name, sign(key, digest(proposal)))
    rest = tuple(s for s in proposal.signatures if s.member != member)
    return dataclasses.replace(proposal, signatures=(*rest, sig))


def _check_sequence(previous: Consortium, proposal: Consortium) -> None:
    if proposal.revision != previous.revision + 1:
        raise MembershipChangeError(
            f"the proposal is revision {proposal.revision}, the node is at revision "
            f"{previous.revision}: apply revision {previous.revision + 1} first"
        )
    if (proposal.name, proposal.founders) != (previous.name, previous.founders):
        raise MembershipChangeError("a change may not rename the consortium or its founders")


def check_change(previous: Consortium, proposal: Consortium) -> None:
    """Raise unless ``proposal`` is ``previous``'s next revision signed by all its approvers.

    Raises
    ------
    MembershipChangeError
        Naming the approvers who have not signed and any signature that does not verify.
    """
    _check_sequence(previous, proposal)
    d = digest(proposal)
    good: set[str] = set()
    bad: list[str] = []
    needed = {a.name: a for a in approvers(previous)}
    for s in proposal.signatures:
        m = needed.get(s.member)
        if m is None:
            bad.append(f"{s.member} (not an approver of revision {previous.revision})")
            continue
        try:
            verify(m.public_key, s.signature, d, who=s.member)
        except AuthenticationError as e:
            bad.append(f"{s.member} ({e})")
            continue
        good.add(s.member)
    missing = [n for n in needed if n not in good]
    if missing or bad:
        parts = []
        if missing:
            parts.append(f"not signed by {', '.join(missing)}")
        if bad:
            parts.append(f"invalid signatures: {'; '.join(bad)}")
        raise MembershipChangeError(
            f"{describe_change(previous, proposal)} is {' and '.join(parts)} (every approver of "
            f"revision {previous.revision} must sign: {', '.join(needed)})"
        )


def history_path(data_dir: Path, revision: int) -> Path:
    """Where a node keeps revision ``revision`` once a later one is in force."""
    return data_dir / HISTORY_DIR / f"consortium-{revision}.toml"


def check_authorised(cons: Consortium, data_dir: Path) -> None:
    """Raise unless the node may run on ``cons``: founders' signatures, or its history.

    Revision 0 needs every founder's signature; a later revision needs the previous
    one in the node's history (``DATA/consortium-history``) and every approver of it.

    Raises
    ------
    sharelake.errors.AuthenticationError
        :class:`~sharelake.consortium.founding.UnsignedConsortiumError` or
        :class:`MembershipChangeError`, naming what is missing.
    """
    if cons.revision == 0:
        check_founders_signed(cons)
        return
    prev_path = history_path(data_dir, cons.revision - 1)
    if not prev_path.is_file():
        raise MembershipChangeError(
            f"consortium revision {cons.revision} cannot be checked: this node has no revision "
            f"{cons.revision - 1} in {prev_path.parent} (apply changes with "
            "`sharelake node apply-change`, one revision at a time)"
        )
    check_change(Consortium.load(prev_path), cons)


def apply_change(
    consortium_path: Path, data_dir: Path, proposal_path: Path
) -> tuple[Consortium, str]:
    """Check ``proposal`` against the node's consortium file and put it in force.

    The current file goes to the node's history; the proposal replaces it (its CA path,
    if any, pointing at the node's own CA copy). Returns the new consortium and a line
    describing the change (the caller audits it).

    Raises
    ------
    MembershipChangeError
        If the proposal is not authorised (see :func:`check_change`).
    """
    current = Consortium.load(consortium_path)
    proposal = Consortium.load(proposal_path)
    if current.ca_cert_path is not None and proposal.ca_cert_path is not None:
        proposal = dataclasses.replace(proposal, ca_cert_path=current.ca_cert_path)
    check_change(current, proposal)
    what = describe_change(current, proposal)
    hist = history_path(data_dir, current.revision)
    hist.parent.mkdir(parents=True, exist_ok=True)
    current.save(hist)
    proposal.save(consortium_path)
    return Consortium.load(consortium_path), what

"""The node side of an upload: stage, check against the neighbours, commit; or abort.

An upload is two-phase and all-or-nothing across the three nodes (DESIGN.md section 8):

1. ``prepare`` (each node on its own): decode the bundle, check every array against
   the schema, stage it on disk (:meth:`~sharelake.storage.store.Store.prepare_upload`).
   Nothing is visible.
2. ``commit`` (the three nodes together): join the peer session whose id is derived
   from the upload id; compare a digest of the public description (table, owner, rows,
   schema, policy) with both peers; run :func:`~sharelake.mpc.arith.check_input` on
   every staged component (each component is held by two nodes, which compare digests
   of it, so a client cannot plant inconsistent shares; the digests were computed once
   at prepare and all go in one round); then one "all passed" round;
   only then commit locally.

A node that fails or dies before the "all passed" round makes the other two abort the
commit without committing (their staged data stays, so a retry with the same upload id
after a restart succeeds). A node that dies after it commits locally nothing for the
others; one that dies between that round and its own commit completes it on the retry,
because committed nodes rejoin the check with their committed components. A digest
mismatch aborts the upload on the node that saw it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from ..consortium.members import Consortium, Member
from ..engine.tables import upload_parts
from ..errors import InputValidationError, IntegrityError
from ..mpc.party import Party
from ..storage.bundle import BundleError, decode_bundle
from ..storage.catalog import TableNotFoundError
from ..storage.store import Store
from .authz import AuthorizationError, require_role
from .consistency import check_components
from .governance import check_upload_policy
from .peers import PeerRouter

__all__ = ["abort", "commit", "prepare", "upload_session"]

log = logging.getLogger(__name__)


def upload_session(upload_id: str) -> str:
    """The peer session id of an upload's commit (the same at every node)."""
    return hashlib.sha256(f"sharelake-upload-v1\x00{upload_id}".encode()).hexdigest()[:32]


def prepare(
    store: Store,
    party: int,
    upload_id: str,
    body: bytes | bytearray,
    member: Member,
    *,
    checksum: bytes | None = None,
    consortium: Consortium | None = None,
) -> dict[str, Any]:
    """Stage this node's pair of an upload; returns ``{"upload_id", "digest"}``.

    ``checksum`` is the SHA-256 of the body without its trailer when the caller hashed
    it on receipt (``node/bodies.py``); the bundle is then not hashed again.

    Raises
    ------
    AuthorizationError
        The caller is not a provider, or the bundle names another owner.
    TableExistsError
        The table exists and the bundle's meta says ``"replace": false`` (409).
    InputValidationError
        The bundle is malformed or does not match its schema.
    """
    require_role(member, "provider")
    try:
        meta, arrays = decode_bundle(body, what=f"upload {upload_id}", checksum=checksum)
    except BundleError as exc:
        raise InputValidationError(str(exc)) from None
    owner = meta.get("owner", member.name)
    if owner != member.name:
        raise AuthorizationError(f"member {member.name!r} cannot upload on behalf of another owner")
    # governance: a policy naming an unknown column, class or purpose is refused
    check_upload_policy(meta, consortium)
    columns, valid = upload_parts(party, meta, arrays)
    digest = store.prepare_upload(
        upload_id,
        str(meta.get("table")),
        member.name,
        meta["schema"],
        meta.get("policy", {}),
        int(meta["rows"]),
        columns,
        valid=valid,
        # a bundle without "replace" (from a client before it was sent) may replace, as before
        replace=bool(meta.get("replace", True)),
    )
    return {"upload_id": upload_id, "digest": digest}


def _owned(store: Store, upload_id: str, member: Member) -> Any:
    up = store.upload(upload_id)
    if up is None:
        raise TableNotFoundError(f"upload {upload_id!r} is unknown at this node")
    if up.owner != member.name:
        raise AuthorizationError(f"upload {upload_id!r} belongs to another member")
    return up


def _public_digest(up: Any) -> bytes:
    text = json.dumps(
        [up.upload_id, up.table, up.owner, up.rows, up.schema, up.policy],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode("utf-8")).digest()


def commit(
    store: Store,
    router: PeerRouter,
    upload_id: str,
    member: Member,
    *,
    receive_deadline: float,
    setup_deadline: float,
) -> dict[str, Any]:
    """Check the upload with both peers, then make it visible; ``{"table", "version"}``.

    Raises
    ------
    PeerError
        A peer did not join or failed during the check (nothing is committed here).
    IntegrityError
        The nodes' shares or public descriptions disagree; the upload is aborted here.
    """
    up = _owned(store, upload_id, member)
    digests = store.staged_digests(upload_id)  # from prepare: no share file is read
    chan = router.open_session(
        upload_session(upload_id), deadline=receive_deadline, setup_deadline=setup_deadline
    )
    try:
        p = Party.setup(chan)
        mine = _public_digest(up)
        got = p.exchange({p.next: mine, p.prev: mine}, {p.next: 32, p.prev: 32})
        try:
            if any(bytes(v) != mine for v in got.values()):
                raise IntegrityError(
                    f"P{p.id}: upload {upload_id}: the nodes received different descriptions"
                )
            check_components(p, digests, what=f"upload {upload_id}")
        except IntegrityError:
            store.abort_upload(upload_id)
            raise
        p.exchange({p.next: b"\x01", p.prev: b"\x01"}, {p.next: 1, p.prev: 1})
        chan.flush()
    finally:
        chan.close()
    version = store.commit_upload(upload_id)
    log.info("P%d: upload %s committed as version %d", router.party, upload_id, version)
    return {"table": up.table, "version": version}


def abort(store: Store, upload_id: str, member: Member) -> dict[str, Any]:
    """Remove the staged data of an upload (owner only); ``{"upload_id", "aborted"}``."""
    _owned(store, upload_id, member)
    store.abort_upload(upload_id)
    return {"upload_id": upload_id, "aborted": True}

"""The per-session queue of unchecked multiplications and AND gates, and its errors.

In the malicious setting (``security="malicious"``, the default) every product
(:func:`sharelake.mpc.arith.mul`) and every AND word (:func:`sharelake.mpc.boolean.and_many`)
is recorded here as a triple (x, y, z) of this party's shares. Nothing that depends on a
recorded triple may be opened before :func:`sharelake.mpc.verify.verify` has checked the
queue: the checked openings run it themselves, and a hand-rolled opening calls
:func:`require_checked`, which raises :class:`InsufficientCheckingError` (a programming
error, like MP-SPDZ's "insufficient checking") when something is still queued.

A protocol step that sends a message no check covers yet names itself with
:meth:`Checks.unverified`; the names are kept in :attr:`Checks.semi_honest_steps`, so a node
can audit which steps of a query ran only with semi-honest guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..errors import IntegrityError, ProtocolError
from .ring import Arr
from .shares import AShare, BShare

if TYPE_CHECKING:
    from .party import Party

Security = Literal["malicious", "semi-honest"]
SECURITY_LEVELS: tuple[Security, ...] = ("malicious", "semi-honest")


class InsufficientCheckingError(ProtocolError):
    """A value computed from unchecked products or AND gates reached an opening."""


class VerificationError(IntegrityError):
    """A batch check of products or AND gates failed: a node deviated; the query aborts.

    ``check`` names the check (never a value); ``suspects`` is the pair of node ids one of
    which must be corrupt, when the failed step allows naming it, else ``()``.
    """

    def __init__(self, message: str, *, check: str, suspects: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.check = check
        self.suspects = suspects


@dataclass
class Batch:
    """Recorded triples of one domain: this party's two components of x, y and z."""

    xa: list[Arr] = field(default_factory=list)
    xb: list[Arr] = field(default_factory=list)
    ya: list[Arr] = field(default_factory=list)
    yb: list[Arr] = field(default_factory=list)
    za: list[Arr] = field(default_factory=list)
    zb: list[Arr] = field(default_factory=list)
    size: int = 0

    def add(self, x: tuple[Arr, Arr], y: tuple[Arr, Arr], z: tuple[Arr, Arr]) -> None:
        # copies: protocols reuse and overwrite their work arrays after the AND round
        for dst, src in (
            (self.xa, x[0]),
            (self.xb, x[1]),
            (self.ya, y[0]),
            (self.yb, y[1]),
            (self.za, z[0]),
            (self.zb, z[1]),
        ):
            dst.append(np.array(src, dtype=np.uint64, copy=True).reshape(-1))
        self.size += int(np.asarray(z[0]).size)

    def clear(self) -> None:
        """Drop the recorded arrays (after :meth:`arrays` copied them out)."""
        for parts in (self.xa, self.xb, self.ya, self.yb, self.za, self.zb):
            parts.clear()

    def arrays(self) -> tuple[Arr, Arr, Arr, Arr, Arr, Arr]:
        """The six concatenated component arrays (each of length :attr:`size`)."""

        def cat(parts: list[Arr]) -> Arr:
            if len(parts) == 1:  # already a private copy (see add): no second one
                return parts[0]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)

        return (
            cat(self.xa),
            cat(self.xb),
            cat(self.ya),
            cat(self.yb),
            cat(self.za),
            cat(self.zb),
        )


@dataclass
class Checks:
    """What this party has computed and not yet checked, and what it checked so far."""

    security: Security = "malicious"
    arith: Batch = field(default_factory=Batch)
    boolean: Batch = field(default_factory=Batch)
    semi_honest_steps: dict[str, int] = field(default_factory=dict)
    verified_products: int = 0
    verified_and_words: int = 0
    batches: int = 0

    @property
    def enabled(self) -> bool:
        return self.security == "malicious"

    @property
    def pending(self) -> int:
        """Products and AND words recorded and not yet checked."""
        return self.arith.size + self.boolean.size

    def record_mul(self, x: AShare, y: AShare, z: AShare) -> None:
        """Queue the elementwise products z = x * y (Z_2^64) for the next check."""
        if self.enabled:
            self.arith.add((x.a, x.b), (y.a, y.b), (z.a, z.b))

    def record_and(self, x: BShare, y: BShare, z: BShare) -> None:
        """Queue the AND words z = x & y for the next check."""
        if self.enabled:
            self.boolean.add((x.a, x.b), (y.a, y.b), (z.a, z.b))

    def unverified(self, step: str) -> None:
        """Note that ``step`` sent a message no check covers (kept for the audit)."""
        if self.enabled:
            self.semi_honest_steps[step] = self.semi_honest_steps.get(step, 0) + 1

    def take(self) -> tuple[Batch, Batch]:
        """Hand the queued triples to the verifier and start empty queues."""
        a, b = self.arith, self.boolean
        self.arith, self.boolean = Batch(), Batch()
        return a, b


def require_checked(p: Party, what: str) -> None:
    """Raise :class:`InsufficientCheckingError` if unchecked gates are queued.

    Call it before any opening that does not go through the checked openings of
    :mod:`sharelake.mpc.arith` (which verify the queue themselves).
    """
    checks = p.checks
    if checks.enabled and checks.pending:
        raise InsufficientCheckingError(
            f"P{p.id}: {what} would open a value computed from {checks.pending} unchecked "
            f"products/AND words; call mpc.verify.verify first (session {p.chan.session})"
        )

"""One party's protocol context: its id, its channel, its PRGs and its counters.

At session start every party draws a key for each neighbour (Araki et al., CCS 2016,
section 2.2): key k_j is known to parties j and j-1, so party i knows (k_i, k_{i+1}),
mirroring the share layout. Replicated random values and zero-sharings then cost no
communication. A third key known to all three parties gives public common randomness.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..errors import ProtocolError
from .channel import Channel
from .checks import SECURITY_LEVELS, Checks, Security
from .prg import KEY_BYTES, Prg, fresh_key
from .ring import Arr
from .shares import AShare, BShare


@dataclass
class OpCost:
    """Rounds and bytes this party spent in one named operation."""

    rounds: int = 0
    bytes_sent: int = 0


@dataclass
class Party:
    """Party ``id`` of three, talking through ``chan``.

    Construct it with :meth:`setup`, which agrees on the PRG keys (one round).
    """

    id: int
    chan: Channel
    prg_own: Prg  # key k_i, shared with the previous party
    prg_next: Prg  # key k_{i+1}, shared with the next party
    prg_all: Prg  # key known to all three parties
    costs: dict[str, OpCost] = field(default_factory=dict)
    shuffle_plans: int = 0  # plans drawn so far (same at every party: they draw together)
    checks: Checks = field(default_factory=Checks)  # unchecked products / AND gates

    @property
    def security(self) -> Security:
        """``"malicious"`` (products and AND gates are checked before openings) or not."""
        return self.checks.security

    @property
    def next(self) -> int:
        return (self.id + 1) % 3

    @property
    def prev(self) -> int:
        return (self.id + 2) % 3

    @classmethod
    def setup(cls, chan: Channel, *, security: Security | None = None) -> Party:
        """Agree pairwise and common PRG keys with the two peers over ``chan``.

        ``security`` defaults to :func:`default_security` (``"malicious"``, overridable by
        the ``SHARELAKE_SECURITY`` environment variable for test runs). The three parties
        compare their levels in the same round and refuse to run with different ones.
        """
        me = chan.party
        nxt, prv = (me + 1) % 3, (me + 2) % 3
        level = security or default_security()
        tag = bytes([SECURITY_LEVELS.index(level)])
        k_own = fresh_key()
        g_mine = fresh_key()
        chan.send(prv, k_own + g_mine + tag)
        chan.send(nxt, g_mine + tag)
        chan.stats.rounds += 1
        from_next = bytes(chan.recv(nxt, 2 * KEY_BYTES + 1))
        from_prev = bytes(chan.recv(prv, KEY_BYTES + 1))
        for peer, got in ((nxt, from_next[-1:]), (prv, from_prev[-1:])):
            if got != tag:
                raise ProtocolError(
                    f"P{me}: P{peer} runs at another security level than {level!r} "
                    f"(session {chan.session}); the consortium file decides it for all nodes"
                )
        g_prev = from_prev[:KEY_BYTES]
        k_next, g_next = from_next[:KEY_BYTES], from_next[KEY_BYTES : 2 * KEY_BYTES]
        gs = {me: g_mine, nxt: g_next, prv: g_prev}
        k_all = hashlib.sha256(b"".join(gs[j] for j in range(3))).digest()[:KEY_BYTES]
        return cls(me, chan, Prg(k_own), Prg(k_next), Prg(k_all), checks=Checks(security=level))

    # ---- communication ---------------------------------------------------------------

    def exchange(
        self,
        sends: Mapping[int, Arr | bytes],
        recvs: Mapping[int, int],
    ) -> dict[int, memoryview]:
        """One round: send each payload, then receive ``recvs[peer]`` bytes from each peer."""
        for to, payload in sends.items():
            self.chan.send(to, _as_buffer(payload))
        self.chan.stats.rounds += 1
        return {frm: self.chan.recv(frm, n) for frm, n in recvs.items()}

    def pass_prev(self, payload: Arr) -> Arr:
        """One round: send ``payload`` to the previous party; receive as much from the next."""
        got = self.exchange({self.prev: payload}, {self.next: payload.nbytes})
        return np.frombuffer(got[self.next], dtype=np.uint64).reshape(payload.shape)

    @contextmanager
    def measure(self, op: str) -> Iterator[OpCost]:
        """Accumulate the rounds and bytes spent inside the block under ``op``."""
        r0, b0 = self.chan.stats.snapshot()
        cost = self.costs.setdefault(op, OpCost())
        try:
            yield cost
        finally:
            r1, b1 = self.chan.stats.snapshot()
            cost.rounds += r1 - r0
            cost.bytes_sent += b1 - b0

    # ---- correlated randomness (no communication) ------------------------------------

    def zero_share(self, shape: int | tuple[int, ...]) -> Arr:
        """This party's term of a 3-out-of-3 arithmetic sharing of zero."""
        return self.prg_own.words(shape) - self.prg_next.words(shape)

    def zero_share_xor(self, shape: int | tuple[int, ...]) -> Arr:
        """This party's term of a 3-out-of-3 XOR sharing of zero."""
        return self.prg_own.words(shape) ^ self.prg_next.words(shape)

    def rand_a(self, shape: int | tuple[int, ...]) -> AShare:
        """A replicated sharing of a uniformly random ring element nobody knows."""
        return AShare(self.prg_own.words(shape), self.prg_next.words(shape))

    def rand_b(self, shape: int | tuple[int, ...]) -> BShare:
        """A replicated XOR sharing of a uniformly random word nobody knows."""
        return BShare(self.prg_own.words(shape), self.prg_next.words(shape))

    def public_a(self, values: Arr) -> AShare:
        """A trivial sharing of a public array (component 0 = value)."""
        v = np.ascontiguousarray(values, dtype=np.uint64)
        z = np.zeros_like(v)
        if self.id == 0:
            return AShare(v.copy(), z)
        if self.id == 2:
            return AShare(z, v.copy())
        return AShare(z, z.copy())

    def public_b(self, values: Arr) -> BShare:
        """A trivial XOR sharing of public words (component 0 = value)."""
        s = self.public_a(values)
        return BShare(s.a, s.b)


def default_security() -> Security:
    """The security level of a party set up without one: ``SHARELAKE_SECURITY`` or malicious."""
    env = os.environ.get("SHARELAKE_SECURITY", "malicious")
    if env not in SECURITY_LEVELS:
        raise ValueError(f"SHARELAKE_SECURITY must be one of {SECURITY_LEVELS}, not {env!r}")
    return env


def _as_buffer(payload: Arr | bytes) -> bytes | memoryview:
    if isinstance(payload, bytes):
        return payload
    return np.ascontiguousarray(payload).reshape(-1).view(np.uint8).data

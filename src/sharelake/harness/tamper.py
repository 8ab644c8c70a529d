"""Fault injection for tests: a party that alters what it sends.

A tamper function ``f(src, dst, data) -> data`` is what
:func:`~sharelake.net.memory.run_in_memory` accepts. Across processes a function cannot
travel, so a spec string names one: ``"flip:1->0"`` makes party 1 flip the lowest bit
of every payload it sends to party 0 (several specs may be joined with ``,``);
``"inject:P:M:W:E"`` makes party P add E to word W of its message M
(:mod:`.cheat`, the malicious-security harness).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..mpc.channel import Buffer, Channel

TamperFn = Callable[[int, int, bytes], bytes]

_SPEC = re.compile(r"^\s*flip\s*:\s*([012])\s*->\s*([012])\s*$")


def parse_spec(spec: str) -> list[tuple[int, int]]:
    """The (src, dst) pairs of a spec like ``"flip:1->0,flip:2->1"``."""
    pairs = []
    for part in spec.split(","):
        m = _SPEC.match(part)
        if m is None or m.group(1) == m.group(2):
            raise ValueError(f"bad tamper spec {part!r}; expected e.g. 'flip:1->0'")
        pairs.append((int(m.group(1)), int(m.group(2))))
    return pairs


def validate_spec(spec: str) -> None:
    """Raise ValueError unless ``spec`` is a flip or an inject spec."""
    from .cheat import parse_inject

    if parse_inject(spec) is None:
        parse_spec(spec)


def tamper_from_spec(spec: str) -> TamperFn:
    """A tamper function for ``spec`` (see the module docstring)."""
    from .cheat import Cheater, parse_inject

    inj = parse_inject(spec)
    if inj is not None:
        return Cheater(inj)
    pairs = set(parse_spec(spec))

    def flip(src: int, dst: int, data: bytes) -> bytes:
        if (src, dst) not in pairs or not data:
            return data
        out = bytearray(data)
        out[0] ^= 1
        return bytes(out)

    return flip


class TamperingChannel(Channel):
    """Wraps a channel so that its party alters outgoing payloads with ``fn``."""

    def __init__(self, inner: Channel, fn: TamperFn) -> None:
        self.inner, self.fn = inner, fn
        self.party, self.session, self.stats = inner.party, inner.session, inner.stats

    def send(self, to: int, payload: Buffer) -> None:
        in_place = getattr(self.fn, "in_place", None)
        if in_place is not None:
            in_place(self.party, to, payload)
        self.inner.send(to, self.fn(self.party, to, bytes(payload)))

    def recv(self, frm: int, nbytes: int) -> memoryview:
        return self.inner.recv(frm, nbytes)

    def abort(self, check: str) -> None:
        self.inner.abort(check)

    def flush(self) -> None:
        self.inner.flush()

    def close(self) -> None:
        self.inner.close()

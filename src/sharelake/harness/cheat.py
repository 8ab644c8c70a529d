"""A cheating party for the malicious-security tests: one seeded error in one message.

Security with abort (issue 17) means: whatever a single corrupt node sends, the honest
nodes either compute the right result or abort with
:class:`~sharelake.errors.IntegrityError` before anything is released. This module
plays the corrupt node at the channel layer, below every protocol: it counts the
messages one party sends during a run and, in exactly one of them, adds an error to one
64-bit word. Products, AND gates, reshares, shuffle hand-overs and opened shares are
all messages, so one schedule reaches every protocol step.

An :class:`Injection` is drawn from a seed by :func:`draw` over the messages of an
honest run of the same body (:func:`count_messages`): which party cheats, which of its
messages (uniform over every message after the key agreement of
:meth:`~sharelake.mpc.party.Party.setup`), which word of it, and the error -- uniform,
a power of two (the zero divisors of Z_2^64 that defeat a MAC over the ring itself) or
+-1, a third each; and whether the cheater keeps the altered value itself (three in
four) or alters only the wire. :func:`run_injected` runs the body with the injection in memory or
over real TLS processes (the spec string ``"inject:P:M:W:E"`` travels to the cheating
process) and classifies what happened (:class:`Trial`).

The message count of a run can vary (the quicksort's number of levels is random): a
drawn message index the run does not reach is redrawn over the messages that run did
send, so every trial really injects an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import IntegrityError, PeerDisconnectedError, PeerTimeoutError
from ..mpc.channel import notify_abort
from ..mpc.checks import Security
from ..net.memory import run_in_memory

#: Messages each party sends in :meth:`Party.setup` (its PRG keys); never corrupted.
SETUP_MESSAGES = 2

_MASK = (1 << 64) - 1
_SPEC = re.compile(
    r"^\s*inject\s*:\s*([012])\s*:\s*(\d+)\s*:\s*(\d+)\s*:\s*(\d+)\s*(:\s*wire\s*)?$"
)

Outcome = Literal["detected", "harmless", "stopped", "aborted", "undetected", "missed"]


@dataclass(frozen=True)
class Injection:
    """Party ``party`` adds ``error`` (mod 2^64) to word ``word`` of its message ``message``.

    ``message`` counts the party's messages after setup from 0; ``word`` is reduced
    modulo the message's number of 8-byte words when the message is shorter than the
    one the schedule was drawn from. Messages under 8 bytes get the low byte of the
    error XORed into byte ``word`` (made non-zero). ``consistent``: the cheater also
    keeps the altered value (see :class:`Cheater`); otherwise only the wire is altered.
    """

    party: int
    message: int
    word: int
    error: int
    consistent: bool = True

    def __post_init__(self) -> None:
        if self.party not in (0, 1, 2) or self.message < 0 or self.word < 0:
            raise ValueError(f"bad injection {self}")
        if not 0 < self.error <= _MASK:
            raise ValueError("the injected error must be a non-zero 64-bit word")

    @property
    def spec(self) -> str:
        """The spec string a TLS party process parses (:func:`parse_inject`)."""
        mode = "" if self.consistent else ":wire"
        return f"inject:{self.party}:{self.message}:{self.word}:{self.error}{mode}"


def parse_inject(spec: str) -> Injection | None:
    """The injection a spec like ``"inject:1:40:3:9223372036854775808"`` names, else None."""
    m = _SPEC.match(spec)
    if m is None:
        return None
    return Injection(
        int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)), m.group(5) is None
    )


def corrupt(data: bytes, word: int, error: int) -> bytes:
    """``data`` with ``error`` added to its 64-bit little-endian word ``word`` (see Injection)."""
    out = bytearray(data)
    nwords = len(out) // 8
    if nwords == 0:
        if not out:
            return data
        i = word % len(out)
        out[i] ^= (error & 0xFF) or 1
        return bytes(out)
    off = 8 * (word % nwords)
    w = int.from_bytes(out[off : off + 8], "little")
    out[off : off + 8] = ((w + error) & _MASK).to_bytes(8, "little")
    return bytes(out)


@dataclass
class Cheater:
    """A tamper function ``(src, dst, data) -> data`` that applies one :class:`Injection`.

    With ``injection.consistent`` the error is written into the sender's own array
    before it is sent (the channels call :meth:`in_place` first), so the cheater keeps
    what it claims to have sent: a product share, a reshared component or a shuffle half
    is then wrong at both holders, not merely inconsistent. A payload that is not a
    writable array (a digest) is corrupted on the wire only.

    It also records the sizes of every message its party sent after setup (``sizes``)
    and whether the injection fired (``fired``). Only the cheating party's own thread or
    process calls it, so the count is that party's message order.
    """

    injection: Injection
    sizes: list[int] = field(default_factory=list)
    fired: bool = False
    _seen: int = 0
    _counted: bool = False
    _pending: bool = False

    def _next(self, nbytes: int) -> bool:
        """Count one message of the cheater; whether it is the chosen one."""
        k = self._seen - SETUP_MESSAGES
        self._seen += 1
        if k < 0:
            return False
        self.sizes.append(nbytes)
        return k == self.injection.message

    def in_place(self, src: int, dst: int, payload: Any) -> None:
        """Called by the channel with the sender's own buffer, before it is copied."""
        if src != self.injection.party:
            return
        self._counted = True
        view = memoryview(payload)
        self._pending = self._next(view.nbytes)
        if not self._pending or not self.injection.consistent or view.readonly:
            return
        flat = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        flat[:] = corrupt(bytes(flat), self.injection.word, self.injection.error)
        self._pending = False
        self.fired = True

    def __call__(self, src: int, dst: int, data: bytes) -> bytes:
        if src != self.injection.party:
            return data
        if self._counted:
            self._counted, hit = False, self._pending
        else:
            hit = self._next(len(data))
        self._pending = False
        if not hit:
            return data
        self.fired = True
        return corrupt(data, self.injection.word, self.injection.error)


class _Counter:
    """Records the size of every message each party sends after setup."""

    def __init__(self) -> None:
        self.sizes: list[list[int]] = [[], [], []]
        self._seen = [0, 0, 0]

    def __call__(self, src: int, dst: int, data: bytes) -> bytes:
        if self._seen[src] >= SETUP_MESSAGES:
            self.sizes[src].append(len(data))
        self._seen[src] += 1
        return data


def count_messages(
    fn: Callable[..., Any],
    inputs: list[Mapping[str, Any]] | None = None,
    *,
    security: Security | None = None,
) -> tuple[list[list[int]], list[Any]]:
    """Run ``fn`` honestly in memory: (message sizes per party after setup, the results)."""
    counter = _Counter()
    results = run_in_memory(fn, inputs, tamper=counter, security=security)
    return counter.sizes, results


def draw(seed: int, sizes: list[list[int]], *, party: int | None = None) -> Injection:
    """The injection of ``seed`` over a run whose parties sent messages of ``sizes``."""
    rng = np.random.default_rng(seed)
    who = int(rng.integers(3)) if party is None else party
    if not sizes[who]:
        raise ValueError(f"P{who} sends no message in this run: nothing to corrupt")
    msg = int(rng.integers(len(sizes[who])))
    word = int(rng.integers(max(1, sizes[who][msg] // 8)))
    kind = int(rng.integers(3))
    if kind == 0:
        error = int(rng.integers(1, 1 << 63)) * 2 + int(rng.integers(2))
        error = error & _MASK or 1
    elif kind == 1:
        error = 1 << int(rng.integers(64))
    else:
        error = 1 if rng.integers(2) else _MASK
    return Injection(who, msg, word, error, consistent=bool(rng.random() < 0.75))


@dataclass(frozen=True)
class Trial:
    """What one injected run did.

    ``outcome``: ``"detected"`` (some honest party raised IntegrityError, so no result
    reached the client), ``"aborted"`` (another exception ended the run: no result
    either, but not the specified abort; ``error`` names it), ``"undetected"`` (the run
    returned results) or ``"missed"`` (the run never sent the chosen message).

    In memory the outcome is that of the two HONEST parties (the cheater's own end does
    not count: a real corrupt node runs whatever code it likes): ``"detected"`` when one
    of them raised IntegrityError and neither returned a wrong result or raised anything
    but IntegrityError or a peer loss; ``"stopped"`` when they saw only the cheater
    disappear (peer loss) or returned the right result beside such a loss -- an abort
    by the corrupt node itself, not a detection; ``both`` says whether both honest
    parties raised IntegrityError (no verdict round makes them agree).
    """

    injection: Injection
    outcome: Outcome
    error: str = ""
    both: bool = False


def same_results(a: Any, b: Any) -> bool:
    """Whether two run results (nested lists/dicts of arrays and scalars) are equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_results(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_results(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    return bool(a == b)


def _classify(
    injection: Injection,
    fired: bool,
    exc: BaseException | None,
    got: Any = None,
    expected: Any = None,
) -> Trial:
    if not fired:
        return Trial(injection, "missed")
    if exc is None:
        if expected is not None and same_results(got, expected):
            return Trial(injection, "harmless")
        return Trial(injection, "undetected")
    if isinstance(exc, IntegrityError):
        return Trial(injection, "detected", str(exc))
    return Trial(injection, "aborted", f"{type(exc).__name__}: {exc}")


def run_injected(
    fn: Callable[..., Any],
    inputs: list[Mapping[str, Any]] | None,
    injection: Injection,
    *,
    transport: Literal["memory", "tls"] = "memory",
    deadline: float = 30.0,
    expected: Any = None,
    canonical: Callable[[Any], Any] | None = None,
    security: Security | None = None,
) -> Trial:
    """Run ``fn`` with ``injection`` and classify the result (see :class:`Trial`).

    ``expected``: the results of an honest run (``canonical`` maps a run's results to a
    comparable form, e.g. sorts a shuffled column); without it a returned result counts
    as undetected. ``security``: the parties' level in memory (over TLS the nodes' default,
    ``SHARELAKE_SECURITY``).
    """
    canon = canonical or (lambda r: r)
    if transport == "tls":
        from .procs import run_in_processes

        try:
            got = run_in_processes(fn, inputs, deadline=deadline, tamper=injection.spec)
        except Exception as exc:
            return _classify(injection, True, exc)
        # A process cannot report whether its tamper fired; the schedule was drawn
        # from a run of the same body.
        return _classify(injection, True, None, canon(got), expected)
    cheater = Cheater(injection)

    def body(p: Any, **kw: Any) -> Any:
        try:
            return _Returned(fn(p, **kw))
        except Exception as exc:  # each party's own end, classified below
            notify_abort(p.chan, exc)  # as a node does (node.service): the peers abort too
            return exc

    ends = run_in_memory(body, inputs, deadline=deadline, tamper=cheater, security=security)
    return _classify_honest(injection, cheater.fired, ends, expected, canon)


@dataclass(frozen=True)
class _Returned:
    value: Any


def _classify_honest(
    injection: Injection,
    fired: bool,
    ends: list[Any],
    expected: Any,
    canon: Callable[[Any], Any],
) -> Trial:
    """Classify a memory run by the ends of the two honest parties (see :class:`Trial`)."""
    if not fired:
        return Trial(injection, "missed")
    honest = [i for i in range(3) if i != injection.party]
    integrity = [ends[i] for i in honest if isinstance(ends[i], IntegrityError)]
    allowed = (IntegrityError, PeerDisconnectedError, PeerTimeoutError)
    others = [
        ends[i]
        for i in honest
        if isinstance(ends[i], BaseException) and not isinstance(ends[i], allowed)
    ]
    if others:
        return Trial(injection, "aborted", f"{type(others[0]).__name__}: {others[0]}")
    for i in honest:
        if isinstance(ends[i], _Returned):
            # without the honest results, a result beside an honest IntegrityError is
            # taken as the abort it will become; alone it is undetected
            if expected is None:
                if not integrity:
                    return Trial(injection, "undetected")
            elif not same_results(canon([ends[i].value])[0], expected[i]):
                return Trial(injection, "undetected")
    if integrity:
        return Trial(injection, "detected", str(integrity[0]), both=len(integrity) == 2)
    if all(isinstance(ends[i], _Returned) for i in honest):
        return Trial(injection, "harmless")
    return Trial(injection, "stopped", "the honest parties saw only the cheater stop")


def trial(
    fn: Callable[..., Any],
    inputs: list[Mapping[str, Any]] | None,
    seed: int,
    *,
    sizes: list[list[int]] | None = None,
    expected: Any = None,
    canonical: Callable[[Any], Any] | None = None,
    attempts: int = 4,
) -> Trial:
    """One seeded injection into a run of ``fn`` in memory (redrawn if the run is shorter).

    ``expected`` / ``canonical``: as for :func:`run_injected`.
    """
    if sizes is None:
        sizes, _ = count_messages(fn, inputs)
    inj = draw(seed, sizes)
    opts: dict[str, Any] = {"expected": expected, "canonical": canonical}
    result = run_injected(fn, inputs, inj, **opts)
    for k in range(1, attempts):
        if result.outcome != "missed":
            return result
        # This run sent fewer messages than the one the schedule came from: redraw the
        # message over what the cheater sent this time (same party, same error).
        cheater_sizes = _sizes_of(fn, inputs, inj.party)
        rng = np.random.default_rng([seed, k])
        msg = int(rng.integers(len(cheater_sizes)))
        word = int(rng.integers(max(1, cheater_sizes[msg] // 8)))
        inj = Injection(inj.party, msg, word, inj.error, inj.consistent)
        result = run_injected(fn, inputs, inj, **opts)
    return result


def _sizes_of(
    fn: Callable[..., Any], inputs: list[Mapping[str, Any]] | None, party: int
) -> list[int]:
    sizes, _ = count_messages(fn, inputs)
    return sizes[party]

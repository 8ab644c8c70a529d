"""The benchmark body that each of the three parties runs, and the registry of operations.

The parent (:mod:`sharelake.bench.run`) starts three node processes once and every
party runs :func:`suite_body` over the same plan, in lockstep. For each operation and
size a party

1. makes its inputs locally: shares of random values from the correlated randomness
   (``p.rand_a(n)``), so no client and no communication is involved;
2. synchronises with the two others (a one-byte exchange as a barrier);
3. times the operation only, and takes its rounds and bytes from the differences of
   ``p.chan.stats``;
4. exchanges its figures with the others (one small round), so that every party,
   and party 0's progress events, carry the maximum over the three parties.

Adding an operation is one decorated function::

    @bench_op("join", requires="sharelake.relational.join", plain=_plain_join)
    def _join(p: Party, n: int) -> Thunk:
        left, right = ...                    # inputs, made locally
        return lambda: join(p, left, right)

The function prepares inputs and returns a thunk that runs the operation once. An
operation whose ``requires`` module cannot be imported (an extension module of
:data:`EXTENSIONS` that failed to load) is skipped with a note.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import numpy as np

from ..harness.procs import emit as proc_emit
from ..mpc.arith import mul
from ..mpc.compare import eq, lt
from ..mpc.party import Party
from ..mpc.shuffle import shuffle
from ..mpc.sort import sort
from ..mpc.verify import verify

Thunk = Callable[[], object]
SecureSetup = Callable[[Party, int], Thunk]
PlainSetup = Callable[[np.random.Generator, int], Thunk]
EventSink = Callable[[dict[str, Any]], None]

#: Size of the untimed warm-up run of each operation.
WARMUP_N = 256
#: Timed repetitions by size (best of); a fixed rule, so the parties stay in lockstep.
SMALL_N = 10_000
#: Operations that take well under a few seconds at 1e6: always timed three times, since
#: one run on a shared two-core machine can be off by 2-3x.
FAST_OPS = frozenset({"mul", "lt", "eq", "shuffle"})


def repetitions(n: int, op: str = "") -> int:
    """How many times ``op`` on ``n`` elements is timed (the best one counts).

    Three times up to 1e4 elements and for the fast primitives at any size; once for the
    larger runs of the heavy operations (sorts, joins), which last seconds to minutes.
    """
    return 3 if n <= SMALL_N or op in FAST_OPS else 1


class Record(TypedDict):
    """One row of ``sharelake bench --json``.

    ``seconds`` is the slowest party's time of the best repetition; ``rounds`` and
    ``bytes`` are the maximum over the three parties of what one party sent; ``rtt``
    (seconds, only with ``--rtt``) is the round-trip time of the simulated link;
    ``security`` (secure rows) is the level the nodes ran at: ``"malicious"`` (the op and
    the check of its products and AND gates) or ``"semi-honest"``.
    """

    system: str
    op: str
    n: int
    seconds: float | None
    rounds: int | None
    bytes: int | None
    ops_per_s: float | None
    note: str | None
    rtt: NotRequired[float]
    security: NotRequired[str]


def make_record(
    system: str,
    op: str,
    n: int,
    seconds: float | None,
    *,
    rounds: int | None = None,
    nbytes: int | None = None,
    note: str | None = None,
) -> Record:
    """A :class:`Record`, with ``ops_per_s = n / seconds`` when it ran."""
    ops = n / seconds if seconds else None
    return Record(
        system=system,
        op=op,
        n=n,
        seconds=seconds,
        rounds=rounds,
        bytes=nbytes,
        ops_per_s=ops,
        note=note,
    )


@dataclass(frozen=True)
class BenchOp:
    """A registered operation: its secure setup, its plaintext twin and what it needs."""

    name: str
    secure: SecureSetup
    plain: PlainSetup
    requires: str
    unit: str
    note: str | None = None


REGISTRY: dict[str, BenchOp] = {}


def bench_op(
    name: str, *, requires: str, plain: PlainSetup, unit: str = "ops", note: str | None = None
) -> Callable[[SecureSetup], SecureSetup]:
    """Register ``fn(p, n) -> thunk`` as the benchmark of operation ``name``.

    ``note`` goes into every sharelake record of the operation (e.g. its parameters).
    """

    def register(fn: SecureSetup) -> SecureSetup:
        REGISTRY[name] = BenchOp(name, fn, plain, requires, unit, note)
        return fn

    return register


#: Modules that register more operations when imported (e.g. the relational operators).
#: A module that cannot be imported yet is left out, with the reason in :data:`NOT_LOADED`.
EXTENSIONS = (
    "sharelake.bench.join",
    "sharelake.bench.relational",
    "sharelake.bench.linkage",
)
NOT_LOADED: dict[str, str] = {}


def load_extensions() -> None:
    """Import every module of :data:`EXTENSIONS` (idempotent); parent and parties call it."""
    for mod in EXTENSIONS:
        try:
            importlib.import_module(mod)
        except ImportError as exc:
            NOT_LOADED[mod] = str(exc)


def available(name: str) -> bool:
    """Whether the module that operation ``name`` needs can be imported."""
    try:
        importlib.import_module(REGISTRY[name].requires)
    except ImportError:
        return False
    return True


# ---- plaintext twins (numpy) -----------------------------------------------------------


def _words(rng: np.random.Generator, n: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    return rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64, endpoint=True)


def _plain_mul(rng: np.random.Generator, n: int) -> Thunk:
    x, y = _words(rng, n).view(np.uint64), _words(rng, n).view(np.uint64)
    return lambda: x * y


def _plain_lt(rng: np.random.Generator, n: int) -> Thunk:
    x, y = _words(rng, n), _words(rng, n)
    return lambda: x < y


def _plain_eq(rng: np.random.Generator, n: int) -> Thunk:
    x, y = _words(rng, n), _words(rng, n)
    return lambda: x == y


def _plain_shuffle(rng: np.random.Generator, n: int) -> Thunk:
    x = _words(rng, n)
    return lambda: x[rng.permutation(n)]


def _plain_sort(rng: np.random.Generator, n: int) -> Thunk:
    keys, payload = _words(rng, n), _words(rng, n)

    def run() -> object:
        order = np.argsort(keys, kind="stable")
        return keys[order], payload[order]

    return run


# ---- secure operations -----------------------------------------------------------------


@bench_op("mul", requires="sharelake.mpc.arith", plain=_plain_mul)
def _mul(p: Party, n: int) -> Thunk:
    x, y = p.rand_a(n), p.rand_a(n)
    return lambda: mul(p, x, y)


@bench_op("lt", requires="sharelake.mpc.compare", plain=_plain_lt)
def _lt(p: Party, n: int) -> Thunk:
    x, y = p.rand_a(n), p.rand_a(n)
    return lambda: lt(p, x, y)


@bench_op("eq", requires="sharelake.mpc.compare", plain=_plain_eq)
def _eq(p: Party, n: int) -> Thunk:
    x, y = p.rand_a(n), p.rand_a(n)
    return lambda: eq(p, x, y)


@bench_op("shuffle", requires="sharelake.mpc.shuffle", plain=_plain_shuffle, unit="elements")
def _shuffle(p: Party, n: int) -> Thunk:
    x = p.rand_a(n)
    return lambda: shuffle(p, [x])


@bench_op("sort", requires="sharelake.mpc.sort", plain=_plain_sort, unit="elements")
def _sort(p: Party, n: int) -> Thunk:
    keys, payload = p.rand_a(n), p.rand_a(n)
    return lambda: sort(p, [keys], [payload])


# ---- progress events -------------------------------------------------------------------

_local_sink: EventSink | None = None


@contextmanager
def local_events(sink: EventSink) -> Iterator[None]:
    """Deliver party 0's events to ``sink`` directly (in-memory runs, one process)."""
    global _local_sink
    _local_sink = sink
    try:
        yield
    finally:
        _local_sink = None


def emit(event: dict[str, Any]) -> None:
    """Send a progress event to the parent: directly in memory, else via the node process."""
    if _local_sink is not None:
        _local_sink(event)
        return
    proc_emit(event)


# ---- the body --------------------------------------------------------------------------


def barrier(p: Party) -> None:
    """A one-byte exchange with both peers: nobody starts the clock before all are ready."""
    p.exchange({p.next: b"\x01", p.prev: b"\x01"}, {p.next: 1, p.prev: 1})


def _max_over_parties(p: Party, figures: list[float]) -> list[float]:
    """Elementwise maximum of ``figures`` over the three parties (one round)."""
    mine = np.asarray(figures, dtype=np.float64)
    got = p.exchange(
        {p.next: mine.tobytes(), p.prev: mine.tobytes()}, {p.next: mine.nbytes, p.prev: mine.nbytes}
    )
    others = [np.frombuffer(got[j], dtype=np.float64) for j in (p.next, p.prev)]
    return [float(v) for v in np.maximum(mine, np.maximum(*others))]


def _time_op(p: Party, thunk: Thunk, reps: int) -> tuple[float, int, int]:
    """Best-of-``reps`` seconds (slowest party), and rounds and bytes (max over parties)."""
    times: list[float] = []
    rounds = sent = 0
    for _ in range(reps):
        barrier(p)
        r0, b0 = p.chan.stats.snapshot()
        t0 = time.perf_counter()
        thunk()
        verify(p, check="bench")  # malicious setting: the op's products and ANDs are checked
        p.chan.flush()
        times.append(time.perf_counter() - t0)
        r1, b1 = p.chan.stats.snapshot()
        rounds, sent = r1 - r0, b1 - b0
    worst = _max_over_parties(p, [*times, float(rounds), float(sent)])
    return min(worst[:reps]), int(worst[reps]), int(worst[reps + 1])


def suite_body(p: Party, plan: list[dict[str, Any]]) -> list[Record]:
    """Run every ``{"op": name, "n": size}`` of ``plan`` in order; party 0 emits progress.

    Every party returns the same records (figures are maxima over the parties).
    """
    load_extensions()
    records: list[Record] = []
    warm: set[str] = set()
    for step in plan:
        name, n = str(step["op"]), int(step["n"])
        if p.id == 0:
            emit({"event": "start", "op": name, "n": n})
        try:
            if name not in warm:
                REGISTRY[name].secure(p, min(WARMUP_N, n))()
                warm.add(name)
            thunk = REGISTRY[name].secure(p, n)
        except ImportError as exc:  # the same at every party: they skip together
            rec = make_record("sharelake", name, n, None, note=f"not available yet: {exc}")
        else:
            seconds, rounds, sent = _time_op(p, thunk, repetitions(n, name))
            del thunk
            rec = make_record(
                "sharelake", name, n, seconds, rounds=rounds, nbytes=sent, note=REGISTRY[name].note
            )
        records.append(rec)
        if p.id == 0:
            emit({"event": "done", "record": dict(rec)})
    return records


def run_plain(name: str, n: int, *, seed: int = 7) -> Record:
    """Time the plaintext numpy twin of operation ``name`` on ``n`` elements (best of)."""
    rng = np.random.default_rng(seed)
    thunk = REGISTRY[name].plain(rng, n)
    best = min(_timed(thunk) for _ in range(max(repetitions(n), 3)))
    return make_record("plaintext", name, n, best, note="plaintext twin (numpy/pandas)")


def _timed(thunk: Thunk) -> float:
    t0 = time.perf_counter()
    thunk()
    return time.perf_counter() - t0

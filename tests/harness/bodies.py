"""Module-level protocol bodies for the transport tests (processes import them by name)."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from sharelake.harness import procs
from sharelake.mpc import arith
from sharelake.mpc.party import Party
from sharelake.mpc.shares import AShare


def echo_ring(party: Party, payload: np.ndarray[Any, Any]) -> dict[str, Any]:
    """Send ``payload`` to the next party, receive the previous party's."""
    got = party.exchange({party.next: payload}, {party.prev: payload.nbytes})
    back = np.frombuffer(got[party.prev], dtype=payload.dtype).copy()
    return {"got": back, "messages": party.chan.stats.messages, "id": party.id}


def mul_and_open(party: Party, x: AShare, y: AShare) -> np.ndarray[Any, Any]:
    """Open x * y."""
    return arith.open_arith(party, arith.mul(party, x, y))


def open_value(party: Party, x: AShare) -> np.ndarray[Any, Any]:
    """Open x (checked)."""
    return arith.open_arith(party, x)


def open_then_finish(party: Party, x: AShare) -> np.ndarray[Any, Any]:
    """Open x (checked), then a last round in which each node hears from both others.

    A node's query ends the same way (the exchange of signed audit chain heads), so an
    abort notice from a node whose check failed reaches both others before they answer.
    """
    value = arith.open_arith(party, x)
    others = [j for j in range(3) if j != party.id]
    party.exchange(dict.fromkeys(others, b"done"), dict.fromkeys(others, 4))
    return value


def die_after_setup(party: Party, x: AShare) -> np.ndarray[Any, Any]:
    """Party 2 vanishes after setup; the others try to open x."""
    if party.id == 2:
        os._exit(3)
    return arith.open_arith(party, x)


def silent_party(party: Party, x: AShare, pause: float) -> np.ndarray[Any, Any]:
    """Party 2 stays silent for ``pause`` seconds before taking part."""
    if party.id == 2:
        time.sleep(pause)
    return arith.open_arith(party, x)


def report_progress(party: Party, steps: int) -> int:
    """Emit ``steps`` progress events and return the party id."""
    for k in range(steps):
        procs.emit({"step": k})
    return party.id


def ring_throughput(party: Party, nbytes: int, rounds: int) -> dict[str, float]:
    """Time ``rounds`` ring exchanges of ``nbytes`` each."""
    buf = np.ones(nbytes // 8, dtype=np.uint64)
    party.pass_prev(buf)
    t0 = time.perf_counter()
    for _ in range(rounds):
        party.pass_prev(buf)
    dt = time.perf_counter() - t0
    return {"seconds": dt, "mb_per_s": rounds * nbytes / dt / 1e6}


def mul_throughput(party: Party, n: int, reps: int) -> dict[str, float]:
    """Time ``reps`` secure multiplications of two random length-n vectors."""
    x, y = party.rand_a(n), party.rand_a(n)
    arith.mul(party, x, y)
    t0 = time.perf_counter()
    for _ in range(reps):
        arith.mul(party, x, y)
    dt = time.perf_counter() - t0
    return {"seconds": dt, "mul_per_s": reps * n / dt}


def timed_exchanges(party: Party, rounds: int) -> dict[str, Any]:
    """Time ``rounds`` sequential ring exchanges of 8 bytes; return the time and the data."""
    buf = np.full(1, party.id, dtype=np.uint64)
    got = []
    t0 = time.perf_counter()
    for _ in range(rounds):
        got.append(int(party.pass_prev(buf)[0]))
    return {"seconds": time.perf_counter() - t0, "got": got}

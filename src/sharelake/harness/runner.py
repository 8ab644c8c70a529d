"""Run one protocol function as three parties, in memory or as three OS processes over TLS.

This is how tests, the benchmark suite and the engine demonstration run a protocol
body: ``run_parties(fn, inputs, transport="memory" | "tls")`` calls
``fn(party, **inputs[i])`` at party i and returns the three results. With ``"tls"``
the body runs in three fresh Python processes joined by mutually authenticated TLS;
``fn`` must then be a module-level function, and inputs and results may contain only
numpy arrays, :class:`~sharelake.mpc.shares.AShare`/``BShare`` pairs, JSON scalars,
lists and string-keyed dicts of those (no pickle anywhere).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from ..net.memory import run_in_memory

Transport = Literal["memory", "tls"]


def run_parties(
    fn: Callable[..., Any],
    inputs: list[Mapping[str, Any]] | None = None,
    *,
    transport: Transport = "memory",
    deadline: float = 30.0,
    tamper: Any = None,
) -> list[Any]:
    """Run ``fn`` at the three parties over ``transport`` and return their results."""
    if transport == "memory":
        if isinstance(tamper, str):
            from .tamper import tamper_from_spec

            tamper = tamper_from_spec(tamper)
        return run_in_memory(fn, inputs, deadline=deadline, tamper=tamper)
    from .procs import run_in_processes

    return run_in_processes(fn, inputs, deadline=deadline, tamper=tamper)

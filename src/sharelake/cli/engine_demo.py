"""The engine demonstration behind ``sharelake demo`` (until the monitoring demo exists).

A client secret-shares two random columns x and y with
:func:`~sharelake.mpc.sharing.share_arith`; only the shares go to the three node
processes, which talk over mutual TLS. The nodes first check that the client's
shares are consistent (:func:`~sharelake.mpc.arith.check_input`), then run each
step of the demonstration on the shares. Every node returns its pair of each result
to the client, which reconstructs it with
:func:`~sharelake.mpc.sharing.reconstruct_arith` (each component arrives twice and
is compared) and checks it against the same computation in plaintext.

Steps, each skipped with a note while the protocol it needs has not landed:

``dot``      the inner product x . y mod 2^64 (one multiplication round, Araki et al.)
``sort``     column x in ascending order (signed)
``count_lt`` how many rows have x < y (secure comparison, then a local sum)
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from ..mpc.arith import check_input, mul
from ..mpc.party import Party
from ..mpc.ring import Arr, to_ring, to_signed
from ..mpc.shares import AShare
from ..mpc.sharing import reconstruct_arith, share_arith

#: Magnitude of the demo's values: |x|, |y| < 2^40 (so x - y never wraps).
VALUE_BITS = 40


def _total(s: AShare) -> AShare:
    """The sum of a shared column, as a one-element sharing (local)."""
    return AShare(s.a.sum(keepdims=True, dtype=np.uint64), s.b.sum(keepdims=True, dtype=np.uint64))


def _node_dot(p: Party, x: AShare, y: AShare) -> AShare:
    return _total(mul(p, x, y))


def _plain_dot(x: Arr, y: Arr) -> Arr:
    return np.array([(x * y).sum(dtype=np.uint64)], dtype=np.uint64)


def _node_sort(p: Party, x: AShare, y: AShare) -> AShare:
    from ..mpc.sort import sort

    (keys,), _ = sort(p, [x])
    assert isinstance(keys, AShare)
    return keys


def _plain_sort(x: Arr, y: Arr) -> Arr:
    return to_ring(np.sort(to_signed(x)))


def _node_count_lt(p: Party, x: AShare, y: AShare) -> AShare:
    from ..mpc.compare import lt
    from ..mpc.convert import b2a_bits

    return _total(b2a_bits(p, lt(p, x, y)))


def _plain_count_lt(x: Arr, y: Arr) -> Arr:
    return np.array([np.count_nonzero(to_signed(x) < to_signed(y))], dtype=np.uint64)


@dataclass(frozen=True)
class Step:
    """One demonstration step: what it needs, what the nodes run, its plaintext twin."""

    name: str
    title: str
    requires: tuple[str, ...]
    node: Callable[[Party, AShare, AShare], AShare]
    plain: Callable[[Arr, Arr], Arr]


STEPS: dict[str, Step] = {
    s.name: s
    for s in (
        Step("dot", "inner product x.y mod 2^64", ("sharelake.mpc.arith",), _node_dot, _plain_dot),
        Step("sort", "sort column x", ("sharelake.mpc.sort",), _node_sort, _plain_sort),
        Step(
            "count_lt",
            "count rows with x < y",
            ("sharelake.mpc.compare", "sharelake.mpc.convert"),
            _node_count_lt,
            _plain_count_lt,
        ),
    )
}


def step_available(step: Step) -> bool:
    """Whether every module ``step`` needs can be imported."""
    try:
        for mod in step.requires:
            importlib.import_module(mod)
    except ImportError:
        return False
    return True


def demo_body(p: Party, x: AShare, y: AShare, steps: list[str]) -> dict[str, Any]:
    """What each node runs: check the client's shares, then every step, measured."""
    with p.measure("input check"):
        check_input(p, x, what="column x")
        check_input(p, y, what="column y")
    results: dict[str, AShare] = {}
    seconds: dict[str, float] = {}
    for name in steps:
        t0 = time.perf_counter()
        with p.measure(name):
            results[name] = STEPS[name].node(p, x, y)
        seconds[name] = time.perf_counter() - t0
    costs = {op: [c.rounds, c.bytes_sent] for op, c in p.costs.items()}
    return {"results": results, "costs": costs, "seconds": seconds}


def _run_nodes(transport: str, inputs: list[Mapping[str, Any]]) -> list[Any]:
    from ..harness.runner import run_parties

    return run_parties(demo_body, inputs, transport="tls" if transport == "tls" else "memory")


def run_demo(out: Path, *, scale: int, transport: str = "tls", console: Console) -> bool:
    """Run the demonstration, print and write ``out/demo.json``; True when all checks pass."""
    rng = np.random.default_rng()
    lim = 2**VALUE_BITS
    x = to_ring(rng.integers(-lim, lim, scale, dtype=np.int64))
    y = to_ring(rng.integers(-lim, lim, scale, dtype=np.int64))
    steps = [s.name for s in STEPS.values() if step_available(s)]
    skipped = [s.name for s in STEPS.values() if s.name not in steps]

    # The client: only shares leave this function for the nodes.
    xs, ys = share_arith(x), share_arith(y)
    inputs: list[Mapping[str, Any]] = [{"x": xs[i], "y": ys[i], "steps": steps} for i in range(3)]
    del xs, ys
    console.print(
        f"[bold]sharelake engine demonstration[/]: {scale:,} rows, three nodes over "
        f"{'mutual TLS (three processes)' if transport == 'tls' else 'memory (threads)'}"
    )
    t0 = time.perf_counter()
    results = _run_nodes(transport, inputs)
    seconds = time.perf_counter() - t0

    table = Table(title="opened to the client, beside the plaintext check")
    cols = ("step", "secure result", "plaintext", "correct", "seconds", "rounds", "bytes/party")
    for col in cols:
        table.add_column(col, justify="left" if col == "step" else "right")
    report: list[dict[str, Any]] = []
    ok = True
    for name in steps:
        step = STEPS[name]
        got = reconstruct_arith([r["results"][name] for r in results])
        want = step.plain(x, y)
        correct = bool(np.array_equal(got, want))
        ok = ok and correct
        rounds = max(int(r["costs"][name][0]) for r in results)
        sent = max(int(r["costs"][name][1]) for r in results)
        took = max(float(r["seconds"][name]) for r in results)
        report.append(
            {
                "step": name,
                "title": step.title,
                "correct": correct,
                "result": _summary(got),
                "plaintext": _summary(want),
                "seconds": took,
                "rounds": rounds,
                "bytes": sent,
            }
        )
        table.add_row(
            step.title,
            _summary(got),
            _summary(want),
            "[green]yes[/]" if correct else "[red]NO[/]",
            f"{took:.3f}",
            str(rounds),
            f"{sent:,}",
        )
    console.print(table)
    for name in skipped:
        console.print(f"[yellow]skipped {name}: {', '.join(STEPS[name].requires)} not available")
    check = {
        "rounds": max(int(r["costs"]["input check"][0]) for r in results),
        "bytes": max(int(r["costs"]["input check"][1]) for r in results),
    }
    doc = {
        "scale": scale,
        "transport": transport,
        "seconds": seconds,
        "correct": ok and bool(steps),
        "bytes_are": "max over the three parties of the bytes one party sent",
        "input_check": check,
        "steps": report,
        "skipped": skipped,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "demo.json").write_text(json.dumps(doc, indent=1) + "\n")
    verdict = "[green]all results correct[/]" if doc["correct"] else "[red]a check FAILED[/]"
    console.print(f"{verdict} in {seconds:.2f} s; wrote {out / 'demo.json'}")
    return bool(doc["correct"])


def _summary(v: Arr) -> str:
    s = to_signed(v)
    if s.size == 1:
        return str(int(s[0]))
    return f"{s.size:,} values: {int(s[0])}, {int(s[1])}, ..., {int(s[-1])}"

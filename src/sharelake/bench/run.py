"""``sharelake bench``, parent side: plan, three node processes, baselines, table and JSON.

The secure suite starts three node processes over loopback TLS once and runs the
whole plan in them (:func:`sharelake.bench.suite.suite_body`); party 0 reports
progress. Then, in the same invocation, the plaintext numpy twin of every operation
and the MPyC baseline (:mod:`.baseline_mpyc`) run in this process and in MPyC's own
processes, one after the other so that they do not compete for the CPU.

Figures: ``seconds`` is the operation only, the slowest of the three parties, best of
a fixed number of repetitions; ``rounds`` and ``bytes`` are the most that one party
sent (maximum over the three parties, not the sum).

Operations of the whole lake (``upload``, ``query_overhead``, ``groupby_query``,
``protected_groupby``) need three node
services and a client rather than the in-party suite: they run in a last "cluster"
phase over one LocalCluster (:mod:`.lake`), with the same record shape and no
plaintext or MPyC twin.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..harness.procs import run_in_processes
from ..mpc.checks import SECURITY_LEVELS, Security
from ..net.memory import run_in_memory
from ..net.relay import LinkSpec
from .baseline_mpyc import MPYC_OPS, mpyc_installed, run_mpyc_sweep
from .lake import CLUSTER_OPS, run_cluster_ops
from .suite import (
    REGISTRY,
    Record,
    available,
    load_extensions,
    local_events,
    make_record,
    run_plain,
    suite_body,
)


def default_ops() -> list[str]:
    """Every registered operation, in registration order (core first, then extensions),
    then the cluster operations."""
    load_extensions()
    return [*REGISTRY, *CLUSTER_OPS]


DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
QUICK_MAX = 100_000
#: MPyC runs these by default (the others take minutes already at 1e4).
MPYC_DEFAULT_OPS = ("mul", "lt", "sort")


def parse_sizes(text: str) -> list[int]:
    """``"1e4,1e5"`` -> ``[10000, 100000]``; each size must be a positive integer."""
    sizes = []
    for part in text.split(","):
        value = float(part.strip())
        if value < 1 or value != int(value):
            raise ValueError(f"size {part!r} is not a positive integer")
        sizes.append(int(value))
    return sizes


def parse_ops(text: str) -> list[str]:
    """``"mul,lt"`` -> ``["mul", "lt"]``; unknown names are an error."""
    load_extensions()
    ops = [op.strip() for op in text.split(",") if op.strip()]
    unknown = [op for op in ops if op not in REGISTRY and op not in CLUSTER_OPS]
    if unknown:
        known = sorted([*REGISTRY, *CLUSTER_OPS])
        raise ValueError(f"unknown operation(s) {unknown}; known: {known}")
    return ops


@contextmanager
def _security(level: Security) -> Iterator[None]:
    """Parties set up inside the block (threads or child processes) run at ``level``."""
    old = os.environ.get("SHARELAKE_SECURITY")
    os.environ["SHARELAKE_SECURITY"] = level
    try:
        yield
    finally:
        if old is None:
            del os.environ["SHARELAKE_SECURITY"]
        else:
            os.environ["SHARELAKE_SECURITY"] = old


def run_secure(
    plan: list[dict[str, Any]],
    *,
    transport: str,
    on_event: Callable[[dict[str, Any]], None],
    deadline: float = 600.0,
    timeout: float = 6 * 3600.0,
    link: LinkSpec | None = None,
) -> list[Record]:
    """Run ``plan`` at three parties (one start-up) and return party 0's records.

    ``link`` (TLS transport only) puts a latency relay in front of every party, so each
    node-to-node message crosses a simulated wide-area link.
    """
    inputs: list[Mapping[str, Any]] = [{"plan": plan} for _ in range(3)]
    if transport == "memory":
        if link is not None:
            raise ValueError("a simulated link (--rtt) needs the tls transport")

        with local_events(on_event):
            results = run_in_memory(suite_body, inputs, deadline=deadline)
    else:
        results = run_in_processes(
            suite_body, inputs, deadline=deadline, on_event=on_event, timeout=timeout, link=link
        )
    records: list[Record] = results[0]
    return records


def run_bench(
    ops: Sequence[str],
    sizes: Sequence[int],
    *,
    transport: str = "tls",
    with_mpyc: bool = True,
    mpyc_ops: Sequence[str] = MPYC_DEFAULT_OPS,
    mpyc_timeout: float = 60.0,
    console: Console | None = None,
    rtts: Sequence[float] = (),
    bandwidth: float | None = None,
    securities: Sequence[Security] = SECURITY_LEVELS,
) -> list[Record]:
    """The whole benchmark: secure suite, plaintext twins, MPyC; returns every record.

    The secure suite runs once per security level in ``securities`` (malicious and
    semi-honest by default, side by side); its records carry ``security``.

    With ``rtts``, the secure suite runs once per round-trip time (seconds) behind
    latency relays (:mod:`sharelake.net.relay`, ``bandwidth`` bits/s per direction when
    given) and its records carry ``rtt``; the plaintext and MPyC baselines run once.
    """
    console = console or Console(stderr=True)
    sizes = sorted(sizes)
    cluster_ops = [op for op in ops if op in CLUSTER_OPS]
    ops = [op for op in ops if op not in CLUSTER_OPS]
    records: list[Record] = []
    missing = [op for op in ops if not available(op)]
    for op in missing:
        note = f"skipped: {REGISTRY[op].requires} is not available yet"
        records += [make_record("sharelake", op, n, None, note=note) for n in sizes]
    plan: list[dict[str, Any]] = [
        {"op": op, "n": n} for op in ops if op not in missing for n in sizes
    ]
    mpyc_plan = [op for op in ops if op in mpyc_ops and op in MPYC_OPS] if with_mpyc else []
    if mpyc_plan and not mpyc_installed():
        console.print("[yellow]mpyc is not installed (pip install -e '.[bench]'); skipping it")
        mpyc_plan = []

    columns = (
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        label = f"sharelake ({transport})"
        links: list[LinkSpec | None] = [LinkSpec.from_rtt(r, bandwidth) for r in rtts] or [None]
        variants = [(sec, link) for sec in securities for link in links]
        secure_task = progress.add_task(label, total=len(plan) * len(variants))
        plain_task = progress.add_task("plaintext", total=len(ops) * len(sizes))
        mpyc_task = progress.add_task("mpyc -M3", total=len(mpyc_plan) * len(sizes))
        done: list[Record] = []

        def on_event(event: dict[str, Any]) -> None:
            if event.get("event") == "start":
                desc = f"{label}: {event['op']} n={event['n']:,}"
                progress.update(secure_task, description=desc)
            elif event.get("event") == "done":
                done.append(event["record"])
                progress.advance(secure_task)

        for sec, link in variants if plan else []:
            done.clear()
            got: list[Record] = []
            try:
                with _security(sec):
                    got = run_secure(plan, transport=transport, on_event=on_event, link=link)
            except Exception as exc:
                console.print(f"[red]secure suite aborted: {type(exc).__name__}: {exc}")
                got = list(done)
                note = f"not run: the suite aborted ({type(exc).__name__})"
                got += [
                    make_record("sharelake", s["op"], s["n"], None, note=note)
                    for s in plan[len(done) :]
                ]
            for r in got:
                r["security"] = sec
                if link is not None:
                    r["rtt"] = 2 * link.delay
            records += got
        progress.update(secure_task, description=label)

        for op in ops:
            for n in sizes:
                progress.update(plain_task, description=f"plaintext: {op} n={n:,}")
                records.append(run_plain(op, n))
                progress.advance(plain_task)
        progress.update(plain_task, description="plaintext")

        def on_mpyc(rec: Record) -> None:
            progress.advance(mpyc_task)

        for op in mpyc_plan:
            progress.update(mpyc_task, description=f"mpyc -M3: {op}")
            records += run_mpyc_sweep([op], sizes, timeout=mpyc_timeout, on_record=on_mpyc)
        progress.update(mpyc_task, description="mpyc -M3")

        if cluster_ops:
            steps = len(sizes) * ("upload" in cluster_ops) + sum(
                op != "upload" for op in cluster_ops
            )
            lake_task = progress.add_task("lake (LocalCluster)", total=steps)

            def on_step(text: str) -> None:
                task = progress.tasks[lake_task]
                if task.description != "lake (LocalCluster)":
                    progress.advance(lake_task)
                progress.update(lake_task, description=f"lake: {text}")

            records += run_cluster_ops(cluster_ops, sizes, on_step=on_step)
            progress.update(lake_task, completed=steps, description="lake (LocalCluster)")
    return records


def _fmt_s(v: float | None) -> str:
    if v is None:
        return "-"
    if v < 1e-3:
        return f"{v:.1e}"
    return f"{v:.4f}" if v < 10 else f"{v:.1f}"


def _fmt_rate(v: float | None) -> str:
    if v is None:
        return "-"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{v / scale:.2f}{unit}"
    return f"{v:.0f}"


def _fmt_bytes(v: int | None) -> str:
    if v is None:
        return "-"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if v >= scale:
            return f"{v / scale:.1f} {unit}"
    return f"{v} B"


def render_table(records: Sequence[Record]) -> Table:
    """One row per (op, n[, rtt]): sharelake beside plaintext and MPyC, and the ratio to MPyC.

    With ``--rtt`` records, an ``rtt`` column shows the simulated round trip of each
    secure row (the baselines are the same for every rtt). Notes of records that did not
    run are listed in the table's caption.
    """
    by_key = {(r["system"], r["op"], r["n"]): r for r in records if "rtt" not in r}
    secure = {
        (r["op"], r["n"], r.get("rtt"), r.get("security", "")): r
        for r in records
        if r["system"] == "sharelake"
    }
    rtts = sorted({k[2] for k in secure if k[2] is not None})
    levels = sorted({k[3] for k in secure})
    keys = sorted(
        set(secure) | {(r["op"], r["n"], None, levels[0] if levels else "") for r in records},
        key=lambda k: (_op_order(k[0]), k[0], k[1], -1.0 if k[2] is None else k[2], k[3]),
    )
    if rtts:
        keys = [k for k in keys if k[2] is not None or (k[0], k[1], None, k[3]) in secure]
    table = Table(title="sharelake bench: op only, slowest party; bytes = most one party sent")
    sec_col = ("security",) if len(levels) > 1 else ()
    cols = ("op", "n", *(("rtt",) if rtts else ()), *sec_col, "sharelake s", "ops/s", "rounds")
    for col in (*cols, "bytes/party", "plain s", "mpyc s", "mpyc ops/s", "x mpyc"):
        table.add_column(col, justify="left" if col == "op" else "right")
    notes: dict[str, list[str]] = {}
    for op, n, rtt, level in keys:
        sl = secure.get((op, n, rtt, level))
        pl = by_key.get(("plaintext", op, n))
        mp = by_key.get(("mpyc", op, n))
        ratio = "-"
        if sl and mp and sl["ops_per_s"] and mp["ops_per_s"]:
            ratio = f"{sl['ops_per_s'] / mp['ops_per_s']:.1f}x"
        for r in (sl, mp):
            if r and r["note"] and r["seconds"] is None:
                notes.setdefault(f"{r['system']} {op}: {r['note']}", []).append(f"{n:,}")
        rtt_cell = ("-" if rtt is None else f"{rtt * 1000:g} ms",) if rtts else ()
        table.add_row(
            op,
            f"{n:,}",
            *rtt_cell,
            *((level or "-",) if sec_col else ()),
            _fmt_s(sl["seconds"] if sl else None),
            _fmt_rate(sl["ops_per_s"] if sl else None),
            "-" if not sl or sl["rounds"] is None else str(sl["rounds"]),
            _fmt_bytes(sl["bytes"] if sl else None),
            _fmt_s(pl["seconds"] if pl else None),
            _fmt_s(mp["seconds"] if mp else None),
            _fmt_rate(mp["ops_per_s"] if mp else None),
            ratio,
        )
    table.caption = "\n".join(f"{k} (n = {', '.join(v)})" for k, v in notes.items()) or None
    table.caption_justify = "left"
    return table


def _op_order(op: str) -> int:
    order = list(REGISTRY)
    return order.index(op) if op in order else len(order)


def write_json(path: Path, records: Sequence[Record]) -> None:
    """Write the records as a JSON list (the ``--json`` format), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(list(records), indent=1) + "\n")
    tmp.replace(path)

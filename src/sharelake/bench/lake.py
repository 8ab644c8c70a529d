"""``sharelake bench``, cluster phase: operations of the whole lake over a LocalCluster.

The in-party suite (:mod:`.suite`) times protocols inside three parties. The
operations here need the real system instead: three node processes
(:class:`~sharelake.node.local.LocalCluster`, loopback HTTPS and mutual TLS), a client
that validates, shares and uploads, and the nodes' storage, checks and governance.

``upload``
    ``Session.upload`` of ``n`` rows x 10 numeric (int) columns, end to end: encode,
    share, send to the three nodes, prepare, cross-node digest check, commit.
    ``seconds`` is the wall time of one upload; ``ops_per_s`` is rows per second.
``query_overhead``
    The fixed cost of a tiny query (a filter on a 100-row table): plan, the nodes'
    policy verdict, the consistency check, three nodes, reconstruction at the client.
    ``seconds`` is the median of :data:`QUERY_RUNS` runs; ``n`` is 1 (one query), so
    ``ops_per_s`` is queries per second.
``groupby_query``
    A count and mean by region over a :data:`GROUPBY_ROWS`-row table whose columns are
    all ``reveal``: no output protection runs (the baseline of the next one).
``protected_groupby``
    The same query over the same rows with ``region`` a ``group`` and ``age`` an
    ``aggregate`` column: k-suppression on shares and the differencing check (the atom
    check in MPC) against :data:`EARLIER_RELEASES` earlier releases over the table, plus
    the chain-head exchange every query does. The difference of the two medians is the
    cost of the output protection on a group-by.

Records have the suite's shape (``system: "sharelake"``, ``rounds``/``bytes`` null);
the note gives the 1-minute load average of the machine, since the nodes and the client
share its cores.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..client import connect
from ..node.local import LocalCluster
from ..plan import nodes as pn
from .suite import Record, make_record

__all__ = ["CLUSTER_OPS", "QUERY_RUNS", "run_cluster_ops"]

#: The cluster operations, in the order they run.
CLUSTER_OPS = ("upload", "query_overhead", "groupby_query", "protected_groupby")
QUERY_RUNS = 10
GROUPBY_ROWS = 1000
GROUPBY_RUNS = 5
EARLIER_RELEASES = 4
UPLOAD_COLUMNS = 10
TINY_ROWS = 100


def _load() -> str:
    try:
        return f"load average {os.getloadavg()[0]:.2f}"
    except OSError:
        return "load average unknown"


def _frame(n: int, columns: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({f"c{j}": rng.integers(0, 1 << 40, n) for j in range(columns)})


def run_cluster_ops(
    ops: Sequence[str],
    sizes: Sequence[int],
    *,
    on_step: Callable[[str], None] | None = None,
) -> list[Record]:
    """Start a LocalCluster once and run the cluster operations in ``ops``.

    Parameters
    ----------
    ops
        Any of :data:`CLUSTER_OPS` (others are ignored).
    sizes
        Row counts of ``upload`` (``query_overhead`` has one size, a 100-row table).
    on_step
        Called with a description before each measurement (progress display).

    Returns
    -------
    list of Record
        One per upload size and one for ``query_overhead``; on a failure the records
        that did not run carry ``seconds: null`` and the error class in the note.
    """

    wanted = [op for op in CLUSTER_OPS if op in ops]
    plan = [("upload", n) for n in sizes if "upload" in wanted]
    if "query_overhead" in wanted:
        plan.append(("query_overhead", 1))
    plan += [(op, GROUPBY_ROWS) for op in ("groupby_query", "protected_groupby") if op in wanted]
    records: list[Record] = []
    step = on_step or (lambda text: None)
    try:
        with LocalCluster() as cluster:
            path = cluster.consortium_path
            for op, n in plan:
                step(f"{op} n={n:,}")
                if op == "upload":
                    df = _frame(n, UPLOAD_COLUMNS)
                    with connect(path, "ngo_a", timeout=600.0) as s:
                        start = time.perf_counter()
                        s.upload(df, f"bench_upload_{n}", progress=False)
                        seconds = time.perf_counter() - start
                    note = f"{UPLOAD_COLUMNS} int columns; rows/s; {_load()}"
                    records.append(make_record("sharelake", op, n, seconds, note=note))
                elif op == "query_overhead":
                    records.append(_query_overhead(path))
                else:
                    records.append(_groupby(path, protected=op == "protected_groupby"))
    except Exception as exc:
        note = f"not run: the cluster phase failed ({type(exc).__name__})"
        done = {(r["op"], r["n"]) for r in records}
        records += [
            make_record("sharelake", op, n, None, note=note)
            for op, n in plan
            if (op, n) not in done
        ]
    return records


def _query_overhead(path: Path) -> Record:
    policy = {"columns": {"c0": "reveal", "c1": "reveal"}}
    with connect(path, "ngo_a") as s:
        s.upload(_frame(TINY_ROWS, 2), "bench_tiny", policy=policy, progress=False)
    times = []
    with connect(path, "analyst") as a:
        tiny = a.table("bench_tiny")
        query = tiny[tiny.c0 < (1 << 39)]
        query.collect()  # warm-up: connections, worker threads
        for _ in range(QUERY_RUNS):
            start = time.perf_counter()
            query.collect()
            times.append(time.perf_counter() - start)
    note = (
        f"median of {QUERY_RUNS}: filter on {TINY_ROWS} rows, plan to DataFrame; "
        f"min {min(times):.3f} s, max {max(times):.3f} s; {_load()}"
    )
    return make_record("sharelake", "query_overhead", 1, statistics.median(times), note=note)


def _groupby(path: Path, *, protected: bool) -> Record:
    n = GROUPBY_ROWS
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"region": rng.integers(0, 4, n), "age": rng.integers(18, 90, n)})
    name = "bench_gb_protected" if protected else "bench_gb_plain"
    cols = (
        {"region": "group", "age": "aggregate"}
        if protected
        else {"region": "reveal", "age": "reveal"}
    )
    with connect(path, "ngo_a") as s:
        s.upload(df, name, policy={"min_group_size": 5, "columns": cols}, progress=False)

    def by_region(cut: int) -> dict[str, object]:
        rows = pn.filter_rows(pn.scan(name), {"fn": ">=", "args": [{"col": "age"}, {"lit": cut}]})
        return pn.make_plan(
            pn.groupby(rows, ["region"], {"n": ("*", "count"), "m": ("age", "mean")})
        )

    times = []
    with connect(path, "analyst", timeout=600.0) as a:
        for j in range(EARLIER_RELEASES):  # earlier releases (age cuts far apart)
            a.query(by_region(18 + 12 * j))
        for _ in range(GROUPBY_RUNS):  # the same plan again: compared with the 4 others
            start = time.perf_counter()
            a.query(by_region(18 + 12 * EARLIER_RELEASES))
            times.append(time.perf_counter() - start)
    what = (
        f"k-suppression and the atom check against {EARLIER_RELEASES} earlier releases"
        if protected
        else "reveal columns only: no output protection"
    )
    note = (
        f"median of {GROUPBY_RUNS}: count and mean by region over {n} rows, {what}; "
        f"min {min(times):.3f} s, max {max(times):.3f} s; {_load()}"
    )
    op = "protected_groupby" if protected else "groupby_query"
    return make_record("sharelake", op, n, statistics.median(times), note=note)

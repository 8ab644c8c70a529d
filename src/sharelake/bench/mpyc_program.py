"""One MPyC party of the baseline benchmark; launched three times by :mod:`.baseline_mpyc`.

Usage (one line per party, ``i`` = 0, 1, 2)::

    python mpyc_program.py -M3 -I i -B PORT --no-log --bench-op mul --bench-n 10000

MPyC 0.11 with secure numpy arrays of ``SecInt(64)`` (a 96-bit prime field, Shamir
t=1). Every party generates the same random vectors from ``--seed``; party 0 inputs
them (``mpc.input(..., senders=0)``). After a tiny all-to-all transfer as a barrier,
only the operation is timed, up to the point where every output share is ready
(``mpc.gather``), not the opening. A sample of the result is then opened and checked
against numpy. Each party prints one JSON line: seconds, bytes it sent during the
operation, and whether the check passed.

Inputs: ``mul`` uses 31-bit values (the product must fit the field); ``lt`` and
``eq`` use values in [-2^62, 2^62) so that x - y fits ``SecInt(64)``; ``sort``
sorts 63-bit values.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from typing import Any

import mpyc
import numpy as np
from mpyc.runtime import mpc

OPS = ("mul", "lt", "eq", "sort")
CHECK = 64  # how many outputs are opened and checked


def _bytes_sent() -> int:
    return sum(int(p.protocol.nbytes_sent) for p in mpc.parties if p.pid != mpc.pid)


def _inputs(op: str, n: int, seed: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    if op == "mul":
        lo, hi = -(2**30), 2**30
    else:
        lo, hi = -(2**62), 2**62
    x = rng.integers(lo, hi, n, dtype=np.int64)
    y = rng.integers(lo, hi, n, dtype=np.int64)
    if op == "eq":
        y[::2] = x[::2]  # half of the pairs are equal
    return x, y


def _expected(op: str, x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    out: np.ndarray[Any, Any]
    if op == "mul":
        out = x * y
    elif op == "lt":
        out = (x < y).astype(np.int64)
    elif op == "eq":
        out = (x == y).astype(np.int64)
    else:
        out = np.sort(x)
    return out


async def _run(op: str, n: int, seed: int) -> dict[str, Any]:
    secint = mpc.SecInt(64)
    xv, yv = _inputs(op, n, seed)
    await mpc.start()
    x = mpc.input(secint.array(xv.copy()), senders=0)
    y = mpc.input(secint.array(yv.copy()), senders=0)
    await mpc.gather(x, y)
    await mpc.transfer(mpc.pid)  # barrier: every party has its inputs
    b0 = _bytes_sent()
    t0 = time.perf_counter()
    if op == "mul":
        z = x * y
    elif op == "lt":
        z = x < y
    elif op == "eq":
        z = x == y
    else:
        z = mpc.np_sort(x)
    await mpc.gather(z)
    seconds = time.perf_counter() - t0
    sent = _bytes_sent() - b0
    opened = await mpc.output(z[:CHECK])
    got = np.array([int(v) for v in opened], dtype=np.int64)
    ok = bool(np.array_equal(got, _expected(op, xv, yv)[:CHECK]))
    await mpc.shutdown()
    return {
        "party": mpc.pid,
        "op": op,
        "n": n,
        "seconds": seconds,
        "bytes": sent,
        "ok": ok,
        "version": str(mpyc.__version__),
        "extras": [m for m in ("gmpy2", "uvloop") if importlib.util.find_spec(m)],
    }


def main() -> None:
    """Parse the benchmark options left over by MPyC and run one party."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bench-op", choices=OPS, required=True)
    ap.add_argument("--bench-n", type=int, required=True)
    ap.add_argument("--bench-seed", type=int, default=1)
    args = ap.parse_args()
    record = mpc.run(_run(args.bench_op, args.bench_n, args.bench_seed))
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()

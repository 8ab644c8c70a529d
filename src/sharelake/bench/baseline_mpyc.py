"""The MPyC baseline of ``sharelake bench``: three local MPyC parties per operation and size.

Each (operation, size) runs in three fresh processes of :mod:`.mpyc_program`
(``-M3 -I i`` on three free loopback ports), so a size that does not finish within
the timeout can be stopped without disturbing the next one. Once a size of an
operation times out, its larger sizes are skipped and recorded with
``seconds: null`` and a note.
"""

from __future__ import annotations

import importlib.util
import json
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from .suite import Record, make_record

#: Operations the MPyC baseline knows (see :mod:`.mpyc_program`).
MPYC_OPS = ("mul", "lt", "eq", "sort")
PROGRAM = Path(__file__).with_name("mpyc_program.py")


def mpyc_installed() -> bool:
    """Whether the ``mpyc`` package (extra ``bench``) can be imported."""

    return importlib.util.find_spec("mpyc") is not None


def _free_base_port(tries: int = 50) -> int:
    """A port p with p, p+1 and p+2 free on 127.0.0.1 (checked just before use)."""
    for _ in range(tries):
        base = random.randint(20_000, 60_000)
        socks: list[socket.socket] = []
        try:
            for i in range(3):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return base
    raise RuntimeError("no three consecutive free loopback ports for MPyC")


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    for proc in procs:
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def run_mpyc(op: str, n: int, *, timeout: float = 60.0, seed: int = 1) -> Record:
    """Run MPyC ``op`` on ``n`` elements with three local parties; a record either way.

    ``seconds`` is the slowest party's time of the operation alone; ``bytes`` is the
    most one party sent during it. ``timeout`` bounds the whole run (start-up, input,
    operation, check); past it the parties are killed and ``seconds`` is ``None``.
    """
    base = _free_base_port()
    args = ["-M3", "-B", str(base), "--no-log"]
    args += ["--bench-op", op, "--bench-n", str(n), "--bench-seed", str(seed)]
    with tempfile.TemporaryDirectory(prefix="sharelake-mpyc-") as tmp:
        logs = [Path(tmp) / f"party{i}.{kind}" for i in range(3) for kind in ("out", "err")]
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for i in range(3):
                with logs[2 * i].open("wb") as out, logs[2 * i + 1].open("wb") as err:
                    cmd = [sys.executable, str(PROGRAM), *args, "-I", str(i)]
                    procs.append(subprocess.Popen(cmd, stdout=out, stderr=err))
            end = time.monotonic() + timeout
            for proc in procs:
                proc.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            return make_record("mpyc", op, n, None, note=f"did not finish within {timeout:g} s")
        finally:
            _stop(procs)
        for i, proc in enumerate(procs):
            if proc.returncode != 0:
                tail = logs[2 * i + 1].read_text(errors="replace").strip().splitlines()[-1:]
                msg = tail[0] if tail else f"exit code {proc.returncode}"
                return make_record("mpyc", op, n, None, note=f"mpyc P{i} failed: {msg}")
        outputs = [logs[2 * i].read_text() for i in range(3)]
    parts = [
        json.loads(line) for out in outputs for line in out.splitlines() if line.startswith("{")
    ]
    if len(parts) != 3 or not all(part["ok"] for part in parts):
        return make_record("mpyc", op, n, None, note="mpyc result failed the plaintext check")
    seconds = max(float(part["seconds"]) for part in parts)
    sent = max(int(part["bytes"]) for part in parts)
    return make_record(
        "mpyc",
        op,
        n,
        seconds,
        nbytes=sent,
        note=f"MPyC {parts[0].get('version', '?')} SecInt(64) -M3, {_extras(parts[0])}",
    )


def _extras(part: dict[str, object]) -> str:
    extras = part.get("extras")
    have = set(extras) if isinstance(extras, list) else set()
    return ", ".join(m if m in have else f"no {m}" for m in ("gmpy2", "uvloop"))


def run_mpyc_sweep(
    ops: list[str],
    sizes: list[int],
    *,
    timeout: float = 60.0,
    on_record: Callable[[Record], None] | None = None,
) -> list[Record]:
    """Every op at increasing sizes; after a timeout the larger sizes are skipped."""
    records: list[Record] = []
    for op in ops:
        given_up: float | None = None
        for n in sorted(sizes):
            if given_up is not None:
                note = f"skipped: a smaller size did not finish within {given_up:g} s"
                rec = make_record("mpyc", op, n, None, note=note)
            else:
                rec = run_mpyc(op, n, timeout=timeout)
                if rec["seconds"] is None and "within" in (rec["note"] or ""):
                    given_up = timeout
            records.append(rec)
            if on_record is not None:
                on_record(rec)
    return records

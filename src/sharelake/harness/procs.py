"""Run one protocol body as three OS processes joined by mutual TLS on loopback.

:func:`run_in_processes` writes each party's inputs to files (JSON + ``.npz``, no
pickle), starts ``python -m sharelake.harness.party_main`` three times, tells every child
its peers' ports once all three listen (each binds port 0 itself, so parallel test runs
cannot collide), and collects the results or the errors the children wrote. A child
may report progress with :func:`emit`; the parent hands each event to ``on_event``.
"""

from __future__ import annotations

import atexit
import builtins
import importlib
import importlib.util
import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import errors
from ..consortium.certs import issue_node_cert, make_ca
from ..mpc import checks
from ..net.relay import LinkSpec, Relay
from .codec import load_value, save_value

EventFn = Callable[[dict[str, Any]], None]
CTL = "$ctl"

# ---- inside a party process ---------------------------------------------------------

_events_fd: int | None = None
_events_party = -1
_events_lock = threading.Lock()


def _set_events(fd: int, party: int) -> None:
    global _events_fd, _events_party
    _events_fd, _events_party = fd, party


def emit(event: Mapping[str, Any]) -> None:
    """Send a JSON progress event to the parent process (a no-op outside a party process)."""
    if _events_fd is None:
        return
    line = json.dumps({"party": _events_party, **event}).encode() + b"\n"
    with _events_lock:
        os.write(_events_fd, line)


# ---- in the parent ------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    """A CA and the three node certificates, in ``directory``."""

    directory: Path
    cafile: Path
    certs: tuple[tuple[Path, Path], ...]  # (cert, key) per node


_pki: Pki | None = None
_pki_lock = threading.Lock()


def local_pki() -> Pki:
    """A fresh CA and node certificates, made once per parent process."""
    global _pki
    with _pki_lock:
        if _pki is None or not _pki.cafile.exists():
            d = Path(tempfile.mkdtemp(prefix="sharelake-pki-"))
            atexit.register(shutil.rmtree, d, True)
            ca = make_ca(d)
            nodes = [issue_node_cert(ca, i, d) for i in range(3)]
            _pki = Pki(d, ca.cert_path, tuple((n.cert_path, n.key_path) for n in nodes))
        return _pki


def import_path(obj: Any, what: str = "fn") -> str:
    """``module:qualname`` of a module-level function; TypeError for anything else."""
    mod, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if callable(obj) and mod == "__main__" and main_file and "<" not in qual and "." not in qual:
        # A script's function: the child loads the script file as a module (the script's
        # ``if __name__ == "__main__":`` guard keeps it from running again).
        return f"file:{Path(main_file).resolve()}:{qual}"
    if not callable(obj) or not mod or mod == "__main__" or "<" in qual:
        raise TypeError(
            f"{what} must be a module-level function to run in separate processes, got {obj!r}"
        )
    target: Any = importlib.import_module(mod)
    for part in qual.split("."):
        target = getattr(target, part, None)
    if target is not obj:
        raise TypeError(f"{what} {mod}:{qual} cannot be imported by name")
    return f"{mod}:{qual}"


def resolve(path: str) -> Any:
    """Import ``module:qualname`` (or ``file:/path/script.py:name`` for a script's function)."""
    if path.startswith("file:"):
        file, _, name = path[len("file:") :].rpartition(":")
        spec = importlib.util.spec_from_file_location("__sharelake_script__", file)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {file}")
        module = importlib.util.module_from_spec(spec)
        sys.modules["__sharelake_script__"] = module
        spec.loader.exec_module(module)
        return getattr(module, name)
    mod, _, qual = path.partition(":")
    target: Any = importlib.import_module(mod)
    for part in qual.split("."):
        target = getattr(target, part)
    return target


def _tamper_arg(tamper: Any) -> str | None:
    if tamper is None or isinstance(tamper, str):
        if isinstance(tamper, str):
            from .tamper import validate_spec

            validate_spec(tamper)
        return tamper
    return "py:" + import_path(tamper, "tamper")


def rebuild_error(info: Mapping[str, Any]) -> BaseException:
    """The exception a child reported, as the same class when it is a known one."""
    name, module, msg = str(info["type"]), str(info["module"]), str(info["message"])
    exc: BaseException
    cls = getattr(errors, name, None) if module == errors.__name__ else None
    if module == checks.__name__ and name == checks.VerificationError.__name__:
        suspects = tuple(int(j) for j in info.get("suspects", ()))
        exc = checks.VerificationError(msg, check=str(info.get("check", "")), suspects=suspects)
    elif cls is errors.PeerAbortError:
        exc = errors.PeerAbortError(
            msg,
            node=int(info.get("node", -1)),
            check=str(info.get("check", "")),
            session=str(info.get("session", "")),
        )
    elif isinstance(cls, type) and issubclass(cls, errors.PeerError):
        exc = cls(msg, node=int(info.get("node", -1)), session=str(info.get("session", "")))
    elif isinstance(cls, type) and issubclass(cls, errors.SharelakeError):
        exc = cls(msg)
    else:
        b = getattr(builtins, name, None) if module == "builtins" else None
        if isinstance(b, type) and issubclass(b, Exception):
            try:
                exc = b(msg)
            except TypeError:
                exc = RuntimeError(f"{name}: {msg}")
        else:
            exc = RuntimeError(f"{module}.{name}: {msg}")
    if info.get("traceback"):
        exc.add_note(f"P{info.get('party')} traceback:\n{info['traceback']}")
    return exc


def _reader(i: int, fd: int, q: queue.SimpleQueue[tuple[int, dict[str, Any] | None]]) -> None:
    with os.fdopen(fd, "rb") as f:
        for line in f:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                q.put((i, obj))
    q.put((i, None))


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [p if p else os.getcwd() for p in sys.path]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def run_in_processes(
    fn: Callable[..., Any],
    inputs: list[Mapping[str, Any]] | None = None,
    *,
    deadline: float = 30.0,
    tamper: Any = None,
    on_event: EventFn | None = None,
    timeout: float | None = 600.0,
    session: str | None = None,
    link: LinkSpec | None = None,
    ends: bool = False,
) -> list[Any]:
    """Run ``fn(party, **inputs[i])`` in three TLS-connected processes; return the results.

    ``ends=True`` returns each party's own end instead of raising: its result, or the
    exception it reported (a child that died without a report: PeerDisconnectedError).

    ``link`` puts a latency relay (:mod:`sharelake.net.relay`) in front of every party's
    listener, so every node-to-node message crosses a simulated wide-area link.

    ``fn`` (and a callable ``tamper``) must be module-level functions; ``tamper`` may
    also be a spec string such as ``"flip:1->0"``. ``timeout`` bounds the whole run
    (children are killed and TimeoutError raised). The first error a party raised is
    re-raised as its own class: a party's own failure before a PeerAbortError, and that
    before a lost peer.
    """
    target = import_path(fn)
    tamper_arg = _tamper_arg(tamper)
    args = list(inputs) if inputs is not None else [{}, {}, {}]
    if len(args) != 3:
        raise ValueError("inputs must hold one mapping per party")
    pki = local_pki()
    sess = session or secrets.token_hex(16)
    end = time.monotonic() + timeout if timeout is not None else float("inf")
    with tempfile.TemporaryDirectory(prefix="sharelake-run-") as tmp:
        work = Path(tmp)
        for i, a in enumerate(args):
            save_value(dict(a), work / f"in{i}")
        config = {
            "fn": target,
            "deadline": deadline,
            "session": sess,
            "tamper": tamper_arg,
            "cafile": str(pki.cafile),
            "certs": [[str(c), str(k)] for c, k in pki.certs],
        }
        (work / "config.json").write_text(json.dumps(config))
        q: queue.SimpleQueue[tuple[int, dict[str, Any] | None]] = queue.SimpleQueue()
        procs: list[subprocess.Popen[bytes]] = []
        relays: list[Relay] = []
        env = _child_env()
        try:
            for i in range(3):
                r, w = os.pipe()
                with open(work / f"stderr{i}.txt", "wb") as err:
                    procs.append(
                        subprocess.Popen(
                            [
                                sys.executable,
                                "-m",
                                "sharelake.harness.party_main",
                                tmp,
                                str(i),
                                str(w),
                            ],
                            stdin=subprocess.PIPE,
                            stderr=err,
                            pass_fds=(w,),
                            env=env,
                        )
                    )
                os.close(w)
                threading.Thread(target=_reader, args=(i, r, q), daemon=True).start()
            relays = _supervise(procs, q, on_event, end, timeout, link)
        finally:
            for relay in relays:
                relay.close()
            for p in procs:
                if p.poll() is None:
                    p.kill()
            for p in procs:
                p.wait()
        return _collect(work, procs, ends=ends)


def _supervise(
    procs: list[subprocess.Popen[bytes]],
    q: queue.SimpleQueue[tuple[int, dict[str, Any] | None]],
    on_event: EventFn | None,
    end: float,
    timeout: float | None,
    link: LinkSpec | None = None,
) -> list[Relay]:
    """Hand out addresses once all listen, relay events, wait for every child to exit.

    Returns the latency relays it started (one per party when ``link`` is given), which
    the caller closes.
    """
    ports: dict[int, int] = {}
    told = False
    relays: list[Relay] = []
    while any(p.poll() is None for p in procs):
        if time.monotonic() > end:
            for r in relays:
                r.close()
            raise TimeoutError(f"the three parties did not finish within {timeout} s")
        if not told and any(p.poll() is not None for p in procs):
            return relays  # a child died before the mesh formed: the others cannot proceed
        try:
            i, ev = q.get(timeout=0.05)
        except queue.Empty:
            continue
        if ev is None:
            continue
        if ev.get(CTL) == "listening":
            ports[i] = int(ev["port"])
            if len(ports) == 3 and not told:
                addrs = [("127.0.0.1", ports[j]) for j in range(3)]
                if link is not None:
                    d, bw = link.delay, link.bandwidth
                    relays = [Relay(a, delay_up=d, delay_down=d, bandwidth=bw) for a in addrs]
                    for r in relays:
                        r.start()
                    addrs = [r.address for r in relays]
                line = json.dumps({"addrs": [list(a) for a in addrs]})
                for p in procs:
                    assert p.stdin is not None
                    p.stdin.write(line.encode() + b"\n")
                    p.stdin.close()
                told = True
        elif on_event is not None:
            on_event(ev)
    while on_event is not None:  # events still buffered after the children exited
        try:
            _, ev = q.get(timeout=0.05)
        except queue.Empty:
            break
        if ev is not None and CTL not in ev:
            on_event(ev)
    return relays


def _collect(work: Path, procs: list[subprocess.Popen[bytes]], *, ends: bool) -> list[Any]:
    failures: list[BaseException] = []
    dead: list[BaseException] = []  # children that exited without a result of their own
    results: list[Any] = [None, None, None]
    for i, p in enumerate(procs):
        err_file = work / f"error{i}.json"
        if err_file.exists():
            failures.append(rebuild_error(json.loads(err_file.read_text())))
            results[i] = failures[-1]
        elif p.returncode != 0 or not (work / f"out{i}.json").exists():
            tail = (work / f"stderr{i}.txt").read_text(errors="replace")[-2000:]
            died = errors.PeerDisconnectedError(
                f"P{i} exited with code {p.returncode} without a result", node=i
            )
            if tail:
                died.add_note(f"P{i} stderr:\n{tail}")
            dead.append(died)
            results[i] = died
        else:
            results[i] = load_value(work / f"out{i}")
    if ends:
        return results
    # a party's own failure first, then a peer's abort notice, then a lost peer
    for told in (False, True):
        for exc in failures:
            lost = isinstance(exc, errors.PeerDisconnectedError)
            if not lost and isinstance(exc, errors.PeerAbortError) == told:
                raise exc
    # A party that died names the real culprit; the survivors may have seen each other
    # close first (P1 aborts when P2 dies, and P0 then sees P1 go).
    if dead:
        raise dead[0]
    if failures:
        raise failures[0]
    return results

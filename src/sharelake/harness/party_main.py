"""Entry point of one party process started by :func:`~sharelake.harness.procs.run_in_processes`.

``python -m sharelake.harness.party_main WORKDIR PARTY EVENTS_FD``: loads the body and the
inputs, binds a listener on a free loopback port and reports it, reads the peers'
addresses from stdin, joins the TLS mesh, runs ``Party.setup`` and the body, and writes
``outP.json``/``.npz`` or ``errorP.json`` into WORKDIR.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from ..errors import PeerAbortError, PeerError
from ..mpc.channel import Channel, notify_abort
from ..mpc.checks import VerificationError
from ..mpc.party import Party
from ..net.tls import TLSChannel, bind_listener, connect_mesh
from . import procs
from .codec import load_value, save_value
from .tamper import TamperingChannel, tamper_from_spec


def _error_info(party: int, exc: BaseException) -> dict[str, Any]:
    info: dict[str, Any] = {
        "party": party,
        "type": type(exc).__name__,
        "module": type(exc).__module__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
    }
    if isinstance(exc, PeerError):
        info["node"] = exc.node
        info["session"] = exc.session
    if isinstance(exc, VerificationError):
        info["check"] = exc.check
        info["suspects"] = list(exc.suspects)
    if isinstance(exc, PeerAbortError):
        info["node"] = exc.node
        info["check"] = exc.check
        info["session"] = exc.session
    return info


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


def run(work: Path, me: int, events_fd: int) -> int:
    """Run party ``me``; returns the process exit code."""
    procs._set_events(events_fd, me)
    tls: TLSChannel | None = None
    try:
        cfg = json.loads((work / "config.json").read_text())
        fn = procs.resolve(cfg["fn"])
        inputs = load_value(work / f"in{me}")
        listener = bind_listener(("127.0.0.1", 0))
        procs.emit({procs.CTL: "listening", "port": listener.getsockname()[1]})
        line = sys.stdin.readline()
        if not line:
            raise RuntimeError("the parent closed the control pipe before the mesh formed")
        addrs = [(str(h), int(p)) for h, p in json.loads(line)["addrs"]]
        certfile, keyfile = cfg["certs"][me]
        deadline = float(cfg["deadline"])
        try:
            tls = connect_mesh(
                me,
                addrs,
                certfile,
                keyfile,
                cfg["cafile"],
                cfg["session"],
                deadline=deadline,
                setup_deadline=max(deadline, 30.0),
                listener=listener,
            )
        finally:
            listener.close()
        chan: Channel = tls
        spec = cfg.get("tamper")
        if spec:
            tfn = procs.resolve(spec[3:]) if spec.startswith("py:") else tamper_from_spec(spec)
            chan = TamperingChannel(tls, tfn)
        party = Party.setup(chan)
        result = fn(party, **inputs)
        tls.flush()
        tls.close()
        save_value(result, work / f"out{me}")
        return 0
    except BaseException as exc:
        if tls is not None:
            notify_abort(tls, exc)
            tls.close(drain=False)
        _write_json(work / f"error{me}.json", _error_info(me, exc))
        return 1


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: WORKDIR PARTY EVENTS_FD."""
    a = sys.argv[1:] if argv is None else argv
    return run(Path(a[0]), int(a[1]), int(a[2]))


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)

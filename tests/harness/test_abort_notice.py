"""Verdict agreement when the second honest node waits on the cheater, not the detector.

The node that sees a failed check sends an abort notice naming the check (never a value)
to both peers (mpc.channel.notify_abort). A node waiting on the CHEATER does not read
the detector's stream, and the cheater typically stops (it lost the detector): the
notice is then looked for on the other peer's stream before a peer loss is raised, so
the second honest node aborts with PeerAbortError naming the check and the detector,
in memory and over TLS.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sharelake.harness.cheat import Injection, run_injected
from sharelake.harness.procs import run_in_processes
from sharelake.mpc.arith import open_arith
from sharelake.mpc.channel import notify_abort
from sharelake.mpc.party import Party
from sharelake.mpc.shares import AShare
from sharelake.mpc.sharing import share_arith
from sharelake.net.memory import run_in_memory

#: P1 alters (on the wire only) its first message after setup: its component of the
#: first opening, sent to P0. P0 sees the disagreement; P2's copy of the opening is fine.
TAMPER = Injection(party=1, message=0, word=0, error=1, consistent=False)


def _end(exc: BaseException) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "check": str(getattr(exc, "check", "")),
        "node": int(getattr(exc, "node", -1)),
    }


def opening_then_relay(p: Party, x: AShare) -> dict[str, Any]:
    """Open x; then P0 -> P1 and P1 -> P2: P2 waits on P1, which waits on P0 (the node
    that failed), so P2 would see only P1's loss without the notice."""
    try:
        first = open_arith(p, x)
        if p.id == 0:
            p.exchange({1: first}, {})
        elif p.id == 1:
            p.exchange({}, {0: first.nbytes})
            p.exchange({2: first}, {})
        else:
            p.exchange({}, {1: first.nbytes})
        return {"type": "returned", "check": "", "node": -1}
    except Exception as exc:
        notify_abort(p.chan, exc)  # the runners do this for an escaping exception
        return _end(exc)


def _inputs() -> list[dict[str, Any]]:
    xs = share_arith(np.arange(16, dtype=np.uint64))
    return [{"x": xs[i]} for i in range(3)]


def _assert_agreement(ends: list[dict[str, Any]]) -> None:
    assert ends[0] == {"type": "VerificationError", "check": "open", "node": -1}, ends
    # P2 aborts naming the check and the node that reported it, not a loss of P1
    assert ends[2] == {"type": "PeerAbortError", "check": "open", "node": 0}, ends


def test_the_second_honest_node_aborts_naming_the_failed_check_in_memory() -> None:
    from sharelake.harness.cheat import Cheater

    ends = run_in_memory(opening_then_relay, _inputs(), tamper=Cheater(TAMPER), deadline=20)
    _assert_agreement(ends)


def test_the_second_honest_node_aborts_naming_the_failed_check_over_tls() -> None:
    ends = run_in_processes(
        opening_then_relay, _inputs(), deadline=20.0, timeout=120, tamper=TAMPER.spec
    )
    _assert_agreement(ends)


def _open_twice(p: Party, x: AShare) -> Any:
    first = open_arith(p, x)
    return [first, open_arith(p, x)]


def test_the_cheating_harness_counts_both_honest_nodes_raising_integrity_errors() -> None:
    t = run_injected(_open_twice, _inputs(), TAMPER, expected=None)
    assert t.outcome == "detected" and t.both, t

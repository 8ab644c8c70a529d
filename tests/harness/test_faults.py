"""Three party processes over TLS: results, crashes, silence, tampering, events."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sharelake.errors import IntegrityError, PeerAbortError, PeerError, PeerTimeoutError
from sharelake.harness.procs import run_in_processes
from sharelake.harness.runner import run_parties
from sharelake.harness.tamper import tamper_from_spec
from sharelake.mpc.checks import VerificationError
from sharelake.mpc.shares import AShare
from sharelake.mpc.sharing import share_arith
from sharelake.net.memory import run_in_memory

from . import bodies

pytestmark = [pytest.mark.tls, pytest.mark.faults]


def _shared(x: np.ndarray[Any, Any]) -> list[AShare]:
    return share_arith(x.astype(np.uint64))


def test_secure_products_match_numpy_over_either_transport(transport: str) -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2**64, size=1000, dtype=np.uint64)
    y = rng.integers(0, 2**64, size=1000, dtype=np.uint64)
    xs, ys = _shared(x), _shared(y)
    out = run_parties(
        bodies.mul_and_open,
        [{"x": xs[i], "y": ys[i]} for i in range(3)],
        transport=transport,  # type: ignore[arg-type]
        deadline=10.0,
    )
    for r in out:
        assert np.array_equal(r, x * y)


def test_a_tampering_party_is_caught_when_a_value_is_opened(transport: str) -> None:
    xs = _shared(np.arange(100, dtype=np.uint64))
    # P0 gets a wrong component from P1 and the right digest from P2: it names both
    with pytest.raises(IntegrityError, match=r"opening failed.*one of P1, P2 deviated"):
        run_parties(
            bodies.open_value,
            [{"x": xs[i]} for i in range(3)],
            transport=transport,  # type: ignore[arg-type]
            deadline=10.0,
            tamper="flip:1->0",
        )


def test_both_honest_nodes_abort_naming_the_check_when_one_of_them_catches_a_tampered_opening(
    transport: str,
) -> None:
    xs = _shared(np.arange(100, dtype=np.uint64))
    inputs = [{"x": xs[i]} for i in range(3)]
    # P1 alters what it sends P0: P0's opening fails; P2's opening succeeds, and only
    # P0's abort notice can stop P2 from answering
    if transport == "memory":
        flip = tamper_from_spec("flip:1->0")
        ends = run_in_memory(bodies.open_then_finish, inputs, deadline=10.0, tamper=flip, ends=True)
    else:
        ends = run_in_processes(
            bodies.open_then_finish, inputs, deadline=10.0, tamper="flip:1->0", ends=True
        )
    caught, told = ends[0], ends[2]
    assert isinstance(caught, VerificationError), ends
    assert caught.suspects == (1, 2)
    assert isinstance(told, PeerAbortError), ends
    assert (told.node, told.check) == (0, caught.check)
    assert "aborted the query" in str(told)
    assert not any(isinstance(e, np.ndarray) for e in ends)  # nobody has a value to release


def test_a_node_that_dies_mid_protocol_makes_the_others_abort_naming_it() -> None:
    xs = _shared(np.arange(10, dtype=np.uint64))
    with pytest.raises(PeerError) as info:
        run_in_processes(
            bodies.die_after_setup, [{"x": xs[i]} for i in range(3)], deadline=10.0, timeout=60
        )
    assert info.value.node == 2


def test_a_silent_node_raises_a_timeout_naming_it() -> None:
    xs = _shared(np.arange(10, dtype=np.uint64))
    with pytest.raises(PeerTimeoutError, match="P2") as info:
        run_in_processes(
            bodies.silent_party,
            [{"x": xs[i], "pause": 4.0} for i in range(3)],
            deadline=1.0,
            timeout=60,
        )
    assert info.value.node == 2


def test_results_and_messages_come_back_from_each_process() -> None:
    payloads = [np.full(1 << 20, i, dtype=np.uint64) for i in range(3)]
    out = run_in_processes(bodies.echo_ring, [{"payload": p} for p in payloads], timeout=60)
    for i, r in enumerate(out):
        assert r["id"] == i
        assert np.array_equal(r["got"], payloads[(i + 2) % 3])
        assert r["messages"] == 3  # two setup messages and one exchange


def test_progress_events_reach_the_parent() -> None:
    seen: list[dict[str, Any]] = []
    out = run_in_processes(
        bodies.report_progress, [{"steps": 3}] * 3, on_event=seen.append, timeout=60
    )
    assert out == [0, 1, 2]
    assert sorted((e["party"], e["step"]) for e in seen) == [
        (p, k) for p in range(3) for k in range(3)
    ]


def test_a_local_function_is_refused_for_processes() -> None:
    def local(party: Any) -> None:
        return None

    with pytest.raises(TypeError, match="module-level"):
        run_in_processes(local)


def test_a_bad_tamper_spec_is_refused() -> None:
    with pytest.raises(ValueError, match="tamper spec"):
        run_in_processes(bodies.open_value, tamper="flip:1->1")


def test_a_function_defined_in_a_script_runs_in_three_tls_processes(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        "import numpy as np\n"
        "from sharelake.mpc import arith\n"
        "from sharelake.mpc.ring import to_ring, to_signed\n"
        "from sharelake.mpc.sharing import share_arith\n"
        "from sharelake.harness.runner import run_parties\n"
        "def body(p, x):\n"
        "    return arith.open_arith(p, arith.mul(p, x, x))\n"
        "if __name__ == '__main__':\n"
        "    xs = share_arith(to_ring(np.arange(4)))\n"
        "    out = run_parties(body, [{'x': s} for s in xs], transport='tls')\n"
        "    print(to_signed(out[0]).tolist())\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[0, 1, 4, 9]"

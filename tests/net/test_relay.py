"""The latency relay: bytes arrive intact, in order, after the configured delay and cap."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from sharelake.net.relay import LinkSpec, Relay, parse_bandwidth, parse_duration, relay_all


def _echo_server() -> tuple[socket.socket, threading.Thread]:
    srv = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            while data := conn.recv(1 << 16):
                conn.sendall(data)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, t


def _round_trip(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    got = bytearray()
    while len(got) < len(payload):
        chunk = sock.recv(1 << 16)
        assert chunk, "the relay closed the connection early"
        got += chunk
    return bytes(got)


def test_bytes_pass_the_relay_unchanged_and_in_order() -> None:
    srv, _ = _echo_server()
    payload = os.urandom(3 << 20)
    with (
        Relay(srv.getsockname(), delay_up=0.0, delay_down=0.0) as relay,
        socket.create_connection(relay.address) as c,
    ):
        assert _round_trip(c, payload) == payload
    srv.close()


def test_a_round_trip_through_the_relay_takes_at_least_both_delays() -> None:
    srv, _ = _echo_server()
    with (
        Relay(srv.getsockname(), delay_up=0.03, delay_down=0.02) as relay,
        socket.create_connection(relay.address) as c,
    ):
        _round_trip(c, b"warm-up")
        times = []
        for _ in range(3):
            t0 = time.monotonic()
            assert _round_trip(c, b"ping") == b"ping"
            times.append(time.monotonic() - t0)
    srv.close()
    assert min(times) >= 0.05


def test_a_bandwidth_cap_stretches_a_large_transfer() -> None:
    srv, _ = _echo_server()
    payload = os.urandom(1 << 20)  # 8 Mbit at 40 Mbit/s: >= 0.2 s each way
    with (
        Relay(srv.getsockname(), bandwidth=40e6) as relay,
        socket.create_connection(relay.address) as c,
    ):
        t0 = time.monotonic()
        assert _round_trip(c, payload) == payload
        took = time.monotonic() - t0
    srv.close()
    assert took >= 0.2


def test_a_relay_to_a_closed_port_closes_the_dialled_connection() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()
    s.close()
    with (
        Relay(dead) as relay,
        socket.create_connection(relay.address) as c,
    ):
        c.settimeout(5)
        assert c.recv(10) == b""


def test_relay_all_puts_half_the_rtt_on_each_direction() -> None:
    relays = relay_all([("127.0.0.1", 1), ("127.0.0.1", 2)], rtt=0.05, bandwidth=1e9)
    try:
        half = LinkSpec(0.025, 1e9)
        assert [(r.up, r.down) for r in relays] == [(half, half)] * 2
    finally:
        for r in relays:
            r.close()


@pytest.mark.parametrize(
    ("text", "seconds"), [("10ms", 0.01), ("50 ms", 0.05), ("1s", 1.0), ("250us", 0.00025)]
)
def test_durations_parse_with_their_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "ten ms", "10 parsecs", "-5ms"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_bandwidths_parse_and_bad_ones_are_refused() -> None:
    assert parse_bandwidth("1Gbit") == 1e9
    assert parse_bandwidth("2.5Mbit/s") == 2.5e6
    with pytest.raises(ValueError, match="bandwidth"):
        parse_bandwidth("fast")
    with pytest.raises(ValueError, match="bandwidth"):
        parse_bandwidth("0")


def test_three_processes_behind_relays_pay_one_rtt_per_round_and_compute_the_same() -> None:
    from sharelake.harness.procs import run_in_processes

    from ..harness import bodies

    rounds = 10
    out = run_in_processes(
        bodies.timed_exchanges, [{"rounds": rounds}] * 3, link=LinkSpec.from_rtt(0.04), timeout=120
    )
    for i, r in enumerate(out):
        assert r["got"] == [(i + 1) % 3] * rounds  # pass_prev: each hears its next party
        # round r waits for a message its next party sent after its round r - 1, which
        # crossed one relayed direction (rtt / 2); the first may already be in flight
        assert r["seconds"] >= (rounds - 1) * 0.02

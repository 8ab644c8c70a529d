"""Malicious security with abort: products and AND gates are checked before any opening."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from sharelake.errors import IntegrityError, ProtocolError
from sharelake.harness.cheat import Cheater, Injection
from sharelake.mpc import arith, boolean, compare, convert, fixed
from sharelake.mpc.arith import open_bool
from sharelake.mpc.bits import open_bits
from sharelake.mpc.checks import InsufficientCheckingError, VerificationError, require_checked
from sharelake.mpc.party import Party
from sharelake.mpc.ring import to_ring
from sharelake.mpc.sharing import share_arith, share_bool
from sharelake.mpc.verify import log2_binom, parameters, soundness_bits, verify
from sharelake.net.memory import run_in_memory

I64 = np.iinfo(np.int64)
EDGES = np.array([0, 1, -1, I64.min, I64.max, I64.min + 1, I64.max - 1, 2, -2], dtype=np.int64)


def _columns(n: int, seed: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    x = np.concatenate([EDGES, rng.integers(I64.min, I64.max, n, dtype=np.int64)])
    y = np.concatenate([EDGES[::-1], rng.integers(I64.min, I64.max, n, dtype=np.int64)])
    y[len(EDGES) : len(EDGES) + n // 4] = x[len(EDGES) : len(EDGES) + n // 4]  # ties for eq, lt
    return x, y


def _inputs(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> list[dict[str, Any]]:
    xs, ys = share_arith(to_ring(x)), share_arith(to_ring(y))
    bx, by = share_bool(to_ring(x)), share_bool(to_ring(y))
    return [{"x": xs[i], "y": ys[i], "bx": bx[i], "by": by[i]} for i in range(3)]


def body_everything(p: Party, x: Any, y: Any, bx: Any, by: Any) -> dict[str, Any]:
    return {
        "mul": arith.open_arith(p, arith.mul(p, x, y), check="mul"),
        "and": open_bool(p, boolean.and_(p, bx, by), check="and"),
        "lt": open_bits(p, compare.lt(p, x, y)),
        "ltu": open_bits(p, compare.lt(p, x, y, signed=False)),
        "eq": open_bits(p, compare.eq(p, x, y)),
        "a2b": open_bool(p, convert.a2b(p, x)),
        "b2a": arith.open_arith(p, convert.b2a(p, bx)),
        "bit9": open_bits(p, convert.bit_extract(p, x, 9)),
        "sel": arith.open_arith(p, compare.select(p, compare.lt(p, x, y), x, y)),
        "trunc": arith.open_arith(p, fixed.trunc(p, x, 16)),
        # probabilistic truncation is in spec for |x| < 2^44 (fails w.p. 2^-19 per value)
        "trunc_p": arith.open_arith(
            p, fixed.trunc(p, fixed.trunc(p, x, 20), 7, mode="probabilistic")
        ),
        "steps": dict(p.checks.semi_honest_steps),
        "verified": (p.checks.verified_products, p.checks.verified_and_words),
    }


def _plain(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> dict[str, Any]:
    with np.errstate(over="ignore"):
        prod = (x * y).view(np.uint64)
    return {
        "mul": prod,
        "and": (x & y).view(np.uint64),
        "lt": x < y,
        "ltu": x.view(np.uint64) < y.view(np.uint64),
        "eq": x == y,
        "a2b": x.view(np.uint64),
        "b2a": x.view(np.uint64),
        "bit9": ((x >> 9) & 1).astype(bool),
        "sel": np.where(x < y, x, y).view(np.uint64),
        "trunc": (x >> 16).view(np.uint64),
    }


def _catching(fn: Callable[..., Any]) -> Callable[..., Any]:
    def body(p: Party, **kw: Any) -> Any:
        try:
            return fn(p, **kw)
        except Exception as exc:  # each party's own outcome, compared below
            return exc

    return body


@pytest.mark.parametrize("security", ["malicious", "semi-honest"])
def test_honest_runs_equal_the_plaintext_twins_at_both_security_levels(security: str) -> None:
    x, y = _columns(300, 1)
    res = run_in_memory(body_everything, _inputs(x, y), security=security)  # type: ignore[arg-type]
    want = _plain(x, y)
    for r in res:
        for name, value in want.items():
            np.testing.assert_array_equal(r[name], value, err_msg=name)
        # floor or one more (exact in the malicious setting, where it runs the exact path)
        late = r["trunc_p"].view(np.int64) - (x >> 27)
        assert set(np.unique(late)) <= ({0} if security == "malicious" else {0, 1})
        # mul, AND, comparisons, A2B, B2A, bit extraction, select and truncation need no step
        # outside the checks in the malicious setting
        if security == "malicious":
            assert r["steps"] == {}
    products, and_words = res[0]["verified"]
    if security == "malicious":
        assert products >= len(x) and and_words > len(x)
    else:
        assert (products, and_words) == (0, 0)


@pytest.mark.parametrize("bits", [1, 2, 17, 63, 64])
def test_the_checked_equality_test_matches_the_plaintext_on_near_misses_at_every_width(
    bits: int,
) -> None:
    rng = np.random.default_rng(bits)
    x = rng.integers(0, 2**64, 400, dtype=np.uint64)
    y = x.copy()
    y[:64] ^= np.uint64(1) << np.arange(64, dtype=np.uint64)  # one bit off, at each position
    y[64:65] = x[64:65] + np.uint64(2**63)
    y[65:200] = rng.integers(0, 2**64, 135, dtype=np.uint64)
    xs, ys = share_arith(x), share_arith(y)

    def body(p: Party, x: Any, y: Any) -> Any:
        e = compare.eq(p, x, y, bits=bits)
        rounds = p.chan.stats.snapshot()[0]
        return open_bits(p, e), rounds, dict(p.checks.semi_honest_steps)

    res = run_in_memory(body, [{"x": xs[i], "y": ys[i]} for i in range(3)], security="malicious")
    mask = np.uint64(2**bits - 1)
    want = ((x - y) & mask) == 0
    for got, _, steps in res:
        np.testing.assert_array_equal(got, want)
        assert steps == {}
    # one AND layer and the 6-level tree: as many rounds as the semi-honest test (setup: 1)
    assert res[0][1] == 1 + (bits > 1) + int(np.ceil(np.log2(bits)))


def test_a_product_with_an_added_error_makes_all_three_parties_abort_naming_the_check() -> None:
    x, y = _columns(100, 2)
    sent: dict[int, int] = {}

    def add_error(src: int, dst: int, data: bytes) -> bytes:
        if src != 1:
            return data
        sent[src] = sent.get(src, 0) + 1
        if sent[src] != 3:  # two setup messages, then P1's term of the product
            return data
        out = np.frombuffer(data, dtype=np.uint64).copy()
        out[5:6] += np.uint64(
            1 << 63
        )  # (array add wraps) the zero divisor a linear check would miss half the time
        return out.tobytes()

    def body(p: Party, x: Any, y: Any, bx: Any, by: Any) -> Any:
        return arith.open_arith(p, arith.mul(p, x, y), check="mul")

    res = run_in_memory(_catching(body), _inputs(x, y), tamper=add_error, deadline=10)
    for r in res:
        assert isinstance(r, VerificationError), res
        assert r.check == "mul"
        assert "'mul' check" in str(r)
        # the message names the check and the nodes, never a value
        assert str(int(x[5])) not in str(r) and str(int(y[5])) not in str(r)


def test_an_and_word_with_one_flipped_bit_makes_all_three_parties_abort() -> None:
    x, y = _columns(100, 3)
    sent = [0]

    def flip(src: int, dst: int, data: bytes) -> bytes:
        if src != 2:
            return data
        sent[0] += 1
        if sent[0] != 3:
            return data
        out = bytearray(data)
        out[17] ^= 0x10
        return bytes(out)

    def body(p: Party, x: Any, y: Any, bx: Any, by: Any) -> Any:
        return open_bool(p, boolean.and_(p, bx, by), check="and")

    res = run_in_memory(_catching(body), _inputs(x, y), tamper=flip, deadline=10)
    assert all(isinstance(r, VerificationError) and r.check == "and" for r in res), res


def test_a_tampered_opening_inside_the_check_names_the_two_nodes_one_of_which_deviated() -> None:
    x, y = _columns(50, 4)
    sent = [0]

    def flip(src: int, dst: int, data: bytes) -> bytes:
        if src != 1 or dst != 0:
            return data
        sent[0] += 1
        # to P0: setup, product term, triples + commitment, seed, then the check's openings
        if sent[0] != 5:
            return data
        out = bytearray(data)
        out[3] ^= 1
        return bytes(out)

    def body(p: Party, x: Any, y: Any, bx: Any, by: Any) -> Any:
        return arith.open_arith(p, arith.mul(p, x, y), check="mul")

    res = run_in_memory(_catching(body), _inputs(x, y), tamper=flip, deadline=10)
    assert all(isinstance(r, VerificationError) for r in res), res
    assert res[0].suspects == (1, 2)  # P0 saw P1's copy disagree with P2's digest


def test_a_node_that_saw_a_tampered_opening_sends_no_digest_of_its_check_values() -> None:
    # with a wrong opened rho its check values would mix the error with the shares the
    # cheater lacks, and a digest of them could be brute-forced bit by bit
    x, y = _columns(50, 4)
    sent = [0]
    to_cheater: list[bytes] = []

    def flip(src: int, dst: int, data: bytes) -> bytes:
        if src == 0 and dst == 1:
            to_cheater.append(bytes(data))
        if src != 1 or dst != 0:
            return data
        sent[0] += 1
        if sent[0] != 5:  # P1's copy of the check's openings to P0 (as above)
            return data
        out = bytearray(data)
        out[3] ^= 1
        return bytes(out)

    def body(p: Party, x: Any, y: Any, bx: Any, by: Any) -> Any:
        return arith.open_arith(p, arith.mul(p, x, y), check="mul")

    res = run_in_memory(_catching(body), _inputs(x, y), tamper=flip, deadline=10)
    assert all(isinstance(r, VerificationError) for r in res), res
    last = to_cheater[-1]  # P0's zero-check message to P1: verdict, seed digest, digest
    assert len(last) == 1 + 16 + 32
    assert last[0] != 0 and last[17:] == bytes(32)


@pytest.mark.parametrize("stride", [pytest.param(1, marks=pytest.mark.slow), 5])
def test_an_error_in_any_message_of_a_comparison_select_and_truncation_run_is_detected(
    stride: int,
) -> None:
    x, y = _columns(64, 5)
    want = _plain(x, y)

    def body(p: Party, x: Any, y: Any, bx: Any, by: Any) -> Any:
        below = compare.lt(p, x, y)
        return {
            "lt": open_bits(p, below),
            "eq": open_bits(p, compare.eq(p, x, y)),
            "sel": arith.open_arith(p, fixed.trunc(p, compare.select(p, below, x, y), 16)),
        }

    counted = [0]

    def count(src: int, dst: int, data: bytes) -> bytes:
        counted[0] += src == 1
        return data

    run_in_memory(body, _inputs(x, y), tamper=count)
    rng = np.random.default_rng(17)
    for target in range(3, counted[0] + 1, stride):  # every message of P1 after the setup
        seen = [0]

        def inject(
            src: int, dst: int, data: bytes, target: int = target, seen: list[int] = seen
        ) -> bytes:
            if src != 1:
                return data
            seen[0] += 1
            if seen[0] != target or not data:
                return data
            out = bytearray(data)
            out[int(rng.integers(len(out)))] ^= 1 << int(rng.integers(8))
            return bytes(out)

        res = run_in_memory(_catching(body), _inputs(x, y), tamper=inject, deadline=10)
        assert any(isinstance(r, IntegrityError) for r in res), (target, res)
        for r in res:
            if isinstance(r, dict):  # a party that finished saw only correct values
                np.testing.assert_array_equal(r["lt"], want["lt"])
                np.testing.assert_array_equal(r["eq"], want["eq"])
                np.testing.assert_array_equal(
                    r["sel"], (np.where(x < y, x, y) >> 16).view(np.uint64)
                )


def test_opening_by_hand_with_unchecked_products_queued_is_a_programming_error() -> None:
    x, y = _columns(20, 6)

    def body(p: Party, x: Any, y: Any, bx: Any, by: Any) -> Any:
        arith.mul(p, x, y)
        queued = p.checks.pending
        try:
            require_checked(p, "a hand-rolled opening")
        except InsufficientCheckingError as exc:
            verify(p, check="test")
            require_checked(p, "the same opening after the check")  # passes now
            return queued, exc
        return queued, None

    for queued, exc in run_in_memory(body, _inputs(x, y)):
        assert queued == len(x)
        assert isinstance(exc, InsufficientCheckingError) and isinstance(exc, ProtocolError)
        assert "unchecked" in str(exc)


def test_semi_honest_parties_queue_nothing_and_spend_nothing_on_checks() -> None:
    x, y = _columns(20, 7)

    def body(p: Party, x: Any, y: Any, bx: Any, by: Any) -> Any:
        arith.mul(p, x, y)
        pending = p.checks.pending
        require_checked(p, "an opening")
        return pending, "verify" in p.costs, p.security

    for r in run_in_memory(body, _inputs(x, y), security="semi-honest"):
        assert r == (0, False, "semi-honest")


def test_parties_at_different_security_levels_refuse_to_run_together() -> None:
    from sharelake.net.memory import MemoryChannel, _Hub

    hub = _Hub("mixed")
    errors: list[BaseException | None] = [None, None, None]
    import threading

    def one(i: int) -> None:
        chan = MemoryChannel(hub, i, deadline=10.0)
        try:
            Party.setup(chan, security="semi-honest" if i == 2 else "malicious")
        except BaseException as exc:
            errors[i] = exc
        finally:
            chan.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(e, ProtocolError) for e in errors), errors
    assert "security level" in str(errors[0])


@pytest.mark.parametrize("n", [1, 7, 64, 65, 1000, 4096, 10_000, 123_457, 1_000_000, 10**7])
def test_every_batch_size_gets_a_soundness_error_of_at_most_two_to_the_minus_forty(n: int) -> None:
    n2, k = parameters(n)
    assert n2 >= n and k >= 2
    assert soundness_bits(n) >= 40
    # and k is the least that reaches it (no more triples than needed)
    assert k == 2 or log2_binom((n2 + 1) * (k - 1), k - 1) < 40


def test_a_batch_larger_than_a_chunk_is_checked_piece_by_piece_and_its_last_piece_still_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sharelake.mpc import verify as verify_module

    monkeypatch.setattr(verify_module, "CHUNK", 100)
    x, y = _columns(250, 8)  # 259 products: three pieces

    def body(p: Party, x: Any, y: Any, bx: Any, by: Any) -> Any:
        out = arith.open_arith(p, arith.mul(p, x, y), check="mul")
        return out, p.costs["verify"].rounds

    for out, rounds in run_in_memory(body, _inputs(x, y)):
        np.testing.assert_array_equal(out, _plain(x, y)["mul"])
        assert rounds == 3 * verify_module.ROUNDS == 3 * 4
    sent = [0]

    def late_error(src: int, dst: int, data: bytes) -> bytes:
        if src != 0:
            return data
        sent[0] += 1
        if sent[0] != 3:  # P0: two setup messages, then its product terms
            return data
        out = np.frombuffer(data, dtype=np.uint64).copy()
        out[-1:] ^= np.uint64(1 << 40)  # the last product: in the third piece
        return out.tobytes()

    res = run_in_memory(
        _catching(lambda p, **kw: body(p, **kw)), _inputs(x, y), tamper=late_error, deadline=10
    )
    assert all(isinstance(r, VerificationError) for r in res), res


# ---- inner products and matrix products (one resharing of local terms) --------------------


def _matrices(n: int, d: int, m: int, seed: int) -> tuple[np.ndarray[Any, Any], ...]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2**64, (n, d), dtype=np.uint64)
    y = rng.integers(0, 2**64, (d, m), dtype=np.uint64)
    x[0, :] = np.uint64(2**63)  # edge values: the zero divisor, 0, -1
    y[:, 0] = 0
    y[0, :] = np.uint64(2**64 - 1)
    return x, y


def _exact_matmul(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    with np.errstate(over="ignore"):
        return (x[:, :, None] * y[None, :, :]).sum(axis=1, dtype=np.uint64)


def body_products(p: Party, x: Any, y: Any, xt: Any) -> dict[str, Any]:
    return {
        "matmul": arith.open_arith(p, arith.matmul(p, x, y)),
        "matmul20": arith.open_arith(p, arith.matmul(p, x, y, bits=20)),
        "dot": arith.open_arith(p, arith.dot(p, x, xt)),
        "steps": dict(p.checks.semi_honest_steps),
    }


def _product_inputs(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> list[dict[str, Any]]:
    xs, ys = share_arith(x), share_arith(y)
    xt = share_arith(np.ascontiguousarray(y.T[: x.shape[0]]))
    return [{"x": xs[i], "y": ys[i], "xt": xt[i]} for i in range(3)]


@pytest.mark.parametrize("security", ["malicious", "semi-honest"])
@pytest.mark.parametrize(("n", "d", "m"), [(3, 4, 5), (50, 3, 60)])
def test_matrix_and_inner_products_equal_the_plaintext_twins_at_both_levels(
    security: str, n: int, d: int, m: int
) -> None:
    x, y = _matrices(n, d, m, 7)
    res = run_in_memory(body_products, _product_inputs(x, y), security=security)  # type: ignore[arg-type]
    want = _exact_matmul(x, y)
    with np.errstate(over="ignore"):
        dots = (x * y.T[:n]).sum(axis=1, dtype=np.uint64)
    mask = np.uint64((1 << 20) - 1)
    for r in res:
        np.testing.assert_array_equal(r["matmul"], want)
        np.testing.assert_array_equal(r["matmul20"] & mask, want & mask)
        np.testing.assert_array_equal(r["dot"], dots)
        if security == "malicious":
            assert r["steps"] == {}  # every product verified


@pytest.mark.parametrize(("n", "d", "m"), [(3, 4, 5), (50, 3, 60)])
@pytest.mark.parametrize("error", [2**63, 1, 2**64 - 1, 0x9E3779B97F4A7C15])
@pytest.mark.parametrize("consistent", [True, False])
def test_an_error_in_any_entry_of_a_matrix_products_resharing_aborts_naming_the_check(
    n: int, d: int, m: int, error: int, consistent: bool
) -> None:
    x, y = _matrices(n, d, m, 8)
    rng = np.random.default_rng(error % 1000)

    def body(p: Party, x: Any, y: Any, xt: Any) -> Any:
        return arith.open_arith(p, arith.matmul(p, x, y))

    for party in range(3):
        # message 0 after setup: the party's reshared term; compressed on both sides
        # (Freivalds) when n, m > 41
        word = int(rng.integers(n * m))
        cheater = Cheater(Injection(party, 0, word, error, consistent=consistent))
        res = run_in_memory(_catching(body), _product_inputs(x, y), tamper=cheater, deadline=20)
        assert cheater.fired
        # the two other nodes abort naming the check: the product check fails (a kept
        # error) or the redundant opening inside it (an altered copy left the sharing
        # inconsistent), which names the two nodes one of which deviated
        for i, r in enumerate(res):
            if i == party:
                continue
            assert isinstance(r, VerificationError), res
            assert r.check == "matmul", res
            assert r.suspects in ((), tuple(j for j in range(3) if j != i)), res

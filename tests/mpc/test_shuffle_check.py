"""The shuffle's MAC check: its arithmetic is exact, and a cheating party is caught.

Every test injects errors through the cheating-party harness
(:mod:`sharelake.harness.cheat`) into the messages of real shuffle runs and checks the
plaintext twin of every honest run.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from sharelake.errors import IntegrityError
from sharelake.harness.cheat import Cheater, Injection, count_messages, run_injected
from sharelake.mpc import mac
from sharelake.mpc import shuffle as sh
from sharelake.mpc.arith import open_arith, open_bool
from sharelake.mpc.party import Party
from sharelake.mpc.shares import AShare, BShare
from sharelake.mpc.sharing import share_arith, share_bool
from sharelake.net.memory import run_in_memory

M64, M128 = (1 << 64) - 1, (1 << 128) - 1
EDGE = [0, 1, 2**32 - 1, 2**32, 2**63, M64]


def _wide(lo: np.ndarray[Any, Any], hi: np.ndarray[Any, Any]) -> list[int]:
    return [int(a) + (int(b) << 64) for a, b in zip(lo, hi, strict=True)]


def _words(rng: np.random.Generator, n: int) -> np.ndarray[Any, Any]:
    w = rng.integers(0, 2**64, n, dtype=np.uint64)
    w[: len(EDGE)] = EDGE[:n]
    return w


# ---- the local arithmetic ----------------------------------------------------------------


def test_wide_addition_subtraction_and_products_equal_python_integers_mod_2_128() -> None:
    rng = np.random.default_rng(1)
    lo, hi, slo, shi = (_words(rng, 40) for _ in range(4))
    want_add = [(a + b) & M128 for a, b in zip(_wide(lo, hi), _wide(slo, shi), strict=True)]
    want_sub = [(a - b) & M128 for a, b in zip(_wide(lo, hi), _wide(slo, shi), strict=True)]
    dlo, dhi = lo.copy(), hi.copy()
    mac.add_wide(dlo, dhi, slo, shi)
    assert _wide(dlo, dhi) == want_add
    dlo, dhi = lo.copy(), hi.copy()
    mac.sub_wide(dlo, dhi, slo, shi)
    assert _wide(dlo, dhi) == want_sub
    assert mac.mulhi(lo, slo).tolist() == [
        (int(a) * int(b)) >> 64 for a, b in zip(lo, slo, strict=True)
    ]
    for c in (0, 1, 2**64 + 3, M128, 2**127, int(rng.integers(0, 2**63)) << 60):
        got = _wide(*mac.mul_wide_const(lo, hi, c))
        assert got == [(v * c) & M128 for v in _wide(lo, hi)]


def test_a_wide_inner_product_with_64_bit_coefficients_is_exact() -> None:
    rng = np.random.default_rng(2)
    chi, lo, hi = (_words(rng, 300) for _ in range(3))
    want = sum(int(c) * v for c, v in zip(chi, _wide(lo, hi), strict=True)) & M128
    assert mac.dot_wide(chi, lo, hi) == want


def test_the_table_product_in_gf_2_64_equals_the_schoolbook_product() -> None:
    rng = np.random.default_rng(3)
    x = _words(rng, 50)
    for c in (0, 1, 2, 2**63, M64, int(rng.integers(0, 2**63))):
        assert mac.gf_mul_const(x, c).tolist() == [mac.gf_mul(int(v), c) for v in x]
    # a field: t^63 * t = t^4 + t^3 + t + 1, and multiplication is commutative
    assert mac.gf_mul(2**63, 2) == 0b11011
    assert mac.gf_mul(12345, 2**40 + 7) == mac.gf_mul(2**40 + 7, 12345)


def test_subset_xors_are_the_xors_of_the_chosen_rows() -> None:
    from sharelake.mpc.boolean import nblocks, to_planes

    rng = np.random.default_rng(4)
    n = 130
    y = _words(rng, n)
    chi_planes = rng.integers(0, 2**64, (64, nblocks(n)), dtype=np.uint64)
    got = mac.subset_xors(to_planes(y), chi_planes)
    for t in range(64):
        member = [(int(chi_planes[t, e // 64]) >> (e % 64)) & 1 for e in range(n)]
        want = 0
        for e in range(n):
            if member[e]:
                want ^= int(y[e])
        assert int(got[t]) == want


# ---- the protocol ------------------------------------------------------------------------


def body_shuffle(p: Party, x: AShare, w: BShare) -> Any:
    a, b = sh.shuffle(p, [x, w])
    assert isinstance(a, AShare) and isinstance(b, BShare)
    return [open_arith(p, a), open_bool(p, b)]


def body_round_trip(p: Party, x: AShare, w: BShare) -> Any:
    plan = sh.make_plan(p, len(x))
    mixed = sh.shuffle(p, [x, w], plan=plan)
    back = sh.unshuffle(p, mixed, plan)
    a, b = back
    assert isinstance(a, AShare) and isinstance(b, BShare)
    return [open_arith(p, a), open_bool(p, b)]


def body_only(p: Party, cols: list[AShare | BShare]) -> Any:
    out = sh.shuffle(p, cols)
    return [open_arith(p, c) if isinstance(c, AShare) else open_bool(p, c) for c in out]


def _inputs(
    n: int, seed: int = 0
) -> tuple[list[dict[str, Any]], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    x, w = _words(rng, n), _words(rng, n)
    xs, ws = share_arith(x), share_bool(w)
    return [{"x": xs[i], "w": ws[i]} for i in range(3)], x, w


@pytest.mark.parametrize("n", [1, 2, 63, 64, 65, 500])
def test_an_honest_checked_shuffle_permutes_both_kinds_of_column_together(n: int) -> None:
    inputs, x, w = _inputs(n, seed=n)
    res = run_in_memory(body_shuffle, inputs)
    got_x, got_w = res[0]
    assert sorted(got_x.tolist()) == sorted(x.tolist())
    pairs = sorted(zip(got_x.tolist(), got_w.tolist(), strict=True))
    assert pairs == sorted(zip(x.tolist(), w.tolist(), strict=True))


def test_an_honest_checked_shuffle_of_one_kind_only_and_its_inverse_are_exact() -> None:
    inputs, x, w = _inputs(70, seed=9)
    res = run_in_memory(body_round_trip, inputs)
    assert res[0][0].tolist() == x.tolist() and res[0][1].tolist() == w.tolist()
    for kind in ("a", "b"):
        cols = [share_arith(x) if kind == "a" else share_bool(w)]
        got = run_in_memory(body_only, [{"cols": [c[i] for c in cols]} for i in range(3)])
        want = x if kind == "a" else w
        assert sorted(got[0][0].tolist()) == sorted(want.tolist())


def _every_message(body: Any, inputs: list[dict[str, Any]]) -> list[Injection]:
    """One consistent error of each kind at word 0 of every message of every party."""
    sizes, _ = count_messages(body, inputs)
    out = []
    for party in range(3):
        for msg, size in enumerate(sizes[party]):
            word = (msg * 7) % max(1, size // 8)
            for error in (2**63, 1, 0x9E3779B97F4A7C15):
                out.append(Injection(party, msg, word, error))
    return out


def _sorted(results: list[Any]) -> list[Any]:
    return [[np.sort(c) for c in r] for r in results]


def _caught(body: Any, inputs: list[dict[str, Any]], inj: Injection) -> bool:
    """Detected, or the output is exactly the honest one (a high-word error of 2^127 in
    a Z_2^128 row cannot reach the 64-bit output; the check misses it with prob. 1/2)."""
    honest = _sorted(run_in_memory(body, inputs))
    t = run_injected(body, inputs, inj, expected=honest, canonical=_sorted)
    return t.outcome in ("detected", "harmless")


@pytest.mark.parametrize("body", [body_shuffle, body_round_trip], ids=["shuffle", "unshuffle"])
def test_an_error_the_cheater_keeps_in_any_message_is_caught(body: Any) -> None:
    inputs, _, _ = _inputs(40, seed=5)
    for inj in _every_message(body, inputs):
        assert _caught(body, inputs, inj), inj


def test_an_error_in_a_low_word_of_any_shuffle_message_is_always_detected() -> None:
    # rows of a message: x low words first, so word w < n is always a low word of data
    inputs, _, _ = _inputs(40, seed=5)
    sizes, _ = count_messages(body_shuffle, inputs)
    for party in range(3):
        for msg, size in enumerate(sizes[party]):
            if size >= 40 * 8:
                for error in (2**63, 1):
                    inj = Injection(party, msg, 17, error)
                    assert run_injected(body_shuffle, inputs, inj).outcome == "detected", inj


def test_a_power_of_two_error_in_a_high_bit_of_a_shuffled_half_is_caught() -> None:
    # the zero divisors of Z_2^64: a MAC over Z_2^64 would miss 2^63 half the time
    inputs, _, _ = _inputs(16, seed=6)
    sizes, _ = count_messages(body_shuffle, inputs)
    for party in range(3):
        for word in range(0, 16):
            inj = Injection(party, 1, word, 2**63)
            assert run_injected(body_shuffle, inputs, inj).outcome == "detected", inj
    assert sizes[0][1] >= 16 * 8


class _SwapRows:
    """A cheater that permutes its half by another permutation: swaps two elements."""

    def __init__(self, party: int, message: int, n: int) -> None:
        self.party, self.message, self.n, self.seen = party, message, n, 0

    def __call__(self, src: int, dst: int, data: bytes) -> bytes:
        if src != self.party:
            return data
        self.seen += 1
        if self.seen - 3 != self.message:  # 2 setup messages, then count from 0
            return data
        words = np.frombuffer(data, dtype=np.uint64).copy()
        words[[0, 1]] = words[[1, 0]]  # elements 0 and 1 of the first row
        return words.tobytes()


@pytest.mark.parametrize("party", [0, 1, 2])
def test_a_party_that_permutes_its_half_differently_is_caught(party: int) -> None:
    inputs, _, _ = _inputs(32, seed=7)
    with pytest.raises(IntegrityError, match="shuffle MAC check"):
        run_in_memory(body_shuffle, inputs, tamper=_SwapRows(party, 1, 32))


def test_the_same_error_passes_a_semi_honest_shuffle_unnoticed() -> None:
    """The contrast: without the check, a kept error silently changes the output."""
    inputs, x, _ = _inputs(40, seed=8)
    sizes, _ = count_messages(body_shuffle, inputs, security="semi-honest")
    inj = Injection(0, 0, 3, 2**63)  # row 0 (the x column) of P0's first shuffle message
    cheater = Cheater(inj)
    res = run_in_memory(body_shuffle, inputs, tamper=cheater, security="semi-honest")
    assert cheater.fired and sizes[0][0] == 2 * 40 * 8
    moved = Counter(res[0][0].tolist()) - Counter(x.tolist())
    assert len(moved) == 1  # exactly one output value changed, silently
    assert run_injected(body_shuffle, inputs, inj).outcome == "detected"


def test_a_cheating_shuffle_is_caught_across_real_tls_processes() -> None:
    inputs, _, _ = _inputs(24, seed=10)
    t = run_injected(body_shuffle, inputs, Injection(1, 1, 5, 2**63), transport="tls")
    assert t.outcome == "detected", t


@pytest.mark.slow
def test_a_thousand_seeded_errors_in_checked_shuffles_are_all_caught() -> None:
    from sharelake.harness.cheat import draw

    inputs, _, _ = _inputs(40, seed=11)
    sizes, _ = count_messages(body_shuffle, inputs)
    honest = _sorted(run_in_memory(body_shuffle, inputs))
    bad, detected = [], 0
    for seed in range(1000):
        t = run_injected(
            body_shuffle, inputs, draw(seed, sizes), expected=honest, canonical=_sorted
        )
        detected += t.outcome == "detected"
        if t.outcome not in ("detected", "harmless"):
            bad.append(t)
    assert not bad, bad[:5]
    assert detected >= 900


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_seeded_errors_in_a_checked_shuffle_are_caught_over_tls(seed: int) -> None:
    from sharelake.harness.cheat import draw

    inputs, _, _ = _inputs(24, seed=12)
    sizes, _ = count_messages(body_shuffle, inputs)
    inj = draw(seed, sizes)
    inj = Injection(inj.party, inj.message, inj.word, inj.error)  # kept by the cheater
    assert run_injected(body_shuffle, inputs, inj, transport="tls").outcome == "detected"

"""Verified banded products (linkage.band_check): equal to the plaintext band, and any
error in their resharing aborts the two other nodes naming the check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from sharelake.harness.cheat import Cheater, Injection
from sharelake.linkage.band_check import REPS, band_products
from sharelake.linkage.kernels import band_terms
from sharelake.mpc.arith import open_arith
from sharelake.mpc.checks import VerificationError
from sharelake.mpc.party import Party
from sharelake.mpc.shares import AShare
from sharelake.mpc.sharing import share_arith
from sharelake.net.memory import run_in_memory


def _plain_band(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], nleft: int, w: int) -> Any:
    m = x.shape[0]
    out = np.zeros((w, nleft, x.shape[1], y.shape[1]), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for d in range(1, w + 1):
            for i in range(nleft):
                if i + d < m:
                    out[d - 1, i] = (x[i][:, None, :] * y[i + d][None, :, :]).sum(
                        axis=2, dtype=np.uint64
                    )
    return out


def _inputs(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> list[dict[str, Any]]:
    xs, ys = share_arith(x), share_arith(y)
    return [{"x": xs[i], "y": ys[i]} for i in range(3)]


def _body(nleft: int, w: int, bits: int, rows: int) -> Callable[..., Any]:
    def body(p: Party, x: AShare, y: AShare) -> Any:
        (z,) = band_products(p, [(x, y, bits)], nleft, w, check="band", rows=rows)
        out = open_arith(p, AShare(z.a.reshape(-1), z.b.reshape(-1)))
        return out.reshape(z.a.shape), dict(p.checks.semi_honest_steps)

    return body


@pytest.mark.parametrize("security", ["malicious", "semi-honest"])
@pytest.mark.parametrize(
    ("m", "nleft", "w", "bits", "rows"),
    [(13, 13, 3, 64, 4), (13, 10, 1, 21, 5), (9, 9, 8, 32, 4), (30, 27, 2, 22, 64)],
)
def test_banded_products_equal_the_plaintext_band_and_leave_no_unverified_step(
    security: str, m: int, nleft: int, w: int, bits: int, rows: int
) -> None:
    rng = np.random.default_rng(m * 100 + w)
    x = rng.integers(0, 2**64, (m, 2, 5), dtype=np.uint64)
    y = rng.integers(0, 2**64, (m, 3, 5), dtype=np.uint64)
    res = run_in_memory(_body(nleft, w, bits, rows), _inputs(x, y), security=security)  # type: ignore[arg-type]
    mask = np.uint64((1 << bits) - 1) if bits < 64 else np.uint64(2**64 - 1)
    want = _plain_band(x, y, nleft, w) & mask
    zero = np.zeros((m, 2, 5), np.uint64)
    # the same entries as the semi-honest kernel's local terms (one party holding all)
    local = band_terms(AShare(x, zero), AShare(y, np.zeros_like(y)), nleft, w, bits) & mask
    np.testing.assert_array_equal(local, want)
    for got, steps in res:
        np.testing.assert_array_equal(got & mask, want)
        assert steps == {}


def test_the_repetitions_bound_a_cheater_below_two_to_the_minus_forty() -> None:
    assert (3 / 4) ** REPS < 2.0**-40


@pytest.mark.parametrize("error", [2**63, 1, 2**64 - 1, 0x9E3779B97F4A7C15])
@pytest.mark.parametrize("consistent", [True, False])
def test_an_error_in_any_word_of_a_band_resharing_aborts_the_other_nodes_naming_the_check(
    error: int, consistent: bool
) -> None:
    rng = np.random.default_rng(error % 997)
    m, w, rows = 11, 3, 4
    x = rng.integers(0, 2**64, (m, 2, 4), dtype=np.uint64)
    y = rng.integers(0, 2**64, (m, 2, 4), dtype=np.uint64)
    nblocks = -(-m // rows)
    words = nblocks * rows * 2 * (rows + w - 1) * 2  # 64-bit wire
    for party in range(3):
        word = int(rng.integers(words))
        # message 0 after setup: the party's reshared block products
        cheater = Cheater(Injection(party, 0, word, error, consistent=consistent))
        res = run_in_memory(
            _body(m, w, 64, rows), _inputs(x, y), tamper=cheater, deadline=20, ends=True
        )
        assert cheater.fired
        for i, r in enumerate(res):
            if i == party:
                continue
            assert isinstance(r, VerificationError), res
            assert r.check == "band", res

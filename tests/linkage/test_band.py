"""The banded products of the blocked scorers against a direct computation."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

import sharelake.linkage.kernels as kernels
from sharelake.linkage.kernels import band_terms
from sharelake.mpc.shares import AShare

U64 = npt.NDArray[np.uint64]


def _direct(xa: U64, xb: U64, ya: U64, yb: U64, nleft: int, w: int) -> U64:
    m, kl, _ = xa.shape
    out = np.zeros((w, nleft, kl, ya.shape[1]), dtype=np.uint64)
    for d in range(1, w + 1):
        for i in range(nleft):
            if i + d < m:
                j = i + d
                out[d - 1, i] = np.einsum("sk,tk->st", xa[i], ya[j] + yb[j]) + np.einsum(
                    "sk,tk->st", xb[i], ya[j]
                )
    return out


@pytest.mark.parametrize(
    ("m", "kl", "kr", "dim", "nleft", "w", "bits"),
    [
        (37, 2, 2, 512, 37, 8, 21),  # the names: one limb
        (29, 2, 3, 136, 20, 5, 32),  # two limbs, a left part of the rows only
        (5, 1, 1, 3, 5, 9, 64),  # window longer than the list, four limbs
        (1, 1, 1, 4, 1, 3, 32),  # one row: no pair
        (6, 1, 2, 4, 0, 2, 32),  # no left row
    ],
)
def test_banded_terms_sum_to_the_inner_products_of_each_row_with_its_next_rows(
    monkeypatch: pytest.MonkeyPatch,
    m: int,
    kl: int,
    kr: int,
    dim: int,
    nleft: int,
    w: int,
    bits: int,
) -> None:
    monkeypatch.setattr(kernels, "BAND_ROWS", 4)  # several blocks ...
    monkeypatch.setattr(kernels, "BAND_BATCH", 2)  # ... and batches
    rng = np.random.default_rng(m * 1000 + dim)
    xa, xb = (rng.integers(0, 2**64, (m, kl, dim), dtype=np.uint64) for _ in range(2))
    ya, yb = (rng.integers(0, 2**64, (m, kr, dim), dtype=np.uint64) for _ in range(2))
    got = band_terms(AShare(xa, xb), AShare(ya, yb), nleft, w, bits)
    mask = np.uint64((1 << bits) - 1 if bits < 64 else (1 << 64) - 1)
    assert got.shape == (w, nleft, kl, kr)
    assert np.array_equal(got & mask, _direct(xa, xb, ya, yb, nleft, w) & mask)

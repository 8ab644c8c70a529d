"""Scenario 15: the randomness of shares (client-side sharing and the nodes' PRGs).

Shares of a constant column look uniform (a chi-square test over the top and the
bottom byte of every component, at a threshold a uniform source exceeds with
probability under 1e-6), sharing the same column again gives unrelated shares but the
same value, and the nodes' PRG keys come from the operating system on every session
(there is no seeded mode to switch on).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sharelake.mpc import prg
from sharelake.mpc.sharing import reconstruct_arith, share_arith
from sharelake.relational.encode import encode_frame, share_table
from sharelake.relational.table import ColumnSpec

pytestmark = pytest.mark.faults

N = 200_000
CHI2_LIMIT = 380.0  # 255 degrees of freedom: P(chi2 > 380) < 1e-6 for a uniform byte


def chi2_of_bytes(words: np.ndarray, shift: int) -> float:
    counts = np.bincount(
        ((words >> np.uint64(shift)) & np.uint64(0xFF)).astype(np.int64), minlength=256
    )
    expected = len(words) / 256
    return float(((counts - expected) ** 2 / expected).sum())


def components(x: np.ndarray) -> list[np.ndarray]:
    parts = share_arith(x)
    return [p.a for p in parts]  # party i holds (x_i, x_{i+1}): the a's are x_0, x_1, x_2


def test_15_shares_of_a_constant_column_pass_a_uniformity_test_on_every_component() -> None:
    const = np.full(N, 7, dtype=np.uint64)
    for comp in components(const):
        assert chi2_of_bytes(comp, 56) < CHI2_LIMIT
        assert chi2_of_bytes(comp, 0) < CHI2_LIMIT
    zero = np.zeros(N, dtype=np.uint64)
    assert chi2_of_bytes(zero, 0) > CHI2_LIMIT  # the test can fail


def test_15_sharing_the_same_column_again_gives_other_shares_and_the_same_value() -> None:
    df = pd.DataFrame({"age": np.full(1000, 42)})
    spec = [ColumnSpec("age", "int", nullable=False)]
    first = share_table(encode_frame(df, spec), name="t")
    second = share_table(encode_frame(df, spec), name="t")
    a1 = first[0].columns["age"].values
    a2 = second[0].columns["age"].values
    assert not np.array_equal(a1.a, a2.a) and not np.array_equal(a1.b, a2.b)
    # a component equal in more than chance places would be a reused mask
    assert int((a1.a == a2.a).sum()) == 0
    for parts in (first, second):
        got = reconstruct_arith([p.columns["age"].values for p in parts])
        assert (got == 42).all()


def test_15_prg_keys_are_fresh_from_the_operating_system_every_time() -> None:
    keys = {prg.fresh_key() for _ in range(1000)}
    assert len(keys) == 1000 and all(len(k) == prg.KEY_BYTES for k in keys)
    a, b = prg.Prg(prg.fresh_key()), prg.Prg(prg.fresh_key())
    assert not np.array_equal(a.words(64), b.words(64))

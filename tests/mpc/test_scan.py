"""Segmented scans: the partition copy agrees with the log-round scan and the plaintext."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sharelake.harness.runner import run_parties
from sharelake.mpc.arith import open_arith
from sharelake.mpc.party import Party
from sharelake.mpc.scan import CopyMethod, segmented_copy, segmented_sum
from sharelake.mpc.sharing import share_arith


def copy_body(p: Party, f: Any, x: Any, y: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    methods: tuple[CopyMethod, ...] = ("scan", "partition")
    for m in methods:
        c = segmented_copy(p, f, [x, y], method=m)
        (s,) = segmented_sum(p, f, [x], method=m)
        out[m] = [open_arith(p, v) for v in [*c, s]]
    return out


def _plain(flags: np.ndarray[Any, Any], x: np.ndarray[Any, Any]) -> tuple[Any, Any]:
    seg = np.cumsum(np.where(np.arange(len(flags)) == 0, 1, flags)) - 1
    first = np.zeros_like(x)
    sums = np.zeros_like(x)
    for g in np.unique(seg):
        idx = np.flatnonzero(seg == g)
        first[idx] = x[idx[0]]
        sums[idx] = np.cumsum(x[idx], dtype=np.uint64)
    return first, sums


def test_partition_copy_and_sum_match_the_scan_and_the_plaintext() -> None:
    rng = np.random.default_rng(5)
    for n, density in ((1, 0.5), (2, 0.0), (97, 0.2), (300, 0.02), (300, 1.0)):
        flags = (rng.random(n) < density).astype(np.uint64)
        flags[0] = rng.integers(0, 2)  # row 0 is a start whatever its flag
        x = rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(3)
        y = rng.integers(0, 2**63, n, dtype=np.uint64)
        fs, xs, ys = share_arith(flags), share_arith(x), share_arith(y)
        inputs: list[Mapping[str, Any]] = [{"f": fs[i], "x": xs[i], "y": ys[i]} for i in range(3)]
        got = run_parties(copy_body, inputs)[0]
        fx, sx = _plain(flags, x)
        fy, _ = _plain(flags, y)
        for m in ("scan", "partition"):
            c_x, c_y, s_x = got[m]
            np.testing.assert_array_equal(c_x, fx, err_msg=f"{m} n={n}")
            np.testing.assert_array_equal(c_y, fy, err_msg=f"{m} n={n}")
            np.testing.assert_array_equal(s_x, sx, err_msg=f"{m} n={n}")

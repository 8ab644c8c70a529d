"""Shuffle and sort of 2-D payload columns and of narrow (32-bit) columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sharelake.mpc import shuffle as sh
from sharelake.mpc.party import Party
from sharelake.mpc.shares import AShare, BShare
from sharelake.mpc.sharing import reconstruct_arith, reconstruct_bool, share_arith, share_bool
from sharelake.mpc.sort import sort_undoable, unsort
from sharelake.net.memory import run_in_memory

LOW32 = np.uint64(0xFFFFFFFF)


def _columns(n: int, seed: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    tag = rng.permutation(n).astype(np.uint64)  # distinct: reveals the permutation
    return [
        tag,
        rng.integers(0, 2**64, (n, 3), dtype=np.uint64),  # 2-D arithmetic
        rng.integers(0, 2**64, n, dtype=np.uint64),  # narrow 1-D
        rng.integers(0, 2**64, (n, 3), dtype=np.uint64),  # narrow 2-D (odd lane count)
        rng.integers(0, 2**64, (n, 2), dtype=np.uint64),  # 2-D boolean
    ]


def _share(cols: list[Any]) -> list[list[AShare | BShare]]:
    per: list[list[AShare | BShare]] = [[], [], []]
    for j, v in enumerate(cols):
        parts: list[Any] = share_bool(v) if j == 4 else share_arith(v)
        for i in range(3):
            per[i].append(parts[i])
    return per


def _open(res: list[list[Any]], k: int) -> Any:
    pairs = [r[k] for r in res]
    return reconstruct_arith(pairs) if isinstance(pairs[0], AShare) else reconstruct_bool(pairs)


def _body(p: Party, cols: list[AShare | BShare]) -> dict[str, Any]:
    plan = sh.make_plan(p, cols[0].a.shape[0])
    out = sh.shuffle(p, cols, plan=plan, narrow={2, 3})
    back = sh.unshuffle(p, out, plan, narrow={2, 3})
    srt = sort_undoable(p, [cols[0]], cols[1:], narrow={1, 2})
    undone = unsort(p, srt.payload, srt, narrow={1, 2})
    return {"out": out, "back": back, "sorted": srt.payload, "undone": undone}


@pytest.mark.parametrize("security", ["semi-honest", "malicious"])
@pytest.mark.parametrize("n", [0, 1, 17])
def test_two_d_and_narrow_columns_move_with_the_rows_and_come_back(security: str, n: int) -> None:
    cols = _columns(n, seed=n + 5)
    res = run_in_memory(_body, [{"cols": c} for c in _share(cols)], security=security)  # type: ignore[arg-type]
    out = [_open([r["out"] for r in res], k) for k in range(5)]
    perm = out[0].astype(np.intp)  # row j of the output is input row tag^-1 ...
    where = np.argsort(cols[0]).astype(np.intp)
    src = where[perm] if n else perm
    for k in range(1, 5):
        got, want = out[k], cols[k][src]
        if k in (2, 3):
            got, want = got & LOW32, want & LOW32
        assert got.shape == cols[k].shape and np.array_equal(got, want), k
    back = [_open([r["back"] for r in res], k) for k in range(5)]
    srt = [_open([r["sorted"] for r in res], k) for k in range(4)]
    undone = [_open([r["undone"] for r in res], k) for k in range(4)]
    order = np.argsort(cols[0], kind="stable")
    for k in range(5):
        mask = LOW32 if k in (2, 3) else np.uint64(2**64 - 1)
        assert np.array_equal(back[k] & mask, cols[k] & mask), k
    for k in range(1, 5):
        mask = LOW32 if k in (2, 3) else np.uint64(2**64 - 1)
        assert np.array_equal(srt[k - 1] & mask, cols[k][order] & mask), k
        assert np.array_equal(undone[k - 1] & mask, cols[k] & mask), k


def _cost(p: Party, cols: list[AShare | BShare], narrow: list[int]) -> int:
    sh.shuffle(p, cols, narrow=set(narrow))
    return p.costs["shuffle"].bytes_sent


def test_narrow_columns_cost_half_the_bytes_at_the_semi_honest_level_only() -> None:
    n = 64
    cols = [c for c in _share([np.arange(n, dtype=np.uint64)] * 4)]
    costs = {}
    for security in ("semi-honest", "malicious"):
        for narrow in ([], [0, 1, 2, 3]):
            got = run_in_memory(
                _cost,
                [{"cols": c, "narrow": narrow} for c in cols],
                security=security,
            )
            costs[security, len(narrow)] = sum(got)
    assert costs["semi-honest", 4] * 2 == costs["semi-honest", 0]
    assert costs["malicious", 4] == costs["malicious", 0]

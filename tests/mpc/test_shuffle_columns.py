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


LOW21 = np.uint64(2**21 - 1)


def _columns21(n: int, seed: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    edge = np.array([0, 1, 2**20 - 1, 2**20, 2**21 - 1, 2**21, 2**64 - 1], dtype=np.uint64)
    return [
        rng.permutation(n).astype(np.uint64),  # distinct keys
        rng.integers(0, 2**64, (n, 5), dtype=np.uint64),  # 21-bit lanes, 2-D (5 lanes)
        np.resize(edge, n),  # 21-bit lanes, 1-D, edge values
        rng.integers(0, 2**64, n, dtype=np.uint64),  # 32-bit lanes
        rng.integers(0, 2**64, (n, 2), dtype=np.uint64),  # 64-bit
        rng.integers(0, 2**64, n, dtype=np.uint64),  # boolean
    ]


_MASKS21 = [np.uint64(2**64 - 1), LOW21, LOW21, LOW32, np.uint64(2**64 - 1), np.uint64(2**64 - 1)]


def _body21(p: Party, cols: list[AShare | BShare]) -> dict[str, Any]:
    plan = sh.make_plan(p, cols[0].a.shape[0])
    out = sh.shuffle(p, cols, plan=plan, narrow={3}, narrow21={1, 2})
    back = sh.unshuffle(p, out, plan, narrow={3}, narrow21={1, 2})
    srt = sort_undoable(p, [cols[0]], cols[1:], narrow={2}, narrow21={0, 1})
    return {"back": back, "sorted": srt.payload}


@pytest.mark.parametrize("security", ["semi-honest", "malicious"])
@pytest.mark.parametrize("n", [0, 1, 17])
def test_columns_needed_modulo_2_21_move_with_the_rows_and_come_back_modulo_2_21(
    security: str, n: int
) -> None:
    cols = _columns21(n, seed=n + 11)
    per: list[list[AShare | BShare]] = [[], [], []]
    for j, v in enumerate(cols):
        parts: list[Any] = share_bool(v) if j == 5 else share_arith(v)
        for i in range(3):
            per[i].append(parts[i])
    res = run_in_memory(_body21, [{"cols": c} for c in per], security=security)  # type: ignore[arg-type]
    order = np.argsort(cols[0], kind="stable")
    for k in range(6):
        back = _open([r["back"] for r in res], k)
        assert back.shape == cols[k].shape
        assert np.array_equal(back & _MASKS21[k], cols[k] & _MASKS21[k]), k
    for k in range(1, 6):
        got = _open([r["sorted"] for r in res], k - 1)
        assert np.array_equal(got & _MASKS21[k], cols[k][order] & _MASKS21[k]), k


def test_lane_wise_21_bit_addition_and_subtraction_wrap_inside_each_lane() -> None:
    rng = np.random.default_rng(3)
    lanes = np.concatenate(
        [
            np.array([[0, 0, 0], [2**21 - 1] * 3, [2**20] * 3, [1, 2**21 - 1, 2**20 - 1]]),
            rng.integers(0, 2**21, (200, 3)),
        ]
    ).astype(np.uint64)

    def pack(x: Any) -> Any:
        return x[:, 0] | (x[:, 1] << np.uint64(21)) | (x[:, 2] << np.uint64(42))

    def unpack(w: Any) -> Any:
        return np.stack([(w >> np.uint64(21 * s)) & LOW21 for s in range(3)], axis=1)

    x, y = lanes, np.roll(lanes, 1, axis=0)[::-1]
    garbage = np.uint64(1 << 63)  # bit 63 of a word is outside every lane
    s = unpack(sh._add21(pack(x) | garbage, pack(y)))
    d = unpack(sh._sub21(pack(x), pack(y) | garbage))
    assert np.array_equal(s, (x + y) & LOW21)
    assert np.array_equal(d, (x - y) & LOW21)


def test_21_bit_columns_cost_a_third_of_the_bytes_at_the_semi_honest_level_only() -> None:
    n = 64
    mat = np.arange(3 * n, dtype=np.uint64).reshape(n, 3)
    shared = [share_arith(mat) for _ in range(3)]  # three (n, 3) columns: 9 lanes a row
    cols = [[shared[j][i] for j in range(3)] for i in range(3)]
    costs = {}
    for security in ("semi-honest", "malicious"):
        for narrow21 in ([], [0, 1, 2]):
            got = run_in_memory(
                _cost21,
                [{"cols": c, "narrow21": narrow21} for c in cols],
                security=security,
            )
            costs[security, len(narrow21)] = sum(got)
    assert costs["semi-honest", 3] * 3 == costs["semi-honest", 0]
    assert costs["malicious", 3] == costs["malicious", 0]


def _cost21(p: Party, cols: list[AShare | BShare], narrow21: list[int]) -> int:
    sh.shuffle(p, cols, narrow21=set(narrow21))
    return p.costs["shuffle"].bytes_sent

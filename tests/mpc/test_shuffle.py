"""Oblivious shuffle: one secret permutation for every column, undone by unshuffle."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharelake.harness.runner import run_parties
from sharelake.mpc import shuffle as sh
from sharelake.mpc.party import Party
from sharelake.mpc.ring import to_ring
from sharelake.mpc.shares import AShare, BShare
from sharelake.mpc.sharing import reconstruct_arith, reconstruct_bool, share_arith, share_bool
from sharelake.net.memory import run_in_memory

I64 = np.iinfo(np.int64)


def _shares(cols: list[tuple[str, np.ndarray[Any, Any]]]) -> list[list[AShare | BShare]]:
    """Per party, the list of its shares of ``cols`` = [("a" | "b", values)]."""
    per: list[list[AShare | BShare]] = [[], [], []]
    for kind, v in cols:
        parts: list[Any] = share_arith(to_ring(v)) if kind == "a" else share_bool(to_ring(v))
        for i in range(3):
            per[i].append(parts[i])
    return per


def _open(res: list[list[Any]], k: int) -> np.ndarray[Any, Any]:
    pairs = [r[k] for r in res]
    if isinstance(pairs[0], AShare):
        return reconstruct_arith(pairs)
    return reconstruct_bool(pairs)


def body_shuffle_unshuffle(p: Party, cols: list[AShare | BShare]) -> dict[str, Any]:
    plan = sh.make_plan(p, len(cols[0]))
    out = sh.shuffle(p, cols, plan=plan)
    back = sh.unshuffle(p, out, plan)
    again = sh.shuffle(p, cols[:1], plan=plan)
    return {"out": out, "back": back, "again": again, "cost": p.costs["shuffle"].bytes_sent}


def _check_shuffle(cols: list[tuple[str, np.ndarray[Any, Any]]], transport: str) -> None:
    n = len(cols[0][1])
    res = run_parties(
        body_shuffle_unshuffle, [{"cols": c} for c in _shares(cols)], transport=transport
    )
    outs = [_open([r["out"] for r in res], k) for k in range(len(cols))]
    backs = [_open([r["back"] for r in res], k) for k in range(len(cols))]
    again = _open([r["again"] for r in res], 0)
    # Column 0 holds distinct tags: its output order reveals the permutation.
    tags = to_ring(cols[0][1])
    where = {int(t): i for i, t in enumerate(tags)}
    perm = np.array([where[int(t)] for t in outs[0]], dtype=np.intp)
    assert sorted(perm.tolist()) == list(range(n))
    for k, (_, v) in enumerate(cols):
        np.testing.assert_array_equal(outs[k], to_ring(v)[perm])
        np.testing.assert_array_equal(backs[k], to_ring(v))
    np.testing.assert_array_equal(again, outs[0])


def test_shuffle_moves_mixed_columns_together_and_unshuffle_restores_them(
    transport: str,
) -> None:
    rng = np.random.default_rng(1)
    n = 300
    cols = [
        ("a", rng.permutation(n) * 7 - 1000),
        ("b", rng.integers(0, 2**63, n, dtype=np.int64)),
        ("a", np.concatenate([[I64.min, I64.max], rng.integers(I64.min, I64.max, n - 2)])),
        ("b", np.zeros(n, dtype=np.int64)),
    ]
    _check_shuffle(cols, transport)


@pytest.mark.parametrize("n", [0, 1, 2, 64, 65])
def test_shuffle_handles_empty_single_and_block_edge_lengths(n: int) -> None:
    cols = [("a", np.arange(n) + 5), ("b", np.full(n, 3))]
    _check_shuffle(cols, "memory")


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=50, unique=True))
def test_shuffle_of_any_distinct_values_is_a_permutation_of_them(xs: list[int]) -> None:
    _check_shuffle([("b", np.array(xs, dtype=np.int64)), ("a", np.array(xs))], "memory")


def body_shuffle_twice(p: Party, cols: list[AShare | BShare]) -> list[Any]:
    first = sh.shuffle(p, cols)
    second = sh.shuffle(p, cols)
    return [first[0], second[0]]


def test_two_shuffles_draw_different_permutations_and_fresh_shares() -> None:
    n = 200
    per = _shares([("a", np.arange(n))])
    res = run_in_memory(body_shuffle_twice, [{"cols": c} for c in per])
    first = reconstruct_arith([r[0] for r in res])
    second = reconstruct_arith([r[1] for r in res])
    assert sorted(first.tolist()) == list(range(n)) == sorted(second.tolist())
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, np.arange(n))
    # The output components are fresh: none equals a permuted input component.
    for i in range(3):
        for comp in (per[i][0].a, per[i][0].b):
            assert not np.array_equal(np.sort(res[i][0].a), np.sort(comp))


def body_cost(p: Party, cols: list[AShare | BShare]) -> list[int]:
    r0, b0 = p.chan.stats.snapshot()
    sh.shuffle(p, cols)
    r1, b1 = p.chan.stats.snapshot()
    return [r1 - r0, b1 - b0]


def test_a_semi_honest_shuffle_costs_three_rounds_and_four_words_per_element_and_column() -> None:
    n, k = 1000, 3
    per = _shares([("a", np.arange(n)), ("b", np.arange(n)), ("a", np.arange(n))])
    res = run_in_memory(body_cost, [{"cols": c} for c in per], security="semi-honest")
    assert all(r[0] == 3 for r in res)
    sent = [r[1] for r in res]
    assert sum(sent) == 4 * 8 * n * k
    assert max(sent) == 2 * 8 * n * k


def test_a_checked_shuffle_adds_tags_wide_arithmetic_rows_and_four_rounds() -> None:
    n = 1000
    per = _shares([("a", np.arange(n)), ("b", np.arange(n)), ("a", np.arange(n))])
    res = run_in_memory(body_cost, [{"cols": c} for c in per], security="malicious")
    assert all(r[0] == 7 for r in res)
    rows = 2 * (2 + 1) + (1 + 1)  # two Z_2^128 columns and their tag, a word column and its tag
    shuffled = 4 * 8 * n * rows
    tagging = 3 * 8 * n * 3  # every party reshares a wide and a boolean tag term
    check = 3 * (16 + 32) + 3 * 66 * 8 + 3 * (66 * 8 + 32)  # coin, reshare and open of D
    assert sum(r[1] for r in res) == shuffled + tagging + check


def body_public_perm(p: Party, cols: list[AShare | BShare], perm: np.ndarray[Any, Any]) -> Any:
    return sh.apply_public_perm(cols, perm.astype(np.intp))


def test_a_public_permutation_reorders_shares_locally_and_inverts() -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(I64.min, I64.max, 50)
    perm = rng.permutation(50)
    per = _shares([("a", x), ("b", x)])
    res = run_in_memory(body_public_perm, [{"cols": c, "perm": perm} for c in per])
    np.testing.assert_array_equal(_open(res, 0), to_ring(x)[perm])
    np.testing.assert_array_equal(_open(res, 1), to_ring(x)[perm])
    np.testing.assert_array_equal(perm[sh.invert_perm(perm)], np.arange(50))


def body_bad(p: Party, cols: list[AShare | BShare]) -> Any:
    return sh.shuffle(p, cols)


def test_shuffle_rejects_columns_of_different_lengths() -> None:
    per = _shares([("a", np.arange(3))])
    extra = _shares([("a", np.arange(4))])
    with pytest.raises(ValueError, match="equal length"):
        run_in_memory(body_bad, [{"cols": per[i] + extra[i]} for i in range(3)])


def body_block_shuffle(p: Party, cols: list[AShare | BShare], blocks: list[int]) -> list[Any]:
    plan = sh.make_plan(p, len(cols[0]), blocks=blocks)
    out = sh.shuffle(p, cols, plan=plan)
    return [out[0], sh.unshuffle(p, out, plan)[0]]


@pytest.mark.parametrize("blocks", [[40, 40, 40], [0, 7, 1, 50], [120]])
def test_a_block_diagonal_shuffle_keeps_every_row_in_its_block(blocks: list[int]) -> None:
    n = sum(blocks)
    tags = np.arange(n) * 3 + 1
    res = run_in_memory(
        body_block_shuffle,
        [{"cols": c, "blocks": blocks} for c in _shares([("a", tags)])],
    )
    out = reconstruct_arith([r[0] for r in res])
    back = reconstruct_arith([r[1] for r in res])
    np.testing.assert_array_equal(back, to_ring(tags))
    off = 0
    moved = 0
    for size in blocks:
        part = out[off : off + size]
        assert sorted(part.tolist()) == to_ring(tags[off : off + size]).tolist()
        moved += int(np.sum(part != to_ring(tags[off : off + size])))
        off += size
    assert moved > 0 or n <= 1


def test_shuffle_blocks_must_add_up_to_the_rows() -> None:
    from sharelake.mpc.prg import Prg

    with pytest.raises(ValueError, match="do not add up"):
        sh.random_perm(Prg(b"k" * 16), 10, blocks=[4, 5])

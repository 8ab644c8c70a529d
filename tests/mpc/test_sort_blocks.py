"""Sorting public blocks of rows each on its own, in the same rounds, and undoing it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharelake.harness.runner import run_parties
from sharelake.mpc import sort as so
from sharelake.mpc.party import Party
from sharelake.mpc.ring import to_ring
from sharelake.mpc.shares import AShare
from sharelake.mpc.sharing import reconstruct_arith, reconstruct_bool, share_arith
from sharelake.net.memory import run_in_memory


def body_blocks(p: Party, key: AShare, pay: AShare, blocks: list[int]) -> dict[str, Any]:
    s = so.sort_undoable(p, [key], [pay], signed=True, bits=64, blocks=blocks)
    (back,) = so.unsort(p, [s.payload[0]], s)
    return {"key": s.keys[0], "pay": s.payload[0], "word": s.word, "back": back}


def _run_blocks(keys: np.ndarray[Any, Any], blocks: list[int], transport: str = "memory") -> None:
    n = len(keys)
    pay = np.arange(n, dtype=np.int64) * 5 + 3
    ks, ps = share_arith(to_ring(keys)), share_arith(to_ring(pay))
    res = run_parties(
        body_blocks,
        [{"key": ks[i], "pay": ps[i], "blocks": blocks} for i in range(3)],
        transport=transport,
    )
    got_key = reconstruct_arith([r["key"] for r in res])
    got_pay = reconstruct_arith([r["pay"] for r in res])
    word = reconstruct_bool([r["word"] for r in res])
    back = reconstruct_arith([r["back"] for r in res])
    off = 0
    for size in blocks:
        part = keys[off : off + size]
        order = np.argsort(part.astype(np.int64), kind="stable") + off
        np.testing.assert_array_equal(got_key[off : off + size], to_ring(keys)[order])
        np.testing.assert_array_equal(got_pay[off : off + size], to_ring(pay)[order])
        # the tiebreak word holds the row index within the block
        np.testing.assert_array_equal(word[off : off + size], (order - off).astype(np.uint64))
        off += size
    np.testing.assert_array_equal(back, to_ring(pay))


@pytest.mark.parametrize(
    "blocks", [[300, 300, 300], [1, 0, 2, 500], [700], [260, 1000], [5, 5, 5, 5]]
)
def test_each_block_is_sorted_on_its_own_and_the_sort_undoes(blocks: list[int]) -> None:
    rng = np.random.default_rng(sum(blocks))
    n = sum(blocks)
    keys = rng.integers(-50, 50, n)  # many ties within and across blocks
    _run_blocks(keys, blocks)


def test_blocks_of_equal_keys_keep_their_input_order() -> None:
    _run_blocks(np.full(900, 7), [300, 300, 300])


@settings(max_examples=8, deadline=None)
@given(
    st.lists(st.integers(0, 40), min_size=1, max_size=4),
    st.integers(0, 2**32 - 1),
)
def test_any_blocks_sort_like_numpy_per_block(blocks: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    keys = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, sum(blocks))
    keys[: sum(blocks) // 2] %= 5
    _run_blocks(keys, blocks)


@pytest.mark.tls
def test_blocks_sort_over_tls() -> None:
    rng = np.random.default_rng(9)
    _run_blocks(rng.integers(-9, 9, 600), [200, 400], transport="tls")


def body_bad(p: Party, key: AShare) -> Any:
    return so.sort_undoable(p, [key], blocks=[2, 2])


def test_blocks_that_do_not_add_up_to_the_rows_are_refused() -> None:
    ks = share_arith(to_ring(np.arange(5)))
    with pytest.raises(ValueError, match="do not add up"):
        run_in_memory(body_bad, [{"key": ks[i]} for i in range(3)])

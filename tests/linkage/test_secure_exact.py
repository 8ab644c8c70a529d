"""Exact multi-key linkage in MPC equals its plaintext twin (flags and pairs)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sharelake.harness.runner import run_parties
from sharelake.linkage.plain_match import exact_links_plain
from sharelake.linkage.secure import exact_links, exact_pair_table
from sharelake.mpc.arith import open_arith
from sharelake.mpc.party import Party
from sharelake.mpc.shares import concat_a
from sharelake.mpc.sharing import share_arith
from sharelake.relational.compact import reveal
from sharelake.relational.table import ColumnSpec, SecretColumn, SecretTable

KEYS = ["k0", "k1", "k2"]


def _table(p: Party, d: dict[str, Any], name: str) -> SecretTable:
    cols = {}
    for k in KEYS:
        null = d.get(f"{k}.null")
        cols[k] = SecretColumn(ColumnSpec(k, "int", nullable=null is not None), d[k], null)
    return SecretTable(cols, d["valid"], name)


def _body(p: Party, left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    res = exact_links(p, _table(p, left, "L"), _table(p, right, "R"), KEYS)
    flags = open_arith(p, concat_a([res.left, res.right]))
    pairs = reveal(p, exact_pair_table(p, res))
    return {"flags": flags, "li": pairs["left_row"], "ri": pairs["right_row"]}


def _inputs(keys: np.ndarray, valid: np.ndarray, null: np.ndarray | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{}, {}, {}]
    for j, k in enumerate(KEYS):
        for i, s in enumerate(share_arith(keys[j])):
            out[i][k] = s
        if null is not None:
            for i, s in enumerate(share_arith(null[j].astype(np.uint64))):
                out[i][f"{k}.null"] = s
    for i, s in enumerate(share_arith(valid.astype(np.uint64))):
        out[i]["valid"] = s
    return out


def _run(
    lk: np.ndarray,
    rk: np.ndarray,
    *,
    lvalid: np.ndarray | None = None,
    rvalid: np.ndarray | None = None,
    lnull: np.ndarray | None = None,
    rnull: np.ndarray | None = None,
    transport: str = "memory",
) -> None:
    n, m = lk.shape[1], rk.shape[1]
    lv = np.ones(n, bool) if lvalid is None else lvalid
    rv = np.ones(m, bool) if rvalid is None else rvalid
    li = _inputs(lk, lv, lnull)
    ri = _inputs(rk, rv, rnull)
    res = run_parties(
        _body,
        [{"left": li[i], "right": ri[i]} for i in range(3)],
        transport=transport,  # type: ignore[arg-type]
    )
    lu = lv[None, :] & (True if lnull is None else ~lnull)
    ru = rv[None, :] & (True if rnull is None else ~rnull)
    want = exact_links_plain(lk, rk, left_usable=lu, right_usable=ru)
    got = res[0]
    assert list(got["flags"][:n]) == list(want.left.astype(int))
    assert list(got["flags"][n:]) == list(want.right.astype(int))
    pairs = sorted(zip(got["li"].tolist(), got["ri"].tolist(), strict=True))
    assert pairs == want.pairs


def _random_keys(rng: np.random.Generator, k: int, n: int, alphabet: int) -> np.ndarray:
    return rng.integers(0, alphabet, (k, n)).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)


def test_random_lists_with_duplicates_match_the_plaintext_twin() -> None:
    rng = np.random.default_rng(1)
    lk, rk = _random_keys(rng, 3, 40, 25), _random_keys(rng, 3, 30, 25)
    _run(lk, rk)


def test_invalid_rows_and_null_keys_never_match() -> None:
    rng = np.random.default_rng(2)
    lk, rk = _random_keys(rng, 3, 30, 12), _random_keys(rng, 3, 25, 12)
    _run(
        lk,
        rk,
        lvalid=rng.random(30) < 0.8,
        rvalid=rng.random(25) < 0.8,
        lnull=rng.random((3, 30)) < 0.3,
        rnull=rng.random((3, 25)) < 0.3,
    )


def test_identical_lists_match_every_record_once() -> None:
    rng = np.random.default_rng(3)
    k = rng.integers(0, 2**63, (3, 20)).astype(np.uint64)
    _run(k, k.copy())


def test_lists_without_common_keys_have_no_matches() -> None:
    rng = np.random.default_rng(4)
    _run(
        rng.integers(0, 2**40, (3, 10)).astype(np.uint64),
        rng.integers(2**41, 2**42, (3, 7)).astype(np.uint64),
    )


def test_equal_digests_under_different_keys_do_not_match() -> None:
    lk = np.array([[5], [6], [7]], dtype=np.uint64)
    rk = np.array([[6], [7], [5]], dtype=np.uint64)
    _run(lk, rk)


def test_equal_digests_at_the_border_of_two_keys_blocks_do_not_match() -> None:
    # each key is sorted in its own block: key 0's largest digest (a right row) ends its
    # block and key 1's smallest (a left row with the same digest) starts the next one
    lk = np.array([[3, 2], [10, 11], [40, 41]], dtype=np.uint64)
    rk = np.array([[10, 1], [20, 21], [50, 51]], dtype=np.uint64)
    _run(lk, rk)
    # the same with negative digests (the sort is signed)
    neg = [np.uint64(2**64 - x) for x in (9, 5)]
    lk = np.array([[neg[0]], [neg[1]], [8]], dtype=np.uint64)
    rk = np.array([[neg[1]], [100], [9]], dtype=np.uint64)
    _run(lk, rk)


@pytest.mark.parametrize(("n", "m"), [(0, 5), (4, 0), (1, 1)])
def test_empty_and_single_record_lists(n: int, m: int) -> None:
    rng = np.random.default_rng(5)
    _run(_random_keys(rng, 3, n, 2), _random_keys(rng, 3, m, 2))


@pytest.mark.tls
def test_exact_linkage_runs_over_tls() -> None:
    rng = np.random.default_rng(6)
    _run(_random_keys(rng, 3, 12, 8), _random_keys(rng, 3, 9, 8), transport="tls")

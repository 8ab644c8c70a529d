"""Quicksort ranks on keys whose narrow chunks share one packed word, against numpy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sharelake.harness.runner import run_parties
from sharelake.mpc import comparator as cmp
from sharelake.mpc import quicksort as qs
from sharelake.mpc import sort as so
from sharelake.mpc.arith import open_bool
from sharelake.mpc.party import Party
from sharelake.mpc.ring import to_ring
from sharelake.mpc.shares import BShare
from sharelake.mpc.sharing import reconstruct_arith, share_arith, share_bool

U64 = np.uint64
Arr = np.ndarray[Any, Any]


def test_word_layout_packs_the_narrow_chunks_of_a_key_into_one_word() -> None:
    z = BShare(np.zeros(3, dtype=np.uint64), np.zeros(3, dtype=np.uint64))
    # 64 + 2 + 20 = 86 bits: 64 | 16 4 2 in one word, fields aligned from the top
    widths = [w for _, w in cmp.pack_chunks([(z, 64), (z, 2), (z, 20)])]
    assert widths == [64, 16, 4, 2]
    assert cmp.word_layout(widths) == [(0, 0, 64), (1, 48, 16), (1, 44, 4), (1, 42, 2)]
    assert cmp.word_layout([32, 16, 8, 4]) == [(0, 32, 32), (0, 16, 16), (0, 8, 8), (0, 4, 4)]
    assert cmp.word_layout([64, 64]) == [(0, 0, 64), (1, 0, 64)]
    # not from pack_chunks: fields stay aligned, a chunk that does not fit opens a word
    assert cmp.word_layout([4, 16, 64, 32, 32, 2]) == [
        (0, 60, 4),
        (0, 32, 16),
        (1, 0, 64),
        (2, 32, 32),
        (2, 0, 32),
        (3, 62, 2),
    ]


def _random_below(rng: np.random.Generator, w: int, n: int) -> Arr:
    """n random values of ``w`` bits (w <= 64)."""
    v = rng.integers(0, 2**63, n, dtype=np.int64).view(np.uint64) << U64(1)
    v ^= rng.integers(0, 2, n).astype(np.uint64)
    return v & U64(2**w - 1) if w < 64 else v


@pytest.mark.parametrize("widths", [[64, 2, 20], [40, 20], [63, 20], [44, 20], [64, 1, 20]])
def test_key_words_hold_every_chunk_in_its_field(widths: list[int]) -> None:
    rng = np.random.default_rng(len(widths))
    n = 50
    fields = [BShare(_random_below(rng, w, n), _random_below(rng, w, n)) for w in widths]
    chunks = cmp.pack_chunks(list(zip(fields, widths, strict=True)))
    words = cmp.key_words(chunks)
    lay = cmp.word_layout([w for _, w in chunks])
    # f full chunks and one word for all narrower ones
    assert words.shape == (2 * (sum(widths) // 64 + (sum(widths) % 64 > 0)), n)
    for (ch, w), (k, sh, wd) in zip(chunks, lay, strict=True):
        assert w <= wd
        mask = U64(2**wd - 1) if wd < 64 else U64(2**64 - 1)
        np.testing.assert_array_equal((words[2 * k] >> U64(sh)) & mask, ch.a)
        np.testing.assert_array_equal((words[2 * k + 1] >> U64(sh)) & mask, ch.b)


def body_ranks(p: Party, fields: list[BShare], widths: list[int], n: int) -> Any:
    return qs.quicksort_ranks(p, cmp.pack_chunks(list(zip(fields, widths, strict=True))), n)


def _keys(pattern: str, n: int, widths: list[int], rng: np.random.Generator) -> list[Arr]:
    """Key fields (most significant first) below their widths, in the given pattern."""
    top = [U64(2**w - 1) if w < 64 else U64(2**64 - 1) for w in widths]
    if pattern == "equal":
        return [np.full(n, t // U64(3), dtype=np.uint64) for t in top]
    if pattern == "extreme":
        return [np.where(rng.integers(0, 2, n) == 1, t, U64(0)) for t in top]
    cols = [rng.integers(0, int(t), n, dtype=np.uint64, endpoint=True) for t in top]
    cols[0][::5] = cols[0][0]  # ties in the top field, so lower fields decide
    if pattern == "random":
        return cols
    order = np.lexsort(cols[::-1])
    if pattern == "reversed":
        order = order[::-1]
    return [c[order] for c in cols]


@pytest.mark.parametrize("pattern", ["random", "equal", "sorted", "reversed", "extreme"])
@pytest.mark.parametrize(
    "widths",
    [[64, 2], [40], [44], [64, 1], [63], [64, 44], [30, 33, 7]],
    ids=["64+2", "40", "44(=64)", "64+1", "63", "64+44(=128)", "30+33+7"],
)
@pytest.mark.parametrize("n", [150, 1100])
def test_quicksort_ranks_of_keys_with_narrow_chunks_match_lexsort(
    n: int, widths: list[int], pattern: str
) -> None:
    # With a 20-bit row index as the last field: 86, 60, 64, 85, 83, 128 and 90 bits,
    # leaving 3, 4, 0, 3, 3, 0 and 4 narrow chunks in one word.
    rng = np.random.default_rng(n + sum(widths))
    keys = _keys(pattern, n, widths, rng)
    idx = rng.permutation(n).astype(np.uint64)  # distinct: the shuffled row index
    per = [share_bool(to_ring(v)) for v in [*keys, idx]]
    all_w = [*widths, 20]
    res = run_parties(
        body_ranks,
        [{"fields": [f[i] for f in per], "widths": all_w, "n": n} for i in range(3)],
        transport="memory",
    )
    want = np.empty(n, dtype=np.intp)
    want[np.lexsort([idx, *keys[::-1]])] = np.arange(n)
    for got in res:
        np.testing.assert_array_equal(got, want)


def body_sort(p: Party, keys: list[BShare], payload: Any, bits: list[int]) -> Any:
    return so.sort(p, keys, [payload], bits=bits, signed=False)[1][0]


@pytest.mark.parametrize("pattern", ["random", "equal", "sorted", "reversed"])
def test_sort_by_a_64_and_a_2_bit_key_is_stable_like_lexsort(pattern: str) -> None:
    rng = np.random.default_rng(7)
    n = 700
    keys = _keys(pattern, n, [64, 2], rng)
    per = [share_bool(to_ring(v)) for v in keys]
    pay = share_arith(to_ring(np.arange(n)))
    res = run_parties(
        body_sort,
        [{"keys": [k[i] for k in per], "payload": pay[i], "bits": [64, 2]} for i in range(3)],
        transport="memory",
    )
    got = reconstruct_arith(res)
    np.testing.assert_array_equal(got, np.lexsort(keys[::-1]))


@pytest.mark.parametrize("widths", [[64, 16, 4, 2], [32, 16, 8, 4], [16, 2, 2]])
def test_open_below_compares_keys_packed_with_several_narrow_chunks(widths: list[int]) -> None:
    rng = np.random.default_rng(sum(widths))
    n = 120
    fields = [_random_below(rng, w, n) for w in widths]
    fields[0][1::2] = fields[0][0::2]
    xi = rng.integers(0, n, 400)
    yi = rng.integers(0, n, 400)
    per = [share_bool(to_ring(v)) for v in fields]

    def body(p: Party, f: list[BShare]) -> Any:
        chunks = cmp.pack_chunks(list(zip(f, widths, strict=True)))
        return cmp.open_below(p, chunks, xi.astype(np.intp), yi.astype(np.intp))

    got = run_parties(body, [{"f": [v[i] for v in per]} for i in range(3)], transport="memory")[0]
    keys = [tuple(int(v[e]) for v in fields) for e in range(n)]
    differ = np.array([keys[a] != keys[b] for a, b in zip(xi, yi, strict=True)])
    want = np.array([keys[a] < keys[b] for a, b in zip(xi, yi, strict=True)])
    np.testing.assert_array_equal(got[differ], want[differ])


def body_twice(p: Party, fields: list[BShare], widths: list[int], sizes: list[int]) -> Any:
    """compare_rows on prefixes of the keys of several sizes, with one Scratch."""
    cols = cmp.key_words(cmp.pack_chunks(list(zip(fields, widths, strict=True))))
    ws = cmp.Scratch()
    out = []
    for m in sizes:
        mp = -(-m // 32) * 32
        xs = np.zeros((cols.shape[0], mp), dtype=np.uint64)
        ys = np.zeros_like(xs)
        xs[:, :m] = cols[:, :m]
        ys[:, :m] = cols[:, m : 2 * m]
        out.append(cmp.compare_rows(p, xs, ys, widths, ws))
    # opened only now: each result must survive the later calls that reused the work arrays
    return [open_bool(p, r) for r in out]


def test_compare_rows_results_survive_later_calls_on_the_same_scratch() -> None:
    widths = [64, 16, 4, 2]
    rng = np.random.default_rng(3)
    n = 2000
    fields = [_random_below(rng, w, n) for w in widths]
    fields[0][1000:] = fields[0][:1000]  # equal top chunks, so the narrow ones decide
    per = [share_bool(to_ring(v)) for v in fields]
    sizes = [700, 1000, 64, 333]
    res = run_parties(
        body_twice,
        [{"fields": [v[i] for v in per], "widths": widths, "sizes": sizes} for i in range(3)],
        transport="memory",
    )[0]
    keys = [tuple(int(v[e]) for v in fields) for e in range(n)]
    for words, m in zip(res, sizes, strict=True):
        bits = np.unpackbits(words.view(np.uint8), bitorder="little")
        d, v = bits[0::2][:m].astype(bool), bits[1::2][:m].astype(bool)
        np.testing.assert_array_equal(d, [keys[e] != keys[m + e] for e in range(m)])
        want = np.array([keys[e] < keys[m + e] for e in range(m)])
        np.testing.assert_array_equal(v[d], want[d])

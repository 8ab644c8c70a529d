"""k lists at once: one-to-one links of every list pair, then persons by min-label rounds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sharelake.harness.runner import run_parties
from sharelake.linkage.blocked import (
    ListLinks,
    PassLinks,
    cluster,
    cluster_plain,
    link_lists,
    link_lists_plain,
)
from sharelake.linkage.blocking import BLOCK_KEYS
from sharelake.linkage.encode import EncodedPeople, encode_people
from sharelake.linkage.fuzzy_inputs import FuzzyParams, SharedPeople, share_people
from sharelake.linkage.quality import RECOMMENDED
from sharelake.linkage.score import pair_scores
from sharelake.linkage.synth import make_lists
from sharelake.mpc.arith import open_arith
from sharelake.mpc.party import Party
from sharelake.mpc.shares import AShare
from sharelake.mpc.sharing import share_arith
from sharelake.mpc.sort import sort_undoable


def _union_find(links: list[tuple[int, int]], n: int) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    return [find(i) for i in range(n)]


def _diameter(links: list[tuple[int, int]], n: int) -> int:
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for a, b in links:
        nbrs[a].append(b)
        nbrs[b].append(a)
    best = 0
    for s in range(n):
        dist = {s: 0}
        todo = [s]
        while todo:
            x = todo.pop(0)
            for y in nbrs[x]:
                if y not in dist:
                    dist[y] = dist[x] + 1
                    todo.append(y)
        best = max(best, *dist.values())
    return best


def _graph_body(
    p: Party, fwd: list[Any], bwd: list[Any], sizes: list[int], rounds: int
) -> list[int]:
    nn = sum(sizes)
    srt = sort_undoable(p, [p.public_a(np.arange(nn, dtype=np.uint64))], signed=False, bits=64)
    pl = PassLinks(srt, [AShare(*x) for x in fwd], [AShare(*x) for x in bwd])
    links = ListLinks(tuple(sizes), nn - 1, [], [], [pl])
    return [int(x) for x in open_arith(p, cluster(p, links, rounds=rounds))]


def _secure_cluster(links: list[tuple[int, int]], sizes: list[int], rounds: int) -> list[int]:
    """cluster() on a given link graph: one pass in row order, a window over all rows."""
    k, nn = len(sizes), sum(sizes)
    w = nn - 1
    lst = np.repeat(np.arange(k), sizes)
    fwd = np.zeros((k - 1, w, nn), dtype=np.uint64)
    bwd = np.zeros((k - 1, w, nn), dtype=np.uint64)
    for a, b in links:
        d = b - a
        fwd[(lst[b] - lst[a]) % k - 1, d - 1, a] = 1
        bwd[(lst[a] - lst[b]) % k - 1, d - 1, a] = 1
    shares_f = [share_arith(x.reshape(-1)) for x in fwd]
    shares_b = [share_arith(x.reshape(-1)) for x in bwd]
    inputs = [
        {
            "fwd": [(s[i].a, s[i].b) for s in shares_f],
            "bwd": [(s[i].a, s[i].b) for s in shares_b],
            "sizes": sizes,
            "rounds": rounds,
        }
        for i in range(3)
    ]
    return run_parties(_graph_body, inputs, transport="memory")[0]  # type: ignore[arg-type,no-any-return]


def _random_links(rng: np.random.Generator, sizes: list[int]) -> list[tuple[int, int]]:
    """One-to-one links between every pair of lists (a random partial matching each)."""
    starts = np.cumsum([0, *sizes])
    links = []
    for s in range(len(sizes)):
        for t in range(s + 1, len(sizes)):
            a = rng.permutation(sizes[s])
            b = rng.permutation(sizes[t])
            for i in range(min(sizes[s], sizes[t])):
                if rng.random() < 0.35:
                    links.append((int(starts[s] + a[i]), int(starts[t] + b[i])))
    return sorted(links)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_clustering_equals_the_plaintext_rounds_and_union_find_on_random_link_graphs(
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    sizes = [4, 3, 4, 3]
    links = _random_links(rng, sizes)
    rounds = 3
    got = _secure_cluster(links, sizes, rounds)
    assert got == cluster_plain(links, sum(sizes), rounds)
    if _diameter(links, sum(sizes)) <= rounds:
        assert got == _union_find(links, sum(sizes))


def test_a_chain_across_three_lists_is_one_person_with_enough_rounds_and_split_without() -> None:
    sizes = [2, 2, 2]  # a1 a2 | b1 b2 | c1 c2
    a1, a2, b1, b2, c1, c2 = range(6)
    chain = sorted([(a1, b1), (b1, c1), (a2, c1), (a2, b2), (b2, c2)])  # one-to-one per pair
    assert _diameter(chain, 6) == 5
    assert _secure_cluster(chain, sizes, 5) == [0] * 6 == _union_find(chain, 6)
    short = _secure_cluster(chain, sizes, 2)  # k - 1 rounds do not reach the chain's end
    assert short == cluster_plain(chain, 6, 2)
    assert len(set(short)) > 1


def test_a_consistent_person_on_every_list_needs_only_k_minus_1_rounds() -> None:
    sizes = [1, 1, 1, 1]
    path = [(0, 1), (1, 2), (2, 3)]  # a path is the worst consistent case: diameter k - 1
    assert _secure_cluster(path, sizes, 3) == [0, 0, 0, 0]


# ---- k lists linked by the blocked scorer --------------------------------------------------


def _lists_body(p: Party, tables: list[dict[str, Any]], window: int, rounds: int) -> list[Any]:
    shared = [SharedPeople.unpack(t) for t in tables]
    links = link_lists(p, shared, RECOMMENDED, hybrid=True, keys=BLOCK_KEYS[:2], window=window)
    flags = [open_arith(p, f).astype(np.int64).tolist() for f in links.flag]
    parts = [open_arith(p, x).astype(np.int64).tolist() for x in links.partner]
    labels = open_arith(p, cluster(p, links, rounds=rounds)).astype(np.int64).tolist()
    return [flags, parts, labels]


def _union(parts: list[EncodedPeople]) -> EncodedPeople:
    return EncodedPeople(
        np.concatenate([x.record_id for x in parts]),
        {k: np.concatenate([x.columns[k] for x in parts]) for k in parts[0].columns},
        {k: np.concatenate([x.matrices[k] for x in parts]) for k in parts[0].matrices},
    )


def test_k_lists_link_and_cluster_as_the_plaintext_twin() -> None:
    s = make_lists(9, overlap=0.7, seed=31)
    t = make_lists(9, overlap=0.7, seed=31)
    frames = [s.left.iloc[:8], s.right.iloc[:7], t.left.iloc[2:9].reset_index(drop=True)]
    enc = [encode_people(f, seed=j) for j, f in enumerate(frames)]
    sizes = [len(e) for e in enc]
    shared = [share_people(e.columns, e.matrices) for e in enc]
    inputs = [
        {"tables": [sh[i].pack() for sh in shared], "window": 3, "rounds": 4} for i in range(3)
    ]
    flags, parts, labels = run_parties(_lists_body, inputs, transport="memory")[0]  # type: ignore[arg-type]
    u = _union(enc)
    num, den = pair_scores(u, u, RECOMMENDED, hybrid=True)
    keys = np.stack([u.columns[k] for k in BLOCK_KEYS[:2]])
    want = link_lists_plain(keys, num, den, sizes, RECOMMENDED, window=3)
    k, nn = len(sizes), sum(sizes)
    lst = np.repeat(np.arange(k), sizes)
    got = set()
    for r in range(1, k):
        for i in range(nn):
            if flags[r - 1][i]:
                j = parts[r - 1][i] - 1
                assert (lst[j] - lst[i]) % k == r
                got.add((min(i, j), max(i, j)))
    assert sorted(got) == want
    assert len(want) >= 4, "the case must link across lists"
    assert labels == cluster_plain(want, nn, 4)


def test_a_params_object_without_w_all_is_required_for_blocking() -> None:
    s = make_lists(3, seed=1)
    e = encode_people(s.left, seed=1)
    sh = share_people(e.columns, e.matrices)

    def body(p: Party, t: dict[str, Any]) -> str:
        try:
            link_lists(p, [SharedPeople.unpack(t)] * 2, FuzzyParams(w_all=1))
        except ValueError as exc:
            return str(exc)
        return ""

    out = run_parties(body, [{"t": sh[i].pack()} for i in range(3)], transport="memory")
    assert "w_all" in out[0]

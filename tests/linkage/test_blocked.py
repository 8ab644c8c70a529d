"""Sorted-neighbourhood blocking inside MPC against its plaintext twin."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sharelake.harness.runner import run_parties
from sharelake.linkage.blocked import blocked_match, blocked_match_plain
from sharelake.linkage.blocking import BLOCK_KEYS, pack_letters, sn_candidates, sorted_order
from sharelake.linkage.encode import EncodedPeople, encode_people
from sharelake.linkage.fuzzy_inputs import FuzzyParams, SharedPeople, share_people
from sharelake.linkage.quality import RECOMMENDED
from sharelake.linkage.score import fuzzy_match_encoded, pair_scores
from sharelake.linkage.synth import make_lists
from sharelake.mpc.arith import open_arith
from sharelake.mpc.party import Party

PARAMS = {"recommended": RECOMMENDED, "low": FuzzyParams(t_num=5, t_den=2)}


def _body(
    p: Party,
    left: dict[str, Any],
    right: dict[str, Any],
    hybrid: bool,
    prm: str,
    window: int,
    keys: list[str],
) -> list[list[int]]:
    out = blocked_match(
        p,
        SharedPeople.unpack(left),
        SharedPeople.unpack(right),
        PARAMS[prm],
        hybrid=hybrid,
        keys=keys,
        window=window,
    )
    opened = [open_arith(p, x) for x in (out.left_flag, out.left_partner, out.right_flag)]
    return [x.astype(np.int64).tolist() for x in opened]


def _union(a: EncodedPeople, b: EncodedPeople) -> EncodedPeople:
    return EncodedPeople(
        np.concatenate([a.record_id, b.record_id]),
        {k: np.concatenate([a.columns[k], b.columns[k]]) for k in a.columns},
        {k: np.concatenate([a.matrices[k], b.matrices[k]]) for k in a.matrices},
    )


def _secure(
    a: EncodedPeople, b: EncodedPeople, *, hybrid: bool, prm: str, window: int, keys: Any
) -> tuple[list[tuple[int, int]], list[int]]:
    ls, rs = share_people(a.columns, a.matrices), share_people(b.columns, b.matrices)
    inputs = [
        {
            "left": ls[i].pack(),
            "right": rs[i].pack(),
            "hybrid": hybrid,
            "prm": prm,
            "window": window,
            "keys": list(keys),
        }
        for i in range(3)
    ]
    flags, part, rflags = run_parties(_body, inputs, transport="memory")[0]  # type: ignore[arg-type]
    assert set(flags) <= {0, 1} and set(rflags) <= {0, 1}
    return sorted((i, int(part[i])) for i in range(len(a)) if flags[i]), rflags


def _plain(
    a: EncodedPeople, b: EncodedPeople, *, hybrid: bool, prm: str, window: int, keys: Any
) -> list[tuple[int, int]]:
    u = _union(a, b)
    num, den = pair_scores(u, u, PARAMS[prm], hybrid=hybrid)
    keys_ = np.stack([u.columns[k] for k in keys])
    return blocked_match_plain(keys_, num, den, len(a), PARAMS[prm], window=window)


@pytest.mark.parametrize(
    ("prm", "hybrid", "window", "n", "seed"),
    [("recommended", True, 3, 14, 11), ("low", False, 2, 11, 12), ("low", False, 1, 9, 13)],
)
def test_blocked_linkage_gives_the_same_links_as_its_plaintext_twin(
    prm: str, hybrid: bool, window: int, n: int, seed: int
) -> None:
    s = make_lists(n, overlap=0.6, seed=seed)
    a, b = encode_people(s.left, seed=1), encode_people(s.right.iloc[: n - 2], seed=2)
    keys = BLOCK_KEYS[:3]
    got, rflags = _secure(a, b, hybrid=hybrid, prm=prm, window=window, keys=keys)
    want = _plain(a, b, hybrid=hybrid, prm=prm, window=window, keys=keys)
    assert got == want
    assert want, "the case must link something"
    assert sorted(j for _, j in want) == [j for j in range(len(b)) if rflags[j]]


def test_blocked_linkage_of_an_empty_list_links_nothing() -> None:
    s = make_lists(6, overlap=0.5, seed=3)
    a, b = encode_people(s.left, seed=1), encode_people(s.right.iloc[:0], seed=2)
    got, rflags = _secure(a, b, hybrid=True, prm="recommended", window=2, keys=BLOCK_KEYS[:1])
    assert got == [] and rflags == []


def test_a_window_over_the_whole_union_links_as_the_all_pairs_scorer() -> None:
    s = make_lists(40, overlap=0.5, seed=21)
    a, b = encode_people(s.left, seed=1), encode_people(s.right, seed=2)
    allpairs = fuzzy_match_encoded(a, b, RECOMMENDED, hybrid=True).pairs()
    blocked = _plain(a, b, hybrid=True, prm="recommended", window=79, keys=BLOCK_KEYS[:1])
    assert blocked == allpairs
    assert len(allpairs) >= 15


def test_the_candidates_of_a_pass_are_each_record_and_its_next_records_in_key_order() -> None:
    keys = np.array([50, 10, 30, 10, 40], dtype=np.uint64)
    assert sorted_order(keys).tolist() == [1, 3, 2, 4, 0]
    pairs = {tuple(x) for x in sn_candidates(keys, 2).tolist()}
    assert pairs == {(1, 3), (3, 2), (2, 4), (4, 0), (1, 2), (3, 4), (2, 0)}


def test_letter_keys_sort_alphabetically_and_prefixes_first() -> None:
    words = ["petrova", "petrov", "ivanov", "", "pet", "b", "a", "ab"]
    packed = [pack_letters(x, 6) for x in words]
    assert sorted(words) == [w for _, w in sorted(zip(packed, words, strict=True))]

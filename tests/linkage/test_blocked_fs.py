"""Sorted-neighbourhood blocking scored by the Fellegi-Sunter model, against its twin."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sharelake.harness.runner import run_parties
from sharelake.linkage.blocked import (
    FSScoring,
    blocked_match,
    blocked_match_plain,
    link_lists,
    link_lists_plain,
)
from sharelake.linkage.blocking import BLOCK_KEYS
from sharelake.linkage.encode import EncodedPeople, encode_people
from sharelake.linkage.fs import TRAINED_WEIGHTS, FSConfig, FSWeights, tf_units_plain, weights_plain
from sharelake.linkage.fuzzy_inputs import SharedPeople, share_people
from sharelake.linkage.synth_hard import make_hard_lists
from sharelake.mpc.arith import open_arith
from sharelake.mpc.party import Party

CFG = FSConfig()
#: trained weights with a low threshold, so that namesakes and weak pairs compete
LOW = FSWeights(**{**TRAINED_WEIGHTS.__dict__, "threshold": 20, "fit": None})
WEIGHTS = {
    "trained": TRAINED_WEIGHTS,
    "low": LOW,
    "no_tf": FSWeights(**{**TRAINED_WEIGHTS.__dict__, "tf": False, "fit": None}),
}


def _union(parts: list[EncodedPeople]) -> EncodedPeople:
    a = parts[0]
    return EncodedPeople(
        np.concatenate([t.record_id for t in parts]),
        {k: np.concatenate([t.columns[k] for t in parts]) for k in a.columns},
        {k: np.concatenate([t.matrices[k] for t in parts]) for k in a.matrices},
    )


def _plain(parts: list[EncodedPeople], w: FSWeights, window: int, keys: Any) -> list[Any]:
    u = _union(parts)
    tfu = tf_units_plain(w, u) if w.tf else None
    wgt = weights_plain(u, u, w, CFG, tf_units=tfu)  # [a, b]: a's term frequencies
    ks = np.stack([u.columns[k] for k in keys])
    return link_lists_plain(
        ks, wgt, np.ones_like(wgt), [len(t) for t in parts], w.threshold, window=window
    )


def _two_body(p: Party, left: Any, right: Any, w: str, window: int, keys: list[str]) -> Any:
    out = blocked_match(
        p,
        SharedPeople.unpack(left),
        SharedPeople.unpack(right),
        keys=keys,
        window=window,
        fs=FSScoring(WEIGHTS[w], CFG),
    )
    opened = [open_arith(p, x) for x in (out.left_flag, out.left_partner, out.right_flag)]
    return [x.astype(np.int64).tolist() for x in opened]


def _edge_rows(t: EncodedPeople, rows: list[int]) -> EncodedPeople:
    """Rows whose names are emptied and dates removed (edge cases of the encoding)."""
    c = {k: v.copy() for k, v in t.columns.items()}
    m = {k: v.copy() for k, v in t.matrices.items()}
    for r in rows[:1]:
        m["given"][r] = 0
        c["given_count"][r] = 0
    for r in rows[1:]:
        m["dob"][r] = 0
        for part in ("year", "month", "day"):
            c[f"dob_{part}_present"][r] = 0
    return EncodedPeople(t.record_id, c, m)


@pytest.mark.parametrize(
    ("weights", "window", "n", "seed", "security"),
    [
        ("trained", 3, 16, 31, "malicious"),
        ("low", 2, 14, 32, "malicious"),
        ("no_tf", 1, 12, 33, "malicious"),
        ("low", 3, 16, 34, "semi-honest"),  # the scorer's payload on 32-bit words
    ],
)
def test_blocked_fellegi_sunter_linkage_gives_the_same_links_as_its_plaintext_twin(
    monkeypatch: pytest.MonkeyPatch, weights: str, window: int, n: int, seed: int, security: str
) -> None:
    monkeypatch.setenv("SHARELAKE_SECURITY", security)
    s = make_hard_lists(n, overlap=0.6, seed=seed)
    a = _edge_rows(encode_people(s.left, seed=1), [0, 1])
    b = encode_people(s.right.iloc[: n - 2], seed=2)
    keys = list(BLOCK_KEYS[:3])
    ls, rs = share_people(a.columns, a.matrices), share_people(b.columns, b.matrices)
    inputs = [
        {"left": ls[i].pack(), "right": rs[i].pack(), "w": weights, "window": window, "keys": keys}
        for i in range(3)
    ]
    flags, part, rflags = run_parties(_two_body, inputs, transport="memory", deadline=300)[0]
    got = sorted((i, int(part[i])) for i in range(len(a)) if flags[i])
    want = [(x, y - len(a)) for x, y in _plain([a, b], WEIGHTS[weights], window, keys)]
    assert got == want
    assert want, "the case must link something"
    assert sorted(j for _, j in want) == [j for j in range(len(b)) if rflags[j]]
    assert want == blocked_match_plain(
        np.stack([_union([a, b]).columns[k] for k in keys]),
        *_wones(a, b, WEIGHTS[weights]),
        len(a),
        WEIGHTS[weights].threshold,
        window=window,
    )


def _wones(a: EncodedPeople, b: EncodedPeople, w: FSWeights) -> tuple[Any, Any]:
    u = _union([a, b])
    wgt = weights_plain(u, u, w, CFG, tf_units=tf_units_plain(w, u) if w.tf else None)
    return wgt, np.ones_like(wgt)


def _many_body(p: Party, tables: list[Any], window: int) -> Any:
    links = link_lists(
        p,
        [SharedPeople.unpack(t) for t in tables],
        keys=BLOCK_KEYS[:2],
        window=window,
        fs=FSScoring(LOW, CFG),
    )
    return [open_arith(p, x).astype(np.int64).tolist() for x in [*links.flag, *links.partner]]


def test_k_lists_scored_by_fellegi_sunter_link_as_the_plaintext_twin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sharelake.linkage.blocked as blocked
    import sharelake.linkage.kernels as kernels

    monkeypatch.setattr(blocked, "FS_PAIRS", 5)  # many batches of records
    monkeypatch.setattr(kernels, "BAND_ROWS", 2)  # many banded blocks ...
    monkeypatch.setattr(kernels, "BAND_BATCH", 2)  # ... in several batched products
    s = make_hard_lists(12, overlap=0.7, seed=41)
    parts = [
        encode_people(s.left.iloc[:7], seed=1),
        encode_people(s.right, seed=2),
        encode_people(s.left.iloc[5:], seed=3),
    ]
    shared = [share_people(t.columns, t.matrices) for t in parts]
    inputs = [{"tables": [sh[i].pack() for sh in shared], "window": 3} for i in range(3)]
    got = run_parties(_many_body, inputs, transport="memory", deadline=300)[0]
    k, nn = 3, sum(len(t) for t in parts)
    flags, partners = got[: k - 1], got[k - 1 :]
    found = set()
    for r in range(k - 1):
        for i in range(nn):
            if flags[r][i]:
                j = partners[r][i] - 1
                found.add((min(i, j), max(i, j)))
    want = _plain(parts, LOW, 3, BLOCK_KEYS[:2])
    assert sorted(found) == want
    assert len(want) >= 4, "the case must link several pairs"


def _same_keys(t: EncodedPeople) -> EncodedPeople:
    c = {k: (np.full_like(v, 7) if k.startswith("blk_") else v) for k, v in t.columns.items()}
    return EncodedPeople(t.record_id, c, t.matrices)


@pytest.mark.parametrize(
    ("case", "n", "m", "window"),
    [
        ("empty", 0, 4, 3),
        ("one_record_each", 1, 1, 8),
        ("all_keys_identical", 6, 5, 6),
        ("window_longer_than_the_union", 4, 3, 20),
    ],
)
@pytest.mark.parametrize("security", ["malicious", "semi-honest"])
def test_fellegi_sunter_blocking_of_edge_lists_links_as_the_plaintext_twin(
    monkeypatch: pytest.MonkeyPatch, case: str, n: int, m: int, window: int, security: str
) -> None:
    monkeypatch.setenv("SHARELAKE_SECURITY", security)
    s = make_hard_lists(max(n, m, 1), overlap=1.0, seed=57)
    a = encode_people(s.left.iloc[:n], seed=1)
    b = encode_people(s.right.iloc[:m], seed=2)
    if case == "all_keys_identical":
        a, b = _same_keys(a), _same_keys(b)
    keys = list(BLOCK_KEYS[:2])
    ls, rs = share_people(a.columns, a.matrices), share_people(b.columns, b.matrices)
    inputs = [
        {"left": ls[i].pack(), "right": rs[i].pack(), "w": "low", "window": window, "keys": keys}
        for i in range(3)
    ]
    flags, part, rflags = run_parties(_two_body, inputs, transport="memory", deadline=300)[0]
    got = sorted((i, int(part[i])) for i in range(n) if flags[i])
    want = [(x, y - n) for x, y in _plain([a, b], LOW, window, keys)] if n else []
    assert got == want
    assert sorted(j for _, j in want) == [j for j in range(m) if rflags[j]]
    assert (len(want) > 0) == (case != "empty"), "every non-empty case links someone"

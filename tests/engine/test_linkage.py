"""The ``link`` plan operator (engine/linkage.py) equals the plaintext twins exactly.

In memory (three threads): person tables encoded and shared as the client uploads them,
the plan run by the node's executor, released and rebuilt as the client does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from sharelake.client.linkage import link_plan
from sharelake.client.results import rebuild
from sharelake.engine.executor import execute, release_rows
from sharelake.harness.runner import run_parties
from sharelake.linkage.encode import encode_people
from sharelake.linkage.fs import TRAINED_WEIGHTS, fs_match_plain, tf_units_plain, weights_plain
from sharelake.linkage.people_table import (
    DEFAULT_PARAMS,
    FS_DEFAULT_PARAMS,
    LINK_KEYS,
    MIN_EM_PAIRS,
    encoded_columns,
    fs_config,
    fuzzy_params,
    shared_people,
)
from sharelake.linkage.plain_match import exact_links_plain, fuzzy_match_plain, release_plain
from sharelake.linkage.synth import make_lists
from sharelake.mpc.party import Party
from sharelake.plan import nodes as pn
from sharelake.plan import tree
from sharelake.plan.canonical import PlanError
from sharelake.relational.encode import encode_frame, share_table
from sharelake.relational.table import ColumnSpec
from sharelake.storage.bundle import encode_bundle

N = 40


def person_tables(df: pd.DataFrame, name: str) -> tuple[Any, list[Any]]:
    enc = encode_people(df, seed=5)
    spec = ColumnSpec("record_id", "string", False, max_len=16)
    cols = encode_frame(df[["record_id"]], [spec]) + encoded_columns(enc)
    return enc, share_table(cols, name=name)


@pytest.fixture(scope="module")
def lists() -> dict[str, Any]:
    s = make_lists(N, seed=3)
    enc_l, sh_l = person_tables(s.left, "a")
    enc_r, sh_r = person_tables(s.right, "b")
    return {"s": s, "enc": (enc_l, enc_r), "shares": (sh_l, sh_r)}


def run_link(lists: dict[str, Any], plan: dict[str, Any]) -> pd.DataFrame:
    sh_l, sh_r = lists["shares"]

    def party(p: Party, a: Any, b: Any) -> bytes:
        tables = {"a": a, "b": b}
        res = release_rows(p, execute(p, tree.from_json(plan), tables.__getitem__))
        return encode_bundle(res.meta, res.arrays)

    inputs = [{"a": sh_l[i], "b": sh_r[i]} for i in range(3)]
    bundles = run_parties(party, inputs, deadline=120)
    cols = pn.link_columns(plan["root"]["reveal"])
    return rebuild(bundles, plan, columns=cols)


def expected(lists: dict[str, Any], mode: str) -> np.ndarray[Any, Any]:
    enc_l, enc_r = lists["enc"]
    n, m = len(enc_l), len(enc_r)
    if mode == "exact":
        lk = np.stack([enc_l.columns[k] for k in LINK_KEYS])
        rk = np.stack([enc_r.columns[k] for k in LINK_KEYS])
        out = np.zeros((n, m), dtype=np.int64)
        for i, j in exact_links_plain(lk, rk).pairs:
            out[i, j] = 1
        return out
    if mode == "probabilistic":  # 40 x 40 pairs: below MIN_EM_PAIRS, the trained weights
        assert n * m < MIN_EM_PAIRS
        r = fs_match_plain(enc_l, enc_r, weights=TRAINED_WEIGHTS)
        return r.matrix(n, m)
    prm = fuzzy_params(DEFAULT_PARAMS)
    return fuzzy_match_plain(
        enc_l.columns, enc_l.matrices, enc_r.columns, enc_r.matrices, prm, hybrid=mode == "hybrid"
    )


@pytest.mark.parametrize("mode", ["exact", "fuzzy", "hybrid", "probabilistic"])
def test_each_reveal_mode_releases_what_the_plaintext_twin_releases(
    lists: dict[str, Any], mode: str
) -> None:
    s = lists["s"]
    lid, rid = s.left["record_id"].tolist(), s.right["record_id"].tolist()
    match = expected(lists, mode)
    assert match.sum() > 0
    pairs = run_link(lists, link_plan("a", "b", mode=mode, reveal="pairs"))  # type: ignore[arg-type]
    want = sorted((lid[i], rid[j]) for i, j in release_plain(match, "pairs")["pairs"])
    got = sorted(zip(pairs["left_record_id"], pairs["right_record_id"], strict=True))
    assert got == want
    own = run_link(lists, link_plan("a", "b", mode=mode, reveal="own"))  # type: ignore[arg-type]
    rel = release_plain(match, "own")
    want_own = {lid[i]: int(c) for i, c in enumerate(rel["counts"]) if c}
    assert dict(zip(own["record_id"], own["matches"].astype(int), strict=True)) == want_own
    assert set(own["lists"]) == {2}
    count = run_link(lists, link_plan("a", "b", mode=mode, reveal="count"))  # type: ignore[arg-type]
    assert count["matches"].tolist() == [int(match.sum())]


def test_tables_of_different_pipelines_are_refused_before_any_protocol_message(
    lists: dict[str, Any],
) -> None:
    s = lists["s"]
    enc = encode_people(s.left, seed=5, qgram_dim=64)
    spec = ColumnSpec("record_id", "string", False, max_len=16)
    other = share_table(encode_frame(s.left[["record_id"]], [spec]) + encoded_columns(enc))
    plan = link_plan("a", "b", mode="exact", reveal="count")
    with pytest.raises(PlanError, match="encoded differently"):
        execute(
            Party.__new__(Party),
            tree.from_json(plan),
            {"a": lists["shares"][0][0], "b": other[0]}.__getitem__,
        )


def test_shared_people_reads_the_stored_encodings_back(lists: dict[str, Any]) -> None:
    sp = shared_people(lists["shares"][0][0])
    assert set(sp.matrices) == {"given", "family", "all", "dob"}
    assert sp.n == N and "key_names_dob" in sp.columns and "given_count" in sp.columns


def test_the_default_link_parameters_are_the_recommended_configuration() -> None:
    from sharelake.linkage.quality import RECOMMENDED

    assert fuzzy_params({}) == RECOMMENDED
    assert fuzzy_params(DEFAULT_PARAMS) == RECOMMENDED


@pytest.mark.parametrize(
    "params", [{"t_den": 0}, {"w_name": 10**6}, {"w_bogus": 1}, {"w_name": True}]
)
def test_bad_link_parameters_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        fuzzy_params(params)


def blocked_expected(lists: dict[str, Any], mode: str, window: int) -> list[tuple[int, int]]:
    from sharelake.linkage.blocked import blocked_match_plain
    from sharelake.linkage.blocking import BLOCK_KEYS
    from sharelake.linkage.encode import EncodedPeople
    from sharelake.linkage.score import pair_scores

    enc_l, enc_r = lists["enc"]
    u = EncodedPeople(
        np.concatenate([enc_l.record_id, enc_r.record_id]),
        {k: np.concatenate([enc_l.columns[k], enc_r.columns[k]]) for k in enc_l.columns},
        {k: np.concatenate([enc_l.matrices[k], enc_r.matrices[k]]) for k in enc_l.matrices},
    )
    keys = np.stack([u.columns[k] for k in BLOCK_KEYS])
    if mode == "probabilistic":  # 40 x 40 pairs: the trained weights, left = earlier record
        w = TRAINED_WEIGHTS
        wgt = weights_plain(u, u, w, fs_config(FS_DEFAULT_PARAMS), tf_units=tf_units_plain(w, u))
        return blocked_match_plain(
            keys, wgt, np.ones_like(wgt), len(enc_l), w.threshold, window=window
        )
    prm = fuzzy_params(DEFAULT_PARAMS)
    num, den = pair_scores(u, u, prm, hybrid=mode == "hybrid")
    return blocked_match_plain(keys, num, den, len(enc_l), prm, window=window)


@pytest.mark.parametrize("mode", ["fuzzy", "hybrid", "probabilistic"])
def test_blocked_link_releases_what_the_plaintext_sorted_neighbourhood_twin_links(
    lists: dict[str, Any], mode: str
) -> None:
    s = lists["s"]
    lid, rid = s.left["record_id"].tolist(), s.right["record_id"].tolist()
    want_rows = blocked_expected(lists, mode, window=3)
    assert want_rows
    plan = link_plan("a", "b", mode=mode, reveal="pairs", window=3)  # type: ignore[arg-type]
    assert plan["root"]["blocking"] == {"method": "sorted_neighbourhood", "window": 3}
    pairs = run_link(lists, plan)
    got = sorted(zip(pairs["left_record_id"], pairs["right_record_id"], strict=True))
    assert got == sorted((lid[i], rid[j]) for i, j in want_rows)
    own = run_link(lists, link_plan("a", "b", mode=mode, reveal="own", window=3))  # type: ignore[arg-type]
    assert dict(zip(own["record_id"], own["matches"].astype(int), strict=True)) == {
        lid[i]: 1 for i, _ in want_rows
    }
    count = run_link(lists, link_plan("a", "b", mode=mode, reveal="count", window=3))  # type: ignore[arg-type]
    assert count["matches"].tolist() == [len(want_rows)]


@pytest.mark.parametrize(
    ("blocking", "message"),
    [
        ({"method": "sorted_neighbourhood", "window": 0}, "at least 1"),
        ({"method": "sorted_neighbourhood", "window": 65}, "at most 64"),
        ({"method": "canopy", "window": 4}, "unknown blocking"),
        ({"method": "sorted_neighbourhood"}, "method and window"),
    ],
)
def test_bad_blocking_in_a_link_plan_is_refused(blocking: dict[str, Any], message: str) -> None:
    plan = link_plan("a", "b", mode="hybrid", reveal="count")
    plan["root"]["blocking"] = blocking
    with pytest.raises(PlanError, match=message):
        pn.validate_plan(plan)


def test_a_blocking_window_for_exact_linkage_is_refused_at_the_client() -> None:
    from sharelake.client.linkage import LinkageError

    with pytest.raises(LinkageError, match="fuzzy, hybrid and probabilistic"):
        link_plan("a", "b", mode="exact", reveal="count", window=4)


def test_a_blocked_link_of_a_table_with_itself_is_refused(lists: dict[str, Any]) -> None:
    plan = link_plan("a", "a", mode="probabilistic", reveal="count", window=3)
    with pytest.raises(PlanError, match="two different tables"):
        run_link(lists, plan)

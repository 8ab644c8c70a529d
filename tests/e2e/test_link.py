"""Linkage as a product feature, over three real node processes with TLS.

Two organisations upload multi-script person lists with ``upload_people`` (names are
encoded at the client; only the encodings and the record ids are shared), link them in
every mode and reveal mode with ``session.link`` and the CLI, and the results equal the
plaintext twins exactly. A reveal mode the policies forbid is refused, and audited, by
every node before anything runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sharelake
from sharelake.cli.main import app
from sharelake.client.linkage import LinkageError, link_plan
from sharelake.client.session import NodePolicyError, Session
from sharelake.consortium.keys import load_private_key
from sharelake.errors import InputValidationError
from sharelake.governance.approvals import Approval
from sharelake.governance.audit import read_entries
from sharelake.linkage.encode import encode_people
from sharelake.linkage.people_table import (
    DEFAULT_PARAMS,
    ENCODING_COLUMNS,
    LINK_KEYS,
    fuzzy_params,
)
from sharelake.linkage.plain_match import exact_links_plain, fuzzy_match_plain
from sharelake.linkage.synth import make_lists
from sharelake.node.local import LocalCluster
from sharelake.plan.canonical import canonical_json, plan_hash

pytestmark = [pytest.mark.tls, pytest.mark.timeout(600)]

N = 60
OPEN = {"columns": {"record_id": "reveal"}, "release_sizes": True}
CLOSED = {"release_sizes": True}  # record_id unclassified: never released without approval


@pytest.fixture(scope="module")
def lists() -> Any:
    return make_lists(N, seed=11)


@pytest.fixture(scope="module")
def cluster(cluster: LocalCluster, lists: Any) -> LocalCluster:
    """The session's cluster with this module's person lists uploaded once."""
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        s.upload_people(lists.left, "people_a", policy=OPEN, progress=False)
    with sharelake.connect(cluster.consortium_path, "ngo_b") as s:
        s.upload_people(lists.right, "people_b", policy=OPEN, progress=False)
        s.upload_people(lists.right, "people_b_closed", policy=CLOSED, progress=False)
    return cluster


@pytest.fixture
def ngo_a(cluster: LocalCluster) -> Iterator[Session]:
    with sharelake.connect(cluster.consortium_path, "ngo_a") as s:
        yield s


def twin(lists: Any, mode: str) -> set[tuple[str, str]]:
    """The plaintext twin: matched (left record_id, right record_id) pairs."""
    el, er = encode_people(lists.left, seed=1), encode_people(lists.right, seed=2)
    lid, rid = lists.left["record_id"].tolist(), lists.right["record_id"].tolist()
    if mode == "exact":
        lk = np.stack([el.columns[k] for k in LINK_KEYS])
        rk = np.stack([er.columns[k] for k in LINK_KEYS])
        return {(lid[i], rid[j]) for i, j in exact_links_plain(lk, rk).pairs}
    m = fuzzy_match_plain(
        el.columns,
        el.matrices,
        er.columns,
        er.matrices,
        fuzzy_params(DEFAULT_PARAMS),
        hybrid=mode == "hybrid",
    )
    return {(lid[i], rid[j]) for i, j in zip(*np.nonzero(m), strict=True)}


def audit(cluster: LocalCluster, i: int) -> list[dict[str, Any]]:
    return read_entries(cluster.dir / "nodes" / f"P{i}" / "data" / "audit.jsonl")


def test_a_person_table_stores_record_ids_and_encodings_but_no_names(ngo_a: Session) -> None:
    info = ngo_a.table_info("people_a")
    assert info.columns[0] == "record_id"
    assert set(ENCODING_COLUMNS) <= set(info.columns)
    assert not {"given_name", "family_name", "date_of_birth"} & set(info.columns)
    pipeline = next(s for s in info.schema if s.name == "lk_pipeline")
    assert pipeline.categories == ("sharelake-names/3",)
    assert info.policy["columns"]["lk_key_names_dob"] == "match"


# hybrid over TLS processes is in the slow suite; tests/engine/test_linkage.py checks its
# three reveal modes against the twin in every make test.
@pytest.mark.parametrize("mode", ["exact", pytest.param("hybrid", marks=pytest.mark.slow)])
def test_linking_in_each_reveal_mode_equals_the_plaintext_twin(
    ngo_a: Session, lists: Any, mode: str
) -> None:
    want = twin(lists, mode)
    assert want, "the synthetic lists share people"
    pairs = ngo_a.link("people_a", "people_b", mode=mode, reveal="pairs", progress=False)
    assert list(pairs.columns) == ["left_record_id", "right_record_id"]
    assert set(zip(pairs["left_record_id"], pairs["right_record_id"], strict=True)) == want
    assert len(pairs) == len(want)
    own = ngo_a.link("people_a", "people_b", mode=mode, reveal="own", progress=False)
    per_left: dict[str, int] = {}
    for left, _ in want:
        per_left[left] = per_left.get(left, 0) + 1
    assert dict(zip(own["record_id"], own["matches"].astype(int), strict=True)) == per_left
    assert set(own["lists"]) == {2}
    count = ngo_a.link("people_a", "people_b", mode=mode, reveal="count", progress=False)
    assert count["matches"].tolist() == [len(want)]


def test_fuzzy_linking_finds_most_true_links_and_equals_the_twin(
    ngo_a: Session, lists: Any
) -> None:
    got = ngo_a.link("people_a", "people_b", mode="fuzzy", reveal="pairs", progress=False)
    pairs = set(zip(got["left_record_id"], got["right_record_id"], strict=True))
    assert pairs == twin(lists, "fuzzy")
    assert len(pairs & set(lists.links)) >= 0.7 * len(lists.links)


def test_pairs_from_a_table_whose_record_ids_are_not_released_is_refused_before_running(
    cluster: LocalCluster, ngo_a: Session, lists: Any
) -> None:
    plan = link_plan("people_a", "people_b_closed", mode="exact", reveal="pairs")
    digest = plan_hash(plan)
    with pytest.raises(NodePolicyError, match="record_id"):
        ngo_a.link("people_a", "people_b_closed", mode="exact", reveal="pairs", progress=False)
    for i in range(3):
        # The client stops at the first refusal; the other nodes answer (and audit) in
        # parallel, so give them a moment to finish their own refusal.
        kinds: list[str] = []
        for _ in range(100):
            mine = [e for e in audit(cluster, i) if e.get("plan_hash") == digest]
            kinds = [e["kind"] for e in mine if e["kind"] in ("refusal", "run")]
            if kinds:
                break
            time.sleep(0.1)
        assert kinds == ["refusal"]
    # count and own reveal no record id of the closed table: allowed
    own = ngo_a.link("people_a", "people_b_closed", mode="exact", reveal="own", progress=False)
    assert set(own["record_id"]) == {left for left, _ in twin(lists, "exact")}


def test_an_owner_approval_lifts_the_refusal_of_pairs(
    cluster: LocalCluster, ngo_a: Session, lists: Any
) -> None:
    plan = link_plan("people_a", "people_b_closed", mode="exact", reveal="pairs")
    for owner in ("ngo_a", "ngo_b"):  # every owner of a table the plan reads approves
        key = load_private_key(cluster.member_key_path(owner))
        approval = Approval.create(key, plan_hash(plan), "ngo_a", int(time.time()) + 600, owner)
        with sharelake.connect(cluster.consortium_path, owner) as s:
            s.on_each("POST", "/v1/approvals", canonical_json(approval.to_dict()).encode())
    got = ngo_a.link("people_a", "people_b_closed", mode="exact", reveal="pairs", progress=False)
    assert set(zip(got["left_record_id"], got["right_record_id"], strict=True)) == twin(
        lists, "exact"
    )


def test_own_matches_of_another_members_table_are_refused_for_an_analyst(
    cluster: LocalCluster, lists: Any
) -> None:
    with sharelake.connect(cluster.consortium_path, "analyst") as s:
        with pytest.raises(NodePolicyError, match="link_own"):
            s.link("people_a", "people_b", mode="exact", reveal="own", progress=False)
        count = s.link("people_a", "people_b", mode="exact", reveal="count", progress=False)
    assert count["matches"].tolist() == [len(twin(lists, "exact"))]


def test_a_table_without_encodings_is_refused_at_the_client(ngo_a: Session) -> None:
    ngo_a.upload(
        pd.DataFrame({"record_id": [1, 2], "x": [3, 4]}),
        "plain_table",
        policy={"columns": {"record_id": "reveal"}},
        progress=False,
    )
    with pytest.raises(LinkageError, match="not a person table"):
        ngo_a.link("people_a", "plain_table", progress=False)


def test_a_repeated_record_id_stops_the_upload_before_anything_is_sent(
    ngo_a: Session, lists: Any
) -> None:
    df = pd.concat([lists.left.head(3), lists.left.head(1)], ignore_index=True)
    with pytest.raises(InputValidationError, match="row 4") as err:
        ngo_a.upload_people(df, "dups", progress=False)
    assert str(df["given_name"][0]) not in str(err.value)
    assert "dups" not in [t.name for t in ngo_a.tables()]


def test_the_cli_writes_the_pairs_csv_with_left_and_right_record_ids_first(
    cluster: LocalCluster, lists: Any, tmp_path: Path
) -> None:
    out = tmp_path / "pairs.csv"
    args = ["link", "people_a", "people_b", "--as", "ngo_a"]
    args += ["--consortium", str(cluster.consortium_path), "--out", str(out)]
    res = CliRunner().invoke(app, [*args, "--reveal", "pairs", "--mode", "exact"])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out, dtype=str)
    assert list(df.columns[:2]) == ["left_record_id", "right_record_id"]
    assert set(zip(df.iloc[:, 0], df.iloc[:, 1], strict=True)) == twin(lists, "exact")
    refused = CliRunner().invoke(
        app,
        [
            *("link", "people_a", "people_b_closed", "--as", "ngo_a"),
            *("--consortium", str(cluster.consortium_path), "--out", str(tmp_path / "x.csv")),
            *("--reveal", "pairs", "--mode", "fuzzy"),
        ],
    )
    assert refused.exit_code == 3


def _union_scores(lists: Any, keys: tuple[str, ...]) -> tuple[Any, Any, Any, int]:
    from sharelake.linkage.encode import EncodedPeople
    from sharelake.linkage.score import pair_scores

    el, er = encode_people(lists.left, seed=1), encode_people(lists.right, seed=2)
    u = EncodedPeople(
        np.concatenate([el.record_id, er.record_id]),
        {k: np.concatenate([el.columns[k], er.columns[k]]) for k in el.columns},
        {k: np.concatenate([el.matrices[k], er.matrices[k]]) for k in el.matrices},
    )
    num, den = pair_scores(u, u, fuzzy_params(DEFAULT_PARAMS), hybrid=True)
    return np.stack([u.columns[k] for k in keys]), num, den, len(el)


def test_blocked_linking_through_a_session_equals_the_sorted_neighbourhood_twin(
    ngo_a: Session, lists: Any
) -> None:
    from sharelake.linkage.blocked import blocked_match_plain
    from sharelake.linkage.blocking import BLOCK_KEYS

    keys, num, den, n = _union_scores(lists, BLOCK_KEYS)
    rows = blocked_match_plain(keys, num, den, n, fuzzy_params(DEFAULT_PARAMS), window=4)
    lid, rid = lists.left["record_id"].tolist(), lists.right["record_id"].tolist()
    pairs = ngo_a.link(
        "people_a",
        "people_b",
        mode="hybrid",
        reveal="pairs",
        blocking="sorted_neighbourhood",
        window=4,
        progress=False,
    )
    assert pairs.attrs["blocking"] == "sorted_neighbourhood" and pairs.attrs["window"] == 4
    got = set(zip(pairs["left_record_id"], pairs["right_record_id"], strict=True))
    assert got == {(lid[i], rid[j]) for i, j in rows}
    assert rows
    small = ngo_a.link("people_a", "people_b", mode="hybrid", reveal="count", progress=False)
    assert small.attrs["blocking"] == "none"  # auto: 60 x 60 pairs are scored all


def test_the_overlap_by_fuzzy_linkage_counts_the_linked_persons(ngo_a: Session, lists: Any) -> None:
    from sharelake.linkage.blocked import link_lists_plain
    from sharelake.linkage.blocking import BLOCK_KEYS

    keys, num, den, n = _union_scores(lists, BLOCK_KEYS[:1])
    m = len(lists.right)
    links = link_lists_plain(keys, num, den, (n, m), fuzzy_params(DEFAULT_PARAMS), window=n + m - 1)
    want = {(True, True): len(links), (True, False): n - len(links), (False, True): m - len(links)}
    q = sharelake.overlap(
        [ngo_a.table("people_a"), ngo_a.table("people_b")], on="person", linkage="fuzzy"
    )
    assert q.plan["root"]["linkage"] == {"mode": "fuzzy", "window": None, "rounds": 3}
    df = q.collect()
    got = {
        (bool(r.in_people_a), bool(r.in_people_b)): int(r.count)
        for r in df.itertuples()
        if not pd.isna(r.count)
    }
    assert got and all(want[k] == v for k, v in got.items())


def test_linking_a_list_of_tables_counts_the_persons_as_the_exact_twin(
    ngo_a: Session, lists: Any
) -> None:
    from sharelake.engine.linkage import EXACT_PARAMS
    from sharelake.linkage.blocked import link_lists_plain
    from sharelake.linkage.blocking import BLOCK_KEYS
    from sharelake.linkage.encode import EncodedPeople
    from sharelake.linkage.score import pair_scores

    el, er = encode_people(lists.left, seed=1), encode_people(lists.right, seed=2)
    u = EncodedPeople(
        np.concatenate([el.record_id, er.record_id]),
        {k: np.concatenate([el.columns[k], er.columns[k]]) for k in el.columns},
        {k: np.concatenate([el.matrices[k], er.matrices[k]]) for k in el.matrices},
    )
    num, den = pair_scores(u, u, EXACT_PARAMS, hybrid=True)
    keys = np.stack([u.columns[k] for k in BLOCK_KEYS[:1]])
    n, m = len(el), len(er)
    links = link_lists_plain(keys, num, den, (n, m), EXACT_PARAMS, window=n + m - 1)
    assert links
    want = {(True, True): len(links), (True, False): n - len(links), (False, True): m - len(links)}
    df = ngo_a.link(["people_a", "people_b"], mode="exact", reveal="overlap", progress=False)
    got = {
        (bool(r.in_people_a), bool(r.in_people_b)): int(r.count)
        for r in df.itertuples()
        if not pd.isna(r.count)
    }
    assert got and all(want[k] == v for k, v in got.items())  # small cells may be suppressed
    count = ngo_a.link(["people_a", "people_b"], mode="exact", reveal="count", progress=False)
    assert count["persons"].tolist() == [sum(got.values())]
    with pytest.raises(LinkageError, match="at least two"):
        ngo_a.link(["people_a"], mode="exact", reveal="count", progress=False)

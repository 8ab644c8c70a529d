"""``persons``: k person tables stacked with the secret person of k-list linkage; the
``own`` reveal counting clustered persons. Both checked against the plaintext twin."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from sharelake.client.results import rebuild
from sharelake.engine.executor import execute, release_rows
from sharelake.harness.runner import run_parties
from sharelake.linkage.encode import encode_people
from sharelake.linkage.people_table import encoded_columns, fuzzy_params
from sharelake.linkage.persons import other_lists, person_labels
from sharelake.linkage.synth import make_lists
from sharelake.mpc.party import Party
from sharelake.plan import nodes as pn
from sharelake.plan import tree
from sharelake.plan.canonical import PlanError
from sharelake.relational.encode import encode_frame, share_table
from sharelake.relational.table import ColumnSpec

LISTS = ("a", "b", "c")
# namesake-aware parameters (as the monitoring demo's): a disagreeing date component costs 8
PARAMS = {"pen_year": 8, "pen_month": 8, "pen_day": 8, "t_num": 110}
# one person on all three lists whose records of a and c are NOT linked (their dates
# disagree), both linked to b's year-only record: a chain a - b - c
CHAIN = [("Alexandra", "Petrova", "1980-05-06"), ("Alexandra", "Petrova", "1980"),
         ("Alexandra", "Petrova", "1980-09-11")]  # fmt: skip
NAMES = ["record_id", "given_name", "family_name", "date_of_birth"]


@pytest.fixture(scope="module")
def lists() -> dict[str, Any]:
    """Three lists: the chain person, 24 distinct persons on random lists, one namesake
    pair (same name, birth years 20 apart) and a record filtered out (``keep`` 0)."""
    base = make_lists(24, overlap=0.0, seed=23).left
    base = base.assign(
        date_of_birth=[f"{1950 + i}-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(len(base))]
    )
    rng = np.random.default_rng(8)
    member = rng.random((len(base), len(LISTS))) < 0.5
    frames, shares, encs = {}, {}, []
    spec = [ColumnSpec("record_id", "string", False, max_len=16), ColumnSpec("keep", "int", False)]
    for j, name in enumerate(LISTS):
        rows = base[member[:, j]][NAMES[1:]].values.tolist()
        rows.insert(j, list(CHAIN[j]))
        if name == "a":
            rows.append(["Minh", "Nguyen", "1961-02-03"])
        if name == "c":
            rows.append(["Minh", "Nguyen", "1981-02-03"])  # a namesake, not the same person
            rows.append(list(CHAIN[0]))  # filtered out below: links to nothing
        df = pd.DataFrame(rows, columns=NAMES[1:])
        df.insert(0, "record_id", [f"{name}{i}" for i in range(len(df))])
        df["keep"] = 1
        if name == "c":
            df.loc[len(df) - 1, "keep"] = 0
        frames[name] = df
        enc = encode_people(df[NAMES])
        encs.append(enc)
        shares[name] = share_table(
            encode_frame(df[["record_id", "keep"]], spec) + encoded_columns(enc), name=name
        )
    valid = [frames[x]["keep"].to_numpy() == 1 for x in LISTS]
    labels = person_labels(encs, fuzzy_params(PARAMS), valid=valid, window=None, rounds=4)
    ids = pd.concat([frames[x]["record_id"] for x in LISTS], ignore_index=True)
    return {"shares": shares, "frames": frames, "labels": labels, "ids": ids, "valid": valid}


def _run(lists: dict[str, Any], plan: dict[str, Any], cols: list[str]) -> pd.DataFrame:
    def party(p: Party, **tables: Any) -> bytes:
        from sharelake.storage.bundle import encode_bundle

        res = release_rows(p, execute(p, tree.from_json(plan), tables.__getitem__))
        return encode_bundle(res.meta, res.arrays)

    sh = lists["shares"]
    bundles = run_parties(party, [{x: sh[x][i] for x in LISTS} for i in range(3)], deadline=300)
    return rebuild(bundles, plan, columns=cols)


def _kept(x: str) -> dict[str, Any]:
    return pn.filter_rows(pn.scan(x), {"fn": "==", "args": [{"col": "keep"}, {"lit": 1}]})


LINKAGE = {"mode": "fuzzy", "window": None, "rounds": 4, "params": PARAMS}


def test_persons_stacks_the_lists_with_the_person_of_the_plaintext_twin(
    lists: dict[str, Any],
) -> None:
    node = pn.project(
        pn.concat([_kept(x) for x in LISTS], linkage=LINKAGE), ["record_id", "person"]
    )
    plan = pn.make_plan(node)
    pn.validate_plan(plan)
    got = _run(lists, plan, ["record_id", "person"])
    ok = np.concatenate(lists["valid"])
    want = dict(zip(lists["ids"][ok], lists["labels"][ok].tolist(), strict=True))
    assert dict(zip(got["record_id"], got["person"].astype(int), strict=True)) == want
    chain = [lists["frames"][x]["record_id"][j] for j, x in enumerate(LISTS)]
    assert len({want[r] for r in chain}) == 1, "the chain is one person"
    assert (
        want["a" + str(len(lists["frames"]["a"]) - 1)]
        != want["c" + str(len(lists["frames"]["c"]) - 2)]
    ), "namesakes born 20 years apart stay two persons"


def test_de_duplicating_on_the_person_counts_the_persons_of_the_twin(
    lists: dict[str, Any],
) -> None:
    node = pn.groupby(
        pn.assign(
            pn.distinct(pn.concat([_kept(x) for x in LISTS], linkage=LINKAGE), ["person"]),
            {"one": {"lit": 1}},
        ),
        ["one"],
        {"persons": ["*", "count"]},
    )
    plan = pn.make_plan(node)
    pn.validate_plan(plan)
    got = _run(lists, plan, ["persons"])
    ok = np.concatenate(lists["valid"])
    assert int(got["persons"].iloc[0]) == len(set(lists["labels"][ok].tolist()))
    assert len(set(lists["labels"][ok].tolist())) < ok.sum()


def test_own_reveal_counts_the_other_lists_of_the_clustered_person(lists: dict[str, Any]) -> None:
    plan = pn.make_plan(
        pn.overlap([_kept(x) for x in LISTS], ["person"], linkage={**LINKAGE, "reveal": "own"})
    )
    pn.validate_plan(plan)
    got = _run(lists, plan, ["record_id", "lists", "matches"])
    sizes = [len(lists["frames"][x]) for x in LISTS]
    counts = other_lists(lists["labels"], sizes, np.concatenate(lists["valid"]))
    first = lists["frames"]["a"]["record_id"]
    want = {r: int(c) for r, c in zip(first, counts[: sizes[0]], strict=True) if c}
    assert dict(zip(got["record_id"], got["matches"].astype(int), strict=True)) == want
    # the chain's record of a is linked to b only, yet its person is on b and c
    assert want["a0"] == 2


@pytest.mark.parametrize(
    ("linkage", "message"),
    [
        ({"mode": "fuzzy", "window": None, "rounds": 3, "reveal": "own"}, "no reveal"),
        ({"mode": "soundex", "window": None, "rounds": 3}, "unknown linkage"),
        ({"mode": "fuzzy", "window": None}, "mode, window, rounds"),
    ],
)
def test_a_bad_persons_linkage_is_refused(linkage: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        pn.validate_plan(pn.make_plan(pn.concat([pn.scan("a"), pn.scan("b")], linkage=linkage)))


def test_persons_needs_two_lists_and_person_tables() -> None:
    with pytest.raises(PlanError, match="2 to 12"):
        pn.validate_plan(pn.make_plan(pn.concat([pn.scan("a")], linkage=LINKAGE)))
    plan = pn.make_plan(pn.concat([pn.scan("a"), pn.scan("b")], linkage=LINKAGE))
    with pytest.raises(PlanError, match="lk_pipeline"):
        tree.lineage(tree.from_json(plan), {"a": ["record_id"], "b": ["record_id"]})


def test_the_own_reveal_counted_by_number_of_lists_equals_the_twin(lists: dict[str, Any]) -> None:
    own = pn.overlap([_kept(x) for x in LISTS], ["person"], linkage={**LINKAGE, "reveal": "own"})
    plan = pn.make_plan(pn.groupby(own, ["matches"], {"records": ("*", "count")}))
    pn.validate_plan(plan)
    got = _run(lists, plan, ["matches", "records"])
    sizes = [len(lists["frames"][x]) for x in LISTS]
    counts = other_lists(lists["labels"], sizes, np.concatenate(lists["valid"]))[: sizes[0]]
    want = {int(n): int((counts == n).sum()) for n in set(counts.tolist()) if n}
    assert dict(zip(got["matches"].astype(int), got["records"].astype(int), strict=True)) == want


def test_probabilistic_persons_use_the_trained_weights_moved_to_the_union_size(
    lists: dict[str, Any],
) -> None:
    from dataclasses import replace

    from sharelake.linkage.encode import encode_people as enc
    from sharelake.linkage.fs import TRAINED_WEIGHTS, FSConfig
    from sharelake.linkage.persons import union_weights

    # threshold 100: where the term-frequency constants of 52 records (not of the 4,000
    # the weights were trained on) decide two of the links
    lk = {"mode": "probabilistic", "window": None, "rounds": 4, "params": {"threshold": 100}}
    node = pn.project(pn.concat([_kept(x) for x in LISTS], linkage=lk), ["record_id", "person"])
    got = _run(lists, pn.make_plan(node), ["record_id", "person"])
    encs = [enc(lists["frames"][x][NAMES]) for x in LISTS]
    n = sum(len(e) for e in encs)
    ok = np.concatenate(lists["valid"])

    def twin(weights: Any) -> dict[str, int]:
        w = (replace(weights, threshold=100), FSConfig())
        labels = person_labels(encs, valid=lists["valid"], window=None, rounds=4, fs=w)
        return dict(zip(lists["ids"][ok], labels[ok].tolist(), strict=True))

    want = twin(union_weights(TRAINED_WEIGHTS, n))
    assert dict(zip(got["record_id"], got["person"].astype(int), strict=True)) == want
    assert len(set(want.values())) < len(want), "some persons are on several lists"
    assert want != twin(TRAINED_WEIGHTS), "the union's size changes the persons here"

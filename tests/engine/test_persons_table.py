"""Stored persons tables: the person ids of one k-list linkage kept for later queries.

Three parties in memory: the lists are linked once (the plan that a node keeps as a
stored persons table), then the own reveal (lists in another order), the overlap table
and de-duplicated persons are computed from the stored ids, without linking again, and
each equals the plaintext twin. The checks that refuse a stale or foreign stored table
are pure and tested on their own.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sharelake.client.results import rebuild
from sharelake.engine import persons_table as pt
from sharelake.engine.executor import execute, release_rows
from sharelake.governance.verdict import check_plan
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
from sharelake.relational.table import ColumnSpec, SecretColumn, SecretTable
from sharelake.storage.bundle import encode_bundle

LISTS = ("a", "b", "c")
PARAMS = {"pen_year": 8, "pen_month": 8, "pen_day": 8, "t_num": 110}
LINKAGE = {"mode": "fuzzy", "window": None, "rounds": 4, "params": PARAMS}
NAMES = ["record_id", "given_name", "family_name", "date_of_birth"]


def _kept(x: str) -> dict[str, Any]:
    return pn.filter_rows(pn.scan(x), {"fn": "==", "args": [{"col": "keep"}, {"lit": 1}]})


def _stored(name: str = "persons_abc") -> dict[str, Any]:
    return {**LINKAGE, "stored": name}


@pytest.fixture(scope="module")
def lists() -> dict[str, Any]:
    """Three lists of 20 persons on random lists (some twice), a record filtered out."""
    base = make_lists(20, overlap=0.0, seed=31).left
    base = base.assign(
        date_of_birth=[f"{1950 + i}-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(len(base))]
    )
    member = np.random.default_rng(5).random((len(base), len(LISTS))) < 0.5
    frames, shares, encs = {}, {}, []
    spec = [ColumnSpec("record_id", "string", False, max_len=16), ColumnSpec("keep", "int", False)]
    for j, name in enumerate(LISTS):
        df = base[member[:, j]][NAMES[1:]].reset_index(drop=True)
        df.insert(0, "record_id", [f"{name}{i}" for i in range(len(df))])
        df["keep"] = 1
        if name == "b":
            df.loc[0, "keep"] = 0  # filtered out: links to nothing
        frames[name] = df
        enc = encode_people(df[NAMES])
        encs.append(enc)
        shares[name] = share_table(
            encode_frame(df[["record_id", "keep"]], spec) + encoded_columns(enc), name=name
        )
    valid = [frames[x]["keep"].to_numpy() == 1 for x in LISTS]
    labels = person_labels(encs, fuzzy_params(PARAMS), valid=valid, window=None, rounds=4)
    return {"shares": shares, "frames": frames, "labels": labels, "valid": valid}


STORE = pn.make_plan(
    pn.concat([_kept(x) for x in LISTS], linkage=LINKAGE), release="table", table="persons_abc"
)
USES: dict[str, tuple[dict[str, Any], list[str]]] = {
    # the own reveal of list b, the lists given in another order than the stored ones
    "own": (
        pn.make_plan(
            pn.overlap(
                [_kept("b"), _kept("c"), _kept("a")],
                ["person"],
                linkage={**_stored(), "reveal": "own"},
            )
        ),
        ["record_id", "lists", "matches"],
    ),
    "overlap": (
        pn.make_plan(pn.overlap([_kept(x) for x in LISTS], ["person"], linkage=_stored())),
        ["in_a", "in_b", "in_c", "count"],
    ),
    "persons": (
        pn.make_plan(
            pn.groupby(
                pn.assign(
                    pn.distinct(
                        pn.concat([_kept(x) for x in LISTS], linkage=_stored()), ["person"]
                    ),
                    {"one": {"lit": 1}},
                ),
                ["one"],
                {"persons": ["*", "count"]},
            )
        ),
        ["persons"],
    ),
}


@pytest.fixture(scope="module")
def released(lists: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Link once (the stored table, kept in memory as a node keeps it), then run every use
    from the stored ids: one three-party run, one linkage."""
    frames = lists["frames"]
    store = tree.from_json(STORE)
    sizes = {x: len(frames[x]) for x in LISTS}
    found = pt.definition(store, dict.fromkeys(LISTS, 1), sizes)

    def party(p: Party, **tables: SecretTable) -> dict[str, bytes]:
        made = execute(p, store, tables.__getitem__)
        schema, parts = pt.stored_columns(made)
        assert [c["name"] for c in schema] == ["person"]
        kept = SecretTable(
            {"person": SecretColumn(pt.PERSON_SPEC, parts["person"]["values"])},
            made.valid,
            "persons_abc",
        )
        load = {**tables, "persons_abc": kept}.__getitem__
        out = {}
        for name, (plan, _) in USES.items():
            res = release_rows(
                p, execute(p, tree.from_json(plan), load, stored={"persons_abc": found})
            )
            out[name] = encode_bundle(res.meta, res.arrays)
        return out

    sh = lists["shares"]
    got = run_parties(party, [{x: sh[x][i] for x in LISTS} for i in range(3)], deadline=300)
    return {
        name: rebuild([g[name] for g in got], plan, columns=cols)
        for name, (plan, cols) in USES.items()
    }


def test_the_own_reveal_from_a_stored_persons_table_equals_the_twin(
    lists: dict[str, Any], released: dict[str, pd.DataFrame]
) -> None:
    sizes = [len(lists["frames"][x]) for x in LISTS]
    counts = other_lists(lists["labels"], sizes, np.concatenate(lists["valid"]))
    mine = counts[sizes[0] : sizes[0] + sizes[1]]  # list b's rows
    ids = lists["frames"]["b"]["record_id"]
    want = {r: int(c) for r, c in zip(ids, mine, strict=True) if c}
    got = released["own"]
    assert dict(zip(got["record_id"], got["matches"].astype(int), strict=True)) == want
    assert want, "some of b's persons are on other lists"
    assert set(got["lists"].astype(int)) == {3}


def test_the_overlap_table_from_a_stored_persons_table_equals_the_twin(
    lists: dict[str, Any], released: dict[str, pd.DataFrame]
) -> None:
    ok = np.concatenate(lists["valid"])
    which = np.concatenate([np.full(len(lists["frames"][x]), x) for x in LISTS])
    on: dict[int, set[str]] = {}
    for lab, x in zip(lists["labels"][ok].tolist(), which[ok].tolist(), strict=True):
        on.setdefault(int(lab), set()).add(str(x))
    want = Counter(tuple(x in s for x in LISTS) for s in on.values())
    got = released["overlap"]
    have = {tuple(bool(r[f"in_{x}"]) for x in LISTS): int(r["count"]) for _, r in got.iterrows()}
    assert have == dict(want)


def test_de_duplicated_persons_from_a_stored_persons_table_equal_the_twin(
    lists: dict[str, Any], released: dict[str, pd.DataFrame]
) -> None:
    ok = np.concatenate(lists["valid"])
    want = len(set(lists["labels"][ok].tolist()))
    assert int(released["persons"]["persons"].iloc[0]) == want
    assert want < ok.sum(), "some persons are on several lists"


# ---- the checks that refuse a stored table ------------------------------------------------


def _found() -> dict[str, Any]:
    return pt.definition(tree.from_json(STORE), {"a": 1, "b": 1, "c": 2}, dict.fromkeys(LISTS, 9))


def test_the_definition_names_the_lists_the_linkage_and_the_table_versions() -> None:
    found = _found()
    assert found["sources"] == {"a": 1, "b": 1, "c": 2}
    assert found["rows"] == [9, 9, 9]
    assert found["linkage"] == LINKAGE
    assert len(found["inputs"]) == 3


def test_a_stored_persons_table_of_an_older_version_of_a_list_is_refused() -> None:
    found = _found()
    pt.check_sources("persons_abc", found, {"a": 1, "b": 1, "c": 2})
    with pytest.raises(pt.StaleTableError, match="table 'c', which is now at version 3"):
        pt.check_sources("persons_abc", found, {"a": 1, "b": 1, "c": 3})
    with pytest.raises(pt.StaleTableError, match="which is gone"):
        pt.check_sources("persons_abc", found, {"a": 1, "b": 1, "c": None})


def test_an_upload_is_not_a_stored_persons_table() -> None:
    with pytest.raises(pt.StaleTableError, match="not a stored persons table"):
        pt.check_sources("ngo_a", None, {})


def test_a_plan_naming_a_stored_table_must_link_the_same_lists_the_same_way() -> None:
    found = _found()
    node = tree.from_json(
        pn.make_plan(pn.overlap([_kept(x) for x in ("c", "a", "b")], ["person"], linkage=_stored()))
    ).root
    assert isinstance(node, tree.Overlap)
    assert pt.segments(node, found) == (2, 0, 1)
    fewer = tree.from_json(
        pn.make_plan(pn.overlap([_kept("a"), _kept("b")], ["person"], linkage=_stored()))
    ).root
    assert isinstance(fewer, tree.Overlap)
    with pytest.raises(pt.StaleTableError, match="2 of the 3 lists"):
        pt.segments(fewer, found)
    other = tree.from_json(
        pn.make_plan(pn.overlap([pn.scan(x) for x in LISTS], ["person"], linkage=_stored()))
    ).root
    assert isinstance(other, tree.Overlap)
    with pytest.raises(pt.StaleTableError, match="input 0 of the plan is not one of the lists"):
        pt.segments(other, found)
    exact = tree.from_json(
        pn.make_plan(
            pn.overlap(
                [_kept(x) for x in LISTS],
                ["person"],
                linkage={"mode": "exact", "window": None, "rounds": 4, "stored": "persons_abc"},
            )
        )
    ).root
    assert isinstance(exact, tree.Overlap)
    with pytest.raises(pt.StaleTableError, match="another linkage"):
        pt.segments(exact, found)


def test_a_stored_persons_table_keeps_lists_not_joins() -> None:
    joined = pn.join(pn.scan("a"), pn.scan("b"), on=["record_id"])
    plan = pn.make_plan(
        pn.concat([joined, pn.scan("c")], linkage=LINKAGE), release="table", table="p"
    )
    with pytest.raises(PlanError, match="filtered or narrowed"):
        pt.definition(tree.from_json(plan), {}, dict.fromkeys(LISTS, 9))


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (pn.make_plan(pn.scan("a"), release="table", table="p"), "concat by linkage"),
        (
            pn.make_plan(
                pn.concat([pn.scan("a"), pn.scan("b")], linkage=_stored()),
                release="table",
                table="p",
            ),
            "links its lists",
        ),
        (
            {**pn.make_plan(pn.scan("a")), "release": {"kind": "table", "table": "bad name"}},
            "plan.release.table",
        ),
        ({**pn.make_plan(pn.scan("a")), "release": {"kind": "rows", "table": "p"}}, "release"),
    ],
)
def test_a_bad_stored_table_plan_is_refused(plan: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        pn.validate_plan(plan)


def test_making_a_stored_persons_table_needs_every_owner_even_where_policies_allow() -> None:
    cols = ["record_id", "lk_pipeline"]
    pol = {"columns": {c: "reveal" for c in cols}}
    refs = {"a": ("ngo_a", cols, pol), "b": ("police", cols, pol)}
    lk = {"mode": "exact", "window": None, "rounds": 3}
    plan = pn.make_plan(
        pn.concat([pn.scan("a", cols), pn.scan("b", cols)], linkage=lk), release="table", table="p"
    )
    v = check_plan(tree.from_json(plan), refs, "ana")
    assert v.decision == "needs_approval"
    assert {r.rule for r in v.reasons} >= {"stored_table"}
    assert v.owners == {"ngo_a", "police"}
    assert tree.to_json(tree.from_json(plan)) == plan

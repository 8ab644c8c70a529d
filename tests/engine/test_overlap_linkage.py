"""``overlap`` by record linkage: persons of k person tables found and clustered inside MPC."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from sharelake.client.results import rebuild
from sharelake.engine.executor import execute, release_rows
from sharelake.harness.runner import run_parties
from sharelake.linkage.encode import encode_people
from sharelake.linkage.people_table import encoded_columns
from sharelake.linkage.synth import make_lists
from sharelake.mpc.party import Party
from sharelake.plan import nodes as pn
from sharelake.plan import tree
from sharelake.plan.canonical import PlanError
from sharelake.relational.encode import encode_frame, share_table
from sharelake.relational.table import ColumnSpec
from sharelake.storage.bundle import encode_bundle

LISTS = ("a", "b", "c")


@pytest.fixture(scope="module")
def population() -> dict[str, Any]:
    """40 persons with distinct names and full birth dates; each list holds a subset."""
    base = make_lists(40, overlap=0.0, seed=17).left
    people = base.assign(
        date_of_birth=[f"{1950 + i}-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(len(base))]
    )
    rng = np.random.default_rng(4)
    member = rng.random((len(people), len(LISTS))) < 0.45
    frames, shares = {}, {}
    spec = ColumnSpec("record_id", "string", False, max_len=16)
    for j, name in enumerate(LISTS):
        rows = people[member[:, j]].sample(frac=1.0, random_state=j).reset_index()
        df = rows.assign(record_id=[f"{name}{i}" for i in range(len(rows))])
        frames[name] = df
        enc = encode_people(df[["record_id", "given_name", "family_name", "date_of_birth"]])
        cols = encode_frame(df[["record_id"]], [spec]) + encoded_columns(enc)
        shares[name] = share_table(cols, name=name)
    pattern = pd.Series([tuple(bool(x) for x in row) for row in member if row.any()])
    truth = pattern.value_counts().to_dict()
    # per record of list a: how many other lists hold the same person
    others = member[:, 1:].sum(axis=1)
    own = {r.record_id: int(others[r.index]) for r in frames["a"].itertuples()}
    return {"shares": shares, "truth": truth, "own": own}


def _run(
    population: dict[str, Any], plan: dict[str, Any], cols: list[str] | None = None
) -> pd.DataFrame:
    def party(p: Party, **tables: Any) -> bytes:
        res = release_rows(p, execute(p, tree.from_json(plan), tables.__getitem__))
        return encode_bundle(res.meta, res.arrays)

    sh = population["shares"]
    inputs = [{name: sh[name][i] for name in LISTS} for i in range(3)]
    bundles = run_parties(party, inputs, deadline=300)
    cols = cols or [f"in_{x}" for x in LISTS] + ["count"]
    return rebuild(bundles, plan, columns=cols)


def _table(df: pd.DataFrame) -> dict[tuple[bool, ...], int]:
    out = {}
    for _, row in df.iterrows():
        if int(row["count"]):
            out[tuple(bool(row[f"in_{x}"]) for x in LISTS)] = int(row["count"])
    return out


@pytest.mark.parametrize(
    ("mode", "window"),
    [
        ("exact", None),
        ("fuzzy", None),
        ("fuzzy", 4),
        ("exact", 2),
        ("probabilistic", None),
        ("probabilistic", 4),
    ],
)
def test_the_overlap_by_linkage_equals_the_overlap_of_the_true_persons(
    population: dict[str, Any], mode: str, window: int | None
) -> None:
    plan = pn.make_plan(
        pn.overlap(
            [pn.scan(x) for x in LISTS],
            ["person"],
            linkage={"mode": mode, "window": window, "rounds": 4},
        )
    )
    pn.validate_plan(plan)
    got = _table(_run(population, plan))
    assert got == population["truth"]
    assert sum(got.values()) < sum(len(population["shares"][x][0].valid) for x in LISTS)


def test_scoring_parameters_in_the_plan_replace_the_recommended_ones(
    population: dict[str, Any],
) -> None:
    # a threshold above every score: nobody is linked, every record is its own person
    plan = pn.make_plan(
        pn.overlap(
            [pn.scan(x) for x in LISTS],
            ["person"],
            linkage={"mode": "fuzzy", "window": 4, "rounds": 4, "params": {"t_num": 4000}},
        )
    )
    pn.validate_plan(plan)
    got = _table(_run(population, plan))
    alone = {
        tuple(x == name for x in LISTS): len(population["shares"][name][0].valid) for name in LISTS
    }
    assert got == alone


def test_a_threshold_in_the_plan_replaces_the_trained_fellegi_sunter_threshold(
    population: dict[str, Any],
) -> None:
    # a threshold above every weight: nobody is linked, every record is its own person
    lk = {"mode": "probabilistic", "window": 4, "rounds": 4, "params": {"threshold": 4000}}
    plan = pn.make_plan(pn.overlap([pn.scan(x) for x in LISTS], ["person"], linkage=lk))
    pn.validate_plan(plan)
    got = _table(_run(population, plan))
    alone = {
        tuple(x == name for x in LISTS): len(population["shares"][name][0].valid) for name in LISTS
    }
    assert got == alone


@pytest.mark.parametrize(
    ("linkage", "on", "message"),
    [
        ({"mode": "fuzzy", "window": None, "rounds": 3}, ["pid"], "on must be"),
        ({"mode": "phonetic", "window": None, "rounds": 3}, ["person"], "unknown linkage"),
        ({"mode": "exact", "window": 0, "rounds": 3}, ["person"], "at least 1"),
        ({"mode": "exact", "window": 4, "rounds": 99}, ["person"], "at most 32"),
        ({"mode": "exact", "window": 4}, ["person"], "mode, window, rounds"),
        ({"mode": "exact", "window": 4, "rounds": 3, "reveal": "pairs"}, ["person"], "own"),
        (
            {"mode": "exact", "window": 4, "rounds": 3, "params": {"t_num": 1}},
            ["person"],
            "only fuzzy linkage",
        ),
        (
            {"mode": "probabilistic", "window": 4, "rounds": 3, "params": {"t_num": 1}},
            ["person"],
            "probabilistic: threshold",
        ),
        (
            {"mode": "fuzzy", "window": 4, "rounds": 3, "params": {"t_num": 1.5}},
            ["person"],
            "t_num",
        ),
        ({"mode": "fuzzy", "window": 4, "rounds": 3, "params": [1]}, ["person"], "name: integer"),
    ],
)
def test_a_bad_overlap_linkage_is_refused(linkage: Any, on: list[str], message: str) -> None:
    plan = pn.make_plan(pn.overlap([pn.scan("a"), pn.scan("b")], on, linkage=linkage))
    with pytest.raises(PlanError, match=message):
        pn.validate_plan(plan)


@pytest.mark.parametrize(("mode", "window"), [("probabilistic", 4), ("exact", None)])
def test_own_reveal_gives_each_record_of_the_first_list_its_number_of_other_lists(
    population: dict[str, Any], mode: str, window: int | None
) -> None:
    plan = pn.make_plan(
        pn.overlap(
            [pn.scan(x) for x in LISTS],
            ["person"],
            linkage={"mode": mode, "window": window, "rounds": 4, "reveal": "own"},
        )
    )
    pn.validate_plan(plan)
    df = _run(population, plan, ["record_id", "lists", "matches"])
    got = dict(zip(df["record_id"], df["matches"].astype(int), strict=True))
    want = {r: k for r, k in population["own"].items() if k}
    assert got == want
    assert set(df["lists"].astype(int)) == {3}
    assert 0 < len(want) < len(population["own"]), "some records are linked, some not"

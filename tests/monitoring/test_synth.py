"""The synthetic monitoring data: seeded, valid in the data model, with a consistent truth."""

from __future__ import annotations

import numpy as np
import pytest

from sharelake.linkage.normalize import normalize_name
from sharelake.monitoring.model import validate_frame
from sharelake.monitoring.synth import ORGANISATIONS, generate, pattern_probabilities


@pytest.fixture(scope="module")
def lake():  # type: ignore[no-untyped-def]
    return generate(seed=7, scale=0.5)


def test_the_same_seed_gives_the_same_data() -> None:
    a, b = generate(seed=2, scale=0.1), generate(seed=2, scale=0.1)
    for org in ORGANISATIONS:
        assert a.frames[org].equals(b.frames[org])
    assert not a.frames["police"].equals(generate(seed=3, scale=0.1).frames["police"])


def test_every_list_is_valid_in_the_data_model(lake) -> None:  # type: ignore[no-untyped-def]
    for org, df in lake.frames.items():
        validate_frame(df, source=org)


def test_the_organisations_have_different_sizes(lake) -> None:  # type: ignore[no-untyped-def]
    sizes = sorted(len(df) for df in lake.frames.values())
    assert len(set(sizes)) == 4
    assert sizes[-1] > 1.5 * sizes[0]


def test_scale_multiplies_the_population() -> None:
    small, big = generate(seed=1, scale=0.1), generate(seed=1, scale=0.3)
    assert big.truth.population == 3 * small.truth.population
    assert 2 * small.records < big.records < 4 * small.records


def test_the_true_overlap_table_counts_the_seen_victims(lake) -> None:  # type: ignore[no-untyped-def]
    t = lake.truth
    assert t.overlap["count"].sum() == t.observed
    assert t.observed < t.population
    for org in ORGANISATIONS:
        on_list = t.overlap.loc[t.overlap[f"in_{org}"], "count"].sum()
        victims = (lake.frames[org]["role"] == "victim").sum()
        assert on_list == victims, org
        assert len(t.record_person[org]) == len(lake.frames[org])


def test_the_capture_model_is_a_probability_distribution() -> None:
    for stratum in ("sexual", "labour"):
        p = pattern_probabilities(stratum)
        assert p.shape == (16,) and p.sum() == pytest.approx(1.0) and (p > 0).all()


def test_names_are_messy_and_in_several_scripts(lake) -> None:  # type: ignore[no-untyped-def]
    names = "".join(
        "".join(df["given_name"]) + "".join(df["family_name"]) for df in lake.frames.values()
    )
    assert any("\u0400" <= ch <= "\u04ff" for ch in names)  # Cyrillic
    assert any("\u4e00" <= ch <= "\u9fff" for ch in names)  # Han
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in names)  # Thai
    assert any(n.isupper() for n in lake.frames["police"]["family_name"])


def test_the_same_person_is_written_differently_but_normalises_alike(lake) -> None:  # type: ignore[no-untyped-def]
    t = lake.truth
    shelter = dict(
        zip(t.record_person["ngo_shelter"], lake.frames["ngo_shelter"].index, strict=True)
    )
    police = dict(zip(t.record_person["police"], lake.frames["police"].index, strict=True))
    common = sorted(set(shelter) & set(police))
    assert common
    same = 0
    for pid in common:
        a = lake.frames["ngo_shelter"].loc[shelter[pid]]
        b = lake.frames["police"].loc[police[pid]]
        ka = set(normalize_name(a.given_name)) | set(normalize_name(a.family_name))
        kb = set(normalize_name(b.given_name)) | set(normalize_name(b.family_name))
        same += ka == kb
    assert same >= 0.85 * len(common)


def test_birth_dates_are_often_partial(lake) -> None:  # type: ignore[no-untyped-def]
    dob = lake.frames["hotline"]["date_of_birth"]
    lengths = dob.str.len().value_counts()
    assert {0, 4, 7, 10} <= set(lengths.index)


def test_modus_operandi_differs_by_source(lake) -> None:  # type: ignore[no-untyped-def]
    def share(org: str) -> float:
        s = lake.frames[org]["exploitation_sector"]
        return float((s == "sexual").sum() / max((s != "").sum(), 1))

    assert share("ngo_shelter") > share("ngo_labour") + 0.3


def test_known_to_others_counts_the_other_lists(lake) -> None:  # type: ignore[no-untyped-def]
    k = lake.truth.known_to_others("hotline")
    assert len(k) == len(lake.frames["hotline"])
    assert k.max() <= 3 and (k > 0).any()
    assert np.isfinite(lake.truth.to_dict()["population"])


def test_namesakes_born_in_the_same_year_are_rare_even_at_scale() -> None:
    from sharelake.monitoring.analyses import upload_frames

    big = generate(seed=4, scale=3)
    keys = upload_frames(big.frames)
    owner: dict[str, set[int]] = {}
    for org, df in keys.items():
        for key, pid in zip(df["person_key"], big.truth.record_person[org], strict=True):
            owner.setdefault(key, set()).add(int(pid))
    shared = sum(len(p) > 1 for p in owner.values())
    assert shared <= 0.002 * len(owner)

"""Purposes in the consortium file and policies, and the retention rules (pure parts)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from sharelake.consortium.cluster import init_cluster
from sharelake.consortium.members import (
    DEFAULT_PURPOSE,
    Consortium,
    ConsortiumConfigError,
    Purpose,
    PurposeError,
)
from sharelake.governance.policy import Policy, PolicyChange, PolicyError
from sharelake.governance.retention import expired, expires_at, expiry_text, retention_text
from sharelake.plan import nodes as pn
from sharelake.plan.canonical import PlanError, plan_hash
from sharelake.plan.validate import validate_plan

PURPOSES = {
    "monitoring": Purpose("monitoring", "Yearly estimate of the number of victims"),
    "research": Purpose("research", "Academic studies under the consortium agreement"),
}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("lake")
    init_cluster(d)
    return d


def test_a_consortium_file_without_purposes_still_loads_and_has_the_default_purpose(
    lake: Path,
) -> None:
    c = Consortium.load(lake / "consortium.toml")
    assert c.purposes == {}
    assert list(c.agreed_purposes) == [DEFAULT_PURPOSE]
    assert c.resolve_purpose(None) == DEFAULT_PURPOSE
    assert "purposes" not in c.to_dict()
    with pytest.raises(PurposeError, match="'research' is not agreed"):
        c.resolve_purpose("research")


def test_purposes_round_trip_through_the_file_and_a_query_must_then_name_one(
    lake: Path, tmp_path: Path
) -> None:
    c = dataclasses.replace(Consortium.load(lake / "consortium.toml"), purposes=PURPOSES)
    path = c.save(tmp_path / "consortium.toml")
    again = Consortium.load(path)
    assert again.purposes == PURPOSES
    assert again.resolve_purpose("research") == "research"
    with pytest.raises(PurposeError, match=r"name the purpose.*monitoring, research"):
        again.resolve_purpose(None)
    with pytest.raises(PurposeError, match="'marketing' is not agreed"):
        again.resolve_purpose("marketing")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "Research", "description": "x"}, "invalid purpose name"),
        ({"name": "research"}, "missing required key"),
        ({"name": "research", "description": "x", "until": 3}, "unknown key"),
        ({"name": "research", "description": "  "}, "must not be empty"),
    ],
)
def test_a_malformed_purpose_is_refused_naming_the_key(
    lake: Path, tmp_path: Path, entry: dict[str, object], message: str
) -> None:
    doc = Consortium.load(lake / "consortium.toml").to_dict(relative_to=lake)
    doc["purposes"] = [entry]
    with pytest.raises(ConsortiumConfigError, match=message):
        Consortium.from_dict(doc, path=tmp_path / "c.toml")


def test_a_purpose_listed_twice_is_refused(lake: Path) -> None:
    doc = Consortium.load(lake / "consortium.toml").to_dict(relative_to=lake)
    doc["purposes"] = [{"name": "research", "description": "x"}] * 2
    with pytest.raises(ConsortiumConfigError, match=r"purposes\[1\]\.name.*listed twice"):
        Consortium.from_dict(doc)


def test_a_policy_binds_purposes_and_retention_and_old_policies_keep_their_form() -> None:
    p = Policy.from_dict(
        {"purposes": ["monitoring"], "retain_until": dt.date(2027, 1, 31), "columns": {}}
    )
    assert p.serves("monitoring") and not p.serves("research")
    assert p.to_dict()["retain_until"] == "2027-01-31"
    assert Policy.from_dict(p.to_dict()) == p
    old = {"min_group_size": 5, "release_sizes": False, "columns": {"a": "reveal"}}
    assert Policy.from_dict(old).to_dict() == old  # the signed form of old changes holds
    assert Policy.from_dict(old).serves("anything")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"retain_until": "2027-01-31", "retain_days": 3}, "not both"),
        ({"retain_until": "31.01.2027"}, "not a date"),
        ({"retain_until": 20270131}, "must be a date"),
        ({"retain_days": -1}, "non-negative"),
        ({"retain_days": True}, "non-negative"),
        ({"purposes": []}, "non-empty list"),
        ({"purposes": ["Research"]}, "not a purpose name"),
        ({"purposes": ["a", "a"]}, "twice"),
    ],
)
def test_a_bad_purpose_or_retention_setting_is_refused(
    doc: dict[str, object], message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy.from_dict(doc)


def test_a_signed_policy_change_carries_purposes_and_retention() -> None:
    from sharelake.consortium.keys import generate_key

    pol = Policy(purposes=("research",), retain_days=30)
    ch = PolicyChange.create(generate_key(), "ngo", "t", 2, pol, table_version=1)
    assert PolicyChange.from_dict(ch.to_dict()).policy == pol


def test_retain_until_keeps_the_table_through_that_day_utc() -> None:
    p = Policy(retain_until="2026-03-01")
    end = dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp()
    assert expires_at(p, created=0.0) == end
    assert not expired(p, created=0.0, now=end - 1)
    assert expired(p, created=0.0, now=end)
    assert expiry_text(end) == "2026-03-02T00:00:00Z"
    assert retention_text(p) == "kept through 2026-03-01 (UTC)"


def test_retain_days_counts_from_the_day_of_the_first_upload() -> None:
    created = dt.datetime(2026, 1, 10, 23, 59, tzinfo=dt.UTC).timestamp()
    p = Policy(retain_days=2)
    end = dt.datetime(2026, 1, 13, tzinfo=dt.UTC).timestamp()
    assert expires_at(p, created=created) == end
    assert not expired(p, created=created, now=end - 1) and expired(p, created=created, now=end)
    assert expires_at(Policy(), created=created) is None
    assert not expired(Policy(), created=0.0, now=1e12)


def test_a_plan_names_its_purpose_and_plans_without_one_keep_their_hash() -> None:
    plan = pn.make_plan(pn.head(pn.scan("people"), 3))
    before = plan_hash(plan)
    assert "purpose" not in plan
    with_purpose = {**plan, "purpose": "research"}
    validate_plan(with_purpose)
    assert plan_hash(plan) == before and plan_hash(with_purpose) != before
    with pytest.raises(PlanError, match=r"plan\.purpose"):
        validate_plan({**plan, "purpose": "Not A Name"})

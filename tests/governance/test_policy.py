"""Policies: the TOML form, validation errors that name the culprit, signed changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharelake.consortium.cluster import init_cluster, member_key_path
from sharelake.consortium.keys import SignatureError, generate_key, load_private_key
from sharelake.consortium.members import Consortium
from sharelake.governance.policy import Policy, PolicyChange, PolicyError, load_policy

TOML = """
min_group_size = 7
analysts = ["analyst"]
release_sizes = true

[columns]
pid = "match"
region = "group"
age = "aggregate"
case_id = "reveal"
notes = "private"
"""


def test_a_policy_file_is_read_with_every_setting(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(TOML)
    p = load_policy(path, schema=["pid", "region", "age", "case_id", "notes"])
    assert p.min_group_size == 7 and p.analysts == ("analyst",) and p.release_sizes
    assert p.column_class("notes") == "private" and p.column_class("age") == "aggregate"


def test_the_default_policy_has_k_five_any_analyst_and_no_sizes() -> None:
    p = Policy.from_dict({})
    assert (p.min_group_size, p.analysts, p.release_sizes, dict(p.columns)) == (5, None, False, {})


def test_a_policy_without_a_columns_table_leaves_every_column_unclassified() -> None:
    assert Policy.from_dict({"analysts": ["a"]}).column_class("anything") is None
    assert Policy.from_dict(Policy.from_dict({}).to_dict()) == Policy.from_dict({})


def test_a_column_missing_from_a_columns_table_is_unclassified() -> None:
    assert Policy.from_dict({"columns": {"a": "reveal"}}).column_class("b") is None


def test_a_policy_naming_an_unknown_column_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[columns]\nsalary = "aggregate"\n')
    with pytest.raises(PolicyError, match="unknown column 'salary'") as err:
        load_policy(path, schema=["age"])
    assert str(path) in str(err.value)


def test_a_policy_naming_an_unknown_class_is_refused_naming_it() -> None:
    with pytest.raises(PolicyError, match="column 'age' has unknown class 'secret'"):
        Policy.from_dict({"columns": {"age": "secret"}})


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"min_group_size": 0}, "min_group_size"),
        ({"min_group_size": True}, "min_group_size"),
        ({"analysts": "ana"}, "analysts"),
        ({"release_sizes": "yes"}, "release_sizes"),
        ({"colums": {}}, "unknown setting 'colums'"),
    ],
)
def test_a_policy_with_a_bad_setting_is_refused_naming_the_setting(
    doc: dict[str, object], needle: str
) -> None:
    with pytest.raises(PolicyError, match=needle):
        Policy.from_dict(doc)


def test_the_dict_form_round_trips() -> None:
    p = Policy({"a": "reveal", "b": "match"}, 3, ("x",), True)
    assert Policy.from_dict(p.to_dict()) == p


@pytest.fixture(scope="module")
def consortium(tmp_path_factory: pytest.TempPathFactory) -> tuple[Consortium, Path]:
    d = tmp_path_factory.mktemp("cluster")
    init_cluster(d)
    return Consortium.load(d / "consortium.toml"), d


def _owner(consortium: tuple[Consortium, Path]) -> str:
    return consortium[0].members_with_role("provider")[0].name


def test_a_policy_change_signed_by_the_owner_verifies(
    consortium: tuple[Consortium, Path],
) -> None:
    cons, d = consortium
    owner = _owner(consortium)
    key = load_private_key(member_key_path(d, owner))
    ch = PolicyChange.create(key, owner, "people", 2, Policy({"age": "aggregate"}))
    PolicyChange.from_dict(ch.to_dict()).verify(cons, table_owner=owner, current_version=1)


def test_a_policy_change_by_another_member_is_refused(
    consortium: tuple[Consortium, Path],
) -> None:
    cons, d = consortium
    owner = _owner(consortium)
    other = cons.members_with_role("analyst")[0].name
    key = load_private_key(member_key_path(d, other))
    ch = PolicyChange.create(key, other, "people", 2, Policy())
    with pytest.raises(PolicyError, match=f"only its owner '{owner}'"):
        ch.verify(cons, table_owner=owner, current_version=1)


def test_a_policy_change_claiming_the_owner_but_signed_by_another_key_is_refused(
    consortium: tuple[Consortium, Path],
) -> None:
    cons, _ = consortium
    owner = _owner(consortium)
    ch = PolicyChange.create(generate_key(), owner, "people", 2, Policy())
    with pytest.raises(SignatureError, match="does not verify"):
        ch.verify(cons, table_owner=owner, current_version=1)


def test_a_replayed_policy_change_for_an_old_version_is_refused(
    consortium: tuple[Consortium, Path],
) -> None:
    cons, d = consortium
    owner = _owner(consortium)
    key = load_private_key(member_key_path(d, owner))
    ch = PolicyChange.create(key, owner, "people", 2, Policy())
    with pytest.raises(PolicyError, match="must create version 4"):
        ch.verify(cons, table_owner=owner, current_version=3)


def test_a_policy_change_edited_after_signing_does_not_verify(
    consortium: tuple[Consortium, Path],
) -> None:
    cons, d = consortium
    owner = _owner(consortium)
    key = load_private_key(member_key_path(d, owner))
    doc = PolicyChange.create(key, owner, "people", 2, Policy({"age": "private"})).to_dict()
    doc["policy"]["columns"]["age"] = "reveal"
    with pytest.raises(SignatureError):
        PolicyChange.from_dict(doc).verify(cons, table_owner=owner, current_version=1)

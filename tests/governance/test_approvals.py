"""Approvals: bound to the plan hash, the analyst, an expiry and an owner's key."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharelake.consortium.cluster import MemberSpec, init_cluster, member_key_path
from sharelake.consortium.keys import SignatureError, generate_key, load_private_key
from sharelake.consortium.members import Consortium, UnknownMemberError
from sharelake.governance.approvals import Approval, ApprovalBook, ApprovalError, request_id
from sharelake.plan import nodes as pn
from sharelake.plan.canonical import plan_hash

PLAN = pn.make_plan(pn.scan("people", ["pid"]))
H = plan_hash(PLAN)
NOW = 1_000_000.0
LATER = 2_000_000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> tuple[Consortium, Path]:
    d = tmp_path_factory.mktemp("cluster")
    members = [
        MemberSpec("ngo", "NGO", frozenset({"provider"})),
        MemberSpec("ngo_approver", "NGO", frozenset({"approver"})),
        MemberSpec("police", "Police", frozenset({"provider", "approver"})),
        MemberSpec("analyst", "Uni", frozenset({"analyst"})),
        MemberSpec("analyst2", "Uni", frozenset({"analyst"})),
    ]
    init_cluster(d, members=members)
    return Consortium.load(d / "consortium.toml"), d


@pytest.fixture
def book(cluster: tuple[Consortium, Path], tmp_path: Path) -> ApprovalBook:
    return ApprovalBook(tmp_path / "approvals.jsonl", cluster[0])


def approve(
    cluster: tuple[Consortium, Path],
    who: str,
    *,
    digest: str = H,
    analyst: str = "analyst",
    expires: int = LATER,
    decision: str = "approve",
) -> Approval:
    key = load_private_key(member_key_path(cluster[1], who))
    return Approval.create(key, digest, analyst, expires, who, decision)  # type: ignore[arg-type]


def test_a_plan_approved_by_every_owner_is_valid(
    cluster: tuple[Consortium, Path], book: ApprovalBook
) -> None:
    for who in ("ngo", "police"):
        book.add(approve(cluster, who), now=NOW)
    assert book.valid_for(H, "analyst", {"ngo", "police"}, NOW) == set()


def test_a_plan_approved_by_one_of_two_owners_misses_the_other(
    cluster: tuple[Consortium, Path], book: ApprovalBook
) -> None:
    book.add(approve(cluster, "ngo"), now=NOW)
    assert book.valid_for(H, "analyst", {"ngo", "police"}, NOW) == {"police"}
    assert book.problems(H, "analyst", {"ngo", "police"}, NOW) == {
        "police": "no approval by owner 'police'"
    }


def test_an_approver_of_the_owners_organisation_speaks_for_it(
    cluster: tuple[Consortium, Path], book: ApprovalBook
) -> None:
    book.add(approve(cluster, "ngo_approver"), now=NOW)
    assert book.valid_for(H, "analyst", {"ngo"}, NOW) == set()


def test_a_changed_plan_is_not_covered_by_the_approval(
    cluster: tuple[Consortium, Path], book: ApprovalBook
) -> None:
    book.add(approve(cluster, "ngo"), now=NOW)
    changed = plan_hash(pn.make_plan(pn.scan("people", ["pid", "age"])))
    assert book.valid_for(changed, "analyst", {"ngo"}, NOW) == {"ngo"}


def test_another_analysts_approval_does_not_count(
    cluster: tuple[Consortium, Path], book: ApprovalBook
) -> None:
    book.add(approve(cluster, "ngo"), now=NOW)
    problems = book.problems(H, "analyst2", {"ngo"}, NOW)
    assert problems == {"ngo": "owner 'ngo' approved this plan for 'analyst', not 'analyst2'"}


def test_an_expired_approval_does_not_count(
    cluster: tuple[Consortium, Path], book: ApprovalBook
) -> None:
    book.add(approve(cluster, "ngo"), now=NOW)
    assert book.problems(H, "analyst", {"ngo"}, LATER + 1) == {
        "ngo": "the approval by 'ngo' expired"
    }


def test_an_approval_already_expired_is_refused_on_arrival(
    cluster: tuple[Consortium, Path], book: ApprovalBook
) -> None:
    with pytest.raises(ApprovalError, match="already expired"):
        book.add(approve(cluster, "ngo", expires=int(NOW) - 1), now=NOW)


def test_a_signature_by_a_non_owner_does_not_count(
    cluster: tuple[Consortium, Path], book: ApprovalBook
) -> None:
    book.add(approve(cluster, "police"), now=NOW)
    assert book.valid_for(H, "analyst", {"ngo"}, NOW) == {"ngo"}


def test_a_non_owner_approval_of_a_known_request_is_refused(
    cluster: tuple[Consortium, Path], book: ApprovalBook
) -> None:
    book.submit(PLAN, "analyst", ["ngo"], {"decision": "needs_approval"}, submitted="t")
    with pytest.raises(ApprovalError, match="'police' owns none of the tables"):
        book.add(approve(cluster, "police"), now=NOW)


def test_an_approval_claiming_an_owner_but_signed_by_another_key_is_refused(
    book: ApprovalBook,
) -> None:
    forged = Approval.create(generate_key(), H, "analyst", LATER, "ngo")
    with pytest.raises(SignatureError):
        book.add(forged, now=NOW)


def test_an_approval_by_an_unknown_member_is_refused(book: ApprovalBook) -> None:
    with pytest.raises(UnknownMemberError):
        book.add(Approval.create(generate_key(), H, "analyst", LATER, "mallory"), now=NOW)


def test_a_rejection_by_an_owner_overrides_its_approval(
    cluster: tuple[Consortium, Path], book: ApprovalBook
) -> None:
    book.add(approve(cluster, "ngo"), now=NOW)
    book.add(approve(cluster, "ngo", decision="reject"), now=NOW)
    assert book.problems(H, "analyst", {"ngo"}, NOW) == {"ngo": "owner 'ngo' rejected this plan"}


def test_requests_and_approvals_survive_a_restart(
    cluster: tuple[Consortium, Path], book: ApprovalBook
) -> None:
    req = book.submit(PLAN, "analyst", ["ngo"], {"decision": "needs_approval"}, submitted="t")
    assert req.id == request_id(H, "analyst")
    book.add(approve(cluster, "ngo"), now=NOW)
    again = ApprovalBook(book.path, cluster[0])
    assert again.request(req.id) == req
    assert again.valid_for(H, "analyst", {"ngo"}, NOW) == set()


def test_an_edited_approval_on_disk_does_not_count(
    cluster: tuple[Consortium, Path], book: ApprovalBook
) -> None:
    book.add(approve(cluster, "ngo"), now=NOW)
    text = book.path.read_text().replace('"analyst":"analyst"', '"analyst":"analyst2"')
    book.path.write_text(text)
    again = ApprovalBook(book.path, cluster[0])
    assert again.valid_for(H, "analyst2", {"ngo"}, NOW) == {"ngo"}


def test_an_approval_counts_only_for_the_uploads_it_was_bound_to_across_a_restart(
    cluster: tuple[Consortium, Path], book: ApprovalBook
) -> None:
    book.add(approve(cluster, "ngo"), now=NOW, table_versions={"people": 3})
    assert book.problems(H, "analyst", {"ngo"}, NOW, {"people": 3}) == {}
    again = ApprovalBook(book.path, cluster[0])
    assert "another upload" in again.problems(H, "analyst", {"ngo"}, NOW, {"people": 4})["ngo"]
    # the approver sends it again: it is bound to the uploads current now
    again.add(approve(cluster, "ngo"), now=NOW, table_versions={"people": 4})
    last = ApprovalBook(book.path, cluster[0])
    assert last.problems(H, "analyst", {"ngo"}, NOW, {"people": 4}) == {}


def test_an_approval_recorded_without_table_versions_binds_when_first_checked(
    cluster: tuple[Consortium, Path], book: ApprovalBook
) -> None:
    book.add(approve(cluster, "ngo"), now=NOW)  # the plan is not known here yet
    book.submit(PLAN, "analyst", ["ngo"], {"decision": "needs_approval"}, submitted="t")
    assert list(book.unbound_plans()) == [H]
    book.bind(H, {"people": 7})
    again = ApprovalBook(book.path, cluster[0])
    assert again.unbound_plans() == {}
    assert again.problems(H, "analyst", {"ngo"}, NOW, {"people": 7}) == {}
    assert again.problems(H, "analyst", {"ngo"}, NOW, {"people": 8}) != {}

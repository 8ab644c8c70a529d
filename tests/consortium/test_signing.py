"""Request signing per docs/node-api.md and its verification by a node."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from sharelake.consortium.keys import SignatureError, generate_key, public_key_bytes
from sharelake.consortium.members import Consortium, Member, NodeInfo, Role, UnknownMemberError
from sharelake.consortium.signing import (
    HEADER_CONTENT_SHA256,
    HEADER_MEMBER,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MalformedRequestError,
    ReplayError,
    RequestVerifier,
    StaleRequestError,
    consortium_id,
    sign_request,
    signing_string,
)
from sharelake.errors import AuthenticationError

NOW = 1_700_000_000
PATH = "/v1/queries"
BODY = b'{"plan": {}, "plan_hash": "00", "nonce": "11"}'
CID = "c" * 32  # replaced by the consortium fixture's id where a verifier checks it


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def keys() -> dict[str, ed25519.Ed25519PrivateKey]:
    return {name: generate_key() for name in ("analyst", "ngo_a")}


@pytest.fixture(scope="module")
def consortium(keys: dict[str, ed25519.Ed25519PrivateKey]) -> Consortium:
    cons = _consortium(keys)
    TEST_CID[:] = [consortium_id(cons)]
    return cons


def _consortium(keys: dict[str, ed25519.Ed25519PrivateKey]) -> Consortium:
    n0, n1, n2 = (
        NodeInfo(i, f"P{i}", "127.0.0.1", 9000 + i, "127.0.0.1", 9100 + i, "0" * 64)
        for i in range(3)
    )
    roles: dict[str, frozenset[Role]] = {
        "analyst": frozenset({"analyst"}),
        "ngo_a": frozenset({"provider", "approver"}),
    }
    members = {n: Member(n, n, roles[n], public_key_bytes(k)) for n, k in keys.items()}
    return Consortium("test", (n0, n1, n2), members, ca_cert_path=Path("ca.pem"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(consortium: Consortium, clock: Clock) -> RequestVerifier:
    return RequestVerifier(consortium, node=1, clock=clock)


def signed(
    keys: dict[str, ed25519.Ed25519PrivateKey],
    member: str = "analyst",
    *,
    method: str = "POST",
    path: str = PATH,
    body: bytes = BODY,
    timestamp: int = NOW,
    nonce: str | None = None,
    node: int = 1,
    consortium: str | None = None,
) -> dict[str, str]:
    return sign_request(
        keys[member],
        member,
        method,
        path,
        body,
        timestamp=timestamp,
        nonce=nonce,
        consortium=consortium or TEST_CID[0],
        node=node,
    )


TEST_CID: list[str] = []


def aud() -> dict[str, Any]:
    """The audience every test request is signed for: node 1 of the test consortium."""
    return {"consortium": TEST_CID[0], "node": 1}


def test_the_signing_string_is_exactly_the_one_of_the_api_contract() -> None:
    nonce = "ab" * 16
    expected = (
        f"sharelake-req-v2\n{CID}\n2\nPOST\n/v1/queries\n1700000000\n"
        + nonce
        + "\n"
        + hashlib.sha256(BODY).hexdigest()
    ).encode()
    got = signing_string("POST", PATH, "1700000000", nonce, BODY, consortium=CID, node=2)
    assert got == expected
    empty = signing_string("GET", "/v1/health", "1", nonce, None, consortium=CID, node=0)
    assert empty.endswith(hashlib.sha256(b"").hexdigest().encode())


def test_the_consortium_id_is_32_hex_and_differs_between_consortia_of_one_name(
    consortium: Consortium,
) -> None:
    cid = consortium_id(consortium)
    assert len(cid) == 32 and int(cid, 16) >= 0
    other = NodeInfo(0, "P0", "127.0.0.1", 9000, "127.0.0.1", 9100, "1" * 64)
    twin = Consortium("test", (other, *consortium.nodes[1:]), consortium.members, Path("ca.pem"))
    assert consortium_id(twin) != cid


def test_sign_request_gives_the_five_headers_with_a_base64_signature_over_the_string(
    keys: dict[str, ed25519.Ed25519PrivateKey], consortium: Consortium
) -> None:
    h = signed(keys)
    assert h[HEADER_MEMBER] == "analyst" and h[HEADER_TIMESTAMP] == str(NOW)
    assert len(h[HEADER_NONCE]) == 32 and int(h[HEADER_NONCE], 16) >= 0
    assert h[HEADER_CONTENT_SHA256] == hashlib.sha256(BODY).hexdigest()
    cid = consortium_id(consortium)
    message = signing_string("POST", PATH, str(NOW), h[HEADER_NONCE], BODY, consortium=cid, node=1)
    keys["analyst"].public_key().verify(base64.b64decode(h[HEADER_SIGNATURE]), message)


@pytest.mark.parametrize("node", [0, 2])
def test_a_request_signed_for_another_node_is_refused_cross_node_replay(
    keys: dict[str, ed25519.Ed25519PrivateKey], verifier: RequestVerifier, node: int
) -> None:
    with pytest.raises(SignatureError, match="for node P1"):
        verifier.verify(signed(keys, node=node), "POST", PATH, BODY)


def test_a_request_signed_for_another_consortium_is_refused(
    keys: dict[str, ed25519.Ed25519PrivateKey], verifier: RequestVerifier
) -> None:
    with pytest.raises(SignatureError):
        verifier.verify(signed(keys, consortium="d" * 32), "POST", PATH, BODY)


def test_a_body_other_than_the_signed_one_is_refused(
    keys: dict[str, ed25519.Ed25519PrivateKey], verifier: RequestVerifier
) -> None:
    with pytest.raises(SignatureError, match="not the one it signed"):
        verifier.verify(signed(keys), "POST", PATH, BODY + b" ")


def test_fresh_nonces_differ_between_requests(keys: dict[str, ed25519.Ed25519PrivateKey]) -> None:
    assert signed(keys)[HEADER_NONCE] != signed(keys)[HEADER_NONCE]


def test_a_signed_request_verifies_and_names_its_member(
    keys: dict[str, ed25519.Ed25519PrivateKey], verifier: RequestVerifier
) -> None:
    member = verifier.verify(signed(keys), "POST", PATH, BODY)
    assert member.name == "analyst" and member.has_role("analyst")


def test_header_names_are_matched_case_insensitively(
    keys: dict[str, ed25519.Ed25519PrivateKey], verifier: RequestVerifier
) -> None:
    headers = {k.lower(): v for k, v in signed(keys).items()}
    assert verifier.verify(headers, "POST", PATH, BODY).name == "analyst"


def test_a_request_without_a_body_verifies(
    keys: dict[str, ed25519.Ed25519PrivateKey], verifier: RequestVerifier
) -> None:
    h = signed(keys, method="GET", path="/v1/tables", body=b"")
    assert verifier.verify(h, "GET", "/v1/tables", b"").name == "analyst"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", PATH, BODY + b" "),
        ("POST", "/v1/tables", BODY),
        ("PUT", PATH, BODY),
        ("POST", PATH, b""),
    ],
    ids=["body", "path", "method", "no-body"],
)
def test_a_tampered_request_fails_its_signature(
    keys: dict[str, ed25519.Ed25519PrivateKey],
    verifier: RequestVerifier,
    method: str,
    path: str,
    body: bytes,
) -> None:
    with pytest.raises(SignatureError, match=r"does not verify|not the one it signed"):
        verifier.verify(signed(keys), method, path, body)


def test_a_request_signed_by_an_unknown_member_is_refused(
    keys: dict[str, ed25519.Ed25519PrivateKey], verifier: RequestVerifier
) -> None:
    h = sign_request(generate_key(), "mallory", "POST", PATH, BODY, timestamp=NOW, **aud())
    with pytest.raises(UnknownMemberError, match="mallory"):
        verifier.verify(h, "POST", PATH, BODY)


def test_a_request_signed_with_another_members_key_is_refused(
    keys: dict[str, ed25519.Ed25519PrivateKey], verifier: RequestVerifier
) -> None:
    h = sign_request(keys["ngo_a"], "analyst", "POST", PATH, BODY, timestamp=NOW, **aud())
    with pytest.raises(SignatureError, match="analyst"):
        verifier.verify(h, "POST", PATH, BODY)
    h = sign_request(generate_key(), "analyst", "POST", PATH, BODY, timestamp=NOW, **aud())
    with pytest.raises(SignatureError):
        verifier.verify(h, "POST", PATH, BODY)


@pytest.mark.parametrize("offset", [-301, 301, -10_000])
def test_a_timestamp_beyond_the_skew_is_refused(
    keys: dict[str, ed25519.Ed25519PrivateKey], verifier: RequestVerifier, offset: int
) -> None:
    with pytest.raises(StaleRequestError, match="300 s"):
        verifier.verify(signed(keys, timestamp=NOW + offset), "POST", PATH, BODY)


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_a_timestamp_within_the_skew_is_accepted(
    keys: dict[str, ed25519.Ed25519PrivateKey], verifier: RequestVerifier, offset: int
) -> None:
    assert verifier.verify(signed(keys, timestamp=NOW + offset), "POST", PATH, BODY)


def test_a_replayed_request_is_refused(
    keys: dict[str, ed25519.Ed25519PrivateKey], verifier: RequestVerifier
) -> None:
    h = signed(keys)
    verifier.verify(h, "POST", PATH, BODY)
    with pytest.raises(ReplayError, match="already used"):
        verifier.verify(h, "POST", PATH, BODY)


def test_a_replay_after_the_window_is_refused_as_stale_and_its_nonce_forgotten(
    keys: dict[str, ed25519.Ed25519PrivateKey], verifier: RequestVerifier, clock: Clock
) -> None:
    h = signed(keys)
    verifier.verify(h, "POST", PATH, BODY)
    clock.now = NOW + 301
    with pytest.raises(StaleRequestError):
        verifier.verify(h, "POST", PATH, BODY)
    verifier.verify(signed(keys, timestamp=NOW + 301), "POST", PATH, BODY)
    assert verifier.cached_nonces == 1


def test_a_forged_request_does_not_use_up_its_nonce(
    keys: dict[str, ed25519.Ed25519PrivateKey], verifier: RequestVerifier
) -> None:
    nonce = "cd" * 16
    forged = sign_request(
        keys["ngo_a"], "analyst", "POST", PATH, BODY, timestamp=NOW, nonce=nonce, **aud()
    )
    with pytest.raises(SignatureError):
        verifier.verify(forged, "POST", PATH, BODY)
    assert verifier.verify(signed(keys, nonce=nonce), "POST", PATH, BODY)


def test_the_nonce_cache_stays_bounded_without_letting_an_evicted_replay_in(
    keys: dict[str, ed25519.Ed25519PrivateKey], consortium: Consortium, clock: Clock
) -> None:
    verifier = RequestVerifier(consortium, node=1, clock=clock, max_nonces=2)
    oldest = signed(keys, timestamp=NOW - 100)
    verifier.verify(oldest, "POST", PATH, BODY)
    for ts in (NOW - 50, NOW, NOW + 50):
        verifier.verify(signed(keys, timestamp=ts), "POST", PATH, BODY)
    assert verifier.cached_nonces == 2
    with pytest.raises(ReplayError):
        verifier.verify(oldest, "POST", PATH, BODY)
    assert verifier.verify(signed(keys, timestamp=NOW + 60), "POST", PATH, BODY)


@pytest.mark.parametrize(
    ("header", "value", "error"),
    [
        (HEADER_MEMBER, None, MalformedRequestError),
        (HEADER_TIMESTAMP, None, MalformedRequestError),
        (HEADER_NONCE, None, MalformedRequestError),
        (HEADER_SIGNATURE, None, MalformedRequestError),
        (HEADER_TIMESTAMP, "-1700000000", MalformedRequestError),
        (HEADER_TIMESTAMP, "1.7e9", MalformedRequestError),
        (HEADER_NONCE, "abc", MalformedRequestError),
        (HEADER_NONCE, "g" * 32, MalformedRequestError),
        (HEADER_SIGNATURE, "not base64!", SignatureError),
        (HEADER_SIGNATURE, base64.b64encode(b"short").decode(), SignatureError),
    ],
)
def test_a_missing_or_malformed_header_is_refused_with_a_typed_error(
    keys: dict[str, ed25519.Ed25519PrivateKey],
    verifier: RequestVerifier,
    header: str,
    value: str | None,
    error: type[Exception],
) -> None:
    h = signed(keys)
    if value is None:
        del h[header]
    else:
        h[header] = value
    with pytest.raises(error):
        verifier.verify(h, "POST", PATH, BODY)


def test_every_refusal_is_an_authentication_error() -> None:
    for cls in (
        MalformedRequestError,
        StaleRequestError,
        ReplayError,
        SignatureError,
        UnknownMemberError,
    ):
        assert issubclass(cls, AuthenticationError)

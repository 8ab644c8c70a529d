"""``init_cluster``, ``consortium.toml``, ``node.toml`` and member keys."""

from __future__ import annotations

import re
import shutil
import stat
import tomllib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from sharelake.consortium.certs import issue_node_cert, load_ca, make_ca
from sharelake.consortium.cluster import (
    ClusterExistsError,
    MemberSpec,
    NodeConfig,
    check_node_files,
    init_cluster,
    member_key_path,
    node_config_path,
    parse_member_spec,
    parse_member_specs,
)
from sharelake.consortium.founding import check_founders_signed
from sharelake.consortium.keys import (
    KeyFileError,
    generate_key,
    load_private_key,
    public_key_bytes,
    save_private_key,
)
from sharelake.consortium.members import Consortium, ConsortiumConfigError, UnknownMemberError
from sharelake.errors import AuthenticationError
from sharelake.net.identity import fingerprint


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default consortium, written once; tests that change files copy it first."""
    return init_cluster(tmp_path_factory.mktemp("cluster"), base_port=7400)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_writes_a_loadable_consortium_with_the_default_members_and_roles(
    cluster: Path,
) -> None:
    cons = Consortium.load(cluster)
    assert cons.name == "sharelake-local"
    assert {m: set(cons.member(m).roles) for m in cons.members} == {
        "ngo_a": {"provider", "approver"},
        "ngo_b": {"provider", "approver"},
        "police": {"provider", "approver"},
        "hotline": {"provider", "approver"},
        "analyst": {"analyst"},
    }
    assert [m.name for m in cons.members_with_role("analyst")] == ["analyst"]
    assert cons.ca_cert_path == cluster.parent / "ca" / "ca.pem"


def test_member_keys_are_private_files_matching_the_public_keys_in_the_toml(
    cluster: Path,
) -> None:
    cons = Consortium.load(cluster)
    for m in cons.members.values():
        path = member_key_path(cluster.parent, m.name)
        assert mode(path) == 0o600
        assert public_key_bytes(load_private_key(path)) == m.public_key
    assert mode(cluster.parent / "ca" / "ca-key.pem") == 0o600


def test_node_certificates_match_the_fingerprints_in_the_toml(cluster: Path) -> None:
    cons = Consortium.load(cluster)
    for node in cons.nodes:
        config = NodeConfig.load(node_config_path(cluster.parent, node.id))
        assert fingerprint(config.cert_path) == node.cert_fingerprint
        assert mode(config.key_path) == 0o600
        assert check_node_files(config, cons) == node


def test_node_configs_point_at_their_files_and_ports(cluster: Path) -> None:
    root = cluster.parent
    cons = Consortium.load(cluster)
    for i in range(3):
        config = NodeConfig.load(node_config_path(root, i))
        assert (config.id, config.name) == (i, f"P{i}")
        assert (config.api_port, config.peer_port) == (7400 + i, 7403 + i)
        assert (config.api_host, config.api_port) == (cons.node(i).api_host, cons.node(i).api_port)
        node_dir = root / "nodes" / f"P{i}"
        assert config.consortium_path == node_dir / "consortium.toml"
        assert config.ca_path == node_dir / "ca.pem"
        assert config.data_dir == node_dir / "data"
        assert config.deadlines.request_skew == 300
        own = config.load_consortium()
        assert own.ca_cert_path == node_dir / "ca.pem"
        assert own.ca_cert_path.read_bytes() == cons.ca_cert_path.read_bytes()
        assert replace(own, ca_cert_path=cons.ca_cert_path) == cons


def test_a_node_folder_copied_elsewhere_is_complete(cluster: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "P1"
    shutil.copytree(cluster.parent / "nodes" / "P1", moved)
    config = NodeConfig.load(moved / "node.toml")
    cons = config.load_consortium()
    assert check_node_files(config, cons).id == 1
    check_founders_signed(cons)


def test_init_picks_distinct_free_ports_when_none_are_given(tmp_path: Path) -> None:
    cons = Consortium.load(init_cluster(tmp_path))
    ports = [p for n in cons.nodes for p in (n.api_port, n.peer_port)]
    assert len(set(ports)) == 6


def test_picked_ports_lie_below_the_range_outgoing_connections_draw_from() -> None:
    # a port picked in the ephemeral range could be taken as a client's source port
    # between the pick and the node binding it (seen as "address in use" under load)
    from sharelake.consortium.cluster import _listen_range, free_ports

    pool = _listen_range()
    ports = free_ports(["127.0.0.1"] * 12)
    assert len(set(ports)) == 12
    assert all(p in pool for p in ports)
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        ephemeral_low = int(f.read().split()[0])
    assert all(p < ephemeral_low for p in ports)


def test_init_takes_members_hosts_and_explicit_ports(tmp_path: Path) -> None:
    path = init_cluster(
        tmp_path,
        members=[MemberSpec("shelter", "Shelter X", frozenset({"provider"}))],
        host=["127.0.0.1", "localhost", "127.0.0.2"],
        api_ports=[1001, 1002, 1003],
        peer_ports=[2001, 2002, 2003],
        name="pilot",
    )
    cons = Consortium.load(path)
    assert cons.name == "pilot" and list(cons.members) == ["shelter"]
    assert cons.member("shelter").organisation == "Shelter X"
    assert [(n.api_host, n.api_port, n.peer_port) for n in cons.nodes] == [
        ("127.0.0.1", 1001, 2001),
        ("localhost", 1002, 2002),
        ("127.0.0.2", 1003, 2003),
    ]


def test_init_refuses_to_overwrite_a_consortium_unless_forced(tmp_path: Path) -> None:
    first = Consortium.load(init_cluster(tmp_path, base_port=7500))
    with pytest.raises(ClusterExistsError, match="force"):
        init_cluster(tmp_path, base_port=7500)
    assert Consortium.load(tmp_path / "consortium.toml") == first
    second = Consortium.load(init_cluster(tmp_path, base_port=7500, force=True))
    assert second.nodes[0].cert_fingerprint != first.nodes[0].cert_fingerprint


def test_init_refuses_duplicate_member_names(tmp_path: Path) -> None:
    spec = MemberSpec("a", "A", frozenset({"analyst"}))
    with pytest.raises(ValueError, match="unique"):
        init_cluster(tmp_path, members=[spec, spec])


def test_an_unknown_member_is_a_clear_error(cluster: Path) -> None:
    with pytest.raises(UnknownMemberError, match=r"'mallory'.*members: analyst, hotline"):
        Consortium.load(cluster).member("mallory")


def test_save_and_load_round_trip(cluster: Path, tmp_path: Path) -> None:
    cons = Consortium.load(cluster)
    assert Consortium.load(cons.save(tmp_path / "copy.toml")) == cons


def test_security_is_malicious_unless_the_founders_sign_semi_honest(
    cluster: Path, tmp_path: Path
) -> None:
    cons = Consortium.load(cluster)
    assert cons.security == "malicious"
    assert "security" not in cons.to_dict()["consortium"]  # the default is not written
    relaxed = Consortium.load(
        edited(cluster, tmp_path, lambda d: d["consortium"].update(security="semi-honest"))
    )
    assert relaxed.security == "semi-honest"
    assert relaxed.to_dict()["consortium"]["security"] == "semi-honest"
    # the choice is part of the signed file: it changes what the founders sign
    assert relaxed.to_dict() != cons.to_dict()


# -- consortium.toml validation ------------------------------------------------------------


def edited(cluster: Path, tmp_path: Path, edit: Callable[[dict[str, Any]], object]) -> Path:
    doc = tomllib.loads(cluster.read_text())
    edit(doc)
    out = tmp_path / "consortium.toml"
    out.write_text(tomli_w.dumps(doc))
    return out


def _set(doc: dict[str, Any], dotted: str, value: object) -> None:
    *parents, last = dotted.split(".")
    target: Any = doc
    for p in parents:
        target = target[int(p)] if p.isdigit() else target[p]
    if value is _DELETE:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value


_DELETE = object()


@pytest.mark.parametrize(
    ("dotted", "value", "key", "message"),
    [
        ("version", 2, "version", "unsupported format version"),
        ("consortium.name", _DELETE, "consortium.name", "missing required key"),
        ("consortium.name", "", "consortium.name", "must not be empty"),
        ("consortium.ca_cert", 5, "consortium.ca_cert", "expected a string"),
        ("consortium.nmae", "x", "consortium.nmae", "unknown key"),
        ("consortium.security", "honest", "consortium.security", "malicious, semi-honest"),
        ("consortium.security", 1, "consortium.security", "expected a string"),
        ("nodes.1.api_port", _DELETE, "nodes[1].api_port", "missing required key"),
        ("nodes.1.api_port", "8400", "nodes[1].api_port", "expected an integer"),
        ("nodes.1.api_port", 70000, "nodes[1].api_port", "1-65535"),
        ("nodes.2.peer_port", True, "nodes[2].peer_port", "expected an integer"),
        ("nodes.2.id", 1, "nodes[2].id", "listed twice"),
        ("nodes.2.id", 3, "nodes[2].id", "0, 1 or 2"),
        ("nodes.0.cert_fingerprint", "abc", "nodes[0].cert_fingerprint", "64 hex"),
        ("nodes.0.peer_port", 7401, "nodes[1].api_port", "also used by nodes[0].peer_port"),
        ("nodes.2", _DELETE, "nodes", "exactly 3 nodes"),
        ("members.0.public_key", "AAAA", "members[ngo_a].public_key", "32"),
        ("members.0.public_key", "!!", "members[ngo_a].public_key", "base64"),
        ("members.0.roles", ["provider", "boss"], "members[ngo_a].roles", "unknown role 'boss'"),
        ("members.0.roles", [], "members[ngo_a].roles", "at least one role"),
        ("members.0.organisation", _DELETE, "members[0].organisation", "missing"),
        ("members.1.name", "ngo_a", "members[1].name", "listed twice"),
        ("members.1.name", "bad name", "members[1].name", "invalid member name"),
        ("members", [], "members", "no members"),
        ("members", {"ngo_a": {}}, "members", "expected an array"),
    ],
)
def test_an_invalid_consortium_file_is_refused_naming_the_key(
    cluster: Path, tmp_path: Path, dotted: str, value: object, key: str, message: str
) -> None:
    path = edited(cluster, tmp_path, lambda doc: _set(doc, dotted, value))
    with pytest.raises(ConsortiumConfigError, match=re.escape(message)) as info:
        Consortium.load(path)
    assert info.value.key == key
    assert str(path) in str(info.value) and key in str(info.value)


def test_a_duplicated_public_key_is_refused(cluster: Path, tmp_path: Path) -> None:
    def copy_key(doc: dict[str, Any]) -> None:
        doc["members"][1]["public_key"] = doc["members"][0]["public_key"]

    with pytest.raises(ConsortiumConfigError, match="same public key as member 'ngo_a'"):
        Consortium.load(edited(cluster, tmp_path, copy_key))


def test_a_missing_or_garbled_consortium_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConsortiumConfigError, match="file not found"):
        Consortium.load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[consortium\nname = 1")
    with pytest.raises(ConsortiumConfigError, match="not valid TOML"):
        Consortium.load(bad)


# -- node.toml ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dotted", "value", "key"),
    [
        ("node.id", _DELETE, "node.id"),
        ("node.id", 5, "node.id"),
        ("api.port", "x", "api.port"),
        ("peer", _DELETE, "peer"),
        ("tls.cert", _DELETE, "tls.cert"),
        ("deadlines.query", -1, "deadlines.query"),
        ("deadlines.qeury", 5.0, "deadlines.qeury"),
    ],
)
def test_an_invalid_node_config_is_refused_naming_the_key(
    cluster: Path, tmp_path: Path, dotted: str, value: object, key: str
) -> None:
    doc = tomllib.loads(node_config_path(cluster.parent, 0).read_text())
    _set(doc, dotted, value)
    path = tmp_path / "node.toml"
    path.write_text(tomli_w.dumps(doc))
    with pytest.raises(ConsortiumConfigError) as info:
        NodeConfig.load(path)
    assert info.value.key == key and key in str(info.value)


def test_a_node_certificate_for_another_node_is_refused(cluster: Path) -> None:
    config = NodeConfig.load(node_config_path(cluster.parent, 0))
    other = NodeConfig.load(node_config_path(cluster.parent, 1))
    swapped = NodeConfig(**{**config.__dict__, "cert_path": other.cert_path})
    with pytest.raises(AuthenticationError, match="for node P1"):
        check_node_files(swapped)


def test_a_node_certificate_from_another_ca_is_refused(cluster: Path, tmp_path: Path) -> None:
    config = NodeConfig.load(node_config_path(cluster.parent, 0))
    foreign = issue_node_cert(make_ca(tmp_path / "ca"), 0, tmp_path)
    moved = NodeConfig(**{**config.__dict__, "cert_path": foreign.cert_path})
    with pytest.raises(AuthenticationError, match="not issued by the consortium CA"):
        check_node_files(moved)


def test_a_node_certificate_not_listed_in_the_consortium_is_refused(
    cluster: Path, tmp_path: Path
) -> None:
    config = NodeConfig.load(node_config_path(cluster.parent, 0))
    reissued = issue_node_cert(load_ca(cluster.parent / "ca"), 0, tmp_path)
    moved = NodeConfig(**{**config.__dict__, "cert_path": reissued.cert_path})
    with pytest.raises(AuthenticationError, match="fingerprint"):
        check_node_files(moved)


# -- keys and member specs ---------------------------------------------------------------


def test_loading_something_other_than_an_ed25519_key_is_a_key_file_error(
    cluster: Path, tmp_path: Path
) -> None:
    with pytest.raises(KeyFileError, match="cannot read"):
        load_private_key(tmp_path / "missing.key")
    with pytest.raises(KeyFileError, match="not an Ed25519"):
        load_private_key(cluster.parent / "ca" / "ca-key.pem")
    junk = tmp_path / "junk.key"
    junk.write_text("hello")
    with pytest.raises(KeyFileError, match="not an unencrypted PEM"):
        load_private_key(junk)


def test_saving_a_key_over_a_readable_file_makes_it_private(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    path.write_text("old")
    path.chmod(0o644)
    key = generate_key()
    save_private_key(key, path)
    assert mode(path) == 0o600
    assert public_key_bytes(load_private_key(path)) == public_key_bytes(key)


def test_member_specs_parse_from_the_command_line_form() -> None:
    assert parse_member_spec("ngo_c:NGO C:provider+approver") == MemberSpec(
        "ngo_c", "NGO C", frozenset({"provider", "approver"})
    )
    assert parse_member_spec("eve:analyst") == MemberSpec("eve", "eve", frozenset({"analyst"}))
    assert [s.name for s in parse_member_specs("a:analyst, b:B:provider")] == ["a", "b"]
    bad_specs = [("a:A:boss", "unknown role"), ("a", "expected"), ("a:analyst,a:node", "twice")]
    for bad, msg in bad_specs:
        with pytest.raises(ValueError, match=msg):
            parse_member_specs(bad)

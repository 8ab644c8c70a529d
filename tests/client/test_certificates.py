"""Bad certificates, both ways, over real node processes (issue 11, finding 5; scenario 9).

A client whose ``consortium.toml`` pins another certificate for a node gets a typed
:class:`NodeCertificateError` naming that node (it was an ``AttributeError``); a peer
presenting a certificate from another CA, or an expired one, is refused by the node and
the refusal is logged at WARNING with its reason.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import sharelake
from sharelake.client.session import NodeAuthError, NodeCertificateError
from sharelake.consortium.certs import load_ca, make_ca
from sharelake.consortium.cluster import init_cluster
from sharelake.node.local import LocalCluster

pytestmark = [pytest.mark.tls, pytest.mark.faults, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    lake = tmp_path_factory.mktemp("certs") / "lake"
    init_cluster(lake)
    with LocalCluster(lake) as c:
        yield c


def write_cert(
    directory: Path, issuer_cert: x509.Certificate, issuer_key: object, *, expired: bool
) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    start, end = (
        (now - dt.timedelta(days=30), now - dt.timedelta(days=1))
        if expired
        else (
            now - dt.timedelta(minutes=5),
            now + dt.timedelta(days=1),
        )
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sharelake-node-0")]))
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier("sharelake:node:0")]),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    directory.mkdir(parents=True, exist_ok=True)
    c, k = directory / "peer.pem", directory / "peer-key.pem"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return c, k


def present(cluster: LocalCluster, node: int, cert: Path, key: Path) -> None:
    info = cluster.consortium.nodes[node]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the node is the one checking here
    ctx.load_cert_chain(str(cert), str(key))
    with socket.create_connection((info.peer_host, info.peer_port), timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw) as tls:
                tls.sendall(b"\0" * 42)
                tls.recv(16)
        except OSError:
            pass  # refused during or right after the handshake (TLS 1.3)


def wait_for_log(cluster: LocalCluster, node: int, *needles: str) -> str:
    end = time.monotonic() + 10
    text = ""
    while time.monotonic() < end:
        text = cluster.log_path(node).read_text(errors="replace")
        if all(n in text for n in needles):
            return text
        time.sleep(0.1)
    raise AssertionError(f"P{node}'s log lacks {needles}:\n{text[-2000:]}")


def test_a_certificate_pin_mismatch_is_a_typed_error_naming_the_node(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    fp = [n.cert_fingerprint for n in cluster.consortium.nodes]
    text = cluster.consortium_path.read_text().replace(fp[1], fp[2])
    wrong = cluster.consortium_path.parent / "consortium-wrong-pin.toml"
    wrong.write_text(text)
    key = cluster.member_key_path("analyst")
    with sharelake.connect(wrong, "analyst", key=key) as s:
        with pytest.raises(NodeCertificateError) as err:
            s.request(1, "GET", "/v1/health")
        # P0's certificate is the pinned one: it is reached (and refuses the request as
        # signed for another consortium, whose file lists other fingerprints)
        with pytest.raises(NodeAuthError):
            s.request(0, "GET", "/v1/health")
    assert err.value.node == 1
    assert "P1" in str(err.value) and "pins" in str(err.value)
    del tmp_path


def test_a_peer_certificate_from_another_ca_is_refused_and_logged_at_warning(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    other = make_ca(tmp_path / "other-ca")
    cert, key = write_cert(tmp_path / "stranger", other.cert, other.key, expired=False)
    present(cluster, 2, cert, key)
    text = wait_for_log(cluster, 2, "refused a peer connection from", "certificate rejected")
    assert "unable to get local issuer certificate" in text or "unknown ca" in text.lower()
    assert cluster.health(2)["node"] == 2


def test_an_expired_peer_certificate_is_refused_and_logged_at_warning_with_the_reason(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    ca = load_ca(cluster.dir / "ca")
    cert, key = write_cert(tmp_path / "expired", ca.cert, ca.key, expired=True)
    present(cluster, 1, cert, key)
    wait_for_log(cluster, 1, "refused a peer connection from", "certificate has expired")
    assert cluster.health(1)["node"] == 1

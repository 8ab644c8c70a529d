"""End-to-end tests: three real node processes over mutual TLS, one cluster for the session.

Every module here uses the one ``cluster`` fixture (started once, stopped at the end) and
uploads its own tables under its own names, so the modules do not see each other's data.
Members: four organisations (``ngo_a``, ``ngo_b`` may also analyse; ``police`` and
``hotline`` only provide and approve) and ``analyst``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sharelake.consortium.cluster import MemberSpec, init_cluster
from sharelake.node.local import LocalCluster

ALL_ROLES = frozenset({"provider", "approver", "analyst"})
PROVIDER = frozenset({"provider", "approver"})
MEMBERS = (
    MemberSpec("ngo_a", "ngo_a", ALL_ROLES),
    MemberSpec("ngo_b", "ngo_b", ALL_ROLES),
    MemberSpec("police", "police", PROVIDER),
    MemberSpec("hotline", "hotline", PROVIDER),
    MemberSpec("analyst", "analyst", frozenset({"analyst"})),
)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    d = tmp_path_factory.mktemp("lake")
    init_cluster(d, members=list(MEMBERS))
    with LocalCluster(d) as c:
        yield c

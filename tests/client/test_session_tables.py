"""``Session.tables()`` and ``table_info()`` compare what the three nodes list."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sharelake
from sharelake.client.session import Session, UnknownTableError
from sharelake.client.transport import Reply
from sharelake.consortium.cluster import init_cluster

LOOSE = {"min_group_size": 5, "release_sizes": False, "columns": {"clinic": "group"}}
TIGHT = {"min_group_size": 5, "release_sizes": False, "columns": {"clinic": "aggregate"}}


def listed(version: int = 1, policy_version: int = 1, policy: Any = LOOSE) -> dict[str, Any]:
    return {
        "name": "visits",
        "owner": "ngo_b",
        "rows": 30,
        "version": version,
        "schema": [{"name": "clinic", "kind": "int", "nullable": False}],
        "policy_version": policy_version,
        "policy": policy,
    }


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A consortium whose nodes are not running (the listings are faked)."""
    d = tmp_path_factory.mktemp("lake")
    init_cluster(d)
    return d / "consortium.toml"


@pytest.fixture
def nodes(lake: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Session, list[Any]]]:
    """A session whose GET /v1/tables answers, per node, the listing put in the list."""
    listings: list[Any] = [[], [], []]

    def on_each(self: Session, method: str, path: str, *args: Any, **kw: Any) -> list[Reply]:
        assert (method, path) == ("GET", "/v1/tables")
        return [
            Reply(i, 200, "application/json", json.dumps(lst).encode())
            for i, lst in enumerate(listings)
        ]

    monkeypatch.setattr(Session, "on_each", on_each)
    s = sharelake.connect(lake, "analyst", timeout=2.0)
    yield s, listings
    s.close()


def test_a_table_listed_alike_by_every_node_has_its_policy_and_policy_version(
    nodes: tuple[Session, list[Any]],
) -> None:
    s, listings = nodes
    listings[:] = [[listed(2, 3, TIGHT)]] * 3
    [info] = s.tables()
    assert (info.version, info.policy_version, info.policy) == (2, 3, TIGHT)
    assert s.table_info("visits") == info


def test_a_listing_without_a_policy_version_counts_as_policy_version_one(
    nodes: tuple[Session, list[Any]],
) -> None:
    s, listings = nodes
    old = {k: v for k, v in listed().items() if k != "policy_version"}
    listings[:] = [[old], [listed()], [old]]
    assert [t.policy_version for t in s.tables()] == [1]


def test_a_table_whose_policy_version_differs_between_nodes_is_not_listed_and_is_named(
    nodes: tuple[Session, list[Any]],
) -> None:
    s, listings = nodes
    listings[:] = [[listed(1, 2, TIGHT)], [listed(1, 2, TIGHT)], [listed(1, 1, LOOSE)]]
    assert s.tables() == []
    with pytest.raises(UnknownTableError) as err:
        s.table_info("visits")
    text = str(err.value)
    assert "not the same on the three nodes" in text
    assert "P2: version 1, policy version 1" in text and "policy change" in text
    assert "aggregate" not in text and "group" not in text  # digests, not the policy


def test_a_table_whose_policy_differs_under_the_same_versions_is_not_listed(
    nodes: tuple[Session, list[Any]],
) -> None:
    s, listings = nodes
    listings[:] = [[listed(1, 2, TIGHT)], [listed(1, 2, LOOSE)], [listed(1, 2, TIGHT)]]
    assert s.tables() == []
    with pytest.raises(UnknownTableError, match=r"P1: version 1, policy version 2 \(policy "):
        s.table_info("visits")


def test_a_table_whose_version_differs_between_nodes_still_points_at_the_upload_retry(
    nodes: tuple[Session, list[Any]],
) -> None:
    s, listings = nodes
    listings[:] = [[listed(2)], [listed(2)], [listed(1)]]
    with pytest.raises(UnknownTableError, match=r"P2: version 1.*same upload id"):
        s.table_info("visits")

"""The nodes compare every scanned table before a query computes (node/consistency.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sharelake.engine.tables import public_ones
from sharelake.mpc.party import Party
from sharelake.mpc.sharing import share_arith
from sharelake.net.memory import run_in_memory
from sharelake.node.consistency import DataInconsistencyError, check_tables, table_digest
from sharelake.storage.store import LoadedTable, Store

SCHEMA = [{"name": "x", "kind": "int", "nullable": False}]


def versions(values: np.ndarray, *, version: int, upload_id: str) -> list[LoadedTable]:
    """The three nodes' loaded pairs of one table version."""
    shares = share_arith(values.astype(np.uint64))
    out = []
    for i in range(3):
        meta = {
            "name": "people",
            "upload_id": upload_id,
            "version": version,
            "rows": len(values),
            "schema": SCHEMA,
        }
        out.append(LoadedTable(meta, {"x": {"values": shares[i]}}, public_ones(i, len(values))))
    return out


def run_check(per_node: list[LoadedTable]) -> list[Any]:
    def body(p: Party, table: LoadedTable) -> str:
        try:
            check_tables(p.chan, {"people": table})
        except DataInconsistencyError as exc:
            return f"{exc.table}|{list(exc.nodes)}|{exc}"
        return "ok"

    return run_in_memory(body, [{"table": t} for t in per_node])


def test_three_nodes_holding_the_same_version_pass_the_check() -> None:
    assert run_check(versions(np.arange(10), version=2, upload_id="u2")) == ["ok"] * 3


def test_a_node_on_an_older_version_is_named_by_every_node() -> None:
    new = versions(np.arange(50), version=2, upload_id="u2")
    old = versions(np.arange(3), version=1, upload_id="u1")
    got = run_check([new[0], new[1], old[2]])
    for answer in got:
        table, nodes, message = answer.split("|", 2)
        assert table == "people" and nodes == "[2]"
        assert "P0 and P1 have version 2 (50 rows)" in message
        assert "P2 has version 1 (3 rows)" in message


def test_different_shares_under_the_same_version_are_refused_naming_the_pair() -> None:
    good = versions(np.arange(8), version=1, upload_id="u1")
    other = versions(np.arange(8) + 1, version=1, upload_id="u1")
    got = run_check([good[0], good[1], other[2]])
    assert all(g != "ok" for g in got)
    assert "the shares held by P0 and P2 differ" in got[0]
    assert "P2" in got[1] and "P1" in got[1]


def test_the_error_names_no_value() -> None:
    new = versions(np.array([123456789, 987654321]), version=2, upload_id="u2")
    old = versions(np.array([555555555]), version=1, upload_id="u1")
    got = run_check([new[0], old[1], new[2]])
    for answer in got:
        assert "123456789" not in answer and "555555555" not in answer


def test_a_table_missing_component_digests_in_its_meta_is_hashed_from_its_shares() -> None:
    tables = versions(np.arange(5), version=1, upload_id="u1")
    assert all("component_digests" not in t.meta for t in tables)
    assert run_check(tables) == ["ok"] * 3


@pytest.mark.parametrize("bad", [0, 1, 2])
def test_whichever_node_lags_the_error_names_it(bad: int) -> None:
    new = versions(np.arange(6), version=3, upload_id="u3")
    old = versions(np.arange(6), version=2, upload_id="u2")
    per_node = [old[i] if i == bad else new[i] for i in range(3)]
    assert all(g.split("|")[1] == f"[{bad}]" for g in run_check(per_node))


def test_digests_kept_at_upload_equal_those_hashed_from_the_loaded_shares(tmp_path: Path) -> None:
    pair = share_arith(np.arange(7, dtype=np.uint64))[1]
    with Store(tmp_path) as store:
        store.prepare_upload(
            "u1", "people", "ngo_a", SCHEMA, {}, 7, {"x": {"values": pair}}, valid=public_ones(1, 7)
        )
        store.commit_upload("u1")
        loaded = store.load_table("people")
    assert "component_digests" in loaded.meta
    kept = table_digest(loaded)
    meta = {k: v for k, v in loaded.meta.items() if k != "component_digests"}
    hashed = table_digest(LoadedTable(meta, loaded.columns, loaded.valid))
    assert (kept.first, kept.second) == (hashed.first, hashed.second)

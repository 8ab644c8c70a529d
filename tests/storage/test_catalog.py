"""The SQLite catalog: durable settings, migrations, and upload/table state transitions."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from sharelake.storage.catalog import (
    MIGRATIONS,
    Catalog,
    CatalogError,
    TableNotFoundError,
    TableOwnerError,
    UploadStateError,
)

LAYOUT = {"columns": [], "valid": {"file": "_valid.slsb", "shape": [3]}}


def _prepare(cat: Catalog, upload_id: str, table: str = "t", owner: str = "ngo_a") -> None:
    cat.put_prepared(
        upload_id=upload_id,
        table=table,
        owner=owner,
        digest="d-" + upload_id,
        rows=3,
        schema=[{"name": "x", "kind": "int"}],
        policy={"x": "aggregate"},
        layout=LAYOUT,
    )


def test_the_catalog_runs_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "c.sqlite")
    assert cat.pragma("journal_mode") == "wal"
    assert cat.pragma("synchronous") == 2  # FULL
    assert stat.S_IMODE((tmp_path / "c.sqlite").stat().st_mode) == 0o600
    cat.close()


def test_migrations_are_recorded_and_not_rerun_on_reopen(tmp_path: Path) -> None:
    Catalog(tmp_path / "c.sqlite").close()
    cat = Catalog(tmp_path / "c.sqlite")
    assert cat.schema_version() == MIGRATIONS[-1][0]
    cat.close()


def test_a_catalog_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    Catalog(tmp_path / "c.sqlite").close()
    with sqlite3.connect(tmp_path / "c.sqlite") as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, 0)")
    conn.close()
    with pytest.raises(CatalogError, match="schema version 999"):
        Catalog(tmp_path / "c.sqlite")


def test_a_committed_upload_becomes_version_one_and_its_commit_is_idempotent(
    tmp_path: Path,
) -> None:
    cat = Catalog(tmp_path / "c.sqlite")
    _prepare(cat, "u1")
    assert cat.get_table("t") is None
    assert cat.commit("u1") == (1, None)
    assert cat.commit("u1") == (1, None)
    rec = cat.get_table("t")
    assert rec is not None
    assert (rec.version, rec.upload_id, rec.rows, rec.owner) == (1, "u1", 3, "ngo_a")
    assert rec.policy == {"x": "aggregate"}
    cat.close()


def test_a_reupload_by_the_owner_is_the_next_version_and_names_the_previous(
    tmp_path: Path,
) -> None:
    cat = Catalog(tmp_path / "c.sqlite")
    _prepare(cat, "u1")
    cat.commit("u1")
    _prepare(cat, "u2")
    assert cat.commit("u2") == (2, "u1")
    cat.close()


def test_another_member_cannot_replace_a_table(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "c.sqlite")
    _prepare(cat, "u1")
    cat.commit("u1")
    _prepare(cat, "u2", owner="police")
    with pytest.raises(TableOwnerError, match="'t'"):
        cat.commit("u2")
    upload = cat.get_upload("u2")
    assert upload is not None and upload.state == "prepared"
    cat.close()


def test_versions_keep_increasing_after_a_drop(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "c.sqlite")
    _prepare(cat, "u1")
    cat.commit("u1")
    assert cat.delete_table("t").upload_id == "u1"
    _prepare(cat, "u2")
    assert cat.commit("u2")[0] == 2
    with pytest.raises(TableNotFoundError):
        cat.delete_table("nope")
    cat.close()


def test_aborted_uploads_cannot_commit_but_may_be_prepared_again(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "c.sqlite")
    _prepare(cat, "u1")
    cat.set_aborted("u1")
    with pytest.raises(UploadStateError, match="aborted"):
        cat.commit("u1")
    _prepare(cat, "u1")
    assert cat.commit("u1")[0] == 1
    with pytest.raises(UploadStateError, match="committed"):
        cat.set_aborted("u1")
    with pytest.raises(UploadStateError, match="already committed"):
        _prepare(cat, "u1")
    with pytest.raises(UploadStateError, match="unknown"):
        cat.commit("nope")
    cat.close()


def test_concurrent_commits_from_threads_give_distinct_versions(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "c.sqlite")
    for i in range(8):
        _prepare(cat, f"u{i}")
    got: list[int] = []
    threads = [
        threading.Thread(target=lambda i=i: got.append(cat.commit(f"u{i}")[0])) for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 9))
    cat.close()

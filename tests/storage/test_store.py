"""The node's store: two-phase uploads, verified loads, drop, restart, crash recovery, fsck."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sharelake.errors import InputValidationError
from sharelake.mpc.shares import AShare
from sharelake.storage.catalog import TableNotFoundError, TableOwnerError, UploadStateError
from sharelake.storage.shares import ShareIntegrityError
from sharelake.storage.store import Store

SCHEMA = [{"name": "age", "kind": "int"}, {"name": "city", "kind": "string", "max_len": 16}]
POLICY = {"columns": {"age": "aggregate", "city": "group"}, "k": 5}


def _pair(n: int, seed: int, width: int | None = None) -> AShare:
    rng = np.random.default_rng(seed)
    shape = (n,) if width is None else (n, width)
    return AShare(
        rng.integers(0, 2**64, shape, dtype=np.uint64),
        rng.integers(0, 2**64, shape, dtype=np.uint64),
    )


def _payload(n: int = 10, seed: int = 0) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "policy": POLICY,
        "rows": n,
        "columns": {
            "age": {"values": _pair(n, seed + 1), "null": _pair(n, seed + 2)},
            "city": {"values": _pair(n, seed + 3), "text": _pair(n, seed + 4, 2)},
        },
        "valid": _pair(n, seed + 5),
    }


def _upload(
    store: Store, upload_id: str, table: str = "cases", owner: str = "ngo_a", **kw: Any
) -> int:
    store.prepare_upload(upload_id, table, owner, **(_payload() | kw))
    return store.commit_upload(upload_id)


def _assert_same(a: AShare, b: AShare) -> None:
    np.testing.assert_array_equal(a.a, b.a)
    np.testing.assert_array_equal(a.b, b.b)


def _column_file(store: Store, table: str, column: str) -> Path:
    rec = store.catalog.get_table(table)
    assert rec is not None
    entry = next(c for c in rec.layout["columns"] if c["column"] == column)
    return store.tables / table / rec.upload_id / entry["file"]


def test_a_table_round_trips_through_upload_and_load(tmp_path: Path) -> None:
    data = _payload(25)
    with Store(tmp_path) as store:
        digest = store.prepare_upload("u1", "cases", "ngo_a", **data)
        assert store.list_tables() == []  # prepared is not visible
        assert store.commit_upload("u1") == 1
        meta, cols, valid = store.load_table("cases")
    assert (meta["name"], meta["owner"], meta["rows"], meta["version"]) == ("cases", "ngo_a", 25, 1)
    assert meta["schema"] == SCHEMA and meta["policy"] == POLICY and meta["digest"] == digest
    assert list(cols) == ["age", "city"]
    for name, parts in data["columns"].items():
        assert sorted(cols[name]) == sorted(parts)
        for part, pair in parts.items():
            _assert_same(cols[name][part], pair)
    _assert_same(valid, data["valid"])


def test_a_projection_loads_only_the_named_columns(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        _upload(store, "u1")
        (tmp_path / "tables/cases/u1/c0.slsb").unlink()  # "age" is not needed
        assert list(store.load_table("cases", ["city"]).columns) == ["city"]
        with pytest.raises(InputValidationError, match="'nope'"):
            store.load_table("cases", ["nope"])


def test_a_flipped_byte_in_a_share_file_is_named_at_load(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        _upload(store, "u1")
        path = _column_file(store, "cases", "city")
        raw = bytearray(path.read_bytes())
        raw[-40] ^= 0x80
        path.write_bytes(bytes(raw))
        with pytest.raises(ShareIntegrityError, match=r"table 'cases', column 'city'") as err:
            store.load_table("cases")
        assert (err.value.table, err.value.column) == ("cases", "city")
        assert [p.kind for p in store.fsck()] == ["corrupt_share"]


def test_a_deleted_share_file_is_named_at_load(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        _upload(store, "u1")
        _column_file(store, "cases", "age").unlink()
        with pytest.raises(ShareIntegrityError, match=r"column 'age'.*missing"):
            store.load_table("cases")


def test_a_temp_file_left_by_a_crash_before_rename_does_not_break_load(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        _upload(store, "u1")
        real = _column_file(store, "cases", "age")
        torn = real.with_name(f".{real.name}.deadbeef.tmp")
        torn.write_bytes(real.read_bytes()[:50])  # a half-written replacement
        assert store.load_table("cases").meta["rows"] == 10
        problems = store.fsck()
        assert [(p.kind, p.repaired) for p in problems] == [("temp_file", False)]
        assert torn.name in problems[0].path
        assert [p.kind for p in store.fsck(repair=True)] == ["temp_file"]
        assert not torn.exists()
        assert store.fsck() == []


def test_a_crash_in_the_middle_of_prepare_leaves_nothing_visible_and_the_retry_works(
    tmp_path: Path,
) -> None:
    with Store(tmp_path) as store:
        half = store.staging / ".u1.0123456789ab.tmp"
        half.mkdir()
        (half / "c0.slsb").write_bytes(b"partial")
        (store.staging / "u9").mkdir()  # renamed, but the catalog row was never written
    with Store(tmp_path) as store:
        assert store.list_tables() == []
        assert [p.kind for p in store.recovered] == ["temp_file"]  # removed at open
        assert not half.exists()
        assert sorted(p.kind for p in store.fsck()) == ["orphan_staging"]
        assert _upload(store, "u1") == 1
        store.fsck(repair=True)
        assert store.fsck() == []
        assert sorted(os.listdir(store.staging)) == []


def test_commit_is_idempotent(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        assert _upload(store, "u1") == 1
        assert store.commit_upload("u1") == 1
        assert store.prepare_upload("u1", "cases", "ngo_a", **_payload()) != ""
        assert store.commit_upload("u1") == 1
        assert store.table_info("cases")["version"] == 1


def test_preparing_the_same_upload_twice_returns_the_same_digest(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        first = store.prepare_upload("u1", "cases", "ngo_a", **_payload())
        assert store.prepare_upload("u1", "cases", "ngo_a", **_payload()) == first
        assert store.commit_upload("u1") == 1


def test_a_different_payload_for_a_used_upload_id_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.prepare_upload("u1", "cases", "ngo_a", **_payload(seed=0))
        with pytest.raises(UploadStateError, match=r"'u1'.*different payload"):
            store.prepare_upload("u1", "cases", "ngo_a", **_payload(seed=1))
        with pytest.raises(UploadStateError, match="different payload"):
            store.prepare_upload("u1", "other", "ngo_a", **_payload(seed=0))
        store.commit_upload("u1")
        with pytest.raises(UploadStateError, match="committed with a different payload"):
            store.prepare_upload("u1", "cases", "ngo_a", **_payload(seed=1))


def test_a_retry_after_a_crash_between_prepare_and_commit_commits(tmp_path: Path) -> None:
    store = Store(tmp_path)
    digest = store.prepare_upload("u1", "cases", "ngo_a", **_payload())
    store.close()  # the process dies here; nothing below runs in it
    with Store(tmp_path) as store:
        assert store.list_tables() == []
        upload = store.upload("u1")
        assert upload is not None and upload.state == "prepared"
        assert store.prepare_upload("u1", "cases", "ngo_a", **_payload()) == digest
        assert store.commit_upload("u1") == 1
        assert store.load_table("cases").meta["digest"] == digest


def test_a_crash_after_the_rename_but_before_the_catalog_commit_is_completed_on_open(
    tmp_path: Path,
) -> None:
    with Store(tmp_path) as store:
        store.prepare_upload("u1", "cases", "ngo_a", **_payload())
        (store.tables / "cases").mkdir()
        os.rename(store.staging / "u1", store.tables / "cases" / "u1")  # then the crash
    with Store(tmp_path) as store:
        assert [(p.kind, p.repaired) for p in store.recovered] == [("unfinished_commit", True)]
        assert store.table_info("cases")["version"] == 1
        assert store.commit_upload("u1") == 1
        _assert_same(store.load_table("cases").valid, _payload()["valid"])
        assert store.fsck() == []


def test_an_interrupted_commit_whose_files_do_not_verify_is_aborted_on_open(
    tmp_path: Path,
) -> None:
    with Store(tmp_path) as store:
        store.prepare_upload("u1", "cases", "ngo_a", **_payload())
        (store.tables / "cases").mkdir()
        os.rename(store.staging / "u1", store.tables / "cases" / "u1")
        (store.tables / "cases" / "u1" / "c1.slsb").write_bytes(b"garbage")
    with Store(tmp_path) as store:
        assert "column 'city'" in store.recovered[0].detail
        with pytest.raises(TableNotFoundError):
            store.load_table("cases")
        upload = store.upload("u1")
        assert upload is not None and upload.state == "aborted"


def test_a_staged_upload_exposes_every_component_in_a_fixed_order(tmp_path: Path) -> None:
    data = _payload()
    with Store(tmp_path) as store:
        store.prepare_upload("u1", "cases", "ngo_a", **data)
        got = store.staged_components("u1")
        assert list(got) == ["age.null", "age.values", "city.text", "city.values", "_valid"]
        _assert_same(got["city.text"], data["columns"]["city"]["text"])
        store.commit_upload("u1")
        assert list(store.staged_components("u1")) == list(got)  # a repeated commit request


def test_an_aborted_upload_leaves_no_files_and_cannot_commit(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.prepare_upload("u1", "cases", "ngo_a", **_payload())
        store.abort_upload("u1")
        store.abort_upload("u1")
        assert os.listdir(store.staging) == []
        with pytest.raises(UploadStateError, match="aborted"):
            store.commit_upload("u1")
        with pytest.raises(UploadStateError, match="aborted"):
            store.staged_components("u1")
        assert _upload(store, "u1") == 1  # an aborted id may be prepared again


def test_a_reupload_by_the_owner_is_a_new_version_and_the_old_files_go(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        _upload(store, "u1")
        assert _upload(store, "u2", **_payload(n=4, seed=7)) == 2
        loaded = store.load_table("cases")
        assert (loaded.meta["version"], loaded.meta["rows"]) == (2, 4)
        _assert_same(loaded.valid, _payload(n=4, seed=7)["valid"])
        assert os.listdir(store.tables / "cases") == ["u2"]
        assert store.fsck() == []


def test_another_member_cannot_replace_a_table(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        _upload(store, "u1")
        with pytest.raises(TableOwnerError, match="'cases'"):
            _upload(store, "u2", owner="police")
        assert store.table_info("cases")["owner"] == "ngo_a"


def test_drop_removes_the_catalog_row_and_the_files(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        _upload(store, "u1")
        _upload(store, "v1", table="other")
        with pytest.raises(TableOwnerError):
            store.drop_table("cases", owner="police")
        store.drop_table("cases", owner="ngo_a")
        assert not (store.tables / "cases").exists()
        assert [t["name"] for t in store.list_tables()] == ["other"]
        with pytest.raises(TableNotFoundError, match="'cases'"):
            store.load_table("cases")
        with pytest.raises(TableNotFoundError):
            store.drop_table("cases")
        assert store.fsck() == []


def test_files_of_a_drop_that_crashed_after_the_catalog_are_cleaned_by_fsck(
    tmp_path: Path,
) -> None:
    with Store(tmp_path) as store:
        _upload(store, "u1")
        store.catalog.delete_table("cases")  # the crash comes before the files are removed
        assert [p.kind for p in store.fsck(repair=True)] == ["unreferenced_files"]
        assert os.listdir(store.tables) == []


def test_a_restart_keeps_every_table(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        for i, name in enumerate(["a", "b", "c"]):
            store.prepare_upload(f"u{i}", name, "ngo_a", **_payload(seed=i))
            store.commit_upload(f"u{i}")
    with Store(tmp_path) as store:
        assert [t["name"] for t in store.list_tables()] == ["a", "b", "c"]
        for i, name in enumerate(["a", "b", "c"]):
            _assert_same(store.load_table(name).valid, _payload(seed=i)["valid"])
        assert store.recovered == [] and store.fsck() == []


def test_the_catalog_of_a_store_is_in_wal_mode(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        assert store.catalog.pragma("journal_mode") == "wal"


def test_an_empty_table_round_trips(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        _upload(store, "u1", **_payload(n=0))
        loaded = store.load_table("cases")
        assert loaded.valid.shape == (0,) and loaded.columns["city"]["text"].shape == (0, 2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rows": 11}, "11 rows"),
        ({"schema": [{"name": "age"}]}, "schema"),
        ({"valid": AShare(np.zeros(3, np.uint64), np.zeros(3, np.uint64))}, "validity"),
    ],
)
def test_malformed_uploads_are_refused_before_anything_is_written(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    with Store(tmp_path) as store:
        with pytest.raises(InputValidationError, match=message):
            store.prepare_upload("u1", "cases", "ngo_a", **(_payload() | change))
        assert store.upload("u1") is None and os.listdir(store.staging) == []


def test_unsafe_names_are_refused(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        for table, upload_id in [("../x", "u1"), ("t", "a/b"), ("", "u1"), ("t", ".u")]:
            with pytest.raises(InputValidationError):
                store.prepare_upload(upload_id, table, "ngo_a", **_payload())


def test_a_commit_after_the_staged_files_vanished_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.prepare_upload("u1", "cases", "ngo_a", **_payload())
        shutil.rmtree(store.staging / "u1")
        assert [p.kind for p in store.fsck()] == ["missing_staging"]
        with pytest.raises(UploadStateError, match="missing"):
            store.commit_upload("u1")


def test_loads_running_while_new_versions_commit_always_see_a_whole_version(
    tmp_path: Path,
) -> None:
    with Store(tmp_path) as store:
        _upload(store, "u0", **_payload(n=3, seed=0))
        errors: list[BaseException] = []
        done = threading.Event()

        def reader() -> None:
            while not done.is_set():
                try:
                    loaded = store.load_table("cases")
                    assert loaded.valid.shape == (loaded.meta["rows"],)
                except BaseException as exc:  # reported to the main thread
                    errors.append(exc)
                    return

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for t in threads:
            t.start()
        for i in range(1, 15):
            _upload(store, f"u{i}", **_payload(n=3 + i, seed=i))
        done.set()
        for t in threads:
            t.join()
        assert errors == []
        assert store.table_info("cases")["version"] == 15
        assert store.fsck() == []


def test_a_prepared_upload_keeps_the_digest_of_every_component_for_the_commit_check(
    tmp_path: Path,
) -> None:
    import hashlib

    with Store(tmp_path) as store:
        store.prepare_upload("u1", "cases", "ngo_a", **_payload())
        pairs = store.staged_components("u1")
        digests = store.staged_digests("u1")
        assert list(digests) == list(pairs)
        for key, pair in pairs.items():
            want = (hashlib.sha256(pair.a.data).digest(), hashlib.sha256(pair.b.data).digest())
            assert digests[key] == want
        store.commit_upload("u1")
        loaded = store.load_table("cases")
        assert len(loaded.meta["component_digests"]) == 2


def test_stale_staging_of_an_interrupted_prepare_is_removed_when_the_store_opens(
    tmp_path: Path,
) -> None:
    with Store(tmp_path) as store:
        _upload(store, "u1")
        stale = store.staging / ".u2.0123456789ab.tmp"
        stale.mkdir()
        (stale / "c0.slsb").write_bytes(b"half a file")
        torn = store.tables / "cases" / "u1" / ".c0.slsb.0123456789ab.tmp"
        torn.write_bytes(b"torn")
    with Store(tmp_path) as store:
        assert sorted((p.kind, p.repaired) for p in store.recovered) == [
            ("temp_file", True),
            ("temp_file", True),
        ]
        assert not stale.exists() and not torn.exists()
        assert store.fsck() == []
        assert store.table_info("cases")["version"] == 1

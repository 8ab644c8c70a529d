"""Erasure inside MPC against its plaintext twin, and destruction of share files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sharelake.engine.erase import erase_rows
from sharelake.harness.runner import run_parties
from sharelake.mpc.shares import AShare
from sharelake.relational.compact import reveal
from sharelake.relational.encode import decode_column, encode_frame, share_table
from sharelake.relational.table import ColumnSpec
from sharelake.storage.shred import shred_file, shred_tree
from sharelake.storage.store import Store

SPECS = [
    ColumnSpec("record_id", "string", nullable=False, max_len=12),
    ColumnSpec("age", "int", nullable=True),
    ColumnSpec("n", "int", nullable=False),
]


def _body(p, t, ids):  # type: ignore[no-untyped-def]
    return reveal(p, erase_rows(p, t, ids, column="record_id"))


def _erase_plain(df: pd.DataFrame, ids: list[str | None]) -> pd.DataFrame:
    return df[~df["record_id"].isin([i for i in ids if i is not None])].reset_index(drop=True)


def _run(df: pd.DataFrame, ids: list[str | None]) -> dict[str, list[object]]:
    t = share_table(encode_frame(df, SPECS))
    idf = pd.DataFrame({"record_id": pd.Series(ids, dtype=object)})
    spec = ColumnSpec("record_id", "string", nullable=True, max_len=12)
    i = share_table(encode_frame(idf, [spec]))
    out = run_parties(_body, [{"t": t[k], "ids": i[k]} for k in range(3)])[0]
    age = decode_column(SPECS[1], out["age"], out.get("age.null"))
    return {"age": _plain(age), "n": decode_column(SPECS[2], out["n"], None).tolist()}


def _plain(s: pd.Series) -> list[object]:  # type: ignore[type-arg]
    return [None if pd.isna(v) else int(v) for v in s.tolist()]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_erasure_in_mpc_keeps_exactly_the_rows_pandas_keeps_in_their_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 40))
    ids = [f"R-{int(x):03d}" for x in rng.integers(0, 25, n)]  # duplicate ids on purpose
    df = pd.DataFrame(
        {
            "record_id": ids,
            "age": pd.array(
                [None if x < 3 else int(x) for x in rng.integers(0, 90, n)], dtype="Int64"
            ),
            "n": np.arange(n),
        }
    )
    erase = [*rng.choice(sorted(set(ids)), size=3, replace=False).tolist(), "R-999", None, None]
    got = _run(df, erase)  # over TLS between real nodes: tests/privacy/test_privacy_nodes.py
    want = _erase_plain(df, erase)
    assert got["n"] == want["n"].tolist()
    assert got["age"] == _plain(want["age"])


def test_erasing_ids_that_match_nothing_or_every_row_works() -> None:
    df = pd.DataFrame({"record_id": ["a", "b"], "age": [1, 2], "n": [0, 1]})
    assert _run(df, ["zz", None])["n"] == [0, 1]
    assert _run(df, ["a", "b", None, None])["n"] == []


def test_a_shredded_file_is_overwritten_before_it_is_unlinked(tmp_path: Path) -> None:
    f = tmp_path / "c0.slsb"
    secret = b"share bytes of a person " * 1000
    f.write_bytes(secret)
    other = tmp_path / "hardlink"
    os.link(f, other)  # the same inode under a second name sees what shred did to it
    writes: list[bytes] = []
    real = os.pwrite

    def spy(fd: int, data: bytes, offset: int) -> int:
        writes.append(bytes(data))
        return real(fd, data, offset)

    os.pwrite = spy  # type: ignore[assignment]
    try:
        shred_file(f)
    finally:
        os.pwrite = real  # type: ignore[assignment]
    assert not f.exists()
    assert sum(len(w) for w in writes) == len(secret) and secret not in b"".join(writes)
    assert secret[:64] not in other.read_bytes()


def test_shred_tree_destroys_every_file_below_and_never_follows_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep me")
    d = tmp_path / "t" / "u1"
    d.mkdir(parents=True)
    (d / "c0.slsb").write_bytes(b"x" * 100)
    (d / "sub").mkdir()
    (d / "sub" / "c1.slsb").write_bytes(b"y" * 10)
    (d / "link").symlink_to(outside)
    assert shred_tree(tmp_path / "t") == 2
    assert not (tmp_path / "t").exists()
    assert outside.read_bytes() == b"keep me"


def _scan(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_a_destroyed_table_leaves_no_file_and_no_upload_id_in_the_data_directory(
    tmp_path: Path,
) -> None:
    z = np.arange(4, dtype=np.uint64)
    with Store(tmp_path / "data") as s:
        s.prepare_upload(
            "upload-old-7f3a",
            "t",
            "ngo",
            [{"name": "x"}],
            {},
            4,
            {"x": {"values": AShare(z, z + 1)}},
            valid=AShare(z, z),
        )
        s.commit_upload("upload-old-7f3a")
        s.prepare_upload(
            "upload-new-9c1b",
            "t",
            "ngo",
            [{"name": "x"}],
            {},
            4,
            {"x": {"values": AShare(z, z + 2)}},
            valid=AShare(z, z),
        )
        s.commit_upload("upload-new-9c1b")
        s.destroy_version("t", "upload-old-7f3a")
        assert s.table_info("t")["version"] == 2
        s.destroy_table("t")
        assert s.list_tables() == []
        s.catalog.truncate_wal()
        for uid in (b"upload-old-7f3a", b"upload-new-9c1b"):
            assert _scan(tmp_path / "data", uid) == []
        # versions never repeat: a new upload of the name does not meet old bindings
        s.prepare_upload(
            "upload-3",
            "t",
            "ngo",
            [{"name": "x"}],
            {},
            4,
            {"x": {"values": AShare(z, z)}},
            valid=AShare(z, z),
        )
        assert s.commit_upload("upload-3") == 3

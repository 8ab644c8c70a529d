"""Share files are written atomically with private permissions and verified at load."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest

from sharelake.errors import InputValidationError
from sharelake.mpc.shares import AShare
from sharelake.storage.shares import (
    ShareIntegrityError,
    columns_from_arrays,
    columns_to_arrays,
    read_column,
    read_valid,
    write_atomic,
    write_table_files,
)


def _pair(n: int, seed: int, *, width: int | None = None) -> AShare:
    rng = np.random.default_rng(seed)
    shape = (n,) if width is None else (n, width)
    return AShare(
        rng.integers(0, 2**64, shape, dtype=np.uint64),
        rng.integers(0, 2**64, shape, dtype=np.uint64),
    )


def _columns(n: int) -> dict[str, dict[str, AShare]]:
    return {
        "age": {"values": _pair(n, 1), "null": _pair(n, 2)},
        "name": {"values": _pair(n, 3), "text": _pair(n, 4, width=3)},
    }


def test_written_files_read_back_equal_and_are_private(tmp_path: Path) -> None:
    cols = _columns(7)
    layout = write_table_files(
        tmp_path / "v", table="cases", upload_id="u1", columns=cols, valid=_pair(7, 5)
    )
    for entry in layout["columns"]:
        got = read_column(tmp_path / "v", entry, table="cases", upload_id="u1")
        for part, pair in cols[entry["column"]].items():
            np.testing.assert_array_equal(got[part].a, pair.a)
            np.testing.assert_array_equal(got[part].b, pair.b)
    valid = read_valid(tmp_path / "v", layout["valid"], table="cases", upload_id="u1")
    np.testing.assert_array_equal(valid.a, _pair(7, 5).a)
    for path in (tmp_path / "v").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in (tmp_path / "v").iterdir() if p.name.endswith(".tmp")]


def test_loaded_shares_are_writable_arrays(tmp_path: Path) -> None:
    layout = write_table_files(
        tmp_path, table="t", upload_id="u", columns=_columns(3), valid=_pair(3, 0)
    )
    got = read_column(tmp_path, layout["columns"][0], table="t", upload_id="u")
    got["values"].a[0] = 1  # in-place protocol code must not hit a read-only buffer


def test_an_atomic_write_replaces_the_whole_file(tmp_path: Path) -> None:
    write_atomic(tmp_path / "f", b"old contents")
    write_atomic(tmp_path / "f", b"new")
    assert (tmp_path / "f").read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_a_flipped_byte_is_reported_with_table_and_column(tmp_path: Path) -> None:
    layout = write_table_files(
        tmp_path, table="cases", upload_id="u1", columns=_columns(5), valid=_pair(5, 0)
    )
    entry = layout["columns"][1]
    path = tmp_path / entry["file"]
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(ShareIntegrityError, match=r"table 'cases', column 'name'.*checksum"):
        read_column(tmp_path, entry, table="cases", upload_id="u1")


def test_a_shape_other_than_the_catalogs_is_refused(tmp_path: Path) -> None:
    layout = write_table_files(
        tmp_path, table="cases", upload_id="u1", columns=_columns(5), valid=_pair(5, 0)
    )
    entry = dict(layout["columns"][0])
    entry["parts"] = {"values": [6], "null": [5]}
    with pytest.raises(ShareIntegrityError, match=r"column 'age'.*shape"):
        read_column(tmp_path, entry, table="cases", upload_id="u1")
    entry["parts"] = {"values": [5]}
    with pytest.raises(ShareIntegrityError, match=r"column 'age'.*other parts"):
        read_column(tmp_path, entry, table="cases", upload_id="u1")


def test_a_file_of_another_upload_or_table_is_refused(tmp_path: Path) -> None:
    layout = write_table_files(
        tmp_path, table="cases", upload_id="u1", columns=_columns(2), valid=_pair(2, 0)
    )
    with pytest.raises(ShareIntegrityError, match="another upload_id"):
        read_column(tmp_path, layout["columns"][0], table="cases", upload_id="u2")
    with pytest.raises(ShareIntegrityError, match="another table"):
        read_valid(tmp_path, layout["valid"], table="other", upload_id="u1")


def test_a_missing_file_is_reported_with_table_and_column(tmp_path: Path) -> None:
    layout = write_table_files(
        tmp_path, table="cases", upload_id="u1", columns=_columns(2), valid=_pair(2, 0)
    )
    (tmp_path / layout["columns"][0]["file"]).unlink()
    with pytest.raises(ShareIntegrityError, match=r"column 'age'.*missing"):
        read_column(tmp_path, layout["columns"][0], table="cases", upload_id="u1")


def test_wire_arrays_group_into_columns_and_back() -> None:
    cols = {"a.b": {"values": _pair(4, 1)}, "c": {"values": _pair(4, 2), "null": _pair(4, 3)}}
    flat = columns_to_arrays(cols)
    assert sorted(flat) == [
        "a.b.values.a",
        "a.b.values.b",
        "c.null.a",
        "c.null.b",
        "c.values.a",
        "c.values.b",
    ]
    back = columns_from_arrays(flat)
    assert list(back) == ["a.b", "c"]
    np.testing.assert_array_equal(back["c"]["null"].b, cols["c"]["null"].b)


def test_wire_arrays_with_half_a_pair_or_a_bad_name_are_refused() -> None:
    x = np.zeros(3, np.uint64)
    with pytest.raises(InputValidationError, match="both components"):
        columns_from_arrays({"c.values.a": x})
    with pytest.raises(InputValidationError, match="expected"):
        columns_from_arrays({"c.values": x})
    with pytest.raises(InputValidationError, match="uint64"):
        columns_from_arrays({"c.values.a": x.astype(np.int64), "c.values.b": x})

"""Share bundles round-trip and reject every kind of damage with a clear error."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharelake.storage.bundle import BundleError, decode_bundle, encode_bundle


def test_bundle_round_trips_metadata_and_arrays() -> None:
    arrays = {"a": np.arange(10, dtype=np.uint64), "t": np.zeros((3, 0), np.uint64)}
    raw = encode_bundle({"table": "cases", "n": 10}, arrays)
    meta, got = decode_bundle(raw)
    assert meta == {"table": "cases", "n": 10}
    np.testing.assert_array_equal(got["a"], arrays["a"])
    assert got["t"].shape == (3, 0)


def test_a_flipped_byte_is_detected_and_named() -> None:
    raw = bytearray(encode_bundle({}, {"a": np.arange(100, dtype=np.uint64)}))
    raw[60] ^= 0x10
    with pytest.raises(BundleError, match=r"cases\.age: checksum mismatch"):
        decode_bundle(bytes(raw), what="cases.age")


def test_a_truncated_bundle_is_refused() -> None:
    raw = encode_bundle({}, {"a": np.arange(100, dtype=np.uint64)})
    with pytest.raises(BundleError):
        decode_bundle(raw[:-40])


def test_other_dtypes_are_refused_at_encoding() -> None:
    with pytest.raises(BundleError, match="dtype"):
        encode_bundle({}, {"f": np.zeros(3)})


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_ever_raise_bundle_error(data: bytes) -> None:
    with contextlib.suppress(BundleError):
        decode_bundle(data)

"""Hypothesis fuzzing of the peer frame decoder: any bytes give frames or a ProtocolError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharelake.errors import ProtocolError
from sharelake.net.framing import (
    HEADER_SIZE,
    MAX_PAYLOAD,
    Kind,
    decode_frames,
    encode_frame,
    encode_header,
    parse_header,
)

SESSION = bytes(range(16))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=4 * HEADER_SIZE))
def test_random_bytes_decode_to_frames_or_a_protocol_error_never_anything_else(data: bytes) -> None:
    try:
        frames = decode_frames(data, session=SESSION)
    except ProtocolError:
        return
    assert sum(len(f) + HEADER_SIZE for f in frames) == len(data)


@settings(max_examples=400, deadline=None)
@given(
    payloads=st.lists(st.binary(max_size=64), max_size=5),
    flip=st.integers(0, 10_000),
    bit=st.integers(0, 7),
)
def test_a_flipped_bit_in_a_frame_stream_is_refused_or_changes_only_payload_bytes(
    payloads: list[bytes], flip: int, bit: int
) -> None:
    data = b"".join(encode_frame(SESSION, i, p) for i, p in enumerate(payloads))
    assert decode_frames(data, session=SESSION) == payloads
    if not data:
        return
    bad = bytearray(data)
    bad[flip % len(bad)] ^= 1 << bit
    try:
        got = decode_frames(bytes(bad), session=SESSION)
    except ProtocolError:
        return
    # only a payload byte can change without the header check noticing
    assert [len(g) for g in got] == [len(p) for p in payloads]


@settings(max_examples=300, deadline=None)
@given(
    kind=st.integers(0, 2**16 - 1),
    seq=st.integers(0, 2**64 - 1),
    length=st.integers(0, 2**64 - 1),
)
def test_a_header_announcing_any_length_is_parsed_without_allocating_it(
    kind: int, seq: int, length: int
) -> None:
    head = bytearray(encode_header(SESSION, seq, 0, Kind.DATA))
    head[6:8] = kind.to_bytes(2, "big")
    head[-8:] = length.to_bytes(8, "big")
    try:
        hdr = parse_header(bytes(head))
    except ProtocolError:
        assert kind > 2 or length > MAX_PAYLOAD
        return
    assert hdr.length == length <= MAX_PAYLOAD and hdr.seq == seq


@pytest.mark.parametrize("n", [0, 1, HEADER_SIZE - 1, HEADER_SIZE + 1])
def test_a_header_of_the_wrong_size_is_a_protocol_error(n: int) -> None:
    with pytest.raises(ProtocolError):
        parse_header(b"\0" * n)

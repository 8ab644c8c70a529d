"""Wire frames between two nodes: a fixed 40-byte header and a raw payload.

Header (network byte order)::

    magic    4 bytes  b"SLKF"
    version  uint16   1
    kind     uint16   0 data, 1 hello, 2 ack, 3 abort (payload: the failed check's name)
    session  16 bytes the query's session id
    seq      uint64   per-direction sequence number, from 0
    length   uint64   payload bytes that follow

A receiver always knows which session, sequence number and size it expects, so any
other value is a :class:`~sharelake.errors.ProtocolError` (never pickle, never a
length taken on trust).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from enum import IntEnum

from ..errors import ProtocolError, ProtocolVersionError

MAGIC = b"SLKF"
VERSION = 1
#: The node-to-node protocol version: in every frame header, so the hello of a peer
#: stream carries it; a node refuses a peer of another version naming both.
PROTOCOL_VERSION = VERSION
HEADER = struct.Struct("!4sHH16sQQ")
HEADER_SIZE = HEADER.size
SESSION_BYTES = 16
MAX_PAYLOAD = 1 << 36  # 64 GiB: anything larger is garbage, not a message


class Kind(IntEnum):
    """What a frame carries."""

    DATA = 0
    HELLO = 1
    ACK = 2
    ABORT = 3


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """A parsed header."""

    kind: Kind
    session: bytes
    seq: int
    length: int


def session_bytes(session: str | bytes) -> bytes:
    """The 16-byte wire form of a session id (32 hex digits as is, else a hash)."""
    if isinstance(session, bytes):
        if len(session) == SESSION_BYTES:
            return session
        return hashlib.sha256(session).digest()[:SESSION_BYTES]
    if len(session) == 2 * SESSION_BYTES:
        try:
            return bytes.fromhex(session)
        except ValueError:
            pass
    return hashlib.sha256(session.encode()).digest()[:SESSION_BYTES]


def encode_header(session: bytes, seq: int, length: int, kind: Kind = Kind.DATA) -> bytes:
    """The header of a frame with ``length`` payload bytes."""
    return HEADER.pack(MAGIC, VERSION, int(kind), session, seq, length)


def encode_frame(session: bytes, seq: int, payload: bytes, kind: Kind = Kind.DATA) -> bytes:
    """Header and payload as one byte string (small messages and tests)."""
    return encode_header(session, seq, len(payload), kind) + payload


def parse_header(buf: bytes | bytearray | memoryview) -> FrameHeader:
    """Parse a header; wrong size, magic, version or kind raises ProtocolError."""
    if len(buf) != HEADER_SIZE:
        raise ProtocolError(f"frame header has {len(buf)} bytes, expected {HEADER_SIZE}")
    magic, version, kind, session, seq, length = HEADER.unpack(buf)
    if magic != MAGIC:
        raise ProtocolError("frame has a wrong magic number (not a sharelake peer?)")
    if version != VERSION:
        raise ProtocolVersionError(
            f"the peer speaks sharelake protocol version {version}, this node speaks {VERSION}",
            theirs=int(version),
        )
    if kind not in Kind._value2member_map_:
        raise ProtocolError(f"frame has unknown kind {kind}")
    if length > MAX_PAYLOAD:
        raise ProtocolError(f"frame announces {length} payload bytes, over the limit")
    return FrameHeader(Kind(kind), bytes(session), int(seq), int(length))


def check_header(
    hdr: FrameHeader,
    *,
    session: bytes,
    seq: int,
    length: int | None = None,
    kind: Kind = Kind.DATA,
    peer: str = "peer",
) -> None:
    """Raise ProtocolError unless ``hdr`` is the frame the receiver expects."""
    if hdr.kind != kind:
        raise ProtocolError(f"{peer} sent a {hdr.kind.name} frame, expected {kind.name}")
    if hdr.session != session:
        raise ProtocolError(
            f"{peer} sent a frame of session {hdr.session.hex()}, expected {session.hex()}"
        )
    if hdr.seq != seq:
        raise ProtocolError(f"{peer} sent frame number {hdr.seq}, expected {seq}")
    if length is not None and hdr.length != length:
        raise ProtocolError(
            f"{peer} sent a message of {hdr.length} bytes, expected {length} "
            f"(session {session.hex()})"
        )


def decode_header(
    buf: bytes | bytearray | memoryview,
    *,
    session: bytes,
    seq: int,
    length: int | None = None,
    kind: Kind = Kind.DATA,
    peer: str = "peer",
) -> FrameHeader:
    """Parse and check a header in one step."""
    hdr = parse_header(buf)
    check_header(hdr, session=session, seq=seq, length=length, kind=kind, peer=peer)
    return hdr


def decode_frames(data: bytes, *, session: bytes, first_seq: int = 0) -> list[bytes]:
    """Split a byte string into the payloads of consecutive data frames.

    Raises ProtocolError on any malformed, foreign, out-of-order or truncated frame.
    """
    out: list[bytes] = []
    pos, seq = 0, first_seq
    view = memoryview(data)
    while pos < len(data):
        if len(data) - pos < HEADER_SIZE:
            raise ProtocolError("truncated frame header")
        hdr = decode_header(view[pos : pos + HEADER_SIZE], session=session, seq=seq)
        pos += HEADER_SIZE
        if len(data) - pos < hdr.length:
            raise ProtocolError("truncated frame payload")
        out.append(bytes(view[pos : pos + hdr.length]))
        pos += hdr.length
        seq += 1
    return out

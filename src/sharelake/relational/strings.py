"""Prefix and substring tests of secret strings: pandas' ``.str.startswith(const)`` and
``.str.contains(const, regex=False)``.

A ``string`` column keeps its UTF-8 bytes, zero-padded to the public ``max_len`` and
packed eight to a 64-bit word (:mod:`sharelake.relational.encode`), as an arithmetic
sharing. The words are converted to XOR sharings once (ABY3's bit decomposition,
Mohassel & Rindal CCS 2018 section 5.3: :func:`sharelake.mpc.convert.a2b`); every
window of ``len(const)`` bytes at a byte offset is then cut out of one or two words by
local shifts (at most 8 bytes per window word; a longer constant is split into chunks),
XORed with the public constant's bytes and tested for zero by an AND tree over its 64
bit positions (the bits outside the window are set to one), as private string matching
by bytewise equality circuits (e.g. the oblivious substring search of Pinkas et al.'s
circuit-based PSI line of work, here on replicated XOR shares). ``startswith`` tests
offset 0; ``contains`` ORs the tests of all ``max_len - len(const) + 1`` offsets by a
tree. The constant is public (it is part of the plan); which rows match stays secret.

Padding is zero and an uploaded string holds no NUL byte, so a window reaching past a
string's end never matches a non-empty constant; an empty constant matches every
present string (as pandas). Rounds: 8 (conversion) + 6 (zero tests) + log2 chunks +
log2 offsets + 2 (injection). Leakage: none.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..mpc.bits import BitShare, pack
from ..mpc.boolean import and_
from ..mpc.convert import a2b, b2a_bits
from ..mpc.party import Party
from ..mpc.shares import AShare, BShare

__all__ = ["StrTest", "match_plain", "match_text"]

StrTest = Literal["startswith", "contains"]
_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)


def _all_ones(p: Party, e: BShare) -> BShare:
    """Bit 0 of each word: the AND of its 64 bits (6 rounds, all words at once)."""
    for s in (32, 16, 8, 4, 2, 1):
        e = and_(p, e, e.shift_right(s))
    return e


def _and_rows(p: Party, x: BShare, k: int) -> BShare:
    """AND of k consecutive blocks (x has k * m words; bit 0 meaningful): m words."""
    while k > 1:
        m = len(x.a) // k
        h = k // 2
        lo, hi = x[: h * m], x[h * m : 2 * h * m]
        y = and_(p, lo, hi)
        x = BShare(np.concatenate([y.a, x.a[2 * h * m :]]), np.concatenate([y.b, x.b[2 * h * m :]]))
        k = h + (k - 2 * h)
    return x


def match_text(p: Party, text: AShare, max_len: int, pattern: bytes, test: StrTest) -> AShare:
    """1 where the string (packed words ``text``, shape (n, words)) starts with / contains
    ``pattern``, else 0, as an arithmetic sharing of n values."""
    n, words = text.a.shape
    size = len(pattern)
    if size == 0 or size > max_len:
        return p.public_a(np.full(n, int(size == 0), dtype=np.uint64))
    offsets = [0] if test == "startswith" else list(range(max_len - size + 1))
    bits = a2b(p, AShare(text.a.reshape(-1), text.b.reshape(-1)))
    wa, wb = bits.a.reshape(n, words), bits.b.reshape(n, words)
    chunks = [(c, pattern[c : c + 8]) for c in range(0, size, 8)]
    parts_a, parts_b = [], []
    consts = []
    for c, piece in chunks:  # chunk-major, then offset, then row
        k = len(piece)
        mask = np.uint64((1 << (8 * k)) - 1) if k < 8 else _ONES
        want = np.uint64(int.from_bytes(piece, "little"))
        for o in offsets:
            g = o + c
            wi, s = g // 8, 8 * (g % 8)
            a = wa[:, wi] >> np.uint64(s)
            b = wb[:, wi] >> np.uint64(s)
            if s and wi + 1 < words:
                a = a | (wa[:, wi + 1] << np.uint64(64 - s))
                b = b | (wb[:, wi + 1] << np.uint64(64 - s))
            parts_a.append(a & mask)
            parts_b.append(b & mask)
            consts.append(np.full(n, want, dtype=np.uint64))
    d = BShare(np.concatenate(parts_a), np.concatenate(parts_b))
    # NOT(window ^ pattern) inside the window; outside it the window is 0 and the
    # pattern word 0, so the bits become ones: all ones iff the bytes agree
    same = d.xor_public(np.concatenate(consts) ^ _ONES, p.id)
    hit = _and_rows(p, _all_ones(p, same), len(chunks))  # per (offset, row)
    # OR over the offsets: NOT AND of NOT
    miss = _and_rows(p, hit.invert(p.id), len(offsets)).invert(p.id)
    one = np.uint64(1)
    bit = BitShare(pack((miss.a & one).astype(bool)), pack((miss.b & one).astype(bool)), n)
    return b2a_bits(p, bit)


def match_plain(values: list[str | None], pattern: str, test: StrTest) -> list[bool | None]:
    """The plaintext twin: pandas' semantics on present values (None stays None)."""
    out: list[bool | None] = []
    for v in values:
        if v is None:
            out.append(None)
        elif test == "startswith":
            out.append(v.startswith(pattern))
        else:
            out.append(pattern in v)
    return out

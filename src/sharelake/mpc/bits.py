"""Packed secret bit vectors: n XOR-shared bits in ceil(n / 64) words.

Element e sits at word e // 64, bit e % 64 (little-endian bit order), the layout the
bit-plane transpose of :mod:`sharelake.mpc.boolean` produces. Bits past n in the last
word ("padding") carry no meaning: operations may set them and every reader ignores them.
Boolean replicated sharing and its AND gate: Araki et al. (CCS 2016).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .arith import open_bool
from .boolean import and_many
from .party import Party
from .ring import Arr
from .shares import BShare

Bools = npt.NDArray[np.bool_]
ONES = np.uint64(0xFFFFFFFFFFFFFFFF)


def nwords(n: int) -> int:
    """Words needed for ``n`` packed bits."""
    return (n + 63) // 64


def pack(bools: Any) -> Arr:
    """Pack a 1-D boolean array into uint64 words (element e -> word e//64, bit e%64)."""
    b = np.asarray(bools, dtype=np.bool_).reshape(-1)
    n = int(b.shape[0])
    nw = nwords(n)
    buf = np.zeros(nw * 64, dtype=np.bool_)
    buf[:n] = b
    return np.packbits(buf, bitorder="little").view(np.uint64).copy()


def unpack(words: Arr, n: int) -> Bools:
    """The first ``n`` bits of packed ``words`` as a boolean array."""
    w = np.ascontiguousarray(words, dtype=np.uint64)
    if n > w.shape[0] * 64:
        raise ValueError("unpack: fewer words than bits requested")
    return np.unpackbits(w.view(np.uint8), count=n, bitorder="little").view(np.bool_)


@dataclass(frozen=True, slots=True)
class BitShare:
    """This party's pair of a boolean replicated sharing of ``n`` packed bits."""

    a: Arr
    b: Arr
    n: int

    def __post_init__(self) -> None:
        if self.a.shape != (nwords(self.n),) or self.b.shape != self.a.shape:
            raise ValueError("BitShare: word arrays do not match the bit count")

    def __len__(self) -> int:
        return self.n

    @property
    def share(self) -> BShare:
        """The packed words as a :class:`BShare`."""
        return BShare(self.a, self.b)

    @classmethod
    def of(cls, s: BShare, n: int) -> BitShare:
        """Wrap packed words; extra words beyond ``nwords(n)`` are dropped."""
        nw = nwords(n)
        return cls(np.ascontiguousarray(s.a[:nw]), np.ascontiguousarray(s.b[:nw]), n)

    def __xor__(self, other: BitShare) -> BitShare:
        _same(self, other)
        return BitShare(self.a ^ other.a, self.b ^ other.b, self.n)

    def xor(self, other: BitShare) -> BitShare:
        """Bitwise XOR (local)."""
        return self ^ other

    def invert(self, party: int) -> BitShare:
        """Bitwise NOT (local; folded into component 0)."""
        return self.xor_public(ONES, party)

    def xor_public(self, words: Any, party: int) -> BitShare:
        """XOR public packed words (or one word broadcast) into the secret (local)."""
        s = self.share.xor_public(words, party)
        return BitShare(s.a, s.b, self.n)

    def and_public(self, words: Any) -> BitShare:
        """AND with public packed words (local)."""
        m = np.asarray(words, dtype=np.uint64)
        return BitShare(self.a & m, self.b & m, self.n)

    def __getitem__(self, idx: slice) -> BitShare:
        """A contiguous range of bits (local; word-aligned starts avoid unpacking)."""
        if not isinstance(idx, slice):
            raise TypeError("BitShare supports only slices")
        start, stop, step = idx.indices(self.n)
        if step != 1:
            raise ValueError("BitShare slices must be contiguous")
        m = max(stop - start, 0)
        if start % 64 == 0:
            w0 = start // 64
            return BitShare(
                self.a[w0 : w0 + nwords(m)].copy(), self.b[w0 : w0 + nwords(m)].copy(), m
            )
        return BitShare(
            pack(unpack(self.a, self.n)[start:stop]),
            pack(unpack(self.b, self.n)[start:stop]),
            m,
        )


def _same(x: BitShare, y: BitShare) -> None:
    if x.n != y.n:
        raise ValueError("bit vectors differ in length")


def concat(parts: Sequence[BitShare]) -> BitShare:
    """Concatenate bit vectors (local). Word-aligned parts are joined without unpacking."""
    n = sum(q.n for q in parts)
    if all(q.n % 64 == 0 for q in parts[:-1]):
        a = np.concatenate([q.a for q in parts]) if parts else np.zeros(0, np.uint64)
        b = np.concatenate([q.b for q in parts]) if parts else np.zeros(0, np.uint64)
        return BitShare(a, b, n)
    a = pack(np.concatenate([unpack(q.a, q.n) for q in parts]))
    b = pack(np.concatenate([unpack(q.b, q.n) for q in parts]))
    return BitShare(a, b, n)


def zeros(p: Party, n: int) -> BitShare:
    """A trivial sharing of n zero bits."""
    z = np.zeros(nwords(n), dtype=np.uint64)
    return BitShare(z, z.copy(), n)


def and_bits_many(p: Party, pairs: Sequence[tuple[BitShare, BitShare]]) -> list[BitShare]:
    """Several bitwise ANDs in one round (Araki et al. CCS 2016): one bit sent per gate."""
    for x, y in pairs:
        _same(x, y)
    res = and_many(p, [(x.share, y.share) for x, y in pairs])
    return [BitShare(r.a, r.b, x.n) for r, (x, _) in zip(res, pairs, strict=True)]


def and_bits(p: Party, x: BitShare, y: BitShare) -> BitShare:
    """Bitwise AND of two secret bit vectors (one round)."""
    return and_bits_many(p, [(x, y)])[0]


def or_bits(p: Party, x: BitShare, y: BitShare) -> BitShare:
    """Bitwise OR as x ^ y ^ (x & y) (one round)."""
    z = and_bits(p, x, y)
    return BitShare(x.a ^ y.a ^ z.a, x.b ^ y.b ^ z.b, x.n)


def open_bits(p: Party, x: BitShare) -> Bools:
    """Open the bits to all three parties (one round, redundant and checked)."""
    return unpack(open_bool(p, x.share), x.n)

"""Replicated secret shares held by one party (Araki et al., CCS 2016).

A secret x in Z_2^64 is split as x = x0 + x1 + x2 (arithmetic) or x = x0 ^ x1 ^ x2
(boolean); party i holds the pair (x_i, x_{i+1}). :class:`AShare` and :class:`BShare`
are that pair for whole numpy arrays; local operations are methods, interactive
ones live in the protocol modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .ring import Arr


@dataclass(frozen=True, slots=True)
class AShare:
    """This party's pair (x_i, x_{i+1}) of an arithmetic sharing over Z_2^64."""

    a: Arr
    b: Arr

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.a.shape)

    def __len__(self) -> int:
        return int(self.a.shape[0])

    def __add__(self, other: AShare) -> AShare:
        return AShare(self.a + other.a, self.b + other.b)

    def __sub__(self, other: AShare) -> AShare:
        return AShare(self.a - other.a, self.b - other.b)

    def __neg__(self) -> AShare:
        return AShare(-self.a, -self.b)

    def __getitem__(self, idx: Any) -> AShare:
        return AShare(self.a[idx], self.b[idx])

    def scale(self, c: Any) -> AShare:
        """Multiply by a public integer constant or array (wraps mod 2^64)."""
        cc = np.asarray(c).astype(np.int64).view(np.uint64)
        return AShare(self.a * cc, self.b * cc)

    def add_public(self, c: Any, party: int) -> AShare:
        """Add a public value; it is folded into component 0 (held by parties 0 and 2)."""
        cc = np.asarray(c)
        cc = cc.view(np.uint64) if cc.dtype == np.int64 else cc.astype(np.uint64)
        if party == 0:
            return AShare(self.a + cc, self.b.copy())
        if party == 2:
            return AShare(self.a.copy(), self.b + cc)
        return AShare(self.a.copy(), self.b.copy())

    def reshape(self, *shape: int) -> AShare:
        return AShare(self.a.reshape(shape), self.b.reshape(shape))

    def copy(self) -> AShare:
        return AShare(self.a.copy(), self.b.copy())


@dataclass(frozen=True, slots=True)
class BShare:
    """This party's pair of a boolean (XOR) sharing of uint64 words.

    A word is either one 64-bit value or 64 packed bits (bit-sliced); which one is
    fixed by the protocol that made it.
    """

    a: Arr
    b: Arr

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.a.shape)

    def __len__(self) -> int:
        return int(self.a.shape[0])

    def __xor__(self, other: BShare) -> BShare:
        return BShare(self.a ^ other.a, self.b ^ other.b)

    def __getitem__(self, idx: Any) -> BShare:
        return BShare(self.a[idx], self.b[idx])

    def and_public(self, mask: Any) -> BShare:
        m = np.asarray(mask, dtype=np.uint64)
        return BShare(self.a & m, self.b & m)

    def xor_public(self, c: Any, party: int) -> BShare:
        """XOR a public word into the secret; folded into component 0."""
        cc = np.asarray(c, dtype=np.uint64)
        if party == 0:
            return BShare(self.a ^ cc, self.b.copy())
        if party == 2:
            return BShare(self.a.copy(), self.b ^ cc)
        return BShare(self.a.copy(), self.b.copy())

    def invert(self, party: int) -> BShare:
        """Bitwise NOT of the secret."""
        return self.xor_public(np.uint64(0xFFFFFFFFFFFFFFFF), party)

    def shift_left(self, k: int) -> BShare:
        return BShare(self.a << np.uint64(k), self.b << np.uint64(k))

    def shift_right(self, k: int) -> BShare:
        return BShare(self.a >> np.uint64(k), self.b >> np.uint64(k))

    def reshape(self, *shape: int) -> BShare:
        return BShare(self.a.reshape(shape), self.b.reshape(shape))

    def copy(self) -> BShare:
        return BShare(self.a.copy(), self.b.copy())


def concat_a(parts: list[AShare]) -> AShare:
    """Concatenate arithmetic shares along the first axis (local)."""
    return AShare(np.concatenate([p.a for p in parts]), np.concatenate([p.b for p in parts]))


def concat_b(parts: list[BShare]) -> BShare:
    """Concatenate boolean shares along the first axis (local)."""
    return BShare(np.concatenate([p.a for p in parts]), np.concatenate([p.b for p in parts]))

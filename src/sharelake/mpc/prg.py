"""Pseudorandom generators: AES-128 in counter mode from the ``cryptography`` package.

Two parties that hold the same key and call :meth:`Prg.words` in the same order with
the same sizes obtain the same stream; this is how replicated shares of random values
and zero-sharings are made without communication (Araki et al., CCS 2016, section 2.2).
"""

from __future__ import annotations

import os

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .ring import Arr

KEY_BYTES = 16


def fresh_key() -> bytes:
    """A new uniformly random 128-bit key from the operating system."""
    return os.urandom(KEY_BYTES)


class Prg:
    """A stateful AES-128-CTR keystream over one key, served as uint64 words."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("PRG key must be 16 bytes")
        self._enc = Cipher(algorithms.AES(key), modes.CTR(b"\x00" * 16)).encryptor()
        self._zeros = bytearray(0)

    def fill(self, out: Arr) -> Arr:
        """Overwrite ``out`` (C-contiguous) with the next keystream words and return it."""
        n = out.nbytes
        if n == 0:
            return out
        if len(self._zeros) < n:
            self._zeros = bytearray(max(n, 2 * len(self._zeros)))
        view = out.reshape(-1).view(np.uint8).data
        if len(self._zeros) == n:
            self._enc.update_into(self._zeros, view)
        else:
            # update_into needs len(out) >= len(in); encrypt exactly n bytes of zeros.
            self._enc.update_into(memoryview(self._zeros)[:n], view)
        return out

    def words(self, shape: int | tuple[int, ...]) -> Arr:
        """The next ``prod(shape)`` keystream words as a new uint64 array."""
        out = np.empty(shape, dtype=np.uint64)
        return self.fill(out)

    def bytes(self, n: int) -> bytes:
        """The next ``n`` keystream bytes."""
        return self._enc.update(b"\x00" * n)

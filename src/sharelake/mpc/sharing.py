"""Client-side splitting into replicated shares and checked reconstruction.

These functions run at a data provider or an analyst, never at a node: a provider
splits a column and sends party i the pair (x_i, x_{i+1}); an analyst receives every
party's pair, so each component arrives twice, and rejects any disagreement.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import IntegrityError
from .prg import Prg, fresh_key
from .ring import Arr
from .shares import AShare, BShare


def share_arith(x: Arr, *, prg: Prg | None = None) -> list[AShare]:
    """Split ``x`` into three arithmetic replicated sharings; element i goes to party i."""
    x = np.ascontiguousarray(x, dtype=np.uint64)
    gen = prg or Prg(fresh_key())
    x0 = gen.words(x.shape)
    x1 = gen.words(x.shape)
    x2 = x - x0 - x1
    comps = (x0, x1, x2)
    return [AShare(comps[i], comps[(i + 1) % 3]) for i in range(3)]


def share_bool(x: Arr, *, prg: Prg | None = None) -> list[BShare]:
    """Split ``x`` into three boolean (XOR) replicated sharings; element i goes to party i."""
    x = np.ascontiguousarray(x, dtype=np.uint64)
    gen = prg or Prg(fresh_key())
    x0 = gen.words(x.shape)
    x1 = gen.words(x.shape)
    x2 = x ^ x0 ^ x1
    comps = (x0, x1, x2)
    return [BShare(comps[i], comps[(i + 1) % 3]) for i in range(3)]


def _components(pairs: Sequence[AShare | BShare]) -> tuple[Arr, Arr, Arr]:
    if len(pairs) != 3:
        raise ValueError("reconstruction needs the pairs of all three parties")
    comps = []
    for j in range(3):
        first = pairs[j].a  # party j holds component j first ...
        second = pairs[(j - 1) % 3].b  # ... and party j-1 holds it second
        if first.shape != second.shape or not np.array_equal(first, second):
            raise IntegrityError(
                f"share component {j} differs between P{j} and P{(j - 1) % 3}: "
                "a node tampered with its output"
            )
        comps.append(first)
    return comps[0], comps[1], comps[2]


def reconstruct_arith(pairs: Sequence[AShare]) -> Arr:
    """Rebuild x from all three parties' pairs, checking each component twice."""
    x0, x1, x2 = _components(pairs)
    return x0 + x1 + x2


def reconstruct_bool(pairs: Sequence[BShare]) -> Arr:
    """Rebuild x from all three boolean pairs, checking each component twice."""
    x0, x1, x2 = _components(pairs)
    return x0 ^ x1 ^ x2

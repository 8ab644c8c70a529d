"""Plaintext twins of the secure matching operators beyond :mod:`sharelake.linkage.score`.

:func:`exact_links_plain` is the twin of :func:`sharelake.linkage.secure.exact_links`;
:func:`release_plain` turns an n x m 0/1 match matrix into what each ``--reveal`` mode
releases (the twin of the ``reveal_*`` functions of :mod:`sharelake.linkage.fuzzy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["ExactPlain", "exact_links_plain", "release_plain"]

Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ExactPlain:
    """Per-row match flags of both tables and the sorted distinct (left, right) pairs."""

    left: Bools
    right: Bools
    pairs: list[tuple[int, int]]


def exact_links_plain(
    left_keys: npt.ArrayLike,
    right_keys: npt.ArrayLike,
    *,
    left_usable: npt.ArrayLike | None = None,
    right_usable: npt.ArrayLike | None = None,
) -> ExactPlain:
    """Exact multi-key linkage in the clear (keys as arrays of shape (K, n) and (K, m)).

    A left row matches a right row when some key k is usable in both (valid row, key not
    null) and equal. Flags: the row matches any row of the other table. Pairs: per left
    row and key, the LAST usable right row (in right order) with that key value; a pair
    found by several keys counts once.
    """
    lk = np.atleast_2d(np.asarray(left_keys, dtype=np.uint64))
    rk = np.atleast_2d(np.asarray(right_keys, dtype=np.uint64))
    nk, n = lk.shape
    m = rk.shape[1]
    lu = _usable(left_usable, nk, n)
    ru = _usable(right_usable, nk, m)
    lf = np.zeros(n, dtype=np.bool_)
    rf = np.zeros(m, dtype=np.bool_)
    pairs: set[tuple[int, int]] = set()
    for k in range(nk):
        last: dict[int, int] = {}
        for j in range(m):
            if ru[k, j]:
                last[int(rk[k, j])] = j
        lset = {int(v) for v, u in zip(lk[k], lu[k], strict=True) if u}
        for j in range(m):
            if ru[k, j] and int(rk[k, j]) in lset:
                rf[j] = True
        for i in range(n):
            if lu[k, i] and int(lk[k, i]) in last:
                lf[i] = True
                pairs.add((i, last[int(lk[k, i])]))
    return ExactPlain(lf, rf, sorted(pairs))


def _usable(u: npt.ArrayLike | None, nk: int, n: int) -> Bools:
    if u is None:
        return np.ones((nk, n), dtype=np.bool_)
    arr = np.asarray(u, dtype=np.bool_)
    return np.broadcast_to(arr if arr.ndim == 2 else arr[None, :], (nk, n))


def release_plain(match: npt.ArrayLike, mode: str) -> dict[str, Any]:
    """What ``--reveal`` ``mode`` releases from an n x m 0/1 match matrix.

    ``pairs``: the sorted (left row, right row) list; ``own``: per left row the 0/1 flag
    and the number of right rows it matches; ``count``: the number of matched pairs.
    """
    mm = np.asarray(match, dtype=np.int64)
    if mode == "pairs":
        li, ri = np.nonzero(mm)
        return {"pairs": [(int(a), int(b)) for a, b in zip(li, ri, strict=True)]}
    if mode == "own":
        counts = mm.sum(axis=1)
        return {"flags": (counts > 0).astype(np.int64), "counts": counts}
    if mode == "count":
        return {"count": int(mm.sum())}
    raise ValueError(f"unknown reveal mode {mode!r}")

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

__all__ = ["ExactPlain", "exact_links_plain", "fuzzy_match_plain", "release_plain"]

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


def fuzzy_match_plain(
    left_cols: dict[str, Any],
    left_mats: dict[str, Any],
    right_cols: dict[str, Any],
    right_mats: dict[str, Any],
    prm: Any = None,
    *,
    hybrid: bool = False,
) -> npt.NDArray[np.int64]:
    """Twin of :func:`sharelake.linkage.fuzzy.fuzzy_match`: the n x m 0/1 match matrix.

    Exact integer arithmetic: every fraction is compared by cross-multiplication, ties
    are broken towards the lower index (normal name order first, then lower column /
    row), exactly as the secure trees do.
    """
    from .fuzzy_inputs import FuzzyParams

    prm = prm or FuzzyParams()
    n = len(left_cols["given_count"])
    m = len(right_cols["given_count"])
    if n == 0 or m == 0:
        return np.zeros((n, m), dtype=np.int64)

    def mat(d: dict[str, Any], k: str) -> npt.NDArray[np.int64]:
        out: npt.NDArray[np.int64] = np.asarray(d[k], dtype=np.int64)
        return out

    def cnt(d: dict[str, Any], f: str) -> npt.NDArray[np.int64]:
        c: npt.NDArray[np.int64] = np.asarray(d[f"{f}_count"], dtype=np.int64)
        out: npt.NDArray[np.int64] = c + (c == 0).astype(np.int64)
        return out

    ga, fa, gb, fb = (
        mat(left_mats, "given"),
        mat(left_mats, "family"),
        mat(right_mats, "given"),
        mat(right_mats, "family"),
    )
    i_gg, i_ff, i_gf, i_fg = ga @ gb.T, fa @ fb.T, ga @ fb.T, fa @ gb.T
    cga, cfa, cgb, cfb = (
        cnt(left_cols, "given"),
        cnt(left_cols, "family"),
        cnt(right_cols, "given"),
        cnt(right_cols, "family"),
    )
    s_gg, s_ff = np.add.outer(cga, cgb), np.add.outer(cfa, cfb)
    s_gf, s_fg = np.add.outer(cga, cfb), np.add.outer(cfa, cgb)
    n_n, d_n = 2 * (i_gg * s_ff + i_ff * s_gg), s_gg * s_ff
    n_s, d_s = 2 * (i_gf * s_fg + i_fg * s_gf), s_gf * s_fg
    swap = n_s * d_n > n_n * d_s
    num, den = np.where(swap, n_s, n_n), np.where(swap, d_s, d_n)
    dob_a, dob_b = _dob_ext(left_cols, left_mats), _dob_ext(right_cols, right_mats)
    extra = dob_a @ prm.dob_matrix(dob_a.shape[1] - 3) @ dob_b.T
    if prm.w_all:
        i_aa = mat(left_mats, "all") @ mat(right_mats, "all").T
        s_aa = np.add.outer(cnt(left_cols, "all"), cnt(right_cols, "all"))
        num, den = prm.w_name * num * s_aa + 2 * prm.w_all * i_aa * den, den * s_aa
    else:
        num = prm.w_name * num
    if hybrid:
        agree = np.zeros((n, m), dtype=np.bool_)
        for k in prm.keys:
            agree |= np.equal.outer(
                np.asarray(left_cols[k], dtype=np.uint64),
                np.asarray(right_cols[k], dtype=np.uint64),
            )
        extra = extra + prm.bonus * agree
    e_num = num + extra * den
    cand = prm.t_den * e_num >= prm.t_num * den
    row_best = np.array([_argmax_frac(e_num[i], den[i]) for i in range(n)])
    col_best = np.array([_argmax_frac(e_num[:, j], den[:, j]) for j in range(m)])
    out = np.zeros((n, m), dtype=np.int64)
    for i in range(n):
        j = row_best[i]
        if col_best[j] == i and cand[i, j]:
            out[i, j] = 1
    return out


def _dob_ext(cols: dict[str, Any], mats: dict[str, Any]) -> npt.NDArray[np.int64]:
    flags = [np.asarray(cols[f"dob_{c}_present"], dtype=np.int64) for c in ("year", "month", "day")]
    out: npt.NDArray[np.int64] = np.column_stack(
        [np.asarray(mats["dob"], dtype=np.int64).reshape(len(flags[0]), -1), *flags]
    )
    return out


def _argmax_frac(num: npt.NDArray[np.int64], den: npt.NDArray[np.int64]) -> int:
    """First index of the largest num / den (den > 0), by cross-multiplication."""
    best = 0
    for k in range(1, len(num)):
        if num[k] * den[best] > num[best] * den[k]:
            best = k
    return best

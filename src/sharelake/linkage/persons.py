"""Persons across k lists in the clear: the vectorised twin of ``link_lists`` + ``cluster``.

:func:`sharelake.linkage.blocked.link_lists_plain` is the reference twin of the secure
k-list linkage, but it takes the scores of every pair of the union (an N x N matrix) and
walks records one by one, so it stops at a few thousand records. This module computes the
same links and person labels for lists of 100,000 records: it scores only the window
pairs of each pass (Hernández & Stolfo, "The merge/purge problem for large databases",
SIGMOD 1995), with the integers of :func:`sharelake.linkage.score.pair_scores`, and makes
the same choices as the secure operator, vectorised over all records:

* per pass, record and other list (offset r = 1..k-1): the FIRST of the 2w slots
  (successors by distance, then predecessors) of maximal score among the valid ones
  (in range, both rows valid, partner in the list r places after, score over the
  threshold); invalid slots score ``floor(t) - 1``;
* over the passes: the first pass of maximal score; a pair is linked when both ends
  chose it (one-to-one per pair of lists);
* persons: ``rounds`` Jacobi rounds of min-label propagation from the union row
  (:func:`sharelake.linkage.blocked.cluster`, Bhattacharjee et al.'s min-label rule).

It is what the monitoring demo's plaintext twin and its evaluation against the
generator's truth run; the tests check it against ``link_lists_plain`` and
``cluster_plain`` exactly.

Examples
--------
>>> import pandas as pd
>>> from sharelake.linkage.encode import encode_people
>>> a = pd.DataFrame({"record_id": [1, 2], "given_name": ["Ana", "Ion"],
...                   "family_name": ["Pop", "Rusu"], "date_of_birth": ["1990-01-02", ""]})
>>> b = pd.DataFrame({"record_id": [7], "given_name": ["ANA"],
...                   "family_name": ["POP"], "date_of_birth": ["1990"]})
>>> encs = [encode_people(a, seed=1), encode_people(b, seed=2)]
>>> person_labels(encs).tolist()
[0, 1, 0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from .blocked import default_rounds
from .blocking import BLOCK_KEYS, DEFAULT_WINDOW, sorted_order
from .encode import EncodedPeople
from .fs import FSConfig, FSWeights, pair_weights_plain, tf_units_plain
from .fuzzy_inputs import FuzzyParams
from .people_table import fuzzy_params

__all__ = [
    "TRAINED_UNION",
    "aligned_scores",
    "fs_aligned_weights",
    "link_lists_fast",
    "other_lists",
    "person_labels",
    "union_of",
    "union_weights",
]

I64 = npt.NDArray[np.int64]
IDX = npt.NDArray[np.intp]
BOOL = npt.NDArray[np.bool_]
_CHUNK = 65_536  # pairs scored at a time (bounds memory to a few chunk x 512 arrays)


def union_of(encs: Sequence[EncodedPeople]) -> EncodedPeople:
    """The k encodings one after another (the union order of the secure operator)."""
    if not encs:
        raise ValueError("no lists")
    first = encs[0]
    for e in encs[1:]:
        if e.pipeline_version != first.pipeline_version or e.qgram_dim != first.qgram_dim:
            raise ValueError("the lists were encoded by different pipelines")
    return EncodedPeople(
        np.concatenate([e.record_id for e in encs]),
        {c: np.concatenate([e.columns[c] for e in encs]) for c in first.columns},
        {m: np.concatenate([e.matrices[m] for e in encs]) for m in first.matrices},
        first.pipeline_version,
        first.qgram_dim,
    )


def _rowdots(x: npt.NDArray[Any], a: IDX, y: npt.NDArray[Any], b: IDX) -> I64:
    """``x[a[i]] . y[b[i]]`` for every i, exactly: 0/1 (uint8) rows with int32
    accumulation, real rows of small integers in floating point (far below 2^24)."""
    out = np.empty(len(a), dtype=np.int64)
    exact = x.dtype == np.uint8 and y.dtype == np.uint8
    for s in range(0, len(a), _CHUNK):
        xa, yb = x[a[s : s + _CHUNK]], y[b[s : s + _CHUNK]]
        if exact:
            out[s : s + _CHUNK] = np.einsum("ij,ij->i", xa, yb, dtype=np.int32)
        else:
            out[s : s + _CHUNK] = np.rint(np.einsum("ij,ij->i", xa, yb)).astype(np.int64)
    return out


def aligned_scores(
    u: EncodedPeople, a: IDX, b: IDX, prm: FuzzyParams, *, hybrid: bool = True
) -> tuple[I64, I64]:
    """Exact score fractions ``(num, den)`` of the pairs ``(u[a[i]], u[b[i]])``.

    The same integers as :func:`sharelake.linkage.score.pair_scores` (``w_all = 0``,
    the blocked scorer), for aligned pairs instead of a whole matrix.
    """
    if prm.w_all:
        raise ValueError("aligned scores support w_all = 0 only (as blocked linkage)")
    m, c = u.matrices, u.columns

    def cnt(f: str) -> I64:
        out: I64 = np.maximum(c[f"{f}_count"].astype(np.int64), 1)
        return out

    given, family = m["given"], m["family"]
    cg, cf = cnt("given"), cnt("family")
    i_gg, i_ff = _rowdots(given, a, given, b), _rowdots(family, a, family, b)
    i_gf, i_fg = _rowdots(given, a, family, b), _rowdots(family, a, given, b)
    s_gg, s_ff = cg[a] + cg[b], cf[a] + cf[b]
    s_gf, s_fg = cg[a] + cf[b], cf[a] + cg[b]
    n_n, d_n = 2 * (i_gg * s_ff + i_ff * s_gg), s_gg * s_ff
    n_s, d_s = 2 * (i_gf * s_fg + i_fg * s_gf), s_gf * s_fg
    swap = n_s * d_n > n_n * d_s
    num: I64 = prm.w_name * np.where(swap, n_s, n_n)
    den: I64 = np.where(swap, d_s, d_n)
    ext = np.concatenate(
        [m["dob"].astype(np.float64)]
        + [
            c[f"dob_{x}_present"].astype(np.float64).reshape(-1, 1)
            for x in ("year", "month", "day")
        ],
        axis=1,
    )
    w = prm.dob_matrix(ext.shape[1] - 3).astype(np.float64)
    extra = _rowdots(ext, a, ext @ w.T, b)  # ext_a^T W ext_b, exact: small integers
    if hybrid:
        agree = np.zeros(len(a), dtype=np.bool_)
        for k in prm.keys:
            agree |= c[k][a] == c[k][b]
        extra = extra + prm.bonus * agree.astype(np.int64)
    return num + extra * den, den


_FS_MATRICES = ("given", "family", "dob")  # what the Fellegi-Sunter levels read


def _rows_of(u: EncodedPeople, idx: IDX) -> EncodedPeople:
    return EncodedPeople(
        u.record_id[idx],
        {c: v[idx] for c, v in u.columns.items()},
        {m: u.matrices[m][idx] for m in _FS_MATRICES},
        u.pipeline_version,
        u.qgram_dim,
    )


def fs_aligned_weights(
    u: EncodedPeople,
    a: IDX,
    b: IDX,
    fs: tuple[FSWeights, FSConfig],
    tf: tuple[I64, I64] | None = None,
) -> I64:
    """Fellegi-Sunter weights W of the pairs ``(u[a[i]], u[b[i]])``, ``a`` the left side.

    The integers of :func:`sharelake.linkage.fs.pair_weights_plain` (the twin of the
    secure scorer of the blocked linkage), term-frequency units ``tf`` per union row
    (default: counted over the union, as the secure operator does), in chunks.
    """
    w, cfg = fs
    if tf is None and w.tf:
        tf = tf_units_plain(w, u)
    out = np.empty(len(a), dtype=np.int64)
    for s in range(0, len(a), _CHUNK):
        ia, ib = a[s : s + _CHUNK], b[s : s + _CHUNK]
        units = None if tf is None else (tf[0][ia], tf[1][ia])
        out[s : s + _CHUNK] = pair_weights_plain(_rows_of(u, ia), _rows_of(u, ib), w, cfg, units)
    return out


def _first_max(num: I64, den: I64) -> IDX:
    """Per row: the first column of the largest ``num / den`` (cross-multiplied)."""
    best = np.zeros(num.shape[0], dtype=np.intp)
    bn, bd = num[:, 0].copy(), den[:, 0].copy()
    for j in range(1, num.shape[1]):
        better = num[:, j] * bd > bn * den[:, j]
        best[better] = j
        bn[better], bd[better] = num[better, j], den[better, j]
    return best


def link_lists_fast(
    union: EncodedPeople,
    sizes: Sequence[int],
    prm: FuzzyParams | None = None,
    *,
    valid: npt.ArrayLike | None = None,
    keys: Sequence[str] = BLOCK_KEYS,
    window: int = DEFAULT_WINDOW,
    hybrid: bool = True,
    fs: tuple[FSWeights, FSConfig] | None = None,
) -> list[tuple[int, int]]:
    """The links of :func:`~sharelake.linkage.blocked.link_lists` (union rows a < b, sorted).

    ``valid``: the 0/1 validity of each union row (rows filtered out link to nothing).
    ``fs``: score with the Fellegi-Sunter weights and threshold instead of ``prm``
    (``link_lists(..., fs=FSScoring(weights, cfg))``).
    """
    prm = prm or fuzzy_params({})
    tf = tf_units_plain(fs[0], union) if fs is not None and fs[0].tf else None
    nn, k = len(union), len(sizes)
    if sum(sizes) != nn:
        raise ValueError("the sizes do not add up to the union")
    if nn < 2 or k < 2:
        return []
    ok: BOOL = np.ones(nn, np.bool_) if valid is None else np.asarray(valid, dtype=np.bool_)
    w = min(window, nn - 1)
    lst = np.repeat(np.arange(k), sizes)
    t_num, t_den = (prm.t_num, prm.t_den) if fs is None else (fs[0].threshold, 1)
    low = t_num // t_den - 1
    # per pass, offset and record (union row): best score and partner (-1: none)
    best_num = np.full((len(keys), k - 1, nn), low, dtype=np.int64)
    best_den = np.ones((len(keys), k - 1, nn), dtype=np.int64)
    best_par = np.full((len(keys), k - 1, nn), -1, dtype=np.intp)
    for q, key in enumerate(keys):
        order = sorted_order(union.columns[key])
        i = np.repeat(np.arange(nn), w)
        d = np.tile(np.arange(1, w + 1), nn)
        inr = i + d < nn
        i, d = i[inr], d[inr]
        ra, rb = order[i], order[i + d]  # the earlier record in sorted order is "left"
        if fs is None:
            sn, sd = aligned_scores(union, ra, rb, prm, hybrid=hybrid)
        else:
            sn = fs_aligned_weights(union, ra, rb, fs, tf)
            sd = np.ones(len(sn), dtype=np.int64)
        good = ok[ra] & ok[rb] & (t_den * sn >= t_num * sd)
        # slot values of record at sorted position p: forward d at column d-1, backward
        # d at column w+d-1
        for r in range(1, k):
            vn = np.full((nn, 2 * w), low, dtype=np.int64)
            vd = np.ones((nn, 2 * w), dtype=np.int64)
            vp = np.full((nn, 2 * w), -1, dtype=np.intp)
            fwd = good & ((lst[rb] - lst[ra]) % k == r)
            vn[i[fwd], d[fwd] - 1], vd[i[fwd], d[fwd] - 1] = sn[fwd], sd[fwd]
            vp[i[fwd], d[fwd] - 1] = rb[fwd]
            bwd = good & ((lst[ra] - lst[rb]) % k == r)
            j = i[bwd] + d[bwd]
            vn[j, w + d[bwd] - 1], vd[j, w + d[bwd] - 1] = sn[bwd], sd[bwd]
            vp[j, w + d[bwd] - 1] = ra[bwd]
            col = _first_max(vn, vd)
            rows = np.arange(nn)
            best_num[q, r - 1, order] = vn[rows, col]
            best_den[q, r - 1, order] = vd[rows, col]
            best_par[q, r - 1, order] = vp[rows, col]
    links: set[tuple[int, int]] = set()
    choice = np.empty((k - 1, nn), dtype=np.intp)
    for r in range(1, k):
        first = _first_max(best_num[:, r - 1, :].T, best_den[:, r - 1, :].T)
        choice[r - 1] = best_par[first, r - 1, np.arange(nn)]
    for r in range(1, k):
        rec = np.flatnonzero(choice[r - 1] >= 0)
        par = choice[r - 1][rec]
        back = (k - r) % k
        mutual = choice[back - 1][par] == rec
        for x, y in zip(rec[mutual].tolist(), par[mutual].tolist(), strict=True):
            links.add((min(x, y), max(x, y)))
    return sorted(links)


def _cluster(links: Sequence[tuple[int, int]], n: int, rounds: int) -> I64:
    label = np.arange(n, dtype=np.int64)
    if not links:
        return label
    e = np.asarray(links, dtype=np.intp)
    src = np.concatenate([e[:, 0], e[:, 1]])
    dst = np.concatenate([e[:, 1], e[:, 0]])
    for _ in range(rounds):
        nxt = label.copy()
        np.minimum.at(nxt, src, label[dst])
        label = nxt
    return label


#: Records of the union the trained Fellegi-Sunter weights
#: (:data:`sharelake.linkage.fs.TRAINED_WEIGHTS`) were fit on: two lists of 2,000.
TRAINED_UNION = 4000


def union_weights(
    weights: FSWeights, n_union: int, *, trained_union: int = TRAINED_UNION
) -> FSWeights:
    """Trained weights moved to a union of ``n_union`` records (k-list linkage).

    Two constants of the model depend on how many records are linked
    (:func:`sharelake.linkage.fs.weights_of`): the term-frequency constants
    ``round(scale log2(u_exact N))``, since a value's frequency is its count over the N
    records the counts run over, and the threshold, through ``-log2(lambda)``: with the
    same share of each list's records matched, the share lambda of the pairs that
    match falls as 1/N. Weights fit at ``trained_union`` records and used on N move both
    by ``round(scale log2(N / trained_union))``; nothing else changes (the m and u of
    the comparison levels do not depend on N). Without it, the counts of 80,000 records
    against constants fit on 4,000 took 4.3 bits from every exact name agreement and
    the k-list recall fell to .78 (LINKAGE.md 4e). The size is public; the secure
    operator applies the same function (``engine/linkage.py``).

    Examples
    --------
    >>> from sharelake.linkage.fs import TRAINED_WEIGHTS as w
    >>> u = union_weights(w, 16000)  # four times the training union: 2 bits, 16 units
    >>> (u.tf_given - w.tf_given, u.tf_family - w.tf_family, u.threshold - w.threshold)
    (16, 16, 16)
    >>> union_weights(w, 4000) == w
    True
    """
    d = round(weights.scale * math.log2(max(n_union, 1) / trained_union))
    return replace(
        weights,
        tf_given=weights.tf_given + d,
        tf_family=weights.tf_family + d,
        threshold=weights.threshold + d,
    )


def person_labels(
    encs: Sequence[EncodedPeople],
    prm: FuzzyParams | None = None,
    *,
    valid: Sequence[npt.ArrayLike] | None = None,
    keys: Sequence[str] = BLOCK_KEYS,
    window: int | None = DEFAULT_WINDOW,
    rounds: int | None = None,
    fs: tuple[FSWeights, FSConfig] | None = None,
) -> I64:
    """The person label of every union row: links of all k lists, then clustering.

    As the ``overlap(..., on="person", linkage="fuzzy")`` operator: ``window`` None
    scores every pair (one pass, on the first key, whose window covers the union);
    ``rounds`` defaults to k + 1 (:func:`~sharelake.linkage.blocked.default_rounds`);
    ``fs`` (weights, configuration): the Fellegi-Sunter scorer (``linkage=
    "probabilistic"``) instead of ``prm``.
    """
    u = union_of(encs)
    sizes = [len(e) for e in encs]
    if window is None:
        keys, window = tuple(keys)[:1], max(1, len(u) - 1)
    ok = None if valid is None else np.concatenate([np.asarray(v, np.bool_) for v in valid])
    links = link_lists_fast(u, sizes, prm, valid=ok, keys=keys, window=window, fs=fs)
    return _cluster(links, len(u), default_rounds(len(encs)) if rounds is None else rounds)


def other_lists(
    labels: npt.ArrayLike, sizes: Sequence[int], valid: npt.ArrayLike | None = None
) -> I64:
    """Per union row: how many other lists hold a valid record of its person.

    The twin of ``overlap(..., linkage=..., reveal="own")`` (clustered persons: a record
    linked to list B only through a record of list C counts both). Rows not valid count
    nothing and are counted by nobody.

    Examples
    --------
    >>> other_lists([0, 0, 2, 0], [2, 1, 1]).tolist()
    [1, 1, 0, 1]
    """
    lab = np.asarray(labels, dtype=np.int64)
    ok = np.ones(len(lab), np.bool_) if valid is None else np.asarray(valid, dtype=np.bool_)
    lst = np.repeat(np.arange(len(sizes)), sizes)
    if len(lab) != len(lst):
        raise ValueError("the sizes do not add up to the labels")
    held = np.zeros(len(lab), dtype=np.int64)
    for j in range(len(sizes)):
        on_j = np.isin(lab, lab[ok & (lst == j)])
        held += (on_j & (lst != j)).astype(np.int64)
    out: I64 = np.where(ok, held, 0)
    return out

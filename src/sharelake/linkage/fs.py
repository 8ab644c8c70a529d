"""The Fellegi-Sunter model of the linkage scorer: comparison levels, EM, term frequencies.

Fellegi & Sunter ("A theory for record linkage", JASA 64, 1969) score a record pair by
the sum over fields of the match weight log2(m / u) of the field's *comparison level*,
where m = P(level | match) and u = P(level | non-match); Winkler (1988/2000) estimates
m and u without labels by EM on the counts of the comparison patterns; Splink (Linacre
et al., IJPDS 7(3), 2022) is the reference implementation this module follows: u from
(effectively) random pairs, m by EM with u fixed, a term-frequency adjustment on exact
agreement, a posterior match probability as the threshold.

This module is public and plaintext only: the levels as integer formulas of the client
encodings (:mod:`sharelake.linkage.encode`), the EM fit on opened pattern counts, the
integer weights and threshold handed to the secure scorer
(:mod:`sharelake.linkage.fs_secure`), and the plaintext twin of that scorer
(:func:`levels_plain`, :func:`weights_plain`, :func:`fs_match_plain`).

Comparison levels of a pair (left record a, right record b)
-----------------------------------------------------------
**Names (two slots).** The name order is the one with more shared bigrams: swapped when
``i_gf + i_fg > i_gg + i_ff`` (``i_xy`` = inner product of a's field x with b's field y;
both orders have the same total size, so this is the better total overlap). Slot *g*
compares a's given name with b's given name (or b's family name when swapped), slot *f*
a's family name with the other. Per slot, with ``s = max(c_a, 1) + max(c_b, 1)`` and the cut-offs
``name_cuts = (t_1, t_2, t_3)`` over ``T = t_scale`` (default 0.5, 0.65, 0.8):

====== ===== ================================================================
level  name  condition
====== ===== ================================================================
0      null  a's or b's name in the slot is empty (weight 0)
1      low   Dice < ``t_1 / T``
2      fair  ``2 i T >= t_1 s`` (one typo in a short name, a dropped middle name)
3      mid   ``2 i T >= t_2 s``
4      high  ``2 i T >= t_3 s``
5      exact ``2 i >= s`` (Dice 1: the same bigram set)
====== ===== ================================================================

**Birth date.** From the one-hot parts (an inner product of two one-hot blocks is 1 iff
both parts are present and equal): ``ye``, ``de`` (year, day equal), ``me`` (month
equal and both years known: the month one-hots are masked by "year known"), ``y1``
(years one apart), ``yk``, ``dk`` (year, day known on both sides), ``ye_mk`` (years
equal and the month known on both sides) and ``sw`` (a's day is b's month and a's
month b's day: a day/month swap); with ``P1 = ye me``, ``P3 = P1 de``, ``P4 = P1 dk``,
``MD = me de`` (month and day equal, both years known), ``YS = ye sw - P1 sw``:

== ======= ============================ ==============================================
#  name    indicator                    meaning
== ======= ============================ ==============================================
0  full    P3                           year, month and day equal
1  ym      P4 - P3                      year and month equal, day differs
2  ym_part P1 - P4                      year and month equal, day unknown on a side
3  y_swap  YS                           year equal, day and month swapped
4  y       ye_mk - P1 - YS              year equal, month differs
5  y_part  ye - ye_mk                   year equal, month unknown on a side (year-only)
6  y1_md   y1 MD                        years one apart, month and day equal (a typo)
7  y1      y1 - y1 MD                   years one apart, month or day not both equal
8  differ  yk - ye - y1                 years two or more apart: strong evidence
                                        against, whatever the month and day
9  missing 1 - yk                       a year unknown on a side
== ======= ============================ ==============================================

Weights, term frequencies, threshold
------------------------------------
Weights are integers in units of 1/``scale`` bit: ``round(scale log2(m / u))``, clipped
to +-``max_bits``; null and missing levels weigh 0. **Term-frequency adjustment** (as
Splink's): on an exact slot, a's value v (the token-set digest ``tok_given`` or
``tok_family``, one tag for both fields) is as rare as its count over the union of both
lists, so u is replaced by tf(v) = cnt(v) / N: the slot gains
``tf_const - Lq(cnt(v))`` with ``tf_const = round(scale log2(u_exact N))`` (public after
EM) and ``Lq(c) = (scale / 2) #{k >= 1: c >= ceil(2^(k/2))}`` (scale log2 c to half a
bit; computed inside MPC from the secret count). A pair is a candidate when its total
weight W reaches ``threshold = ceil(scale (logit2(p) - log2(lambda) + log2(max(1 - pi,
floor))))`` with ``pi = lambda min(n, m)``, then one-to-one assignment by the mutual-best
rule on W (first arg-max of row and column). This is the posterior P(a's match is b) >= p
in the one-to-one model: a has no match on the other list with probability 1 - pi (pi =
the expected matches per record, lambda n m / max(n, m), from the lambda EM estimated)
and its match is each of the m records with probability lambda, so the posterior odds of
b are lambda LR / (1 - pi + lambda sum of the other LRs); the mutual-best rule stands for
the competitors' sum (the row's and column's best). With few matches (pi small) this is
the pairwise posterior lambda LR / (1 - lambda); with every record matched (FEBRL4: pi
0.97) it is several bits lower, since a record whose best candidate is far ahead of the
rest must be matched to it. ``floor`` (``FSConfig.no_match_floor``, 1/128) bounds the
correction at 7 bits where EM puts pi near or above 1.

EM (:func:`em_fit`)
-------------------
Input: the counts of the 6 x 6 x 10 comparison patterns (slot g, slot f, birth date)
over all pairs of the lists (or of a public random subset of left rows). u starts from
the pattern margins (random pairs are almost all non-matches), m and lambda are fitted by
EM, starting from :data:`M_START`. m is estimated with a Dirichlet prior of
``m_prior`` pseudo-pairs shaped as :data:`M_START` (maximum a posteriori EM): with few
matches (1% overlap: 30 among 9 million pairs) plain EM lets the match class absorb the
namesakes (same names, other birth dates) and overestimates lambda 3-4 times; the prior
keeps the match class "records that agree", and with many matches the data dominate.
m of the date level ``missing`` is tied to its u at every step (a date unknown on a side
is as frequent among matches as among non-matches, so it weighs exactly 0, as Splink's
null levels): left free, EM underestimated it where dates are often empty and matches
few (half its true share on a sparse-date training set at 10% overlap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .encode import DOB_DAY_SLICE, DOB_MONTH_SLICE, DOB_YEAR_SLICE, EncodedPeople

__all__ = [
    "DOB_LEVELS",
    "NAME_LEVELS",
    "TRAINED_WEIGHTS",
    "FSConfig",
    "FSFit",
    "FSWeights",
    "em_fit",
    "fs_match_plain",
    "levels_plain",
    "pattern_counts_plain",
    "tf_counts_plain",
    "tf_log_units",
    "weights_plain",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

NAME_LEVELS = ("null", "low", "fair", "mid", "high", "exact")
DOB_LEVELS = (
    "full",
    "ym",
    "ym_part",
    "y_swap",
    "y",
    "y_part",
    "y1_md",
    "y1",
    "differ",
    "missing",
)
NG, ND = len(NAME_LEVELS), len(DOB_LEVELS)
#: Starting m of EM per level (given slot, family slot, birth date), also the shape of
#: the Dirichlet prior on m (``FSConfig.m_prior``).
M_START: tuple[tuple[float, ...], ...] = (
    (0.02, 0.03, 0.05, 0.05, 0.15, 0.70),
    (0.02, 0.03, 0.05, 0.05, 0.15, 0.70),
    (0.55, 0.04, 0.04, 0.01, 0.02, 0.12, 0.02, 0.02, 0.02, 0.16),
)


@dataclass(frozen=True)
class FSConfig:
    """Public, data-independent settings of the Fellegi-Sunter scorer.

    ``name_cuts`` / ``t_scale`` are the Dice cut-offs of the name levels fair, mid and
    high; ``scale`` the weight unit (1/scale bit); ``p_match`` the posterior probability
    a candidate must reach; ``max_bits`` the clip of every weight; ``tf`` switches the
    term-frequency adjustment; ``em_pairs`` bounds the pairs EM counts (a public random
    subset of left rows when the lists have more pairs); ``em_iters`` the EM steps;
    ``m_prior`` the pseudo-pairs of the Dirichlet prior on m; ``no_match_floor`` the
    least prior probability that a record has no match on the other list (the
    threshold's one-to-one correction, see the module). Chosen on generated training
    sets (:mod:`sharelake.linkage.quality`).
    """

    name_cuts: tuple[int, int, int] = (10, 13, 16)
    t_scale: int = 20
    scale: int = 8
    p_match: float = 0.7
    max_bits: int = 24
    tf: bool = True
    em_pairs: int = 4_000_000
    em_iters: int = 200
    tf_steps: int = 48
    m_prior: float = 30.0
    no_match_floor: float = 1 / 128


@dataclass(frozen=True)
class FSFit:
    """What EM estimated: m and u per level of each comparison, and the prior lambda."""

    m: tuple[tuple[float, ...], ...]
    u: tuple[tuple[float, ...], ...]
    lam: float
    pairs: int
    u_both_exact: float = 0.0


@dataclass(frozen=True)
class FSWeights:
    """Integer weights (units of 1/scale bit) and threshold given to the secure scorer."""

    given: tuple[int, ...]
    family: tuple[int, ...]
    dob: tuple[int, ...]
    threshold: int
    tf_given: int = 0
    tf_family: int = 0
    tf: bool = True
    scale: int = 8
    tf_steps: int = 48
    both_exact: int = 0
    fit: FSFit | None = field(default=None, compare=False)

    def bound(self) -> int:
        """Largest |W| a pair can reach (fixes the comparison widths)."""
        tfb = (abs(self.tf_given) + abs(self.tf_family) + self.scale * self.tf_steps) * self.tf
        return (
            max(abs(x) for x in self.given)
            + max(abs(x) for x in self.family)
            + max(abs(x) for x in self.dob)
            + tfb
            + abs(self.both_exact)
            + abs(self.threshold)
        )


#: Weights EM estimated on the generated training set (seed 12, 2000 x 2000 records,
#: 10% shared): what ``link`` uses when the EM counts may not be opened (``em=False``)
#: and what the benchmark scores with.
TRAINED_WEIGHTS = FSWeights(
    given=(0, -47, 11, 44, 62, 68),
    family=(0, -40, 15, 41, 47, 50),
    dob=(114, 40, 75, 85, -7, 48, 77, 3, -43, 0),
    threshold=123,
    tf_given=25,
    tf_family=43,
    both_exact=-13,
)


# ---- levels (plaintext twin) -------------------------------------------------------------


def _ip(x: npt.NDArray[np.uint8], y: npt.NDArray[np.uint8]) -> I64:
    out: I64 = np.rint(x.astype(np.float32) @ y.astype(np.float32).T).astype(np.int64)
    return out


def _rowdot(x: npt.NDArray[np.uint8], y: npt.NDArray[np.uint8]) -> I64:
    """Row-wise inner products of 0/1 (small count) rows, exactly: int32 accumulation
    inside einsum, without an int64 copy of the operands (15 times faster)."""
    out: I64 = np.einsum("ij,ij->i", x, y, dtype=np.int32).astype(np.int64)
    return out


def _col(t: EncodedPeople, name: str, rows: slice | None = None) -> I64:
    c = t.columns[name].astype(np.int64)
    out: I64 = c if rows is None else c[rows]
    return out


def name_levels_from(i: I64, ca: I64, cb: I64, cfg: FSConfig) -> tuple[I64, I64]:
    """(level, exact bit) of one slot from the inner product and the raw counts."""
    s = np.maximum(ca, 1) + np.maximum(cb, 1)
    nz = (ca > 0) & (cb > 0)
    ex = (2 * i - s >= 0).astype(np.int64)
    lvl = 1 + ex
    for t in cfg.name_cuts:
        lvl = lvl + (2 * i * cfg.t_scale - t * s >= 0)
    return np.where(nz, lvl, 0).astype(np.int64), ex


def _levels_from(
    i: dict[str, I64], c: dict[str, I64], b: dict[str, I64], cfg: FSConfig
) -> tuple[I64, I64, I64, I64, I64]:
    swap = (i["gf"] + i["fg"]) > (i["gg"] + i["ff"])
    g, ex_g = name_levels_from(
        np.where(swap, i["gf"], i["gg"]), c["ga"], np.where(swap, c["fb"], c["gb"]), cfg
    )
    f, ex_f = name_levels_from(
        np.where(swap, i["fg"], i["ff"]), c["fa"], np.where(swap, c["gb"], c["fb"]), cfg
    )
    ind = dob_indicators(b)
    d = np.zeros(ind[0].shape, dtype=np.int64)
    for k, x in enumerate(ind):
        d += k * x
    return g, f, d, ex_g, ex_f


def levels_plain(
    left: EncodedPeople, right: EncodedPeople, cfg: FSConfig, rows: slice | None = None
) -> tuple[I64, I64, I64, I64, I64]:
    """Levels of the pairs ``left[rows] x right``: (g, f, dob, exact_g, exact_f)."""
    rows = rows if rows is not None else slice(0, len(left))
    lm, rm = left.matrices, right.matrices
    ga, fa = lm["given"][rows], lm["family"][rows]
    i = {
        "gg": _ip(ga, rm["given"]),
        "ff": _ip(fa, rm["family"]),
        "gf": _ip(ga, rm["family"]),
        "fg": _ip(fa, rm["given"]),
    }
    c = {
        "ga": _col(left, "given_count", rows)[:, None],
        "fa": _col(left, "family_count", rows)[:, None],
        "gb": _col(right, "given_count")[None, :],
        "fb": _col(right, "family_count")[None, :],
    }
    b = dob_basis(lm["dob"][rows], rm["dob"], _presence(left, rows), _presence(right, None))
    return _levels_from(i, c, b, cfg)


def levels_aligned_plain(
    left: EncodedPeople, right: EncodedPeople, cfg: FSConfig
) -> tuple[I64, I64, I64, I64, I64]:
    """Levels of K aligned pairs (left row k with right row k)."""
    lm, rm = left.matrices, right.matrices

    def dot(x: npt.NDArray[np.uint8], y: npt.NDArray[np.uint8]) -> I64:
        return _rowdot(x, y)

    i = {
        "gg": dot(lm["given"], rm["given"]),
        "ff": dot(lm["family"], rm["family"]),
        "gf": dot(lm["given"], rm["family"]),
        "fg": dot(lm["family"], rm["given"]),
    }
    c = {
        "ga": _col(left, "given_count"),
        "fa": _col(left, "family_count"),
        "gb": _col(right, "given_count"),
        "fb": _col(right, "family_count"),
    }
    b = dob_basis(lm["dob"], rm["dob"], _presence(left, None), _presence(right, None), True)
    return _levels_from(i, c, b, cfg)


def dob_basis(
    da: npt.NDArray[np.uint8],
    db: npt.NDArray[np.uint8],
    pa: I64,
    pb: I64,
    aligned: bool = False,
) -> dict[str, I64]:
    """The 0/1 birth-date quantities of all pairs (one-hot rows ``da``, ``db``; presence
    flags ``pa``, ``pb`` as n x 3 year/month/day); ``aligned``: of row k with row k."""
    ya, yb = da[:, DOB_YEAR_SLICE], db[:, DOB_YEAR_SLICE]
    yb1 = np.zeros_like(yb)
    yb1[:, 1:] |= yb[:, :-1]
    yb1[:, :-1] |= yb[:, 1:]

    def ip(x: npt.NDArray[np.uint8], y: npt.NDArray[np.uint8]) -> I64:
        if aligned:
            return _rowdot(x, y)
        return _ip(x, y)

    def both(k: int) -> I64:
        out: I64 = pa[:, k] * pb[:, k] if aligned else np.outer(pa[:, k], pb[:, k])
        return out

    ma, mb = da[:, DOB_MONTH_SLICE], db[:, DOB_MONTH_SLICE]
    a_d, b_d = da[:, DOB_DAY_SLICE], db[:, DOB_DAY_SLICE]
    ye = ip(ya, yb)
    yk = both(0)
    me = ip(ma, mb) * yk  # month one-hots masked by "year known"
    de = ip(a_d, b_d)
    y1 = ip(ya, yb1)
    sw = ip(a_d[:, :12], mb) * ip(ma, b_d[:, :12])
    return {
        "ye": ye,
        "y1": y1,
        "yk": yk,
        "me": me,
        "ye_mk": ye * both(1),
        "dk": both(2),
        "de": de,
        "sw": sw,
    }


def dob_indicators(b: dict[str, I64]) -> list[I64]:
    """The ten 0/1 level indicators from the basis (linear after the products P1, P3,
    P4, YS and y1 MD)."""
    p1 = b["ye"] * b["me"]
    p3, p4 = p1 * b["de"], p1 * b["dk"]
    md = b["me"] * b["de"]
    ys = b["ye"] * b["sw"] - p1 * b["sw"]
    y1md = b["y1"] * md
    one = np.ones_like(p1)
    return [
        p3,
        p4 - p3,
        p1 - p4,
        ys,
        b["ye_mk"] - p1 - ys,
        b["ye"] - b["ye_mk"],
        y1md,
        b["y1"] - y1md,
        b["yk"] - b["ye"] - b["y1"],
        one - b["yk"],
    ]


def _presence(t: EncodedPeople, rows: slice | None) -> I64:
    out: I64 = np.stack(
        [_col(t, f"dob_{c}_present", rows) for c in ("year", "month", "day")], axis=1
    )
    return out


# ---- term frequencies --------------------------------------------------------------------


def tf_counts_plain(left: EncodedPeople, *others: EncodedPeople) -> tuple[I64, I64]:
    """Per left record: the counts of its ``tok_given`` / ``tok_family`` values over
    both fields of ``left`` and of the ``others`` (what the secure group-by count
    computes)."""
    allv = np.concatenate(
        [t.columns[c] for t in (left, *others) for c in ("tok_given", "tok_family")]
    )
    vals, cnt = np.unique(allv, return_counts=True)

    def look(x: npt.NDArray[np.uint64]) -> I64:
        out: I64 = cnt[np.searchsorted(vals, x)].astype(np.int64)
        return out

    return look(left.columns["tok_given"]), look(left.columns["tok_family"])


def tf_thresholds(steps: int) -> I64:
    """theta_k = ceil(2^(k/2)), k = 1..steps (public)."""
    out: I64 = np.array([math.ceil(2 ** (k / 2)) for k in range(1, steps + 1)], dtype=np.int64)
    return out


def tf_log_units(cnt: I64, scale: int, steps: int) -> I64:
    """Lq(c) = (scale / 2) #{k: c >= theta_k}: scale log2 c to half a bit."""
    th = tf_thresholds(steps)
    out: I64 = (scale // 2) * (cnt[:, None] >= th[None, :]).sum(axis=1).astype(np.int64)
    return out


# ---- EM ----------------------------------------------------------------------------------


def em_fit(counts: npt.ArrayLike, cfg: FSConfig | None = None) -> FSFit:
    """m, u and lambda from the 6 x 6 x 10 pattern counts (see the module).

    The match class is conditionally independent over the three comparisons
    (m = m_g m_f m_d); the non-match class over names-jointly and birth date
    (u = u_gf u_d): given and family names of two different people are NOT independent
    (both follow the origin of the names), and namesakes are far more frequent than the
    product of the margins says; their birth dates are independent. Both m and u are
    re-estimated at every step (u from the non-match posteriors), starting from the
    margins of all pairs, so the few matches do not inflate u.

    Examples
    --------
    >>> c = np.zeros((6, 6, 10))
    >>> c[1, 1, 8], c[1, 1, 9], c[1, 5, 8], c[5, 1, 8] = 1e6, 1e5, 2e4, 2e4  # non-matches
    >>> c[5, 5, 8], c[5, 5, 9], c[1, 1, 0] = 50, 40, 40  # namesakes, chance agreements
    >>> c[5, 5, 0], c[5, 4, 0] = 300, 20  # about 320 matches
    >>> fit = em_fit(c)
    >>> bool(300 < fit.lam * c.sum() < 380), round(fit.m[2][0], 1)  # prior, m(full)
    (True, 0.9)
    """
    cfg = cfg or FSConfig()
    n = np.asarray(counts, dtype=np.float64).reshape(NG, NG, ND)
    total = float(n.sum())
    if total <= 0:
        raise ValueError("EM needs at least one pair")
    e = 1e-12
    ugf = n.sum(axis=2) / total + e
    ud = n.sum(axis=(0, 1)) / total + e
    mg, mf, md = (np.array(x, dtype=np.float64) for x in M_START)
    prior = [cfg.m_prior * np.asarray(x, dtype=np.float64) / sum(x) for x in M_START]
    lam = 1e-4
    for _ in range(cfg.em_iters):
        md = _missing_neutral(md, ud)
        pm = lam * mg[:, None, None] * mf[None, :, None] * md[None, None, :]
        pu = (1 - lam) * ugf[:, :, None] * ud[None, None, :]
        g = n * pm / (pm + pu)
        sg = float(g.sum())
        if sg <= 0:
            break
        lam = min(max(sg / total, 1e-12), 0.5)
        sums = [g.sum(axis=ax) + pr for ax, pr in zip(((1, 2), (0, 2), (0, 1)), prior, strict=True)]
        mg, mf, md = (x / x.sum() + e for x in sums)
        h = n - g
        sh = float(h.sum())
        ugf = h.sum(axis=2) / sh + e
        ud = h.sum(axis=(0, 1)) / sh + e
    md = _missing_neutral(md, ud)
    return FSFit(
        (tuple(mg.tolist()), tuple(mf.tolist()), tuple(md.tolist())),
        (tuple(ugf.sum(axis=1).tolist()), tuple(ugf.sum(axis=0).tolist()), tuple(ud.tolist())),
        float(lam),
        round(total),
        float(ugf[NG - 1, NG - 1]),
    )


def _missing_neutral(md: F64, ud: F64) -> F64:
    """m of the birth-date levels with m(missing) tied to u(missing), the others scaled
    to the rest: a date that is unknown on a side says nothing about the pair (whether an
    organisation recorded a date does not depend on whom the other list holds), so the
    level weighs exactly 0, as a name slot's ``null``. EM left free underestimates it
    where dates are often empty and matches few (a sparse 10% training set: m .15
    against .33 in truth, -1 bit on every date-missing pair)."""
    out = md.copy()
    miss = ND - 1
    out[miss] = ud[miss]
    rest = float(md[:miss].sum())
    out[:miss] = md[:miss] * ((1.0 - ud[miss]) / rest if rest > 0 else 0.0)
    return out


def weights_of(
    fit: FSFit, cfg: FSConfig, n_union: int, *, sizes: tuple[int, int] | None = None
) -> FSWeights:
    """Integer weights and threshold from an EM fit (``n_union``: records of both lists;
    ``sizes``: the two lists' lengths, for the threshold's one-to-one correction --
    without them the plain pairwise threshold).

    Names: the margins' weights per slot plus ``both_exact`` =
    log2(u_g(exact) u_f(exact) / u_gf(exact, exact)) when both slots are exact (the
    namesake correction of the joint non-match model).

    Examples
    --------
    >>> fit = FSFit(M_START, M_START, 1e-4, 10**6)
    >>> pairwise = weights_of(fit, FSConfig(), 2000).threshold
    >>> full = weights_of(fit, FSConfig(), 2000, sizes=(1000, 1000)).threshold
    >>> pairwise, full  # 0.1 expected matches a record: 0.15 bit lower
    (117, 115)
    >>> fit = FSFit(M_START, M_START, 9e-4, 10**6)  # 0.9 a record: 3.3 bits lower
    >>> weights_of(fit, FSConfig(), 2000, sizes=(1000, 1000)).threshold
    65
    """
    cap = cfg.scale * cfg.max_bits

    def clip(x: float) -> int:
        return int(min(cap, max(-cap, round(cfg.scale * x))))

    def w(m: tuple[float, ...], u: tuple[float, ...], null: int | None) -> tuple[int, ...]:
        return tuple(
            0 if k == null else clip(math.log2(max(a, 1e-300) / max(b, 1e-300)))
            for k, (a, b) in enumerate(zip(m, u, strict=True))
        )

    def tfc(u_exact: float) -> int:
        return clip(math.log2(max(u_exact * max(n_union, 1), 1e-300)))

    lam = min(max(fit.lam, 1e-12), 1 - 1e-12)
    # P(the record has no match on the other list): 1 - lambda min(n, m) under one-to-one
    # assignment, else 1 - lambda (a single pair); floored (EM's lambda is an estimate).
    no_match = 1 - lam if sizes is None else 1 - lam * min(sizes)
    thr = cfg.scale * (
        math.log2(cfg.p_match / (1 - cfg.p_match))
        - math.log2(lam)
        + math.log2(max(no_match, cfg.no_match_floor))
    )
    ex = NG - 1
    both = math.log2(max(fit.u[0][ex] * fit.u[1][ex], 1e-300) / max(fit.u_both_exact, 1e-300))
    return FSWeights(
        w(fit.m[0], fit.u[0], 0),
        w(fit.m[1], fit.u[1], 0),
        w(fit.m[2], fit.u[2], ND - 1),
        math.ceil(thr),
        tfc(fit.u[0][ex]),
        tfc(fit.u[1][ex]),
        cfg.tf,
        cfg.scale,
        cfg.tf_steps,
        clip(both),
        fit,
    )


# ---- the plaintext twin --------------------------------------------------------------------

BLOCK_ROWS = 512


def em_rows(n: int, m: int, cfg: FSConfig, seed: bytes = b"") -> npt.NDArray[np.int64]:
    """The public left rows whose pairs EM counts (all when n m <= ``cfg.em_pairs``).

    The subset is drawn from a public seed (the plan hash at the nodes), never from data.
    """
    if n * m <= cfg.em_pairs:
        return np.arange(n, dtype=np.int64)
    k = max(1, cfg.em_pairs // max(m, 1))
    rng = np.random.default_rng(int.from_bytes((seed or b"\0")[:16].ljust(16, b"\0"), "big"))
    return np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)


def pattern_counts_plain(
    left: EncodedPeople,
    right: EncodedPeople,
    cfg: FSConfig,
    rows: npt.ArrayLike | None = None,
    *,
    dedupe: bool = False,
) -> I64:
    """The 6 x 6 x 10 pattern counts over the pairs of the left ``rows`` (all by default);
    ``dedupe``: without the pairs of a record with itself."""
    idx = np.arange(len(left)) if rows is None else np.asarray(rows, dtype=np.int64)
    sub = left.take(idx)
    out = np.zeros(NG * NG * ND, dtype=np.int64)

    def add(lv: tuple[I64, I64, I64, I64, I64], sign: int) -> None:
        g, f, d = lv[0], lv[1], lv[2]
        out[:] += sign * np.bincount(((g * NG + f) * ND + d).reshape(-1), minlength=NG * NG * ND)

    for r0 in range(0, len(sub), BLOCK_ROWS):
        add(levels_plain(sub, right, cfg, slice(r0, min(len(sub), r0 + BLOCK_ROWS))), 1)
    if dedupe:
        add(levels_aligned_plain(sub, right.take(idx), cfg), -1)
    return out.reshape(NG, NG, ND)


def pattern_counts_from_levels(
    g: npt.NDArray[np.integer], f: npt.NDArray[np.integer], d: npt.NDArray[np.integer]
) -> I64:
    """The 6 x 6 x 10 pattern counts of pairs whose levels are given."""
    idx = (g.astype(np.int64) * NG + f) * ND + d
    out: I64 = np.bincount(idx.reshape(-1), minlength=NG * NG * ND).reshape(NG, NG, ND)
    return out


def weights_from_levels(
    lv: tuple[npt.NDArray[np.integer], ...], w: FSWeights, tg: I64 | None, tfam: I64 | None
) -> I64:
    """W of pairs from their levels (g, f, dob, exact_g, exact_f) and the left records'
    term-frequency units ``tg``, ``tfam`` (broadcast against the levels)."""
    g, f, d, ex_g, ex_f = (x.astype(np.int64) for x in lv)
    return _weights_from((g, f, d, ex_g, ex_f), w, tg, tfam)


def _weights_from(
    lv: tuple[I64, I64, I64, I64, I64], w: FSWeights, tg: I64 | None, tfam: I64 | None
) -> I64:
    g, f, d, ex_g, ex_f = lv
    out: I64 = (
        np.asarray(w.given, dtype=np.int64)[g]
        + np.asarray(w.family, dtype=np.int64)[f]
        + np.asarray(w.dob, dtype=np.int64)[d]
        + w.both_exact * ex_g * ex_f
    )
    if w.tf and tg is not None and tfam is not None:
        out = out + ex_g * (w.tf_given - tg) + ex_f * (w.tf_family - tfam)
    return out


def tf_units_plain(w: FSWeights, left: EncodedPeople, *others: EncodedPeople) -> tuple[I64, I64]:
    """Per left record: Lq of its two token-set counts over ``left`` and ``others``."""
    cg, cf = tf_counts_plain(left, *others)
    return tf_log_units(cg, w.scale, w.tf_steps), tf_log_units(cf, w.scale, w.tf_steps)


def weights_plain(
    left: EncodedPeople,
    right: EncodedPeople,
    w: FSWeights,
    cfg: FSConfig,
    rows: slice | None = None,
    tf_units: tuple[I64, I64] | None = None,
) -> I64:
    """Total weights W of the pairs ``left[rows] x right`` (exact integers; ``tf_units``
    per left record, by default counted over both lists)."""
    rows = rows if rows is not None else slice(0, len(left))
    lv = levels_plain(left, right, cfg, rows)
    if w.tf and tf_units is None:
        tf_units = tf_units_plain(w, left, right)
    if tf_units is None:
        return _weights_from(lv, w, None, None)
    return _weights_from(lv, w, tf_units[0][rows][:, None], tf_units[1][rows][:, None])


def pair_weights_plain(
    left: EncodedPeople,
    right: EncodedPeople,
    w: FSWeights,
    cfg: FSConfig,
    tf_units: tuple[I64, I64] | None = None,
) -> I64:
    """Twin of :func:`sharelake.linkage.fs_secure.fs_pair_weights`: W of K aligned pairs."""
    lv = levels_aligned_plain(left, right, cfg)
    if tf_units is None:
        return _weights_from(lv, w, None, None)
    return _weights_from(lv, w, tf_units[0], tf_units[1])


@dataclass(frozen=True)
class FSResult:
    """Matched row positions and the model that produced them."""

    left: I64
    right: I64
    weights: FSWeights

    def pairs(self) -> list[tuple[int, int]]:
        """The pairs as a list of ``(left row, right row)``."""
        return [(int(a), int(b)) for a, b in zip(self.left, self.right, strict=True)]

    def matrix(self, n: int, m: int) -> I64:
        """The n x m 0/1 match matrix."""
        out = np.zeros((n, m), dtype=np.int64)
        out[self.left, self.right] = 1
        return out


#: The weight added to a record paired with itself (dedupe): below every real pair.
DIAGONAL = -(1 << 14)


def fs_match_plain(
    left: EncodedPeople,
    right: EncodedPeople,
    cfg: FSConfig | None = None,
    *,
    weights: FSWeights | None = None,
    seed: bytes = b"",
    dedupe: bool = False,
) -> FSResult:
    """The plaintext twin of the secure Fellegi-Sunter linkage (same integers, same rules).

    EM on the pattern counts of :func:`em_rows` (unless ``weights`` are given), weights,
    threshold, then the mutual-best rule on W. ``dedupe``: ``left`` and ``right`` are
    the same list; a record is never paired with itself (each duplicate pair then
    appears in both orders).

    Examples
    --------
    >>> import pandas as pd
    >>> from sharelake.linkage.encode import encode_people
    >>> from sharelake.linkage.synth_hard import make_hard_lists
    >>> s = make_hard_lists(300, overlap=0.3, seed=7)
    >>> r = fs_match_plain(encode_people(s.left, seed=1), encode_people(s.right, seed=2))
    >>> len(r.pairs()) > 60
    True
    """
    cfg = cfg or FSConfig()
    n, m = len(left), len(right)
    if n == 0 or m == 0:
        e = np.zeros(0, dtype=np.int64)
        return FSResult(e, e.copy(), weights or FSWeights((0,) * NG, (0,) * NG, (0,) * ND, 0))
    if weights is None:
        rows = em_rows(n, m, cfg, seed)
        counts = pattern_counts_plain(left, right, cfg, rows, dedupe=dedupe)
        weights = weights_of(em_fit(counts, cfg), cfg, n + m, sizes=(n, m))
    tfu = None
    if weights.tf:
        tfu = tf_units_plain(weights, left) if dedupe else tf_units_plain(weights, left, right)
    row_best = np.zeros(n, dtype=np.int64)
    row_val = np.zeros(n, dtype=np.int64)
    col_val = np.full(m, np.iinfo(np.int64).min, dtype=np.int64)
    col_best = np.zeros(m, dtype=np.int64)
    for r0 in range(0, n, BLOCK_ROWS):
        rows_ = slice(r0, min(n, r0 + BLOCK_ROWS))
        s = weights_plain(left, right, weights, cfg, rows_, tfu)
        if dedupe:
            k = np.arange(rows_.stop - rows_.start)
            s[k, k + r0] += DIAGONAL
        rb = np.argmax(s, axis=1)
        row_best[rows_] = rb
        row_val[rows_] = s[np.arange(len(rb)), rb]
        cb = np.argmax(s, axis=0)
        cv = s[cb, np.arange(m)]
        better = cv > col_val
        col_val = np.where(better, cv, col_val)
        col_best = np.where(better, cb + r0, col_best)
    i = np.arange(n)
    ok = (row_val >= weights.threshold) & (col_best[row_best] == i)
    return FSResult(i[ok], row_best[ok], weights)

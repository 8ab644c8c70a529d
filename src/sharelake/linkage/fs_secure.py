"""Secure Fellegi-Sunter linkage: comparison levels, term frequencies and EM inside MPC.

The model, its levels and the EM are defined in :mod:`sharelake.linkage.fs` (Fellegi &
Sunter, JASA 1969; EM after Winkler 1988; term-frequency adjustment as in Splink, Linacre
et al., IJPDS 2022); this module evaluates it on the replicated sharing over Z_2^64 of
Araki, Furukawa, Lindell, Nof and Ohara (CCS 2016). The plaintext twin is
:func:`sharelake.linkage.fs.fs_match_plain`; every integer here equals the twin's.

Scoring interface (used by the blocked linkage too)
---------------------------------------------------
* :func:`fs_grid_weights`: the total weights W of a block of left rows against all
  right rows (local BLAS products for the bigram inner products).
* :func:`fs_pair_weights`: the weights of K aligned candidate pairs (left row k against
  right row k), given the secret encodings of both sides of every pair
  (:class:`~sharelake.linkage.fuzzy_inputs.SharedPeople` rows, e.g. gathered by an
  oblivious blocking step) and the left records' term-frequency units.
* :func:`fs_tf_units`: the per-record term-frequency units Lq(cnt) of a list, counted
  over the union of the lists by a secure group-by count.
* :func:`fs_em_counts` / :func:`fs_fit`: the pattern counts EM needs (opened) and the
  public weights from them.
* :func:`fs_match`: the whole all-pairs linkage (EM, TF, weights, threshold,
  mutual-best rule) returning secret match bits like :func:`sharelake.linkage.fuzzy.fuzzy_match`.

Per pair (one block of pairs), with all inner products of 0/1 one-hot or bigram rows:

1. Local products, ONE resharing: the four name inner products (both orders), the
   birth-date agreements ``ye``, ``y1``, ``me`` (month one-hots masked by "year known"),
   ``de`` (one-hot blocks), the day/month cross products ``s1``, ``s2`` (days 1-12 of
   one side against the months of the other), and the outer products of per-record
   flags ``yk``, ``mk``, ``dk`` and "both names non-empty" for the four slot pairings.
   Name products are correct modulo 2^21 (one float limb), the birth-date ones modulo
   2^22; every later comparison reads at most 16 bits and the EM count sums stay below
   2^22 (:data:`MAX_EM_PAIRS`).
2. The name order bit ``swap = i_gf + i_fg > i_gg + i_ff`` (one 10-bit comparison),
   then one round selecting the slot values by it, together with ``P1 = ye me``,
   ``MD = me de`` and ``sw = s1 s2`` (``P2 = ye mk`` is a local product).
3. Six 15-bit comparisons (Dice >= each of the three cut-offs per slot; exact is an
   8-bit equality on local terms), one AND (both exact) and one bit injection.
4. W = the public level weights (linear in these 0/1 values and in the local products
   ``P3 = P1 de``, ``P4 = P1 dk``, ``ye sw``, ``P1 sw``, ``y1 MD``) plus the
   term-frequency terms ``exact_slot * (tf_const - Lq(cnt))`` (one round).

LEAKAGE: :func:`fs_em_counts` opens the 6 x 6 x 10 counts of comparison patterns over
all pairs of the EM rows (a public random subset of the left rows, seeded by the plan,
when the lists have more than ``em_pairs`` pairs) -- aggregates over all pairs, stated in
SECURITY.md and bound by the plan's ``em`` parameter. Nothing else is opened: levels,
weights, counts of names, the order and the match bits stay secret; n, m, the public
configuration and the weights derived from the opened counts are public.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..mpc.arith import PreparedRight, check_products, local_matmul, mul, open_arith
from ..mpc.bits import BitShare, and_bits, and_bits_many, concat
from ..mpc.compare import eq_public, msb_many
from ..mpc.convert import b2a_bits
from ..mpc.party import Party
from ..mpc.scan import segment_starts, segmented_copy, segmented_sum
from ..mpc.shares import AShare, concat_a
from ..mpc.shuffle import shuffle
from ..mpc.sort import sort_undoable, unsort
from .band_check import band_products
from .encode import DOB_DAY_SLICE, DOB_MONTH_SLICE, DOB_YEAR_SLICE
from .fs import ND, NG, FSConfig, FSWeights, em_fit, em_rows, tf_thresholds, weights_of
from .fuzzy_inputs import SharedPeople
from .kernels import (
    Tree,
    and_all,
    band_terms,
    cat,
    dots,
    eq0_terms,
    ones,
    prepared_right,
    reduce_trees,
    right_share,
    rows_of,
    split,
    tile_rows,
    winners,
)

__all__ = [
    "MAX_EM_PAIRS",
    "WINDOW_COLUMNS",
    "WINDOW_MATRICES",
    "fs_em_counts",
    "fs_fit",
    "fs_grid_weights",
    "fs_match",
    "fs_pair_weights",
    "fs_tf_units",
    "fs_window_weights",
]

#: Ring bits of the name products (one float64 limb for 2 x 512 columns).
NAME_BITS = 21
#: Ring bits of the birth-date products (the EM count sums must stay below 2^22).
DOB_BITS = 22
#: At most this many pairs are counted for EM (their count sums fit DOB_BITS).
MAX_EM_PAIRS = (1 << DOB_BITS) - 1
#: Width of the name-order comparison (|i_gg + i_ff - i_gf - i_fg| <= 4 * 126).
ORDER_BITS = 11
#: Pairs per block.
BLOCK_PAIRS = 1 << 20


# ---- 32-bit resharing --------------------------------------------------------------------


def _reshare_sum(p: Party, z: np.ndarray, *, checked: bool = False) -> AShare:
    """3-out-of-3 terms -> replicated sharing correct modulo 2^32 (one round).

    As :func:`sharelake.mpc.arith.mul` (Araki et al. 2016) with the masked term sent as
    32 bits: every value this module reshares is read on at most 32 bits later.
    ``checked=True``: the caller verifies the result
    (:func:`sharelake.mpc.arith.check_products`); otherwise the step is noted as
    unverified (in the malicious setting only the semi-honest paths reach it).
    """
    if not checked:
        p.checks.unverified("linkage.fs_secure.reshare_sum")
    z = z.astype(np.uint32)
    z += p.prg_own.fill(np.empty(z.shape, dtype=np.uint32))
    z -= p.prg_next.fill(np.empty(z.shape, dtype=np.uint32))
    got = p.exchange({p.prev: z}, {p.next: z.nbytes})
    other = np.frombuffer(got[p.next], dtype=np.uint32).astype(np.uint64)
    return AShare(z.astype(np.uint64), other)


def _dots(p: Party, groups: list[list[tuple[AShare, AShare]]]) -> list[AShare]:
    """Sums of elementwise products, each reshared (32 bits), all in one round.

    In the malicious setting every product is a :func:`sharelake.mpc.arith.mul` product
    (queued for the batched check; :func:`sharelake.linkage.kernels.dots`), 64-bit wires.
    """
    if p.checks.enabled:
        return dots(p, groups)
    terms = []
    for group in groups:
        z: np.ndarray | None = None
        for x, y in group:
            t = x.a * (y.a + y.b)
            t += x.b * y.a
            z = t if z is None else z + t
        assert z is not None
        terms.append(z.reshape(-1))
    return split(_reshare_sum(p, np.concatenate(terms)), [len(t) for t in terms])


def _b2a(p: Party, c: BitShare) -> AShare:
    return b2a_bits(p, c, wire=32)


# ---- per-record values -------------------------------------------------------------------


def _one_minus(p: Party, x: AShare) -> AShare:
    return (-x).add_public(np.uint64(1), p.id)


@dataclass(frozen=True)
class _Rec:
    """Per-record shares: name counts c' = max(c, 1), non-empty flags, date presence,
    the year one-hot masked by "month known" (whose inner products give ye * mk) and the
    month one-hot masked by "year known" (whose inner products give me * yk)."""

    cg: AShare
    cf: AShare
    nzg: AShare
    nzf: AShare
    py: AShare
    pd: AShare
    ym: AShare  # n x 136
    mm: AShare  # n x 12

    def take(self, rows: slice | np.ndarray) -> _Rec:
        return _Rec(*(AShare(x.a[rows], x.b[rows]) for x in self.__dict__.values()))


def _records(p: Party, t: SharedPeople) -> _Rec:
    n = t.n
    cs = cat([t.columns["given_count"], t.columns["family_count"]])
    z = b2a_bits(p, eq_public(p, cs, 0, bits=8))
    zg, zf = split(z, [n, n])
    cg, cf = split(cs + z, [n, n])
    c = t.columns
    parts = _dob_parts(t, slice(0, n))
    year, month = parts["y"], parts["m"]
    pm, py = c["dob_month_present"], c["dob_year_present"]
    w, wm = year.a.shape[1], month.a.shape[1]
    pmr = AShare(np.repeat(pm.a, w), np.repeat(pm.b, w))
    pyr = AShare(np.repeat(py.a, wm), np.repeat(py.b, wm))
    ym, mm = _dots(
        p,
        [
            [(AShare(year.a.reshape(-1), year.b.reshape(-1)), pmr)],
            [(AShare(month.a.reshape(-1), month.b.reshape(-1)), pyr)],
        ],
    )
    return _Rec(
        cg,
        cf,
        _one_minus(p, zg),
        _one_minus(p, zf),
        c["dob_year_present"],
        c["dob_day_present"],
        ym.reshape(n, w),
        mm.reshape(n, wm),
    )


# ---- stage 1: raw per-pair values ----------------------------------------------------------


def _outer_term(x: AShare, y: AShare) -> np.ndarray:
    """3-out-of-3 term of the n x m products x_i y_j (flattened row-major)."""
    t = np.multiply.outer(x.a, y.a + y.b)
    t += np.multiply.outer(x.b, y.a)
    out: np.ndarray = t.reshape(-1)
    return out


def _rowdot_term(x: AShare, y: AShare) -> np.ndarray:
    """3-out-of-3 term of the row-wise inner products of aligned rows (or products)."""
    t = x.a * (y.a + y.b)
    t += x.b * y.a
    out: np.ndarray = t.sum(axis=1, dtype=np.uint64) if t.ndim == 2 else t
    return out


def _prod_term(x: AShare, y: AShare) -> np.ndarray:
    """3-out-of-3 term of the elementwise product of two replicated sharings."""
    t: np.ndarray = x.a * (y.a + y.b)
    t += x.b * y.a
    return t


def _year_shift(y: AShare) -> AShare:
    """Per row: the year one-hot moved one year up plus one year down (local)."""

    def sh(v: np.ndarray) -> np.ndarray:
        out = np.zeros_like(v)
        out[:, 1:] += v[:, :-1]
        out[:, :-1] += v[:, 1:]
        return out

    return AShare(sh(y.a), sh(y.b))


def _first12(x: AShare) -> AShare:
    """The first 12 columns (days 1..12, the ones a month can be swapped with)."""
    return AShare(x.a[:, :12].copy(), x.b[:, :12].copy())


def _dob_parts(t: SharedPeople, rows: slice | np.ndarray) -> dict[str, AShare]:
    d = t.matrices["dob"]
    return {
        k: AShare(d.a[rows, sl], d.b[rows, sl])
        for k, sl in (("y", DOB_YEAR_SLICE), ("m", DOB_MONTH_SLICE), ("d", DOB_DAY_SLICE))
    }


@dataclass(frozen=True)
class _Right:
    """The right list's operands of the block products, prepared once."""

    names: PreparedRight
    ye: PreparedRight
    y1: PreparedRight
    me: PreparedRight  # the right's month one-hots masked by "year known"
    de: PreparedRight
    d12: PreparedRight  # the right's day one-hots of days 1..12 (day/month swaps)
    p2: PreparedRight

    @classmethod
    def of(cls, b: SharedPeople, rb: _Rec) -> _Right:
        gb, fb = b.matrices["given"], b.matrices["family"]
        names = AShare(np.concatenate([gb.a, fb.a]), np.concatenate([gb.b, fb.b]))
        parts = _dob_parts(b, slice(0, b.n))
        return cls(
            prepared_right(names, NAME_BITS),
            prepared_right(parts["y"], DOB_BITS),
            prepared_right(_year_shift(parts["y"]), DOB_BITS),
            prepared_right(rb.mm, DOB_BITS),
            prepared_right(parts["d"], DOB_BITS),
            prepared_right(_first12(parts["d"]), DOB_BITS),
            prepared_right(rb.ym, DOB_BITS),
        )


#: Stage-1 values reshared (used in products) and kept as local terms (used linearly).
_SHARED = ("i_gg", "i_gf", "i_fg", "i_ff", "ye", "me", "de", "dk", "y1", "s1", "s2")
_LINEAR = ("yk", "p2")


@dataclass(frozen=True)
class _Raw:
    """Stage 1 of a batch of pairs: replicated values, local 3-out-of-3 terms of the
    values used only linearly, and per-pair copies of per-record values."""

    rep: dict[str, AShare]
    lin: dict[str, np.ndarray]
    per: dict[str, AShare]  # cga, cfa, cgb, cfb, nza_g, nza_f, nzg_b, nzf_b
    exact: list[BitShare]  # Dice 1 for the pairings gg, gf, fg, ff


def _exact4(p: Party, ip: list[np.ndarray], sizes: list[np.ndarray]) -> list[BitShare]:
    """Dice = 1 for the four slot pairings, straight from the local terms.

    2 i - s lies in [-252, 0] (i <= min(c_a, c_b), s = c'_a + c'_b <= 252), so it is 0
    exactly when it is 0 modulo 2^8: an 8-bit equality test on this party's
    3-out-of-3 terms (:func:`sharelake.linkage.fuzzy._eq0_terms`), no resharing.
    """
    n = len(ip[0])
    z = np.concatenate([(i << np.uint64(1)) - s for i, s in zip(ip, sizes, strict=True)])
    e = eq0_terms(p, z, 8)
    return [e[k * n : (k + 1) * n] for k in range(4)]


def _exact4_checked(p: Party, ip: list[AShare], sizes: list[AShare]) -> list[BitShare]:
    """:func:`_exact4` in the malicious setting: 2 i - s from the VERIFIED reshared inner
    products, then the checked equality (:func:`sharelake.mpc.compare.eq_public`) on 8
    bits; no swapped terms (the bytes :func:`eq0_terms` swaps no check covers)."""
    n = len(ip[0])
    z = concat_a([i.scale(2) - sz for i, sz in zip(ip, sizes, strict=True)])
    e = eq_public(p, z, 0, bits=8)
    return [e[k * n : (k + 1) * n] for k in range(4)]


def _rowdots_checked(p: Party, pairs: list[tuple[AShare, AShare]]) -> list[AShare]:
    """Row-wise inner products (or elementwise products of 1-D values) of aligned rows,
    every product a :func:`sharelake.mpc.arith.mul` product (queued for the batched
    check), summed locally; one round for all."""
    xs, ys, shapes = [], [], []
    for x, y in pairs:
        xa, xb = x.a.reshape(len(x), -1), x.b.reshape(len(x), -1)
        ya, yb = y.a.reshape(len(y), -1), y.b.reshape(len(y), -1)
        xs.append(AShare(xa.reshape(-1), xb.reshape(-1)))
        ys.append(AShare(ya.reshape(-1), yb.reshape(-1)))
        shapes.append(xa.shape)
    prod = mul(p, concat_a(xs), concat_a(ys))
    out, off = [], 0
    for k, d in shapes:
        a = prod.a[off : off + k * d].reshape(k, d).sum(axis=1, dtype=np.uint64)
        b = prod.b[off : off + k * d].reshape(k, d).sum(axis=1, dtype=np.uint64)
        out.append(AShare(a, b))
        off += k * d
    return out


def _raw_grid(p: Party, a: SharedPeople, ra: _Rec, rb: _Rec, rows: slice, rp: _Right) -> _Raw:
    """Stage 1 for the pairs ``a[rows] x b`` (flattened row-major), ONE resharing."""
    nb = rows.stop - rows.start
    m = len(rb.cg)
    ga, fa = (a.matrices[f][rows] for f in ("given", "family"))
    left = np.concatenate(
        [np.concatenate([ga.a, ga.b], axis=1), np.concatenate([fa.a, fa.b], axis=1)]
    )
    ip = rp.names.matmul(left)  # (2 nb, 2 m)
    la = ra.take(rows)
    parts = _dob_parts(a, rows)

    def mm(prep: PreparedRight, x: AShare) -> np.ndarray:
        out: np.ndarray = prep.matmul(np.concatenate([x.a, x.b], axis=1)).reshape(-1)
        return out

    terms = [
        ip[:nb, :m].reshape(-1),
        ip[:nb, m:].reshape(-1),
        ip[nb:, :m].reshape(-1),
        ip[nb:, m:].reshape(-1),
        mm(rp.ye, parts["y"]),
        mm(rp.me, la.mm),
        mm(rp.de, parts["d"]),
        _outer_term(la.pd, rb.pd),
        mm(rp.y1, parts["y"]),
        mm(rp.me, _first12(parts["d"])),
        mm(rp.d12, la.mm),
    ]
    mal = p.checks.enabled
    if mal:  # used only linearly, but reshared and verified too (see _weights_checked)
        terms += [_outer_term(la.py, rb.py), mm(rp.p2, la.ym)]
    shared = split(_reshare_sum(p, np.concatenate(terms), checked=mal), [nb * m] * len(terms))
    lin: dict[str, np.ndarray] = {}
    if mal:
        _check_grid(p, ga, fa, la, parts, rb, rp, shared)
    else:
        lin = {
            "yk": _outer_term(la.py, rb.py),
            "p2": mm(rp.p2, la.ym),
        }

    def rep(x: AShare) -> AShare:  # per left record, repeated along the row
        return AShare(np.repeat(x.a, m), np.repeat(x.b, m))

    def til(x: AShare) -> AShare:  # per right record, tiled for every row
        return AShare(np.tile(x.a, nb), np.tile(x.b, nb))

    per = {
        "cga": rep(la.cg),
        "cfa": rep(la.cf),
        "nza_g": rep(la.nzg),
        "nza_f": rep(la.nzf),
        "cgb": til(rb.cg),
        "cfb": til(rb.cf),
        "nzg_b": til(rb.nzg),
        "nzf_b": til(rb.nzf),
    }
    if mal:
        ex = _exact4_checked(p, shared[:4], _sizes4(per))
    else:
        pc = {k: per[k].a for k in ("cga", "cfa", "cgb", "cfb")}
        ex = _exact4(
            p,
            terms[:4],
            [
                pc["cga"] + pc["cgb"],
                pc["cga"] + pc["cfb"],
                pc["cfa"] + pc["cgb"],
                pc["cfa"] + pc["cfb"],
            ],
        )
    return _Raw(dict(zip(_SHARED + _LINEAR, shared, strict=False)), lin, per, ex)


def _sizes4(per: dict[str, AShare]) -> list[AShare]:
    """c'_a + c'_b of the pairings gg, gf, fg, ff (replicated)."""
    return [
        per["cga"] + per["cgb"],
        per["cga"] + per["cfb"],
        per["cfa"] + per["cgb"],
        per["cfa"] + per["cfb"],
    ]


def _check_grid(
    p: Party,
    ga: AShare,
    fa: AShare,
    la: _Rec,
    parts: dict[str, AShare],
    rb: _Rec,
    rp: _Right,
    shared: list[AShare],
) -> None:
    """Verify the grid's one resharing (malicious setting): every term is a matrix
    product (left rows x right rows) with operands at hand, so Freivalds' check
    (:func:`sharelake.mpc.arith.check_products`, compressed to 41 x 41 per product)
    covers it, names modulo 2^21, birth dates modulo 2^22."""
    nb, m = len(ga), len(rb.cg)

    def grid(x: AShare) -> AShare:
        return x.reshape(nb, m)

    def hcat(xs: list[AShare]) -> AShare:
        return AShare(np.hstack([x.a for x in xs]), np.hstack([x.b for x in xs]))

    def col(x: AShare) -> AShare:  # a left record's flag as an nb x 1 matrix
        return x.reshape(nb, 1)

    def row(x: AShare) -> AShare:  # a right record's flag as a 1 x m matrix
        return x.reshape(1, m)

    gg, gf, fg, ff = (grid(x) for x in shared[:4])
    ye, me, de, dk, y1, s1, s2, yk, p2 = (grid(x) for x in shared[4:])
    names = AShare(np.block([[gg.a, gf.a], [fg.a, ff.a]]), np.block([[gg.b, gf.b], [fg.b, ff.b]]))
    items = [
        (concat_a([ga, fa]), right_share(rp.names), names),
        (parts["y"], hcat([right_share(rp.ye), right_share(rp.y1)]), hcat([ye, y1])),
        (la.mm, right_share(rp.me), me),
        (parts["d"], right_share(rp.de), de),
        (col(la.pd), row(rb.pd), dk),
        (_first12(parts["d"]), right_share(rp.me), s1),
        (la.mm, right_share(rp.d12), s2),
        (col(la.py), row(rb.py), yk),
        (la.ym, right_share(rp.p2), p2),
    ]
    widths = [NAME_BITS] + [DOB_BITS] * (len(items) - 1)
    check_products(p, items, bits=widths, check="fs scores")


def _raw_aligned(p: Party, a: SharedPeople, b: SharedPeople, ra: _Rec, rb: _Rec) -> _Raw:
    """Stage 1 for K aligned pairs (a[k], b[k]), ONE resharing (in the malicious setting
    one round of verified products, :func:`_raw_aligned_checked`)."""
    pa, pb = _dob_parts(a, slice(0, a.n)), _dob_parts(b, slice(0, b.n))
    ga, fa = a.matrices["given"], a.matrices["family"]
    gb, fb = b.matrices["given"], b.matrices["family"]
    if p.checks.enabled:
        return _raw_aligned_checked(p, pa, pb, (ga, fa, gb, fb), ra, rb)
    terms = [
        _rowdot_term(ga, gb),
        _rowdot_term(ga, fb),
        _rowdot_term(fa, gb),
        _rowdot_term(fa, fb),
        _rowdot_term(pa["y"], pb["y"]),
        _rowdot_term(ra.mm, rb.mm),
        _rowdot_term(pa["d"], pb["d"]),
        _rowdot_term(ra.pd, rb.pd),
        _rowdot_term(pa["y"], _year_shift(pb["y"])),
        _rowdot_term(_first12(pa["d"]), rb.mm),
        _rowdot_term(ra.mm, _first12(pb["d"])),
    ]
    k = a.n
    shared = split(_reshare_sum(p, np.concatenate(terms)), [k] * len(terms))
    lin = {
        "yk": _rowdot_term(ra.py, rb.py),
        "p2": _rowdot_term(ra.ym, rb.ym),
    }
    per = _aligned_per(ra, rb)
    ga_, fa_, gb_, fb_ = ra.cg.a, ra.cf.a, rb.cg.a, rb.cf.a
    ex = _exact4(p, terms[:4], [ga_ + gb_, ga_ + fb_, fa_ + gb_, fa_ + fb_])
    return _Raw(dict(zip(_SHARED, shared, strict=True)), lin, per, ex)


def _aligned_per(ra: _Rec, rb: _Rec) -> dict[str, AShare]:
    """The per-record values of K aligned pairs (left record k, right record k)."""
    return {
        "cga": ra.cg,
        "cfa": ra.cf,
        "nza_g": ra.nzg,
        "nza_f": ra.nzf,
        "cgb": rb.cg,
        "cfb": rb.cf,
        "nzg_b": rb.nzg,
        "nzf_b": rb.nzf,
    }


def _raw_aligned_checked(
    p: Party,
    pa: dict[str, AShare],
    pb: dict[str, AShare],
    nm: tuple[AShare, AShare, AShare, AShare],
    ra: _Rec,
    rb: _Rec,
) -> _Raw:
    """:func:`_raw_aligned` with every product verified: the row inner products are
    :func:`sharelake.mpc.arith.mul` products summed locally (d words per pair and
    vector instead of one)."""
    ga, fa, gb, fb = nm
    vals = _rowdots_checked(
        p,
        [
            (ga, gb),
            (ga, fb),
            (fa, gb),
            (fa, fb),
            (pa["y"], pb["y"]),
            (ra.mm, rb.mm),
            (pa["d"], pb["d"]),
            (ra.pd, rb.pd),
            (pa["y"], _year_shift(pb["y"])),
            (_first12(pa["d"]), rb.mm),
            (ra.mm, _first12(pb["d"])),
            (ra.py, rb.py),
            (ra.ym, rb.ym),
        ],
    )
    per = _aligned_per(ra, rb)
    ex = _exact4_checked(p, vals[:4], _sizes4(per))
    return _Raw(dict(zip(_SHARED + _LINEAR, vals, strict=True)), {}, per, ex)


def _stack(xs: list[AShare], dim: int) -> AShare:
    """(n, k, dim) stack of (n, d_j) matrices, each zero-padded to ``dim`` columns."""
    n = xs[0].a.shape[0]
    a = np.zeros((n, len(xs), dim), dtype=np.uint64)
    b = np.zeros((n, len(xs), dim), dtype=np.uint64)
    for j, x in enumerate(xs):
        a[:, j, : x.a.shape[1]] = x.a
        b[:, j, : x.b.shape[1]] = x.b
    return AShare(a, b)


def _raw_window(p: Party, t: SharedPeople, rec: _Rec, r0: int, r1: int, w: int) -> _Raw:
    """Stage 1 for the window pairs (i, i + d) of one sorted list, r0 <= i < r1,
    d = 1..w, flattened d-major; ONE resharing. Partners beyond the list are zero rows.

    The inner products are banded BLAS products (:func:`sharelake.linkage.kernels.band_terms`):
    the names as a (given, family) stack (all four pairings at once, modulo 2^21 as in
    :func:`_raw_grid`), the birth-date one-hots in two stacks (136 columns: year and
    year-masked-by-month against year, shifted year and masked year; 31 columns: masked
    month, days 1-12 and day one-hot against the same), modulo 2^32.
    """
    hi = min(t.n, r1 + w)
    nl = r1 - r0
    rows = slice(r0, hi)
    g, f = (t.matrices[k] for k in ("given", "family"))
    names = AShare(
        np.stack([g.a[rows], f.a[rows]], axis=1), np.stack([g.b[rows], f.b[rows]], axis=1)
    )
    parts = _dob_parts(t, rows)
    sub = rec.take(rows)
    year, days = parts["y"], parts["d"]
    dy = year.a.shape[1]
    ys = (_stack([year, sub.ym], dy), _stack([year, _year_shift(year), sub.ym], dy))
    small = _stack([sub.mm, _first12(days), days], days.a.shape[1])
    if p.checks.enabled:
        return _raw_window_checked(p, rec, r0, r1, w, t.n, names, ys, small)
    zn = band_terms(names, names, nl, w, NAME_BITS)  # (w, nl, 2, 2)
    zy = band_terms(*ys, nl, w, 32)  # [0, 0] ye, [0, 1] y1, [1, 2] p2
    zs = band_terms(small, small, nl, w, 32)  # [0, 0] me, [1, 0] s1, [0, 1] s2, [2, 2] de

    def rep(x: AShare) -> AShare:  # x_i for every d
        return AShare(np.tile(x.a[r0:r1], w), np.tile(x.b[r0:r1], w))

    def nxt(x: AShare) -> AShare:  # x_(i+d) for every d (zero beyond the end)
        ia = np.zeros((w, nl), dtype=np.uint64)
        ib = np.zeros((w, nl), dtype=np.uint64)
        for d in range(1, w + 1):
            lo, top = r0 + d, min(t.n, r1 + d)
            ia[d - 1, : top - lo] = x.a[lo:top]
            ib[d - 1, : top - lo] = x.b[lo:top]
        return AShare(ia.reshape(-1), ib.reshape(-1))

    def flat(z: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(z).reshape(-1)

    terms = [
        flat(zn[:, :, 0, 0]),
        flat(zn[:, :, 0, 1]),
        flat(zn[:, :, 1, 0]),
        flat(zn[:, :, 1, 1]),
        flat(zy[:, :, 0, 0]),
        flat(zs[:, :, 0, 0]),
        flat(zs[:, :, 2, 2]),
        _prod_term(rep(rec.pd), nxt(rec.pd)),
        flat(zy[:, :, 0, 1]),
        flat(zs[:, :, 1, 0]),
        flat(zs[:, :, 0, 1]),
    ]
    k = w * nl
    shared = split(_reshare_sum(p, np.concatenate(terms)), [k] * len(terms))
    lin = {"yk": _prod_term(rep(rec.py), nxt(rec.py)), "p2": flat(zy[:, :, 1, 2])}
    per = {
        "cga": rep(rec.cg),
        "cfa": rep(rec.cf),
        "nza_g": rep(rec.nzg),
        "nza_f": rep(rec.nzf),
        "cgb": nxt(rec.cg),
        "cfb": nxt(rec.cf),
        "nzg_b": nxt(rec.nzg),
        "nzf_b": nxt(rec.nzf),
    }
    ga_, fa_, gb_, fb_ = (per[x].a for x in ("cga", "cfa", "cgb", "cfb"))
    ex = _exact4(p, terms[:4], [ga_ + gb_, ga_ + fb_, fa_ + gb_, fa_ + fb_])
    return _Raw(dict(zip(_SHARED, shared, strict=True)), lin, per, ex)


def _window_pairs(x: AShare, r0: int, r1: int, w: int, n: int) -> tuple[AShare, AShare]:
    """(x_i for every d, x_(i+d) for every d; zero beyond the end), d-major (local)."""
    nl = r1 - r0
    ia = np.zeros((w, nl), dtype=np.uint64)
    ib = np.zeros((w, nl), dtype=np.uint64)
    for d in range(1, w + 1):
        lo, top = r0 + d, min(n, r1 + d)
        ia[d - 1, : top - lo] = x.a[lo:top]
        ib[d - 1, : top - lo] = x.b[lo:top]
    here = AShare(np.tile(x.a[r0:r1], w), np.tile(x.b[r0:r1], w))
    return here, AShare(ia.reshape(-1), ib.reshape(-1))


def _raw_window_checked(
    p: Party,
    rec: _Rec,
    r0: int,
    r1: int,
    w: int,
    n: int,
    names: AShare,
    ys: tuple[AShare, AShare],
    small: AShare,
) -> _Raw:
    """:func:`_raw_window` in the malicious setting: the three banded products are
    reshared as block products and verified (:func:`sharelake.linkage.band_check.band_products`),
    the presence products are :func:`sharelake.mpc.arith.mul` products, the exact-name
    tests the checked equality (:func:`_exact4_checked`)."""
    nl = r1 - r0
    zn, zy, zs = band_products(
        p, [(names, names, NAME_BITS), (*ys, 32), (small, small, 32)], nl, w, check="fs scores"
    )

    def flat(z: AShare, s: int, t: int) -> AShare:
        return AShare(z.a[:, :, s, t].reshape(-1), z.b[:, :, s, t].reshape(-1))

    pairs = {k: _window_pairs(getattr(rec, k), r0, r1, w, n) for k in ("pd", "py")}
    dk, yk = _rowdots_checked(p, [pairs["pd"], pairs["py"]])
    shared = [
        flat(zn, 0, 0),
        flat(zn, 0, 1),
        flat(zn, 1, 0),
        flat(zn, 1, 1),
        flat(zy, 0, 0),
        flat(zs, 0, 0),
        flat(zs, 2, 2),
        dk,
        flat(zy, 0, 1),
        flat(zs, 1, 0),
        flat(zs, 0, 1),
        yk,
        flat(zy, 1, 2),
    ]
    per = {}
    for k, (here, there) in (
        ("cg", _window_pairs(rec.cg, r0, r1, w, n)),
        ("cf", _window_pairs(rec.cf, r0, r1, w, n)),
        ("nzg", _window_pairs(rec.nzg, r0, r1, w, n)),
        ("nzf", _window_pairs(rec.nzf, r0, r1, w, n)),
    ):
        per[{"cg": "cga", "cf": "cfa", "nzg": "nza_g", "nzf": "nza_f"}[k]] = here
        per[{"cg": "cgb", "cf": "cfb", "nzg": "nzg_b", "nzf": "nzf_b"}[k]] = there
    ex = _exact4_checked(p, shared[:4], _sizes4(per))
    return _Raw(dict(zip(_SHARED + _LINEAR, shared, strict=True)), {}, per, ex)


# ---- stages 2-3: levels ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Levels:
    """Replicated 0/1 values of a batch of pairs, the local terms of stage 1, and the
    right side's non-empty flag of each slot (chosen by the name order)."""

    ex: tuple[AShare, AShare]  # slot g, slot f
    cuts: tuple[list[AShare], list[AShare]]  # Dice >= each cut-off, ascending
    nza: tuple[AShare, AShare]
    nzb: tuple[AShare, AShare]
    rep: dict[str, AShare]  # ye, me, de, dk, y1, p1, md, sw (malicious: yk, p2 too)
    lin: dict[str, np.ndarray]  # yk, p2 (semi-honest; empty in the malicious setting)


def _cmp_bits(cfg: FSConfig) -> int:
    """Signed width of 2 i T - t s (|.| <= 2 T 126 + T 252 for t <= T)."""
    return (4 * cfg.t_scale * 126).bit_length() + 1


def _levels(p: Party, raw: _Raw, cfg: FSConfig) -> _Levels:
    r, q = raw.rep, raw.per
    (neg,) = msb_many(p, [r["i_gg"] + r["i_ff"] - r["i_gf"] - r["i_fg"]], bits=ORDER_BITS)
    swap = _b2a(p, neg)  # 1: the swapped order has strictly more shared bigrams
    d_ig, d_if, d_cb, d_nz, p1, md, sw = _dots(
        p,
        [
            [(swap, r["i_gf"] - r["i_gg"])],
            [(swap, r["i_fg"] - r["i_ff"])],
            [(swap, q["cfb"] - q["cgb"])],
            [(swap, q["nzf_b"] - q["nzg_b"])],
            [(r["ye"], r["me"])],
            [(r["me"], r["de"])],
            [(r["s1"], r["s2"])],
        ],
    )
    i_g, i_f = r["i_gg"] + d_ig, r["i_ff"] + d_if
    cb_g = q["cgb"] + d_cb
    s_g = q["cga"] + cb_g
    s_f = q["cfa"] + q["cgb"] + q["cfb"] - cb_g
    nzb_g = q["nzg_b"] + d_nz
    nzb_f = q["nzg_b"] + q["nzf_b"] - nzb_g
    tests = []
    for i, s in ((i_g, s_g), (i_f, s_f)):
        tests += [i.scale(2 * cfg.t_scale) - s.scale(t) for t in cfg.name_cuts]
    negs = msb_many(p, tests, bits=_cmp_bits(cfg))
    gg, gf, fg, ff = raw.exact
    # the chosen pairing's exact bit: x ^ (swap & (y ^ x)), one AND for both slots
    sel = and_bits_many(p, [(neg, gf ^ gg), (neg, fg ^ ff)])
    ex_g, ex_f = gg ^ sel[0], ff ^ sel[1]
    n, k = len(i_g), len(cfg.name_cuts)
    ok = split(_b2a(p, concat([ex_g, ex_f, *negs])), [n] * (2 + 2 * k))
    cut = [_one_minus(p, x) for x in ok[2:]]  # Dice >= cut-off: NOT (2 i T - t s < 0)
    return _Levels(
        (ok[0], ok[1]),
        (cut[:k], cut[k:]),
        (q["nza_g"], q["nza_f"]),
        (nzb_g, nzb_f),
        {
            **{x: r[x] for x in ("ye", "me", "de", "dk", "y1", *_LINEAR) if x in r},
            "p1": p1,
            "md": md,
            "sw": sw,
        },
        raw.lin,
    )


#: Birth-date level one-hot (rows: the levels of :data:`sharelake.linkage.fs.DOB_LEVELS`)
#: from the basis (1, ye, y1, yk, P1, P2, P3, P4, ye sw, P1 sw, y1 MD).
_DOB_MAP = np.array(
    [
        [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],  # full
        [0, 0, 0, 0, 0, 0, -1, 1, 0, 0, 0],  # ym
        [0, 0, 0, 0, 1, 0, 0, -1, 0, 0, 0],  # ym_part
        [0, 0, 0, 0, 0, 0, 0, 0, 1, -1, 0],  # y_swap
        [0, 0, 0, 0, -1, 1, 0, 0, -1, 1, 0],  # y
        [0, 1, 0, 0, 0, -1, 0, 0, 0, 0, 0],  # y_part
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],  # y1_md
        [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, -1],  # y1
        [0, -1, -1, 1, 0, 0, 0, 0, 0, 0, 0],  # differ
        [1, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0],  # missing
    ],
    dtype=np.int64,
)
#: Level one-hot of a name slot (null, low, fair, mid, high, exact) from its basis
#: (1, nz, Dice >= each cut-off, exact).
_SLOT_MAP = np.eye(NG, dtype=np.int64) - np.eye(NG, k=1, dtype=np.int64)


def _u64(c: int) -> np.uint64:
    return np.uint64(c % (1 << 64))


# ---- stage 4: weights ----------------------------------------------------------------------


def _weights(p: Party, lv: _Levels, w: FSWeights, tf: tuple[AShare, AShare] | None) -> AShare:
    """W of each pair of the batch, ONE resharing at the end.

    Every product used only linearly (P3, P4, the slot non-empty flags, both-exact, the
    term-frequency terms) and every stage-1 value used only linearly enters W as this
    party's 3-out-of-3 term; a replicated value x enters as its first component x_i.
    ``tf``: the left records' Lq per pair (or None).
    """
    if p.checks.enabled:
        return _weights_checked(p, lv, w, tf)
    n = len(lv.ex[0])
    term = np.zeros(n, dtype=np.uint64)

    def add(t: np.ndarray, c: int) -> None:
        nonlocal term
        if c:
            term += t * _u64(c)

    def rep(x: AShare, c: int) -> None:
        add(x.a, c)

    cd = (_DOB_MAP.T @ np.asarray(w.dob, dtype=np.int64)).tolist()  # basis coefficients
    d = lv.rep
    if p.id == 0:
        term += _u64(int(cd[0]) + w.given[0] + w.family[0])
    rep(d["ye"], int(cd[1]))
    rep(d["y1"], int(cd[2]))
    add(lv.lin["yk"], int(cd[3]))
    rep(d["p1"], int(cd[4]))
    add(lv.lin["p2"], int(cd[5]))
    add(_prod_term(d["p1"], d["de"]), int(cd[6]))
    add(_prod_term(d["p1"], d["dk"]), int(cd[7]))
    add(_prod_term(d["ye"], d["sw"]), int(cd[8]))
    add(_prod_term(d["p1"], d["sw"]), int(cd[9]))
    add(_prod_term(d["y1"], d["md"]), int(cd[10]))
    for k, tab in enumerate((w.given, w.family)):
        add(_prod_term(lv.nza[k], lv.nzb[k]), tab[1] - tab[0])
        for j, c in enumerate(lv.cuts[k]):
            rep(c, tab[j + 2] - tab[j + 1])
        rep(lv.ex[k], tab[NG - 1] - tab[NG - 2])
    add(_prod_term(lv.ex[0], lv.ex[1]), w.both_exact)
    if w.tf and tf is not None:
        for k, const in enumerate((w.tf_given, w.tf_family)):
            add(_prod_term(lv.ex[k], (-tf[k]).add_public(np.int64(const), p.id)), 1)
    return _reshare_sum(p, term)


def _weights_checked(
    p: Party, lv: _Levels, w: FSWeights, tf: tuple[AShare, AShare] | None
) -> AShare:
    """:func:`_weights` in the malicious setting: every stage-1 value is a verified
    replicated value, the products are :func:`sharelake.mpc.arith.mul` products (queued
    for the batched check), grouped by their left factor (seven a pair at most instead
    of one resharing); no resharing of local terms."""
    n = len(lv.ex[0])
    cd = [int(c) for c in (_DOB_MAP.T @ np.asarray(w.dob, dtype=np.int64)).tolist()]
    d = lv.rep
    out = AShare(np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint64))
    out = out.add_public(_u64(cd[0] + w.given[0] + w.family[0]), p.id)

    def lin(x: AShare, c: int) -> None:
        nonlocal out
        if c:
            out = out + x.scale(c)

    for key, c in (("ye", cd[1]), ("y1", cd[2]), ("yk", cd[3]), ("p1", cd[4]), ("p2", cd[5])):
        lin(d[key], c)
    zero = AShare(np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint64))

    def comb(*terms: tuple[AShare, int]) -> AShare:
        acc = zero
        for x, c in terms:
            if c:
                acc = acc + x.scale(c)
        return acc

    pairs = [
        (d["p1"], comb((d["de"], cd[6]), (d["dk"], cd[7]), (d["sw"], cd[9]))),
        (d["ye"], comb((d["sw"], cd[8]))),
        (d["y1"], comb((d["md"], cd[10]))),
    ]
    for k, tab in enumerate((w.given, w.family)):
        pairs.append((lv.nza[k], comb((lv.nzb[k], tab[1] - tab[0]))))
        for j, cut in enumerate(lv.cuts[k]):
            lin(cut, tab[j + 2] - tab[j + 1])
        lin(lv.ex[k], tab[NG - 1] - tab[NG - 2])
    tfs: list[AShare] = [zero, zero]
    if w.tf and tf is not None:
        for k, const in enumerate((w.tf_given, w.tf_family)):
            tfs[k] = (-tf[k]).add_public(np.int64(const), p.id)
    pairs.append((lv.ex[0], comb((lv.ex[1], w.both_exact)) + tfs[0]))
    if w.tf and tf is not None:
        pairs.append((lv.ex[1], tfs[1]))
    (prods,) = dots(p, [pairs])
    return out + prods


def _count_terms(p: Party, lv: _Levels) -> np.ndarray:
    """This party's 3-out-of-3 term of the 6 x 6 x 10 pattern counts of the batch."""
    n = len(lv.ex[0])
    d = lv.rep
    yk, p2, p3, p4, ys, p1s, y1md, nz_g, nz_f = split(
        _reshare_sum(
            p,
            np.concatenate(
                [
                    lv.lin["yk"],
                    lv.lin["p2"],
                    _prod_term(d["p1"], d["de"]),
                    _prod_term(d["p1"], d["dk"]),
                    _prod_term(d["ye"], d["sw"]),
                    _prod_term(d["p1"], d["sw"]),
                    _prod_term(d["y1"], d["md"]),
                    _prod_term(lv.nza[0], lv.nzb[0]),
                    _prod_term(lv.nza[1], lv.nzb[1]),
                ]
            ),
        ),
        [n] * 9,
    )
    one = p.public_a(np.ones(n, dtype=np.uint64))
    bg = [one, nz_g, *lv.cuts[0], lv.ex[0]]
    bf = [one, nz_f, *lv.cuts[1], lv.ex[1]]
    prods = iter(_dots(p, [[(bg[i], bf[j])] for i in range(1, NG) for j in range(1, NG)]))
    gf = [
        bg[i] if j == 0 else bf[j] if i == 0 else next(prods) for i in range(NG) for j in range(NG)
    ]
    db = [one, d["ye"], d["y1"], yk, d["p1"], p2, p3, p4, ys, p1s, y1md]
    xa = np.stack([x.a for x in gf], axis=1)
    xb = np.stack([x.b for x in gf], axis=1)
    ya = np.stack([x.a for x in db], axis=1)
    yb = np.stack([x.b for x in db], axis=1)
    s = local_matmul(xa.T.copy(), ya + yb, bits=DOB_BITS) + local_matmul(
        xb.T.copy(), ya, bits=DOB_BITS
    )  # 36 x 11 basis moments
    t = np.kron(_SLOT_MAP, _SLOT_MAP).astype(np.uint64)  # basis -> level pairs
    out: np.ndarray = t @ s @ _DOB_MAP.T.astype(np.uint64)
    return out


def _patterns_checked(p: Party, lv: _Levels) -> AShare:
    """Per pair of the batch its comparison pattern (g level * NG + f level) * ND + date
    level, as a verified replicated value (malicious setting; see :func:`fs_em_counts`).

    A slot's level is the sum of its cumulative basis (1, nz, Dice >= each cut-off,
    exact) and the date level a fixed linear map of the date basis: local, after seven
    checked products (P3, P4, ye sw, P1 sw, y1 MD and the two slot non-empty flags).
    """
    n = len(lv.ex[0])
    d = lv.rep
    one = p.public_a(np.ones(n, dtype=np.uint64))
    p3, p4, ys, p1s, y1md, nz_g, nz_f = dots(
        p,
        [
            [(d["p1"], d["de"])],
            [(d["p1"], d["dk"])],
            [(d["ye"], d["sw"])],
            [(d["p1"], d["sw"])],
            [(d["y1"], d["md"])],
            [(lv.nza[0], lv.nzb[0])],
            [(lv.nza[1], lv.nzb[1])],
        ],
    )
    slot = (np.arange(NG) @ _SLOT_MAP).tolist()  # level index from the cumulative basis
    date = (np.arange(ND) @ _DOB_MAP).tolist()

    def combo(xs: list[AShare], cs: list[int]) -> AShare:
        acc = AShare(np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint64))
        for x, c in zip(xs, cs, strict=True):
            if c:
                acc = acc + x.scale(int(c))
        return acc

    lg = combo([one, nz_g, *lv.cuts[0], lv.ex[0]], slot)
    lf = combo([one, nz_f, *lv.cuts[1], lv.ex[1]], slot)
    db = [one, d["ye"], d["y1"], d["yk"], d["p1"], d["p2"], p3, p4, ys, p1s, y1md]
    return (lg.scale(NG) + lf).scale(ND) + combo(db, date)


# ---- term frequencies ----------------------------------------------------------------------


def _group_counts(p: Party, keys: AShare) -> AShare:
    """Per element: how many elements carry the same key (a secure group-by count).

    Oblivious sort (:func:`sharelake.mpc.sort.sort_undoable`), segment starts from
    neighbour equality, running counts, the total carried back from each group's last
    element, and the inverse permutation (:func:`sharelake.mpc.sort.unsort`).
    """
    n = len(keys)
    s = sort_undoable(p, [keys], signed=False, bits=64)
    (sk,) = s.keys
    assert isinstance(sk, AShare)
    starts = segment_starts(p, [sk], bits=64)
    (run,) = segmented_sum(p, starts, [p.public_a(np.ones(n, dtype=np.uint64))])
    one = p.public_a(np.ones(1, dtype=np.uint64))
    ends = AShare(np.concatenate([starts.a[1:], one.a]), np.concatenate([starts.b[1:], one.b]))

    def rev(x: AShare) -> AShare:
        return AShare(x.a[::-1].copy(), x.b[::-1].copy())

    (tot,) = segmented_copy(p, rev(ends), [rev(run)])
    (out,) = unsort(p, [rev(tot)], s)
    assert isinstance(out, AShare)
    return out


def fs_tf_units(
    p: Party, left: SharedPeople, others: list[SharedPeople], cfg: FSConfig
) -> tuple[AShare, AShare]:
    """Lq of the counts of the left records' ``tok_given`` / ``tok_family`` values over
    both fields of ``left`` and every list in ``others`` (secret, per left record).

    LEAKAGE: none (the sort opens only comparison outcomes of a secret shuffle).
    """
    lists = [left, *others]
    keys = cat([t.columns[c] for t in lists for c in ("tok_given", "tok_family")])
    cnt = _group_counts(p, keys)
    n = left.n
    cg, cf = AShare(cnt.a[:n], cnt.b[:n]), AShare(cnt.a[n : 2 * n], cnt.b[n : 2 * n])
    th = tf_thresholds(cfg.tf_steps)
    bits = max(len(keys).bit_length() + 2, int(th[-1]).bit_length() + 2)
    out = []
    for c in (cg, cf):
        diffs = [c.add_public(np.int64(-int(t)), p.id) for t in th]
        negs = msb_many(p, [cat(diffs)], bits=bits)[0]
        ge = b2a_bits(p, negs.invert(p.id))
        ga = ge.a.reshape(len(th), n).sum(axis=0, dtype=np.uint64)
        gb = ge.b.reshape(len(th), n).sum(axis=0, dtype=np.uint64)
        out.append(AShare(ga, gb).scale(cfg.scale // 2))
    return out[0], out[1]


# ---- EM ----------------------------------------------------------------------------------


def fs_em_counts(
    p: Party, left: SharedPeople, right: SharedPeople, cfg: FSConfig, rows: np.ndarray
) -> np.ndarray:
    """OPENED: the 6 x 6 x 10 pattern counts over the pairs ``left[rows] x right``.

    In the malicious setting every pair's pattern index is computed from verified
    values, the indices are shuffled by the checked shuffle
    (:func:`sharelake.mpc.shuffle.shuffle`) and opened, and the counts are their
    histogram: the opened multiset is exactly the counts (n of them, n public).
    LEAKAGE: these 360 aggregate counts (SECURITY.md); nothing per pair.
    """
    if len(rows) * right.n > MAX_EM_PAIRS:
        raise ValueError("too many pairs for the EM counts; lower em_pairs")
    sub = SharedPeople(
        {k: AShare(v.a[rows], v.b[rows]) for k, v in left.columns.items()},
        {k: AShare(v.a[rows], v.b[rows]) for k, v in left.matrices.items()},
    )
    ra, rb = _records(p, sub), _records(p, right)
    rp = _Right.of(right, rb)
    acc = np.zeros((NG * NG, ND), dtype=np.uint64)
    patterns: list[AShare] = []
    step = max(1, BLOCK_PAIRS // max(right.n, 1))
    for r0 in range(0, sub.n, step):
        blk = slice(r0, min(sub.n, r0 + step))
        lv = _levels(p, _raw_grid(p, sub, ra, rb, blk, rp), cfg)
        if p.checks.enabled:
            patterns.append(_patterns_checked(p, lv))
        else:
            acc += _count_terms(p, lv)
    if p.checks.enabled:
        # malicious setting: the pairs' verified pattern indices, shuffled by the checked
        # shuffle and opened -- their multiset IS the 360 counts (the same leakage), at
        # a shuffle's cost instead of a check of the 36 x 11 moments (97 products a pair)
        (mixed,) = shuffle(p, [cat(patterns)])
        assert isinstance(mixed, AShare)
        idx = open_arith(p, mixed, check="fs counts") & np.uint64((1 << DOB_BITS) - 1)
        idx = idx[idx < NG * NG * ND].astype(np.int64)  # all of them for valid encodings
        return np.bincount(idx, minlength=NG * NG * ND).reshape(NG, NG, ND)
    shared = _reshare_sum(p, acc.reshape(-1))
    opened = open_arith(p, shared) & np.uint64((1 << DOB_BITS) - 1)
    return opened.astype(np.int64).reshape(NG, NG, ND)


def fs_fit(
    p: Party, left: SharedPeople, right: SharedPeople, cfg: FSConfig, seed: bytes = b""
) -> FSWeights:
    """EM on the opened pattern counts of :func:`sharelake.linkage.fs.em_rows`, then the
    integer weights and threshold (identical at every node)."""
    rows = em_rows(left.n, right.n, cfg, seed)
    counts = fs_em_counts(p, left, right, cfg, rows)
    return weights_of(em_fit(counts, cfg), cfg, left.n + right.n, sizes=(left.n, right.n))


# ---- the scoring interface -------------------------------------------------------------------


def fs_grid_weights(
    p: Party,
    left: SharedPeople,
    right: SharedPeople,
    w: FSWeights,
    cfg: FSConfig,
    rows: slice,
    tf: tuple[AShare, AShare] | None = None,
) -> AShare:
    """W of the pairs ``left[rows] x right``, flattened row-major (secret).

    ``tf``: per left record (all rows of ``left``) its Lq units from
    :func:`fs_tf_units`; required when ``w.tf``.
    """
    ra, rb = _records(p, left), _records(p, right)
    return _grid(p, left, ra, rb, rows, _Right.of(right, rb), w, cfg, tf)


def _grid(
    p: Party,
    left: SharedPeople,
    ra: _Rec,
    rb: _Rec,
    rows: slice,
    rp: _Right,
    w: FSWeights,
    cfg: FSConfig,
    tf: tuple[AShare, AShare] | None,
) -> AShare:
    m = len(rb.cg)
    lv = _levels(p, _raw_grid(p, left, ra, rb, rows, rp), cfg)
    tfp = None
    if tf is not None:
        tfp = tuple(AShare(np.repeat(x.a[rows], m), np.repeat(x.b[rows], m)) for x in tf)
    return _weights(p, lv, w, tfp)  # type: ignore[arg-type]


def fs_pair_weights(
    p: Party,
    left: SharedPeople,
    right: SharedPeople,
    w: FSWeights,
    cfg: FSConfig,
    tf: tuple[AShare, AShare] | None = None,
) -> AShare:
    """W of K aligned candidate pairs (left row k with right row k), secret.

    ``left`` and ``right`` hold the K records of each side in pair order (e.g. gathered
    obliviously by a blocking step); ``tf`` the left records' Lq units in the same
    order. The plaintext twin is :func:`sharelake.linkage.fs.pair_weights_plain`.
    """
    if left.n != right.n:
        raise ValueError("fs_pair_weights: both sides need one row per pair")
    if left.n == 0:
        return AShare(np.zeros(0, np.uint64), np.zeros(0, np.uint64))
    ra, rb = _records(p, left), _records(p, right)
    lv = _levels(p, _raw_aligned(p, left, right, ra, rb), cfg)
    return _weights(p, lv, w, tf)


#: The columns and matrices of a list :func:`fs_window_weights` reads (a blocking step
#: moves only these through its sorts).
WINDOW_COLUMNS = (
    "given_count",
    "family_count",
    "dob_year_present",
    "dob_month_present",
    "dob_day_present",
)
WINDOW_MATRICES = ("given", "family", "dob")
#: Records per batch of :func:`fs_window_weights` (w pairs each; bounds memory and sets
#: the number of rounds: about 12 a batch).
WINDOW_ROWS = 8192


def fs_window_weights(
    p: Party,
    t: SharedPeople,
    w: FSWeights,
    cfg: FSConfig,
    window: int,
    tf: tuple[AShare, AShare] | None = None,
    *,
    rows: int = WINDOW_ROWS,
) -> AShare:
    """W of the window pairs (i, i + d), d = 1..``window``, of one (sorted) list.

    Returns w N values, d-major (pair (i, i + d) at (d - 1) N + i); pairs with
    i + d >= N hold 0. Equal to :func:`fs_pair_weights` of the pairs (the earlier
    record the left side; ``tf`` per record of ``t``), but the per-record values are
    computed once and the inner products are banded BLAS products
    (:func:`_raw_window`), ``rows`` records per batch. Used by the sorted-neighbourhood
    blocking (:mod:`sharelake.linkage.blocked`). The plaintext twin is
    :func:`sharelake.linkage.fs.pair_weights_plain` of the window pairs.
    LEAKAGE: none (nothing is opened).
    """
    n = t.n
    out_a = np.zeros((window, n), dtype=np.uint64)
    out_b = np.zeros((window, n), dtype=np.uint64)
    if n < 2 or window < 1:
        return AShare(out_a.reshape(-1), out_b.reshape(-1))
    rec = _records(p, t)
    step = max(1, rows)
    for r0 in range(0, n - 1, step):
        r1 = min(n - 1, r0 + step)
        lv = _levels(p, _raw_window(p, t, rec, r0, r1, window), cfg)
        tfp = None
        if tf is not None:
            tfp = tuple(
                AShare(np.tile(x.a[r0:r1], window), np.tile(x.b[r0:r1], window)) for x in tf
            )
        got = _weights(p, lv, w, tfp)  # type: ignore[arg-type]
        out_a[:, r0:r1] = got.a.reshape(window, r1 - r0)
        out_b[:, r0:r1] = got.b.reshape(window, r1 - r0)
    for d in range(1, window + 1):  # no partner: a public 0
        out_a[d - 1, max(0, n - d) :] = 0
        out_b[d - 1, max(0, n - d) :] = 0
    return AShare(out_a.reshape(-1), out_b.reshape(-1))


# ---- the all-pairs linkage -------------------------------------------------------------------


#: Weight given to a record paired with itself when de-duplicating one list.
DIAGONAL = -(1 << 14)


def fs_match(
    p: Party,
    left: SharedPeople,
    right: SharedPeople,
    cfg: FSConfig | None = None,
    *,
    weights: FSWeights | None = None,
    seed: bytes = b"",
    dedupe: bool = False,
    block_pairs: int = BLOCK_PAIRS,
) -> tuple[BitShare, FSWeights]:
    """Secret n x m match bits (row-major) of the Fellegi-Sunter linkage and its weights.

    EM on the opened pattern counts (unless ``weights`` are given), term-frequency units
    by a secure group-by count over both lists, W per pair, candidate W >= threshold,
    then the mutual-best rule (first arg-max of row and column) on W. ``dedupe``: the two
    tables are the same list; a record is never paired with itself. ``seed``: public
    (the plan hash at the nodes), it picks the EM rows of large lists.
    LEAKAGE: the EM pattern counts (:func:`fs_em_counts`) when ``weights`` is None;
    otherwise nothing.
    """
    cfg = cfg or FSConfig()
    n, m = left.n, right.n
    if n == 0 or m == 0:
        z = np.zeros((n * m + 63) // 64, np.uint64)
        empty = FSWeights((0,) * NG, (0,) * NG, (0,) * ND, 0)
        return BitShare(z, z.copy(), n * m), weights or empty
    if weights is None:
        weights = fs_fit(p, left, right, cfg, seed)
    bits = max(weights.bound() + abs(DIAGONAL), 4).bit_length() + 2
    if bits > NAME_BITS:
        raise ValueError("Fellegi-Sunter weights too large for the comparison width")
    tf = fs_tf_units(p, left, [] if dedupe else [right], cfg) if weights.tf else None
    ra, rb = _records(p, left), _records(p, right)
    rp = _Right.of(right, rb)
    step = max(1, block_pairs // m)
    stored: list[BitShare] = []
    sizes: list[int] = []
    merges: list[BitShare] = []
    best: Tree | None = None
    for r0 in range(0, n, step):
        rows = slice(r0, min(n, r0 + step))
        nb = rows.stop - rows.start
        wgt = _grid(p, left, ra, rb, rows, rp, weights, cfg, tf)
        if dedupe:
            k = np.arange(nb)
            diag = np.zeros((nb, m), dtype=np.int64)
            diag[k, k + r0] = DIAGONAL
            wgt = wgt.add_public(diag.reshape(-1), p.id)
        (below,) = msb_many(p, [wgt.add_public(np.int64(-weights.threshold), p.id)], bits=bits)
        cand = below.invert(p.id)
        row_t = Tree(wgt.reshape(nb, m))
        col_t = Tree(AShare(wgt.a.reshape(nb, m).T.copy(), wgt.b.reshape(nb, m).T.copy()))
        reduce_trees(p, [row_t, col_t], bits)
        rw, cw = winners(p, [row_t, col_t], [m, nb])
        if best is not None:
            merged = Tree(
                AShare(
                    np.concatenate([best.num.a, col_t.num.a], axis=1),
                    np.concatenate([best.num.b, col_t.num.b], axis=1),
                )
            )
            reduce_trees(p, [merged], bits)
            merges.append(merged.steps[0][1])
            col_t = merged
        best = Tree(col_t.num)
        stored.append(and_all(p, [rw, rows_of(cw, nb, m), cand]))
        sizes.append(nb)
    keep = [ones(p, m) for _ in stored]
    later = ones(p, m)
    for blk in range(len(stored) - 1, 0, -1):
        beat = merges[blk - 1]
        keep[blk] = and_bits(p, later, beat)
        later = and_bits(p, later, beat.invert(p.id))
    keep[0] = later
    final = and_bits_many(
        p, [(s, tile_rows(k, nb, m)) for s, k, nb in zip(stored, keep, sizes, strict=True)]
    )
    return concat(final), weights

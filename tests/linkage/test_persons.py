"""The vectorised plaintext twin of k-list linkage (``linkage/persons.py``) against the reference.

The reference twin (``link_lists_plain`` + ``cluster_plain``) is the one the secure
operator is tested against; the fast twin must give the very same links and labels.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sharelake.linkage.blocked import cluster_plain, link_lists_plain
from sharelake.linkage.blocking import BLOCK_KEYS
from sharelake.linkage.encode import EncodedPeople, encode_people
from sharelake.linkage.people_table import fuzzy_params
from sharelake.linkage.persons import aligned_scores, link_lists_fast, person_labels, union_of
from sharelake.linkage.score import pair_scores
from sharelake.monitoring.synth import ORGANISATIONS, generate

COLS = ["record_id", "given_name", "family_name", "date_of_birth"]


def _lists(seed: int, scale: float) -> tuple[list[EncodedPeople], list[np.ndarray]]:
    lake = generate(seed=seed, scale=scale)
    encs = [encode_people(lake.frames[o][COLS], seed=i) for i, o in enumerate(ORGANISATIONS)]
    victims = [(lake.frames[o]["role"] == "victim").to_numpy() for o in ORGANISATIONS]
    return encs, victims


@pytest.fixture(scope="module")
def lists() -> tuple[list[EncodedPeople], list[np.ndarray]]:
    return _lists(3, 0.12)


def _reference(
    u: EncodedPeople, sizes: list[int], prm, window: int, ok: np.ndarray | None = None
) -> list[tuple[int, int]]:
    num, den = pair_scores(u, u, prm, hybrid=True)
    if ok is not None:  # a row filtered out scores under every threshold
        bad = ~ok[:, None] | ~ok[None, :]
        num, den = np.where(bad, 0, num), np.where(bad, 1, den)
    keys = np.stack([u.columns[k] for k in BLOCK_KEYS])
    return link_lists_plain(keys, num, den, sizes, prm, window=window)


def test_aligned_scores_equal_the_matrix_scorer_on_every_pair(lists) -> None:  # type: ignore[no-untyped-def]
    encs, _ = lists
    u = union_of(encs)
    prm = fuzzy_params({})
    num, den = pair_scores(u, u, prm, hybrid=True)
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(u), 3000), rng.integers(0, len(u), 3000)
    sn, sd = aligned_scores(u, a, b, prm)
    assert np.array_equal(sn, num[a, b]) and np.array_equal(sd, den[a, b])


@pytest.mark.parametrize("window", [1, 3, 8])
def test_the_fast_twin_links_exactly_as_the_reference_twin(lists, window: int) -> None:  # type: ignore[no-untyped-def]
    encs, _ = lists
    u, sizes = union_of(encs), [len(e) for e in encs]
    prm = fuzzy_params({})
    ref = _reference(u, sizes, prm, window)
    assert ref, "the generated lists share persons"
    assert link_lists_fast(u, sizes, prm, window=window) == ref


def test_rows_filtered_out_link_to_nothing_as_in_the_reference(lists) -> None:  # type: ignore[no-untyped-def]
    encs, victims = lists
    u, sizes = union_of(encs), [len(e) for e in encs]
    ok = np.concatenate(victims)
    assert not ok.all()
    prm = fuzzy_params({"t_num": 110})
    ref = _reference(u, sizes, prm, 8, ok)
    got = link_lists_fast(u, sizes, prm, valid=ok, window=8)
    assert got == ref
    assert all(ok[a] and ok[b] for a, b in got)


def test_person_labels_are_the_reference_clustering_of_the_reference_links(lists) -> None:  # type: ignore[no-untyped-def]
    encs, victims = lists
    u, sizes = union_of(encs), [len(e) for e in encs]
    prm = fuzzy_params({})
    ok = np.concatenate(victims)
    for rounds in (1, 5):
        ref = cluster_plain(_reference(u, sizes, prm, 8, ok), len(u), rounds)
        got = person_labels(encs, prm, valid=victims, window=8, rounds=rounds)
        assert got.tolist() == ref


def test_without_a_window_every_pair_is_scored_in_one_pass(lists) -> None:  # type: ignore[no-untyped-def]
    encs, _ = lists
    u, sizes = union_of(encs), [len(e) for e in encs]
    prm = fuzzy_params({})
    num, den = pair_scores(u, u, prm, hybrid=True)
    keys = np.stack([u.columns[BLOCK_KEYS[0]]])
    ref = link_lists_plain(keys, num, den, sizes, prm, window=len(u) - 1)
    got = person_labels(encs, prm, window=None, rounds=5)
    assert got.tolist() == cluster_plain(ref, len(u), 5)


def test_a_threshold_above_every_score_leaves_every_record_alone(lists) -> None:  # type: ignore[no-untyped-def]
    encs, _ = lists
    prm = replace(fuzzy_params({}), t_num=4000, t_den=1)
    got = person_labels(encs, prm, window=8)
    assert got.tolist() == list(range(sum(len(e) for e in encs)))


def test_lists_of_different_pipelines_are_refused(lists) -> None:  # type: ignore[no-untyped-def]
    encs, _ = lists
    other = replace(encs[1], pipeline_version="other")
    with pytest.raises(ValueError, match="different pipelines"):
        union_of([encs[0], other])


@pytest.mark.parametrize("window", [2, 8])
def test_the_fast_twin_links_with_fellegi_sunter_exactly_as_the_reference_twin(
    lists,  # type: ignore[no-untyped-def]
    window: int,
) -> None:
    from sharelake.linkage.fs import TRAINED_WEIGHTS, FSConfig, tf_units_plain, weights_plain

    encs, victims = lists
    u = union_of(encs)
    sizes = [len(e) for e in encs]
    ok = np.concatenate(victims)
    cfg = FSConfig()
    for w in (
        TRAINED_WEIGHTS,
        replace(TRAINED_WEIGHTS, threshold=40),
        replace(TRAINED_WEIGHTS, tf=False),
    ):
        wgt = weights_plain(u, u, w, cfg, tf_units=tf_units_plain(w, u) if w.tf else None)
        low = w.threshold - 1
        bad = ~ok[:, None] | ~ok[None, :]
        keys = np.stack([u.columns[k] for k in BLOCK_KEYS])
        want = link_lists_plain(
            keys, np.where(bad, low - 1, wgt), np.ones_like(wgt), sizes, w.threshold, window=window
        )
        got = link_lists_fast(u, sizes, valid=ok, window=window, fs=(w, cfg))
        assert got == want
        assert want, "some records are linked"

"""The client-side blocking keys: width, order, robustness and recall floors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sharelake.linkage.blocking import (
    BLOCK_KEYS,
    KEY_BITS,
    LETTER_CLASSES,
    blocking_keys,
    pack_classes,
)
from sharelake.linkage.blocking_eval import (
    GENERATED,
    HARD,
    generated_set,
    hard_set,
    pair_completeness,
    positions,
)
from sharelake.linkage.encode import encode_people
from sharelake.linkage.quality import LinkageSet
from sharelake.mpc.sort import index_bits


def test_every_letter_has_exactly_one_of_fifteen_classes() -> None:
    letters = "".join(LETTER_CLASSES)
    assert sorted(letters) == [chr(c) for c in range(ord("a"), ord("z") + 1)]
    assert len(LETTER_CLASSES) == 15


@pytest.mark.parametrize(
    ("given", "family", "year", "month", "day"),
    [
        ((), (), 0, 0, 0),
        (("z" * 40,) * 6, ("z" * 40,) * 6, 2154, 12, 31),
        (("zz", "yy", "xx"), ("ww",), 9999, 12, 31),
        (("a",), ("b",), 1899, 1, 1),
        (("ana",), (), 1900, 0, 0),
        (("jun", "iang"), ("nguyen",), 2155, 15, 31),
    ],
)
def test_every_blocking_key_fits_in_key_bits_on_edge_records(
    given: tuple[str, ...], family: tuple[str, ...], year: int, month: int, day: int
) -> None:
    keys = blocking_keys(given, family, year, month, day)
    assert list(keys) == list(BLOCK_KEYS)
    assert all(0 <= v < 2**KEY_BITS for v in keys.values())


def test_a_key_and_the_row_index_fit_in_one_comparator_word_up_to_half_a_million_rows() -> None:
    assert KEY_BITS + index_bits(2**19) <= 64


def test_letter_classes_sort_by_class_and_prefixes_first() -> None:
    assert pack_classes("kim", 3) == pack_classes("gim", 3) == pack_classes("qim", 3)
    assert pack_classes("ivan", 4) == pack_classes("yvan", 4)
    assert pack_classes("a", 2) < pack_classes("ab", 2) < pack_classes("b", 2)
    assert pack_classes("a-b c", 2) == pack_classes("ab", 2)
    assert pack_classes("abcdef", 3) == pack_classes("abc", 3)


def test_swapped_name_fields_keep_the_sorted_token_keys() -> None:
    a = blocking_keys(("kolchev",), ("sevdan",), 1994, 1, 4)
    b = blocking_keys(("sevdan",), ("kolchev",), 1994, 1, 4)
    for k in ("blk_dob", "blk_year_rev", "blk_skel", "blk_rare"):
        assert a[k] == b[k]


def test_vowel_and_consonant_transliteration_variants_share_the_skeleton_key() -> None:
    a = blocking_keys(("jun",), ("nguyen",), 1990, 0, 0)
    b = blocking_keys(("jun",), ("ngiuen",), 1991, 3, 2)
    assert a["blk_skel"] == b["blk_skel"]
    c = blocking_keys(("min",), ("kim",), 1980, 1, 1)
    d = blocking_keys(("min",), ("gim",), 1980, 0, 0)
    assert c["blk_given"] >> 8 == d["blk_given"] >> 8


def test_a_split_name_keeps_the_rare_letters_key() -> None:
    a = blocking_keys(("jun", "iang"), ("li",), 1977, 0, 0)
    b = blocking_keys(("juniang",), ("li",), 1977, 5, 5)
    assert a["blk_rare"] == b["blk_rare"]


def _recall(ls: LinkageSet, window: int) -> float:
    a, b = encode_people(ls.left, seed=1), encode_people(ls.right, seed=2)
    return pair_completeness(positions(a, b), len(a), ls.links, window)


def test_blocking_keeps_every_true_pair_of_a_small_generated_set_in_a_window_of_8() -> None:
    assert _recall(generated_set(*GENERATED[0]), 8) == 1.0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("ls", "floor"),
    [
        (lambda: generated_set(*GENERATED[1]), 0.984),
        (lambda: generated_set(*GENERATED[2]), 0.982),
        (lambda: hard_set(*HARD[1]), 0.989),
        (lambda: hard_set(*HARD[2]), 0.973),
    ],
    ids=["generated-20k-10pct", "generated-20k-50pct", "hard-2k-50pct", "hard-20k-10pct"],
)
def test_blocking_recall_stays_above_its_measured_floor_on_the_reported_sets(
    ls: Callable[[], LinkageSet], floor: float
) -> None:
    assert _recall(ls(), 8) >= floor

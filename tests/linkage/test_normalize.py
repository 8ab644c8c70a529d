"""The client-side normalisation pipeline: scripts, folding, tokens, dates, odd input."""

from __future__ import annotations

import pytest

from sharelake.linkage.normalize import (
    MAX_TOKEN_CHARS,
    MAX_TOKENS,
    PIPELINE_VERSION,
    BirthDate,
    fold_spelling,
    normalize_name,
    parse_birth_date,
)


def test_the_pipeline_has_a_version() -> None:
    assert PIPELINE_VERSION.startswith("sharelake-names/")


def test_cyrillic_and_its_official_latin_spelling_normalise_alike() -> None:
    assert normalize_name("Христо Иванов") == normalize_name("Hristo Ivanov")


def test_common_transliteration_variants_of_a_bulgarian_name_fold_together() -> None:
    want = normalize_name("Иванов")
    assert normalize_name("Ivanoff") == want
    assert normalize_name("Khristov") == normalize_name("Христов")


def test_han_characters_become_toneless_pinyin_and_a_full_name_splits_off_the_family_name() -> None:
    assert normalize_name("小明") == normalize_name("Xiaoming")
    assert normalize_name("王小明") == normalize_name("Wang Xiaoming")


def test_thai_script_is_romanised_with_rtgs_and_loses_its_honorific_prefix() -> None:
    assert normalize_name("นายสมชาย") == normalize_name("Somchai")


def test_latin_diacritics_fold_and_carons_become_digraphs() -> None:
    assert normalize_name("Ștefan Ioniță") == normalize_name("Stefan Ionita")
    assert normalize_name("Ştefan") == normalize_name("Stefan")  # cedilla code point
    assert normalize_name("Živkov Čolić") == normalize_name("Zhivkov Cholic")


def test_names_are_an_unordered_set_of_tokens_without_honorifics_or_particles() -> None:
    assert normalize_name("Maria Ana") == normalize_name("Ana-Maria")
    assert normalize_name("Dr. Ana Pop") == ("ana", "pop")
    assert normalize_name("Г-жа Петрова") == normalize_name("Petrova")
    assert normalize_name("van der Berg") == ("berg",)


def test_a_name_of_only_an_honorific_keeps_it_rather_than_becoming_empty() -> None:
    assert normalize_name("Prince") == (fold_spelling("prince"),)


@pytest.mark.parametrize(
    ("token", "folded"),
    [("philip", "filip"), ("nikolay", "nikolai"), ("wiktor", "viktor"), ("mattei", "matei")],
)
def test_spelling_alternations_fold(token: str, folded: str) -> None:
    assert fold_spelling(token) == folded


@pytest.mark.parametrize("value", ["", "   ", None, float("nan"), "😀🙂", "1234", "!!"])
def test_empty_emoji_digit_and_missing_names_normalise_to_no_tokens(value: object) -> None:
    assert normalize_name(value) == ()


def test_very_long_names_are_cut_to_the_documented_limits() -> None:
    tokens = normalize_name(" ".join(f"name{chr(97 + k % 26)}" * 30 for k in range(100)))
    assert 0 < len(tokens) <= MAX_TOKENS
    assert all(len(t) <= MAX_TOKEN_CHARS for t in tokens)
    assert len(normalize_name("a" * 500 + "b" * 500)) == 1


def test_a_non_string_name_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        normalize_name(42)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("1987-03-09", BirthDate(1987, 3, 9)),
        ("1987-03", BirthDate(1987, 3, 0)),
        ("1987", BirthDate(1987, 0, 0)),
        ("", BirthDate(0, 0, 0)),
        (None, BirthDate(0, 0, 0)),
    ],
)
def test_birth_dates_split_into_parts_with_zero_for_missing(raw: object, want: BirthDate) -> None:
    assert parse_birth_date(raw) == want


@pytest.mark.parametrize("raw", ["09/03/1987", "1987-13-01", "1987-02-32", "87", "19870309"])
def test_malformed_birth_dates_are_rejected_without_echoing_the_value(raw: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_birth_date(raw)
    assert raw not in str(err.value)

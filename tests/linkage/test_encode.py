"""Client-side encodings: format, shapes, counts, birth-date one-hots, keys, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sharelake.linkage.encode import (
    COUNT_CAP,
    DOB_DAY_SLICE,
    DOB_DIM,
    DOB_MONTH_SLICE,
    DOB_YEAR_MIN,
    DOB_YEAR_SLICE,
    MATCH_KEYS,
    QGRAM_DIM,
    EncodingError,
    encode_people,
    qgram_vector,
)
from sharelake.linkage.normalize import PIPELINE_VERSION


def _people(rows: list[tuple[object, object, object]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_id": list(range(len(rows))),
            "given_name": [r[0] for r in rows],
            "family_name": [r[1] for r in rows],
            "date_of_birth": [r[2] for r in rows],
        }
    )


def test_every_column_is_uint64_and_every_matrix_is_a_0_1_uint8_matrix_of_public_width() -> None:
    enc = encode_people(_people([("Ana", "Pop", "1990-01-02"), ("Иван", "", "")]), seed=0)
    assert enc.pipeline_version == PIPELINE_VERSION
    assert all(v.dtype == np.uint64 and v.shape == (2,) for v in enc.columns.values())
    for name in ("given", "family", "all"):
        assert enc.matrices[name].shape == (2, QGRAM_DIM)
        assert enc.matrices[name].dtype == np.uint8
        assert set(np.unique(enc.matrices[name])) <= {0, 1}
    assert enc.matrices["dob"].shape == (2, DOB_DIM)
    assert set(MATCH_KEYS) <= set(enc.columns)


def test_counts_are_the_number_of_ones_of_each_q_gram_vector() -> None:
    enc = encode_people(_people([("Ana Maria", "Popescu", ""), ("", "", "")]), seed=0)
    for name in ("given", "family", "all"):
        assert list(enc.columns[f"{name}_count"]) == list(enc.matrices[name].sum(axis=1))
    assert enc.columns["all_count"][1] == 0
    assert int(enc.columns["all_count"].max()) <= COUNT_CAP


def test_the_all_tokens_vector_is_the_union_of_the_given_and_family_vectors() -> None:
    enc = encode_people(_people([("Ana", "Pop", "")]), seed=0)
    m = enc.matrices
    assert np.array_equal(m["all"], m["given"] | m["family"])


def test_dice_of_the_q_gram_vectors_is_one_for_the_same_name_in_another_script() -> None:
    a, b = qgram_vector(("ivanov",)), qgram_vector(("ivanov",))
    assert 2 * int(a @ b) / (int(a.sum()) + int(b.sum())) == 1.0


def test_birth_date_parts_are_one_hot_with_all_zero_blocks_for_missing_parts() -> None:
    enc = encode_people(_people([("A", "B", "1990-03-07"), ("A", "B", "1990"), ("A", "B", "")]))
    dob = enc.matrices["dob"]
    assert dob[0, DOB_YEAR_SLICE.start + 1990 - DOB_YEAR_MIN] == 1
    assert dob[0, DOB_MONTH_SLICE.start + 2] == 1 and dob[0, DOB_DAY_SLICE.start + 6] == 1
    assert dob[1].sum() == 1 and dob[2].sum() == 0
    assert list(enc.columns["dob_month_present"]) == [1, 0, 0]
    assert list(enc.columns["dob_year"]) == [1990, 1990, 0]


def test_match_keys_agree_across_scripts_and_name_order() -> None:
    enc = encode_people(
        _people([("Иван", "Петров", "1990-01-02"), ("Petrov", "Ivan", "1990-01-02")]), seed=0
    )
    for key in ("key_names_dob", "key_phon_dob", "key_names_year", "key_names_year_month"):
        assert enc.columns[key][0] == enc.columns[key][1]


def test_a_key_whose_ingredients_are_missing_agrees_with_nothing() -> None:
    enc = encode_people(_people([("Ana", "Pop", "1990"), ("Ana", "Pop", "1990")]), seed=0)
    assert enc.columns["key_names_dob"][0] != enc.columns["key_names_dob"][1]
    assert enc.columns["key_names_year"][0] == enc.columns["key_names_year"][1]


def test_encoding_the_same_table_twice_gives_the_same_vectors_and_keys() -> None:
    df = _people([("Ana", "Pop", "1990-01-02")])
    a, b = encode_people(df), encode_people(df)
    assert np.array_equal(a.matrices["all"], b.matrices["all"])
    assert a.columns["key_names_dob"][0] == b.columns["key_names_dob"][0]


def test_unusual_names_encode_without_error() -> None:
    rows = [("😀", "", ""), ("x" * 500, "y " * 300, "1900"), ("", "Nguyễn", "2035-12-31")]
    enc = encode_people(_people(rows), seed=0)
    assert enc.columns["all_count"][0] == 0
    assert int(enc.columns["all_count"][1]) <= COUNT_CAP


def test_a_malformed_birth_date_is_rejected_with_its_row_and_column_only() -> None:
    with pytest.raises(EncodingError, match=r"row 2, column date_of_birth") as err:  # from 1
        encode_people(_people([("A", "B", "1990"), ("A", "B", "31/12/1990")]))
    assert "31/12/1990" not in str(err.value)


def test_a_missing_column_is_rejected() -> None:
    with pytest.raises(EncodingError, match="date_of_birth"):
        encode_people(pd.DataFrame({"record_id": [1], "given_name": ["a"], "family_name": ["b"]}))


def test_take_selects_rows_of_every_column_and_matrix() -> None:
    enc = encode_people(_people([("A", "B", ""), ("C", "D", "1990")]), seed=0)
    one = enc.take([1])
    assert len(one) == 1 and one.columns["dob_year"][0] == 1990
    assert np.array_equal(one.matrices["given"][0], enc.matrices["given"][1])

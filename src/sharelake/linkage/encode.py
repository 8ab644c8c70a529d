"""Client-side encodings of person records, computed before secret sharing.

:func:`encode_people` turns a person DataFrame (``record_id``, ``given_name``,
``family_name``, ``date_of_birth``) into an :class:`EncodedPeople`: a dict of
``uint64`` columns and a dict of 0/1 indicator matrices, all of public shape.
Everything in it is secret-shared as is; the secure scorer
(:mod:`sharelake.linkage.fuzzy`) and its plaintext twin
(:mod:`sharelake.linkage.score`) only ever use inner products, sums,
equalities and comparisons of these numbers.

Encoding format (pipeline :data:`~sharelake.linkage.normalize.PIPELINE_VERSION`)
-------------------------------------------------------------------------------
Matrices (``uint8``, one row per record):

``given``, ``family``, ``all`` : shape ``(n, QGRAM_DIM)``
    Padded-bigram indicator vectors of the given-name token set, the
    family-name token set, and all tokens together. Each token ``t`` is padded
    as ``_t_`` and its bigrams are mapped by the fixed public table
    :func:`qgram_index` (a BLAKE2b hash of the bigram, mod ``QGRAM_DIM``); bit
    ``k`` is 1 when some bigram maps to ``k``. Empty name → zero row.
``dob`` : shape ``(n, DOB_DIM)``
    One-hot birth-date parts: columns ``[0, 136)`` year 1900..2035, then
    ``[136, 148)`` month 1..12, then ``[148, 179)`` day 1..31 (see
    :data:`DOB_YEAR_SLICE`, :data:`DOB_MONTH_SLICE`, :data:`DOB_DAY_SLICE`). A
    missing part (or a year outside the range) is an all-zero block, so the
    inner product of two blocks is 1 exactly when both parts are present and
    equal.

Columns (``uint64``, length ``n``):

``given_count``, ``family_count``, ``all_count``
    ``|A|``: number of ones in the matching matrix row (≤ :data:`COUNT_CAP`).
    Dice = 2·⟨A, B⟩ / (|A| + |B|).
``dob_year``, ``dob_month``, ``dob_day``
    The parts, 0 when missing; ``dob_year_present``, ``dob_month_present``,
    ``dob_day_present`` are the 0/1 flags (1 = present and inside the one-hot
    range, for the year).
``phon_given``, ``phon_family``
    64-bit digests of the sorted Metaphone codes of each token set.
``blk_*``
    Order-preserving sorting keys of the sorted-neighbourhood blocking passes
    (:data:`sharelake.linkage.blocking.BLOCK_KEYS`).
``tok_given``, ``tok_family``
    64-bit digests of each field's normalised token set under ONE tag for both
    fields (so a name counts alike in either field): the values whose frequency
    over the union of the lists the term-frequency adjustment of the
    Fellegi-Sunter scorer (:mod:`sharelake.linkage.fs`) counts inside MPC.
``key_*``
    Exact match keys (:data:`MATCH_KEYS`), 64-bit BLAKE2b digests. A key whose
    ingredients are missing (e.g. no full birth date) gets a random 64-bit
    filler, so it agrees with nothing; no special case is needed in MPC.

Digests need no secret key: they are secret-shared, never exchanged.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jellyfish
import numpy as np
import numpy.typing as npt
import pandas as pd

from sharelake.linkage.blocking import BLOCK_KEYS, blocking_keys
from sharelake.linkage.normalize import (
    MAX_TOKEN_CHARS,
    MAX_TOKENS,
    PIPELINE_VERSION,
    BirthDate,
    normalize_name,
    parse_birth_date,
)

from ..errors import InputValidationError

__all__ = [
    "COUNT_CAP",
    "DOB_DAY_SLICE",
    "DOB_DIM",
    "DOB_MONTH_SLICE",
    "DOB_YEAR_MAX",
    "DOB_YEAR_MIN",
    "DOB_YEAR_SLICE",
    "MATCH_KEYS",
    "NAME_FIELDS",
    "PERSON_COLUMNS",
    "QGRAM_DIM",
    "EncodedPeople",
    "EncodingError",
    "digest64",
    "encode_people",
    "qgram_index",
    "qgram_vector",
]

U64 = npt.NDArray[np.uint64]
U8 = npt.NDArray[np.uint8]

QGRAM_DIM = 512
"""Public dimension ``d`` of the hashed bigram indicator vectors."""
COUNT_CAP = MAX_TOKENS * (MAX_TOKEN_CHARS + 1)
"""Upper bound of any ``*_count`` column (bigrams of the longest allowed name)."""
NAME_FIELDS = ("given", "family", "all")
"""Names of the q-gram matrices (and of their ``*_count`` columns)."""
PERSON_COLUMNS = ("record_id", "given_name", "family_name", "date_of_birth")
"""Columns an input person table must have."""

DOB_YEAR_MIN = 1900
DOB_YEAR_MAX = 2035
DOB_YEAR_SLICE = slice(0, DOB_YEAR_MAX - DOB_YEAR_MIN + 1)
DOB_MONTH_SLICE = slice(DOB_YEAR_SLICE.stop, DOB_YEAR_SLICE.stop + 12)
DOB_DAY_SLICE = slice(DOB_MONTH_SLICE.stop, DOB_MONTH_SLICE.stop + 31)
DOB_DIM = DOB_DAY_SLICE.stop
"""Width of the ``dob`` one-hot matrix (136 years + 12 months + 31 days)."""

MATCH_KEYS = (
    "key_names_dob",
    "key_phon_dob",
    "key_family_initial_dob",
    "key_names_year",
    "key_names_year_month",
)
"""Exact match keys, each column of :attr:`EncodedPeople.columns`.

* ``key_names_dob``: all name tokens (sorted) + full birth date.
* ``key_phon_dob``: sorted NYSIIS codes of all tokens + full birth date.
* ``key_family_initial_dob``: family tokens + first letter of the first given
  token + birth year + the unordered pair (month, day), so day/month swaps agree.
* ``key_names_year``: all name tokens (sorted, at least two) + birth year (loose:
  namesakes born in the same year agree; not in the recommended set).
* ``key_names_year_month``: all name tokens (sorted, at least two) + year and month.
"""


class EncodingError(InputValidationError, ValueError):
    """A record cannot be encoded; the message names the row and column only."""


def digest64(tag: str, payload: str) -> int:
    """64-bit BLAKE2b digest of ``payload`` under a domain ``tag``.

    Parameters
    ----------
    tag : str
        Domain separation (e.g. the key name); the pipeline version is added.
    payload : str
        The canonical text to digest.

    Returns
    -------
    int
        An unsigned 64-bit integer.

    Examples
    --------
    >>> digest64("key_names_dob", "ivan petrov|1990-01-02") < 2**64
    True
    """
    h = hashlib.blake2b(f"{PIPELINE_VERSION}|{tag}|{payload}".encode(), digest_size=8)
    return int.from_bytes(h.digest(), "little")


@lru_cache(maxsize=8)
def _bigram_table(dim: int) -> dict[str, int]:
    alphabet = "_abcdefghijklmnopqrstuvwxyz"
    return {
        a + b: digest64("qgram", a + b) % dim for a in alphabet for b in alphabet if a + b != "__"
    }


def qgram_index(bigram: str, dim: int = QGRAM_DIM) -> int:
    """Column of a padded bigram (``_`` is the pad) in the indicator vector.

    Examples
    --------
    >>> 0 <= qgram_index("_a") < QGRAM_DIM
    True
    """
    return _bigram_table(dim)[bigram]


def qgram_vector(tokens: Sequence[str], dim: int = QGRAM_DIM) -> U8:
    """Indicator vector of the padded bigrams of a token set.

    Parameters
    ----------
    tokens : sequence of str
        Normalised tokens (lower-case ``a``-``z``).
    dim : int
        Vector length.

    Returns
    -------
    numpy.ndarray
        ``uint8`` vector of 0/1 of length ``dim``.

    Examples
    --------
    >>> v = qgram_vector(("ana",))
    >>> int(v.sum())  # _a an na a_
    4
    """
    table = _bigram_table(dim)
    out = np.zeros(dim, dtype=np.uint8)
    for tok in tokens:
        padded = f"_{tok}_"
        for k in range(len(padded) - 1):
            out[table[padded[k : k + 2]]] = 1
    return out


@dataclass(frozen=True)
class EncodedPeople:
    """A person table encoded for linkage (see the module docstring)."""

    record_id: npt.NDArray[Any]
    columns: dict[str, U64]
    matrices: dict[str, U8]
    pipeline_version: str = PIPELINE_VERSION
    qgram_dim: int = QGRAM_DIM
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.record_id)

    def take(self, rows: npt.ArrayLike) -> EncodedPeople:
        """Return the records at ``rows`` (positions), same format."""
        idx = np.asarray(rows, dtype=np.int64)
        return EncodedPeople(
            self.record_id[idx],
            {k: v[idx] for k, v in self.columns.items()},
            {k: v[idx] for k, v in self.matrices.items()},
            self.pipeline_version,
            self.qgram_dim,
            dict(self.meta),
        )


def _full_date(d: BirthDate) -> str | None:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}" if d.year and d.month and d.day else None


def _phon(tokens: Sequence[str], fn: Any) -> str:
    return " ".join(sorted(str(fn(t)) for t in tokens))


def _record_keys(
    given: tuple[str, ...], family: tuple[str, ...], dob: BirthDate
) -> dict[str, str | None]:
    tokens = tuple(sorted(set(given) | set(family)))
    names = " ".join(tokens) if tokens else None
    full = _full_date(dob)
    first = given[0][0] if given else None
    md = "-".join(str(x) for x in sorted((dob.month, dob.day))) if dob.month and dob.day else None
    return {
        "key_names_dob": f"{names}|{full}" if names and full else None,
        "key_phon_dob": f"{_phon(tokens, jellyfish.nysiis)}|{full}" if names and full else None,
        "key_family_initial_dob": (
            f"{' '.join(family)}|{first}|{dob.year}|{md}"
            if family and first and dob.year and md
            else None
        ),
        "key_names_year": f"{names}|{dob.year}" if len(tokens) >= 2 and dob.year else None,
        "key_names_year_month": (
            f"{names}|{dob.year}-{dob.month}"
            if len(tokens) >= 2 and dob.year and dob.month
            else None
        ),
    }


def encode_people(
    df: pd.DataFrame, *, qgram_dim: int = QGRAM_DIM, seed: int | None = None
) -> EncodedPeople:
    """Normalise and encode a person table for linkage.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``record_id``, ``given_name``, ``family_name``,
        ``date_of_birth`` (ISO 8601 ``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY`` or
        empty). Names may be in any script; missing names count as empty.
    qgram_dim : int
        Width of the bigram vectors (the default is the public standard; both
        tables of a linkage must use the same).
    seed : int, optional
        Seed of the fillers of missing match keys (tests only; by default they
        come from :mod:`secrets`).

    Returns
    -------
    EncodedPeople
        ``uint64`` columns and ``uint8`` matrices, rows in input order.

    Raises
    ------
    EncodingError
        On a missing column, a name that is not a string or a malformed birth
        date; the message names the row and column, never the value.

    Examples
    --------
    >>> df = pd.DataFrame({"record_id": [1, 2], "given_name": ["Иван", "Ana"],
    ...                    "family_name": ["Петров", "Pop"],
    ...                    "date_of_birth": ["1990-01-02", "1985"]})
    >>> enc = encode_people(df, seed=0)
    >>> enc.matrices["all"].shape, int(enc.columns["dob_month_present"][1])
    ((2, 512), 0)
    """
    missing = [c for c in PERSON_COLUMNS if c not in df.columns]
    if missing:
        raise EncodingError(f"person table lacks column(s) {', '.join(missing)}")
    n = len(df)
    mats = {f: np.zeros((n, qgram_dim), dtype=np.uint8) for f in NAME_FIELDS}
    dob_m = np.zeros((n, DOB_DIM), dtype=np.uint8)
    cols: dict[str, U64] = {
        c: np.zeros(n, dtype=np.uint64)
        for c in (
            "dob_year",
            "dob_month",
            "dob_day",
            "dob_year_present",
            "dob_month_present",
            "dob_day_present",
            "phon_given",
            "phon_family",
            "tok_given",
            "tok_family",
            *MATCH_KEYS,
            *BLOCK_KEYS,
        )
    }
    rng = np.random.default_rng(seed if seed is not None else secrets.randbits(128))
    fillers = rng.integers(0, 2**64, size=(len(MATCH_KEYS), n), dtype=np.uint64, endpoint=False)
    given_col = df["given_name"].tolist()
    family_col = df["family_name"].tolist()
    dob_col = df["date_of_birth"].tolist()
    for i in range(n):
        try:
            given = normalize_name(given_col[i])
        except TypeError:
            raise EncodingError(f"row {i + 1}, column given_name: not a string") from None
        try:
            family = normalize_name(family_col[i])
        except TypeError:
            raise EncodingError(f"row {i + 1}, column family_name: not a string") from None
        try:
            dob = parse_birth_date(dob_col[i])
        except ValueError as e:
            raise EncodingError(f"row {i + 1}, column date_of_birth: {e}") from None
        mats["given"][i] = qgram_vector(given, qgram_dim)
        mats["family"][i] = qgram_vector(family, qgram_dim)
        mats["all"][i] = mats["given"][i] | mats["family"][i]
        cols["dob_year"][i], cols["dob_month"][i], cols["dob_day"][i] = dob.year, dob.month, dob.day
        if DOB_YEAR_MIN <= dob.year <= DOB_YEAR_MAX:
            dob_m[i, DOB_YEAR_SLICE.start + dob.year - DOB_YEAR_MIN] = 1
            cols["dob_year_present"][i] = 1
        if dob.month:
            dob_m[i, DOB_MONTH_SLICE.start + dob.month - 1] = 1
            cols["dob_month_present"][i] = 1
        if dob.day:
            dob_m[i, DOB_DAY_SLICE.start + dob.day - 1] = 1
            cols["dob_day_present"][i] = 1
        cols["phon_given"][i] = digest64("phon_given", _phon(given, jellyfish.metaphone))
        cols["phon_family"][i] = digest64("phon_family", _phon(family, jellyfish.metaphone))
        for name, word in blocking_keys(given, family, dob.year, dob.month, dob.day).items():
            cols[name][i] = word
        cols["tok_given"][i] = digest64("tokens", " ".join(given))
        cols["tok_family"][i] = digest64("tokens", " ".join(family))
        for k, (name, payload) in enumerate(_record_keys(given, family, dob).items()):
            cols[name][i] = digest64(name, payload) if payload is not None else fillers[k, i]
    for f in NAME_FIELDS:
        cols[f"{f}_count"] = mats[f].sum(axis=1, dtype=np.uint64)
    return EncodedPeople(
        record_id=df["record_id"].to_numpy(),
        columns=cols,
        matrices={**mats, "dob": dob_m},
        qgram_dim=qgram_dim,
    )

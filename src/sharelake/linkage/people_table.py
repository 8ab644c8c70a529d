"""Person tables in the lake: how the linkage encodings are stored as secret columns.

A person table is uploaded by :meth:`sharelake.client.session.Session.upload_people`.
The client runs the versioned pipeline (:func:`sharelake.linkage.encode.encode_people`)
on ``record_id``, ``given_name``, ``family_name`` and ``date_of_birth`` and uploads,
secret-shared like every other column:

``record_id``
    as given (``int`` or ``string``; must be present and unique).
``lk_pipeline``
    a ``category`` column whose public dictionary is the one pipeline version string
    (e.g. ``sharelake-names/3``): the version is part of the table's schema, and two
    tables of different versions are never compared.
``lk_given``, ``lk_family``, ``lk_all``
    the q-gram indicator matrices, one ``string``-kind column each: the 2-D ``text``
    slot holds the 0/1 indicators, ONE PER 64-bit WORD (``max_len`` = 8 x dimension,
    so the public dimension is ``max_len / 8``), and the ``values`` slot holds the set
    size ``|A|`` (the ``*_count`` of :mod:`~sharelake.linkage.encode`). Storing them
    in the existing 2-D slot needs no change to storage, bundles or the consistency
    check; the cost is 8 bytes a bit (arithmetic shares are needed for the inner
    products anyway).
``lk_dob``
    the birth-date one-hot matrix the same way (``values`` is 0).
``lk_dob_year`` ... ``lk_key_names_year``
    the ``uint64`` columns of the encoding (parts, presence flags, phonetic digests,
    exact match keys), each an ``int`` column prefixed ``lk_``.

By default the names and the birth date themselves are NOT uploaded: only the encodings
are, so a compromise of the lake (all three nodes) exposes bigram sets, digests and
birth-date parts, never the written names. ``keep_names=True`` uploads them as well.

Nodes read a stored person table back with :func:`shared_people` (the
:class:`~sharelake.linkage.fuzzy.SharedPeople` of the fuzzy scorer) and
:func:`match_keys` (the exact keys).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..mpc.shares import AShare
from ..relational.encode import EncodedColumn
from ..relational.table import ColumnSpec, SecretTable
from .blocking import BLOCK_KEYS
from .encode import MATCH_KEYS, NAME_FIELDS, EncodedPeople
from .fs import FSConfig
from .fuzzy_inputs import FuzzyParams, SharedPeople, widths
from .quality import RECOMMENDED

__all__ = [
    "DEFAULT_PARAMS",
    "ENCODING_COLUMNS",
    "FS_DEFAULT_PARAMS",
    "KEY_COLUMNS",
    "LINK_KEYS",
    "LINK_PARAM_NAMES",
    "MATRIX_COLUMNS",
    "MIN_EM_PAIRS",
    "NAME_COLUMNS",
    "PIPELINE_COLUMN",
    "PREFIX",
    "RECORD_ID",
    "SCALAR_COLUMNS",
    "encoded_columns",
    "fs_config",
    "fuzzy_params",
    "link_policy",
    "match_keys",
    "person_format",
    "shared_people",
]

PREFIX = "lk_"
RECORD_ID = "record_id"
NAME_COLUMNS = ("given_name", "family_name", "date_of_birth")
"""The input columns replaced by their encodings (uploaded only with ``keep_names``)."""
PIPELINE_COLUMN = "lk_pipeline"
MATRIX_COLUMNS: dict[str, str] = {f: PREFIX + f for f in (*NAME_FIELDS, "dob")}
"""Encoding matrix name -> stored column (a ``string``-kind column, see the module)."""
_SCALARS = (
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
SCALAR_COLUMNS: dict[str, str] = {c: PREFIX + c for c in _SCALARS}
"""Encoding column name -> stored ``int`` column."""
ENCODING_COLUMNS: tuple[str, ...] = (
    PIPELINE_COLUMN,
    *MATRIX_COLUMNS.values(),
    *SCALAR_COLUMNS.values(),
)
"""Every column a person table adds (all of them are used as ``match`` by ``link``)."""

LINK_PARAM_NAMES: tuple[str, ...] = (
    "w_name",
    "w_all",
    "w_year",
    "w_month",
    "w_day",
    "pen_year",
    "pen_month",
    "pen_day",
    "w_swap",
    "t_num",
    "t_den",
    "bonus",
)
"""The integer scoring parameters a ``link`` plan may set (:class:`FuzzyParams` fields)."""
DEFAULT_PARAMS: dict[str, int] = {k: int(getattr(RECOMMENDED, k)) for k in LINK_PARAM_NAMES}
"""The recommended configuration of LINKAGE.md (:data:`sharelake.linkage.quality.
RECOMMENDED`); the client sends it in full in every fuzzy or hybrid plan, so the plan
hash binds the values."""
LINK_KEYS: tuple[str, ...] = tuple(RECOMMENDED.keys)
"""The match keys ``link`` uses (exact mode, and the hybrid bonus): the recommended ones."""
KEY_COLUMNS: tuple[str, ...] = tuple(PREFIX + k for k in LINK_KEYS)
"""The stored columns of :data:`LINK_KEYS`."""
_PARAM_LIMIT = 1 << 12


def encoded_columns(enc: EncodedPeople) -> list[EncodedColumn]:
    """The ring columns of an encoded person table (client side, before sharing)."""
    n = len(enc)
    zeros = np.zeros(n, dtype=np.uint64)
    out = [
        EncodedColumn(
            ColumnSpec(PIPELINE_COLUMN, "category", False, categories=(enc.pipeline_version,)),
            zeros.copy(),
            zeros.copy(),
        )
    ]
    for name, col in MATRIX_COLUMNS.items():
        mat = np.ascontiguousarray(enc.matrices[name], dtype=np.uint64)
        count = enc.columns.get(f"{name}_count", zeros)
        spec = ColumnSpec(col, "string", False, max_len=8 * mat.shape[1])
        out.append(EncodedColumn(spec, np.asarray(count, dtype=np.uint64), zeros.copy(), mat))
    for name, col in SCALAR_COLUMNS.items():
        values = np.asarray(enc.columns[name], dtype=np.uint64)
        out.append(EncodedColumn(ColumnSpec(col, "int", False), values, zeros.copy()))
    return out


def person_format(schema: Sequence[ColumnSpec | Mapping[str, Any]]) -> tuple[str, int]:
    """(pipeline version, q-gram dimension) of a stored person table's schema.

    Raises
    ------
    ValueError
        The schema lacks a person-table column (the message names it, and the table
        is then not a person table) or a matrix column has the wrong kind.
    """
    specs: dict[str, Any] = {}
    for s in schema:
        if isinstance(s, ColumnSpec):
            specs[s.name] = {"kind": s.kind, "categories": s.categories, "max_len": s.max_len}
        else:
            specs[str(s["name"])] = s
    for c in (RECORD_ID, *ENCODING_COLUMNS):
        if c not in specs:
            raise ValueError(f"not a person table (upload it with upload_people): no column {c!r}")
    cats = list(specs[PIPELINE_COLUMN].get("categories") or ())
    if specs[PIPELINE_COLUMN].get("kind") != "category" or len(cats) != 1:
        raise ValueError(f"column {PIPELINE_COLUMN!r} must name exactly one pipeline version")
    dims = set()
    for f, c in MATRIX_COLUMNS.items():
        if specs[c].get("kind") != "string" or not specs[c].get("max_len"):
            raise ValueError(f"column {c!r} must be a string-kind matrix column")
        if f != "dob":
            dims.add(int(specs[c]["max_len"]) // 8)
    if len(dims) != 1:
        raise ValueError("the name matrices of a person table must have one q-gram dimension")
    return str(cats[0]), dims.pop()


def link_policy(policy: Mapping[str, Any] | None, columns: Sequence[str]) -> dict[str, Any]:
    """The policy of a person table: ``policy`` with every encoding column it does not
    classify set to ``match`` (they exist only to be matched; an owner may still say
    ``private``). ``columns`` are the uploaded column names."""
    doc = dict(policy or {})
    cols = dict(doc.get("columns") or {})
    for c in columns:
        if c in ENCODING_COLUMNS:
            cols.setdefault(c, "match")
    doc["columns"] = cols
    return doc


def shared_people(t: SecretTable) -> SharedPeople:
    """This party's :class:`SharedPeople` view of a stored person table (local)."""
    columns: dict[str, AShare] = {}
    matrices: dict[str, AShare] = {}
    for name, col in MATRIX_COLUMNS.items():
        c = t[col]
        if c.text is None:
            raise ValueError(f"column {col!r} carries no matrix")
        matrices[name] = c.text
        if name != "dob":
            columns[f"{name}_count"] = c.values
    for name, col in SCALAR_COLUMNS.items():
        columns[name] = t[col].values
    return SharedPeople(columns, matrices)


def match_keys(t: SecretTable) -> list[str]:
    """The stored exact-key columns of a person table (for ``exact_links``)."""
    for k in KEY_COLUMNS:
        t[k]  # raises KeyError naming the column
    return list(KEY_COLUMNS)


FS_DEFAULT_PARAMS: dict[str, int] = {"p_match_pct": 70, "em": 1, "tf": 1}
"""Parameters of the ``probabilistic`` (Fellegi-Sunter) mode: the posterior match
probability a pair must reach, in per cent; ``em`` 1 to estimate m, u and the prior by
EM on the pattern counts of the run (opened to the nodes, SECURITY.md), 0 to use the
weights trained on generated data (:data:`sharelake.linkage.fs.TRAINED_WEIGHTS`);
``tf`` 1 for the term-frequency adjustment."""
MIN_EM_PAIRS = 10_000
"""EM counts are opened only over at least this many pairs; smaller runs use the
trained weights."""


def fs_config(params: Mapping[str, Any]) -> FSConfig:
    """:class:`~sharelake.linkage.fs.FSConfig` from a ``probabilistic`` plan's params.

    Raises
    ------
    ValueError
        An unknown name or a value out of range.

    Examples
    --------
    >>> fs_config({"p_match_pct": 80}).p_match
    0.8
    """
    merged: dict[str, Any] = dict(FS_DEFAULT_PARAMS)
    for k, v in params.items():
        if k not in FS_DEFAULT_PARAMS:
            names = ", ".join(FS_DEFAULT_PARAMS)
            raise ValueError(f"unknown probabilistic link parameter {k!r} (one of {names})")
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"link parameter {k!r} must be an integer")
        merged[k] = v
    if not 1 <= merged["p_match_pct"] <= 99:
        raise ValueError("link parameter 'p_match_pct' must be between 1 and 99")
    for k in ("em", "tf"):
        if merged[k] not in (0, 1):
            raise ValueError(f"link parameter {k!r} must be 0 or 1")
    return FSConfig(p_match=merged["p_match_pct"] / 100, tf=bool(merged["tf"]))


def fuzzy_params(params: Mapping[str, Any]) -> FuzzyParams:
    """:class:`FuzzyParams` from a plan's ``params`` (defaults: :data:`DEFAULT_PARAMS`).

    Raises
    ------
    ValueError
        An unknown name, a value that is not an integer in [-4096, 4096], a
        non-positive ``t_den``, or weights too large for the 64-bit comparisons.
    """
    merged: dict[str, Any] = dict(DEFAULT_PARAMS)
    for k, v in params.items():
        if k not in LINK_PARAM_NAMES:
            raise ValueError(f"unknown link parameter {k!r} (one of {', '.join(LINK_PARAM_NAMES)})")
        if isinstance(v, bool) or not isinstance(v, int) or abs(v) > _PARAM_LIMIT:
            raise ValueError(f"link parameter {k!r} must be an integer in [-4096, 4096]")
        merged[k] = v
    if merged["t_den"] < 1:
        raise ValueError("link parameter 't_den' must be positive")
    prm = replace(RECOMMENDED, **merged)
    widths(prm)  # raises ValueError when the comparisons would not fit 64 bits
    return prm

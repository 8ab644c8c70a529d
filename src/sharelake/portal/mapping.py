"""The upload wizard's logic: read a file, map its columns and labels to the data model,
and list every validation problem by row and column before anything is shared.

Pure functions over DataFrames (no web code), so the wizard's rules are tested without a
browser: :func:`read_table` reads CSV or Excel as text, :func:`suggest_mapping` proposes a
data-model field per column (known synonyms first, then name similarity), and
:func:`apply_mapping` renames and recodes the file and validates it with
:func:`sharelake.monitoring.model.validate_frame`, returning the problems instead of
raising, so the page can show them all at once.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import jellyfish
import pandas as pd

from ..errors import InputValidationError
from ..monitoring.model import CODEBOOKS, FIELDS, REQUIRED, DataModelError, Problem, validate_frame

__all__ = [
    "DATE_FIELDS",
    "MAX_UPLOAD_BYTES",
    "DateOrder",
    "Mapped",
    "apply_mapping",
    "iso_date",
    "read_table",
    "suggest_mapping",
    "unknown_labels",
]

MAX_UPLOAD_BYTES = 64 * 1024 * 1024
"""The largest file the wizard reads (64 MiB; bigger lists go through ``sharelake upload``)."""

DateOrder = Literal["ymd", "dmy", "mdy"]
"""How a file writes its dates: ISO ``2023-03-07`` (ymd), ``07-03-2023`` (dmy) or
``03/07/2023`` (mdy); ``-``, ``/`` and ``.`` separate; partial dates keep their order."""

DATE_FIELDS = ("date_of_birth", "first_contact")

# Column names organisations use for each field (English, Dutch, French, German, Spanish),
# folded as by :func:`_fold`; a name not listed is matched by similarity.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "record_id": ("id", "recordid", "caseid", "dossier", "dossiernr", "casenumber", "nr"),
    "role": ("role", "status", "rol", "type", "persontype"),
    "given_name": ("givenname", "firstname", "forename", "voornaam", "prenom", "vorname"),
    "family_name": ("familyname", "surname", "lastname", "achternaam", "nom", "nachname"),
    "date_of_birth": ("dateofbirth", "dob", "birthdate", "geboren", "geboortedatum", "born"),
    "sex": ("sex", "gender", "geslacht", "sexe", "geschlecht"),
    "nationality": ("nationality", "country", "land", "nationaliteit", "nationalite"),
    "recruitment": ("recruitment", "werving", "recruitmentmethod", "recrutement"),
    "transport_route": ("route", "transportroute", "itinerary"),
    "transport_mode": ("transportmode", "mode", "vervoer"),
    "exploitation_sector": ("sector", "exploitationsector", "uitbuiting", "industry"),
    "exploitation_city": ("city", "plaats", "stad", "ville", "exploitationcity"),
    "first_contact": ("firstcontact", "aanmelding", "contactdate", "intake", "registered"),
}


def _fold(text: str) -> str:
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", t.lower())


def read_table(data: bytes, filename: str) -> pd.DataFrame:
    """Read an uploaded CSV (UTF-8) or Excel (.xlsx) file; every cell as text.

    Raises
    ------
    InputValidationError
        The file is too large, empty, not CSV/Excel, not UTF-8, or has no data rows
        or repeated column names (the message names the file).

    Examples
    --------
    >>> read_table(b"a,b\\n1,x\\n", "f.csv").to_dict("list")
    {'a': ['1'], 'b': ['x']}
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputValidationError(
            f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MiB", source=filename
        )
    suffix = Path(filename).suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            df = pd.read_excel(io.BytesIO(data), dtype=str, engine="openpyxl")
        elif suffix in (".csv", ".txt", ""):
            df = pd.read_csv(io.StringIO(data.decode("utf-8-sig")), dtype=str)
        else:
            raise InputValidationError("choose a .csv or .xlsx file", source=filename)
    except UnicodeDecodeError:
        raise InputValidationError("the file is not UTF-8 text", source=filename) from None
    except (ValueError, OSError, KeyError) as exc:
        raise InputValidationError(f"the file cannot be read: {exc}", source=filename) from None
    names = [str(c) for c in df.columns]
    dup = sorted({c for c in names if names.count(c) > 1 or re.fullmatch(r".+\.\d+", c)})
    dup = [c for c in dup if names.count(c) > 1 or c.rsplit(".", 1)[0] in names]
    if dup:
        raise InputValidationError(
            f"repeated column name(s): {', '.join(dup)}", source=filename, column=dup[0]
        )
    if df.empty:
        raise InputValidationError("the file has a header but no data rows", source=filename)
    return df.fillna("")


def suggest_mapping(columns: list[str]) -> dict[str, str]:
    """A data-model field (or ``""``: leave out) for each column; each field used once.

    Known synonyms win, then Jaro–Winkler similarity of the folded names (≥ 0.88).

    Examples
    --------
    >>> suggest_mapping(["Voornaam", "Achternaam", "Geboren", "notes"])
    {'Voornaam': 'given_name', 'Achternaam': 'family_name', 'Geboren': 'date_of_birth', \
'notes': ''}
    """
    out: dict[str, str] = {c: "" for c in columns}
    used: set[str] = set()
    for c in columns:
        f = _fold(c)
        for name, syns in _SYNONYMS.items():
            if name not in used and (f == _fold(name) or f in syns):
                out[c], used = name, used | {name}
                break
    for c in columns:
        if out[c]:
            continue
        scored = [
            (jellyfish.jaro_winkler_similarity(_fold(c), _fold(name)), name)
            for name in _SYNONYMS
            if name not in used
        ]
        if scored:
            score, name = max(scored)
            if score >= 0.88:
                out[c], used = name, used | {name}
    return out


@dataclass(frozen=True)
class Mapped:
    """The outcome of :func:`apply_mapping`: the validated table (None when there are
    problems) and every problem, by 1-based data row and data-model column."""

    table: pd.DataFrame | None
    problems: tuple[Problem, ...] = field(default_factory=tuple)


def _renamed(df: pd.DataFrame, mapping: Mapping[str, str]) -> pd.DataFrame:
    chosen = {src: dst for src, dst in mapping.items() if dst}
    fields = {f.name for f in FIELDS}
    bad = [d for d in chosen.values() if d not in fields]
    if bad:
        raise InputValidationError(f"{bad[0]!r} is not a field of the data model")
    twice = sorted({d for d in chosen.values() if list(chosen.values()).count(d) > 1})
    if twice:
        raise InputValidationError(
            f"two columns are mapped to {twice[0]!r}; map each field once", column=twice[0]
        )
    return df[list(chosen)].rename(columns=chosen)


def unknown_labels(df: pd.DataFrame, mapping: Mapping[str, str]) -> dict[str, list[str]]:
    """Per code field, the labels in the file that are not codes (case-folded), sorted.

    These are what the wizard asks the data officer to recode (``Roemenië`` -> ``RO``).

    Examples
    --------
    >>> df = pd.DataFrame({"g": ["V", "M", "m"]})
    >>> unknown_labels(df, {"g": "sex"})
    {'sex': ['V']}
    """
    out: dict[str, list[str]] = {}
    for name, col in _renamed(df, mapping).items():
        book = CODEBOOKS.get(str(name))
        if book is None:
            continue
        folded = {b.casefold() for b in book}
        labels = {str(v).strip() for v in col if str(v).strip()}
        odd = sorted(v for v in labels if v.casefold() not in folded)
        if odd:
            out[str(name)] = odd
    return out


def apply_mapping(
    df: pd.DataFrame,
    mapping: Mapping[str, str],
    recode: Mapping[str, Mapping[str, str]] | None = None,
    *,
    source: str,
    dates: Mapping[str, DateOrder] | None = None,
) -> Mapped:
    """Rename the file's columns to the model, recode labels, validate every value.

    ``mapping``: file column -> field (``""`` leaves a column out, so it never leaves
    this machine); ``recode``: field -> {label in the file: code}; ``dates``: field ->
    how the file writes it (:data:`DateOrder`, default ISO). Nothing is guessed: a
    label without a recoding, or a date not in the stated order, stays as it is and
    becomes a problem.

    Examples
    --------
    >>> df = pd.DataFrame({"id": ["1"], "vn": ["Ana"], "an": ["Pop"], "g": ["V"]})
    >>> m = {"id": "record_id", "vn": "given_name", "an": "family_name", "g": "sex"}
    >>> [str(p) for p in apply_mapping(df, m, source="f.csv").problems]
    ["row 1, column 'sex': 'V': not a sex code (allowed: F, M, X)"]
    >>> apply_mapping(df, m, {"sex": {"V": "F"}}, source="f.csv").table["sex"].tolist()
    ['F']
    """
    model = _renamed(df, mapping).astype(str)
    for name, table in (recode or {}).items():
        if name in model.columns and table:
            model[name] = model[name].map(lambda v, t=table: t.get(v.strip(), v))
    for name, order in (dates or {}).items():
        if name in model.columns and order != "ymd":
            model[name] = model[name].map(lambda v, o=order: iso_date(v, o))
    missing = [r for r in REQUIRED if r not in model.columns]
    if missing:
        return Mapped(
            None,
            tuple(Problem(None, r, "required field: map a column to it") for r in missing),
        )
    try:
        valid = validate_frame(model, source=source)
    except DataModelError as exc:
        return Mapped(None, exc.problems)
    return Mapped(valid, ())


def iso_date(text: str, order: DateOrder) -> str:
    """A (partial) date written in ``order`` as ISO 8601; text that does not parse is
    returned unchanged, for validation to report.

    Examples
    --------
    >>> iso_date("07-03-2023", "dmy"), iso_date("3/7/2023", "mdy"), iso_date("07-1991", "dmy")
    ('2023-03-07', '2023-03-07', '1991-07')
    >>> iso_date("1996", "dmy"), iso_date("forty", "dmy")
    ('1996', 'forty')
    """
    t = text.strip()
    parts = re.split(r"[-/.]", t)
    if not t or not all(p.isdigit() for p in parts):
        return text
    if len(parts) == 3:
        d, m, y = parts if order == "dmy" else (parts[1], parts[0], parts[2])
        return f"{y}-{int(m):02d}-{int(d):02d}" if len(y) == 4 else text
    if len(parts) == 2 and len(parts[1]) == 4:
        return f"{parts[1]}-{int(parts[0]):02d}"
    return t if len(parts) == 1 and len(t) == 4 else text

"""The shared person-level data model every organisation maps its records to.

Version :data:`DATA_MODEL_VERSION`. One row per person record held by one organisation:

=====================  ==========  ========  ===============================================
field                  type        required  values
=====================  ==========  ========  ===============================================
record_id              text        yes       the organisation's own id, unique in the file
role                   code        no        :data:`ROLES`
given_name             text        yes       any script, as recorded
family_name            text        yes       any script, as recorded
date_of_birth          date        no        ISO 8601 ``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY``
sex                    code        no        :data:`SEXES`
nationality            code        no        ISO 3166-1 alpha-2 (:data:`COUNTRIES`)
recruitment            code        no        :data:`RECRUITMENT`
transport_route        codes       no        route countries ``NG>LY>IT>NL`` (alpha-2, ``>``)
transport_mode         code        no        :data:`TRANSPORT_MODES`
exploitation_sector    code        no        :data:`SECTORS`
exploitation_city      text        no        city name (coded against :data:`CITIES`)
first_contact          date        no        ISO 8601 ``YYYY-MM-DD``
=====================  ==========  ========  ===============================================

An empty cell means unknown. :func:`validate_frame` checks a table against the model and
names the file, row and column of every problem; :func:`lake_frame` and
:func:`lake_schema` turn a valid table into the columns uploaded to the lake, where every
categorical field is a code against its public codebook (the codebooks are public, so
they leak nothing about the data). docs/data-model.md is the reader's version.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"record_id": ["a1"], "given_name": ["Ana"], "family_name": ["Popa"],
...                    "date_of_birth": ["1999-04"], "nationality": ["ro"]})
>>> valid = validate_frame(df, source="ngo.csv")
>>> valid.loc[0, "nationality"]
'RO'
>>> lake_frame(valid).loc[0, ["birth_year", "birth_month"]].tolist()
[1999, 4]
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputValidationError
from ..relational.table import ColumnSpec

DATA_MODEL_VERSION = "1.0"

ROLES: tuple[str, ...] = ("victim", "suspect", "informant", "witness")
"""Role of the person in the organisation's records."""

SEXES: tuple[str, ...] = ("F", "M", "X")
"""Sex as recorded: female, male, other or not binary (``X``, as in ICAO passports)."""

RECRUITMENT: tuple[str, ...] = (
    "job_offer",
    "loverboy",
    "family",
    "acquaintance",
    "online",
    "agency",
    "debt",
    "abduction",
    "other",
)
"""Recruitment method: a false job offer, a 'loverboy' (romance) method, a family member,
an acquaintance, online (social media, adverts), a recruitment or travel agency, debt
bondage, abduction or force, other."""

TRANSPORT_MODES: tuple[str, ...] = ("air", "road", "rail", "sea", "foot", "mixed", "none")
"""Main mode of transport; ``none`` when the person was not moved across a border."""

SECTORS: tuple[str, ...] = (
    "sexual",
    "agriculture",
    "construction",
    "domestic",
    "hospitality",
    "manufacturing",
    "logistics",
    "criminal",
    "begging",
    "marriage",
    "other",
)
"""Sector of exploitation: sexual exploitation; labour exploitation in agriculture,
construction, domestic work, hospitality, manufacturing, logistics; forced criminal
activity; forced begging; forced marriage; other."""

CITIES: tuple[str, ...] = (
    "Amsterdam",
    "Rotterdam",
    "Den Haag",
    "Utrecht",
    "Eindhoven",
    "Groningen",
    "Tilburg",
    "Almere",
    "Breda",
    "Nijmegen",
    "Arnhem",
    "Haarlem",
    "Enschede",
    "Maastricht",
    "Zwolle",
    "Venlo",
    "other",
)
"""The consortium's public city codebook for ``exploitation_city``; any other city is
uploaded as ``other``."""

_ISO_3166_1 = (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO "
    "BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ "
    "DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP "
    "GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG "
    "KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML "
    "MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE "
    "PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL "
    "SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM "
    "US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW "
)
COUNTRIES: tuple[str, ...] = tuple(_ISO_3166_1.split())
"""ISO 3166-1 alpha-2 country codes (all 249 assigned codes)."""

QUARTERS: tuple[str, ...] = tuple(f"{y}Q{q}" for y in range(2000, 2036) for q in range(1, 5))
"""Quarters ``2000Q1`` to ``2035Q4``: the codebook of the derived ``contact_quarter``."""

CODEBOOKS: dict[str, tuple[str, ...]] = {
    "role": ROLES,
    "sex": SEXES,
    "nationality": COUNTRIES,
    "recruitment": RECRUITMENT,
    "transport_mode": TRANSPORT_MODES,
    "exploitation_sector": SECTORS,
}


@dataclass(frozen=True)
class Field:
    """One field of the data model."""

    name: str
    kind: str  # "text", "code", "codes", "date", "partial_date"
    required: bool
    description: str


FIELDS: tuple[Field, ...] = (
    Field("record_id", "text", True, "the organisation's own record id, unique in a file"),
    Field("role", "code", False, "victim, suspect, informant or witness"),
    Field("given_name", "text", True, "given name(s) as recorded, any script"),
    Field("family_name", "text", True, "family name(s) as recorded, any script"),
    Field("date_of_birth", "partial_date", False, "YYYY-MM-DD, YYYY-MM or YYYY"),
    Field("sex", "code", False, "F, M or X"),
    Field("nationality", "code", False, "ISO 3166-1 alpha-2"),
    Field("recruitment", "code", False, "recruitment method"),
    Field("transport_route", "codes", False, "countries passed, e.g. NG>LY>IT>NL"),
    Field("transport_mode", "code", False, "main mode of transport"),
    Field("exploitation_sector", "code", False, "sector of exploitation"),
    Field("exploitation_city", "text", False, "city of exploitation"),
    Field("first_contact", "date", False, "date of first contact, YYYY-MM-DD"),
)
COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS)
REQUIRED: tuple[str, ...] = tuple(f.name for f in FIELDS if f.required)

NAME_MAX_BYTES = 64
"""Public maximum UTF-8 length of a name in the lake (longer names are rejected)."""
RECORD_ID_MAX_BYTES = 32
ROUTE_MAX_BYTES = 32

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_FULL = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Problem:
    """One invalid value: the 1-based data row (``None`` for the whole file) and column."""

    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = ", ".join(
            p
            for p in (
                f"row {self.row}" if self.row is not None else "",
                f"column {self.column!r}" if self.column else "",
            )
            if p
        )
        return f"{where}: {self.message}" if where else self.message


class DataModelError(InputValidationError):
    """A table does not fit the data model; ``problems`` lists every problem found.

    ``row`` and ``column`` (and the message's start) are those of the first problem.
    """

    def __init__(self, problems: Sequence[Problem], *, source: str | None = None) -> None:
        first = problems[0]
        more = len(problems) - 1
        extra = f" (and {more} more problem{'s' * (more > 1)}: " if more else ""
        if more:
            extra += "; ".join(str(p) for p in problems[1:6]) + (" ..." if more > 5 else "") + ")"
        super().__init__(first.message + extra, source=source, row=first.row, column=first.column)
        self.problems = tuple(problems)


def parse_partial_date(text: str) -> tuple[int, int | None, int | None]:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` as (year, month or None, day or None).

    Raises ``ValueError`` on anything else, or on a date that does not exist.

    Examples
    --------
    >>> parse_partial_date("1987-02"), parse_partial_date("1987-02-28")
    ((1987, 2, None), (1987, 2, 28))
    """
    m = _PARTIAL.match(text)
    if not m:
        raise ValueError("not an ISO 8601 date (YYYY-MM-DD, YYYY-MM or YYYY)")
    y, mo, d = int(m[1]), m[2], m[3]
    if not 1900 <= y <= 2100:
        raise ValueError(f"year {y} is out of range 1900-2100")
    if mo is not None and not 1 <= int(mo) <= 12:
        raise ValueError(f"month {mo} does not exist")
    if d is not None:
        _dt.date(y, int(mo or 1), int(d))  # raises ValueError for 2001-02-30
    return y, None if mo is None else int(mo), None if d is None else int(d)


def _clean(s: pd.Series) -> pd.Series:
    out = s.astype("object").where(s.notna(), "")
    return out.map(lambda v: str(v).strip())


def validate_frame(
    df: pd.DataFrame,
    *,
    source: str | Path | None = None,
    extra: str = "error",
    today: _dt.date | None = None,
) -> pd.DataFrame:
    """Check ``df`` against the data model; return a normalised copy or raise.

    Normalisation: text is stripped, codes are case-folded to their codebook form
    (``ro`` -> ``RO``, ``Victim`` -> ``victim``), absent optional columns are added empty,
    and the columns come in the model's order. Unknown values are errors, not guesses.

    Parameters
    ----------
    df
        The table, one row per record, columns named as the model.
    source
        The file the table came from, named in every error.
    extra
        ``"error"`` (default) rejects columns that are not in the model; ``"drop"``
        drops them.
    today
        Dates after this day are rejected (default: the current date).

    Raises
    ------
    DataModelError
        With ``problems``: every invalid value (row numbers count data rows from 1).

    Examples
    --------
    >>> bad = pd.DataFrame({"record_id": ["1"], "given_name": ["A"], "family_name": ["B"],
    ...                     "sex": ["female"]})
    >>> validate_frame(bad, source="hotline.csv")
    Traceback (most recent call last):
    ...
    sharelake.monitoring.model.DataModelError: file hotline.csv, row 1, column 'sex': ...
    """
    src = None if source is None else str(source)
    today = today or _dt.date.today()
    problems: list[Problem] = []
    cols = [str(c) for c in df.columns]
    missing = [c for c in REQUIRED if c not in cols]
    for c in missing:
        problems.append(Problem(None, c, "required column is missing"))
    unknown = [c for c in cols if c not in COLUMNS]
    if unknown and extra == "error":
        for c in unknown:
            problems.append(
                Problem(None, c, f"not a field of data model {DATA_MODEL_VERSION} (see docs)")
            )
    if problems:
        raise DataModelError(problems, source=src)
    out = pd.DataFrame(index=range(len(df)))
    for f in FIELDS:
        col = (
            _clean(df[f.name].reset_index(drop=True))
            if f.name in cols
            else pd.Series([""] * len(df), dtype="object")
        )
        out[f.name] = _check_field(f, col, problems, today)
    ids = out["record_id"]
    dup = ids[(ids != "") & ids.duplicated(keep="first")]
    for i in dup.index[:20]:
        problems.append(Problem(int(i) + 1, "record_id", f"duplicate record id {ids[i]!r}"))
    if problems:
        problems.sort(key=lambda p: (p.row or 0, COLUMNS.index(p.column or "record_id")))
        raise DataModelError(problems, source=src)
    return out


def _check_field(f: Field, col: pd.Series, problems: list[Problem], today: _dt.date) -> pd.Series:
    limit = RECORD_ID_MAX_BYTES if f.name == "record_id" else NAME_MAX_BYTES
    out: list[str] = []
    for i, v in enumerate(col.tolist()):
        value = str(v)
        if value == "":
            if f.required:
                problems.append(Problem(i + 1, f.name, "required value is empty"))
            out.append("")
            continue
        try:
            out.append(_check_value(f, value, limit, today))
        except ValueError as exc:
            problems.append(Problem(i + 1, f.name, f"{value!r}: {exc}"))
            out.append(value)
    return pd.Series(out, dtype="object")


def _code(value: str, book: tuple[str, ...], what: str) -> str:
    for candidate in (value, value.lower(), value.upper()):
        if candidate in book:
            return candidate
    shown = ", ".join(book) if len(book) <= 20 else "ISO 3166-1 alpha-2 codes"
    raise ValueError(f"not a {what} code (allowed: {shown})")


def _check_value(f: Field, v: str, limit: int, today: _dt.date) -> str:
    if f.kind == "text":
        if len(v.encode("utf-8")) > limit:
            raise ValueError(f"longer than {limit} bytes in UTF-8")
        return v
    if f.kind == "code":
        return _code(v, CODEBOOKS[f.name], f.name.replace("_", " "))
    if f.kind == "codes":
        parts = [p.strip() for p in v.split(">")]
        route = ">".join(_code(p, COUNTRIES, "country") for p in parts)
        if len(route) > ROUTE_MAX_BYTES:
            raise ValueError(f"a route of more than {ROUTE_MAX_BYTES} characters")
        return route
    if f.kind == "partial_date":
        y, m, d = parse_partial_date(v)
        if _dt.date(y, m or 1, d or 1) > today:
            raise ValueError("lies in the future")
        return v
    if not _FULL.match(v):
        raise ValueError("not an ISO 8601 date YYYY-MM-DD")
    day = _dt.date.fromisoformat(v)
    if day > today:
        raise ValueError("lies in the future")
    return v


def read_csv(path: str | Path, *, extra: str = "error") -> pd.DataFrame:
    """Read and validate a CSV in the data model (UTF-8, header row); see ``validate_frame``.

    Examples
    --------
    >>> df = read_csv("examples/template.csv")  # doctest: +SKIP
    """
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    return validate_frame(raw, source=path, extra=extra)


def lake_schema() -> list[ColumnSpec]:
    """The column schema of a person table in the lake (the order of :func:`lake_frame`).

    Dates of birth become three nullable integers (year, month, day) so a partial date
    keeps what is known; categorical fields are codes against the public codebooks;
    ``contact_quarter`` is derived from ``first_contact`` for trends.

    Examples
    --------
    >>> [s.name for s in lake_schema()][:4]
    ['record_id', 'role', 'given_name', 'family_name']
    """

    def cat(name: str, book: tuple[str, ...]) -> ColumnSpec:
        return ColumnSpec(name, "category", True, categories=book)

    return [
        ColumnSpec("record_id", "string", False, max_len=RECORD_ID_MAX_BYTES),
        cat("role", ROLES),
        ColumnSpec("given_name", "string", False, max_len=NAME_MAX_BYTES),
        ColumnSpec("family_name", "string", False, max_len=NAME_MAX_BYTES),
        ColumnSpec("birth_year", "int", True),
        ColumnSpec("birth_month", "int", True),
        ColumnSpec("birth_day", "int", True),
        cat("sex", SEXES),
        cat("nationality", COUNTRIES),
        cat("recruitment", RECRUITMENT),
        ColumnSpec("transport_route", "string", True, max_len=ROUTE_MAX_BYTES),
        cat("transport_mode", TRANSPORT_MODES),
        cat("exploitation_sector", SECTORS),
        cat("exploitation_city", CITIES),
        ColumnSpec("first_contact", "date", True),
        cat("contact_quarter", QUARTERS),
    ]


def city_code(city: str) -> str | None:
    """The :data:`CITIES` entry of a free-text city (case and accents folded), or ``other``.

    Examples
    --------
    >>> city_code(" den haag"), city_code("'s-Gravenhage"), city_code("Lyon"), city_code("")
    ('Den Haag', 'Den Haag', 'other', None)
    """

    def fold(s: str) -> str:
        s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")
        return re.sub(r"[^a-z]", "", s.lower())

    if not city.strip():
        return None
    key = fold(city)
    aliases = {"sgravenhage": "Den Haag", "thehague": "Den Haag", "denhaag": "Den Haag"}
    if key in aliases:
        return aliases[key]
    for c in CITIES:
        if fold(c) == key:
            return c
    return "other"


def quarter_of(day: str) -> str | None:
    """``2021-05-03`` -> ``2021Q2`` (``None`` for an empty date).

    Examples
    --------
    >>> quarter_of("2021-05-03")
    '2021Q2'
    """
    if not day:
        return None
    return f"{day[:4]}Q{(int(day[5:7]) - 1) // 3 + 1}"


def lake_frame(valid: pd.DataFrame) -> pd.DataFrame:
    """The upload form of a validated table (columns and order of :func:`lake_schema`).

    Empty values become missing (null) values; see :func:`validate_frame` first.
    """
    n = len(valid)

    def opt(col: str) -> pd.Series:
        s = valid[col].reset_index(drop=True).astype("object")
        return s.where(s != "", None)

    parts = [parse_partial_date(v) if v else (None, None, None) for v in valid["date_of_birth"]]
    out = pd.DataFrame(
        {
            "record_id": valid["record_id"].reset_index(drop=True).astype(str),
            "role": opt("role"),
            "given_name": valid["given_name"].reset_index(drop=True).astype(str),
            "family_name": valid["family_name"].reset_index(drop=True).astype(str),
            "birth_year": pd.array([p[0] for p in parts], dtype="Int64"),
            "birth_month": pd.array([p[1] for p in parts], dtype="Int64"),
            "birth_day": pd.array([p[2] for p in parts], dtype="Int64"),
            "sex": opt("sex"),
            "nationality": opt("nationality"),
            "recruitment": opt("recruitment"),
            "transport_route": opt("transport_route"),
            "transport_mode": opt("transport_mode"),
            "exploitation_sector": opt("exploitation_sector"),
            "exploitation_city": [city_code(str(c)) for c in valid["exploitation_city"]],
            "first_contact": pd.to_datetime(opt("first_contact"), format="%Y-%m-%d"),
            "contact_quarter": [quarter_of(str(d)) for d in valid["first_contact"]],
        },
        index=np.arange(n),
    )
    return out

"""Client-side name and birth-date normalisation (one versioned pipeline).

Every organisation runs exactly this pipeline before its person table is encoded
and secret-shared; its version string :data:`PIPELINE_VERSION` is recorded with
every encoded table, and two tables encoded by different versions must not be
compared.

Name pipeline (applied to ``given_name`` and ``family_name`` separately)
-----------------------------------------------------------------------
1. ``None``/NaN becomes the empty string; the raw string is cut to
   :data:`MAX_INPUT_CHARS` characters.
2. Unicode NFKC, then ``str.casefold``.
3. Honorific prefixes written without a space in Thai (``นาย``, ``นาง``,
   ``นางสาว``, ...) are removed from the start of the string.
4. The string is split into runs by script and each run is romanised with one
   fixed scheme per script:

   * Latin: ``š``, ``ž``, ``č`` become ``sh``, ``zh``, ``ch`` (as the Cyrillic
     letters they stand for); other diacritics are folded with ``anyascii``
     (``ș`` → ``s``, ``ă`` → ``a``).
   * Cyrillic: the fixed table :data:`CYRILLIC` (the Bulgarian Streamlined
     System of 2009, extended with the Russian and Ukrainian letters as in
     BGN/PCGN; e.g. ``щ`` → ``sht``, ``х`` → ``h``, ``ъ`` → ``a``).
   * Han: toneless Hanyu Pinyin from ``pypinyin`` (``ü`` → ``u``), the syllables
     of one run of Han characters joined into one token (``小明`` → ``xiaoming``);
     a run of three or more characters is taken as a full name and its first
     syllable (two for a compound surname such as ``欧阳``) becomes a token of
     its own (``王小明`` → ``wang xiaoming``).
   * Thai: the Royal Thai General System (RTGS) from
     ``pythainlp.transliterate.romanize(engine="royin")``.
   * Any other script: ``anyascii``.

   Characters that are neither letters nor combining marks (digits, punctuation,
   symbols, emoji) separate tokens and are otherwise dropped.
5. Tokens are the maximal runs of ``a``-``z``; honorifics and particles
   (:data:`HONORIFICS`, :data:`PARTICLES`) are removed, unless that would leave
   the field empty.
6. Spelling alternations are folded (:func:`fold_spelling`).
7. Each token is cut to :data:`MAX_TOKEN_CHARS` letters; the first
   :data:`MAX_TOKENS` distinct tokens are kept, as a sorted tuple (an unordered
   set: "Ana Maria" and "Maria Ana" normalise alike).

Birth dates
-----------
:func:`parse_birth_date` accepts ISO 8601 ``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY``
or empty, and returns year, month and day with 0 for "missing".
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from anyascii import anyascii

__all__ = [
    "CYRILLIC",
    "HONORIFICS",
    "MAX_INPUT_CHARS",
    "MAX_TOKENS",
    "MAX_TOKEN_CHARS",
    "PARTICLES",
    "PIPELINE_VERSION",
    "BirthDate",
    "fold_spelling",
    "normalize_name",
    "parse_birth_date",
    "romanize",
]

PIPELINE_VERSION = "sharelake-names/3"
"""Version of the whole client-side pipeline (normalisation and encodings)."""

MAX_INPUT_CHARS = 256
"""Raw name strings are cut to this many characters before anything else."""
MAX_TOKENS = 6
"""At most this many distinct tokens are kept per name field."""
MAX_TOKEN_CHARS = 20
"""Each token is cut to this many letters (after romanisation and folding)."""

HONORIFICS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "sir",
        "madam",
        "mme",
        "mlle",
        "herr",
        "frau",
        "dl",
        "dna",
        "d-l",
        "d-na",
        "domnul",
        "doamna",
        "domnisoara",
        "gn",
        "gzha",
        "gtsa",
        "gospodin",
        "gospozha",
        "chief",
        "alhaji",
        "alhaja",
        "alh",
        "mallam",
        "malam",
        "oba",
        "prince",
        "princess",
        "hon",
        "rev",
        "pastor",
        "sister",
        "brother",
        "khun",
        "nai",
        "nang",
        "nangsao",
        "xiansheng",
        "nushi",
        "xiaojie",
    ]
)
"""Tokens dropped as honorifics (compared after romanisation, before folding)."""

PARTICLES = frozenset(
    [
        "van",
        "von",
        "der",
        "den",
        "de",
        "da",
        "di",
        "del",
        "della",
        "la",
        "le",
        "du",
        "bin",
        "binti",
        "bint",
        "ibn",
        "al",
        "el",
    ]
)
"""Name particles dropped as tokens ("van der Berg" → {"berg"})."""

_THAI_PREFIXES = ("นางสาว", "นาย", "นาง", "ด.ช.", "ด.ญ.", "คุณ")

CYRILLIC: dict[str, str] = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n",
    "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f",
    "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sht", "ъ": "a", "ь": "y",
    "ю": "yu", "я": "ya", "ё": "yo", "ы": "y", "э": "e", "є": "ye", "і": "i",
    "ї": "yi", "ґ": "g", "ў": "u", "ђ": "dj", "ј": "j", "љ": "lj", "њ": "nj",
    "ћ": "c", "џ": "dzh", "ѝ": "i",
}  # fmt: skip
"""Fixed Cyrillic → Latin table (Bulgarian Streamlined System, extended)."""

_ALTERNATIONS: tuple[tuple[str, str], ...] = (
    ("dzh", "j"),
    ("tsch", "ch"),
    ("dj", "j"),
    ("sch", "sh"),
    ("tch", "ch"),
    ("ph", "f"),
    ("ck", "k"),
    ("kh", "h"),
    ("gh", "g"),
    ("th", "t"),
    ("x", "ks"),
    ("q", "k"),
    ("w", "v"),
    ("y", "i"),
    ("c", "k"),
)


@lru_cache(maxsize=65536)
def fold_spelling(token: str) -> str:
    """Fold common spelling alternations of one romanised token.

    In this order: ``dzh``/``dj`` → ``j``, ``tsch`` → ``ch``, ``sch`` → ``sh``, ``tch`` → ``ch``,
    ``ph`` → ``f``, ``ck`` → ``k``, ``kh`` → ``h``, ``gh`` → ``g``, ``th`` → ``t``,
    ``x`` → ``ks``, ``q`` → ``k``, ``w`` → ``v``, ``y`` → ``i``, then ``c`` →
    ``k`` except in ``ch``; then the endings ``-off``/``-eff``/``-ow`` become
    ``-ov``/``-ev``/``-ov``; finally runs of a doubled letter collapse to one.

    Parameters
    ----------
    token : str
        A token of lower-case ASCII letters.

    Returns
    -------
    str
        The folded token.

    Examples
    --------
    >>> fold_spelling("philippe"), fold_spelling("ivanoff"), fold_spelling("khristov")
    ('filipe', 'ivanov', 'hristov')
    >>> fold_spelling("nikolay") == fold_spelling("nicolai")
    True
    """
    t = token
    if t.endswith(("off", "eff")):
        t = t[:-2] + "v"
    elif t.endswith("ow"):
        t = t[:-1] + "v"
    for old, new in _ALTERNATIONS:
        t = re.sub(r"c(?!h)", "k", t) if old == "c" else t.replace(old, new)
    return re.sub(r"(.)\1+", r"\1", t)


def _script(ch: str) -> str:
    cp = ord(ch)
    if 0x0400 <= cp <= 0x052F:
        return "cyrillic"
    if 0x0E00 <= cp <= 0x0E7F:
        return "thai"
    if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF:
        return "han"
    if cp < 0x0250 or 0x1E00 <= cp <= 0x1EFF:
        return "latin"
    return "other"


_HAN_COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 慕容 令狐 长孙 宇文 "  # noqa: SIM905
    "司徒 夏侯 轩辕 端木 歐陽 諸葛 東方 長孫".split()
)
# Slavic háčeks spelled as the English digraphs (Cyrillic ж ш ч give zh sh ch).
_CARONS = str.maketrans({"š": "sh", "ž": "zh", "č": "ch"})


@lru_cache(maxsize=1)
def _thai_romanizer() -> object:
    from pythainlp.transliterate import romanize as thai_romanize

    return thai_romanize


def _romanize_run(run: str, script: str) -> str:
    if script == "cyrillic":
        return "".join(CYRILLIC.get(c, anyascii(c)) for c in run)
    if script == "han":
        from pypinyin import Style, lazy_pinyin

        syllables = lazy_pinyin(run, style=Style.NORMAL, v_to_u=True, errors="ignore")
        if len(run) >= 3 and len(syllables) == len(run):  # a full name: family name apart
            k = 2 if run[:2] in _HAN_COMPOUND_SURNAMES else 1
            return anyascii("".join(syllables[:k]) + " " + "".join(syllables[k:]))
        return anyascii("".join(syllables))
    if script == "latin":
        return anyascii(run.translate(_CARONS))
    if script == "thai":
        fn = _thai_romanizer()
        return anyascii(str(fn(run, engine="royin")))  # type: ignore[operator]
    return anyascii(run)


def romanize(text: str) -> str:
    """Romanise a case-folded string by script runs (step 4 of the pipeline).

    Letters and combining marks are romanised with the scheme of their script;
    every other character becomes a space.

    Parameters
    ----------
    text : str
        NFKC-normalised, case-folded text.

    Returns
    -------
    str
        Lower-case ASCII letters and spaces (plus any ASCII ``anyascii`` emits).

    Examples
    --------
    >>> romanize("иванов")
    'ivanov'
    >>> romanize("王小明")
    'wang xiaoming'
    >>> romanize("ștefan 😀")
    'stefan  '
    """
    out: list[str] = []
    run: list[str] = []
    run_script = ""
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] == "L" or (cat[0] == "M" and run):
            script = run_script if cat[0] == "M" else _script(ch)
            if run and script != run_script:
                out.append(_romanize_run("".join(run), run_script))
                run = []
            run.append(ch)
            run_script = script
        else:
            if run:
                out.append(_romanize_run("".join(run), run_script))
                run = []
            out.append(" ")
    if run:
        out.append(_romanize_run("".join(run), run_script))
    return "".join(out).lower()


def _strip_thai_prefix(text: str) -> str:
    for prefix in _THAI_PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix):
            return text[len(prefix) :]
    return text


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@lru_cache(maxsize=262144)
def _normalize_cached(raw: str) -> tuple[str, ...]:
    text = unicodedata.normalize("NFKC", raw[:MAX_INPUT_CHARS]).casefold()
    text = " ".join(_strip_thai_prefix(part) for part in text.split())
    # Bulgarian and Romanian abbreviated honorifics written with a hyphen.
    text = re.sub(r"(?<![^\W\d_])(г-н|г-жа|г-ца|d-na|d-l|d-ra)(?![^\W\d_])", " ", text)
    tokens = re.findall(r"[a-z]+", romanize(text))
    kept = [t for t in tokens if t not in HONORIFICS and t not in PARTICLES]
    if not kept:
        kept = [t for t in tokens if t not in HONORIFICS] or tokens
    folded: list[str] = []
    for tok in kept:
        f = fold_spelling(tok)[:MAX_TOKEN_CHARS]
        if f and f not in folded:
            folded.append(f)
        if len(folded) == MAX_TOKENS:
            break
    return tuple(sorted(folded))


def normalize_name(value: object) -> tuple[str, ...]:
    """Normalise one name field to a sorted tuple of distinct tokens.

    Parameters
    ----------
    value : object
        The raw name (``str``; ``None`` or NaN count as empty).

    Returns
    -------
    tuple of str
        Sorted distinct tokens of ``a``-``z`` (at most :data:`MAX_TOKENS`, each at
        most :data:`MAX_TOKEN_CHARS` long); empty when nothing is left (empty
        input, only emoji or digits, only an honorific).

    Raises
    ------
    TypeError
        If ``value`` is neither a string nor missing.

    Examples
    --------
    >>> normalize_name("Dr. Ana-Maria  Popescu")
    ('ana', 'maria', 'popesku')
    >>> normalize_name("Иван Петров") == normalize_name("Petrov, Ivan")
    True
    >>> normalize_name("😀")
    ()
    """
    if _is_missing(value):
        return ()
    if not isinstance(value, str):
        raise TypeError(f"name must be a string, not {type(value).__name__}")
    return _normalize_cached(value)


@dataclass(frozen=True, slots=True)
class BirthDate:
    """Birth-date parts; 0 means "missing" for each part."""

    year: int
    month: int
    day: int

    @property
    def missing(self) -> tuple[bool, bool, bool]:
        """Missing flags for (year, month, day)."""
        return (self.year == 0, self.month == 0, self.day == 0)


_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def parse_birth_date(value: object) -> BirthDate:
    """Split an ISO 8601 birth date into year, month and day.

    Accepted forms: ``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY`` and empty (or
    ``None``/NaN). Years must lie in 1000-2999, months in 1-12, days in 1-31
    (the day is not checked against the month: partial and odd dates stay
    usable for matching).

    Parameters
    ----------
    value : object
        The raw date.

    Returns
    -------
    BirthDate
        The parts, 0 for each missing one.

    Raises
    ------
    ValueError
        If the value is not one of the accepted forms; the message does not
        contain the value.

    Examples
    --------
    >>> parse_birth_date("1987-03-09")
    BirthDate(year=1987, month=3, day=9)
    >>> parse_birth_date("1987")
    BirthDate(year=1987, month=0, day=0)
    >>> parse_birth_date(None).missing
    (True, True, True)
    """
    if _is_missing(value):
        return BirthDate(0, 0, 0)
    if not isinstance(value, str):
        raise ValueError("date_of_birth must be an ISO 8601 string (YYYY[-MM[-DD]])")
    text = value.strip()
    if not text:
        return BirthDate(0, 0, 0)
    m = _DATE_RE.match(text)
    if m is None:
        raise ValueError("date_of_birth is not ISO 8601 YYYY-MM-DD, YYYY-MM or YYYY")
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else 0
    day = int(m.group(3)) if m.group(3) else 0
    if not 1000 <= year <= 2999 or (m.group(2) and not 1 <= month <= 12):
        raise ValueError("date_of_birth has a year or month out of range")
    if m.group(3) and not 1 <= day <= 31:
        raise ValueError("date_of_birth has a day out of range")
    return BirthDate(year, month, day)

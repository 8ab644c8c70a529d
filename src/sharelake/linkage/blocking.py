"""Sorting keys of the sorted-neighbourhood blocking and its plaintext twin.

Sorted-neighbourhood blocking (Hernández & Stolfo, "The merge/purge problem for large
databases", SIGMOD 1995): the records of both lists are sorted together by a key, and
each record is compared only with the next ``w`` records in that order; several passes
with different keys are merged. A key must be *order preserving* -- records whose keys
share a long prefix sort next to each other -- so a typo late in a name, or a missing
birth year, still leaves a true pair inside the window.

The client computes every pass's key here, before anything is shared
(:func:`blocking_keys`, called by :func:`sharelake.linkage.encode.encode_people`), as one
unsigned 64-bit word per record and pass; inside MPC the words are only sorted
(:mod:`sharelake.linkage.blocked`), never opened. Letters ``a``..``z`` become 1..26 in
5-bit digits, most significant first, so numeric order is alphabetical order; a
shorter string sorts before its extensions (digit 0 pads).

Every key fits in :data:`KEY_BITS` = 45 bits, so the secure sort compares 45 bits and
the row-index tiebreaker (at most 64 bits together up to 2^19 records): most letters are
packed as 4-bit *letter classes* (:data:`LETTER_CLASSES`: letters that transliteration
systems exchange share a class, e.g. ``c k g q``, ``b p``, ``f v``, ``i y``), which
makes the keys both narrower and robust to those variants.

Keys (:data:`BLOCK_KEYS`, one pass each; chosen by the least blocking recall they reach
on generated *training* lists only -- seeds of :mod:`sharelake.linkage.synth` and
:mod:`sharelake.linkage.synth_hard` that no reported figure uses; LINKAGE.md 4c):

``blk_dob``
    the birth year, month and day; then the name's letters rarest first (7 classes).
    Pairs whose name tokens were split, swapped or corrupted but whose date agrees.
``blk_rev``
    the family tokens written backwards, then the given tokens (10 classes); the birth
    year's 5-year bucket. Typos in the first letters of a name.
``blk_given``
    the given tokens sorted and concatenated (6 classes), 3 family classes, the birth
    year's last digits. Family names spelt differently, or replaced.
``blk_year_rev``
    the birth year, then every name token written backwards, sorted (6 letters).
    Typos early in any token; swapped given and family fields.
``blk_skel``
    the consonant skeleton of every token (its first letter, then its consonants),
    written backwards, sorted (10 classes); the 5-year bucket. Vowel variants
    ("nguyen" / "nguien" / "ngiuen"), swapped fields, a wrong birth year.
``blk_rare``
    the letters of all name tokens, rarest first (a fixed English frequency order,
    9 classes), then the year's last digits. Names split or joined differently
    ("Jun Iang" / "Juniang"), tokens in another order.

The plaintext twin of the secure blocking is :func:`sn_candidates` (the candidate pairs
of one pass) and :func:`sorted_order`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "BLOCK_KEYS",
    "DEFAULT_WINDOW",
    "KEY_BITS",
    "LETTER_CLASSES",
    "blocking_keys",
    "pack_classes",
    "pack_letters",
    "rare_first",
    "sn_candidates",
    "sorted_order",
]

BLOCK_KEYS: tuple[str, ...] = (
    "blk_dob",
    "blk_rev",
    "blk_given",
    "blk_year_rev",
    "blk_skel",
    "blk_rare",
)
"""The sorting keys of the passes, in pass order (columns of the encoding)."""
DEFAULT_WINDOW = 8
"""Records after each record that it is compared with, per pass (see LINKAGE.md)."""
KEY_BITS = 45
"""Every blocking key lies in [0, 2^KEY_BITS) (the width the secure sort compares)."""

U64 = npt.NDArray[np.uint64]


def pack_letters(text: str, n: int) -> int:
    """The first ``n`` letters of ``text`` (``a``..``z``; others skipped) as 5-bit digits.

    Examples
    --------
    >>> pack_letters("ab", 2) < pack_letters("b", 2)
    True
    >>> pack_letters("a", 2) < pack_letters("aa", 2)
    True
    """
    out = 0
    k = 0
    for ch in text:
        if "a" <= ch <= "z":
            out = (out << 5) | (ord(ch) - 96)
            k += 1
            if k == n:
                break
    return out << (5 * (n - k))


#: Groups of letters that share a 4-bit class (1..15; 0 pads): letters that
#: romanisations and spelling variants exchange sort as one.
LETTER_CLASSES: tuple[str, ...] = (
    "a", "e", "iy", "o", "uw", "bp", "fv", "ckgq", "dt", "l", "mn", "r", "sxz", "j", "h",
)  # fmt: skip
_CLASS = {c: i for i, grp in enumerate(LETTER_CLASSES, 1) for c in grp}


def pack_classes(text: str, n: int) -> int:
    """The letter classes of the first ``n`` letters of ``text`` as 4-bit digits.

    Letters ``a``..``z`` count (others are skipped); each becomes its class in
    :data:`LETTER_CLASSES`, most significant first, padded with 0.

    Examples
    --------
    >>> pack_classes("kim", 3) == pack_classes("gim", 3)
    True
    >>> pack_classes("ab", 2) < pack_classes("b", 2)
    True
    >>> pack_classes("", 3)
    0
    """
    out = 0
    k = 0
    for ch in text:
        if "a" <= ch <= "z":
            out = (out << 4) | _CLASS[ch]
            k += 1
            if k == n:
                break
    return out << (4 * (n - k))


def _year8(year: int) -> int:
    return year - 1899 if 1900 <= year <= 2154 else 0


#: Letters from the most to the least frequent in English names; :func:`rare_first`
#: orders a name's letters by the reverse, so the sort key starts with its rare letters.
LETTER_FREQUENCY = "eainorlstudkmhgcbpvjzfyxwq"
_RARITY = {c: i for i, c in enumerate(reversed(LETTER_FREQUENCY))}


def rare_first(text: str) -> str:
    """The letters of ``text`` (``a``..``z``), rarest first (ties alphabetical).

    Examples
    --------
    >>> rare_first("juniang") == rare_first("iangjun")
    True
    >>> rare_first("kazi")
    'zkia'
    """
    return "".join(sorted((c for c in text if "a" <= c <= "z"), key=lambda c: (_RARITY[c], c)))


def _skeleton(token: str) -> str:
    return token[:1] + "".join(c for c in token[1:] if c not in "aeiouy")


def blocking_keys(
    given: Sequence[str], family: Sequence[str], year: int, month: int, day: int
) -> dict[str, int]:
    """The sorting key of every pass (:data:`BLOCK_KEYS`) for one normalised record.

    Every key is below ``2 ** KEY_BITS``; a missing year, month or day is 0.

    Examples
    --------
    >>> k = blocking_keys(["jun"], ["nguyen"], 1990, 0, 0)
    >>> max(k.values()) < 2**KEY_BITS
    True
    >>> k["blk_skel"] == blocking_keys(["jun"], ["nguien"], 1992, 5, 1)["blk_skel"]
    True
    """
    g, f = "".join(sorted(given)), "".join(sorted(family))
    toks = sorted(set(given) | set(family))
    y8 = _year8(year)
    yy = (year % 100) << 1 | 1 if year else 0
    y5 = (year // 5) % 30 + 1 if year else 0
    date = (y8 << 9) | ((month & 15) << 5) | (day & 31)
    rare = rare_first("".join(toks))
    rev_all = "".join(sorted(t[::-1] for t in toks))
    rev_fg = "".join(sorted(t[::-1] for t in family)) + g
    skel = "".join(sorted(_skeleton(t)[::-1] for t in toks))
    return {
        "blk_dob": (date << 28) | pack_classes(rare, 7),
        "blk_rev": (pack_classes(rev_fg, 10) << 5) | y5,
        "blk_given": (pack_classes(g, 6) << 20) | (pack_classes(f, 3) << 8) | yy,
        "blk_year_rev": (y8 << 30) | pack_letters(rev_all, 6),
        "blk_skel": (pack_classes(skel, 10) << 5) | y5,
        "blk_rare": (pack_classes(rare, 9) << 8) | yy,
    }


def sorted_order(keys: npt.ArrayLike) -> npt.NDArray[np.intp]:
    """The stable order of the secure sort: by key, ties by row (union position).

    Examples
    --------
    >>> sorted_order([3, 1, 3, 0]).tolist()
    [3, 1, 0, 2]
    """
    k = np.asarray(keys, dtype=np.uint64)
    order: npt.NDArray[np.intp] = np.lexsort((np.arange(len(k)), k)).astype(np.intp)
    return order


def sn_candidates(keys: npt.ArrayLike, window: int) -> npt.NDArray[np.intp]:
    """The pairs (union row, union row) of one pass: each record and its next ``window``.

    Returns an array of shape (pairs, 2), the earlier record in sorted order first.

    Examples
    --------
    >>> sn_candidates([5, 1, 3], 1).tolist()
    [[1, 2], [2, 0]]
    """
    order = sorted_order(keys)
    n = len(order)
    parts = [np.stack([order[: n - d], order[d:]], axis=1) for d in range(1, window + 1) if d < n]
    if not parts:
        return np.zeros((0, 2), dtype=np.intp)
    return np.concatenate(parts).astype(np.intp)

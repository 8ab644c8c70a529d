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

Keys (:data:`BLOCK_KEYS`, one pass each; chosen by the blocking recall they reach on
generated *training* lists only -- seeds of :mod:`sharelake.linkage.synth` and
:mod:`sharelake.linkage.synth_hard` that no reported figure uses; LINKAGE.md 4c):

``blk_dob``
    the birth year, month and day; then 4 letters of the family and of the given tokens.
    Pairs whose names were corrupted beyond recognition but whose date agrees.
``blk_rev``
    the family tokens written backwards, 6 letters; the birth year; 4 given letters.
    Typos in the first letters of the family name.
``blk_given``
    the given tokens sorted and concatenated (6 letters), then 4 family letters and the
    birth year's last digits. Family names spelt differently, or replaced.
``blk_rev_all``
    every name token written backwards, sorted, 10 letters; the year's last digits.
    Typos early in any token; swapped given and family fields.
``blk_phon_all``
    the Metaphone codes of every name token, sorted, 10 letters; the year's last digits.
    Spelling variants that keep the sound; swapped fields.
``blk_letters``
    the letters of all name tokens, rarest letter first (a fixed English frequency
    order), 12 letters; no date. Names split or joined differently ("Jun Iang" /
    "Juniang"), tokens in another order, and missing or partial birth dates
    (year-agnostic).

The plaintext twin of the secure blocking is :func:`sn_candidates` (the candidate pairs
of one pass) and :func:`sorted_order`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jellyfish
import numpy as np
import numpy.typing as npt

__all__ = [
    "BLOCK_KEYS",
    "DEFAULT_WINDOW",
    "blocking_keys",
    "pack_letters",
    "rare_first",
    "sn_candidates",
    "sorted_order",
]

BLOCK_KEYS: tuple[str, ...] = (
    "blk_dob",
    "blk_rev",
    "blk_given",
    "blk_rev_all",
    "blk_phon_all",
    "blk_letters",
)
"""The sorting keys of the passes, in pass order (columns of the encoding)."""
DEFAULT_WINDOW = 8
"""Records after each record that it is compared with, per pass (see LINKAGE.md)."""

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


def blocking_keys(
    given: Sequence[str], family: Sequence[str], year: int, month: int, day: int
) -> dict[str, int]:
    """The sorting key of every pass (:data:`BLOCK_KEYS`) for one normalised record."""
    g, f = "".join(sorted(given)), "".join(sorted(family))
    toks = sorted(set(given) | set(family))
    y8 = _year8(year)
    yy = (year % 100) << 1 | 1 if year else 0
    rev = "".join(sorted(t[::-1] for t in family))
    rev_all = "".join(sorted(t[::-1] for t in toks))
    phon = "".join(sorted(str(jellyfish.metaphone(t)).lower() for t in toks))
    return {
        "blk_dob": (y8 << 52)
        | (month << 48)
        | (day << 43)
        | (pack_letters(f, 4) << 23)
        | (pack_letters(g, 4) << 3),
        "blk_rev": (pack_letters(rev, 6) << 28) | (y8 << 20) | pack_letters(g, 4),
        "blk_given": (pack_letters(g, 6) << 34) | (pack_letters(f, 4) << 14) | yy,
        "blk_rev_all": (pack_letters(rev_all, 10) << 8) | yy,
        "blk_phon_all": (pack_letters(phon, 10) << 8) | yy,
        "blk_letters": pack_letters(rare_first("".join(toks)), 12) << 4,
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

"""Capture-history tables: reading, checking and completing them with the empty patterns.

A capture-history table has one 0/1 column per list and a count column: the number of
persons seen on exactly that combination of lists. Patterns nobody was seen on may be
left out; they count as zero. The pattern "on no list" is what multiple-systems
estimation estimates, so it must not be given.

Examples
--------
>>> import pandas as pd
>>> t = capture_table(pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]}))
>>> t.lists, t.observed, t.counts.tolist()
(('A', 'B'), 120, [60.0, 40.0, 20.0])
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import InputValidationError

__all__ = ["MAX_LISTS", "CaptureTable", "MSEError", "capture_table", "read_capture_table"]


class MSEError(InputValidationError, ValueError):
    """A capture-history table that cannot give a population estimate.

    Raised before any model is fitted (fewer than two lists, nobody seen, more than
    :data:`MAX_LISTS` lists, list entries other than 0/1, counts that are not
    non-negative integers) or when the chosen model has no maximum-likelihood estimate.
    ``source``, ``row`` and ``column`` locate the problem in the input.
    """


MAX_LISTS = 12
"""The most lists a table may have (4,095 patterns; log-linear models beyond that are not
estimable from the tables this is made for)."""

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True)
class CaptureTable:
    """A capture-history table in full: every non-empty pattern over ``lists``.

    ``patterns`` has shape ``(2**K - 1, K)`` with 0/1 entries, ordered by the number of
    lists and then as SparseMSE orders them; ``counts`` holds the number of persons seen on
    exactly that combination (zeros included).
    """

    lists: tuple[str, ...]
    patterns: IntArray
    counts: FloatArray

    @property
    def observed(self) -> int:
        """Persons seen on at least one list."""
        return int(self.counts.sum())

    @cached_property
    def pairs(self) -> tuple[tuple[int, int], ...]:
        """Every pair of list indices ``(i, j)``, ``i < j``, in the order (1,2), (1,3), ..."""
        return tuple(itertools.combinations(range(len(self.lists)), 2))

    @cached_property
    def both(self) -> FloatArray:
        """``both[c, k]`` is 1 when pattern ``c`` contains both lists of pair ``k``."""
        P = self.patterns
        cols = [P[:, a] * P[:, b] for a, b in self.pairs]
        return np.column_stack(cols).astype(np.float64) if cols else np.zeros((len(P), 0))

    def pair_name(self, k: int) -> tuple[str, str]:
        """The names of the lists of pair ``k``."""
        a, b = self.pairs[k]
        return self.lists[a], self.lists[b]

    def pair_index(self, a: str, b: str) -> int:
        """The index of the pair of lists named ``a`` and ``b`` (in either order)."""
        i, j = sorted((self.lists.index(a), self.lists.index(b)))
        return self.pairs.index((i, j))

    def overlap(self, a: str, b: str) -> int:
        """Persons seen on both list ``a`` and list ``b``."""
        return int(self.counts @ self.both[:, self.pair_index(a, b)])

    def to_frame(self, count: str = "count") -> pd.DataFrame:
        """The table as a DataFrame (one 0/1 column per list and ``count``), zeros included."""
        df = pd.DataFrame(self.patterns, columns=list(self.lists))
        df[count] = self.counts.astype(np.int64)
        return df

    def with_counts(self, counts: FloatArray) -> CaptureTable:
        """The same lists and patterns with other counts."""
        return CaptureTable(self.lists, self.patterns, np.asarray(counts, dtype=np.float64))


def _full_patterns(K: int) -> IntArray:
    # SparseMSE's order: fewer lists first; within a size, the first list varies slowest.
    rows = sorted((p for p in itertools.product((1, 0), repeat=K) if any(p)), key=sum)
    return np.array(rows, dtype=np.int64)


def capture_table(
    df: pd.DataFrame, *, count: str | None = None, source: str | None = None
) -> CaptureTable:
    """Read a capture-history DataFrame: list columns (0/1 or booleans) and a count column.

    ``count`` names the count column (default: the last column); ``source`` names the file
    in error messages. Missing patterns count as zero; repeated patterns are added up.

    Raises
    ------
    MSEError
        Fewer than two lists, more than :data:`MAX_LISTS`, list entries other than 0/1,
        counts that are not non-negative integers, persons on the all-zero pattern, or
        nobody seen at all.

    Examples
    --------
    >>> t = capture_table(pd.DataFrame({"A": [1, 0], "B": [0, 1], "n": [3, 4]}))
    >>> t.lists, t.observed, t.counts.tolist()
    (('A', 'B'), 7, [3.0, 4.0, 0.0])
    """
    if df.shape[1] < 3:
        raise MSEError(
            f"a capture-history table needs at least two list columns and a count column; "
            f"got {df.shape[1]} column(s)",
            source=source,
        )
    count = count or str(df.columns[-1])
    if count not in df.columns:
        raise MSEError("no such count column", source=source, column=count)
    lists = tuple(str(c) for c in df.columns if c != count)
    if len(set(lists)) != len(lists):
        raise MSEError("two list columns have the same name", source=source)
    if len(lists) > MAX_LISTS:
        raise MSEError(
            f"at most {MAX_LISTS} lists can be used, got {len(lists)}: merge lists first",
            source=source,
        )
    if len(df) == 0:
        raise MSEError("the table has no rows: nobody was seen", source=source)
    for name in lists:
        col = pd.to_numeric(df[name], errors="coerce")
        bad = ~col.isin((0, 1))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise MSEError(
                f"list columns must hold 0 or 1, found {df[name].iloc[row]!r}",
                source=source,
                row=row + 1,
                column=name,
            )
    pats = df[list(lists)].astype(np.int64).to_numpy()
    n = pd.to_numeric(df[count], errors="coerce").to_numpy(dtype=np.float64)
    ok = np.isfinite(n) & (n >= 0) & (n == np.round(n))
    if not ok.all():
        row = int(np.flatnonzero(~ok)[0])
        raise MSEError(
            f"counts must be non-negative integers, found {df[count].iloc[row]!r}",
            source=source,
            row=row + 1,
            column=count,
        )
    zero = pats.sum(axis=1) == 0
    if (n[zero] > 0).any():
        row = int(np.flatnonzero(zero & (n > 0))[0])
        raise MSEError(
            "the all-zero pattern (on no list) is what the estimate is for: drop that row",
            source=source,
            row=row + 1,
        )
    if n.sum() == 0:
        raise MSEError("every count is zero: nobody was seen on any list", source=source)
    K = len(lists)
    full = _full_patterns(K)
    weights = 1 << np.arange(K - 1, -1, -1)
    index = np.full(1 << K, -1, dtype=np.int64)
    index[full @ weights] = np.arange(len(full))
    counts = np.zeros(len(full), dtype=np.float64)
    codes = pats @ weights
    keep = codes > 0
    np.add.at(counts, index[codes[keep]], n[keep])
    return CaptureTable(lists, full, counts)


def read_capture_table(path: str | Path) -> CaptureTable:
    """Read a capture-history CSV (list columns, then the count column).

    Examples
    --------
    >>> t = read_capture_table("tests/data/mse/UKdat_5.csv")  # doctest: +SKIP
    >>> t.lists, t.observed  # doctest: +SKIP
    (('LA', 'NG', 'PFNCA', 'GO', 'GP'), 2744)
    """
    p = Path(path)
    try:
        df = pd.read_csv(p)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise MSEError(f"cannot read the table: {e}", source=p.name) from e
    return capture_table(df, source=p.name)

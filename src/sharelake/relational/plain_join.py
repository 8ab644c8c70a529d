"""Plaintext twins of the join, PSI and overlap operators, over pandas.

Each twin defines the exact semantics its secure operator must reproduce on the valid
rows: rows with a null key never match (unlike ``pandas.merge``, which matches NaN to
NaN); an ``m:m`` join keeps only the first ``max_multiplicity`` usable right rows of
each key. A broken ``validate`` promise is outside the contract (the secure join then
joins the last usable unique-side row of a duplicated key, as the twins of the inner
joins do).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

How = Literal["inner", "left", "semi", "anti"]
Validate = Literal["1:1", "1:m", "m:1", "m:m"]


def usable_rows(df: pd.DataFrame, on: Sequence[str]) -> pd.DataFrame:
    """The rows whose key columns are all present."""
    return df[df[list(on)].notna().all(axis=1)]


def key_set(df: pd.DataFrame, on: Sequence[str]) -> set[tuple[Any, ...]]:
    """The distinct key tuples of the usable rows."""
    ok = usable_rows(df, on)
    return set(ok[list(on)].itertuples(index=False, name=None))


def _in_set(
    df: pd.DataFrame, on: Sequence[str], keys: set[tuple[Any, ...]]
) -> np.ndarray[Any, Any]:
    present = df[list(on)].notna().all(axis=1).to_numpy()
    tuples = list(df[list(on)].itertuples(index=False, name=None))
    return np.array(
        [bool(ok) and t in keys for ok, t in zip(present, tuples, strict=True)], dtype=bool
    )


def plain_join(
    left: pd.DataFrame,
    right: pd.DataFrame,
    *,
    on: list[str],
    how: How = "inner",
    validate: Validate = "m:1",
    max_multiplicity: int | None = None,
    suffixes: tuple[str, str] = ("_x", "_y"),
) -> pd.DataFrame:
    """Twin of :func:`sharelake.relational.join.join` (row order is not part of the contract)."""
    if how in ("semi", "anti"):
        hit = _in_set(left, on, key_set(right, on))
        keep = hit if how == "semi" else ~hit
        return left[keep].reset_index(drop=True)
    r_ok = usable_rows(right, on)
    if validate in ("m:1", "1:1"):
        r_ok = r_ok.drop_duplicates(subset=on, keep="last")
    elif validate == "m:m":
        if max_multiplicity is None or max_multiplicity < 1:
            raise ValueError("an m:m join needs max_multiplicity >= 1")
        r_ok = r_ok.groupby(list(on), sort=False).head(max_multiplicity)
    l_src = left
    if validate == "1:m" and how == "inner":
        l_src = usable_rows(left, on).drop_duplicates(subset=on, keep="last")
    merge_how: Literal["inner", "left"] = "inner" if how == "inner" else "left"
    return l_src.merge(r_ok, on=on, how=merge_how, suffixes=suffixes).reset_index(drop=True)


def plain_psi_cardinality(a: pd.DataFrame, b: pd.DataFrame, *, on: list[str]) -> int:
    """Twin of :func:`sharelake.relational.psi.psi_cardinality`: distinct common keys."""
    return len(key_set(a, on) & key_set(b, on))


def plain_psi_flags(a: pd.DataFrame, b: pd.DataFrame, *, on: list[str]) -> np.ndarray[Any, Any]:
    """Twin of :func:`sharelake.relational.psi.psi_flags`: 0/1 per row of ``a``."""
    return _in_set(a, on, key_set(b, on)).astype(np.uint64)


def plain_intersection(a: pd.DataFrame, b: pd.DataFrame, *, on: list[str]) -> pd.DataFrame:
    """Twin of :func:`sharelake.relational.psi.intersection`: the distinct common keys."""
    keys = sorted(key_set(a, on) & key_set(b, on))
    return pd.DataFrame(keys, columns=list(on)) if keys else pd.DataFrame(columns=list(on))


def pattern_names(names: Sequence[str]) -> list[str]:
    """Column names of the membership bits of an overlap table."""
    return [f"in_{nm}" for nm in names]


def plain_overlap(
    frames: Sequence[pd.DataFrame], *, on: str, names: Sequence[str] | None = None
) -> pd.DataFrame:
    """Twin of :func:`sharelake.relational.overlap.overlap`.

    One row per non-empty membership pattern (pattern p has bit j set when list j holds
    the person), in increasing order of p; ``count`` is the number of distinct usable
    keys whose set of lists is exactly that pattern.
    """
    k = len(frames)
    nm = list(names) if names is not None else [str(j) for j in range(k)]
    sets = [key_set(f, [on]) for f in frames]
    everyone = set().union(*sets)
    counts = np.zeros(1 << k, dtype=np.int64)
    for key in everyone:
        pat = sum(1 << j for j in range(k) if key in sets[j])
        counts[pat] += 1
    data: dict[str, Any] = {}
    pats = list(range(1, 1 << k))
    for j, col in enumerate(pattern_names(nm)):
        data[col] = [bool((q >> j) & 1) for q in pats]
    data["count"] = [int(counts[q]) for q in pats]
    return pd.DataFrame(data)

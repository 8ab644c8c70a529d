"""Plaintext twins of the single-table operators, over pandas DataFrames.

A twin takes the DataFrame of a table's *valid* rows (as :func:`reveal` + decoding
would give them) and returns what revealing the secret operator's result gives: the
same rows, in the same order where the operator defines one (sort, top-k, distinct
keeps the first occurrence), with the same null semantics. The differential tests
compare every secure operator with its twin; design mode runs the twins on dummy data.

Category columns should be ``pandas.Categorical`` with the dictionary's order, so that
sorting follows the codes as the secure sort does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..plan.validate import moment_ddof
from .expr import Expr, eval_plain, predicate_plain
from .groupby import AggFn, mean_columns, moment_columns

__all__ = [
    "assign",
    "compact",
    "concat",
    "distinct",
    "filter_rows",
    "finish_means",
    "finish_moments",
    "groupby",
    "project",
    "sort_table",
    "top_k",
    "union",
]


def filter_rows(df: pd.DataFrame, predicate: Expr) -> pd.DataFrame:
    """Rows where the predicate holds and is not null."""
    return df[predicate_plain(df, predicate)].reset_index(drop=True)


def project(df: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """The columns ``names``, in that order."""
    return df[list(names)].copy()


def assign(df: pd.DataFrame, **exprs: Expr) -> pd.DataFrame:
    """Computed columns (integer-valued expressions; nulls as missing values)."""
    out = df.copy()
    for nm, e in exprs.items():
        v, nl = eval_plain(df, e)
        out[nm] = pd.array(np.where(nl, 0, v), dtype="Int64")
        out.loc[nl, nm] = pd.NA
    return out


def concat(dfs: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """UNION ALL."""
    return pd.concat(list(dfs), ignore_index=True)


def union(dfs: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """SQL UNION: concat, then the first copy of every distinct row."""
    return distinct(concat(dfs))


def sort_table(
    df: pd.DataFrame, by: str | Sequence[str], *, descending: bool | Sequence[bool] = False
) -> pd.DataFrame:
    """Stable multi-key sort, nulls last in every key (least significant key first)."""
    names = [by] if isinstance(by, str) else list(by)
    desc = [descending] * len(names) if isinstance(descending, bool) else list(descending)
    out = df.reset_index(drop=True)
    for nm, d in reversed(list(zip(names, desc, strict=True))):
        s = out[nm]
        nulls = s.isna().to_numpy()
        order = np.arange(len(out))
        present = order[~nulls]
        vals = s[~nulls]
        codes = vals.cat.codes.to_numpy() if isinstance(s.dtype, pd.CategoricalDtype) else vals
        keyv = np.asarray(codes)
        if d:
            # stable descending: argsort of the reversed ranks keeps ties in input order
            ranks = pd.Series(keyv).rank(method="dense").to_numpy()
            idx = np.argsort(-ranks, kind="stable")
        else:
            idx = np.argsort(keyv, kind="stable")
        out = out.iloc[np.concatenate([present[idx], order[nulls]])].reset_index(drop=True)
    return out


def top_k(
    df: pd.DataFrame, by: str | Sequence[str], k: int, *, descending: bool | Sequence[bool] = True
) -> pd.DataFrame:
    """The first k rows in the order of ``by``."""
    return sort_table(df, by, descending=descending).head(k).reset_index(drop=True)


def distinct(df: pd.DataFrame, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """The first row of every distinct key (nulls equal to nulls)."""
    subset = list(keys) if keys is not None else None
    return df.drop_duplicates(subset=subset, keep="first").reset_index(drop=True)


def compact(df: pd.DataFrame) -> pd.DataFrame:
    """Dropping invalid rows: a plaintext frame holds only valid rows already."""
    return df.reset_index(drop=True)


def groupby(df: pd.DataFrame, keys: list[str], aggs: dict[str, tuple[str, AggFn]]) -> pd.DataFrame:
    """Group-by with the secure operator's semantics: null keys form a group; count
    counts non-null values ("*" counts rows); sum ignores nulls; min/max ignore nulls;
    count_distinct counts distinct non-null values; mean ``m`` gives ``m_sum`` and
    ``m_count`` (see :func:`finish_means`). Groups in key order (nulls last)."""
    g = df.groupby(keys, dropna=False, sort=True, observed=True)
    cols: dict[str, Any] = {}
    for name, (src, fn) in aggs.items():
        if fn == "count":
            cols[name] = g.size() if src == "*" else g[src].count()
        elif fn == "sum":
            cols[name] = g[src].sum(min_count=0)
        elif fn == "mean":
            s_name, c_name = mean_columns(name)
            cols[s_name] = g[src].sum(min_count=0)
            cols[c_name] = g[src].count()
        elif moment_ddof(fn) is not None:
            s_name, q_name, c_name = moment_columns(name)
            cols[s_name] = g[src].sum(min_count=0)
            cols[q_name] = (
                (df[src] * df[src])
                .groupby([df[k] for k in keys], dropna=False, sort=True, observed=True)
                .sum(min_count=0)
            )
            cols[c_name] = g[src].count()
        elif fn == "min":
            cols[name] = g[src].min()
        elif fn == "max":
            cols[name] = g[src].max()
        else:
            cols[name] = g[src].nunique(dropna=True)
    out = pd.DataFrame(cols).reset_index() if cols else g.size().reset_index()[keys]
    return out.reset_index(drop=True)


def _exact(v: Any) -> Any:
    """A released number as an exact rational (an integer, or a float, which is dyadic)."""
    from fractions import Fraction

    if isinstance(v, int | np.integer):
        return Fraction(int(v))
    return Fraction(float(v))


def _moment(total: Any, squares: Any, count: Any, fn: str, ddof: int) -> float:
    """One group's variance (or standard deviation) from its released sums, exactly: the
    released numbers are integers or dyadic fixed-point values, so the rational
    ``(sumsq - sum^2 / n) / (n - ddof)`` is computed without rounding, then made a float.
    Missing when ``n - ddof <= 0`` (pandas); a negative result (only possible from the
    rounding of fixed-point squares) is 0."""
    from fractions import Fraction
    from math import sqrt

    if pd.isna(count) or pd.isna(total) or pd.isna(squares):
        return float("nan")
    n = int(count)
    if n - ddof <= 0:
        return float("nan")
    s, q = _exact(total), _exact(squares)
    var = max((q - s * s / n) / (n - ddof), Fraction(0))
    return sqrt(var) if fn == "std" else float(var)


def finish_moments(df: pd.DataFrame, moments: Mapping[str, tuple[str, int]]) -> pd.DataFrame:
    """Replace the released ``v_sum``, ``v_sumsq``, ``v_count`` of each variance or standard
    deviation ``v`` (``moments``: name -> (``"var"`` | ``"std"``, ddof)) by ``v``, in the
    place of ``v_sum``: pandas' ``var(ddof=...)`` / ``std(ddof=...)``.

    Examples
    --------
    >>> df = pd.DataFrame({"v_sum": [6], "v_sumsq": [14], "v_count": [3]})
    >>> finish_moments(df, {"v": ("var", 1)})
         v
    0  1.0
    """
    for name, (fn, ddof) in moments.items():
        s_name, q_name, c_name = moment_columns(name)
        if not {s_name, q_name, c_name} <= set(df.columns) or name in df.columns:
            continue
        vals = [
            _moment(a, b, c, fn, ddof)
            for a, b, c in zip(df[s_name], df[q_name], df[c_name], strict=True)
        ]
        pos = list(df.columns).index(s_name)
        df = df.drop(columns=[s_name, q_name, c_name])
        df.insert(pos, name, pd.Series(vals, index=df.index, dtype="float64"))
    return df


def finish_means(df: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Divide released ``m_sum`` by ``m_count`` into ``m`` (null when the count is 0)."""
    out = df.copy()
    for nm in names:
        s_name, c_name = mean_columns(nm)
        cnt = pd.to_numeric(out[c_name]).astype("float64")
        total = pd.to_numeric(out[s_name]).astype("float64")
        out[nm] = (total / cnt.where(cnt > 0)).astype("float64")
    return out

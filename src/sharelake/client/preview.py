"""What an upload will share, shown before anything leaves the machine.

:func:`summarise` describes a validated table against its schema: the row count, every
column's kind, missing values and the public facts the nodes will learn (a category's
labels, a string's maximum length), and the problems an analyst would otherwise meet
only in results: text values that differ only by case or surrounding spaces (they stay
different values in filters, group-bys and joins), values with surrounding spaces, a
column with no value at all, and columns made text under ``lenient``. Nothing here
talks to a node; :func:`sharelake.client.upload.upload` calls ``confirm(preview)``
with it, after validation and before sharing (the CLI prints it and asks, or takes
``--yes``).

Examples
--------
>>> import pandas as pd
>>> from sharelake.relational.table import ColumnSpec
>>> df = pd.DataFrame({"region": ["Noord", "noord ", "Zuid"], "age": [30, None, 41]})
>>> specs = [ColumnSpec("region", "string", max_len=8), ColumnSpec("age", "int")]
>>> pv = summarise(df, specs, table="cases", source="cases.csv")
>>> pv.rows, [c.missing for c in pv.columns]
(3, [0, 1])
>>> print(pv.problems[0])  # doctest: +ELLIPSIS
column 'region': 'Noord' and 'noord ' differ only in case or spaces; ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..relational.table import ColumnSpec

__all__ = ["ColumnSummary", "UploadPreview", "summarise"]

MAX_SHOWN = 3
"""Examples of one problem shown at most (the rest are counted)."""


@dataclass(frozen=True)
class ColumnSummary:
    """One column of an upload preview: its spec, missing values and public facts."""

    spec: ColumnSpec
    missing: int

    @property
    def public(self) -> str:
        """What the nodes learn of this column besides its name and kind."""
        s = self.spec
        norm = f"; normalised here: {', '.join(s.normalized)}" if s.normalized else ""
        if s.kind == "category":
            order = " (ordered)" if s.ordered else ""
            return f"labels{order}: {', '.join(s.categories or ())}{norm}"
        if s.kind == "string":
            return f"values secret; at most {s.max_len} bytes{norm}"
        if s.kind == "fixed":
            return f"decimal, {s.frac_bits} fractional bits"
        return ""


@dataclass(frozen=True)
class UploadPreview:
    """What :func:`sharelake.client.upload.upload` is about to share (nothing sent yet)."""

    table: str
    source: str | None
    rows: int
    columns: list[ColumnSummary]
    problems: list[str] = field(default_factory=list)

    def render(self) -> str:
        """The preview as text (the CLI prints it before asking to confirm)."""
        src = f" from {self.source}" if self.source else ""
        lines = [
            f"Upload preview: table {self.table!r}{src}: {self.rows} rows, "
            f"{len(self.columns)} columns. Nothing has been sent yet.",
        ]
        width = max([len(c.spec.name) for c in self.columns] + [6])
        lines.append(f"  {'column':<{width}}  {'kind':<8}  {'missing':>7}  public")
        for c in self.columns:
            req = "" if c.spec.nullable else " (required)"
            lines.append(
                f"  {c.spec.name:<{width}}  {c.spec.kind:<8}  {c.missing:>7}  {c.public}{req}"
            )
        if self.problems:
            lines.append(f"Problems found ({len(self.problems)}):")
            lines += [f"  - {p}" for p in self.problems]
        else:
            lines.append("Problems found: none.")
        lines.append(
            "Every value is split into three secret shares, one per node; the column "
            "names, kinds, the public details above and the row count are known to the nodes."
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


def _examples(values: Sequence[str]) -> str:
    shown = " and ".join(repr(v) for v in values[:MAX_SHOWN])
    more = f" (and {len(values) - MAX_SHOWN} more)" if len(values) > MAX_SHOWN else ""
    return shown + more


def _text_problems(name: str, s: pd.Series[Any]) -> list[str]:
    text = s.dropna().astype(str)
    if len(text) == 0:
        return []
    out = []
    distinct = pd.Series(text.unique())
    keys = distinct.str.strip().str.casefold()
    clash = [list(g) for _, g in distinct.groupby(keys) if len(g) > 1]
    if clash:
        first = _examples(sorted(clash[0]))
        others = f"; {len(clash) - 1} more such groups" if len(clash) > 1 else ""
        out.append(
            f"column {name!r}: {first} differ only in case or spaces{others}; they stay "
            "different values in filters, group-by and joins (normalise before upload, "
            "e.g. df[c] = df[c].str.strip())"
        )
    padded = text[text != text.str.strip()]
    if len(padded):
        rows = [str(int(i) + 1) for i in padded.index[:MAX_SHOWN]]
        more = f" and {len(padded) - MAX_SHOWN} more" if len(padded) > MAX_SHOWN else ""
        out.append(
            f"column {name!r}: {len(padded)} value(s) start or end with spaces "
            f"(rows {', '.join(rows)}{more}); they are kept as they are"
        )
    return out


def summarise(
    df: pd.DataFrame,
    specs: Sequence[ColumnSpec],
    *,
    table: str,
    source: str | None = None,
    lenient_columns: Sequence[str] = (),
) -> UploadPreview:
    """The preview of uploading ``df`` (already validated against ``specs``) as ``table``.

    ``lenient_columns`` names the columns inference made text under ``lenient`` (listed
    as a problem). Rows in messages count from 1, as everywhere.
    """
    cols: list[ColumnSummary] = []
    problems: list[str] = []
    for spec in specs:
        s = df[spec.name].reset_index(drop=True)
        missing = int(s.isna().sum())
        cols.append(ColumnSummary(spec, missing))
        if len(s) and missing == len(s):
            problems.append(f"column {spec.name!r}: every value is missing")
        if spec.kind in ("string", "category"):
            problems += _text_problems(spec.name, s)
        if spec.name in lenient_columns:
            problems.append(
                f"column {spec.name!r}: mostly numbers or dates, uploaded as text because "
                "of lenient (it cannot be summed or compared by size)"
            )
    return UploadPreview(table, source, len(df), cols, problems)

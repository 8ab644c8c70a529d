"""The owner's side of an erasure: read the record ids, secret-share them, ask the nodes.

The ids are validated and encoded exactly as the table's id column was at upload (so
equal ids have equal ring values), padded with *null* ids up to a power of two (at
least 8; a null id never matches a row), split into three additive sharings, and sent
as one share bundle per node to ``POST /v1/erasures/{id}`` (``docs/node-api.md``).
No id leaves this machine in the clear; the nodes learn the padded count and, from the
compaction, how many rows were removed (SECURITY.md, "Erasure").
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import InputValidationError, IntegrityError
from ..relational.encode import encode_column
from ..relational.table import spec_to_json
from .bundles import share_bundles

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["erase", "padded_size", "read_record_ids"]

BUNDLE_TYPE = "application/octet-stream"


def padded_size(n: int) -> int:
    """The number of ids sent for ``n`` real ones: the next power of two, at least 8.

    Examples
    --------
    >>> [padded_size(n) for n in (0, 1, 8, 9, 1000)]
    [8, 8, 8, 16, 1024]
    """
    size = 8
    while size < n:
        size *= 2
    return size


def read_record_ids(source: Sequence[Any] | str | Path, *, column: str) -> list[Any]:
    """The ids to erase: a sequence as given, or a file of one id per line.

    A file whose first line is ``column`` (or a CSV header naming it) is read as CSV
    and that column is taken. Blank lines are skipped.

    Raises
    ------
    InputValidationError
        The file cannot be read, holds no ids, or its CSV header lacks ``column``.
    """
    if not isinstance(source, str | Path):
        ids = list(source)
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputValidationError(
                f"cannot read the record ids: {exc}", source=str(path)
            ) from None
        lines = [ln.strip() for ln in text.splitlines()]
        first = lines[0] if lines else ""
        if "," in first or first == column:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
            if column not in df.columns:
                raise InputValidationError(
                    f"the CSV header has no column {column!r}", source=str(path)
                )
            ids = [v for v in df[column].tolist() if v != ""]
        else:
            ids = [ln for ln in lines if ln]
    if not ids:
        raise InputValidationError("no record ids to erase", source=str(source)[:200])
    return ids


def erase(
    session: Connection,
    table: str,
    record_ids: Sequence[Any] | str | Path,
    *,
    column: str = "record_id",
    timeout: float | None = None,
) -> dict[str, Any]:
    """Erase the rows of ``table`` whose ``column`` is among ``record_ids``.

    See :meth:`sharelake.client.session.Session.erase`.

    Raises
    ------
    sharelake.client.errors.UnknownTableError
        No such table on the three nodes.
    InputValidationError
        You do not own the table, it has no column ``column``, or an id is not of the
        column's kind (naming the file and row); nothing is sent.
    NodeError
        A node refused (e.g. the table changed meanwhile: ask again).
    """
    info = session.table_info(table)
    if info.owner != session.member:
        raise InputValidationError(
            f"table {table!r} belongs to {info.owner!r}: only its owner may erase rows"
        )
    specs = {s.name: s for s in info.schema}
    if column not in specs:
        raise InputValidationError(
            f"table {table!r} has no column {column!r} (columns: {', '.join(specs)})"
        )
    source = str(record_ids) if isinstance(record_ids, str | Path) else None
    ids = read_record_ids(record_ids, column=column)

    spec = replace(specs[column], nullable=True)  # null ids pad the list; they match nothing
    values: list[Any] = list(ids) + [None] * (padded_size(len(ids)) - len(ids))
    series = pd.Series(values, dtype=object)
    if spec.kind in ("int", "fixed", "date", "bool"):
        series = series.where(series.notna(), None)
    encoded = encode_column(series, spec, source=source)
    erasure_id = secrets.token_hex(16)
    meta = {
        "table": table,
        "column": column,
        "table_version": info.version,
        "rows": len(values),
        "schema": [spec_to_json(spec)],
    }
    bundles = share_bundles([encoded], meta)
    replies = session.on_each(
        "POST",
        f"/v1/erasures/{erasure_id}",
        bundles,
        content_type=BUNDLE_TYPE,
        timeout=timeout,
        wait_all=True,
    )
    answers = [json.loads(r.body) for r in replies]
    first: dict[str, Any] = answers[0]
    if any(a != first for a in answers[1:]):
        raise IntegrityError(f"the nodes answered the erasure differently: {answers}")
    return first

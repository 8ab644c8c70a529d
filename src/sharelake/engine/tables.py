"""Stored tables and wire bundles <-> :class:`~sharelake.relational.table.SecretTable`.

A node keeps, per column, the parts ``values``, ``null`` (nullable columns) and ``text``
(strings), each as this node's pair of uint64 components (:mod:`sharelake.storage`).
An upload bundle carries the same pairs as arrays ``"<col>.<part>.a"`` and
``"<col>.<part>.b"`` (``docs/node-api.md``); :func:`upload_parts` checks them against
the schema before anything is staged. Validity shares (``"_valid.a"``/``"_valid.b"``)
are optional: every uploaded row is real, so by default the node uses the trivial
sharing of ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InputValidationError
from ..mpc.shares import AShare
from ..relational.table import ColumnSpec, SecretColumn, SecretTable, spec_from_json
from ..storage.store import LoadedTable

__all__ = ["public_ones", "schema_specs", "secret_table", "upload_parts"]

_PARTS = ("values", "null", "text")


def public_ones(party: int, n: int) -> AShare:
    """Party ``party``'s pair of the trivial sharing of n ones (component 0 = 1)."""
    one = np.ones(n, dtype=np.uint64)
    zero = np.zeros(n, dtype=np.uint64)
    if party == 0:
        return AShare(one, zero.copy())
    if party == 2:
        return AShare(zero, one)
    return AShare(zero, zero.copy())


def schema_specs(schema: Any) -> list[ColumnSpec]:
    """Column specs from a JSON schema (a list of :func:`spec_to_json` objects).

    Raises
    ------
    InputValidationError
        The schema is not a list of valid column objects, or repeats a name.
    """
    if not isinstance(schema, list) or not schema:
        raise InputValidationError("schema must be a non-empty list of columns")
    specs: list[ColumnSpec] = []
    for entry in schema:
        if not isinstance(entry, dict):
            raise InputValidationError("every schema entry must be an object")
        try:
            specs.append(spec_from_json(entry))
        except (ValueError, TypeError) as exc:
            raise InputValidationError(f"bad column schema: {exc}") from None
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise InputValidationError("schema repeats a column name")
    return specs


def _text_words(spec: ColumnSpec) -> int:
    return (int(spec.max_len or 0) + 7) // 8


def _pair(
    arrays: Mapping[str, npt.NDArray[Any]], key: str, shape: tuple[int, ...], column: str
) -> AShare:
    a, b = arrays.get(f"{key}.a"), arrays.get(f"{key}.b")
    if a is None or b is None:
        raise InputValidationError(f"the bundle lacks {key}.a or {key}.b", column=column)
    for x in (a, b):
        if x.dtype != np.uint64 or x.shape != shape:
            raise InputValidationError(
                f"{key} must be uint64 of shape {shape}, not {x.dtype} {x.shape}", column=column
            )
    return AShare(a, b)  # views of the received body: no copy


def upload_parts(
    party: int, meta: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]]
) -> tuple[dict[str, dict[str, AShare]], AShare]:
    """Check an upload bundle against its schema; return its column parts and validity.

    Parameters
    ----------
    party
        This node's id (for the default validity shares).
    meta
        The bundle's meta: ``table``, ``owner``, ``rows``, ``schema``, ``policy``.
    arrays
        The bundle's arrays.

    Raises
    ------
    InputValidationError
        A missing or extra array, a wrong dtype or shape, or a bad schema; the message
        names the column, never a value.
    """
    rows = meta.get("rows")
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise InputValidationError("rows must be a non-negative integer")
    specs = schema_specs(meta.get("schema"))
    used: set[str] = set()
    columns: dict[str, dict[str, AShare]] = {}
    for spec in specs:
        parts: dict[str, AShare] = {}
        parts["values"] = _pair(arrays, f"{spec.name}.values", (rows,), spec.name)
        if f"{spec.name}.null.a" in arrays or f"{spec.name}.null.b" in arrays:
            parts["null"] = _pair(arrays, f"{spec.name}.null", (rows,), spec.name)
        if spec.kind == "string":
            shape = (rows, _text_words(spec))
            parts["text"] = _pair(arrays, f"{spec.name}.text", shape, spec.name)
        for part in parts:
            used.update({f"{spec.name}.{part}.a", f"{spec.name}.{part}.b"})
        columns[spec.name] = parts
    if "_valid.a" in arrays or "_valid.b" in arrays:
        valid = _pair(arrays, "_valid", (rows,), "_valid")
        used.update({"_valid.a", "_valid.b"})
    else:
        valid = public_ones(party, rows)
    extra = sorted(set(arrays) - used)
    if extra:
        raise InputValidationError(
            f"the bundle has arrays the schema does not explain: {extra[:3]}"
        )
    return columns, valid


def secret_table(loaded: LoadedTable) -> SecretTable:
    """This node's SecretTable of a loaded table version (columns in schema order)."""
    specs = {s.name: s for s in schema_specs(loaded.meta["schema"])}
    cols: dict[str, SecretColumn] = {}
    for name, parts in loaded.columns.items():
        cols[name] = SecretColumn(
            specs[name], parts["values"], parts.get("null"), parts.get("text")
        )
    return SecretTable(cols, loaded.valid, str(loaded.meta["name"]))

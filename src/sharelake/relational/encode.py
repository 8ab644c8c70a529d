"""Encoding of plaintext columns into Z_2^64 and back (client side, before sharing).

Types map to ring elements as: ``int`` -> two's complement; ``fixed`` -> round(x * 2^f);
``bool`` -> 0/1; ``date`` -> days since 1970-01-01; ``category`` -> position in the
public dictionary; ``string`` -> a 64-bit BLAKE2b digest of the UTF-8 bytes (for
equality) plus the bytes themselves packed 8 per word (for fuzzy work). Nulls become a
0/1 flag and value 0.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import InputValidationError
from ..mpc.ring import Arr, decode_fixed, encode_fixed, to_signed
from ..mpc.shares import AShare
from ..mpc.sharing import share_arith
from .table import ColumnSpec, SecretColumn, SecretTable

DIGEST_PERSON = b"sharelake-str-v1"
EPOCH = np.datetime64("1970-01-01", "D")


@dataclass(frozen=True)
class EncodedColumn:
    """A column in ring form: values, null flags and (strings) packed bytes."""

    spec: ColumnSpec
    values: Arr
    null: Arr
    text: Arr | None = None


def string_digest(values: list[str]) -> Arr:
    """64-bit BLAKE2b digests of strings (equality keys computed at the client)."""
    out = np.empty(len(values), dtype=np.uint64)
    for i, v in enumerate(values):  # client-side plaintext encoding, not a protocol
        h = hashlib.blake2b(v.encode("utf-8"), digest_size=8, person=DIGEST_PERSON)
        out[i] = int.from_bytes(h.digest(), "little")
    return out


def _pack_text(values: list[str], max_len: int, name: str, source: str | None) -> Arr:
    words = (max_len + 7) // 8
    buf = np.zeros((len(values), words * 8), dtype=np.uint8)
    for i, v in enumerate(values):
        raw = v.encode("utf-8")
        if b"\0" in raw:  # the packed bytes are zero padded: a NUL would be lost on release
            raise InputValidationError(
                "string contains a NUL character (U+0000), which cannot be stored",
                source=source,
                row=i + 1,
                column=name,
            )
        if len(raw) > max_len:
            raise InputValidationError(
                f"string of {len(raw)} bytes exceeds the maximum of {max_len}",
                source=source,
                row=i + 1,
                column=name,
            )
        buf[i, : len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    return buf.view(np.uint64).reshape(len(values), words)


def _encode_present(col: pd.Series[Any], spec: ColumnSpec) -> Arr:
    """Ring values of the non-null entries of ``col``; raises ValueError on bad input."""
    if spec.kind in ("int", "bool"):
        arr = pd.to_numeric(col, errors="raise").to_numpy()
        if spec.kind == "bool" and not np.isin(arr, (0, 1, True, False)).all():
            raise ValueError("expected true/false")
        if arr.dtype.kind == "f" and not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError("expected an integer")
        if arr.dtype.kind == "f" and np.any(np.abs(arr) >= 2.0**63):
            raise ValueError("integer out of the 64-bit range")
        out: Arr = arr.astype(np.int64).view(np.uint64)
        return out
    if spec.kind == "fixed":
        num = pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(num)) or np.any(np.abs(num) >= 2.0 ** (62 - spec.frac_bits)):
            raise ValueError("number is not finite or out of the fixed-point range")
        return encode_fixed(num, spec.frac_bits)
    if spec.kind == "date":
        d = pd.to_datetime(col, errors="raise").to_numpy().astype("datetime64[D]")
        days: Arr = (d - EPOCH).astype(np.int64).view(np.uint64)
        return days
    if spec.kind == "category":
        cats = list(spec.categories or ())
        lookup = {c: i for i, c in enumerate(cats)}
        codes = col.astype(str).map(lookup)
        if codes.isna().any():
            raise ValueError(f"unknown category (allowed: {', '.join(cats)})")
        return codes.to_numpy(dtype=np.int64).view(np.uint64)
    return string_digest([str(v) for v in col.tolist()])


def encode_column(
    series: pd.Series[Any], spec: ColumnSpec, *, source: str | None = None
) -> EncodedColumn:
    """Validate and encode one pandas column; errors name the row and column."""
    isnull = series.isna().to_numpy()
    if isnull.any() and not spec.nullable:
        rows = [int(r) + 1 for r in np.flatnonzero(isnull)]  # rows counted from 1
        raise InputValidationError(
            "missing value in a required column" + _also(rows),
            source=source,
            row=rows[0],
            column=spec.name,
        )
    present = ~isnull
    values = np.zeros(len(series), dtype=np.uint64)
    try:
        values[present] = _encode_present(series[present], spec)
    except (ValueError, TypeError, OverflowError) as exc:
        bad = _bad_rows(series, spec, present)
        raise InputValidationError(
            str(exc).split("\n")[0] + _also(bad),
            source=source,
            row=bad[0] if bad else None,
            column=spec.name,
        ) from None
    text: Arr | None = None
    if spec.kind == "string":
        strs = [str(v) if ok else "" for v, ok in zip(series.tolist(), present, strict=True)]
        text = _pack_text(strs, int(spec.max_len or 0), spec.name, source)
    return EncodedColumn(spec, values, isnull.astype(np.uint64), text)


def _bad_rows(
    series: pd.Series[Any], spec: ColumnSpec, present: npt.NDArray[np.bool_]
) -> list[int]:
    """Every row (counted from 1) whose value does not fit ``spec`` (client-side
    validation of a file, before anything is shared)."""
    out = []
    for i, (v, ok) in enumerate(zip(series.tolist(), present, strict=True)):
        if not ok:
            continue
        try:
            _encode_present(pd.Series([v]), spec)
        except (ValueError, TypeError, OverflowError):
            out.append(i + 1)
    return out


SHOWN_ROWS = 5
"""How many rows an error about one column lists before saying how many more."""


def _also(rows: list[int]) -> str:
    """`` (3 rows: 2, 5, 9)`` for more than one bad row (capped, with a count)."""
    if len(rows) <= 1:
        return ""
    listed = ", ".join(str(r) for r in rows[:SHOWN_ROWS])
    more = f" and {len(rows) - SHOWN_ROWS} more" if len(rows) > SHOWN_ROWS else ""
    return f" ({len(rows)} rows: {listed}{more})"


def encode_frame(
    df: pd.DataFrame, specs: list[ColumnSpec], *, source: str | None = None
) -> list[EncodedColumn]:
    """Validate and encode a DataFrame against its schema (before anything is shared).

    Every column is checked; an error lists every column that does not fit, each with
    its bad rows (counted from 1; the first five, then how many more).
    """
    missing = [s.name for s in specs if s.name not in df.columns]
    if missing:
        raise InputValidationError(f"missing columns: {', '.join(missing)}", source=source)
    out: list[EncodedColumn] = []
    problems: list[InputValidationError] = []
    for spec in specs:  # every column is checked: all problems are listed at once
        try:
            out.append(encode_column(df[spec.name], spec, source=source))
        except InputValidationError as exc:
            problems.append(exc)
    if problems:
        raise InputValidationError.all_of(problems, source=source)
    return out


def share_table(cols: list[EncodedColumn], *, name: str = "") -> list[SecretTable]:
    """Split encoded columns into the three parties' secret tables (client side)."""
    n = len(cols[0].values) if cols else 0
    valid = share_arith(np.ones(n, dtype=np.uint64))
    parts: list[dict[str, SecretColumn]] = [{}, {}, {}]
    for c in cols:
        vs = share_arith(c.values)
        ns = share_arith(c.null)
        ts: list[AShare] | list[None] = share_arith(c.text) if c.text is not None else [None] * 3
        for i in range(3):
            parts[i][c.spec.name] = SecretColumn(c.spec, vs[i], ns[i], ts[i])
    return [SecretTable(parts[i], valid[i], name) for i in range(3)]


def decode_column(spec: ColumnSpec, values: Arr, null: Arr | None = None) -> pd.Series[Any]:
    """Turn opened ring values back into a pandas column (nulls as missing)."""
    out: pd.Series[Any]
    if spec.kind == "fixed":
        out = pd.Series(decode_fixed(values, spec.frac_bits))
    elif spec.kind == "bool":
        out = pd.Series(values.astype(bool))
    elif spec.kind == "date":
        out = pd.Series(EPOCH + to_signed(values).astype("timedelta64[D]"))
    elif spec.kind == "category":
        cats = np.array(list(spec.categories or ()), dtype=object)
        out = pd.Series(cats[np.clip(values.astype(np.int64), 0, len(cats) - 1)])
    elif spec.kind == "string":
        out = pd.Series(values)
    else:
        out = pd.Series(to_signed(values))
    if null is not None and null.any():
        out = out.astype(object)
        out[null.astype(bool)] = None
    return out

"""Secret tables: named, typed columns of replicated shares plus a secret validity bit.

A :class:`SecretTable` has a public row count ``n`` and schema; which rows are real is
hidden in ``valid`` (a 0/1 arithmetic sharing), so filters keep the size and only
update validity. Each column holds its values as an arithmetic sharing, an optional
secret null flag (0/1), and for strings the 64-bit digest made at the client plus the
bytes (kept for fuzzy matching, 8 bytes per word).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from ..mpc.party import Party
from ..mpc.shares import AShare

ColumnKind = Literal["int", "fixed", "bool", "date", "category", "string"]
KINDS: tuple[ColumnKind, ...] = ("int", "fixed", "bool", "date", "category", "string")
Normalization = Literal["strip", "lower", "upper"]
NORMALIZATIONS: tuple[Normalization, ...] = ("strip", "lower", "upper")
"""Text normalisations an owner may apply at upload, in the order they are applied."""


def normalize_text(text: str, steps: tuple[str, ...]) -> str:
    """``text`` after the upload normalisations ``steps`` (strip first, then the case).

    The uploading client applies them to a column's values; the node applies them to a
    text constant compared with that column, so ``t.name == "Anna "`` finds ``"anna"``.

    Examples
    --------
    >>> normalize_text("  Anna ", ("strip", "lower"))
    'anna'
    """
    if "strip" in steps:
        text = text.strip()
    if "lower" in steps:
        text = text.lower()
    if "upper" in steps:
        text = text.upper()
    return text


@dataclass(frozen=True)
class ColumnSpec:
    """The public description of one column.

    ``categories`` is the public dictionary of a ``category`` column (codes are
    positions in it); ``max_len`` is the public maximum byte length of a ``string``;
    ``frac_bits`` the scale of a ``fixed`` column; ``ordered`` says a category's labels
    are ordered as listed (``<`` and ``>`` compare by that order, as pandas' ordered
    categoricals).
    """

    name: str
    kind: ColumnKind
    nullable: bool = True
    categories: tuple[str, ...] | None = None
    max_len: int | None = None
    frac_bits: int = 16
    ordered: bool = False
    normalized: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name!r}: unknown kind {self.kind!r}")
        if self.kind == "category" and not self.categories:
            raise ValueError(f"column {self.name!r}: a category column needs categories")
        if self.ordered and self.kind != "category":
            raise ValueError(f"column {self.name!r}: only a category column can be ordered")
        if self.kind == "string" and (self.max_len is None or self.max_len <= 0):
            raise ValueError(f"column {self.name!r}: a string column needs max_len > 0")
        if self.normalized:
            bad = [n for n in self.normalized if n not in NORMALIZATIONS]
            if bad:
                raise ValueError(
                    f"column {self.name!r}: unknown normalisation {bad[0]!r} (use "
                    f"{', '.join(NORMALIZATIONS)})"
                )
            if "lower" in self.normalized and "upper" in self.normalized:
                raise ValueError(f"column {self.name!r}: normalise to lower or upper, not both")
            if self.kind not in ("string", "category"):
                raise ValueError(
                    f"column {self.name!r} is {self.kind}: only text columns are normalised"
                )
            if tuple(n for n in NORMALIZATIONS if n in self.normalized) != self.normalized:
                raise ValueError(
                    f"column {self.name!r}: list the normalisations once each, in the order "
                    f"{', '.join(NORMALIZATIONS)}"
                )


@dataclass(frozen=True)
class SecretColumn:
    """This party's shares of one column."""

    spec: ColumnSpec
    values: AShare
    null: AShare | None = None
    text: AShare | None = None  # strings only: shape (n, ceil(max_len / 8))

    def take(self, idx: np.ndarray[tuple[int], np.dtype[np.intp]]) -> SecretColumn:
        """Rows ``idx`` in that order (a public selection, e.g. after a shuffle)."""
        return SecretColumn(
            self.spec,
            self.values[idx],
            None if self.null is None else self.null[idx],
            None if self.text is None else self.text[idx],
        )


@dataclass(frozen=True)
class SecretTable:
    """A table of secret rows: public ``n`` and schema, secret values and validity."""

    columns: dict[str, SecretColumn]
    valid: AShare
    name: str = ""
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.valid)

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def __getitem__(self, name: str) -> SecretColumn:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"table {self.name!r} has no column {name!r}") from None

    def with_columns(self, cols: dict[str, SecretColumn]) -> SecretTable:
        return replace(self, columns={**self.columns, **cols})

    def with_valid(self, valid: AShare) -> SecretTable:
        return replace(self, valid=valid)

    def select(self, names: list[str]) -> SecretTable:
        """Projection (local, nothing opened)."""
        return replace(self, columns={nm: self[nm] for nm in names})

    def take(self, idx: np.ndarray[tuple[int], np.dtype[np.intp]]) -> SecretTable:
        return SecretTable(
            {k: c.take(idx) for k, c in self.columns.items()},
            self.valid[idx],
            self.name,
            dict(self.meta),
        )


def all_valid(p: Party, n: int) -> AShare:
    """A sharing of n ones (every row valid)."""
    return p.public_a(np.ones(n, dtype=np.uint64))


def spec_to_json(spec: ColumnSpec) -> dict[str, object]:
    """The public schema entry of a column, as stored in the catalog and sent in plans
    (``"ordered"`` only when true, so unordered schemas keep their old form)."""
    out: dict[str, object] = {
        "name": spec.name,
        "kind": spec.kind,
        "nullable": spec.nullable,
        "categories": list(spec.categories) if spec.categories is not None else None,
        "max_len": spec.max_len,
        "frac_bits": spec.frac_bits,
    }
    if spec.ordered:
        out["ordered"] = True
    if spec.normalized:
        out["normalized"] = list(spec.normalized)
    return out


def spec_from_json(d: dict[str, object]) -> ColumnSpec:
    """Inverse of :func:`spec_to_json`; raises ValueError on a malformed entry."""
    try:
        cats = d.get("categories")
        max_len = d.get("max_len")
        frac = d.get("frac_bits", 16)
        norm = d.get("normalized", [])
        if not isinstance(norm, list) or not all(isinstance(n, str) for n in norm):
            raise ValueError("normalized must be a list of names")
        return ColumnSpec(
            name=str(d["name"]),
            kind=d["kind"],  # type: ignore[arg-type]
            nullable=bool(d.get("nullable", True)),
            categories=tuple(str(c) for c in cats) if isinstance(cats, list) else None,
            max_len=int(max_len) if isinstance(max_len, int) else None,
            frac_bits=int(frac) if isinstance(frac, int) else 16,
            ordered=d.get("ordered") is True,
            normalized=tuple(norm),
        )
    except KeyError as exc:
        raise ValueError(f"column schema lacks {exc.args[0]!r}") from None

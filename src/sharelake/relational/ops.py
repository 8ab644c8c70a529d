"""Single-table relational operators on secret tables: filter, project, assign, concat, sort.

Every operator is a pure function ``op(p, table, ...) -> SecretTable`` that keeps the
public row count (except :func:`concat`, whose output size is the public sum of the
input sizes) and updates the secret validity bits instead of dropping rows; the
plaintext twins are in :mod:`sharelake.relational.plain`. Arithmetic is replicated
secret sharing over Z_2^64 (Araki, Furukawa, Lindell, Nof & Ohara, CCS 2016);
comparisons, conversions and the sort come from :mod:`sharelake.mpc`.

LEAKAGE (per operator, see each docstring): nothing is opened by any operator here;
what is public is the schema, the row counts and the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..mpc import arith
from ..mpc.party import Party
from ..mpc.scan import mul_many
from ..mpc.shares import AShare
from ..mpc.sort import sort
from .expr import (
    COMPARISONS,
    QUOTIENT_FRAC_BITS,
    BinOp,
    Col,
    DatePartOf,
    Divide,
    Expr,
    FixedLit,
    IsNull,
    LabelLit,
    Lit,
    Not,
    RoundTo,
    Scaled,
    StrMatch,
    When,
    eval_secret,
)
from .expr import predicate_secret as _predicate_secret
from .literals import bind_literals
from .table import ColumnKind, ColumnSpec, SecretColumn, SecretTable

__all__ = [
    "SortKey",
    "assign",
    "concat",
    "filter_rows",
    "infer_spec",
    "key_width",
    "normalised_keys",
    "project",
    "sort_by_keys",
    "sort_shares",
    "sort_table",
    "table_columns",
    "table_from_columns",
    "union",
]


# ---- flattening a table into 1-D share columns (for shuffles and sorts) ----------------


def table_columns(t: SecretTable) -> list[AShare]:
    """All shares of ``t`` as 1-D columns: validity, then per column values, null, text words.

    :func:`table_from_columns` inverts it; shuffles and sorts move these together.
    """
    out = [t.valid]
    for c in t.columns.values():
        out.append(c.values)
        if c.null is not None:
            out.append(c.null)
        if c.text is not None:
            out.extend(
                AShare(c.text.a[:, j].copy(), c.text.b[:, j].copy())
                for j in range(c.text.a.shape[1])
            )
    return out


def table_from_columns(t: SecretTable, cols: Sequence[AShare]) -> SecretTable:
    """Rebuild a table with ``t``'s schema from columns laid out as :func:`table_columns`."""
    it = iter(cols)
    valid = next(it)
    out: dict[str, SecretColumn] = {}
    for name, c in t.columns.items():
        values = next(it)
        null = next(it) if c.null is not None else None
        text = None
        if c.text is not None:
            words = [next(it) for _ in range(c.text.a.shape[1])]
            n = len(values)
            text = AShare(
                np.stack([w.a for w in words], axis=1).reshape(n, len(words)),
                np.stack([w.b for w in words], axis=1).reshape(n, len(words)),
            )
        out[name] = SecretColumn(c.spec, values, null, text)
    return SecretTable(out, valid, t.name, dict(t.meta))


# ---- sorting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    """One field of a composite sort key: a secret column and how to order it."""

    values: AShare
    bits: int = 64
    signed: bool = True
    descending: bool = False


def key_width(spec: ColumnSpec) -> tuple[int, bool]:
    """(bits, signed) of a column used as a key: narrow for bools and category codes."""
    if spec.kind == "bool":
        return 1, False
    if spec.kind == "category":
        return max(1, (len(spec.categories or ()) - 1).bit_length()), False
    if spec.kind == "string":
        return 64, False  # the 64-bit digest: equality only, its order means nothing
    return 64, True


def normalised_keys(
    p: Party, t: SecretTable, names: Sequence[str]
) -> list[tuple[AShare, AShare | None]]:
    """(value with nulls set to 0, null flag) of each key column; one batched multiplication.

    Null rows may carry any value after a computed column; zeroing them makes all nulls
    of a column equal, as SQL grouping and pandas ``dropna=False`` require.
    """
    nullable = [nm for nm in names if t[nm].null is not None]
    ones = p.public_a(np.ones(t.n, dtype=np.uint64))
    prods = mul_many(p, [(t[nm].values, ones - _null(t, nm)) for nm in nullable])
    fixed = dict(zip(nullable, prods, strict=True))
    return [(fixed.get(nm, t[nm].values), t[nm].null) for nm in names]


def _null(t: SecretTable, nm: str) -> AShare:
    nl = t[nm].null
    if nl is None:
        raise ValueError(f"column {nm!r} has no null flags")
    return nl


def _invalid(p: Party, t: SecretTable) -> AShare:
    return (-t.valid).add_public(np.uint64(1), p.id)


def sort_by_keys(
    p: Party, t: SecretTable, keys: Sequence[SortKey], extra: Sequence[AShare] = ()
) -> tuple[SecretTable, list[AShare], list[AShare]]:
    """Stable oblivious sort of all rows of ``t`` (and ``extra`` columns) by ``keys``.

    Returns (sorted table, sorted keys, sorted extra columns). Building block of
    :func:`sort_table`, group-by and distinct. Sort: shuffle, then a quicksort whose
    opened comparison outcomes involve only distinct keys (Hamada et al., ICISC 2012).

    LEAKAGE: none beyond the row count (see :mod:`sharelake.mpc.sort`).
    """
    cols = table_columns(t)
    skeys, payload = sort_shares(p, keys, [*cols, *extra])
    return table_from_columns(t, payload[: len(cols)]), skeys, payload[len(cols) :]


def sort_shares(
    p: Party, keys: Sequence[SortKey], payload: Sequence[AShare]
) -> tuple[list[AShare], list[AShare]]:
    """Stable oblivious sort of 1-D columns by the composite ``keys`` (most significant
    first): returns (sorted key columns, sorted payload). LEAKAGE: none."""
    if not keys:
        raise ValueError("sorting needs at least one key")
    if len(keys[0].values) < 2:
        return [k.values.copy() for k in keys], [c.copy() for c in payload]
    skeys, spay = sort(
        p,
        [k.values for k in keys],
        list(payload),
        descending=[k.descending for k in keys],
        signed=[k.signed for k in keys],
        bits=[k.bits for k in keys],
    )
    return [_arith(s) for s in skeys], [_arith(s) for s in spay]


def _arith(s: object) -> AShare:
    if not isinstance(s, AShare):
        raise TypeError("sort returned a boolean sharing for an arithmetic column")
    return s


def group_sort_keys(
    p: Party, t: SecretTable, names: Sequence[str], descending: Sequence[bool] | None = None
) -> list[SortKey]:
    """Composite key "invalid rows last, then each column (nulls last within it)"."""
    desc = list(descending) if descending is not None else [False] * len(names)
    out = [SortKey(_invalid(p, t), bits=1, signed=False)]
    for (v, nl), nm, d in zip(normalised_keys(p, t, names), names, desc, strict=True):
        if nl is not None:
            out.append(SortKey(nl, bits=1, signed=False))
        bits, signed = key_width(t[nm].spec)
        out.append(SortKey(v, bits=bits, signed=signed, descending=d))
    return out


def sort_table(
    p: Party, t: SecretTable, by: str | Sequence[str], *, descending: bool | Sequence[bool] = False
) -> SecretTable:
    """Stable sort by one or more columns, each ascending or descending; invalid rows last.

    Nulls sort after the non-null values of their column (pandas ``na_position="last"``).
    All columns and the validity move together (one shuffle and one sort). String
    columns cannot be sort keys (only their digest is shared). Source: shuffle + quicksort
    with opened outcomes on distinct composite keys (Hamada, Kikuchi, Chida, Ikarashi &
    Takahashi, ICISC 2012).

    LEAKAGE: nothing (the row count is public).
    """
    names = [by] if isinstance(by, str) else list(by)
    desc = [descending] * len(names) if isinstance(descending, bool) else list(descending)
    if len(desc) != len(names):
        raise ValueError("sort_table: one descending flag per key column is needed")
    for nm in names:
        if t[nm].spec.kind == "string":
            raise TypeError(f"column {nm!r} is a string: only equality is defined on it")
    with p.measure("sort_table"):
        keys = group_sort_keys(p, t, names, desc)
        out, _, _ = sort_by_keys(p, t, keys)
    return out


# ---- filter, project, assign ------------------------------------------------------------


def filter_rows(p: Party, t: SecretTable, predicate: Expr) -> SecretTable:
    """Keep the rows where ``predicate`` holds (and is not null): validity *= predicate.

    The size is kept; one multiplication on top of the predicate's own cost. The
    predicate must be boolean (comparisons, ``&``, ``|``, ``~``, ``is_null``, bool
    columns); anything else is rejected before any computation.

    LEAKAGE: nothing (no value, no count; rows stay in place).
    """
    predicate = bind_literals(predicate, t)
    spec = infer_spec(t, predicate, "predicate")
    if spec.kind != "bool":
        raise TypeError(f"a filter predicate must be boolean, not {spec.kind}")
    with p.measure("filter"):
        keep = _predicate_secret(p, t, predicate)
        return t.with_valid(arith.mul(p, t.valid, keep))


def project(p: Party, t: SecretTable, names: Sequence[str]) -> SecretTable:
    """The columns ``names``, in that order (local). LEAKAGE: nothing."""
    del p
    return t.select(list(names))


def assign(p: Party, t: SecretTable, **exprs: Expr) -> SecretTable:
    """Add or replace computed columns: ``assign(p, t, adult=col("age") >= 18)``.

    Each result's kind follows :func:`infer_spec` (comparisons and logic give ``bool``,
    date - date gives ``int``, ...); it is nullable when an operand is. Expressions are
    evaluated on the input table (not on each other's results), row by row, in MPC.

    LEAKAGE: nothing.
    """
    exprs = {nm: bind_literals(e, t) for nm, e in exprs.items()}
    specs = {nm: infer_spec(t, e, nm) for nm, e in exprs.items()}
    new: dict[str, SecretColumn] = {}
    with p.measure("assign"):
        for nm, e in exprs.items():
            v, nl = eval_secret(p, t, e)
            spec = replace(specs[nm], nullable=nl is not None)
            new[nm] = SecretColumn(spec, v, nl, _copied_text(t, e, spec))
    return t.with_columns(new)


def _copied_text(t: SecretTable, e: Expr, spec: ColumnSpec) -> AShare | None:
    """The bytes of a string result: only a copy of a string column has them."""
    if spec.kind != "string":
        return None
    if isinstance(e, Col):
        return t[e.name].text
    raise TypeError(
        "a computed string column can only copy a string column (t.assign(b=t.a)); "
        "choose between strings after collect(), or before upload"
    )


_NUMERIC: set[ColumnKind] = {"int", "bool"}


def infer_spec(t: SecretTable, e: Expr, name: str) -> ColumnSpec:
    """The column spec an expression produces on ``t`` (static; raises TypeError when
    the expression has no meaning on encoded values, e.g. fixed * fixed, which would
    need a truncation, or arithmetic on strings and categories)."""
    if isinstance(e, Col):
        return replace(t[e.name].spec, name=name)
    if isinstance(e, FixedLit):
        return ColumnSpec(name, "fixed", nullable=False, frac_bits=e.frac_bits)
    if isinstance(e, Scaled):
        return infer_spec(t, e.operand, name)
    if isinstance(e, Lit):
        return ColumnSpec(name, "bool" if isinstance(e.value, bool) else "int", nullable=False)
    if isinstance(e, Not | IsNull):
        if isinstance(e, Not):
            _expect(infer_spec(t, e.operand, name), {"bool"}, "~")
        return ColumnSpec(name, "bool")
    if isinstance(e, When):
        _expect(infer_spec(t, e.cond, name), {"bool"}, "when(...) condition")
        a, b = infer_spec(t, e.then, name), infer_spec(t, e.other, name)
        if isinstance(e.then, Lit) and b.kind not in ("fixed", "string"):
            return b
        if isinstance(e.other, Lit) and a.kind not in ("fixed", "string"):
            return a
        if a.kind == b.kind and a.frac_bits == b.frac_bits and a.categories == b.categories:
            return a
        if {a.kind, b.kind} <= _NUMERIC:
            return ColumnSpec(name, "int")
        raise TypeError(f"when(...) branches of kinds {a.kind} and {b.kind} do not mix")
    if isinstance(e, DatePartOf):
        _expect(infer_spec(t, e.operand, name), {"date"}, f".dt.{e.part}")
        return ColumnSpec(name, "int")
    if isinstance(e, RoundTo):
        inner = infer_spec(t, e.operand, name)
        _expect(inner, {"int", "fixed", "bool"}, "round")
        return inner
    if isinstance(e, StrMatch):
        _expect(infer_spec(t, e.operand, name), {"string"}, f".str.{e.test}")
        return ColumnSpec(name, "bool")
    if isinstance(e, Divide):
        a, b = infer_spec(t, e.left, name), infer_spec(t, e.right, name)
        for s in (a, b):
            if s.kind not in ("int", "bool", "fixed"):
                raise TypeError(f"{e.op} of a {s.kind} column is not defined")
        if e.op == "/":
            return ColumnSpec(name, "fixed", frac_bits=QUOTIENT_FRAC_BITS)
        return ColumnSpec(name, "int")
    if isinstance(e, BinOp):
        a, b = infer_spec(t, e.left, name), infer_spec(t, e.right, name)
        return _binop_spec(e, a, b, name)
    raise TypeError(f"unsupported expression node {type(e).__name__}")


def _expect(s: ColumnSpec, kinds: set[ColumnKind], what: str) -> None:
    if s.kind not in kinds:
        raise TypeError(f"{what} needs {' or '.join(sorted(kinds))}, got {s.kind}")


def _binop_spec(e: BinOp, a: ColumnSpec, b: ColumnSpec, name: str) -> ColumnSpec:
    op = e.op
    lit_a, lit_b = isinstance(e.left, Lit), isinstance(e.right, Lit)
    if op in COMPARISONS:
        if isinstance(e.left, LabelLit) or isinstance(e.right, LabelLit):
            return ColumnSpec(name, "bool")  # a label bound to its column (bind_literals)
        if "string" in (a.kind, b.kind) and (op not in ("==", "!=") or a.kind != b.kind):
            raise TypeError("strings support only == and != with another string column")
        if "fixed" in (a.kind, b.kind) and a.kind != b.kind:
            raise TypeError("compare a fixed-point column only with a fixed-point column")
        return ColumnSpec(name, "bool")
    if op in ("&", "|"):
        _expect(a, {"bool"}, op)
        _expect(b, {"bool"}, op)
        return ColumnSpec(name, "bool")
    kinds = {a.kind, b.kind}
    if kinds & {"string", "category"}:
        raise TypeError(f"arithmetic ({op}) on {'/'.join(sorted(kinds))} columns is not defined")
    if op == "*":
        if kinds <= _NUMERIC:
            return ColumnSpec(name, "bool" if kinds == {"bool"} else "int")
        if "fixed" in kinds and "date" not in kinds and not (a.kind == b.kind == "fixed"):
            return a if a.kind == "fixed" else b
        raise TypeError(
            f"* of {a.kind} and {b.kind} is not defined (fixed * fixed needs a truncation)"
        )
    # + and -
    if kinds <= _NUMERIC:
        return ColumnSpec(name, "int")
    if a.kind == b.kind == "fixed" and a.frac_bits == b.frac_bits:
        return a
    if a.kind == "date" and b.kind == "date" and op == "-":
        return ColumnSpec(name, "int")
    if a.kind == "date" and b.kind in _NUMERIC:
        return a
    if b.kind == "date" and a.kind in _NUMERIC and op == "+":
        return b
    if (lit_a or lit_b) and "fixed" in kinds:
        raise TypeError("add fixed-point constants as a fixed column, not as an integer literal")
    raise TypeError(f"{op} of {a.kind} and {b.kind} is not defined")


# ---- concat / union ------------------------------------------------------------------------


def _schema_key(s: ColumnSpec) -> tuple[object, ...]:
    return (s.name, s.kind, s.categories, s.max_len, s.frac_bits)


def concat(p: Party, tables: Sequence[SecretTable], *, name: str = "") -> SecretTable:
    """UNION ALL of tables with the same schema (same column names, kinds and encodings).

    Local: the shares are concatenated; a column that is nullable in one input gets
    zero null flags where another input has none. LEAKAGE: nothing (the output size is
    the public sum of the input sizes).
    """
    if not tables:
        raise ValueError("concat needs at least one table")
    first = tables[0]
    for t in tables[1:]:
        if [_schema_key(c.spec) for c in t.columns.values()] != [
            _schema_key(c.spec) for c in first.columns.values()
        ]:
            raise ValueError(f"table {t.name!r} does not have the schema of {first.name!r}")
    cols: dict[str, SecretColumn] = {}
    for nm, c0 in first.columns.items():
        parts = [t[nm] for t in tables]
        any_null = any(c.null is not None for c in parts)
        nulls = [
            c.null if c.null is not None else p.public_a(np.zeros(len(c.values), dtype=np.uint64))
            for c in parts
        ]
        text = None
        if c0.text is not None:
            texts = [c.text for c in parts]
            text = AShare(
                np.concatenate([x.a for x in texts if x is not None]),
                np.concatenate([x.b for x in texts if x is not None]),
            )
        spec = replace(c0.spec, nullable=any(c.spec.nullable for c in parts))
        cols[nm] = SecretColumn(
            spec,
            _cat([c.values for c in parts]),
            _cat(nulls) if any_null else None,
            text,
        )
    return SecretTable(cols, _cat([t.valid for t in tables]), name or first.name)


def _cat(parts: Sequence[AShare]) -> AShare:
    return AShare(np.concatenate([x.a for x in parts]), np.concatenate([x.b for x in parts]))


def union(p: Party, tables: Sequence[SecretTable], *, name: str = "") -> SecretTable:
    """SQL UNION: :func:`concat`, then :func:`~sharelake.relational.distinct.distinct` over
    every non-text column (the first copy of each row is kept).

    LEAKAGE: nothing (output size = sum of input sizes; duplicates only become invalid).
    """
    from .distinct import distinct

    t = concat(p, tables, name=name)
    return distinct(p, t, t.names)

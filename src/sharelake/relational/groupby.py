"""Group-by aggregation on secret tables: count, sum, mean, variance and standard
deviation, min, max, count-distinct, median and percentiles.

Method (the sort-and-scan group-by of Jónsson, Kreitz & Uddin, "Secure multi-party
sorting and applications", 2011; also the Secrecy engine, Liagouris et al., NSDI 2023),
on replicated shares (Araki et al., CCS 2016):

1. one multiplication round zeroes nulls in the keys (and the packed bytes of string
   keys) and aggregated values and puts a sentinel in null min/max inputs;
2. an oblivious stable sort by (invalid rows last, key null flags, key values
   [, the first count-distinct column]) carrying only the aggregated columns and the
   bytes of string keys (a string key groups by its digest; the bytes ride along so the
   released key is the value, not the digest)
   (shuffle + quicksort on distinct composite keys: Hamada et al., ICISC 2012);
3. neighbour equality of the sorted keys (one batched ``eq``) gives the group starts;
4. counts and sums are local prefix sums; min/max are segmented prefix minima by
   comparisons (:mod:`sharelake.mpc.scan`, log2 n rounds, only when asked for);
5. a stable partition moves the last valid row of every group to the front without
   opening anything (shuffle, then open uniformly permuted destinations: the radix-sort
   step of Hamada, Ikarashi, Chida & Takahashi, ePrint 2014/121), so each group's total
   is the difference of neighbouring prefix sums; validity = "a group's last row".

The output has the input's row count; the valid rows are the first G rows, one per
group in key order (nulls last), G secret, so the number of groups stays secret until
the caller compacts or reveals the result.

Mean: there is no secret-by-secret division here, so ``(col, "mean")`` named ``m``
yields two columns ``m_sum`` and ``m_count`` (the sum and the number of non-null
values) and the release divides (:func:`sharelake.relational.plain.finish_means`); the
table's ``meta["mean:m"]`` records it.

Variance and standard deviation (``var``, ``std``, ``var_ddof0`` ...; pandas' ``ddof``,
1 by default): like a mean, released as three columns ``v_sum``, ``v_sumsq`` and
``v_count`` (:func:`moment_columns`: the sum, the sum of squares and the number of
non-null values, meta ``moment:v``); the client computes
``(sumsq - sum^2 / count) / (count - ddof)`` exactly from them (and its square root for
``std``). The squares are made before the sort (:func:`_squares`): an ``int`` or ``bool``
column in one multiplication round, exactly; a ``fixed`` column of scale ``f`` as
``floor(X^2 / 2^f)`` exactly, by the split ``X = H 2^f + L`` (two exact truncations and
one multiplication round), so every square is rounded down by less than ``2^-f`` and a
variance differs from the exact one by less than ``count / (count - ddof) * 2^-f``. Range:
``|x| < 2^((63 - f) / 2)`` per value (11.8 million for ``f = 16``; 3 * 10^9 for ``int``)
and a group's sum of squares below ``2^(63 - f)`` (1.4 * 10^14), as any fixed-point sum.

Median and percentiles (``median``, ``p0`` ... ``p100``; pandas' linear interpolation):
the rows are sorted once more by (group keys, missing flag, value), which keeps every
group at its place (the sort is stable on the same key prefix), and each row gets its
weight in ``b`` times the quantile ``a / b`` from its rank and its group's count
(:func:`_quantiles`); the weighted values are summed per group like a sum. The release
carries ``b`` times the quantile (meta ``quantile:<name>``); the client divides.

Null semantics (as pandas ``groupby(dropna=False)``): null keys form their own group;
``count`` counts non-null values (``"*"`` counts rows); ``sum`` ignores nulls (0 for an
all-null group); ``min``/``max`` ignore nulls and are null for an all-null group;
``count_distinct`` counts distinct non-null values.

LEAKAGE: nothing. The sort opens only comparison outcomes of shuffled distinct keys
(see :mod:`sharelake.mpc.sort`); every other step opens nothing; message sizes depend
only on n and the plan. The number of groups is opened only by a later compaction.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np

from ..mpc.compare import eq_public, lt_public
from ..mpc.convert import b2a_bits
from ..mpc.fixed import trunc_exact
from ..mpc.party import Party
from ..mpc.scan import (
    mul_many,
    neighbour_same,
    segmented_min,
    segmented_sum,
    stable_partition,
    starts_from_same,
)
from ..mpc.shares import AShare
from ..plan.tree import moment_columns
from ..plan.validate import moment_ddof, quantile_fraction
from .ops import SortKey, key_width, sort_shares
from .table import ColumnKind, ColumnSpec, SecretColumn, SecretTable

#: an aggregate function; also the percentiles ``"p0"`` ... ``"p100"``
#: (:func:`sharelake.plan.validate.quantile_fraction`)
AggFn = Literal["count", "sum", "mean", "min", "max", "count_distinct", "median", "var", "std"]
AGG_FNS: tuple[AggFn, ...] = ("count", "sum", "mean", "min", "max", "count_distinct", "median")
INT64_MAX = np.uint64((1 << 63) - 1)
ALL_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)

__all__ = ["AGG_FNS", "AggFn", "groupby", "mean_columns", "moment_columns"]


def mean_columns(name: str) -> tuple[str, str]:
    """The (sum, count) column names that stand for mean ``name`` in a result."""
    return f"{name}_sum", f"{name}_count"


def _check(t: SecretTable, keys: list[str], aggs: dict[str, tuple[str, AggFn]]) -> list[str]:
    if not keys:
        raise ValueError("groupby needs at least one key column")
    out_names = list(keys)
    for nm in keys:
        t[nm].spec  # noqa: B018 - raises KeyError naming the column
    for out, (src, fn) in aggs.items():
        known = fn in AGG_FNS or quantile_fraction(fn) is not None
        if not known and moment_ddof(fn) is None:
            raise ValueError(f"aggregate {out!r}: unknown function {fn!r}")
        if src == "*":
            if fn != "count":
                raise ValueError(f"aggregate {out!r}: '*' only works with count")
        else:
            kind = t[src].spec.kind
            summed = fn in ("sum", "mean") or moment_ddof(fn) is not None
            if summed and kind not in ("int", "fixed", "bool"):
                raise TypeError(f"aggregate {out!r}: cannot {fn} a {kind} column")
            if fn in ("min", "max") and kind == "string":
                raise TypeError(f"aggregate {out!r}: strings have no order (only a digest)")
            if quantile_fraction(fn) is not None and kind not in ("int", "fixed"):
                raise TypeError(f"aggregate {out!r}: {fn} needs a number column, not {kind}")
        if fn == "mean":
            out_names.extend(mean_columns(out))
        elif moment_ddof(fn) is not None:
            out_names.extend(moment_columns(out))
        else:
            out_names.append(out)
    dup = {x for x in out_names if out_names.count(x) > 1}
    if dup:
        raise ValueError(f"groupby: output column names collide: {', '.join(sorted(dup))}")
    return out_names


def _out_specs(
    t: SecretTable, keys: list[str], aggs: dict[str, tuple[str, AggFn]]
) -> dict[str, ColumnSpec]:
    """The result schema (kinds of keys and aggregates)."""
    out = {nm: t[nm].spec for nm in keys}
    for name, (src, fn) in aggs.items():
        if fn in ("count", "count_distinct"):
            out[name] = ColumnSpec(name, "int", nullable=False)
        elif fn in ("sum", "mean"):
            spec = t[src].spec
            kind: ColumnKind = "fixed" if spec.kind == "fixed" else "int"
            s_name, c_name = mean_columns(name) if fn == "mean" else (name, "")
            out[s_name] = ColumnSpec(s_name, kind, nullable=False, frac_bits=spec.frac_bits)
            if fn == "mean":
                out[c_name] = ColumnSpec(c_name, "int", nullable=False)
        elif moment_ddof(fn) is not None:
            spec = t[src].spec
            mkind: ColumnKind = "fixed" if spec.kind == "fixed" else "int"
            s_name, q_name, c_name = moment_columns(name)
            for nm in (s_name, q_name):
                out[nm] = ColumnSpec(nm, mkind, nullable=False, frac_bits=spec.frac_bits)
            out[c_name] = ColumnSpec(c_name, "int", nullable=False)
        elif quantile_fraction(fn) is not None:  # released as b * quantile (see below)
            spec = t[src].spec
            qkind: ColumnKind = "fixed" if spec.kind == "fixed" else "int"
            out[name] = ColumnSpec(name, qkind, nullable=spec.nullable, frac_bits=spec.frac_bits)
        else:
            out[name] = replace(t[src].spec, name=name)
    return out


def groupby(
    p: Party, t: SecretTable, keys: list[str], aggs: dict[str, tuple[str, AggFn]]
) -> SecretTable:
    """Aggregate the valid rows of ``t`` per distinct combination of ``keys``.

    ``aggs`` maps an output name to ``(column, function)``; ``("*", "count")`` counts
    rows. Returns a table of ``t.n`` rows: the key columns and the aggregates, valid
    exactly at one row per group (see the module docstring for means and nulls).

    Cost: one multiplication round, a sort of n rows by the keys carrying only the
    aggregated columns (plus one more sort per count-distinct column after the first),
    one batched neighbour equality, two multiplication rounds, one stable partition
    (5 rounds) and, only for min/max, ceil(log2 n) steps of segmented minima (one
    batched comparison each).

    LEAKAGE: nothing (see the module docstring).
    """
    _check(t, keys, aggs)
    specs = _out_specs(t, keys, aggs)
    if t.n == 0:
        z = AShare(np.zeros(0, np.uint64), np.zeros(0, np.uint64))
        cols = {nm: SecretColumn(s, z, z if s.nullable else None) for nm, s in specs.items()}
        for nm in keys:
            tx = t[nm].text
            if tx is not None:
                cols[nm] = SecretColumn(cols[nm].spec, z, cols[nm].null, tx)
        return SecretTable(cols, z, t.name, dict(t.meta))
    with p.measure("groupby"):
        return _groupby(p, t, keys, aggs, specs)


def _groupby(
    p: Party,
    t: SecretTable,
    keys: list[str],
    aggs: dict[str, tuple[str, AggFn]],
    specs: dict[str, ColumnSpec],
) -> SecretTable:
    n = t.n
    ones = p.public_a(np.ones(n, dtype=np.uint64))
    nulls = {nm: c.null for nm, c in t.columns.items() if c.null is not None}
    used = {(src, fn) for src, fn in aggs.values()}
    srcs = sorted({src for src, _ in used if src != "*"})
    cd_cols = list(dict.fromkeys(s for s, f in aggs.values() if f == "count_distinct"))
    q_srcs = sorted({s for s, f in used if quantile_fraction(f) is not None})
    m_srcs = sorted({s for s, f in used if moment_ddof(f) is not None})
    need_zero = sorted(
        set(keys)
        | {s for s, f in used if f in ("sum", "mean", "count_distinct")}
        | set(q_srcs)
        | set(m_srcs)
    )

    # 1. one round: zero the nulls of keys and summed columns; min/max inputs get +inf at
    #    nulls (max runs as a min of -1 - v, which reverses the signed order exactly)
    ext_in: dict[str, AShare] = {}
    for src, fn in sorted(used):
        if fn == "min":
            ext_in[f"min:{src}"] = t[src].values
        elif fn == "max":
            ext_in[f"max:{src}"] = (-t[src].values).add_public(ALL_ONES, p.id)
    inf = p.public_a(np.full(n, INT64_MAX, dtype=np.uint64))
    z_names = [nm for nm in need_zero if nm in nulls]
    e_names = [k for k in ext_in if k.split(":", 1)[1] in nulls]
    #    (and the text words of string keys are zeroed at null keys, so a null group
    #    releases no bytes)
    words = {nm: _words(t[nm].text) for nm in keys if t[nm].text is not None}
    t_names = [(nm, j) for nm in keys if nm in words and nm in nulls for j in range(len(words[nm]))]
    prods = mul_many(
        p,
        [(t[nm].values, ones - nulls[nm]) for nm in z_names]
        + [(nulls[k.split(":", 1)[1]], inf - ext_in[k]) for k in e_names]
        + [(words[nm][j], ones - nulls[nm]) for nm, j in t_names],
    )
    zeroed = {nm: t[nm].values for nm in need_zero}
    zeroed.update(zip(z_names, prods[: len(z_names)], strict=True))
    for k, d in zip(e_names, prods[len(z_names) : len(z_names) + len(e_names)], strict=True):
        ext_in[k] = ext_in[k] + d
    for (nm, j), w in zip(t_names, prods[len(z_names) + len(e_names) :], strict=True):
        words[nm][j] = w
    squares = _squares(p, {nm: (zeroed[nm], t[nm].spec) for nm in m_srcs})

    # 2. sort by (invalid, [key null,] key value, ..., [first count-distinct column])
    sk: list[SortKey] = [SortKey(ones - t.valid, bits=1, signed=False)]
    key_at: dict[str, tuple[int | None, int]] = {}
    for nm in keys:
        npos = None
        if nm in nulls:
            npos = len(sk)
            sk.append(SortKey(nulls[nm], bits=1, signed=False))
        bits, signed = key_width(t[nm].spec)
        key_at[nm] = (npos, len(sk))
        sk.append(SortKey(zeroed[nm], bits=bits, signed=signed))
    n_group = len(sk)
    if cd_cols:
        sk.extend(_value_keys(t, cd_cols[0], zeroed[cd_cols[0]]))
    pay: dict[str, AShare] = {"valid": t.valid}
    for nm, ws in words.items():  # string keys carry their bytes to the group's row
        pay.update({f"text:{nm}:{j}": w for j, w in enumerate(ws)})
    for nm in srcs:
        if nm in nulls:
            pay[f"null:{nm}"] = nulls[nm]
        if (nm, "sum") in used or (nm, "mean") in used or nm in squares:
            pay[f"zero:{nm}"] = zeroed[nm]
        if nm in squares:
            pay[f"sq:{nm}"] = squares[nm]
    pay.update(ext_in)
    with p.measure("groupby.sort"):
        skeys, spay = sort_shares(p, sk, list(pay.values()))
    col = dict(zip(pay, spay, strict=True))

    # 3. group starts (neighbour equality), last row of each group, distinct-value flags
    with p.measure("groupby.flags"):
        same = neighbour_same(p, skeys, [k.bits for k in sk])
        rest = [_extra_distinct_same(p, t, nm, sk[:n_group], zeroed[nm]) for nm in cd_cols[1:]]
        groups = [same[:n_group]] + ([same[n_group:]] if cd_cols else []) + [r[0] for r in rest]
        flat = _and_many(p, groups, n - 1)
        starts = starts_from_same(p, flat[0])
        pairs = [(col["valid"], _shift_up(p, starts))]
        pairs += [(flat[0], f) for f in flat[1:]]
        got = mul_many(p, pairs)
        last = got[0]
        nonnull = {nm: ones - col[f"null:{nm}"] if f"null:{nm}" in col else ones for nm in srcs}
        # the non-null flags in the order each distinct count was sorted in
        cd_nonnull = [nonnull[nm] for nm in cd_cols[:1]]
        cd_nonnull += [ones if nl is None else ones - nl for _, nl in rest]
        fresh = mul_many(
            p,
            [(starts_from_same(p, g), nn) for g, nn in zip(got[1:], cd_nonnull, strict=True)],
        )

    # 3b. quantiles: per column, b * quantile summed from weighted rows (see _quantiles)
    with p.measure("groupby.quantile"):
        qsum = {
            k: v
            for nm in q_srcs
            for k, v in _quantiles(
                p,
                t,
                nm,
                zeroed[nm],
                sk[:n_group],
                starts,
                sorted(f for s, f in used if s == nm and quantile_fraction(f) is not None),
            ).items()
        }

    # 4. segmented scans: all sums in one scan, all minima in another
    sum_in: dict[str, AShare] = dict(qsum)
    for src, fn in sorted(used):
        if src == "*":
            sum_in["rows"] = ones
        elif (
            fn in ("count", "mean")
            or moment_ddof(fn) is not None
            or ((fn in ("min", "max") or quantile_fraction(fn) is not None) and src in nulls)
        ):
            sum_in[f"nn:{src}"] = nonnull[src]
        if fn in ("sum", "mean") or moment_ddof(fn) is not None:
            sum_in[f"sum:{src}"] = col[f"zero:{src}"]
        if moment_ddof(fn) is not None:
            sum_in[f"sumsq:{src}"] = col[f"sq:{src}"]
    for nm, f in zip(cd_cols, fresh, strict=True):
        sum_in[f"cd:{nm}"] = f
    with p.measure("groupby.scan"):
        ext = dict(zip(ext_in, segmented_min(p, starts, [col[k] for k in ext_in]), strict=True))
    # 5. running totals are local prefix sums; moving the group ends to the front (a
    #    stable partition, nothing opened) makes each group's total the difference of
    #    neighbouring rows' prefix sums
    names = list(sum_in)
    prefix = [
        AShare(np.cumsum(sum_in[k].a, dtype=np.uint64), np.cumsum(sum_in[k].b, dtype=np.uint64))
        for k in names
    ]
    key_cols = [c for nm in keys for c in _key_cols(skeys, key_at[nm])]
    key_cols += [col[f"text:{nm}:{j}"] for nm, ws in words.items() for j in range(len(ws))]
    ext_names = list(ext)
    with p.measure("groupby.partition"):
        last, moved = stable_partition(p, last, [*key_cols, *prefix, *[ext[k] for k in ext_names]])
    kc = moved[: len(key_cols)]
    pc = moved[len(key_cols) : len(key_cols) + len(prefix)]
    ext = dict(zip(ext_names, moved[len(key_cols) + len(prefix) :], strict=True))
    sums = {k: _differences(c) for k, c in zip(names, pc, strict=True)}
    empty = _all_null(
        p,
        [
            s
            for s, f in used
            if (f in ("min", "max") or quantile_fraction(f) is not None) and s in nulls
        ],
        sums,
        n,
    )

    # 5. keys and aggregates at every row; valid at the last valid row of each group
    out: dict[str, SecretColumn] = {}
    pos = 0
    for nm in keys:
        npos, _ = key_at[nm]
        nl = None
        if npos is not None:
            nl = kc[pos]
            pos += 1
        out[nm] = SecretColumn(specs[nm], kc[pos], nl)
        pos += 1
    for nm, ws in words.items():
        tw = kc[pos : pos + len(ws)]
        pos += len(ws)
        text = AShare(np.stack([x.a for x in tw], axis=1), np.stack([x.b for x in tw], axis=1))
        out[nm] = SecretColumn(out[nm].spec, out[nm].values, out[nm].null, text)
    meta = dict(t.meta)
    for name, (src, fn) in aggs.items():
        if fn == "count":
            out[name] = SecretColumn(specs[name], sums["rows" if src == "*" else f"nn:{src}"])
        elif fn == "count_distinct":
            out[name] = SecretColumn(specs[name], sums[f"cd:{src}"])
        elif fn == "sum":
            out[name] = SecretColumn(specs[name], sums[f"sum:{src}"])
        elif fn == "mean":
            s_name, c_name = mean_columns(name)
            out[s_name] = SecretColumn(specs[s_name], sums[f"sum:{src}"])
            out[c_name] = SecretColumn(specs[c_name], sums[f"nn:{src}"])
            meta[f"mean:{name}"] = f"{s_name}/{c_name}"
        elif moment_ddof(fn) is not None:
            s_name, q_name, c_name = moment_columns(name)
            out[s_name] = SecretColumn(specs[s_name], sums[f"sum:{src}"])
            out[q_name] = SecretColumn(specs[q_name], sums[f"sumsq:{src}"])
            out[c_name] = SecretColumn(specs[c_name], sums[f"nn:{src}"])
            meta[f"moment:{name}"] = fn
        elif quantile_fraction(fn) is not None:
            out[name] = SecretColumn(specs[name], sums[f"q:{fn}:{src}"], empty.get(src))
            meta[f"quantile:{name}"] = str(_fraction(fn)[1])
        else:
            v = ext[f"{fn}:{src}"]
            if fn == "max":
                v = (-v).add_public(ALL_ONES, p.id)
            out[name] = SecretColumn(specs[name], v, empty.get(src))
    return SecretTable(out, last, t.name, meta)


def _squares(p: Party, cols: dict[str, tuple[AShare, ColumnSpec]]) -> dict[str, AShare]:
    """Each column's squares at its own scale, all columns in the same rounds.

    ``int``/``bool``: ``x * x`` (one multiplication round). ``fixed`` of scale ``f``:
    ``floor(X^2 / 2^f)`` exactly, with ``X = H 2^f + L`` (``H = floor(X / 2^f)`` by the
    exact truncation, :func:`sharelake.mpc.fixed.trunc_exact`, ``0 <= L < 2^f``):
    ``H^2 2^f + 2 H L + floor(L^2 / 2^f)``, so no intermediate exceeds 64 bits for
    ``|x| < 2^((63 - f) / 2)`` (the product ``X * X`` itself would need ``|x| < 2^(31.5 -
    f)``). Rounds: 11 + 1 + 11 when a fixed column is present, else 1. Nothing is opened.
    """
    if not cols:
        return {}
    names = sorted(cols)
    by_f: dict[int, list[str]] = {}
    for nm in names:
        if cols[nm][1].kind == "fixed":
            by_f.setdefault(cols[nm][1].frac_bits, []).append(nm)
    high: dict[str, AShare] = {}
    for f, group in sorted(by_f.items()):
        stacked = trunc_exact(p, _cat([cols[nm][0] for nm in group]), f)
        high.update(zip(group, _split(stacked, len(group)), strict=True))
    pairs: list[tuple[AShare, AShare]] = []
    for nm in names:
        x, spec = cols[nm]
        if nm in high:
            h = high[nm]
            lo = x - h.scale(1 << spec.frac_bits)
            pairs += [(h, h), (h, lo), (lo, lo)]
        else:
            pairs.append((x, x))
    prods = iter(mul_many(p, pairs))
    out: dict[str, AShare] = {}
    low: dict[int, list[tuple[str, AShare, AShare]]] = {}
    for nm in names:
        if nm in high:
            hh, hl, ll = next(prods), next(prods), next(prods)
            f = cols[nm][1].frac_bits
            low.setdefault(f, []).append((nm, hh.scale(1 << f) + hl.scale(2), ll))
        else:
            out[nm] = next(prods)
    for f, items in sorted(low.items()):
        tl = trunc_exact(p, _cat([ll for _, _, ll in items]), f)
        for (nm, part, _), t_ll in zip(items, _split(tl, len(items)), strict=True):
            out[nm] = part + t_ll
    return out


def _cat(xs: list[AShare]) -> AShare:
    return AShare(np.concatenate([x.a for x in xs]), np.concatenate([x.b for x in xs]))


def _split(x: AShare, k: int) -> list[AShare]:
    n = len(x) // k
    return [AShare(x.a[i * n : (i + 1) * n], x.b[i * n : (i + 1) * n]) for i in range(k)]


def _words(text: AShare | None) -> list[AShare]:
    """The words of a string column's packed bytes as 1-D sharings (local)."""
    assert text is not None
    return [AShare(text.a[:, j].copy(), text.b[:, j].copy()) for j in range(text.a.shape[1])]


def _key_cols(skeys: list[AShare], at: tuple[int | None, int]) -> list[AShare]:
    npos, vpos = at
    return ([] if npos is None else [skeys[npos]]) + [skeys[vpos]]


def _differences(c: AShare) -> AShare:
    """x[j] - x[j - 1] (x[-1] = 0): totals from prefix sums at consecutive group ends."""
    a = c.a.copy()
    b = c.b.copy()
    a[1:] -= c.a[:-1]
    b[1:] -= c.b[:-1]
    return AShare(a, b)


def _and_many(p: Party, groups: list[list[AShare]], m: int) -> list[AShare]:
    """AND within each group of (n - 1)-long 0/1 flags, all groups in the same rounds."""
    level = [list(g) for g in groups]
    while any(len(g) > 1 for g in level):
        pairs: list[tuple[AShare, AShare]] = []
        for g in level:
            pairs.extend((g[2 * i], g[2 * i + 1]) for i in range(len(g) // 2))
        prods = iter(mul_many(p, pairs) if m else [_empty() for _ in pairs])
        level = [[next(prods) for _ in range(len(g) // 2)] + g[len(g) // 2 * 2 :] for g in level]
    return [g[0] for g in level]


def _empty() -> AShare:
    return AShare(np.zeros(0, np.uint64), np.zeros(0, np.uint64))


def _shift_up(p: Party, s: AShare) -> AShare:
    """x[i] = s[i + 1], with a public 1 after the last row."""
    one = p.public_a(np.ones(1, dtype=np.uint64))
    return AShare(np.concatenate([s.a[1:], one.a]), np.concatenate([s.b[1:], one.b]))


def _value_keys(t: SecretTable, nm: str, zeroed: AShare) -> list[SortKey]:
    out = []
    nl = t[nm].null
    if nl is not None:
        out.append(SortKey(nl, bits=1, signed=False))
    bits, signed = key_width(t[nm].spec)
    out.append(SortKey(zeroed, bits=bits, signed=signed))
    return out


def _extra_distinct_same(
    p: Party, t: SecretTable, nm: str, group_keys: list[SortKey], zeroed: AShare
) -> tuple[list[AShare], AShare | None]:
    """Neighbour equality of column ``nm`` in the order (group keys, nm), and its null
    flags in that order. The groups sit at the same positions as in the main sort
    (stable sort, same group-key prefix), only the rows inside a group differ."""
    vk = _value_keys(t, nm, zeroed)
    skeys, _ = sort_shares(p, [*group_keys, *vk], [])
    tail = skeys[len(group_keys) :]
    same = neighbour_same(p, tail, [k.bits for k in vk])
    return same, (tail[0] if len(vk) == 2 else None)


def _all_null(p: Party, srcs: list[str], sums: dict[str, AShare], n: int) -> dict[str, AShare]:
    """Per column, 1 where its running non-null count is 0 (one batched equality)."""
    srcs = sorted(set(srcs))
    if not srcs:
        return {}
    cnt = AShare(
        np.concatenate([sums[f"nn:{s}"].a for s in srcs]),
        np.concatenate([sums[f"nn:{s}"].b for s in srcs]),
    )
    bits = min(64, n.bit_length() + 1)
    flags = b2a_bits(p, eq_public(p, cnt, 0, bits=bits))
    return {
        s: AShare(flags.a[i * n : (i + 1) * n], flags.b[i * n : (i + 1) * n])
        for i, s in enumerate(srcs)
    }


def _fraction(fn: str) -> tuple[int, int]:
    q = quantile_fraction(fn)
    if q is None:
        raise ValueError(f"{fn!r} is not a quantile")
    return q


def _reversed(x: AShare) -> AShare:
    return AShare(x.a[::-1].copy(), x.b[::-1].copy())


def _quantiles(
    p: Party,
    t: SecretTable,
    nm: str,
    zeroed: AShare,
    group_keys: list[SortKey],
    starts: AShare,
    fns: list[str],
) -> dict[str, AShare]:
    """Per row, its share of ``b`` times each quantile ``a / b`` of column ``nm`` in its
    group (``"q:<fn>:<nm>"``); summed per group by the caller's prefix sums. Selection
    of ranked elements by an oblivious sort, as Jónsson, Kreitz & Uddin (2011) select
    the k-th element; the ranks are segmented prefix sums (Secrecy, NSDI 2023).

    pandas' linear interpolation: with c non-missing values in a group, sorted, and
    ``h = a (c - 1) / b``, the quantile is ``v[floor h] + (h - floor h)(v[ceil h] -
    v[floor h])``, so ``b`` times it is ``sum_i w_i v_i`` with ``D_i = a (c - 1) - b r_i``
    (``r_i`` the row's rank among the group's values) and ``w_i = b - |D_i|`` where
    ``-b < D_i < b``, else 0: the weights of the two neighbours of ``h``.

    Steps: the rows sorted again by (group keys, missing, value) -- the groups keep their
    positions, as in :func:`_extra_distinct_same`; the ranks and each group's count by one
    segmented sum over the rows and the reversed rows at once; three comparisons per
    row and quantile with public bounds (narrow: ``|D| <= 100 (n + 1)``), in one batch;
    four multiplication rounds. Nothing is opened (the sort opens what it opens).
    """
    n = t.n
    ones = p.public_a(np.ones(n, dtype=np.uint64))
    vk = _value_keys(t, nm, zeroed)
    skeys, _ = sort_shares(p, [*group_keys, *vk], [])
    tail = skeys[len(group_keys) :]
    value = tail[-1]
    present = ones - tail[0] if len(vk) == 2 else ones
    ends = _shift_up(p, starts)
    flags = AShare(
        np.concatenate([starts.a, _reversed(ends).a]), np.concatenate([starts.b, _reversed(ends).b])
    )
    both = AShare(
        np.concatenate([present.a, _reversed(present).a]),
        np.concatenate([present.b, _reversed(present).b]),
    )
    (run,) = segmented_sum(p, flags, [both])
    upto = AShare(run.a[:n], run.b[:n])  # present values up to this row, in its group
    after = _reversed(AShare(run.a[n:], run.b[n:]))  # from this row to the group's end
    rank = upto - present
    count = upto + after - present
    fracs = [_fraction(fn) for fn in fns]
    ds = [
        (count.scale(a) - rank.scale(b)).add_public(np.uint64((-a) % (1 << 64)), p.id)
        for a, b in fracs
    ]
    bits = min(64, (100 * (n + 1)).bit_length() + 3)
    probe = []
    for d, (_, b) in zip(ds, fracs, strict=True):
        probe += [
            d.add_public(np.uint64((-b) % (1 << 64)), p.id),
            d.add_public(np.uint64(b), p.id),
            d,
        ]
    stacked = AShare(np.concatenate([x.a for x in probe]), np.concatenate([x.b for x in probe]))
    lt = b2a_bits(p, lt_public(p, stacked, 0, bits=bits))
    parts = [
        AShare(lt.a[i * n : (i + 1) * n], lt.b[i * n : (i + 1) * n]) for i in range(len(probe))
    ]
    r1 = mul_many(
        p,
        [
            pair
            for i, d in enumerate(ds)
            for pair in ((parts[3 * i], ones - parts[3 * i + 1]), (parts[3 * i + 2], d))
        ],
    )
    inside = [r1[2 * i] for i in range(len(ds))]  # -b <= D < b
    absd = [d - r1[2 * i + 1].scale(2) for i, d in enumerate(ds)]  # |D|
    w0 = mul_many(p, [(x, present) for x in inside])
    w = mul_many(
        p,
        [(w0[i], (-absd[i]).add_public(np.uint64(b), p.id)) for i, (_, b) in enumerate(fracs)],
    )
    contrib = mul_many(p, [(x, value) for x in w])
    return {f"q:{fn}:{nm}": c for fn, c in zip(fns, contrib, strict=True)}

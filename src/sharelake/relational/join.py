"""Joins on secret keys by an oblivious sort-merge with a source tag.

The construction follows the sort-based joins on secret-shared data of Mohassel, Rindal
and Rosulek ("Fast database joins and PSI for secret shared data", CCS 2020) and the
oblivious sort-merge of Hamada et al. (ICISC 2012) on the three-party replicated sharing
of Araki et al. (CCS 2016):

1. The rows of the *unique* side U come first, the rows of the *many* side M after them,
   in one column set of n = n_U + n_M rows; every row carries its public position.
2. One stable oblivious sort by the key columns (:func:`sharelake.mpc.sort.sort`) puts
   every U row before the M rows with the same key.
3. Neighbour equality of the sorted keys flags where a key group starts (g).
4. A segmented copy-forward (:func:`sharelake.mpc.scan.segmented_copy`:
   Hillis-Steele in log rounds for small inputs, a stable partition of the start rows
   and prefix sums of their differences in constant rounds for large ones) gives every
   row the payload of the
   last row in its group that is a usable U row (valid, no null key), or of the group's
   first row when there is none: a row matches exactly when the copied "usable U"
   flag is 1. Left joins of a unique left side also run the copy backwards (the M
   flag), in the same rounds.
5. The rows go back to their original order by a fresh shuffle followed by opening the
   positions: the opened positions are a uniformly random permutation, independent of
   the data (the sort order is hidden behind the shuffle).

Output sizes are public functions of the input sizes (n_M, or n_M + n_U for a left join
with a unique left side, or max_multiplicity * n_left for m:m); which output rows are
real is the secret validity bit. LEAKAGE: nothing beyond the public sizes. The join size
is revealed only if the caller compacts the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

import numpy as np

from ..mpc.arith import mul, open_arith
from ..mpc.party import Party
from ..mpc.scan import segment_starts, segmented_copy, segmented_sum
from ..mpc.shares import AShare, concat_a
from ..mpc.shuffle import invert_perm, shuffle
from ..mpc.sort import sort
from .table import ColumnSpec, SecretColumn, SecretTable

How = Literal["inner", "left", "semi", "anti"]
Validate = Literal["1:1", "1:m", "m:1", "m:m"]


# ---- small local helpers -----------------------------------------------------------------


def const(p: Party, value: int, n: int) -> AShare:
    """A trivial sharing of ``n`` copies of a public integer."""
    return p.public_a(np.full(n, value, dtype=np.int64).view(np.uint64))


def one_minus(p: Party, x: AShare) -> AShare:
    """1 - x (local)."""
    return (-x).add_public(np.uint64(1), p.id)


def stack(cols: Sequence[AShare]) -> AShare:
    """Stack 1-D sharings of equal length into one (k, n) sharing (local)."""
    return AShare(np.stack([c.a for c in cols]), np.stack([c.b for c in cols]))


def rows(x: AShare) -> list[AShare]:
    """The rows of a (k, n) sharing as 1-D sharings (local)."""
    return [AShare(x.a[i], x.b[i]) for i in range(x.a.shape[0])]


def key_columns(tables: Sequence[SecretTable], on: Sequence[str]) -> list[AShare]:
    """The key columns of ``tables`` concatenated row-wise, one sharing per key name."""
    return [concat_a([t[k].values for t in tables]) for k in on]


def usable(p: Party, tables: Sequence[SecretTable], on: Sequence[str]) -> AShare:
    """Concatenated 0/1 flags: the row is valid and none of its keys is null.

    One multiplication round per nullable key column (null keys never match).
    """
    ok = concat_a([t.valid for t in tables])
    for k in on:
        nulls = [t[k].null for t in tables]
        if all(nl is None for nl in nulls):
            continue
        parts = [
            const(p, 0, t.n) if nl is None else nl for t, nl in zip(tables, nulls, strict=True)
        ]
        ok = mul(p, ok, one_minus(p, concat_a(parts)))
    return ok


def check_keys(tables: Sequence[SecretTable], on: Sequence[str]) -> None:
    """Every table must have every key column, and keys must be plain 1-D values."""
    if not on:
        raise ValueError("a join needs at least one key column")
    for t in tables:
        for k in on:
            col = t[k]
            if col.values.a.ndim != 1:
                raise ValueError(f"key column {k!r} must be one value per row")


# ---- the kernel --------------------------------------------------------------------------


def group_ends(p: Party, starts: AShare) -> AShare:
    """0/1 flags: row i ends its key group (the next row starts one, or i is last)."""
    n = len(starts)
    return concat_a([starts[1:], const(p, 1, min(n, 1))])


def restore_order(p: Party, pos: AShare, cols: Sequence[AShare]) -> list[AShare]:
    """Undo a secret reordering: shuffle, open the original positions, invert (public).

    The opened positions are the composition of a data-dependent order with a fresh
    uniformly random secret permutation, hence uniformly random themselves: they reveal
    nothing. Cost: one shuffle of all columns (3 rounds) and one opening (1 round).
    """
    mixed = shuffle(p, [pos, *cols])
    q = open_arith(p, mixed[0]).astype(np.intp)  # type: ignore[arg-type]
    inv = invert_perm(q)
    out: list[AShare] = []
    for c in mixed[1:]:
        assert isinstance(c, AShare)
        out.append(c[inv])
    return out


def sort_rows(
    p: Party, keys: list[AShare], payload: list[AShare], widths: list[int]
) -> tuple[list[AShare], list[AShare]]:
    """Stable oblivious sort (Hamada et al. 2012) of ``payload`` by ``keys``.

    A key of width < 64 is an unsigned counter (a rank); full-width keys are signed.
    """
    signed = [w == 64 for w in widths]
    sk, sp = sort(p, keys, payload, signed=signed, bits=widths)
    out_k = [c for c in sk if isinstance(c, AShare)]
    out_p = [c for c in sp if isinstance(c, AShare)]
    return out_k, out_p


def merge(
    p: Party,
    keys: list[AShare],
    n_u: int,
    ok: AShare,
    carry: Sequence[AShare],
    *,
    backward: bool = False,
    widths: list[int] | None = None,
) -> tuple[AShare, list[AShare], AShare | None]:
    """The sort-merge kernel over n = n_u + n_m concatenated rows (U rows first).

    ``keys``: concatenated key columns; ``ok``: 0/1 usable flags; ``carry``: columns of U
    (zeros on the M rows) to copy onto matching M rows. Returns, in the original row
    order: the copied "a usable U row has my key" flag, the copied ``carry`` columns and,
    with ``backward``, the "a usable M row has my key" flag (meaningful on the U rows).

    The copy starts at every group start and at every usable U row, so each row gets
    the payload of the last usable U row of its group before it, or the group's first
    row (flag 0) when there is none: unusable U rows sharing a key cannot mask a usable
    one. Cost: one sort, one neighbour equality, a segmented copy (from 1,024 rows on by
    partition: two shuffles, two openings of uniformly random permutations and one
    multiplication; below, ceil(log2 n) scan rounds; twice with ``backward``), one
    shuffle and one opening of random positions. Nothing else opened.
    """
    n = len(ok)
    wid = widths if widths is not None else [64] * len(keys)
    is_u = np.zeros(n, dtype=np.uint64)
    is_u[:n_u] = 1
    ok_u = ok.scale(is_u.view(np.int64))
    ok_m = ok - ok_u
    pos = p.public_a(np.arange(n, dtype=np.uint64))
    payload = [pos, ok_u, *carry] + ([ok_m] if backward else [])
    skeys, sp = sort_rows(p, keys, payload, wid)
    spos, sok_u, scarry = sp[0], sp[1], list(sp[2 : 2 + len(carry)])
    g = segment_starts(p, skeys, bits=wid)
    if backward:
        sok_m = sp[-1]
        e = group_ends(p, g)
        prod = rows(mul(p, stack([g, e]), stack([sok_u, sok_m])))
        s_u = g + sok_u - prod[0]
        s_m = e + sok_m - prod[1]
    else:
        s_u = g + sok_u - mul(p, g, sok_u)
    out = segmented_copy(p, s_u, [sok_u, *scarry], method="auto")
    if backward:
        (back_m,) = segmented_copy(p, s_m[::-1], [sok_m[::-1]], method="auto")
        out.append(back_m[::-1])
    back = restore_order(p, spos, out)
    has_u, copied = back[0], back[1 : 1 + len(scarry)]
    has_m = back[-1] if backward else None
    return has_u, copied, has_m


# ---- columns of the output ---------------------------------------------------------------


def _carry_cols(t: SecretTable, names: Sequence[str]) -> list[tuple[str, str, AShare]]:
    """(column, part, sharing) triples for every column part to carry: values, null, text."""
    out: list[tuple[str, str, AShare]] = []
    for nm in names:
        c = t[nm]
        out.append((nm, "values", c.values))
        if c.null is not None:
            out.append((nm, "null", c.null))
        if c.text is not None:
            out.extend((nm, f"text{j}", c.text[:, j]) for j in range(c.text.a.shape[1]))
    return out


def _rebuild(
    t: SecretTable, names: Sequence[str], parts: dict[tuple[str, str], AShare]
) -> dict[str, SecretColumn]:
    cols: dict[str, SecretColumn] = {}
    for nm in names:
        c = t[nm]
        text = None
        if c.text is not None:
            w = c.text.a.shape[1]
            ts = [parts[(nm, f"text{j}")] for j in range(w)]
            text = AShare(np.stack([x.a for x in ts], axis=1), np.stack([x.b for x in ts], axis=1))
        cols[nm] = SecretColumn(c.spec, parts[(nm, "values")], parts.get((nm, "null")), text)
    return cols


def _padded(p: Party, x: AShare, before: int, after: int) -> AShare:
    """x with public zero rows before and after (local)."""
    shape_tail = x.a.shape[1:]
    z0 = np.zeros((before, *shape_tail), dtype=np.uint64)
    z1 = np.zeros((after, *shape_tail), dtype=np.uint64)
    return AShare(np.concatenate([z0, x.a, z1]), np.concatenate([z0, x.b, z1]))


def _null_column(p: Party, spec: ColumnSpec, n: int, text_words: int | None) -> SecretColumn:
    """An all-null column of ``n`` rows (values 0, null flag 1)."""
    text = None
    if text_words is not None:
        z = np.zeros((n, text_words), dtype=np.uint64)
        text = AShare(z, z.copy())
    return SecretColumn(replace(spec, nullable=True), const(p, 0, n), const(p, 1, n), text)


def _nullify(p: Party, cols: dict[str, SecretColumn], match: AShare) -> dict[str, SecretColumn]:
    """Columns where ``match`` = 0 become null (values 0): one multiplication round."""
    names = list(cols)
    left: list[AShare] = []
    right: list[AShare] = []
    for nm in names:
        c = cols[nm]
        left += [match, match]
        right += [c.values, one_minus(p, c.null) if c.null is not None else const(p, 1, len(match))]
    if not names:
        return {}
    z = rows(mul(p, stack(left), stack(right)))
    out: dict[str, SecretColumn] = {}
    for i, nm in enumerate(names):
        c = cols[nm]
        text = c.text  # zero at unmatched rows: their segment starts at a padded M row
        out[nm] = SecretColumn(
            replace(c.spec, nullable=True), z[2 * i], one_minus(p, z[2 * i + 1]), text
        )
    return out


def _output_names(
    left: SecretTable, right: SecretTable, on: Sequence[str], suffixes: tuple[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """pandas naming: keys once (from the left), clashing names get the suffixes."""
    rnames = [c for c in right.names if c not in on]
    lmap = {c: (c + suffixes[0] if c in rnames and c not in on else c) for c in left.names}
    rmap = {c: (c + suffixes[1] if c in left.names else c) for c in rnames}
    return lmap, rmap


def _rename(cols: dict[str, SecretColumn], mapping: dict[str, str]) -> dict[str, SecretColumn]:
    return {
        mapping[k]: SecretColumn(replace(c.spec, name=mapping[k]), c.values, c.null, c.text)
        for k, c in cols.items()
        if k in mapping
    }


# ---- public operators --------------------------------------------------------------------


def membership(p: Party, a: SecretTable, b: SecretTable, on: Sequence[str]) -> AShare:
    """0/1 flags in ``a``'s row order: the row is usable and its key occurs in ``b``.

    The semi-join kernel (also :func:`sharelake.relational.psi.psi_flags`); b's rows
    take the U role, duplicates in either table are fine. Nothing is opened.
    """
    check_keys([a, b], on)
    if a.n == 0:
        return const(p, 0, 0)
    if b.n == 0:
        return const(p, 0, a.n)
    keys = key_columns([b, a], on)
    ok = usable(p, [b, a], on)
    has_b, _, _ = merge(p, keys, b.n, ok, [])
    return mul(p, ok[b.n :], has_b[b.n :])


def join(
    p: Party,
    left: SecretTable,
    right: SecretTable,
    *,
    on: list[str],
    how: How = "inner",
    validate: Validate = "m:1",
    max_multiplicity: int | None = None,
    suffixes: tuple[str, str] = ("_x", "_y"),
) -> SecretTable:
    """Join two secret tables on one or more secret key columns (pandas ``merge`` semantics).

    Sort-merge with a source tag (Mohassel, Rindal & Rosulek, CCS 2020; Hamada et al.,
    ICISC 2012); see the module docstring. Null keys and invalid rows never match.

    ``validate`` says which side has unique keys among its usable rows; it is a promise,
    not checked (checking would open a bit): ``"m:1"``/``"1:1"`` -- the right side is
    unique and the output has ``left.n`` rows in left order; ``"1:m"`` -- the left side is
    unique and the output has ``right.n`` rows in right order, plus ``left.n`` rows for
    the unmatched left rows of a left join; ``"m:m"`` -- every key occurs at most
    ``max_multiplicity`` (c) times among the usable right rows, the output has
    ``c * left.n`` rows (copy t of the left table meets the right row of rank t; usable
    right rows of rank >= c are dropped). If a promise is broken, only the first usable
    row of a duplicated unique-side key is joined. ``semi`` and ``anti`` return the left
    rows (left columns) with a match / without one; they need no promise.

    Output columns: the left columns, then the right non-key columns; clashing names get
    ``suffixes``. Rows that are not real have validity 0 (their values are arbitrary).

    LEAKAGE: nothing. The output size is a public function of the input sizes and
    ``max_multiplicity``; compacting the result afterwards reveals the join size.
    Cost: one oblivious sort of n_left + n_right rows (c * n_left + n_right for m:m, plus
    a sort of the right side to rank it), a constant-round segmented copy (or log2 n scan
    rounds below 1,024 rows), one shuffle.
    """
    check_keys([left, right], on)
    if how in ("semi", "anti"):
        f = membership(p, left, right, on)
        valid = f if how == "semi" else left.valid - f
        return left.with_valid(valid)
    lmap, rmap = _output_names(left, right, on, suffixes)
    if validate in ("m:1", "1:1"):
        return _join_unique_right(p, left, right, on, how, lmap, rmap)
    if validate == "1:m":
        return _join_unique_left(p, left, right, on, how, lmap, rmap)
    if validate == "m:m":
        if max_multiplicity is None or max_multiplicity < 1:
            raise ValueError("an m:m join needs max_multiplicity >= 1")
        return _join_many_many(p, left, right, on, how, max_multiplicity, lmap, rmap)
    raise ValueError(f"unknown validate mode {validate!r}")


def _copy_side(
    p: Party,
    m_side: SecretTable,
    u_side: SecretTable,
    on: Sequence[str],
    u_names: Sequence[str],
    *,
    backward: bool = False,
    u_keys: list[AShare] | None = None,
    m_keys: list[AShare] | None = None,
    widths: list[int] | None = None,
) -> tuple[AShare, AShare, dict[str, SecretColumn], AShare | None]:
    """Run the kernel with U = ``u_side`` first and M = ``m_side``.

    Returns (usable flags of all rows, "matched" flags of the M rows, the ``u_names``
    columns copied onto the M rows, with ``backward`` the "has a usable M row" flags of
    the U rows).
    """
    parts = _carry_cols(u_side, u_names)
    carry = [_padded(p, x, 0, m_side.n) for _, _, x in parts]
    uk = u_keys if u_keys is not None else key_columns([u_side], on)
    mk = m_keys if m_keys is not None else key_columns([m_side], on)
    keys = [concat_a([a, b]) for a, b in zip(uk, mk, strict=True)]
    ok = usable(p, [u_side, m_side], on)
    has_u, copied, has_m = merge(p, keys, u_side.n, ok, carry, backward=backward, widths=widths)
    nu = u_side.n
    match = mul(p, ok[nu:], has_u[nu:])
    got = {(nm, part): c[nu:] for (nm, part, _), c in zip(parts, copied, strict=True)}
    cols = _rebuild(u_side, u_names, got)
    return ok, match, cols, (None if has_m is None else has_m[:nu])


def _empty_join(
    p: Party,
    left: SecretTable,
    right: SecretTable,
    n: int,
    lmap: dict[str, str],
    rmap: dict[str, str],
) -> SecretTable:
    cols: dict[str, SecretColumn] = {}
    for src, mp in ((left, lmap), (right, rmap)):
        for k, nm in mp.items():
            c = src[k]
            tw = None if c.text is None else c.text.a.shape[1]
            cols[nm] = _null_column(p, replace(c.spec, name=nm), n, tw)
    return SecretTable(cols, const(p, 0, n), left.name)


def _join_unique_right(
    p: Party,
    left: SecretTable,
    right: SecretTable,
    on: Sequence[str],
    how: How,
    lmap: dict[str, str],
    rmap: dict[str, str],
) -> SecretTable:
    if left.n == 0 or right.n == 0:
        if how == "left" and left.n > 0:
            out = _empty_join(p, left, right, left.n, lmap, rmap)
            cols = {**_rename(dict(left.columns), lmap), **{v: out[v] for v in rmap.values()}}
            return SecretTable(cols, left.valid, left.name)
        return _empty_join(p, left, right, left.n, lmap, rmap)
    _, match, rcols, _ = _copy_side(p, left, right, on, list(rmap))
    lcols = _rename(dict(left.columns), lmap)
    if how == "inner":
        return SecretTable({**lcols, **_rename(rcols, rmap)}, match, left.name)
    rcols = _nullify(p, rcols, match)
    return SecretTable({**lcols, **_rename(rcols, rmap)}, left.valid, left.name)


def _join_unique_left(
    p: Party,
    left: SecretTable,
    right: SecretTable,
    on: Sequence[str],
    how: How,
    lmap: dict[str, str],
    rmap: dict[str, str],
) -> SecretTable:
    n_out = right.n + (left.n if how == "left" else 0)
    if left.n == 0 or right.n == 0:
        if how == "left" and left.n > 0:
            base = _empty_join(p, left, right, n_out, lmap, rmap)
            lc = {
                lmap[k]: SecretColumn(
                    replace(c.spec, name=lmap[k]),
                    _padded(p, c.values, right.n, 0),
                    None if c.null is None else _padded(p, c.null, right.n, 0),
                    None if c.text is None else _padded(p, c.text, right.n, 0),
                )
                for k, c in left.columns.items()
            }
            return SecretTable(
                {**base.columns, **lc}, _padded(p, left.valid, right.n, 0), left.name
            )
        return _empty_join(p, left, right, n_out, lmap, rmap)
    lnames = [c for c in left.names if c not in on]
    ok, match, lcols, has_m = _copy_side(p, right, left, on, lnames, backward=(how == "left"))
    # the key columns come from the right rows themselves (equal where matched)
    for k in on:
        rc = right[k]
        lcols[k] = SecretColumn(left[k].spec, rc.values, rc.null, rc.text)
    rcols = {k: right[k] for k in rmap}
    if how == "inner":
        return SecretTable({**_rename(lcols, lmap), **_rename(rcols, rmap)}, match, left.name)
    assert has_m is not None
    matched_u = mul(p, ok[: left.n], has_m)
    lonely = left.valid - matched_u
    out: dict[str, SecretColumn] = {}
    for k, nm in lmap.items():
        a, b = lcols[k], left[k]
        out[nm] = SecretColumn(
            replace(b.spec, name=nm),
            concat_a([a.values, b.values]),
            _cat_opt(p, a.null, b.null, right.n, left.n),
            None if a.text is None or b.text is None else concat_a([a.text, b.text]),
        )
    for k, nm in rmap.items():
        c = right[k]
        tw = None if c.text is None else c.text.a.shape[1]
        filler = _null_column(p, c.spec, left.n, tw)
        out[nm] = SecretColumn(
            replace(c.spec, name=nm, nullable=True),
            concat_a([c.values, filler.values]),
            _cat_opt(p, c.null, filler.null, right.n, left.n),
            None if c.text is None or filler.text is None else concat_a([c.text, filler.text]),
        )
    return SecretTable(out, concat_a([match, lonely]), left.name)


def _cat_opt(p: Party, a: AShare | None, b: AShare | None, na: int, nb: int) -> AShare | None:
    if a is None and b is None:
        return None
    return concat_a([const(p, 0, na) if a is None else a, const(p, 0, nb) if b is None else b])


def _join_many_many(
    p: Party,
    left: SecretTable,
    right: SecretTable,
    on: Sequence[str],
    how: How,
    c: int,
    lmap: dict[str, str],
    rmap: dict[str, str],
) -> SecretTable:
    n_out = c * left.n
    first = np.zeros(n_out, dtype=np.uint64)
    first[: left.n] = 1
    big = _repeat(p, left, c)
    if left.n == 0 or right.n == 0:
        out = _join_unique_right(p, big, right, on, how, lmap, rmap)
        return out.with_valid(out.valid.scale(first.view(np.int64)))
    ranked, rank = _rank(p, right, on)
    t = np.repeat(np.arange(c, dtype=np.uint64), left.n)
    m_keys = [*key_columns([big], on), p.public_a(t)]
    u_keys = [*key_columns([ranked], on), rank]
    widths = [64] * len(on) + [max(1, max(right.n, c).bit_length())]
    _, match, rcols, _ = _copy_side(
        p, big, ranked, on, list(rmap), u_keys=u_keys, m_keys=m_keys, widths=widths
    )
    lcols = _rename(dict(big.columns), lmap)
    if how == "inner":
        return SecretTable({**lcols, **_rename(rcols, rmap)}, match, left.name)
    rcols = _nullify(p, rcols, match)
    valid = match + (big.valid - match).scale(first.view(np.int64))
    return SecretTable({**lcols, **_rename(rcols, rmap)}, valid, left.name)


def _repeat(p: Party, t: SecretTable, c: int) -> SecretTable:
    """``c`` copies of the table stacked (local)."""
    idx = np.tile(np.arange(t.n, dtype=np.intp), c)
    return t.take(idx)


def _rank(p: Party, t: SecretTable, on: Sequence[str]) -> tuple[SecretTable, AShare]:
    """Sort ``t`` by key and number its usable rows within each key: 0, 1, 2, ...

    Unusable rows get ranks in [0, n] that never meet a left copy's rank unless equal to
    it, and their usable flag keeps them from matching. One sort, one segmented sum.
    """
    parts = [x for x in _carry_cols(t, t.names) if not (x[0] in on and x[1] == "values")]
    ok = usable(p, [t], on)
    keys = key_columns([t], on)
    sk, sp = sort_rows(p, keys, [ok, t.valid, *[x for _, _, x in parts]], [64] * len(on))
    sok, svalid, scols = sp[0], sp[1], sp[2:]
    g = segment_starts(p, sk)
    (incl,) = segmented_sum(p, g, [sok], method="auto")
    got = {(nm, part): x for (nm, part, _), x in zip(parts, scols, strict=True)}
    for k, x in zip(on, sk, strict=True):
        got[(k, "values")] = x
    cols = _rebuild(t, t.names, got)
    return SecretTable(cols, svalid, t.name), incl - sok

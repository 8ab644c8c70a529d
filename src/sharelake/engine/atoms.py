"""The differencing check inside MPC: every atom of the released cells has 0 or >= k rows.

The attack it stops: release aggregates over overlapping sets of rows and combine them
(subtract a query from another, the grand total minus the released groups, a chain of
complementary filters, the same groups over two row sets that differ in one group by a
few rows) to obtain a count or sum over fewer than k people.

Method. Every aggregate release over a stored table T reveals its *cells*
(:class:`~sharelake.governance.lineage.Cells`): the rows that pass its filters and share
one group key value, for every group of at least k rows (smaller groups are suppressed).
The table's row count n is public, so "every row" is a released cell too. The *atoms*
are the classes of rows that lie in exactly the same released cells of every release so
far. Anything an analyst can compute by adding and subtracting released counts and sums
(with any coefficients) is constant on atoms, so it is a combination of aggregates over
whole atoms. The check admits a new release only if, with it, every atom has 0 or at
least k rows. This is the "atom" (elementary set) view of query auditing for sum queries
(Chin & Ozsoyoglu, "Auditing and inference control in statistical databases", IEEE TSE
1982; Adam & Wortmann, ACM Computing Surveys 1989, section 4.3 "partitioning").

Inside MPC, per release j (the earlier ones over the same upload, and the new one):

1. its row predicate (0/1 per row) and a label of its group key values: a public random
   odd linear combination of the key values and null flags (distinct key tuples get
   distinct labels except with probability about G^2 / 2^64);
2. the size of every row's group among the kept rows: one oblivious sort of the labels
   (all releases in one sort, as independent blocks), neighbour equality, a segmented
   copy of the first and last positions, and the sort undone (:func:`group_sizes`);
3. the row's released label ``L_j`` = label if the row is kept and its group has at least
   k rows, else 0 (suppressed or filtered out: such rows are in no released cell of j);
4. the atom label ``sum_j w_j L_j`` (public random odd ``w_j``) and, again, the size of
   every row's atom; the bit "some atom has 1 to k-1 rows" is the only value opened.

Cost: two sorts of ``(m + 1) n`` and ``n`` rows for m earlier releases; linear in m.
LEAKAGE: one bit per query (refused or not). The sorts open only comparison outcomes of
uniformly shuffled distinct (label, row index) pairs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..governance.lineage import Cells
from ..mpc.arith import mul, open_arith
from ..mpc.compare import eq_public, lt_public
from ..mpc.convert import b2a_bits
from ..mpc.party import Party
from ..mpc.scan import mul_many, segment_starts, segmented_copy
from ..mpc.shares import AShare, concat_a
from ..mpc.sort import sort_undoable, unsort
from ..relational import expr as rexpr
from ..relational.literals import bind_literals
from ..relational.table import SecretTable

__all__ = ["cell_labels", "group_sizes", "small_atoms", "small_atoms_plain"]


def _odd_constants(seed: str, count: int) -> np.ndarray:
    """``count`` public odd 64-bit constants derived from ``seed`` (the same at every node)."""
    out = np.empty(count, dtype=np.uint64)
    for i in range(count):
        d = hashlib.sha256(f"{seed}/{i}".encode()).digest()
        out[i] = np.uint64(int.from_bytes(d[:8], "little") | 1)
    return out


def _ones(p: Party, n: int) -> AShare:
    return p.public_a(np.ones(n, dtype=np.uint64))


def group_sizes(p: Party, labels: AShare, *, blocks: Sequence[int] | None = None) -> AShare:
    """Per row, how many rows of its block carry the same label (a sharing, in row order).

    ``blocks``: public sizes of consecutive row blocks, each counted on its own (default:
    one block). One oblivious sort (:func:`~sharelake.mpc.sort.sort_undoable`), one
    batched neighbour equality, one segmented copy of the first and the last position of
    every run of equal labels (forwards and, on the reversed rows, backwards, in one
    call), and the sort undone (:func:`~sharelake.mpc.sort.unsort`).

    LEAKAGE: none (nothing is opened but the sort's comparisons of shuffled distinct keys).
    """
    n = len(labels)
    if n == 0:
        return labels.copy()
    sizes = [n] if blocks is None else [int(b) for b in blocks]
    s = sort_undoable(p, [labels], [], signed=False, bits=64, blocks=sizes)
    key = s.keys[0]
    assert isinstance(key, AShare)
    starts = segment_starts(p, [key])
    one = _ones(p, 1)
    for b in np.cumsum(sizes)[:-1]:  # every block starts a run
        if 0 < b < n:
            starts.a[b], starts.b[b] = one.a[0], one.b[0]
    ends_a = np.concatenate([starts.a[1:], one.a])
    ends_b = np.concatenate([starts.b[1:], one.b])
    pos = p.public_a(np.arange(n, dtype=np.uint64))
    flags = AShare(
        np.concatenate([starts.a, ends_a[::-1]]), np.concatenate([starts.b, ends_b[::-1]])
    )
    vals = AShare(np.concatenate([pos.a, pos.a[::-1]]), np.concatenate([pos.b, pos.b[::-1]]))
    (got,) = segmented_copy(p, flags, [vals], method="auto")
    first = AShare(got.a[:n], got.b[:n])
    last = AShare(got.a[n:][::-1].copy(), got.b[n:][::-1].copy())
    size = (last - first).add_public(np.uint64(1), p.id)
    (back,) = unsort(p, [size], s)
    assert isinstance(back, AShare)
    return back


def cell_labels(p: Party, table: SecretTable, cells: Cells, seed: str) -> tuple[AShare, AShare]:
    """(kept, label): 0/1 "the row passes the cells' filters", and its group key label.

    The label is ``c_0 + sum_i (c_i v_i + d_i null_i)`` over the key expressions, with
    null values zeroed first and public odd constants from ``seed``. LEAKAGE: none.
    """
    n = table.n
    pred = cells.predicate()
    if pred is None:
        kept = table.valid
    else:
        e = bind_literals(rexpr.from_json(pred), table)
        kept = mul(p, table.valid, rexpr.predicate_secret(p, table, e))
    keys = cells.key_exprs()
    consts = _odd_constants(f"{seed}/{cells.text()}", 1 + 2 * len(keys))
    label = p.public_a(np.full(n, consts[0], dtype=np.uint64))
    vals: list[AShare] = []
    nulls: list[AShare | None] = []
    for k in keys:
        v, nl = rexpr.eval_secret(p, table, bind_literals(rexpr.from_json(k), table))
        vals.append(v)
        nulls.append(nl)
    pairs = [(vals[i], _ones(p, n) - nl) for i, nl in enumerate(nulls) if nl is not None]
    zeroed = iter(mul_many(p, pairs))
    for i, nl in enumerate(nulls):
        v = vals[i] if nl is None else next(zeroed)
        label = label + v.scale(consts[1 + 2 * i])
        if nl is not None:
            label = label + nl.scale(consts[2 + 2 * i])
    return kept, label


def small_atoms(
    p: Party,
    table: SecretTable,
    new: Cells,
    earlier: Sequence[Cells],
    k: int,
    *,
    min_rows: int | None = None,
) -> bool:
    """Whether releasing ``new`` after ``earlier`` (all over ``table``) would leave an
    atom of 1 to k-1 rows (see the module docstring). Opens one bit.

    ``min_rows`` (secondary suppression, above ``k``): the new release keeps only its
    groups of at least ``min_rows`` rows; the answer is then also True when that leaves
    no group of the new release while it has kept rows (nothing would be released: the
    caller refuses rather than suppress every group). The same one bit is opened.

    Parameters
    ----------
    p
        This party's protocol context.
    table
        The stored table every cell list reads (the same upload).
    new, earlier
        The cells of the release asked for and of the earlier releases (in the same
        order at every node).
    k
        The minimum group size.

    Returns
    -------
    bool
        True: the release must be refused.
    """
    n = table.n
    if n == 0 or k <= 1:
        return False
    releases = [*earlier, new]
    m = len(releases)
    seed = "|".join(c.text() for c in releases)
    labelled = [cell_labels(p, table, c, seed) for c in releases]
    kept_labels = mul_many(p, labelled)  # 0 outside the kept rows
    offsets = _odd_constants(f"{seed}/blocks", m)
    blocks = concat_a([lab.add_public(offsets[j], p.id) for j, lab in enumerate(kept_labels)])
    sizes = group_sizes(p, blocks, blocks=[n] * m)
    top = k if min_rows is None else max(k, min_rows)
    bits = min(64, max(n, top).bit_length() + 2)
    least = np.full(m * n, k, dtype=np.int64)
    least[(m - 1) * n :] = top  # the new release's own threshold (k, or a secondary one)
    small = b2a_bits(p, lt_public(p, sizes, least, bits=bits))
    big = _ones(p, m * n) - small
    released = mul(p, big, concat_a(kept_labels))  # the row's released cell label, or 0
    weights = _odd_constants(f"{seed}/atoms", m)
    atom = p.public_a(np.zeros(n, dtype=np.uint64))
    for j in range(m):
        atom = atom + AShare(
            released.a[j * n : (j + 1) * n], released.b[j * n : (j + 1) * n]
        ).scale(weights[j])
    atom_sizes = group_sizes(p, atom)
    tiny = b2a_bits(p, lt_public(p, atom_sizes, k, bits=bits))
    total = AShare(tiny.a.sum(keepdims=True), tiny.b.sum(keepdims=True))
    if min_rows is None:
        none = b2a_bits(p, eq_public(p, total, 0, bits=bits))
        return not bool(open_arith(p, none)[0])
    # secondary suppression: also "bad" when the new release keeps rows but no group
    kept_new, _ = labelled[-1]
    (shown,) = mul_many(p, [(AShare(big.a[(m - 1) * n :], big.b[(m - 1) * n :]), kept_new)])
    counts = concat_a(
        [
            total,
            AShare(shown.a.sum(keepdims=True), shown.b.sum(keepdims=True)),
            AShare(kept_new.a.sum(keepdims=True), kept_new.b.sum(keepdims=True)),
        ]
    )
    zero = b2a_bits(p, eq_public(p, counts, 0, bits=bits))  # no tiny atom, none shown, none kept
    no_tiny = AShare(zero.a[:1], zero.b[:1])
    some_shown = _ones(p, 1) - AShare(zero.a[1:2], zero.b[1:2])
    none_kept = AShare(zero.a[2:3], zero.b[2:3])  # exclusive with some_shown
    ok = mul(p, no_tiny, some_shown + none_kept)
    return not bool(open_arith(p, ok)[0])


def small_atoms_plain(
    df: pd.DataFrame,
    new: Cells,
    earlier: Sequence[Cells],
    k: int,
    *,
    min_rows: int | None = None,
) -> bool:
    """The plaintext twin of :func:`small_atoms` over a pandas frame (for tests and
    checks): whether some atom of the released cells has 1 to k-1 rows (with
    ``min_rows``: or the new release would show no group of its kept rows)."""
    n = len(df)
    if n == 0 or k <= 1:
        return False
    labels: list[np.ndarray] = []
    releases = [*earlier, new]
    shown = kept_any = False
    for j, c in enumerate(releases):
        least = max(k, min_rows) if (min_rows is not None and j == len(releases) - 1) else k
        pred = c.predicate()
        kept = (
            np.ones(n, dtype=bool)
            if pred is None
            else np.asarray(rexpr.predicate_plain(df, rexpr.from_json(pred)), dtype=bool)
        )
        parts: list[Any] = []
        for key in c.key_exprs():
            v, nl = rexpr.eval_plain(df, rexpr.from_json(key))
            parts.append(pd.Series(np.where(nl, 0, v)).astype(str) + np.where(nl, "~", ""))
        lab = pd.Series(["g"] * n)
        for s in parts:
            lab = lab + "|" + s
        lab = lab.where(kept, "")
        size = lab.map(lab[kept].value_counts()).fillna(0).to_numpy()
        labels.append(np.where(kept & (size >= least), lab.to_numpy(), ""))
        shown, kept_any = bool((kept & (size >= least)).any()), bool(kept.any())
    atom = pd.Series(["/".join(t) for t in zip(*labels, strict=True)])
    counts = atom.value_counts()
    tiny = bool(((counts > 0) & (counts < k)).any())
    if min_rows is None:
        return tiny
    return tiny or (kept_any and not shown)

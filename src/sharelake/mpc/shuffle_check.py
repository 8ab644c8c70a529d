"""The MAC check that makes the resharing shuffle secure against one malicious party.

In the resharing shuffle (:mod:`sharelake.mpc.shuffle`) every value travels as a
2-out-of-2 sharing between the two parties of a pair, so no message has a redundant
copy: a corrupt party can add an error to a half it holds or forwards, or permute its
half by another permutation. Either way the output is pi(x) + e, where the error e is a
function of the corrupt party's view, which is independent of the data (Araki, Furukawa,
Ohara, Rindal and Smart, "Secure graph analysis at scale", CCS 2021, section 4; Asharov,
Hamada, Ikarashi, Kikuchi, Nof, Pinkas, Takahashi and Tomida, "Efficient secure
three-party sorting with applications to data analysis and heavy hitters", CCS 2022,
check their shuffles the same way: authenticate, shuffle the tags along, verify).

The check, for the columns of one shuffle:

1. **Tags** (one round, before the shuffle). Fresh secret keys nobody knows: alpha_c in
   Z_2^128 per arithmetic column, beta_c in GF(2^64) per boolean column. One tag column
   per kind, computed as an inner product (one resharing for all columns):
   ``M = sum_c alpha_c * X_c`` over Z_2^128, where X_c is the column lifted to Z_2^128
   (its three components added without reduction mod 2^64), and
   ``B = XOR_c beta_c (x) W_c`` in GF(2^64). The arithmetic columns travel through the
   shuffle as Z_2^128 values (two words), the tags as ordinary columns.
2. **Coin** (one round, after the last shuffle message). A replicated random value
   nobody knows is opened (checked) and seeds public coefficients: chi_i in Z_2^64 per row
   and 64 random row subsets.
3. **Compressed check** (two rounds). ``D = sum_c alpha_c S_c - T`` with
   ``S_c = sum_i chi_i Y_c,i`` and ``T = sum_i chi_i M'_i`` (local sums, one product of
   scalars), and per subset t ``D_t = XOR_c beta_c (x) C_c,t XOR C_M,t`` with C the
   subset XORs. The D's are reshared, opened (checked), and must all be 0; otherwise
   every honest party raises :class:`~sharelake.errors.IntegrityError`.

**Soundness.** Let some arithmetic output differ from the correct one modulo 2^64, with
2-adic valuation v <= 63 at the lowest. Because the tags live in Z_2^128 (the SPDZ2k
idea: Cramer, Damgard, Escudero, Scholl and Xing, CRYPTO 2018), a power-of-two error
cannot hide in the zero divisors: val(E_c) = v + t with probability 2^-(t+1) over chi,
and then alpha_c E_c hits the one value that passes with probability 2^-(128-v-t), so the
check passes with probability at most 64 * 2^-66 + 2^-64 < 2^-59. A boolean error vector
survives all 64 subset XORs with probability 2^-64, and a non-zero compressed error
passes the GF(2^64) tag with probability 2^-64. Any cheating is caught except with
probability below **2^-58**. Errors in the tag products, in the coin-dependent products
of step 3 and in the tags themselves are additive and independent of the keys, so they
are covered by the same bound: the tag products need no separate verification. The
abort depends on the keys and the errors only, never on the data (no selective-failure
leak). What the check does not cover: the inputs must be correct sharings (an input
already wrong stays wrong, with a matching tag), and a party that stops is a denial of
service, not a wrong result.

Cost per row, all parties together: arithmetic columns cost 8 words instead of 4 in
the shuffle, each tag column 6 words to make and 4 or 8 to shuffle; 4 more rounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import IntegrityError
from .arith import coin, open_components
from .boolean import nblocks, to_planes
from .mac import (
    MASK128,
    add_wide,
    dot_wide,
    gf_mul_const,
    join_wide,
    mul_wide_const,
    split_wide,
    sub_wide,
    subset_xors,
)
from .party import Party
from .ring import Arr

Pair = tuple[Arr, Arr]  # this party's two components of one row


@dataclass(frozen=True)
class Keys:
    """This party's components of the secret tag keys of one shuffle."""

    alpha: tuple[list[int], list[int]]  # Z_2^128, one per arithmetic column
    beta: tuple[list[int], list[int]]  # GF(2^64), one per boolean column


def draw_keys(p: Party, ka: int, kb: int) -> Keys:
    """Fresh replicated keys nobody knows (no communication)."""
    r = p.rand_a((2, ka))
    s = p.rand_b(kb)
    alpha = (
        [join_wide(r.a[0, c], r.a[1, c]) for c in range(ka)],
        [join_wide(r.b[0, c], r.b[1, c]) for c in range(ka)],
    )
    beta = ([int(v) for v in s.a], [int(v) for v in s.b])
    return Keys(alpha, beta)


def _zero_wide(p: Party, shape: int | tuple[int, ...]) -> tuple[Arr, Arr]:
    """This party's term of a 3-out-of-3 sharing of zero over Z_2^128."""
    lo, hi = p.prg_own.words(shape), p.prg_own.words(shape)
    nlo, nhi = p.prg_next.words(shape), p.prg_next.words(shape)
    sub_wide(lo, hi, nlo, nhi)
    return lo, hi


def tags(
    p: Party, keys: Keys, arith: Sequence[Pair], boolean: Sequence[Pair], n: int
) -> tuple[tuple[Pair, Pair] | None, Pair | None]:
    """The tag columns (one round): ((lo, hi) pairs of M, components of B) or None each.

    Returns ``(((lo_a, hi_a), (lo_b, hi_b)), (b_a, b_b))`` for this party's two
    components of M (over Z_2^128) and of B (over GF(2^64)).
    """
    rows: list[Arr] = []
    if arith:
        zlo, zhi = _zero_wide(p, n)
        zero = np.zeros(n, dtype=np.uint64)
        for c, (xa, xb) in enumerate(arith):
            slo = xa + xb
            shi = (slo < xa).astype(np.uint64)  # the lifted sum x_i + x_{i+1} over Z_2^128
            add_wide(zlo, zhi, *mul_wide_const(slo, shi, keys.alpha[0][c]))
            add_wide(zlo, zhi, *mul_wide_const(xa, zero, keys.alpha[1][c]))
        rows += [zlo, zhi]
    if boolean:
        zb = p.zero_share_xor(n)
        for c, (wa, wb) in enumerate(boolean):
            zb ^= gf_mul_const(wa ^ wb, keys.beta[0][c])
            zb ^= gf_mul_const(wa, keys.beta[1][c])
        rows.append(zb)
    mine = np.stack(rows)
    got = p.pass_prev(mine)
    m_arith = ((mine[0], mine[1]), (got[0], got[1])) if arith else None
    m_bool = (mine[-1], got[-1]) if boolean else None
    return m_arith, m_bool


def verify(
    p: Party,
    keys: Keys,
    arith: Sequence[tuple[Pair, Pair]],
    m_arith: tuple[Pair, Pair] | None,
    boolean: Sequence[Pair],
    m_bool: Pair | None,
    n: int,
    *,
    check: str = "shuffle",
) -> None:
    """Check the shuffled columns against their shuffled tags (three rounds).

    ``arith``: per arithmetic column this party's two Z_2^128 components as (lo, hi)
    pairs; ``boolean``: per boolean column its two components. Raises IntegrityError
    (naming the check, never a value) at every party that sees a non-zero D.
    """
    prg = coin(p)  # public randomness no party could predict (one checked opening)
    chi = prg.words(n)
    chi_planes = prg.words((64, nblocks(n)))
    words: list[Arr] = []
    if m_arith is not None:
        z = 0
        for c, ((alo, ahi), (blo, bhi)) in enumerate(arith):
            s_a = dot_wide(chi, alo, ahi)
            s_b = dot_wide(chi, blo, bhi)
            z += keys.alpha[0][c] * (s_a + s_b) + keys.alpha[1][c] * s_a
        (tlo, thi), _ = m_arith
        z -= dot_wide(chi, tlo, thi)
        zlo, zhi = _zero_wide(p, 1)
        z += join_wide(zlo[0], zhi[0])
        lo, hi = split_wide(z & MASK128)
        words.append(np.array([lo, hi], dtype=np.uint64))
    if m_bool is not None:
        zb = p.zero_share_xor(64)
        for c, (wa, wb) in enumerate(boolean):
            ca = subset_xors(to_planes(wa), chi_planes)
            cb = subset_xors(to_planes(wb), chi_planes)
            zb ^= gf_mul_const(ca ^ cb, keys.beta[0][c])
            zb ^= gf_mul_const(ca, keys.beta[1][c])
        zb ^= subset_xors(to_planes(m_bool[0]), chi_planes)
        words.append(zb)
    mine = np.concatenate(words)
    other = p.pass_prev(mine)
    missing = open_components(p, mine, other)
    ok = True
    if m_arith is not None:
        d = sum(join_wide(c[0], c[1]) for c in (mine, other, missing)) & MASK128
        ok = d == 0
    if m_bool is not None:
        off = 2 if m_arith is not None else 0
        ok = ok and not np.any(mine[off:] ^ other[off:] ^ missing[off:])
    if not ok:
        raise IntegrityError(
            f"P{p.id}: the {check} MAC check failed: a node altered shuffled values "
            f"(session {p.chan.session})"
        )

"""Verified banded products for the sorted-neighbourhood scorers (malicious setting).

The blocked scorers (:mod:`sharelake.linkage.blocked`, and
:func:`sharelake.linkage.fs_secure.fs_window_weights`) need the inner products
<x_i[s], y_(i+d)[t]> of every row i with its next w rows (a *band*), computed as local
3-out-of-3 terms and reshared once (Araki et al., CCS 2016). A band is not a full
matrix product, so Freivalds' check (:func:`sharelake.mpc.arith.check_products`) does
not apply to it directly, and a direct check (every product through
:func:`sharelake.mpc.arith.mul`) costs ``w * dim`` products per row and stack pair.

:func:`band_products` therefore reshares slightly more than the band: the rows are cut
into blocks of B = :data:`CHECK_ROWS`, and the FULL product of each block of B left
rows with the B + w - 1 right rows its band reaches, Z_b = X_b Y_b^T, is reshared
(((B + w - 1) / w) times the band's entries; the band is then read out of the blocks
locally). A corrupt node can only add an error E_b to what it reshares, so
Z_b = X_b Y_b^T + E_b. After every Z_b is fixed, a public coin
(:func:`sharelake.mpc.arith.coin`) draws, for each of K = :data:`REPS` repetitions,
vectors u_b, v_b for every block, and the parties check

    sum_b u_b^T Z_b v_b  =  sum_b <X_b^T u_b, Y_b^T v_b>

-- Freivalds' check ("Probabilistic machines can use less running time", IFIP 1977;
MFCS 1979) with one random vector on each side, summed over the blocks. Both sides
of the left term and the vectors X_b^T u_b, Y_b^T v_b are local linear maps; the right
term is (number of blocks) x dim products by :func:`sharelake.mpc.arith.mul`, queued
for the batched triple sacrifice (Furukawa, Lindell, Nof & Weinstein, EUROCRYPT 2017;
Araki et al., S&P 2017), which :func:`sharelake.mpc.arith.open_arith` verifies before
it opens the K differences sum_b u_b^T E_b v_b. Those must be 0 (modulo 2^bits); they
are a function of the cheater's own error and the public coins only.

Soundness over Z_2^64 (random combinations have zero divisors; the argument follows
the compressed checks over rings of Boyle, Gilboa, Ishai & Nof, CCS 2019, and
Abspoel et al., 2019, in its simplest, bit-plane form): scale E by 2^(64 - bits) and
let 2^v be the largest power of two dividing all its entries; E' = E / 2^v mod 2 is a
non-zero bit matrix (block diagonal). Modulo 2^(v+1) the test value is
2^v (u'^T E' v' mod 2), u' = u mod 2 and v' = v mod 2 uniform bits, and over GF(2)
P[u'^T E' v' = 0] = P[E' v' = 0] + P[E' v' != 0] / 2 <= 1/2 + 1/4 = 3/4. With K = 97
independent repetitions a cheater passes with at most (3/4)^97 < 2^-40. (A single
ring element per side, as Freivalds over a field, would give only 3/4; the Galois-ring
extension of Abspoel et al. reaches 2^-d per repetition but makes every product a
degree-d polynomial product, d^2 base products: no cheaper here.)

Cost per band call, for N rows, window w, k_l x k_r stacked vectors of width dim and
b = ceil(N / B) blocks: N (B + w - 1) k_l k_r reshared words (the band alone:
N w k_l k_r), one coin, K b dim products (the sacrifice's cost on top), K words
opened; rounds: 1 resharing + 1 coin + 1 product round + the check and the opening
(:data:`sharelake.mpc.verify.ROUNDS` + 1).

LEAKAGE: none; the opened differences are 0 when nobody deviated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..mpc.arith import coin, local_matmul, mul, open_arith
from ..mpc.checks import VerificationError
from ..mpc.party import Party
from ..mpc.ring import Arr
from ..mpc.shares import AShare

__all__ = ["CHECK_ROWS", "REPS", "band_products"]

#: Left rows per block of the check (a block's full product is reshared: ((B + w - 1) / w)
#: times the band's words; the check costs K dim products per block). Measured (2,000
#: rows, names 2 x 512 and dates 3 x 136, w = 8, three threads, load 11): B = 64
#: 120 MB a party, B = 128 71 MB, B = 256 68 MB (more local work); the band alone,
#: unchecked, 1.7 MB.
CHECK_ROWS = 128
#: Repetitions of the two-sided test: (3/4)^97 < 2^-40.
REPS = 97


def _blocks(x: AShare, y: AShare, nleft: int, w: int, rows: int) -> tuple[AShare, AShare, int]:
    """Left blocks (b, B kl, dim) and right blocks (b, R kr, dim), R = B + w - 1."""
    m, kl, dim = x.a.shape
    kr = y.a.shape[1]
    nb = -(-nleft // rows)
    r = rows + w - 1
    top = min(nleft, m)
    right = nb * rows + w - 1  # right row j of the padding is y row j + 1

    def left_pad(v: Arr) -> Arr:
        out = np.zeros((nb * rows, kl, dim), dtype=np.uint64)
        out[:top] = v[:top]
        return out.reshape(nb, rows * kl, dim)

    def right_pad(v: Arr) -> Arr:
        out = np.zeros((right, kr, dim), dtype=np.uint64)
        hi = min(m - 1, right)
        if hi > 0:
            out[:hi] = v[1 : hi + 1]
        view = np.lib.stride_tricks.as_strided(
            out,
            shape=(nb, r, kr, dim),
            strides=(rows * out.strides[0], out.strides[0], out.strides[1], out.strides[2]),
            writeable=False,
        )
        return view.reshape(nb, r * kr, dim)  # a copy: the blocks overlap

    return AShare(left_pad(x.a), left_pad(x.b)), AShare(right_pad(y.a), right_pad(y.b)), nb


def _terms(xb: AShare, yb: AShare, bits: int) -> Arr:
    """This party's 3-out-of-3 terms of every block product X_b Y_b^T (local, BLAS)."""
    nb, n, _dim = xb.a.shape
    m = yb.a.shape[1]
    out = np.empty((nb, n, m), dtype=np.uint64)
    for b in range(nb):  # one float product per block, not per row
        left = np.concatenate([xb.a[b], xb.b[b]], axis=1)
        right = np.concatenate([(yb.a[b] + yb.b[b]).T, yb.a[b].T])
        out[b] = local_matmul(left, right, bits=bits)
    return out


def _reshare(p: Party, z: Arr, wire: int) -> AShare:
    """3-out-of-3 terms -> replicated sharing, the masked term sent on ``wire`` bits."""
    z = z + p.zero_share(z.shape)
    if wire == 64:
        return AShare(z, p.pass_prev(z))
    z32: np.ndarray = z.astype(np.uint32)  # sent as is (a cheater may alter it in place)
    got = p.exchange({p.prev: z32}, {p.next: z32.nbytes})
    other = np.frombuffer(got[p.next], dtype=np.uint32).astype(np.uint64)
    return AShare(z32.astype(np.uint64), other.reshape(z.shape))


def band_products(
    p: Party,
    items: Sequence[tuple[AShare, AShare, int]],
    nleft: int,
    w: int,
    *,
    check: str = "band products",
    rows: int = CHECK_ROWS,
) -> list[AShare]:
    """Verified <x_i[s], y_(i+d)[t]> for i < ``nleft``, d = 1..``w``, per item (see module).

    Each item is (x (M, kl, dim), y (M, kr, dim), bits): rows of ``y`` at or beyond M
    count as zero; the result is a replicated sharing of shape (w, nleft, kl, kr),
    d-major, correct modulo 2^bits (as :func:`sharelake.linkage.kernels.band_terms`
    with one resharing), and verified before it is returned. All items share one
    resharing round, one coin and one check. Meant for the malicious setting; it runs
    (checks included) at either level.

    Examples
    --------
    Each party, on its shares of a (N, 2, q) stack of name vectors::

        (ip,) = band_products(p, [(names, names, 21)], n, 8, check="blocked scores")
        i_gf = ip.a[:, :, 0, 1]  # <given_i, family_(i+d)>, one row per d
    """
    if not items:
        return []
    blocks, shapes, terms = [], [], []
    wire = 32 if all(b <= 32 for _, _, b in items) else 64
    for x, y, bits in items:
        xb, yb, _nb = _blocks(x, y, nleft, w, rows)
        blocks.append((xb, yb, bits))
        t = _terms(xb, yb, bits)
        shapes.append(t.shape)
        terms.append(t.reshape(-1))
    z = _reshare(p, np.concatenate(terms), wire)
    zs, off = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        zs.append(
            AShare(z.a[off : off + size].reshape(shape), z.b[off : off + size].reshape(shape))
        )
        off += size
    _check(p, blocks, zs, check)
    out = []
    for (x, y, _), zb in zip(items, zs, strict=True):
        kl, kr = x.a.shape[1], y.a.shape[1]
        out.append(_band_of(zb, nleft, w, rows, kl, kr))
    return out


def _band_of(z: AShare, nleft: int, w: int, rows: int, kl: int, kr: int) -> AShare:
    """The band entries (w, nleft, kl, kr) of the block products (local)."""
    nb = z.a.shape[0]
    r = rows + w - 1
    u = np.arange(rows)[None, :]
    v = u + np.arange(w)[:, None]  # right row of pair (u, u + d): u + d - 1

    def take(c: Arr) -> Arr:
        z5 = c.reshape(nb, rows, kl, r, kr)
        got = z5[:, u, :, v, :]  # (w, B, nb, kl, kr)
        got = got.transpose(0, 2, 1, 3, 4).reshape(w, nb * rows, kl, kr)
        return np.ascontiguousarray(got[:, :nleft])

    return AShare(take(z.a), take(z.b))


def _check(
    p: Party, blocks: list[tuple[AShare, AShare, int]], zs: list[AShare], check: str
) -> None:
    """The K-fold two-sided test of every item's block products (see the module)."""
    prg = coin(p)
    lefts, rights, lhs, sizes, shifts = [], [], [], [], []
    for (xb, yb, bits), z in zip(blocks, zs, strict=True):
        nb, n, dim = xb.a.shape
        m = yb.a.shape[1]
        uu = prg.words((nb, REPS, n))
        vv = prg.words((nb, m, REPS))

        def fold(c: Arr, uu: Arr = uu, vv: Arr = vv) -> Arr:  # sum_b u_b^T Z_b v_b
            zv = np.matmul(c, vv)  # (nb, n, K)
            return np.einsum("bkn,bnk->k", uu, zv)  # type: ignore[no-any-return]

        lhs.append(AShare(fold(z.a), fold(z.b)))
        # X_b^T u_b and Y_b^T v_b per repetition: (nb, K, dim)
        lefts.append(AShare(np.matmul(uu, xb.a), np.matmul(uu, xb.b)))
        vt = vv.transpose(0, 2, 1)
        rights.append(AShare(np.matmul(vt, yb.a), np.matmul(vt, yb.b)))
        sizes.append((nb, dim))
        shifts.append(np.uint64(1 << (64 - bits)))
    prod = mul(
        p,
        AShare(
            np.concatenate([x.a.reshape(-1) for x in lefts]),
            np.concatenate([x.b.reshape(-1) for x in lefts]),
        ),
        AShare(
            np.concatenate([x.a.reshape(-1) for x in rights]),
            np.concatenate([x.b.reshape(-1) for x in rights]),
        ),
    )
    diffs_a: list[Arr] = []
    diffs_b: list[Arr] = []
    off = 0
    for (nb, dim), left, shift in zip(sizes, lhs, shifts, strict=True):
        size = nb * REPS * dim
        for c, acc, lc in ((prod.a, diffs_a, left.a), (prod.b, diffs_b, left.b)):
            part = c[off : off + size].reshape(nb, REPS, dim).sum(axis=(0, 2), dtype=np.uint64)
            acc.append((lc - part) * shift)
        off += size
    diff = AShare(np.concatenate(diffs_a), np.concatenate(diffs_b))
    if open_arith(p, diff, check=check).any():
        raise VerificationError(
            f"P{p.id}: the '{check}' check of banded products failed: a resharing of local "
            f"product terms was altered; the query aborts (session {p.chan.session})",
            check=check,
        )

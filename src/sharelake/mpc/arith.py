"""Arithmetic protocols on replicated shares: input checks, openings, multiplication.

Multiplication and dot products follow Araki, Furukawa, Lindell, Nof and Ohara,
"High-Throughput Semi-Honest Secure Three-Party Computation with an Honest Majority"
(CCS 2016): each party computes a 3-out-of-3 share of the product locally, masks it
with a zero-sharing and passes it to the previous party -- one round, one ring
element per party per output. Openings are redundant (the missing component arrives
from one neighbour and its SHA-256 from the other), so one tampering party makes the
honest ones raise :class:`~sharelake.errors.IntegrityError` (security with abort for
opened values, as in MP-SPDZ's ``MaliciousRepMC``).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ..errors import IntegrityError
from .checks import VerificationError
from .party import Party
from .prg import KEY_BYTES, Prg
from .ring import Arr
from .shares import AShare, BShare, concat_a
from .verify import verify

DIGEST = 32


def _digest(arr: Arr) -> bytes:
    return hashlib.sha256(np.ascontiguousarray(arr).view(np.uint8).data).digest()


def check_input(p: Party, share: AShare | BShare, *, what: str = "input") -> None:
    """Confirm that the neighbour holding our first component got the same one.

    Component i is held by party i (first) and party i-1 (second). Party i sends the
    digest of its first component to i-1, which compares it with its second component.
    One round, 32 bytes. A client that sent inconsistent pairs is caught here, before
    the upload commits.
    """
    got = p.exchange({p.prev: _digest(share.a)}, {p.next: DIGEST})
    if bytes(got[p.next]) != _digest(share.b):
        raise IntegrityError(
            f"P{p.id}: {what} share component {p.next} disagrees with P{p.next} "
            f"(session {p.chan.session})"
        )


def open_components(p: Party, a: Arr, b: Arr, *, check: str = "open") -> Arr:
    """Exchange for an opening: returns the missing component x_{i+2}, checked.

    Both other nodes hold x_{i+2}: the next one sends it, the previous one its digest.
    When they disagree one of those two deviated (this node cannot tell which), so the
    :class:`~sharelake.mpc.checks.VerificationError` names the check and both.
    """
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    got = p.exchange(
        {p.prev: b, p.next: _digest(a)},
        {p.next: b.nbytes, p.prev: DIGEST},
    )
    missing = np.frombuffer(got[p.next], dtype=np.uint64).reshape(a.shape)
    if bytes(got[p.prev]) != _digest(missing):
        raise VerificationError(
            f"P{p.id}: the '{check}' opening failed: the value from P{p.next} does not "
            f"match the digest from P{p.prev} (one of P{min(p.next, p.prev)}, "
            f"P{max(p.next, p.prev)} deviated); the query aborts (session {p.chan.session})",
            check=check,
            suspects=(min(p.next, p.prev), max(p.next, p.prev)),
        )
    return missing


def open_arith(p: Party, x: AShare, *, check: str = "open") -> Arr:
    """Open ``x`` to all three parties (one round, checked).

    In the malicious setting every queued product and AND gate is verified first
    (:func:`sharelake.mpc.verify.verify` under the name ``check``; five more rounds when
    anything is queued).
    """
    verify(p, check=check)
    missing = open_components(p, x.a, x.b, check=check)
    return x.a + x.b + missing


def open_bool(p: Party, x: BShare, *, check: str = "open") -> Arr:
    """Open the XOR-shared words ``x`` to all three parties (one round, checked).

    Queued products and AND gates are verified first, as in :func:`open_arith`.
    """
    verify(p, check=check)
    missing = open_components(p, x.a, x.b, check=check)
    return x.a ^ x.b ^ missing


def mul(p: Party, x: AShare, y: AShare) -> AShare:
    """Elementwise product (Araki et al. CCS 2016, section 2.3): one round."""
    z = x.a * y.a
    z += x.a * y.b
    z += x.b * y.a
    z += p.zero_share(z.shape)
    out = AShare(z, p.pass_prev(z))
    p.checks.record_mul(x, y, out)
    return out


def dot(p: Party, x: AShare, y: AShare) -> AShare:
    """Row-wise inner products of matrices ``x`` and ``y`` (shape n x d) -> n values.

    The local 3-out-of-3 terms are summed over d before the single resharing, so the
    communication is one element per output, not per product (Araki et al. 2016).

    In the malicious setting the d products of a row are computed by :func:`mul` (queued
    for the batched check) and summed locally, so the result is a linear function of
    verified products: d elements per output instead of one (the inner-product proofs of
    Boyle, Gilboa, Ishai & Nof, CCS 2019, would verify the single resharing at a cost
    independent of d; not implemented).
    """
    if p.checks.enabled:
        prod = mul(p, x, y)
        return AShare(prod.a.sum(axis=1), prod.b.sum(axis=1))
    z = np.einsum("ij,ij->i", x.a, y.a)
    z += np.einsum("ij,ij->i", x.a, y.b)
    z += np.einsum("ij,ij->i", x.b, y.a)
    z += p.zero_share(z.shape)
    return AShare(z, p.pass_prev(z))


def matmul(p: Party, x: AShare, y: AShare, *, bits: int = 64) -> AShare:
    """Matrix product of shared ``x`` (n x d) and ``y`` (d x m) with one resharing (n x m).

    The local 3-out-of-3 term x_i y_i + x_i y_{i+1} + x_{i+1} y_i is computed as
    x_i (y_i + y_{i+1}) + x_{i+1} y_i: two local products (:func:`local_matmul`).
    ``bits=k < 64``: only the low k bits of the result are correct (the higher bits are
    garbage); for callers that work modulo 2^k afterwards (narrow comparisons), at a
    fraction of the local cost. The resharing mask is full width either way.

    In the malicious setting the product is verified (modulo 2^bits) by
    :func:`check_products` before it is returned.
    """
    z = local_matmul(x.a, y.a + y.b, bits=bits)
    z += local_matmul(x.b, y.a, bits=bits)
    z += p.zero_share(z.shape)
    out = AShare(z, p.pass_prev(z))
    check_products(p, [(x, y, out)], bits=bits, check="matmul")
    return out


def _expect_zero(p: Party, diff: AShare, check: str, what: str) -> None:
    if open_arith(p, diff, check=check).any():
        raise VerificationError(
            f"P{p.id}: the '{check}' check of {what} failed: a resharing of local product "
            f"terms was altered; the query aborts (session {p.chan.session})",
            check=check,
        )


#: Repetitions of the compressed product check's two-sided test: (3/4)^97 < 2^-40.
REPS = 97


def coin(p: Party) -> Prg:
    """Public randomness no party could predict before this round (one checked opening).

    A random sharing from the pairwise PRGs is opened redundantly: one of its components
    comes from the key of the two nodes a corrupt node is not, and a tampered opening is
    caught by :func:`open_components`.

    Examples
    --------
    All three parties call it at the same point and get the same generator::

        rows = coin(p).words((41, n))
    """
    r = p.rand_a(2)
    missing = open_components(p, r.a, r.b, check="coin")
    return Prg((r.a + r.b + missing).view(np.uint8).tobytes()[:KEY_BYTES])


def check_products(
    p: Party,
    items: Sequence[tuple[AShare, AShare, AShare]],
    *,
    bits: int | Sequence[int] = 64,
    check: str = "products",
) -> None:
    """Verify matrix products z = x @ y (x: n x d, y: d x m, z: n x m) modulo 2^bits.

    ``bits``: one width for every item, or one per item (products correct modulo
    different powers of two checked together, one coin and one opening).

    For products computed as local 3-out-of-3 terms and ONE resharing (:func:`matmul`,
    the linkage scorers' BLAS products): a corrupt node can only add an error E to the
    component it reshares, so z = x @ y + E. After z is fixed a public coin
    (:func:`coin`) draws K = :data:`REPS` pairs of vectors u_k (n), v_k (m), and the
    parties check u_k^T z v_k = <x^T u_k, y v_k> for every k -- Freivalds' check
    ("Fast probabilistic algorithms for verification", MFCS 1979) with a random vector
    on both sides. The left side and the vectors x^T u_k, y v_k are local linear maps;
    the K inner products of length d are :func:`mul` products (K d in all, whatever n
    and m), queued for the batched triple sacrifice (Furukawa et al., EUROCRYPT 2017);
    the K differences u_k^T E v_k are then opened by :func:`open_arith` (which verifies
    the queue first) and must be 0. The opened values are a function of the cheater's
    own error and public coins only (0 when nobody deviated). A product with n m <= K
    entries is checked entry by entry instead (n m d products, no randomness).

    Soundness over Z_2^64, where random combinations have zero divisors: scale E by
    2^(64 - bits) and let 2^v be the largest power of two dividing all its entries;
    E' = E / 2^v mod 2 is a non-zero bit matrix, and modulo 2^(v+1) the test value is
    2^v (u'^T E' v' mod 2) with u' = u mod 2, v' = v mod 2 uniform bits. Over GF(2),
    P[u'^T E' v' = 0] = P[E' v' = 0] + P[E' v' != 0] / 2 <= 3/4, so a cheater passes
    all K = 97 repetitions with at most (3/4)^97 < 2^-40 (the bit-plane argument of the
    compressed checks over rings, e.g. Boyle, Gilboa, Ishai & Nof, CCS 2019). Raises
    :class:`~sharelake.mpc.checks.VerificationError` at every honest party (all open
    the same value). Nothing happens in the semi-honest setting.

    Examples
    --------
    Run by each party right after the resharing, before the product is used::

        z = AShare(t, p.pass_prev(t))  # t: masked local terms of x @ y
        check_products(p, [(x, y, z)], check="scores")
    """
    if not p.checks.enabled or not items:
        return
    widths = [bits] * len(items) if isinstance(bits, int) else list(bits)
    if len(widths) != len(items) or not all(1 <= b <= 64 for b in widths):
        raise ValueError("check_products: one width between 1 and 64 per item")
    live = [
        (x, y, z, wd)
        for (x, y, z), wd in zip(items, widths, strict=True)
        if x.a.shape[0] and x.a.shape[1] and y.a.shape[1]
    ]
    if not live:
        return
    prg = coin(p) if any(x.a.shape[0] * y.a.shape[1] > REPS for x, y, _, _ in live) else None
    lefts, rights, sums, kept = [], [], [], []
    for x, y, z, wd in live:
        n, d = x.a.shape
        m = int(y.a.shape[1])
        if n * m <= REPS or prg is None:  # every entry: (n, m, d) products
            shape = (n, m, d)
            lefts.append(
                AShare(
                    np.broadcast_to(x.a[:, None, :], shape).reshape(-1),
                    np.broadcast_to(x.b[:, None, :], shape).reshape(-1),
                )
            )
            rights.append(
                AShare(
                    np.broadcast_to(y.a.T[None, :, :], shape).reshape(-1),
                    np.broadcast_to(y.b.T[None, :, :], shape).reshape(-1),
                )
            )
            sums.append((n * m, d, z.reshape(-1)))
        else:  # K two-sided random combinations: (K, d) products
            u = prg.words((REPS, n))
            v = prg.words((m, REPS))

            def fold(c: Arr, u: Arr = u, v: Arr = v) -> Arr:  # u_k^T c v_k per k
                return (local_matmul(u, c) * v.T).sum(axis=1, dtype=np.uint64)  # type: ignore[no-any-return]

            lefts.append(AShare(local_matmul(u, x.a), local_matmul(u, x.b)))
            rights.append(AShare(local_matmul(y.a, v).T.copy(), local_matmul(y.b, v).T.copy()))
            sums.append((REPS, d, AShare(fold(z.a), fold(z.b))))
        kept.append(wd)
    prod = mul(
        p,
        concat_a([AShare(x.a.reshape(-1), x.b.reshape(-1)) for x in lefts]),
        concat_a([AShare(y.a.reshape(-1), y.b.reshape(-1)) for y in rights]),
    )
    diffs, off = [], 0
    for (k, d, want), width in zip(sums, kept, strict=True):
        got = AShare(
            prod.a[off : off + k * d].reshape(k, d).sum(axis=1, dtype=np.uint64),
            prod.b[off : off + k * d].reshape(k, d).sum(axis=1, dtype=np.uint64),
        )
        off += k * d
        diffs.append((want - got).scale(np.uint64(1 << (64 - width)).view(np.int64)))
    _expect_zero(p, concat_a(diffs), check, f"{len(sums)} matrix products")


#: float64 holds integers below 2^53 exactly.
_EXACT = 53


def limbs(bits: int, d: int) -> tuple[int, int]:
    """(number of limbs, limb width) for an exact float64 product with inner dimension d.

    The fewest limbs L of width w = ceil(bits / L) such that the largest grouped sum,
    L * d terms below 2^(2w) each, stays below 2^53; (0, 0) if none fits.
    """
    for nl in range(1, bits + 1):
        lw = -(-bits // nl)
        if lw <= 26 and nl * max(d, 1) * (1 << (2 * lw)) <= (1 << _EXACT):
            return nl, lw
    return 0, 0


#: Threads BLAS may use in :func:`local_matmul`; ``SHARELAKE_BLAS_THREADS`` overrides it,
#: 0 leaves the BLAS default alone.
BLAS_THREADS = int(os.environ.get("SHARELAKE_BLAS_THREADS", "1"))
_blas_lock = threading.Lock()
_blas_done = False


def limit_blas_threads(n: int | None = None) -> None:
    """Cap the BLAS thread pool of this process at ``n`` (:data:`BLAS_THREADS`) threads, once.

    A node shares its machine with its own network threads and, in tests and small
    deployments, with the other two nodes: a multi-threaded BLAS then spins its workers
    against them. Measured with three nodes on two cores: the fuzzy scorer's pairs per
    second rise 1.5 to 2.5 times with one BLAS thread. The cap is process-wide and kept
    (``threadpoolctl``); without that package nothing changes.
    """
    global _blas_done
    n = BLAS_THREADS if n is None else n
    if _blas_done or n <= 0:
        return
    with _blas_lock:
        if _blas_done:
            return
        _blas_done = True
        try:
            from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
        except ImportError:  # pragma: no cover - optional
            return
        threadpool_limits(limits=n, user_api="blas")


class PreparedRight:
    """The right operand of :func:`local_matmul` split into float64 limbs once.

    For a product that is repeated with many left blocks against the same right
    matrix (``prepared.matmul(a)`` == ``local_matmul(a, b, bits=bits)``); falls back to
    :func:`local_matmul` when the inner dimension needs splitting.
    """

    def __init__(self, b: Arr, *, bits: int = 64) -> None:
        if not 1 <= bits <= 64:
            raise ValueError("bit width must be between 1 and 64")
        limit_blas_threads()
        self.b, self.bits = b, bits
        d, m = b.shape
        self.nl, self.lw = limbs(bits, d)
        self.brev: npt.NDArray[np.float64] | None = None
        if self.nl:
            mask = np.uint64((1 << self.lw) - 1)
            self.brev = np.empty((self.nl * d, m), dtype=np.float64)
            for i in range(self.nl):
                r = self.nl - 1 - i
                # limbs of <= 26 bits pass through uint32: its cast to float64 is fast
                limb = ((b >> np.uint64(self.lw * i)) & mask).astype(np.uint32)
                self.brev[r * d : (r + 1) * d] = limb

    def matmul(self, a: Arr) -> Arr:
        """``a @ b`` modulo 2^bits (higher bits arbitrary)."""
        if self.brev is None:
            return local_matmul(a, self.b, bits=self.bits)
        return _limb_product(a, self.brev, self.nl, self.lw)


def _limb_product(a: Arr, brev: npt.NDArray[np.float64], nl: int, lw: int) -> Arr:
    n, d = a.shape
    m = brev.shape[1]
    mask = np.uint64((1 << lw) - 1)
    acat = np.empty((n, nl * d), dtype=np.float64)
    for i in range(nl):
        acat[:, i * d : (i + 1) * d] = ((a >> np.uint64(lw * i)) & mask).astype(np.uint32)
    out = np.zeros((n, m), dtype=np.uint64)
    for k in range(nl):
        part = acat[:, : (k + 1) * d] @ brev[(nl - 1 - k) * d :]
        out += part.astype(np.int64).view(np.uint64) << np.uint64(lw * k)  # exact, < 2^53
    return out


def local_matmul(a: Arr, b: Arr, *, bits: int = 64) -> Arr:
    """Exact product of uint64 matrices modulo 2^bits (higher bits arbitrary), via BLAS.

    numpy has no BLAS for integer matmul. Each operand is split into L limbs of w bits
    held as float64 (w = 16 and L = 4 for 64 bits and d up to 2^19; fewer, wider limbs
    for narrower results, see :func:`limbs`); limb products summed over the inner
    dimension stay below 2^53 (exact), and the result modulo 2^bits is
    sum over i + j < L of 2^(w (i + j)) A_i B_j: L(L + 1)/2 limb products, grouped as L
    float64 matmuls with inner dimensions d, 2d, .., Ld. A too long inner dimension is
    split in halves.
    """
    if not 1 <= bits <= 64:
        raise ValueError("bit width must be between 1 and 64")
    d = a.shape[1]
    if limbs(bits, d)[0] == 0:
        h = d // 2
        out = local_matmul(a[:, :h], b[:h], bits=bits)
        out += local_matmul(a[:, h:], b[h:], bits=bits)
        return out
    return PreparedRight(b, bits=bits).matmul(a)


def trunc_prob(p: Party, x: AShare, d: int) -> AShare:
    """Probabilistic truncation x -> x / 2^d (Mohassel & Rindal, ABY3, CCS 2018, Pi_trunc1).

    The sharing is viewed as the 2-out-of-2 sharing (x_0, x_1 + x_2): x_0 is known to
    parties 0 and 2, x_1 + x_2 to party 1. Each half is shifted locally as in SecureML
    (Mohassel & Zhang, S&P 2017); party 1 re-randomises its half with a value it shares
    with party 2 and sends it to party 0. One round, one message. For |x| < 2^l the result
    is floor(x / 2^d) or one more, except with probability 2^(l + 1 - 64).
    """
    p.checks.unverified("arith.trunc_prob")
    sd = np.uint64(d)
    shape = x.a.shape
    if p.id == 0:
        y0 = x.a >> sd  # component 0 = x_0 (first of party 0)
        got = p.exchange({}, {1: x.a.nbytes})
        y1 = np.frombuffer(got[1], dtype=np.uint64).reshape(shape).copy()
        return AShare(y0, y1)
    if p.id == 1:
        r = p.prg_next.words(shape)  # key k_2, shared with party 2
        xb = x.a + x.b  # x_1 + x_2
        y1 = (np.uint64(0) - ((np.uint64(0) - xb) >> sd)) - r
        p.exchange({0: y1}, {})
        return AShare(y1, r)
    r = p.prg_own.words(shape)  # key k_2, shared with party 1
    y0 = x.b >> sd  # component 0 = x_0 (second of party 2)
    p.exchange({}, {})
    return AShare(r, y0)

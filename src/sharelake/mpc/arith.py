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

import numpy as np
import numpy.typing as npt

from ..errors import IntegrityError
from .party import Party
from .ring import Arr
from .shares import AShare, BShare
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


def open_components(p: Party, a: Arr, b: Arr) -> Arr:
    """Exchange for an opening: returns the missing component x_{i+2}, checked."""
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    got = p.exchange(
        {p.prev: b, p.next: _digest(a)},
        {p.next: b.nbytes, p.prev: DIGEST},
    )
    missing = np.frombuffer(got[p.next], dtype=np.uint64).reshape(a.shape)
    if bytes(got[p.prev]) != _digest(missing):
        raise IntegrityError(
            f"P{p.id}: opened value from P{p.next} does not match the digest from "
            f"P{p.prev}; a node tampered with an opening (session {p.chan.session})"
        )
    return missing


def open_arith(p: Party, x: AShare, *, check: str = "open") -> Arr:
    """Open ``x`` to all three parties (one round, checked).

    In the malicious setting every queued product and AND gate is verified first
    (:func:`sharelake.mpc.verify.verify` under the name ``check``; five more rounds when
    anything is queued).
    """
    verify(p, check=check)
    missing = open_components(p, x.a, x.b)
    return x.a + x.b + missing


def open_bool(p: Party, x: BShare, *, check: str = "open") -> Arr:
    """Open the XOR-shared words ``x`` to all three parties (one round, checked).

    Queued products and AND gates are verified first, as in :func:`open_arith`.
    """
    verify(p, check=check)
    missing = open_components(p, x.a, x.b)
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
    """
    p.checks.unverified("arith.dot")
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
    """
    p.checks.unverified("arith.matmul")
    z = local_matmul(x.a, y.a + y.b, bits=bits)
    z += local_matmul(x.b, y.a, bits=bits)
    z += p.zero_share(z.shape)
    return AShare(z, p.pass_prev(z))


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

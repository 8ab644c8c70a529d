"""Batched verification of products and AND gates: cut-and-bucket triple sacrifice.

Every multiplication (Z_2^64) and AND word (packed bits) a party computes is queued by
:mod:`sharelake.mpc.checks`; :func:`verify` checks the whole queue in four rounds, before
anything that depends on it is opened. The check is the triple sacrifice of Furukawa,
Lindell, Nof & Weinstein, "High-Throughput Secure Three-Party Computation for Malicious
Adversaries and an Honest Majority" (EUROCRYPT 2017), in the form of Araki, Barak,
Furukawa, Lichter, Lindell, Nof, Ohara, Watzman & Weinstein, "Optimized Honest-Majority
MPC for Malicious Adversaries" (S&P 2017): random triples (a, b, c = a*b) are made with the
same semi-honest multiplication (Araki et al., CCS 2016), a jointly tossed random
permutation opens k of them whole (cut and choose) and gives every gate (x, y, z) k others;
for each pair the parties open rho = x - a and sigma = y - b and check that

    z - c - sigma*a - rho*b - rho*sigma = 0          (z ^ c ^ sigma&a ^ rho&b ^ rho&sigma for bits)

(computed as z - c - sigma*x - rho*y + rho*sigma, so a and b need not be kept), which
holds iff the error added to z equals the error added to c (a and b come from the
pairwise PRGs and are correct by construction; every opening is redundant and checked).

Why this check and not a random linear combination: over Z_2^64 a combination
sum_k theta_k e_k of errors has zero divisors (e = 2^63 survives w.p. 1/2), so a sound
linear check needs Z_2^(64+s) or a Galois-ring extension for every value; the sacrifice
compares errors for equality, which is sound in any ring and on packed bit words alike.

**Soundness.** With N' gates (the batch padded to at least :data:`MIN_GATES` with random
gates that are checked too), k triples per gate and k more opened, every one of the
(N' + 1) k triples is used exactly once. The adversary wins only if the set of triples it
corrupted is exactly the set the permutation opens to none and gives to the gates it
corrupted, each with the same error: probability 1 / C((N'+1) k, g k) for g >= 1 corrupted
gates, at most 1 / C((N'+1) k, k) (the binomial is smallest at g = 1 and, since k triples
are opened, at g = N'). :func:`parameters` picks the least k >= 2 that makes this at most
2^-:data:`KAPPA` (a batch of more than :data:`CHUNK` gates is checked in pieces, each
at 2^-(KAPPA + log2 pieces), so the union stays at 2^-KAPPA); a word is the unit for
packed bits (a check passes only if all 64 lanes
agree). The permutation is fixed by a seed each party commits to in the round that makes
the triples and reveals in the next, so no party knows it before the triples are fixed.

**Cost** per gate and party: k triples (k ring elements or words sent) and 2k openings
(2k elements), so 3k + 1 times the semi-honest multiplication's traffic, with k = 2 from
about 10^6 gates in a batch, 3 from about 10^4 and up to 6 for small batches; four rounds
per batch (triples + commitments, seeds, openings, zero check with verdicts). See BENCHMARKS.md
for measured figures.

**Abort.** A failed check, a tampered opening or an equivocated seed makes every party
raise :class:`~sharelake.mpc.checks.VerificationError` (an ``IntegrityError``) naming the
check. The zero check sends digests both ways round the ring, so the two honest nodes each
compare a digest from the other and see a failed sacrifice in the same round, and the
verdicts of the earlier rounds (a bad seed, a disagreeing opening) ride along with it: the
three nodes abort the same query together without a separate verdict round. A node that
already saw a disagreement sends a zero digest instead of one of its check values (with a
tampered opening those values would mix the cheater's error with shares it lacks, and a
digest of them could be brute-forced bit by bit). When a
redundant opening disagrees, the honest party that saw it names the two other nodes (one of
which is corrupt); a failed sacrifice cannot say which node added the error.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .checks import Batch, VerificationError
from .party import Party
from .prg import KEY_BYTES, fresh_key
from .ring import Arr

#: Statistical security parameter: a cheating node escapes a check w.p. at most 2^-KAPPA.
KAPPA = 40
#: Smaller batches are padded with random gates up to this many (so k stays small).
MIN_GATES = 64
#: Larger batches are checked in pieces of this many gates, one after the other (a few
#: hundred MB of triples per piece and party), each at 2^-(KAPPA + log2 pieces).
CHUNK = 1 << 21
_DIGEST = 32
#: Rounds of one check of a batch (or of one piece of it).
ROUNDS = 4

_OK, _COMMIT, _OPENING, _SACRIFICE, _OPENED_TRIPLE, _SEED = range(6)
_REASONS = {
    _COMMIT: "a node's revealed seed does not match its commitment",
    _OPENING: "a redundant opening disagreed",
    _SACRIFICE: "a product or AND gate does not match its sacrificed triple",
    _OPENED_TRIPLE: "an opened triple is not a product",
    _SEED: "the nodes derived different permutations",
}


def log2_binom(n: int, k: int) -> float:
    """log2 of the binomial coefficient C(n, k)."""
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(2)


def parameters(n: int, *, kappa: int = KAPPA) -> tuple[int, int]:
    """(padded gate count N', triples per gate k) for a batch of ``n`` gates.

    The least k >= 2 with C((N' + 1) k, k) >= 2^kappa (see the module docstring).

    Examples
    --------
    >>> parameters(10)
    (64, 6)
    >>> parameters(10_000)
    (10000, 3)
    >>> parameters(1_000_000)
    (1000000, 2)
    """
    n2 = max(n, MIN_GATES)
    k = 2
    while log2_binom((n2 + 1) * k, k) < kappa:
        k += 1
    return n2, k


def soundness_bits(n: int) -> float:
    """-log2 of the probability that a cheating node escapes the check of ``n`` gates.

    A union bound over the pieces of at most :data:`CHUNK` gates the check runs.
    """
    pieces = max(1, -(-n // CHUNK))
    kappa = KAPPA + math.ceil(math.log2(pieces))
    sizes = {min(CHUNK, n - lo) for lo in range(0, max(n, 1), CHUNK)}
    worst = min(
        log2_binom((n2 + 1) * k, k) for n2, k in (parameters(m, kappa=kappa) for m in sizes)
    )
    return worst - math.log2(pieces)


@dataclass(frozen=True)
class _Dom:
    """The operations of one domain: Z_2^64 products or AND words."""

    name: str
    tag: bytes
    boolean: bool

    def add(self, a: Arr, b: Arr) -> Arr:
        return a ^ b if self.boolean else a + b

    def sub(self, a: Arr, b: Arr) -> Arr:
        return a ^ b if self.boolean else a - b

    def mul(self, a: Arr, b: Arr) -> Arr:
        return a & b if self.boolean else a * b

    def neg(self, a: Arr) -> Arr:
        return a if self.boolean else np.uint64(0) - a


_RING = _Dom("products", b"ring", False)
_BITS = _Dom("AND words", b"bits", True)


@dataclass
class _Work:
    """One domain's batch while it is being checked (this party's components)."""

    dom: _Dom
    n: int
    n2: int
    k: int
    xa: Arr
    xb: Arr
    ya: Arr
    yb: Arr
    za: Arr
    zb: Arr
    ta: Arr  # triples' a (component pair), b and c
    tb: Arr
    ua: Arr
    ub: Arr
    ca: Arr
    cb: Arr | None = None
    mine: Arr | None = None  # this party's 3-out-of-3 terms of the dummy gates and c


def _digest(*parts: Arr | bytes) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else np.ascontiguousarray(part).data)
    return h.digest()


def _local_terms(p: Party, dom: _Dom, xa: Arr, xb: Arr, ya: Arr, yb: Arr) -> Arr:
    """This party's masked 3-out-of-3 term of x * y (Araki et al. CCS 2016)."""
    if dom.boolean:
        z = np.bitwise_xor(ya, yb)
        z &= xa
        t = np.bitwise_and(xb, ya)
        z ^= t
        z ^= p.prg_own.fill(t)
        z ^= p.prg_next.fill(t)
        return z
    z = ya + yb
    z *= xa
    t = np.multiply(xb, ya)
    z += t
    z += p.prg_own.fill(t)
    z -= p.prg_next.fill(t)
    return z


def _prepare(p: Party, dom: _Dom, arrays: tuple[Arr, ...], kappa: int) -> _Work:
    xa, xb, ya, yb, za, zb = arrays
    n = int(xa.shape[0])
    n2, k = parameters(n, kappa=kappa)
    m = n2 - n
    ntrip = (n2 + 1) * k
    # the triples' a and b, and random dummy gates (checked like the real ones) when the
    # batch is small: from the pairwise PRGs, so correct replicated sharings by construction
    ta, tb = p.prg_own.words(ntrip), p.prg_next.words(ntrip)
    ua, ub = p.prg_own.words(ntrip), p.prg_next.words(ntrip)
    if m:
        dxa, dxb = p.prg_own.words(m), p.prg_next.words(m)
        dya, dyb = p.prg_own.words(m), p.prg_next.words(m)
        mine = _local_terms(
            p,
            dom,
            np.concatenate([dxa, ta]),
            np.concatenate([dxb, tb]),
            np.concatenate([dya, ua]),
            np.concatenate([dyb, ub]),
        )
        xa, xb = np.concatenate([xa, dxa]), np.concatenate([xb, dxb])
        ya, yb = np.concatenate([ya, dya]), np.concatenate([yb, dyb])
    else:
        mine = _local_terms(p, dom, ta, tb, ua, ub)
    w = _Work(dom, n, n2, k, xa, xb, ya, yb, za, zb, ta, tb, ua, ub, mine[m:])
    w.mine = mine
    return w


def _permutation(seed: bytes, dom: _Dom, size: int) -> npt.NDArray[np.intp]:
    """A uniformly random permutation of ``size`` from the joint seed (Fisher-Yates, PCG64).

    Every node must draw the same one; the last round compares a digest of it, so
    nodes on numpy versions that shuffle differently abort instead of checking apart.
    """
    key = hashlib.sha256(b"sharelake-verify-perm" + dom.tag + seed).digest()
    gen = np.random.Generator(np.random.PCG64(int.from_bytes(key, "little")))
    return gen.permutation(size)


def verify(p: Party, *, check: str) -> None:
    """Check every queued product and AND word (four rounds); all three parties call it.

    Nothing happens in semi-honest mode or with an empty queue. Raises
    :class:`~sharelake.mpc.checks.VerificationError` at every party if any node deviated
    in a queued gate, in this check's triples or openings, or in its coin toss.

    Examples
    --------
    Run by each party before opening what its products computed (the checked openings of
    :mod:`sharelake.mpc.arith` do it themselves)::

        z = arith.mul(p, x, y)
        verify(p, check="mul")
    """
    q = p.checks
    if not q.enabled or q.pending == 0:
        return
    arith, boolean = q.take()
    n_ring = arith.size
    n_bits = boolean.size
    chunks = list(_chunks(arith, _RING)) + list(_chunks(boolean, _BITS))
    # a union bound over the chunks keeps the whole check at 2^-KAPPA
    kappa = KAPPA + math.ceil(math.log2(len(chunks)))
    failure: int = _OK
    suspects: tuple[int, ...] = ()
    with p.measure("verify"):
        for dom, arrays in chunks:
            failure, suspects = _run(p, [_prepare(p, dom, arrays, kappa)])
            if failure != _OK:
                break
    q.batches += 1
    q.verified_products += n_ring
    q.verified_and_words += n_bits
    if failure != _OK:
        raise VerificationError(
            f"P{p.id}: the '{check}' check of {n_ring} products and {n_bits} AND words "
            f"failed: {_REASONS[failure]}"
            + (f" (one of P{suspects[0]}, P{suspects[1]} deviated)" if len(suspects) == 2 else "")
            + f"; the query aborts (session {p.chan.session})",
            check=check,
            suspects=suspects,
        )


def _chunks(batch: Batch, dom: _Dom) -> Iterator[tuple[_Dom, tuple[Arr, ...]]]:
    """The batch in pieces of at most :data:`CHUNK` gates (bounded memory per check)."""
    if not batch.size:
        return
    arrays = batch.arrays()
    batch.clear()
    for lo in range(0, int(arrays[0].shape[0]), CHUNK):
        yield dom, tuple(a[lo : lo + CHUNK] for a in arrays)


def _run(p: Party, works: list[_Work]) -> tuple[int, tuple[int, ...]]:
    failure = _OK
    suspects: tuple[int, ...] = ()

    def fail(code: int, who: tuple[int, ...] = ()) -> None:
        nonlocal failure, suspects
        if failure == _OK:
            failure, suspects = code, who

    # round 1: the triples' and dummy gates' products, and a commitment to this party's seed
    seed = fresh_key()
    session = p.chan.session.encode()
    commit = _digest(b"sharelake-verify-commit", session, bytes([p.id]), seed)
    mines = [w.mine for w in works if w.mine is not None]
    terms = mines[0] if len(mines) == 1 else np.concatenate(mines)
    got = p.exchange(
        {p.prev: terms.tobytes() + commit, p.next: commit},
        {p.next: terms.nbytes + _DIGEST, p.prev: _DIGEST},
    )
    second = np.frombuffer(got[p.next][: terms.nbytes], dtype=np.uint64)
    commits = {p.next: bytes(got[p.next][terms.nbytes :]), p.prev: bytes(got[p.prev])}
    off = 0
    for w in works:
        assert w.mine is not None
        m = w.n2 - w.n
        size = int(w.mine.shape[0])
        w.cb = second[off + m : off + size]
        if m:
            w.za = np.concatenate([w.za, w.mine[:m]])
            w.zb = np.concatenate([w.zb, second[off : off + m]])
        off += size

    # round 2: reveal the seeds; the joint seed fixes the permutations
    got = p.exchange({p.prev: seed, p.next: seed}, {p.next: KEY_BYTES, p.prev: KEY_BYTES})
    seeds = {p.id: seed}
    for j in (p.next, p.prev):
        s_j = bytes(got[j])
        if _digest(b"sharelake-verify-commit", session, bytes([j]), s_j) != commits[j]:
            fail(_COMMIT, (j,))
        seeds[j] = s_j
    joint = hashlib.sha256(b"".join(seeds[j] for j in range(3))).digest()

    # round 3: open rho = x - a, sigma = y - b of every (gate, triple) pair and the
    # cut-and-choose triples; slot (j, g) pairs gate g with triple used[j * N' + g]. Both
    # halves are written straight into the send buffers (no gathered copies are kept:
    # the zero check below needs x and y, not a and b)
    total = sum(2 * w.k * w.n2 + 3 * w.k for w in works)
    fa = np.empty(total, dtype=np.uint64)
    fb = np.empty(total, dtype=np.uint64)
    plans = []
    perm_digest = hashlib.sha256()
    off = 0
    for w in works:
        assert w.cb is not None
        perm = _permutation(joint, w.dom, (w.n2 + 1) * w.k)
        perm_digest.update(perm[:64].astype(np.int64).tobytes())
        opened, used = perm[: w.k], perm[w.k :]
        s = w.k * w.n2
        shape = (w.k, w.n2)
        for dst, src, gate in (
            (fa[off : off + s], w.ta, w.xa),
            (fb[off : off + s], w.tb, w.xb),
            (fa[off + s : off + 2 * s], w.ua, w.ya),
            (fb[off + s : off + 2 * s], w.ub, w.yb),
        ):
            np.take(src, used, out=dst)
            view = dst.reshape(shape)
            if w.dom.boolean:
                np.bitwise_xor(gate, view, out=view)
            else:
                np.subtract(gate, view, out=view)
        o = off + 2 * s
        for i, (ca, cb) in enumerate(((w.ta, w.tb), (w.ua, w.ub), (w.ca, w.cb))):
            fa[o + i * w.k : o + (i + 1) * w.k] = ca[opened]
            fb[o + i * w.k : o + (i + 1) * w.k] = cb[opened]
        plans.append((w, used, off))
        off += 2 * s + 3 * w.k
        del perm, opened
    got = p.exchange(
        {p.prev: fb, p.next: _digest(fa)},
        {p.next: fb.nbytes, p.prev: _DIGEST},
    )
    missing = np.frombuffer(got[p.next], dtype=np.uint64)
    if bytes(got[p.prev]) != _digest(missing):
        fail(_OPENING, (p.next, p.prev))
    # the opened values, in place of this party's first halves
    for w, _, off in plans:
        seg = slice(off, off + 2 * w.k * w.n2 + 3 * w.k)
        if w.dom.boolean:
            fa[seg] ^= fb[seg]
            fa[seg] ^= missing[seg]
        else:
            fa[seg] += fb[seg]
            fa[seg] += missing[seg]
    del fb, missing

    # round 4: v = z - c - sigma x - rho y + rho sigma == 0 (z ^ c ^ sigma&x ^ rho&y ^
    # rho&sigma for bits; the public term in component 0: first of party 0, second of
    # party 2) without opening v: each party sends H(v_i + v_(i+1)) to the next party,
    # which compares it with H(-v_(i+2)), and H(-v_(i+1)) to the previous party, which
    # compares it with H(v_(i-1) + v_i): both honest parties see the other's digest, so
    # both see a failed sacrifice in this round, and the verdicts of rounds 2-3 ride along
    # a party that already saw a disagreement sends no digest of its v: with a tampered
    # opening its v would mix the error with shares the cheater lacks (a guessable digest)
    h_mine = hashlib.sha256()
    h_theirs = hashlib.sha256()
    for w, used, off in plans if failure == _OK else []:
        assert w.cb is not None
        d = w.dom
        k = w.k
        s = k * w.n2
        shape = (k, w.n2)
        r_o = fa[off : off + s].reshape(shape)
        s_o = fa[off + s : off + 2 * s].reshape(shape)
        tri = [fa[off + 2 * s + i * k : off + 2 * s + (i + 1) * k] for i in range(3)]
        if not np.array_equal(d.mul(tri[0], tri[1]), tri[2]):
            fail(_OPENED_TRIPLE)
        tmp = np.empty(shape, dtype=np.uint64)
        halves = []
        for zc, cc, xc, yc, public in (
            (w.za, w.ca, w.xa, w.ya, p.id == 0),
            (w.zb, w.cb, w.xb, w.yb, p.id == 2),
        ):
            v = np.empty(shape, dtype=np.uint64)
            np.take(cc, used, out=v.reshape(-1))
            if d.boolean:
                v ^= zc
                np.bitwise_and(s_o, xc, out=tmp)
                v ^= tmp
                np.bitwise_and(r_o, yc, out=tmp)
                v ^= tmp
                if public:
                    np.bitwise_and(r_o, s_o, out=tmp)
                    v ^= tmp
            else:
                np.subtract(zc, v, out=v)
                np.multiply(s_o, xc, out=tmp)
                v -= tmp
                np.multiply(r_o, yc, out=tmp)
                v -= tmp
                if public:
                    np.multiply(r_o, s_o, out=tmp)
                    v += tmp
            halves.append(v)
        va, vb = halves
        if d.boolean:
            va ^= vb  # v_i + v_(i+1); and -v_(i+1) = v_(i+1)
        else:
            va += vb
            np.negative(vb, out=vb)
        h_mine.update(va.data)
        h_theirs.update(vb.data)
        del va, vb, halves, tmp
    mine, theirs = h_mine.digest(), h_theirs.digest()
    if failure != _OK:
        mine = theirs = bytes(_DIGEST)
    agreed = hashlib.sha256(joint + perm_digest.digest()).digest()[:16]
    head = bytes([failure]) + agreed
    got = p.exchange(
        {p.next: head + mine, p.prev: head + theirs},
        {p.prev: 17 + _DIGEST, p.next: 17 + _DIGEST},
    )
    for j, want in ((p.prev, theirs), (p.next, mine)):
        msg = bytes(got[j])
        if msg[1:17] != agreed:
            fail(_SEED)
        elif msg[0] != _OK:
            fail(msg[0] if msg[0] in _REASONS else _SACRIFICE)
        elif msg[17:] != want:
            fail(_SACRIFICE)
    return failure, suspects

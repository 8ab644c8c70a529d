"""Differential privacy on released aggregates: the mechanism, its plan and its budget.

A table's owner may put noise on every aggregate released over it (the policy's
``[noise]`` table, :class:`NoiseSpec`): each released count and bounded sum gets
*discrete Laplace* noise (the two-sided geometric mechanism of Ghosh, Roughgarden &
Sundararajan, STOC 2009; OpenDP's integer ``make_laplace`` is the same distribution),
and every release spends ``epsilon`` of the table upload's ``budget``, enforced by
every node on its own (:class:`NoiseBudget`).

The noise is made by the nodes jointly, so that no single node knows it: node i draws
its own ``L_i ~ DLap(s)`` (``P(L = x) = (1 - a) / (1 + a) * a^|x|``, ``a = exp(-1/s)``)
from its own cryptographically secure randomness, enters it as a secret sharing, and the
released value is ``x + L_0 + L_1 + L_2`` (:func:`sharelake.engine.noise.add_joint_noise`).
A node (even colluding with the analyst) knows its own ``L_i`` but the other two are a
discrete Laplace and more, independent of the data: the release is ``epsilon``-DP against
it. The released noise is the sum of three i.i.d. ``DLap(s)``: mean 0, variance
``3 * 2a / (1 - a)^2`` (:func:`released_pmf` gives its exact distribution).

Calibration (:func:`noise_plan`): with c noised columns in a release (every count, sum,
mean's sum and count, and the hidden row count that decides suppression), each gets
``epsilon / c`` (sequential composition); a count has sensitivity 1 (adding or removing a
row changes one group's count by 1), a sum over a column clipped to ``bounds = [lo, hi]``
(:func:`clip_plan` rewrites the plan so the nodes clip inside MPC) has ``max(|lo|, |hi|)``.
So column j gets scale ``s_j = c * Delta_j / epsilon``. Min, max and count-distinct have no
bounded sensitivity here and are refused with noise, as are aggregates over joins.
Groups are suppressed on the *noisy* count (so suppression is post-processing); whether a
group appears at all is still decided by its noisy count, which makes the release
(epsilon, delta)-DP with ``delta`` the chance that a group of one row gets a noisy count
of at least k, ``P(1 + Z >= k)`` for the released noise Z of the count column
(:func:`released_pmf`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import SharelakeError
from ..plan import tree

__all__ = [
    "NoiseBudget",
    "NoiseBudgetError",
    "NoiseError",
    "NoisePlan",
    "NoiseSpec",
    "clip_plan",
    "discrete_laplace",
    "dlap_pmf",
    "noise_plan",
    "released_pmf",
]


class NoiseError(SharelakeError):
    """A release over a table with noise cannot be noised (unsupported aggregate or shape)."""


class NoiseBudgetError(SharelakeError):
    """A table upload's privacy budget (epsilon) is spent."""


@dataclass(frozen=True)
class NoiseSpec:
    """A policy's ``[noise]``: epsilon per released aggregate, the total budget per table
    upload, and the clipping bounds of the columns that may be summed.

    Examples
    --------
    >>> s = NoiseSpec.from_dict({"epsilon": 0.5, "budget": 2, "bounds": {"age": [0, 120]}})
    >>> s.to_dict()
    {'epsilon': 0.5, 'budget': 2.0, 'bounds': {'age': [0, 120]}}
    """

    epsilon: float
    budget: float
    bounds: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, doc: Any) -> NoiseSpec:
        """Parse and validate; raises ``ValueError`` naming the bad setting."""
        if not isinstance(doc, Mapping):
            raise ValueError("[noise] must be a table with epsilon, budget and bounds")
        extra = sorted(set(doc) - {"epsilon", "budget", "bounds"})
        if extra:
            raise ValueError(f"[noise]: unknown setting {extra[0]!r} (epsilon, budget, bounds)")
        out = []
        for key in ("epsilon", "budget"):
            v = doc.get(key)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < math.inf:
                raise ValueError(f"[noise]: {key} must be a positive number")
            out.append(float(v))
        if out[0] > out[1]:
            raise ValueError("[noise]: epsilon (per release) must not exceed the budget")
        bounds: dict[str, tuple[int, int]] = {}
        raw = doc.get("bounds", {})
        if not isinstance(raw, Mapping):
            raise ValueError("[noise]: bounds must map column names to [low, high]")
        for name, b in raw.items():
            if (
                not isinstance(b, list | tuple)
                or len(b) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in b)
                or b[0] > b[1]
            ):
                raise ValueError(f"[noise]: bounds of {name!r} must be two integers low <= high")
            bounds[str(name)] = (int(b[0]), int(b[1]))
        return cls(out[0], out[1], bounds)

    def to_dict(self) -> dict[str, Any]:
        """The dict form (stored with the policy)."""
        return {
            "epsilon": self.epsilon,
            "budget": self.budget,
            "bounds": {k: list(v) for k, v in self.bounds.items()},
        }


# ---- the mechanism ---------------------------------------------------------------------


def _uniform(size: int, seed: bytes | None) -> npt.NDArray[np.float64]:
    """Uniform floats in (0, 1] with 53 random bits each, from a cryptographically secure
    source: ``os.urandom``, or SHAKE-256 of ``seed`` (tests only: reproducible)."""
    raw = os.urandom(8 * size) if seed is None else hashlib.shake_256(seed).digest(8 * size)
    words = np.frombuffer(raw, dtype=np.uint64) >> np.uint64(11)
    return (words.astype(np.float64) + 1.0) * 2.0**-53


def discrete_laplace(
    size: int, scale: float, *, seed: bytes | None = None
) -> npt.NDArray[np.int64]:
    """``size`` draws of the discrete Laplace distribution with scale ``scale``.

    ``P(X = x) = (1 - a) / (1 + a) * a^|x|`` with ``a = exp(-1 / scale)``, drawn as the
    difference of two geometric variables by inversion, ``G = floor(ln U / ln a)``, on
    53-bit uniforms from ``os.urandom`` (or from SHAKE-256 of ``seed``, for tests).
    Vectorised; the tail is cut at probability about 2^-53.

    Examples
    --------
    >>> x = discrete_laplace(100_000, 2.0, seed=b"doc")
    >>> a = float(np.exp(-1 / 2.0))  # the variance is 2a / (1 - a)^2 = 7.83
    >>> abs(float(x.mean())) < 0.05, abs(float(x.var()) - 2 * a / (1 - a) ** 2) < 0.2
    (True, True)
    """
    if scale <= 0:
        raise ValueError("the noise scale must be positive")
    if size == 0:
        return np.zeros(0, dtype=np.int64)
    u = _uniform(2 * size, seed)
    log_a = -1.0 / scale
    g = np.floor(np.log(u) / log_a).astype(np.int64)
    return g[:size] - g[size:]


def dlap_pmf(scale: float, support: int) -> npt.NDArray[np.float64]:
    """The pmf of ``DLap(scale)`` on ``-support..support``."""
    a = math.exp(-1.0 / scale)
    x = np.arange(-support, support + 1)
    return (1 - a) / (1 + a) * a ** np.abs(x)


def released_pmf(scale: float, support: int) -> npt.NDArray[np.float64]:
    """The pmf of the released noise ``L_0 + L_1 + L_2`` (three i.i.d. ``DLap(scale)``)
    on ``-support..support`` (a convolution of pmfs truncated far in the tails)."""
    wide = 3 * support + 50
    one = dlap_pmf(scale, wide)
    three = np.convolve(np.convolve(one, one), one)
    mid = len(three) // 2
    return three[mid - support : mid + support + 1]


# ---- what to noise in a plan -------------------------------------------------------------


@dataclass(frozen=True)
class NoisePlan:
    """The noise of one release: epsilon spent, per result column its sensitivity (in the
    column's own units, before fixed-point scaling) and scale, and the tables charged."""

    epsilon: float
    table: str
    sensitivity: Mapping[str, float]
    scale: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (audit detail, tests)."""
        return {
            "epsilon": self.epsilon,
            "table": self.table,
            "scale": dict(self.scale),
        }


def _scan_below(node: tree.Node) -> tuple[str | None, set[str]]:
    """The table under a chain of filters/projections/assigns/sorts, and the names that
    chain computes (which are not stored columns)."""
    chain, bottom = tree.descend(node, (tree.Filter, tree.Project, tree.Assign, tree.Sort))
    computed = {k for n in chain if isinstance(n, tree.Assign) for k, _ in n.columns}
    return (bottom.table if isinstance(bottom, tree.Scan) else None), computed


def noise_plan(plan: tree.Plan, spec: NoiseSpec, count_col: str | None) -> NoisePlan:
    """Which result columns of an aggregate over a noised table get noise, and how much.

    ``count_col`` is the row count that decides suppression (the plan's own or the
    hidden one of :func:`~sharelake.governance.outputs.protected_plan`).

    Raises
    ------
    NoiseError
        The plan is not a group-by over one filtered table, or aggregates with ``min``,
        ``max`` or ``count_distinct``, or sums a column without ``bounds`` (or a computed
        column); the message names the aggregate.
    """
    found = tree.released_groupby(plan)
    if found is None:
        raise NoiseError(
            "noise is added only to a group-by over one table (seen through filters, "
            "projections, computed columns and sorts)"
        )
    gb = found[1]
    table, computed = _scan_below(gb.input)
    if table is None:
        raise NoiseError("noise is not supported for aggregates over joins or other tables")
    sens: dict[str, float] = {}
    for out, src, fn in gb.aggs:
        if fn == "count":
            sens[str(out)] = 1.0
            continue
        if fn not in ("sum", "mean"):
            raise NoiseError(
                f"aggregate {out!r} ({fn}) has no bounded sensitivity: with noise only "
                "count, sum and mean are released"
            )
        if src in computed or src not in spec.bounds:
            raise NoiseError(
                f"aggregate {out!r} sums column {src!r}, which has no clipping bounds in the "
                "policy's [noise] bounds"
            )
        lo, hi = spec.bounds[src]
        delta = float(max(abs(lo), abs(hi), 1))
        if fn == "sum":
            sens[str(out)] = delta
        else:
            sens[f"{out}_sum"], sens[f"{out}_count"] = delta, 1.0
    if count_col is not None:
        sens.setdefault(count_col, 1.0)
    c = len(sens)
    scale = {name: c * d / spec.epsilon for name, d in sens.items()}
    return NoisePlan(spec.epsilon, table, sens, scale)


def _clip(col: str, lo: int, hi: int) -> tree.Expr:
    x = tree.ColRef(col)
    upper = tree.Call("when", (tree.Call(">", (x, tree.Const(hi))), tree.Const(hi), x))
    return tree.Call("when", (tree.Call("<", (x, tree.Const(lo))), tree.Const(lo), upper))


def clip_plan(plan: tree.Plan, spec: NoiseSpec) -> tree.Plan:
    """``plan`` with its summed columns clipped to their bounds right below the group-by
    (an ``assign`` of ``when(x < lo, lo, when(x > hi, hi, x))``, run in MPC).

    Examples
    --------
    >>> from sharelake.plan import nodes as pn
    >>> gb = pn.groupby(pn.scan("t"), ["k"], {"s": ("age", "sum")})
    >>> out = clip_plan(tree.from_json(pn.make_plan(gb)), NoiseSpec(1.0, 5.0, {"age": (0, 99)}))
    >>> type(out.root.input).__name__, [k for k, _ in out.root.input.columns]
    ('Assign', ['age'])
    """
    found = tree.released_groupby(plan)
    if found is None:
        return plan
    above, gb = found
    summed = sorted({src for _, src, fn in gb.aggs if fn in ("sum", "mean")} & set(spec.bounds))
    if not summed:
        return plan
    clipped = tree.Assign(gb.input, tuple((c, _clip(c, *spec.bounds[c])) for c in summed))
    return replace(plan, root=tree.restack(above, replace(gb, input=clipped)))


# ---- the budget ----------------------------------------------------------------------------


class NoiseBudget:
    """Epsilon spent per table upload, persisted as JSON (``noise_budget.json``).

    Every node keeps its own and refuses a release that would exceed the table's budget.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> b = NoiseBudget(pathlib.Path(tempfile.mkdtemp()) / "noise_budget.json")
    >>> b.charge("people", 3, 0.5)
    >>> b.spent("people", 3)
    0.5
    >>> b.check("people", 3, 0.6, 1.0)
    Traceback (most recent call last):
    ...
    sharelake.governance.noise.NoiseBudgetError: the privacy budget of table 'people' is \
spent: 0.5 of 1 used, this release needs 0.6
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raw = {}
        self._spent: dict[str, dict[int, float]] = {}
        for t, per in raw.items() if isinstance(raw, dict) else []:
            try:
                self._spent[str(t)] = {int(v): float(e) for v, e in per.items()}
            except (AttributeError, TypeError, ValueError):
                continue

    def spent(self, table: str, version: int) -> float:
        """Epsilon spent over this upload of ``table``."""
        with self._lock:
            return self._spent.get(table, {}).get(version, 0.0)

    def check(self, table: str, version: int, epsilon: float, budget: float) -> None:
        """Raise :class:`NoiseBudgetError` if ``epsilon`` more would exceed ``budget``."""
        used = self.spent(table, version)
        if used + epsilon > budget * (1 + 1e-9):
            raise NoiseBudgetError(
                f"the privacy budget of table {table!r} is spent: {used:g} of {budget:g} "
                f"used, this release needs {epsilon:g}"
            )

    def charge(self, table: str, version: int, epsilon: float) -> None:
        """Add ``epsilon`` to the upload's spending (written atomically)."""
        with self._lock:
            per = self._spent.setdefault(table, {})
            per[version] = per.get(version, 0.0) + epsilon
            self._save()

    def forget(self, table: str, version: int) -> None:
        """Forget a dropped table's uploads (up to ``version``)."""
        with self._lock:
            per = self._spent.get(table)
            if not per:
                return
            kept = {v: e for v, e in per.items() if v > version}
            if kept:
                self._spent[table] = kept
            else:
                del self._spent[table]
            self._save()

    def _save(self) -> None:
        doc = {t: {str(v): e for v, e in per.items()} for t, per in self._spent.items()}
        tmp = self.path.with_suffix(".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)

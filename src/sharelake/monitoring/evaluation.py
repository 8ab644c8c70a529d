"""The demo's evaluation step: the linkage against the generator's truth (synthetic data only).

No organisation can compute this on real lists: it needs to know which records truly
belong to the same person, which only the generator of the synthetic data knows
(:class:`~sharelake.monitoring.synth.GroundTruth`). The demo computes it in the clear,
after the analyses, from the person labels of the plaintext twin
(:meth:`~sharelake.monitoring.analyses.PlainLake.person_labels`; the tests check that
the secure overlap table equals the twin's) and the truth:

* **pairwise precision and recall** over the victims' records: of the record pairs the
  linkage puts into one person, the share that truly are one person (precision); of the
  pairs that truly are one person, the share the linkage joins (recall); F1;
* **distinct persons** found against the true number of distinct victims seen, and the
  relative difference;
* the **multiple-systems estimate with perfect linkage** (the same estimator on the
  generator's true overlap table) and the released estimate's relative difference to it;
* the same figures for exact matching on ``person_key`` (the demo's linkage before k-list
  linkage), so that the report shows what the linkage changes.

Examples
--------
>>> from sharelake.monitoring.synth import generate
>>> from sharelake.monitoring.analyses import PlainLake, upload_frames
>>> lake = generate(seed=1, scale=0.1)
>>> ev = linkage_quality(lake, PlainLake(upload_frames(lake.frames)))
>>> 0.9 < ev["precision"] <= 1.0
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .analyses import PlainLake
from .mse import estimate

__all__ = ["linkage_quality", "pair_counts", "perfect_estimate"]


def _pairs(groups: pd.DataFrame) -> int:
    c = groups.value_counts().to_numpy(dtype=np.int64)
    return int((c * (c - 1) // 2).sum())


def pair_counts(found: npt.ArrayLike, true: npt.ArrayLike) -> tuple[int, int, int]:
    """Record pairs in one found person, in one true person, and in both.

    Examples
    --------
    >>> pair_counts([0, 0, 0, 3], [1, 1, 2, 2])
    (3, 2, 1)
    """
    f, t = np.asarray(found), np.asarray(true)
    if f.shape != t.shape:
        raise ValueError("found and true labels differ in length")
    return (
        _pairs(pd.DataFrame({"f": f})),
        _pairs(pd.DataFrame({"t": t})),
        _pairs(pd.DataFrame({"f": f, "t": t})),
    )


def perfect_estimate(truth_overlap: pd.DataFrame, **options: Any) -> Any:
    """The multiple-systems estimate on the generator's true overlap table."""
    return estimate(truth_overlap.astype({c: int for c in truth_overlap.columns}), **options)


def _quality(labels: Mapping[str, npt.NDArray[np.int64]], lake: Any) -> dict[str, Any]:
    orgs = [o for o in labels]
    found = np.concatenate([labels[o] for o in orgs])
    true = np.concatenate([lake.truth.record_person[o] for o in orgs])
    ok = found >= 0
    fp, tp_, both = pair_counts(found[ok], true[ok])
    precision = both / fp if fp else 1.0
    recall = both / tp_ if tp_ else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    distinct = len(np.unique(found[ok]))
    observed = int(lake.truth.observed)
    return {
        "pairs_found": fp,
        "pairs_true": tp_,
        "pairs_correct": both,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "distinct_persons": distinct,
        "distinct_truth": observed,
        "distinct_error": distinct / observed - 1 if observed else 0.0,
    }


def linkage_quality(
    lake: Any, plain: Any, *, estimate_total: float | None = None
) -> dict[str, Any]:
    """The evaluation of the plaintext twin ``plain``'s persons against ``lake``'s truth.

    ``estimate_total``: the released estimate, compared with the perfect-linkage one.
    The result also holds ``exact_key``: the same figures for matching on
    ``person_key`` (computed here in the clear).
    """
    out = {"linkage": plain.linkage, **_quality(plain.person_labels(), lake)}
    perfect = perfect_estimate(lake.truth.overlap)
    out["perfect_linkage_estimate"] = {
        "total": perfect.total,
        "interval": list(perfect.interval),
        "model": perfect.model_description,
    }
    if estimate_total is not None:
        out["estimate_vs_perfect"] = estimate_total / perfect.total - 1
    if plain.linkage != "key":
        key = PlainLake(plain.frames, linkage="key")
        out["exact_key"] = _quality(key.person_labels(), lake)
    return out

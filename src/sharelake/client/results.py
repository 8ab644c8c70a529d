"""Rebuilding a released result from the three nodes' share bundles.

Each node returns a bundle (:mod:`sharelake.storage.bundle`) with meta
``{"columns": [spec json...], "rows": n, "suppressed": g, "cost": {...}}`` (the cost is
the node's own and is not compared between nodes) and its pair of every column part:
``"<col>.values.a"``/``".b"``, and when present ``"<col>.null.a"``/``".b"`` and
``"<col>.text.a"``/``".b"`` (strings). Component j of every secret arrives twice, from
node j and from node j-1; :func:`rebuild` checks both copies agree
(:func:`sharelake.mpc.sharing.reconstruct_arith`) and raises
:class:`~sharelake.errors.IntegrityError` naming the nodes and column otherwise.

Decoding follows the column kinds: ``int`` -> int64 (``Int64`` when there are
missing values), ``fixed`` -> float64, ``bool`` -> bool (``boolean`` with missing
values), ``date`` -> datetime64, ``category`` -> ``pandas.Categorical`` in dictionary
order, ``string`` -> Python strings opened from their secret packed bytes (never the
digest that equality, joins and group-by use inside MPC). A ``mean`` aggregate ``m``
arrives as ``m_sum`` and ``m_count``; the mean is computed here (missing where the count is 0);
a ``var``/``std`` aggregate ``v`` as ``v_sum``, ``v_sumsq`` and ``v_count``, finished by
:func:`sharelake.relational.plain.finish_moments`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import IntegrityError
from ..mpc.ring import Arr
from ..mpc.shares import AShare
from ..mpc.sharing import reconstruct_arith
from ..plan import tree
from ..plan.nodes import mean_names, moment_names, quantile_divisors
from ..relational.encode import decode_column
from ..relational.plain import finish_moments
from ..relational.table import ColumnSpec, spec_from_json
from ..storage.bundle import BundleError, decode_bundle

__all__ = [
    "decode_text",
    "query_cost",
    "rebuild",
    "rebuild_columns",
    "stored_result",
    "suppression_legend",
    "suppression_notes",
]

log = logging.getLogger(__name__)

NODE_NAMES = ("P0", "P1", "P2")


def decode_text(words: Arr) -> list[str]:
    """Strings from their packed UTF-8 bytes (8 per word, zero padded).

    Examples
    --------
    >>> import numpy as np
    >>> decode_text(np.frombuffer(b"hi\\0\\0\\0\\0\\0\\0", dtype=np.uint64).reshape(1, 1))
    ['hi']
    """
    if len(words) == 0:  # no rows (a result nothing passed)
        return []
    raw = np.ascontiguousarray(words, dtype=np.uint64).view(np.uint8)
    raw = raw.reshape(len(words), -1)
    return [bytes(r).rstrip(b"\0").decode("utf-8", "replace") for r in raw]


PER_NODE_META = ("cost",)
"""Meta keys that differ by node by design (not compared between the three bundles)."""


def _majority_meta(metas: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    keys = [
        repr(sorted((str(k), repr(v)) for k, v in m.items() if k not in PER_NODE_META))
        for m in metas
    ]
    counts = Counter(keys)
    if len(counts) > 1:
        common, n = counts.most_common(1)[0]
        odd = [names[i] for i, k in enumerate(keys) if k != common] if n >= 2 else list(names)
        raise IntegrityError(
            f"the nodes disagree on the result's shape or schema ({', '.join(odd)} "
            "differ): a node deviated from the protocol"
        )
    return {k: v for k, v in metas[0].items() if k not in PER_NODE_META}


def query_cost(
    metas: Sequence[Mapping[str, Any]], names: Sequence[str] = NODE_NAMES
) -> dict[str, Any] | None:
    """The cost of a query from the three nodes' bundle metas (``None`` if a node
    reported none).

    ``rounds``: the most rounds any node spent (the protocols run in lock step, so the
    three normally agree); ``bytes``: the SUM of the payload bytes the three nodes sent
    (the query's total traffic between the nodes); ``seconds``: the slowest node's
    compute time (from its consistency check to its released shares); ``nodes``: each
    node's own figures. Not verified: a node could misreport its own cost.

    Examples
    --------
    >>> c = {"rounds": 4, "messages": 8, "bytes": 100, "seconds": 0.5}
    >>> query_cost([{"cost": c}, {"cost": c}, {"cost": {**c, "bytes": 120}}])["bytes"]
    320
    """
    per: list[dict[str, Any]] = []
    for name, m in zip(names, metas, strict=False):
        c = m.get("cost")
        if not isinstance(c, Mapping):
            return None
        try:
            per.append(
                {
                    "node": name,
                    "rounds": int(c["rounds"]),
                    "messages": int(c.get("messages", 0)),
                    "bytes": int(c["bytes"]),
                    "seconds": float(c["seconds"]),
                }
            )
        except (KeyError, TypeError, ValueError):
            return None
    if not per:
        return None
    return {
        "rounds": max(n["rounds"] for n in per),
        "bytes": sum(n["bytes"] for n in per),
        "seconds": max(n["seconds"] for n in per),
        "nodes": per,
    }


def _pair(arrays: Mapping[str, npt.NDArray[Any]], key: str, node: str) -> AShare:
    try:
        a, b = arrays[f"{key}.a"], arrays[f"{key}.b"]
    except KeyError:
        raise IntegrityError(f"{node} sent no shares of {key!r}") from None
    return AShare(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64))


def _open(parts: Sequence[Mapping[str, npt.NDArray[Any]]], key: str, names: Sequence[str]) -> Arr:
    pairs = [_pair(p, key, names[i]) for i, p in enumerate(parts)]
    try:
        return reconstruct_arith(pairs)
    except IntegrityError as exc:
        text = str(exc)
        for i in (2, 1, 0):  # the engine's messages say P0..P2; use the consortium's names
            text = text.replace(f"P{i}", names[i])
        raise IntegrityError(f"column part {key!r}: {text}") from None


def _typed(spec: ColumnSpec, values: Arr, null: Arr | None, text: Arr | None) -> pd.Series[Any]:
    mask = None if null is None else null.astype(bool)
    if null is not None and not np.isin(null, (0, 1)).all():
        raise IntegrityError(f"column {spec.name!r}: null flags other than 0/1 were released")
    if spec.kind == "string" and text is not None:
        s: pd.Series[Any] = pd.Series(decode_text(text), dtype=object)
        if mask is not None and mask.any():
            s[mask] = None
        return s
    if spec.kind == "string":  # every operator carries the bytes; a digest alone is refused
        raise IntegrityError(
            f"column {spec.name!r}: the nodes released a string column without its text"
        )
    has_null = mask is not None and bool(mask.any())
    if spec.kind == "category":
        cats = list(spec.categories or ())
        codes = values.astype(np.int64)
        codes = np.where((codes >= 0) & (codes < len(cats)), codes, -1)
        if mask is not None:
            codes = np.where(mask, -1, codes)
        return pd.Series(
            pd.Categorical.from_codes(codes, categories=pd.Index(cats), ordered=spec.ordered)
        )
    out = decode_column(spec, values, null if has_null else None)
    if not has_null:
        return out
    if spec.kind == "int":
        return out.astype("Int64")
    if spec.kind == "bool":
        return out.astype("boolean")
    if spec.kind == "fixed":
        return out.astype("float64")
    if spec.kind == "date":
        return pd.to_datetime(out)
    return out


def rebuild_columns(bundles: Sequence[bytes], *, names: Sequence[str] = NODE_NAMES) -> pd.DataFrame:
    """The DataFrame of three nodes' result bundles (checked twice per component).

    Raises
    ------
    IntegrityError
        A bundle is corrupted, the nodes disagree on the schema or row count, or two
        copies of a share component differ; the message names the node(s).
    """
    if len(bundles) != 3:
        raise ValueError("a result needs the bundles of all three nodes")
    metas, parts = [], []
    for i, b in enumerate(bundles):
        try:
            meta, arrays = decode_bundle(b, what=f"result from {names[i]}")
        except BundleError as exc:
            raise IntegrityError(str(exc)) from None
        metas.append(meta)
        parts.append(arrays)
    meta = _majority_meta(metas, names)
    try:
        specs = [spec_from_json(d) for d in meta["columns"]]
        rows = int(meta["rows"])
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"the nodes sent a malformed result header: {exc}") from None
    data: dict[str, pd.Series[Any]] = {}
    for spec in specs:
        values = _open(parts, f"{spec.name}.values", names)
        if len(values) != rows:
            raise IntegrityError(f"column {spec.name!r}: {len(values)} values for {rows} rows")
        null = (
            _open(parts, f"{spec.name}.null", names) if f"{spec.name}.null.a" in parts[0] else None
        )
        text = (
            _open(parts, f"{spec.name}.text", names) if f"{spec.name}.text.a" in parts[0] else None
        )
        data[spec.name] = _typed(spec, values, null, text).reset_index(drop=True)
    df = pd.DataFrame(data, index=pd.RangeIndex(rows))
    df.attrs["suppressed_groups"] = int(meta.get("suppressed", 0) or 0)
    if meta.get("min_rows") is not None:  # secondary suppression (node.governance.protect)
        df.attrs["min_rows"] = int(meta["min_rows"])
    cost = query_cost(metas, names)
    if cost is not None:
        df.attrs["cost"] = cost
    return df


def stored_result(bundles: Sequence[bytes], *, names: Sequence[str] = NODE_NAMES) -> pd.DataFrame:
    """The nodes' answer to a plan that keeps a stored persons table (release ``table``):
    one row, ``table``, ``version`` and ``rows``, as all three nodes report it.

    Raises
    ------
    IntegrityError
        A bundle is corrupted, or the nodes disagree (a node deviated).
    """
    df = rebuild_columns(bundles, names=names)  # no column, no row: checks the headers
    metas = [decode_bundle(b, what=f"result from {names[i]}")[0] for i, b in enumerate(bundles)]
    kept = _majority_meta(metas, names).get("stored")
    if not isinstance(kept, Mapping) or set(kept) != {"table", "version", "rows"}:
        raise IntegrityError("the nodes did not report the stored table")
    out = pd.DataFrame([{k: kept[k] for k in ("table", "version", "rows")}])
    out.attrs.update(df.attrs)
    return out


def _finish_means(df: pd.DataFrame, means: Sequence[str]) -> pd.DataFrame:
    for m in means:
        s_name, c_name = f"{m}_sum", f"{m}_count"
        if s_name not in df.columns or c_name not in df.columns or m in df.columns:
            continue
        cnt = pd.to_numeric(df[c_name]).astype("float64")
        total = pd.to_numeric(df[s_name]).astype("float64")
        pos = list(df.columns).index(s_name)
        mean = (total / cnt.where(cnt > 0)).astype("float64")
        df = df.drop(columns=[s_name, c_name])
        df.insert(pos, m, mean)
    return df


def _finish_quantiles(df: pd.DataFrame, divisors: Mapping[str, int]) -> pd.DataFrame:
    """A quantile arrives as ``b`` times its value (an integer combination of the two
    neighbouring values, missing for a group without values): divided here."""
    for name, b in divisors.items():
        if name in df.columns:
            df[name] = pd.to_numeric(df[name]).astype("float64") / b
    return df


def _top_groupby(plan: Mapping[str, Any]) -> list[str] | None:
    top = tree.descend(tree.node_from_json(plan["root"]), (tree.Filter, tree.Assign, tree.Project))
    return list(top[1].keys) if isinstance(top[1], tree.GroupBy) else None


def rebuild(
    bundles: Sequence[bytes],
    plan: Mapping[str, Any],
    *,
    names: Sequence[str] = NODE_NAMES,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The analyst's DataFrame of a released ``rows`` result of ``plan``.

    Besides :func:`rebuild_columns`: means are finished (``m = m_sum / m_count``) and a
    result whose last step is a group-by is sorted by its keys, as pandas does (the
    nodes release groups in random order). ``df.attrs["suppressed_groups"]`` is the
    number of groups the nodes suppressed as smaller than the policy allows, and
    ``df.attrs["notes"]`` says so in words (also logged at INFO on ``sharelake.client.results``);
    ``df.attrs["cost"]`` the query's cost as the nodes reported it (:func:`query_cost`).
    ``columns``, when given, is the column order the analyst built (plans carry
    name-keyed objects, whose order is not kept).

    Examples
    --------
    >>> df = rebuild([b0, b1, b2], plan)  # doctest: +SKIP
    """
    df = _finish_means(rebuild_columns(bundles, names=names), mean_names(plan))
    df = _finish_quantiles(df, quantile_divisors(plan))
    df = finish_moments(df, moment_names(plan))
    suppressed = int(df.attrs.get("suppressed_groups", 0))
    min_rows = df.attrs.get("min_rows")
    cost = df.attrs.get("cost")
    keys = _top_groupby(plan)
    if keys and len(df) and all(k in df.columns for k in keys):
        df = df.sort_values(keys, na_position="last", kind="stable").reset_index(drop=True)
    if columns is not None and sorted(columns) == sorted(df.columns):
        df = df[list(columns)]
    df.attrs["suppressed_groups"] = suppressed
    if min_rows is not None:
        df.attrs["min_rows"] = min_rows
    df.attrs["notes"] = suppression_notes(suppressed, min_rows=min_rows)
    for note in df.attrs["notes"]:
        log.info("%s", note)
    if cost is not None:
        df.attrs["cost"] = cost
    return df


def suppression_notes(
    suppressed: int,
    policies: Mapping[str, tuple[int, int]] | None = None,
    *,
    min_rows: int | None = None,
) -> list[str]:
    """What an analyst should know of the suppressed groups of a result (a list of notes).

    ``policies`` maps each table the plan read to ``(min_group_size, policy version)``;
    with it the note names the rule and the policy it comes from (the largest ``k``
    of the tables read applies).

    Examples
    --------
    >>> suppression_notes(0)
    []
    >>> suppression_notes(2)[0].startswith("2 groups were suppressed: each had fewer rows")
    True
    >>> print(suppression_notes(1, {"cases": (5, 2)})[0])  # doctest: +NORMALIZE_WHITESPACE
    1 group was suppressed: each had fewer than 5 rows, the minimum group size (k) of
    the policy of table 'cases' (policy version 2), so they are left out of this result.
    """
    if suppressed <= 0:
        return []
    notes = _k_notes(suppressed, policies)
    if min_rows is not None:
        notes.append(
            f"To keep the size of a smaller suppressed group from being worked out (from the "
            f"table's public row count and the earlier releases: differencing), every group "
            f"with fewer than {min_rows} rows was suppressed in this result (secondary "
            "suppression), not only those under the minimum group size."
        )
    return notes


def _k_notes(suppressed: int, policies: Mapping[str, tuple[int, int]] | None) -> list[str]:
    groups = "1 group was" if suppressed == 1 else f"{suppressed} groups were"
    if not policies:
        return [
            f"{groups} suppressed: each had fewer rows than the minimum group size (k) of "
            "the tables read, so they are left out of this result."
        ]
    k = max(v[0] for v in policies.values())
    named = [
        f"table {t!r} (policy version {v}{'' if kk == k else f', k = {kk}'})"
        for t, (kk, v) in sorted(policies.items())
    ]
    which = (
        f"the policy of {named[0]}"
        if len(named) == 1
        else f"the largest of the policies of {', '.join(named)}"
    )
    return [
        f"{groups} suppressed: each had fewer than {k} rows, the minimum group size (k) "
        f"of {which}, so they are left out of this result."
    ]


def suppression_legend(df: pd.DataFrame) -> str:
    """The legend a report prints under a result with suppressed groups ("" if none).

    Examples
    --------
    >>> df = pd.DataFrame({"n": [7]})
    >>> df.attrs.update(suppressed_groups=2, notes=["2 groups were suppressed: ..."])
    >>> suppression_legend(df)
    '* Suppressed: 2 groups were suppressed: ...'
    >>> suppression_legend(pd.DataFrame())
    ''
    """
    if int(df.attrs.get("suppressed_groups", 0) or 0) <= 0:
        return ""
    notes = list(df.attrs.get("notes") or suppression_notes(int(df.attrs["suppressed_groups"])))
    return "* Suppressed: " + " ".join(notes)

"""The ``link`` plan operator at a node: private record linkage of two person tables.

``{"op": "link", "left": SCAN, "right": SCAN, "mode", "reveal", "params"}`` (see
``docs/node-api.md``). Both inputs are person tables
(:mod:`sharelake.linkage.people_table`); before any protocol message the node checks,
from the public schemas, that both were encoded by the same pipeline version and
q-gram dimension (a :class:`~sharelake.plan.canonical.PlanError` otherwise, the same
at all three nodes).

Modes:

``exact``
    :func:`sharelake.linkage.secure.exact_links` on the four match keys: a pair matches
    when any key agrees (several right records per left record are possible).
``probabilistic`` (the default of the client)
    :func:`sharelake.linkage.fs_secure.fs_match`: the Fellegi-Sunter model of
    :mod:`sharelake.linkage.fs` -- name and birth-date comparison levels, term
    frequencies counted inside MPC, m, u and the prior estimated by EM on the opened
    pattern counts of the run (``em`` 1 and at least
    :data:`~sharelake.linkage.people_table.MIN_EM_PAIRS` pairs; else the trained
    weights), candidates with a posterior match probability of at least
    ``p_match_pct`` per cent, the mutual-best rule. A table linked with itself is
    de-duplicated: a record is never paired with itself.
``fuzzy`` / ``hybrid``
    :func:`sharelake.linkage.fuzzy.fuzzy_match` with the plan's integer ``params``
    (:data:`~sharelake.linkage.people_table.DEFAULT_PARAMS` for those not given):
    threshold and mutual best, so at most one partner per record; ``hybrid`` adds the
    key agreement bonus.

The result is a secret table that :func:`sharelake.engine.executor.release_rows`
compacts and returns as shares to the analyst only:

``pairs``
    ``left_record_id``, ``right_record_id``, one valid row per matched pair. Fuzzy: the
    right id of left row i is sum_j M[i, j] * id[j] (one local matrix product of the
    0/1 match matrix with the id parts, one resharing). Exact: the candidate pairs
    (K per left row) are joined with the right table's row numbers
    (:func:`sharelake.relational.join.join`, m:1) to fetch the right ids obliviously.
``own``
    ``record_id`` (left), ``lists`` (2: the caller's list and the other list) and
    ``matches`` (how many records of the right table it was linked to), one valid row
    per matched left record.
``count``
    one row, ``matches`` = the number of matched pairs.

LEAKAGE (to the nodes): the number of valid rows opened by the compaction -- the number
of pairs (``pairs``), of matched left records (``own``), nothing (``count``: one row);
in ``probabilistic`` mode with ``em`` 1, the 360 EM pattern counts over all pairs
(:func:`sharelake.linkage.fs_secure.fs_em_counts`).
Scores, bits, encodings and ids stay secret; sizes n, m are public.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from ..linkage.blocked import (
    BlockedLinks,
    FSScoring,
    ListLinks,
    blocked_match,
    cluster,
    link_lists,
)
from ..linkage.blocking import BLOCK_KEYS
from ..linkage.fs import TRAINED_WEIGHTS, FSConfig
from ..linkage.fs_secure import fs_fit, fs_match
from ..linkage.fuzzy import BLOCK_PAIRS, fuzzy_match
from ..linkage.fuzzy_inputs import FuzzyParams
from ..linkage.kernels import dots
from ..linkage.people_table import (
    FS_DEFAULT_PARAMS,
    KEY_COLUMNS,
    LINK_KEYS,
    MIN_EM_PAIRS,
    RECORD_ID,
    fs_config,
    fuzzy_params,
    person_format,
    shared_people,
)
from ..linkage.persons import union_weights
from ..linkage.secure import exact_links, exact_pair_table
from ..mpc.arith import matmul
from ..mpc.bits import BitShare
from ..mpc.compare import msb_many
from ..mpc.convert import b2a_bits
from ..mpc.party import Party
from ..mpc.shares import AShare
from ..plan.canonical import PlanError
from ..relational.groupby import groupby
from ..relational.join import join
from ..relational.ops import concat
from ..relational.table import ColumnSpec, SecretColumn, SecretTable

__all__ = ["EXACT_PARAMS", "own_lists", "run_link", "with_persons"]

EXACT_PARAMS = FuzzyParams(
    w_name=0, w_year=0, w_month=0, w_day=0, t_num=1, t_den=1, bonus=1, keys=LINK_KEYS
)
"""Exact linkage of k lists: a pair scores 1 when some match key agrees, else 0; the
threshold 1 keeps only key agreements, and the one-to-one rule applies as for fuzzy."""

Runner = Callable[[Mapping[str, Any]], SecretTable]
_INT = ColumnSpec("matches", "int", nullable=False)


def run_link(p: Party, node: Mapping[str, Any], run: Runner) -> SecretTable:
    """Execute a ``link`` node; ``run`` evaluates its two scans (local loads)."""
    mode, reveal = node.get("mode"), node.get("reveal")
    params = node.get("params") or {}
    if mode not in ("exact", "fuzzy", "hybrid", "probabilistic") or reveal not in (
        "pairs",
        "own",
        "count",
    ):
        raise PlanError("link: unknown mode or reveal")
    if not isinstance(params, dict):
        raise PlanError("link: params must be an object")
    left, right = run(node["left"]), run(node["right"])
    try:
        fmt = [person_format([c.spec for c in t.columns.values()]) for t in (left, right)]
        prm = fuzzy_params(params) if mode in ("fuzzy", "hybrid") else None
        cfg = fs_config(params) if mode == "probabilistic" else None
    except ValueError as exc:
        raise PlanError(f"link: {exc}") from None
    if fmt[0] != fmt[1]:
        raise PlanError(
            f"link: the tables were encoded differently ({fmt[0][0]}, q={fmt[0][1]} vs "
            f"{fmt[1][0]}, q={fmt[1][1]}); re-upload one with the same pipeline"
        )
    if mode == "exact" and params:
        raise PlanError("link: exact mode takes no params")
    if left.n == 0 or right.n == 0:
        return _empty(p, reveal, left, right)
    if cfg is not None:
        em = (params.get("em", FS_DEFAULT_PARAMS["em"]) == 1) and left.n * right.n >= MIN_EM_PAIRS
        seed = hashlib.sha256(json.dumps(node, sort_keys=True).encode()).digest()
        dedupe = node["left"] == node["right"]
        blocking = node.get("blocking")
        if blocking is not None:
            if dedupe or not isinstance(blocking, dict):
                raise PlanError("link: blocked linkage needs two different tables")
            sl, sr = shared_people(left), shared_people(right)
            fw = fs_fit(p, sl, sr, cfg, seed) if em else replace(TRAINED_WEIGHTS, tf=cfg.tf)
            links = blocked_match(p, sl, sr, window=int(blocking["window"]), fs=FSScoring(fw, cfg))
            return _from_links(p, links, left, right, reveal)
        bits, _ = fs_match(
            p,
            shared_people(left),
            shared_people(right),
            cfg,
            weights=None if em else replace(TRAINED_WEIGHTS, tf=cfg.tf),
            seed=seed,
            dedupe=dedupe,
        )
        return _from_bits(p, bits, left, right, reveal)
    if prm is None:
        return _exact(p, left, right, reveal)
    blocking = node.get("blocking")
    if blocking is not None:
        if mode == "exact" or not isinstance(blocking, dict):
            raise PlanError("link: blocking is for fuzzy and hybrid linkage")
        if prm.w_all:
            raise PlanError("link: blocked linkage supports w_all = 0 only")
        links = blocked_match(
            p,
            shared_people(left),
            shared_people(right),
            prm,
            hybrid=mode == "hybrid",
            window=int(blocking["window"]),
        )
        return _from_links(p, links, left, right, reveal)
    bits = fuzzy_match(p, shared_people(left), shared_people(right), prm, hybrid=mode == "hybrid")
    return _from_bits(p, bits, left, right, reveal)


def with_persons(
    p: Party, tables: list[SecretTable], linkage: Mapping[str, Any]
) -> list[SecretTable]:
    """The person tables with a secret column ``person``: the linked person of each row.

    ``linkage`` is the plan's ``{"mode", "window", "rounds"}`` (and optional
    ``"params"``; for probabilistic only ``threshold``, the weight threshold in place of
    the trained one). All lists are linked at once
    (:func:`sharelake.linkage.blocked.link_lists`: fuzzy mode with the recommended
    hybrid parameters, or those of ``params`` in their place, probabilistic mode with
    the Fellegi-Sunter scorer and its trained weights
    (:data:`~sharelake.linkage.fs.TRAINED_WEIGHTS`, term frequencies over all lists;
    their term-frequency constants and threshold moved to the union's size by
    :func:`~sharelake.linkage.persons.union_weights`),
    exact mode with :data:`EXACT_PARAMS`; ``window`` None scores every pair in
    one pass over the union) and clustered
    (:func:`sharelake.linkage.blocked.cluster`, ``rounds`` rounds); rows filtered out
    (validity 0) link to nothing. LEAKAGE: as those two (sizes, k, passes, window,
    rounds); the labels stay secret.
    """
    links = _list_links(p, tables, linkage)
    labels = cluster(p, links, rounds=int(linkage["rounds"]))
    out, off = [], 0
    spec = ColumnSpec("person", "int", nullable=False)
    for t in tables:
        lab = AShare(labels.a[off : off + t.n], labels.b[off : off + t.n])
        off += t.n
        cols = dict(t.columns)
        cols["person"] = SecretColumn(spec, lab)
        out.append(SecretTable(cols, t.valid, t.name))
    return out


def _list_links(p: Party, tables: list[SecretTable], linkage: Mapping[str, Any]) -> ListLinks:
    """The one-to-one links of the k person ``tables`` (see :func:`with_persons`)."""
    try:
        fmts = {person_format([c.spec for c in t.columns.values()]) for t in tables}
    except ValueError as exc:
        raise PlanError(f"overlap by linkage: {exc}") from None
    if len(fmts) != 1:
        raise PlanError("overlap by linkage: the tables were encoded by different pipelines")
    mode, window, rounds = linkage.get("mode"), linkage.get("window"), linkage.get("rounds")
    if mode not in ("fuzzy", "exact", "probabilistic") or not isinstance(rounds, int):
        raise PlanError("overlap by linkage: unknown mode or rounds")
    given = dict(linkage.get("params") or {})
    if given and (mode == "exact" or (mode == "probabilistic" and set(given) != {"threshold"})):
        raise PlanError(
            "overlap by linkage: only fuzzy linkage takes scoring parameters "
            "(probabilistic: threshold)"
        )
    try:
        prm = fuzzy_params(given) if mode == "fuzzy" else EXACT_PARAMS
    except ValueError as exc:
        raise PlanError(f"overlap by linkage: {exc}") from None
    fs = None
    nn = sum(t.n for t in tables)
    if mode == "probabilistic":  # the trained weights moved to this union's (public) size
        weights = union_weights(TRAINED_WEIGHTS, nn)
        if "threshold" in given:
            weights = replace(weights, threshold=int(given["threshold"]))
        fs = FSScoring(weights, FSConfig())
    keys: tuple[str, ...] = BLOCK_KEYS
    if window is None:  # every pair: one pass whose window covers the union
        keys, window = BLOCK_KEYS[:1], max(1, nn - 1)
    return link_lists(
        p,
        [shared_people(t) for t in tables],
        prm,
        hybrid=True,
        keys=keys,
        window=int(window),
        valid=[t.valid for t in tables],
        fs=fs,
    )


def own_lists(
    p: Party,
    tables: list[SecretTable],
    linkage: Mapping[str, Any],
    *,
    labelled: list[SecretTable] | None = None,
) -> SecretTable:
    """The first list's records and, for each, the number of other lists holding its person.

    The k lists are linked and clustered into persons as in :func:`with_persons`; a
    record counts every other list that holds a record of its person (clustered: a record
    linked to list B only through a record of list C counts B and C). Construction: the
    union's rows carry their person label and, per other list j, the public 0/1 flag
    "this row is of list j"; a group-by on the label sums the flags of the valid rows
    (:func:`sharelake.relational.groupby.groupby`), an m:1 join brings each person's sums
    to the first list's rows (:func:`sharelake.relational.join.join`), and one batched
    comparison turns every sum into "list j holds the person" (sum >= 1). One row per
    record of the first table: ``record_id``, ``lists`` (k) and ``matches`` (0 .. k-1);
    valid when the record is valid and its person is on at least one other list.
    LEAKAGE: as :func:`with_persons` (the group-by and the join open nothing), then the
    compaction opens the number of valid rows (the first list's records whose person is
    on another list); the ``matches`` values go to the first list's owner only.
    ``labelled``: the lists with their ``person`` already (e.g. from a stored persons
    table, :mod:`sharelake.engine.persons_table`) instead of linking them here.
    """
    k = len(tables)
    if labelled is None:
        labelled = with_persons(p, tables, linkage)
    first = labelled[0]
    n = first.n
    person_spec = ColumnSpec("person", "int", nullable=False)
    flags = [f"list_{j}" for j in range(1, k)]
    rows: list[SecretTable] = []
    for i, t in enumerate(labelled):
        cols = {"person": t["person"]}
        for j, f in enumerate(flags, 1):
            cols[f] = _int_col(f, p.public_a(np.full(t.n, int(i == j), dtype=np.uint64)))
        rows.append(SecretTable(cols, t.valid, "persons"))
    union = concat(p, rows, name="persons")
    sums = groupby(p, union, ["person"], {f: (f, "sum") for f in flags})
    mine = SecretTable(
        {
            "record_id": _renamed(first[RECORD_ID], "record_id"),
            "person": SecretColumn(person_spec, first["person"].values),
        },
        first.valid,
        "own",
    )
    joined = join(p, mine, sums, on=["person"], how="inner", validate="m:1")
    bits = max(2, sum(t.n for t in tables).bit_length() + 2)
    on_list = msb_many(  # sum_j - 1 < 0: list j does not hold the person
        p, [joined[f].values.add_public(np.int64(-1), p.id) for f in flags], bits=bits
    )
    held = [b2a_bits(p, b.invert(p.id)) for b in on_list]
    matches = p.public_a(np.zeros(n, dtype=np.uint64))
    for h in held:
        matches = matches + h
    (none,) = msb_many(p, [matches.add_public(np.int64(-1), p.id)], bits=bits)  # matches < 1
    (linked,) = dots(p, [[(b2a_bits(p, none.invert(p.id)), first.valid)]])
    cols = {
        "record_id": _renamed(first[RECORD_ID], "record_id"),
        "lists": _int_col("lists", p.public_a(np.full(n, k, dtype=np.uint64))),
        "matches": _int_col("matches", matches),
    }
    return SecretTable(cols, linked, "link")


# ---- result tables -------------------------------------------------------------------------


def _renamed(col: SecretColumn, name: str) -> SecretColumn:
    return replace(col, spec=replace(col.spec, name=name))


def _int_col(name: str, x: AShare) -> SecretColumn:
    return SecretColumn(replace(_INT, name=name), x)


def _own(p: Party, left: SecretTable, matches: AShare, valid: AShare) -> SecretTable:
    lists = p.public_a(np.full(left.n, 2, dtype=np.uint64))
    cols = {
        "record_id": _renamed(left[RECORD_ID], "record_id"),
        "lists": _int_col("lists", lists),
        "matches": _int_col("matches", matches),
    }
    return SecretTable(cols, valid, "link")


def _count(p: Party, total: AShare) -> SecretTable:
    return SecretTable(
        {"matches": _int_col("matches", total.reshape(1))},
        p.public_a(np.ones(1, dtype=np.uint64)),
        "link",
    )


def _sum(x: AShare, axis: int | None = None) -> AShare:
    return AShare(x.a.sum(axis=axis, dtype=np.uint64), x.b.sum(axis=axis, dtype=np.uint64))


def _empty(p: Party, reveal: str, left: SecretTable, right: SecretTable) -> SecretTable:
    zero = p.public_a(np.zeros(left.n, dtype=np.uint64))
    if reveal == "count":
        return _count(p, p.public_a(np.zeros(1, dtype=np.uint64)))
    if reveal == "own":
        return _own(p, left, zero, zero)
    none = np.zeros(0, np.intp)
    cols = {
        "left_record_id": _renamed(left[RECORD_ID].take(none), "left_record_id"),
        "right_record_id": _renamed(right[RECORD_ID].take(none), "right_record_id"),
    }
    return SecretTable(cols, p.public_a(np.zeros(0, dtype=np.uint64)), "link")


# ---- exact ---------------------------------------------------------------------------------


def _exact(p: Party, left: SecretTable, right: SecretTable, reveal: str) -> SecretTable:
    links = exact_links(p, left, right, list(KEY_COLUMNS))
    if reveal == "count":
        return _count(p, _sum(links.found))
    if reveal == "own":
        return _own(p, left, _sum(links.found, axis=0), links.left)
    nk, n = links.found.a.shape
    pt = exact_pair_table(p, links)
    rows = np.tile(np.arange(n, dtype=np.intp), nk)
    return _pairs(p, left, right, rows, pt["right_row"].values, pt.valid)


def _pairs(
    p: Party, left: SecretTable, right: SecretTable, rows: Any, right_row: AShare, valid: AShare
) -> SecretTable:
    """(left_record_id of ``rows``, right_record_id of the secret ``right_row``), ``valid``.

    The right ids are fetched obliviously by a join with the right table's row numbers
    (:func:`sharelake.relational.join.join`, m:1).
    """
    spec_row = ColumnSpec("right_row", "int", nullable=False)
    cand = SecretTable(
        {
            "left_record_id": _renamed(left[RECORD_ID].take(rows), "left_record_id"),
            "right_row": SecretColumn(spec_row, right_row),
        },
        valid,
        "pairs",
    )
    ids = SecretTable(
        {
            "right_row": SecretColumn(spec_row, p.public_a(np.arange(right.n, dtype=np.uint64))),
            "right_record_id": _renamed(right[RECORD_ID], "right_record_id"),
        },
        right.valid,
        "ids",
    )
    joined = join(p, cand, ids, on=["right_row"], how="inner", validate="m:1")
    return joined.select(["left_record_id", "right_record_id"])


# ---- blocked fuzzy / hybrid ------------------------------------------------------------------


def _from_links(
    p: Party, links: BlockedLinks, left: SecretTable, right: SecretTable, reveal: str
) -> SecretTable:
    """Release tables from the one-to-one links of the sorted-neighbourhood blocking."""
    if reveal == "count":
        return _count(p, _sum(links.left_flag).reshape(1))
    if reveal == "own":
        return _own(p, left, links.left_flag, links.left_flag)
    rows = np.arange(left.n, dtype=np.intp)
    return _pairs(p, left, right, rows, links.left_partner, links.left_flag)


# ---- fuzzy / hybrid --------------------------------------------------------------------------


def _parts(col: SecretColumn) -> list[AShare]:
    out = [col.values.reshape(-1, 1) if col.values.a.ndim == 1 else col.values]
    if col.null is not None:
        out.append(col.null.reshape(-1, 1))
    if col.text is not None:
        out.append(col.text)
    return out


def _from_bits(
    p: Party, bits: BitShare, left: SecretTable, right: SecretTable, reveal: str
) -> SecretTable:
    """Release tables from the n x m mutual-best match bits (at most one 1 per row)."""
    n, m = left.n, right.n
    step = max(1, BLOCK_PAIRS // m)
    rid = right[RECORD_ID]
    parts = _parts(rid)
    widths = [x.a.shape[1] for x in parts]
    pa = np.concatenate([x.a for x in parts], axis=1)
    pb = np.concatenate([x.b for x in parts], axis=1)
    row_sums: list[AShare] = []
    picked: list[AShare] = []
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        x = b2a_bits(p, bits[r0 * m : r1 * m])
        xa, xb = x.a.reshape(r1 - r0, m), x.b.reshape(r1 - r0, m)
        row_sums.append(AShare(xa.sum(axis=1, dtype=np.uint64), xb.sum(axis=1, dtype=np.uint64)))
        if reveal == "pairs":
            # one resharing of the local product terms, verified in the malicious setting
            picked.append(matmul(p, AShare(xa, xb), AShare(pa, pb)))
    rows = AShare(np.concatenate([r.a for r in row_sums]), np.concatenate([r.b for r in row_sums]))
    if reveal == "count":
        return _count(p, _sum(rows))
    if reveal == "own":
        return _own(p, left, rows, rows)
    sel = AShare(np.concatenate([x.a for x in picked]), np.concatenate([x.b for x in picked]))
    got, off = [], 0
    for w in widths:
        got.append(AShare(sel.a[:, off : off + w], sel.b[:, off : off + w]))
        off += w
    values = got[0].reshape(n) if rid.values.a.ndim == 1 else got[0]
    k = 1
    null = None
    if rid.null is not None:
        null, k = got[k].reshape(n), k + 1
    text = got[k] if rid.text is not None else None
    right_col = SecretColumn(replace(rid.spec, name="right_record_id"), values, null, text)
    cols = {
        "left_record_id": _renamed(left[RECORD_ID], "left_record_id"),
        "right_record_id": right_col,
    }
    return SecretTable(cols, rows, "link")

"""Record linkage from the client: upload person tables with their encodings, link them.

:func:`upload_people` reads a person table (``record_id``, ``given_name``,
``family_name``, ``date_of_birth``: ISO 8601 ``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY`` or
empty), runs the versioned pipeline here, before anything is shared
(:func:`sharelake.linkage.encode.encode_people`), and uploads ``record_id``, any other
columns, and the encodings as secret columns (:mod:`sharelake.linkage.people_table`).
The names and the birth date themselves are not uploaded unless ``keep_names=True``.

:func:`link` builds a ``link`` plan (``docs/node-api.md``), checks locally that both
tables are person tables of the same pipeline, runs it with a progress indicator, and
returns the released rows as a DataFrame: ``pairs`` -> ``left_record_id``,
``right_record_id``; ``own`` -> ``record_id``, ``lists``, ``matches``; ``count`` ->
``matches``. The nodes refuse (403, audited) a reveal mode the policies do not allow
before anything runs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from ..errors import InputValidationError, SharelakeError
from ..linkage.blocking import DEFAULT_WINDOW
from ..linkage.encode import PERSON_COLUMNS, EncodingError, encode_people
from ..linkage.people_table import (
    DEFAULT_PARAMS,
    FS_DEFAULT_PARAMS,
    NAME_COLUMNS,
    RECORD_ID,
    encoded_columns,
    fs_config,
    fuzzy_params,
    link_policy,
    person_format,
)
from ..plan import nodes as pn
from ..relational.encode import encode_frame
from ..relational.table import ColumnSpec
from .upload import (
    UploadResult,
    check_new_table,
    infer_schema,
    load_policy,
    load_schema,
    read_data,
    share_and_commit,
    validate_names,
)

if TYPE_CHECKING:
    from .session import Session

__all__ = ["LinkageError", "link", "link_many", "link_plan", "upload_people"]

Mode = Literal["exact", "fuzzy", "hybrid", "probabilistic"]
Reveal = Literal["pairs", "own", "count"]
Blocking = Literal["auto", "none", "sorted_neighbourhood"]

AUTO_BLOCKING_PAIRS = 4_000_000
"""``blocking="auto"`` scores every pair up to this many (n x m) pairs and blocks above it.

All pairs cost about n m / 450k seconds on three nodes of two cores (LINKAGE.md); the
sorted-neighbourhood blocking about (n + m) (passes x window) pair scores plus one sort
of n + m records per pass. Up to 2,000 x 2,000 the all-pairs scorer is quick and finds
every pair it can score; beyond that its cost grows with n m and blocking wins.
"""


class LinkageError(SharelakeError):
    """A link cannot be asked for: not person tables, different pipelines, bad params."""


# ---- upload ----------------------------------------------------------------------------


def _check_ids(df: pd.DataFrame, source: str | None) -> None:
    ids = df[RECORD_ID]
    missing = ids.isna().to_numpy().nonzero()[0]
    if len(missing):
        raise InputValidationError(
            "record_id is missing", source=source, row=int(missing[0]) + 1, column=RECORD_ID
        )
    dup = ids.duplicated().to_numpy().nonzero()[0]
    if len(dup):
        raise InputValidationError(
            "record_id repeats an earlier row's",
            source=source,
            row=int(dup[0]) + 1,
            column=RECORD_ID,
        )


def upload_people(
    session: Session,
    data: pd.DataFrame | str | Path,
    name: str,
    *,
    policy: Mapping[str, Any] | str | Path | None = None,
    schema: Sequence[ColumnSpec] | Mapping[str, Any] | str | Path | None = None,
    keep_names: bool = False,
    upload_id: str | None = None,
    replace: bool = False,
    progress: bool = True,
    timeout: float | None = None,
) -> UploadResult:
    """Encode a person table at the client and upload it with its linkage encodings.

    Parameters
    ----------
    session
        The provider's session.
    data
        A DataFrame or a CSV/Parquet file with ``record_id``, ``given_name``,
        ``family_name``, ``date_of_birth`` (and any other columns).
    name
        The table's name in the lake.
    policy
        The table's policy; every encoding column it does not classify is ``match``
        (:func:`sharelake.linkage.people_table.link_policy`). For ``pairs`` releases to
        other members, set ``record_id = "reveal"``; every link reveals a match count,
        so ``release_sizes = true`` is needed too.
    schema
        Specs of ``record_id`` and the other columns (inferred when None).
    keep_names
        Also upload ``given_name``, ``family_name`` and ``date_of_birth`` (default: only
        their encodings leave this machine, so a compromise of all three nodes exposes
        no written name).
    upload_id, replace, progress, timeout
        As for :func:`sharelake.client.upload.upload`.

    Raises
    ------
    InputValidationError
        A missing or repeated ``record_id``, a missing column, a name that is not text or
        a malformed birth date (row and column named, never the value); nothing is sent.
    UploadError
        A node failed; the upload was aborted on all three nodes.

    Examples
    --------
    >>> session.upload_people("people.csv", "ngo_a_people",
    ...                       policy={"columns": {"record_id": "reveal"},
    ...                               "release_sizes": True})  # doctest: +SKIP
    """
    start = time.perf_counter()
    uid = upload_id or uuid.uuid4().hex
    validate_names(name, uid)
    text = [ColumnSpec(c, "string", True, max_len=8) for c in NAME_COLUMNS]
    df, source = read_data(data, text)
    missing = [c for c in PERSON_COLUMNS if c not in df.columns]
    if missing:
        raise InputValidationError(
            "a person table needs this column", source=source, column=missing[0]
        )
    _check_ids(df, source)
    try:
        enc = encode_people(df[list(PERSON_COLUMNS)])
    except EncodingError as exc:
        raise InputValidationError(str(exc), source=source) from None
    keep = [str(c) for c in df.columns if keep_names or str(c) not in NAME_COLUMNS]
    rest = df[keep]
    specs = load_schema(schema) if schema is not None else infer_schema(rest)
    specs = [dc_replace(s, nullable=False) if s.name == RECORD_ID else s for s in specs]
    extra = [c for c in keep if c not in {s.name for s in specs}]
    if extra:
        raise InputValidationError("column is not in the schema", source=source, column=extra[0])
    cols = encode_frame(rest, specs, source=source) + encoded_columns(enc)
    all_specs = [c.spec for c in cols]
    pol = link_policy(load_policy(policy), [s.name for s in all_specs])
    if upload_id is None:
        check_new_table(session, name, replace=replace)
    return share_and_commit(
        session,
        cols,
        name=name,
        policy=pol,
        uid=uid,
        rows=len(df),
        specs=all_specs,
        start=start,
        label=f"sharing {name} (encoded)",
        progress=progress,
        timeout=timeout,
        replace=replace,
    )


# ---- link ------------------------------------------------------------------------------


def link_plan(
    left: str,
    right: str,
    *,
    mode: Mode = "probabilistic",
    reveal: Reveal = "own",
    params: Mapping[str, int] | None = None,
    window: int | None = None,
) -> dict[str, Any]:
    """The ``link`` plan; fuzzy, hybrid and probabilistic plans carry every parameter.

    ``window``: the sorted-neighbourhood blocking's window (None: every pair).

    Raises
    ------
    LinkageError
        An unknown mode or reveal, params in exact mode, bad params, or a window in
        exact mode or outside 1..64.

    Examples
    --------
    >>> link_plan("a", "b", mode="exact", reveal="count")["root"]["params"]
    {}
    """
    if mode not in pn.LINK_MODES:
        raise LinkageError(f"unknown mode {mode!r} (one of {', '.join(pn.LINK_MODES)})")
    if reveal not in pn.LINK_REVEALS:
        raise LinkageError(f"unknown reveal {reveal!r} (one of {', '.join(pn.LINK_REVEALS)})")
    if mode == "exact":
        if params:
            raise LinkageError("exact linkage takes no scoring parameters")
        full: dict[str, int] = {}
    elif mode == "probabilistic":
        full = {**FS_DEFAULT_PARAMS, **dict(params or {})}
        try:
            fs_config(full)
        except ValueError as exc:
            raise LinkageError(str(exc)) from None
    else:
        full = {**DEFAULT_PARAMS, **dict(params or {})}
        try:
            fuzzy_params(full)
        except ValueError as exc:
            raise LinkageError(str(exc)) from None
    if window is not None and (mode == "exact" or not 1 <= window <= pn.MAX_LINK_WINDOW):
        raise LinkageError(
            f"a blocking window is for fuzzy, hybrid and probabilistic linkage, "
            f"1 to {pn.MAX_LINK_WINDOW}"
        )
    return pn.make_plan(
        pn.link(pn.scan(left), pn.scan(right), mode=mode, reveal=reveal, params=full, window=window)
    )


def _check_tables(session: Session, left: str, right: str) -> int:
    """Check both are person tables of one pipeline; returns n x m (the catalog's rows)."""
    infos = {t.name: t for t in session.tables()}
    fmts = []
    for name in (left, right):
        if name not in infos:
            session.table_info(name)  # raises UnknownTableError with the details
        try:
            fmts.append(person_format(infos[name].schema))
        except ValueError as exc:
            raise LinkageError(f"table {name!r}: {exc}") from None
    if fmts[0] != fmts[1]:
        raise LinkageError(
            f"tables {left!r} and {right!r} were encoded by different pipelines "
            f"({fmts[0][0]} q={fmts[0][1]}, {fmts[1][0]} q={fmts[1][1]})"
        )
    return int(infos[left].rows) * int(infos[right].rows)


def _window(blocking: str, window: int | None, mode: str, pairs: int) -> int | None:
    """The plan's window: None (all pairs) or the sorted-neighbourhood window."""
    if blocking not in ("auto", "none", "sorted_neighbourhood"):
        raise LinkageError(f"unknown blocking {blocking!r} (auto, none, sorted_neighbourhood)")
    if mode == "exact" or blocking == "none":
        return None
    if blocking == "auto" and pairs <= AUTO_BLOCKING_PAIRS:
        return None
    return DEFAULT_WINDOW if window is None else window


def link(
    session: Session,
    left: str,
    right: str,
    *,
    mode: Mode = "probabilistic",
    reveal: Reveal = "own",
    params: Mapping[str, int] | None = None,
    blocking: Blocking = "auto",
    window: int | None = None,
    progress: bool = True,
    timeout: float | None = None,
) -> pd.DataFrame:
    """Link two person tables inside MPC and return what ``reveal`` releases.

    Parameters
    ----------
    blocking
        ``"none"`` scores every pair; ``"sorted_neighbourhood"`` scores each record
        against the next ``window`` records (default
        :data:`~sharelake.linkage.blocking.DEFAULT_WINDOW`) in the order of each blocking
        key (LINKAGE.md); ``"auto"`` blocks when n x m exceeds
        :data:`AUTO_BLOCKING_PAIRS`. Exact linkage ignores it.

    Returns
    -------
    pandas.DataFrame
        ``pairs``: ``left_record_id``, ``right_record_id`` (sorted); ``own``:
        ``record_id``, ``lists``, ``matches`` (sorted by ``record_id``); ``count``: one
        row, ``matches``. ``attrs`` holds ``mode``, ``reveal`` and ``seconds``.

    Raises
    ------
    LinkageError
        Not person tables, different pipelines, or bad parameters (nothing sent).
    NodePolicyError
        The nodes refused the reveal mode under the tables' policies (nothing ran).
    """
    pairs = _check_tables(session, left, right)
    win = _window(blocking, window, mode, pairs)
    plan = link_plan(left, right, mode=mode, reveal=reveal, params=params, window=win)
    start = time.perf_counter()
    with _Spinner(progress, f"linking {left} x {right} ({mode}, reveal {reveal})"):
        df = session.query(plan, timeout=timeout, columns=pn.link_columns(reveal))
    if reveal == "pairs":
        df = df.sort_values(["left_record_id", "right_record_id"], kind="stable")
    elif reveal == "own":
        df = df.sort_values(["record_id"], kind="stable")
    df = df.reset_index(drop=True)
    df.attrs.update(
        mode=mode,
        reveal=reveal,
        blocking="none" if win is None else "sorted_neighbourhood",
        window=win,
        seconds=time.perf_counter() - start,
    )
    return df


class _Spinner:
    """An indeterminate progress indicator with the elapsed time (rich), or nothing."""

    def __init__(self, enabled: bool, text: str) -> None:
        self.bar: Any = None
        if enabled:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()
            )
            self.bar.add_task(text, total=None)

    def __enter__(self) -> _Spinner:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def link_many(
    session: Session,
    tables: Sequence[str],
    *,
    mode: Literal["fuzzy", "exact", "probabilistic"] = "fuzzy",
    reveal: Literal["overlap", "count", "own"] = "overlap",
    window: int | None = None,
    rounds: int | None = None,
    progress: bool = True,
    timeout: float | None = None,
) -> pd.DataFrame:
    """Link k person tables at once into persons and return the overlap or the count.

    The records of all tables are linked one-to-one per pair of tables and clustered into
    persons inside MPC (``sharelake.overlap(..., on="person", linkage=mode)``, LINKAGE.md
    section 4d); the persons are secret ids that never leave MPC.

    Returns
    -------
    pandas.DataFrame
        ``overlap``: the capture-history table (``in_<table>`` columns, ``count``);
        ``count``: one row, ``persons``: the sum of the released cells (distinct persons
        over all tables; a cell the owners' ``min_group_size`` suppresses is missing
        from it, so ask for ``overlap`` to see which). ``own``: the records of the first
        table (the caller's own list; only its owner may ask) that are linked to some
        other list: ``record_id``, ``lists`` (k) and ``matches`` (how many of the other
        lists hold a record linked to it). ``attrs`` hold ``mode``, ``window`` and
        ``rounds``.

    Raises
    ------
    LinkageError
        Fewer than two tables, an unknown mode or reveal, or not person tables.
    """
    from .frame import overlap

    if len(tables) < 2:
        raise LinkageError("linking lists needs at least two tables")
    if mode not in ("fuzzy", "exact", "probabilistic") or reveal not in ("overlap", "count", "own"):
        raise LinkageError(
            "k lists link in mode 'probabilistic', 'fuzzy' or 'exact', "
            "reveal 'overlap', 'count' or 'own'"
        )
    infos = {t.name: t for t in session.tables()}
    for name in tables:
        if name not in infos:
            session.table_info(name)
        try:
            person_format(infos[name].schema)
        except ValueError as exc:
            raise LinkageError(f"table {name!r}: {exc}") from None
    q = overlap(
        [session.table(t) for t in tables],
        on="person",
        linkage=mode,
        window="auto" if window is None else window,
        rounds=rounds,
        reveal="own" if reveal == "own" else "overlap",
    )
    lk = q.plan["root"]["linkage"]
    start = time.perf_counter()
    with _Spinner(progress, f"linking {len(tables)} lists into persons ({mode})"):
        df = q.collect(timeout=timeout)
    if reveal == "count":
        df = pd.DataFrame({"persons": [int(pd.to_numeric(df["count"]).fillna(0).sum())]})
    df.attrs.update(
        mode=mode,
        window=lk["window"],
        rounds=lk["rounds"],
        seconds=time.perf_counter() - start,
    )
    return df

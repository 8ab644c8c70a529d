"""Upload: validate at the client, secret-share at the client, two-phase commit on all nodes.

Steps of :func:`upload`:

1. read the data (a DataFrame, a CSV or a Parquet file) and settle the schema (given,
   or inferred by :func:`infer_schema`);
2. validate every value against the schema (:func:`sharelake.relational.encode.encode_frame`):
   a bad value stops the upload with an error naming the file, row and column, before
   anything is shared or sent;
3. split every column into three replicated sharings (:mod:`sharelake.client.bundles`);
   node i receives only its pair, so no node ever sees a plaintext value;
4. ``prepare`` on the three nodes in parallel (staged, invisible), then ``commit`` on
   the three (they compare share digests and publish). On any failure the upload is
   aborted on all three nodes and the error is raised; calling again with the same
   ``upload_id`` is safe.

Retries: the sharing randomness comes from a PRG keyed by a secret that only the
uploading member can derive (a hash of its Ed25519 signature over the upload id and a
digest of the encoded data). The same data under the same id therefore gives the very
same shares, so a retry after a lost answer, or of an upload that did commit, is
recognised by the nodes as the same upload; different data, or another id, gets
independent randomness (reusing masks across different data would leak differences).

Schema inference rule (:func:`infer_schema`), per column:

* boolean dtype -> ``bool``; integer dtype -> ``int``;
* float dtype -> ``int`` when every present value is a whole number and some are
  missing (this is how pandas reads an integer column with gaps), else ``fixed``
  (16 fractional bits);
* datetime dtype, or text that is all ISO dates ``YYYY-MM-DD`` -> ``date``;
* other text -> ``category`` when it has at most :data:`CATEGORY_MAX_VALUES` distinct
  values and each occurs at least :data:`CATEGORY_MIN_COUNT` times (the dictionary
  becomes public in the catalog, so rare values never go into it), else ``string``
  with ``max_len`` = the longest UTF-8 length rounded up to a power of two (at least 8),
  so the exact longest value is not disclosed; a value longer than
  :data:`INFER_MAX_STRING` bytes is refused naming its row and column (a schema with an
  explicit ``max_len`` uploads longer text on purpose);
* a text column whose values are mostly (:data:`MOSTLY`) numbers, or mostly dates (ISO or
  a common day/month order), but not all ISO dates or numbers, is refused naming the
  column and up to five rows: inference never turns a number or date column into text
  silently (``lenient=True`` makes it text with a logged warning listing the rows);
* a column is ``nullable`` when it has a missing value.

``sharelake schema infer CSV --out schema.toml`` writes the inferred schema in the format
:func:`load_schema` reads (``[[columns]]`` tables), to edit and pass as ``--schema``.

A CSV file is refused, naming the file, when its header repeats a column name (pandas
would rename the copies silently) or when it has a header but no rows (it would make an
empty table); a DataFrame with repeated column names is refused the same way.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import re
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputValidationError, SharelakeError
from ..relational.encode import EncodedColumn, encode_frame
from ..relational.table import (
    KINDS,
    NORMALIZATIONS,
    ColumnSpec,
    normalize_text,
    spec_from_json,
    spec_to_json,
)
from .bundles import Bundle, column_parts, data_digest, share_bundles, share_into_bundles
from .preview import UploadPreview, summarise

if TYPE_CHECKING:
    from .connection import Connection
    from .transport import Reply

log = logging.getLogger(__name__)

__all__ = [
    "CATEGORY_MAX_VALUES",
    "CATEGORY_MIN_COUNT",
    "MOSTLY",
    "ExistingTableError",
    "UploadDeclinedError",
    "UploadError",
    "UploadResult",
    "check_new_table",
    "infer_schema",
    "load_policy",
    "load_schema",
    "preview_upload",
    "read_data",
    "schema_toml",
    "share_bundles",
    "upload",
]

CATEGORY_MAX_VALUES = 20
CATEGORY_MIN_COUNT = 5
_TABLE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
_DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
_NUMBER_RE = r"[+-]?\d+(?:[.,]\d+)?"
# ISO and the common day/month orders with -, / or . between the parts
_DATE_LIKE_RE = r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
MOSTLY = 0.8
"""Share of a text column's values that makes inference call it numbers or dates."""
_CHUNK = 4 << 20


class UploadError(SharelakeError):
    """The upload failed on a node and was aborted on all; retry with ``upload_id``."""

    def __init__(self, message: str, *, upload_id: str, node: int | None = None) -> None:
        super().__init__(message)
        self.upload_id = upload_id
        self.node = node


class ExistingTableError(InputValidationError):
    """An upload to a table name that exists, without ``replace=True``; nothing was sent."""


class UploadDeclinedError(InputValidationError):
    """The uploader did not confirm the preview (``confirm`` returned False); nothing was
    sent."""


def check_new_table(session: Connection, name: str, *, replace: bool) -> None:
    """Refuse, before anything is shared, an upload that would silently replace a table.

    Every node is asked for its list of tables; a table of that name on any of them
    (whatever its version there) refuses the upload unless ``replace``. The nodes check
    again at prepare (the bundle says ``"replace"``), so a table created meanwhile is
    not replaced either.

    Raises
    ------
    ExistingTableError
        Table ``name`` exists and ``replace`` is false (names its version).
    """
    if replace:
        return
    lists = [r.json() for r in session.on_each("GET", "/v1/tables")]
    versions = sorted(
        {int(d.get("version", 0)) for lst in lists for d in lst if d.get("name") == name}
    )
    if not versions:
        return
    v = versions[-1]
    raise ExistingTableError(
        f"table {name!r} exists (version {v}); uploading again would make version {v + 1} "
        f"and void the approvals and budgets bound to version {v}. Upload with "
        "replace=True (CLI: --replace) to replace it, or choose another table name"
    )


@dataclass(frozen=True)
class UploadResult:
    """What an upload stored.

    Attributes
    ----------
    table, version
        The committed table and its version number.
    rows
        Number of rows.
    schema
        The column specs used (given or inferred).
    upload_id
        The id of the two-phase upload (pass it again to retry safely).
    seconds
        Wall time of the whole upload.
    """

    table: str
    version: int
    rows: int
    schema: tuple[ColumnSpec, ...]
    upload_id: str
    seconds: float

    @property
    def rows_per_second(self) -> float:
        """Upload throughput."""
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


# ---- input ------------------------------------------------------------------------------


INFER_MAX_STRING = 1024
"""Longest text value (UTF-8 bytes) schema inference accepts in a ``string`` column."""


def _check_names(names: Sequence[object], source: str | None) -> None:
    counts: dict[str, int] = {}
    for n in names:
        counts[str(n)] = counts.get(str(n), 0) + 1
    repeated = sorted(k for k, c in counts.items() if c > 1)
    if repeated:
        raise InputValidationError(
            "the header repeats the column name(s) " + ", ".join(repr(r) for r in repeated),
            source=source,
        )


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
        return next(csv.reader(f), [])


def _text_kinds(schema: Sequence[ColumnSpec] | None) -> dict[str, Any]:
    if schema is None:
        return {}
    return {s.name: str for s in schema if s.kind in ("string", "category", "date")}


def read_data(
    data: pd.DataFrame | str | Path, schema: Sequence[ColumnSpec] | None = None
) -> tuple[pd.DataFrame, str | None]:
    """The DataFrame to upload and its source name (the file, for error messages).

    CSV text columns of the schema are read as text (so ``"007"`` stays ``"007"``).
    """
    if isinstance(data, pd.DataFrame):
        _check_names(list(data.columns), None)
        return data.reset_index(drop=True), None
    path = Path(data)
    if not path.is_file():
        raise InputValidationError("file not found", source=str(path))
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(path).reset_index(drop=True)
        else:
            _check_names(_csv_header(path), str(path))
            df = pd.read_csv(path, dtype=_text_kinds(schema) or None)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputValidationError(f"cannot read the file: {first}", source=str(path)) from None
    _check_names(list(df.columns), str(path))
    if len(df) == 0:
        raise InputValidationError(
            "the file has a header but no rows: refusing to make an empty table",
            source=str(path),
        )
    return df, str(path)


def _pow2(n: int) -> int:
    return max(8, 1 << max(n - 1, 0).bit_length())


def _iso_date(v: str) -> bool:
    if not re.match(_DATE_RE, v):
        return False
    try:
        pd.to_datetime(v, format="%Y-%m-%d")
    except ValueError:
        return False
    return True


def _refuse_mixed(name: str, s: pd.Series[Any], source: str | None, *, lenient: bool) -> None:
    """A text column whose values are mostly numbers or mostly dates is an error naming
    the rows that are not (or, ``lenient``, text with a logged warning listing them)."""
    present = s.notna()
    text = s[present].astype(str).str.strip()
    if len(text) == 0:
        return
    numeric = text.str.fullmatch(_NUMBER_RE)
    datelike = text.str.fullmatch(_DATE_LIKE_RE)
    if float(numeric.mean()) >= MOSTLY:
        what, bad = "numbers", ~numeric
        fix = "correct them or leave them empty"
    elif float(datelike.mean()) >= MOSTLY:
        what, bad = "dates", ~text.map(_iso_date).astype(bool)
        fix = "write them as ISO dates YYYY-MM-DD (or leave them empty)"
    else:
        return
    if not bool(bad.any()):
        return
    positions = np.flatnonzero(present.to_numpy())[bad.to_numpy()] + 1  # rows from 1
    rows = ", ".join(str(int(r)) for r in positions[:5])
    more = f" and {len(positions) - 5} more" if len(positions) > 5 else ""
    message = (
        f"the column is mostly {what}, but {len(positions)} value(s) are not: rows {rows}{more}"
    )
    if lenient:
        where = f"file {source}, " if source else ""
        log.warning("%scolumn %r: %s; uploaded as text (lenient)", where, name, message)
        return
    raise InputValidationError(
        f"{message}; {fix}, give the column a kind in a schema file "
        "(sharelake schema infer), or pass lenient=True (CLI: --lenient) to upload it as text",
        source=source,
        column=name,
    )


def _infer_column(
    name: str, s: pd.Series[Any], source: str | None = None, *, lenient: bool = False
) -> ColumnSpec:
    nullable = bool(s.isna().any())
    present = s.dropna()
    if pd.api.types.is_bool_dtype(s.dtype):
        return ColumnSpec(name, "bool", nullable)
    if pd.api.types.is_integer_dtype(s.dtype):
        return ColumnSpec(name, "int", nullable)
    if pd.api.types.is_float_dtype(s.dtype):
        whole = bool(np.all(np.mod(present.to_numpy(dtype=np.float64), 1) == 0))
        return ColumnSpec(name, "int" if nullable and whole and len(present) else "fixed", nullable)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return ColumnSpec(name, "date", nullable)
    text = present.astype(str)
    if len(text) and bool(text.str.match(_DATE_RE).all()):
        try:
            pd.to_datetime(text, format="%Y-%m-%d")
            return ColumnSpec(name, "date", nullable)
        except ValueError:
            pass
    _refuse_mixed(name, s, source, lenient=lenient)
    counts = text.value_counts()
    if 0 < len(counts) <= CATEGORY_MAX_VALUES and int(counts.min()) >= CATEGORY_MIN_COUNT:
        return ColumnSpec(name, "category", nullable, categories=tuple(sorted(counts.index)))
    sizes = text.map(lambda v: len(v.encode("utf-8")))
    longest = int(sizes.max()) if len(text) else 1
    if longest > INFER_MAX_STRING:
        row = int(np.argmax(s.map(lambda v: -1 if pd.isna(v) else len(str(v).encode())))) + 1
        raise InputValidationError(
            f"a text value of {longest} bytes is longer than schema inference accepts "
            f"({INFER_MAX_STRING}); give the column a schema with max_len to upload it",
            source=source,
            row=row,
            column=name,
        )
    return ColumnSpec(name, "string", nullable, max_len=_pow2(longest))


def infer_schema(
    df: pd.DataFrame, *, source: str | None = None, lenient: bool = False
) -> list[ColumnSpec]:
    """A schema for ``df`` by the rule in the module docstring.

    ``source`` names the file in errors. A text column whose values are mostly numbers
    or mostly dates (at least :data:`MOSTLY` of them) but not all is an
    :class:`~sharelake.errors.InputValidationError` naming the column and up to five
    rows (then how many more); with ``lenient`` it becomes text and a warning listing
    them is logged. Every column is inspected: the error lists the problems of all
    columns (``exc.found``), not only the first.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [30, 41], "score": [0.5, 1.25], "name": ["Ann", "Bo"]})
    >>> [(s.name, s.kind) for s in infer_schema(df)]
    [('age', 'int'), ('score', 'fixed'), ('name', 'string')]
    """
    specs: list[ColumnSpec] = []
    problems: list[InputValidationError] = []
    for c in df.columns:  # every column is looked at: all problems are listed at once
        try:
            specs.append(_infer_column(str(c), df[c], source, lenient=lenient))
        except InputValidationError as exc:
            problems.append(exc)
    if problems:
        raise InputValidationError.all_of(problems, source=source)
    return specs


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)  # a TOML basic string


def schema_toml(specs: Sequence[ColumnSpec]) -> str:
    """The schema file (TOML) :func:`load_schema` reads: one ``[[columns]]`` per column.

    Each entry has ``name``, ``kind`` (``int``, ``fixed``, ``bool``, ``date``, ``category``,
    ``string``) and ``nullable``; a ``category`` its ``categories`` (its public
    dictionary), a ``string`` its ``max_len`` (bytes), a ``fixed`` its ``frac_bits``.

    Examples
    --------
    >>> print(schema_toml([ColumnSpec("age", "int", False)]))
    # sharelake schema: edit the kinds, then upload with --schema this file
    <BLANKLINE>
    [[columns]]
    name = "age"
    kind = "int"
    nullable = false
    <BLANKLINE>
    >>> load_schema(tomllib.loads(schema_toml([ColumnSpec("age", "int", False)])))[0].kind
    'int'
    """
    lines = ["# sharelake schema: edit the kinds, then upload with --schema this file", ""]
    for spec in specs:
        lines += ["[[columns]]", f"name = {_toml_value(spec.name)}"]
        lines += [f'kind = "{spec.kind}"', f"nullable = {_toml_value(spec.nullable)}"]
        if spec.kind == "category" and spec.categories is not None:
            lines.append(f"categories = {_toml_value(list(spec.categories))}")
            if spec.ordered:
                lines.append("ordered = true")
        if spec.kind == "string":
            lines.append(f"max_len = {spec.max_len}")
        if spec.normalized:
            lines.append(f"normalized = {_toml_value(list(spec.normalized))}")
        if spec.kind == "fixed":
            lines.append(f"frac_bits = {spec.frac_bits}")
        lines.append("")
    return "\n".join(lines)


def _spec_entry(name: str | None, raw: Any, where: str) -> ColumnSpec:
    d: dict[str, Any] = {"kind": raw} if isinstance(raw, str) else dict(raw)
    if name is not None:
        d.setdefault("name", name)
    if d.get("kind") not in KINDS:
        raise InputValidationError(
            f"schema {where}: kind must be one of {', '.join(KINDS)}, not {d.get('kind')!r}",
            column=d.get("name"),
        )
    if not isinstance(d.get("ordered", False), bool):
        raise InputValidationError(
            f"schema {where}: ordered must be true or false", column=d.get("name")
        )
    try:
        return spec_from_json(d)
    except ValueError as exc:
        raise InputValidationError(f"schema {where}: {exc}", column=d.get("name")) from None


def load_schema(schema: Sequence[ColumnSpec] | Mapping[str, Any] | str | Path) -> list[ColumnSpec]:
    """A schema from specs, a dict or a TOML file.

    Accepted forms: a list of :class:`ColumnSpec`; ``{"columns": [{"name", "kind", ...}]}``
    (also the TOML file form, ``[[columns]]``); or ``{name: kind}`` /
    ``{name: {"kind": ..., "nullable": ..., "categories": [...], "max_len": ...}}``.

    Examples
    --------
    >>> [s.kind for s in load_schema({"age": "int", "region": {"kind": "category",
    ...                                "categories": ["north", "south"]}})]
    ['int', 'category']
    """
    if isinstance(schema, str | Path):
        p = Path(schema)
        try:
            doc: Mapping[str, Any] = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InputValidationError(f"cannot read the schema: {exc}", source=str(p)) from None
        return load_schema(doc)
    if isinstance(schema, Mapping):
        if "columns" in schema and isinstance(schema["columns"], list):
            return [_spec_entry(None, e, f"columns[{i}]") for i, e in enumerate(schema["columns"])]
        return [_spec_entry(str(k), v, str(k)) for k, v in schema.items()]
    out = list(schema)
    if not all(isinstance(s, ColumnSpec) for s in out):
        raise TypeError("schema must be ColumnSpecs, a dict or a TOML file")
    return out


def load_policy(policy: Mapping[str, Any] | str | Path | None) -> dict[str, Any]:
    """The policy as a dict: given, read from a TOML file, or ``{}`` (the nodes' default)."""
    if policy is None:
        return {}
    if isinstance(policy, Mapping):
        return dict(policy)
    p = Path(policy)
    try:
        return dict(tomllib.loads(p.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputValidationError(f"cannot read the policy: {exc}", source=str(p)) from None


# ---- the upload -------------------------------------------------------------------------


ProgressCallback = Callable[[str, float, float], None]
"""Called as ``(step, done, total)`` while an upload shares and sends (e.g. the portal's bar)."""


class _Progress:
    """A rich progress display, a callback, or nothing."""

    def __init__(self, enabled: bool | ProgressCallback, name: str) -> None:
        self.bar: Any = None
        self.callback = enabled if callable(enabled) else None
        self.tasks: list[list[Any]] = []  # [description, done, total] for the callback
        if enabled is True:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
        self.name = name

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def task(self, description: str, total: float) -> int | None:
        if self.callback is not None:
            self.tasks.append([description, 0.0, float(total)])
            self.callback(description, 0.0, float(total))
            return len(self.tasks) - 1
        return None if self.bar is None else int(self.bar.add_task(description, total=total))

    def advance(self, task: int | None, n: float = 1) -> None:
        if self.callback is not None and task is not None:
            t = self.tasks[task]
            t[1] += n
            self.callback(str(t[0]), float(t[1]), float(t[2]))
        elif self.bar is not None and task is not None:
            self.bar.advance(task, n)


def validate_names(name: str, upload_id: str) -> None:
    """Refuse a table name or upload id that the nodes would refuse, before any sharing."""
    if not _TABLE_RE.fullmatch(name):
        raise InputValidationError(
            f"table name {name!r}: use a letter then letters, digits or '_' (at most 63)"
        )
    if not _ID_RE.fullmatch(upload_id):
        raise InputValidationError(f"upload id {upload_id!r}: use 8-64 letters, digits, '_', '-'")


def upload(
    session: Connection,
    data: pd.DataFrame | str | Path,
    name: str,
    *,
    schema: Sequence[ColumnSpec] | Mapping[str, Any] | str | Path | None = None,
    policy: Mapping[str, Any] | str | Path | None = None,
    upload_id: str | None = None,
    replace: bool = False,
    lenient: bool = False,
    progress: bool | ProgressCallback = True,
    timeout: float | None = None,
    confirm: Callable[[UploadPreview], bool] | None = None,
    normalize: Mapping[str, str | Sequence[str]] | None = None,
) -> UploadResult:
    """Validate, secret-share and upload ``data`` as table ``name`` (all-or-nothing).

    Parameters
    ----------
    session
        The provider's session (:func:`sharelake.connect`).
    data
        A DataFrame, or the path of a CSV or Parquet file.
    name
        The table's name in the lake.
    schema
        Column specs, a dict, or a schema TOML file; inferred from the data when None
        (see the module docstring for the rule).
    policy
        The table's policy (dict or TOML file); the nodes' default when None.
    upload_id
        Id of this upload; pass the id of a failed attempt to retry it safely.
    replace
        Allow replacing an existing table of that name (a new version; the approvals
        and budgets bound to the old version are void). Without it an existing name is
        refused, here and by every node.
    lenient
        Without a schema: upload a text column that is mostly numbers or dates but has
        a few other values as text, with a logged warning naming the rows (default:
        refused, naming them).
    progress
        Show a progress bar (True), nothing (False), or call ``progress(step, done,
        total)`` as each step advances (:data:`ProgressCallback`).
    timeout
        Seconds per node request (default: the session's).
    confirm
        Called with the :class:`~sharelake.client.preview.UploadPreview` (columns,
        kinds, row count, public details, problems found) after every value is
        validated and before anything is sent; the upload goes on only if it returns
        True (the CLI prints the preview and asks, or takes ``--yes``).
    normalize
        Text normalisations done here before anything is shared, per column:
        ``{"name": "strip,lower"}`` (any of ``strip``, ``lower``, ``upper``). pandas'
        ``.str.lower()``/``.upper()``/``.strip()`` are not computed on secret strings;
        this is where they happen. The schema records them (a schema file may list
        them as ``normalized = ["strip", "lower"]``), and a text compared with the
        column later is normalised alike (``t.name == "Anna"`` finds ``"anna"``).

    Returns
    -------
    UploadResult

    Raises
    ------
    InputValidationError
        A value does not fit the schema (names the file, row and column). Raised
        before anything is sent.
    ExistingTableError
        Table ``name`` exists and ``replace`` is false; nothing is sent.
    UploadDeclinedError
        ``confirm`` returned False; nothing is sent.
    UploadError
        A node failed; the upload was aborted on all three nodes.

    Examples
    --------
    >>> res = session.upload("people.csv", "people", policy="policy.toml")  # doctest: +SKIP
    >>> res.rows, res.version  # doctest: +SKIP
    (1000, 1)
    """
    start = time.perf_counter()
    uid = upload_id or uuid.uuid4().hex
    validate_names(name, uid)
    df, specs, source, cols, lenient_cols = _prepare(data, schema, lenient, normalize)
    pol = load_policy(policy)
    if confirm is not None:
        preview = summarise(df, specs, table=name, source=source, lenient_columns=lenient_cols)
        if not confirm(preview):
            raise UploadDeclinedError(
                "the upload was not confirmed: nothing was sent", source=source
            )
    if upload_id is None:  # a retry may find its own partly committed version: nodes decide
        check_new_table(session, name, replace=replace)
    return share_and_commit(
        session,
        cols,
        name=name,
        policy=pol,
        uid=uid,
        rows=len(df),
        specs=specs,
        start=start,
        label=f"sharing {name}",
        progress=progress,
        timeout=timeout,
        replace=replace,
    )


def _steps(raw: str | Sequence[str], column: str, source: str | None) -> tuple[str, ...]:
    """The normalisations named by ``raw`` ("strip,lower" or a list), in applied order."""
    names = re.split(r"[,\s]+", raw.strip()) if isinstance(raw, str) else [str(n) for n in raw]
    bad = [n for n in names if n and n not in NORMALIZATIONS]
    if bad:
        raise InputValidationError(
            f"unknown normalisation {bad[0]!r} (use {', '.join(NORMALIZATIONS)})",
            source=source,
            column=column,
        )
    if "lower" in names and "upper" in names:
        raise InputValidationError(
            "normalise to lower or upper, not both", source=source, column=column
        )
    return tuple(n for n in NORMALIZATIONS if n in names)


def _normalize(
    df: pd.DataFrame,
    specs: list[ColumnSpec] | None,
    normalize: Mapping[str, str | Sequence[str]] | None,
    source: str | None,
) -> dict[str, tuple[str, ...]]:
    """Apply the upload normalisations (the argument's and the schema file's) to ``df``'s
    text values in place; returns them per column."""
    wanted = {s.name: s.normalized for s in specs or () if s.normalized}
    for column, raw in (normalize or {}).items():
        steps = _steps(raw, column, source)
        wanted[column] = tuple(
            n for n in NORMALIZATIONS if n in steps or n in wanted.get(column, ())
        )
        _steps(list(wanted[column]), column, source)  # lower and upper from two places
    for column, steps in wanted.items():
        if column not in df.columns:
            raise InputValidationError(
                "a column to normalise is not in the data", source=source, column=column
            )
        df[column] = df[column].map(
            lambda v, st=steps: normalize_text(v, st) if isinstance(v, str) else v
        )
    return wanted


def _prepare(
    data: pd.DataFrame | str | Path,
    schema: Sequence[ColumnSpec] | Mapping[str, Any] | str | Path | None,
    lenient: bool,
    normalize: Mapping[str, str | Sequence[str]] | None = None,
) -> tuple[pd.DataFrame, list[ColumnSpec], str | None, list[EncodedColumn], list[str]]:
    """Read, normalise the text the owner asked for, settle the schema and validate every
    value (nothing is sent): the frame, specs, source, encoded columns and the columns
    made text under ``lenient``."""
    specs = load_schema(schema) if schema is not None else None
    df, source = read_data(data, specs)
    if normalize or any(s.normalized for s in specs or ()):
        df = df.copy()  # never the caller's frame
    steps = _normalize(df, specs, normalize, source)
    lenient_cols: list[str] = []
    if specs is None:
        specs = infer_schema(df, source=source, lenient=lenient)
        for s in specs:
            if lenient and s.kind == "string":
                try:
                    _refuse_mixed(s.name, df[s.name], source, lenient=False)
                except InputValidationError:
                    lenient_cols.append(s.name)
    extra = [str(c) for c in df.columns if str(c) not in {s.name for s in specs}]
    if extra:
        raise InputValidationError("column is not in the schema", source=source, column=extra[0])
    for i, spec in enumerate(specs):
        if spec.name in steps:
            if spec.kind not in ("string", "category"):
                raise InputValidationError(
                    f"only text columns are normalised; this column is {spec.kind}",
                    source=source,
                    column=spec.name,
                )
            specs[i] = replace(spec, normalized=steps[spec.name])
    cols = encode_frame(df, specs, source=source)  # every value checked before sharing
    return df, specs, source, cols, lenient_cols


def preview_upload(
    data: pd.DataFrame | str | Path,
    name: str,
    *,
    schema: Sequence[ColumnSpec] | Mapping[str, Any] | str | Path | None = None,
    lenient: bool = False,
    normalize: Mapping[str, str | Sequence[str]] | None = None,
) -> UploadPreview:
    """What uploading ``data`` as ``name`` would share, checked as the upload checks it;
    nothing is sent (no node is contacted).

    Raises the :class:`~sharelake.errors.InputValidationError` the upload would (file,
    row, column) when a value does not fit.

    Examples
    --------
    >>> import pandas as pd
    >>> pv = preview_upload(pd.DataFrame({"age": [30, 41]}), "people")
    >>> pv.rows, pv.columns[0].spec.kind
    (2, 'int')
    """
    df, specs, source, _, lenient_cols = _prepare(data, schema, lenient, normalize)
    return summarise(df, specs, table=name, source=source, lenient_columns=lenient_cols)


def share_and_commit(
    session: Connection,
    cols: list[EncodedColumn],
    *,
    name: str,
    policy: Mapping[str, Any],
    uid: str,
    rows: int,
    specs: Sequence[ColumnSpec],
    start: float,
    label: str,
    progress: bool | ProgressCallback,
    timeout: float | None,
    replace: bool = False,
) -> UploadResult:
    """Secret-share encoded columns into the three nodes' bundles and upload them in two
    phases (prepare on all, then commit on all), with progress bars. Each node refuses
    (409) when the table exists and ``replace`` is false.

    A policy naming a purpose the consortium file does not list is refused here, before
    anything is shared (the nodes refuse it too).
    """
    agreed = session.consortium.agreed_purposes
    named = policy.get("purposes") if isinstance(policy, Mapping) else None
    for purpose in named if isinstance(named, list | tuple) else ():
        if purpose not in agreed:
            raise InputValidationError(
                f"table {name!r}: policy: purpose {purpose!r} is not agreed in the consortium "
                f"(agreed: {', '.join(sorted(agreed))})"
            )
    meta = {
        "table": name,
        "owner": session.member,
        "rows": rows,
        "schema": [spec_to_json(s) for s in specs],
        "policy": dict(policy),
        "replace": bool(replace),
    }
    with _Progress(progress, name) as bar:
        size = sum(x.nbytes for c in cols for _, x in column_parts(c))
        t_share = bar.task(label, size)
        key = session.derive_key(b"upload\x00" + uid.encode("ascii") + data_digest(name, cols))
        bundles = share_into_bundles(cols, meta, key=key, on_column=partial(bar.advance, t_share))
        del cols
        tasks = [bar.task(f"to {session.node_name(i)}", len(b.data)) for i, b in enumerate(bundles)]
        version = _two_phase(session, uid, bundles, tasks, bar, timeout)
    return UploadResult(
        table=name,
        version=version,
        rows=rows,
        schema=tuple(specs),
        upload_id=uid,
        seconds=time.perf_counter() - start,
    )


def _two_phase(
    session: Connection,
    uid: str,
    bundles: Sequence[Bundle | bytes],
    tasks: Sequence[int | None],
    bar: _Progress,
    timeout: float | None,
) -> int:
    base = f"/v1/uploads/{uid}"

    def send(i: int) -> Reply:
        bundle = bundles[i]
        data = bundle.data if isinstance(bundle, Bundle) else bundle

        def chunks(body: bytes) -> Iterator[bytes]:
            view = memoryview(data)  # streamed in pieces: never copied whole
            for k in range(0, len(data), _CHUNK):
                piece = view[k : k + _CHUNK]
                yield piece  # type: ignore[misc]
                bar.advance(tasks[i], len(piece))

        return session.request(
            i,
            "POST",
            f"{base}/prepare",
            data,  # type: ignore[arg-type]
            content_type="application/octet-stream",
            timeout=timeout,
            chunks=chunks,
            body_sha256=bundle.sha256 if isinstance(bundle, Bundle) else None,
        )

    def post(i: int, what: str) -> Reply:
        return session.request(i, "POST", f"{base}/{what}", b"{}", timeout=timeout)

    committed: dict[int, Reply] = {}

    def commit(i: int) -> Reply:
        reply = post(i, "commit")
        committed[i] = reply
        return reply

    try:
        session.on_all([partial(send, i) for i in range(3)], timeout=timeout, wait_all=True)
        replies = session.on_all(
            [partial(commit, i) for i in range(3)], timeout=timeout, wait_all=True
        )
    except SharelakeError as exc:
        node = getattr(exc, "node", None)
        failed = node if isinstance(node, int) else None
        if committed:
            # The nodes decide together before any of them commits: a node that committed
            # saw all three pass the check, so the upload must be completed, never undone
            # (an abort would leave the nodes on different versions of the table for
            # good). The node that failed still holds the staged upload: a retry with the
            # same id commits it there. Until then, queries on the table are refused
            # with DataInconsistencyError.
            done = ", ".join(session.node_name(i) for i in sorted(committed))
            raise UploadError(
                f"upload {uid} committed on {done} but not on every node: {exc}. "
                f"Retry with upload_id={uid!r} to complete it.",
                upload_id=uid,
                node=failed,
            ) from exc
        _abort(session, post)
        raise UploadError(
            f"upload {uid} failed and was aborted on all nodes: {exc}. "
            f"Retry with upload_id={uid!r}.",
            upload_id=uid,
            node=failed,
        ) from exc
    versions = {int(r.json().get("version", 0)) for r in replies}
    return max(versions)


def _abort(session: Connection, post: Any) -> None:
    # best effort, in parallel: a node that is down has nothing visible anyway
    with contextlib.suppress(SharelakeError):
        session.on_all([partial(post, i, "abort") for i in range(3)], wait_all=True)

"""The four monitoring analyses, each run on the lake or on its plaintext twin.

1. **Name-list comparison** — each organisation learns which of its own records are known
   to the other organisations, and to how many; the police receive counts only.
2. **Distinct persons and the overlap table** — the capture-history table of the victims
   on the four lists (persons matched on their match key), and its total.
3. **Multiple-systems estimation** on the released overlap table (:mod:`.mse`).
4. **Modus operandi** over the de-duplicated union of the victims: recruitment ×
   nationality, exploitation sector × city, new contacts by quarter; groups smaller than
   the owners' ``k`` are dropped inside the computation (a filter on the secret count
   before anything is opened) and only their number and total are released.

Each analysis talks to a *lake*: :class:`SecureLake` runs the queries through the governed
client API (``session.table``, ``merge``, ``groupby``, ``sharelake.overlap``, ``collect``)
as the member who is to receive the result; :class:`PlainLake` computes the very same
relational plan with pandas on the same upload frames. The tests compare the two.

Persons: the names never leave an organisation. Before upload each provider computes
``person_key``, a 64-bit BLAKE2b digest of the normalised name tokens (the linkage
pipeline, :func:`sharelake.linkage.normalize.normalize_name`, order-free, script-free)
and the birth year, and (``linkage="fuzzy"``, the default) the linkage encodings of its
names and birth dates (:func:`sharelake.linkage.encode.encode_people`; LINKAGE.md), which
go into its key table ``<org>_keys``. With ``linkage="fuzzy"`` the overlap table
(analysis 2, hence the estimate of analysis 3) counts persons found by k-list record
linkage inside MPC (``sharelake.overlap(..., on="person", linkage="fuzzy")``: the four
lists linked at once, one-to-one per pair of lists, records clustered into persons, a
secret person id per record); the plaintext twin computes the same persons
(:func:`sharelake.linkage.persons.person_labels`). Analyses 1 and 4 use the same
persons: analysis 1 asks, per organisation, for ``overlap([its key table, the others'],
on="person", linkage="fuzzy", reveal="own")`` (its records whose clustered person is on
other lists, and on how many; the police only the counts per number of lists), analysis
4 de-duplicates the victims' case rows on the secret ``person`` column of
``sharelake.persons([...], linkage="fuzzy")`` (joined to the case tables on
``record_id``) before the crosstabs. The secure lake links each list set once: the key
lists of all records (analysis 1) and of the victims (analyses 2 and 4) are kept as stored
persons tables (``persons([...]).stored_as(name)``, :data:`PERSONS_TABLES`, approved by
every organisation), and every later query names them (``stored=``) instead of linking
again: two linkages per demo instead of eleven; the twin links each set once too. With
``linkage="key"`` persons are those whose ``person_key`` agrees (typos and wrong years
are missed) in all four analyses.

Examples
--------
>>> from sharelake.monitoring.synth import generate
>>> lake = PlainLake(upload_frames(generate(seed=1, scale=0.1).frames))
>>> table = overlap_table(lake).released["overlap"]
>>> list(table.columns)[-1]
'count'
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..client.frame import ALL_PAIRS_RECORDS, concat, overlap, persons
from ..linkage.blocking import DEFAULT_WINDOW
from ..linkage.encode import EncodedPeople, encode_people
from ..linkage.fs import TRAINED_WEIGHTS, FSConfig, FSWeights
from ..linkage.normalize import normalize_name
from ..linkage.people_table import fuzzy_params
from ..linkage.persons import other_lists, person_labels, union_weights
from ..relational.table import ColumnSpec
from .model import lake_frame, lake_schema
from .mse import MSEResult, estimate

__all__ = [
    "CROSSTABS",
    "LINKAGES",
    "LINK_PARAMS",
    "NAME_COLUMNS",
    "PERSONS_TABLES",
    "UPLOAD_COLUMNS",
    "AnalysisResult",
    "Linkage",
    "PlainLake",
    "SecureLake",
    "linkage_window",
    "modus_operandi",
    "name_list_comparison",
    "overlap_table",
    "person_key",
    "policy_for",
    "population_estimate",
    "upload_frames",
    "upload_schema",
]

UPLOAD_COLUMNS: tuple[str, ...] = (
    "record_id",
    "person_key",
    "role",
    "victim",
    "sex",
    "birth_year",
    "nationality",
    "recruitment",
    "transport_mode",
    "exploitation_sector",
    "exploitation_city",
    "contact_quarter",
)
"""The columns each organisation uploads (no names: only the match key)."""

CROSSTABS: dict[str, tuple[str, ...]] = {
    "recruitment_nationality": ("recruitment", "nationality"),
    "sector_city": ("exploitation_sector", "exploitation_city"),
    "quarter": ("contact_quarter",),
}
"""The modus operandi tables and their group keys."""

Linkage = Literal["fuzzy", "probabilistic", "key"]
"""How the analyses find persons: k-list record linkage inside MPC with the weighted
scorer and :data:`LINK_PARAMS` (``fuzzy``) or the Fellegi-Sunter scorer with its trained
weights (``probabilistic``), or equal ``person_key`` (``key``)."""

LINKAGES: tuple[str, ...] = ("fuzzy", "probabilistic", "key")

LINK_PARAMS: dict[str, int] = {"pen_year": 8, "pen_month": 8, "pen_day": 8, "t_num": 110}
"""The demo's fuzzy scoring parameters in place of the recommended ones (LINKAGE.md 4d).

A known birth-date component that disagrees costs 8 points instead of 2 (identical names,
12 points, born in different years score 4, not 10: namesakes), and the threshold is
11 instead of 9.8 (near-identical names with no date in common still link). Chosen on
the generator's seed 1 at scales 1 and 5 (the demo runs seed 0): pairwise precision .998
and .969, recall .985 and .981 there (with the five blocking keys of the time). The
recommended parameters, whose 2-point penalty lets identical names link whatever their
birth years, reach precision .976 and .863 on seed 0 (scales 1 and 5)."""

PERSONS_TABLES: dict[str, str] = {"all": "demo_persons_all", "victims": "demo_persons_victims"}
"""The stored persons tables of the secure demo (linkage ``fuzzy``/``probabilistic``): the
key lists of all records (analysis 1) and the victims' (analyses 2 and 4), each linked once
and read by every later query (:meth:`SecureLake.persons_table`)."""

LINK_FS_THRESHOLD: int | None = None
"""The demo's Fellegi-Sunter weight threshold (``linkage="probabilistic"``) in place of
the trained one (:data:`sharelake.linkage.fs.TRAINED_WEIGHTS`, moved to the union's size
by :func:`sharelake.linkage.persons.union_weights`); None: the trained one."""


def _fs_weights(n_union: int) -> FSWeights:
    """The weights the secure k-list operator uses on a union of ``n_union`` records."""
    w = union_weights(TRAINED_WEIGHTS, n_union)
    return w if LINK_FS_THRESHOLD is None else replace(w, threshold=LINK_FS_THRESHOLD)


NAME_COLUMNS: tuple[str, ...] = ("given_name", "family_name", "date_of_birth")

LINKAGE_TIMEOUT = 4 * 3600.0
"""Seconds the client waits for the overlap by linkage (minutes at the default scale,
hours at ``--scale 25`` on two cores: LINKAGE.md 4e)."""
"""What the linkage encodings are computed from (at the organisation; never uploaded)."""


def linkage_window(records: int) -> int | None:
    """The window ``overlap(..., linkage=...)`` uses for ``records`` rows in all.

    Every pair (None) up to :data:`sharelake.client.frame.ALL_PAIRS_RECORDS`, the
    sorted-neighbourhood window above (the ``window="auto"`` rule, fixed here so that
    the plaintext twin uses the same).
    """
    return None if records <= ALL_PAIRS_RECORDS else DEFAULT_WINDOW


def person_key(given: object, family: object, date_of_birth: object) -> str:
    """The match key of one record: digest of the normalised name tokens and birth year.

    Examples
    --------
    >>> person_key("Олена", "Коваленко", "1991-07") == person_key("KOVALENKO", "Olena", "1991")
    True
    """
    tokens = sorted(set(normalize_name(given)) | set(normalize_name(family)))
    dob = str(date_of_birth or "")
    year = dob[:4] if len(dob) >= 4 else ""
    payload = " ".join(tokens) + "|" + year
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=8).hexdigest()


def upload_schema() -> list[ColumnSpec]:
    """Column specs of the uploaded person tables (order of :data:`UPLOAD_COLUMNS`)."""
    specs = {s.name: s for s in lake_schema()}
    specs["person_key"] = ColumnSpec("person_key", "string", False, max_len=16)
    specs["victim"] = ColumnSpec("victim", "bool", False)
    return [specs[c] for c in UPLOAD_COLUMNS]


def upload_frames(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The upload form of each organisation's validated table (adds ``person_key``)."""
    out = {}
    for org, df in frames.items():
        lake = lake_frame(df)
        lake["person_key"] = [
            person_key(g, f, d)
            for g, f, d in zip(
                df["given_name"], df["family_name"], df["date_of_birth"], strict=True
            )
        ]
        lake["victim"] = (lake["role"] == "victim").to_numpy(dtype=bool)
        out[org] = lake[list(UPLOAD_COLUMNS)]
    return out


OVERLAP_VIA_GROUPBY = False
"""Compute the overlap table as two group-bys over the union of the key tables instead of
the secure ``sharelake.overlap`` operator (both give the same table; kept as a
cross-check)."""

KEY_COLUMNS: tuple[str, ...] = ("record_id", "person_key", "victim")
"""The columns of each organisation's key table ``<org>_keys`` (list comparison, overlap)."""


def keys_table(org: str) -> str:
    """Name of ``org``'s key table in the lake."""
    return f"{org}_keys"


def policy_for(
    owner: str, *, k: int = 5, keys: bool = False, analysts: Sequence[str] = ()
) -> dict[str, Any]:
    """The demo's policy of an organisation's case table, or of its key table.

    Names are never uploaded; the match key only joins. Case table: the case fields are
    group keys of aggregates with groups under ``k`` suppressed. Key table
    (``keys=True``): ``min_group_size = 1``, because multiple-systems estimation needs
    the exact small cells of the overlap table (published tables have cells of 1); every
    release from it (overlap sizes, matched record ids) still needs the owners'
    approval, since ``record_id`` is unclassified and sizes are not released by default.
    """
    del owner
    if keys:
        return {"min_group_size": 1, "columns": {"person_key": "match", "victim": "match"}}
    cols: dict[str, str] = {"person_key": "match", "victim": "match", "birth_year": "aggregate"}
    for c in UPLOAD_COLUMNS:
        cols.setdefault(c, "group")
    cols.pop("record_id")
    pol: dict[str, Any] = {"min_group_size": k, "columns": cols}
    if analysts:
        pol["analysts"] = list(analysts)
    return pol


@dataclass
class Cost:
    """What an analysis cost, summed over its queries.

    ``seconds``: the client's wall time (request to rebuilt result; a batch of
    concurrent queries counts once, from its first request to its last result);
    ``queries``: how many queries ran; from the nodes' reports (``df.attrs["cost"]``,
    see ``docs/node-api.md``), ``None`` when no query reported them: ``rounds``
    (communication rounds, the most any node spent, summed over the queries),
    ``critical_rounds`` (the rounds on the critical path: the longest query of each
    concurrent batch, summed over the batches; what latency multiplies), ``bytes``
    (payload bytes sent between the nodes, all three nodes together) and
    ``node_seconds`` (the slowest node's compute time, summed over the queries).
    """

    seconds: float = 0.0
    queries: int = 0
    rounds: int | None = None
    critical_rounds: int | None = None
    bytes: int | None = None
    node_seconds: float | None = None

    def add(self, seconds: float, attrs: Mapping[Any, Any]) -> None:
        """Count one query of ``seconds`` whose result carries ``attrs``."""
        self.add_batch(seconds, [attrs])

    def add_batch(self, seconds: float, attrs: Sequence[Mapping[Any, Any]]) -> None:
        """Count a batch of concurrent queries that took ``seconds`` in all."""
        self.seconds += seconds
        self.queries += len(attrs)
        longest: int | None = None
        for a in attrs:
            cost = a.get("cost")
            if not isinstance(cost, Mapping):
                continue
            for name in ("rounds", "bytes"):
                v = cost.get(name)
                if isinstance(v, int | float):
                    setattr(self, name, int((getattr(self, name) or 0) + v))
            v = cost.get("rounds")
            if isinstance(v, int | float):
                longest = max(longest or 0, int(v))
            v = cost.get("seconds")
            if isinstance(v, int | float):
                self.node_seconds = (self.node_seconds or 0.0) + float(v)
        if longest is not None:
            self.critical_rounds = (self.critical_rounds or 0) + longest


@dataclass
class AnalysisResult:
    """One analysis: what was released, to whom, what was suppressed, and the cost."""

    name: str
    mode: str
    released: dict[str, pd.DataFrame]
    recipients: dict[str, str]
    suppressed: dict[str, dict[str, int | None]] = field(default_factory=dict)
    cost: Cost = field(default_factory=Cost)
    extra: dict[str, Any] = field(default_factory=dict)


class Lake(Protocol):
    """What the analyses need from a lake (secure or plaintext)."""

    mode: str
    orgs: tuple[str, ...]
    linkage: Linkage

    def own_lists(self, asks: Sequence[tuple[str, bool]], cost: Cost) -> list[pd.DataFrame]:
        """Per ``(org, count_only)`` (linkage ``fuzzy``): ``org``'s records whose linked
        person is on other lists (``record_id``, ``known_to``: how many), or with
        ``count_only`` the number of them per ``known_to`` (``known_to``, ``records``);
        independent queries, run as one batch."""

    def matched_records(self, org: str, other: str, cost: Cost) -> set[str]:
        """``org``'s record ids whose key is on ``other``'s list (released to ``org``)."""

    def matched_count(self, org: str, other: str, cost: Cost) -> int:
        """How many of ``org``'s records have a key on ``other``'s list."""

    def overlap(self, cost: Cost) -> pd.DataFrame:
        """The victims' capture-history table (``in_<org>`` columns, ``count``)."""

    def crosstab(
        self, keys: Sequence[str], k: int, cost: Cost
    ) -> tuple[pd.DataFrame, int | None, int | None]:
        """Groups of >= k distinct victims, and the number and total of the dropped ones."""

    def name_lists(self, asks: Sequence[tuple[str, str, bool]], cost: Cost) -> list[set[str] | int]:
        """Per ``(org, other, count_only)``: :meth:`matched_count` if ``count_only``,
        else :meth:`matched_records`; independent queries, run as one batch."""

    def crosstabs(
        self, keys: Sequence[Sequence[str]], k: int, cost: Cost
    ) -> list[tuple[pd.DataFrame, int | None, int | None]]:
        """:meth:`crosstab` of each group-key list; independent queries, one batch."""


# ---- the plaintext twin ----------------------------------------------------------------


class PlainLake:
    """The analyses' relational plans evaluated with pandas on the upload frames.

    ``linkage="fuzzy"`` needs ``people``: per organisation its table with
    :data:`NAME_COLUMNS` (rows as in ``frames``), encoded here as each organisation
    encodes it before upload; the persons of the overlap table are then those of the
    k-list linkage (:func:`sharelake.linkage.persons.person_labels`, the twin of the
    secure operator).
    """

    mode = "plaintext"

    def __init__(
        self,
        frames: Mapping[str, pd.DataFrame],
        *,
        people: Mapping[str, pd.DataFrame] | None = None,
        linkage: Linkage = "key",
    ) -> None:
        if linkage not in LINKAGES:
            raise ValueError("linkage must be 'fuzzy', 'probabilistic' or 'key'")
        if linkage != "key" and people is None:
            raise ValueError("linkage='fuzzy' needs the organisations' names (people=)")
        self.frames = dict(frames)
        self.orgs = tuple(frames)
        self.linkage = linkage
        self.people = dict(people or {})
        self._labels: dict[str, npt.NDArray[np.int64]] | None = None
        self._all: npt.NDArray[np.int64] | None = None  # persons of all records (analysis 1)
        self._encs: dict[str, EncodedPeople] = {}

    def person_labels(self) -> dict[str, npt.NDArray[np.int64]]:
        """Per organisation, the person label of each row (victims only; -1 otherwise).

        ``fuzzy``: the union row of the person's least record after the k-list linkage
        and clustering (the secret ``person`` column of the secure operator, here in the
        clear); ``key``: the code of the row's ``person_key``.
        """
        if self._labels is None:
            self._labels = self._compute_labels()
        return self._labels

    def _compute_labels(self) -> dict[str, npt.NDArray[np.int64]]:
        victim = {o: self.frames[o]["victim"].to_numpy(dtype=bool) for o in self.orgs}
        if self.linkage == "key":
            union = pd.concat([self.frames[o]["person_key"] for o in self.orgs], ignore_index=True)
            codes = pd.factorize(union)[0].astype(np.int64)
        else:
            codes = self._link(self.orgs, [victim[o] for o in self.orgs])
        out, off = {}, 0
        for o in self.orgs:
            n = len(self.frames[o])
            out[o] = np.where(victim[o], codes[off : off + n], -1).astype(np.int64)
            off += n
        return out

    def _encoded(self, org: str) -> EncodedPeople:
        if org not in self._encs:
            self._encs[org] = encode_people(
                pd.DataFrame(
                    {
                        "record_id": self.frames[org]["record_id"].to_numpy(),
                        **{c: self.people[org][c].to_numpy() for c in NAME_COLUMNS},
                    }
                ),
                seed=self.orgs.index(org),  # fillers of missing match keys; never agree
            )
        return self._encs[org]

    def _link(
        self, orgs: Sequence[str], valid: Sequence[npt.NDArray[np.bool_]] | None = None
    ) -> npt.NDArray[np.int64]:
        """Person labels of the union of ``orgs``' lists, in that order (the twin of the
        secure operator, with the demo's parameters and window)."""
        encs = [self._encoded(o) for o in orgs]
        nn = sum(len(e) for e in encs)
        return person_labels(
            encs,
            fuzzy_params(LINK_PARAMS),
            valid=valid,
            window=linkage_window(nn),
            fs=(_fs_weights(nn), FSConfig()) if self.linkage == "probabilistic" else None,
        )

    def own_lists(self, asks: Sequence[tuple[str, bool]], cost: Cost) -> list[pd.DataFrame]:
        out = []
        for org, count_only in asks:

            def run(org: str = org, count_only: bool = count_only) -> pd.DataFrame:
                # the persons of all records, linked once (the secure lake's stored table)
                if self._all is None:
                    self._all = self._link(self.orgs)
                sizes = [len(self.frames[o]) for o in self.orgs]
                start = sum(sizes[: self.orgs.index(org)])
                n = len(self.frames[org])
                known = other_lists(self._all, sizes)[start : start + n]
                df = pd.DataFrame(
                    {"record_id": self.frames[org]["record_id"].to_numpy(), "known_to": known}
                )
                df = df[df["known_to"] > 0]
                if count_only:
                    return _known_counts(df["known_to"], len(self.orgs))
                return df.sort_values("record_id", ignore_index=True)

            out.append(self._timed(cost, run))
        return out

    def _timed(self, cost: Cost, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        out = fn()
        cost.add(time.perf_counter() - t0, {})
        return out

    def matched_records(self, org: str, other: str, cost: Cost) -> set[str]:
        a, b = self.frames[org], self.frames[other]
        found: set[str] = self._timed(
            cost, lambda: set(a.loc[a.person_key.isin(b.person_key), "record_id"])
        )
        return found

    def matched_count(self, org: str, other: str, cost: Cost) -> int:
        return len(self.matched_records(org, other, cost))

    def _victims(self, org: str) -> pd.DataFrame:
        df = self.frames[org]
        return df[df["victim"]]

    def overlap(self, cost: Cost) -> pd.DataFrame:
        def run() -> pd.DataFrame:
            if self.linkage != "key":
                labels = self.person_labels()
                keys = {o: set(labels[o][labels[o] >= 0].tolist()) for o in self.orgs}
            else:
                keys = {o: set(self._victims(o).person_key) for o in self.orgs}
            union = sorted(set().union(*keys.values()))
            flags = pd.DataFrame({f"in_{o}": [k in keys[o] for k in union] for o in self.orgs})
            return flags.value_counts().rename("count").reset_index()

        return _canonical_overlap(self._timed(cost, run), self.orgs)

    def union(self) -> pd.DataFrame:
        """The de-duplicated union of the victims: first row of each person (linked
        person, or ``person_key``), lists in order."""
        if self.linkage != "key":
            labels = self.person_labels()
            parts = [self._victims(o).assign(person=labels[o][labels[o] >= 0]) for o in self.orgs]
            both = pd.concat(parts, ignore_index=True)
            return both.drop_duplicates("person", keep="first").drop(columns="person")
        both = pd.concat([self._victims(o) for o in self.orgs], ignore_index=True)
        return both.drop_duplicates("person_key", keep="first")

    def crosstab(self, keys: Sequence[str], k: int, cost: Cost) -> tuple[pd.DataFrame, int, int]:
        def run() -> tuple[pd.DataFrame, int, int]:
            g = self.union().groupby(list(keys), dropna=False).size().rename("count").reset_index()
            keep = g["count"] >= k
            return g[keep], int((~keep).sum()), int(g.loc[~keep, "count"].sum())

        out, n, total = self._timed(cost, run)
        return _canonical_crosstab(out, keys), n, total

    def name_lists(self, asks: Sequence[tuple[str, str, bool]], cost: Cost) -> list[set[str] | int]:
        return [
            self.matched_count(o, x, cost) if only else self.matched_records(o, x, cost)
            for o, x, only in asks
        ]

    def crosstabs(
        self, keys: Sequence[Sequence[str]], k: int, cost: Cost
    ) -> list[tuple[pd.DataFrame, int | None, int | None]]:
        return [self.crosstab(ks, k, cost) for ks in keys]


def _known_counts(known_to: pd.Series, lists: int) -> pd.DataFrame:
    """Records per number of other lists (1 .. lists - 1), zeros included."""
    n = range(1, lists)
    counts = [int((known_to == k).sum()) for k in n]
    return pd.DataFrame({"known_to": list(n), "records": counts})


def _unkey(column: str) -> str:
    return column[: -len("_keys")] if column.endswith("_keys") else column


def _canonical_overlap(df: pd.DataFrame, orgs: Sequence[str]) -> pd.DataFrame:
    cols = [f"in_{o}" for o in orgs]
    out = df[[*cols, "count"]].copy()
    for c in cols:
        out[c] = out[c].astype(bool)
    out["count"] = out["count"].astype("int64")
    out = out[out["count"] > 0]
    return out.sort_values(cols).reset_index(drop=True)


def _canonical_crosstab(df: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    out = df[[*keys, "count"]].copy()
    for c in keys:
        out[c] = out[c].astype("object").where(out[c].notna(), None)
    out["count"] = out["count"].astype("int64")
    order = out[list(keys)].astype(str)
    return out.loc[order.sort_values(list(keys)).index].reset_index(drop=True)


# ---- the secure lake ---------------------------------------------------------------------


class SecureLake:
    """The analyses' plans run on the three nodes through the governed client API.

    ``sessions`` maps member names to open sessions (the four organisations and the
    analyst); the owners' sessions sign the approvals a plan needs (in a real consortium
    each owner reviews and signs in the portal or with ``sharelake approvals approve``;
    the demo signs for them and records it). ``concurrency``: how many independent
    queries of one analysis run at the same time (1: one after the other). With linkage
    (``fuzzy``/``probabilistic``) each list set is linked once, by the query that makes
    its stored persons table (:meth:`persons_table`, one at a time: each holds the window
    pairs of the whole union in every node's memory, and several linkages at once
    exhausted a 24 GiB machine); the queries over linked persons read the stored ids and
    run in batches like the others.
    ``linkage="fuzzy"``: the key tables are person tables (``upload_people``) and the
    overlap table counts the persons of the k-list linkage inside MPC.
    """

    mode = "mpc"

    def __init__(
        self,
        sessions: Mapping[str, Any],
        *,
        orgs: Sequence[str],
        analyst: str = "analyst",
        approval_seconds: int = 3600,
        concurrency: int = 12,
        linkage: Linkage = "key",
    ) -> None:
        if linkage not in LINKAGES:
            raise ValueError("linkage must be 'fuzzy', 'probabilistic' or 'key'")
        self.linkage = linkage
        self.sessions = dict(sessions)
        self.concurrency = concurrency
        self.orgs = tuple(orgs)
        self.analyst = analyst
        self.approval_seconds = approval_seconds
        self.approvals: list[dict[str, Any]] = []
        self.stored: dict[str, dict[str, Any]] = {}  # the stored persons tables made

    def _table(self, member: str, name: str) -> Any:
        return self.sessions[member].table(name)

    def _victims(self, member: str, org: str, *, keys: bool = False) -> Any:
        t = self._table(member, keys_table(org) if keys else org)
        return t[t.victim]

    def approve(self, table: Any, member: str, owners: Sequence[str], purpose: str) -> None:
        """Ask for ``table``'s plan as ``member`` and sign every owner's approval of it."""
        (req, *_) = self.sessions[member].request_approval(table.plan, explanation=purpose)
        for owner in sorted(set(owners)):
            self.sessions[owner].approve(req["id"], expires_in=self.approval_seconds)
        self.approvals.append(
            {
                "plan_hash": table.plan_hash,
                "analyst": member,
                "owners": sorted(set(owners)),
                "purpose": purpose,
            }
        )

    def _collect(self, table: Any, cost: Cost, *, timeout: float | None = None) -> pd.DataFrame:
        return self._collect_all([table], cost, timeout=timeout)[0]

    def _collect_linked(self, tables: Sequence[Any], cost: Cost) -> list[pd.DataFrame]:
        """Collect queries over linked persons: they read the stored persons table
        (:meth:`persons_table`), so they run as one batch like any other."""
        timeout = LINKAGE_TIMEOUT if self.linkage != "key" else None
        return self._collect_all(tables, cost, timeout=timeout)

    def _key_lists(self, member: str, *, victims: bool) -> list[Any]:
        if victims:
            return [self._victims(member, o, keys=True) for o in self.orgs]
        return [self._table(member, keys_table(o)) for o in self.orgs]

    def persons_table(self, which: Literal["all", "victims"], cost: Cost) -> str:
        """The stored persons table of the key lists (all records, or the victims'),
        made on first use: the one k-list linkage every later query of that list set
        reads (``persons([...]).stored_as(name)``, approved by every organisation)."""
        name = PERSONS_TABLES[which]
        if name not in self.stored:
            parts = self._key_lists(self.analyst, victims=which == "victims")
            keep = persons(parts, **self._link_options()).stored_as(name)
            what = "victims'" if which == "victims" else "all"
            self.approve(keep, self.analyst, self.orgs, f"one linkage of {what} key records, kept")
            made = self._collect(keep, cost, timeout=LINKAGE_TIMEOUT)
            row = made.to_dict("records")[0]
            self.stored[name] = {"table": str(row["table"]), "version": int(row["version"])}
        return name

    def _collect_all(
        self, tables: Sequence[Any], cost: Cost, *, timeout: float | None = None
    ) -> list[pd.DataFrame]:
        """Collect ``tables`` (approved already) as one batch; results in their order.

        Independent queries run concurrently (up to :attr:`concurrency` at a time, each
        on the session its table is bound to): the nodes keep their peer sessions apart
        by session id, so a batch costs the rounds of its longest query in latency, not
        the sum. Approvals are all signed before (in order), so the approvals and the
        results are the same as one after the other.
        """
        t0 = time.perf_counter()
        if self.concurrency <= 1 or len(tables) <= 1:
            dfs = [t.collect(timeout=timeout) for t in tables]
        else:
            with ThreadPoolExecutor(
                max_workers=min(self.concurrency, len(tables)),
                thread_name_prefix="sharelake-analysis",
            ) as pool:
                futures = [pool.submit(t.collect, timeout=timeout) for t in tables]
                dfs = [f.result() for f in futures]
        cost.add_batch(time.perf_counter() - t0, [df.attrs for df in dfs])
        return dfs

    def _semi(self, org: str, other: str) -> Any:
        a = self._table(org, keys_table(org))
        b = self._table(org, keys_table(other))[["person_key"]].drop_duplicates("person_key")
        return a.merge(b, on="person_key", how="semi")

    def _records_query(self, org: str, other: str) -> Any:
        q = self._semi(org, other)[["record_id"]]
        self.approve(q, org, (org, other), f"{org}'s records also known to {other}")
        return q

    def _count_query(self, org: str, other: str) -> Any:
        q = self._semi(org, other).assign(one=1).groupby("one").agg(records=("*", "count"))
        self.approve(q, org, (org, other), f"number of {org}'s records known to {other}")
        return q

    @staticmethod
    def _records(df: pd.DataFrame) -> set[str]:
        return set(df["record_id"].astype(str))

    @staticmethod
    def _count(df: pd.DataFrame) -> int:
        return int(df["records"].sum()) if len(df) else 0

    def matched_records(self, org: str, other: str, cost: Cost) -> set[str]:
        return self._records(self._collect(self._records_query(org, other), cost))

    def matched_count(self, org: str, other: str, cost: Cost) -> int:
        return self._count(self._collect(self._count_query(org, other), cost))

    def _link_options(self) -> dict[str, Any]:
        """The demo's linkage options: its parameters, the window of the stored rows."""
        info = self.sessions[self.analyst].table_info
        rows = sum(int(info(keys_table(o)).rows) for o in self.orgs)
        if self.linkage == "probabilistic":
            out: dict[str, Any] = {"linkage": "probabilistic", "window": linkage_window(rows)}
            if LINK_FS_THRESHOLD is not None:
                out["params"] = {"threshold": LINK_FS_THRESHOLD}
            return out
        return {"linkage": "fuzzy", "window": linkage_window(rows), "params": LINK_PARAMS}

    def _own_query(self, org: str, count_only: bool, stored: str) -> Any:
        order = (org, *(o for o in self.orgs if o != org))
        parts = [self._table(org, keys_table(o)) for o in order]
        q = overlap(parts, on="person", reveal="own", stored=stored, **self._link_options())
        if count_only:
            q = q.groupby("matches").agg(records=("*", "count"))
            purpose = f"number of {org}'s records whose person other lists hold, by lists"
        else:
            purpose = f"{org}'s records whose person other lists hold, and how many"
        self.approve(q, org, self.orgs, purpose)
        return q

    def own_lists(self, asks: Sequence[tuple[str, bool]], cost: Cost) -> list[pd.DataFrame]:
        stored = self.persons_table("all", cost)
        queries = [self._own_query(o, only, stored) for o, only in asks]
        dfs = self._collect_linked(queries, cost)
        out = []
        for (_, only), df in zip(asks, dfs, strict=True):
            if only:
                known = np.repeat(
                    df["matches"].to_numpy(dtype=np.int64), df["records"].to_numpy(dtype=np.int64)
                )
                out.append(_known_counts(pd.Series(known), len(self.orgs)))
            else:
                got = pd.DataFrame(
                    {
                        "record_id": df["record_id"].astype(str),
                        "known_to": df["matches"].astype("int64"),
                    }
                )
                out.append(got.sort_values("record_id", ignore_index=True))
        return out

    def name_lists(self, asks: Sequence[tuple[str, str, bool]], cost: Cost) -> list[set[str] | int]:
        queries = [
            self._count_query(o, x) if only else self._records_query(o, x) for o, x, only in asks
        ]
        dfs = self._collect_all(queries, cost)
        return [
            self._count(df) if only else self._records(df)
            for (_, _, only), df in zip(asks, dfs, strict=True)
        ]

    def overlap(self, cost: Cost) -> pd.DataFrame:
        if OVERLAP_VIA_GROUPBY:
            q = self._overlap_by_groupby()
        else:
            parts = [self._victims(self.analyst, o, keys=True) for o in self.orgs]
            if self.linkage != "key":
                stored = self.persons_table("victims", cost)
                q = overlap(parts, on="person", stored=stored, **self._link_options())
            else:
                q = overlap(parts, on="person_key")
        self.approve(q, self.analyst, self.orgs, "overlap table of the victims (for MSE)")
        df = self._collect(q, cost, timeout=LINKAGE_TIMEOUT if self.linkage != "key" else None)
        df.columns = [_unkey(c) for c in df.columns]
        return _canonical_overlap(df, self.orgs)

    def _overlap_by_groupby(self) -> Any:
        flags = [f"in_{o}" for o in self.orgs]
        parts = []
        for o in self.orgs:
            t = self._victims(self.analyst, o, keys=True)[["person_key"]]
            parts.append(t.assign(**{f"in_{x}": int(x == o) for x in self.orgs}))
        person = self._concat(parts).groupby("person_key").agg(**{f: (f, "max") for f in flags})
        return person.groupby(flags).agg(count=("*", "count"))

    def _concat(self, parts: Sequence[Any]) -> Any:
        return concat(list(parts))

    def _union(self) -> Any:
        parts = [self._victims(self.analyst, o) for o in self.orgs]
        if self.linkage != "key":  # the victims' case rows, one per linked person
            keys = self._key_lists(self.analyst, victims=True)
            stored = PERSONS_TABLES["victims"]  # made by crosstabs() before
            linked = persons(keys, stored=stored, **self._link_options())[["record_id", "person"]]
            cases = self._concat(parts).merge(linked, on="record_id", validate="1:1")
            return cases.drop_duplicates("person")
        return self._concat(parts).drop_duplicates("person_key")

    def _crosstab_queries(self, keys: Sequence[str], k: int) -> tuple[Any, Any]:
        g = self._union().groupby(list(keys)).agg(count=("*", "count"))
        small = g[g["count"] < k].assign(one=1).groupby("one")
        small = small.agg(cells=("*", "count"), persons=("count", "sum"))
        self.approve(small, self.analyst, self.orgs, f"size of the suppressed cells of {keys}")
        kept = g[g["count"] >= k]
        if self.linkage != "key":  # joins the case tables to the linked persons on record_id
            self.approve(kept, self.analyst, self.orgs, f"cells of {keys} over linked persons")
        return kept, small

    @staticmethod
    def _crosstab_result(
        keys: Sequence[str], kept: pd.DataFrame, gone: pd.DataFrame
    ) -> tuple[pd.DataFrame, int | None, int | None]:
        # no row: the summary itself had fewer than k cells and was suppressed by the nodes
        n = int(gone["cells"].sum()) if len(gone) else None
        total = int(gone["persons"].sum()) if len(gone) else None
        return _canonical_crosstab(kept, keys), n, total

    def crosstab(
        self, keys: Sequence[str], k: int, cost: Cost
    ) -> tuple[pd.DataFrame, int | None, int | None]:
        """Released cells; the number and total of the suppressed ones (None: fewer than
        k suppressed cells, so that summary was itself suppressed)."""
        return self.crosstabs([keys], k, cost)[0]

    def crosstabs(
        self, keys: Sequence[Sequence[str]], k: int, cost: Cost
    ) -> list[tuple[pd.DataFrame, int | None, int | None]]:
        if self.linkage != "key":
            self.persons_table("victims", cost)
        pairs = [self._crosstab_queries(ks, k) for ks in keys]
        dfs = self._collect_linked([q for pair in pairs for q in pair], cost)
        return [self._crosstab_result(ks, dfs[2 * i], dfs[2 * i + 1]) for i, ks in enumerate(keys)]


# ---- the analyses ----------------------------------------------------------------------


def name_list_comparison(lake: Lake, *, counts_only: Sequence[str] = ("police",)) -> AnalysisResult:
    """Analysis 1: each organisation's records known to others, and to how many.

    An organisation in ``counts_only`` receives, per other organisation, only the number
    of its records that are also on that list.
    """
    cost = Cost()
    released: dict[str, pd.DataFrame] = {}
    recipients: dict[str, str] = {}
    if lake.linkage != "key":  # clustered persons of the k-list linkage
        own = [(org, org in counts_only) for org in lake.orgs]
        for (org, only), df in zip(own, lake.own_lists(own, cost), strict=True):
            released[org] = df
            recipients[org] = f"{org} (counts only)" if only else f"{org} (its own record ids)"
        return AnalysisResult("name_list_comparison", lake.mode, released, recipients, cost=cost)
    asks = [(org, o, org in counts_only) for org in lake.orgs for o in lake.orgs if o != org]
    answers = dict(zip([(o, x) for o, x, _ in asks], lake.name_lists(asks, cost), strict=True))
    for org in lake.orgs:
        others = [o for o in lake.orgs if o != org]
        if org in counts_only:
            counts = {o: answers[org, o] for o in others}
            released[org] = pd.DataFrame({"other": list(counts), "records": list(counts.values())})
            recipients[org] = f"{org} (counts only)"
            continue
        hits: dict[str, int] = {}
        for o in others:
            found = answers[org, o]
            for rid in found if isinstance(found, set) else ():
                hits[rid] = hits.get(rid, 0) + 1
        released[org] = pd.DataFrame(
            {"record_id": list(hits), "known_to": list(hits.values())}
        ).sort_values("record_id", ignore_index=True)
        recipients[org] = f"{org} (its own record ids)"
    return AnalysisResult("name_list_comparison", lake.mode, released, recipients, cost=cost)


def overlap_table(lake: Lake, *, analyst: str = "analyst") -> AnalysisResult:
    """Analysis 2: the victims' overlap table and the number of distinct victims."""
    cost = Cost()
    table = lake.overlap(cost)
    return AnalysisResult(
        "overlap",
        lake.mode,
        {"overlap": table},
        {"overlap": analyst},
        cost=cost,
        extra={"distinct": int(table["count"].sum())},
    )


def population_estimate(
    overlap: AnalysisResult, **options: Any
) -> tuple[AnalysisResult, MSEResult]:
    """Analysis 3: multiple-systems estimation on the released overlap table (no new query)."""
    t0 = time.perf_counter()
    table = overlap.released["overlap"]
    result = estimate(table.astype({c: int for c in table.columns}), **options)
    cost = Cost(seconds=time.perf_counter() - t0)
    frame = result.comparison_frame()
    out = AnalysisResult(
        "population_estimate",
        f"local computation on the released overlap table ({overlap.mode})",
        {"models": frame},
        {"models": overlap.recipients["overlap"]},
        cost=cost,
    )
    return out, result


def modus_operandi(lake: Lake, *, k: int = 5, analyst: str = "analyst") -> AnalysisResult:
    """Analysis 4: the crosstabs of :data:`CROSSTABS` over the de-duplicated victims."""
    cost = Cost()
    released: dict[str, pd.DataFrame] = {}
    suppressed: dict[str, dict[str, int | None]] = {}
    tables = lake.crosstabs(list(CROSSTABS.values()), k, cost)
    for name, (table, n, total) in zip(CROSSTABS, tables, strict=True):
        released[name] = table
        suppressed[name] = {"cells": n, "persons": total, "k": k}
    recipients = dict.fromkeys(released, analyst)
    return AnalysisResult("modus_operandi", lake.mode, released, recipients, suppressed, cost)

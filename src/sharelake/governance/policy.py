"""Table policies: what may leave a table, for whom, and signed changes by its owner.

A policy is set by the table's owner at upload (the upload request is signed) and is
changed only by a :class:`PolicyChange` signed by the owner. Its TOML form::

    min_group_size = 5              # k: released groups need at least k rows (default 5)
    analysts = ["analyst"]          # members who may query the table (absent: any analyst)
    release_sizes = false           # whether join and intersection sizes may be released
    purposes = ["monitoring"]       # purposes (consortium file) it may serve (absent: any)
    retain_until = 2027-12-31       # kept through this day (UTC), then destroyed; or
    # retain_days = 365             # kept for this many days after the upload's commit day

    [noise]                         # optional: differential privacy (governance/noise.py)
    epsilon = 0.5                   # spent by every released aggregate over the table
    budget = 5.0                    # total per upload of the table; then releases are refused
    bounds = { age = [0, 120] }     # clipping bounds of the columns that may be summed

    [columns]
    name_digest = "match"           # one class per column, see COLUMN_CLASSES
    region = "group"
    age = "aggregate"
    case_id = "reveal"
    interview = "private"

The classes (DESIGN.md section 6; SCQL's column control list is the model):

``reveal``
    may be released as rows.
``group``
    may be released only as a group key of a released (k-protected) aggregate.
``aggregate``
    only count/sum/mean/min/max of it leave, inside a released aggregate.
``match``
    only a join or match key, or in a filter; never released.
``private``
    never used at all.

A column the policy does not list is *unclassified*: every use of it needs the owner's
approval (it is never silently revealed). Naming an unknown column or class is refused.

``purposes`` binds the table to purposes the consortium agreed on (``[[purposes]]`` in
the consortium file): a query whose purpose is not listed is refused at every node. A
policy without ``purposes`` serves every agreed purpose (so tables uploaded before
purposes existed keep working; ``sharelake report processing`` flags them).
``retain_until`` / ``retain_days`` (at most one) set when the nodes destroy the table's
shares (:mod:`sharelake.governance.retention`).

A policy with no ``[columns]`` table at all (``{}``, what an upload without a policy
sends) leaves every column unclassified: nothing about the table is released without
the owner's approval. Secure by default; an owner opens columns explicitly.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from cryptography.hazmat.primitives.asymmetric import ed25519

from ..consortium.keys import SignatureError, sign, verify
from ..consortium.members import Consortium
from ..errors import SharelakeError
from ..plan.canonical import canonical_json
from .noise import NoiseSpec

__all__ = [
    "COLUMN_CLASSES",
    "DEFAULT_MIN_GROUP_SIZE",
    "ColumnClass",
    "Policy",
    "PolicyChange",
    "PolicyError",
    "load_policy",
]

ColumnClass = Literal["reveal", "group", "aggregate", "match", "private"]
COLUMN_CLASSES: tuple[ColumnClass, ...] = ("reveal", "group", "aggregate", "match", "private")
DEFAULT_MIN_GROUP_SIZE = 5
_KEYS = (
    "min_group_size",
    "analysts",
    "release_sizes",
    "purposes",
    "retain_until",
    "retain_days",
    "columns",
    "noise",
)
_PURPOSE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_CHANGE_PREFIX = b"sharelake-policy-v1\n"


class PolicyError(SharelakeError):
    """A policy is malformed, names an unknown column or class, or a change is not signed
    by the table's owner."""


@dataclass(frozen=True)
class Policy:
    """A table's policy.

    Attributes
    ----------
    columns
        Column name -> class (one of :data:`COLUMN_CLASSES`).
    min_group_size
        k: a released aggregate keeps only groups of at least k rows.
    analysts
        Members allowed to query the table; None admits every analyst.
    release_sizes
        Whether join and intersection sizes over this table may be released.
    unlisted
        The class of a column ``columns`` does not list: always None (unclassified,
        any use needs the owner's approval).
    purposes
        The purposes the table may serve; None: every purpose the consortium agreed on.
    retain_until
        The last day (UTC, ISO ``YYYY-MM-DD``) the table is kept; None: no such date.
    retain_days
        Days the table is kept after the day its upload was committed; None: no limit.

    Examples
    --------
    >>> p = Policy.from_dict({"columns": {"age": "aggregate"}, "analysts": ["ana"]})
    >>> p.column_class("age"), p.column_class("name"), p.min_group_size
    ('aggregate', None, 5)
    >>> Policy.from_dict({}).column_class("name") is None
    True
    >>> p.admits("ana"), p.admits("eve")
    (True, False)
    """

    columns: Mapping[str, ColumnClass] = field(default_factory=dict)
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE
    analysts: tuple[str, ...] | None = None
    release_sizes: bool = False
    unlisted: ColumnClass | None = None
    noise: NoiseSpec | None = None
    purposes: tuple[str, ...] | None = None
    retain_until: str | None = None
    retain_days: int | None = None

    def serves(self, purpose: str) -> bool:
        """Whether the table may serve ``purpose`` (a name from the consortium file).

        Examples
        --------
        >>> Policy(purposes=("research",)).serves("research"), Policy().serves("x")
        (True, True)
        >>> Policy(purposes=("research",)).serves("monitoring")
        False
        """
        return self.purposes is None or purpose in self.purposes

    def column_class(self, column: str) -> ColumnClass | None:
        """The class of ``column``; :attr:`unlisted` when the policy does not list it."""
        return self.columns.get(column, self.unlisted)

    def admits(self, analyst: str) -> bool:
        """Whether ``analyst`` may query the table at all."""
        return self.analysts is None or analyst in self.analysts

    @classmethod
    def from_dict(
        cls, doc: Mapping[str, Any] | None, *, schema: Iterable[str] | None = None
    ) -> Policy:
        """Parse and validate the dict form (TOML or JSON).

        Parameters
        ----------
        doc
            The policy document; None or ``{}`` is the default policy (no column rules,
            k = 5, any analyst, no sizes).
        schema
            The table's column names; when given, a column the policy names that is not
            among them is refused.

        Raises
        ------
        PolicyError
            Naming the unknown key, column or class, or the bad value.

        Examples
        --------
        >>> Policy.from_dict({"columns": {"x": "secret"}})
        Traceback (most recent call last):
        ...
        sharelake.governance.policy.PolicyError: policy: column 'x' has unknown class 'secret' \
(one of reveal, group, aggregate, match, private)
        """
        if doc is None:
            doc = {}
        if not isinstance(doc, Mapping):
            raise PolicyError("policy: expected a table of settings")
        extra = sorted(set(doc) - set(_KEYS))
        if extra:
            raise PolicyError(f"policy: unknown setting {extra[0]!r} (one of {', '.join(_KEYS)})")
        k = doc.get("min_group_size", DEFAULT_MIN_GROUP_SIZE)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise PolicyError("policy: min_group_size must be a positive integer")
        analysts = doc.get("analysts")
        if analysts is not None:
            if not isinstance(analysts, list | tuple) or not all(
                isinstance(a, str) and a for a in analysts
            ):
                raise PolicyError("policy: analysts must be a list of member names")
            analysts = tuple(analysts)
        sizes = doc.get("release_sizes", False)
        if not isinstance(sizes, bool):
            raise PolicyError("policy: release_sizes must be true or false")
        unlisted: ColumnClass | None = None
        purposes = _purposes(doc.get("purposes"))
        until, days = _retention(doc.get("retain_until"), doc.get("retain_days"))
        cols = doc.get("columns", {})
        if not isinstance(cols, Mapping):
            raise PolicyError("policy: [columns] must map column names to classes")
        known = None if schema is None else set(schema)
        out: dict[str, ColumnClass] = {}
        for name, klass in cols.items():
            if known is not None and name not in known:
                have = ", ".join(sorted(known)) or "none"
                raise PolicyError(f"policy: unknown column {name!r} (the table has: {have})")
            if klass not in COLUMN_CLASSES:
                raise PolicyError(
                    f"policy: column {name!r} has unknown class {klass!r} "
                    f"(one of {', '.join(COLUMN_CLASSES)})"
                )
            out[str(name)] = cast(ColumnClass, klass)
        noise = None
        if "noise" in doc:
            try:
                noise = NoiseSpec.from_dict(doc["noise"])
            except ValueError as exc:
                raise PolicyError(f"policy: {exc}") from None
            for name in noise.bounds:
                if known is not None and name not in known:
                    raise PolicyError(f"policy: [noise] bounds name unknown column {name!r}")
        return cls(out, k, analysts, sizes, unlisted, noise, purposes, until, days)

    def to_dict(self) -> dict[str, Any]:
        """The dict form (as stored in the catalog and signed in a change).

        Examples
        --------
        >>> Policy({"a": "reveal"}).to_dict()
        {'min_group_size': 5, 'release_sizes': False, 'columns': {'a': 'reveal'}}
        """
        doc: dict[str, Any] = {"min_group_size": self.min_group_size}
        if self.analysts is not None:
            doc["analysts"] = list(self.analysts)
        doc["release_sizes"] = self.release_sizes
        # only when set: the dict (and the signed form of a change) of a policy without
        # them is what it was before purposes and retention existed
        if self.purposes is not None:
            doc["purposes"] = list(self.purposes)
        if self.retain_until is not None:
            doc["retain_until"] = self.retain_until
        if self.retain_days is not None:
            doc["retain_days"] = self.retain_days
        if self.columns or self.unlisted is None:
            doc["columns"] = dict(self.columns)
        if self.noise is not None:
            doc["noise"] = self.noise.to_dict()
        return doc


def _purposes(raw: Any) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list | tuple) or not raw:
        raise PolicyError("policy: purposes must be a non-empty list of purpose names")
    for name in raw:
        if not isinstance(name, str) or not _PURPOSE.fullmatch(name):
            raise PolicyError(
                f"policy: purposes: {name!r} is not a purpose name (lowercase letters, digits, "
                "'_' or '-')"
            )
    if len(set(raw)) != len(raw):
        raise PolicyError("policy: purposes lists a purpose twice")
    return tuple(raw)


def _retention(until: Any, days: Any) -> tuple[str | None, int | None]:
    if until is not None and days is not None:
        raise PolicyError("policy: set retain_until or retain_days, not both")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        raise PolicyError("policy: retain_days must be a non-negative whole number of days")
    if until is None:
        return None, days
    if isinstance(until, dt.datetime) or not isinstance(until, dt.date | str):
        raise PolicyError("policy: retain_until must be a date (YYYY-MM-DD)")
    if isinstance(until, str):
        try:
            until = dt.date.fromisoformat(until)
        except ValueError:
            raise PolicyError(
                f"policy: retain_until {until!r} is not a date (YYYY-MM-DD)"
            ) from None
    return until.isoformat(), None


def load_policy(path: str | Path, *, schema: Iterable[str] | None = None) -> Policy:
    """Read and validate a policy TOML file.

    Raises
    ------
    PolicyError
        The file cannot be read or parsed, or the policy is invalid (the message names
        the file and the offending column or class).
    """
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{p}: cannot read the policy: {exc}") from None
    try:
        return Policy.from_dict(doc, schema=schema)
    except PolicyError as exc:
        raise PolicyError(f"{p}: {exc}") from None


@dataclass(frozen=True)
class PolicyChange:
    """A new policy for a table, signed by its owner.

    The signature covers ``"sharelake-policy-v1\\n"`` + the canonical JSON of
    ``{"table", "version", "owner", "policy", "table_version"}``; ``version`` is the
    policy version the change creates (the current one plus one), so an old change
    cannot be replayed over the same upload. ``table_version`` is the catalog version
    of the table upload the change is made for (``version`` in ``GET /v1/tables``; it
    grows with every upload of a name, across drops), so a change made for one upload
    cannot be applied to another upload under the same name, whose policy versions
    start again at 1. A change without it (``None``: signed as before, the key left out
    of the signed JSON) still parses and verifies, but nodes refuse it.

    Examples
    --------
    >>> from sharelake.consortium.keys import generate_key
    >>> key = generate_key()
    >>> ch = PolicyChange.create(key, "ngo", "people", 2, Policy({"age": "aggregate"}))
    >>> PolicyChange.from_dict(ch.to_dict()) == ch
    True
    """

    table: str
    version: int
    owner: str
    policy: Policy
    signature: bytes
    table_version: int | None = None

    @staticmethod
    def message(
        table: str, version: int, owner: str, policy: Policy, table_version: int | None = None
    ) -> bytes:
        """The signed bytes of a change (``table_version`` signed only when given)."""
        doc: dict[str, Any] = {
            "table": table,
            "version": version,
            "owner": owner,
            "policy": policy.to_dict(),
        }
        if table_version is not None:
            doc["table_version"] = table_version
        return _CHANGE_PREFIX + canonical_json(doc).encode("ascii")

    @classmethod
    def create(
        cls,
        key: ed25519.Ed25519PrivateKey,
        owner: str,
        table: str,
        version: int,
        policy: Policy,
        *,
        table_version: int | None = None,
    ) -> PolicyChange:
        """Sign a change of ``table``'s policy as ``owner``.

        ``table_version`` is the catalog version of the upload the change is for (nodes
        refuse a change without it).
        """
        sig = sign(key, cls.message(table, version, owner, policy, table_version))
        return cls(table, version, owner, policy, sig, table_version)

    def verify(
        self,
        consortium: Consortium,
        *,
        table_owner: str,
        current_version: int,
        table_version: int | None = None,
    ) -> None:
        """Check the change against the table's owner, upload and current policy version.

        ``table_version`` is the catalog version of the table now (the upload the change
        must have been made for); when given, the change must name exactly it.

        Raises
        ------
        PolicyError
            The change is by someone other than the owner, is for another upload of the
            table (or names none), or its version is not the next one.
        SignatureError
            The signature does not verify under the owner's key.
        """
        if self.owner != table_owner:
            raise PolicyError(
                f"table {self.table!r}: only its owner {table_owner!r} may change its policy, "
                f"not {self.owner!r}"
            )
        if table_version is not None and self.table_version != table_version:
            made_for = (
                "names no table version"
                if self.table_version is None
                else f"was made for table version {self.table_version}"
            )
            raise PolicyError(
                f"table {self.table!r}: the change {made_for}; the table is at version "
                f"{table_version} (sign the change with table_version {table_version})"
            )
        if self.version != current_version + 1:
            raise PolicyError(
                f"table {self.table!r}: a policy change must create version "
                f"{current_version + 1}, not {self.version}"
            )
        member = consortium.member(self.owner)
        verify(
            member.public_key,
            self.signature,
            self.message(self.table, self.version, self.owner, self.policy, self.table_version),
            who=f"policy change of table {self.table!r} by {self.owner!r}",
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form: table, version, owner, policy, signature (base64), table_version."""
        doc: dict[str, Any] = {
            "table": self.table,
            "version": self.version,
            "owner": self.owner,
            "policy": self.policy.to_dict(),
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }
        if self.table_version is not None:
            doc["table_version"] = self.table_version
        return doc

    @classmethod
    def from_dict(cls, doc: Any) -> PolicyChange:
        """Parse the JSON form; raises :class:`PolicyError` naming the bad field."""
        if not isinstance(doc, Mapping):
            raise PolicyError("policy change: expected an object")
        for f, kind in (("table", str), ("version", int), ("owner", str), ("signature", str)):
            if not isinstance(doc.get(f), kind) or isinstance(doc.get(f), bool):
                raise PolicyError(f"policy change: field {f!r} is missing or has the wrong type")
        try:
            sig = base64.b64decode(str(doc["signature"]), validate=True)
        except (binascii.Error, ValueError):
            raise SignatureError("policy change: signature is not base64") from None
        tv = doc.get("table_version")
        if tv is not None and (not isinstance(tv, int) or isinstance(tv, bool) or tv < 1):
            raise PolicyError("policy change: field 'table_version' must be a positive integer")
        policy = Policy.from_dict(doc.get("policy"))
        return cls(str(doc["table"]), int(doc["version"]), str(doc["owner"]), policy, sig, tv)

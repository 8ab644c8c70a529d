"""The Python client: connect, upload (secret sharing happens here), lazy tables, collect.

Examples
--------
>>> import sharelake
>>> with sharelake.connect("lake/consortium.toml", "ngo_a") as s:  # doctest: +SKIP
...     s.upload("people.csv", "people", policy="policy.toml")
...     people = s.table("people")
...     df = people[people.age >= 18].groupby("region").agg(n=("*", "count")).collect()
"""

from __future__ import annotations

from .frame import Explanation, GroupBy, Table, concat, overlap, persons
from .session import (
    NodeAuthError,
    NodeConflictError,
    NodeError,
    NodeInputError,
    NodeNotFoundError,
    NodePolicyError,
    NodeUnavailableError,
    Session,
    TableInfo,
    UnknownTableError,
    connect,
)
from .upload import UploadError, UploadResult, infer_schema, load_schema

__all__ = [
    "Explanation",
    "GroupBy",
    "NodeAuthError",
    "NodeConflictError",
    "NodeError",
    "NodeInputError",
    "NodeNotFoundError",
    "NodePolicyError",
    "NodeUnavailableError",
    "Session",
    "Table",
    "TableInfo",
    "UnknownTableError",
    "UploadError",
    "UploadResult",
    "concat",
    "connect",
    "infer_schema",
    "load_schema",
    "overlap",
    "persons",
]

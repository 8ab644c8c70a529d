"""sharelake: a virtual data lake on three-party secure multi-party computation.

The client API is imported lazily (``sharelake.connect`` loads pandas and httpx on first
use), so ``import sharelake`` and the ``sharelake`` command stay fast.

Examples
--------
>>> import sharelake
>>> s = sharelake.connect("lake/consortium.toml", "analyst")  # doctest: +SKIP
>>> people = s.table("people")  # doctest: +SKIP
>>> people[people.age >= sharelake.lit(18)].head(5).collect()  # doctest: +SKIP
>>> sharelake.estimate_population(overlap_table).total  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    AuthenticationError,
    InputValidationError,
    IntegrityError,
    PeerDisconnectedError,
    PeerError,
    PeerTimeoutError,
    ProtocolError,
    SharelakeError,
)

if TYPE_CHECKING:
    from .client import Session, Table, connect, overlap, persons
    from .monitoring.mse import estimate_population
    from .node.local import LocalCluster
    from .relational.expr import col, lit, when

_LAZY = {
    "LocalCluster": "sharelake.node.local",
    "Session": "sharelake.client",
    "Table": "sharelake.client",
    "col": "sharelake.relational.expr",
    "connect": "sharelake.client",
    "estimate_population": "sharelake.monitoring.mse",
    "lit": "sharelake.relational.expr",
    "overlap": "sharelake.client",
    "persons": "sharelake.client",
    "when": "sharelake.relational.expr",
}

__all__ = [
    "AuthenticationError",
    "InputValidationError",
    "IntegrityError",
    "LocalCluster",
    "PeerDisconnectedError",
    "PeerError",
    "PeerTimeoutError",
    "ProtocolError",
    "Session",
    "SharelakeError",
    "Table",
    "__version__",
    "col",
    "connect",
    "estimate_population",
    "lit",
    "overlap",
    "persons",
    "when",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sharelake' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

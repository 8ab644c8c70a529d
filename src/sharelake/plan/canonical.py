"""Canonical encoding and hashing of plans.

A plan is plain data (dicts with string keys, lists, strings, integers, booleans and
None). Its canonical form is JSON with sorted keys, no insignificant whitespace and
ASCII only; the plan hash is the SHA-256 of that text. Floats are refused: they have
no single canonical text, and every number in a plan (constants, thresholds) is an
integer or a fixed-point integer.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..errors import InputValidationError

PLAN_VERSION = 1

JSON = dict[str, Any] | list[Any] | str | int | bool | None


class PlanError(InputValidationError, ValueError):
    """A plan is malformed: a node type, field or value that the plan language lacks."""


def _check(value: Any, path: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            raise PlanError(f"{path}: integer outside 64 bits")
        return
    if isinstance(value, float):
        raise PlanError(f"{path}: floats are not allowed in plans (use integers)")
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check(v, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise PlanError(f"{path}: keys must be strings")
            _check(v, f"{path}.{k}")
        return
    raise PlanError(f"{path}: unsupported value of type {type(value).__name__}")


def canonical_json(plan: Any) -> str:
    """The canonical text of ``plan`` (sorted keys, compact separators, ASCII)."""
    _check(plan, "plan")
    return json.dumps(plan, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def plan_hash(plan: Any) -> str:
    """Hex SHA-256 of the canonical text of ``plan``."""
    return hashlib.sha256(canonical_json(plan).encode("ascii")).hexdigest()


def session_id(plan_digest: str, analyst: str, nonce: str) -> str:
    """The session id of a query: binds the plan hash, the analyst and a fresh nonce."""
    text = f"sharelake-session-v1\x00{plan_digest}\x00{analyst}\x00{nonce}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

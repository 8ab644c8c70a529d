"""Limits a node enforces on a request before it does any work for it.

The order at every endpoint (``node/service.py``): the signature is verified from the
headers alone (the body's SHA-256 is a signed header), the member's rate is checked,
``Content-Length`` is compared with the endpoint's cap, and only then is the body read,
streamed under the cap and hashed as it arrives (:func:`~sharelake.node.bodies.receive_body`);
a JSON body is parsed with its nesting depth and size bounded (:func:`parse_json`).
Nothing is allocated from a number the client sent.

Failures are typed: :class:`BodyTooLargeError` (413), :class:`MalformedBodyError` (400:
not JSON, nested deeper than ``json_depth``, more than ``plan_nodes`` values) and
:class:`RateLimitError` (429).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from ..errors import InputValidationError, SharelakeError

__all__ = [
    "BodyTooLargeError",
    "MalformedBodyError",
    "RateLimitError",
    "RateLimiter",
    "json_shape",
    "parse_json",
]


class BodyTooLargeError(InputValidationError):
    """The request body is over the endpoint's size cap (answered with 413)."""


class MalformedBodyError(InputValidationError):
    """The request body is not JSON, or nested or sized past the node's limits (400)."""


class RateLimitError(SharelakeError):
    """The member sent more requests than the node's rate limit allows (429)."""


def json_shape(doc: Any) -> tuple[int, int]:
    """``(depth, values)`` of a parsed JSON document, without recursion.

    Examples
    --------
    >>> json_shape({"a": [1, 2, {"b": None}]})
    (3, 6)
    """
    depth = values = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        item, d = stack.pop()
        values += 1
        if isinstance(item, dict):
            depth = max(depth, d)
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            depth = max(depth, d)
            stack.extend((v, d + 1) for v in item)
    return depth, values


def parse_json(raw: bytes | bytearray, *, max_depth: int, max_values: int) -> Any:
    """Parse a request body as JSON within the node's limits.

    Raises
    ------
    MalformedBodyError
        Not UTF-8 JSON, nested deeper than ``max_depth`` or holding more than
        ``max_values`` values (objects, arrays and scalars together).
    """
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise MalformedBodyError(
            f"the request body is JSON nested deeper than this node accepts ({max_depth})"
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise MalformedBodyError("the request body is not JSON") from None
    depth, values = json_shape(doc)
    if depth > max_depth:
        raise MalformedBodyError(
            f"the request body is JSON nested {depth} levels deep; this node accepts {max_depth}"
        )
    if values > max_values:
        raise MalformedBodyError(
            f"the request body holds {values} JSON values; this node accepts {max_values}"
        )
    return doc


class RateLimiter:
    """A token bucket per member: ``rate`` requests a second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: int, *, clock: Any = time.monotonic) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate, self.burst, self.clock = float(rate), float(burst), clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, member: str) -> None:
        """Use one request of ``member``'s budget; RateLimitError when it is spent."""
        now = float(self.clock())
        with self._lock:
            tokens, last = self._buckets.get(member, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[member] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
                raise RateLimitError(
                    f"member {member!r} is over this node's rate limit "
                    f"({self.rate:g} requests/s, bursts of {self.burst:g}); retry in {wait:.1f} s"
                )
            self._buckets[member] = (tokens - 1.0, now)

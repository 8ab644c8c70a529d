"""Pickle-free files for party inputs and results: a JSON tree plus an ``.npz`` of arrays.

Supported values: None, bool, int, float, str, bytes, numpy arrays and scalars,
:class:`~sharelake.mpc.shares.AShare` / ``BShare`` (a tagged pair of arrays), and
lists, tuples and string-keyed dicts of those. Arrays are stored with
``allow_pickle=False``, so object arrays are refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..mpc.shares import AShare, BShare


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray[Any, Any]] = {}

    def _put(self, arr: np.ndarray[Any, Any]) -> str:
        if arr.dtype.hasobject:
            raise TypeError("object arrays cannot be passed between processes")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = arr
        return key

    def enc(self, v: Any) -> Any:
        if v is None or isinstance(v, bool | int | float | str):
            return v
        if isinstance(v, AShare | BShare):
            tag = "$ashare" if isinstance(v, AShare) else "$bshare"
            return {tag: [self._put(np.asarray(v.a)), self._put(np.asarray(v.b))]}
        if isinstance(v, np.ndarray):
            return {"$nd": self._put(v)}
        if isinstance(v, np.generic):
            return {"$np": self._put(np.asarray(v))}
        if isinstance(v, bytes | bytearray | memoryview):
            return {"$bytes": bytes(v).hex()}
        if isinstance(v, tuple):
            return {"$tuple": [self.enc(x) for x in v]}
        if isinstance(v, list):
            return [self.enc(x) for x in v]
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                raise TypeError("only dicts with string keys can be passed between processes")
            return {"$dict": {k: self.enc(x) for k, x in v.items()}}
        raise TypeError(f"a {type(v).__name__} cannot be passed between processes")


def _dec(v: Any, arrays: Any) -> Any:
    if isinstance(v, list):
        return [_dec(x, arrays) for x in v]
    if not isinstance(v, dict):
        return v
    ((tag, body),) = v.items()
    if tag == "$nd":
        return arrays[body]
    if tag == "$np":
        return arrays[body][()]
    if tag == "$ashare":
        return AShare(arrays[body[0]], arrays[body[1]])
    if tag == "$bshare":
        return BShare(arrays[body[0]], arrays[body[1]])
    if tag == "$bytes":
        return bytes.fromhex(body)
    if tag == "$tuple":
        return tuple(_dec(x, arrays) for x in body)
    if tag == "$dict":
        return {k: _dec(x, arrays) for k, x in body.items()}
    raise ValueError(f"unknown tag {tag!r} in a party file")


def save_value(value: Any, stem: str | Path) -> None:
    """Write ``value`` to ``{stem}.json`` and ``{stem}.npz``."""
    e = _Encoder()
    tree = e.enc(value)
    np.savez(f"{stem}.npz", **e.arrays)  # type: ignore[arg-type]
    Path(f"{stem}.json").write_text(json.dumps(tree))


def load_value(stem: str | Path) -> Any:
    """Read a value written by :func:`save_value`."""
    tree = json.loads(Path(f"{stem}.json").read_text())
    with np.load(f"{stem}.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return _dec(tree, arrays)

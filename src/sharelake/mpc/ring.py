"""Arithmetic in Z_2^64 on numpy uint64 arrays, and encodings of values into the ring."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

U64 = np.uint64
Arr = npt.NDArray[np.uint64]

#: Default number of fractional bits of fixed-point values.
FRAC_BITS = 16
SIGN_BIT = U64(1 << 63)


def to_ring(values: Any) -> Arr:
    """Encode integers (signed or unsigned, up to 64 bits) as ring elements (two's complement)."""
    arr = np.asarray(values)
    if arr.dtype == np.uint64:
        return arr.copy()
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64).view(np.uint64).copy()
    raise TypeError(f"cannot encode dtype {arr.dtype} in Z_2^64; use encode_fixed for decimals")


def to_signed(values: Arr) -> npt.NDArray[np.int64]:
    """Interpret ring elements as signed 64-bit integers."""
    return np.asarray(values, dtype=np.uint64).view(np.int64)


def encode_fixed(values: Any, frac_bits: int = FRAC_BITS) -> Arr:
    """Encode reals as fixed-point ring elements: round(x * 2^frac_bits)."""
    scaled = np.rint(np.asarray(values, dtype=np.float64) * float(1 << frac_bits))
    return scaled.astype(np.int64).view(np.uint64)


def decode_fixed(values: Arr, frac_bits: int = FRAC_BITS) -> npt.NDArray[np.float64]:
    """Decode fixed-point ring elements to floats."""
    return to_signed(values).astype(np.float64) / float(1 << frac_bits)

"""Calendar parts of secret dates: pandas' ``.dt.year``, ``.dt.month``, ``.dt.quarter``.

A ``date`` column holds the day number (days since 1970-01-01, negative before). Its
year is found by comparing the secret day number with the public day numbers of every
1 January from :data:`FIRST_YEAR` to :data:`LAST_YEAR` + 1 in ONE batched comparison
with public constants (:func:`sharelake.mpc.compare.lt_public` on 24-bit differences:
the outcomes stay shared), as a public lookup table is searched by comparisons with
its breakpoints (the "comparison with public boundaries" of bucketing in Secrecy,
Liagouris et al., NSDI 2023, and of histograms in Conclave, Volgushev et al., EuroSys
2019). The year is ``FIRST_YEAR - 1 + (number of boundaries passed)``, and from the
same bits, as public linear combinations (no communication), the day number of the
year's 1 January and whether the year is a leap year. The month then comes from a
second batched comparison of the day of the year (minus the leap day from March on)
with the public first days of February ... December; the quarter is the sum of three
of those bits.

Dates outside [``FIRST_YEAR``-01-01, ``LAST_YEAR``-12-31] give a missing value (the
range is public; an out-of-range flag is part of the same comparisons). Rounds: 2 x
(comparison + bit injection), about 16; nothing is opened.

Leakage: none.
"""

from __future__ import annotations

import datetime
from typing import Literal

import numpy as np
import pandas as pd

from ..mpc.compare import lt_public
from ..mpc.convert import b2a_bits
from ..mpc.party import Party
from ..mpc.scan import mul_many
from ..mpc.shares import AShare

__all__ = ["FIRST_YEAR", "LAST_YEAR", "DatePart", "date_part", "date_part_plain"]

DatePart = Literal["year", "month", "quarter"]
#: the public range of years the parts are computed for (others are missing)
FIRST_YEAR = 1850
LAST_YEAR = 2149
_BITS = 24  # |day number - boundary| < 2^23 for every date Python can hold
_EPOCH = datetime.date(1970, 1, 1)
#: first day of February ... December in a common year, counted from 1 January (0)
_MONTH_STARTS = (31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def _day(y: int, m: int = 1, d: int = 1) -> int:
    return (datetime.date(y, m, d) - _EPOCH).days


def _leap(y: int) -> int:
    return int(y % 4 == 0 and (y % 100 != 0 or y % 400 == 0))


def _years() -> tuple[np.ndarray[tuple[int], np.dtype[np.int64]], list[int]]:
    """The day numbers of 1 January of FIRST_YEAR .. LAST_YEAR + 1, and the leap flags of
    FIRST_YEAR .. LAST_YEAR."""
    starts = np.array([_day(y) for y in range(FIRST_YEAR, LAST_YEAR + 2)], dtype=np.int64)
    return starts, [_leap(y) for y in range(FIRST_YEAR, LAST_YEAR + 1)]


def _ge(p: Party, x: AShare, bounds: list[int]) -> list[AShare]:
    """[x >= b] for every public bound b, as 0/1 sharings, in one batched comparison."""
    n, k = len(x), len(bounds)
    stacked = AShare(np.tile(x.a, k), np.tile(x.b, k))
    c = np.repeat(np.array(bounds, dtype=np.int64), n)
    lt = b2a_bits(p, lt_public(p, stacked, c, bits=_BITS))
    one = p.public_a(np.ones(n, dtype=np.uint64))
    return [one - AShare(lt.a[i * n : (i + 1) * n], lt.b[i * n : (i + 1) * n]) for i in range(k)]


def date_part(p: Party, days: AShare, part: DatePart) -> tuple[AShare, AShare]:
    """The year, month (1-12) or quarter (1-4) of secret day numbers: (values, invalid),
    ``invalid`` 1 for a date outside FIRST_YEAR .. LAST_YEAR (the value is then 0)."""
    n = len(days)
    starts, leaps = _years()
    ge = _ge(p, days, [int(s) for s in starts])  # ge[i]: on or after 1 January of year i
    one = p.public_a(np.ones(n, dtype=np.uint64))
    inside = ge[0] - ge[-1]  # on or after the first 1 January and before the last
    year = ge[0].scale(FIRST_YEAR)
    jan1 = ge[0].scale(int(starts[0]))
    leap = ge[0].scale(leaps[0])
    for i in range(1, len(leaps)):  # passing 1 January of year i moves every part along
        year = year + ge[i]
        jan1 = jan1 + ge[i].scale(int(starts[i] - starts[i - 1]))
        leap = leap + ge[i].scale(leaps[i] - leaps[i - 1])
    if part == "year":
        out = year
    else:
        doy = days - jan1  # day of the year, 0-based
        # from 1 March on, a leap year's days are one later than a common year's
        probe = [doy] + [doy - leap] * (len(_MONTH_STARTS) - 1)
        stacked = AShare(np.concatenate([x.a for x in probe]), np.concatenate([x.b for x in probe]))
        k = len(_MONTH_STARTS)
        c = np.repeat(np.array(_MONTH_STARTS, dtype=np.int64), n)
        lt = b2a_bits(p, lt_public(p, stacked, c, bits=_BITS))
        passed = [
            one - AShare(lt.a[i * n : (i + 1) * n], lt.b[i * n : (i + 1) * n]) for i in range(k)
        ]
        # a quarter passes 1 April, 1 July and 1 October
        out = one + (_sum(passed) if part == "month" else passed[2] + passed[5] + passed[8])
    (masked,) = mul_many(p, [(out, inside)])
    return masked, one - inside


def _sum(xs: list[AShare]) -> AShare:
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def date_part_plain(
    days: np.ndarray[tuple[int], np.dtype[np.int64]], part: DatePart
) -> tuple[np.ndarray[tuple[int], np.dtype[np.int64]], np.ndarray[tuple[int], np.dtype[np.bool_]]]:
    """The plaintext twin of :func:`date_part`: (values, invalid)."""
    d = np.asarray(days, dtype=np.int64)
    lo, hi = _day(FIRST_YEAR), _day(LAST_YEAR + 1)
    bad = (d < lo) | (d >= hi)
    dt = pd.DatetimeIndex(np.where(bad, 0, d).astype("datetime64[D]"))
    v = {"year": dt.year, "month": dt.month, "quarter": dt.quarter}[part]
    return np.where(bad, 0, np.asarray(v, dtype=np.int64)), bad

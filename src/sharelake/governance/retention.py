"""Retention: until when a table's shares may be kept (pure rules, no I/O).

A policy sets at most one of

``retain_until = YYYY-MM-DD``
    the table is kept through that day (UTC) and expires at the following midnight UTC;
``retain_days = N``
    the table is kept through the N-th day after the day (UTC) it was *first* committed
    (the catalog's ``created``: a replacement upload or an erasure does not restart the
    period, so retention cannot be extended by uploading again; drop the table to start
    afresh).

An expired table is never read by a query (every node checks at admission, on its own
clock), and every node destroys its shares (overwritten, then unlinked) at start-up, at
its periodic check, and when a query meets it (:mod:`sharelake.node.privacy`).

Examples
--------
>>> from sharelake.governance.policy import Policy
>>> p = Policy(retain_until="2026-01-31")
>>> expires_at(p, created=0.0) == dt.datetime(2026, 2, 1, tzinfo=dt.UTC).timestamp()
True
>>> retention_text(Policy(retain_days=30))
'30 days after the first upload'
>>> expires_at(Policy(), created=0.0) is None
True
"""

from __future__ import annotations

import datetime as dt

from .policy import Policy

__all__ = ["expired", "expires_at", "expiry_text", "retention_text"]


def _midnight_after(day: dt.date) -> float:
    nxt = day + dt.timedelta(days=1)
    return dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=dt.UTC).timestamp()


def expires_at(policy: Policy, *, created: float) -> float | None:
    """The instant (Unix seconds) a table under ``policy`` expires; None: never.

    Parameters
    ----------
    policy
        The policy in force.
    created
        When the table was first committed (Unix seconds; the catalog's ``created``).
    """
    if policy.retain_until is not None:
        return _midnight_after(dt.date.fromisoformat(policy.retain_until))
    if policy.retain_days is not None:
        start = dt.datetime.fromtimestamp(created, tz=dt.UTC).date()
        return _midnight_after(start + dt.timedelta(days=policy.retain_days))
    return None


def expired(policy: Policy, *, created: float, now: float) -> bool:
    """Whether a table under ``policy`` first committed at ``created`` is expired at ``now``.

    Examples
    --------
    >>> p = Policy(retain_days=0)
    >>> expired(p, created=0.0, now=86399.0), expired(p, created=0.0, now=86400.0)
    (False, True)
    """
    at = expires_at(policy, created=created)
    return at is not None and now >= at


def expiry_text(at: float | None) -> str:
    """``"2026-02-01T00:00:00Z"`` for an expiry instant, ``"never"`` for None."""
    if at is None:
        return "never"
    return dt.datetime.fromtimestamp(at, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def retention_text(policy: Policy) -> str:
    """The retention rule of ``policy`` in words (for reports and status)."""
    if policy.retain_until is not None:
        return f"kept through {policy.retain_until} (UTC)"
    if policy.retain_days is not None:
        return f"{policy.retain_days} days after the first upload"
    return "no retention limit set"

"""Changing a table's policy as its owner: read, validate, sign, send to the three nodes.

:meth:`sharelake.client.session.Session.set_policy` is the entry point; this module holds
its steps and :func:`policy_changes`, the readable difference between two policies that
``sharelake policy set`` prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..governance.policy import Policy, PolicyChange, PolicyError
from ..plan.canonical import canonical_json
from .upload import load_policy

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from .catalog import TableInfo
    from .connection import Connection

__all__ = ["UNCLASSIFIED", "parse_policy", "policy_changes", "set_policy"]

UNCLASSIFIED = "unclassified"


def parse_policy(policy: Mapping[str, Any] | str | Path, *, columns: Iterable[str]) -> Policy:
    """Read (a TOML file, as ``sharelake upload --policy``) and validate a policy.

    Raises
    ------
    sharelake.errors.InputValidationError
        The file cannot be read or is not TOML.
    sharelake.governance.policy.PolicyError
        The policy is invalid; the message names the file (when one) and the bad setting,
        column or class. A column not in ``columns`` (the table's) is refused.
    """
    doc = load_policy(policy)
    try:
        return Policy.from_dict(doc, schema=list(columns))
    except PolicyError as exc:
        if isinstance(policy, Mapping):
            raise
        raise PolicyError(f"{policy}: {exc}") from None


def set_policy(
    session: Connection,
    key: ed25519.Ed25519PrivateKey,
    table: str,
    policy: Mapping[str, Any] | str | Path,
    *,
    progress: bool = False,
) -> TableInfo:
    """Sign and send the next policy version of ``table``; see :meth:`Session.set_policy`."""
    info = session.table_info(table)
    if info.owner != session.member:
        raise PolicyError(
            f"table {table!r}: only its owner {info.owner!r} may change its policy, "
            f"not {session.member!r}"
        )
    new = parse_policy(policy, columns=info.columns)
    change = PolicyChange.create(
        key, session.member, table, info.policy_version + 1, new, table_version=info.version
    )
    body = canonical_json(change.to_dict()).encode("ascii")
    if progress:
        from rich.console import Console

        with Console(stderr=True).status(
            f"sending policy version {change.version} of {table!r} to the three nodes"
        ):
            session.on_each("POST", f"/v1/tables/{table}/policy", body, wait_all=True)
    else:
        session.on_each("POST", f"/v1/tables/{table}/policy", body, wait_all=True)
    return session.table_info(table)


def _settings(p: Policy) -> dict[str, str]:
    analysts = "any analyst" if p.analysts is None else ", ".join(p.analysts) or "none"
    return {
        "min_group_size": str(p.min_group_size),
        "analysts": analysts,
        "release_sizes": "true" if p.release_sizes else "false",
    }


def policy_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], *, columns: Iterable[str] = ()
) -> list[str]:
    """What differs between two policies (dict forms), one ``what: old -> new`` line each.

    Columns come first, in ``columns`` order then any other the policies name; a column a
    policy does not list is ``unclassified``.

    Examples
    --------
    >>> policy_changes(
    ...     {"columns": {"age": "reveal"}},
    ...     {"min_group_size": 10, "columns": {"age": "aggregate", "region": "group"}},
    ...     columns=["age", "region", "name"],
    ... )
    ['column age: reveal -> aggregate', 'column region: unclassified -> group', \
'min_group_size: 5 -> 10']
    """
    a, b = Policy.from_dict(old), Policy.from_dict(new)
    names = list(dict.fromkeys([*columns, *a.columns, *b.columns]))
    lines = []
    for c in names:
        was, now = a.column_class(c) or UNCLASSIFIED, b.column_class(c) or UNCLASSIFIED
        if was != now:
            lines.append(f"column {c}: {was} -> {now}")
    sa, sb = _settings(a), _settings(b)
    lines += [f"{k}: {sa[k]} -> {sb[k]}" for k in sa if sa[k] != sb[k]]
    return lines

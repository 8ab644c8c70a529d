"""Authorisation of requests at a node: roles and the tables' analyst lists.

This is the hook where the governance issue plugs in full policy and approval checks:
:func:`authorize` is called by every node, on its own, before a query touches data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..consortium.members import Member
from ..errors import SharelakeError
from ..plan import tree

__all__ = ["AuthorizationError", "authorize", "require_role"]


class AuthorizationError(SharelakeError):
    """The authenticated member may not do what it asked (answered with 403)."""


def require_role(member: Member, role: str) -> None:
    """Raise :class:`AuthorizationError` unless ``member`` holds ``role``."""
    if role not in member.roles:
        raise AuthorizationError(f"member {member.name!r} does not have the role {role!r}")


def authorize(plan: tree.Plan, member: Member, catalog: Mapping[str, Mapping[str, Any]]) -> None:
    """Decide whether ``member`` may run ``plan`` on the tables described in ``catalog``.

    Parameters
    ----------
    plan
        The typed plan.
    member
        The authenticated analyst.
    catalog
        Public description (``GET /v1/tables`` form) of every table the plan scans.

    Raises
    ------
    AuthorizationError
        The member is not an analyst, or a table's policy lists its analysts and the
        member is not among them.

    Notes
    -----
    Column policies, output thresholds and approvals of plan hashes are checked here
    once the governance issue lands; today only the role and the ``analysts`` list are.
    """
    del plan
    require_role(member, "analyst")
    for name, info in catalog.items():
        policy = info.get("policy")
        allowed = policy.get("analysts") if isinstance(policy, Mapping) else None
        if allowed is not None and member.name not in allowed:
            raise AuthorizationError(f"the policy of table {name!r} does not admit {member.name!r}")

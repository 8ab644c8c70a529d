"""Governance: member identities, the consortium file, request signing, cluster setup.

Policies, approvals, output rules and the audit log join this package (issue 5).
"""

from __future__ import annotations

from .cluster import DEFAULT_MEMBERS, MemberSpec, NodeConfig, init_cluster
from .consortium import Consortium, ConsortiumConfigError, Member, NodeInfo, UnknownMemberError
from .keys import KeyFileError, SignatureError, generate_key, load_private_key, save_private_key
from .signing import (
    MalformedRequestError,
    ReplayError,
    RequestVerifier,
    StaleRequestError,
    sign_request,
)

__all__ = [
    "DEFAULT_MEMBERS",
    "Consortium",
    "ConsortiumConfigError",
    "KeyFileError",
    "MalformedRequestError",
    "Member",
    "MemberSpec",
    "NodeConfig",
    "NodeInfo",
    "ReplayError",
    "RequestVerifier",
    "SignatureError",
    "StaleRequestError",
    "UnknownMemberError",
    "generate_key",
    "init_cluster",
    "load_private_key",
    "save_private_key",
    "sign_request",
]

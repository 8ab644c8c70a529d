"""Shared fixtures: every protocol test body runs in memory and over three TLS processes."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["memory", pytest.param("tls", marks=pytest.mark.tls)])
def transport(request: pytest.FixtureRequest) -> str:
    """The transport a protocol test runs over: threads in memory, or TLS processes."""
    return str(request.param)

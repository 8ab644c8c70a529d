"""Shared fixtures: every protocol test body runs in memory and over three TLS processes."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# `make test` draws the same hypothesis examples on every run, so CI fails only on a change;
# `make fuzz` draws new ones (and more of them) to look for the next counterexample.
settings.register_profile("deterministic", derandomize=True, print_blob=True)
settings.register_profile("fuzz", derandomize=False, max_examples=500, print_blob=True)
settings.load_profile(os.environ.get("SHARELAKE_HYPOTHESIS", "deterministic"))


@pytest.fixture(params=["memory", pytest.param("tls", marks=pytest.mark.tls)])
def transport(request: pytest.FixtureRequest) -> str:
    """The transport a protocol test runs over: threads in memory, or TLS processes."""
    return str(request.param)

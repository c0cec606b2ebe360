"""Shared pytest configuration: real-server fixtures and a clean environment for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Listed plainly: a plugin that fails to import must fail the run, not vanish with its fixtures.
pytest_plugins = [
    "tests.support.redis_fixtures",
    "tests.support.emulator",
    "tests.support.bridge",
    "tests.support.browser",
]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees another's settings, nor the developer's own OAUTH_BRIDGE_/LOOKERSDK_ values."""
    for name in list(os.environ):
        if name.startswith(("OAUTH_BRIDGE_", "LOOKERSDK_")):
            monkeypatch.delenv(name, raising=False)
    yield

"""Shared pytest configuration: real-server fixtures and a clean environment for every test."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import pytest

_FIXTURE_MODULES = (
    "tests.fixtures.redis_fixtures",
    "tests.fixtures.emulator",
    "tests.fixtures.bridge",
    "tests.fixtures.browser",
)
pytest_plugins = [name for name in _FIXTURE_MODULES if importlib.util.find_spec(name)]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees another's settings, nor the developer's own OAUTH_BRIDGE_/LOOKERSDK_ values."""
    for name in list(os.environ):
        if name.startswith(("OAUTH_BRIDGE_", "LOOKERSDK_")):
            monkeypatch.delenv(name, raising=False)
    yield

"""Shared pytest configuration: real-server fixtures and a clean environment for every test.

Where tests go: ``support/`` holds shared test data, fakes and the fixture plugins below (never a
test; no test module imports another). ``unit/`` is pure tests: no server, no Redis, no network.
``integration/`` runs the real bridge, emulator and Redis (and gunicorn, the CLI, the demo) end
to end. ``security/`` is attacks and their refusals (CSRF, CORS, cookies, hostile requests,
token leakage, the soak). ``emulator/`` tests the Looker emulator itself, with plain HTTP and the
official looker-sdk. ``browser/`` drives headless Chromium (marked ``browser``). ``bench/`` keeps
the benchmark in ``bench/run.py`` working. ``make test-fast`` skips the browser and slow marks.
"""

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
    "tests.support.gunicorn",
    "tests.support.demo_stack",
]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees another's settings, nor the developer's own OAUTH_BRIDGE_/LOOKERSDK_ values."""
    for name in list(os.environ):
        if name.startswith(("OAUTH_BRIDGE_", "LOOKERSDK_")):
            monkeypatch.delenv(name, raising=False)
    yield

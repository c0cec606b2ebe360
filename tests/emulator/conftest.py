"""Shared bits of the emulator's own tests: a registered OAuth client app."""

from __future__ import annotations

import pytest

from oauth_bridge.emulator import EmulatorServer
from tests.support.emulator import TEST_REDIRECT_URI

CLIENT_ID = "test-spa"


@pytest.fixture
def client_id(emulator: EmulatorServer) -> str:
    emulator.state.register_client_app(CLIENT_ID, TEST_REDIRECT_URI, display_name="Test SPA")
    return CLIENT_ID

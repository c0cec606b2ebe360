"""Shared bits of the emulator's own tests: a registered OAuth client app, API3 callers per
seed user (raw HTTP, ``as_user``; test_api.py has its own OAuth one) and the official looker-sdk
(``sdk_for``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import looker_sdk
import pytest
import requests
from looker_sdk.rtl import requests_transport

from oauth_bridge.emulator import EmulatorServer
from oauth_bridge.emulator.seed import SEED_BY_KEY
from tests.support.emulator import TEST_REDIRECT_URI

Call = Callable[..., requests.Response]
SDK = looker_sdk.methods40.Looker40SDK

CLIENT_ID = "test-spa"


@pytest.fixture
def client_id(emulator: EmulatorServer) -> str:
    emulator.state.register_client_app(CLIENT_ID, TEST_REDIRECT_URI, display_name="Test SPA")
    return CLIENT_ID


@pytest.fixture
def as_user(emulator: EmulatorServer) -> Callable[[str], Call]:
    """API3 sign-in of a seed user; a call function with its token."""

    def make(who: str) -> Call:
        client_id, secret = SEED_BY_KEY[who].api3
        login = requests.post(
            f"{emulator.api_url}/api/4.0/login",
            data={"client_id": client_id, "client_secret": secret},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

        def call(method: str, path: str, **kwargs: Any) -> requests.Response:
            url = f"{emulator.api_url}/api/4.0{path}"
            return requests.request(method, url, headers=headers, timeout=30, **kwargs)

        return call

    return make


@pytest.fixture
def sdk_for(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], SDK]]:
    """An SDK signed in with a seed user's API3 credentials."""
    made: list[SDK] = []

    def make(who: str) -> SDK:
        client_id, secret = SEED_BY_KEY[who].api3
        monkeypatch.setenv("LOOKERSDK_BASE_URL", emulator.api_url)
        monkeypatch.setenv("LOOKERSDK_CLIENT_ID", client_id)
        monkeypatch.setenv("LOOKERSDK_CLIENT_SECRET", secret)
        monkeypatch.setenv("LOOKERSDK_VERIFY_SSL", "false")
        made.append(looker_sdk.init40())
        return made[-1]

    yield make
    for client in made:
        transport = client.auth.transport
        assert isinstance(transport, requests_transport.RequestsTransport)
        transport.session.close()

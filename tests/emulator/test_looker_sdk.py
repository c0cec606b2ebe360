"""The official looker-sdk (PyPI), unchanged, as a client of the emulator; its models parse."""

from __future__ import annotations

from collections.abc import Iterator

import looker_sdk
import pytest
from looker_sdk import error as sdk_error
from looker_sdk import models40
from looker_sdk.rtl import requests_transport

from oauth_bridge.emulator import EmulatorServer
from oauth_bridge.emulator.seed import ADMIN_API3


@pytest.fixture
def sdk(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[looker_sdk.methods40.Looker40SDK]:
    monkeypatch.setenv("LOOKERSDK_BASE_URL", emulator.api_url)
    monkeypatch.setenv("LOOKERSDK_CLIENT_ID", ADMIN_API3[0])
    monkeypatch.setenv("LOOKERSDK_CLIENT_SECRET", ADMIN_API3[1])
    monkeypatch.setenv("LOOKERSDK_VERIFY_SSL", "false")
    client = looker_sdk.init40()
    yield client
    transport = client.auth.transport
    assert isinstance(transport, requests_transport.RequestsTransport)
    transport.session.close()


def test_sdk_reads_users_and_content(sdk: looker_sdk.methods40.Looker40SDK) -> None:
    me = sdk.me()
    assert isinstance(me, models40.User)
    assert (me.id, me.email, me.is_disabled) == ("1", "admin@example.com", False)
    assert me.credentials_api3 and me.credentials_api3[0].client_id == "admin-client-id"
    users = sdk.all_users()
    assert sorted(str(u.email) for u in users) == [
        "admin@example.com",
        "analyst@example.com",
        "viewer@example.com",
    ]
    look = sdk.look("1")
    assert isinstance(look, models40.LookWithQuery)
    assert look.query and look.query.model == "thelook" and look.folder and look.folder.id == "1"
    dashboard = sdk.dashboard("1")
    assert isinstance(dashboard, models40.Dashboard)
    assert dashboard.dashboard_elements and dashboard.dashboard_elements[-1].look_id == "1"
    layout = (dashboard.dashboard_layouts or [])[0]
    placed = {c.dashboard_element_id: c for c in layout.dashboard_layout_components or []}
    assert set(placed) == {e.id for e in dashboard.dashboard_elements}
    assert placed["16"].width == 24 and placed["16"].vis_type == "looker_line"
    csv_text = sdk.run_look("1", "csv", limit=3)
    assert csv_text.splitlines()[0] == "orders.id,orders.created_date,orders.status,orders.amount"
    assert len(csv_text.splitlines()) == 4
    with pytest.raises(sdk_error.SDKError):
        sdk.look("999")


def test_sdk_registers_reads_and_updates_an_oauth_client_app(
    sdk: looker_sdk.methods40.Looker40SDK, emulator: EmulatorServer
) -> None:
    body = models40.WriteOauthClientApp(
        redirect_uri="https://bridge.example.test/auth/callback",
        display_name="oauth_bridge",
        description="tests",
        enabled=True,
    )
    created = sdk.register_oauth_client_app("bridge-guid", body)
    assert isinstance(created, models40.OauthClientApp)
    assert created.client_guid == "bridge-guid" and created.enabled is True
    fetched = sdk.oauth_client_app("bridge-guid")
    assert fetched.redirect_uri == "https://bridge.example.test/auth/callback"
    updated = sdk.update_oauth_client_app(
        "bridge-guid", models40.WriteOauthClientApp(display_name="renamed", enabled=False)
    )
    assert (updated.display_name, updated.enabled) == ("renamed", False)
    assert emulator.state.get_app("bridge-guid") is not None
    assert [app.client_guid for app in sdk.all_oauth_client_apps()] == ["bridge-guid"]
    sdk.invalidate_tokens("bridge-guid")
    assert sdk.oauth_client_app("bridge-guid").tokens_invalid_before is not None


def test_sdk_logout_revokes_its_token(
    sdk: looker_sdk.methods40.Looker40SDK, emulator: EmulatorServer
) -> None:
    sdk.me()
    token = sdk.auth.token.access_token
    assert emulator.state.is_token_valid(token)
    sdk.auth.logout()
    assert not emulator.state.is_token_valid(token)
    paths = [(r.method, r.path) for r in emulator.state.request_log]
    assert paths[0] == ("POST", "/api/4.0/login")
    assert paths[-1] == ("DELETE", "/api/logout")
    assert emulator.state.request_log[-1].headers["Authorization"] == "Bearer"

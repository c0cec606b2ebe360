"""The API pass-through end to end: real bridge, real emulator, real Redis.

Each user sees only its own content; paths, queries, bodies and methods arrive intact at the
emulator (its request log proves what Looker received); a 401 from Looker refreshes once or ends
the session; Looker down or slow answers JSON 502/504 that the SPA can read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from oauth_bridge.emulator.records import digest as _digest
from oauth_bridge.models import SessionRecord
from oauth_bridge.services import get_services
from tests.support.bridge import BridgeServer, sign_in_as

pytestmark = pytest.mark.both_data_planes  # embedded proxy, and nginx in front

API = {"X-Looker-AppId": "oauth-bridge-tests"}


def record_of(bridge: BridgeServer, http: requests.Session) -> SessionRecord:
    cookie = http.cookies[bridge.settings.cookie_name]
    record: SessionRecord | None = get_services(bridge.app).store.load(cookie)
    assert record is not None
    return record


def call(
    bridge: BridgeServer, http: requests.Session, method: str, path: str, **kwargs: Any
) -> requests.Response:
    headers = {**API, **kwargs.pop("headers", {})}
    with http.request(
        method, f"{bridge.url}{path}", headers=headers, timeout=20, **kwargs
    ) as response:
        response.content  # noqa: B018 - read it all so the connection is released
        return response


@pytest.mark.parametrize(
    ("who", "looks", "can_see_finance"),
    [
        ("admin", {"1", "2", "3"}, True),
        ("analyst", {"1", "2", "3"}, True),
        ("viewer", {"1", "2"}, False),
    ],
)
def test_each_user_sees_only_its_own_content(
    bridge: BridgeServer, who: str, looks: set[str], can_see_finance: bool
) -> None:
    http = sign_in_as(bridge, who)
    with http:
        me = call(bridge, http, "GET", "/api/4.0/user")
        assert me.status_code == 200
        assert me.json()["email"] == f"{who}@example.com"
        listed = call(bridge, http, "GET", "/api/4.0/looks")
        assert {look["id"] for look in listed.json()} == looks
        finance = call(bridge, http, "GET", "/api/4.0/looks/3")
        assert finance.status_code == (200 if can_see_finance else 404)
        dashboard = call(bridge, http, "GET", "/api/4.0/dashboards/2")
        assert dashboard.status_code == (200 if can_see_finance else 404)


def test_query_strings_json_bodies_patch_and_delete_pass_intact(bridge: BridgeServer) -> None:
    log = bridge.emulator.state
    with sign_in_as(bridge, "analyst") as http:
        before = len(log.request_log)
        got = call(bridge, http, "GET", "/api/4.0/looks/1?fields=id,title&x=%2Fa%20b")
        assert got.status_code == 200
        assert set(got.json()) == {"id", "title"}

        body = json.dumps({"model": "thelook", "view": "orders", "fields": ["orders.id"]})
        ran = call(
            bridge,
            http,
            "POST",
            "/api/4.0/queries/run/json?limit=3",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        assert ran.status_code == 200, ran.text
        assert len(ran.json()) == 3

        patched = call(
            bridge, http, "PATCH", "/api/4.0/looks/3", json={"title": "Renamed through the bridge"}
        )
        assert patched.status_code == 200, patched.text
        again = call(bridge, http, "GET", "/api/4.0/looks/3")
        assert again.json()["title"] == "Renamed through the bridge"

        deleted = call(bridge, http, "DELETE", "/api/4.0/looks/3")
        assert deleted.status_code == 204
        assert call(bridge, http, "GET", "/api/4.0/looks/3").status_code == 404

    seen = log.request_log[before:]
    assert [(r.method, r.path) for r in seen] == [
        ("GET", "/api/4.0/looks/1"),
        ("POST", "/api/4.0/queries/run/json"),
        ("PATCH", "/api/4.0/looks/3"),
        ("GET", "/api/4.0/looks/3"),
        ("DELETE", "/api/4.0/looks/3"),
        ("GET", "/api/4.0/looks/3"),
    ]
    assert seen[0].query_string == "fields=id,title&x=%2Fa%20b"
    assert seen[1].query_string == "limit=3"
    assert seen[1].body_size == len(body)
    assert seen[2].body_size == len(json.dumps({"title": "Renamed through the bridge"}))


def test_only_allowlisted_headers_reach_looker_and_come_back(bridge: BridgeServer) -> None:
    with sign_in_as(bridge, "viewer") as http:
        before = len(bridge.emulator.state.request_log)
        response = call(
            bridge,
            http,
            "GET",
            "/api/4.0/user",
            headers={
                "Accept": "application/json",
                "Authorization": "Bearer browser-supplied",
                "X-Forwarded-For": "10.0.0.1",
                "X-Forwarded-Host": "evil.example",
                "X-Custom": "nope",
                "Origin": bridge.spa_origin,
            },
        )
        assert response.status_code == 200
        assert response.json()["email"] == "viewer@example.com"  # the browser's token was ignored
        assert "Set-Cookie" not in response.headers
        assert response.headers["Access-Control-Allow-Origin"] == bridge.spa_origin
    (seen,) = bridge.emulator.state.request_log[before:]
    names = {name.lower() for name in seen.headers}
    assert seen.headers.get("Authorization") == "Bearer"  # the log keeps only the scheme
    assert "cookie" not in names
    assert "origin" not in names
    assert not any(name.startswith("x-forwarded") for name in names)
    assert "x-custom" not in names
    assert seen.headers.get("X-Looker-Appid") == API["X-Looker-AppId"]
    assert seen.headers.get("X-Request-Id") == response.headers["X-Request-Id"]
    assert seen.headers.get("Host", "").endswith(bridge.emulator.api_url.split("//")[1])


def test_no_session_is_401_json_with_login_url_and_cors(bridge: BridgeServer) -> None:
    before = bridge.emulator.state.request_count
    with requests.get(
        f"{bridge.url}/api/4.0/user",
        headers={**API, "Origin": bridge.spa_origin},
        timeout=10,
        allow_redirects=False,
    ) as response:
        assert response.status_code == 401
        assert response.json()["error"] == "not_authenticated"
        assert response.json()["login_url"] == "/auth/login"
        assert response.headers["Access-Control-Allow-Origin"] == bridge.spa_origin
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert bridge.emulator.state.request_count == before


def forget_access_token(bridge: BridgeServer, token: str) -> None:
    """Looker stops honouring one access token (its refresh token stays good)."""
    state = bridge.emulator.state
    with state.lock:
        state._access.pop(_digest(token))


def test_a_401_on_a_get_refreshes_once_and_retries(bridge: BridgeServer) -> None:
    with sign_in_as(bridge, "analyst") as http:
        old = record_of(bridge, http).tokens.access_token
        forget_access_token(bridge, old)
        refreshes = bridge.emulator.state.token_requests.get("refresh_token", 0)
        response = call(bridge, http, "GET", "/api/4.0/user")
        assert response.status_code == 200
        assert response.json()["email"] == "analyst@example.com"
        assert bridge.emulator.state.token_requests["refresh_token"] == refreshes + 1
        assert record_of(bridge, http).tokens.access_token != old


def test_a_401_on_a_write_ends_the_session(bridge: BridgeServer) -> None:
    with sign_in_as(bridge, "analyst") as http:
        forget_access_token(bridge, record_of(bridge, http).tokens.access_token)
        before = len(bridge.emulator.state.request_log)
        response = call(bridge, http, "PATCH", "/api/4.0/looks/1", json={"title": "x"})
        assert response.status_code == 401
        assert response.json()["error"] == "not_authenticated"
        assert [r.method for r in bridge.emulator.state.request_log[before:]] == ["PATCH"]
        assert call(bridge, http, "GET", "/auth/session").status_code == 401


def test_signed_out_at_looker_means_401_and_the_session_ends(bridge: BridgeServer) -> None:
    with sign_in_as(bridge, "viewer") as http:
        assert bridge.emulator.state.logout(record_of(bridge, http).tokens.access_token)
        response = call(bridge, http, "GET", "/api/4.0/user")
        assert response.status_code == 401
        assert response.json()["error"] == "not_authenticated"
        assert call(bridge, http, "GET", "/auth/session").status_code == 401


def test_looker_down_is_502_json_with_cors(bridge: BridgeServer) -> None:
    with sign_in_as(bridge, "viewer") as http:
        bridge.emulator.stop_api()
        response = call(bridge, http, "GET", "/api/4.0/user", headers={"Origin": bridge.spa_origin})
        assert response.status_code == 502
        assert response.json()["error"] == "looker_unavailable"
        assert response.headers["Access-Control-Allow-Origin"] == bridge.spa_origin


def test_looker_slow_is_504_json_with_cors(bridge_factory: Callable[..., BridgeServer]) -> None:
    bridge = bridge_factory(upstream_read_timeout=0.5)
    with sign_in_as(bridge, "viewer") as http:
        bridge.emulator.state.update_config(api_delay=2.0)
        response = call(bridge, http, "GET", "/api/4.0/user", headers={"Origin": bridge.spa_origin})
        assert response.status_code == 504
        assert response.json()["error"] == "looker_timeout"
        assert response.headers["Access-Control-Allow-Origin"] == bridge.spa_origin
        bridge.emulator.state.update_config(api_delay=0.0)
        assert call(bridge, http, "GET", "/api/4.0/user").status_code == 200


def test_head_answers_headers_only(bridge: BridgeServer) -> None:
    with sign_in_as(bridge, "viewer") as http:
        response = call(bridge, http, "HEAD", "/api/4.0/looks/1")
        assert response.status_code == 200
        assert response.content == b""


def test_proxy_session_convention_reaches_the_same_api(bridge: BridgeServer) -> None:
    with sign_in_as(bridge, "analyst") as http:
        target = f"{bridge.settings.looker_api_url}/api/4.0/looks/1?fields=id"
        response = call(bridge, http, "GET", "/api/proxy", headers={"X-Forwarded-For": target})
        assert response.status_code == 200, response.text
        assert response.json() == {"id": "1"}
        last = bridge.emulator.state.request_log[-1]
        assert (last.path, last.query_string) == ("/api/4.0/looks/1", "fields=id")
        assert "x-forwarded-for" not in {name.lower() for name in last.headers}

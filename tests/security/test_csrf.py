"""CSRF on every state-changing route: no non-simple header → 403, a foreign Origin → 403.

A signed-in browser carries the session cookie on cross-site requests it is tricked into
making (forms, images, ``fetch`` with ``mode: "no-cors"``). None of those can add a custom
header without a CORS preflight, so the bridge demands one, and refuses foreign ``Origin``s
even when the header is present. The emulator's request log proves nothing reached Looker.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from tests.support.bridge import BridgeServer, sign_in_as
from tests.support.security_tools import CSRF, api_calls

pytestmark = pytest.mark.both_data_planes  # embedded proxy, and nginx in front

API_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
API_TARGETS = ["/api/4.0/looks/1", "/api/4.0/user", "/api/4.0/oauth_client_apps/x/tokens"]
FOREIGN = ["http://evil.example", "null", "http://localhost:1"]


def _code(response: requests.Response) -> str | None:
    if response.request.method == "HEAD" or not response.content:
        return None
    return str(response.json()["error"])


@pytest.mark.parametrize("method", API_METHODS)
def test_api_without_csrf_header_is_refused_before_looker(
    bridge: BridgeServer, method: str
) -> None:
    http = sign_in_as(bridge, "admin")
    before = api_calls(bridge)
    for target in API_TARGETS:
        for headers in (
            {},
            {"Content-Type": "application/x-www-form-urlencoded"},
            {"Content-Type": "text/plain"},
            {"X-Looker-AppId": ""},
            {"X-Requested-With": ""},
        ):
            with http.request(
                method, f"{bridge.url}{target}", headers=headers, data=b"a=1", timeout=10
            ) as response:
                assert response.status_code == 403, (method, target, headers)
                assert _code(response) == (None if method == "HEAD" else "csrf_header_missing")
    assert api_calls(bridge) == before
    http.close()


@pytest.mark.parametrize("method", API_METHODS)
@pytest.mark.parametrize("origin", FOREIGN)
def test_api_with_foreign_origin_is_refused_even_with_the_header(
    bridge: BridgeServer, method: str, origin: str
) -> None:
    http = sign_in_as(bridge, "admin")
    before = api_calls(bridge)
    with http.request(
        method,
        f"{bridge.url}/api/4.0/looks/1",
        headers={**CSRF, "Origin": origin},
        json={"title": "hijacked"},
        timeout=10,
    ) as response:
        assert response.status_code == 403
        assert _code(response) == (None if method == "HEAD" else "origin_not_allowed")
    assert api_calls(bridge) == before
    http.close()


@pytest.mark.parametrize("headers", [{}, {"Origin": "http://evil.example"}, {"Origin": "null"}])
def test_proxy_session_route_needs_the_same_defence(
    bridge: BridgeServer, headers: dict[str, str]
) -> None:
    http = sign_in_as(bridge, "admin")
    before = api_calls(bridge)
    target = f"{bridge.settings.looker_api_url}/api/4.0/user"
    extra = {} if not headers else CSRF
    with http.post(
        f"{bridge.url}/api/proxy",
        headers={**headers, **extra, "X-Forwarded-For": target},
        timeout=10,
    ) as response:
        assert response.status_code == 403
    assert api_calls(bridge) == before
    http.close()


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, "csrf_header_missing"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "csrf_header_missing"),
        ({**CSRF, "Origin": "http://evil.example"}, "origin_not_allowed"),
        ({**CSRF, "Origin": "null"}, "origin_not_allowed"),
        (
            {"X-Requested-With": "XMLHttpRequest", "Origin": "http://evil.example"},
            "origin_not_allowed",
        ),
    ],
)
def test_logout_is_not_forgeable(bridge: BridgeServer, headers: dict[str, str], error: str) -> None:
    http = sign_in_as(bridge, "analyst")
    everywhere = sign_in_as(bridge, "analyst")
    for query in ("", "?everywhere=1"):
        with http.post(f"{bridge.url}/auth/logout{query}", headers=headers, timeout=10) as out:
            assert out.status_code == 403
            assert out.json()["error"] == error
            assert "Set-Cookie" not in out.headers
    for browser in (http, everywhere):
        with browser.get(f"{bridge.url}/auth/session", timeout=10) as still:
            assert still.status_code == 200
    http.close()
    everywhere.close()


@pytest.mark.parametrize(
    "headers",
    [
        CSRF,
        {"X-Requested-With": "XMLHttpRequest"},
        {**CSRF, "Origin": "{spa}"},
        {**CSRF, "Origin": "{bridge}"},
    ],
)
def test_logout_with_the_header_and_a_good_origin_works(
    bridge: BridgeServer, headers: dict[str, str]
) -> None:
    """The control for the refusals above: the same request with the defence satisfied."""
    http = sign_in_as(bridge, "analyst")
    filled = {k: v.format(spa=bridge.spa_origin, bridge=bridge.url) for k, v in headers.items()}
    with http.post(f"{bridge.url}/auth/logout", headers=filled, timeout=10) as out:
        assert out.status_code == 204
    with http.get(f"{bridge.url}/auth/session", timeout=10) as after:
        assert after.status_code == 401
    http.close()


def test_token_mediation_route_needs_the_header_and_origin(
    bridge_factory: Callable[..., BridgeServer],
) -> None:
    bridge = bridge_factory(token_mediation=True)
    http = sign_in_as(bridge, "viewer")
    for headers in ({}, {**CSRF, "Origin": "http://evil.example"}, {**CSRF, "Origin": "null"}):
        with http.get(f"{bridge.url}/auth/token", headers=headers, timeout=10) as refused:
            assert refused.status_code == 403
            assert "access_token" not in refused.text
    with http.get(
        f"{bridge.url}/auth/token", headers={**CSRF, "Origin": bridge.spa_origin}, timeout=10
    ) as allowed:
        assert allowed.status_code == 200
        assert allowed.json()["token_type"] == "Bearer"
    http.close()


def test_token_route_is_absent_when_mediation_is_off(bridge: BridgeServer) -> None:
    http = sign_in_as(bridge, "viewer")
    with http.get(f"{bridge.url}/auth/token", headers=CSRF, timeout=10) as response:
        assert response.status_code == 404
        assert "access_token" not in response.text
    http.close()

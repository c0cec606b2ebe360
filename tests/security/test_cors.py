"""Credentialed CORS on the running bridge: the allowed origin is echoed exactly, nothing else is.

A bridge that reflected any ``Origin`` with ``Access-Control-Allow-Credentials: true`` would let
every website read the signed-in user's Looker data. Each hostile origin below is a known way
to slip past prefix, suffix or regex matching.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.bridge import BridgeServer, sign_in_as
from tests.support.security_tools import CSRF, api_calls

pytestmark = pytest.mark.both_data_planes  # embedded proxy, and nginx in front

HOSTILE_ORIGINS = [
    "http://evil.example",
    "null",
    "{spa}.evil.com",
    "{spa}evil.com",
    "http://evil.localhost:{spa_port}",
    "http://localhost.evil.com:{spa_port}",
    "https://localhost:{spa_port}",
    "http://localhost:{other_port}",
    "http://localhost:{spa_port_prefix}",
    "http://localhost",
    "http://127.0.0.1:{spa_port}",
    "{spa}/",
    "{spa}@evil.com",
    "http://evil.com/{spa}",
    "http://localhost:{spa_port}:80",
    "*",
]


def fill(template: str, bridge: BridgeServer) -> str:
    spa_port = urlsplit(bridge.spa_origin).port
    assert spa_port is not None
    return template.format(
        spa=bridge.spa_origin,
        spa_port=spa_port,
        spa_port_prefix=str(spa_port)[:-1],
        other_port=spa_port + 1 if spa_port < 65535 else spa_port - 1,
        bridge=bridge.url,
    )


def assert_allowed(response: requests.Response, origin: str) -> None:
    assert response.headers.get("Access-Control-Allow-Origin") == origin
    assert response.headers.get("Access-Control-Allow-Credentials") == "true"
    vary = [v.strip().lower() for v in response.headers.get("Vary", "").split(",")]
    assert "origin" in vary


def assert_no_cors(response: requests.Response) -> None:
    cors = [name for name in response.headers if name.lower().startswith("access-control-")]
    assert cors == [], dict(response.headers)


def test_allowed_origin_is_echoed_on_success_and_on_errors(bridge: BridgeServer) -> None:
    origin = bridge.spa_origin
    http = sign_in_as(bridge, "analyst")
    headers = {**CSRF, "Origin": origin}
    answers = {
        "session 200": http.get(f"{bridge.url}/auth/session", headers=headers, timeout=10),
        "api 200": http.get(f"{bridge.url}/api/4.0/user", headers=headers, timeout=10),
        "api 404 from Looker": http.get(
            f"{bridge.url}/api/4.0/looks/999999", headers=headers, timeout=10
        ),
        "api 400 bad path": http.get(
            f"{bridge.url}/api/4.0/a/%2e%2e/user", headers=headers, timeout=10
        ),
        "api 403 no csrf header": http.get(
            f"{bridge.url}/api/4.0/user", headers={"Origin": origin}, timeout=10
        ),
        "api 401 no session": requests.get(
            f"{bridge.url}/api/4.0/user", headers=headers, timeout=10
        ),
        "session 401": requests.get(f"{bridge.url}/auth/session", headers=headers, timeout=10),
    }
    expected = {
        "session 200": 200,
        "api 200": 200,
        "api 404 from Looker": 404,
        "api 400 bad path": 400,
        "api 403 no csrf header": 403,
        "api 401 no session": 401,
        "session 401": 401,
    }
    for name, response in answers.items():
        with response:
            assert response.status_code == expected[name], name
            assert_allowed(response, origin)
            # Looker's own CORS answer never leaks through the proxy.
            assert response.headers.get("Access-Control-Allow-Origin") != "*", name
    http.close()


@pytest.mark.parametrize("template", HOSTILE_ORIGINS)
def test_hostile_origins_get_no_cors_headers(bridge: BridgeServer, template: str) -> None:
    origin = fill(template, bridge)
    http = sign_in_as(bridge, "analyst")
    before = api_calls(bridge)
    for method, path in (("GET", "/auth/session"), ("GET", "/api/4.0/user")):
        with http.request(
            method, f"{bridge.url}{path}", headers={**CSRF, "Origin": origin}, timeout=10
        ) as response:
            assert_no_cors(response)
            if path.startswith("/api/"):
                assert response.status_code == 403
                assert response.json()["error"] == "origin_not_allowed"
    with requests.options(
        f"{bridge.url}/api/4.0/user",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "DELETE",
            "Access-Control-Request-Headers": "x-looker-appid, content-type",
        },
        timeout=10,
    ) as preflight:
        assert_no_cors(preflight)
    assert api_calls(bridge) == before
    http.close()


@pytest.mark.parametrize("path", ["/api/4.0/looks/1", "/auth/logout", "/auth/session"])
def test_preflight_for_the_allowed_origin(bridge: BridgeServer, path: str) -> None:
    origin = bridge.spa_origin
    before = api_calls(bridge)
    with requests.options(
        f"{bridge.url}{path}",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "x-looker-appid, content-type",
        },
        timeout=10,
    ) as preflight:
        assert preflight.status_code == 200
        assert_allowed(preflight, origin)
        methods = {
            m.strip() for m in preflight.headers["Access-Control-Allow-Methods"].upper().split(",")
        }
        assert {"GET", "POST", "PATCH", "PUT", "DELETE"} <= methods
        allowed_headers = {
            h.strip() for h in preflight.headers["Access-Control-Allow-Headers"].lower().split(",")
        }
        assert {"x-looker-appid", "content-type"} <= allowed_headers
        assert int(preflight.headers["Access-Control-Max-Age"]) > 0
        assert "*" not in preflight.headers["Access-Control-Allow-Origin"]
    assert api_calls(bridge) == before  # a preflight is answered by the bridge alone


def test_preflight_does_not_allow_arbitrary_request_headers(bridge: BridgeServer) -> None:
    with requests.options(
        f"{bridge.url}/api/4.0/user",
        headers={
            "Origin": bridge.spa_origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, cookie, x-forwarded-host",
        },
        timeout=10,
    ) as preflight:
        allowed = preflight.headers.get("Access-Control-Allow-Headers", "").lower()
    for header in ("authorization", "cookie", "x-forwarded-host"):
        assert header not in allowed


def test_the_bridges_own_origin_passes_without_cors_headers(bridge: BridgeServer) -> None:
    """Same-origin calls need no CORS: the bridge accepts its own Origin but never echoes it."""
    http = sign_in_as(bridge, "viewer")
    with http.get(
        f"{bridge.url}/api/4.0/user", headers={**CSRF, "Origin": bridge.url}, timeout=10
    ) as response:
        assert response.status_code == 200
        assert_no_cors(response)
    http.close()


def test_a_request_without_origin_gets_no_cors_headers(bridge: BridgeServer) -> None:
    """No Origin, no CORS headers (flask-cors is skipped for such requests); the proxy's own
    ``Vary: Cookie, Origin`` still keys any cache by both."""
    http = sign_in_as(bridge, "viewer")
    for path in ("/api/4.0/user", "/auth/session", "/api/4.0/looks/999999"):
        with http.get(f"{bridge.url}{path}", headers=CSRF, timeout=10) as response:
            assert response.status_code in (200, 404), path
            assert_no_cors(response)
            if path.startswith("/api/") and response.status_code == 200:
                vary = [v.strip().lower() for v in response.headers.get("Vary", "").split(",")]
                assert {"cookie", "origin"} <= set(vary), response.headers.get("Vary")
    http.close()


def test_a_bridge_without_cors_origins_sends_no_cors_headers(
    bridge_factory: Callable[..., BridgeServer],
) -> None:
    bridge = bridge_factory(cors_origins=(), spa_origin="")
    for origin in ("http://evil.example", "null", "http://localhost:5173"):
        with requests.get(
            f"{bridge.url}/auth/session", headers={"Origin": origin}, timeout=10
        ) as response:
            assert response.status_code == 401
            assert_no_cors(response)

"""What a person sees on the bridge itself: pages with a way back to the app, JSON for SPAs.

Navigations are told apart by Fetch Metadata (``Sec-Fetch-Mode: navigate``, as every current
browser sends); the same failures called by an SPA keep the JSON contract.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import requests

from oauth_bridge.factory import close_app
from tests.support.bridge import SEED_USERS, BridgeServer, offline_app, sign_in
from tests.support.emulator import browser_sign_in
from tests.support.redis_fixtures import free_port

NAVIGATE = {
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
    "Sec-Fetch-Site": "none",
    "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
}
FETCH = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Accept": "*/*"}


def app_bridge(bridge_factory: Callable[..., BridgeServer]) -> tuple[BridgeServer, str]:
    spa = f"http://localhost:{free_port()}"
    app_url = f"{spa}/portal/home"
    return bridge_factory(spa_origin=spa, app_url=app_url), app_url


def test_the_root_sends_people_to_the_app(bridge_factory: Callable[..., BridgeServer]) -> None:
    bridge, app_url = app_bridge(bridge_factory)
    for headers in (NAVIGATE, FETCH):
        root = requests.get(f"{bridge.url}/", headers=headers, allow_redirects=False, timeout=10)
        assert root.status_code == 302 and root.headers["Location"] == app_url


def test_without_an_app_url_the_root_explains_itself(bridge: BridgeServer) -> None:
    page = requests.get(f"{bridge.url}/", headers=NAVIGATE, allow_redirects=False, timeout=10)
    assert page.status_code == 404
    assert page.headers["Content-Type"].startswith("text/html")
    assert "OAUTH_BRIDGE_APP_URL" in page.text and "<script" not in page.text
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    api = requests.get(f"{bridge.url}/", headers=FETCH, timeout=10)
    assert api.status_code == 404 and api.json()["error"] == "no_app_here"


def test_a_failed_navigation_is_a_page_with_the_way_back(
    bridge_factory: Callable[..., BridgeServer],
) -> None:
    bridge, app_url = app_bridge(bridge_factory)
    bad = f"{bridge.url}/auth/login?return_to=https://evil.example/"
    page = requests.get(bad, headers=NAVIGATE, allow_redirects=False, timeout=10)
    assert page.status_code == 400
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Cache-Control"] == "no-store"
    assert f'href="{app_url}"' in page.text and "Back to the app" in page.text
    assert "invalid_return_to" in page.text
    assert "<script" not in page.text and "evil.example" not in page.text

    called = requests.get(bad, headers=FETCH, allow_redirects=False, timeout=10)
    assert called.status_code == 400 and called.json()["error"] == "invalid_return_to"


def test_api_paths_answer_json_even_to_a_navigation(bridge: BridgeServer) -> None:
    answer = requests.get(f"{bridge.url}/api/4.0/user", headers=NAVIGATE, timeout=10)
    assert answer.status_code == 403 and answer.json()["error"] == "csrf_header_missing"
    signed_in = sign_in(bridge, *SEED_USERS["viewer"])
    missing = signed_in.get(f"{bridge.url}/api/4.0/nothing-here", headers=NAVIGATE, timeout=10)
    assert missing.headers["Content-Type"].startswith("application/json")


def test_sign_in_without_return_to_lands_in_the_app_and_the_error_page_links_it(
    bridge_factory: Callable[..., BridgeServer],
) -> None:
    bridge, app_url = app_bridge(bridge_factory)
    start = requests.get(f"{bridge.url}/auth/login", allow_redirects=False, timeout=10)
    assert start.status_code == 302  # to Looker; the pending login now returns to the app
    http = sign_in(bridge, *SEED_USERS["viewer"])
    stale = http.get(
        f"{bridge.url}/auth/callback?state=stale&code=x",
        headers=NAVIGATE,
        allow_redirects=False,
        timeout=10,
    )
    assert stale.status_code == 302 and stale.headers["Location"] == app_url

    stranger = requests.get(
        f"{bridge.url}/auth/callback?state=stale&code=x", headers=NAVIGATE, timeout=10
    )
    assert stranger.status_code == 400
    assert "Sign-in did not complete" in stranger.text
    assert 'href="/auth/login"' in stranger.text and f'href="{app_url}"' in stranger.text


def test_a_secure_cookie_over_plain_http_is_named_on_the_page_and_in_the_log(
    bridge_factory: Callable[..., BridgeServer], caplog: pytest.LogCaptureFixture
) -> None:
    """COOKIE_SECURE=true reached over http: the login cookie never comes back; say why."""
    bridge = bridge_factory(cookie_secure=True)
    http = requests.Session()  # like a browser: it keeps a Secure cookie off plain http
    to_callback = browser_sign_in(
        http, f"{bridge.url}/auth/login", *SEED_USERS["viewer"], follow_final=False
    )
    assert any(cookie.secure for cookie in http.cookies)
    with caplog.at_level(logging.WARNING, logger="oauth_bridge"):
        landed = http.get(to_callback.headers["Location"], headers=NAVIGATE, timeout=10)
    assert landed.status_code == 400
    assert "plain http" in landed.text and "COOKIE_SECURE" in landed.text
    assert any(
        "plain http" in record.getMessage() and "COOKIE_SECURE" in record.getMessage()
        for record in caplog.records
    )


def test_redis_down_at_start_is_a_warning_and_sign_in_is_a_503_page(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with caplog.at_level(logging.WARNING, logger="oauth_bridge"):
        app = offline_app(redis_url=dead, redis_socket_timeout=0.5)
    assert any("does not answer at start" in r.getMessage() for r in caplog.records)
    try:
        client = app.test_client()
        page = client.get("/auth/login", headers=NAVIGATE)
        assert page.status_code == 503
        assert page.headers["Content-Type"].startswith("text/html")
        assert "Retry-After" in page.headers
        called = client.get("/auth/login", headers=FETCH)
        assert called.status_code == 503 and called.get_json()["error"]
    finally:
        close_app(app)

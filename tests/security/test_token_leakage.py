"""No Looker token ever reaches the browser, and the bridge's pages cannot be framed.

A whole session is recorded as the browser sees it (every answer from the bridge: status,
headers, body), with a refresh on every request so several generations of tokens exist; then
each token string ever issued is searched for in everything recorded, in the log records and in
Redis. The callback's URL holds the authorization code, so it must not leak through ``Referer``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
import requests

from oauth_bridge.data_plane.gate import TOKEN_HEADER
from oauth_bridge.emulator import EmulatorServer
from oauth_bridge.services import get_services
from tests.support.bridge import SEED_USERS, BridgeServer
from tests.support.emulator import browser_sign_in
from tests.support.security_tools import CSRF, keys

pytestmark = pytest.mark.both_data_planes  # embedded proxy, and nginx in front (its gate)

REFRESH_DUE = 0.6
"""Seconds after which a one-second token is due for a refresh (half its lifetime)."""


@dataclass
class Recorder:
    """Everything the bridge answered to one browser, and every token the session held."""

    bridge: BridgeServer
    seen: list[str] = field(default_factory=list)
    html: list[requests.Response] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if not response.url.startswith(self.bridge.url):
            return
        header_text = "\n".join(f"{k}: {v}" for k, v in response.raw.headers.items())
        self.seen.append(f"{response.url}\n{response.status_code}\n{header_text}\n{response.text}")
        if response.headers.get("Content-Type", "").startswith("text/html"):
            self.html.append(response)

    def collect_tokens(self, http: requests.Session) -> None:
        cookie = http.cookies.get(self.bridge.settings.cookie_name)
        if not cookie:
            return
        record = get_services(self.bridge.app).store.load(cookie)
        if record is not None:
            self.tokens.add(record.tokens.access_token)
            if record.tokens.refresh_token:
                self.tokens.add(record.tokens.refresh_token)


@pytest.fixture
def refreshing_bridge(
    emulator_factory: Callable[..., EmulatorServer], bridge_factory: Callable[..., BridgeServer]
) -> BridgeServer:
    """One-second tokens: a request made half a second after the last refresh refreshes again
    (the margin is capped at half the lifetime), so there are many tokens to hunt."""
    return bridge_factory(
        emulator=emulator_factory(token_ttl=1), refresh_margin=3600, token_mediation=False
    )


def test_no_token_in_anything_the_browser_sees_or_the_logs_or_redis(
    refreshing_bridge: BridgeServer,
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bridge = refreshing_bridge
    caplog.set_level(logging.DEBUG)
    recorder = Recorder(bridge)
    http = requests.Session()
    http.hooks["response"].append(recorder.hook)
    origin = {"Origin": bridge.spa_origin}

    start = f"{bridge.url}/auth/login?{urlencode({'return_to': bridge.spa_origin + '/app'})}"
    final = browser_sign_in(http, start, *SEED_USERS["analyst"], follow_final=False)
    callback_url = final.headers["Location"]
    with http.get(callback_url, allow_redirects=False, timeout=10) as callback:
        assert callback.status_code == 302
        assert callback.headers["Referrer-Policy"] == "no-referrer"
        assert callback.headers["Location"] == bridge.spa_origin + "/app"
        assert (
            "Cache-Control" in callback.headers and "no-store" in callback.headers["Cache-Control"]
        )
    recorder.collect_tokens(http)

    steps: list[tuple[str, str, int, dict[str, Any]]] = [
        ("GET", "/auth/session", 200, {}),
        ("GET", "/api/4.0/user", 200, {}),
        ("GET", "/api/4.0/looks", 200, {}),
        ("GET", "/api/4.0/looks/999999", 404, {}),
        # create_look, which the emulator does not serve: its 501 passes through untouched
        ("POST", "/api/4.0/looks", 501, {"data": b'{"title": ', "ct": "application/json"}),
        ("GET", "/api/4.0/looks/%2e%2e/user", 400, {}),
        ("GET", "/auth/token", 404, {}),
        ("HEAD", "/api/4.0/user", 200, {}),
        # a signed-in browser on a stale callback goes back to the app (no APP_URL here: "/")
        ("GET", "/auth/callback?state=replayed&code=whatever", 302, {}),
    ]
    for method, path, status, extra in steps:
        time.sleep(REFRESH_DUE)
        headers = {**CSRF, **origin}
        if "ct" in extra:
            headers["Content-Type"] = extra["ct"]
        with http.request(
            method,
            f"{bridge.url}{path}",
            headers=headers,
            data=extra.get("data"),
            timeout=10,
            allow_redirects=False,
        ) as response:
            assert response.status_code == status, (path, response.status_code)
        recorder.collect_tokens(http)
    # the callback URL replayed: its code is spent; the answer must not echo it
    with http.get(callback_url, allow_redirects=False, timeout=10) as replay:
        assert replay.status_code == 302 and replay.headers["Location"] == "/"
        assert replay.headers["Referrer-Policy"] == "no-referrer"
    with http.post(f"{bridge.url}/auth/logout", headers={**CSRF, **origin}, timeout=10) as out:
        assert out.status_code == 204

    assert len(recorder.tokens) >= 6, "expected several generations of refreshed tokens"
    assert len(recorder.seen) >= len(steps) + 3
    everything = "\n".join(recorder.seen)
    assert TOKEN_HEADER.lower() not in everything.lower()  # nginx's gate header stays inside
    redis_values = b"".join(
        (redis_client.dump(key) or b"") + key for key in keys(redis_client, bridge.redis_prefix)
    )
    log_text = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    for token in recorder.tokens:
        assert token not in everything
        assert token.encode() not in redis_values
        assert token not in log_text
    code = callback_url.split("code=", 1)[1].split("&", 1)[0]
    assert code not in everything.replace(callback_url, "")
    http.close()


def test_callback_error_page_cannot_be_framed_and_sends_no_referrer(
    bridge: BridgeServer,
) -> None:
    for query in ("", "?state=x&code=y", "?error=access_denied&state=nope"):
        with requests.get(f"{bridge.url}/auth/callback{query}", timeout=10) as page:
            assert page.status_code == 400
            assert page.headers["Content-Type"].startswith("text/html")
            assert page.headers["X-Frame-Options"] == "DENY"
            csp = [d.strip() for d in page.headers["Content-Security-Policy"].split(";")]
            assert "frame-ancestors 'none'" in csp
            assert "default-src 'none'" in csp
            assert page.headers["X-Content-Type-Options"] == "nosniff"
            assert page.headers["Referrer-Policy"] == "no-referrer"
            assert "no-store" in page.headers["Cache-Control"]
            assert "<script" not in page.text.lower()


def test_callback_error_page_escapes_what_it_shows(bridge: BridgeServer) -> None:
    hostile = '"><script>alert(1)</script>'
    with requests.get(
        f"{bridge.url}/auth/callback",
        params={"state": hostile, "code": hostile, "error_description": hostile},
        timeout=10,
    ) as page:
        assert page.status_code == 400
        assert "<script>" not in page.text


def test_session_endpoint_answers_are_not_cacheable(bridge: BridgeServer) -> None:
    with requests.get(f"{bridge.url}/auth/session", timeout=10) as response:
        assert "no-store" in response.headers["Cache-Control"]

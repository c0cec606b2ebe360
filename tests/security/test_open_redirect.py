"""Open redirects through the real ``/auth/login``: hostile ``return_to`` → 400, nothing stored.

A ``return_to`` that could send the browser (with a fresh session) off the allowed origins is an
open redirect (RFC 9700 §4.11). Each string goes through the running bridge, not just the
validator, and the test proves no login cookie was made (and nothing stored).
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import pytest
import redis
import requests

from oauth_bridge.login_cookie import PendingLogins
from tests.support.bridge import BridgeServer
from tests.support.security_tools import keys

# {bridge} is the bridge's own origin, {spa} the allowed SPA origin, {host}/{spa_host} their
# host:port parts. Each string is refused by the bridge as a place to return to.
HOSTILE_TEMPLATES = [
    # other sites outright
    "https://evil.example",
    "https://evil.example/auth/session",
    "http://evil.example:80/",
    "ftp://evil.example/",
    # protocol-relative, backslashes, and their encodings
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "////evil.example/",
    "/\\evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "/%2f/evil.example",
    "/%2F%2Fevil.example",
    "%2f%2fevil.example",
    "/%5cevil.example",
    "/%5C%5Cevil.example",
    "/%252f%252fevil.example",
    "/%25252f/evil.example",
    # whitespace and control characters (raw and encoded) that browsers strip or fold
    "/\t/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/%09/evil.example",
    "/\n/evil.example",
    "/%0a/evil.example",
    "/%0d%0aSet-Cookie:%20x=1",
    "/\r\nLocation: https://evil.example",
    "/%00/evil.example",
    "/\x00",
    "/\x7f/evil.example",
    "/\u00a0/evil.example",
    "/\u2028/evil.example",
    "/\ufeff//evil.example",
    # other schemes that run code or leave the web origin
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "java%0ascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "blob:{bridge}/x",
    # user info, look-alike hosts, prefix and suffix tricks on allowed origins
    "{bridge}@evil.example",
    "{bridge}@evil.example/",
    "http://user:pass@{host}/",
    "http://evil.example@{host}/",
    "http://evil.example%40{host}/",
    "{bridge}.evil.example/",
    "{spa}.evil.example/",
    "http://evil.{host}/",
    "http://{host}evil.example/",
    "https://{host}/",
    "https://{spa_host}/",
    "http://localhost/",
    "http://localhost:1/",
    "http://127.0.0.1:{port}/",
    "http://[::1]:{port}/",
    "http://LOCALHOST:{port}:80/",
    "http://localhost:{port}:/x",
    "http://localhost:99999/",
    "http://locaⅼhost:{port}/",
    "http:/{host}/",
    "http:{host}/",
    "http:///{host}/",
    "{bridge}\\@evil.example/",
    "{spa}%23@evil.example",
    # not paths at all
    "evil.example",
    "auth/session",
    "./auth/session",
    "?next=//evil.example",
    "#//evil.example",
    # absurd lengths
    "/" + "a" * 5000,
]


def _fill(template: str, bridge: BridgeServer) -> str:
    host = urlsplit(bridge.url).netloc
    return template.format(
        bridge=bridge.url,
        spa=bridge.spa_origin,
        host=host,
        spa_host=urlsplit(bridge.spa_origin).netloc,
        port=urlsplit(bridge.url).port,
    )


def test_there_are_at_least_fifty_hostile_strings() -> None:
    assert len(set(HOSTILE_TEMPLATES)) == len(HOSTILE_TEMPLATES) >= 50


@pytest.mark.parametrize("template", HOSTILE_TEMPLATES)
def test_hostile_return_to_is_refused_and_nothing_is_stored(
    bridge: BridgeServer, redis_client: redis.Redis, template: str
) -> None:
    value = _fill(template, bridge)
    url = f"{bridge.url}/auth/login?{urlencode({'return_to': value})}"
    with requests.get(url, allow_redirects=False, timeout=10) as response:
        assert response.status_code == 400, (value, response.status_code)
        assert response.json()["error"] == "invalid_return_to"
        assert "Location" not in response.headers
        assert bridge.settings.login_cookie_name not in response.cookies
    assert keys(redis_client, bridge.redis_prefix, "p") == []


@pytest.mark.parametrize(
    "template",
    ["/", "/dashboards/1?tab=2#top", "{spa}", "{spa}/after/login?x=1", "{bridge}/auth/session"],
)
def test_safe_return_to_starts_a_login(
    bridge: BridgeServer, redis_client: redis.Redis, template: str
) -> None:
    """The control: the same route does start a login for an allowed target (sealed in the login
    cookie, with that return_to; nothing in Redis)."""
    settings = bridge.settings
    value = _fill(template, bridge)
    url = f"{bridge.url}/auth/login?{urlencode({'return_to': value})}"
    with requests.get(url, allow_redirects=False, timeout=10) as response:
        assert response.status_code == 302
        assert response.headers["Location"].startswith(bridge.emulator.ui_url + "/auth?")
        sealed = response.cookies.get(settings.login_cookie_name)
    logins = PendingLogins(settings.secret_key, ttl=60, max_logins=5)
    assert [login.return_to for login in logins.read(sealed)] == [value]
    assert keys(redis_client, bridge.redis_prefix, "p") == []

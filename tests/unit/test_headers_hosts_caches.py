"""The pure rules behind headers, hosts and caches: settings, cookies, keys, cache headers."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from oauth_bridge.config import load_settings, parse_networks
from oauth_bridge.cookies import request_cookie
from oauth_bridge.errors import ConfigError
from oauth_bridge.health import may_scrape
from oauth_bridge.proxy import per_user_cache_headers
from oauth_bridge.rate_limits import rate_limit_key
from tests.support.bridge import offline_app

BASE = {
    "OAUTH_BRIDGE_LOOKER_URL": "https://looker.example.com",
    "OAUTH_BRIDGE_CLIENT_ID": "bridge",
    "OAUTH_BRIDGE_SECRET_KEY": "unit-test-secret-0123456789",
    "OAUTH_BRIDGE_TOKEN_KEYS": Fernet.generate_key().decode(),
}


def _settings(**env: str) -> object:
    return load_settings({**BASE, **{f"OAUTH_BRIDGE_{k}": v for k, v in env.items()}})


def test_secure_cookies_need_an_https_redirect_uri_except_on_loopback() -> None:
    with pytest.raises(ConfigError) as refused:
        _settings(REDIRECT_URI="http://bridge.example.com/auth/callback")
    message = str(refused.value)
    assert "OAUTH_BRIDGE_COOKIE_SECURE" in message and "OAUTH_BRIDGE_REDIRECT_URI" in message
    assert "\n" not in message
    for uri in ("http://localhost:8000", "http://127.0.0.1:8000", "http://app.localhost"):
        _settings(REDIRECT_URI=f"{uri}/auth/callback")
    _settings(REDIRECT_URI="http://bridge.example.com/auth/callback", COOKIE_SECURE="false")
    _settings(REDIRECT_URI="https://bridge.example.com/auth/callback")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRUSTED_HOSTS", "https://bridge.example.com"),
        ("TRUSTED_HOSTS", "bridge.example.com:443"),
        ("TRUSTED_HOSTS", "[::1]"),
        ("METRICS_NETWORKS", "10.0.0.0/33"),
        ("METRICS_NETWORKS", "prometheus"),
    ],
)
def test_bad_host_and_network_lists_stop_the_start(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"OAUTH_BRIDGE_{name}"):
        _settings(REDIRECT_URI="https://b.example.com/auth/callback", **{name: value})


def test_metrics_networks_match_client_addresses() -> None:
    networks = parse_networks("10.0.0.0/8, ::1")
    assert may_scrape("10.1.2.3", networks) and may_scrape("::1", networks)
    assert may_scrape("::ffff:10.0.0.1", networks)
    assert not may_scrape("11.0.0.1", networks) and not may_scrape(None, networks)
    assert not may_scrape("127.0.0.1", ())


def test_ipv6_addresses_share_a_key_per_64() -> None:
    assert rate_limit_key("2001:db8:1:2::1") == rate_limit_key("2001:db8:1:2:ff::9")
    assert rate_limit_key("2001:db8:1:2::1") != rate_limit_key("2001:db8:1:3::1")
    assert rate_limit_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert rate_limit_key("fe80::1%eth0") == "fe80::/64"
    assert rate_limit_key(None) == "unknown"


@pytest.mark.parametrize(
    ("header", "name", "expected"),
    [
        ("a=1; looker_session=S.T; b=2", "looker_session", "S.T"),
        ("theme=dark,looker_session=S.T", "looker_session", "S.T"),
        ("looker_session=S.T,theme=dark", "looker_session", "S.T"),
        ("looker_session=REAL; x=a,looker_session=PLANTED", "looker_session", "REAL"),
        ("theme=dark,__Host-looker_session=S.T", "__Host-looker_session", None),
        ("__Host-looker_session=S.T,theme=dark", "__Host-looker_session", "S.T"),
        ("theme=dark", "looker_session", None),
    ],
)
def test_the_cookie_reader_finds_joined_lines(header: str, name: str, expected: str | None) -> None:
    app = offline_app()
    with app.test_request_context(environ_overrides={"HTTP_COOKIE": header}):
        assert request_cookie(name) == expected


def test_proxied_cache_headers_become_private_with_one_vary() -> None:
    headers = per_user_cache_headers(
        [
            ("Cache-Control", "public, max-age=60, s-maxage=600"),
            ("Vary", "Accept-Encoding, cookie"),
            ("ETag", '"1"'),
        ]
    )
    found = dict(headers)
    assert found["Cache-Control"] == "max-age=60, private"
    assert found["Vary"] == "Accept-Encoding, cookie, Origin"
    assert found["ETag"] == '"1"'
    assert dict(per_user_cache_headers([]))["Cache-Control"] == "private"
    assert dict(per_user_cache_headers([("Vary", "*")]))["Vary"] == "*"

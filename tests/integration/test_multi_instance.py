"""Two bridge instances, as production runs them (``gunicorn app:app``), sharing one Redis.

Each instance is a separate gunicorn process tree configured only through ``OAUTH_BRIDGE_*``
environment variables, with the same key ring and the redirect URI registered for instance A.
Cookies do not depend on the port, so one browser talks to both, as it would behind a router
that spreads requests over instances.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests

from oauth_bridge.config import load_settings
from oauth_bridge.emulator import EmulatorServer
from oauth_bridge.sessions import build_store
from tests.support.bridge import SEED_USERS
from tests.support.emulator import browser_sign_in
from tests.support.gunicorn import Instance, bridge_env, parallel_get, start_gunicorn
from tests.support.hostile_requests import BAD_QUERIES, TRAVERSAL_AND_SSRF
from tests.support.redis_fixtures import free_port
from tests.support.security_tools import CSRF, assert_store_consistent, keys, raw_request

CLIENT_GUID = "oauth-bridge-multi"


@dataclass
class Pair:
    a: Instance
    b: Instance
    env: dict[str, str]
    emulator: EmulatorServer
    prefix: str

    @property
    def cookie_name(self) -> str:
        return "looker_session"


PairFactory = Callable[..., Pair]


@pytest.fixture
def pair_factory(
    emulator_factory: Callable[..., EmulatorServer],
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
) -> Iterator[PairFactory]:
    """``start(token_ttl=3600, **settings)``: two instances on one fresh emulator and Redis
    prefix, configured by ``settings`` (``OAUTH_BRIDGE_`` names without the prefix)."""
    started: list[Instance] = []

    def start(token_ttl: int = 3600, **settings: str) -> Pair:
        emulator = emulator_factory(token_ttl=token_ttl)
        port_a, port_b = free_port(), free_port()
        redirect_uri = f"http://localhost:{port_a}/auth/callback"
        emulator.state.register_client_app(CLIENT_GUID, redirect_uri)
        env = bridge_env(emulator, CLIENT_GUID, redirect_uri, redis_url, redis_prefix, **settings)
        instances = []
        for port in (port_a, port_b):
            instances.append(start_gunicorn(env, port, tmp_path / f"gunicorn-{port}.log"))
            started.append(instances[-1])
        return Pair(instances[0], instances[1], env, emulator, redis_prefix)

    try:
        yield start
    finally:
        for instance in started:
            instance.stop()


@pytest.fixture
def pair(pair_factory: PairFactory) -> Pair:
    return pair_factory(REFRESH_MARGIN="0")


def browser(pair: Pair, start: Instance, who: str) -> requests.Session:
    """Sign in starting at ``start``; Looker always returns to A's registered callback."""
    http = requests.Session()
    start_url = f"{start.url}/auth/login?return_to=/auth/session"
    page = browser_sign_in(http, start_url, *SEED_USERS[who])
    assert page.status_code == 200, page.text[:300]
    assert page.url.startswith(pair.a.url)
    assert pair.cookie_name in http.cookies
    return http


def status(http: requests.Session, instance: Instance, path: str = "/api/4.0/user") -> int:
    with http.get(f"{instance.url}{path}", headers=CSRF, timeout=15) as response:
        return response.status_code


def stored_access_token(pair: Pair, http: requests.Session) -> str:
    """Read the session as the bridge does (same settings), to check revocation at Looker."""
    store = build_store(load_settings(pair.env))
    try:
        record = store.load(http.cookies[pair.cookie_name])
        assert record is not None
        return record.tokens.access_token
    finally:
        store.close()


def test_sign_in_on_one_call_through_the_other_logout_on_either(
    pair: Pair, redis_client: redis.Redis
) -> None:
    first = browser(pair, pair.a, "analyst")
    with first.get(f"{pair.b.url}/api/4.0/user", headers=CSRF, timeout=15) as me:
        assert me.status_code == 200
        assert me.json()["email"] == SEED_USERS["analyst"][0]
    for _ in range(3):
        assert status(first, pair.a) == 200
        assert status(first, pair.b) == 200
    with first.get(f"{pair.b.url}/auth/session", timeout=15) as info:
        assert info.json()["user"]["email"] == SEED_USERS["analyst"][0]

    # A sign-in that starts on B finishes on A (the registered callback) and works on both.
    second = browser(pair, pair.b, "viewer")
    assert status(second, pair.b) == 200 and status(second, pair.a) == 200

    token = stored_access_token(pair, first)
    with first.post(f"{pair.b.url}/auth/logout", headers=CSRF, timeout=15) as out:
        assert out.status_code == 204
    assert status(first, pair.a, "/auth/session") == 401
    assert not pair.emulator.state.is_token_valid(token)

    cookie = second.cookies[pair.cookie_name]
    with second.post(f"{pair.a.url}/auth/logout", headers=CSRF, timeout=15) as out:
        assert out.status_code == 204
    with requests.get(
        f"{pair.b.url}/api/4.0/user",
        headers={**CSRF, "Cookie": f"{pair.cookie_name}={cookie}"},
        timeout=15,
    ) as after:
        assert after.status_code == 401
    assert keys(redis_client, pair.prefix, "s:") == []
    assert_store_consistent(redis_client, pair.prefix)
    first.close()
    second.close()


def test_logout_everywhere_on_one_instance_ends_sessions_used_on_the_other(
    pair: Pair, redis_client: redis.Redis
) -> None:
    laptop = browser(pair, pair.a, "admin")
    phone = browser(pair, pair.b, "admin")
    assert status(phone, pair.b) == 200
    with laptop.post(f"{pair.a.url}/auth/logout?everywhere=1", headers=CSRF, timeout=15) as out:
        assert out.status_code == 204
    assert status(phone, pair.b) == 401
    assert status(phone, pair.a) == 401
    assert_store_consistent(redis_client, pair.prefix)
    laptop.close()
    phone.close()


def test_parallel_calls_on_both_instances_at_expiry_share_one_refresh(
    pair: Pair, redis_client: redis.Redis
) -> None:
    """The refresh lock lives in Redis: four gunicorn workers in two instances refresh once."""
    pair.emulator.state.update_config(token_ttl=2)
    http = browser(pair, pair.a, "analyst")
    pair.emulator.state.update_config(token_ttl=3600)
    cookie = http.cookies[pair.cookie_name]
    time.sleep(2.5)  # let the access token expire at Looker and in the bridge's record
    refreshes = pair.emulator.state.token_requests["refresh_token"]
    headers = {**CSRF, "Cookie": f"{pair.cookie_name}={cookie}"}
    results = parallel_get([pair.a, pair.b], "/api/4.0/user", headers, 16)
    assert results == [200] * 16
    assert pair.emulator.state.token_requests["refresh_token"] == refreshes + 1
    assert status(http, pair.b) == 200
    assert_store_consistent(redis_client, pair.prefix)
    http.close()


def test_logout_everywhere_on_one_instance_revokes_at_looker_what_the_other_holds(
    pair: Pair,
) -> None:
    laptop = browser(pair, pair.a, "admin")
    phone = browser(pair, pair.b, "admin")
    assert status(phone, pair.b) == 200
    phone_token = stored_access_token(pair, phone)
    with laptop.post(f"{pair.b.url}/auth/logout?everywhere=1", headers=CSRF, timeout=15) as out:
        assert out.status_code == 204
    assert not pair.emulator.state.is_token_valid(phone_token)
    laptop.close()
    phone.close()


def test_short_tokens_and_the_default_margin_refresh_once_over_both_instances(
    pair_factory: PairFactory, redis_client: redis.Redis
) -> None:
    """Six-second tokens, REFRESH_MARGIN at its default (30 s), the refreshed token as short:
    twenty calls spread over four workers in two instances at expiry make one token call."""
    pair = pair_factory(token_ttl=6)
    http = browser(pair, pair.a, "analyst")
    cookie = http.cookies[pair.cookie_name]
    time.sleep(3.2)  # past half the lifetime: due
    refreshes = pair.emulator.state.token_requests["refresh_token"]
    headers = {**CSRF, "Cookie": f"{pair.cookie_name}={cookie}"}
    results = parallel_get([pair.a, pair.b], "/api/4.0/user", headers, 20)
    assert results == [200] * 20
    assert pair.emulator.state.token_requests["refresh_token"] == refreshes + 1
    assert_store_consistent(redis_client, pair.prefix)
    http.close()


def test_gunicorn_refuses_the_hostile_request_lines_too(pair: Pair) -> None:
    """The production server parses request lines itself: the proxy's refusals must hold there.

    gunicorn may refuse a line before the bridge sees it (its own plain 400), so only the status
    and the emulator's request log are checked here; the JSON bodies are checked in
    ``tests/security/test_proxy_attacks.py`` against the threaded server.
    """
    http = browser(pair, pair.a, "admin")
    cookie = http.cookies[pair.cookie_name]
    http.close()
    port = pair.b.url.rsplit(":", 1)[1]
    before = pair.emulator.state.request_count
    for target in TRAVERSAL_AND_SSRF + BAD_QUERIES:
        data = (
            f"GET {target} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n"
            f"X-Looker-AppId: t\r\nCookie: {pair.cookie_name}={cookie}\r\n\r\n"
        ).encode("latin-1")
        response = raw_request(pair.b.url, data)
        assert response.status == 400, (target, response.status, response.body[:200])
    assert pair.emulator.state.request_count == before
    clean = (
        f"GET /api/4.0/user HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n"
        f"X-Looker-AppId: t\r\nCookie: {pair.cookie_name}={cookie}\r\n\r\n"
    ).encode("latin-1")
    assert raw_request(pair.b.url, clean).status == 200
    assert pair.emulator.state.request_count == before + 1

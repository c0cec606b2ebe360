"""Faults: Redis slow, Looker down, slow or answering junk, tokens revoked, keys rotated.

Every scenario runs real servers (a private redis-server frozen with SIGSTOP, the emulator with
its API host stopped or slowed, a raw-socket junk server) and ends by scanning Redis: nothing may
be lost or left half-written (:func:`assert_store_consistent`).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import requests
from cryptography.fernet import Fernet

from oauth_bridge.emulator import EmulatorServer
from oauth_bridge.services import get_services
from tests.support.bridge import SEED_USERS, BridgeServer, sign_in_as
from tests.support.emulator import browser_sign_in
from tests.support.redis_fixtures import RedisServer
from tests.support.security_tools import (
    CSRF,
    JunkServer,
    api_calls,
    assert_store_consistent,
    keys,
    sibling_bridge,
)


def session_key(bridge: BridgeServer, http: requests.Session) -> str:
    cookie = http.cookies[bridge.settings.cookie_name]
    return f"{bridge.redis_prefix}s:{cookie.split('.')[0]}"


def wait_for(predicate: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


# --------------------------------------------------------------------------- Redis slow
def test_frozen_redis_answers_503_with_retry_after_then_the_session_is_back(
    bridge_factory: Callable[..., BridgeServer], private_redis: RedisServer
) -> None:
    bridge = bridge_factory(redis_url=private_redis.url, redis_socket_timeout=0.5)
    http = sign_in_as(bridge, "analyst")
    assert private_redis.process is not None
    pid = private_redis.process.pid
    os.kill(pid, signal.SIGSTOP)  # Redis accepts connections but answers nothing: "slow"
    try:
        for method, path in (
            ("GET", "/auth/session"),
            ("GET", "/api/4.0/user"),
            ("POST", "/api/4.0/looks"),
            ("GET", "/auth/login"),
        ):
            # The client timeout bounds the wait: a hang would raise here, not pass.
            with http.request(
                method,
                f"{bridge.url}{path}",
                headers={**CSRF, "Origin": bridge.spa_origin},
                allow_redirects=False,
                timeout=8,
            ) as down:
                assert down.status_code == 503, path
                assert int(down.headers["Retry-After"]) > 0
                assert down.json()["error"] == "session_store_unavailable"
                assert down.headers["Access-Control-Allow-Origin"] == bridge.spa_origin
        with requests.get(f"{bridge.url}/readyz", timeout=8) as ready:
            assert ready.status_code == 503
        with requests.get(f"{bridge.url}/healthz", timeout=8) as alive:
            assert alive.status_code == 200
    finally:
        os.kill(pid, signal.SIGCONT)

    with http.get(f"{bridge.url}/auth/session", timeout=10) as back:
        assert back.status_code == 200
        assert back.json()["user"]["email"] == SEED_USERS["analyst"][0]
    with http.get(f"{bridge.url}/api/4.0/user", headers=CSRF, timeout=10) as call:
        assert call.status_code == 200
    with requests.get(f"{bridge.url}/readyz", timeout=8) as ready:
        assert ready.status_code == 200
    client = redis.Redis.from_url(private_redis.url)
    try:
        assert_store_consistent(client, bridge.redis_prefix)
    finally:
        client.close()
    http.close()


def test_redis_frozen_during_the_callback_creates_no_session(
    bridge_factory: Callable[..., BridgeServer], private_redis: RedisServer
) -> None:
    bridge = bridge_factory(redis_url=private_redis.url, redis_socket_timeout=0.5)
    assert private_redis.process is not None
    pid = private_redis.process.pid
    with requests.Session() as http:
        back = browser_sign_in(
            http, f"{bridge.url}/auth/login", *SEED_USERS["viewer"], follow_final=False
        )
        os.kill(pid, signal.SIGSTOP)
        try:
            with http.get(back.headers["Location"], allow_redirects=False, timeout=8) as page:
                assert page.status_code == 503
                assert page.headers["Content-Type"].startswith("text/html")
                assert int(page.headers["Retry-After"]) > 0
                assert bridge.settings.cookie_name not in page.cookies
        finally:
            os.kill(pid, signal.SIGCONT)
    client = redis.Redis.from_url(private_redis.url)
    try:
        assert keys(client, bridge.redis_prefix, "s:") == []
        assert_store_consistent(client, bridge.redis_prefix)
    finally:
        client.close()


# --------------------------------------------------------------------------- Looker down / slow
def test_looker_api_down_answers_502_json_and_keeps_the_session(
    emulator_factory: Callable[..., EmulatorServer],
    bridge_factory: Callable[..., BridgeServer],
    redis_client: redis.Redis,
) -> None:
    emulator = emulator_factory()
    bridge = bridge_factory(emulator=emulator)
    http = sign_in_as(bridge, "analyst")
    emulator.stop_api()

    for method in ("GET", "POST", "DELETE"):
        with http.request(
            method,
            f"{bridge.url}/api/4.0/looks/1",
            headers={**CSRF, "Origin": bridge.spa_origin},
            timeout=15,
        ) as down:
            assert down.status_code == 502
            assert down.json()["error"] == "looker_unavailable"
            assert down.headers["Access-Control-Allow-Origin"] == bridge.spa_origin
    with http.get(f"{bridge.url}/auth/session", timeout=10) as still:
        assert still.status_code == 200  # Looker being away is not a reason to sign anyone out
    assert redis_client.exists(session_key(bridge, http))

    # A new sign-in can still reach Looker's UI host, but the code exchange fails: a clear page.
    with requests.Session() as other:
        page = browser_sign_in(other, f"{bridge.url}/auth/login", *SEED_USERS["viewer"])
        assert page.status_code == 502
        assert page.headers["Content-Type"].startswith("text/html")
        assert "Looker" in page.text
        assert bridge.settings.cookie_name not in other.cookies
    assert len(keys(redis_client, bridge.redis_prefix, "s:")) == 1
    assert_store_consistent(redis_client, bridge.redis_prefix)
    http.close()


@pytest.mark.both_data_planes  # the gate refreshes in nginx mode
def test_refresh_while_looker_is_down_keeps_the_session(
    emulator_factory: Callable[..., EmulatorServer],
    bridge_factory: Callable[..., BridgeServer],
    redis_client: redis.Redis,
) -> None:
    emulator = emulator_factory(token_ttl=2)
    bridge = bridge_factory(emulator=emulator, refresh_margin=3600)  # due after half a lifetime
    http = sign_in_as(bridge, "viewer")
    time.sleep(1.1)
    emulator.stop_api()
    with http.get(f"{bridge.url}/api/4.0/user", headers=CSRF, timeout=15) as down:
        assert down.status_code == 502
        assert down.json()["error"] == "looker_unavailable"
    assert redis_client.exists(session_key(bridge, http))
    assert_store_consistent(redis_client, bridge.redis_prefix)
    http.close()


@pytest.mark.both_data_planes  # nginx times Looker out itself
def test_slow_looker_gives_504_while_other_requests_are_served(
    emulator_factory: Callable[..., EmulatorServer],
    bridge_factory: Callable[..., BridgeServer],
    redis_client: redis.Redis,
) -> None:
    emulator = emulator_factory()
    bridge = bridge_factory(emulator=emulator, upstream_read_timeout=2.0)
    http = sign_in_as(bridge, "analyst")
    cookie = http.cookies[bridge.settings.cookie_name]
    emulator.state.update_config(api_delay=3.5)

    results: list[requests.Response] = []
    done = threading.Event()

    def slow_call() -> None:
        response = requests.get(
            f"{bridge.url}/api/4.0/looks",
            headers={**CSRF, "Cookie": f"{bridge.settings.cookie_name}={cookie}"},
            timeout=20,
        )
        results.append(response)
        if len(results) == 4:
            done.set()

    before = api_calls(bridge)
    threads = [threading.Thread(target=slow_call) for _ in range(4)]
    for thread in threads:
        thread.start()
    wait_for(lambda: api_calls(bridge) >= before + 4, "the slow calls to reach Looker")

    # While four requests wait on Looker, the bridge still answers everything else.
    with http.get(f"{bridge.url}/auth/session", timeout=10) as info:
        assert info.status_code == 200
    with requests.get(f"{bridge.url}/healthz", timeout=10) as alive:
        assert alive.status_code == 200
    with requests.get(f"{bridge.url}/auth/login", allow_redirects=False, timeout=10) as login:
        assert login.status_code == 302
    assert not done.is_set(), "the other requests should have been answered first"

    for thread in threads:
        thread.join(timeout=20)
    assert [r.status_code for r in results] == [504] * 4
    assert {r.json()["error"] for r in results} == {"looker_timeout"}
    for response in results:
        response.close()

    emulator.state.update_config(api_delay=0.0)
    with http.get(f"{bridge.url}/api/4.0/looks", headers=CSRF, timeout=10) as again:
        assert again.status_code == 200
    assert_store_consistent(redis_client, bridge.redis_prefix)
    http.close()


# --------------------------------------------------------------------------- Looker answers junk
JUNK = {
    "not-http": b"\x00\xff\xfeNOT HTTP AT ALL\r\n\r\n\x89PNG",
    "hang-up": b"",
    "html-200": b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n"
    b"<html></html>",
    "json-without-token": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b'Content-Length: 11\r\n\r\n{"foo": 1} ',
    "truncated": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: 500\r\n\r\n{",
}


@pytest.fixture
def junk_server(request: pytest.FixtureRequest) -> Iterator[JunkServer]:
    server = JunkServer(JUNK[request.param])
    yield server
    server.close()


@pytest.mark.parametrize("junk_server", sorted(JUNK), indirect=True)
def test_junk_from_the_token_endpoint_is_a_clear_502_page(
    bridge_factory: Callable[..., BridgeServer],
    redis_client: redis.Redis,
    junk_server: JunkServer,
) -> None:
    bridge = bridge_factory(looker_api_url=junk_server.url)
    with requests.Session() as http:
        page = browser_sign_in(http, f"{bridge.url}/auth/login", *SEED_USERS["analyst"])
        assert page.status_code == 502
        assert page.headers["Content-Type"].startswith("text/html")
        assert "Looker" in page.text
        assert bridge.settings.cookie_name not in http.cookies
    assert junk_server.connections >= 1
    assert keys(redis_client, bridge.redis_prefix, "s:") == []
    assert_store_consistent(redis_client, bridge.redis_prefix)


@pytest.mark.parametrize("junk_server", ["not-http", "hang-up"], indirect=True)
def test_junk_from_the_api_host_is_a_502_json_on_the_proxy(
    bridge: BridgeServer, redis_client: redis.Redis, junk_server: JunkServer
) -> None:
    http = sign_in_as(bridge, "admin")
    cookie = http.cookies[bridge.settings.cookie_name]
    with sibling_bridge(bridge, looker_api_url=junk_server.url) as confused:
        for method in ("GET", "POST"):
            with requests.request(
                method,
                f"{confused.url}/api/4.0/user",
                headers={**CSRF, "Cookie": f"{bridge.settings.cookie_name}={cookie}"},
                timeout=15,
            ) as response:
                assert response.status_code == 502
                assert response.json()["error"] == "looker_unavailable"
    assert junk_server.connections >= 2
    with http.get(f"{bridge.url}/api/4.0/user", headers=CSRF, timeout=10) as fine:
        assert fine.status_code == 200  # the session survived the junk
    assert_store_consistent(redis_client, bridge.redis_prefix)
    http.close()


# --------------------------------------------------------------------------- revoked at Looker
def revoke_access_token_only(emulator: EmulatorServer, access_token: str) -> None:
    """Looker forgets one access token but keeps its refresh token (e.g. an early expiry)."""
    assert emulator.state.revoke_access_token(access_token)


def stored_tokens(bridge: BridgeServer, http: requests.Session) -> Any:
    record = get_services(bridge.app).store.load(http.cookies[bridge.settings.cookie_name])
    assert record is not None
    return record.tokens


@pytest.mark.both_data_planes  # the gate refreshes in nginx mode
def test_access_token_revoked_alone_is_refreshed_once_and_the_read_retried(
    bridge: BridgeServer, redis_client: redis.Redis
) -> None:
    http = sign_in_as(bridge, "analyst")
    old = stored_tokens(bridge, http)
    revoke_access_token_only(bridge.emulator, old.access_token)
    refreshes = bridge.emulator.state.token_requests["refresh_token"]

    with http.get(f"{bridge.url}/api/4.0/user", headers=CSRF, timeout=10) as response:
        assert response.status_code == 200
        assert response.json()["email"] == SEED_USERS["analyst"][0]
    assert bridge.emulator.state.token_requests["refresh_token"] == refreshes + 1
    new = stored_tokens(bridge, http)
    assert new.access_token != old.access_token
    with http.get(f"{bridge.url}/api/4.0/looks", headers=CSRF, timeout=10) as after:
        assert after.status_code == 200
    assert bridge.emulator.state.token_requests["refresh_token"] == refreshes + 1
    assert_store_consistent(redis_client, bridge.redis_prefix)
    http.close()


@pytest.mark.both_data_planes  # the gate refreshes in nginx mode
def test_all_tokens_revoked_at_looker_end_the_session_after_one_refresh_attempt(
    bridge: BridgeServer, redis_client: redis.Redis
) -> None:
    http = sign_in_as(bridge, "analyst")
    other = sign_in_as(bridge, "viewer")
    key = session_key(bridge, http)
    assert bridge.emulator.state.revoke_all_tokens(user_id="2") >= 2
    refreshes = bridge.emulator.state.token_requests["refresh_token"]

    with http.get(
        f"{bridge.url}/api/4.0/user", headers={**CSRF, "Origin": bridge.spa_origin}, timeout=10
    ) as response:
        assert response.status_code == 401
        assert response.json()["error"] == "not_authenticated"
        assert response.json()["login_url"] == "/auth/login"
        assert response.headers["Access-Control-Allow-Origin"] == bridge.spa_origin
    assert bridge.emulator.state.token_requests["refresh_token"] == refreshes + 1
    assert not redis_client.exists(key)

    calls = api_calls(bridge)
    with http.get(f"{bridge.url}/api/4.0/user", headers=CSRF, timeout=10) as again:
        assert again.status_code == 401
    with http.get(f"{bridge.url}/auth/session", timeout=10) as info:
        assert info.status_code == 401
    assert api_calls(bridge) == calls  # an ended session costs Looker nothing
    assert bridge.emulator.state.token_requests["refresh_token"] == refreshes + 1
    with other.get(f"{bridge.url}/api/4.0/user", headers=CSRF, timeout=10) as unaffected:
        assert unaffected.status_code == 200
    assert_store_consistent(redis_client, bridge.redis_prefix)
    http.close()
    other.close()


def test_a_write_that_meets_a_revoked_token_ends_the_session_without_replay(
    bridge: BridgeServer, redis_client: redis.Redis
) -> None:
    http = sign_in_as(bridge, "admin")
    key = session_key(bridge, http)
    revoke_access_token_only(bridge.emulator, stored_tokens(bridge, http).access_token)
    refreshes = bridge.emulator.state.token_requests["refresh_token"]
    calls = api_calls(bridge)
    with http.patch(
        f"{bridge.url}/api/4.0/looks/1", headers=CSRF, json={"title": "once"}, timeout=10
    ) as response:
        assert response.status_code == 401
    assert api_calls(bridge) == calls + 1  # sent once, never replayed
    assert bridge.emulator.state.token_requests["refresh_token"] == refreshes
    assert not redis_client.exists(key)
    assert_store_consistent(redis_client, bridge.redis_prefix)
    http.close()


# --------------------------------------------------------------------------- key rotation
def test_key_rotation_old_sessions_readable_new_ones_under_the_new_key(
    bridge_factory: Callable[..., BridgeServer], redis_client: redis.Redis
) -> None:
    key_a = Fernet.generate_key()
    key_b = Fernet.generate_key()
    old = bridge_factory(token_keys=(key_a,))
    first = sign_in_as(old, "analyst")
    second = sign_in_as(old, "viewer")
    name = old.settings.cookie_name

    def status(bridge: BridgeServer, http: requests.Session) -> int:
        with requests.get(
            f"{bridge.url}/api/4.0/user",
            headers={**CSRF, "Cookie": f"{name}={http.cookies[name]}"},
            timeout=10,
        ) as response:
            return response.status_code

    with (
        sibling_bridge(old, token_keys=(key_b, key_a)) as rotated,
        sibling_bridge(old, token_keys=(key_b,)) as only_b,
        sibling_bridge(old, token_keys=(key_a, key_b)) as staged,
    ):
        # A ring without A reads nothing sealed under A, and refusing it destroys nothing.
        assert status(only_b, second) == 401
        assert redis_client.exists(session_key(old, second))
        # A staged ring (A first, B known) and the rotated ring (B first) read old sessions.
        assert status(staged, second) == 200
        assert status(rotated, first) == 200
        # Reading under the rotated ring re-sealed the session under B, in place.
        assert status(only_b, first) == 200
        assert status(staged, first) == 200

        # A new sign-in through the rotated instance is sealed under B from the start.
        with requests.Session() as fresh:
            back = browser_sign_in(
                fresh, f"{rotated.url}/auth/login", *SEED_USERS["admin"], follow_final=False
            )
            callback = back.headers["Location"].replace(old.url, rotated.url, 1)
            with fresh.get(callback, allow_redirects=False, timeout=10) as done:
                assert done.status_code == 302
            assert status(only_b, fresh) == 200
            assert status(old, fresh) == 401  # the retired ring alone cannot read it
            assert status(staged, fresh) == 200
        assert_store_consistent(redis_client, old.redis_prefix)
    first.close()
    second.close()

"""Rate limits on /auth/login and /auth/callback: real bridge servers, real Redis, real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
import requests

from tests.support.bridge import BridgeServer

LIMIT = "3 per minute"


def _login(bridge: BridgeServer, **headers: str) -> requests.Response:
    return requests.get(
        f"{bridge.url}/auth/login", headers=headers, allow_redirects=False, timeout=10
    )


def _assert_limited(response: requests.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == {
        "error": "too_many_requests",
        "message": "Too many sign-in attempts from this address; try again later.",
    }
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["X-Request-Id"]


def test_login_is_limited_per_address_with_json_429(
    bridge_factory: Callable[..., BridgeServer], redis_client: redis.Redis
) -> None:
    bridge = bridge_factory(rate_limit_login=LIMIT)
    for _ in range(3):
        assert _login(bridge).status_code == 302
    _assert_limited(_login(bridge))
    _assert_limited(_login(bridge))
    # The counters live in the shared Redis, under the deployment's key prefix.
    keys = list(redis_client.scan_iter(match=f"{bridge.settings.redis_key_prefix}rl:*"))
    assert keys
    assert all(b"auth.login" in key or b"auth.callback" in key for key in keys)


def test_callback_has_its_own_budget_and_other_routes_none(
    bridge_factory: Callable[..., BridgeServer],
) -> None:
    bridge = bridge_factory(rate_limit_login=LIMIT)
    for _ in range(4):
        _login(bridge)
    _assert_limited(_login(bridge))
    callback = f"{bridge.url}/auth/callback?code=nope&state=nope"
    for _ in range(3):
        answer = requests.get(callback, allow_redirects=False, timeout=10)
        assert answer.status_code == 400  # unknown state, but not rate limited yet
    _assert_limited(requests.get(callback, allow_redirects=False, timeout=10))
    for _ in range(6):
        assert requests.get(f"{bridge.url}/auth/session", timeout=10).status_code == 401
        assert requests.get(f"{bridge.url}/healthz", timeout=10).status_code == 200


def test_two_instances_share_one_budget(bridge_factory: Callable[..., BridgeServer]) -> None:
    first = bridge_factory(rate_limit_login=LIMIT)
    second = bridge_factory(rate_limit_login=LIMIT)
    assert first.url != second.url
    assert first.settings.redis_key_prefix == second.settings.redis_key_prefix
    assert _login(first).status_code == 302
    assert _login(first).status_code == 302
    assert _login(second).status_code == 302
    _assert_limited(_login(second))
    _assert_limited(_login(first))


def test_forwarded_for_is_ignored_without_proxy_fix(
    bridge_factory: Callable[..., BridgeServer],
) -> None:
    bridge = bridge_factory(rate_limit_login=LIMIT, proxy_fix_hops=0)
    for n in range(3):
        assert _login(bridge, **{"X-Forwarded-For": f"198.51.100.{n}"}).status_code == 302
    _assert_limited(_login(bridge, **{"X-Forwarded-For": "198.51.100.99"}))


def test_behind_a_trusted_proxy_each_client_address_has_its_own_budget(
    bridge_factory: Callable[..., BridgeServer],
) -> None:
    bridge = bridge_factory(rate_limit_login=LIMIT, proxy_fix_hops=1)
    alice = {"X-Forwarded-For": "203.0.113.10"}
    bob = {"X-Forwarded-For": "203.0.113.20"}
    for _ in range(3):
        assert _login(bridge, **alice).status_code == 302
    _assert_limited(_login(bridge, **alice))
    assert _login(bridge, **bob).status_code == 302
    _assert_limited(_login(bridge, **alice))


def test_limits_can_be_switched_off(bridge_factory: Callable[..., BridgeServer]) -> None:
    bridge = bridge_factory(rate_limit_login="1 per minute", rate_limit_enabled=False)
    for _ in range(5):
        assert _login(bridge).status_code == 302


def test_redis_outage_never_turns_the_limiter_into_a_500(
    bridge_factory: Callable[..., BridgeServer], private_redis: Any
) -> None:
    bridge = bridge_factory(
        rate_limit_login=LIMIT, redis_url=private_redis.url, redis_socket_timeout=0.5
    )
    assert _login(bridge).status_code == 302
    private_redis.stop()
    down = _login(bridge)
    assert down.status_code == 503  # the session store's answer, not a limiter crash
    assert down.json()["error"] == "session_store_unavailable"
    private_redis.start()
    assert _login(bridge).status_code == 302

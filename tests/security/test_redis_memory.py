"""A full Redis, against the running bridge (gunicorn) on private redis-servers (issue 11, item 4).

Anonymous sign-ins write nothing to Redis, so a flood of them leaves its memory flat and signed-in
users keep working under ``maxmemory`` with ``noeviction``; ``/readyz`` answers 503 when Redis
refuses writes (out of memory, a read-only replica); the bridge refuses to start on a Redis whose
``maxmemory-policy`` could evict its keys.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from oauth_bridge.emulator import EmulatorServer
from tests.support.bridge import SEED_USERS
from tests.support.emulator import browser_sign_in
from tests.support.gunicorn import GunicornFactory, Instance
from tests.support.redis_fixtures import RedisServer
from tests.support.security_tools import CSRF

FLOOD = 3000
MEMORY_NOISE = 200_000
"""Bytes ``used_memory`` may move by without anything being stored (client buffers, allocator)."""


def memory(server: redis.Redis) -> dict[str, Any]:
    info: dict[str, Any] = server.info("memory")
    return info


def sign_in(instance: Instance, who: str) -> requests.Session:
    http = requests.Session()
    final = browser_sign_in(
        http, f"{instance.url}/auth/login?return_to=/auth/session", *SEED_USERS[who]
    )
    assert final.status_code == 200, final.text
    assert final.json()["authenticated"] is True
    return http


def anonymous_logins(instance: Instance, count: int, workers: int = 4) -> list[int]:
    """``count`` sign-ins started by as many cookie-less clients; their statuses."""

    def batch(n: int) -> list[int]:
        statuses = []
        with requests.Session() as http:
            for _ in range(n):
                http.cookies.clear()  # every request a new browser
                response = http.get(f"{instance.url}/auth/login", allow_redirects=False, timeout=10)
                statuses.append(response.status_code)
        return statuses

    with ThreadPoolExecutor(workers) as pool:
        shares = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
        return [status for part in pool.map(batch, shares) for status in part]


def readyz(instance: Instance) -> requests.Response:
    return requests.get(f"{instance.url}/readyz", timeout=10)


def wait_for_readyz(instance: Instance, status: int, timeout: float = 10) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        answer = readyz(instance)
        if answer.status_code == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


@pytest.mark.slow  # 3,000 sign-ins through gunicorn
def test_anonymous_login_flood_leaves_redis_flat_and_signed_in_users_keep_working(
    gunicorn_factory: GunicornFactory,
    emulator_factory: Callable[..., EmulatorServer],
    private_redis: RedisServer,
) -> None:
    server = redis.Redis(port=private_redis.port)
    emulator = emulator_factory(token_ttl=3)
    instance = gunicorn_factory(
        emulator=emulator,
        REDIS_URL=private_redis.url,
        RATE_LIMIT_ENABLED="false",  # the flood's own subject: what each sign-in stores
        REFRESH_MARGIN="1",
    )
    user = sign_in(instance, "analyst")
    signed_in_at = time.monotonic()
    anonymous_logins(instance, 200)  # warm up: the workers' Redis connections exist now
    before = memory(server)
    keys_before = server.dbsize()
    server.config_set("maxmemory", before["used_memory"] + 1_000_000)
    assert memory(server)["maxmemory_policy"] == "noeviction"

    statuses = anonymous_logins(instance, FLOOD)
    after = memory(server)

    assert statuses == [302] * FLOOD
    assert server.dbsize() <= keys_before  # (the /readyz probe key may have expired)
    growth = after["used_memory"] - before["used_memory"]
    print(f"used_memory {before['used_memory']} -> {after['used_memory']} ({growth:+d} B)")
    assert growth < MEMORY_NOISE
    assert after["used_memory"] < after["maxmemory"]

    # The signed-in user's token expires and is refreshed; a new user signs in.
    time.sleep(max(0.0, signed_in_at + 3.5 - time.monotonic()))
    refreshes = emulator.state.token_requests["refresh_token"]
    answer = user.get(f"{instance.url}/api/4.0/user", headers=CSRF, timeout=10)
    assert answer.status_code == 200, answer.text
    assert emulator.state.token_requests["refresh_token"] > refreshes
    viewer = sign_in(instance, "viewer")
    assert viewer.get(f"{instance.url}/auth/session", timeout=10).json()["authenticated"]


def test_readyz_is_503_while_a_full_redis_refuses_writes(
    gunicorn_factory: GunicornFactory, private_redis: RedisServer
) -> None:
    server = redis.Redis(port=private_redis.port)
    instance = gunicorn_factory(REDIS_URL=private_redis.url)
    server.config_set("maxmemory", 1)  # noeviction: every write is refused, PING still answers
    try:
        full = wait_for_readyz(instance, 503)
        assert full.status_code == 503
        assert full.headers["Retry-After"].isdigit()
        assert full.json()["error"] == "not_ready"
        assert full.json()["checks"] == {
            "settings": "ok",
            "session_store": "ok",
            "session_store_writes": "refused",
        }
    finally:
        server.config_set("maxmemory", 0)
    assert wait_for_readyz(instance, 200).status_code == 200


def test_readyz_is_503_on_a_read_only_replica(
    gunicorn_factory: GunicornFactory, private_redis: RedisServer, tmp_path: Path
) -> None:
    (tmp_path / "primary").mkdir()
    primary = RedisServer(tmp_path / "primary")
    primary.start()
    server = redis.Redis(port=private_redis.port)
    try:
        instance = gunicorn_factory(REDIS_URL=private_redis.url)
        server.replicaof("127.0.0.1", primary.port)  # the bridge's Redis becomes a replica
        replica = wait_for_readyz(instance, 503)
        assert replica.status_code == 503
        assert replica.json()["checks"]["session_store"] == "ok"
        assert replica.json()["checks"]["session_store_writes"] == "refused"
        server.replicaof("NO", "ONE")
        assert wait_for_readyz(instance, 200).status_code == 200
    finally:
        primary.stop()


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-ttl"])
def test_the_bridge_refuses_to_start_on_a_redis_that_may_evict_its_keys(
    gunicorn_factory: GunicornFactory, private_redis: RedisServer, policy: str
) -> None:
    redis.Redis(port=private_redis.port).config_set("maxmemory-policy", policy)
    with pytest.raises(AssertionError) as exited:
        gunicorn_factory(REDIS_URL=private_redis.url)
    assert "gunicorn exited" in str(exited.value)
    assert f"OAUTH_BRIDGE_REDIS_URL names a Redis whose maxmemory-policy is {policy}" in str(
        exited.value
    )


def test_an_evicting_redis_is_only_warned_about_when_so_configured(
    gunicorn_factory: GunicornFactory, private_redis: RedisServer
) -> None:
    redis.Redis(port=private_redis.port).config_set("maxmemory-policy", "allkeys-lru")
    instance = gunicorn_factory(
        REDIS_URL=private_redis.url, REDIS_EVICTION_CHECK="warn", LOG_LEVEL="INFO"
    )
    assert readyz(instance).status_code == 200
    assert "UNSAFE REDIS" in instance.output()
    assert "maxmemory-policy is allkeys-lru" in instance.output()

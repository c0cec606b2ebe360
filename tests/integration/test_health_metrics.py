"""/healthz, /readyz and /metrics on a real bridge, and the metrics helpers on real Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from oauth_bridge.config import parse_networks
from oauth_bridge.services import get_services
from oauth_bridge.sessions import redis as redis_store
from tests.support.bridge import BridgeServer, sign_in_as

API_HEADERS = {"X-Looker-AppId": "oauth-bridge-tests"}
SCRAPERS = parse_networks("127.0.0.1")
"""/metrics answers only clients in METRICS_NETWORKS (nobody by default); these tests scrape."""


def scrape(bridge: BridgeServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics`` keyed by (name, sorted labels)."""
    response = requests.get(f"{bridge.url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def requests_count(samples: dict[Any, float], route: str, status: str) -> float:
    key = (
        "oauth_bridge_http_requests_total",
        (("method", "GET"), ("route", route), ("status", status)),
    )
    return samples.get(key, 0.0)


def test_healthz_answers_without_redis_or_session(bridge: BridgeServer) -> None:
    response = requests.get(f"{bridge.url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert len(response.headers["X-Request-Id"]) == 32


def test_readyz_follows_redis_down_and_back(
    bridge_factory: Callable[..., BridgeServer], private_redis: Any
) -> None:
    bridge = bridge_factory(redis_url=private_redis.url, redis_socket_timeout=0.5)
    ready = requests.get(f"{bridge.url}/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"settings": "ok", "session_store": "ok", "session_store_writes": "ok"},
    }
    private_redis.stop()
    down = requests.get(f"{bridge.url}/readyz", timeout=10)
    assert down.status_code == 503
    body = down.json()
    assert body["error"] == "not_ready"
    assert body["message"]
    assert body["checks"] == {
        "settings": "ok",
        "session_store": "unavailable",
        "session_store_writes": "unavailable",
    }
    assert down.headers["Retry-After"].isdigit()
    private_redis.start()
    assert requests.get(f"{bridge.url}/readyz", timeout=10).status_code == 200


def test_metrics_count_requests_by_route_template_and_sessions(
    bridge_factory: Callable[..., BridgeServer],
) -> None:
    bridge = bridge_factory(metrics_networks=SCRAPERS)
    before = scrape(bridge)
    assert before[("oauth_bridge_active_sessions", ())] == 0
    sign_in_as(bridge, "analyst")
    viewer = sign_in_as(bridge, "viewer")
    signed_in = scrape(bridge)
    assert viewer.get(f"{bridge.url}/auth/session", timeout=10).status_code == 200
    random_path = uuid.uuid4().hex
    assert requests.get(f"{bridge.url}/{random_path}", timeout=10).status_code == 404

    # The active-sessions gauge is cached for 15 s: a fresh app gives a fresh count.
    get_services(bridge.app).metrics._counted_at = float("-inf")
    after = scrape(bridge)
    assert requests_count(after, "/auth/login", "302") == 2
    assert requests_count(after, "/auth/callback", "302") == 2
    session_calls = requests_count(after, "/auth/session", "200")
    assert session_calls - requests_count(signed_in, "/auth/session", "200") == 1
    assert requests_count(after, "unmatched", "404") == 1
    assert all(random_path not in str(labels) for _, labels in after)
    assert after[("oauth_bridge_active_sessions", ())] == 2
    assert after[("oauth_bridge_active_sessions_truncated", ())] == 0


def test_refreshes_and_proxy_latency_are_counted(
    emulator_factory: Callable[..., Any], bridge_factory: Callable[..., BridgeServer]
) -> None:
    emulator = emulator_factory(token_ttl=2)
    bridge = bridge_factory(emulator=emulator, refresh_margin=1, metrics_networks=SCRAPERS)
    http = sign_in_as(bridge, "analyst")
    time.sleep(1.3)  # inside the refresh margin
    assert http.get(f"{bridge.url}/api/4.0/user", headers=API_HEADERS, timeout=10).ok
    samples = scrape(bridge)
    assert samples[("oauth_bridge_token_refreshes_total", ())] == 1
    assert samples[("oauth_bridge_token_refresh_failures_total", ())] == 0
    count = samples[("oauth_bridge_proxy_upstream_seconds_count", (("status", "2xx"),))]
    assert count >= 1


def test_refused_refresh_is_counted_as_a_failure(
    emulator_factory: Callable[..., Any], bridge_factory: Callable[..., BridgeServer]
) -> None:
    emulator = emulator_factory(token_ttl=2, refresh_enabled=False)
    bridge = bridge_factory(emulator=emulator, refresh_margin=1, metrics_networks=SCRAPERS)
    http = sign_in_as(bridge, "viewer")
    time.sleep(1.3)
    assert (
        http.get(f"{bridge.url}/api/4.0/user", headers=API_HEADERS, timeout=10).status_code == 401
    )
    samples = scrape(bridge)
    assert samples[("oauth_bridge_token_refresh_failures_total", ())] == 1
    assert samples[("oauth_bridge_token_refreshes_total", ())] == 0


# --- the helpers on their own ---------------------------------------------------------------


def test_session_counter_counts_only_session_keys_under_its_prefix(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    prefix = redis_prefix + "we*ird[1]:"  # glob characters in a prefix are literal
    for n in range(5):
        redis_client.set(f"{prefix}s:{n}", b"x", ex=60)
    redis_client.set(f"{redis_prefix}weXird1:s:other", b"x", ex=60)  # matches only unescaped
    redis_client.zadd(f"{prefix}s:not-a-string", {"a": 1})
    redis_client.expire(f"{prefix}s:not-a-string", 60)
    redis_client.zadd(f"{prefix}u:1", {"a": 1})
    redis_client.expire(f"{prefix}u:1", 60)
    redis_client.set(f"{prefix}p:pending", b"x", ex=60)
    assert redis_store.count_session_keys(redis_client, prefix) == (5, False)


def test_session_counter_reports_truncation_at_its_budget(
    redis_client: redis.Redis, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe = redis_client.pipeline(transaction=False)
    for n in range(3000):
        pipe.set(f"{redis_prefix}s:{n}", b"x", ex=60)
    pipe.execute()
    monkeypatch.setattr(redis_store, "SCAN_BUDGET", 1000)
    count, truncated = redis_store.count_session_keys(redis_client, redis_prefix)
    assert truncated is True
    assert count < 3000

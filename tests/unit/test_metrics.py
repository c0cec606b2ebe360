"""The metrics helpers on their own: the session recount's pacing, the recorders and status classes.

No server and no Redis (the counter is a stand-in); ``/metrics`` on a running bridge and the
session counter on real Redis are in ``tests/integration/test_health_metrics.py``.
"""

from __future__ import annotations

import pytest
import redis

from oauth_bridge import metrics
from oauth_bridge.services import get_services
from tests.support.bridge import offline_app


def test_active_sessions_are_recounted_at_most_every_15_seconds() -> None:
    calls: list[int] = []

    def counter() -> tuple[int, bool]:
        calls.append(1)
        if len(calls) == 2:
            raise redis.ConnectionError("down")
        return 7 * len(calls), False

    m = metrics.Metrics()
    m.update_active_sessions(counter)
    m.update_active_sessions(counter)
    assert calls == [1]
    assert m.active_sessions._value.get() == 7
    m._counted_at -= metrics.ACTIVE_SESSIONS_TTL
    m.update_active_sessions(counter)  # fails: the last good value stays
    assert m.active_sessions._value.get() == 7
    m._counted_at -= metrics.ACTIVE_SESSIONS_TTL
    m.update_active_sessions(counter)
    assert m.active_sessions._value.get() == 21


def test_each_app_records_into_its_own_metrics_only() -> None:
    first, second = offline_app(), offline_app()
    m1, m2 = get_services(first).metrics, get_services(second).metrics
    assert m1 is not m2
    m1.record_refresh()
    m1.record_refresh_failure()
    m1.observe_upstream(0.02, 503)
    m1.observe_upstream(5.0, "timeout")
    m1.count_request("/api/4.0/<path:path>", "BREW", 200)
    text = m1.exposition().decode()
    assert "oauth_bridge_token_refreshes_total 1.0" in text
    assert "oauth_bridge_token_refresh_failures_total 1.0" in text
    assert 'oauth_bridge_proxy_upstream_seconds_count{status="5xx"} 1.0' in text
    assert 'oauth_bridge_proxy_upstream_seconds_count{status="timeout"} 1.0' in text
    assert 'method="OTHER"' in text
    assert "oauth_bridge_token_refreshes_total 0.0" in m2.exposition().decode()


@pytest.mark.parametrize(
    ("status", "label"),
    [
        (200, "2xx"),
        (302, "3xx"),
        (404, "4xx"),
        (599, "5xx"),
        ("timeout", "timeout"),
        ("error", "error"),
        (None, "error"),
        (42, "error"),
        ("bogus", "error"),
    ],
)
def test_status_class(status: int | str | None, label: str) -> None:
    assert metrics.status_class(status) == label

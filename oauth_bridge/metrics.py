"""Prometheus metrics for one bridge app, in a private registry served at ``/metrics``.

``create_app`` builds one :class:`Metrics` per app and hands it to whoever records (the request
logger, the proxy through ``Services``, the token manager), so this module depends on nothing of
the bridge. Each app owns a private ``CollectorRegistry``, so tests and the demo can run several
bridges in one process without "duplicated timeseries" errors.

Several gunicorn workers: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before start;
prometheus_client then keeps values in shared files and ``/metrics`` aggregates every worker.

Active sessions are counted by the session store itself (``count_sessions``, a bounded scan on
Redis), at most every 15 s; when the count stops early the gauge is a lower bound and
``oauth_bridge_active_sessions_truncated`` is 1.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger(__name__)

# The *_created series double every counter on the page and nobody alerts on them.
disable_created_metrics()  # type: ignore[no-untyped-call]

ACTIVE_SESSIONS_TTL = 15.0

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_OUTCOMES = frozenset({"timeout", "error"})
_PROXY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

SessionCounter = Callable[[], tuple[int, bool]]
"""Returns ``(count, truncated)``; raises when the store cannot answer."""


class Metrics:
    """The bridge's metric families, registered in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "oauth_bridge_http_requests",
            "Requests answered by the bridge, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.proxy_latency = Histogram(
            "oauth_bridge_proxy_upstream_seconds",
            "Time from sending a proxied request to Looker until its answer's headers arrived.",
            ["status"],
            buckets=_PROXY_BUCKETS,
            registry=self.registry,
        )
        self.refreshes = Counter(
            "oauth_bridge_token_refreshes",
            "Access tokens refreshed at Looker's token endpoint.",
            registry=self.registry,
        )
        self.refresh_failures = Counter(
            "oauth_bridge_token_refresh_failures",
            "Refreshes Looker refused (the session ended).",
            registry=self.registry,
        )
        self.active_sessions = Gauge(
            "oauth_bridge_active_sessions",
            "Live sessions in the store (shared by all bridge instances: aggregate with max).",
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.active_sessions_truncated = Gauge(
            "oauth_bridge_active_sessions_truncated",
            "1 when the last session count stopped at its scan budget (a lower bound).",
            registry=self.registry,
            multiprocess_mode="max",
        )
        self._counted_at = float("-inf")
        self._count_lock = threading.Lock()
        # Label children by label values: ``.labels()`` validates and locks on every call, these
        # lookups are one dict get. They hold exactly the children the families
        # already hold, so they grow no further than the series do.
        self._request_children: dict[tuple[str, str, int], Counter] = {}
        self._latency_children: dict[str, Histogram] = {}

    def count_request(self, route: str, method: str, status: int) -> None:
        """Count one answered request (see :func:`record_request`)."""
        label = method if method in _METHODS else "OTHER"  # keyed by label: bounded
        key = (route, label, status)
        child = self._request_children.get(key)
        if child is None:
            child = self.requests.labels(route=route, method=label, status=str(status))
            self._request_children[key] = child
        child.inc()

    def observe_upstream(self, seconds: float, status: int | str | None) -> None:
        """Time one upstream call (see :func:`observe_proxy`)."""
        label = status_class(status)
        child = self._latency_children.get(label)
        if child is None:
            child = self.proxy_latency.labels(status=label)
            self._latency_children[label] = child
        child.observe(max(seconds, 0.0))

    def record_refresh(self) -> None:
        """A refresh at Looker's token endpoint succeeded."""
        self.refreshes.inc()

    def record_refresh_failure(self) -> None:
        """Looker refused a refresh token; the session ended."""
        self.refresh_failures.inc()

    def update_active_sessions(self, counter: SessionCounter | None) -> None:
        """Recount at most every 15 s; a failed count leaves the last value in place."""
        if counter is None:
            return
        with self._count_lock:
            now = time.monotonic()
            if now - self._counted_at < ACTIVE_SESSIONS_TTL:
                return
            self._counted_at = now
            try:
                count, truncated = counter()
            except Exception as exc:  # a scrape must never fail because Redis hiccupped
                log.warning("could not count active sessions: %s", type(exc).__name__)
                return
            self.active_sessions.set(count)
            self.active_sessions_truncated.set(1 if truncated else 0)

    def exposition(self) -> bytes:
        """The Prometheus text format; every worker's values in multiprocess mode."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


def status_class(status: int | str | None) -> str:
    """``2xx``…``5xx`` for HTTP codes; ``timeout``/``error`` when no answer came back."""
    if isinstance(status, int) and 100 <= status <= 599:
        return f"{status // 100}xx"
    if isinstance(status, str) and status in _OUTCOMES:
        return status
    return "error"

"""Liveness, readiness and Prometheus metrics: the routes a platform and on-call poll.

``/healthz`` says the process answers (restart it if not); ``/readyz`` says this instance can serve
sign-ins now (Redis answers a PING and takes a write, settings pass validation), so a router
sends no traffic while Redis is away, full (``noeviction`` refusing writes) or a read-only
replica; ``/metrics`` is the Prometheus text format. None of them needs a session. Keep
``/metrics`` off the public internet at the router: it tells an outsider how busy the bridge is.
The bridge also serves it only to clients in ``METRICS_NETWORKS`` (nobody by default) and answers
404 to everyone else, as if it did not exist.
"""

from __future__ import annotations

import ipaddress
import logging

from flask import Blueprint, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST

from oauth_bridge.config import Network, validate
from oauth_bridge.errors import ConfigError, NotFound, StoreUnavailable, error_response
from oauth_bridge.services import get_services

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

RETRY_AFTER_SECONDS = 5


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up and answering; says nothing about Redis or Looker."""
    return _no_store(jsonify({"status": "ok"}))


@bp.get("/readyz")
def readyz() -> Response:
    """200 when Redis answers and takes writes and the settings are valid, else 503 with
    ``Retry-After``; ``checks.session_store_writes`` is ``refused`` when Redis answers PING but
    refuses writes (out of memory, a replica)."""
    services = get_services()
    checks: dict[str, str] = {}
    try:
        validate(services.settings)
        checks["settings"] = "ok"
    except ConfigError as exc:
        log.error("settings invalid: %s", exc)
        checks["settings"] = "invalid"
    try:
        services.store.ping()
        checks["session_store"] = "ok"
    except StoreUnavailable:
        checks["session_store"] = "unavailable"
        checks["session_store_writes"] = "unavailable"
    else:
        try:
            services.store.probe_write()
            checks["session_store_writes"] = "ok"
        except StoreUnavailable:
            checks["session_store_writes"] = "refused"
    if all(value == "ok" for value in checks.values()):
        return _no_store(jsonify({"status": "ready", "checks": checks}))
    return error_response(
        503,
        "not_ready",
        "This bridge instance cannot serve requests right now.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        extra={"checks": checks},
    )


def may_scrape(address: str | None, networks: tuple[Network, ...]) -> bool:
    """Whether a client at ``address`` (ProxyFix's client, not a router's) is a listed scraper."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


@bp.get("/metrics")
def metrics_text() -> Response:
    """Prometheus text for this app (active sessions recounted at most every 15 s)."""
    if not may_scrape(request.remote_addr, get_services().settings.metrics_networks):
        raise NotFound()
    found = get_services().metrics
    found.update_active_sessions(get_services().store.count_sessions)
    response = Response(found.exposition(), content_type=CONTENT_TYPE_LATEST)
    return _no_store(response)

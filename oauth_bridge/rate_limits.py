"""Rate limits on the sign-in routes, per client address, shared by every bridge instance.

``/auth/login`` and ``/auth/callback`` each allow ``RATE_LIMIT_LOGIN`` (a Flask-Limiter string such
as ``30 per minute``) per client address; nothing else is limited (no ``default_limits``), since API
calls are the user's own business with Looker. The counters live in the same Redis as the sessions
(any ``REDIS_URL`` form: one server, Sentinel or Cluster), under ``{REDIS_KEY_PREFIX}rl:``
(hash-tagged on a cluster, like the session keys), so two instances count together; without
``REDIS_URL`` they live in memory. If Redis goes away the limiter falls back to per-process memory
counters until it is back.

The client address is ``request.remote_addr``: behind a router set ``PROXY_FIX_HOPS`` so Werkzeug's
``ProxyFix`` puts the real client there; never read ``X-Forwarded-For`` here yourself. An IPv6
client counts by its /64: one host is usually given a whole /64, so counting single addresses
would give it 2**64 budgets.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import Any

from flask import Flask, request
from flask_limiter import Limiter, RateLimitExceeded
from limits.errors import ConfigurationError
from werkzeug.wrappers import Response as BaseResponse

from oauth_bridge.config import Settings
from oauth_bridge.errors import ConfigError, TooManyRequests
from oauth_bridge.redis_url import storage_options, storage_uri
from oauth_bridge.request_hooks import hooks_only_when
from oauth_bridge.services import get_services

log = logging.getLogger(__name__)

LIMITED_ENDPOINTS = ("auth.login", "auth.callback", "auth.popup_login", "auth.popup_redeem")


IPV6_PREFIX = 64


def rate_limit_key(address: str | None) -> str:
    """``address`` as one budget: an IPv4 address, or an IPv6 address's /64 network.

    IPv4-mapped IPv6 addresses (``::ffff:192.0.2.1``, from dual-stack sockets) count as the IPv4
    address they carry, so one client has one budget whichever socket family it arrived on.
    """
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        host_bits = 128 - IPV6_PREFIX  # from the integer: a scope id (fe80::1%eth0) is dropped
        return str(ipaddress.IPv6Network((int(ip) >> host_bits << host_bits, IPV6_PREFIX)))
    return str(ip)


def client_address() -> str:
    """The rate-limit key of this request's peer (made trustworthy by ProxyFix when configured)."""
    return rate_limit_key(request.remote_addr)


def _is_limited_route() -> bool:
    return request.endpoint in LIMITED_ENDPOINTS


def _too_many(error: RateLimitExceeded) -> BaseResponse:
    """429 in the contract's JSON shape, with ``Retry-After`` in whole seconds (at least 1)."""
    retry_after = 60
    limiter = get_services().limiter
    breached = limiter.current_limit if limiter is not None else None
    if breached is not None:
        try:
            retry_after = max(1, int(breached.reset_at - time.time()))
        except Exception:  # the header is a hint; never fail the 429 over it
            log.warning("could not compute Retry-After for a rate-limited request")
    log.info("rate limit %s reached for %s", error.description, request.path)
    return TooManyRequests(
        "Too many sign-in attempts from this address; try again later.",
        headers={"Retry-After": str(retry_after)},
    ).to_response()


def init_rate_limits(app: Flask, settings: Settings) -> Limiter | None:
    """Limit the sign-in routes of ``app`` (call after the auth blueprint is registered).

    Returns the limiter for the app's :class:`~oauth_bridge.services.Services` to keep.
    """
    if not settings.rate_limit_enabled:
        log.info("rate limits are disabled (OAUTH_BRIDGE_RATE_LIMIT_ENABLED=false)")
        return None
    # settings.rate_limit_login was checked with the same parser by config.validate.
    options = storage_options(settings)
    try:
        # Only sign-in is limited, by the decorated views below (Flask-Limiter checks a decorated
        # limit inside the view's wrapper); its app-wide hooks then run on those routes only, so
        # the proxy's hot path does not pay for them (docs/performance.md).
        with hooks_only_when(app, _is_limited_route):
            limiter = Limiter(
                client_address,
                app=app,
                default_limits=[],
                application_limits=[],
                storage_uri=storage_uri(settings.redis_url),
                storage_options=options,
                strategy="moving-window",
                headers_enabled=False,  # our 429 handler sets Retry-After; no noise on 200s
                in_memory_fallback_enabled=True,
                swallow_errors=True,
            )
    except ConfigurationError as exc:
        raise ConfigError(f"OAUTH_BRIDGE_REDIS_URL cannot be used for rate limits: {exc}") from None
    # Belt and braces: should a hook run anyway, every other route is exempt.
    limiter.request_filter(lambda: not _is_limited_route())
    for endpoint in LIMITED_ENDPOINTS:
        view = app.view_functions.get(endpoint)
        if view is None:
            raise RuntimeError(f"init_rate_limits needs the {endpoint} view registered first")
        # Flask-Limiter's overloads type the wrapper loosely; it is the same view, wrapped.
        limited: Any = limiter.limit(settings.rate_limit_login)(view)
        app.view_functions[endpoint] = limited
    app.register_error_handler(RateLimitExceeded, _too_many)
    return limiter

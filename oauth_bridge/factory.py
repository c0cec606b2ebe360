"""The Flask app factory: builds one bridge app from one :class:`Settings` object, and closes it.

``create_app()`` reads the environment (and stops with one clear line when a setting is bad);
tests and the demo pass their own settings. ``app.py`` at the repository root holds the WSGI
``app`` that gunicorn serves. Whoever stops serving an app (the demo, tests, an embedding program)
calls :func:`close_app` instead of reaching into ``app.extensions``.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Request
from flask.sessions import SessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from oauth_bridge import (
    auth,
    front_end,
    health,
    observability,
    pages,
    proxy,
    rate_limits,
    request_body,
    security,
)
from oauth_bridge.config import Settings, is_loopback_host, load_settings
from oauth_bridge.data_plane import gate
from oauth_bridge.errors import register_error_handlers
from oauth_bridge.looker.client import LookerClient
from oauth_bridge.looker.upstream import LookerApi
from oauth_bridge.metrics import Metrics
from oauth_bridge.services import EXTENSION_KEY, Services
from oauth_bridge.sessions import build_store
from oauth_bridge.tokens import TokenManager

log = logging.getLogger(__name__)


class NoFlaskSession(SessionInterface):
    """The bridge keeps its own sessions in the store; Flask's signed-cookie session is unused.

    Without this, Flask builds a cookie signer on every request for nothing.
    """

    def open_session(self, app: Flask, request: Request) -> None:
        return None

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        return None


def create_app(settings: Settings | None = None) -> Flask:
    """A bridge app whose long-lived objects are built here, once, and kept in one Services.

    Building them up front (not on first use, not as module globals) means several apps can live
    in one process with nothing shared between them, a bad setting fails at start rather than on
    the first request, and :func:`close_app` finds everything the app holds in one place.
    """
    settings = settings or load_settings()
    app = Flask(__name__, static_folder=None)
    # Werkzeug answers //a or /a/ (for a rule /a/) with a redirect built from the request's Host;
    # rules take these values when they are added, so set them before any blueprint.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.session_interface = NoFlaskSession()
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    if settings.proxy_fix_hops:
        hops = settings.proxy_fix_hops
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )

    request_body.init_app(app, settings)
    app_metrics = Metrics()
    observability.init_observability(app, settings, app_metrics)
    _warn_about_risky_settings(settings)
    front_end.init_front_end(app, settings)
    looker = LookerClient(settings)
    try:
        store = build_store(settings, on_ended=looker.revoke_grants)
    except BaseException:  # e.g. a Redis that may evict: nothing else is built yet
        looker.close()
        raise
    upstream = LookerApi.from_settings(settings)
    # Idle keep-alive sockets are closed when the app goes away, even if nobody calls close_app.
    weakref.finalize(app, upstream.close)
    try:
        app.register_blueprint(auth.bp)
        app.register_blueprint(proxy.bp)
        app.register_blueprint(health.bp)
        app.register_blueprint(gate.bp)
        app.register_blueprint(pages.bp)
        register_error_handlers(app)
        security.init_cors(app, settings)
        limiter = rate_limits.init_rate_limits(app, settings)
    except BaseException:
        upstream.close()
        looker.close()
        store.close()
        raise
    app.extensions[EXTENSION_KEY] = Services(
        settings=settings,
        store=store,
        looker=looker,
        upstream=upstream,
        tokens=TokenManager(settings, store, looker, app_metrics),
        metrics=app_metrics,
        limiter=limiter,
    )
    return app


def _warn_about_risky_settings(settings: Settings) -> None:
    """Settings that work, but not everywhere: said once, at start."""
    redirect = urlsplit(settings.redirect_uri)
    if settings.cookie_secure and redirect.scheme == "http" and is_loopback_host(redirect.hostname):
        log.warning(
            "OAUTH_BRIDGE_COOKIE_SECURE=true with the plain-http OAUTH_BRIDGE_REDIRECT_URI %s: "
            "Chromium and Firefox keep Secure cookies on http://localhost, other browsers may "
            "not (sign-in then fails at the callback); use COOKIE_SECURE=false for such a browser",
            settings.redirect_uri,
        )


def close_app(app: Flask) -> None:
    """Let go of everything ``app`` holds: upstream connections, Looker's HTTP session, the store.

    Call it when the app stops serving. Idempotent, and a no-op for an app without services.
    """
    services = app.extensions.get(EXTENSION_KEY)
    if isinstance(services, Services):
        services.close()

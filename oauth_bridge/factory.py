"""The Flask app factory: builds one bridge app from one :class:`Settings` object.

``create_app()`` reads the environment (and stops with one clear line when a setting is bad);
tests and the demo pass their own settings. ``app.py`` at the repository root holds the WSGI
``app`` that gunicorn serves.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request
from flask.sessions import SessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from oauth_bridge import auth, health, observability, proxy, rate_limits, security
from oauth_bridge.config import Settings, load_settings
from oauth_bridge.errors import register_error_handlers
from oauth_bridge.looker import LookerClient
from oauth_bridge.services import EXTENSION_KEY, Services
from oauth_bridge.sessions import build_store
from oauth_bridge.tokens import TokenManager

log = logging.getLogger(__name__)


class NoFlaskSession(SessionInterface):
    """The bridge keeps its own sessions in the store; Flask's signed-cookie session is unused.

    Without this, Flask builds a cookie signer on every request (about 50 µs) for nothing.
    """

    def open_session(self, app: Flask, request: Request) -> None:
        return None

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        return None


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__, static_folder=None)
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

    observability.init_observability(app, settings)
    store = build_store(settings)
    looker = LookerClient(settings)
    app.extensions[EXTENSION_KEY] = Services(
        settings=settings,
        store=store,
        looker=looker,
        tokens=TokenManager(settings, store, looker),
    )

    app.register_blueprint(auth.bp)
    app.register_blueprint(proxy.bp)
    app.register_blueprint(health.bp)
    register_error_handlers(app)
    security.init_cors(app, settings)
    rate_limits.init_rate_limits(app, settings)
    return app

"""The long-lived objects one bridge app shares between requests, found through ``current_app``.

``create_app`` builds every per-app object once and keeps them in one :class:`Services` under one
``app.extensions`` key; views call :func:`get_services` instead of importing globals, so tests and
the demo can run several bridge apps in one process, each with its own settings, store, Looker
client, upstream pool and metrics. ``factory.close_app`` lets go of all of them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app

from oauth_bridge.config import Settings
from oauth_bridge.looker.client import LookerClient
from oauth_bridge.looker.upstream import LookerApi
from oauth_bridge.sessions import Store

if TYPE_CHECKING:
    from flask_limiter import Limiter

    from oauth_bridge.metrics import Metrics
    from oauth_bridge.tokens import TokenManager

EXTENSION_KEY = "oauth_bridge"


@dataclass(frozen=True)
class Services:
    """Everything one bridge app holds: built in ``create_app``, closed by ``close_app``."""

    settings: Settings
    store: Store
    looker: LookerClient
    """OAuth calls to Looker (token, refresh, revoke, current user)."""
    upstream: LookerApi
    """The API host's connection pool that the proxy forwards through."""
    tokens: TokenManager
    metrics: Metrics
    limiter: Limiter | None
    """The sign-in rate limiter; None when rate limits are turned off."""
    # Taken by the first close() and never released: later calls return at once.
    _close_once: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def close(self) -> None:
        """Close idle upstream connections, the Looker client's HTTP session and the store.

        Idempotent and safe from several threads: only the first call closes anything.
        """
        if not self._close_once.acquire(blocking=False):
            return
        self.upstream.close()
        self.looker.close()
        self.store.close()


def get_services(app: Flask | None = None) -> Services:
    """The services of ``app``, by default the app handling the current request."""
    services: Services = (app or current_app).extensions[EXTENSION_KEY]
    return services

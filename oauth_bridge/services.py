"""The long-lived objects one bridge app shares between requests, found through ``current_app``.

Views call :func:`get_services` instead of importing globals, so tests and the demo can run several
bridge apps in one process, each with its own settings, store and Looker client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app

from oauth_bridge.config import Settings
from oauth_bridge.looker import LookerClient
from oauth_bridge.sessions import Store

if TYPE_CHECKING:
    from oauth_bridge.tokens import TokenManager

EXTENSION_KEY = "oauth_bridge"


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    looker: LookerClient
    tokens: TokenManager


def get_services() -> Services:
    """The services of the app handling the current request."""
    services: Services = current_app.extensions[EXTENSION_KEY]
    return services

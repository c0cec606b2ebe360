"""oauth_bridge: call the Looker API from a single-page app as the signed-in user.

The browser holds only an opaque session cookie; the bridge keeps each user's Looker tokens
server-side, encrypted, and forwards ``/api/4.0/...`` calls with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["close_app", "create_app"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from flask import Flask

    from oauth_bridge.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the bridge app (see :mod:`oauth_bridge.factory`)."""
    from oauth_bridge.factory import create_app as factory

    return factory(settings)


def close_app(app: Flask) -> None:
    """Close what a bridge app holds when it stops serving (see :mod:`oauth_bridge.factory`)."""
    from oauth_bridge.factory import close_app as close

    close(app)

"""The secret nginx proves itself with to the bridge, in nginx mode; no other imports needed.

Kept apart from :mod:`.gate` so the embedded proxy can read nginx's marks without importing it.
"""

from __future__ import annotations

import hmac
from functools import lru_cache

from flask import request

from oauth_bridge.config import Settings
from oauth_bridge.crypto import derive_key

GATE_HEADER = "X-Oauth-Bridge-Gate"
"""Sent by nginx to the verify endpoint."""
LOOKER_REFUSED_HEADER = "X-Oauth-Bridge-Looker-Refused"
"""Sent by nginx with a call it hands to the bridge because Looker answered it 401."""
_GATE_PURPOSE = b"oauth_bridge/nginx-gate/1"


def gate_secret(settings: Settings) -> str:
    """The shared secret, derived from ``SECRET_KEY`` for this use only.

    Derived rather than configured, so the bridge and ``oauth-bridge nginx-config`` agree with
    nothing more to set, and knowing it opens nothing else that ``SECRET_KEY`` keys.
    """
    return _derived(settings.secret_key)


@lru_cache(maxsize=8)
def _derived(secret_key: str) -> str:
    """HKDF once per ``SECRET_KEY``, not on every verify call (the gate's hot path)."""
    return derive_key(secret_key, _GATE_PURPOSE).hex()


def carries_secret(settings: Settings, header: str) -> bool:
    """Whether this request's ``header`` holds the gate secret (compared in constant time)."""
    sent = request.headers.get(header)
    if not sent:
        return False
    return hmac.compare_digest(sent.encode("utf-8", "replace"), gate_secret(settings).encode())

"""The records the bridge passes around: who is signed in, their tokens, a sign-in under way.

Import these from any module (views, the Looker client, the token manager) without pulling in a
session store or a Redis client; the stores in :mod:`oauth_bridge.sessions` seal and keep them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ID_RE = re.compile(r"[A-Za-z0-9_-]{43}")
"""A random id as ``secrets.token_urlsafe(32)`` spells it: a session id, a secret, a binding."""


@dataclass(frozen=True)
class UserInfo:
    id: str
    display_name: str
    email: str


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_at: float
    """Epoch seconds."""
    expires_in: float | None = None
    """The lifetime Looker granted this access token, in seconds (None: not known, e.g. a
    session sealed before it was kept). The refresh margin is capped at half of it, so a
    token shorter-lived than the margin is not refreshed on every request."""


@dataclass(frozen=True)
class SessionRecord:
    session_id: str
    user: UserInfo
    tokens: TokenSet
    created_at: float
    """Epoch seconds (millisecond precision); the absolute lifetime counts from here."""
    version: int
    """1 at creation, +1 on each token write."""


@dataclass(frozen=True)
class PendingLogin:
    state: str
    code_verifier: str
    return_to: str
    created_at: float
    opener_origin: str = ""
    """Set for a sign-in in a popup (:mod:`oauth_bridge.popup_login`): the framed SPA's origin,
    the only one the popup's answer is posted to and redeemable from."""
    challenge: str = ""
    """The framed SPA's S256 challenge; the redemption must bring its verifier."""

    @property
    def in_popup(self) -> bool:
        return bool(self.opener_origin)

"""Where signed-in sessions and pending logins live: Redis in production, memory for the demo.

Use :func:`build_store` to get the store that ``SESSION_STORE`` names for a
:class:`~oauth_bridge.config.Settings`. Views and the token manager see only these protocols:
:class:`SessionStore` (what sign-in, sign-out and token refresh do to a session) and
:class:`PendingLoginStore` (sign-ins under way); :class:`Store` adds what the app itself needs
(readiness, the active-sessions gauge, shutdown). To add a backend, subclass
:class:`~oauth_bridge.sessions.base.SealedStore` in a module of its own and name it here.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import Protocol

from oauth_bridge.config import Settings
from oauth_bridge.crypto import TokenCipher
from oauth_bridge.models import SessionRecord, TokenSet, UserInfo
from oauth_bridge.redis_url import effective_key_prefix, redis_client
from oauth_bridge.sessions.base import GrantSink
from oauth_bridge.sessions.memory import MemorySessionStore
from oauth_bridge.sessions.redis import RedisSessionStore, check_eviction_policy

__all__ = [
    "MemorySessionStore",
    "PendingLoginStore",
    "RedisSessionStore",
    "SessionStore",
    "Store",
    "build_store",
]

log = logging.getLogger(__name__)


class SessionStore(Protocol):
    """What the views and the token manager do to signed-in sessions."""

    def create(self, user: UserInfo, tokens: TokenSet) -> tuple[str, SessionRecord]:
        """A brand-new session; returns ``(cookie_value, record)``. Past the per-user cap the
        oldest sessions end in the same step (their grants go to the store's ``on_ended``)."""
        ...

    def load(self, cookie_value: str) -> SessionRecord | None:
        """The session the cookie unlocks (sliding its idle expiry), or None; never raises
        for hostile input."""
        ...

    def save_tokens(self, cookie_value: str, tokens: TokenSet) -> SessionRecord | None:
        """Replace the tokens (under the refresh lock); None if the session is gone."""
        ...

    def delete(self, cookie_value: str) -> SessionRecord | None:
        """End the session; returns what was there so its token can be revoked."""
        ...

    def delete_user_sessions(self, user_id: str) -> int:
        """Logout everywhere (their grants go to the store's ``on_ended``, and a mark stops
        any session of the user created until now); returns how many live sessions ended."""
        ...

    def refresh_lock(self, session_id: str, timeout: float) -> AbstractContextManager[bool]:
        """Yields True when acquired within ``timeout`` seconds, else False."""
        ...


class PendingLoginStore(Protocol):
    """Which sign-ins were used. The pending logins themselves live sealed in the browser's
    login cookie (:mod:`oauth_bridge.login_cookie`), so anonymous traffic writes nothing here."""

    def mark_login_used(self, state: str, ttl_ms: int) -> bool:
        """Remember for ``ttl_ms`` that ``state`` was used; False if it already was (set-if-
        absent). Called only after Looker accepted the sign-in's code."""
        ...

    def login_used(self, state: str) -> bool:
        """Whether ``state`` was used (True for junk); reads only."""
        ...


class Store(SessionStore, PendingLoginStore, Protocol):
    """Both, plus what the app needs of its store: what :func:`build_store` returns."""

    def ping(self) -> None:
        """Raises StoreUnavailable when the store cannot serve (``/readyz``)."""
        ...

    def probe_write(self) -> None:
        """Raises StoreUnavailable when the store answers but refuses writes (``/readyz``)."""
        ...

    def count_sessions(self) -> tuple[int, bool]:
        """``(live sessions, truncated)``; raises when the store cannot answer (``/metrics``)."""
        ...

    def close(self) -> None: ...


def build_store(settings: Settings, on_ended: GrantSink | None = None) -> Store:
    """The store ``settings.session_store`` names: ``redis`` (any form of
    :func:`~oauth_bridge.redis_url.parse_redis_url`) or ``memory`` (demo only).

    ``on_ended`` receives the tokens of sessions the store ends without their cookie (logout
    everywhere, the per-user cap), so that they end at Looker too (``LookerClient.revoke_grants``).
    """
    cipher = TokenCipher(settings.token_keys)
    if settings.session_store == "memory":
        reason = (
            "OAUTH_BRIDGE_REDIS_URL is not set"
            if settings.redis_url is None
            else "OAUTH_BRIDGE_SESSION_STORE is memory"
        )
        log.warning(
            "%s: sessions live in this process's memory. "
            "That is for the demo only; run one worker and expect sign-outs on restart.",
            reason,
        )
        return MemorySessionStore(
            cipher,
            idle_timeout=settings.session_idle_timeout,
            max_age=settings.session_max_age,
            max_sessions=settings.max_sessions_per_user,
            on_ended=on_ended,
        )
    client = redis_client(settings)
    try:
        check_eviction_policy(client, settings.redis_eviction_check)
    except BaseException:
        client.close()
        raise
    return RedisSessionStore(
        client,
        cipher,
        prefix=effective_key_prefix(settings),
        idle_timeout=settings.session_idle_timeout,
        max_age=settings.session_max_age,
        max_sessions=settings.max_sessions_per_user,
        on_ended=on_ended,
    )

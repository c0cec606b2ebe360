"""One-time embed URLs (``create_embed_url_as_me``) and the embed sessions they start.

Looker's rules, from the operation's description in the 4.0 spec: "An embed URL can only be used
once, and must be used within 5 minutes of being created. After it has been used to request a
page from the Looker server, the URL is invalid"; the session it starts lasts
``session_length`` seconds ("Defaults to 300 seconds. Maximum ... 2592000 seconds (30 days)")
and sees only ``/embed`` pages. Tokens are kept as SHA-256 digests, as the state keeps the
others. :class:`~oauth_bridge.emulator.state.EmulatorState` owns one ledger, calls it under its
lock and resets it with itself.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from oauth_bridge.emulator.records import digest

DEFAULT_SESSION_LENGTH = 300
MAX_SESSION_LENGTH = 2_592_000


@dataclass(frozen=True)
class EmbedGrant:
    """What an unused embed URL stands for."""

    user_id: str
    target: str
    """The ``/embed/…`` path and query the URL opens; any other target refuses it."""
    session_length: int
    force_logout_login: bool
    expires_at: float


@dataclass(frozen=True)
class EmbedSession:
    user_id: str
    expires_at: float


class EmbedLedger:
    """Unused embed URLs and live embed sessions, by digest."""

    def __init__(self) -> None:
        self._grants: dict[str, EmbedGrant] = {}
        self._sessions: dict[str, EmbedSession] = {}

    def grant(
        self,
        user_id: str,
        target: str,
        session_length: int,
        force_logout_login: bool,
        ttl: float,
    ) -> str:
        """A new single-use token for ``target``, good for ``ttl`` seconds; it goes in the URL,
        never stored as is."""
        self._forget_expired()
        token = secrets.token_urlsafe(32)
        self._grants[digest(token)] = EmbedGrant(
            user_id, target, session_length, force_logout_login, time.monotonic() + ttl
        )
        return token

    def redeem(self, token: str, target: str) -> EmbedGrant | None:
        """The grant of an unused, unexpired ``token`` for exactly ``target``, used up by this
        call (a wrong target uses it up too: the URL was modified, and may not be retried)."""
        grant = self._grants.pop(digest(token), None)
        if grant is None or grant.expires_at <= time.monotonic() or grant.target != target:
            return None
        return grant

    def start_session(self, user_id: str, session_length: int) -> str:
        sid = secrets.token_urlsafe(32)
        self._sessions[digest(sid)] = EmbedSession(user_id, time.monotonic() + session_length)
        return sid

    def session_user_id(self, sid: str | None) -> str | None:
        """The user of a live embed session, or ``None`` (an expired one is dropped)."""
        if not sid:
            return None
        key = digest(sid)
        session = self._sessions.get(key)
        if session is None:
            return None
        if session.expires_at <= time.monotonic():
            del self._sessions[key]
            return None
        return session.user_id

    def drop_user(self, user_id: str) -> None:
        """Forget every URL and session of a user who was deleted or disabled."""
        self._grants = {k: g for k, g in self._grants.items() if g.user_id != user_id}
        self._sessions = {k: s for k, s in self._sessions.items() if s.user_id != user_id}

    def _forget_expired(self) -> None:
        now = time.monotonic()
        self._grants = {k: g for k, g in self._grants.items() if g.expires_at > now}
        self._sessions = {k: s for k, s in self._sessions.items() if s.expires_at > now}

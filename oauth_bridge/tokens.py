"""Getting a usable Looker access token for the current request, refreshing it when needed.

The session record holds the tokens; this module is the only writer after sign-in. A refresh
happens under a lock in the session store (a Redis lock shared by every bridge process), and
whoever waited for the lock re-reads the record first and uses a token that changed meanwhile
unless it has actually expired, so twenty parallel requests at the moment of expiry cause one
call to Looker's token endpoint, whatever the token's lifetime and ``REFRESH_MARGIN``.
A refresh that Looker refuses ends the session.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from oauth_bridge.config import Settings
from oauth_bridge.cookies import request_cookie
from oauth_bridge.errors import NotAuthenticated, StoreUnavailable
from oauth_bridge.looker.client import LookerClient, TokenRequestRejected
from oauth_bridge.metrics import Metrics
from oauth_bridge.models import SessionRecord, TokenSet
from oauth_bridge.sessions import SessionStore

log = logging.getLogger(__name__)

LOGIN_URL = "/auth/login"


@dataclass(frozen=True)
class ActiveSession:
    """A session loaded for this request, with the cookie value that unlocks it."""

    cookie_value: str
    record: SessionRecord


def not_authenticated(message: str | None = None) -> NotAuthenticated:
    """The 401 every browser-facing route answers when there is no usable session."""
    return NotAuthenticated(message, extra={"login_url": LOGIN_URL})


class TokenManager:
    """The one writer of a session's tokens after sign-in, shared by every request of one app.

    Views and the proxy ask it for a usable token instead of reading the record themselves, so
    the refresh rules live in one place: refresh only under the session's lock, re-read after
    waiting (another request may have refreshed already), end the session when Looker refuses.
    """

    def __init__(
        self, settings: Settings, store: SessionStore, looker: LookerClient, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.store = store
        self.looker = looker
        self.metrics = metrics

    def current_session(self) -> ActiveSession:
        """The session named by the request's cookie; 401 when there is none or it ended."""
        cookie_value = request_cookie(self.settings.cookie_name)
        if not cookie_value:
            raise not_authenticated()
        record = self.store.load(cookie_value)
        if record is None:
            raise not_authenticated("Your session has ended; sign in again.")
        return ActiveSession(cookie_value=cookie_value, record=record)

    def margin(self, tokens: TokenSet) -> float:
        """How early to refresh: ``REFRESH_MARGIN``, but at most half the token's lifetime.

        A margin at or above the lifetime would make every fresh token due at once, and every
        request would refresh again.
        """
        margin = float(self.settings.refresh_margin)
        if tokens.expires_in is not None and tokens.expires_in > 0:
            return min(margin, tokens.expires_in / 2)
        return margin

    def needs_refresh(self, tokens: TokenSet) -> bool:
        return tokens.expires_at - self.margin(tokens) <= time.time()

    def access_token(self, active: ActiveSession) -> str:
        """A token Looker should accept; refreshed first when it is about to expire."""
        return self.fresh_tokens(active).access_token

    def fresh_tokens(self, active: ActiveSession) -> TokenSet:
        """The session's tokens, refreshed first when the access token is about to expire."""
        tokens = active.record.tokens
        if not self.needs_refresh(tokens):
            return tokens
        return self._refresh(active, stale_token=tokens.access_token)

    def refresh_rejected(self, active: ActiveSession, rejected_token: str) -> str:
        """Looker said 401 to a token we thought valid: refresh once, or end the session."""
        return self._refresh(active, stale_token=rejected_token).access_token

    def end_session(self, active: ActiveSession) -> SessionRecord | None:
        return self.store.delete(active.cookie_value)

    def _refresh(self, active: ActiveSession, stale_token: str) -> TokenSet:
        session_id = active.record.session_id
        with self.store.refresh_lock(session_id, self.settings.refresh_lock_timeout) as acquired:
            if not acquired:
                raise StoreUnavailable("Another request is still refreshing this session.")
            current = self.store.load(active.cookie_value)
            if current is None:
                raise not_authenticated("Your session has ended; sign in again.")
            tokens = current.tokens
            if tokens.access_token != stale_token and tokens.expires_at > time.time():
                # Another request refreshed while we waited: use its token while it is valid,
                # even inside the margin, or twenty waiters would refresh twenty times.
                return tokens
            if not tokens.refresh_token:
                self.store.delete(active.cookie_value)
                raise not_authenticated("Your Looker session has expired; sign in again.")
            try:
                fresh = self.looker.refresh(tokens.refresh_token)
            except TokenRequestRejected as exc:
                self.metrics.record_refresh_failure()
                log.info("refresh refused by Looker (%s); ending session", exc.error)
                self.store.delete(active.cookie_value)
                raise not_authenticated("Looker ended your session; sign in again.") from None
            self.metrics.record_refresh()
            saved = self.store.save_tokens(active.cookie_value, fresh)
            if saved is None:
                # Signed out while we refreshed: the new token must not outlive the session.
                self.looker.revoke(fresh.access_token)
                raise not_authenticated("Your session has ended; sign in again.")
            return fresh

"""The steps every session store shares, over a few byte-level operations each backend supplies.

Subclass :class:`SealedStore` to add a backend (see ``redis.py`` and ``memory.py``): it parses the
cookie, seals and opens values, checks the absolute lifetime, re-seals values still under an old
key and remembers which sign-in states were used; the backend only stores, expires and deletes
bytes.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import NamedTuple

from oauth_bridge.crypto import InvalidCiphertext
from oauth_bridge.errors import StoreUnavailable
from oauth_bridge.models import SessionRecord, TokenSet, UserInfo
from oauth_bridge.sessions.codec import SessionCodec, parse_cookie, used_login_key, user_tag

log = logging.getLogger("oauth_bridge.sessions")

GrantSink = Callable[[Sequence[TokenSet]], object]
"""Takes the tokens of sessions a store ended without their cookie, to end them at Looker."""

DEFAULT_MAX_SESSIONS = 20


class _Unlocked(NamedTuple):
    record: SessionRecord
    secret: bytes
    value: bytes
    """The sealed bytes as read (the compare-and-set of a re-seal compares against them)."""
    stale_key: bool


class SealedStore(ABC):
    """Sessions and pending logins, sealed by a :class:`SessionCodec`, kept by a subclass."""

    def __init__(
        self,
        codec: SessionCodec,
        *,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        on_ended: GrantSink | None = None,
    ) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self._codec = codec
        self._max_sessions = max_sessions
        self._on_ended: GrantSink = on_ended or (lambda grants: None)

    # --- what a backend supplies ------------------------------------------------------------

    @abstractmethod
    def _insert(
        self, session_id: str, user_id: str, value: bytes, ttl_ms: int, deadline_ms: int
    ) -> list[tuple[str, bytes]]:
        """Store a new session value for ``ttl_ms`` and index it under its user until
        ``deadline_ms`` (epoch ms), ending the user's oldest live sessions so that at most
        ``self._max_sessions`` remain, all at once. Returns the ended ``(id, value)`` pairs."""

    @abstractmethod
    def _read_sliding(self, session_id: str) -> bytes | None:
        """The value, its idle expiry slid forward but never past its absolute lifetime (read
        from the value's clear ``{created_ms}:`` header); a value past it, or created at or
        before its user's logout-everywhere mark (found by the header's user tag), is deleted."""

    @abstractmethod
    def _read(self, session_id: str) -> bytes | None:
        """The value, touching nothing."""

    @abstractmethod
    def _swap(self, session_id: str, old: bytes, new: bytes) -> None:
        """Replace ``old`` by ``new`` keeping the expiry, only if ``old`` is still there."""

    @abstractmethod
    def _overwrite(self, session_id: str, value: bytes) -> bool:
        """Replace a live value keeping its expiry; False (and nothing written) if it is gone."""

    @abstractmethod
    def _remove(self, session_id: str, user_id: str) -> None:
        """Delete the session and its entry in the user's index."""

    @abstractmethod
    def _remove_user(self, user_id: str, tag: str) -> list[tuple[str, bytes]]:
        """End every indexed session of the user and set the user's mark ("sessions created
        until now are invalid", kept at least ``max_age``), all at once; returns the ended
        ``(id, value)`` pairs."""

    @abstractmethod
    def _insert_used_mark(self, key_id: str, ttl_ms: int) -> bool:
        """Set a "used" mark for ``ttl_ms`` unless one is there (then False): set-if-absent."""

    @abstractmethod
    def _has_used_mark(self, key_id: str) -> bool:
        """Whether a live "used" mark is there; reads only."""

    # --- the shared steps -------------------------------------------------------------------

    def create(self, user: UserInfo, tokens: TokenSet) -> tuple[str, SessionRecord]:
        codec = self._codec
        cookie_value, secret, record = codec.new_session(user, tokens)
        deadline_ms = round(record.created_at * 1000) + codec.max_age * 1000
        value = codec.seal(record, secret)
        ended = self._insert(record.session_id, user.id, value, codec.initial_ttl_ms(), deadline_ms)
        if ended:
            log.info("user %s reached %d sessions: ended the oldest", user.id, self._max_sessions)
            self._hand_over(ended)
        return cookie_value, record

    def delete_user_sessions(self, user_id: str) -> int:
        """Logout everywhere: end every session of the user, their grants at Looker too, and
        mark the user so a session the index missed cannot come back; returns how many."""
        ended = self._remove_user(user_id, user_tag(user_id))
        self._hand_over(ended)
        return len(ended)

    def _hand_over(self, ended: list[tuple[str, bytes]]) -> None:
        """Give the escrowed tokens of sessions ended without their cookie to ``on_ended``."""
        grants = [
            tokens
            for session_id, value in ended
            if (tokens := self._codec.open_escrow(session_id, value)) is not None
        ]
        if grants:
            self._on_ended(grants)

    def _unlock(self, cookie_value: str, read: Callable[[str], bytes | None]) -> _Unlocked | None:
        """The session the cookie's secret opens, read by ``read``; None for anything else."""
        parsed = parse_cookie(cookie_value)
        if parsed is None:
            return None
        session_id, secret = parsed
        value = read(session_id)
        if value is None:
            return None
        try:
            record, stale_key = self._codec.open(session_id, secret, value)
        except InvalidCiphertext:
            return None  # only the holder of the secret may read or end a session
        return _Unlocked(record, secret, value, stale_key)

    def load(self, cookie_value: str) -> SessionRecord | None:
        found = self._unlock(cookie_value, self._read_sliding)
        if found is None:
            return None
        record = found.record
        if self._codec.expired(record):
            return None  # the backend already deleted it, by the same clock
        if found.stale_key:
            try:
                self._swap(record.session_id, found.value, self._codec.seal(record, found.secret))
            except StoreUnavailable:
                pass  # e.g. Redis is full: the session still works, it is re-sealed next time
        return record

    def save_tokens(self, cookie_value: str, tokens: TokenSet) -> SessionRecord | None:
        current = self.load(cookie_value)
        parsed = parse_cookie(cookie_value)
        if current is None or parsed is None:
            return None
        record = replace(current, tokens=tokens, version=current.version + 1)
        # Only while it lives: a session deleted meanwhile stays deleted; writing is no activity.
        written = self._overwrite(record.session_id, self._codec.seal(record, parsed[1]))
        return record if written else None

    def delete(self, cookie_value: str) -> SessionRecord | None:
        found = self._unlock(cookie_value, self._read)
        if found is None:
            return None
        self._remove(found.record.session_id, found.record.user.id)
        return found.record

    def mark_login_used(self, state: str, ttl_ms: int) -> bool:
        key_id = used_login_key(state)
        return key_id is not None and self._insert_used_mark(key_id, ttl_ms)

    def login_used(self, state: str) -> bool:
        key_id = used_login_key(state)
        return key_id is None or self._has_used_mark(key_id)

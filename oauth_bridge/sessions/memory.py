"""Sessions in one process's memory: the demo's store when no Redis is configured, and tests'.

Values are sealed exactly as in Redis and expire by the same rules; everything is lost on restart
and not shared between processes, so never run it behind more than one worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from oauth_bridge.crypto import TokenCipher
from oauth_bridge.sessions.base import DEFAULT_MAX_SESSIONS, GrantSink, SealedStore
from oauth_bridge.sessions.codec import Clock, SessionCodec, created_ms, value_user_tag


class MemorySessionStore(SealedStore):
    """The Redis store's semantics in one process's memory: for the demo and tests only."""

    def __init__(
        self,
        cipher: TokenCipher,
        *,
        idle_timeout: int,
        max_age: int,
        clock: Clock = time.time,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        on_ended: GrantSink | None = None,
    ) -> None:
        super().__init__(
            SessionCodec(cipher, idle_timeout, max_age, clock),
            max_sessions=max_sessions,
            on_ended=on_ended,
        )
        self._mutex = threading.Lock()
        self._sessions: dict[str, tuple[bytes, float]] = {}  # id -> (value, expires_at)
        self._users: dict[str, dict[str, float]] = {}  # user id -> {session id: deadline}
        self._used: dict[str, float] = {}  # used-login key -> expires_at
        self._marks: dict[str, int] = {}  # user tag -> logout-everywhere mark (epoch ms)
        self._locks: dict[str, threading.Lock] = {}

    def _live_value(self, session_id: str, now: float) -> bytes | None:
        """The value unless expired (then dropped); call with the mutex held."""
        entry = self._sessions.get(session_id)
        if entry is None or entry[1] <= now:
            self._sessions.pop(session_id, None)
            return None
        return entry[0]

    # --- the byte-level operations of SealedStore -------------------------------------------

    def _insert(
        self, session_id: str, user_id: str, value: bytes, ttl_ms: int, deadline_ms: int
    ) -> list[tuple[str, bytes]]:
        with self._mutex:
            now = self._codec.clock()
            index = self._users.setdefault(user_id, {})
            live: list[tuple[str, bytes]] = []
            for sid in sorted(index, key=index.__getitem__):  # oldest first
                old = self._live_value(sid, now) if index[sid] > now else None
                if old is None:
                    del index[sid]
                else:
                    live.append((sid, old))
            ended = live[: max(0, len(live) - self._max_sessions + 1)]
            for sid, _ in ended:
                del index[sid]
                self._sessions.pop(sid, None)
                self._locks.pop(sid, None)
            self._sessions[session_id] = (value, now + ttl_ms / 1000)
            index[session_id] = deadline_ms / 1000
        return ended

    def _read_sliding(self, session_id: str) -> bytes | None:
        codec = self._codec
        with self._mutex:
            now = codec.clock()
            value = self._live_value(session_id, now)
            created = None if value is None else created_ms(value)
            if value is None or created is None:
                return value
            left = created / 1000 + codec.max_age - now
            tag = value_user_tag(value)
            if left <= 0 or (tag is not None and created <= self._marks.get(tag, -1)):
                del self._sessions[session_id]
                return None
            self._sessions[session_id] = (value, now + min(codec.idle_timeout, left))
        return value

    def _read(self, session_id: str) -> bytes | None:
        with self._mutex:
            return self._live_value(session_id, self._codec.clock())

    def _swap(self, session_id: str, old: bytes, new: bytes) -> None:
        with self._mutex:
            entry = self._sessions.get(session_id)
            if entry is not None and entry[0] == old:
                self._sessions[session_id] = (new, entry[1])

    def _overwrite(self, session_id: str, value: bytes) -> bool:
        with self._mutex:
            entry = self._sessions.get(session_id)
            if entry is None or entry[1] <= self._codec.clock():
                return False
            self._sessions[session_id] = (value, entry[1])
        return True

    def _remove(self, session_id: str, user_id: str) -> None:
        with self._mutex:
            self._sessions.pop(session_id, None)
            self._users.get(user_id, {}).pop(session_id, None)
            self._locks.pop(session_id, None)

    def _remove_user(self, user_id: str, tag: str) -> list[tuple[str, bytes]]:
        with self._mutex:
            now = self._codec.clock()
            ended: list[tuple[str, bytes]] = []
            for session_id in self._users.pop(user_id, {}):
                value = self._live_value(session_id, now)
                if value is not None:
                    ended.append((session_id, value))
                self._sessions.pop(session_id, None)
                self._locks.pop(session_id, None)
            now_ms = self._codec.now_ms()
            horizon = now_ms - self._codec.max_age * 1000
            for old_tag in [t for t, mark in self._marks.items() if mark <= horizon]:
                del self._marks[old_tag]
            self._marks[tag] = now_ms
        return ended

    def _insert_used_mark(self, key_id: str, ttl_ms: int) -> bool:
        with self._mutex:
            now = self._codec.clock()
            for key, expires in list(self._used.items()):
                if expires <= now:
                    del self._used[key]
            if key_id in self._used:
                return False
            self._used[key_id] = now + ttl_ms / 1000
        return True

    def _has_used_mark(self, key_id: str) -> bool:
        with self._mutex:
            expires = self._used.get(key_id)
            return expires is not None and expires > self._codec.clock()

    # --- the rest of the store --------------------------------------------------------------

    @contextmanager
    def _lock(self, session_id: str, timeout: float) -> Iterator[bool]:
        with self._mutex:
            lock = self._locks.setdefault(session_id, threading.Lock())
        acquired = lock.acquire(timeout=timeout)
        try:
            yield acquired
        finally:
            if acquired:
                lock.release()

    def refresh_lock(self, session_id: str, timeout: float) -> AbstractContextManager[bool]:
        return self._lock(session_id, timeout)

    def count_sessions(self) -> tuple[int, bool]:
        """Live sessions in this process (never truncated)."""
        with self._mutex:
            now = self._codec.clock()
            return sum(1 for _, expires in self._sessions.values() if expires > now), False

    def ping(self) -> None:
        """Memory is always reachable."""

    def probe_write(self) -> None:
        """Memory always takes writes."""

    def close(self) -> None:
        with self._mutex:
            self._sessions.clear()
            self._users.clear()
            self._used.clear()
            self._marks.clear()

    # --- for tests only ---------------------------------------------------------------------

    def delete_by_id(self, session_id: str) -> None:
        with self._mutex:
            self._sessions.pop(session_id, None)
            self._locks.pop(session_id, None)

    def user_session_ids(self, user_id: str) -> list[str]:
        with self._mutex:
            now = self._codec.clock()
            index = self._users.get(user_id, {})
            for session_id in list(index):
                if index[session_id] <= now or self._live_value(session_id, now) is None:
                    del index[session_id]
            if not index:
                self._users.pop(user_id, None)
            return sorted(index, key=index.__getitem__)

"""Where signed-in sessions and pending logins live: Redis in production, memory for the demo.

Use :func:`build_store` to get the store for a :class:`~oauth_bridge.config.Settings`; views and the
token manager only see the :class:`SessionStore` protocol. The browser holds the cookie value
``{session_id}.{secret}``; Redis holds only the session id (as a key) and a value sealed by
:class:`~oauth_bridge.crypto.TokenCipher` with that secret, so a Redis dump reveals no token, name
or e-mail address (the Looker user id appears in the per-user index key, nothing else).

Redis layout (``P`` is the configured prefix)::

    P s:{session_id}      "{created_ms}:" + sealed record     PX sliding idle, never past max age
    P u:{user_id}         zset session_id -> absolute deadline (ms)   the per-user index
    P l:{session_id}      redis-py Lock for refreshing that session's tokens
    P p:{hash(binding, state)}   sealed pending login         PX pending TTL, single use (GETDEL)
    P pc:{hash(binding)}  zset pending key -> deadline (ms)   live pending logins of one browser

Loading a session is one round trip (a Lua script: GET, absolute-age check, sliding PEXPIRE).
Multi-key writes are one MULTI/EXEC transaction or one script, so nothing is ever half-written.
Every connection problem surfaces as :class:`~oauth_bridge.errors.StoreUnavailable` (503) and the
same store object works again once Redis is back (redis-py reconnects on the next command).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import Any, Protocol

import redis
from redis.backoff import NoBackoff
from redis.exceptions import LockError
from redis.retry import Retry

from oauth_bridge.config import Settings
from oauth_bridge.crypto import SECRET_BYTES, InvalidCiphertext, TokenCipher
from oauth_bridge.errors import StoreUnavailable, TooManyRequests

log = logging.getLogger(__name__)

Clock = Callable[[], float]

_ID_RE = re.compile(r"[A-Za-z0-9_-]{43}")
_TOO_MANY_PENDING = "Too many sign-ins are in progress in this browser; finish one first."
_MAX_INPUT = 512
"""Longest binding or state string we hash; anything longer is hostile or broken."""

# Redis answers that mean "the store cannot serve now" rather than "the code is wrong".
_UNAVAILABLE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,  # also BusyLoadingError, AuthenticationError
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,  # a failover left us talking to a replica
    redis.exceptions.MasterDownError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.OutOfMemoryError,
)


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


class SessionStore(Protocol):
    """What the views and the token manager need from a session store."""

    def create(self, user: UserInfo, tokens: TokenSet) -> tuple[str, SessionRecord]:
        """A brand-new session; returns ``(cookie_value, record)``."""
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

    def delete_by_id(self, session_id: str) -> None: ...

    def user_session_ids(self, user_id: str) -> list[str]: ...

    def delete_user_sessions(self, user_id: str) -> int:
        """Logout everywhere; returns how many live sessions ended."""
        ...

    def refresh_lock(self, session_id: str, timeout: float) -> AbstractContextManager[bool]:
        """Yields True when acquired within ``timeout`` seconds, else False."""
        ...

    def put_pending(
        self, browser_binding: str, login: PendingLogin, ttl: int, max_per_browser: int
    ) -> None: ...

    def take_pending(self, browser_binding: str, state: str) -> PendingLogin | None: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


# --- cookie and value encoding shared by both stores ---------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64_32(text: str) -> bytes | None:
    """32 bytes from exactly 43 canonical url-safe base64 characters, else None."""
    if not _ID_RE.fullmatch(text):
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError):
        return None
    return raw if _b64(raw) == text else None  # refuse non-canonical spellings


def parse_cookie(cookie_value: object) -> tuple[str, bytes] | None:
    """``(session_id, secret)`` from ``{id}.{secret}``; None for anything else."""
    if not isinstance(cookie_value, str) or len(cookie_value) != 87:
        return None
    session_id, dot, secret_text = cookie_value.partition(".")
    if not dot or _unb64_32(session_id) is None:
        return None
    secret = _unb64_32(secret_text)
    return None if secret is None else (session_id, secret)


def _session_aad(session_id: str, header: bytes) -> bytes:
    return b"oauth_bridge/session/1|" + session_id.encode("ascii") + b"|" + header


def _header(created_ms: int) -> bytes:
    return b"%d:" % created_ms


class _Codec:
    """Seals and opens records; the part both store implementations share."""

    def __init__(self, cipher: TokenCipher, idle_timeout: int, max_age: int, clock: Clock) -> None:
        if idle_timeout <= 0 or max_age <= 0 or idle_timeout > max_age:
            raise ValueError("need 0 < idle_timeout <= max_age")
        self.cipher = cipher
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self.clock = clock

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def new_session(self, user: UserInfo, tokens: TokenSet) -> tuple[str, bytes, SessionRecord]:
        session_id = secrets.token_urlsafe(32)  # 256 bits, 43 characters
        secret = secrets.token_bytes(SECRET_BYTES)
        created_ms = self.now_ms()
        record = SessionRecord(session_id, user, tokens, created_ms / 1000, 1)
        return f"{session_id}.{_b64(secret)}", secret, record

    def seal(self, record: SessionRecord, secret: bytes) -> bytes:
        header = _header(round(record.created_at * 1000))
        body = json.dumps(
            [
                record.user.id,
                record.user.display_name,
                record.user.email,
                record.tokens.access_token,
                record.tokens.refresh_token,
                record.tokens.expires_at,
                record.version,
            ],
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
        return header + self.cipher.seal(body, secret, _session_aad(record.session_id, header))

    def open(self, session_id: str, secret: bytes, value: bytes) -> tuple[SessionRecord, bool]:
        """The record and whether it should be re-sealed under the newest key."""
        header, colon, blob = value.partition(b":")
        if not colon or not header.isdigit():
            raise InvalidCiphertext("not a session value")
        aad = _session_aad(session_id, header + b":")
        plaintext, stale_key = self.cipher.open_checked(blob, secret, aad)
        try:
            uid, name, email, access, refresh, expires_at, version = json.loads(plaintext)
            record = SessionRecord(
                session_id=session_id,
                user=UserInfo(str(uid), str(name), str(email)),
                tokens=TokenSet(
                    str(access), None if refresh is None else str(refresh), float(expires_at)
                ),
                created_at=int(header) / 1000,
                version=int(version),
            )
        except (ValueError, TypeError):
            raise InvalidCiphertext("sealed value has an unexpected shape") from None
        return record, stale_key

    def expired(self, record: SessionRecord) -> bool:
        return self.clock() >= record.created_at + self.max_age

    def initial_ttl_ms(self) -> int:
        return min(self.idle_timeout, self.max_age) * 1000


def _pending_keys(browser_binding: str, state: str) -> tuple[str, str, bytes] | None:
    """(pending key id, browser key id, sealing secret) for one login; None for junk input.

    The secret derives from the browser's binding cookie, which Redis never sees, so a Redis dump
    does not reveal PKCE verifiers either.
    """
    if not browser_binding or not state:
        return None
    if len(browser_binding) > _MAX_INPUT or len(state) > _MAX_INPUT:
        return None
    binding = browser_binding.encode("utf-8", "surrogatepass")
    both = binding + b"\x00" + state.encode("utf-8", "surrogatepass")
    key_id = hashlib.sha256(b"oauth_bridge/pending-key\x00" + both).hexdigest()[:40]
    browser_id = hashlib.sha256(b"oauth_bridge/browser\x00" + binding).hexdigest()[:40]
    secret = hashlib.sha256(b"oauth_bridge/pending-secret\x00" + both).digest()
    return key_id, browser_id, secret


def _pending_aad(key_id: str) -> bytes:
    return b"oauth_bridge/pending/1|" + key_id.encode("ascii")


def _seal_pending(cipher: TokenCipher, key_id: str, secret: bytes, login: PendingLogin) -> bytes:
    body = json.dumps(
        [login.state, login.code_verifier, login.return_to, login.created_at],
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")
    return cipher.seal(body, secret, _pending_aad(key_id))


def _open_pending(
    cipher: TokenCipher, key_id: str, secret: bytes, state: str, blob: bytes
) -> PendingLogin | None:
    try:
        stored_state, verifier, return_to, created_at = json.loads(
            cipher.open(blob, secret, _pending_aad(key_id))
        )
    except (InvalidCiphertext, ValueError, TypeError):
        return None
    if not hmac.compare_digest(str(stored_state).encode(), state.encode("utf-8", "surrogatepass")):
        return None
    return PendingLogin(str(stored_state), str(verifier), str(return_to), float(created_at))


# --- Redis --------------------------------------------------------------------------------

# KEYS[1] session key; ARGV: now_ms, idle_ms, max_age_ms. One round trip per request.
_LOAD_LUA = """
local v = redis.call('GET', KEYS[1])
if not v then return false end
local sep = string.find(v, ':', 1, true)
local created = sep and tonumber(string.sub(v, 1, sep - 1))
if not created then return v end
local left = created + tonumber(ARGV[3]) - tonumber(ARGV[1])
if left <= 0 then
  redis.call('DEL', KEYS[1])
  return false
end
local ttl = tonumber(ARGV[2])
if left < ttl then ttl = left end
redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl))
return v
"""

# Compare-and-set that keeps the TTL: re-sealing under a new key must never undo a refresh.
_RESEAL_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
end
return false
"""

# KEYS[1] pending key, KEYS[2] browser zset; ARGV: value, ttl_ms, now_ms, max, member.
_PUT_PENDING_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], string.format('%d', tonumber(ARGV[3]) + tonumber(ARGV[2])), ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
"""


@contextmanager
def _unavailable_as_503() -> Iterator[None]:
    try:
        yield
    except _UNAVAILABLE as exc:
        log.warning("session store unavailable: %s", type(exc).__name__)
        raise StoreUnavailable() from None


class RedisSessionStore:
    """Sessions in Redis, shared by every bridge process.

    ``client`` is any ``redis.Redis`` with ``decode_responses=False``: one from ``from_url``
    (``redis://``, ``rediss://``, ``unix://``), or a Sentinel-managed primary from
    ``redis.sentinel.Sentinel(...).master_for(name)`` for failover. Redis Cluster is not
    supported: session key and user index sit in different slots, and they are written in one
    transaction.
    """

    def __init__(
        self,
        client: redis.Redis,
        cipher: TokenCipher,
        *,
        prefix: str,
        idle_timeout: int,
        max_age: int,
        clock: Clock = time.time,
    ) -> None:
        if client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("the session store needs a Redis client with decode_responses=False")
        self._client = client
        self._codec = _Codec(cipher, idle_timeout, max_age, clock)
        self._prefix = prefix
        self._load = client.register_script(_LOAD_LUA)
        self._reseal = client.register_script(_RESEAL_LUA)
        self._put_pending = client.register_script(_PUT_PENDING_LUA)

    def _s(self, session_id: str) -> str:
        return f"{self._prefix}s:{session_id}"

    def _u(self, user_id: str) -> str:
        return f"{self._prefix}u:{user_id}"

    def create(self, user: UserInfo, tokens: TokenSet) -> tuple[str, SessionRecord]:
        cookie_value, secret, record = self._codec.new_session(user, tokens)
        value = self._codec.seal(record, secret)
        deadline_ms = round(record.created_at * 1000) + self._codec.max_age * 1000
        index = self._u(user.id)
        with _unavailable_as_503():
            pipe = self._client.pipeline(transaction=True)
            pipe.set(self._s(record.session_id), value, px=self._codec.initial_ttl_ms(), nx=True)
            pipe.zremrangebyscore(index, "-inf", self._codec.now_ms())
            pipe.zadd(index, {record.session_id: deadline_ms})
            pipe.pexpire(index, self._codec.max_age * 1000)
            pipe.execute()
        return cookie_value, record

    def load(self, cookie_value: str) -> SessionRecord | None:
        parsed = parse_cookie(cookie_value)
        if parsed is None:
            return None
        session_id, secret = parsed
        codec = self._codec
        with _unavailable_as_503():
            value = self._load(
                keys=[self._s(session_id)],
                args=[codec.now_ms(), codec.idle_timeout * 1000, codec.max_age * 1000],
            )
        if not isinstance(value, bytes):
            return None
        try:
            record, stale_key = codec.open(session_id, secret, value)
        except InvalidCiphertext:
            return None
        if codec.expired(record):
            return None  # the script already deleted it, by the same clock
        if stale_key:
            with _unavailable_as_503():
                self._reseal(keys=[self._s(session_id)], args=[value, codec.seal(record, secret)])
        return record

    def save_tokens(self, cookie_value: str, tokens: TokenSet) -> SessionRecord | None:
        current = self.load(cookie_value)
        parsed = parse_cookie(cookie_value)
        if current is None or parsed is None:
            return None
        record = replace(current, tokens=tokens, version=current.version + 1)
        value = self._codec.seal(record, parsed[1])
        with _unavailable_as_503():
            # XX: a session deleted meanwhile stays deleted; KEEPTTL: writing is not activity.
            written = self._client.set(self._s(record.session_id), value, xx=True, keepttl=True)
        return record if written else None

    def delete(self, cookie_value: str) -> SessionRecord | None:
        parsed = parse_cookie(cookie_value)
        if parsed is None:
            return None
        session_id, secret = parsed
        with _unavailable_as_503():
            value = self._client.get(self._s(session_id))
        if not isinstance(value, bytes):
            return None
        try:
            record, _ = self._codec.open(session_id, secret, value)
        except InvalidCiphertext:
            return None  # only the holder of the secret may end a session this way
        with _unavailable_as_503():
            pipe = self._client.pipeline(transaction=True)
            pipe.delete(self._s(session_id))
            pipe.zrem(self._u(record.user.id), session_id)
            pipe.execute()
        return record

    def delete_by_id(self, session_id: str) -> None:
        """Remove a session the caller knows only by id; its index entry is pruned later."""
        with _unavailable_as_503():
            self._client.delete(self._s(session_id))

    def user_session_ids(self, user_id: str) -> list[str]:
        index = self._u(user_id)
        with _unavailable_as_503():
            pipe = self._client.pipeline(transaction=True)
            pipe.zremrangebyscore(index, "-inf", self._codec.now_ms())
            pipe.zrange(index, 0, -1)
            members: list[bytes] = pipe.execute()[1]
            ids = [m.decode("ascii") for m in members]
            if not ids:
                return []
            pipe = self._client.pipeline(transaction=False)
            for session_id in ids:
                pipe.exists(self._s(session_id))
            alive = pipe.execute()
            gone = [sid for sid, exists in zip(ids, alive, strict=True) if not exists]
            if gone:
                self._client.zrem(index, *gone)
        return [sid for sid, exists in zip(ids, alive, strict=True) if exists]

    def delete_user_sessions(self, user_id: str) -> int:
        index = self._u(user_id)

        def end_all(pipe: Any) -> None:
            ids = [m.decode("ascii") for m in pipe.zrange(index, 0, -1)]
            pipe.multi()
            for session_id in ids:
                pipe.delete(self._s(session_id))
            pipe.delete(index)

        with _unavailable_as_503():
            # WATCH the index: a session created meanwhile is retried, not left un-indexed.
            results: list[int] = list(self._client.transaction(end_all, index) or [])
        return sum(results[:-1])

    @contextmanager
    def _lock(self, session_id: str, timeout: float) -> Iterator[bool]:
        # The lock also expires after `timeout`, so a crashed holder frees it by itself.
        lock = self._client.lock(
            f"{self._prefix}l:{session_id}",
            timeout=timeout,
            blocking_timeout=timeout,
            thread_local=False,
        )
        with _unavailable_as_503():
            acquired = bool(lock.acquire())
        try:
            yield acquired
        finally:
            if acquired:
                try:
                    lock.release()
                except LockError:
                    log.warning("refresh lock expired before release; the work took too long")
                except _UNAVAILABLE as exc:
                    log.warning("could not release refresh lock: %s", type(exc).__name__)

    def refresh_lock(self, session_id: str, timeout: float) -> AbstractContextManager[bool]:
        return self._lock(session_id, timeout)

    def put_pending(
        self, browser_binding: str, login: PendingLogin, ttl: int, max_per_browser: int
    ) -> None:
        keys = _pending_keys(browser_binding, login.state)
        if keys is None:
            raise ValueError("a pending login needs a binding and a state of sane length")
        key_id, browser_id, secret = keys
        value = _seal_pending(self._codec.cipher, key_id, secret, login)
        with _unavailable_as_503():
            stored = self._put_pending(
                keys=[f"{self._prefix}p:{key_id}", f"{self._prefix}pc:{browser_id}"],
                args=[value, ttl * 1000, self._codec.now_ms(), max_per_browser, key_id],
            )
        if not stored:
            raise TooManyRequests(
                "Too many sign-ins in progress in this browser; finish one first."
            )

    def take_pending(self, browser_binding: str, state: str) -> PendingLogin | None:
        keys = _pending_keys(browser_binding, state)
        if keys is None:
            return None
        key_id, browser_id, secret = keys
        with _unavailable_as_503():
            pipe = self._client.pipeline(transaction=True)
            pipe.getdel(f"{self._prefix}p:{key_id}")
            pipe.zrem(f"{self._prefix}pc:{browser_id}", key_id)
            blob = pipe.execute()[0]
        if not isinstance(blob, bytes):
            return None
        return _open_pending(self._codec.cipher, key_id, secret, state, blob)

    def ping(self) -> None:
        with _unavailable_as_503():
            self._client.ping()

    def close(self) -> None:
        self._client.close()


# --- memory (demo only) -------------------------------------------------------------------


class MemorySessionStore:
    """The Redis store's semantics in one process's memory: for the demo and tests only.

    Values are sealed exactly as in Redis; everything is lost on restart and not shared between
    processes, so never run it behind more than one worker.
    """

    def __init__(
        self,
        cipher: TokenCipher,
        *,
        idle_timeout: int,
        max_age: int,
        clock: Clock = time.time,
    ) -> None:
        self._codec = _Codec(cipher, idle_timeout, max_age, clock)
        self._mutex = threading.Lock()
        self._sessions: dict[str, tuple[bytes, float]] = {}  # id -> (value, expires_at)
        self._users: dict[str, dict[str, float]] = {}  # user id -> {session id: deadline}
        self._pending: dict[str, tuple[bytes, float, str]] = {}  # key -> (blob, expires, browser)
        self._locks: dict[str, threading.Lock] = {}

    def _live_value(self, session_id: str, now: float) -> bytes | None:
        entry = self._sessions.get(session_id)
        if entry is None or entry[1] <= now:
            self._sessions.pop(session_id, None)
            return None
        return entry[0]

    def create(self, user: UserInfo, tokens: TokenSet) -> tuple[str, SessionRecord]:
        cookie_value, secret, record = self._codec.new_session(user, tokens)
        value = self._codec.seal(record, secret)
        with self._mutex:
            now = self._codec.clock()
            self._sessions[record.session_id] = (value, now + self._codec.initial_ttl_ms() / 1000)
            index = self._users.setdefault(user.id, {})
            index[record.session_id] = record.created_at + self._codec.max_age
        return cookie_value, record

    def load(self, cookie_value: str) -> SessionRecord | None:
        parsed = parse_cookie(cookie_value)
        if parsed is None:
            return None
        session_id, secret = parsed
        codec = self._codec
        with self._mutex:
            now = codec.clock()
            value = self._live_value(session_id, now)
            if value is None:
                return None
            try:
                record, stale_key = codec.open(session_id, secret, value)
            except InvalidCiphertext:
                return None
            if codec.expired(record):
                del self._sessions[session_id]
                return None
            left = record.created_at + codec.max_age - now
            if stale_key:
                value = codec.seal(record, secret)
            self._sessions[session_id] = (value, now + min(codec.idle_timeout, left))
        return record

    def save_tokens(self, cookie_value: str, tokens: TokenSet) -> SessionRecord | None:
        current = self.load(cookie_value)
        parsed = parse_cookie(cookie_value)
        if current is None or parsed is None:
            return None
        record = replace(current, tokens=tokens, version=current.version + 1)
        value = self._codec.seal(record, parsed[1])
        with self._mutex:
            entry = self._sessions.get(record.session_id)
            if entry is None or entry[1] <= self._codec.clock():
                return None
            self._sessions[record.session_id] = (value, entry[1])
        return record

    def delete(self, cookie_value: str) -> SessionRecord | None:
        parsed = parse_cookie(cookie_value)
        if parsed is None:
            return None
        session_id, secret = parsed
        with self._mutex:
            value = self._live_value(session_id, self._codec.clock())
            if value is None:
                return None
            try:
                record, _ = self._codec.open(session_id, secret, value)
            except InvalidCiphertext:
                return None
            del self._sessions[session_id]
            self._users.get(record.user.id, {}).pop(session_id, None)
            self._locks.pop(session_id, None)
        return record

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

    def delete_user_sessions(self, user_id: str) -> int:
        with self._mutex:
            now = self._codec.clock()
            index = self._users.pop(user_id, {})
            count = 0
            for session_id in index:
                if self._live_value(session_id, now) is not None:
                    count += 1
                self._sessions.pop(session_id, None)
                self._locks.pop(session_id, None)
        return count

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

    def put_pending(
        self, browser_binding: str, login: PendingLogin, ttl: int, max_per_browser: int
    ) -> None:
        keys = _pending_keys(browser_binding, login.state)
        if keys is None:
            raise ValueError("a pending login needs a binding and a state of sane length")
        key_id, browser_id, secret = keys
        blob = _seal_pending(self._codec.cipher, key_id, secret, login)
        with self._mutex:
            now = self._codec.clock()
            for key, (_, expires, _) in list(self._pending.items()):
                if expires <= now:
                    del self._pending[key]
            live = sum(1 for _, _, browser in self._pending.values() if browser == browser_id)
            if live >= max_per_browser:
                raise TooManyRequests(_TOO_MANY_PENDING)
            self._pending[key_id] = (blob, now + ttl, browser_id)

    def take_pending(self, browser_binding: str, state: str) -> PendingLogin | None:
        keys = _pending_keys(browser_binding, state)
        if keys is None:
            return None
        key_id, _, secret = keys
        with self._mutex:
            entry = self._pending.pop(key_id, None)
            if entry is None or entry[1] <= self._codec.clock():
                return None
        return _open_pending(self._codec.cipher, key_id, secret, state, entry[0])

    def ping(self) -> None:
        """Memory is always reachable."""

    def close(self) -> None:
        with self._mutex:
            self._sessions.clear()
            self._users.clear()
            self._pending.clear()


# --- construction -------------------------------------------------------------------------


def redis_client(settings: Settings) -> redis.Redis:
    """A client for ``settings.redis_url`` that fails fast instead of hanging on an outage.

    ``redis://``, ``rediss://`` (TLS) and ``unix://`` URLs work. One immediate retry on a
    connection error lets a pooled connection broken by a Redis restart reconnect; timeouts are
    not retried, so an outage answers 503 within about ``redis_socket_timeout`` seconds.
    """
    assert settings.redis_url is not None  # noqa: S101 - callers check first
    timeout = settings.redis_socket_timeout
    # A blocking pool: under a burst (gevent runs hundreds of requests per worker) a request
    # waits up to the socket timeout for a free connection, where redis-py's default pool
    # would fail at once with MaxConnectionsError past its limit.
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        retry_on_timeout=False,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
        decode_responses=False,
    )
    return redis.Redis(connection_pool=pool)


def build_store(settings: Settings) -> SessionStore:
    """The Redis store when ``REDIS_URL`` is set, else the in-memory store (demo only).

    For Redis Sentinel, build ``RedisSessionStore`` yourself with a client from
    ``redis.sentinel.Sentinel(...).master_for(name)``; Redis Cluster is not supported.
    """
    cipher = TokenCipher(settings.token_keys)
    if settings.redis_url is None:
        log.warning(
            "OAUTH_BRIDGE_REDIS_URL is not set: sessions live in this process's memory. "
            "That is for the demo only; run one worker and expect sign-outs on restart."
        )
        return MemorySessionStore(
            cipher,
            idle_timeout=settings.session_idle_timeout,
            max_age=settings.session_max_age,
        )
    return RedisSessionStore(
        redis_client(settings),
        cipher,
        prefix=settings.redis_key_prefix,
        idle_timeout=settings.session_idle_timeout,
        max_age=settings.session_max_age,
    )

"""Where signed-in sessions and pending logins live: Redis in production, memory for the demo.

Use :func:`build_store` to get the store for a :class:`~oauth_bridge.config.Settings`; views and the
token manager only see the :class:`SessionStore` protocol. The browser holds the cookie value
``{session_id}.{secret}``; Redis holds only the session id (as a key) and a value sealed by
:class:`~oauth_bridge.crypto.TokenCipher` with that secret, so a Redis dump reveals no token, name
or e-mail address (the Looker user id appears in the per-user index key, nothing else).

Redis layout (``P`` is ``REDIS_KEY_PREFIX``; on a Redis Cluster it is wrapped in a hash tag,
``{P}``, so that every key below sits in one slot: see :func:`effective_key_prefix`)::

    P s:{session_id}      "{created_ms}:" + sealed record     PX sliding idle, never past max age
    P u:{user_id}         zset session_id -> absolute deadline (ms)   the per-user index
    P l:{session_id}      redis-py Lock for refreshing that session's tokens
    P p:{hash(binding, state)}   sealed pending login         PX pending TTL, single use (GETDEL)
    P pc:{hash(binding)}  zset pending key -> deadline (ms)   live pending logins of one browser

Loading a session is one round trip (a Lua script: GET, absolute-age check, sliding PEXPIRE).
Multi-key writes are one MULTI/EXEC transaction or one script, so nothing is ever half-written.
Every connection problem surfaces as :class:`~oauth_bridge.errors.StoreUnavailable` (503) and the
same store object works again once Redis is back (redis-py reconnects on the next command).
``REDIS_URL`` names one server, a Sentinel-managed primary or a Cluster (:func:`parse_redis_url`).
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
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import LockError
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from oauth_bridge.config import Settings
from oauth_bridge.crypto import SECRET_BYTES, InvalidCiphertext, TokenCipher
from oauth_bridge.errors import ConfigError, StoreUnavailable, TooManyRequests

log = logging.getLogger(__name__)

Clock = Callable[[], float]

RedisClient = redis.Redis | RedisCluster
"""What the store and the metrics talk to: one server (or a Sentinel-managed primary, which is a
``redis.Redis`` too), or a Redis Cluster."""

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

    ``client`` is a ``redis.Redis`` (one server, or a Sentinel-managed primary) or a
    ``redis.cluster.RedisCluster``, with ``decode_responses=False``; :func:`redis_client` builds
    the right one from ``REDIS_URL``. On a cluster the prefix is hash-tagged (see
    :func:`cluster_key_prefix`), so every key of the bridge sits in one slot and the
    transactions and scripts below, which touch a session and its user index together, are
    legal there (redis-py's cluster pipeline runs MULTI/EXEC only within one slot).
    """

    def __init__(
        self,
        client: RedisClient,
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
        self._prefix = cluster_key_prefix(prefix) if isinstance(client, RedisCluster) else prefix
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

_REDIS_URL_VAR = "OAUTH_BRIDGE_REDIS_URL"
_PLAIN_SCHEMES = ("redis", "rediss", "unix")
_DEFAULT_CLUSTER_TAG = "oauth_bridge"


@dataclass(frozen=True)
class RedisTarget:
    """A parsed ``REDIS_URL``: which topology, and where.

    ``kind`` is ``"single"`` (``url`` is handed to redis-py's ``from_url``), ``"sentinel"``
    (``nodes`` are the sentinels, ``service`` the monitored primary's name, ``db`` its database)
    or ``"cluster"`` (``nodes`` are startup nodes; the client discovers the rest).
    """

    kind: str
    url: str = ""
    nodes: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def _bad_url(rule: str) -> ConfigError:
    # Never echo the URL: it may carry a password.
    return ConfigError(f"{_REDIS_URL_VAR} {rule}")


def _nodes(netloc: str, what: str) -> tuple[tuple[str, int], ...]:
    nodes: list[tuple[str, int]] = []
    for location in netloc.split(","):
        try:
            parts = urlsplit("//" + location.strip())
            host, port = parts.hostname, parts.port
        except ValueError:
            host, port = None, None
        if not host or port is None or parts.username or parts.password:
            raise _bad_url(f"must list {what} as host:port[,host:port...]")
        nodes.append((host, port))
    return tuple(nodes)


def parse_redis_url(url: str) -> RedisTarget:
    """Check ``REDIS_URL`` at start and say which topology it names.

    Forms: ``redis://``, ``rediss://``, ``unix://`` (redis-py ``from_url``);
    ``redis+sentinel://[[user]:password@]host:port[,host:port]/service_name[/db]``;
    ``redis+cluster://[[user]:password@]host:port[,host:port]``. The two ``+`` schemes are the
    spellings of the ``limits`` library (https://limits.readthedocs.io/en/stable/storage.html),
    so one URL configures both the session store and the rate limiter. Anything else raises
    :class:`ConfigError` naming the variable.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise _bad_url("must be a URL such as redis://host:6379/0")
    if scheme in _PLAIN_SCHEMES:
        try:
            redis.connection.parse_url(url)  # type: ignore[no-untyped-call]
        except ValueError:
            raise _bad_url(
                "is not a URL redis-py accepts (redis://, rediss:// or unix://)"
            ) from None
        db_path = urlsplit(url).path.strip("/") if scheme != "unix" else ""
        if db_path and not db_path.isdigit():  # redis-py would silently use db 0
            raise _bad_url("database (the URL's path) must be a whole number")
        return RedisTarget("single", url=url)
    if scheme not in ("redis+sentinel", "redis+cluster"):
        raise _bad_url(
            "must start with redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://"
        )
    netloc, _, path = rest.partition("/")
    if "?" in url or "#" in url:
        raise _bad_url(f"takes no query or fragment in the {scheme}:// form")
    userinfo, at, hosts = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    if scheme == "redis+cluster":
        if path.strip("/"):
            raise _bad_url("in the redis+cluster:// form names no database (cluster uses db 0)")
        nodes = _nodes(hosts, "cluster nodes")
        return RedisTarget("cluster", nodes=nodes, username=username, password=password)
    nodes = _nodes(hosts, "sentinels")
    service, _, db_text = path.strip("/").partition("/")
    if not service or "/" in db_text:
        raise _bad_url("must name the service: redis+sentinel://host:port/service_name[/db]")
    if db_text and not db_text.isdigit():
        raise _bad_url("database in the redis+sentinel:// form must be a whole number")
    db = int(db_text) if db_text else 0
    return RedisTarget(
        "sentinel",
        nodes=nodes,
        service=unquote(service),
        db=db,
        username=username,
        password=password,
    )


def effective_key_prefix(settings: Settings) -> str:
    """The prefix every bridge key starts with: ``REDIS_KEY_PREFIX``, hash-tagged on a cluster.

    On a Redis Cluster a multi-key transaction or script must touch one hash slot, so there the
    whole prefix is wrapped in a hash tag (``oauth_bridge:`` becomes ``{oauth_bridge:}``) and
    every bridge key lands in the same slot (https://redis.io/docs/latest/operate/oss_and_stack/
    reference/cluster-spec/#hash-tags). Single servers and Sentinel keep the plain prefix, so
    existing deployments' keys do not move.
    """
    prefix = settings.redis_key_prefix
    if settings.redis_url is None or parse_redis_url(settings.redis_url).kind != "cluster":
        return prefix
    return cluster_key_prefix(prefix)


def cluster_key_prefix(prefix: str) -> str:
    """``prefix`` if it already starts with a hash tag, else ``{prefix}``; idempotent."""
    if prefix.startswith("{") and "}" in prefix and prefix.index("}") > 1:
        return prefix
    return "{" + (prefix or _DEFAULT_CLUSTER_TAG) + "}"


def redis_client(settings: Settings) -> RedisClient:
    """A client for ``settings.redis_url`` that fails fast instead of hanging on an outage.

    One immediate retry on a connection error lets a pooled connection broken by a Redis restart
    (or a failover) reconnect; timeouts are not retried on a single server or Sentinel, so an
    outage answers 503 within about ``redis_socket_timeout`` seconds.
    """
    assert settings.redis_url is not None  # noqa: S101 - callers check first
    target = parse_redis_url(settings.redis_url)
    timeout = settings.redis_socket_timeout
    common: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "decode_responses": False,
    }
    if target.kind == "cluster":
        return _cluster_client(target, settings, common)
    common |= {
        "health_check_interval": 30,
        "retry_on_timeout": False,
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
        # A blocking pool: under a burst (gevent runs hundreds of requests per worker) a request
        # waits up to the socket timeout for a free connection, where redis-py's default pool
        # would fail at once with MaxConnectionsError past its limit.
        "max_connections": settings.redis_max_connections,
        "timeout": timeout,
    }
    if target.kind == "sentinel":
        return _sentinel_client(target, common)
    pool = redis.BlockingConnectionPool.from_url(target.url, **common)
    return redis.Redis(connection_pool=pool)


class _BlockingSentinelPool(SentinelConnectionPool, redis.BlockingConnectionPool):
    """Sentinel's primary discovery with the blocking pool's wait-for-a-connection behaviour.

    The MRO runs SentinelConnectionPool's discovery and ownership checks over
    BlockingConnectionPool's queue; a connection to a demoted primary is not given back to the
    queue (``owns_connection`` fails), the slot is.
    """


def _sentinel_client(target: RedisTarget, common: dict[str, Any]) -> redis.Redis:
    auth = {"username": target.username, "password": target.password}
    # Typed as Any: redis-py's own annotations of Sentinel changed between 8.0 and 8.2.
    sentinel_class: Any = Sentinel
    sentinel = sentinel_class(
        list(target.nodes),
        # The sentinels get the same timeouts and credentials (as the limits library does).
        sentinel_kwargs={
            "socket_timeout": common["socket_timeout"],
            "socket_connect_timeout": common["socket_connect_timeout"],
            **auth,
        },
    )
    client: redis.Redis = sentinel.master_for(
        target.service,
        connection_pool_class=_BlockingSentinelPool,
        db=target.db,
        **auth,
        **common,
    )
    return client


def _cluster_client(
    target: RedisTarget, settings: Settings, common: dict[str, Any]
) -> RedisCluster:
    (host, port), *others = target.nodes
    # RedisCluster only honours connection_pool_class for a node given by url= (redis-py 8,
    # NodesManager.create_redis_node), so the first startup node is passed that way.
    first = f"[{host}]" if ":" in host else host
    startup = [ClusterNode(h, p) for h, p in others]  # type: ignore[no-untyped-call]
    return RedisCluster(
        url=f"redis://{first}:{port}",
        startup_nodes=startup,
        username=target.username,
        password=target.password,
        connection_pool_class=redis.BlockingConnectionPool,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_socket_timeout,
        # One retry follows a MOVED/failover; more would multiply the wait on an outage.
        retry=Retry(NoBackoff(), 1),
        require_full_coverage=True,
        **common,
    )


def build_store(settings: Settings) -> SessionStore:
    """The Redis store when ``REDIS_URL`` is set (any form of :func:`parse_redis_url`), else the
    in-memory store (demo only)."""
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
        prefix=effective_key_prefix(settings),
        idle_timeout=settings.session_idle_timeout,
        max_age=settings.session_max_age,
    )

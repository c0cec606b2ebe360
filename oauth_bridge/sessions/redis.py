"""Sessions in Redis, shared by every bridge process: the production store.

:func:`~oauth_bridge.sessions.build_store` makes one from ``REDIS_URL`` (one server, a
Sentinel-managed primary or a Cluster, see :mod:`oauth_bridge.redis_url`). Redis holds only the
session id (as a key) and a sealed value (see :mod:`oauth_bridge.sessions.codec`); the Looker user
id appears in the per-user index key, nothing else.

Redis layout (``P`` is ``REDIS_KEY_PREFIX``; on a Redis Cluster it is wrapped in a hash tag,
``{P}``, so that every key below sits in one slot: see
:func:`~oauth_bridge.redis_url.effective_key_prefix`)::

    P s:{session_id}      "{created_ms}:{user_tag}:{escrow}:" + sealed record
                          PX sliding idle, never past max age (codec.py spells the value)
    P u:{user_id}         zset session_id -> absolute deadline (ms)   the per-user index,
                          at most MAX_SESSIONS_PER_USER live members (the oldest end first)
    P m                   zset user_tag -> logout-everywhere time (ms): sessions created at or
                          before it are dead; members older than max age are pruned
    P l:{session_id}      redis-py Lock for refreshing that session's tokens
    P pu:{hash(state)}    "1": this sign-in's state was used   PX what is left of its pending TTL
    P ready               "1": /readyz's write probe, one key  PX 10 s

Pending logins themselves live sealed in the browser's login cookie
(:mod:`oauth_bridge.login_cookie`): an anonymous ``/auth/login`` writes nothing here, and a
``pu:`` mark is written only after Looker accepted the sign-in's code. Every write of the bridge
is one a ``noeviction`` Redis refuses when full (see :func:`check_eviction_policy`), and no
script starts with a write Redis allows when out of memory.

Loading a session is one round trip (a Lua script: GET, the user's mark, absolute-age check,
sliding PEXPIRE). Multi-key writes are one MULTI/EXEC transaction or one script, so nothing is
ever half-written; the scripts' flags say which of them Redis may run when it is out of memory.
Every connection problem surfaces as :class:`~oauth_bridge.errors.StoreUnavailable` (503) and the
same store object works again once Redis is back (redis-py reconnects on the next command).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import redis
from redis.cluster import RedisCluster
from redis.exceptions import LockError

from oauth_bridge.crypto import TokenCipher
from oauth_bridge.errors import ConfigError, StoreUnavailable
from oauth_bridge.redis_url import RedisClient, cluster_key_prefix, glob_escape, primaries
from oauth_bridge.sessions.base import DEFAULT_MAX_SESSIONS, GrantSink, SealedStore
from oauth_bridge.sessions.codec import Clock, SessionCodec
from oauth_bridge.sessions.redis_scripts import CREATE_LUA, END_USER_LUA, LOAD_LUA, RESEAL_LUA

# The logger keeps the name it had before the store became a package: it is a log field.
log = logging.getLogger("oauth_bridge.sessions")

SCAN_BUDGET = 200_000
"""Most keys one count of live sessions examines (SCAN COUNT 1000 per round trip)."""

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

SAFE_EVICTION_POLICY = "noeviction"
"""The only ``maxmemory-policy`` that never drops a bridge key: every one of them has a TTL, so
``volatile-*`` policies evict them as readily as ``allkeys-*`` do."""

READY_PROBE_TTL_MS = 10_000

INDEX_RETRIES = 20
"""Attempts of a script that found the user's index changed since it was read."""


@contextmanager
def _unavailable_as_503() -> Iterator[None]:
    try:
        yield
    except _UNAVAILABLE as exc:
        log.warning("session store unavailable: %s", type(exc).__name__)
        raise StoreUnavailable() from None


class RedisSessionStore(SealedStore):
    """Sessions in Redis, shared by every bridge process.

    ``client`` is a ``redis.Redis`` (one server, or a Sentinel-managed primary) or a
    ``redis.cluster.RedisCluster``, with ``decode_responses=False``;
    :func:`~oauth_bridge.redis_url.redis_client` builds the right one from ``REDIS_URL``. On a
    cluster the prefix is hash-tagged (see :func:`~oauth_bridge.redis_url.cluster_key_prefix`),
    so every key of the bridge sits in one slot and the transactions and scripts below, which
    touch a session and its user index together, are legal there (redis-py's cluster pipeline
    runs MULTI/EXEC only within one slot).
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
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        on_ended: GrantSink | None = None,
    ) -> None:
        if client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("the session store needs a Redis client with decode_responses=False")
        super().__init__(
            SessionCodec(cipher, idle_timeout, max_age, clock),
            max_sessions=max_sessions,
            on_ended=on_ended,
        )
        self._client = client
        self._prefix = cluster_key_prefix(prefix) if isinstance(client, RedisCluster) else prefix
        self._marks = f"{self._prefix}m"
        self._load = client.register_script(LOAD_LUA)
        self._reseal = client.register_script(RESEAL_LUA)
        self._create = client.register_script(CREATE_LUA)
        self._end_user = client.register_script(END_USER_LUA)

    def _s(self, session_id: str) -> str:
        return f"{self._prefix}s:{session_id}"

    def _u(self, user_id: str) -> str:
        return f"{self._prefix}u:{user_id}"

    # --- the byte-level operations of SealedStore -------------------------------------------

    def _insert(
        self, session_id: str, user_id: str, value: bytes, ttl_ms: int, deadline_ms: int
    ) -> list[tuple[str, bytes]]:
        codec = self._codec
        index = self._u(user_id)
        fixed: list[bytes | int | str] = [
            value,
            ttl_ms,
            deadline_ms,
            codec.now_ms(),
            codec.max_age * 1000,
        ]
        return self._on_index(
            index,
            lambda ids: self._create(
                keys=[self._s(session_id), index, *map(self._s, ids)],
                args=[*fixed, self._max_sessions, session_id, *ids],
            ),
        )

    def _remove_user(self, user_id: str, tag: str) -> list[tuple[str, bytes]]:
        index = self._u(user_id)
        max_age_ms = self._codec.max_age * 1000
        return self._on_index(
            index,
            lambda ids: self._end_user(
                keys=[index, self._marks, *map(self._s, ids)],
                args=[self._codec.now_ms(), max_age_ms, tag, *ids],
            ),
        )

    def _on_index(self, index: str, run: Callable[[list[str]], Any]) -> list[tuple[str, bytes]]:
        """Run a script over the index's members as just read, again while the index changes.

        The scripts get the sessions' keys in KEYS (so they declare every key they touch, as
        Redis Cluster requires) and check the index against them before writing anything.
        """
        with _unavailable_as_503():
            for _ in range(INDEX_RETRIES):
                members: list[bytes] = self._client.zrange(index, 0, -1)  # type: ignore[assignment]
                ids = [m.decode("ascii") for m in members]
                answer = run(ids)
                if isinstance(answer, list):
                    pairs = zip(answer[0::2], answer[1::2], strict=True)
                    return [(sid.decode("ascii"), value) for sid, value in pairs]
        raise StoreUnavailable("The user's sessions kept changing; try again.")

    def _read_sliding(self, session_id: str) -> bytes | None:
        codec = self._codec
        with _unavailable_as_503():
            value = self._load(
                keys=[self._s(session_id), self._marks],
                args=[codec.now_ms(), codec.idle_timeout * 1000, codec.max_age * 1000],
            )
        return value if isinstance(value, bytes) else None

    def _read(self, session_id: str) -> bytes | None:
        with _unavailable_as_503():
            value = self._client.get(self._s(session_id))
        return value if isinstance(value, bytes) else None

    def _swap(self, session_id: str, old: bytes, new: bytes) -> None:
        with _unavailable_as_503():
            self._reseal(keys=[self._s(session_id)], args=[old, new])

    def _overwrite(self, session_id: str, value: bytes) -> bool:
        with _unavailable_as_503():
            # XX: a session deleted meanwhile stays deleted; KEEPTTL: writing is not activity.
            return bool(self._client.set(self._s(session_id), value, xx=True, keepttl=True))

    def _remove(self, session_id: str, user_id: str) -> None:
        with _unavailable_as_503():
            pipe = self._client.pipeline(transaction=True)
            pipe.delete(self._s(session_id))
            pipe.zrem(self._u(user_id), session_id)
            pipe.execute()

    def _insert_used_mark(self, key_id: str, ttl_ms: int) -> bool:
        with _unavailable_as_503():
            return bool(self._client.set(f"{self._prefix}pu:{key_id}", b"1", px=ttl_ms, nx=True))

    def _has_used_mark(self, key_id: str) -> bool:
        with _unavailable_as_503():
            return bool(self._client.exists(f"{self._prefix}pu:{key_id}"))

    # --- the rest of the store --------------------------------------------------------------

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

    def count_sessions(self) -> tuple[int, bool]:
        """Live sessions by a bounded SCAN (see :func:`count_session_keys`); raises on outage."""
        return count_session_keys(self._client, self._prefix)

    def ping(self) -> None:
        with _unavailable_as_503():
            self._client.ping()

    def probe_write(self) -> None:
        """One small write to one fixed key: raises StoreUnavailable when Redis refuses writes
        (out of memory under ``noeviction``, a read-only replica), which PING cannot tell."""
        with _unavailable_as_503():
            self._client.set(f"{self._prefix}ready", b"1", px=READY_PROBE_TTL_MS)

    def close(self) -> None:
        self._client.close()
        # A client built over a pool it was handed (redis_url.redis_client does that) leaves
        # the pool's sockets open on close(); drop them too.
        pool = getattr(self._client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()

    # --- for tests and tools only -----------------------------------------------------------

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


def count_session_keys(client: RedisClient, prefix: str) -> tuple[int, bool]:
    """``(count, truncated)`` of ``{prefix}s:*`` string keys, by a bounded SCAN.

    Sessions end by Redis expiry, so a counter kept on create/delete would drift; counting the
    keys is exact. On a Redis Cluster SCAN walks one node's keyspace only, so every primary is
    scanned (replicas hold copies); the budget (``SCAN_BUDGET`` keys examined) is shared by all
    of them, and when it runs out the count is a lower bound and ``truncated`` is True.
    """
    pattern = glob_escape(prefix) + "s:*"
    total = 0
    examined = 0
    for node in primaries(client):
        seen: set[bytes | str] = set()  # SCAN may return a key twice on one node
        cursor = 0
        while True:
            cursor, keys = node.scan(cursor=cursor, match=pattern, count=1000, _type="string")
            seen.update(keys)
            examined += 1000
            if cursor == 0:
                break
            if examined >= SCAN_BUDGET:
                return total + len(seen), True
        total += len(seen)
    return total, False


def eviction_policies(client: RedisClient) -> set[str]:
    """The ``maxmemory-policy`` of every server holding the bridge's data, read from
    ``INFO memory`` (which works where managed services disable CONFIG)."""
    policies: set[str] = set()
    for node in primaries(client):
        info = node.info("memory")
        policies.add(str(info.get("maxmemory_policy", "unknown")))
    return policies


def check_eviction_policy(client: RedisClient, mode: str) -> None:
    """Refuse (ConfigError) or warn when Redis may evict the bridge's keys to make room.

    An evicting policy lets anyone who fills Redis sign idle users out and drop entries of the
    per-user index; ``noeviction`` refuses the write instead (a 503), which the bridge and
    ``/readyz`` report. ``mode`` is ``REDIS_EVICTION_CHECK``: ``refuse`` or ``warn``. A Redis
    that does not answer at start is reported and skipped: ``/readyz`` holds traffic back until
    it answers.
    """
    try:
        policies = eviction_policies(client)
    except (redis.RedisError, redis.exceptions.RedisClusterException) as exc:
        log.warning(
            "Redis behind OAUTH_BRIDGE_REDIS_URL does not answer at start (%s): sign-ins and API "
            "calls answer 503 and /readyz fails until it does; its maxmemory-policy (it must be "
            "%s) is not checked",
            type(exc).__name__,
            SAFE_EVICTION_POLICY,
        )
        return
    unsafe = sorted(policies - {SAFE_EVICTION_POLICY})
    if not unsafe:
        return
    detail = (
        f"maxmemory-policy is {', '.join(unsafe)}, so Redis may evict sessions and the per-user "
        f"index when full; set maxmemory-policy {SAFE_EVICTION_POLICY}"
    )
    if mode == "warn":
        log.error("UNSAFE REDIS behind OAUTH_BRIDGE_REDIS_URL: its %s", detail)
        return
    raise ConfigError(
        f"OAUTH_BRIDGE_REDIS_URL names a Redis whose {detail} "
        "(or OAUTH_BRIDGE_REDIS_EVICTION_CHECK=warn to start anyway)"
    )

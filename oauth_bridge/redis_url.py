"""What ``OAUTH_BRIDGE_REDIS_URL`` means: its URL forms, the clients it names, the key prefix.

Use this module whenever code needs Redis: the session store, the rate limiter, the demo. It is
the only place that parses a Redis URL or builds a redis-py client, so the three topologies (one
server, a Sentinel-managed primary, a Cluster) and the cluster's hash-tagged prefix are handled
the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from oauth_bridge.config import Settings
from oauth_bridge.errors import ConfigError

RedisClient = redis.Redis | RedisCluster
"""What the store talks to: one server (or a Sentinel-managed primary, which is a
``redis.Redis`` too), or a Redis Cluster."""

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


# --- key prefix ---------------------------------------------------------------------------


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


def glob_escape(text: str) -> str:
    """Escape Redis MATCH pattern characters in a literal prefix."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def primaries(client: RedisClient) -> list[redis.Redis]:
    """The servers holding data: every primary of a cluster (SCAN walks one node), else one."""
    if isinstance(client, RedisCluster):
        nodes = client.get_primaries()  # type: ignore[no-untyped-call]
        return [client.get_redis_connection(node) for node in nodes]
    return [client]


# --- clients ------------------------------------------------------------------------------


def redis_client(settings: Settings) -> RedisClient:
    """A client for ``settings.redis_url`` that fails fast instead of hanging on an outage.

    One immediate retry on a connection error lets a pooled connection broken by a Redis restart
    (or a failover) reconnect; timeouts are not retried on a single server or Sentinel, so an
    outage answers 503 within about ``redis_socket_timeout`` seconds.
    """
    assert settings.redis_url is not None  # noqa: S101 - callers check first
    return _client_for(
        settings.redis_url,
        timeout=settings.redis_socket_timeout,
        max_connections=settings.redis_max_connections,
    )


def _client_for(url: str, *, timeout: float, max_connections: int) -> RedisClient:
    target = parse_redis_url(url)
    common: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "decode_responses": False,
    }
    if target.kind == "cluster":
        return _cluster_client(target, timeout, max_connections, common)
    common |= {
        "health_check_interval": 30,
        "retry_on_timeout": False,
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
        # A blocking pool: under a burst (gevent runs hundreds of requests per worker) a request
        # waits up to the socket timeout for a free connection, where redis-py's default pool
        # would fail at once with MaxConnectionsError past its limit.
        "max_connections": max_connections,
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
    target: RedisTarget, timeout: float, max_connections: int, common: dict[str, Any]
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
        max_connections=max_connections,
        timeout=timeout,
        # One retry follows a MOVED/failover; more would multiply the wait on an outage.
        retry=Retry(NoBackoff(), 1),
        require_full_coverage=True,
        **common,
    )


# --- the demo's two questions -------------------------------------------------------------

_NO_ANSWER: tuple[type[Exception], ...] = (
    redis.RedisError,
    redis.exceptions.RedisClusterException,  # cluster discovery failed: not a RedisError
    ConfigError,
    ValueError,
)


def answers_ping(url: str, timeout: float = 1.0) -> bool:
    """Whether the Redis that ``url`` names (any form above) answers a PING within ``timeout``."""
    try:
        client = _client_for(url, timeout=timeout, max_connections=2)
    except _NO_ANSWER:
        return False
    try:
        return bool(client.ping())
    except _NO_ANSWER:
        return False
    finally:
        client.close()


def delete_prefixed_keys(settings: Settings) -> bool:
    """Delete every key under the effective prefix (the demo's own run); False if Redis failed."""
    if settings.redis_url is None:
        return True
    pattern = glob_escape(effective_key_prefix(settings)) + "*"
    try:
        client = _client_for(settings.redis_url, timeout=2.0, max_connections=2)
    except _NO_ANSWER:
        return False
    try:
        for node in primaries(client):
            keys = list(node.scan_iter(match=pattern, count=500))
            if keys:
                client.delete(*keys)  # a cluster client splits a multi-key DEL by slot
    except _NO_ANSWER:
        return False
    finally:
        client.close()
    return True


# --- the rate limiter's storage -----------------------------------------------------------


def storage_uri(redis_url: str | None) -> str:
    """The ``limits`` storage URI for a ``REDIS_URL`` (checked by ``parse_redis_url``).

    ``unix://`` is ``redis+unix://`` there; ``redis+sentinel://`` and ``redis+cluster://`` are
    limits' own spellings (https://limits.readthedocs.io/en/stable/storage.html), except that
    limits reads the whole path as the service name, so a ``/db`` suffix travels as an option
    (:func:`storage_options`) instead.
    """
    if redis_url is None:
        return "memory://"
    target = parse_redis_url(redis_url)
    if target.kind == "sentinel":
        return redis_url.rstrip("/").rsplit("/", 1)[0] if _has_db(redis_url) else redis_url
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url.removeprefix("unix://")
    return redis_url


def _has_db(sentinel_url: str) -> bool:
    """Whether a sentinel URL ends in ``/service/db`` rather than ``/service``."""
    path = sentinel_url.split("://", 1)[1].partition("/")[2].strip("/")
    return "/" in path


def storage_options(settings: Settings) -> dict[str, Any]:
    """Options for limits' Redis storage: the session store's timeouts, prefix and database."""
    if settings.redis_url is None:
        return {}
    timeout = settings.redis_socket_timeout
    # Same timeouts as the session store: a slow Redis must not hold a worker.
    options: dict[str, Any] = {
        "key_prefix": f"{effective_key_prefix(settings)}rl",
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
    }
    target = parse_redis_url(settings.redis_url)
    if target.kind == "sentinel":
        options |= {
            "db": target.db,
            # Count on the primary only: a replica lags, and a lagging count lets a burst through.
            "use_replicas": False,
            "sentinel_kwargs": {"socket_timeout": timeout, "socket_connect_timeout": timeout},
        }
    return options

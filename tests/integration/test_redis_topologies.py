"""REDIS_URL forms beyond one server: Redis Sentinel and Redis Cluster, on real servers.

Each module-scoped fixture starts its own ``redis-server`` processes on free loopback ports in a
temporary directory (a primary plus one sentinel; three cluster primaries made into a cluster by
``redis-cli --cluster create``) and stops them when the module ends, also after a failure.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from cryptography.fernet import Fernet
from redis.cluster import RedisCluster

from oauth_bridge.config import Settings, load_settings, parse_networks
from oauth_bridge.crypto import TokenCipher
from oauth_bridge.demo import redis_if_reachable
from oauth_bridge.errors import StoreUnavailable
from oauth_bridge.models import TokenSet, UserInfo
from oauth_bridge.redis_url import answers_ping, delete_prefixed_keys, redis_client
from oauth_bridge.sessions import RedisSessionStore, build_store
from oauth_bridge.sessions.redis import count_session_keys
from tests.support.bridge import BridgeServer, sign_in_as
from tests.support.redis_fixtures import free_port

CSRF = {"X-Looker-AppId": "oauth-bridge-topology-tests"}
SERVICE = "bridge-primary"


# --- processes ----------------------------------------------------------------------------


@dataclass
class Processes:
    """redis-server processes a fixture started; :meth:`stop` ends them all, whatever happened."""

    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        binary = shutil.which("redis-server")
        if binary is None:  # pragma: no cover - environment problem
            pytest.fail("redis-server is not installed")
        process = subprocess.Popen(
            [binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.started.append(process)
        return process

    def stop(self) -> None:
        for process in self.started:
            process.terminate()
        for process in self.started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
                process.kill()
                process.wait(timeout=10)


def server_args(port: int, directory: Path, *extra: str) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    return [
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(directory),
        *extra,
    ]


def wait_for(check: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up within {seconds} s")


def ping(port: int) -> bool:
    with redis.Redis(port=port, socket_timeout=0.5) as client:
        return bool(client.ping())


@dataclass
class SentinelSetup:
    primary_port: int
    sentinel_port: int

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{SERVICE}/2"

    def primary(self) -> redis.Redis:
        return redis.Redis(port=self.primary_port, db=2)


@dataclass
class ClusterSetup:
    ports: list[int]
    startup_seconds: float

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports[:2])

    def client(self) -> RedisCluster:
        return RedisCluster(host="127.0.0.1", port=self.ports[0])


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSetup]:
    base = tmp_path_factory.mktemp("sentinel")
    processes = Processes()
    try:
        setup = SentinelSetup(free_port(), free_port())
        processes.start(*server_args(setup.primary_port, base / "primary"))
        wait_for(lambda: ping(setup.primary_port), "the Sentinel-managed primary")
        config = base / "sentinel.conf"  # sentinel rewrites its config file: it must be ours
        config.write_text(
            f"port {setup.sentinel_port}\n"
            "bind 127.0.0.1\n"
            f"dir {base}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {setup.primary_port} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 5000\n"
        )
        processes.start(str(config), "--sentinel")

        def knows_primary() -> bool:
            with redis.Redis(port=setup.sentinel_port, socket_timeout=0.5) as s:
                found = s.execute_command("SENTINEL", "get-master-addr-by-name", SERVICE)
            return bool(found) and int(found[1]) == setup.primary_port

        wait_for(knows_primary, "the sentinel")
        yield setup
    finally:
        processes.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterSetup]:
    base = tmp_path_factory.mktemp("cluster")
    processes = Processes()
    began = time.monotonic()
    try:
        ports = [free_port() for _ in range(3)]
        for port in ports:
            processes.start(
                *server_args(
                    port,
                    base / str(port),
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    str(base / str(port) / "nodes.conf"),
                    "--cluster-port",  # the bus port, else port + 10000 (maybe taken or > 65535)
                    str(free_port()),
                )
            )
        for port in ports:
            wait_for(lambda port=port: ping(port), f"cluster node {port}")  # type: ignore[misc]
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )

        def all_ok() -> bool:
            for port in ports:
                with redis.Redis(port=port, socket_timeout=0.5) as node:
                    if node.cluster("info")["cluster_state"] != "ok":
                        return False
            return True

        wait_for(all_ok, "the cluster")
        yield ClusterSetup(ports, time.monotonic() - began)
    finally:
        processes.stop()


# --- helpers ------------------------------------------------------------------------------


def settings_for(url: str, prefix: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "looker_url": "http://127.0.0.1:9",
        "client_id": "topology-tests",
        "redirect_uri": "http://localhost:9/auth/callback",
        "secret_key": "test-secret-key-0123456789",
        "token_keys": (Fernet.generate_key(),),
        "redis_url": url,
        "redis_key_prefix": prefix,
        "redis_socket_timeout": 2.0,
    }
    values.update(overrides)
    return load_settings({}, **values)


def unique_prefix() -> str:
    return f"topo:{uuid.uuid4().hex[:10]}:"


TOKENS = TokenSet("access-token-1", "refresh-token-1", time.time() + 3600)
ANALYST = UserInfo("2", "Ann Analyst", "analyst@example.com")


def exercise_store(store: RedisSessionStore) -> None:
    """The store's whole contract, in the order a bridge uses it."""
    cookie, record = store.create(ANALYST, TOKENS)
    loaded = store.load(cookie)
    assert loaded is not None and loaded.tokens == TOKENS and loaded.user == ANALYST

    newer = TokenSet("access-token-2", "refresh-token-2", time.time() + 7200)
    with store.refresh_lock(record.session_id, 5) as acquired:
        assert acquired
        saved = store.save_tokens(cookie, newer)
    assert saved is not None and saved.version == 2
    reloaded = store.load(cookie)
    assert reloaded is not None and reloaded.tokens == newer

    other_cookie, other = store.create(ANALYST, TOKENS)
    assert sorted(store.user_session_ids(ANALYST.id)) == sorted(
        [record.session_id, other.session_id]
    )
    deleted = store.delete(cookie)
    assert deleted is not None and deleted.session_id == record.session_id
    assert store.load(cookie) is None
    assert store.user_session_ids(ANALYST.id) == [other.session_id]
    third_cookie, _ = store.create(ANALYST, TOKENS)
    assert store.delete_user_sessions(ANALYST.id) == 2
    assert store.load(other_cookie) is None and store.load(third_cookie) is None
    assert store.user_session_ids(ANALYST.id) == []

    assert store.login_used("state-a") is False
    assert store.mark_login_used("state-a", 60_000) is True
    assert store.mark_login_used("state-a", 60_000) is False  # single use
    assert store.login_used("state-a") is True
    store.probe_write()


def lock_excludes_a_second_holder(store: RedisSessionStore) -> None:
    """While one caller holds a session's refresh lock another times out, then gets it."""
    holding = threading.Event()
    release = threading.Event()
    results: list[bool] = []

    def holder() -> None:
        with store.refresh_lock("session-x", 10) as acquired:
            results.append(acquired)
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert holding.wait(10)
        with store.refresh_lock("session-x", 0.3) as second:
            assert not second
    finally:
        release.set()
        thread.join(10)
    assert results == [True]
    with store.refresh_lock("session-x", 1) as again:
        assert again


# --- Sentinel -----------------------------------------------------------------------------


def test_store_through_sentinel_url_uses_the_primary(sentinel: SentinelSetup) -> None:
    prefix = unique_prefix()
    settings = settings_for(sentinel.url, prefix)
    store = build_store(settings)
    primary = sentinel.primary()
    try:
        assert isinstance(store, RedisSessionStore)
        store.ping()
        exercise_store(store)
        lock_excludes_a_second_holder(store)
        cookie, record = store.create(ANALYST, TOKENS)
        # The value sits on the primary, in the URL's database, under the plain prefix.
        assert primary.exists(f"{prefix}s:{record.session_id}") == 1
        assert store.load(cookie) is not None
    finally:
        store.close()
        for key in primary.scan_iter(match=f"{prefix}*"):
            primary.delete(key)
        primary.close()


def test_sentinel_client_has_a_blocking_pool_with_the_store_timeouts(
    sentinel: SentinelSetup,
) -> None:
    client = redis_client(settings_for(sentinel.url, "x:", redis_max_connections=1))
    try:
        assert isinstance(client, redis.Redis)
        pool = client.connection_pool
        assert isinstance(pool, redis.BlockingConnectionPool)
        assert pool.connection_kwargs["socket_timeout"] == 2.0
        assert pool.connection_kwargs["db"] == 2
        # One connection, held: a second caller waits (then fails) instead of opening another.
        held = pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            with pytest.raises(redis.ConnectionError, match="No connection available"):
                pool.timeout = 0.2
                client.ping()
        finally:
            pool.release(held)  # type: ignore[no-untyped-call]
        assert client.ping()
    finally:
        client.close()


def test_bridge_signs_in_through_sentinel_with_rate_limits(
    sentinel: SentinelSetup, bridge_factory: Callable[..., BridgeServer]
) -> None:
    bridge = bridge_factory(redis_url=sentinel.url, rate_limit_login="50 per minute")
    primary = sentinel.primary()
    try:
        http = sign_in_as(bridge, "analyst")
        with http.get(f"{bridge.url}/api/4.0/user", headers=CSRF, timeout=15) as me:
            assert me.status_code == 200 and me.json()["id"] == "2"
        prefix = bridge.redis_prefix
        assert len(list(primary.scan_iter(match=f"{prefix}s:*"))) == 1
        assert list(primary.scan_iter(match=f"{prefix}rl:*"))  # limiter counted on the primary
        with http.post(f"{bridge.url}/auth/logout", headers=CSRF, timeout=15) as out:
            assert out.status_code == 204
        assert list(primary.scan_iter(match=f"{prefix}s:*")) == []
        http.close()
    finally:
        for key in primary.scan_iter(match=f"{bridge.redis_prefix}*"):
            primary.delete(key)
        primary.close()


def test_demo_finds_redis_through_a_sentinel_url(sentinel: SentinelSetup) -> None:
    """The demo asks redis_url.py, so a valid Sentinel URL is reachable (it used from_url)."""
    out = io.StringIO()
    assert redis_if_reachable(sentinel.url, out) == sentinel.url
    assert out.getvalue() == ""
    nobody = f"redis+sentinel://127.0.0.1:{free_port()}/{SERVICE}/2"
    assert redis_if_reachable(nobody, out) is None
    assert "did not answer" in out.getvalue()


def test_demo_key_cleanup_works_through_a_sentinel_url(sentinel: SentinelSetup) -> None:
    prefix = unique_prefix()
    sibling = prefix.rstrip(":") + "-other"  # another prefix sharing the text: not ours
    primary = sentinel.primary()
    try:
        primary.set(f"{prefix}s:1", b"x", ex=60)
        primary.set(f"{prefix}rl:1", b"x", ex=60)
        primary.set(sibling, b"x", ex=60)
        assert delete_prefixed_keys(settings_for(sentinel.url, prefix))
        assert list(primary.scan_iter(match=f"{prefix}*")) == []
        assert primary.exists(sibling) == 1
    finally:
        primary.delete(sibling)
        primary.close()


@pytest.fixture
def failover_pair(tmp_path: Path) -> Iterator[tuple[SentinelSetup, int]]:
    """A primary, its replica and a sentinel: ``(setup, replica_port)``."""
    processes = Processes()
    try:
        setup = SentinelSetup(free_port(), free_port())
        replica = free_port()
        processes.start(*server_args(setup.primary_port, tmp_path / "primary"))
        wait_for(lambda: ping(setup.primary_port), "the primary")
        processes.start(
            *server_args(
                replica, tmp_path / "replica", "--replicaof", "127.0.0.1", str(setup.primary_port)
            )
        )

        def replica_synced() -> bool:
            with redis.Redis(port=replica, socket_timeout=0.5) as r:
                return bool(r.info("replication")["master_link_status"] == "up")

        wait_for(replica_synced, "the replica")
        config = tmp_path / "sentinel.conf"
        config.write_text(
            f"port {setup.sentinel_port}\n"
            "bind 127.0.0.1\n"
            f"dir {tmp_path}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {setup.primary_port} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 5000\n"
            f"sentinel failover-timeout {SERVICE} 10000\n"
        )
        processes.start(str(config), "--sentinel")

        def knows_replica() -> bool:
            with redis.Redis(port=setup.sentinel_port, socket_timeout=0.5) as s:
                replicas = s.sentinel_slaves(SERVICE)
            # Sentinel promotes only a replica it has INFO from, with its link to the primary up.
            return any(
                int(r["port"]) == replica
                and r["is_slave"]
                and r.get("master-link-status") == "ok"
                and not r["is_disconnected"]
                for r in replicas
            )

        wait_for(knows_replica, "the sentinel's view of the replica")
        yield setup, replica
    finally:
        processes.stop()


@pytest.mark.slow  # about 15 s: Sentinel refreshes its view of a replica every 10 s
def test_store_follows_a_sentinel_failover(failover_pair: tuple[SentinelSetup, int]) -> None:
    """After Sentinel promotes the replica, the same store object reads and writes there."""
    setup, replica = failover_pair
    prefix = unique_prefix()
    store = build_store(settings_for(setup.url.replace("/2", "/0"), prefix))
    try:
        cookie, record = store.create(ANALYST, TOKENS)
        with redis.Redis(port=setup.primary_port) as primary:
            assert primary.wait(1, 5000) == 1  # the replica has the session
        with redis.Redis(port=setup.sentinel_port) as sentinel_node:
            assert sentinel_node.execute_command("SENTINEL", "FAILOVER", SERVICE)

            def promoted() -> bool:
                found = sentinel_node.sentinel_get_master_addr_by_name(SERVICE)
                return found is not None and int(found[1]) == replica

            wait_for(promoted, "the failover", seconds=30)

        # Until the old primary is demoted, a pooled connection may still write there, and
        # Sentinel's asynchronous replication loses such writes (see docs/operations.md).
        def demoted() -> bool:
            with redis.Redis(port=setup.primary_port, socket_timeout=0.5) as old:
                return bool(old.info("replication")["role"] == "slave")

        wait_for(demoted, "the old primary's demotion", seconds=30)

        # The first commands may meet the demoted primary (503, never a 500); then it recovers.
        loaded = None
        for _ in range(100):
            try:
                loaded = store.load(cookie)
                store.create(ANALYST, TOKENS)
                break
            except StoreUnavailable:
                time.sleep(0.1)
        assert loaded is not None and loaded.session_id == record.session_id
        with redis.Redis(port=replica) as new_primary:
            assert new_primary.info("replication")["role"] == "master"
            assert len(list(new_primary.scan_iter(match=f"{prefix}s:*"))) == 2
    finally:
        store.close()


# --- Cluster ------------------------------------------------------------------------------


def cluster_keys(client: RedisCluster, pattern: str) -> list[bytes]:
    found: list[bytes] = []
    for node in client.get_primaries():  # type: ignore[no-untyped-call]
        found.extend(client.get_redis_connection(node).scan_iter(match=pattern, count=1000))
    return found


def test_cluster_starts_quickly(cluster: ClusterSetup) -> None:
    """Recorded for docs/operations.md: three nodes to cluster_state:ok."""
    print(f"cluster ready in {cluster.startup_seconds:.1f} s")
    assert cluster.startup_seconds < 30


def test_store_on_a_cluster_keeps_every_key_in_one_slot(cluster: ClusterSetup) -> None:
    prefix = unique_prefix()
    store = build_store(settings_for(cluster.url, prefix))
    observer = cluster.client()
    try:
        assert isinstance(store, RedisSessionStore)
        store.ping()
        exercise_store(store)
        lock_excludes_a_second_holder(store)
        # Leave some state behind to look at: two sessions, an index, a mark, a used sign-in,
        # a lock.
        store.create(ANALYST, TOKENS)
        store.create(UserInfo("3", "Vic Viewer", "viewer@example.com"), TOKENS)
        store.mark_login_used("state-z", 60_000)
        store.probe_write()
        with store.refresh_lock("session-y", 5) as acquired:
            assert acquired
            keys = cluster_keys(observer, f"{{{prefix}}}*")
        kinds = {key.decode().split("}", 1)[1].split(":", 1)[0] for key in keys}
        assert kinds == {"s", "u", "m", "pu", "ready", "l"}  # m: the logout-everywhere marks
        assert {observer.keyslot(key) for key in keys} == {observer.keyslot(prefix)}  # type: ignore[no-untyped-call]
        assert cluster_keys(observer, f"{prefix}*") == []  # nothing outside the hash tag
    finally:
        store.close()
        for key in cluster_keys(observer, f"*{prefix}*"):
            observer.delete(key)
        observer.close()


def test_loading_a_session_on_a_cluster_is_one_command(
    cluster: ClusterSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis_client(settings_for(cluster.url, "x:"))
    prefix = unique_prefix()
    assert isinstance(client, RedisCluster)
    store = RedisSessionStore(
        client, TokenCipher([Fernet.generate_key()]), prefix=prefix, idle_timeout=600, max_age=3600
    )
    try:
        cookie, _ = store.create(ANALYST, TOKENS)
        assert store.load(cookie) is not None  # the script is now cached on its node
        calls: list[tuple[Any, ...]] = []
        original: Callable[..., Any] = client.execute_command

        def counting(*args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return original(*args, **kwargs)

        monkeypatch.setattr(client, "execute_command", counting)
        assert store.load(cookie) is not None
        assert [call[0] for call in calls] == ["EVALSHA"]
    finally:
        monkeypatch.undo()
        for key in cluster_keys(client, f"*{prefix}*"):
            client.delete(key)
        store.close()


def test_cap_and_logout_everywhere_scripts_run_on_a_cluster(cluster: ClusterSetup) -> None:
    """The create and end-user scripts take every key they touch in KEYS (the sessions read
    from the index included), all in the prefix's one slot; the load script reads the mark."""
    prefix = unique_prefix()
    ended: list[TokenSet] = []
    store = build_store(
        settings_for(cluster.url, prefix, max_sessions_per_user=2), on_ended=ended.extend
    )
    observer = cluster.client()
    try:
        first, first_record = store.create(ANALYST, TOKENS)
        backup = observer.get(f"{{{prefix}}}s:{first_record.session_id}")
        newer = TokenSet("access-token-2", "refresh-token-2", time.time() + 3600)
        second, _ = store.create(ANALYST, newer)
        third, _ = store.create(ANALYST, TOKENS)  # one too many: the oldest ends
        assert store.load(first) is None and [g.access_token for g in ended] == ["access-token-1"]
        assert store.delete_user_sessions(ANALYST.id) == 2
        assert sorted(g.access_token for g in ended[1:]) == ["access-token-1", "access-token-2"]
        assert backup is not None
        observer.set(f"{{{prefix}}}s:{first_record.session_id}", backup, px=60_000)
        assert store.load(first) is None  # restored, but before the mark
        assert store.load(second) is None and store.load(third) is None
    finally:
        store.close()
        for key in cluster_keys(observer, f"*{prefix}*"):
            observer.delete(key)
        observer.close()


def test_session_counter_scans_every_cluster_primary(cluster: ClusterSetup) -> None:
    client = cluster.client()
    prefix = unique_prefix()  # not hash-tagged: these keys spread over the three primaries
    try:
        for n in range(30):
            client.set(f"{prefix}s:{n}", b"x", ex=60)
        client.set(f"{prefix}u:1", b"x", ex=60)
        holders = {client.get_node_from_key(f"{prefix}s:{n}").name for n in range(30)}  # type: ignore[no-untyped-call]
        assert len(holders) == 3
        assert count_session_keys(client, prefix) == (30, False)
    finally:
        for key in cluster_keys(client, f"{prefix}*"):
            client.delete(key)
        client.close()


def test_demo_finds_a_cluster_and_cleans_its_hash_tagged_keys(cluster: ClusterSetup) -> None:
    assert answers_ping(cluster.url)
    prefix = unique_prefix()
    store = build_store(settings_for(cluster.url, prefix))
    observer = cluster.client()
    try:
        store.create(ANALYST, TOKENS)
        assert store.count_sessions() == (1, False)
        assert cluster_keys(observer, f"{{{prefix}}}*")
        assert delete_prefixed_keys(settings_for(cluster.url, prefix))
        assert cluster_keys(observer, f"*{prefix}*") == []
    finally:
        store.close()
        observer.close()


def test_bridge_signs_in_through_a_cluster_with_limits_and_metrics(
    cluster: ClusterSetup, bridge_factory: Callable[..., BridgeServer]
) -> None:
    bridge = bridge_factory(
        redis_url=cluster.url,
        rate_limit_login="50 per minute",
        metrics_networks=parse_networks("127.0.0.1"),  # /metrics is closed by default
    )
    observer = cluster.client()
    tagged = "{" + bridge.redis_prefix + "}"
    try:
        with requests.get(f"{bridge.url}/readyz", timeout=10) as ready:
            assert ready.status_code == 200
        http = sign_in_as(bridge, "analyst")
        with http.get(f"{bridge.url}/api/4.0/user", headers=CSRF, timeout=15) as me:
            assert me.status_code == 200 and me.json()["id"] == "2"
        assert len(cluster_keys(observer, f"{tagged}s:*")) == 1
        assert cluster_keys(observer, f"{tagged}rl:*")  # the limiter counted in the cluster
        with requests.get(f"{bridge.url}/metrics", timeout=10) as scrape:
            assert "\noauth_bridge_active_sessions 1.0\n" in scrape.text
        with http.post(f"{bridge.url}/auth/logout", headers=CSRF, timeout=15) as out:
            assert out.status_code == 204
        with http.get(f"{bridge.url}/auth/session", timeout=15) as after:
            assert after.status_code == 401
        assert cluster_keys(observer, f"{tagged}s:*") == []
        http.close()
    finally:
        for key in cluster_keys(observer, f"*{bridge.redis_prefix}*"):
            observer.delete(key)
        observer.close()

"""The price of the bridge, measured side by side on loopback (issue 7).

    python bench/run.py            # full run, under 5 minutes on 2 cores
    python bench/run.py --quick    # tiny sizes: keeps the benchmark working (the smoke test)

Prints one JSON document, then a short table with each target beside its figure. Needs Redis at
``--redis-url`` (default 127.0.0.1:6379; keys under a unique prefix, deleted afterwards), ``wrk``
and Node (installed with apt-get when missing), and ``npm ci`` in bench/peers (run when missing).
Section 2 counts Redis commands and memory on a private ``redis-server`` it starts on a free port
when that binary exists, because ``INFO commandstats`` on a shared Redis also counts everyone
else's commands.

Sections: 1 proxy overhead (a the fixed upstream, b bare nginx proxy, c Node peer, d bridge
embedded, e bridge in nginx mode), 2 Redis cost, 3 streaming, 4 slow upstream (each candidate
server), 5 sign-ins per second.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import requests
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import signin  # noqa: E402
from harness import REPO_ROOT, Service, free_port  # noqa: E402

from oauth_bridge.config import load_settings  # noqa: E402
from oauth_bridge.models import TokenSet, UserInfo  # noqa: E402
from oauth_bridge.sessions import build_store  # noqa: E402

BENCH_TOKEN = "bench-" + secrets.token_urlsafe(24)
APP_ID_HEADER = {"X-Looker-AppId": "oauth-bridge-bench"}


@dataclass(frozen=True)
class Sizes:
    levels: tuple[int, ...]
    seconds: int
    rounds: int
    sessions: int
    counted_requests: int
    stream_mb: int
    slow_count: int
    slow_seconds: float
    login_seconds: float
    login_concurrency: int


FULL = Sizes((1, 16, 64), 3, 2, 100_000, 1000, 200, 500, 2.0, 5.0, 8)
QUICK = Sizes((1, 16, 64), 1, 1, 1000, 50, 8, 20, 0.2, 1.0, 2)


@dataclass
class Context:
    sizes: Sizes
    workers: int
    redis_url: str
    prefix: str
    logs: Path
    upstream: Service
    app_dir: Path = REPO_ROOT
    """Where ``app.py`` is served from (another checkout, to compare a change side by side)."""
    server: str = "gunicorn"
    """What serves the bridge: ``gunicorn`` (the Procfile's command) or ``granian``."""


# --- starting the four configurations -------------------------------------------------------


def gunicorn_argv(app: str, port: int, workers: int, chdir: Path = REPO_ROOT) -> list[str]:
    """The Procfile's command with a bench port and worker count (command line wins)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        "-c",
        str(REPO_ROOT / "gunicorn.conf.py"),
        "--chdir",
        str(chdir),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]


GRANIAN_BLOCKING_THREADS = 256
"""Per worker: granian's WSGI interface runs each request on one of these threads, so together
they bound the concurrent slow Looker calls (500 over 2 workers in section 4)."""


def granian_argv(app: str, port: int, workers: int, chdir: Path = REPO_ROOT) -> list[str]:
    """granian's WSGI interface, the candidate against gunicorn (issue 12 item 2)."""
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(GRANIAN_BLOCKING_THREADS),
        "--backlog",
        "2048",
        "--working-dir",
        str(chdir),
        "--log-level",
        "warning",
        "--no-ws",
        app,
    ]


def server_argv(ctx: Context, port: int, server: str | None = None) -> list[str]:
    """The bridge's command line under ``server`` (default: the bench's choice)."""
    chosen = server or ctx.server
    if chosen == "granian":
        return granian_argv("app:app", port, ctx.workers, chdir=ctx.app_dir)
    if chosen == "gunicorn":
        return gunicorn_argv("app:app", port, ctx.workers, chdir=ctx.app_dir)
    raise ValueError(f"unknown server {chosen!r}")


def bridge_env(
    port: int, looker_url: str, api_url: str, redis_url: str, prefix: str, client_id: str
) -> dict[str, str]:
    """Environment for the real bridge (config c), plain http like the tests."""
    return {
        "OAUTH_BRIDGE_LOOKER_URL": looker_url,
        "OAUTH_BRIDGE_LOOKER_API_URL": api_url,
        "OAUTH_BRIDGE_CLIENT_ID": client_id,
        "OAUTH_BRIDGE_REDIRECT_URI": f"http://localhost:{port}/auth/callback",
        "OAUTH_BRIDGE_SECRET_KEY": secrets.token_urlsafe(32),
        "OAUTH_BRIDGE_TOKEN_KEYS": Fernet.generate_key().decode(),
        "OAUTH_BRIDGE_REDIS_URL": redis_url,
        "OAUTH_BRIDGE_REDIS_KEY_PREFIX": prefix,
        "OAUTH_BRIDGE_COOKIE_SECURE": "false",
        "OAUTH_BRIDGE_CORS_ORIGINS": f"http://localhost:{free_port()}",
        "OAUTH_BRIDGE_LOG_LEVEL": "WARNING",
    }


def start_bridge(
    ctx: Context,
    name: str,
    *,
    redis_url: str | None = None,
    worker_class: str | None = None,
    upstream_url: str | None = None,
    port: int | None = None,
    public_port: int | None = None,
    extra_env: dict[str, str] | None = None,
    server: str | None = None,
) -> tuple[Service, str, dict[str, str]]:
    """The bridge under gunicorn (the Procfile's command), its session cookie and environment.

    ``upstream_url`` is Looker's API host (default: the Python bench upstream); ``public_port``
    is where browsers reach it (nginx's port in nginx mode; default: the bridge's own).
    """
    port = port or free_port()
    upstream = upstream_url or f"http://127.0.0.1:{ctx.upstream.port}"
    env = bridge_env(
        public_port or port, upstream, upstream, redis_url or ctx.redis_url, ctx.prefix, "bench"
    )
    env.update(extra_env or {})
    if worker_class:
        env["GUNICORN_WORKER_CLASS"] = worker_class
    argv = server_argv(ctx, port, server)
    service = Service(name, argv, port, env=env, log_dir=ctx.logs)
    service.start()
    return service, create_session(env), env


def create_session(env: dict[str, str], expires_in: float = 8 * 3600) -> str:
    """A session written through the bridge's own store, as sign-in would; returns the cookie."""
    store = build_store(load_settings(env))
    try:
        cookie, _ = store.create(
            UserInfo(id="1", display_name="Ada Admin", email="admin@example.com"),
            TokenSet(BENCH_TOKEN, "bench-refresh", time.time() + expires_in),
        )
    finally:
        store.close()
    return cookie


def bridge_headers(cookie: str) -> dict[str, str]:
    return {"Cookie": f"looker_session={cookie}", **APP_ID_HEADER}


def start_nginx_mode(ctx: Context, upstream_url: str) -> tuple[list[Service], int, str]:
    """The bridge with nginx in front, as docs/operations.md lays it out.

    The bridge runs the Procfile's command on a private port; nginx runs the config that
    ``oauth-bridge nginx-config`` prints from the bridge's own environment. Returns both
    services (nginx first), nginx's port and a session cookie.
    """
    nginx_port, bridge_port = free_port(), free_port()
    bridge, cookie, env = start_bridge(
        ctx,
        "e_bridge_nginx_mode_app",
        upstream_url=upstream_url,
        port=bridge_port,
        public_port=nginx_port,
        extra_env={"OAUTH_BRIDGE_PROXY_FIX_HOPS": "1"},
    )
    try:
        directory = ctx.logs / "e_bridge_nginx_mode"
        directory.mkdir(parents=True, exist_ok=True)
        printed = subprocess.run(
            [
                str(Path(sys.executable).with_name("oauth-bridge")),
                "nginx-config",
                "--listen",
                f"127.0.0.1:{nginx_port}",
                "--bridge-url",
                f"http://127.0.0.1:{bridge_port}",
                "--workers",
                str(ctx.workers),
            ],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        config = directory / "nginx.conf"
        config.write_text(printed.stdout)
        nginx = harness.ensure_tool("nginx", "nginx")
        argv = [nginx, "-p", str(directory), "-c", str(config), "-e", "stderr", "-g", "daemon off;"]
        front = Service("e_bridge_nginx_mode", argv, nginx_port, log_dir=ctx.logs).start()
    except BaseException:
        bridge.stop()
        raise
    return [front, bridge], nginx_port, cookie


def start_peer(ctx: Context, upstream_url: str) -> tuple[Service, str]:
    """The Node BFF with the same worker count, and a session cookie seeded through it."""
    harness.ensure_node_modules()
    node = harness.ensure_tool("node", "nodejs")
    port = free_port()
    env = {
        "PORT": str(port),
        "UPSTREAM_URL": upstream_url,
        "REDIS_URL": ctx.redis_url,
        "REDIS_PREFIX": f"{ctx.prefix}peer:",
        "SESSION_SECRET": secrets.token_urlsafe(32),
        "WORKERS": str(ctx.workers),
    }
    service = Service(
        "c_node_peer",
        [node, "server.js"],
        port,
        env=env,
        cwd=REPO_ROOT / "bench" / "peers",
        log_dir=ctx.logs,
    ).start()
    with requests.Session() as http:
        for _ in range(50):  # cluster workers may still be connecting to Redis
            answer = http.post(f"http://127.0.0.1:{port}/seed", json={"token": BENCH_TOKEN})
            if answer.status_code == 204:
                break
            time.sleep(0.1)
        cookie = answer.cookies.get("connect.sid")
    if not cookie:
        service.stop()
        raise RuntimeError("the Node peer set no session cookie")
    return service, cookie


# --- section 1 ------------------------------------------------------------------------------


def check_ok(url: str, headers: dict[str, str]) -> None:
    with requests.get(url, headers=headers, timeout=10) as answer:
        if answer.status_code != 200:
            raise RuntimeError(f"{url} answered {answer.status_code}: {answer.text[:300]}")


@dataclass
class Leg:
    """One configuration of section 1: where wrk sends the load, and whose CPU it costs."""

    name: str
    port: int
    headers: dict[str, str]
    services: list[Service]


def section_overhead(ctx: Context) -> dict[str, Any]:
    """Five legs under the same wrk load, interleaved, each level in ``rounds`` rounds (issue 12).

    ``GET /api/4.0/user`` is answered by nginx itself with a fixed JSON, so the upstream costs
    almost nothing and every leg proxies to it: a the upstream alone (the limit), b bare nginx
    ``proxy_pass`` with a fixed token (the floor of any proxy hop), c the Node peer, d the bridge
    in embedded mode (the Procfile), e the bridge in nginx mode (nginx in front, the bridge's
    gate behind ``auth_request``). The machine may be shared: interleaving spreads outside load
    over all legs alike, and each figure is the best of its rounds. CPU time per request (every
    process of the leg, from /proc, the upstream's excluded) does not depend on outside load.
    """
    path = "/api/4.0/user"
    results: dict[str, Any] = {
        "path": path,
        "workers": ctx.workers,
        "rounds": ctx.sizes.rounds,
        "configs": {},
        "cpu_us_per_request": {},
    }
    started: list[Service] = []
    try:
        upstream = harness.fixed_upstream(free_port(), ctx.logs, ctx.workers).start()
        started.append(upstream)
        upstream_url = f"http://127.0.0.1:{upstream.port}"
        floor = harness.bare_nginx_proxy(
            free_port(), upstream.port, BENCH_TOKEN, ctx.logs, ctx.workers
        ).start()
        started.append(floor)
        peer, peer_cookie = start_peer(ctx, upstream_url)
        started.append(peer)
        embedded, cookie, _ = start_bridge(ctx, "d_bridge_embedded", upstream_url=upstream_url)
        started.append(embedded)
        nginx_mode, nginx_port, nginx_cookie = start_nginx_mode(ctx, upstream_url)
        started += nginx_mode
        legs = [
            Leg("a_fixed_upstream", upstream.port, {}, [upstream]),
            Leg("b_nginx_proxy", floor.port, {}, [floor]),
            Leg("c_node_peer", peer.port, {"Cookie": f"connect.sid={peer_cookie}"}, [peer]),
            Leg("d_bridge_embedded", embedded.port, bridge_headers(cookie), [embedded]),
            Leg("e_bridge_nginx_mode", nginx_port, bridge_headers(nginx_cookie), nginx_mode),
        ]
        for leg in legs:
            url = f"http://127.0.0.1:{leg.port}{path}"
            check_ok(url, leg.headers)
            harness.run_wrk(url, 4, 1, leg.headers)  # warm up pools and workers
            results["configs"][leg.name] = {}
        for level in ctx.sizes.levels:
            for round_ in range(ctx.sizes.rounds):
                for leg in legs if round_ % 2 == 0 else legs[::-1]:
                    url = f"http://127.0.0.1:{leg.port}{path}"
                    cpu_before = [service.cpu_seconds() for service in leg.services]
                    figures = harness.run_wrk(url, level, ctx.sizes.seconds, leg.headers)
                    spent = [
                        service.cpu_seconds() - before
                        for service, before in zip(leg.services, cpu_before, strict=True)
                    ]
                    count = max(1, figures["requests"])
                    figures["cpu_us_per_request"] = 1e6 * sum(spent) / count
                    if len(spent) > 1:  # nginx mode: nginx's share, the bridge's share
                        for service, cpu in zip(leg.services, spent, strict=True):
                            figures[f"cpu_us_per_request_{service.name}"] = 1e6 * cpu / count
                    best = results["configs"][leg.name].get(str(level))
                    if best is None or figures["rps"] > best["rps"]:
                        results["configs"][leg.name][str(level)] = figures
        for name, levels in results["configs"].items():
            results["cpu_us_per_request"][name] = min(
                v["cpu_us_per_request"] for v in levels.values()
            )
    finally:
        for running in reversed(started):
            running.stop()
    results["ratios"] = overhead_ratios(results, ctx.sizes.levels)
    return results


def overhead_ratios(results: dict[str, Any], levels: tuple[int, ...]) -> dict[str, Any]:
    """Each bridge mode against the Node peer (the targets) and against the floor."""
    configs = results["configs"]
    ratios: dict[str, Any] = {}
    for level in map(str, levels):
        node, floor = configs["c_node_peer"][level], configs["b_nginx_proxy"][level]
        row: dict[str, float] = {}
        for short, leg in (("embedded", "d_bridge_embedded"), ("nginx", "e_bridge_nginx_mode")):
            mine = configs[leg][level]
            row[f"{short}_over_node_rps"] = mine["rps"] / node["rps"]
            row[f"{short}_over_floor_rps"] = mine["rps"] / floor["rps"]
            row[f"{short}_minus_node_p50_ms"] = mine["p50_ms"] - node["p50_ms"]
            row[f"{short}_minus_node_p99_ms"] = mine["p99_ms"] - node["p99_ms"]
        row["node_over_floor_rps"] = node["rps"] / floor["rps"]
        ratios[level] = row
    cpu = results["cpu_us_per_request"]
    ratios["cpu"] = {
        "embedded_over_node": cpu["d_bridge_embedded"] / cpu["c_node_peer"],
        "nginx_over_node": cpu["e_bridge_nginx_mode"] / cpu["c_node_peer"],
        "embedded_minus_floor_us": cpu["d_bridge_embedded"] - cpu["b_nginx_proxy"],
        "nginx_minus_floor_us": cpu["e_bridge_nginx_mode"] - cpu["b_nginx_proxy"],
    }
    return ratios


# --- section 2 ------------------------------------------------------------------------------


@contextmanager
def private_redis(ctx: Context) -> Iterator[tuple[str, bool]]:
    """(url, private?) — a throwaway redis-server when the binary exists, else the shared one."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield ctx.redis_url, False
        return
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with Service("redis_private", argv, port, log_dir=ctx.logs):
        yield f"redis://127.0.0.1:{port}/0", True


def command_stats(client: redis.Redis) -> dict[str, int]:
    stats: dict[str, Any] = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def monitor_client_commands(
    url: str, prefix: str, stop: threading.Event, counts: dict[str, int]
) -> None:
    """Count commands sent by clients (not by Lua scripts) that touch the bench's keys."""
    client = redis.Redis.from_url(url)
    try:
        with client.monitor() as monitor:  # type: ignore[no-untyped-call]
            while not stop.is_set():
                command = monitor.next_command()
                text = str(command.get("command", ""))
                if command.get("client_type") == "lua":
                    counts["script_inner"] = counts.get("script_inner", 0) + 1
                    continue
                if prefix in text or text.upper().startswith(("EVALSHA", "EVAL ")):
                    name = text.split(" ", 1)[0].upper()
                    counts[name] = counts.get(name, 0) + 1
    except (redis.ConnectionError, ValueError):
        pass
    finally:
        client.close()


def section_redis(ctx: Context) -> dict[str, Any]:
    with private_redis(ctx) as (url, private):
        client = redis.Redis.from_url(url)
        try:
            bridge, cookie, _ = start_bridge(ctx, "c_bridge_redis", redis_url=url)
            with bridge, requests.Session() as http:
                target = f"http://127.0.0.1:{bridge.port}/api/4.0/user"
                for _ in range(5):  # warm up: script load, connections
                    http.get(target, headers=bridge_headers(cookie)).close()
                counts: dict[str, int] = {}
                stop = threading.Event()
                watcher = threading.Thread(
                    target=monitor_client_commands, args=(url, ctx.prefix, stop, counts)
                )
                watcher.start()
                time.sleep(0.3)
                before = command_stats(client)
                n = ctx.sizes.counted_requests
                for _ in range(n):
                    with http.get(target, headers=bridge_headers(cookie)) as answer:
                        if answer.status_code != 200:
                            raise RuntimeError(f"bridge answered {answer.status_code}")
                after = command_stats(client)
                time.sleep(0.3)
                stop.set()
                client.ping()  # wakes the monitor so it sees the stop flag
                watcher.join(timeout=5)
            ignore = {"info", "monitor", "ping"}
            delta = {
                k: after.get(k, 0) - before.get(k, 0)
                for k in after
                if k not in ignore and after.get(k, 0) != before.get(k, 0)
            }
            client_cmds = {k: v for k, v in counts.items() if k != "script_inner"}
            result: dict[str, Any] = {
                "private_redis": private,
                "requests": n,
                "client_commands_per_request": sum(client_cmds.values()) / n,
                "client_commands": {k: v / n for k, v in client_cmds.items()},
                "commandstats_per_request": {k: v / n for k, v in delta.items()},
                "commandstats_total_per_request": sum(delta.values()) / n,
            }
            result.update(session_memory(ctx, client, url))
        finally:
            delete_prefix(client, ctx.prefix)
            client.close()
    return result


def session_memory(ctx: Context, client: redis.Redis, url: str) -> dict[str, Any]:
    """Load N sessions through the bridge's store and read MEMORY USAGE and used_memory."""
    env = bridge_env(free_port(), "http://127.0.0.1:1", "http://127.0.0.1:1", url, "", "bench")
    prefix = f"{ctx.prefix}mem:"
    env["OAUTH_BRIDGE_REDIS_KEY_PREFIX"] = prefix
    store = build_store(load_settings(env))
    n = ctx.sizes.sessions
    users = max(1, n // 4)  # four sessions per user (browsers, devices) in the per-user index
    used_before = int(client.info("memory")["used_memory"])
    start = time.monotonic()
    try:
        cookies = create_sessions_pipelined(store, n, users)
    finally:
        store.close()
    created_seconds = time.monotonic() - start
    used_after = int(client.info("memory")["used_memory"])
    sample = [c.partition(".")[0] for c in cookies[:: max(1, n // 1000)]]
    session_bytes = [client.memory_usage(f"{prefix}s:{sid}", samples=0) or 0 for sid in sample]
    index_bytes = [client.memory_usage(f"{prefix}u:{1000 + u}", samples=0) or 0 for u in range(50)]
    check = build_store(load_settings(env))
    try:
        readable = check.load(cookies[-1]) is not None
    finally:
        check.close()
    return {
        "sessions_loaded": n,
        "sessions_created_per_second": n / created_seconds,
        "session_readable_by_bridge": readable,
        "memory_usage_bytes_per_session_key": sum(session_bytes) / len(session_bytes),
        "sessions_per_user": n / users,
        "memory_usage_bytes_per_user_index": sum(index_bytes) / len(index_bytes),
        "used_memory_bytes_per_session": (used_after - used_before) / n,
    }


def create_sessions_pipelined(store: Any, n: int, users: int) -> list[str]:
    """N sessions through the store's own create(), with its pipelines batched into a few.

    ``create`` runs one MULTI/EXEC per session; here its client is wrapped so that those
    pipelines queue into one shared pipeline sent every 2,000 sessions. Same keys, same values,
    same TTLs as sign-in writes, without 100,000 round trips.
    """
    real = store._client
    shared = real.pipeline(transaction=False)

    class Batched:
        def pipeline(self, transaction: bool = True) -> Any:
            return _QueueInto(shared)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    store._client = Batched()
    cookies = []
    try:
        for i in range(n):
            cookie, _ = store.create(
                UserInfo(
                    id=str(1000 + i % users), display_name="Ada Admin", email="admin@example.com"
                ),
                # Token length as the emulator issues them (44 characters, oauth_bridge/emulator).
                TokenSet(secrets.token_urlsafe(33), secrets.token_urlsafe(33), time.time() + 3600),
            )
            cookies.append(cookie)
            if len(shared) >= 8000:
                shared.execute()
        shared.execute()
    finally:
        store._client = real
    return cookies


class _QueueInto:
    """A pipeline stand-in whose commands land in a shared pipeline; execute() sends nothing."""

    def __init__(self, shared: Any) -> None:
        self._shared = shared

    def __getattr__(self, name: str) -> Callable[..., Any]:
        command = getattr(self._shared, name)

        def queue(*args: Any, **kwargs: Any) -> Any:
            command(*args, **kwargs)
            return self

        return queue

    def execute(self) -> list[Any]:
        return []


def delete_prefix(client: redis.Redis, prefix: str) -> int:
    """Delete the bench's keys (never FLUSHALL: the Redis may be shared)."""
    deleted = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}*", count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            deleted += int(client.unlink(*batch))
            batch = []
    if batch:
        deleted += int(client.unlink(*batch))
    return deleted


# --- section 3 ------------------------------------------------------------------------------


def section_streaming(ctx: Context) -> dict[str, Any]:
    mb = ctx.sizes.stream_mb
    path = f"/api/4.0/bench/stream?mb={mb}"
    direct_bytes, direct_s = harness.download(
        ctx.upstream.port, path, {"Authorization": f"Bearer {BENCH_TOKEN}"}
    )
    bridge, cookie, _ = start_bridge(ctx, "c_bridge_stream")
    with bridge:
        headers = bridge_headers(cookie)
        for _ in range(4 * ctx.workers):  # every worker has loaded the app and a session
            check_ok(f"http://127.0.0.1:{bridge.port}/api/4.0/user", headers)
        workers = bridge.child_pids()
        baseline = {pid: harness.proc_status_kib(pid, "VmRSS") for pid in workers}
        reset = all(harness.reset_peak_rss(pid) for pid in workers)
        peak_before = {pid: harness.proc_status_kib(pid, "VmHWM") for pid in workers}
        got, bridge_s = harness.download(bridge.port, path, headers)
        peaks = {pid: harness.proc_status_kib(pid, "VmHWM") for pid in workers}
    growth_kib = max(peaks[pid] - max(baseline[pid], peak_before[pid]) for pid in workers)
    return {
        "size_mb": mb,
        "bytes_received": got,
        "complete": got == direct_bytes == mb * 1024 * 1024,
        "direct_mb_per_s": mb / direct_s,
        "bridge_mb_per_s": mb / bridge_s,
        "bridge_over_direct": direct_s / bridge_s,
        "worker_rss_before_mb": max(baseline.values()) / 1024,
        "worker_peak_rss_mb": max(peaks.values()) / 1024,
        "peak_rss_growth_mb": growth_kib / 1024,
        "peak_reset_with_clear_refs": reset,
    }


# --- section 4 ------------------------------------------------------------------------------


def section_slow(ctx: Context) -> dict[str, Any]:
    n, delay = ctx.sizes.slow_count, ctx.sizes.slow_seconds
    path = f"/api/4.0/bench/slow?s={delay}"
    procfile_class = gunicorn_setting("worker_class")
    out: dict[str, Any] = {
        "requests": n,
        "upstream_delay_s": delay,
        "procfile_worker_class": procfile_class,
        "threads_per_gthread_worker": gunicorn_setting("threads"),
        "workers": ctx.workers,
        "by_worker_class": {},
    }
    out["granian_blocking_threads_per_worker"] = GRANIAN_BLOCKING_THREADS
    for worker_class in ("gevent", "gthread", "granian"):
        needs = "granian" if worker_class == "granian" else worker_class
        if needs in ("gevent", "granian") and importlib.util.find_spec(needs) is None:
            out["by_worker_class"][worker_class] = {"error": f"{needs} is not installed"}
            continue
        bridge, cookie, _ = start_bridge(
            ctx,
            f"c_bridge_slow_{worker_class}",
            worker_class=None if worker_class == "granian" else worker_class,
            server="granian" if worker_class == "granian" else "gunicorn",
        )
        with bridge:
            check_ok(f"http://127.0.0.1:{bridge.port}/api/4.0/user", bridge_headers(cookie))
            result = harness.burst(bridge.port, path, bridge_headers(cookie), n, timeout=120)
        out["by_worker_class"][worker_class] = {
            "succeeded": result.ok,
            "failed": result.failed,
            "wall_s": result.wall_seconds,
            "statuses": result.statuses,
            "failure_samples": result.failure_samples,
        }
    out["procfile"] = out["by_worker_class"].get(procfile_class)
    return out


def gunicorn_setting(name: str) -> Any:
    """A value from gunicorn.conf.py as gunicorn would read it (no overriding environment)."""
    namespace: dict[str, Any] = {"__file__": str(REPO_ROOT / "gunicorn.conf.py")}
    code = (REPO_ROOT / "gunicorn.conf.py").read_text()
    saved = os.environ.pop("GUNICORN_WORKER_CLASS", None)
    try:
        exec(compile(code, "gunicorn.conf.py", "exec"), namespace)  # noqa: S102 - our own file
    finally:
        if saved is not None:
            os.environ["GUNICORN_WORKER_CLASS"] = saved
    return namespace[name]


# --- section 5 ------------------------------------------------------------------------------


def section_login(ctx: Context) -> dict[str, Any]:
    """Sign-ins per second: emulator (own process) + bridge under gunicorn + Redis."""
    bridge_port, ui_port, api_port = free_port(), free_port(), free_port()
    redirect_uri = f"http://localhost:{bridge_port}/auth/callback"
    client_id = "bench-" + uuid.uuid4().hex[:8]
    code = (
        "from oauth_bridge.emulator import EmulatorConfig, serve_forever; "
        f"serve_forever(EmulatorConfig(client_apps=(({client_id!r}, {redirect_uri!r}),)), "
        f"'127.0.0.1', {ui_port}, {api_port})"
    )
    emulator = Service("emulator", [sys.executable, "-c", code], ui_port, log_dir=ctx.logs)
    ui, api = f"http://127.0.0.1:{ui_port}", f"http://127.0.0.1:{api_port}"
    env = bridge_env(bridge_port, ui, api, ctx.redis_url, ctx.prefix, client_id)
    env["OAUTH_BRIDGE_RATE_LIMIT_ENABLED"] = "false"  # one client address signs in many times
    argv = server_argv(ctx, bridge_port)
    bridge = Service("c_bridge_login", argv, bridge_port, env=env, log_dir=ctx.logs)
    with emulator:
        harness.wait_port(api_port, 30)
        with bridge:
            cpu_before = bridge.cpu_seconds(), emulator.cpu_seconds()
            result = signin.measure(
                f"http://localhost:{bridge_port}",
                ctx.sizes.login_seconds,
                ctx.sizes.login_concurrency,
            )
            count = max(1, result["sign_ins"] + ctx.sizes.login_concurrency)
            result["cpu_ms_per_sign_in"] = {
                "bridge": 1000 * (bridge.cpu_seconds() - cpu_before[0]) / count,
                "emulator": 1000 * (emulator.cpu_seconds() - cpu_before[1]) / count,
            }
    result["note"] = (
        "browsers already signed in to the emulator; each sign-in is /auth/login -> emulator "
        "/auth -> /auth/callback (code exchange, new session) -> /auth/session"
    )
    return result


# --- report ---------------------------------------------------------------------------------


def _read(data: dict[str, Any], *keys: str) -> Callable[[], float]:
    """A figure of the report, read when the target is added (KeyError: section missing)."""

    def read() -> float:
        value: Any = data
        for key in keys:
            value = value[key]
        return float(value)

    return read


def _at_least(goal: float) -> Callable[[float], bool]:
    return lambda v: v >= goal


def _below(goal: float) -> Callable[[float], bool]:
    return lambda v: v < goal


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its figure and whether it is met (None when the section failed)."""
    rows: list[dict[str, Any]] = []

    def add(
        name: str, figure: Callable[[], float], goal: str, met: Callable[[float], bool]
    ) -> None:
        try:
            value = float(figure())
        except (KeyError, TypeError, ZeroDivisionError):
            rows.append({"target": name, "figure": None, "goal": goal, "met": None})
            return
        rows.append({"target": name, "figure": round(value, 3), "goal": goal, "met": met(value)})

    s1 = report.get("1_proxy_overhead", {})
    r = s1.get("ratios", {})
    # issue 12: (mode, what, level, goal) -> the ratio or difference against the Node peer
    speed_targets = [
        ("nginx", "over_node_rps", "16", 3.0),
        ("nginx", "over_node_rps", "64", 3.0),
        ("nginx", "minus_node_p50_ms", "1", 0.0),
        ("nginx", "minus_node_p99_ms", "64", 0.0),
        ("embedded", "over_node_rps", "16", 1.0),
        ("embedded", "over_node_rps", "64", 1.0),
        ("embedded", "minus_node_p99_ms", "64", 0.0),
    ]
    for mode, what, level, goal in speed_targets:
        if what == "over_node_rps":
            name, wanted, met = f"{mode}/Node rps @{level}", f">= {goal:g}", _at_least(goal)
        else:
            quantile = what.split("_")[2]
            name, wanted, met = (
                f"{mode} {quantile} - Node {quantile} @{level} (ms)",
                "< 0",
                _below(goal),
            )
        add(name, _read(r, level, f"{mode}_{what}"), wanted, met)
    cpu = s1.get("cpu_us_per_request", {})
    for leg in ("b_nginx_proxy", "c_node_peer", "d_bridge_embedded", "e_bridge_nginx_mode"):
        add(f"CPU us/request {leg}", _read(cpu, leg), "(reported)", lambda v: v > 0)
    s2 = report.get("2_redis", {})
    add(
        "Redis commands / request",
        lambda: s2["client_commands_per_request"],
        "== 1",
        lambda v: abs(v - 1) < 1e-9,
    )
    add(
        "Redis bytes / session",
        lambda: s2["used_memory_bytes_per_session"],
        "<= 1024",
        lambda v: v <= 1024,
    )
    s3 = report.get("3_streaming", {})
    add("stream peak RSS growth (MB)", lambda: s3["peak_rss_growth_mb"], "<= 50", lambda v: v <= 50)
    s4 = report.get("4_slow_upstream", {}).get("procfile") or {}
    n = report.get("4_slow_upstream", {}).get("requests", 0)
    add(f"slow: succeeded of {n}", lambda: s4["succeeded"], f"== {n}", lambda v: v == n)
    add("slow: wall time (s)", lambda: s4["wall_s"], "<= 5", lambda v: v <= 5)
    s5 = report.get("5_login", {})
    add("sign-ins / second", lambda: s5["sign_ins_per_second"], "(reported)", lambda v: v > 0)
    return rows


def print_table(report: dict[str, Any]) -> None:
    s1 = report.get("1_proxy_overhead", {})
    print("\n1. proxy overhead (GET /api/4.0/user, rps / p50 ms / p99 ms)")
    for name, levels in s1.get("configs", {}).items():
        cells = "  ".join(
            f"c={c}: {v['rps']:8.0f} {v['p50_ms']:6.2f} {v['p99_ms']:7.2f}"
            for c, v in levels.items()
        )
        cpu = s1.get("cpu_us_per_request", {}).get(name, float("nan"))
        print(f"  {name:20} {cells}  cpu {cpu:6.0f} us/req")
        for c, v in levels.items():
            shares = {k[len("cpu_us_per_request_") :]: u for k, u in v.items() if "_request_" in k}
            if shares:
                parts = ", ".join(f"{who} {us:.0f}" for who, us in shares.items())
                print(f"  {'':20} c={c}: cpu us/req by process: {parts}")
    s3 = report.get("3_streaming", {})
    if s3:
        print(
            f"\n3. streaming {s3['size_mb']} MB: direct {s3['direct_mb_per_s']:.0f} MB/s, "
            f"bridge {s3['bridge_mb_per_s']:.0f} MB/s, "
            f"worker peak RSS {s3['worker_peak_rss_mb']:.0f} MB"
        )
    s4 = report.get("4_slow_upstream", {})
    for cls, v in s4.get("by_worker_class", {}).items():
        if "error" in v:
            print(f"4. slow upstream, {cls:7}: not measured ({v['error']})")
            continue
        print(
            f"4. slow upstream, {cls:7}: {v['succeeded']}/{s4['requests']} in {v['wall_s']:.2f} s"
        )
    print("\ntarget                                    figure      goal      met")
    for row in report["targets"]:
        met = {True: "yes", False: "NO", None: "n/a"}[row["met"]]
        figure = "n/a" if row["figure"] is None else f"{row['figure']:.3f}"
        print(f"  {row['target']:38} {figure:>10}  {row['goal']:>9}  {met}")
    for name, error in report.get("errors", {}).items():
        print(f"  section {name} failed: {error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="oauth_bridge benchmark (issue 7)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--workers", type=int, default=min(os.cpu_count() or 2, 4))
    parser.add_argument("--json-out", type=Path, help="also write the JSON report here")
    parser.add_argument("--log-dir", type=Path, help="keep the servers' logs here")
    parser.add_argument(
        "--app-dir", type=Path, default=REPO_ROOT, help="serve app:app from this checkout"
    )
    parser.add_argument(
        "--server",
        choices=("gunicorn", "granian"),
        default="gunicorn",
        help="what serves the bridge in sections 1-3 and 5 (section 4 measures both)",
    )
    parser.add_argument(
        "--only", default="12345", help="sections to run, e.g. 13 (default: all five)"
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    prefix = f"oauth_bridge_bench:{uuid.uuid4().hex[:12]}:"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="oauth-bridge-bench-") as tmp:
        logs = Path(tmp) if args.log_dir is None else args.log_dir
        logs.mkdir(parents=True, exist_ok=True)
        upstream_port = free_port()
        upstream = Service(
            "upstream",
            [
                sys.executable,
                str(REPO_ROOT / "bench" / "upstream.py"),
                "--port",
                str(upstream_port),
            ],
            upstream_port,
            log_dir=logs,
        )
        ctx = Context(
            sizes,
            args.workers,
            args.redis_url,
            prefix,
            logs,
            upstream,
            args.app_dir.resolve(),
            args.server,
        )
        report: dict[str, Any] = {
            "quick": args.quick,
            "workers": args.workers,
            "cpus": os.cpu_count(),
        }
        errors: dict[str, str] = {}
        sections: list[tuple[str, str, Callable[[Context], dict[str, Any]]]] = [
            ("1", "1_proxy_overhead", section_overhead),
            ("2", "2_redis", section_redis),
            ("3", "3_streaming", section_streaming),
            ("4", "4_slow_upstream", section_slow),
            ("5", "5_login", section_login),
        ]
        shared = redis.Redis.from_url(args.redis_url)
        try:
            with upstream:
                for key, name, run in sections:
                    if key not in args.only:
                        continue
                    print(f"running section {name} ...", file=sys.stderr, flush=True)
                    try:
                        report[name] = run(ctx)
                    except Exception as exc:  # report the others; say which one failed
                        errors[name] = f"{type(exc).__name__}: {exc}"
                        print(f"section {name} failed: {errors[name]}", file=sys.stderr)
        finally:
            with suppress(redis.RedisError):
                delete_prefix(shared, prefix)
            shared.close()
    report["targets"] = targets(report)
    report["errors"] = errors
    report["seconds"] = round(time.monotonic() - started, 1)
    text = json.dumps(report, indent=2, sort_keys=False)
    print(text)
    if args.json_out:
        args.json_out.write_text(text)
    print_table(report)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

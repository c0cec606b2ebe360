"""Bounded hostile load: slow bodies and anonymous sign-ins while signed-in users keep calling.

The experiment of issue 11's "Done when". Starts everything itself on loopback: a private
``redis-server`` with ``maxmemory`` and ``noeviction``, the Looker emulator, and the bridge as
production runs it (``gunicorn app:app -c gunicorn.conf.py``, configured by ``OAUTH_BRIDGE_*``,
sign-in rate limits at their defaults). It signs ``--users`` sessions in through the emulator's
real sign-in pages (each from its own loopback address, as real users come from their own), then
for ``--duration`` seconds:

- each session calls ``GET /api/4.0/user`` in a loop, every call's status and latency recorded
  (each call on a new connection unless ``--keep-alive``);
- ``--slow`` raw connections send the headers of an anonymous ``POST /api/4.0/looks`` (CSRF header,
  a large ``Content-Length``, no cookie) and then one body byte every ``--slow-interval`` seconds;
- ``--logins`` anonymous ``GET /auth/login`` requests come from 127.0.0.1 (most get 429 from the
  per-address sign-in limit: that is the defence working, so they are counted by status);
- ``/healthz`` is polled and Redis's ``used_memory`` sampled.

It prints a JSON report and exits 0 only when every goal holds: every signed-in call answered 200
with its own user in under ``--max-latency`` seconds, Redis stayed under ``maxmemory``, and every
session still answers ``/auth/session`` with 200 at the end. How each slow connection ended,
``/healthz``, worker memory and the logins' statuses are reported, not judged.

Usage (from the repository root)::

    python tools/hostile_load.py                   # 20 users, 2,000 slow, 2,000 logins, 30 s
    python tools/hostile_load.py --quick           # 3 users, 50 slow, 50 logins, 5 s
    python tools/hostile_load.py --slow-signed-in  # the slow uploads carry a session's cookie
    python tools/hostile_load.py --set BODY_READ_TIMEOUT=5    # any OAUTH_BRIDGE_* setting

Sessions are spread over the seed users, so ``--users`` above 3 x ``MAX_SESSIONS_PER_USER`` would
end the oldest on purpose (and count them as lost).
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import redis
import requests
from cryptography.fernet import Fernet
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from oauth_bridge.emulator import EmulatorConfig, EmulatorServer  # noqa: E402
from oauth_bridge.emulator.browser_login import browser_sign_in  # noqa: E402
from oauth_bridge.emulator.seed import SEED_USERS  # noqa: E402

CLIENT_ID = "oauth-bridge-hostile-load"
CSRF_HEADER = "X-Looker-AppId"
API_HEADERS = {CSRF_HEADER: "oauth-bridge-hostile-load"}
ATTACKER = "127.0.0.1"
"""The one address every anonymous request comes from."""


@dataclass(frozen=True)
class Plan:
    """What one run does; the flags, checked."""

    users: int = 20
    slow: int = 2000
    logins: int = 2000
    duration: float = 30.0
    workers: int = 2
    maxmemory_mb: int = 64
    max_latency: float = 2.0
    slow_interval: float = 5.0
    slow_content_length: int = 1_000_000
    login_threads: int = 4
    think: float = 0.05
    keep_alive: bool = False
    slow_signed_in: bool = False
    """The slow uploads carry the cookie of one more signed-in session (a user turned hostile),
    so they pass the checks and reach the body reading itself."""
    """Reuse each user's connection; by default every call opens a new one, as a browser does
    once the bridge's keep-alive ran out, so a bridge that stops accepting connections shows."""
    call_timeout: float = 10.0
    settings: Mapping[str, str] = field(default_factory=dict)
    """Extra ``OAUTH_BRIDGE_*`` settings (names without the prefix)."""


QUICK = {"users": 3, "slow": 50, "logins": 50, "duration": 5.0}


# --------------------------------------------------------------------------- small plumbing
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _raise_open_files(needed: int) -> int:
    """Lift the soft open-files limit as far as the hard one allows; returns the new soft limit.
    Children (redis-server, gunicorn's workers) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, wait: float = 20) -> None:
    """Signal one process this tool started (by its pid), then kill it if it does not go."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def _private_redis(directory: Path, maxmemory_mb: int) -> Iterator[redis.Redis]:
    """A throwaway redis-server on a free loopback port, out of memory at ``maxmemory_mb``."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed")
    port = _free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    argv += ["no", "--dir", str(directory), "--maxmemory", f"{maxmemory_mb}mb"]
    argv += ["--maxmemory-policy", "noeviction", "--maxclients", "10000"]
    process = subprocess.Popen(  # noqa: S603 - the redis-server found on PATH, our own flags
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    client = redis.Redis(port=port, socket_timeout=5)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the private redis-server did not start") from None
                time.sleep(0.05)
        yield client
    finally:
        client.close()
        _stop(process)


@dataclass
class Bridge:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def _gunicorn(
    plan: Plan, emulator: EmulatorServer, redis_url: str, directory: Path
) -> Iterator[Bridge]:
    """The bridge the Procfile's way, on a free port, ready (``/readyz`` 200) when yielded."""
    port = _free_port()
    url = f"http://localhost:{port}"
    redirect_uri = f"{url}/auth/callback"
    emulator.state.register_client_app(CLIENT_ID, redirect_uri)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OAUTH_BRIDGE_", "LOOKERSDK_", "GUNICORN_"))
    }
    env.update(
        {
            "OAUTH_BRIDGE_LOOKER_URL": emulator.ui_url,
            "OAUTH_BRIDGE_LOOKER_API_URL": emulator.api_url,
            "OAUTH_BRIDGE_CLIENT_ID": CLIENT_ID,
            "OAUTH_BRIDGE_REDIRECT_URI": redirect_uri,
            "OAUTH_BRIDGE_SECRET_KEY": Fernet.generate_key().decode(),
            "OAUTH_BRIDGE_TOKEN_KEYS": Fernet.generate_key().decode(),
            "OAUTH_BRIDGE_REDIS_URL": redis_url,
            "OAUTH_BRIDGE_COOKIE_SECURE": "false",
            "OAUTH_BRIDGE_LOG_LEVEL": "WARNING",
            "WEB_CONCURRENCY": str(plan.workers),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        }
    )
    env.update({f"OAUTH_BRIDGE_{name}": value for name, value in plan.settings.items()})
    log = directory / "gunicorn.log"
    argv = [sys.executable, "-m", "gunicorn", "app:app", "-c", "gunicorn.conf.py"]
    argv += ["--bind", f"127.0.0.1:{port}"]
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            argv, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    bridge = Bridge(url, port, process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{bridge.log_text()[-3000:]}")
            try:
                with requests.get(f"{url}/readyz", timeout=5) as ready:
                    if ready.status_code == 200:
                        break
            except requests.RequestException:
                pass  # the arbiter listens before its workers have booted
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn never became ready:\n{bridge.log_text()[-3000:]}")
            time.sleep(0.1)
        yield bridge
    finally:
        _stop(process, signal.SIGINT)  # quick shutdown: the run is over


def _worker_rss_mib(master: int) -> float:
    """The sum of the gunicorn workers' resident memory (children of the arbiter)."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return 0.0
    total = 0
    for pid in children:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue  # a worker being replaced
    return round(total / 1024, 1)


# --------------------------------------------------------------------------- signed-in users
class _SourceAddress(HTTPAdapter):
    """Connections from one loopback address: each simulated user is its own client."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(*args, **kwargs)


@dataclass
class _User:
    email: str
    address: str
    http: requests.Session


def _sign_in(url: str, index: int) -> _User:
    seed = SEED_USERS[index % len(SEED_USERS)]  # several sessions per seed user
    address = f"127.0.1.{index % 250 + 1}"
    http = requests.Session()
    adapter = _SourceAddress(address)
    http.mount("http://", adapter)
    start = f"{url}/auth/login?return_to=/auth/session"
    final = browser_sign_in(http, start, seed.email, seed.password)
    with final:
        body = final.json() if final.status_code == 200 else {}
    if not body.get("authenticated"):
        http.close()
        raise RuntimeError(f"sign-in of {seed.email} ended with {final.status_code}")
    return _User(seed.email, address, http)


class _Calls:
    """Every signed-in call: its latency, and why it failed when it did."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.failures: Counter[str] = Counter()
        self.samples: list[str] = []

    def add(self, latency: float, failure: str | None, detail: str = "") -> None:
        with self.lock:
            self.latencies.append(latency)
            if failure is not None:
                self.failures[failure] += 1
                if len(self.samples) < 5:
                    self.samples.append(detail[:200])


def _call_loop(url: str, user: _User, plan: Plan, stop: threading.Event, calls: _Calls) -> None:
    headers = API_HEADERS if plan.keep_alive else {**API_HEADERS, "Connection": "close"}
    while not stop.is_set():
        started = time.perf_counter()
        failure: str | None = None
        detail = ""
        try:
            with user.http.get(
                f"{url}/api/4.0/user", headers=headers, timeout=plan.call_timeout
            ) as answer:
                if answer.status_code != 200:
                    failure, detail = str(answer.status_code), answer.text
                elif answer.json().get("email") != user.email:
                    failure, detail = "wrong_user", answer.text
        except (requests.RequestException, ValueError) as exc:
            failure, detail = type(exc).__name__, str(exc)
        calls.add(time.perf_counter() - started, failure, f"{user.email}: {detail}")
        stop.wait(plan.think)


# --------------------------------------------------------------------------- the attack
@dataclass
class _Slow:
    sock: socket.socket
    opened: float
    state: str = "connecting"  # -> open -> answered / closed
    status: int | None = None
    closed: bool = False
    ended: float | None = None
    head: bytes = b""
    error: str = ""


class SlowBodies:
    """``count`` anonymous uploads at one byte per ``interval``, on one selector thread."""

    def __init__(self, port: int, plan: Plan, cookie: str = "") -> None:
        self.port = port
        self.plan = plan
        self.conns: list[_Slow] = []
        self.opened_in = 0.0
        self.request_head = (
            f"POST /api/4.0/looks HTTP/1.1\r\nHost: localhost:{port}\r\n"
            + (f"Cookie: {cookie}\r\n" if cookie else "")
            + f"{CSRF_HEADER}: oauth-bridge-hostile-load\r\nContent-Type: application/json\r\n"
            f"Content-Length: {plan.slow_content_length}\r\n\r\n"
        ).encode("ascii")

    def run(self, stop: threading.Event) -> None:
        selector = selectors.DefaultSelector()
        started = time.monotonic()
        try:
            for n in range(self.plan.slow):
                if stop.is_set():
                    break
                self._open(selector)
                if n % 50 == 49:
                    self._pump(selector, 0)
            self.opened_in = time.monotonic() - started
            next_byte = time.monotonic() + self.plan.slow_interval
            while not stop.is_set():
                self._pump(selector, min(0.2, max(0.0, next_byte - time.monotonic())))
                if time.monotonic() >= next_byte:
                    self._trickle(selector)
                    next_byte += self.plan.slow_interval
        finally:
            for conn in self.conns:
                if not conn.closed:
                    conn.sock.close()
            selector.close()

    def _open(self, selector: selectors.BaseSelector) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        conn = _Slow(sock, time.monotonic())
        self.conns.append(conn)
        code = sock.connect_ex((ATTACKER, self.port))
        if code in (0, errno.EINPROGRESS):
            selector.register(sock, selectors.EVENT_WRITE, conn)
        else:
            self._end(selector, conn, "connect_failed", errno.errorcode.get(code, str(code)))

    def _end(self, selector: selectors.BaseSelector, conn: _Slow, state: str, error: str) -> None:
        if conn.state not in ("connecting", "open"):
            state = conn.state  # answered first, closed after
        conn.state, conn.error, conn.closed = state, error, True
        conn.ended = conn.ended or time.monotonic()
        try:
            selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    def _pump(self, selector: selectors.BaseSelector, timeout: float) -> None:
        for key, events in selector.select(timeout):
            conn: _Slow = key.data
            if conn.state == "connecting" and events & selectors.EVENT_WRITE:
                code = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    self._end(selector, conn, "connect_failed", errno.errorcode.get(code, ""))
                    continue
                try:
                    conn.sock.send(self.request_head)  # a few hundred bytes: one send
                except OSError as exc:
                    self._end(selector, conn, "closed", type(exc).__name__)
                    continue
                conn.state = "open"
                selector.modify(conn.sock, selectors.EVENT_READ, conn)
            elif events & selectors.EVENT_READ:
                self._read(selector, conn)

    def _read(self, selector: selectors.BaseSelector, conn: _Slow) -> None:
        try:
            data = conn.sock.recv(65536)
        except OSError as exc:
            self._end(selector, conn, "closed", type(exc).__name__)
            return
        if not data:
            self._end(selector, conn, "closed", "eof")
            return
        if conn.status is None:
            conn.head += data[:512]
            line = conn.head.split(b"\r\n", 1)[0].split()
            if len(line) >= 2 and line[0].startswith(b"HTTP/") and line[1].isdigit():
                conn.status, conn.state, conn.ended = int(line[1]), "answered", time.monotonic()

    def _trickle(self, selector: selectors.BaseSelector) -> None:
        for conn in self.conns:
            if conn.state == "open":
                try:
                    conn.sock.send(b" ")
                except BlockingIOError:
                    pass  # the bridge is not reading: exactly the point
                except OSError as exc:
                    self._end(selector, conn, "closed", type(exc).__name__)

    def summary(self) -> dict[str, Any]:
        ended: Counter[str] = Counter()
        for conn in self.conns:
            if conn.state == "answered":
                ended[f"answered_{conn.status}"] += 1
            elif conn.state == "closed":
                ended["closed_by_bridge_without_answer"] += 1
            elif conn.state == "open":
                ended["still_open_at_end_no_answer"] += 1
            elif conn.state == "connecting":
                ended["never_connected"] += 1
            else:
                ended[f"connect_failed_{conn.error}"] += 1
        lifetimes = sorted(c.ended - c.opened for c in self.conns if c.ended is not None)
        return {
            "requested": self.plan.slow,
            # connected: the handshake is done (the kernel may still hold it in the listen backlog)
            "connected": sum(
                1 for c in self.conns if c.state not in ("connecting", "connect_failed")
            ),
            "opened_in_s": round(self.opened_in, 2),
            "ended": dict(sorted(ended.items())),
            "answered_then_closed_by_bridge": sum(
                1 for c in self.conns if c.state == "answered" and c.error == "eof"
            ),
            "seconds_until_answered_or_closed": {
                "median": _percentile(lifetimes, 0.5),
                "max": round(lifetimes[-1], 3) if lifetimes else None,
            },
        }


class Logins:
    """``count`` anonymous ``GET /auth/login`` from the attacker's address, a new browser each."""

    def __init__(self, url: str, plan: Plan) -> None:
        self.url = url
        self.plan = plan
        self.lock = threading.Lock()
        self.left = plan.logins
        self.statuses: Counter[str] = Counter()
        self.elapsed = 0.0

    def run(self, stop: threading.Event) -> None:
        started = time.monotonic()
        threads = [
            threading.Thread(target=self._loop, args=(stop,), daemon=True)
            for _ in range(self.plan.login_threads)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.elapsed = time.monotonic() - started

    def _take(self) -> bool:
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True

    def _loop(self, stop: threading.Event) -> None:
        with requests.Session() as http:
            while not stop.is_set() and self._take():
                http.cookies.clear()  # every request a new browser
                try:
                    with http.get(
                        f"{self.url}/auth/login", allow_redirects=False, timeout=10
                    ) as answer:
                        outcome = str(answer.status_code)
                except requests.RequestException as exc:
                    outcome = type(exc).__name__
                with self.lock:
                    self.statuses[outcome] += 1

    def summary(self) -> dict[str, Any]:
        return {
            "requested": self.plan.logins,
            "sent": sum(self.statuses.values()),
            "by_status": dict(sorted(self.statuses.items())),
            "seconds": round(self.elapsed, 2),
        }


class Probes:
    """``/healthz``, Redis's ``used_memory`` and the workers' memory, sampled during the run."""

    def __init__(self, bridge: Bridge, store: redis.Redis) -> None:
        self.bridge = bridge
        self.store = store
        self.health: Counter[str] = Counter()
        self.health_max = 0.0
        self.used_memory_max = 0
        self.rss_max = 0.0

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                with requests.get(f"{self.bridge.url}/healthz", timeout=5) as answer:
                    self.health[str(answer.status_code)] += 1
            except requests.RequestException as exc:
                self.health[type(exc).__name__] += 1
            self.health_max = max(self.health_max, time.perf_counter() - started)
            try:
                used = int(self.store.info("memory")["used_memory"])
                self.used_memory_max = max(self.used_memory_max, used)
            except redis.RedisError:
                pass
            self.rss_max = max(self.rss_max, _worker_rss_mib(self.bridge.process.pid))
            stop.wait(0.5)


# --------------------------------------------------------------------------- the run
def _percentile(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[max(0, math.ceil(fraction * len(ordered)) - 1)], 3)


def _git_head() -> str:
    try:
        out = subprocess.run(  # noqa: S603 - a fixed git command on this checkout
            ["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],  # noqa: S607 - PATH's git
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return out.stdout.strip()
    except OSError:
        return ""


def run(plan: Plan) -> dict[str, Any]:
    """One bounded run; the report (see the module docstring), ``ok`` and ``goals`` included."""
    started = time.monotonic()
    needed = plan.slow + plan.users * 4 + plan.login_threads * 4 + 512
    open_files = _raise_open_files(needed * 2)  # both ends of every connection on this host
    notes: list[str] = []
    if open_files < needed * 2:
        notes.append(f"open-files limit {open_files} may be too low for {plan.slow} connections")
    report: dict[str, Any] = {
        "code": _git_head(),
        "plan": {k: v for k, v in vars(plan).items() if k != "settings"}
        | {"settings": dict(plan.settings)},
        "open_files_limit": open_files,
    }
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hostile-")))
        store = stack.enter_context(_private_redis(directory, plan.maxmemory_mb))
        redis_url = f"redis://127.0.0.1:{store.connection_pool.connection_kwargs['port']}/0"
        emulator = stack.enter_context(
            EmulatorServer(EmulatorConfig(token_ttl=3600), host="127.0.0.1", port=0, api_port=0)
        )
        bridge = stack.enter_context(_gunicorn(plan, emulator, redis_url, directory))
        users = [_sign_in(bridge.url, n) for n in range(plan.users)]
        for user in users:
            stack.callback(user.http.close)
        memory_before = int(store.info("memory")["used_memory"])

        stop_users, stop_attack = threading.Event(), threading.Event()
        cookie = ""
        if plan.slow_signed_in:
            hostile = _sign_in(bridge.url, plan.users)  # its own address, not one of the users
            stack.callback(hostile.http.close)
            cookie = "; ".join(f"{c.name}={c.value}" for c in hostile.http.cookies)
        calls, slow = _Calls(), SlowBodies(bridge.port, plan, cookie)
        logins, probes = Logins(bridge.url, plan), Probes(bridge, store)
        attack = [
            threading.Thread(target=slow.run, args=(stop_attack,), daemon=True),
            threading.Thread(target=logins.run, args=(stop_attack,), daemon=True),
            threading.Thread(target=probes.run, args=(stop_attack,), daemon=True),
        ]
        callers = [
            threading.Thread(
                target=_call_loop, args=(bridge.url, u, plan, stop_users, calls), daemon=True
            )
            for u in users
        ]
        for thread in attack + callers:
            thread.start()
        time.sleep(plan.duration)
        stop_users.set()
        for thread in callers:
            thread.join(timeout=plan.call_timeout + 5)
        stop_attack.set()
        for thread in attack:
            thread.join(timeout=30)
        if any(t.is_alive() for t in attack + callers):
            notes.append("some load threads did not stop in time")

        lost = [u.email for u in users if not _session_alive(bridge.url, u)]
        info = store.info("memory")
        errors = store.info("errorstats")
        maxmemory = int(str(store.config_get("maxmemory")["maxmemory"]))
        log = bridge.log_text()

    latencies = sorted(calls.latencies)
    failed = sum(calls.failures.values())
    slow_calls = sum(1 for x in latencies if x >= plan.max_latency)
    peak = max(int(info["used_memory_peak"]), probes.used_memory_max)
    report |= {
        "signed_in_calls": {
            "sessions": len(users),
            "total": len(latencies),
            "failed": failed,
            "failed_by_reason": dict(calls.failures),
            "failure_samples": calls.samples,
            "at_or_over_max_latency": slow_calls,
            "latency_s": {
                "p50": _percentile(latencies, 0.5),
                "p99": _percentile(latencies, 0.99),
                "max": round(latencies[-1], 3) if latencies else None,
            },
        },
        "slow_bodies": slow.summary(),
        "anonymous_logins": logins.summary(),
        "redis": {
            "maxmemory": maxmemory,
            "used_memory_before_attack": memory_before,
            "used_memory_peak": peak,
            "used_memory_at_end": int(info["used_memory"]),
            "oom_errors": int(errors.get("errorstat_OOM", {}).get("count", 0)),
        },
        "sessions": {"checked": len(users), "lost": len(lost), "lost_users": lost},
        "healthz_during_attack": {
            "probes": sum(probes.health.values()),
            "by_status": dict(probes.health),
            "max_latency_s": round(probes.health_max, 3),
        },
        "bridge": {
            "workers": plan.workers,
            "worker_rss_mib_peak_sum": probes.rss_max,
            "log_error_lines": sum(
                1 for line in log.splitlines() if "ERROR" in line or "Traceback" in line
            ),
            "worker_timeouts": log.count("WORKER TIMEOUT"),
        },
        "notes": notes,
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    goals = {
        "every_signed_in_call_succeeded_under_max_latency": bool(latencies)
        and failed == 0
        and slow_calls == 0,
        "redis_stayed_under_maxmemory": peak < maxmemory,
        "no_session_lost": not lost,
    }
    report["goals"] = goals
    report["ok"] = all(goals.values())
    return report


def _session_alive(url: str, user: _User) -> bool:
    try:
        with user.http.get(f"{url}/auth/session", timeout=10) as answer:
            return answer.status_code == 200 and answer.json().get("authenticated") is True
    except (requests.RequestException, ValueError):
        return False


def parse_plan(argv: list[str] | None = None) -> Plan:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    defaults = Plan()
    parser.add_argument("--quick", action="store_true", help="smoke size: " + str(QUICK))
    parser.add_argument("--users", type=int, help=f"signed-in sessions ({defaults.users})")
    parser.add_argument("--slow", type=int, help=f"slow-body connections ({defaults.slow})")
    parser.add_argument("--logins", type=int, help=f"anonymous sign-ins ({defaults.logins})")
    parser.add_argument("--duration", type=float, help=f"seconds of load ({defaults.duration})")
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--maxmemory-mb", type=int, default=defaults.maxmemory_mb)
    parser.add_argument("--max-latency", type=float, default=defaults.max_latency)
    parser.add_argument("--slow-interval", type=float, default=defaults.slow_interval)
    parser.add_argument("--slow-content-length", type=int, default=defaults.slow_content_length)
    parser.add_argument("--login-threads", type=int, default=defaults.login_threads)
    parser.add_argument(
        "--keep-alive", action="store_true", help="signed-in users reuse their connections"
    )
    parser.add_argument(
        "--slow-signed-in",
        action="store_true",
        help="slow uploads carry a signed-in session's cookie (they reach the body reading)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an OAUTH_BRIDGE_ setting without the prefix, e.g. RATE_LIMIT_LOGIN='100 per minute'",
    )
    args = parser.parse_args(argv)
    sizes: dict[str, Any] = dict(QUICK) if args.quick else {}
    for name in ("users", "slow", "logins", "duration"):
        if getattr(args, name) is not None:
            sizes[name] = getattr(args, name)
        sizes.setdefault(name, getattr(defaults, name))
    settings = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--set wants NAME=VALUE, got {item!r}")
        settings[name.removeprefix("OAUTH_BRIDGE_")] = value
    chosen = {f.name: getattr(args, f.name) for f in fields(Plan) if f.name in vars(args)}
    plan = replace(defaults, **(chosen | sizes), settings=settings)
    if plan.users < 1 or plan.users > 249 or plan.slow < 0 or plan.logins < 0:
        parser.error("--users must be 1-249 (one loopback address each); --slow, --logins >= 0")
    if plan.duration <= 0 or plan.duration > 600:
        parser.error("--duration must be in (0, 600] seconds: the experiment is bounded")
    return plan


def main(argv: list[str] | None = None) -> int:
    report = run(parse_plan(argv))
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

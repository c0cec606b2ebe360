"""Bounded soak: many signed-in users call the bridge while their tokens keep expiring.

Starts everything itself on loopback (the Looker emulator, one bridge in a threaded server, real
Redis under a fresh key prefix that it deletes afterwards), signs ``--users`` sessions in through
the emulator's real sign-in pages, then lets ``--parallel`` threads per session call
``/api/4.0/user`` until ``--duration`` seconds have passed. Tokens live ``--token-ttl`` seconds.
It stops by itself and exits 0 only when:

- no request failed (every answer 200 with the session's own user);
- no session was lost (each still answers ``/auth/session`` with 200 at the end);
- refreshes are exact: Looker's count equals the sum of the per-session token writes, each
  session refreshed at most once per token lifetime (plus one), and ``/metrics`` agrees.

Usage (from the repository root)::

    python tools/soak.py                                  # 50 users, 60 s, tokens of 5 s
    python tools/soak.py --users 10 --duration 12         # the CI size
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from oauth_bridge.config import load_settings, parse_networks  # noqa: E402
from oauth_bridge.emulator import EmulatorConfig, EmulatorServer  # noqa: E402
from oauth_bridge.emulator.browser_login import browser_sign_in  # noqa: E402
from oauth_bridge.emulator.seed import SEED_USERS  # noqa: E402
from oauth_bridge.factory import create_app  # noqa: E402
from oauth_bridge.services import get_services  # noqa: E402

CLIENT_ID = "soak-client"
API_HEADERS = {"X-Looker-AppId": "oauth-bridge-soak"}


@dataclass
class SoakReport:
    users: int
    parallel: int
    duration: float
    token_ttl: int
    requests: int = 0
    failures: int = 0
    failure_samples: list[str] = field(default_factory=list)
    lost_sessions: int = 0
    looker_refreshes: int = 0
    session_refreshes: int = 0
    max_refreshes_per_session: int = 0
    allowed_refreshes_per_session: int = 0
    metrics_refreshes: float = -1.0
    elapsed: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _User:
    email: str
    http: requests.Session
    cookie: str
    signed_in_at: float


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.failures = 0
        self.samples: list[str] = []

    def add(self, ok: bool, detail: str = "") -> None:
        with self.lock:
            self.requests += 1
            if not ok:
                self.failures += 1
                if len(self.samples) < 10:
                    self.samples.append(detail[:300])


class _QuietHandler(WSGIRequestHandler):
    """No access line per request: thousands of them would bury the report."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@contextmanager
def _bridge(
    emulator: EmulatorServer, redis_url: str, prefix: str, refresh_margin: int
) -> Iterator[tuple[str, Any]]:
    """A real bridge app in a threaded werkzeug server on a free loopback port."""
    holder: list[Callable[..., Any]] = []

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return holder[0](environ, start_response)

    server: BaseWSGIServer = make_server(
        "127.0.0.1", 0, wsgi, threaded=True, request_handler=_QuietHandler
    )
    url = f"http://localhost:{server.server_port}"
    settings = load_settings(
        {},
        looker_url=emulator.ui_url,
        looker_api_url=emulator.api_url,
        client_id=CLIENT_ID,
        redirect_uri=f"{url}/auth/callback",
        secret_key=uuid.uuid4().hex + uuid.uuid4().hex,
        token_keys=(Fernet.generate_key(),),
        redis_url=redis_url,
        redis_key_prefix=prefix,
        cookie_secure=False,
        refresh_margin=refresh_margin,
        rate_limit_enabled=False,  # every simulated user signs in from 127.0.0.1
        metrics_networks=parse_networks("127.0.0.1"),  # the soak reads /metrics
        log_level="WARNING",
    )
    app = create_app(settings)
    holder.append(app.wsgi_app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield url, app
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _sign_in(url: str, cookie_name: str, index: int) -> _User:
    seed = SEED_USERS[index % len(SEED_USERS)]
    email, password = seed.email, seed.password
    http = requests.Session()
    final = browser_sign_in(http, f"{url}/auth/login?return_to=/auth/session", email, password)
    final.close()
    cookie = http.cookies.get(cookie_name)
    if not cookie:
        http.close()
        raise RuntimeError(f"sign-in of {email} did not set {cookie_name}")
    return _User(email, http, cookie, time.time())


def _worker(
    url: str, cookie_name: str, user: _User, deadline: float, counters: _Counters, seed: int
) -> None:
    rng = random.Random(seed)  # noqa: S311 - think times, not secrets
    with requests.Session() as http:
        http.cookies.set(cookie_name, user.cookie)
        while time.monotonic() < deadline:
            try:
                with http.get(f"{url}/api/4.0/user", headers=API_HEADERS, timeout=30) as answer:
                    ok = answer.status_code == 200 and answer.json().get("email") == user.email
                    counters.add(ok, f"{user.email}: {answer.status_code} {answer.text[:200]}")
            except (requests.RequestException, ValueError) as exc:
                counters.add(False, f"{user.email}: {type(exc).__name__}")
            time.sleep(rng.uniform(0.02, 0.1))


def _metrics_refreshes(url: str) -> float:
    with requests.get(f"{url}/metrics", timeout=10) as response:
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == "oauth_bridge_token_refreshes_total":
                    return float(sample.value)
    return -1.0


def run_soak(
    *,
    users: int = 50,
    parallel: int = 2,
    duration: float = 60.0,
    token_ttl: int = 5,
    refresh_margin: int = 1,
    redis_url: str = "redis://127.0.0.1:6379/0",
) -> SoakReport:
    """Run one bounded soak and judge it (see the module docstring)."""
    if token_ttl <= refresh_margin:
        raise ValueError("token_ttl must exceed refresh_margin")
    report = SoakReport(users=users, parallel=parallel, duration=duration, token_ttl=token_ttl)
    prefix = f"soak:{uuid.uuid4().hex[:12]}:"
    started = time.monotonic()
    config = EmulatorConfig(token_ttl=token_ttl, client_apps=((CLIENT_ID, "pending"),))
    with EmulatorServer(config, host="127.0.0.1", port=0, api_port=0) as emulator:
        try:
            with _bridge(emulator, redis_url, prefix, refresh_margin) as (url, app):
                emulator.state.update_app(CLIENT_ID, redirect_uri=f"{url}/auth/callback")
                cookie_name = get_services(app).settings.cookie_name
                store = get_services(app).store
                signed = [_sign_in(url, cookie_name, n) for n in range(users)]
                try:
                    _soak(report, url, cookie_name, store, emulator, signed, refresh_margin)
                finally:
                    for user in signed:
                        user.http.close()
        finally:
            _delete_prefix(redis_url, prefix)
    report.elapsed = round(time.monotonic() - started, 1)
    return report


def _soak(
    report: SoakReport,
    url: str,
    cookie_name: str,
    store: Any,
    emulator: EmulatorServer,
    signed: list[_User],
    refresh_margin: int,
) -> None:
    counters = _Counters()
    deadline = time.monotonic() + report.duration
    threads = [
        threading.Thread(
            target=_worker,
            args=(url, cookie_name, user, deadline, counters, n * 100 + k),
            daemon=True,
        )
        for n, user in enumerate(signed)
        for k in range(report.parallel)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=report.duration + 120)
    if any(thread.is_alive() for thread in threads):
        report.problems.append("some workers did not stop in time")
    ended = time.time()
    report.requests, report.failures = counters.requests, counters.failures
    report.failure_samples = counters.samples

    per_session: list[int] = []
    for user in signed:
        with user.http.get(f"{url}/auth/session", timeout=10) as answer:
            if answer.status_code != 200:
                report.lost_sessions += 1
        record = store.load(user.cookie)
        if record is not None:
            per_session.append(record.version - 1)
            lifetime = ended - user.signed_in_at
            allowed = math.ceil(lifetime / (report.token_ttl - refresh_margin)) + 1
            report.allowed_refreshes_per_session = max(
                report.allowed_refreshes_per_session, allowed
            )
            if record.version - 1 > allowed:
                report.problems.append(f"{user.email}: {record.version - 1} refreshes > {allowed}")
    report.session_refreshes = sum(per_session)
    report.max_refreshes_per_session = max(per_session, default=0)
    report.looker_refreshes = emulator.state.token_requests.get("refresh_token", 0)
    report.metrics_refreshes = _metrics_refreshes(url)

    if report.requests == 0:
        report.problems.append("no requests were made")
    if report.failures:
        report.problems.append(f"{report.failures} requests failed")
    if report.lost_sessions:
        report.problems.append(f"{report.lost_sessions} sessions were lost")
    if report.looker_refreshes != report.session_refreshes:
        report.problems.append(
            f"Looker saw {report.looker_refreshes} refreshes, sessions recorded "
            f"{report.session_refreshes}: a refresh was duplicated or lost"
        )
    if report.metrics_refreshes != report.looker_refreshes:
        report.problems.append(
            f"/metrics counted {report.metrics_refreshes} refreshes, Looker saw "
            f"{report.looker_refreshes}"
        )
    expected_min = len(signed) * max(0, int(report.duration // report.token_ttl) - 1)
    if report.looker_refreshes < expected_min:
        report.problems.append(
            f"only {report.looker_refreshes} refreshes, expected at least {expected_min}"
        )


def _delete_prefix(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=2, help="threads per session")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--token-ttl", type=int, default=5, help="access token lifetime")
    parser.add_argument("--refresh-margin", type=int, default=1)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    report = run_soak(
        users=args.users,
        parallel=args.parallel,
        duration=args.duration,
        token_ttl=args.token_ttl,
        refresh_margin=args.refresh_margin,
        redis_url=args.redis_url,
    )
    print(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

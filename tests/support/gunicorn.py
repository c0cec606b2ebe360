"""The bridge as production runs it: ``gunicorn app:app -c gunicorn.conf.py``, configured by env.

Use :func:`gunicorn_factory` (a fixture) for tests that need the real server: its worker class,
its limits and its handling of hostile bytes on the socket, which a threaded test server does not
have. Each instance is its own gunicorn process tree on a free port, stopped after the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from oauth_bridge.emulator import EmulatorServer
from tests.support.redis_fixtures import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Instance:
    """One running gunicorn bridge: its URL, its process and the file its output goes to."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def output(self) -> str:
        """Everything gunicorn and the bridge wrote so far (logs go to standard error)."""
        return self.log.read_text(errors="replace")


def clean_env() -> dict[str, str]:
    """This process's environment without any bridge, looker-sdk or gunicorn setting."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OAUTH_BRIDGE_", "LOOKERSDK_", "GUNICORN_"))
    }


def bridge_env(
    emulator: EmulatorServer,
    client_guid: str,
    redirect_uri: str,
    redis_url: str,
    redis_prefix: str,
    **settings: str,
) -> dict[str, str]:
    """``OAUTH_BRIDGE_*`` variables for a bridge on this emulator and Redis; ``settings`` are
    extra variables without the prefix (``REFRESH_MARGIN="0"``)."""
    env = clean_env()
    env.update(
        {
            "OAUTH_BRIDGE_LOOKER_URL": emulator.ui_url,
            "OAUTH_BRIDGE_LOOKER_API_URL": emulator.api_url,
            "OAUTH_BRIDGE_CLIENT_ID": client_guid,
            "OAUTH_BRIDGE_REDIRECT_URI": redirect_uri,
            "OAUTH_BRIDGE_SECRET_KEY": "gunicorn-test-secret-0123456789",
            "OAUTH_BRIDGE_TOKEN_KEYS": Fernet.generate_key().decode(),
            "OAUTH_BRIDGE_REDIS_URL": redis_url,
            "OAUTH_BRIDGE_REDIS_KEY_PREFIX": redis_prefix,
            "OAUTH_BRIDGE_CORS_ORIGINS": f"http://localhost:{free_port()}",
            "OAUTH_BRIDGE_COOKIE_SECURE": "false",
            "OAUTH_BRIDGE_LOG_LEVEL": "WARNING",
            "WEB_CONCURRENCY": "2",
        }
    )
    env.update({f"OAUTH_BRIDGE_{name}": value for name, value in settings.items()})
    return env


def start_gunicorn(env: Mapping[str, str], port: int, log: Path, *args: str) -> Instance:
    """Start ``gunicorn app:app -c gunicorn.conf.py`` on ``127.0.0.1:port`` and wait until
    ``/readyz`` answers 200; ``args`` are extra gunicorn flags."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "app:app",
                "-c",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",
                *args,
            ],
            cwd=ROOT,
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    instance = Instance(f"http://localhost:{port}", port, process, log, dict(env))
    try:
        wait_ready(instance)
    except BaseException:
        instance.stop()
        raise
    return instance


def wait_ready(instance: Instance, timeout: float = 60) -> None:
    """Until ``/readyz`` is 200; fails with gunicorn's output if it exits or never gets there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{instance.output()[-3000:]}")
        try:
            with requests.get(f"{instance.url}/readyz", timeout=5) as ready:
                if ready.status_code == 200:
                    return
        except (requests.ConnectionError, requests.Timeout):
            pass  # the arbiter listens before its workers have booted
        time.sleep(0.1)
    raise AssertionError(f"gunicorn never became ready:\n{instance.output()[-3000:]}")


GunicornFactory = Callable[..., Instance]


@pytest.fixture
def gunicorn_factory(
    emulator_factory: Callable[..., EmulatorServer],
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
) -> Iterator[GunicornFactory]:
    """``start(emulator=None, gunicorn_args=(), env=None, **settings)``: a gunicorn bridge on a
    fresh emulator (token_ttl 3600) with its client app registered, configured by ``settings``
    (``OAUTH_BRIDGE_`` names without the prefix, values as strings) and ``env`` (other variables,
    such as ``GUNICORN_*``, taken as they are)."""
    started: list[Instance] = []

    def start(
        emulator: EmulatorServer | None = None,
        gunicorn_args: tuple[str, ...] = (),
        env: Mapping[str, str] | None = None,
        **settings: str,
    ) -> Instance:
        emulator = emulator or emulator_factory(token_ttl=3600)
        port = free_port()
        client_guid = f"oauth-bridge-gunicorn-{port}"
        redirect_uri = f"http://localhost:{port}/auth/callback"
        emulator.state.register_client_app(client_guid, redirect_uri)
        variables = bridge_env(
            emulator, client_guid, redirect_uri, redis_url, redis_prefix, **settings
        )
        variables.update(env or {})
        instance = start_gunicorn(
            variables, port, tmp_path / f"gunicorn-{port}.log", *gunicorn_args
        )
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop()


def parallel_get(
    instances: Sequence[Instance], path: str, headers: Mapping[str, str], count: int
) -> list[int]:
    """``count`` GETs of ``path`` released at once, spread round-robin over ``instances``
    (refresh-lock tests); the statuses, in the order they came back."""
    results: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(count)

    def call(instance: Instance) -> None:
        barrier.wait(10)
        with requests.get(f"{instance.url}{path}", headers=dict(headers), timeout=60) as response:
            with lock:
                results.append(response.status_code)

    threads = [
        threading.Thread(target=call, args=(instances[i % len(instances)],)) for i in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    return results

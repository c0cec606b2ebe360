"""docs/operations.md's production layout, as printed: ``oauth-bridge nginx-config`` and nginx.

The bridge runs under its production server on loopback (gunicorn per the Procfile, or granian,
which the layout offers behind nginx), the command prints the config from the same environment,
nginx runs it unprivileged, and a browser signs in and calls Looker through nginx alone. The
command's refusals are one line each, with exit code 2 (as for every oauth-bridge command).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from oauth_bridge.emulator import EmulatorServer
from oauth_bridge.emulator.browser_login import browser_sign_in
from tests.support.bridge import SEED_USERS
from tests.support.gunicorn import ROOT, bridge_env, clean_env
from tests.support.redis_fixtures import free_port

CLI = str(Path(sys.executable).with_name("oauth-bridge"))
CSRF = {"X-Looker-AppId": "nginx-layout-tests"}


def _server_argv(server: str, port: int) -> list[str]:
    if server == "gunicorn":
        return [sys.executable, "-m", "gunicorn", "app:app", "-c", "gunicorn.conf.py",
                "--bind", f"127.0.0.1:{port}"]  # fmt: skip
    return [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "2", "--blocking-threads", "256", "--no-ws",
            "app:app"]  # fmt: skip


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited at start:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with requests.get(f"{url}/readyz", timeout=5) as ready:
                if ready.status_code == 200:
                    return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.1)
    raise AssertionError(f"never ready:\n{log.read_text(errors='replace')[-3000:]}")


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in reversed(started):
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _print_config(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        [CLI, "nginx-config", *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("server", ["gunicorn", "granian"])
def test_the_documented_layout_signs_in_and_proxies_through_nginx_alone(
    emulator_factory: Callable[..., EmulatorServer],
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
    server: str,
) -> None:
    emulator = emulator_factory(token_ttl=3600)
    nginx_port, bridge_port = free_port(), free_port()
    redirect_uri = f"http://localhost:{nginx_port}/auth/callback"
    client_guid = f"oauth-bridge-layout-{nginx_port}"
    emulator.state.register_client_app(client_guid, redirect_uri)
    env = bridge_env(
        emulator, client_guid, redirect_uri, redis_url, redis_prefix, PROXY_FIX_HOPS="1"
    )
    bridge_log = tmp_path / "bridge.log"
    processes.append(_start(_server_argv(server, bridge_port), env, bridge_log))
    _wait_ready(f"http://127.0.0.1:{bridge_port}", processes[-1], bridge_log)

    printed = _print_config(
        env,
        "--listen",
        f"127.0.0.1:{nginx_port}",
        "--bridge-url",
        f"http://127.0.0.1:{bridge_port}",
    )
    assert printed.returncode == 0, printed.stderr
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    (prefix / "nginx.conf").write_text(printed.stdout)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    checked = subprocess.run(  # noqa: S603
        [nginx, "-t", "-p", str(prefix), "-c", "nginx.conf", "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr
    nginx_log = tmp_path / "nginx.log"
    processes.append(
        _start(
            [nginx, "-p", str(prefix), "-c", "nginx.conf", "-e", "stderr", "-g", "daemon off;"],
            clean_env(),
            nginx_log,
        )
    )
    front = f"http://localhost:{nginx_port}"
    _wait_ready(front, processes[-1], nginx_log)

    with requests.Session() as browser:
        page = browser_sign_in(
            browser, f"{front}/auth/login?return_to=/auth/session", *SEED_USERS["analyst"]
        )
        assert page.status_code == 200, page.text
        before = emulator.state.request_count
        with browser.get(f"{front}/api/4.0/user", headers=CSRF, timeout=10) as user:
            assert user.status_code == 200
            assert user.json()["email"] == SEED_USERS["analyst"][0]
            assert "X-Oauth-Bridge-Token" not in user.headers
        assert emulator.state.request_count == before + 1  # nginx asked Looker, once
        with browser.get(f"{front}/api/4.0/looks/999999", headers=CSRF, timeout=10) as missing:
            assert missing.status_code == 404
        with browser.get(f"{front}/api/4.0/user", timeout=10) as refused:  # no CSRF header
            assert refused.status_code == 403 and refused.json()["error"] == "csrf_header_missing"
        out = browser.post(f"{front}/auth/logout", headers=CSRF, timeout=10)
        assert out.status_code in (200, 204)
        with browser.get(f"{front}/api/4.0/user", headers=CSRF, timeout=10) as after:
            assert after.status_code == 401 and after.json()["error"] == "not_authenticated"


@pytest.mark.parametrize(
    ("args", "settings", "named"),
    [
        (["--listen", "8080", "--bridge-url", "http://127.0.0.1:8000"], {}, "--listen"),
        (["--listen", "127.0.0.1:8080", "--bridge-url", "https://b:8000"], {}, "--bridge-url"),
        (
            ["--listen", "127.0.0.1:8080", "--bridge-url", "http://127.0.0.1:8000"],
            {"OAUTH_BRIDGE_PROXY_FIX_HOPS": "0"},
            "OAUTH_BRIDGE_PROXY_FIX_HOPS",
        ),
        (
            ["--listen", "127.0.0.1:8080", "--bridge-url", "http://127.0.0.1:8000"],
            {"OAUTH_BRIDGE_LOOKER_URL": "not-a-url"},
            "OAUTH_BRIDGE_LOOKER_URL",
        ),
        (
            [
                "--listen",
                "127.0.0.1:8080",
                "--bridge-url",
                "http://127.0.0.1:8000",
                "--njs-module",
                "/nonexistent/ngx_http_js_module.so",
            ],
            {},
            "libnginx-mod-http-js",
        ),  # fmt: skip
    ],
)
def test_the_command_refuses_what_nginx_could_not_run_with_one_line(
    args: list[str], settings: dict[str, str], named: str
) -> None:
    env = {
        **clean_env(),
        "OAUTH_BRIDGE_LOOKER_URL": "https://looker.example.com",
        "OAUTH_BRIDGE_CLIENT_ID": "some-guid",
        "OAUTH_BRIDGE_REDIRECT_URI": "https://bridge.example.com/auth/callback",
        "OAUTH_BRIDGE_SECRET_KEY": "layout-test-secret-0123456789",
        "OAUTH_BRIDGE_TOKEN_KEYS": "Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyMTI=",
        "OAUTH_BRIDGE_PROXY_FIX_HOPS": "1",
        **settings,
    }
    result = _print_config(env, *args)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 2, output  # the command's code for a setting it refuses
    assert result.stdout == ""  # nothing half-printed for a shell redirect to keep
    assert output.splitlines() == [output], output
    assert output.startswith("error: ") and named in output, output

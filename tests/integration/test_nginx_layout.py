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
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from oauth_bridge.emulator import EmulatorServer
from oauth_bridge.emulator.browser_login import browser_sign_in
from tests.support.bridge import SEED_USERS
from tests.support.gunicorn import ROOT, Instance, bridge_env, clean_env, wait_ready
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


@pytest.fixture
def started() -> Iterator[list[Instance]]:
    """Servers the test started (the bridge, then nginx), stopped in reverse order."""
    running: list[Instance] = []
    yield running
    for instance in reversed(running):
        instance.stop()


def _start(
    argv: list[str], env: dict[str, str], log: Path, url: str, port: int, started: list[Instance]
) -> Instance:
    """Start ``argv`` and wait until ``url``/readyz answers 200 (through nginx, the bridge's)."""
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603
    started.append(Instance(url, port, process, log, env))
    wait_ready(started[-1])
    return started[-1]


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
    started: list[Instance],
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
    bridge_url = f"http://127.0.0.1:{bridge_port}"
    argv = _server_argv(server, bridge_port)
    _start(argv, env, tmp_path / "bridge.log", bridge_url, bridge_port, started)

    printed = _print_config(
        env,
        "--listen",
        f"127.0.0.1:{nginx_port}",
        "--bridge-url",
        bridge_url,
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
    front = f"http://localhost:{nginx_port}"
    nginx_argv = [nginx, "-p", str(prefix), "-c", "nginx.conf", "-e", "stderr", "-g", "daemon off;"]
    _start(nginx_argv, clean_env(), tmp_path / "nginx.log", front, nginx_port, started)

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

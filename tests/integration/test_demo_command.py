"""``oauth-bridge demo`` as a user runs it: a subprocess on free ports, used over HTTP, then Ctrl-C.

The demo's small SPA server on its own is tested in ``tests/unit/test_demo_spa_server.py``.
"""

from __future__ import annotations

import io
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from oauth_bridge import demo as demo_module
from oauth_bridge.demo import DemoStack, redis_if_reachable, run_demo
from oauth_bridge.emulator.browser_login import browser_sign_in
from oauth_bridge.emulator.seed import SEED_BY_KEY
from oauth_bridge.errors import ConfigError
from tests.support.redis_fixtures import free_port

REPO = Path(__file__).resolve().parents[2]
APP_ID = {"X-Looker-AppId": "oauth-bridge-test"}


@dataclass
class DemoProcess:
    process: subprocess.Popen[str]
    ports: dict[str, str]
    spa_url: str
    output: list[str]
    reader: threading.Thread

    def stop(self, signum: int) -> int:
        """Send the signal, wait for the exit code, and wait until all output is read."""
        self.process.send_signal(signum)
        code = self.process.wait(timeout=20)
        self.reader.join(timeout=10)
        return code


@pytest.fixture
def demo_command(tmp_path: Path) -> Iterator[Callable[..., DemoProcess]]:
    """Starts ``oauth-bridge demo`` (free ports, ``extra`` arguments, ``env`` added) as a user
    would, and waits until it prints the app's URL; stops what it started at the end."""
    started: list[subprocess.Popen[str]] = []
    readers: list[threading.Thread] = []

    def start(*extra: str, env: dict[str, str] | None = None) -> DemoProcess:
        ports = {
            name: str(free_port())
            for name in ("--port", "--spa-port", "--emulator-port", "--emulator-api-port")
        }
        environ = {k: v for k, v in os.environ.items() if not k.startswith("OAUTH_BRIDGE_")}
        environ["PYTHONUNBUFFERED"] = "1"
        # Run this checkout's package even where it is not pip-installed (CI installs it -e).
        environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO), environ.get("PYTHONPATH")])
        )
        environ.update(env or {})
        command = [sys.executable, "-m", "oauth_bridge.cli", "demo", *extra]
        for flag, port in ports.items():
            command += [flag, port]
        process = subprocess.Popen(
            command,
            cwd=tmp_path,  # not the repo: the demo must find static/ on its own
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        lines: queue.Queue[str] = queue.Queue()
        output: list[str] = []

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                output.append(line)
                lines.put(line)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        readers.append(reader)
        spa_url = ""
        while not spa_url:
            try:
                line = lines.get(timeout=60)
            except queue.Empty:
                pytest.fail("the demo printed no URL within 60 s:\n" + "".join(output))
            if match := re.search(r"Open the demo app:\s+(\S+)", line):
                spa_url = match.group(1)
        return DemoProcess(process, ports, spa_url, output, reader)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
    for reader in readers:
        reader.join(timeout=10)
    for process in started:
        assert process.stdout is not None
        process.stdout.close()


@pytest.fixture
def demo_process(demo_command: Callable[..., DemoProcess]) -> DemoProcess:
    return demo_command()


def test_demo_command_serves_a_working_stack_and_stops_cleanly_on_ctrl_c(
    demo_process: DemoProcess,
) -> None:
    bridge_url = f"http://localhost:{demo_process.ports['--port']}"
    spa_origin = f"http://localhost:{demo_process.ports['--spa-port']}"
    spa_url = demo_process.spa_url
    assert spa_url == f"{spa_origin}/"

    with requests.Session() as http:
        page = http.get(spa_url, timeout=10)
        assert page.status_code == 200 and "Sign in with Looker" in page.text
        config = http.get(f"{spa_origin}/config.js", timeout=10)
        assert f'BRIDGE_URL = "{bridge_url}"' in config.text

        unauthenticated = http.get(f"{bridge_url}/auth/session", timeout=10)
        assert unauthenticated.status_code == 401

        # The browser's path: bridge /auth/login -> Looker sign-in form -> approval -> the SPA.
        viewer = SEED_BY_KEY["viewer"]
        start = f"{bridge_url}/auth/login?{urlencode({'return_to': spa_url})}"
        landed = browser_sign_in(http, start, viewer.email, viewer.password)
        assert landed.status_code == 200 and landed.url == spa_url

        session = http.get(f"{bridge_url}/auth/session", headers={"Origin": spa_origin}, timeout=10)
        assert session.status_code == 200
        assert session.json()["user"]["email"] == "viewer@example.com"
        assert session.headers["Access-Control-Allow-Origin"] == spa_origin

        looks = http.get(
            f"{bridge_url}/api/4.0/looks",
            params={"fields": "id,title"},
            headers={**APP_ID, "Origin": spa_origin},
            timeout=10,
        )
        assert looks.status_code == 200
        assert looks.headers["Access-Control-Allow-Origin"] == spa_origin
        assert looks.headers["Access-Control-Allow-Credentials"] == "true"
        titles = {look["title"] for look in looks.json()}
        assert titles == {"Orders by day", "Order status"}  # the viewer's share of the seed

    assert demo_process.stop(signal.SIGINT) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{bridge_url}/healthz", timeout=2)
    assert "Demo stopped." in "".join(demo_process.output)
    assert "Traceback" not in "".join(demo_process.output)


def test_demo_command_prints_what_a_new_user_needs_and_stops_on_sigterm(
    demo_process: DemoProcess,
) -> None:
    assert demo_process.stop(signal.SIGTERM) == 0
    printed = "".join(demo_process.output)
    assert "sessions live in memory" in printed  # no OAUTH_BRIDGE_REDIS_URL: one-line notice
    for email, password in (
        ("admin@example.com", "looker-admin"),
        ("analyst@example.com", "looker-analyst"),
        ("viewer@example.com", "looker-viewer"),
    ):
        assert re.search(rf"{re.escape(email)}\s+password {re.escape(password)}\b", printed)
    assert "Demo stopped." in printed and "Traceback" not in printed


def test_unreachable_redis_falls_back_to_memory_with_one_line(redis_url: str) -> None:
    out = io.StringIO()
    dead = f"redis://127.0.0.1:{free_port()}/0"
    assert redis_if_reachable(dead, out) is None
    assert out.getvalue().count("\n") == 1 and "sessions live in memory" in out.getvalue()

    out = io.StringIO()
    assert redis_if_reachable(redis_url, out) == redis_url
    assert out.getvalue() == ""


def test_a_taken_port_is_named_and_nothing_is_left_running() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        spa_port = taken.getsockname()[1]
        stack = DemoStack(
            bridge_port=free_port(), spa_port=spa_port, emulator_port=0, emulator_api_port=0
        )
        with pytest.raises(ConfigError, match="--spa-port"):
            stack.start()
    # Everything started before the failure was stopped again: its ports are free.
    for port in (stack.bridge_port, stack.emulator_port, stack.emulator_api_port):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))


def test_taken_default_ports_are_replaced_by_free_ones_and_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A newcomer whose 8081 is busy still gets a demo, and the URLs printed are the real ones."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        defaults = {
            "bridge": free_port(),
            "spa": busy,
            "emulator": free_port(),
            "emulator_api": free_port(),
        }
        monkeypatch.setattr(demo_module, "DEFAULT_PORTS", defaults)
        out = io.StringIO()
        stop = threading.Event()
        runner = threading.Thread(target=run_demo, kwargs={"out": out, "stop": stop})
        runner.start()
        try:
            deadline = time.monotonic() + 60
            while "Open the demo app" not in out.getvalue() and time.monotonic() < deadline:
                time.sleep(0.1)
            printed = out.getvalue()
            match = re.search(r"Open the demo app:\s+(\S+)", printed)
            assert match, printed
            assert f"spa {busy} -> " in printed
            spa_url = match.group(1)
            assert f":{busy}/" not in spa_url
            page = requests.get(spa_url, timeout=10)
            assert page.status_code == 200 and "Sign in with Looker" in page.text
            bridge = f"http://localhost:{defaults['bridge']}"
            assert requests.get(f"{bridge}/auth/session", timeout=10).status_code == 401
        finally:
            stop.set()
            runner.join(timeout=30)
    assert not runner.is_alive()


def test_the_demo_serves_your_own_spa_folder_and_lets_your_origins_in(
    demo_command: Callable[..., DemoProcess], tmp_path: Path
) -> None:
    """Issue 14 item 3: ``--spa-dir`` serves your folder, ``--spa-origin`` and
    ``OAUTH_BRIDGE_CORS_ORIGINS`` let SPAs you serve yourself call the bridge with CORS."""
    folder = tmp_path / "my-spa"
    folder.mkdir()
    (folder / "index.html").write_text("<!doctype html><title>Mine</title><p>My own SPA</p>")
    flag_origin, env_origin = "http://localhost:5173", "http://localhost:3000"
    demo = demo_command(
        "--spa-dir",
        str(folder),
        "--spa-origin",
        flag_origin + "/",  # a trailing slash names the same origin
        env={"OAUTH_BRIDGE_CORS_ORIGINS": env_origin},
    )
    printed = "".join(demo.output)
    assert f"serving your SPA from {folder.resolve()}" in printed
    assert flag_origin in printed and env_origin in printed
    assert "My own SPA" in requests.get(demo.spa_url, timeout=10).text
    bridge = f"http://localhost:{demo.ports['--port']}"
    for origin in (flag_origin, env_origin, demo.spa_url.rstrip("/")):
        preflight = requests.options(
            f"{bridge}/api/4.0/user",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "x-looker-appid",
            },
            timeout=10,
        )
        assert preflight.headers.get("Access-Control-Allow-Origin") == origin, origin
        assert preflight.headers.get("Access-Control-Allow-Credentials") == "true"
    stranger = requests.options(
        f"{bridge}/api/4.0/user",
        headers={"Origin": "http://localhost:9999", "Access-Control-Request-Method": "GET"},
        timeout=10,
    )
    assert "Access-Control-Allow-Origin" not in stranger.headers
    assert demo.stop(signal.SIGINT) == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--spa-origin", "localhost:5173"], "error: --spa-origin must be a bare origin"),
        (["--spa-origin", "http://localhost:5173/app"], "error: --spa-origin must be a bare"),
        (["--spa-dir", "/nonexistent-spa"], "error: --spa-dir /nonexistent-spa has no index.html"),
    ],
)
def test_bad_spa_flags_stop_the_demo_with_one_line(
    arguments: list[str], message: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OAUTH_BRIDGE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "oauth_bridge.cli", "demo", *arguments],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2  # the CLI's exit code for a settings error
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(message), result.stderr

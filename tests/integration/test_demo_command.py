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
from collections.abc import Iterator
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
def demo_process(tmp_path: Path) -> Iterator[DemoProcess]:
    ports = {
        name: str(free_port())
        for name in ("--port", "--spa-port", "--emulator-port", "--emulator-api-port")
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("OAUTH_BRIDGE_")}
    env["PYTHONUNBUFFERED"] = "1"
    # Run this checkout's package even where it is not pip-installed (CI installs it -e anyway).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "oauth_bridge.cli", "demo"]
    for flag, port in ports.items():
        command += [flag, port]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,  # not the repo: the demo must find static/ on its own
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        spa_url = ""
        while not spa_url:
            try:
                line = lines.get(timeout=60)
            except queue.Empty:
                pytest.fail("the demo printed no URL within 60 s:\n" + "".join(output))
            if match := re.search(r"Open the demo app:\s+(\S+)", line):
                spa_url = match.group(1)
        yield DemoProcess(process, ports, spa_url, output, reader)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        reader.join(timeout=10)
        assert process.stdout is not None
        process.stdout.close()


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

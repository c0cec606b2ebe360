"""``serve_forever`` (what ``oauth-bridge emulator`` runs) as a real subprocess: serves both
hosts, the controls work, and SIGTERM stops it cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import requests

from oauth_bridge.emulator.seed import ADMIN_API3
from tests.support.redis_fixtures import free_port

SCRIPT = (
    "from oauth_bridge.emulator import EmulatorConfig, serve_forever\n"
    "serve_forever(EmulatorConfig(token_ttl=77), '127.0.0.1', {port}, {api_port})\n"
)


def wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, "the emulator exited early"
        try:
            requests.get(url, timeout=1).close()
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def test_serve_forever_serves_both_hosts_and_stops_on_sigterm() -> None:
    port, api_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(port=port, api_port=api_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        api = f"http://127.0.0.1:{api_port}"
        wait_until_up(f"{api}/api/4.0/versions", process)
        versions = requests.get(f"{api}/api/4.0/versions", timeout=5).json()
        assert versions["web_server_url"] == f"http://127.0.0.1:{port}"
        login = requests.get(f"http://127.0.0.1:{port}/login", timeout=5)
        assert login.status_code == 200 and 'name="password"' in login.text
        token = requests.post(
            f"{api}/api/4.0/login",
            data={"client_id": ADMIN_API3[0], "client_secret": ADMIN_API3[1]},
            timeout=5,
        ).json()
        assert token["expires_in"] == 77
        log = requests.get(f"{api}/_emulator/requests", timeout=5).json()
        assert (log[-1]["method"], log[-1]["path"]) == ("POST", "/api/4.0/login")
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert f"http://127.0.0.1:{api_port}" in out
    assert token["access_token"] not in out + err

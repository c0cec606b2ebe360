"""A large result streams through the bridge with flat memory.

The bridge runs as its own process (``python -m oauth_bridge.cli serve``, configured only by
``OAUTH_BRIDGE_*`` variables) so its peak resident memory (``VmHWM`` in ``/proc/<pid>/status``) is
its own. A ~150 MB CSV from the emulator (5,000,000 rows, streamed without Content-Length) passes
through; the peak may grow by far less than the size of the answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from oauth_bridge.emulator import EmulatorServer
from oauth_bridge.emulator.seed import credentials
from tests.support.emulator import browser_sign_in
from tests.support.redis_fixtures import free_port

pytestmark = pytest.mark.both_data_planes  # embedded proxy, and nginx in front

ROWS = 5_000_000
GROWTH_LIMIT = 100 * 1024 * 1024
CLIENT_GUID = "oauth-bridge-streaming-test"


def peak_rss(pid: int) -> int:
    """Peak resident set size of a process in bytes (Linux ``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("VmHWM missing from /proc status")


@pytest.fixture
def bridge_process(
    emulator: EmulatorServer, redis_url: str, redis_prefix: str, tmp_path: Path
) -> Iterator[tuple[str, int]]:
    port = free_port()
    url = f"http://localhost:{port}"
    emulator.state.register_client_app(CLIENT_GUID, f"{url}/auth/callback")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OAUTH_BRIDGE_")},
        "OAUTH_BRIDGE_LOOKER_URL": emulator.ui_url,
        "OAUTH_BRIDGE_LOOKER_API_URL": emulator.api_url,
        "OAUTH_BRIDGE_CLIENT_ID": CLIENT_GUID,
        "OAUTH_BRIDGE_REDIRECT_URI": f"{url}/auth/callback",
        "OAUTH_BRIDGE_SECRET_KEY": "streaming-test-secret-key",
        "OAUTH_BRIDGE_TOKEN_KEYS": Fernet.generate_key().decode(),
        "OAUTH_BRIDGE_REDIS_URL": redis_url,
        "OAUTH_BRIDGE_REDIS_KEY_PREFIX": redis_prefix,
        "OAUTH_BRIDGE_COOKIE_SECURE": "false",
        "OAUTH_BRIDGE_RATE_LIMIT_ENABLED": "false",
        "OAUTH_BRIDGE_LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "bridge.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "oauth_bridge.cli", "serve", "--host", "127.0.0.1", "--port",
         str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with requests.get(f"{url}/healthz", timeout=2) as ready:
                    if ready.status_code == 200:
                        break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "bridge.log").read_text()[-2000:])
            time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def test_a_150_mb_csv_streams_with_flat_memory(
    bridge_process: tuple[str, int], emulator: EmulatorServer
) -> None:
    url, pid = bridge_process
    with requests.Session() as http:
        signed_in = browser_sign_in(
            http,
            f"{url}/auth/login?return_to=/auth/session",
            *credentials("analyst"),
        )
        assert signed_in.status_code == 200 and signed_in.json()["authenticated"] is True
        headers = {"X-Looker-AppId": "streaming-test"}
        with http.get(f"{url}/api/4.0/looks/1/run/csv?limit=10", headers=headers, timeout=30) as w:
            assert w.status_code == 200, w.text  # warm: imports, pool, session
        baseline = peak_rss(pid)

        received = 0
        lines = 0
        with http.get(
            f"{url}/api/4.0/looks/1/run/csv?limit={ROWS}", headers=headers, stream=True,
            timeout=120,
        ) as response:  # fmt: skip
            assert response.status_code == 200
            assert response.headers["Content-Type"].startswith("text/csv")
            for chunk in response.iter_content(256 * 1024):
                received += len(chunk)
                lines += chunk.count(b"\n")
        growth = peak_rss(pid) - baseline

    print(
        f"\nstreamed {received / 1e6:.1f} MB; bridge peak RSS {baseline / 1e6:.1f} MB, "
        f"grew by {growth / 1e6:.1f} MB"
    )
    assert received > 140 * 1000 * 1000
    assert lines == ROWS + 1  # header line + every row
    assert growth < GROWTH_LIMIT, f"peak RSS grew by {growth / 1e6:.1f} MB"

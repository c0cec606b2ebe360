"""`oauth-bridge register-client` against the emulator, through the official looker-sdk."""

from __future__ import annotations

import os
import subprocess
import sys

from oauth_bridge.emulator import EmulatorServer
from oauth_bridge.emulator.seed import ADMIN_API3

REDIRECT = "https://bridge.example.com/auth/callback"


def run_register(
    emulator: EmulatorServer, *args: str, secret: str = ADMIN_API3[1]
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        LOOKERSDK_BASE_URL=emulator.api_url,
        LOOKERSDK_CLIENT_ID=ADMIN_API3[0],
        LOOKERSDK_CLIENT_SECRET=secret,
        LOOKERSDK_VERIFY_SSL="false",
    )
    return subprocess.run(
        [sys.executable, "-m", "oauth_bridge.cli", "register-client", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def registered_apps(emulator: EmulatorServer) -> dict[str, dict[str, object]]:
    import requests

    login = requests.post(
        f"{emulator.api_url}/api/4.0/login",
        data={"client_id": ADMIN_API3[0], "client_secret": ADMIN_API3[1]},
        timeout=10,
    )
    token = login.json()["access_token"]
    apps = requests.get(
        f"{emulator.api_url}/api/4.0/oauth_client_apps",
        headers={"Authorization": f"token {token}"},
        timeout=10,
    ).json()
    return {app["client_guid"]: app for app in apps}


def test_registers_then_updates_the_same_app(emulator: EmulatorServer) -> None:
    first = run_register(emulator, "--redirect-uri", REDIRECT)
    assert first.returncode == 0, first.stderr
    guid = first.stdout.strip()
    assert guid.startswith("oauth-bridge-")
    apps = registered_apps(emulator)
    assert apps[guid]["redirect_uri"] == REDIRECT
    assert apps[guid]["enabled"] is True

    moved = "https://bridge2.example.com/auth/callback"
    again = run_register(emulator, "--redirect-uri", moved, "--client-id", guid)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == guid
    apps = registered_apps(emulator)
    assert apps[guid]["redirect_uri"] == moved
    assert len([g for g in apps if g == guid]) == 1

    for output in (first.stdout + first.stderr, again.stdout + again.stderr):
        assert "admin-client-secret" not in output


def test_bad_credentials_fail_without_printing_the_secret(emulator: EmulatorServer) -> None:
    result = run_register(emulator, "--redirect-uri", REDIRECT, secret="wrong-secret-value")
    assert result.returncode == 1
    assert "registration failed" in result.stderr
    assert "wrong-secret-value" not in result.stdout + result.stderr


def test_missing_credentials_are_named(emulator: EmulatorServer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKERSDK_")}
    result = subprocess.run(
        [sys.executable, "-m", "oauth_bridge.cli", "register-client", "--redirect-uri", REDIRECT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "LOOKERSDK_BASE_URL" in result.stderr

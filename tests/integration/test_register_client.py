"""`oauth-bridge register-client` against the emulator, through the official looker-sdk."""

from __future__ import annotations

import os
import subprocess
import sys

from oauth_bridge.emulator import EmulatorServer
from oauth_bridge.emulator.seed import ADMIN_API3, SEED_BY_KEY

REDIRECT = "https://bridge.example.com/auth/callback"


def run_register(
    emulator: EmulatorServer,
    *args: str,
    secret: str = ADMIN_API3[1],
    client_id: str = ADMIN_API3[0],
    base_url: str | None = None,
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        LOOKERSDK_BASE_URL=base_url or emulator.api_url,
        LOOKERSDK_CLIENT_ID=client_id,
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


def test_running_twice_without_a_client_id_reuses_the_app(emulator: EmulatorServer) -> None:
    """The README's command is idempotent: the same redirect URI finds the app registered first."""
    uri = "https://twice.example.com/auth/callback"
    first = run_register(emulator, "--redirect-uri", uri)
    second = run_register(emulator, "--redirect-uri", uri)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.strip() == second.stdout.strip()
    assert f"reusing the OAuth client app {first.stdout.strip()}" in second.stderr
    with_uri = [g for g, app in registered_apps(emulator).items() if app["redirect_uri"] == uri]
    assert with_uri == [first.stdout.strip()]


def test_bad_credentials_say_what_to_check_without_printing_the_secret(
    emulator: EmulatorServer,
) -> None:
    result = run_register(emulator, "--redirect-uri", REDIRECT, secret="wrong-secret-value")
    assert result.returncode == 1
    assert "refused the API3 credentials" in result.stderr
    assert "LOOKERSDK_CLIENT_SECRET" in result.stderr
    assert "wrong-secret-value" not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_non_admin_is_told_it_needs_the_admin_role(emulator: EmulatorServer) -> None:
    viewer = SEED_BY_KEY["viewer"].api3
    result = run_register(
        emulator, "--redirect-uri", REDIRECT, client_id=viewer[0], secret=viewer[1]
    )
    assert result.returncode == 1
    assert "may not manage OAuth client apps" in result.stderr
    assert "Admin role" in result.stderr
    assert viewer[1] not in result.stdout + result.stderr


def test_the_ui_host_is_named_as_the_wrong_host_without_a_page_dump(
    emulator: EmulatorServer,
) -> None:
    result = run_register(emulator, "--redirect-uri", REDIRECT, base_url=emulator.ui_url)
    assert result.returncode == 1
    assert "not the Looker API" in result.stderr and "LOOKERSDK_BASE_URL" in result.stderr
    assert "<" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unreachable_looker_is_named(emulator: EmulatorServer) -> None:
    result = run_register(emulator, "--redirect-uri", REDIRECT, base_url="http://127.0.0.1:9")
    assert result.returncode == 1
    assert "could not reach Looker at http://127.0.0.1:9" in result.stderr


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

"""Bad settings under the production command: one line, once, before listening, exit code 1."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.gunicorn import ROOT, clean_env
from tests.support.redis_fixtures import free_port

BASE = {
    "OAUTH_BRIDGE_LOOKER_URL": "https://looker.example.com",
    "OAUTH_BRIDGE_CLIENT_ID": "some-guid",
    "OAUTH_BRIDGE_REDIRECT_URI": "https://bridge.example.com/auth/callback",
    "OAUTH_BRIDGE_SECRET_KEY": "gunicorn-test-secret-0123456789",
    "OAUTH_BRIDGE_TOKEN_KEYS": "Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyMTI=",
}


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("OAUTH_BRIDGE_LOOKER_URL", "not-a-url", "OAUTH_BRIDGE_LOOKER_URL"),
        ("OAUTH_BRIDGE_LOG_LEVEL", "LOUD", "OAUTH_BRIDGE_LOG_LEVEL"),
        ("OAUTH_BRIDGE_RATE_LIMIT_LOGIN", "lots", "OAUTH_BRIDGE_RATE_LIMIT_LOGIN"),
        ("OAUTH_BRIDGE_TOKEN_KEYS", "", "OAUTH_BRIDGE_TOKEN_KEYS"),
    ],
)
def test_a_bad_setting_stops_gunicorn_with_one_line(setting: str, value: str, named: str) -> None:
    env = {**clean_env(), **BASE, setting: value}
    if not value:
        del env[setting]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "app:app",
            "-c",
            "gunicorn.conf.py",
            "-b",
            f"127.0.0.1:{free_port()}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 1, output
    assert output.splitlines() == [output], output
    assert output.startswith("error: ") and named in output
    assert "Listening at" not in output and "Traceback" not in output

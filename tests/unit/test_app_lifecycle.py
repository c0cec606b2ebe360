"""One Services per app, closed by close_app; looker-sdk is imported only to register a client."""

from __future__ import annotations

import subprocess
import sys

import pytest

from oauth_bridge.factory import close_app
from oauth_bridge.services import get_services
from tests.support.bridge import offline_app


def test_each_app_builds_its_own_services_once() -> None:
    first, second = offline_app(), offline_app()
    one, two = get_services(first), get_services(second)
    assert one.upstream is not two.upstream
    assert one.metrics is not two.metrics
    assert one.store is not two.store
    assert one.tokens.store is one.store and one.tokens.looker is one.looker
    assert one.tokens.metrics is one.metrics
    close_app(first)
    close_app(second)


def test_rate_limiter_is_one_of_the_services() -> None:
    app = offline_app(rate_limit_enabled=True)
    assert get_services(app).limiter is not None
    assert get_services(offline_app()).limiter is None


def test_close_app_closes_everything_once(monkeypatch: pytest.MonkeyPatch) -> None:
    app = offline_app()
    services = get_services(app)
    closed: list[str] = []
    for name in ("upstream", "looker", "store"):
        part = getattr(services, name)
        monkeypatch.setattr(part, "close", lambda name=name: closed.append(name))
    close_app(app)
    close_app(app)  # idempotent
    assert closed == ["upstream", "looker", "store"]


def test_close_app_leaves_an_app_without_services_alone() -> None:
    from flask import Flask

    close_app(Flask(__name__))


def test_cli_help_emulator_and_app_do_not_import_looker_sdk() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from oauth_bridge import cli, emulator, factory, looker\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    cli.main(['--help'])\n"
        "assert 'looker_sdk' not in sys.modules, 'looker_sdk was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr

"""docs/emulator.md's Python example, run exactly as printed (issue 14 item 2)."""

from __future__ import annotations

import requests

from oauth_bridge.emulator import EmulatorServer
from tests.support.doc_snippets import snippet


def test_the_python_example_runs_as_printed() -> None:
    example = snippet("docs/emulator.md", "EmulatorServer(cfg")
    scope: dict[str, object] = {}
    exec(compile(example.text, f"{example.doc}:{example.line}", "exec"), scope)  # noqa: S102

    emu = scope["emu"]
    assert isinstance(emu, EmulatorServer)
    # It ran against a real server: each call it shows took effect, and the with-block stopped it.
    app = emu.state.get_app("my-guid")
    assert app is not None and app.redirect_uri == "http://localhost:8000/auth/callback"
    assert emu.state.config.token_ttl == 1 and emu.state.config.refresh_enabled is False
    assert emu.state.get_user("2") is None
    disabled = emu.state.get_user("3")
    assert disabled is not None and disabled.is_disabled
    assert not emu.state.is_app_user("my-guid", "3")
    ui_url = emu.ui_url
    try:
        requests.get(f"{ui_url}/login", timeout=2)
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("the example's with-block should have stopped the emulator")

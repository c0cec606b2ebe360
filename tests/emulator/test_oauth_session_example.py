"""Looker's own example OAuth client (sdk-codegen examples/python/oauth_session.py) against us.

The script is kept, as test data, in ``tests/support/oauth_session_example.py``; only what its
header lists was changed. Its settings come from a ``looker.ini`` this test writes in a temporary
working directory, and the test types the email and password it asks for.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from oauth_bridge.emulator import EmulatorServer
from oauth_bridge.emulator.seed import credentials
from tests.support import oauth_session_example


@pytest.fixture
def unanswering_redirect_uri() -> Iterator[str]:
    """A redirect URI whose host never completes a connection, as the script expects.

    The script treats a ``ConnectTimeout`` at ``redirect_uri`` as "already approved" (its
    comment: "redirected to settings.redirect_uri which doesn't exist"). A listening socket
    whose accept queue is full drops new SYNs, so connecting to it times out on loopback.
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    yield f"http://127.0.0.1:{port}/callback"
    for filler in fillers:
        filler.close()
    server.close()


def run_example(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], email: str, password: str
) -> str:
    monkeypatch.setattr("builtins.input", lambda prompt="": email)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": password)
    oauth_session_example.oauth_interactive_roundtrip()  # type: ignore[no-untyped-call]
    return capsys.readouterr().out


def test_example_script_signs_in_approves_and_calls_me(
    emulator: EmulatorServer,
    unanswering_redirect_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.state.register_client_app(
        "example-app", unanswering_redirect_uri, display_name="Example"
    )
    (tmp_path / "looker.ini").write_text(
        "[Looker]\n"
        f"base_url={emulator.api_url}\n"
        f"looker_url={emulator.ui_url}/\n"
        "client_id=example-app\n"
        f"redirect_uri={unanswering_redirect_uri}\n"
        "verify_ssl=False\n"
    )
    monkeypatch.chdir(tmp_path)

    first = run_example(monkeypatch, capsys, *credentials("viewer"))
    assert "Hi Vic, your user_id is 3" in first
    assert emulator.state.is_app_user("example-app", "3")

    # Approved already: /auth redirects straight to the redirect URI (the script's other path).
    again = run_example(monkeypatch, capsys, *credentials("viewer"))
    assert "Hi Vic, your user_id is 3" in again
    assert emulator.state.token_requests["authorization_code"] == 2
    codes_sent = [r for r in emulator.state.request_log if r.path == "/api/token"]
    assert len(codes_sent) == 2

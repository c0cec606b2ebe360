"""LookerClient reuses one keep-alive connection for token calls and API calls, without cookies.

A real HTTP/1.1 server on loopback plays Looker's API host: it answers ``/api/token`` with a token
and a ``Set-Cookie`` (as a load balancer might), ``/api/4.0/user`` with a user, and records the
client port, the ``Cookie`` header and the body of every request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.fernet import Fernet

from oauth_bridge.config import load_settings
from oauth_bridge.looker.client import LookerClient


@dataclass
class Seen:
    path: str
    port: int
    cookie: str | None
    content_type: str | None
    body: bytes


class FakeLookerApi(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[Seen] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: FakeLookerApi

    def _answer(self, status: int, body: dict[str, object], cookie: bool) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if cookie:
            self.send_header("Set-Cookie", "lb=user-specific; Path=/")
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.seen.append(
            Seen(
                path=self.path,
                port=self.client_address[1],
                cookie=self.headers.get("Cookie"),
                content_type=self.headers.get("Content-Type"),
                body=self.rfile.read(length),
            )
        )

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self._record()
        token = {"access_token": "a" * 40, "refresh_token": "r" * 40, "expires_in": 3600}
        self._answer(200, token, cookie=True)

    def do_GET(self) -> None:  # noqa: N802
        self._record()
        self._answer(200, {"id": 2, "display_name": "Ann", "email": "a@example.com"}, cookie=True)

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        return


@pytest.fixture
def looker_api() -> Iterator[FakeLookerApi]:
    server = FakeLookerApi()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_token_and_api_calls_share_one_connection_and_carry_no_cookie(
    looker_api: FakeLookerApi,
) -> None:
    settings = load_settings(
        {},
        looker_url=looker_api.url,
        client_id="conn-test",
        redirect_uri="http://localhost:9/auth/callback",
        secret_key="test-secret-key-0123456789",
        token_keys=(Fernet.generate_key(),),
        cookie_secure=False,
    )
    client = LookerClient(settings)
    try:
        first = client.exchange_code("code-1", "v" * 44)
        second = client.exchange_code("code-2", "w" * 44)
        refreshed = client.refresh("r" * 40)
        user = client.current_user(first.access_token)
    finally:
        client.close()
    assert first.access_token == second.access_token == refreshed.access_token == "a" * 40
    assert user.id == "2"
    assert [seen.path for seen in looker_api.seen] == [
        "/api/token",
        "/api/token",
        "/api/token",
        "/api/4.0/user",
    ]
    assert len({seen.port for seen in looker_api.seen}) == 1  # one TCP connection for all four
    assert all(seen.cookie is None for seen in looker_api.seen)  # Set-Cookie never kept
    bodies = [json.loads(seen.body) for seen in looker_api.seen[:3]]
    assert all(seen.content_type == "application/json" for seen in looker_api.seen[:3])
    assert bodies[0] == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": "http://localhost:9/auth/callback",
        "code_verifier": "v" * 44,
        "client_id": "conn-test",
    }
    assert bodies[1]["code"] == "code-2"
    assert bodies[2] == {
        "grant_type": "refresh_token",
        "refresh_token": "r" * 40,
        "scope": "cors_api",
        "client_id": "conn-test",
        "redirect_uri": "http://localhost:9/auth/callback",
    }

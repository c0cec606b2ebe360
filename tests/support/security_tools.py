"""Small tools the attack tests share: raw HTTP requests and looks into Redis and the emulator.

``raw_request`` writes bytes straight to a socket, because ``requests`` and ``http.client``
normalise or refuse exactly the hostile request lines (dot segments, CR/LF, NUL) we must send.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import redis
from werkzeug.serving import make_server

from oauth_bridge.factory import create_app
from tests.support.bridge import BridgeServer
from tests.support.redis_fixtures import free_port

CSRF = {"X-Looker-AppId": "oauth-bridge-security-tests"}


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


def _read_all(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    rest = body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    return bytes(out)


def raw_request(
    base_url: str, data: bytes, timeout: float = 10, address: str = "127.0.0.1"
) -> RawResponse:
    """Send ``data`` as-is to ``address`` at ``base_url``'s port; the connection is closed after."""
    parts = urlsplit(base_url)
    assert parts.port is not None
    with socket.create_connection((address, parts.port), timeout=timeout) as sock:
        sock.sendall(data)
        raw = _read_all(sock)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    assert status_line[0].startswith("HTTP/"), f"not an HTTP answer: {raw[:200]!r}"
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    response = RawResponse(int(status_line[1]), status_line[2] if len(status_line) > 2 else "")
    response.headers = headers
    chunked = (response.header("Transfer-Encoding") or "").lower() == "chunked"
    response.body = _dechunk(body) if chunked else body
    return response


def raw_send(
    bridge: BridgeServer,
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    cookie: str = "",
    body: bytes = b"",
) -> RawResponse:
    """``method target`` with the request line and headers exactly as given (``None``: CSRF)."""
    port = urlsplit(bridge.url).port
    lines = [f"{method} {target} HTTP/1.1", f"Host: localhost:{port}", "Connection: close"]
    if cookie:
        lines.append(f"Cookie: {bridge.settings.cookie_name}={cookie}")
    lines += [f"{name}: {value}" for name, value in (CSRF if headers is None else headers).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return raw_request(bridge.url, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


def raw_get(
    bridge: BridgeServer, target: str, headers: dict[str, str] | None = None, cookie: str = ""
) -> RawResponse:
    """``GET target`` with the request line exactly as given (``target`` is already encoded)."""
    return raw_send(bridge, "GET", target, headers or CSRF, cookie)


def keys(client: redis.Redis, prefix: str, kind: str = "") -> list[bytes]:
    """Keys under the test's prefix, optionally only one kind (``s:``, ``p:``, ``pc:``, …)."""
    return sorted(client.scan_iter(match=f"{prefix}{kind}*", count=1000))


def api_calls(bridge: BridgeServer) -> int:
    """How many requests the emulator's API host has seen so far (its request log)."""
    return bridge.emulator.state.request_count


# --------------------------------------------------------------------------- several bridges
@contextmanager
def sibling_bridge(bridge: BridgeServer, **changes: Any) -> Iterator[BridgeServer]:
    """A second bridge app, in this process on its own port, with ``bridge``'s settings changed.

    It shares the first bridge's Redis prefix, client id, redirect URI and (unless changed) key
    ring, as a second instance behind the same router would. (The ``bridge_factory`` fixture
    registers a client app per bridge and the emulator refuses a second registration.)
    """
    settings = dataclasses.replace(bridge.settings, **changes)
    port = free_port()
    app = create_app(settings)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="sibling-bridge", daemon=True)
    thread.start()
    sibling = BridgeServer(
        url=f"http://localhost:{port}",
        app=app,
        settings=settings,
        emulator=bridge.emulator,
        redis_prefix=settings.redis_key_prefix,
        spa_origin=bridge.spa_origin,
        server=server,
        thread=thread,
    )
    try:
        yield sibling
    finally:
        sibling.stop()


def assert_store_consistent(client: redis.Redis, prefix: str) -> None:
    """Nothing half-written: every session is indexed under its user, every key expires, no
    refresh lock is left behind, and every index entry points at a live session or is expired."""
    sessions = {key.decode()[len(prefix) + 2 :] for key in keys(client, prefix, "s:")}
    indexed: set[str] = set()
    for index in keys(client, prefix, "u:"):
        for member in client.zrange(index, 0, -1):
            assert isinstance(member, bytes)
            indexed.add(member.decode())
    assert sessions <= indexed, sessions - indexed
    assert keys(client, prefix, "l:") == []
    for key in keys(client, prefix):
        assert client.pttl(key) > 0, f"{key!r} never expires"


# --------------------------------------------------------------------------- a junk "Looker"
class JunkServer:
    """A raw-socket server that answers every connection with fixed bytes and hangs up."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="junk-server", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                self.connections += 1
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(self.payload)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

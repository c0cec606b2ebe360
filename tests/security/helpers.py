"""Small tools the attack tests share: raw HTTP requests and looks into Redis and the emulator.

``raw_request`` writes bytes straight to a socket, because ``requests`` and ``http.client``
normalise or refuse exactly the hostile request lines (dot segments, CR/LF, NUL) we must send.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import redis

from tests.fixtures.bridge import BridgeServer

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


def raw_request(base_url: str, data: bytes, timeout: float = 10) -> RawResponse:
    """Send ``data`` as-is to the server at ``base_url``; the connection is closed after it."""
    parts = urlsplit(base_url)
    assert parts.port is not None
    with socket.create_connection(("127.0.0.1", parts.port), timeout=timeout) as sock:
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


def raw_get(
    bridge: BridgeServer, target: str, headers: dict[str, str] | None = None, cookie: str = ""
) -> RawResponse:
    """``GET target`` with the request line exactly as given (``target`` is already encoded)."""
    port = urlsplit(bridge.url).port
    lines = [f"GET {target} HTTP/1.1", f"Host: localhost:{port}", "Connection: close"]
    if cookie:
        lines.append(f"Cookie: {bridge.settings.cookie_name}={cookie}")
    lines += [f"{name}: {value}" for name, value in (headers or CSRF).items()]
    return raw_request(bridge.url, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def keys(client: redis.Redis, prefix: str, kind: str = "") -> list[bytes]:
    """Keys under the test's prefix, optionally only one kind (``s:``, ``p:``, ``pc:``, …)."""
    return sorted(client.scan_iter(match=f"{prefix}{kind}*", count=1000))


def api_calls(bridge: BridgeServer) -> int:
    """How many requests the emulator's API host has seen so far (its request log)."""
    return bridge.emulator.state.request_count

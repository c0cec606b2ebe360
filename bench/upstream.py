"""A tiny, fast stand-in for Looker's API host, so the upstream is never the bottleneck.

Raw HTTP/1.1 on asyncio (keep-alive, no framework): a Flask or werkzeug upstream would cost more
per request than the proxies it is meant to measure. Routes, all under ``/api/4.0`` because that
is what the bridge forwards:

    GET /api/4.0/user                  a small User JSON like Looker's (needs a token)
    GET /api/4.0/bench/stream?mb=N     N MiB with Content-Length, written under flow control
    GET /api/4.0/bench/slow?s=X        answers after X seconds (default 2)

A missing ``Authorization: Bearer|token`` header answers Looker's 401 body. Run it as
``python bench/upstream.py --port P``; it prints ``ready`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from urllib.parse import parse_qs, urlsplit

USER_BODY = json.dumps(
    {
        "id": "1",
        "first_name": "Ada",
        "last_name": "Admin",
        "display_name": "Ada Admin",
        "email": "admin@example.com",
        "is_disabled": False,
        "locale": "en",
        "home_folder_id": "1",
        "personal_folder_id": "1",
        "role_ids": ["2"],
        "group_ids": ["1"],
        "url": "https://looker.example.com/api/4.0/users/1",
        "can": {"show": True, "index": True, "show_details": True, "index_details": True},
    },
    separators=(",", ":"),
).encode()
UNAUTHORIZED_BODY = b'{"message":"Requires authentication.","documentation_url":"https://cloud.google.com/looker/docs/"}'
NOT_FOUND_BODY = (
    b'{"message":"Not found","documentation_url":"https://cloud.google.com/looker/docs/"}'
)
CHUNK = b"x" * (256 * 1024)


def _response(status: str, body: bytes, keep_alive: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    return head.encode() + body


class UpstreamProtocol(asyncio.Protocol):
    """One connection: parse requests from the buffer, answer in order."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.can_write = asyncio.Event()
        self.can_write.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.can_write.set()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._serve_buffered()

    def _serve_buffered(self) -> None:
        while self.transport is not None and not self.busy:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:
                    self.transport.close()
                return
            head = self.buffer[:end].decode("latin-1")
            lines = head.split("\r\n")
            method, target, version = (lines[0].split(" ") + ["", "", ""])[:3]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if len(self.buffer) < end + 4 + length:
                return  # wait for the body (we ignore it, but must consume it)
            self.buffer = self.buffer[end + 4 + length :]
            keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
            self._answer(method, target, headers, keep_alive)

    def _answer(self, method: str, target: str, headers: dict[str, str], keep_alive: bool) -> None:
        assert self.transport is not None
        url = urlsplit(target)
        auth = headers.get("authorization", "")
        if not (auth.startswith("Bearer ") or auth.startswith("token ")) or len(auth) < 8:
            self._finish(_response("401 Unauthorized", UNAUTHORIZED_BODY, keep_alive), keep_alive)
            return
        query = parse_qs(url.query)
        if url.path == "/api/4.0/user":
            self._finish(_response("200 OK", USER_BODY, keep_alive), keep_alive)
        elif url.path == "/api/4.0/bench/slow":
            delay = float(query.get("s", ["2"])[0])
            self.busy = True
            loop = asyncio.get_running_loop()
            body = _response("200 OK", USER_BODY, keep_alive)
            loop.call_later(delay, self._finish_later, body, keep_alive)
        elif url.path == "/api/4.0/bench/stream":
            size = int(float(query.get("mb", ["200"])[0]) * 1024 * 1024)
            self.busy = True
            asyncio.get_running_loop().create_task(self._stream(size, keep_alive))
        else:
            self._finish(_response("404 Not Found", NOT_FOUND_BODY, keep_alive), keep_alive)

    def _finish(self, data: bytes, keep_alive: bool) -> None:
        if self.transport is None:
            return
        self.transport.write(data)
        if not keep_alive:
            self.transport.close()

    def _finish_later(self, data: bytes, keep_alive: bool) -> None:
        self.busy = False
        self._finish(data, keep_alive)
        self._serve_buffered()

    async def _stream(self, size: int, keep_alive: bool) -> None:
        if self.transport is None:
            return
        self.transport.write(
            (
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: {size}\r\n"
                f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
            ).encode()
        )
        sent = 0
        while sent < size and self.transport is not None:
            await self.can_write.wait()
            piece = CHUNK if size - sent >= len(CHUNK) else CHUNK[: size - sent]
            if self.transport is None:
                return
            self.transport.write(piece)
            sent += len(piece)
        self.busy = False
        if self.transport is not None and not keep_alive:
            self.transport.close()
        self._serve_buffered()


async def serve(host: str, port: int) -> None:
    """Listen until SIGTERM/SIGINT."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(UpstreamProtocol, host, port, backlog=2048, reuse_port=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()

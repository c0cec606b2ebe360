"""A raw-socket stand-in for Looker's API host that answers every request with fixed bytes.

Use it where the real emulator cannot misbehave on purpose (garbage, hang-ups) or where the exact
request line the bridge sends must be read. ``session_cookie`` signs in without Looker: it puts
a session straight into the bridge's store, since this fake host cannot run the OAuth flow.
"""

from __future__ import annotations

import socket
import threading
import time

from oauth_bridge.models import TokenSet, UserInfo
from oauth_bridge.services import get_services
from tests.support.bridge import BridgeServer


class FakeLooker:
    """Answers every request with ``answer`` (bytes, or None to hang up at once)."""

    def __init__(self, answer: bytes | None) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data)
                if self.answer is not None:
                    conn.sendall(self.answer)
                    time.sleep(0.05)

    def close(self) -> None:
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()


def session_cookie(bridge: BridgeServer) -> dict[str, str]:
    """A signed-in analyst's cookie, made in the bridge's store (its token means nothing)."""
    store = get_services(bridge.app).store
    cookie, _ = store.create(
        UserInfo(id="2", display_name="Analyst", email="analyst@example.com"),
        TokenSet(access_token="a" * 44, refresh_token="r" * 44, expires_at=time.time() + 3600),
    )
    return {bridge.settings.cookie_name: cookie}

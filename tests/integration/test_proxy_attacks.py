"""Hostile requests to the proxy: each is refused with the right status, and Looker never hears.

Requests are written byte for byte on a raw socket, so no client library normalises a path,
drops a control character or refuses a header before the bridge sees it. The browser holds a
valid session cookie throughout: the refusals are the rules', not a missing sign-in.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.support.bridge import BridgeServer, sign_in_as

MAX_BODY = 1024


@dataclass
class Attack:
    name: str
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    status: int
    error: str | None


def attacks(api_url: str, spa_origin: str) -> list[Attack]:
    api = {"X-Looker-AppId": "attack"}
    xff = "/api/proxy"

    def a(name: str, target: str, status: int, error: str | None, **kw: object) -> Attack:
        headers = kw.get("headers", api)
        assert isinstance(headers, dict)
        body = kw.get("body", b"")
        assert isinstance(body, bytes)
        method = kw.get("method", "GET")
        assert isinstance(method, str)
        return Attack(name, method, target, headers, body, status, error)

    return [
        # foreign origins and missing CSRF header
        a("evil origin", "/api/4.0/user", 403, "origin_not_allowed",
          headers={**api, "Origin": "http://evil.example"}),
        a("null origin", "/api/4.0/user", 403, "origin_not_allowed",
          headers={**api, "Origin": "null"}),
        a("look-alike origin", "/api/4.0/user", 403, "origin_not_allowed",
          headers={**api, "Origin": spa_origin + ".evil.example"}),
        a("origin prefix", "/api/4.0/user", 403, "origin_not_allowed",
          headers={**api, "Origin": spa_origin + "0"}),
        a("no csrf header", "/api/4.0/user", 403, "csrf_header_missing", headers={}),
        a("no csrf header, simple form post", "/api/4.0/looks/1", 403, "csrf_header_missing",
          method="PATCH", headers={"Content-Type": "text/plain"}, body=b'{"title":"x"}'),
        a("no csrf header, allowed origin", "/api/4.0/looks/1", 403, "csrf_header_missing",
          method="DELETE", headers={"Origin": spa_origin}),
        a("csrf header empty", "/api/4.0/user", 403, "csrf_header_missing",
          headers={"X-Looker-AppId": ""}),
        a("no csrf header on proxy session", xff, 403, "csrf_header_missing",
          headers={"X-Forwarded-For": f"{api_url}/api/4.0/user"}),
        # path traversal and SSRF
        a("dot-dot", "/api/4.0/../../_emulator/requests", 400, "invalid_path"),
        a("dot-dot in the middle", "/api/4.0/looks/../../../_emulator/reset", 400, "invalid_path"),
        a("single dot", "/api/4.0/./user", 400, "invalid_path"),
        a("encoded dot-dot", "/api/4.0/%2e%2e/%2e%2e/_emulator/requests", 400, "invalid_path"),
        a("encoded dot-dot upper", "/api/4.0/%2E%2E/_emulator", 400, "invalid_path"),
        a("double-encoded dot-dot", "/api/4.0/%252e%252e/_emulator", 400, "invalid_path"),
        a("encoded slash", "/api/4.0/looks%2f..%2f..%2f_emulator", 400, "invalid_path"),
        a("encoded backslash", "/api/4.0/looks%5c..%5c_emulator", 400, "invalid_path"),
        a("backslash", "/api/4.0/looks\\..\\_emulator", 400, "invalid_path"),
        a("double slash host", "/api/4.0//evil.example/x", 400, "invalid_path"),
        a("scheme in path", "/api/4.0/http://evil.example/x", 400, "invalid_path"),
        a("absolute-form request line", "http://evil.example/api/4.0/user", 400, "invalid_path"),
        a("encoded NUL", "/api/4.0/user%00", 400, "invalid_path"),
        a("encoded CRLF in path", "/api/4.0/user%0d%0aX-Evil:%201", 400, "invalid_path"),
        a("raw control char", "/api/4.0/us\x01er", 400, "invalid_path"),
        a("raw DEL", "/api/4.0/user\x7f", 400, "invalid_path"),
        a("8-bit path", "/api/4.0/us\xe9r", 400, "invalid_path"),
        # header and query injection
        a("CRLF in query", "/api/4.0/user?x=%0d%0aHost:%20evil.example", 400, "bad_request"),
        a("NUL in query", "/api/4.0/user?x=%00", 400, "bad_request"),
        a("LF in query", "/api/4.0/user?x=%0A", 400, "bad_request"),
        a("control char in forwarded header", "/api/4.0/user", 400, "bad_request",
          headers={**api, "Accept": "application/json\x01"}),
        a("folded header smuggling", "/api/4.0/user", 400, "bad_request",
          headers={**api, "Content-Type": "application/json\r\n\tX-Evil: 1"}),
        a("8-bit forwarded header", "/api/4.0/user", 400, "bad_request",
          headers={**api, "If-None-Match": "\xe9tag"}),
        # oversized body
        a("declared too large", "/api/4.0/queries/run/json", 413, "payload_too_large",
          method="POST", headers={**api, "Content-Type": "application/json"},
          body=b"[" + b"1," * MAX_BODY + b"1]"),
        a("chunked too large", "/api/4.0/queries/run/json", 413, "payload_too_large",
          method="POST", headers={**api, "Content-Type": "application/json",
                                  "Transfer-Encoding": "chunked"},
          body=b"[" + b"1," * MAX_BODY + b"1]"),
        # forged ProxySession targets
        a("xff other host", xff, 400, "invalid_path",
          headers={**api, "X-Forwarded-For": "http://evil.example/api/4.0/user"}),
        a("xff look-alike host", xff, 400, "invalid_path",
          headers={**api, "X-Forwarded-For": f"{api_url}.evil.example/api/4.0/user"}),
        a("xff userinfo", xff, 400, "invalid_path",
          headers={**api, "X-Forwarded-For": f"{api_url}@evil.example/api/4.0/user"}),
        a("xff other api version", xff, 400, "invalid_path",
          headers={**api, "X-Forwarded-For": f"{api_url}/api/3.1/user"}),
        a("xff control endpoint", xff, 400, "invalid_path",
          headers={**api, "X-Forwarded-For": f"{api_url}/_emulator/requests"}),
        a("xff dot-dot", xff, 400, "invalid_path",
          headers={**api, "X-Forwarded-For": f"{api_url}/api/4.0/../../_emulator/reset"}),
        a("xff encoded dot-dot", xff, 400, "invalid_path",
          headers={**api, "X-Forwarded-For": f"{api_url}/api/4.0/%2e%2e/_emulator/reset"}),
        a("xff encoded slash", xff, 400, "invalid_path",
          headers={**api, "X-Forwarded-For": f"{api_url}/api/4.0/looks%2f1"}),
        a("xff CRLF in query", xff, 400, "bad_request",
          headers={**api, "X-Forwarded-For": f"{api_url}/api/4.0/user?x=%0d%0a"}),
        a("xff two targets", xff, 400, "invalid_path",
          headers={**api, "X-Forwarded-For":
                   f"{api_url}/api/4.0/user, http://evil.example/api/4.0/user"}),
        a("xff missing", xff, 400, "invalid_path"),
        a("xff plus query on the proxy url", xff + "?x=1", 400, "invalid_path",
          headers={**api, "X-Forwarded-For": f"{api_url}/api/4.0/user"}),
    ]  # fmt: skip


def raw_exchange(url: str, attack: Attack, cookie: str) -> tuple[int, dict[str, str]]:
    """Send one request exactly as written; the status and the JSON body of the answer."""
    parts = urlsplit(url)
    lines = [f"{attack.method} {attack.target} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in attack.headers.items()]
    lines += [f"Cookie: {cookie}", "Connection: close"]
    body = attack.body
    if attack.headers.get("Transfer-Encoding") == "chunked":
        body = b"".join(
            b"%x\r\n%s\r\n" % (len(body[i : i + 256]), body[i : i + 256])
            for i in range(0, len(body), 256)
        )
        body += b"0\r\n\r\n"
    elif body:
        lines.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"chunked" in head.lower():
        payload = _dechunk(payload)
    return status, json.loads(payload) if payload else {}


def _dechunk(payload: bytes) -> bytes:
    out = b""
    while payload:
        size_line, _, rest = payload.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, payload = out + rest[:size], rest[size + 2 :]
    return out


@pytest.fixture
def armed_bridge(
    bridge_factory: Callable[..., BridgeServer],
) -> Iterator[tuple[BridgeServer, str]]:
    bridge = bridge_factory(max_body_bytes=MAX_BODY)
    with sign_in_as(bridge, "analyst") as http:
        cookie = f"{bridge.settings.cookie_name}={http.cookies[bridge.settings.cookie_name]}"
        yield bridge, cookie


ATTACK_NAMES = [attack.name for attack in attacks("http://x", "http://y")]


def test_the_attack_list_is_broad() -> None:
    assert len(ATTACK_NAMES) == len(set(ATTACK_NAMES)) >= 40


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_attack_is_refused_and_nothing_reaches_looker(
    armed_bridge: tuple[BridgeServer, str], name: str
) -> None:
    bridge, cookie = armed_bridge
    (attack,) = [a for a in attacks(bridge.emulator.api_url, bridge.spa_origin) if a.name == name]
    state = bridge.emulator.state
    before = state.request_count
    status, body = raw_exchange(bridge.url, attack, cookie)
    assert (status, body.get("error")) == (attack.status, attack.error), body
    assert body.get("message")
    assert state.request_count == before, [r.path for r in state.request_log[-3:]]


def test_the_same_session_still_works_after_the_attacks(
    armed_bridge: tuple[BridgeServer, str],
) -> None:
    """The control case: the raw client and the cookie are good, so refusals mean the rules."""
    bridge, cookie = armed_bridge
    ok = Attack("ok", "GET", "/api/4.0/user", {"X-Looker-AppId": "t"}, b"", 200, None)
    before = bridge.emulator.state.request_count
    status, body = raw_exchange(bridge.url, ok, cookie)
    assert status == 200
    assert body["email"] == "analyst@example.com"
    assert bridge.emulator.state.request_count == before + 1

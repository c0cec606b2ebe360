"""The proxy only ever talks to Looker's API host, with only what it means to send.

Path traversal and SSRF strings, CR/LF and NUL injection, header smuggling, oversized and
malformed bodies. Hostile request lines go out on a raw socket (``requests`` would normalise
them), signed in as admin so that only the attack, not a missing session, can explain a refusal;
the emulator's request log proves that nothing reached Looker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.bridge import BridgeServer, sign_in_as
from tests.support.security_tools import CSRF, RawResponse, api_calls, raw_get, raw_request

TRAVERSAL_AND_SSRF = [
    "/api/4.0/../4.0/user",
    "/api/4.0/looks/../user",
    "/api/4.0/looks/../../token",
    "/api/4.0/./user",
    "/api/4.0/user/.",
    "/api/4.0/looks/%2e%2e/user",
    "/api/4.0/looks/%2E%2E/%2E%2E/login",
    "/api/4.0/looks/.%2e/user",
    "/api/4.0/looks/%2e./user",
    "/api/4.0/looks/%252e%252e/user",
    "/api/4.0/looks/%25%32%65%25%32%65/user",
    "/api/4.0/%u002e%u002e/token",
    "/api/4.0/..%2ftoken",
    "/api/4.0/looks%2f..%2f..%2ftoken",
    "/api/4.0/looks%2F..%2F..%2Flogout",
    "/api/4.0/%2fevil.example/x",
    "/api/4.0/%2F%2Fevil.example/x",
    "/api/4.0/looks%5c..%5ctoken",
    "/api/4.0/looks%5C..%5Ctoken",
    "/api/4.0/looks\\..\\token",
    "/api/4.0/\\\\evil.example/x",
    "/api/4.0//evil.example/x",
    "/api/4.0///evil.example/x",
    "/api/4.0/looks//user",
    "/api/4.0/http://evil.example/x",
    "/api/4.0/http:%2f%2fevil.example/x",
    "/api/4.0/https:/evil.example",
    "/api/4.0/user%00",
    "/api/4.0/user%00.json",
    "/api/4.0/user%0d%0aX-Injected:%201",
    "/api/4.0/user%0aHost:%20evil.example",
    "/api/4.0/user%0d",
    "/api/4.0/user%09",
    "/api/4.0/user%7f",
    "/api/4.0/user\x00",
    "/api/4.0/user\x7f",
    "/api/4.0/us\x01er",
    "/api/4.0/",
    "/api/4.0/" + "a/" * 1100 + "user",
    "http://evil.example/api/4.0/user",
    "http://127.0.0.1:1/api/4.0/user",
    "https://localhost/api/4.0/user",
]

BAD_QUERIES = [
    "/api/4.0/user?fields=id%0d%0aX-Injected:%201",
    "/api/4.0/user?fields=id%0aHost:evil.example",
    "/api/4.0/user?fields=id%00",
    "/api/4.0/user?fields=id%0D%0A",
    "/api/4.0/user?fields=\x01",
    "/api/4.0/user?fields=id\x7f",
    "/api/4.0/user?fields=\x00",
]


@pytest.fixture
def admin_cookie(bridge: BridgeServer) -> Iterator[str]:
    http = sign_in_as(bridge, "admin")
    yield http.cookies[bridge.settings.cookie_name]
    http.close()


def assert_refused_json(response: RawResponse, status: int = 400) -> None:
    assert response.status == status, (response.status, response.body[:200])
    assert response.header("Content-Type") == "application/json"
    assert b'"error"' in response.body


def test_signed_in_control_request_reaches_looker(bridge: BridgeServer, admin_cookie: str) -> None:
    """The same raw socket and session do get through for a clean path: refusals mean it."""
    before = api_calls(bridge)
    response = raw_get(bridge, "/api/4.0/user?fields=id,email", cookie=admin_cookie)
    assert response.status == 200
    assert b"admin@example.com" in response.body
    assert api_calls(bridge) == before + 1
    assert bridge.emulator.state.request_log[-1].path == "/api/4.0/user"


@pytest.mark.parametrize("target", TRAVERSAL_AND_SSRF + BAD_QUERIES)
def test_hostile_targets_are_refused_before_anything_is_sent(
    bridge: BridgeServer, admin_cookie: str, target: str
) -> None:
    before = api_calls(bridge)
    response = raw_get(bridge, target, cookie=admin_cookie)
    assert_refused_json(response)
    assert response.header("Location") is None
    assert api_calls(bridge) == before


def test_raw_carriage_return_in_the_request_line_is_refused(
    bridge: BridgeServer, admin_cookie: str
) -> None:
    before = api_calls(bridge)
    port = urlsplit(bridge.url).port
    data = (
        f"GET /api/4.0/us\rer HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n"
        f"X-Looker-AppId: t\r\nCookie: {bridge.settings.cookie_name}={admin_cookie}\r\n\r\n"
    ).encode("latin-1")
    assert raw_request(bridge.url, data).status == 400
    assert api_calls(bridge) == before


def test_a_path_outside_the_api_prefix_is_not_forwarded(
    bridge: BridgeServer, admin_cookie: str
) -> None:
    before = api_calls(bridge)
    for target in ("//evil.example/api/4.0/user", "/api/3.1/user", "/api/token", "/api/logout"):
        response = raw_get(bridge, target, cookie=admin_cookie)
        assert response.status in (404, 405), target
        assert b'"error"' in response.body
    assert api_calls(bridge) == before


@pytest.mark.parametrize(
    "target",
    [
        "http://evil.example/api/4.0/user",
        "{api}/api/4.0/../token",
        "{api}/api/4.0/looks/%2e%2e/user",
        "{api}/api/4.0/user%0d%0aX-Injected: 1",
        "{api}/api/4.0/user?x=%00",
        "{api}/api/4.0/user#@evil.example",
        "{api}@evil.example/api/4.0/user",
        "{api}.evil.example/api/4.0/user",
        "{api}/api/3.1/user",
        "{api}/api/token",
        "{ui}/api/4.0/user",
        "/api/4.0/user",
        "{api}/api/4.0/user, http://evil.example/api/4.0/user",
    ],
)
def test_forged_proxy_session_targets_are_refused(
    bridge: BridgeServer, admin_cookie: str, target: str
) -> None:
    value = target.format(api=bridge.settings.looker_api_url, ui=bridge.settings.looker_url)
    before = api_calls(bridge)
    response = raw_get(
        bridge,
        "/api/proxy",
        headers={**CSRF, "X-Forwarded-For": value},
        cookie=admin_cookie,
    )
    assert_refused_json(response)
    assert api_calls(bridge) == before


def test_proxy_session_control_target_is_forwarded(bridge: BridgeServer, admin_cookie: str) -> None:
    before = api_calls(bridge)
    response = raw_get(
        bridge,
        "/api/proxy",
        headers={**CSRF, "X-Forwarded-For": f"{bridge.settings.looker_api_url}/api/4.0/user"},
        cookie=admin_cookie,
    )
    assert response.status == 200
    assert api_calls(bridge) == before + 1


def test_browser_headers_that_could_redirect_or_impersonate_are_not_forwarded(
    bridge: BridgeServer,
) -> None:
    http = sign_in_as(bridge, "viewer")
    cookie = http.cookies[bridge.settings.cookie_name]
    http.close()
    before = api_calls(bridge)
    # The cookie goes in by hand: requests files cookies by the Host header, which is forged.
    with requests.get(
        f"{bridge.url}/api/4.0/user",
        headers={
            **CSRF,
            "Cookie": f"{bridge.settings.cookie_name}={cookie}",
            "Authorization": "token attacker-chosen-token",
            "Host": "evil.example",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-For": "203.0.113.9",
            "X-Forwarded-Proto": "https",
            "Forwarded": "host=evil.example",
            "X-Original-URL": "/api/token",
            "X-Rewrite-URL": "/api/token",
            "X-HTTP-Method-Override": "DELETE",
            "Proxy-Authorization": "Basic eDp5",
            "Connection": "close, X-Looker-AppId",
            "TE": "trailers",
        },
        timeout=10,
    ) as response:
        assert response.status_code == 200
        assert response.json()["email"] == "viewer@example.com"
        assert "Set-Cookie" not in response.headers
    log = bridge.emulator.state.request_log
    assert len(log) == before + 1
    sent = {name.lower(): value for name, value in log[-1].headers.items()}
    assert log[-1].method == "GET" and log[-1].path == "/api/4.0/user"
    assert sent["authorization"] == "Bearer"  # ours, redacted to its scheme by the emulator
    assert urlsplit(f"http://{sent['host']}").port == bridge.emulator.api_port
    for name in (
        "cookie",
        "x-forwarded-host",
        "x-forwarded-for",
        "x-forwarded-proto",
        "forwarded",
        "x-original-url",
        "x-rewrite-url",
        "x-http-method-override",
        "proxy-authorization",
        "te",
        "origin",
    ):
        assert name not in sent, name


@pytest.mark.parametrize(
    "header_line",
    [
        "Accept: application/json\x00",
        "Content-Type: application/json\x0bX-Injected: 1",
        "X-Looker-AppId: app\x01",
        "Accept-Language: en\x7f",
    ],
)
def test_control_characters_in_forwarded_headers_are_refused(
    bridge: BridgeServer, admin_cookie: str, header_line: str
) -> None:
    port = urlsplit(bridge.url).port
    lines = [
        "GET /api/4.0/user HTTP/1.1",
        f"Host: localhost:{port}",
        "Connection: close",
        f"Cookie: {bridge.settings.cookie_name}={admin_cookie}",
    ]
    if not header_line.startswith("X-Looker-AppId"):
        lines.append("X-Looker-AppId: t")
    lines.append(header_line)
    before = api_calls(bridge)
    response = raw_request(bridge.url, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    assert_refused_json(response)
    assert api_calls(bridge) == before


def test_folded_header_reaches_looker_unfolded(bridge: BridgeServer, admin_cookie: str) -> None:
    """An obsolete line fold never carries a CR/LF upstream: it arrives as one header line."""
    port = urlsplit(bridge.url).port
    data = (
        f"GET /api/4.0/user HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n"
        f"X-Looker-AppId: t\r\nCookie: {bridge.settings.cookie_name}={admin_cookie}\r\n"
        "Accept: application/json\r\n X-Injected: 1\r\n\r\n"
    ).encode("latin-1")
    response = raw_request(bridge.url, data)
    if response.status == 200:
        sent = bridge.emulator.state.request_log[-1].headers
        assert "X-Injected" not in sent
        assert all("\r" not in v and "\n" not in v for v in sent.values())
    else:
        assert_refused_json(response)


@pytest.fixture
def small_body_bridge(bridge_factory: Callable[..., BridgeServer]) -> BridgeServer:
    return bridge_factory(max_body_bytes=1024)


def test_oversized_declared_body_is_413_before_looker(small_body_bridge: BridgeServer) -> None:
    bridge = small_body_bridge
    http = sign_in_as(bridge, "admin")
    before = api_calls(bridge)
    for method in ("POST", "PUT", "PATCH"):
        with http.request(
            method,
            f"{bridge.url}/api/4.0/looks",
            headers={**CSRF, "Content-Type": "application/json", "Origin": bridge.spa_origin},
            data=b'{"title": "' + b"x" * 4096 + b'"}',
            timeout=10,
        ) as response:
            assert response.status_code == 413
            assert response.json()["error"] == "payload_too_large"
            # the SPA can read the refusal
            assert response.headers["Access-Control-Allow-Origin"] == bridge.spa_origin
    assert api_calls(bridge) == before
    http.close()


def test_oversized_chunked_body_is_413_before_looker(small_body_bridge: BridgeServer) -> None:
    bridge = small_body_bridge
    http = sign_in_as(bridge, "admin")

    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b"x" * 512

    before = api_calls(bridge)
    with http.post(
        f"{bridge.url}/api/4.0/looks",
        headers={**CSRF, "Content-Type": "application/json"},
        data=chunks(),
        timeout=10,
    ) as response:
        assert response.status_code == 413
        assert response.json()["error"] == "payload_too_large"
    assert api_calls(bridge) == before
    http.close()


def test_body_at_the_limit_is_forwarded_whole(small_body_bridge: BridgeServer) -> None:
    bridge = small_body_bridge
    http = sign_in_as(bridge, "admin")
    body = b'{"title":"' + b"t" * (1024 - 12) + b'"}'
    assert len(body) == 1024
    with http.patch(
        f"{bridge.url}/api/4.0/looks/1",
        headers={**CSRF, "Content-Type": "application/json"},
        data=body,
        timeout=10,
    ) as response:
        assert response.status_code < 500
    assert bridge.emulator.state.request_log[-1].body_size == 1024
    http.close()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"title": '),
        ("application/json", b"\xff\xfe\x00garbage"),
        ("application/json", b"[" * 5000 + b"]" * 4999),
        ("application/x-www-form-urlencoded", b"%%%=&&=%zz"),
        ("text/plain", b"\x00\x01\x02"),
    ],
)
def test_malformed_bodies_are_passed_to_looker_to_judge_not_crash_the_bridge(
    bridge: BridgeServer, admin_cookie: str, content_type: str, body: bytes
) -> None:
    before = api_calls(bridge)
    with requests.patch(
        f"{bridge.url}/api/4.0/looks/1",
        headers={
            **CSRF,
            "Content-Type": content_type,
            "Cookie": f"{bridge.settings.cookie_name}={admin_cookie}",
        },
        data=body,
        timeout=10,
    ) as response:
        assert 400 <= response.status_code < 500, response.text[:200]
        assert response.json()["message"]
    log = bridge.emulator.state.request_log
    assert api_calls(bridge) == before + 1
    assert log[-1].body_size == len(body)


@pytest.mark.parametrize(
    "extra",
    [
        "Content-Length: 5\r\nContent-Length: 6",
        "Content-Length: abc",
        "Content-Length: -1",
        "Content-Length: 5\r\nTransfer-Encoding: chunked",
    ],
)
def test_ambiguous_body_framing_never_smuggles_a_second_request(
    bridge: BridgeServer, admin_cookie: str, extra: str
) -> None:
    """Whatever the server makes of the framing, Looker never sees a request for ``/token``."""
    port = urlsplit(bridge.url).port
    smuggled = "GET /api/4.0/looks/%2e%2e/token HTTP/1.1\r\nHost: x\r\n\r\n"
    data = (
        f"POST /api/4.0/looks HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n"
        f"X-Looker-AppId: t\r\nCookie: {bridge.settings.cookie_name}={admin_cookie}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n\r\n0\r\n\r\n{smuggled}"
    ).encode("latin-1")
    before = api_calls(bridge)
    response = raw_request(bridge.url, data)
    assert response.status < 500
    assert all("token" not in r.path for r in bridge.emulator.state.request_log[before:])
    assert api_calls(bridge) - before <= 1

"""The proxy only ever talks to Looker's API host, with only what it means to send.

Foreign origins and missing CSRF headers, path traversal and SSRF strings, CR/LF and NUL
injection, header smuggling, forged ProxySession targets, oversized and malformed bodies. Hostile
requests go out byte for byte on a raw socket (``requests`` would normalise a path, drop a control
character or refuse a header before the bridge sees it), signed in as admin so that only the
attack, not a missing session, can explain a refusal; the emulator's request log proves that
nothing reached Looker.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.bridge import BridgeServer, sign_in_as
from tests.support.hostile_requests import BAD_QUERIES, TRAVERSAL_AND_SSRF
from tests.support.security_tools import (
    CSRF,
    RawResponse,
    api_calls,
    raw_get,
    raw_request,
    raw_send,
)

pytestmark = pytest.mark.both_data_planes  # embedded proxy, and nginx in front


@dataclass(frozen=True)
class Attack:
    """One hostile request and the refusal it must get (``headers=None``: the CSRF header)."""

    name: str
    target: str
    status: int
    error: str
    method: str = "GET"
    headers: dict[str, str] | None = None
    body: bytes = b""


def attacks(api_url: str, ui_url: str, spa_origin: str) -> list[Attack]:
    """Every hostile request, with the URLs of the bridge under test filled in."""
    xff = "/api/proxy"

    def forged(name: str, target: str, error: str = "invalid_path") -> Attack:
        return Attack(name, xff, 400, error, headers={**CSRF, "X-Forwarded-For": target})

    return [
        # foreign origins and missing CSRF header
        Attack("evil origin", "/api/4.0/user", 403, "origin_not_allowed",
               headers={**CSRF, "Origin": "http://evil.example"}),
        Attack("null origin", "/api/4.0/user", 403, "origin_not_allowed",
               headers={**CSRF, "Origin": "null"}),
        Attack("look-alike origin", "/api/4.0/user", 403, "origin_not_allowed",
               headers={**CSRF, "Origin": spa_origin + ".evil.example"}),
        Attack("origin prefix", "/api/4.0/user", 403, "origin_not_allowed",
               headers={**CSRF, "Origin": spa_origin + "0"}),
        Attack("no csrf header", "/api/4.0/user", 403, "csrf_header_missing", headers={}),
        Attack("no csrf header, simple form post", "/api/4.0/looks/1", 403,
               "csrf_header_missing", method="PATCH", headers={"Content-Type": "text/plain"},
               body=b'{"title":"x"}'),
        Attack("no csrf header, allowed origin", "/api/4.0/looks/1", 403, "csrf_header_missing",
               method="DELETE", headers={"Origin": spa_origin}),
        Attack("csrf header empty", "/api/4.0/user", 403, "csrf_header_missing",
               headers={"X-Looker-AppId": ""}),
        Attack("no csrf header on proxy session", xff, 403, "csrf_header_missing",
               headers={"X-Forwarded-For": f"{api_url}/api/4.0/user"}),
        # path traversal and SSRF
        *(Attack(target, target, 400, "invalid_path") for target in TRAVERSAL_AND_SSRF),
        Attack("dot-dot", "/api/4.0/../../_emulator/requests", 400, "invalid_path"),
        Attack("dot-dot in the middle", "/api/4.0/looks/../../../_emulator/reset", 400,
               "invalid_path"),
        Attack("encoded dot-dot", "/api/4.0/%2e%2e/%2e%2e/_emulator/requests", 400,
               "invalid_path"),
        Attack("encoded dot-dot upper", "/api/4.0/%2E%2E/_emulator", 400, "invalid_path"),
        Attack("double-encoded dot-dot", "/api/4.0/%252e%252e/_emulator", 400, "invalid_path"),
        Attack("encoded slash", "/api/4.0/looks%2f..%2f..%2f_emulator", 400, "invalid_path"),
        Attack("encoded backslash", "/api/4.0/looks%5c..%5c_emulator", 400, "invalid_path"),
        Attack("backslash", "/api/4.0/looks\\..\\_emulator", 400, "invalid_path"),
        Attack("encoded CRLF in path", "/api/4.0/user%0d%0aX-Evil:%201", 400, "invalid_path"),
        Attack("8-bit path", "/api/4.0/us\xe9r", 400, "invalid_path"),
        # header and query injection
        *(Attack(target, target, 400, "bad_request") for target in BAD_QUERIES),
        Attack("CRLF in query", "/api/4.0/user?x=%0d%0aHost:%20evil.example", 400,
               "bad_request"),
        Attack("NUL in query", "/api/4.0/user?x=%00", 400, "bad_request"),
        Attack("LF in query", "/api/4.0/user?x=%0A", 400, "bad_request"),
        Attack("SOH in forwarded header", "/api/4.0/user", 400, "bad_request",
               headers={**CSRF, "Accept": "application/json\x01"}),
        Attack("NUL in forwarded header", "/api/4.0/user", 400, "bad_request",
               headers={**CSRF, "Accept": "application/json\x00"}),
        Attack("VT in forwarded header", "/api/4.0/user", 400, "bad_request",
               headers={**CSRF, "Content-Type": "application/json\x0bX-Injected: 1"}),
        Attack("DEL in forwarded header", "/api/4.0/user", 400, "bad_request",
               headers={**CSRF, "Accept-Language": "en\x7f"}),
        Attack("control char in csrf header", "/api/4.0/user", 400, "bad_request",
               headers={"X-Looker-AppId": "app\x01"}),
        Attack("folded header smuggling", "/api/4.0/user", 400, "bad_request",
               headers={**CSRF, "Content-Type": "application/json\r\n\tX-Evil: 1"}),
        Attack("8-bit forwarded header", "/api/4.0/user", 400, "bad_request",
               headers={**CSRF, "If-None-Match": "\xe9tag"}),
        # forged ProxySession targets
        forged("xff other host", "http://evil.example/api/4.0/user"),
        forged("xff look-alike host", f"{api_url}.evil.example/api/4.0/user"),
        forged("xff userinfo", f"{api_url}@evil.example/api/4.0/user"),
        forged("xff other api version", f"{api_url}/api/3.1/user"),
        forged("xff control endpoint", f"{api_url}/_emulator/requests"),
        forged("xff token endpoint", f"{api_url}/api/token"),
        forged("xff ui host", f"{ui_url}/api/4.0/user"),
        forged("xff no host", "/api/4.0/user"),
        forged("xff dot-dot", f"{api_url}/api/4.0/../../_emulator/reset"),
        forged("xff dot-dot to token", f"{api_url}/api/4.0/../token"),
        forged("xff encoded dot-dot", f"{api_url}/api/4.0/%2e%2e/_emulator/reset"),
        forged("xff encoded dot-dot in the middle", f"{api_url}/api/4.0/looks/%2e%2e/user"),
        forged("xff encoded slash", f"{api_url}/api/4.0/looks%2f1"),
        forged("xff CRLF in path", f"{api_url}/api/4.0/user%0d%0aX-Injected: 1"),
        forged("xff fragment", f"{api_url}/api/4.0/user#@evil.example"),
        forged("xff CRLF in query", f"{api_url}/api/4.0/user?x=%0d%0a", "bad_request"),
        forged("xff NUL in query", f"{api_url}/api/4.0/user?x=%00", "bad_request"),
        forged("xff two targets", f"{api_url}/api/4.0/user, http://evil.example/api/4.0/user"),
        Attack("xff missing", xff, 400, "invalid_path"),
        Attack("xff plus query on the proxy url", xff + "?x=1", 400, "invalid_path",
               headers={**CSRF, "X-Forwarded-For": f"{api_url}/api/4.0/user"}),
    ]  # fmt: skip


ATTACK_NAMES = [attack.name for attack in attacks("http://x", "http://y", "http://z")]


def expected_codes(bridge: BridgeServer, attack: Attack) -> set[str]:
    """The error codes the attack may get. nginx refuses a malformed request line or header
    field itself, before it knows which part was bad: 400 ``bad_request`` where the embedded
    bridge can say ``invalid_path`` (docs/operations.md, *Where nginx answers differently*)."""
    if bridge.data_plane == "nginx" and attack.status == 400:
        return {attack.error, "bad_request"}
    return {attack.error}


def assert_nginx_refused_it_itself(
    bridge: BridgeServer, response: RawResponse, before: int
) -> None:
    """nginx's own 400 for a request it will not parse: JSON, and Looker heard nothing."""
    assert_refused_json(response)
    assert json.loads(response.body)["error"] == "bad_request"
    assert api_calls(bridge) == before


@pytest.fixture
def admin_cookie(bridge: BridgeServer) -> Iterator[str]:
    http = sign_in_as(bridge, "admin")
    yield http.cookies[bridge.settings.cookie_name]
    http.close()


def assert_refused_json(response: RawResponse, status: int = 400) -> None:
    assert response.status == status, (response.status, response.body[:200])
    assert response.header("Content-Type") == "application/json"
    assert b'"error"' in response.body


def test_the_attack_list_is_broad() -> None:
    assert len(ATTACK_NAMES) == len(set(ATTACK_NAMES)) >= 40


def test_signed_in_control_request_reaches_looker(bridge: BridgeServer, admin_cookie: str) -> None:
    """The same raw socket and session do get through for a clean path: refusals mean it."""
    before = api_calls(bridge)
    response = raw_get(bridge, "/api/4.0/user?fields=id,email", cookie=admin_cookie)
    assert response.status == 200
    assert json.loads(response.body)["email"] == "admin@example.com"
    assert api_calls(bridge) == before + 1
    assert bridge.emulator.state.request_log[-1].path == "/api/4.0/user"


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_attack_is_refused_and_nothing_reaches_looker(
    bridge: BridgeServer, admin_cookie: str, name: str
) -> None:
    urls = (bridge.settings.looker_api_url, bridge.settings.looker_url, bridge.spa_origin)
    (attack,) = [a for a in attacks(*urls) if a.name == name]
    before = api_calls(bridge)
    response = raw_send(
        bridge, attack.method, attack.target, attack.headers, admin_cookie, attack.body
    )
    body = json.loads(response.body)
    assert response.status == attack.status, body
    assert body.get("error") in expected_codes(bridge, attack), body
    assert body.get("message")
    assert response.header("Content-Type") == "application/json"
    assert response.header("Location") is None
    assert api_calls(bridge) == before, [r.path for r in bridge.emulator.state.request_log[-3:]]


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
        assert response.status == 404, target
        assert json.loads(response.body)["error"] == "not_found"
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


def test_folded_header_reaches_looker_unfolded(bridge: BridgeServer, admin_cookie: str) -> None:
    """An obsolete line fold never carries a CR/LF upstream: it arrives as one header line."""
    port = urlsplit(bridge.url).port
    data = (
        f"GET /api/4.0/user HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n"
        f"X-Looker-AppId: t\r\nCookie: {bridge.settings.cookie_name}={admin_cookie}\r\n"
        "Accept: application/json\r\n X-Injected: 1\r\n\r\n"
    ).encode("latin-1")
    before = api_calls(bridge)
    response = raw_request(bridge.url, data)
    if bridge.data_plane == "nginx":  # RFC 9112 section 5.2: reject obs-fold, or unfold it
        assert_nginx_refused_it_itself(bridge, response, before)
        return
    assert response.status == 200, response.body[:200]
    assert api_calls(bridge) == before + 1
    sent = bridge.emulator.state.request_log[-1].headers
    assert "X-Injected" not in sent
    assert all("\r" not in v and "\n" not in v for v in sent.values())


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
            assert response.json()["message"]
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
        assert response.json()["message"]
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
        assert response.status_code == 200
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
        assert response.status_code == 422, response.text[:200]
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
    """The server reads one request and forwards it; Looker never sees a request for ``/token``."""
    port = urlsplit(bridge.url).port
    smuggled = "GET /api/4.0/looks/%2e%2e/token HTTP/1.1\r\nHost: x\r\n\r\n"
    data = (
        f"POST /api/4.0/looks HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n"
        f"X-Looker-AppId: t\r\nCookie: {bridge.settings.cookie_name}={admin_cookie}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n\r\n0\r\n\r\n{smuggled}"
    ).encode("latin-1")
    before = api_calls(bridge)
    response = raw_request(bridge.url, data)
    if bridge.data_plane == "nginx":  # nginx refuses ambiguous framing outright
        assert_nginx_refused_it_itself(bridge, response, before)
        return
    # the emulator's own answer to the one POST it was sent: create_look is not emulated (501)
    assert response.status == 501 and b"Not emulated: create_look" in response.body
    assert all("token" not in r.path for r in bridge.emulator.state.request_log[before:])
    assert api_calls(bridge) - before == 1
    sent = bridge.emulator.state.request_log[-1]
    assert (sent.method, sent.path) == ("POST", "/api/4.0/looks")

"""nginx mode: the token travels only from the gate to nginx to Looker, and the gate is closed.

The verify endpoint hands the user's access token to nginx in :data:`TOKEN_HEADER`; these tests
hold the two properties that makes safe (issue 12): no answer nginx gives a browser carries that
header or the token, and no request from outside reaches the gate through nginx, however its
path is spelled and whatever headers come with it. Requests go out on a raw socket, signed in as
admin with the CSRF header and an allowed Origin, so only the gate's closure can explain a
refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import requests

from oauth_bridge.data_plane.gate import (
    ORIGINAL_METHOD_HEADER,
    ORIGINAL_URI_HEADER,
    REFUSAL_HEADER,
    TOKEN_HEADER,
    VERIFY_PATH,
)
from oauth_bridge.data_plane.secret import GATE_HEADER, LOOKER_REFUSED_HEADER, gate_secret
from oauth_bridge.services import get_services
from tests.support.bridge import BridgeServer, sign_in_as
from tests.support.security_tools import CSRF, RawResponse, raw_request, raw_send

GATE_SPELLINGS = (
    VERIFY_PATH,
    VERIFY_PATH + "/",
    VERIFY_PATH + "?x=1",
    "/" + VERIFY_PATH,
    "/_oauth_bridge//verify",
    "/_oauth_bridge/./verify",
    "/_oauth_bridge/%76erify",
    "/%5foauth_bridge/verify",
    "/api/4.0/../../_oauth_bridge/verify",
    "/api/4.0/%2e%2e/%2e%2e/_oauth_bridge/verify",
    "/auth/../_oauth_bridge/verify",
    "/_OAUTH_BRIDGE/VERIFY",
)
"""The verify path as an outsider might spell it to slip past ``location = VERIFY_PATH``."""

_OUR_HEADERS = (TOKEN_HEADER, REFUSAL_HEADER, GATE_HEADER, LOOKER_REFUSED_HEADER)


@pytest.fixture
def nginx_bridge(bridge_factory: Callable[..., BridgeServer]) -> BridgeServer:
    return bridge_factory(data_plane="nginx")


def _token(bridge: BridgeServer, cookie: str) -> str:
    record = get_services(bridge.app).store.load(cookie)
    assert record is not None
    return record.tokens.access_token


def _signed_in(bridge: BridgeServer) -> tuple[str, str]:
    http = sign_in_as(bridge, "admin")
    cookie = http.cookies[bridge.settings.cookie_name]
    http.close()
    return cookie, _token(bridge, cookie)


def _forged_headers(bridge: BridgeServer, secret: str) -> dict[str, str]:
    """What an attacker who read our source would add: nginx's own marks to the gate."""
    return {
        **CSRF,
        "Origin": bridge.spa_origin,
        ORIGINAL_METHOD_HEADER: "GET",
        ORIGINAL_URI_HEADER: "/api/4.0/user",
        GATE_HEADER: secret,
        LOOKER_REFUSED_HEADER: secret,
    }


def _assert_nothing_of_ours(answer: RawResponse, token: str) -> None:
    names = {name.lower() for name, _ in answer.headers}
    for header in _OUR_HEADERS:
        assert header.lower() not in names, (header, answer.headers)
    assert token not in answer.body.decode("latin-1")
    assert all(token not in value for _, value in answer.headers)


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize("secret", ["", "guessed", "real"])
def test_the_gate_is_not_reachable_from_outside_through_nginx(
    nginx_bridge: BridgeServer, method: str, secret: str
) -> None:
    """Every spelling of the verify path answers 404 (or nginx's 400) without a token, even
    with a live session cookie and the real gate secret, which an outsider cannot know."""
    bridge = nginx_bridge
    cookie, token = _signed_in(bridge)
    sent = gate_secret(bridge.settings) if secret == "real" else secret
    for target in GATE_SPELLINGS:
        answer = raw_send(bridge, method, target, _forged_headers(bridge, sent), cookie)
        assert answer.status in (400, 404), (target, answer.status, answer.body)
        if method != "HEAD":
            assert answer.json()["error"] in ("not_found", "bad_request", "invalid_path"), target
        _assert_nothing_of_ours(answer, token)


def test_api_answers_through_nginx_never_carry_the_token_header(
    nginx_bridge: BridgeServer,
) -> None:
    """Admitted calls, refusals, Looker's errors and preflights: no gate header, no token."""
    bridge = nginx_bridge
    cookie, token = _signed_in(bridge)
    origin = {**CSRF, "Origin": bridge.spa_origin}
    calls = [
        ("GET", "/api/4.0/user", origin, 200),
        ("HEAD", "/api/4.0/user", origin, 200),
        ("GET", "/api/4.0/looks/999999", origin, 404),
        ("GET", "/api/4.0/user", {"Origin": bridge.spa_origin}, 403),  # no CSRF header
        ("GET", "/api/4.0/user", {**origin, "Origin": "https://evil.example"}, 403),
        (
            "OPTIONS",
            "/api/4.0/user",
            {"Origin": bridge.spa_origin, "Access-Control-Request-Method": "GET"},
            200,  # flask-cors and nginx both answer a preflight 200
        ),
    ]
    for method, target, headers, status in calls:
        answer = raw_send(bridge, method, target, headers, cookie)
        assert answer.status == status, (method, target, answer.status, answer.body)
        _assert_nothing_of_ours(answer, token)
    # signed out (the cookie gone): the gate's refusal reaches the browser as the bridge's 401
    signed_out = raw_send(bridge, "GET", "/api/4.0/user", origin)
    assert signed_out.status == 401 and signed_out.json()["error"] == "not_authenticated"
    _assert_nothing_of_ours(signed_out, token)


def test_a_browser_cannot_supply_a_token_or_nginx_marks(nginx_bridge: BridgeServer) -> None:
    """A token header or forged gate marks from a browser without a session admit nothing:
    nginx clears them before the bridge sees the call, and Looker is never asked."""
    bridge = nginx_bridge
    _, token = _signed_in(bridge)  # a real, live token, as if it had leaked
    before = bridge.emulator.state.request_count
    headers = {**_forged_headers(bridge, gate_secret(bridge.settings)), TOKEN_HEADER: token}
    answer = raw_send(bridge, "GET", "/api/4.0/user", headers)
    assert answer.status == 401 and answer.json()["error"] == "not_authenticated"
    assert bridge.emulator.state.request_count == before


def test_the_bridge_port_itself_keeps_the_gate_shut_without_the_secret(
    nginx_bridge: BridgeServer,
) -> None:
    """Behind nginx the bridge's own listener should not be exposed (docs/operations.md); if it
    is, the gate is a plain 404 to anyone without the secret derived from ``SECRET_KEY``."""
    bridge = nginx_bridge
    cookie, token = _signed_in(bridge)
    direct = f"http://127.0.0.1:{bridge.server.server_port}"
    assert urlsplit(direct).port != urlsplit(bridge.url).port
    real = gate_secret(bridge.settings)
    for secret in ("", "guessed", real[:-1] + ("1" if real.endswith("0") else "0")):
        headers = {
            **_forged_headers(bridge, secret),
            "Cookie": f"{bridge.settings.cookie_name}={cookie}",
        }
        with requests.get(direct + VERIFY_PATH, headers=headers, timeout=10) as answer:
            assert answer.status_code == 404
            assert answer.json()["error"] == "not_found"
            assert TOKEN_HEADER not in answer.headers and token not in answer.text
    # and with the secret (nginx's own subrequest), the gate does hand over the token
    lines = [
        f"GET {VERIFY_PATH} HTTP/1.1",
        f"Host: {urlsplit(bridge.url).netloc}",
        "Connection: close",
        f"Cookie: {bridge.settings.cookie_name}={cookie}",
    ]
    lines += [f"{k}: {v}" for k, v in _forged_headers(bridge, gate_secret(bridge.settings)).items()]
    admitted = raw_request(direct, ("\r\n".join(lines) + "\r\n\r\n").encode())
    assert admitted.status == 204
    assert admitted.header(TOKEN_HEADER) == token

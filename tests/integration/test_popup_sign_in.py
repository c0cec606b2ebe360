"""The popup sign-in for framed SPAs, over HTTP: real bridge, real emulator, real Redis.

A ``requests`` session plays the popup (it walks Looker's forms from ``/auth/popup/login`` to the
page the callback answers) and another plays the frame that redeems the code. The browser side
(postMessage, cookie partitions) is in ``tests/browser/test_embedded_sign_in.py``; here each way
a code can be misused is tried against the endpoint itself.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

import pytest
import requests

from oauth_bridge.popup_login import MESSAGE_TYPE, SCRIPT_HASH, challenge_of
from oauth_bridge.services import get_services
from tests.support.bridge import SEED_USERS, BridgeServer, sign_in_as
from tests.support.emulator import browser_sign_in

API_HEADERS = {"X-Looker-AppId": "oauth-bridge-tests"}
_ISLAND = re.compile(r'<script type="application/json" id="handoff">(.*?)</script>', re.S)


def new_verifier() -> str:
    return secrets.token_urlsafe(32)


def popup_walk(
    bridge: BridgeServer,
    *,
    origin: str | None = None,
    verifier: str | None = None,
    who: str = "analyst",
    approve: bool = True,
    http: requests.Session | None = None,
) -> tuple[requests.Response, dict[str, Any]]:
    """Sign in as a popup would; the callback's page and the message it posts."""
    popup = http or requests.Session()
    email, password = SEED_USERS[who]
    query = requests.compat.urlencode(
        {
            "origin": origin or bridge.spa_origin,
            "challenge": challenge_of(verifier or new_verifier()),
        }
    )
    page = browser_sign_in(
        popup, f"{bridge.url}/auth/popup/login?{query}", email, password, approve=approve
    )
    assert page.status_code == 200, page.text
    found = _ISLAND.search(page.text)
    assert found, page.text
    island = json.loads(found.group(1))
    return page, island


def redeem(
    bridge: BridgeServer,
    code: object,
    verifier: object,
    *,
    origin: str | None = None,
    http: requests.Session | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    frame = http or requests.Session()
    return frame.post(
        f"{bridge.url}/auth/popup/redeem",
        json={"code": code, "verifier": verifier},
        headers={"Origin": origin or bridge.spa_origin, **API_HEADERS, **(headers or {})},
        timeout=10,
    )


def code_requests(bridge: BridgeServer) -> int:
    return bridge.emulator.state.token_requests["authorization_code"]


def assert_refused(response: requests.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_sign_in_code"
    assert "set-cookie" not in {name.lower() for name in response.headers}


def test_the_popup_posts_a_code_only_the_frame_with_the_verifier_redeems(
    bridge: BridgeServer,
) -> None:
    verifier = new_verifier()
    popup = requests.Session()
    before = code_requests(bridge)
    page, island = popup_walk(bridge, verifier=verifier, http=popup)

    # The page posts to exactly the frame's origin, under a CSP that allows its one script.
    assert island["origin"] == bridge.spa_origin
    message = island["message"]
    assert message["type"] == MESSAGE_TYPE
    assert message["challenge"] == challenge_of(verifier)
    assert set(message) == {"type", "code", "challenge"}
    csp = page.headers["Content-Security-Policy"]
    assert f"script-src '{SCRIPT_HASH}'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Cross-Origin-Opener-Policy"] == "unsafe-none"
    # Nothing was traded or stored yet: the popup holds no session, Looker issued no token.
    assert code_requests(bridge) == before
    assert bridge.settings.cookie_name not in popup.cookies
    assert get_services(bridge.app).store.count_sessions()[0] == 0

    frame = requests.Session()
    answer = redeem(bridge, message["code"], verifier, http=frame)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["authenticated"] is True
    assert body["user"]["email"] == SEED_USERS["analyst"][0]
    assert code_requests(bridge) == before + 1
    assert "token" not in answer.text.lower()
    assert bridge.settings.cookie_name in frame.cookies
    assert frame.get(f"{bridge.url}/auth/session", timeout=10).json()["authenticated"] is True
    me = frame.get(f"{bridge.url}/api/4.0/user", headers=API_HEADERS, timeout=10)
    assert me.status_code == 200 and me.json()["email"] == SEED_USERS["analyst"][0]


def test_a_code_redeems_once(bridge: BridgeServer) -> None:
    verifier = new_verifier()
    _, island = popup_walk(bridge, verifier=verifier)
    code = island["message"]["code"]
    assert redeem(bridge, code, verifier).status_code == 200
    assert_refused(redeem(bridge, code, verifier))
    assert get_services(bridge.app).store.count_sessions()[0] == 1


@pytest.mark.parametrize(
    "wrong",
    [None, "", 42, ["x"], "a" * 42, secrets.token_urlsafe(32), "é" * 43],
    ids=["missing", "empty", "number", "list", "too-short", "another-verifier", "not-ascii"],
)
def test_a_leaked_code_without_its_verifier_opens_nothing_and_is_not_burned(
    bridge: BridgeServer, wrong: object
) -> None:
    verifier = new_verifier()
    _, island = popup_walk(bridge, verifier=verifier)
    code = island["message"]["code"]
    before = code_requests(bridge)
    assert_refused(redeem(bridge, code, wrong))
    assert code_requests(bridge) == before  # refused before Looker saw the code
    # The frame that holds the verifier still signs in: an attacker's try did not use it up.
    assert redeem(bridge, code, verifier).status_code == 200


def test_a_code_is_redeemable_only_from_the_origin_it_was_made_for(
    bridge_factory: Callable[..., BridgeServer],
) -> None:
    bridge = bridge_factory(cors_origins=("http://localhost:7001", "http://localhost:7002"))
    verifier = new_verifier()
    _, island = popup_walk(bridge, origin="http://localhost:7001", verifier=verifier)
    code = island["message"]["code"]
    # Another allowed origin, the bridge's own, no Origin at all: the same refusal.
    assert_refused(redeem(bridge, code, verifier, origin="http://localhost:7002"))
    assert_refused(redeem(bridge, code, verifier, origin=bridge.url))
    no_origin = requests.post(
        f"{bridge.url}/auth/popup/redeem",
        json={"code": code, "verifier": verifier},
        headers=API_HEADERS,
        timeout=10,
    )
    assert_refused(no_origin)
    # An origin the bridge does not allow at all: refused by the Origin rule, without CORS.
    evil = redeem(bridge, code, verifier, origin="http://127.0.0.9:7003")
    assert evil.status_code == 403 and evil.json()["error"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in {h.lower() for h in evil.headers}
    # And the right one still can.
    assert redeem(bridge, code, verifier, origin="http://localhost:7001").status_code == 200


def test_redeeming_needs_the_csrf_header(bridge: BridgeServer) -> None:
    verifier = new_verifier()
    _, island = popup_walk(bridge, verifier=verifier)
    plain = requests.post(
        f"{bridge.url}/auth/popup/redeem",
        json={"code": island["message"]["code"], "verifier": verifier},
        headers={"Origin": bridge.spa_origin},
        timeout=10,
    )
    assert plain.status_code == 403 and plain.json()["error"] == "csrf_header_missing"


def test_forged_and_tampered_codes_are_refused(bridge: BridgeServer) -> None:
    verifier = new_verifier()
    _, island = popup_walk(bridge, verifier=verifier)
    code: str = island["message"]["code"]
    flipped = code[:-5] + ("A" if code[-5] != "A" else "B") + code[-4:]
    for forged in (flipped, "v1." + "A" * 200, "nonsense", "", None, 7, "v1." + "A" * 3000):
        assert_refused(redeem(bridge, forged, verifier))
    assert redeem(bridge, code, verifier).status_code == 200


def test_a_code_from_another_bridge_secret_is_refused(
    bridge_factory: Callable[..., BridgeServer],
) -> None:
    one = bridge_factory()
    other = bridge_factory(secret_key="another-secret-key-0123456789", spa_origin=one.spa_origin)
    verifier = new_verifier()
    _, island = popup_walk(one, verifier=verifier)
    assert_refused(redeem(other, island["message"]["code"], verifier))


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"not json", 400, "malformed_body"),
        (b"[1, 2]", 400, "malformed_body"),
        (b'{"code": "' + b"x" * 5000 + b'"}', 413, "payload_too_large"),
    ],
    ids=["not-json", "not-an-object", "too-large"],
)
def test_bad_redemption_bodies_get_clear_json_errors(
    bridge: BridgeServer, body: bytes, status: int, error: str
) -> None:
    response = requests.post(
        f"{bridge.url}/auth/popup/redeem",
        data=body,
        headers={"Origin": bridge.spa_origin, "Content-Type": "application/json", **API_HEADERS},
        timeout=10,
    )
    assert response.status_code == status, response.text
    assert response.json()["error"] == error


def test_popup_login_refuses_an_origin_the_bridge_does_not_allow(bridge: BridgeServer) -> None:
    query = requests.compat.urlencode(
        {"origin": "https://evil.example", "challenge": challenge_of(new_verifier())}
    )
    response = requests.get(
        f"{bridge.url}/auth/popup/login?{query}", allow_redirects=False, timeout=10
    )
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("text/html")
    assert "OAUTH_BRIDGE_CORS_ORIGINS" in response.text
    assert "set-cookie" not in {h.lower() for h in response.headers}
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "challenge", ["", "short", "a" * 44, "a" * 42 + "=", "a" * 42 + "+", "%41" * 43]
)
def test_popup_login_refuses_a_malformed_challenge(bridge: BridgeServer, challenge: str) -> None:
    query = requests.compat.urlencode({"origin": bridge.spa_origin, "challenge": challenge})
    response = requests.get(
        f"{bridge.url}/auth/popup/login?{query}", allow_redirects=False, timeout=10
    )
    assert response.status_code == 400
    assert "challenge" in response.text
    assert "set-cookie" not in {h.lower() for h in response.headers}


def test_popup_login_sends_the_popup_to_looker_with_pkce(bridge: BridgeServer) -> None:
    query = requests.compat.urlencode(
        {"origin": bridge.spa_origin, "challenge": challenge_of(new_verifier())}
    )
    response = requests.get(
        f"{bridge.url}/auth/popup/login?{query}", allow_redirects=False, timeout=10
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{bridge.emulator.ui_url}/auth?")
    assert "code_challenge_method=S256" in location
    # The bridge's own PKCE challenge goes to Looker, never the frame's.
    assert challenge_of(new_verifier()) not in location
    assert bridge.settings.login_cookie_name in response.cookies


def test_declining_at_looker_posts_the_error_to_the_frame(bridge: BridgeServer) -> None:
    verifier = new_verifier()
    _, island = popup_walk(bridge, verifier=verifier, approve=False)
    message = island["message"]
    assert message == {
        "type": MESSAGE_TYPE,
        "error": "access_denied",
        "challenge": challenge_of(verifier),
    }


def test_a_code_whose_looker_code_was_used_by_a_replayed_login_cookie_is_refused(
    bridge: BridgeServer,
) -> None:
    """Two popups from one login cookie (a copy of it): the state is single-use at redemption."""
    verifier = new_verifier()
    popup = requests.Session()
    query = requests.compat.urlencode(
        {"origin": bridge.spa_origin, "challenge": challenge_of(verifier)}
    )
    to_looker = popup.get(f"{bridge.url}/auth/popup/login?{query}", allow_redirects=False)
    copy = requests.Session()
    copy.cookies.update(popup.cookies)
    email, password = SEED_USERS["viewer"]
    first = browser_sign_in(popup, to_looker.headers["Location"], email, password)
    island = json.loads(_ISLAND.search(first.text).group(1))  # type: ignore[union-attr]
    assert redeem(bridge, island["message"]["code"], verifier).status_code == 200
    # The copy walks Looker again with the same state and gets a new Looker code.
    second = browser_sign_in(copy, to_looker.headers["Location"], email, password)
    island2 = json.loads(_ISLAND.search(second.text).group(1))  # type: ignore[union-attr]
    assert_refused(redeem(bridge, island2["message"]["code"], verifier))


def test_redeeming_in_a_frame_that_had_a_session_ends_the_old_one(bridge: BridgeServer) -> None:
    frame = sign_in_as(bridge, "admin")
    old_cookie = frame.cookies[bridge.settings.cookie_name]
    verifier = new_verifier()
    _, island = popup_walk(bridge, verifier=verifier, who="viewer")
    answer = redeem(bridge, island["message"]["code"], verifier, http=frame)
    assert answer.status_code == 200
    assert answer.json()["user"]["email"] == SEED_USERS["viewer"][0]
    assert get_services(bridge.app).store.load(old_cookie) is None
    assert frame.cookies[bridge.settings.cookie_name] != old_cookie


def test_the_partitioned_cookie_is_set_by_the_redemption(
    bridge_factory: Callable[..., BridgeServer],
) -> None:
    bridge = bridge_factory(cookie_secure=True, cookie_samesite="None")
    verifier = new_verifier()
    query = requests.compat.urlencode(
        {"origin": bridge.spa_origin, "challenge": challenge_of(verifier)}
    )
    start = requests.get(f"{bridge.url}/auth/popup/login?{query}", allow_redirects=False)
    login_cookie = start.cookies[bridge.settings.login_cookie_name]
    email, password = SEED_USERS["analyst"]
    back = browser_sign_in(
        requests.Session(), start.headers["Location"], email, password, follow_final=False
    )
    # requests keeps Secure cookies off http; a browser on http://localhost sends them.
    page = requests.get(
        back.headers["Location"],
        headers={"Cookie": f"{bridge.settings.login_cookie_name}={login_cookie}"},
        timeout=10,
    )
    island = json.loads(_ISLAND.search(page.text).group(1))  # type: ignore[union-attr]
    answer = redeem(bridge, island["message"]["code"], verifier)
    assert answer.status_code == 200
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("__Host-looker_session=")
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/"):
        assert attribute in cookie

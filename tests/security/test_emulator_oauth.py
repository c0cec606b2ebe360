"""OAuth attacks the authorization server must stop (RFC 9700 sections 2.1.1, 4.5, 4.8; RFC 7636).

The bridge relies on Looker refusing these; the emulator plays Looker, so these tests pin down that
it refuses them as strictly as the bridge's own tests assume: PKCE downgrade (``plain`` or no
method), code replay (which also revokes what the code gave out the first time), code injection
into another client or redirect URI, expired codes, and clickjacking of its sign-in pages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from oauth_bridge.emulator import EmulatorServer
from tests.support.emulator import (
    SEED,
    TEST_REDIRECT_URI,
    auth_url,
    browser_sign_in,
    exchange,
    get_code,
    pkce_pair,
)

CLIENT = "security-client"
OTHER_CLIENT = "other-client"
OTHER_REDIRECT = "https://other.example.test/auth/callback"


@pytest.fixture
def looker(emulator_factory: Callable[..., EmulatorServer]) -> EmulatorServer:
    return emulator_factory(
        client_apps=((CLIENT, TEST_REDIRECT_URI), (OTHER_CLIENT, TEST_REDIRECT_URI)),
        code_ttl=60,
    )


@pytest.fixture
def signed_in_browser(looker: EmulatorServer) -> Iterator[requests.Session]:
    """A browser already signed in to Looker that approved CLIENT: /auth answers at once."""
    with requests.Session() as http:
        _, challenge = pkce_pair()
        get_code(looker, "analyst", CLIENT, challenge, http=http)
        yield http


def _redirect_query(response: requests.Response) -> dict[str, list[str]]:
    assert response.status_code == 302, response.text[:300]
    location = response.headers["Location"]
    assert location.startswith(TEST_REDIRECT_URI + "?"), location
    return parse_qs(urlsplit(location).query)


def _api_status(looker: EmulatorServer, token: str) -> int:
    with requests.get(
        f"{looker.api_url}/api/4.0/user", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as response:
        return response.status_code


# --- PKCE downgrade at the authorization endpoint -------------------------------------------

VERIFIER, CHALLENGE = pkce_pair()


@pytest.mark.parametrize(
    "params",
    [
        {"code_challenge": VERIFIER, "code_challenge_method": "plain"},
        {"code_challenge": CHALLENGE, "code_challenge_method": ""},  # method left out
        {"code_challenge": CHALLENGE, "code_challenge_method": "s256"},  # names are exact
        {"code_challenge": CHALLENGE, "code_challenge_method": "S512"},
        {"code_challenge": "", "code_challenge_method": "S256"},  # no challenge
        {"code_challenge": CHALLENGE[:-1], "code_challenge_method": "S256"},
        {"code_challenge": "A" * 128, "code_challenge_method": "S256"},
    ],
    ids=["plain", "no-method", "lowercase", "unknown", "no-challenge", "short", "long"],
)
def test_pkce_downgrade_gets_no_code_even_for_a_signed_in_user(
    looker: EmulatorServer, signed_in_browser: requests.Session, params: dict[str, str]
) -> None:
    query = {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": TEST_REDIRECT_URI,
        "scope": "cors_api",
        "state": "st-downgrade",
        **params,
    }
    url = f"{looker.ui_url}/auth?{urlencode({k: v for k, v in query.items() if v != ''})}"
    answer = _redirect_query(signed_in_browser.get(url, allow_redirects=False, timeout=10))
    assert "code" not in answer
    assert answer["error"] == ["invalid_request"]
    assert answer["state"] == ["st-downgrade"]


def test_the_same_signed_in_browser_does_get_a_code_with_s256(
    looker: EmulatorServer, signed_in_browser: requests.Session
) -> None:
    """The control for the downgrade cases: they fail for the parameter, not the browser."""
    url = auth_url(looker, CLIENT, CHALLENGE, state="st-ok")
    answer = _redirect_query(signed_in_browser.get(url, allow_redirects=False, timeout=10))
    assert answer["state"] == ["st-ok"] and answer["code"][0]


# --- PKCE at the token endpoint --------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_verifier", "error"),
    [
        ("challenge-itself", "invalid_grant"),
        ("other-verifier", "invalid_grant"),
        ("empty", "invalid_request"),
        ("too-short", "invalid_grant"),
    ],
)
def test_token_endpoint_refuses_a_wrong_verifier(
    looker: EmulatorServer, bad_verifier: str, error: str
) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(looker, "viewer", CLIENT, challenge)
    sent = {
        "challenge-itself": challenge,  # a "plain" client would send this
        "other-verifier": pkce_pair()[0],
        "empty": "",
        "too-short": verifier[:42],
    }[bad_verifier]
    with exchange(looker, CLIENT, code, sent) as response:
        assert response.status_code == 400
        assert response.json()["error"] == error
        assert "access_token" not in response.text


# --- code replay and injection --------------------------------------------------------------


def test_code_replay_is_refused_and_revokes_the_first_tokens(looker: EmulatorServer) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(looker, "analyst", CLIENT, challenge)
    with exchange(looker, CLIENT, code, verifier) as first:
        assert first.status_code == 200
        tokens: dict[str, Any] = first.json()
    assert _api_status(looker, tokens["access_token"]) == 200
    with exchange(looker, CLIENT, code, verifier) as replay:
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
    # RFC 6749 section 4.1.2: the tokens the code gave out the first time are revoked.
    assert _api_status(looker, tokens["access_token"]) == 401
    with requests.post(
        f"{looker.api_url}/api/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": CLIENT,
            "redirect_uri": TEST_REDIRECT_URI,
        },
        timeout=10,
    ) as refresh:
        assert refresh.status_code == 400


def test_code_for_one_client_cannot_be_redeemed_by_another(looker: EmulatorServer) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(looker, "analyst", CLIENT, challenge)
    with exchange(looker, OTHER_CLIENT, code, verifier) as response:
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"


def test_code_cannot_be_redeemed_with_another_redirect_uri(looker: EmulatorServer) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(looker, "analyst", CLIENT, challenge)
    with requests.post(
        f"{looker.api_url}/api/token",
        json={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "client_id": CLIENT,
            "redirect_uri": OTHER_REDIRECT,
        },
        timeout=10,
    ) as response:
        assert response.status_code == 400
        assert "access_token" not in response.text


def test_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(
    looker: EmulatorServer, signed_in_browser: requests.Session
) -> None:
    query = {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": OTHER_REDIRECT,
        "scope": "cors_api",
        "state": "st-1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    with signed_in_browser.get(
        f"{looker.ui_url}/auth?{urlencode(query)}", allow_redirects=False, timeout=10
    ) as response:
        assert response.status_code == 400
        assert "Location" not in response.headers


def test_expired_code_is_refused(emulator_factory: Callable[..., EmulatorServer]) -> None:
    looker = emulator_factory(client_apps=((CLIENT, TEST_REDIRECT_URI),), code_ttl=1)
    verifier, challenge = pkce_pair()
    code = get_code(looker, "viewer", CLIENT, challenge)
    time.sleep(1.5)
    with exchange(looker, CLIENT, code, verifier) as response:
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"


# --- clickjacking -----------------------------------------------------------------------------


def _assert_not_frameable(response: requests.Response) -> None:
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["X-Frame-Options"] == "DENY"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy


def test_every_html_page_of_the_sign_in_refuses_to_be_framed(looker: EmulatorServer) -> None:
    with requests.Session() as http:
        pages = []
        first = http.get(auth_url(looker, CLIENT, CHALLENGE), allow_redirects=True, timeout=10)
        assert urlsplit(first.url).path == "/login"
        pages.append(first)  # the sign-in form
        # Sign in without approving the app yet: the approval page comes next.
        email, password = SEED["admin"]
        approval = browser_sign_in(
            http, f"{looker.ui_url}/login?return_to=/", email, password, follow_final=False
        )
        pages.append(approval)  # home page after sign-in
        consent = http.get(auth_url(looker, CLIENT, CHALLENGE), allow_redirects=False, timeout=10)
        assert consent.status_code == 200 and "approve" in consent.text
        pages.append(consent)
        pages.append(http.get(f"{looker.ui_url}/no-such-page", timeout=10))  # error page
        bad_client = auth_url(looker, "no-such-client", CHALLENGE)
        pages.append(http.get(bad_client, allow_redirects=False, timeout=10))
        for page in pages:
            _assert_not_frameable(page)
            page.close()

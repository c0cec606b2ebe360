"""The UI host's sign-in and the token endpoint, driven with plain requests like a browser."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
import requests

from oauth_bridge.emulator import EmulatorServer
from oauth_bridge.emulator.browser_login import SignInRefused
from tests.support.emulator import (
    SEED,
    SEED_IDS,
    TEST_REDIRECT_URI,
    auth_url,
    browser_sign_in,
    exchange,
    get_code,
    oauth_tokens,
    pkce_pair,
    redirect_params,
)

AUTH_REQUIRED = {
    "message": "Requires authentication.",
    "documentation_url": "https://cloud.google.com/looker/docs/",
}


def whoami(emulator: EmulatorServer, token: str, scheme: str = "Bearer") -> requests.Response:
    return requests.get(
        f"{emulator.api_url}/api/4.0/user",
        headers={"Authorization": f"{scheme} {token}"},
        timeout=10,
    )


def refresh(emulator: EmulatorServer, client_id: str, refresh_token: str) -> requests.Response:
    return requests.post(
        f"{emulator.api_url}/api/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "redirect_uri": TEST_REDIRECT_URI,
        },
        timeout=10,
    )


@pytest.mark.parametrize("who", ["admin", "analyst", "viewer"])
def test_pkce_round_trip_gives_each_seed_user_its_own_token(
    emulator: EmulatorServer, client_id: str, who: str
) -> None:
    tokens = oauth_tokens(emulator, who, client_id)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert len(tokens["access_token"]) >= 40 and len(tokens["refresh_token"]) >= 40
    assert tokens["access_token"] != tokens["refresh_token"]
    for scheme in ("Bearer", "token"):
        me = whoami(emulator, tokens["access_token"], scheme)
        assert me.status_code == 200
        assert me.json()["email"] == SEED[who][0]
        assert me.json()["id"] == SEED_IDS[who]
    assert emulator.state.token_requests == {"authorization_code": 1, "refresh_token": 0}


@pytest.mark.parametrize("encoding", ["hex", "base64url-padded", "base64url"])
def test_all_three_challenge_encodings_are_accepted(
    emulator: EmulatorServer, client_id: str, encoding: str
) -> None:
    verifier, challenge = pkce_pair(encoding)
    code = get_code(emulator, "analyst", client_id, challenge)
    response = exchange(emulator, client_id, code, verifier)
    assert response.status_code == 200, response.text


def test_form_encoded_token_request_is_accepted(emulator: EmulatorServer, client_id: str) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(emulator, "viewer", client_id, challenge)
    response = requests.post(
        f"{emulator.api_url}/api/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "client_id": client_id,
            "redirect_uri": TEST_REDIRECT_URI,
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": ""}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"code_challenge": "g" * 64}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "admin"}, "invalid_scope"),
        ({"scope": "cors_api admin"}, "invalid_scope"),
    ],
)
def test_bad_authorization_requests_redirect_back_with_error_and_state(
    emulator: EmulatorServer, client_id: str, extra: dict[str, str], error: str
) -> None:
    _, challenge = pkce_pair()
    response = requests.get(
        auth_url(emulator, client_id, challenge, state="keep-me", **extra),
        allow_redirects=False,
        timeout=10,
    )
    params = redirect_params(response)
    assert params["error"] == error
    assert params["state"] == "keep-me"
    assert "code" not in params


def test_python_example_scope_api_is_accepted(emulator: EmulatorServer, client_id: str) -> None:
    verifier, challenge = pkce_pair("hex")
    with requests.Session() as http:
        final = browser_sign_in(
            http,
            auth_url(emulator, client_id, challenge, scope="api"),
            *SEED["admin"],
            follow_final=False,
        )
    assert exchange(emulator, client_id, redirect_params(final)["code"], verifier).ok


@pytest.mark.parametrize(
    ("client", "redirect_uri"),
    [
        ("unknown-client", TEST_REDIRECT_URI),
        ("test-spa", "https://evil.example.test/auth/callback"),
        ("test-spa", TEST_REDIRECT_URI + "/"),
        ("test-spa", TEST_REDIRECT_URI + "?x=1"),
    ],
)
def test_invalid_client_or_redirect_uri_gets_an_html_error_never_a_redirect(
    emulator: EmulatorServer, client_id: str, client: str, redirect_uri: str
) -> None:
    _, challenge = pkce_pair()
    url = auth_url(emulator, client, challenge)
    url = url.replace(
        "redirect_uri=https%3A%2F%2Fspa.example.test%2Fauth%2Fcallback",
        "redirect_uri=" + quote(redirect_uri, safe=""),
    )
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")
    assert "evil.example.test" not in response.text


def test_disabled_app_gets_an_html_error(emulator: EmulatorServer, client_id: str) -> None:
    emulator.state.update_app(client_id, enabled=False)
    _, challenge = pkce_pair()
    response = requests.get(auth_url(emulator, client_id, challenge), allow_redirects=False)
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_signed_in_and_approved_browser_goes_straight_back(
    emulator: EmulatorServer, client_id: str
) -> None:
    with requests.Session() as http:
        get_code(emulator, "analyst", client_id, pkce_pair()[1], http=http)
        verifier, challenge = pkce_pair()
        again = http.get(auth_url(emulator, client_id, challenge), allow_redirects=False)
        code = redirect_params(again)["code"]
    assert exchange(emulator, client_id, code, verifier).ok


def test_logging_out_of_looker_makes_the_next_auth_ask_for_a_sign_in(
    emulator: EmulatorServer, client_id: str
) -> None:
    """Looker's session is the UI host's own; only its CSRF-protected logout form ends it."""
    with requests.Session() as http:
        get_code(emulator, "analyst", client_id, pkce_pair()[1], http=http)
        home = http.get(f"{emulator.ui_url}/", timeout=10)
        assert SEED["analyst"][0] in home.text and 'action="/logout"' in home.text

        forged = http.post(
            f"{emulator.ui_url}/logout", data={"csrf-token": "forged"}, allow_redirects=False
        )
        assert forged.status_code == 403
        still = http.get(auth_url(emulator, client_id, pkce_pair()[1]), allow_redirects=False)
        assert "code" in redirect_params(still)

        csrf = unquote(http.cookies["CSRF-TOKEN"])
        out = http.post(
            f"{emulator.ui_url}/logout", data={"csrf-token": csrf}, allow_redirects=False
        )
        assert out.status_code == 302 and out.headers["Location"] == "/"
        assert "emulator_ui_session" not in http.cookies
        assert "Not signed in to Looker" in http.get(f"{emulator.ui_url}/", timeout=10).text
        after = http.get(auth_url(emulator, client_id, pkce_pair()[1]), allow_redirects=False)
        assert after.status_code == 302
        assert urlsplit(after.headers["Location"]).path == "/login"


def test_first_use_shows_the_approval_page_and_deny_redirects_with_access_denied(
    emulator: EmulatorServer, client_id: str
) -> None:
    with requests.Session() as http:
        first = http.get(auth_url(emulator, client_id, pkce_pair()[1]), timeout=10)
        assert urlsplit(first.url).path == "/login"
        assert "CSRF-TOKEN" in http.cookies
        assert first.headers["X-Frame-Options"] == "DENY"
        assert 'for="login-email"' in first.text and 'for="login-password"' in first.text
        denied = browser_sign_in(
            http,
            auth_url(emulator, client_id, pkce_pair()[1]),
            *SEED["viewer"],
            approve=False,
            follow_final=False,
        )
    params = redirect_params(denied)
    assert params["error"] == "access_denied" and params["state"] == "st-1"
    assert not emulator.state.is_app_user(client_id, SEED_IDS["viewer"])


def test_login_post_without_the_csrf_cookie_value_is_refused(
    emulator: EmulatorServer, client_id: str
) -> None:
    with requests.Session() as http:
        page = http.get(auth_url(emulator, client_id, pkce_pair()[1]), timeout=10)
        email, password = SEED["admin"]
        forged = http.post(
            page.url,
            data={"csrf-token": "forged", "email": email, "password": password},
            allow_redirects=False,
        )
        assert forged.status_code == 403
        assert "emulator_ui_session" not in http.cookies


def test_wrong_password_stays_on_the_login_page(emulator: EmulatorServer, client_id: str) -> None:
    with requests.Session() as http, pytest.raises(SignInRefused, match="refused"):
        browser_sign_in(
            http,
            auth_url(emulator, client_id, pkce_pair()[1]),
            SEED["admin"][0],
            "wrong",
            follow_final=False,
        )


def test_auth_only_on_ui_host_and_token_only_on_api_host(emulator: EmulatorServer) -> None:
    assert requests.get(f"{emulator.api_url}/auth", timeout=10).status_code == 404
    assert requests.post(f"{emulator.ui_url}/api/token", json={}, timeout=10).status_code == 404
    assert requests.get(f"{emulator.api_url}/login", timeout=10).status_code == 404


def test_tampered_verifier_fails(emulator: EmulatorServer, client_id: str) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(emulator, "viewer", client_id, challenge)
    response = exchange(
        emulator, client_id, code, verifier[:-1] + ("A" if verifier[-1] != "A" else "B")
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_description"]


def test_replayed_code_fails_and_revokes_the_first_token(
    emulator: EmulatorServer, client_id: str
) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(emulator, "analyst", client_id, challenge)
    first = exchange(emulator, client_id, code, verifier)
    assert first.status_code == 200
    token = first.json()["access_token"]
    assert whoami(emulator, token).status_code == 200
    replay = exchange(emulator, client_id, code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert whoami(emulator, token).status_code == 401
    assert refresh(emulator, client_id, first.json()["refresh_token"]).status_code == 400


def test_wrong_redirect_uri_or_client_at_the_token_endpoint_fails(
    emulator: EmulatorServer, client_id: str
) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(emulator, "viewer", client_id, challenge)
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "client_id": client_id,
        "redirect_uri": TEST_REDIRECT_URI + "/other",
    }
    response = requests.post(f"{emulator.api_url}/api/token", json=body, timeout=10)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_expired_code_fails(emulator_factory: Callable[..., EmulatorServer]) -> None:
    emulator = emulator_factory(code_ttl=0)
    emulator.state.register_client_app("app", TEST_REDIRECT_URI)
    verifier, challenge = pkce_pair()
    code = get_code(emulator, "viewer", "app", challenge)
    emulator.state.update_config(code_ttl=-1)  # any age is now too old, without sleeping
    response = exchange(emulator, "app", code, verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"grant_type": "password", "username": "x"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "code": "x"}, "invalid_request"),
        ({}, "unsupported_grant_type"),
    ],
)
def test_malformed_token_requests_fail_in_oauth_shape(
    emulator: EmulatorServer, body: dict[str, str], error: str
) -> None:
    response = requests.post(f"{emulator.api_url}/api/token", json=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert set(response.json()) == {"error", "error_description"}


def test_logout_revokes_access_and_refresh_token(emulator: EmulatorServer, client_id: str) -> None:
    tokens = oauth_tokens(emulator, "viewer", client_id)
    out = requests.delete(
        f"{emulator.api_url}/api/logout",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )
    assert out.status_code == 204
    revoked = whoami(emulator, tokens["access_token"])
    assert revoked.status_code == 401 and revoked.json() == AUTH_REQUIRED
    assert not emulator.state.is_token_valid(tokens["access_token"])
    assert refresh(emulator, client_id, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    again = requests.delete(
        f"{emulator.api_url}/api/4.0/logout",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )
    assert again.status_code == 404 and again.json()["message"] == "Not found"


def test_expired_token_answers_401(emulator_factory: Callable[..., EmulatorServer]) -> None:
    emulator = emulator_factory(token_ttl=1)
    emulator.state.register_client_app("app", TEST_REDIRECT_URI)
    tokens = oauth_tokens(emulator, "analyst", "app")
    assert tokens["expires_in"] == 1
    emulator.state.update_config(token_ttl=0)
    expired = oauth_tokens(emulator, "analyst", "app")  # issued with a lifetime of 0 s
    response = whoami(emulator, expired["access_token"])
    assert response.status_code == 401 and response.json() == AUTH_REQUIRED


def test_refresh_with_rotation_invalidates_the_old_refresh_token(
    emulator: EmulatorServer, client_id: str
) -> None:
    tokens = oauth_tokens(emulator, "analyst", client_id)
    renewed = refresh(emulator, client_id, tokens["refresh_token"])
    assert renewed.status_code == 200
    body = renewed.json()
    assert body["refresh_token"] != tokens["refresh_token"]
    assert whoami(emulator, body["access_token"]).status_code == 200
    assert refresh(emulator, client_id, tokens["refresh_token"]).status_code == 400
    assert refresh(emulator, client_id, body["refresh_token"]).status_code == 200
    assert emulator.state.token_requests["refresh_token"] == 3


def test_refresh_without_rotation_omits_refresh_token_and_keeps_the_old_one(
    emulator_factory: Callable[..., EmulatorServer],
) -> None:
    emulator = emulator_factory(refresh_rotation=False)
    emulator.state.register_client_app("app", TEST_REDIRECT_URI)
    tokens = oauth_tokens(emulator, "viewer", "app")
    for _ in range(2):
        renewed = refresh(emulator, "app", tokens["refresh_token"])
        assert renewed.status_code == 200
        assert "refresh_token" not in renewed.json()
        assert whoami(emulator, renewed.json()["access_token"]).status_code == 200


def test_refresh_disabled_or_wrong_client_fails(emulator: EmulatorServer, client_id: str) -> None:
    tokens = oauth_tokens(emulator, "viewer", client_id)
    emulator.state.register_client_app("other", TEST_REDIRECT_URI)
    assert refresh(emulator, "other", tokens["refresh_token"]).json()["error"] == "invalid_grant"
    emulator.state.update_config(refresh_enabled=False)
    assert refresh(emulator, client_id, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    emulator.state.update_config(refresh_enabled=True)
    assert refresh(emulator, client_id, tokens["refresh_token"]).status_code == 200


@pytest.mark.parametrize("action", ["delete", "disable"])
def test_deleted_or_disabled_user_loses_its_tokens_at_once(
    emulator: EmulatorServer, client_id: str, action: str
) -> None:
    tokens = oauth_tokens(emulator, "analyst", client_id)
    admin = oauth_tokens(emulator, "admin", client_id)["access_token"]
    headers = {"Authorization": f"Bearer {admin}"}
    url = f"{emulator.api_url}/api/4.0/users/2"
    if action == "delete":
        assert requests.delete(url, headers=headers, timeout=10).status_code == 204
    else:
        changed = requests.patch(url, headers=headers, json={"is_disabled": True}, timeout=10)
        assert changed.status_code == 200 and changed.json()["is_disabled"] is True
    assert whoami(emulator, tokens["access_token"]).status_code == 401
    assert refresh(emulator, client_id, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    with requests.Session() as http, pytest.raises(SignInRefused, match="refused"):
        get_code(emulator, "analyst", client_id, pkce_pair()[1], http=http)


def test_app_token_invalidation_and_user_deactivation(
    emulator: EmulatorServer, client_id: str
) -> None:
    viewer = oauth_tokens(emulator, "viewer", client_id)
    analyst = oauth_tokens(emulator, "analyst", client_id)
    emulator.state.set_app_user(client_id, SEED_IDS["viewer"], active=False)
    assert whoami(emulator, viewer["access_token"]).status_code == 401
    assert whoami(emulator, analyst["access_token"]).status_code == 200
    emulator.state.invalidate_app_tokens(client_id)
    assert whoami(emulator, analyst["access_token"]).status_code == 401
    fresh = oauth_tokens(emulator, "analyst", client_id)
    assert whoami(emulator, fresh["access_token"]).status_code == 200


def test_ui_pages_carry_security_headers(emulator: EmulatorServer) -> None:
    page = requests.get(f"{emulator.ui_url}/login", timeout=10)
    assert page.status_code == 200
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    query = parse_qs(urlsplit(page.url).query)
    assert query == {}

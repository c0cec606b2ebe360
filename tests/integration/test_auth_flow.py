"""Sign-in, session info, refresh and logout, end to end: real bridge, real emulator, real Redis."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import requests

from oauth_bridge.models import SessionRecord
from oauth_bridge.services import get_services
from tests.support.bridge import SEED_USERS, BridgeServer, sign_in, sign_in_as
from tests.support.emulator import browser_sign_in

API_HEADERS = {"X-Looker-AppId": "oauth-bridge-tests"}


def session_record(bridge: BridgeServer, http: requests.Session) -> SessionRecord:
    """What the bridge holds for this browser (read through the store, as the bridge does)."""
    cookie = http.cookies[bridge.settings.cookie_name]
    record: SessionRecord | None = get_services(bridge.app).store.load(cookie)
    assert record is not None
    return record


def looker_user_status(bridge: BridgeServer, access_token: str) -> int:
    response = requests.get(
        f"{bridge.emulator.api_url}/api/4.0/user",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )
    return response.status_code


def session_keys(client: redis.Redis, prefix: str) -> list[bytes]:
    return sorted(client.scan_iter(match=f"{prefix}s:*", count=1000))


@pytest.mark.parametrize("who", ["admin", "analyst", "viewer"])
def test_each_seed_user_signs_in_sees_itself_and_logout_revokes_at_looker(
    bridge: BridgeServer, who: str
) -> None:
    email, _ = SEED_USERS[who]
    http = sign_in_as(bridge, who)

    info = http.get(f"{bridge.url}/auth/session", timeout=10)
    assert info.status_code == 200
    body = info.json()
    assert body["authenticated"] is True
    assert body["user"]["email"] == email
    assert body["expires_at"]
    assert body["looker_url"] == bridge.settings.looker_url
    assert "token" not in info.text.lower()

    token = session_record(bridge, http).tokens.access_token
    assert looker_user_status(bridge, token) == 200

    out = http.post(f"{bridge.url}/auth/logout", headers=API_HEADERS, timeout=10)
    assert out.status_code == 204
    assert bridge.settings.cookie_name not in http.cookies
    assert looker_user_status(bridge, token) == 401
    after = http.get(f"{bridge.url}/auth/session", timeout=10)
    assert after.status_code == 401
    assert after.json() == {
        "authenticated": False,
        "error": "not_authenticated",
        "message": after.json()["message"],
        "login_url": "/auth/login",
    }


def test_logout_is_idempotent_and_needs_the_csrf_header(bridge: BridgeServer) -> None:
    http = sign_in_as(bridge, "analyst")
    refused = http.post(f"{bridge.url}/auth/logout", timeout=10)
    assert refused.status_code == 403
    assert refused.json()["error"] == "csrf_header_missing"
    assert http.get(f"{bridge.url}/auth/session", timeout=10).status_code == 200

    for _ in range(2):
        out = http.post(f"{bridge.url}/auth/logout", headers=API_HEADERS, timeout=10)
        assert out.status_code == 204
    assert requests.post(f"{bridge.url}/auth/logout", headers=API_HEADERS, timeout=10).ok


def test_login_redirects_to_looker_auth_with_pkce_s256(bridge: BridgeServer) -> None:
    response = requests.get(f"{bridge.url}/auth/login", allow_redirects=False, timeout=10)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == bridge.emulator.ui_url
    assert location.path == "/auth"
    query = parse_qs(location.query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [bridge.settings.client_id]
    assert query["redirect_uri"] == [bridge.settings.redirect_uri]
    assert query["scope"] == ["cors_api"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 43
    login_cookie = response.cookies.get(bridge.settings.login_cookie_name)
    assert login_cookie
    set_cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert "Max-Age=600" in set_cookie


def test_session_id_changes_at_login(bridge: BridgeServer) -> None:
    http = requests.Session()
    planted = "planted-session-id.planted-secret"
    # requests files cookies of a dotless host such as localhost under "localhost.local"
    http.cookies.set(bridge.settings.cookie_name, planted, domain="localhost.local")
    browser_sign_in(http, f"{bridge.url}/auth/login", *SEED_USERS["viewer"])
    first = http.cookies.get(bridge.settings.cookie_name)
    assert first and first != planted
    first_record = session_record(bridge, http)

    browser_sign_in(http, f"{bridge.url}/auth/login", *SEED_USERS["viewer"])
    second = http.cookies.get(bridge.settings.cookie_name)
    assert second and second != first
    second_record = session_record(bridge, http)
    assert second_record.session_id != first_record.session_id
    assert len(second_record.session_id) >= 22  # ≥ 128 bits in base64url
    # the session this browser carried before is over, and its token revoked at Looker
    assert get_services(bridge.app).store.load(first) is None
    assert looker_user_status(bridge, first_record.tokens.access_token) == 401


def _start_login(bridge: BridgeServer, http: requests.Session) -> tuple[str, str]:
    """Begin a sign-in and let the emulator answer; return (state, callback URL with code)."""
    to_callback = browser_sign_in(
        http, f"{bridge.url}/auth/login", *SEED_USERS["analyst"], follow_final=False
    )
    callback_url = to_callback.headers["Location"]
    assert callback_url.startswith(bridge.settings.redirect_uri)
    first = http.get(callback_url, allow_redirects=False, timeout=10)
    assert first.status_code == 302
    state = parse_qs(urlsplit(callback_url).query)["state"][0]
    return state, callback_url


def test_state_replay_fails_and_creates_nothing(
    bridge: BridgeServer, redis_client: redis.Redis
) -> None:
    http = requests.Session()
    login_cookie = bridge.settings.login_cookie_name
    before = http.cookies.get(login_cookie)  # nothing yet; kept for the copy below
    assert before is None
    to_callback = browser_sign_in(
        http, f"{bridge.url}/auth/login", *SEED_USERS["analyst"], follow_final=False
    )
    callback_url = to_callback.headers["Location"]
    copied = http.cookies.get(login_cookie)  # what an attacker copies before the callback
    assert copied
    assert http.get(callback_url, allow_redirects=False, timeout=10).status_code == 302
    keys_before = session_keys(redis_client, bridge.redis_prefix)

    # Another browser with a copy of the login cookie, replaying the callback: refused.
    other = requests.Session()
    other.cookies.set(login_cookie, copied, domain="localhost.local")
    replay = other.get(callback_url, allow_redirects=False, timeout=10)
    assert replay.status_code == 400
    assert replay.headers["Content-Type"].startswith("text/html")
    assert replay.headers["Referrer-Policy"] == "no-referrer"
    assert bridge.settings.cookie_name not in replay.headers.get("Set-Cookie", "")
    assert session_keys(redis_client, bridge.redis_prefix) == keys_before

    # The browser that signed in, coming back to the used callback (Back, then the form again):
    # no dead end, no new session, nothing set; it goes to the app (here: no APP_URL, so "/").
    again = http.get(callback_url, allow_redirects=False, timeout=10)
    assert again.status_code == 302 and again.headers["Location"] == "/"
    assert "Set-Cookie" not in again.headers
    assert session_keys(redis_client, bridge.redis_prefix) == keys_before


def test_state_from_another_browser_fails_and_does_not_burn_the_login(
    bridge: BridgeServer, redis_client: redis.Redis
) -> None:
    victim = requests.Session()
    start = victim.get(
        f"{bridge.url}/auth/login?return_to=/auth/session", allow_redirects=False, timeout=10
    )
    authorize = start.headers["Location"]
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    # the attacker replays the victim's state (with any code) from its own browser
    attacker = requests.Session()
    attacker.get(f"{bridge.url}/auth/login", allow_redirects=False, timeout=10)
    forged = attacker.get(
        f"{bridge.url}/auth/callback", params={"state": state, "code": "x" * 40}, timeout=10
    )
    assert forged.status_code == 400
    assert session_keys(redis_client, bridge.redis_prefix) == []
    # the victim's own sign-in still completes
    final = browser_sign_in(victim, authorize, *SEED_USERS["analyst"])
    assert final.status_code == 200
    assert bridge.settings.cookie_name in victim.cookies


def test_expired_state_fails(
    bridge_factory: Callable[..., BridgeServer], redis_client: redis.Redis
) -> None:
    bridge = bridge_factory(pending_login_ttl=1)
    http = requests.Session()
    start = http.get(f"{bridge.url}/auth/login", allow_redirects=False, timeout=10)
    time.sleep(1.6)
    response = browser_sign_in(http, start.headers["Location"], *SEED_USERS["analyst"])
    assert response.status_code == 400
    assert bridge.settings.cookie_name not in http.cookies
    assert session_keys(redis_client, bridge.redis_prefix) == []


def test_looker_error_goes_back_to_return_to_with_auth_error(bridge: BridgeServer) -> None:
    http = requests.Session()
    start = http.get(
        f"{bridge.url}/auth/login",
        params={"return_to": "/auth/session?from=spa"},
        allow_redirects=False,
        timeout=10,
    )
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    back = http.get(
        f"{bridge.url}/auth/callback",
        params={"state": state, "error": "access_denied"},
        allow_redirects=False,
        timeout=10,
    )
    assert back.status_code == 302
    assert back.headers["Location"] == "/auth/session?from=spa&auth_error=access_denied"


def test_no_token_in_redis_or_logs(
    bridge: BridgeServer, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sessions = [sign_in_as(bridge, who) for who in ("admin", "analyst", "viewer")]
    secrets_to_find: list[bytes] = []
    for http in sessions:
        record = session_record(bridge, http)
        secrets_to_find += [
            record.tokens.access_token.encode(),
            (record.tokens.refresh_token or "").encode(),
            record.user.email.encode(),
            http.cookies[bridge.settings.cookie_name].encode(),
            http.cookies[bridge.settings.cookie_name].split(".")[-1].encode(),
        ]
        http.get(f"{bridge.url}/api/4.0/user", headers=API_HEADERS, timeout=10)
    keys = list(redis_client.scan_iter(match=f"{bridge.redis_prefix}*", count=1000))
    assert keys
    dump = b""
    for key in keys:
        dump += key + b"\n" + (redis_client.dump(key) or b"") + b"\n"
    for secret in secrets_to_find:
        assert secret and secret not in dump
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets_to_find[:2]:
        assert secret.decode() not in logged


def _fresh_token_bridge(bridge_factory: Callable[..., BridgeServer], **emu: Any) -> BridgeServer:
    return bridge_factory(refresh_margin=1, **emu)


@pytest.mark.both_data_planes  # the gate refreshes in nginx mode
def test_tokens_expiring_mid_session_are_refreshed(
    emulator_factory: Callable[..., Any], bridge_factory: Callable[..., BridgeServer]
) -> None:
    emulator = emulator_factory(token_ttl=2)
    bridge = bridge_factory(emulator=emulator, refresh_margin=1)
    http = sign_in_as(bridge, "analyst")
    first = session_record(bridge, http).tokens.access_token
    for _ in range(3):
        time.sleep(1.2)
        response = http.get(f"{bridge.url}/api/4.0/user", headers=API_HEADERS, timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["email"] == "analyst@example.com"
    assert emulator.state.token_requests["refresh_token"] >= 2
    assert session_record(bridge, http).tokens.access_token != first


@pytest.mark.both_data_planes  # the gate refreshes in nginx mode
def test_twenty_parallel_requests_at_expiry_share_one_refresh(
    emulator_factory: Callable[..., Any], bridge_factory: Callable[..., BridgeServer]
) -> None:
    emulator = emulator_factory(token_ttl=2)
    bridge = bridge_factory(emulator=emulator, refresh_margin=1)
    http = sign_in_as(bridge, "viewer")
    cookie = http.cookies[bridge.settings.cookie_name]
    # the refreshed token lives long, so a slow run cannot need a second refresh
    emulator.state.update_config(token_ttl=60)
    time.sleep(1.3)  # now within the refresh margin: every request wants a refresh
    before = emulator.state.token_requests["refresh_token"]
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def call() -> None:
        with requests.Session() as one:
            one.cookies.set(bridge.settings.cookie_name, cookie)
            barrier.wait()
            response = one.get(f"{bridge.url}/api/4.0/user", headers=API_HEADERS, timeout=30)
            statuses.append(response.status_code)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20
    assert emulator.state.token_requests["refresh_token"] - before == 1


@pytest.mark.both_data_planes  # the gate refreshes in nginx mode
def test_user_deleted_in_looker_is_signed_out_on_next_call(bridge: BridgeServer) -> None:
    http = sign_in_as(bridge, "analyst")
    assert http.get(f"{bridge.url}/api/4.0/user", headers=API_HEADERS, timeout=10).ok
    bridge.emulator.state.delete_user("2")
    response = http.get(f"{bridge.url}/api/4.0/user", headers=API_HEADERS, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response.json()["login_url"] == "/auth/login"
    assert http.get(f"{bridge.url}/auth/session", timeout=10).status_code == 401


@pytest.mark.both_data_planes  # the gate refreshes in nginx mode
def test_failed_refresh_ends_the_session(
    emulator_factory: Callable[..., Any], bridge_factory: Callable[..., BridgeServer]
) -> None:
    emulator = emulator_factory(token_ttl=2, refresh_enabled=False)
    bridge = bridge_factory(emulator=emulator, refresh_margin=1)
    http = sign_in_as(bridge, "viewer")
    time.sleep(1.3)
    response = http.get(f"{bridge.url}/api/4.0/user", headers=API_HEADERS, timeout=10)
    assert response.status_code == 401
    assert http.get(f"{bridge.url}/auth/session", timeout=10).status_code == 401


def test_logout_everywhere_ends_all_sessions_of_the_user(bridge: BridgeServer) -> None:
    laptop = sign_in_as(bridge, "analyst")
    phone = sign_in_as(bridge, "analyst")
    other = sign_in_as(bridge, "viewer")
    out = laptop.post(
        f"{bridge.url}/auth/logout", params={"everywhere": "1"}, headers=API_HEADERS, timeout=10
    )
    assert out.status_code == 204
    assert phone.get(f"{bridge.url}/auth/session", timeout=10).status_code == 401
    assert other.get(f"{bridge.url}/auth/session", timeout=10).status_code == 200


def test_logout_when_looker_is_unreachable_still_ends_the_session(bridge: BridgeServer) -> None:
    http = sign_in_as(bridge, "viewer")
    bridge.emulator.stop_api()
    out = http.post(f"{bridge.url}/auth/logout", headers=API_HEADERS, timeout=30)
    assert out.status_code == 200
    body = out.json()
    assert body["signed_out"] is True and body["looker_revoked"] is False
    assert bridge.settings.cookie_name not in http.cookies
    assert http.get(f"{bridge.url}/auth/session", timeout=10).status_code == 401


def test_redis_down_answers_503_and_recovers(
    bridge_factory: Callable[..., BridgeServer], private_redis: Any
) -> None:
    bridge = bridge_factory(redis_url=private_redis.url, redis_socket_timeout=0.5)
    http = sign_in_as(bridge, "analyst")
    private_redis.stop()
    down = http.get(f"{bridge.url}/auth/session", timeout=10)
    assert down.status_code == 503
    assert down.headers["Retry-After"].isdigit()
    assert down.json()["error"] == "session_store_unavailable"
    login = requests.get(f"{bridge.url}/auth/login", allow_redirects=False, timeout=10)
    assert login.status_code == 503
    private_redis.start()
    # Redis kept nothing (no persistence): the session is gone, but the bridge works again
    assert http.get(f"{bridge.url}/auth/session", timeout=10).status_code == 401
    again = sign_in(bridge, *SEED_USERS["analyst"])
    assert again.get(f"{bridge.url}/auth/session", timeout=10).status_code == 200


def test_token_mediation_is_off_by_default(bridge: BridgeServer) -> None:
    http = sign_in_as(bridge, "analyst")
    response = http.get(f"{bridge.url}/auth/token", headers=API_HEADERS, timeout=10)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert "access_token" not in response.text


def test_token_mediation_hands_out_the_current_token_under_csrf_rules(
    bridge_factory: Callable[..., BridgeServer],
) -> None:
    bridge = bridge_factory(token_mediation=True)
    http = sign_in_as(bridge, "analyst")
    assert http.get(f"{bridge.url}/auth/token", timeout=10).status_code == 403
    foreign = http.get(
        f"{bridge.url}/auth/token",
        headers={**API_HEADERS, "Origin": "https://evil.example"},
        timeout=10,
    )
    assert foreign.status_code == 403
    assert "access_token" not in foreign.text
    response = http.get(f"{bridge.url}/auth/token", headers=API_HEADERS, timeout=10)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 3600
    assert body["access_token"] == session_record(bridge, http).tokens.access_token
    assert looker_user_status(bridge, body["access_token"]) == 200
    assert (
        requests.get(f"{bridge.url}/auth/token", headers=API_HEADERS, timeout=10).status_code == 401
    )

"""Sign-ins under way, against the running bridge (gunicorn): held in the browser, not in Redis.

Stray same-site ``<img src=/auth/login>`` tags cannot lock a browser out (the oldest pending login
is dropped, issue 11 item 5), and the properties the Redis-held design had still hold: single use
(also for a copy of the login cookie), bound to the browser, nothing readable in the cookie.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import requests

from tests.support.bridge import SEED_USERS
from tests.support.emulator import browser_sign_in
from tests.support.gunicorn import GunicornFactory, Instance
from tests.support.security_tools import keys

LOGIN_COOKIE = "looker_login"  # the gunicorn fixture runs with COOKIE_SECURE=false
SESSION_COOKIE = "looker_session"


def start_login(instance: Instance, http: requests.Session, return_to: str = "/") -> str:
    """``GET /auth/login`` as an ``<img>`` would (the redirect not followed); Looker's URL."""
    response = http.get(
        f"{instance.url}/auth/login",
        params={"return_to": return_to},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def state_of(authorize_url: str) -> str:
    return parse_qs(urlsplit(authorize_url).query)["state"][0]


@pytest.fixture
def instance(gunicorn_factory: GunicornFactory) -> Instance:
    """A gunicorn bridge without rate limits (the tests start many sign-ins from one address)."""
    return gunicorn_factory(RATE_LIMIT_ENABLED="false")


def test_six_logins_from_one_browser_drop_the_oldest_and_the_sixth_completes(
    instance: Instance, redis_client: redis.Redis
) -> None:
    prefix = instance.env["OAUTH_BRIDGE_REDIS_KEY_PREFIX"]
    browser = requests.Session()
    started = [start_login(instance, browser, f"/auth/session?n={n}") for n in range(6)]
    assert keys(redis_client, prefix, "p") == []  # nothing stored for a sign-in under way

    first = browser_sign_in(browser, started[0], *SEED_USERS["analyst"])
    assert first.status_code == 400
    assert "unknown, expired, already used" in first.text
    assert SESSION_COOKIE not in browser.cookies

    sixth = browser_sign_in(browser, started[5], *SEED_USERS["analyst"])
    assert sixth.status_code == 200, sixth.text
    assert sixth.url.endswith("/auth/session?n=5")
    assert sixth.json()["authenticated"] is True
    # the others the cap kept are still there
    second = browser_sign_in(browser, started[1], *SEED_USERS["analyst"])
    assert second.status_code == 200 and second.url.endswith("/auth/session?n=1")


def test_a_copied_login_cookie_is_single_use_and_bound_to_its_browser(
    instance: Instance, redis_client: redis.Redis
) -> None:
    prefix = instance.env["OAUTH_BRIDGE_REDIS_KEY_PREFIX"]
    victim = requests.Session()
    authorize = start_login(instance, victim, "/auth/session")
    sealed = victim.cookies[LOGIN_COOKIE]
    state = state_of(authorize)
    for needle in (state, "auth/session", "auth%2Fsession"):
        assert needle not in sealed

    # Another browser with the state but not the cookie: refused, and the login is not burnt.
    attacker = requests.Session()
    start_login(instance, attacker)
    forged = attacker.get(
        f"{instance.url}/auth/callback", params={"state": state, "code": "x" * 40}, timeout=10
    )
    assert forged.status_code == 400
    assert keys(redis_client, prefix, "s:") == []

    to_callback = browser_sign_in(victim, authorize, *SEED_USERS["viewer"], follow_final=False)
    callback_url = to_callback.headers["Location"]
    done = victim.get(callback_url, allow_redirects=False, timeout=10)
    assert done.status_code == 302
    assert LOGIN_COOKIE not in victim.cookies  # the only login was taken out of the cookie
    sessions = keys(redis_client, prefix, "s:")
    assert len(sessions) == 1
    assert len(keys(redis_client, prefix, "pu:")) == 1  # the used-state mark, hashed
    assert state.encode() not in b"".join(keys(redis_client, prefix, ""))

    # Replaying the callback with a copy of the cookie as it was: refused, nothing created.
    replay = requests.get(
        callback_url,
        headers={"Cookie": f"{LOGIN_COOKIE}={sealed}"},
        allow_redirects=False,
        timeout=10,
    )
    assert replay.status_code == 400
    assert "Set-Cookie" not in replay.headers or SESSION_COOKIE not in replay.headers["Set-Cookie"]
    assert keys(redis_client, prefix, "s:") == sessions

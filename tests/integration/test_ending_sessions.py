"""Nothing kept that should be gone (issue 11, items 6-8), against the bridge as production runs
it (``gunicorn app:app``, two workers, real Redis, the emulator as Looker).

- Logout everywhere ends every session's grant at Looker, and a per-user mark refuses any
  session of the user created before it: one restored from a backup, or one the index missed.
- A user holds at most ``MAX_SESSIONS_PER_USER`` sessions; the oldest ends first, revoked.
- Twenty parallel requests at expiry make one token call, whatever the lifetime and margin.
- A full Redis keeps signed-in users working and refuses what would grow it with a 503.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
import requests
from cryptography.fernet import Fernet

from oauth_bridge.emulator import EmulatorServer
from tests.support.bridge import SEED_USERS
from tests.support.emulator import browser_sign_in
from tests.support.gunicorn import GunicornFactory, Instance, parallel_get
from tests.support.redis_fixtures import RedisServer
from tests.support.security_tools import CSRF

COOKIE = "looker_session"  # COOKIE_SECURE=false in the gunicorn fixture


def sign_in(instance: Instance, who: str = "analyst") -> requests.Session:
    http = requests.Session()
    page = browser_sign_in(
        http, f"{instance.url}/auth/login?return_to=/auth/session", *SEED_USERS[who]
    )
    assert page.status_code == 200, page.text[:300]
    assert COOKIE in http.cookies
    return http


def status(http: requests.Session, instance: Instance, path: str = "/api/4.0/user") -> int:
    with http.get(f"{instance.url}{path}", headers=CSRF, timeout=30) as response:
        return response.status_code


def mediated_token(http: requests.Session, instance: Instance) -> str:
    """The access token ``GET /auth/token`` hands the SPA (token mediation on)."""
    with http.get(f"{instance.url}/auth/token", headers=CSRF, timeout=15) as answer:
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
    return token


def session_key(instance: Instance, http: requests.Session) -> str:
    prefix = instance.env["OAUTH_BRIDGE_REDIS_KEY_PREFIX"]
    return f"{prefix}s:{http.cookies[COOKIE].split('.')[0]}"


def logout_everywhere(http: requests.Session, instance: Instance) -> None:
    with http.post(f"{instance.url}/auth/logout?everywhere=1", headers=CSRF, timeout=30) as out:
        assert out.status_code == 204, out.text


# --- item 6: logout everywhere ----------------------------------------------------------------


def test_logout_everywhere_revokes_every_sessions_token_at_looker(
    gunicorn_factory: GunicornFactory, emulator_factory: Callable[..., EmulatorServer]
) -> None:
    emulator = emulator_factory(token_ttl=3600)
    bridge = gunicorn_factory(emulator=emulator, TOKEN_MEDIATION="true")
    laptop, phone, tablet = sign_in(bridge), sign_in(bridge), sign_in(bridge)
    handed_out = [mediated_token(phone, bridge), mediated_token(tablet, bridge)]
    own = mediated_token(laptop, bridge)
    assert all(emulator.state.is_token_valid(token) for token in [*handed_out, own])

    logout_everywhere(laptop, bridge)
    for token in [*handed_out, own]:  # the SPA's copies no longer work at Looker either
        assert not emulator.state.is_token_valid(token)
    assert status(phone, bridge) == 401 and status(tablet, bridge) == 401


def test_a_restored_copy_of_a_session_stays_ended_after_logout_everywhere(
    gunicorn_factory: GunicornFactory, redis_client: redis.Redis
) -> None:
    """An old copy of another session's value (a backup, a lagging replica) plus its cookie."""
    bridge = gunicorn_factory()
    laptop, phone = sign_in(bridge), sign_in(bridge)
    key = session_key(bridge, phone)
    copy = redis_client.get(key)
    assert isinstance(copy, bytes)

    logout_everywhere(laptop, bridge)
    redis_client.set(key, copy, px=3_600_000)  # put back as it was
    assert status(phone, bridge) == 401
    assert status(phone, bridge, "/auth/session") == 401
    assert not redis_client.exists(key)  # deleted on sight


def test_a_session_the_index_missed_ends_with_logout_everywhere(
    gunicorn_factory: GunicornFactory, redis_client: redis.Redis
) -> None:
    bridge = gunicorn_factory()
    phone = sign_in(bridge)
    prefix = bridge.env["OAUTH_BRIDGE_REDIS_KEY_PREFIX"]
    assert redis_client.delete(f"{prefix}u:2") == 1  # analyst's index, evicted or lost
    laptop = sign_in(bridge)
    assert status(phone, bridge) == 200

    logout_everywhere(laptop, bridge)
    assert status(phone, bridge) == 401
    assert status(laptop, bridge) == 401
    again = sign_in(bridge)  # signing in after the mark works
    assert status(again, bridge) == 200


# --- item 7: sessions per user are bounded --------------------------------------------------


def test_one_sign_in_too_many_ends_the_oldest_session_and_its_token(
    gunicorn_factory: GunicornFactory, emulator_factory: Callable[..., EmulatorServer]
) -> None:
    emulator = emulator_factory(token_ttl=3600)
    bridge = gunicorn_factory(emulator=emulator, TOKEN_MEDIATION="true", MAX_SESSIONS_PER_USER="2")
    oldest = sign_in(bridge)
    oldest_token = mediated_token(oldest, bridge)
    second = sign_in(bridge)
    viewer = sign_in(bridge, "viewer")  # another user's sessions do not count
    assert status(oldest, bridge) == 200

    newest = sign_in(bridge)
    assert status(oldest, bridge) == 401
    assert not emulator.state.is_token_valid(oldest_token)
    assert [status(http, bridge) for http in (second, newest, viewer)] == [200, 200, 200]


# --- item 8: one refresh, whatever the lifetime and margin ----------------------------------


def test_twenty_parallel_requests_at_expiry_make_one_token_call_with_the_default_margin(
    gunicorn_factory: GunicornFactory, emulator_factory: Callable[..., EmulatorServer]
) -> None:
    """Six-second tokens under the default 30 s margin: every token is "due" on arrival unless
    the margin is capped by the lifetime; the refreshed token also lives only six seconds."""
    emulator = emulator_factory(token_ttl=6)
    bridge = gunicorn_factory(emulator=emulator)
    http = sign_in(bridge)
    assert status(http, bridge) == 200
    on_a_fresh_token = emulator.state.token_requests["refresh_token"]
    time.sleep(3.2)  # past half the lifetime: due now

    headers = {**CSRF, "Cookie": f"{COOKIE}={http.cookies[COOKIE]}"}
    assert parallel_get([bridge], "/api/4.0/user", headers, 20) == [200] * 20
    at_expiry = emulator.state.token_requests["refresh_token"] - on_a_fresh_token
    assert status(http, bridge) == 200
    afterwards = emulator.state.token_requests["refresh_token"] - on_a_fresh_token - at_expiry
    assert (on_a_fresh_token, at_expiry, afterwards) == (0, 1, 0)


# --- a full Redis -----------------------------------------------------------------------------


def test_a_full_redis_keeps_signed_in_users_and_refuses_new_sessions_and_refreshes(
    gunicorn_factory: GunicornFactory,
    emulator_factory: Callable[..., EmulatorServer],
    private_redis: RedisServer,
) -> None:
    """noeviction at maxmemory: loads keep working (also on an instance that would re-seal the
    session under a newer key, mid-rotation); a sign-in and a due refresh answer 503."""
    emulator = emulator_factory(token_ttl=3600)
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    bridge = gunicorn_factory(emulator=emulator, REDIS_URL=private_redis.url, TOKEN_KEYS=old_key)
    steady = sign_in(bridge)
    emulator.state.update_config(token_ttl=2)
    due = sign_in(bridge, "viewer")  # a two-second token: due for a refresh after one
    rotated = gunicorn_factory(
        emulator=emulator, REDIS_URL=private_redis.url, TOKEN_KEYS=f"{new_key},{old_key}"
    )
    client = redis.Redis.from_url(private_redis.url)
    before = {key: client.get(key) for key in client.scan_iter(match="*s:*")}
    refreshes = emulator.state.token_requests["refresh_token"]
    time.sleep(1.2)
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", 1)
    try:
        for instance in (bridge, rotated):
            assert status(steady, instance) == 200
            assert status(steady, instance, "/auth/session") == 200
        with due.get(f"{bridge.url}/api/4.0/user", headers=CSRF, timeout=30) as refused:
            assert refused.status_code == 503
            assert refused.json()["error"] == "session_store_unavailable"
            assert refused.headers["Retry-After"].isdigit()
        newcomer = requests.Session()
        page = browser_sign_in(
            newcomer, f"{bridge.url}/auth/login?return_to=/auth/session", *SEED_USERS["admin"]
        )
        assert page.status_code == 503
        assert COOKIE not in newcomer.cookies
        assert emulator.state.token_requests["refresh_token"] == refreshes  # Looker not asked
        after = {key: client.get(key) for key in client.scan_iter(match="*s:*")}
        assert after == before  # nothing half-written, no session added
    finally:
        client.config_set("maxmemory", 0)
    assert status(due, bridge) == 200  # once there is room, the refresh goes through
    assert status(steady, rotated) == 200
    assert client.get(session_key(bridge, steady)) != before[session_key(bridge, steady).encode()]
    client.close()

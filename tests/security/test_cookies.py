"""Session cookies: the flags each mode sets (read from the Set-Cookie text), and session fixation.

The flows are driven by hand so that the ``Secure`` modes work over the tests' plain-http
loopback: the login cookie is carried to the callback explicitly, as a browser would over TLS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import redis
import requests

from tests.support.bridge import SEED_USERS, BridgeServer, sign_in_as
from tests.support.emulator import browser_sign_in
from tests.support.security_tools import CSRF, keys

WELL_FORMED_PLANT = "A" * 43 + "." + "B" * 43
"""Has the exact shape of a real cookie value (``{43-char id}.{43-char secret}``)."""


@dataclass
class CookieLine:
    """One Set-Cookie header split into its name, value and attributes (names lower-cased)."""

    name: str
    value: str
    attributes: dict[str, str]
    flags: set[str]

    @classmethod
    def parse(cls, header: str) -> CookieLine:
        first, *rest = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        attributes: dict[str, str] = {}
        flags: set[str] = set()
        for part in rest:
            key, eq, val = part.partition("=")
            if eq:
                attributes[key.lower()] = val
            else:
                flags.add(key.lower())
        return cls(name, value, attributes, flags)


def set_cookies(response: requests.Response) -> list[CookieLine]:
    return [CookieLine.parse(line) for line in response.raw.headers.getlist("Set-Cookie")]


def the_cookie(response: requests.Response, name: str) -> CookieLine:
    lines = [line for line in set_cookies(response) if line.name == name]
    assert len(lines) == 1, [line.name for line in set_cookies(response)]
    return lines[0]


def callback_response(bridge: BridgeServer, who: str, cookie: str = "") -> requests.Response:
    """The bridge's answer at ``/auth/callback`` (not followed) after a real sign-in."""
    settings = bridge.settings
    with requests.Session() as http:
        login = http.get(f"{bridge.url}/auth/login", allow_redirects=False, timeout=10)
        assert login.status_code == 302
        binding = the_cookie(login, settings.login_cookie_name).value
        back = browser_sign_in(
            http, login.headers["Location"], *SEED_USERS[who], follow_final=False
        )
        assert back.status_code == 302 and back.headers["Location"].startswith(bridge.url)
        header = f"{settings.login_cookie_name}={binding}"
        if cookie:
            header += f"; {settings.cookie_name}={cookie}"
        return requests.get(
            back.headers["Location"],
            headers={"Cookie": header},
            allow_redirects=False,
            timeout=10,
        )


def logout_response(bridge: BridgeServer, cookie: str) -> requests.Response:
    return requests.post(
        f"{bridge.url}/auth/logout",
        headers={**CSRF, "Cookie": f"{bridge.settings.cookie_name}={cookie}"},
        timeout=10,
    )


MODES: dict[str, dict[str, object]] = {
    "secure-lax": {"cookie_secure": True},
    "secure-none-partitioned": {"cookie_secure": True, "cookie_samesite": "None"},
    "plain-http": {"cookie_secure": False},
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_session_cookie_flags_per_mode(
    bridge_factory: Callable[..., BridgeServer], mode: str
) -> None:
    overrides = MODES[mode]
    bridge = bridge_factory(**overrides)
    secure = bool(overrides["cookie_secure"])
    expected_name = "__Host-looker_session" if secure else "looker_session"
    same_site = str(overrides.get("cookie_samesite", "Lax"))

    with callback_response(bridge, "analyst") as callback:
        assert callback.status_code == 302
        cookie = the_cookie(callback, expected_name)
    assert len(cookie.value) == 87
    assert cookie.attributes["path"] == "/"
    assert "domain" not in cookie.attributes
    assert cookie.attributes["samesite"] == same_site
    assert "httponly" in cookie.flags
    assert ("secure" in cookie.flags) is secure
    assert ("partitioned" in cookie.flags) is (same_site == "None")
    assert int(cookie.attributes["max-age"]) == bridge.settings.session_max_age

    with logout_response(bridge, cookie.value) as out:
        assert out.status_code == 204
        cleared = the_cookie(out, expected_name)
    assert cleared.value == ""
    assert cleared.attributes["max-age"] == "0"
    assert cleared.attributes["path"] == "/"
    assert "domain" not in cleared.attributes
    assert ("secure" in cleared.flags) is secure
    # A partitioned cookie is only removed by a partitioned deletion (CHIPS).
    assert ("partitioned" in cleared.flags) is (same_site == "None")


@pytest.mark.parametrize("secure", [True, False])
def test_login_binding_cookie_flags(
    bridge_factory: Callable[..., BridgeServer], secure: bool
) -> None:
    bridge = bridge_factory(cookie_secure=secure)
    with requests.get(f"{bridge.url}/auth/login", allow_redirects=False, timeout=10) as login:
        cookie = the_cookie(login, "__Host-looker_login" if secure else "looker_login")
    assert cookie.attributes["path"] == "/"
    assert "domain" not in cookie.attributes
    assert cookie.attributes["samesite"] == "Lax"
    assert "httponly" in cookie.flags
    assert ("secure" in cookie.flags) is secure
    assert int(cookie.attributes["max-age"]) <= 600


def test_no_session_cookie_is_set_before_sign_in_completes(bridge: BridgeServer) -> None:
    for path in ("/auth/session", "/auth/login", "/api/4.0/user"):
        with requests.get(
            f"{bridge.url}{path}", headers=CSRF, allow_redirects=False, timeout=10
        ) as response:
            names = [line.name for line in set_cookies(response)]
        assert bridge.settings.cookie_name not in names, path


@pytest.mark.parametrize(
    "planted", [WELL_FORMED_PLANT, "attacker-chosen", "x" * 87, "A" * 43 + "." + "B" * 44]
)
def test_a_planted_cookie_never_becomes_a_session(
    bridge: BridgeServer, redis_client: redis.Redis, planted: str
) -> None:
    assert (
        requests.get(
            f"{bridge.url}/auth/session",
            headers={"Cookie": f"{bridge.settings.cookie_name}={planted}"},
            timeout=10,
        ).status_code
        == 401
    )

    with callback_response(bridge, "viewer", cookie=planted) as callback:
        assert callback.status_code == 302
        issued = the_cookie(callback, bridge.settings.cookie_name).value
    assert issued != planted
    assert issued.split(".")[0] != planted.split(".")[0]
    assert not redis_client.exists(f"{bridge.redis_prefix}s:{planted.split('.')[0]}")
    assert len(keys(redis_client, bridge.redis_prefix, "s:")) == 1

    with requests.get(
        f"{bridge.url}/auth/session",
        headers={"Cookie": f"{bridge.settings.cookie_name}={planted}"},
        timeout=10,
    ) as still:
        assert still.status_code == 401
    with requests.get(
        f"{bridge.url}/auth/session",
        headers={"Cookie": f"{bridge.settings.cookie_name}={issued}"},
        timeout=10,
    ) as mine:
        assert mine.json()["user"]["email"] == SEED_USERS["viewer"][0]


def test_an_attackers_own_session_planted_before_sign_in_is_replaced(
    bridge: BridgeServer,
) -> None:
    """Login-CSRF by cookie: the victim's sign-in replaces the planted session, never joins it."""
    attacker = sign_in_as(bridge, "viewer")
    planted = attacker.cookies[bridge.settings.cookie_name]

    with callback_response(bridge, "analyst", cookie=planted) as callback:
        victim = the_cookie(callback, bridge.settings.cookie_name).value
    assert victim != planted

    with attacker.get(f"{bridge.url}/auth/session", timeout=10) as seen:
        assert seen.status_code == 401  # the planted session ended with the new sign-in
    with requests.get(
        f"{bridge.url}/auth/session",
        headers={"Cookie": f"{bridge.settings.cookie_name}={victim}"},
        timeout=10,
    ) as own:
        assert own.json()["user"]["email"] == SEED_USERS["analyst"][0]
    attacker.close()


def test_session_id_alone_or_secret_alone_opens_nothing(bridge: BridgeServer) -> None:
    http = sign_in_as(bridge, "analyst")
    real = http.cookies[bridge.settings.cookie_name]
    session_id, secret = real.split(".")
    other_secret = "C" * 43
    for guess in (session_id, f"{session_id}.", f"{session_id}.{other_secret}", f".{secret}"):
        with requests.get(
            f"{bridge.url}/auth/session",
            headers={"Cookie": f"{bridge.settings.cookie_name}={guess}"},
            timeout=10,
        ) as response:
            assert response.status_code == 401, guess
    with http.get(f"{bridge.url}/auth/session", timeout=10) as still:
        assert still.status_code == 200
    http.close()

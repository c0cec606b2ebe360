"""The login cookie's codec: sealed, bound to its key, expiring, bounded in count and bytes."""

from __future__ import annotations

import base64
import secrets

import pytest

from oauth_bridge.crypto import CookieSealer, derive_key
from oauth_bridge.login_cookie import COOKIE_VALUE_BUDGET, MAX_RETURN_TO, PendingLogins
from oauth_bridge.models import PendingLogin

SECRET = "unit-test-secret-key-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def codec(clock: Clock, *, secret: str = SECRET, ttl: int = 600, most: int = 5) -> PendingLogins:
    return PendingLogins(secret, ttl=ttl, max_logins=most, clock=clock)


def login(clock: Clock, return_to: str = "/dashboards/1?tab=2") -> PendingLogin:
    return PendingLogin(secrets.token_urlsafe(32), secrets.token_urlsafe(33), return_to, clock.now)


def test_round_trip_and_take_is_single_use() -> None:
    clock = Clock()
    logins = codec(clock)
    first, second = login(clock), login(clock, "/other")
    value = logins.encode(logins.added(logins.added([], first), second))
    carried = logins.read(value)
    assert carried == [first, second]
    taken, rest = logins.take(carried, first.state)
    assert taken == first and rest == [second]
    assert logins.take(rest, first.state) == (None, rest)  # gone from what is written back


def test_the_cookie_reveals_nothing_it_carries() -> None:
    clock = Clock()
    logins = codec(clock)
    pending = login(clock, "/app/secret-page")
    value = logins.encode([pending])
    body = value.removeprefix(CookieSealer.PREFIX)
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    for needle in (pending.state, pending.code_verifier, "secret-page"):
        assert needle not in value
        assert needle.encode() not in raw


@pytest.mark.parametrize(
    "tamper",
    [
        lambda v: v[:-2] + ("AA" if v[-2:] != "AA" else "BB"),  # a changed byte
        lambda v: v[:40],  # cut short
        lambda v: "v2." + v[3:],  # another version
        lambda v: "A" * 43,  # the old binding-cookie format
        lambda v: "",
        lambda v: "v1.%%%%",
        lambda v: "v1." + "A" * 20_000,
        lambda v: v + "\u00e9",
    ],
)
def test_a_changed_or_foreign_value_carries_nothing(tamper: object) -> None:
    clock = Clock()
    logins = codec(clock)
    value = logins.encode([login(clock)])
    assert callable(tamper)
    assert logins.read(tamper(value)) == []


def test_another_secret_key_opens_nothing_and_derived_keys_differ_by_purpose() -> None:
    clock = Clock()
    value = codec(clock).encode([login(clock)])
    assert codec(clock, secret="another-secret-key-0123456789").read(value) == []
    assert derive_key(SECRET, b"a") != derive_key(SECRET, b"b")
    assert len(derive_key(SECRET, b"a")) == 32


def test_a_login_expires_after_the_ttl() -> None:
    clock = Clock()
    logins = codec(clock, ttl=600)
    old = login(clock)
    clock.now += 300
    new = login(clock)
    value = logins.encode([old, new])
    clock.now += 299
    assert logins.read(value) == [old, new]
    assert logins.remaining_ms(old) == 1000
    clock.now += 1
    assert logins.read(value) == [new]
    assert logins.max_age([new]) == 300


def test_a_new_login_drops_the_oldest_beyond_the_cap() -> None:
    clock = Clock()
    logins = codec(clock, most=5)
    started = [login(clock) for _ in range(6)]
    kept: list[PendingLogin] = []
    for pending in started:
        kept = logins.added(logins.read(logins.encode(kept)) if kept else [], pending)
    assert kept == started[1:]


@pytest.mark.parametrize(("length", "fit"), [(1, 5), (400, 5), (MAX_RETURN_TO, 2)])
def test_the_cookie_stays_under_its_budget_and_the_newest_always_stays(
    length: int, fit: int
) -> None:
    clock = Clock()
    return_to = "/" + "x" * (length - 1)
    logins = codec(clock, most=50)
    kept: list[PendingLogin] = []
    for _ in range(20):
        newest = login(clock, return_to)
        kept = logins.added(kept, newest)
        assert kept[-1] == newest
        assert len(logins.encode(kept)) <= COOKIE_VALUE_BUDGET
    assert len(kept) >= fit

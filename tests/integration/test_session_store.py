"""The session store against a real Redis, and the memory store held to the same behaviour."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from oauth_bridge.config import load_settings
from oauth_bridge.crypto import TokenCipher
from oauth_bridge.errors import ConfigError, StoreUnavailable
from oauth_bridge.models import TokenSet, UserInfo
from oauth_bridge.sessions import MemorySessionStore, RedisSessionStore, build_store
from oauth_bridge.sessions.codec import _session_aad, _split, user_tag, value_user_tag
from tests.support.redis_fixtures import RedisServer

AnyStore = RedisSessionStore | MemorySessionStore
"""The concrete stores: the tests also call their test-only methods."""

KEY_A = Fernet.generate_key()
KEY_B = Fernet.generate_key()

ANALYST = UserInfo(id="2", display_name="Analyst Example", email="analyst@example.com")
VIEWER = UserInfo(id="3", display_name="Viewer Example", email="viewer@example.com")


def realistic_tokens() -> TokenSet:
    """44-character tokens, like the ones the tests of the full flow see."""
    return TokenSet(
        access_token=secrets.token_urlsafe(33),
        refresh_token=secrets.token_urlsafe(33),
        expires_at=time.time() + 3600,
    )


class Clock:
    """Real time plus an offset a test may move forward (absolute lifetime checks)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class StoreFactory:
    """Makes stores of one kind; stores made by one factory share their data, as Redis does."""

    kind: str
    redis_url: str
    prefix: str
    clock: Clock = field(default_factory=Clock)
    clients: list[redis.Redis] = field(default_factory=list)
    memory: MemorySessionStore | None = None

    def __call__(
        self,
        keys: tuple[bytes, ...] = (KEY_A,),
        *,
        idle: int = 3600,
        max_age: int = 86400,
        **limits: Any,
    ) -> Any:
        """A store; ``limits``: ``max_sessions``, ``on_ended`` as the stores take them."""
        cipher = TokenCipher(keys)
        if self.kind == "redis":
            client = redis.Redis.from_url(self.redis_url)
            self.clients.append(client)
            return RedisSessionStore(
                client,
                cipher,
                prefix=self.prefix,
                idle_timeout=idle,
                max_age=max_age,
                clock=self.clock,
                **limits,
            )
        store = MemorySessionStore(
            cipher, idle_timeout=idle, max_age=max_age, clock=self.clock, **limits
        )
        if self.memory is not None:  # share the "server" with the stores made before
            for name in ("_sessions", "_users", "_marks", "_used", "_locks", "_mutex"):
                setattr(store, name, getattr(self.memory, name))
        self.memory = store
        return store

    def advance(self, seconds: float) -> None:
        """Let time pass: Redis expires keys by its own clock, the memory store by ours."""
        if self.kind == "redis":
            time.sleep(seconds)
        else:
            self.clock.offset += seconds

    def raw_value(self, session_id: str) -> bytes | None:
        """The stored bytes of a session, as a backup or a replica would hold them."""
        if self.kind == "redis":
            client = redis.Redis.from_url(self.redis_url)
            value = client.get(f"{self.prefix}s:{session_id}")
            client.close()
            return value if isinstance(value, bytes) else None
        assert self.memory is not None
        entry = self.memory._sessions.get(session_id)
        return None if entry is None else entry[0]

    def restore_value(self, session_id: str, value: bytes) -> None:
        """Put old bytes back (a restored backup, a lagging replica promoted), unindexed."""
        if self.kind == "redis":
            client = redis.Redis.from_url(self.redis_url)
            client.set(f"{self.prefix}s:{session_id}", value, px=3_600_000)
            client.close()
            return
        assert self.memory is not None
        self.memory._sessions[session_id] = (value, self.clock() + 3600)

    def drop_index(self, user_id: str) -> None:
        """Lose a user's index (evicted, or missed by a failover)."""
        if self.kind == "redis":
            client = redis.Redis.from_url(self.redis_url)
            client.delete(f"{self.prefix}u:{user_id}")
            client.close()
            return
        assert self.memory is not None
        self.memory._users.pop(user_id, None)

    def dump(self) -> bytes:
        """Every byte the store holds: key names and values."""
        if self.kind == "redis":
            client = redis.Redis.from_url(self.redis_url)
            parts: list[bytes] = []
            for key in client.scan_iter(match=self.prefix + "*"):
                assert isinstance(key, bytes)
                parts.append(key)
                kind = client.type(key)
                if kind == b"string":
                    value = client.get(key) or b""
                    assert isinstance(value, bytes)
                    parts.append(value)
                elif kind == b"zset":
                    for member in client.zrange(key, 0, -1):
                        assert isinstance(member, bytes)
                        parts.append(member)
                else:  # pragma: no cover - the store makes no other kind
                    pytest.fail(f"unexpected key type {kind!r}")
            client.close()
            return b"\n".join(parts)
        assert self.memory is not None
        state = (self.memory._sessions, self.memory._users, self.memory._used)
        return repr(state).encode()


@pytest.fixture(params=["redis", "memory"])
def make_store(
    request: pytest.FixtureRequest, redis_prefix: str, redis_url: str
) -> Iterator[StoreFactory]:
    factory = StoreFactory(request.param, redis_url, redis_prefix)
    yield factory
    for client in factory.clients:
        client.close()


@pytest.fixture
def store(make_store: StoreFactory) -> AnyStore:
    store: AnyStore = make_store()
    return store


# --- sessions -------------------------------------------------------------------------------


def test_round_trip(store: AnyStore) -> None:
    tokens = realistic_tokens()
    cookie, record = store.create(ANALYST, tokens)
    session_id, _, secret = cookie.partition(".")
    assert session_id == record.session_id
    assert len(base64.urlsafe_b64decode(session_id + "=")) == 32
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32
    assert record.version == 1
    assert abs(record.created_at - time.time()) < 60

    loaded = store.load(cookie)
    assert loaded == record
    assert loaded.user == ANALYST
    assert loaded.tokens == tokens


def test_each_session_gets_a_new_id_and_secret(store: AnyStore) -> None:
    cookies = [store.create(ANALYST, realistic_tokens())[0] for _ in range(20)]
    ids = {c.split(".")[0] for c in cookies}
    secrets_ = {c.split(".")[1] for c in cookies}
    assert len(ids) == 20 and len(secrets_) == 20


def test_refresh_token_may_be_absent(store: AnyStore) -> None:
    cookie, _ = store.create(VIEWER, TokenSet("a" * 44, None, 123.5))
    loaded = store.load(cookie)
    assert loaded is not None
    assert loaded.tokens == TokenSet("a" * 44, None, 123.5)


def _swap_secret(cookie: str, other: str) -> str:
    return cookie.split(".")[0] + "." + other.split(".")[1]


def _flip_last(text: str) -> str:
    return text[:-1] + ("A" if text[-1] != "A" else "B")


HOSTILE: list[Callable[[str, str], str]] = [
    lambda c, o: "",
    lambda c, o: ".",
    lambda c, o: "..",
    lambda c, o: "a.b",
    lambda c, o: c.split(".")[0],
    lambda c, o: c.split(".")[0] + ".",
    lambda c, o: "." + c.split(".")[1],
    lambda c, o: c + ".",
    lambda c, o: c + "." + c.split(".")[1],
    lambda c, o: c + "=",
    lambda c, o: " " + c,
    lambda c, o: c[:-1],
    lambda c, o: c + "A",
    lambda c, o: c.upper(),
    lambda c, o: c.replace(".", ":"),
    lambda c, o: c.replace(".", ".."),
    lambda c, o: c.split(".")[1] + "." + c.split(".")[0],  # parts swapped
    lambda c, o: _flip_last(c),  # tampered secret
    lambda c, o: _flip_last(c.split(".")[0]) + "." + c.split(".")[1],  # tampered id
    lambda c, o: _swap_secret(c, o),  # this id, another session's secret
    lambda c, o: _swap_secret(o, c),  # another id, this session's secret
    lambda c, o: c.split(".")[0] + "." + "A" * 43,
    lambda c, o: c.split(".")[0] + "." + c.split(".")[1][:-1] + "B",  # non-canonical base64 end
    lambda c, o: "+/" + c[2:].replace("-", "+").replace("_", "/"),  # standard base64 alphabet
    lambda c, o: c.split(".")[0] + ".\x00" + c.split(".")[1][1:],
    lambda c, o: c.split(".")[0] + "." + "é" * 43,
    lambda c, o: "\ud800" * 87,
    lambda c, o: "*" * 87,
    lambda c, o: "../" * 29,
    lambda c, o: "x" * 100_000,
    lambda c, o: c.split(".")[0] + ".%00" + c.split(".")[1][3:],
    lambda c, o: "v2." + c,
    lambda c, o: "' OR 1=1 --",
]


@pytest.mark.parametrize("hostile", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_hostile_cookie_values_find_nothing_and_harm_nothing(
    store: AnyStore, hostile: Callable[[str, str], str]
) -> None:
    cookie, record = store.create(ANALYST, realistic_tokens())
    other, _ = store.create(VIEWER, realistic_tokens())
    value = hostile(cookie, other)
    assert value not in (cookie, other)

    assert store.load(value) is None
    assert store.save_tokens(value, realistic_tokens()) is None
    assert store.delete(value) is None

    assert store.load(cookie) == record  # the real session is untouched
    assert store.load(other) is not None


def test_non_string_cookie_is_refused(store: AnyStore) -> None:
    for value in (None, b"abc.def", 42):
        assert store.load(value) is None  # type: ignore[arg-type]


def test_store_holds_no_token_email_name_or_secret(make_store: StoreFactory) -> None:
    store = make_store()
    secrets_seen: list[bytes] = []
    for user in (ANALYST, VIEWER, ANALYST):
        tokens = realistic_tokens()
        cookie, _ = store.create(user, tokens)
        secret_text = cookie.split(".")[1]
        secrets_seen += [
            tokens.access_token.encode(),
            tokens.refresh_token.encode(),  # type: ignore[union-attr]
            cookie.encode(),
            secret_text.encode(),
            base64.urlsafe_b64decode(secret_text + "="),
        ]
    # A used sign-in is remembered by a hash of its state, never the state itself.
    assert store.mark_login_used("state-" + "s" * 30, 60_000)
    secrets_seen += [b"s" * 30]

    dump = make_store.dump()
    assert len(dump) > 500  # the scan really saw the sessions
    for needle in secrets_seen + [
        b"analyst@example.com",
        b"viewer@example.com",
        b"Analyst Example",
        b"Viewer Example",
        KEY_A,
    ]:
        assert needle not in dump, needle


def test_redis_memory_per_session_is_small(
    redis_client: redis.Redis, redis_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = RedisSessionStore(
        redis_client, TokenCipher([KEY_A]), prefix=redis_prefix, idle_timeout=3600, max_age=86400
    )
    cookie, record = store.create(ANALYST, realistic_tokens())
    usage = redis_client.memory_usage(f"{redis_prefix}s:{record.session_id}")
    value_bytes = len(redis_client.get(f"{redis_prefix}s:{record.session_id}") or b"")
    with capsys.disabled():
        print(f"\nsession key: MEMORY USAGE {usage} bytes, value {value_bytes} bytes")
    assert usage is not None and usage < 2048
    assert store.load(cookie) == record


def test_load_is_one_round_trip(
    redis_client: redis.Redis, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisSessionStore(
        redis_client, TokenCipher([KEY_A]), prefix=redis_prefix, idle_timeout=3600, max_age=86400
    )
    cookie, record = store.create(ANALYST, realistic_tokens())
    store.load(cookie)  # the script is loaded into Redis now
    commands: list[tuple[Any, ...]] = []
    original: Callable[..., Any] = redis_client.execute_command

    def counting(*args: Any, **options: Any) -> Any:
        commands.append(args)
        return original(*args, **options)

    monkeypatch.setattr(redis_client, "execute_command", counting)
    assert store.load(cookie) == record
    assert [c[0] for c in commands] == ["EVALSHA"]


def test_wrong_secret_does_not_slide_into_a_delete(store: AnyStore) -> None:
    cookie, record = store.create(ANALYST, realistic_tokens())
    forged = (
        cookie.split(".")[0]
        + "."
        + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    )
    assert store.load(forged) is None
    assert store.delete(forged) is None
    assert store.load(cookie) == record


def test_save_tokens_rewrites_and_counts_versions(store: AnyStore) -> None:
    cookie, record = store.create(ANALYST, realistic_tokens())
    fresh = realistic_tokens()
    saved = store.save_tokens(cookie, fresh)
    assert saved is not None
    assert saved.version == 2
    assert saved.tokens == fresh
    assert saved.created_at == record.created_at
    assert saved.user == ANALYST
    assert store.load(cookie) == saved
    again = store.save_tokens(cookie, realistic_tokens())
    assert again is not None and again.version == 3


def test_delete_returns_the_record_and_never_resurrects(store: AnyStore) -> None:
    cookie, record = store.create(ANALYST, realistic_tokens())
    assert store.delete(cookie) == record
    assert store.delete(cookie) is None
    assert store.save_tokens(cookie, realistic_tokens()) is None
    assert store.load(cookie) is None
    assert store.user_session_ids(ANALYST.id) == []


def test_redis_save_keeps_expiry_and_does_not_resurrect(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    store = RedisSessionStore(
        redis_client, TokenCipher([KEY_A]), prefix=redis_prefix, idle_timeout=600, max_age=86400
    )
    cookie, record = store.create(ANALYST, realistic_tokens())
    key = f"{redis_prefix}s:{record.session_id}"
    assert 0 < redis_client.pttl(key) <= 600_000
    assert store.save_tokens(cookie, realistic_tokens()) is not None
    assert 0 < redis_client.pttl(key) <= 600_000
    store.delete_by_id(record.session_id)
    assert store.save_tokens(cookie, realistic_tokens()) is None
    assert redis_client.exists(key) == 0


# --- rotation -------------------------------------------------------------------------------


def test_rotation_keeps_sessions_and_new_writes_use_the_new_key(make_store: StoreFactory) -> None:
    old = make_store((KEY_A,))
    cookie, record = old.create(ANALYST, realistic_tokens())

    without_a = make_store((KEY_B,))
    assert without_a.load(cookie) is None  # a ring that lost A cannot open it

    rotated = make_store((KEY_B, KEY_A))
    fresh = realistic_tokens()
    saved = rotated.save_tokens(cookie, fresh)
    assert saved is not None and saved.tokens == fresh

    assert make_store((KEY_B,)).load(cookie) == saved  # written under B
    assert make_store((KEY_A,)).load(cookie) is None  # ... and no longer under A


def test_load_reseals_sessions_still_under_an_old_key(make_store: StoreFactory) -> None:
    cookie, record = make_store((KEY_A,)).create(VIEWER, realistic_tokens())
    assert make_store((KEY_B, KEY_A)).load(cookie) == record
    assert make_store((KEY_B,)).load(cookie) == record  # re-sealed under B by that load


def _version_1_value(record: Any, secret: bytes) -> bytes:
    """A value as stores wrote them before the escrow: ``{created_ms}:`` + sealed 7 fields."""
    header = b"%d:" % round(record.created_at * 1000)
    body = json.dumps(
        [
            record.user.id,
            record.user.display_name,
            record.user.email,
            record.tokens.access_token,
            record.tokens.refresh_token,
            record.tokens.expires_at,
            record.version,
        ]
    ).encode()
    aad = b"oauth_bridge/session/1|" + record.session_id.encode() + b"|" + header
    return header + TokenCipher((KEY_A,)).seal(body, secret, aad)


def test_sessions_written_before_the_escrow_still_open_and_gain_one(
    make_store: StoreFactory,
) -> None:
    ended = Ended()
    store = make_store(on_ended=ended)
    cookie, record = store.create(ANALYST, realistic_tokens())
    secret = base64.urlsafe_b64decode(cookie.split(".")[1] + "=")
    make_store.restore_value(record.session_id, _version_1_value(record, secret))
    assert value_user_tag(_version_1_value(record, secret)) is None
    assert store.load(cookie) == record  # read, then re-sealed as version 2
    upgraded = make_store.raw_value(record.session_id)
    assert upgraded is not None and value_user_tag(upgraded) == user_tag(ANALYST.id)
    assert store.delete_user_sessions(ANALYST.id) == 1
    assert ended.access_tokens() == {record.tokens.access_token}


def _two_layer_value(session_id: str, value: bytes, secret: bytes) -> bytes:
    """The same session as stores wrote it before issue 12: its blob in the two-layer format
    (AES-GCM under the session secret around a Fernet token under the ring)."""
    parts = _split(value)
    assert parts is not None and parts.escrow is not None
    aad = _session_aad(session_id, parts)
    body = TokenCipher((KEY_A,)).open(parts.blob, secret, aad)
    inner = base64.urlsafe_b64decode(Fernet(KEY_A).encrypt(body))
    nonce = secrets.token_bytes(12)
    blob = b"\x01" + nonce + AESGCM(secret).encrypt(nonce, inner, aad)
    return parts.header + parts.escrow.encode("ascii") + b":" + blob


def test_sessions_sealed_in_two_layers_still_open_and_are_resealed_once(
    make_store: StoreFactory,
) -> None:
    """An upgrade signs nobody out: the first load of an old session re-seals it in one AEAD."""
    store = make_store()
    cookie, record = store.create(ANALYST, realistic_tokens())
    secret = base64.urlsafe_b64decode(cookie.split(".")[1] + "=")
    current = make_store.raw_value(record.session_id)
    assert current is not None
    old = _two_layer_value(record.session_id, current, secret)
    make_store.restore_value(record.session_id, old)
    assert store.load(cookie) == record
    upgraded = make_store.raw_value(record.session_id)
    assert upgraded is not None and upgraded != old
    parts = _split(upgraded)
    assert parts is not None and parts.blob[:1] == b"\x02"
    assert store.load(cookie) == record
    assert make_store.raw_value(record.session_id) == upgraded  # nothing more to re-seal


# --- expiry ---------------------------------------------------------------------------------


def test_idle_timeout_slides_with_each_load(make_store: StoreFactory) -> None:
    store = make_store(idle=2, max_age=3600)
    cookie, record = store.create(ANALYST, realistic_tokens())
    make_store.advance(1.2)
    assert store.load(cookie) == record
    make_store.advance(1.2)  # 2.4 s after creation, 1.2 s after the last use
    assert store.load(cookie) == record
    make_store.advance(2.6)
    assert store.load(cookie) is None
    assert store.user_session_ids(ANALYST.id) == []


def test_absolute_lifetime_ends_even_an_active_session(make_store: StoreFactory) -> None:
    store = make_store(idle=100, max_age=100)  # the memory store's idle clock moves too
    cookie, record = store.create(ANALYST, realistic_tokens())
    make_store.clock.offset = 95
    assert store.load(cookie) == record
    make_store.clock.offset = 101
    assert store.load(cookie) is None
    make_store.clock.offset = 0
    assert store.load(cookie) is None  # deleted, not merely refused
    assert store.delete(cookie) is None


def test_redis_idle_expiry_never_extends_past_the_absolute_lifetime(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    clock = Clock()
    store = RedisSessionStore(
        redis_client,
        TokenCipher([KEY_A]),
        prefix=redis_prefix,
        idle_timeout=60,
        max_age=100,
        clock=clock,
    )
    cookie, record = store.create(ANALYST, realistic_tokens())
    clock.offset = 95
    assert store.load(cookie) == record
    assert 0 < redis_client.pttl(f"{redis_prefix}s:{record.session_id}") <= 5_000


# --- per-user index -------------------------------------------------------------------------


def test_user_index_lists_prunes_and_ends_all(store: AnyStore) -> None:
    c1, r1 = store.create(ANALYST, realistic_tokens())
    c2, r2 = store.create(ANALYST, realistic_tokens())
    c3, r3 = store.create(ANALYST, realistic_tokens())
    v1, _ = store.create(VIEWER, realistic_tokens())
    assert set(store.user_session_ids(ANALYST.id)) == {r1.session_id, r2.session_id, r3.session_id}

    store.delete(c1)
    store.delete_by_id(r2.session_id)
    assert store.user_session_ids(ANALYST.id) == [r3.session_id]

    c4, r4 = store.create(ANALYST, realistic_tokens())
    assert store.delete_user_sessions(ANALYST.id) == 2
    assert store.load(c3) is None and store.load(c4) is None
    assert store.user_session_ids(ANALYST.id) == []
    assert store.delete_user_sessions(ANALYST.id) == 0
    assert store.load(v1) is not None  # another user's session is untouched


# --- ending sessions without their cookie (issue 11 items 6 and 7) ---------------------------


@dataclass
class Ended:
    """An ``on_ended`` that records the grants a store hands over."""

    grants: list[TokenSet] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, grants: Any) -> None:
        with self.lock:
            self.grants.extend(grants)

    def access_tokens(self) -> set[str]:
        return {grant.access_token for grant in self.grants}


def test_logout_everywhere_hands_over_every_sessions_tokens(make_store: StoreFactory) -> None:
    ended = Ended()
    store = make_store(on_ended=ended)
    tokens = [realistic_tokens() for _ in range(3)]
    cookies = [store.create(ANALYST, t)[0] for t in tokens]
    viewer, _ = store.create(VIEWER, realistic_tokens())
    refreshed = realistic_tokens()
    store.save_tokens(cookies[0], refreshed)  # the escrow follows each token write

    assert store.delete_user_sessions(ANALYST.id) == 3
    assert ended.access_tokens() == {refreshed.access_token, *(t.access_token for t in tokens[1:])}
    by_access = {grant.access_token: grant for grant in ended.grants}
    assert by_access[refreshed.access_token].refresh_token == refreshed.refresh_token
    assert all(store.load(cookie) is None for cookie in cookies)
    assert store.load(viewer) is not None


def test_a_restored_copy_or_a_missed_index_entry_cannot_outlive_logout_everywhere(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    indexed, indexed_record = store.create(ANALYST, realistic_tokens())
    missed, _ = store.create(ANALYST, realistic_tokens())
    other_user, _ = store.create(VIEWER, realistic_tokens())
    backup = make_store.raw_value(indexed_record.session_id)
    assert backup is not None
    make_store.drop_index(ANALYST.id)  # the index lost both entries
    again, _ = store.create(ANALYST, realistic_tokens())  # indexes only this one

    assert store.delete_user_sessions(ANALYST.id) == 1
    make_store.restore_value(indexed_record.session_id, backup)
    assert store.load(indexed) is None  # restored, but created before the mark
    assert make_store.raw_value(indexed_record.session_id) is None  # and deleted on sight
    assert store.load(missed) is None  # never in the index any more, still ended
    assert store.load(again) is None
    assert store.load(other_user) is not None  # marks are per user

    make_store.advance(0.01)
    after, after_record = store.create(ANALYST, realistic_tokens())
    assert store.load(after) == after_record  # a sign-in after the mark works


def test_sessions_per_user_are_capped_and_the_oldest_ends_first(make_store: StoreFactory) -> None:
    ended = Ended()
    store = make_store(max_sessions=3, on_ended=ended)
    created = []
    for _ in range(5):
        tokens = realistic_tokens()
        created.append((store.create(ANALYST, tokens)[0], tokens))
        make_store.advance(0.01)
    viewer, _ = store.create(VIEWER, realistic_tokens())

    assert [store.load(cookie) is not None for cookie, _ in created] == [False] * 2 + [True] * 3
    assert ended.access_tokens() == {tokens.access_token for _, tokens in created[:2]}
    assert len(store.user_session_ids(ANALYST.id)) == 3
    assert store.load(viewer) is not None


def test_the_cap_counts_only_live_sessions(make_store: StoreFactory) -> None:
    ended = Ended()
    store = make_store(max_sessions=2, on_ended=ended)
    first, _ = store.create(ANALYST, realistic_tokens())
    second, record = store.create(ANALYST, realistic_tokens())
    store.delete_by_id(record.session_id)  # gone, its index entry not yet pruned
    third, _ = store.create(ANALYST, realistic_tokens())
    assert store.load(first) is not None and store.load(third) is not None
    assert ended.grants == []


def test_the_cap_holds_under_parallel_sign_ins(make_store: StoreFactory) -> None:
    ended = Ended()
    stores = [make_store(max_sessions=3, on_ended=ended) for _ in range(4)]
    barrier = threading.Barrier(12)
    cookies: list[str] = []

    def sign_in(index: int) -> None:
        barrier.wait()
        cookie, _ = stores[index % 4].create(ANALYST, realistic_tokens())
        with ended.lock:
            cookies.append(cookie)

    threads = [threading.Thread(target=sign_in, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    live = [cookie for cookie in cookies if stores[0].load(cookie) is not None]
    assert len(live) == 3
    assert len(ended.grants) == 9
    assert len(stores[0].user_session_ids(ANALYST.id)) == 3


# --- refresh lock ---------------------------------------------------------------------------


def test_refresh_lock_excludes_a_second_holder(make_store: StoreFactory) -> None:
    first = make_store()
    second = make_store()  # another process's store on the same Redis (or the same memory)
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with first.refresh_lock("session-1", timeout=5) as acquired:
            assert acquired
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        with second.refresh_lock("session-1", timeout=0.3) as acquired:
            assert acquired is False
        with second.refresh_lock("session-2", timeout=0.3) as acquired:
            assert acquired is True  # other sessions are not blocked
    finally:
        release.set()
        holder.join(10)
    with second.refresh_lock("session-1", timeout=5) as acquired:
        assert acquired is True


def test_refresh_lock_waiter_gets_it_when_released(make_store: StoreFactory) -> None:
    first, second = make_store(), make_store()
    order: list[str] = []
    holding = threading.Event()

    def hold() -> None:
        with first.refresh_lock("s", timeout=5) as acquired:
            assert acquired
            holding.set()
            time.sleep(0.3)
            order.append("first done")

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    with second.refresh_lock("s", timeout=10) as acquired:
        order.append("second in")
        assert acquired
    holder.join(10)
    assert order == ["first done", "second in"]


# --- used sign-ins (the pending logins themselves live in the login cookie) ----------------


def test_a_sign_in_is_marked_used_once(store: AnyStore) -> None:
    assert store.login_used("state-123") is False
    assert store.mark_login_used("state-123", 60_000) is True
    assert store.mark_login_used("state-123", 60_000) is False  # the replay loses
    assert store.login_used("state-123") is True
    assert store.login_used("state-456") is False


@pytest.mark.parametrize("state", ["", "s" * 5000])
def test_junk_states_count_as_used(store: AnyStore, state: str) -> None:
    assert store.login_used(state) is True
    assert store.mark_login_used(state, 60_000) is False


def test_used_mark_expires_with_the_pending_login(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.mark_login_used("state-123", 1000)
    make_store.advance(1.5)
    assert store.login_used("state-123") is False


# --- outages and construction ---------------------------------------------------------------


def _settings(**overrides: Any) -> Any:
    return load_settings(
        {},
        looker_url="http://127.0.0.1:9",
        client_id="bridge",
        redirect_uri="http://localhost:9/auth/callback",
        secret_key="s" * 32,
        token_keys=(KEY_A,),
        **overrides,
    )


def test_redis_outage_is_503_and_the_same_store_recovers(private_redis: RedisServer) -> None:
    store = build_store(_settings(redis_url=private_redis.url, redis_socket_timeout=1.0))
    assert isinstance(store, RedisSessionStore)
    try:
        cookie, record = store.create(ANALYST, realistic_tokens())
        assert store.load(cookie) == record
        store.mark_login_used("state-123", 60_000)

        private_redis.stop()
        calls: list[Callable[[], object]] = [
            store.ping,
            lambda: store.load(cookie),
            lambda: store.create(ANALYST, realistic_tokens()),
            lambda: store.save_tokens(cookie, realistic_tokens()),
            lambda: store.delete(cookie),
            lambda: store.delete_by_id(record.session_id),
            lambda: store.user_session_ids(ANALYST.id),
            lambda: store.delete_user_sessions(ANALYST.id),
            store.probe_write,
            lambda: store.mark_login_used("s2", 60_000),
            lambda: store.login_used("state-123"),
            lambda: store.refresh_lock(record.session_id, 1).__enter__(),
        ]
        for call in calls:
            with pytest.raises(StoreUnavailable) as caught:
                call()
            assert caught.value.status == 503
            assert caught.value.headers["Retry-After"].isdigit()

        private_redis.start()  # same port, empty data (no persistence)
        store.ping()
        assert store.load(cookie) is None
        cookie2, record2 = store.create(VIEWER, realistic_tokens())
        assert store.load(cookie2) == record2
        assert store.user_session_ids(VIEWER.id) == [record2.session_id]
    finally:
        store.close()


def test_build_store_without_redis_warns_and_works(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="oauth_bridge.sessions"):
        store = build_store(_settings())
    assert isinstance(store, MemorySessionStore)
    assert any("demo only" in r.getMessage() for r in caplog.records)
    cookie, record = store.create(ANALYST, realistic_tokens())
    assert store.load(cookie) == record
    store.close()


def test_build_store_with_redis_uses_the_prefix(redis_url: str, redis_prefix: str) -> None:
    store = build_store(_settings(redis_url=redis_url, redis_key_prefix=redis_prefix))
    try:
        assert isinstance(store, RedisSessionStore)
        store.ping()
        _, record = store.create(ANALYST, realistic_tokens())
        client = redis.Redis.from_url(redis_url)
        assert client.exists(f"{redis_prefix}s:{record.session_id}") == 1
        assert client.exists(f"{redis_prefix}u:{ANALYST.id}") == 1
        client.close()
    finally:
        store.close()


def test_redis_store_refuses_a_decoding_client(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    with pytest.raises(ValueError):
        RedisSessionStore(client, TokenCipher([KEY_A]), prefix="x:", idle_timeout=1, max_age=2)
    client.close()


def test_session_store_setting_chooses_the_store(redis_url: str) -> None:
    store = build_store(_settings(redis_url=redis_url, session_store="memory"))
    assert isinstance(store, MemorySessionStore)
    store.close()
    with pytest.raises(ConfigError, match="^OAUTH_BRIDGE_SESSION_STORE=redis requires") as caught:
        _settings(session_store="redis")
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="^OAUTH_BRIDGE_SESSION_STORE must be redis or memory"):
        _settings(session_store="disk")


def test_stores_count_their_live_sessions(make_store: StoreFactory) -> None:
    store = make_store(idle=1, max_age=3600)
    assert store.count_sessions() == (0, False)
    store.create(ANALYST, realistic_tokens())
    cookie, _ = store.create(VIEWER, realistic_tokens())
    assert store.count_sessions() == (2, False)
    store.delete(cookie)
    assert store.count_sessions() == (1, False)
    make_store.advance(1.5)  # idle expiry ends the other one
    assert store.count_sessions() == (0, False)


# --- a full Redis (maxmemory with noeviction) -----------------------------------------------


def _contents(client: redis.Redis, prefix: str) -> dict[bytes, object]:
    """Every key under ``prefix`` with its value (strings) or members and scores (zsets)."""
    found: dict[bytes, object] = {}
    for key in client.scan_iter(match=prefix + "*"):
        assert isinstance(key, bytes)
        if client.type(key) == b"zset":
            found[key] = client.zrange(key, 0, -1, withscores=True)
        else:
            found[key] = client.get(key)
    return found


def test_a_full_redis_keeps_signed_in_users_and_refuses_what_would_grow(
    private_redis: RedisServer,
) -> None:
    """Under noeviction at maxmemory: loads (even one whose re-seal is refused) and ending
    sessions work; a new session, a token write and a refresh lock are 503 and write nothing."""
    client = redis.Redis.from_url(private_redis.url)
    ended = Ended()

    def make(keys: tuple[bytes, ...]) -> RedisSessionStore:
        return RedisSessionStore(
            client, TokenCipher(keys), prefix="t:", idle_timeout=3600, max_age=86400, on_ended=ended
        )

    old_ring, rotated = make((KEY_A,)), make((KEY_B, KEY_A))
    cookie, record = old_ring.create(ANALYST, realistic_tokens())
    viewer, _ = old_ring.create(VIEWER, realistic_tokens())
    before = _contents(client, "t:")
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", 1)  # far below what is used: Redis is full
    try:
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            client.set("t:probe", b"x")  # really full
        assert rotated.load(cookie) == record  # its re-seal under KEY_B is refused, skipped
        refused: list[Callable[[], object]] = [
            lambda: rotated.create(ANALYST, realistic_tokens()),
            lambda: rotated.create(UserInfo("9", "New", "new@example.com"), record.tokens),
            lambda: rotated.save_tokens(cookie, realistic_tokens()),
            lambda: rotated.refresh_lock(record.session_id, 1).__enter__(),
        ]
        for call in refused:
            with pytest.raises(StoreUnavailable) as caught:
                call()
            assert caught.value.status == 503
        assert _contents(client, "t:") == before  # nothing half-written
        assert rotated.delete_user_sessions(VIEWER.id) == 1  # ending frees memory: allowed
        assert rotated.load(viewer) is None
        assert len(ended.grants) == 1
    finally:
        client.config_set("maxmemory", 0)
    assert rotated.load(cookie) == record
    assert client.get(f"t:s:{record.session_id}") != before[f"t:s:{record.session_id}".encode()]
    client.close()

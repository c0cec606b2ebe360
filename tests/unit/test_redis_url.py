"""What ``OAUTH_BRIDGE_REDIS_URL`` means, checked without a server: URL forms, prefixes."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet

from oauth_bridge.config import Settings, load_settings
from oauth_bridge.errors import ConfigError
from oauth_bridge.factory import create_app
from oauth_bridge.redis_url import (
    RedisTarget,
    cluster_key_prefix,
    effective_key_prefix,
    glob_escape,
    parse_redis_url,
    storage_options,
    storage_uri,
)


def settings_for(url: str, prefix: str) -> Settings:
    values: dict[str, Any] = {
        "looker_url": "http://127.0.0.1:9",
        "client_id": "redis-url-tests",
        "redirect_uri": "http://localhost:9/auth/callback",
        "secret_key": "test-secret-key-0123456789",
        "token_keys": (Fernet.generate_key(),),
        "redis_url": url,
        "redis_key_prefix": prefix,
    }
    return load_settings({}, **values)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", RedisTarget("single", url="redis://127.0.0.1:6379/0")),
        ("unix:///run/redis.sock", RedisTarget("single", url="unix:///run/redis.sock")),
        (
            "redis+sentinel://:s%40cret@10.0.0.1:26379,10.0.0.2:26380/main/3",
            RedisTarget(
                "sentinel",
                nodes=(("10.0.0.1", 26379), ("10.0.0.2", 26380)),
                service="main",
                db=3,
                password="s@cret",
            ),
        ),
        (
            "redis+sentinel://[::1]:26379/main",
            RedisTarget("sentinel", nodes=(("::1", 26379),), service="main"),
        ),
        (
            "redis+cluster://app:pw@n1:7000,n2:7001",
            RedisTarget(
                "cluster", nodes=(("n1", 7000), ("n2", 7001)), username="app", password="pw"
            ),
        ),
    ],
)
def test_redis_url_forms_are_parsed(url: str, expected: RedisTarget) -> None:
    assert parse_redis_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379",
        "127.0.0.1:6379",
        "redis+sentinel://127.0.0.1:26379",  # no service
        "redis+sentinel://127.0.0.1:26379/",  # no service
        "redis+sentinel://127.0.0.1/main",  # no port
        "redis+sentinel://127.0.0.1:26379/main/db1",
        "redis+sentinel://127.0.0.1:26379/main/1/2",
        "redis+sentinel://127.0.0.1:26379,/main",
        "redis+sentinel://127.0.0.1:99999/main",
        "redis+cluster://127.0.0.1:7000/1",  # clusters have db 0 only
        "redis+cluster://127.0.0.1:7000?ssl=true",
        "redis+cluster://",
        "rediss+cluster://127.0.0.1:7000",
        "redis://127.0.0.1:6379/notanumber",
    ],
)
def test_bad_redis_urls_fail_at_start_naming_the_variable(url: str) -> None:
    with pytest.raises(ConfigError, match="^OAUTH_BRIDGE_REDIS_URL ") as caught:
        create_app(settings_for(url, "x:"))
    assert url not in str(caught.value)


def test_a_rejected_url_never_echoes_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_redis_url("redis+sentinel://:hunter2-secret@127.0.0.1:26379")
    assert "hunter2" not in str(caught.value)


def test_cluster_prefix_is_one_hash_tag_and_others_keep_theirs() -> None:
    assert cluster_key_prefix("oauth_bridge:") == "{oauth_bridge:}"
    assert cluster_key_prefix("{oauth_bridge:}") == "{oauth_bridge:}"
    assert cluster_key_prefix("{app}:bridge:") == "{app}:bridge:"
    assert cluster_key_prefix("") == "{oauth_bridge}"
    assert cluster_key_prefix("{}x:") == "{{}x:}"  # an empty tag is no tag
    single = settings_for("redis://127.0.0.1:6379/0", "oauth_bridge:")
    assert effective_key_prefix(single) == "oauth_bridge:"  # existing keys do not move
    sentinel_settings = settings_for("redis+sentinel://127.0.0.1:1/m", "oauth_bridge:")
    assert effective_key_prefix(sentinel_settings) == "oauth_bridge:"
    cluster_settings = settings_for("redis+cluster://127.0.0.1:1", "oauth_bridge:")
    assert effective_key_prefix(cluster_settings) == "{oauth_bridge:}"


def test_rate_limit_storage_uses_limits_spellings() -> None:
    assert storage_uri(None) == "memory://"
    assert storage_uri("unix:///run/r.sock") == "redis+unix:///run/r.sock"
    assert storage_uri("redis+sentinel://h:1,h:2/main/3") == "redis+sentinel://h:1,h:2/main"
    assert storage_uri("redis+sentinel://h:1/main") == "redis+sentinel://h:1/main"
    assert storage_uri("redis+cluster://h:1,h:2") == "redis+cluster://h:1,h:2"
    options = storage_options(settings_for("redis+sentinel://h:1/main/3", "p:"))
    assert options["db"] == 3 and options["use_replicas"] is False
    assert options["key_prefix"] == "p:rl"
    cluster_options = storage_options(settings_for("redis+cluster://h:1", "p:"))
    assert cluster_options["key_prefix"] == "{p:}rl"


def test_glob_characters_in_a_prefix_match_literally() -> None:
    assert glob_escape("a*b?c[d]e\\f{g}:") == "a\\*b\\?c\\[d\\]e\\\\f{g}:"

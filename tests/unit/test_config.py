"""Settings: every bad value stops the app at start with one line naming the variable."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from oauth_bridge.config import load_settings
from oauth_bridge.errors import ConfigError

KEY = Fernet.generate_key().decode()
GOOD = {
    "OAUTH_BRIDGE_LOOKER_URL": "https://example.looker.com",
    "OAUTH_BRIDGE_CLIENT_ID": "bridge-app",
    "OAUTH_BRIDGE_REDIRECT_URI": "https://bridge.example.com/auth/callback",
    "OAUTH_BRIDGE_SECRET_KEY": "s" * 32,
    "OAUTH_BRIDGE_TOKEN_KEYS": KEY,
}


def test_good_settings_and_defaults() -> None:
    settings = load_settings(GOOD)
    assert settings.looker_api_url == "https://example.looker.com"
    assert settings.cookie_name == "__Host-looker_session"
    assert settings.bridge_origin == "https://bridge.example.com"
    assert settings.redis_url is None
    assert settings.token_keys == (KEY.encode(),)


def test_prefixed_environment_values_are_read() -> None:
    env = GOOD | {
        "OAUTH_BRIDGE_LOOKER_API_URL": "https://example.looker.com:19999/",
        "OAUTH_BRIDGE_CORS_ORIGINS": "https://App.example.com, http://localhost:5173",
        "OAUTH_BRIDGE_COOKIE_SECURE": "false",
        "OAUTH_BRIDGE_SESSION_IDLE_TIMEOUT": "60",
        "OAUTH_BRIDGE_TOKEN_KEYS": f"{Fernet.generate_key().decode()},{KEY}",
    }
    settings = load_settings(env)
    assert settings.looker_api_url == "https://example.looker.com:19999"
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:5173")
    assert settings.cookie_name == "looker_session"
    assert settings.session_idle_timeout == 60
    assert len(settings.token_keys) == 2


def test_a_trailing_slash_on_a_cors_origin_is_normalised_away() -> None:
    """Browsers send ``Origin`` without a slash; a kept slash would never match (issue 14)."""
    settings = load_settings(GOOD | {"OAUTH_BRIDGE_CORS_ORIGINS": "https://app.example.com/"})
    assert settings.cors_origins == ("https://app.example.com",)


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("OAUTH_BRIDGE_LOOKER_URL", None, "OAUTH_BRIDGE_LOOKER_URL"),
        ("OAUTH_BRIDGE_LOOKER_URL", "example.looker.com", "OAUTH_BRIDGE_LOOKER_URL"),
        ("OAUTH_BRIDGE_LOOKER_URL", "ftp://example.com", "OAUTH_BRIDGE_LOOKER_URL"),
        ("OAUTH_BRIDGE_LOOKER_URL", "https://user:pw@example.com", "OAUTH_BRIDGE_LOOKER_URL"),
        ("OAUTH_BRIDGE_CLIENT_ID", None, "OAUTH_BRIDGE_CLIENT_ID"),
        ("OAUTH_BRIDGE_REDIRECT_URI", "https://bridge.example.com/", "OAUTH_BRIDGE_REDIRECT_URI"),
        ("OAUTH_BRIDGE_SECRET_KEY", "short", "OAUTH_BRIDGE_SECRET_KEY"),
        ("OAUTH_BRIDGE_TOKEN_KEYS", None, "OAUTH_BRIDGE_TOKEN_KEYS"),
        ("OAUTH_BRIDGE_TOKEN_KEYS", "not-a-key", "OAUTH_BRIDGE_TOKEN_KEYS"),
        ("OAUTH_BRIDGE_TOKEN_KEYS", " , ", "OAUTH_BRIDGE_TOKEN_KEYS"),
        ("OAUTH_BRIDGE_CORS_ORIGINS", "*", "OAUTH_BRIDGE_CORS_ORIGINS"),
        ("OAUTH_BRIDGE_LOG_LEVEL", "LOUD", "OAUTH_BRIDGE_LOG_LEVEL"),
        ("OAUTH_BRIDGE_RATE_LIMIT_LOGIN", "lots", "OAUTH_BRIDGE_RATE_LIMIT_LOGIN"),
        ("OAUTH_BRIDGE_CORS_ORIGINS", "https://app.example.com/path", "OAUTH_BRIDGE_CORS_ORIGINS"),
        ("OAUTH_BRIDGE_COOKIE_SECURE", "maybe", "OAUTH_BRIDGE_COOKIE_SECURE"),
        ("OAUTH_BRIDGE_COOKIE_SAMESITE", "sideways", "OAUTH_BRIDGE_COOKIE_SAMESITE"),
        ("OAUTH_BRIDGE_SESSION_MAX_AGE", "-5", "OAUTH_BRIDGE_SESSION_MAX_AGE"),
        ("OAUTH_BRIDGE_SESSION_IDLE_TIMEOUT", "9999999999", "OAUTH_BRIDGE_SESSION_IDLE_TIMEOUT"),
        ("OAUTH_BRIDGE_PENDING_LOGIN_TTL", "3600", "OAUTH_BRIDGE_PENDING_LOGIN_TTL"),
        ("OAUTH_BRIDGE_MAX_SESSIONS_PER_USER", "0", "OAUTH_BRIDGE_MAX_SESSIONS_PER_USER"),
        ("OAUTH_BRIDGE_UPSTREAM_READ_TIMEOUT", "soon", "OAUTH_BRIDGE_UPSTREAM_READ_TIMEOUT"),
        ("OAUTH_BRIDGE_SESSION_STORE", "redis", "OAUTH_BRIDGE_SESSION_STORE"),  # no REDIS_URL
        ("OAUTH_BRIDGE_SESSION_STORE", "disk", "OAUTH_BRIDGE_SESSION_STORE"),
        ("OAUTH_BRIDGE_REDIS_EVICTION_CHECK", "ignore", "OAUTH_BRIDGE_REDIS_EVICTION_CHECK"),
    ],
)
def test_bad_settings_name_the_variable(name: str, value: str | None, named: str) -> None:
    env = dict(GOOD)
    if value is None:
        env.pop(name)
    else:
        env[name] = value
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert named in message
    assert "\n" not in message


def test_samesite_none_requires_secure_cookies() -> None:
    env = GOOD | {"OAUTH_BRIDGE_COOKIE_SAMESITE": "none", "OAUTH_BRIDGE_COOKIE_SECURE": "false"}
    with pytest.raises(ConfigError, match="COOKIE_SAMESITE"):
        load_settings(env)
    settings = load_settings(GOOD | {"OAUTH_BRIDGE_COOKIE_SAMESITE": "none"})
    assert settings.cookie_samesite == "None"


def test_session_store_defaults_to_redis_exactly_when_redis_url_is_set() -> None:
    assert load_settings(GOOD).session_store == "memory"
    with_redis = GOOD | {"OAUTH_BRIDGE_REDIS_URL": "redis://127.0.0.1:6379/0"}
    assert load_settings(with_redis).session_store == "redis"
    chosen = with_redis | {"OAUTH_BRIDGE_SESSION_STORE": "Memory"}
    assert load_settings(chosen).session_store == "memory"

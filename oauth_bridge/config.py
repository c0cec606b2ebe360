"""The bridge's settings: one typed, immutable object, read once at start.

Use :func:`load_settings` to read them from ``OAUTH_BRIDGE_*`` environment variables (Flask's
``from_prefixed_env`` naming). A bad or missing setting raises :class:`ConfigError` whose message
is one line naming the variable, so a misconfigured deployment fails at start, not on first use.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from oauth_bridge.errors import ConfigError

ENV_PREFIX = "OAUTH_BRIDGE_"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """Everything the bridge needs to run; see the README's configuration table."""

    looker_url: str
    """Looker's UI host (serves ``/auth``), e.g. ``https://example.looker.com``."""
    client_id: str
    """The OAuth client app's ``client_guid`` registered in Looker."""
    redirect_uri: str
    """The bridge's ``/auth/callback`` URL exactly as registered in Looker."""
    secret_key: str
    """Keys the login cookie (HKDF, purpose-bound): sign-ins under way are sealed with it."""
    token_keys: tuple[bytes, ...]
    """Fernet keys: the first encrypts, all decrypt (rotation)."""
    looker_api_url: str = ""
    """Looker's API host (serves ``/api/token`` and ``/api/4.0``); defaults to ``looker_url``."""
    redis_url: str | None = None
    """Unset means the in-memory store, for the demo only."""
    session_store: str = ""
    """``redis`` or ``memory`` (demo only); unset means redis when ``redis_url`` is set."""
    redis_key_prefix: str = "oauth_bridge:"
    redis_socket_timeout: float = 2.0
    redis_max_connections: int = 64
    """Redis connections per worker process; requests beyond wait up to the socket timeout."""
    redis_eviction_check: str = "refuse"
    """``refuse`` to start, or ``warn``, when Redis's maxmemory-policy may evict bridge keys."""
    cors_origins: tuple[str, ...] = ()
    app_url: str | None = None
    """Where a person lands who reaches the bridge with no destination: its root, the links of
    its error pages, a sign-in without ``return_to``. The demo sets it to its SPA."""
    cookie_secure: bool = True
    cookie_samesite: str = "Lax"
    """``Lax`` (default) or ``None`` (then also ``Partitioned``, for iframes)."""
    session_idle_timeout: int = 8 * 3600
    session_max_age: int = 7 * 24 * 3600
    pending_login_ttl: int = 600
    max_pending_logins: int = 5
    """Pending logins one browser may hold at once; a new one drops the oldest."""
    max_sessions_per_user: int = 20
    """Live sessions one user may hold; a new sign-in beyond it ends the oldest (revoked)."""
    refresh_margin: int = 30
    """Refresh an access token this many seconds before it expires (at most half its lifetime)."""
    refresh_lock_timeout: float = 15.0
    max_body_bytes: int = 1024 * 1024
    """Largest request body the proxy forwards; Looker API 4.0 bodies are JSON or text."""
    body_read_timeout: float = 30.0
    """Seconds a request body may take to arrive once the bridge starts reading it (408 beyond)."""
    max_body_uploads: int = 64
    """Request bodies one worker process reads at once (503 with Retry-After beyond)."""
    upstream_connect_timeout: float = 5.0
    upstream_read_timeout: float = 120.0
    upstream_pool_size: int = 32
    token_mediation: bool = False
    """Enables ``GET /auth/token`` (hands the SPA a short-lived access token)."""
    proxy_fix_hops: int = 0
    """How many trusted proxies set ``X-Forwarded-*`` in front of the bridge (0: trust none)."""
    trusted_hosts: tuple[str, ...] = ()
    """Host names browsers may use for the bridge (``.example.com``: any subdomain); empty: any."""
    metrics_networks: tuple[Network, ...] = ()
    """Client networks that may read ``/metrics``; empty: nobody (it answers 404)."""
    rate_limit_login: str = "30 per minute"
    rate_limit_enabled: bool = True
    log_level: str = "INFO"
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.looker_api_url:
            object.__setattr__(self, "looker_api_url", self.looker_url)
        if not self.session_store:
            default = "memory" if self.redis_url is None else "redis"
            object.__setattr__(self, "session_store", default)

    @property
    def cookie_name(self) -> str:
        """``__Host-`` cookies need Secure; plain-http development drops the prefix."""
        return "__Host-looker_session" if self.cookie_secure else "looker_session"

    @property
    def login_cookie_name(self) -> str:
        """The short-lived cookie that binds a pending login to the browser that started it."""
        return "__Host-looker_login" if self.cookie_secure else "looker_login"

    @property
    def bridge_origin(self) -> str:
        """The bridge's own origin, taken from the registered redirect URI."""
        return origin_of(self.redirect_uri)

    @property
    def home_url(self) -> str | None:
        """``APP_URL`` unless it is the bridge's own root (which would send people in circles)."""
        if not self.app_url or self.app_url.rstrip("/") == self.bridge_origin:
            return None
        return self.app_url


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an absolute URL, lower-cased as browsers serialise origins."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _absolute_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{ENV_PREFIX}{name} must be an absolute http(s) URL, got {value!r}")
    if parts.username or parts.password:
        raise ConfigError(f"{ENV_PREFIX}{name} must not contain credentials")
    return value.rstrip("/")


def _origin(name: str, value: str) -> str:
    url = _absolute_url(name, value)
    parts = urlsplit(url)
    if parts.path or parts.query or parts.fragment:
        raise ConfigError(
            f"{ENV_PREFIX}{name} entries must be bare origins like https://app.example.com, "
            f"got {value!r}"
        )
    return origin_of(url)


def parse_origins(value: str, name: str = "CORS_ORIGINS") -> tuple[str, ...]:
    """Comma-separated exact origins (``https://app.example.com``); a path or slash is refused."""
    return tuple(_origin(name, o.strip()) for o in value.split(",") if o.strip())


def parse_networks(value: str, name: str = "METRICS_NETWORKS") -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR networks (``10.0.0.0/8,::1``); an address is one host."""
    networks: list[Network] = []
    for raw in value.split(","):
        if not raw.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(raw.strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"{ENV_PREFIX}{name} entries must be IP addresses or networks like 10.0.0.0/8, "
                f"got {raw.strip()!r}"
            ) from None
    return tuple(networks)


_HOST_NAME = re.compile(r"\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


def _host_names(name: str, value: str) -> tuple[str, ...]:
    """Host names as Werkzeug's ``host_is_trusted`` compares them (no port, no scheme)."""
    hosts: list[str] = []
    for raw in value.split(","):
        host = raw.strip().lower()
        if not host:
            continue
        if not _HOST_NAME.fullmatch(host):  # IPv6 literals too: host_is_trusted cannot match them
            raise ConfigError(
                f"{ENV_PREFIX}{name} entries must be host names like bridge.example.com or "
                f".example.com, or IPv4 addresses (no scheme, port or path), got {raw.strip()!r}"
            )
        hosts.append(host)
    return tuple(hosts)


def is_loopback_host(host: str | None) -> bool:
    """``localhost``, ``*.localhost`` or a loopback address: what browsers treat as secure."""
    if not host:
        return False
    host = host.lower().strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{ENV_PREFIX}{name} must be true or false, got {value!r}")


def _whole_number(name: str, value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        rule = "be positive" if minimum == 1 else f"be at least {minimum}"
        raise ConfigError(f"{ENV_PREFIX}{name} must {rule}, got {number}")
    return number


def _positive_int(name: str, value: str) -> int:
    return _whole_number(name, value, minimum=1)


def _non_negative_int(name: str, value: str) -> int:
    return _whole_number(name, value, minimum=0)


def _positive_float(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}{name} must be a number, got {value!r}") from None
    if not number > 0:
        raise ConfigError(f"{ENV_PREFIX}{name} must be positive, got {number}")
    return number


def parse_token_keys(value: str, name: str = "TOKEN_KEYS") -> tuple[bytes, ...]:
    """Split and check a comma-separated Fernet key ring (32 bytes each, url-safe base64)."""
    keys: list[bytes] = []
    for position, raw in enumerate(value.split(","), start=1):
        raw = raw.strip()
        if not raw:
            continue
        try:
            decoded = base64.urlsafe_b64decode(raw.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError):
            decoded = b""
        if len(decoded) != 32:
            raise ConfigError(
                f"{ENV_PREFIX}{name} key #{position} is not 32 bytes of url-safe base64 "
                "(make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            )
        keys.append(raw.encode("ascii"))
    if not keys:
        raise ConfigError(f"{ENV_PREFIX}{name} must list at least one key")
    return tuple(keys)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Read and validate settings; ``overrides`` (tests, the demo) win over the environment."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(ENV_PREFIX + name)
        return value.strip() if value is not None and value.strip() != "" else None

    def required(name: str) -> str:
        value = get(name)
        if value is None:
            raise ConfigError(f"{ENV_PREFIX}{name} is required but not set")
        return value

    values: dict[str, object] = {}
    if "looker_url" not in overrides:
        values["looker_url"] = _absolute_url("LOOKER_URL", required("LOOKER_URL"))
    if (api := get("LOOKER_API_URL")) is not None:
        values["looker_api_url"] = _absolute_url("LOOKER_API_URL", api)
    if "client_id" not in overrides:
        values["client_id"] = required("CLIENT_ID")
    if "redirect_uri" not in overrides:
        values["redirect_uri"] = _absolute_url("REDIRECT_URI", required("REDIRECT_URI"))
    if "secret_key" not in overrides:
        values["secret_key"] = required("SECRET_KEY")
    if "token_keys" not in overrides:
        values["token_keys"] = parse_token_keys(required("TOKEN_KEYS"))
    if (redis_url := get("REDIS_URL")) is not None:
        values["redis_url"] = redis_url
    if (origins := get("CORS_ORIGINS")) is not None:
        values["cors_origins"] = parse_origins(origins)

    readers = {
        "APP_URL": ("app_url", _absolute_url),
        "SESSION_STORE": ("session_store", lambda n, v: v.lower()),
        "REDIS_KEY_PREFIX": ("redis_key_prefix", lambda n, v: v),
        "REDIS_SOCKET_TIMEOUT": ("redis_socket_timeout", _positive_float),
        "REDIS_MAX_CONNECTIONS": ("redis_max_connections", _positive_int),
        "REDIS_EVICTION_CHECK": ("redis_eviction_check", lambda n, v: v.lower()),
        "COOKIE_SECURE": ("cookie_secure", _bool),
        "COOKIE_SAMESITE": ("cookie_samesite", _samesite),
        "SESSION_IDLE_TIMEOUT": ("session_idle_timeout", _positive_int),
        "SESSION_MAX_AGE": ("session_max_age", _positive_int),
        "PENDING_LOGIN_TTL": ("pending_login_ttl", _positive_int),
        "MAX_PENDING_LOGINS": ("max_pending_logins", _positive_int),
        "MAX_SESSIONS_PER_USER": ("max_sessions_per_user", _positive_int),
        "REFRESH_MARGIN": ("refresh_margin", _non_negative_int),
        "REFRESH_LOCK_TIMEOUT": ("refresh_lock_timeout", _positive_float),
        "MAX_BODY_BYTES": ("max_body_bytes", _positive_int),
        "BODY_READ_TIMEOUT": ("body_read_timeout", _positive_float),
        "MAX_BODY_UPLOADS": ("max_body_uploads", _positive_int),
        "UPSTREAM_CONNECT_TIMEOUT": ("upstream_connect_timeout", _positive_float),
        "UPSTREAM_READ_TIMEOUT": ("upstream_read_timeout", _positive_float),
        "UPSTREAM_POOL_SIZE": ("upstream_pool_size", _positive_int),
        "TOKEN_MEDIATION": ("token_mediation", _bool),
        "PROXY_FIX_HOPS": ("proxy_fix_hops", _non_negative_int),
        "TRUSTED_HOSTS": ("trusted_hosts", _host_names),
        "METRICS_NETWORKS": ("metrics_networks", lambda n, v: parse_networks(v, n)),
        "RATE_LIMIT_LOGIN": ("rate_limit_login", lambda n, v: v),
        "RATE_LIMIT_ENABLED": ("rate_limit_enabled", _bool),
        "LOG_LEVEL": ("log_level", lambda n, v: v.upper()),
    }
    for env_name, (attr, reader) in readers.items():
        if (raw := get(env_name)) is not None:
            values[attr] = reader(env_name, raw)

    values.update(overrides)
    settings = Settings(**values)  # type: ignore[arg-type]
    validate(settings)
    return settings


def _samesite(name: str, value: str) -> str:
    normalized = value.strip().capitalize()
    if normalized not in ("Lax", "Strict", "None"):
        raise ConfigError(f"{ENV_PREFIX}{name} must be Lax, Strict or None, got {value!r}")
    return normalized


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def validate(settings: Settings) -> None:
    """Cross-setting rules that no single variable can check on its own."""
    if len(settings.secret_key) < 16:
        raise ConfigError(f"{ENV_PREFIX}SECRET_KEY must be at least 16 characters")
    redirect = urlsplit(settings.redirect_uri)
    if (
        settings.cookie_secure
        and redirect.scheme == "http"
        and not is_loopback_host(redirect.hostname)
    ):
        raise ConfigError(
            f"{ENV_PREFIX}COOKIE_SECURE=true needs an https {ENV_PREFIX}REDIRECT_URI "
            f"(got {settings.redirect_uri!r}): browsers keep Secure cookies off plain http, so "
            "every sign-in would fail at the callback; use https, or COOKIE_SECURE=false for "
            "plain-http development"
        )
    if settings.cookie_samesite == "None" and not settings.cookie_secure:
        raise ConfigError(f"{ENV_PREFIX}COOKIE_SAMESITE=None requires COOKIE_SECURE=true")
    if settings.session_store not in ("redis", "memory"):
        raise ConfigError(
            f"{ENV_PREFIX}SESSION_STORE must be redis or memory, got {settings.session_store!r}"
        )
    if settings.redis_eviction_check not in ("refuse", "warn"):
        raise ConfigError(
            f"{ENV_PREFIX}REDIS_EVICTION_CHECK must be refuse or warn, "
            f"got {settings.redis_eviction_check!r}"
        )
    if settings.session_store == "redis" and settings.redis_url is None:
        raise ConfigError(f"{ENV_PREFIX}SESSION_STORE=redis requires {ENV_PREFIX}REDIS_URL")
    if settings.session_idle_timeout > settings.session_max_age:
        raise ConfigError(
            f"{ENV_PREFIX}SESSION_IDLE_TIMEOUT must not exceed {ENV_PREFIX}SESSION_MAX_AGE"
        )
    if settings.pending_login_ttl > 600:
        raise ConfigError(f"{ENV_PREFIX}PENDING_LOGIN_TTL must be at most 600 seconds")
    if not urlsplit(settings.redirect_uri).path.endswith("/auth/callback"):
        raise ConfigError(f"{ENV_PREFIX}REDIRECT_URI must point at the bridge's /auth/callback")
    if any(o == "null" or "*" in o for o in settings.cors_origins):
        raise ConfigError(f"{ENV_PREFIX}CORS_ORIGINS must list exact origins, not * or null")
    if settings.app_url and origin_of(settings.app_url) not in (
        settings.bridge_origin,
        *settings.cors_origins,
    ):
        raise ConfigError(
            f"{ENV_PREFIX}APP_URL must be on the bridge's origin or one of CORS_ORIGINS, "
            f"got {settings.app_url!r}"
        )
    if settings.log_level not in LOG_LEVELS:
        raise ConfigError(
            f"{ENV_PREFIX}LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, "
            f"got {settings.log_level!r}"
        )
    _check_rate_limit(settings.rate_limit_login)


def _check_rate_limit(value: str) -> None:
    from limits import parse_many  # Flask-Limiter's own parser: what it will accept later

    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(
            f"{ENV_PREFIX}RATE_LIMIT_LOGIN must look like '30 per minute', got {value!r}"
        ) from None

"""A complete ``nginx.conf`` for the nginx data plane, built from the bridge's own settings.

``oauth-bridge nginx-config --listen HOST:PORT --bridge-url URL`` prints what :func:`render`
returns. The file runs unprivileged (``nginx -p DIR -c FILE -e stderr``): the pid file and the
temporary directories are relative to the prefix ``DIR``. Every value that decides behaviour
comes from the same :class:`~oauth_bridge.config.Settings` the bridge reads (Looker's API URL,
the CORS origins, the body limit, the timeouts, the gate secret from ``SECRET_KEY``), so the
two cannot drift apart as long as both are started from the same environment.

Layout (docs/operations.md): ``/api/4.0/`` goes to Looker after ``auth_request`` to the bridge's
gate; a refusal or a 401 from Looker goes to the bridge's embedded proxy, which answers it; all
else (``/auth/*``, ``/api/proxy``, health, metrics, the demo's pages) goes to the bridge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from oauth_bridge.config import Settings
from oauth_bridge.data_plane.gate import (
    ORIGINAL_METHOD_HEADER,
    ORIGINAL_URI_HEADER,
    TOKEN_HEADER,
    VERIFY_PATH,
)
from oauth_bridge.data_plane.secret import GATE_HEADER, LOOKER_REFUSED_HEADER, gate_secret
from oauth_bridge.errors import (
    BadRequest,
    BridgeError,
    ConfigError,
    InvalidPath,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    UpstreamError,
    UpstreamTimeout,
)
from oauth_bridge.looker.upstream import API_PREFIX
from oauth_bridge.proxy import FORWARDED_REQUEST_HEADERS

NJS_MODULE = "/usr/lib/nginx/modules/ngx_http_js_module.so"
"""Debian's ``libnginx-mod-http-js``; other distributions put the module elsewhere."""
CA_FILE = "/etc/ssl/certs/ca-certificates.crt"
"""Debian's CA bundle, for an ``https`` Looker API URL."""
_LISTEN = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}")


@dataclass(frozen=True)
class NginxOptions:
    """What nginx needs beyond the bridge's settings: where it listens and finds the bridge."""

    listen: str
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) of the browser-facing listener."""
    bridge_url: str
    """``http://HOST:PORT`` or ``unix:/path/to.sock``: the bridge process (embedded mode)."""
    workers: str = "auto"
    njs_module: str = NJS_MODULE
    ca_file: str = CA_FILE


def response_filter_path() -> Path:
    """The njs response-header filter that ships inside the package."""
    return Path(str(resources.files("oauth_bridge.data_plane") / "response_headers.js"))


def _listen(value: str) -> str:
    if not _LISTEN.fullmatch(value) or not 0 < int(value.rsplit(":", 1)[1]) < 65536:
        raise ConfigError(f"--listen must be HOST:PORT (e.g. 127.0.0.1:8080), got {value!r}")
    return value


def _bridge_server(value: str) -> str:
    """The ``server`` of nginx's bridge upstream, from ``http://host:port`` or ``unix:/path``."""
    if value.startswith("unix:/"):
        if any(ch in value for ch in " ;{}'\"\\") or not value.isascii():
            raise ConfigError(f"--bridge-url has characters nginx cannot take: {value!r}")
        return value
    parts = urlsplit(value)
    if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
        raise ConfigError(
            f"--bridge-url must be http://HOST:PORT or unix:/PATH (the bridge's own listener), "
            f"got {value!r}"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"--bridge-url must be http://HOST:PORT or unix:/PATH, got {value!r}")
    return _listen(f"{parts.netloc}" if parts.port else f"{parts.netloc}:80")


@dataclass(frozen=True)
class _Looker:
    scheme: str
    server: str
    host_header: str
    hostname: str
    base_path: str


def _looker(settings: Settings) -> _Looker:
    parts = urlsplit(settings.looker_api_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    hostname = parts.hostname or ""
    host = f"[{hostname}]" if ":" in hostname else hostname
    base_path = parts.path.rstrip("/")
    if any(ch in base_path for ch in " ;{}'\"\\$"):
        raise ConfigError("OAUTH_BRIDGE_LOOKER_API_URL has a path nginx cannot take")
    return _Looker(parts.scheme, f"{host}:{port}", parts.netloc, hostname, base_path)


def _json_error(error: BridgeError) -> str:
    """``return STATUS '{...}'``: the contract's JSON error, as nginx's own answer."""
    body = f'{{"error":"{error.code}","message":"{error.message}"}}'
    if "'" in body or "\\" in body:  # never true for our messages; nginx quoting needs it
        raise ValueError("error messages for nginx must not contain quotes or backslashes")
    return f"return {error.status} '{body}';"


def _cors_map(settings: Settings) -> str:
    """``$oauth_bridge_cors_origin``: the request's Origin when it is exactly an allowed one."""
    lines = ["    map $http_origin $oauth_bridge_cors_origin {", '        default "";']
    for origin in settings.cors_origins:
        lines.append(f'        "~^{re.escape(origin)}$" $http_origin;')
    lines.append("    }")
    return "\n".join(lines)


def _forwarded_request_headers() -> str:
    """The embedded proxy's request-header allowlist as ``proxy_set_header`` lines."""
    lines = []
    for name in FORWARDED_REQUEST_HEADERS:
        variable = (
            "$content_type" if name == "Content-Type" else "$http_" + name.lower().replace("-", "_")
        )
        lines.append(f"            proxy_set_header {name} {variable};")
    return "\n".join(lines)


ERRORS_PREFIX = "/_oauth_bridge/errors/"
"""Where nginx's own 400s and 404s are answered: by URI, since nginx cannot redirect a request whose
request line it could not parse to a named location ("empty URI in redirect to named
location"). Reachable from outside too, harmlessly: each answers only its fixed error."""

_URI_ERRORS = (
    # A malformed request line or header field, ambiguous body framing: nginx refuses these
    # before any location and cannot tell which part was bad, so it says bad_request where the
    # embedded bridge may say invalid_path (docs/operations.md).
    ("bad_request", BadRequest()),
    ("absolute_form", InvalidPath()),
    # The verify location asked from outside: nginx's ``internal`` answers its own 404.
    ("not_found", NotFound()),
)

_NAMED_ERRORS = (
    ("oauth_bridge_payload_too_large", PayloadTooLarge()),
    ("oauth_bridge_request_timeout", RequestTimeout()),
    ("oauth_bridge_looker_unavailable", UpstreamError()),
    ("oauth_bridge_looker_timeout", UpstreamTimeout()),
)


def _error_locations() -> str:
    blocks = []
    places = [f"= {ERRORS_PREFIX}{name}" for name, _ in _URI_ERRORS]
    places += [f"@{name}" for name, _ in _NAMED_ERRORS]
    for place, (_, error) in zip(places, _URI_ERRORS + _NAMED_ERRORS, strict=True):
        blocks.append(
            f"""        location {place} {{
            default_type application/json;
            add_header Cache-Control "no-store" always;
            add_header X-Request-Id $oauth_bridge_request_id always;
            add_header Access-Control-Allow-Origin $oauth_bridge_cors_origin always;
            add_header Access-Control-Expose-Headers $oauth_bridge_cors_expose always;
            add_header Access-Control-Allow-Credentials $oauth_bridge_cors_credentials always;
            add_header Vary "Origin" always;
            {_json_error(error)}
        }}"""
        )
    return "\n".join(blocks)


def render(settings: Settings, options: NginxOptions) -> str:
    """The whole ``nginx.conf`` (events and http blocks) for ``settings`` and ``options``."""
    if settings.proxy_fix_hops < 1:
        raise ConfigError(
            "OAUTH_BRIDGE_PROXY_FIX_HOPS must count nginx (at least 1) when nginx is in front: "
            "otherwise the bridge sees nginx's address for every client"
        )
    listen = _listen(options.listen)
    bridge = _bridge_server(options.bridge_url)
    looker = _looker(settings)
    secret = gate_secret(settings)
    workers = options.workers if options.workers == "auto" else str(int(options.workers))
    tls = (
        f"""
            proxy_ssl_server_name on;
            proxy_ssl_name {looker.hostname};
            proxy_ssl_verify on;
            proxy_ssl_verify_depth 4;
            proxy_ssl_trusted_certificate {options.ca_file};
            proxy_ssl_session_reuse on;"""
        if looker.scheme == "https"
        else ""
    )
    connect = max(1, round(settings.upstream_connect_timeout))
    read = max(1, round(settings.upstream_read_timeout))
    body_timeout = max(1, round(settings.body_read_timeout))
    return f"""# nginx data plane for oauth_bridge, printed by `oauth-bridge nginx-config`.
# Run: nginx -p DIR -c THIS_FILE -e stderr   (DIR holds the pid file and temporary files)
# Built from the OAUTH_BRIDGE_* settings; print it again whenever they change.
load_module {options.njs_module};
worker_processes {workers};
pid nginx.pid;

events {{
    worker_connections 4096;
}}

http {{
    server_tokens off;
    access_log off;
    client_body_temp_path client_body_temp;
    proxy_temp_path proxy_temp;
    fastcgi_temp_path fastcgi_temp;
    uwsgi_temp_path uwsgi_temp;
    scgi_temp_path scgi_temp;
    # Bodies: nginx reads and holds them (slow clients are its business), within the bridge's
    # OAUTH_BRIDGE_MAX_BODY_BYTES and BODY_READ_TIMEOUT.
    client_max_body_size {settings.max_body_bytes};
    client_body_buffer_size 64k;
    client_body_timeout {body_timeout}s;
    client_header_timeout 30s;
    keepalive_timeout 75s;
    js_import oauth_bridge from {response_filter_path()};

{_cors_map(settings)}
    map $oauth_bridge_cors_origin $oauth_bridge_cors_credentials {{
        "" "";
        default "true";
    }}
    # Set only once the gate admitted the call: the bridge then knows Looker said 401 to it.
    map $oauth_bridge_token $oauth_bridge_looker_refused {{
        "" "";
        default "{secret}";
    }}
    map $oauth_bridge_cors_origin $oauth_bridge_cors_expose {{
        "" "";
        default "Retry-After, X-Request-Id";
    }}

    upstream oauth_bridge {{
        server {bridge};
        keepalive 32;
    }}
    upstream looker_api {{
        server {looker.server};
        keepalive 64;
    }}

    server {{
        listen {listen};
        # Set by the verify answer; nginx's own id where the bridge was not asked.
        set $oauth_bridge_request_id $request_id;
        error_page 400 {ERRORS_PREFIX}bad_request;
        error_page 404 {ERRORS_PREFIX}not_found;
        # An absolute-form target (GET http://host/path): nginx would take its path and drop
        # the host; the embedded bridge refuses it, and so does this (browsers never send it).
        if ($request ~ "^[^ ]+ +[A-Za-z][A-Za-z0-9+.-]*://") {{
            rewrite ^ {ERRORS_PREFIX}absolute_form last;
        }}

        location {API_PREFIX} {{
            auth_request {VERIFY_PATH};
            auth_request_set $oauth_bridge_token $upstream_http_{_var(TOKEN_HEADER)};
            auth_request_set $oauth_bridge_request_id $upstream_http_x_request_id;
            # Not admitted, or Looker said 401: the bridge's embedded proxy answers the call
            # (its JSON error, or a refresh and one retry for GET/HEAD, or the session ends).
            error_page 401 = @oauth_bridge;
            error_page 413 = @oauth_bridge_payload_too_large;
            error_page 408 = @oauth_bridge_request_timeout;
            error_page 502 503 = @oauth_bridge_looker_unavailable;
            error_page 504 = @oauth_bridge_looker_timeout;
            proxy_intercept_errors on;

            proxy_pass {looker.scheme}://looker_api{looker.base_path}$request_uri;
            proxy_http_version 1.1;
            proxy_pass_request_headers off;
            proxy_set_header Host {looker.host_header};
            proxy_set_header Connection "";
            proxy_set_header Authorization "Bearer $oauth_bridge_token";
            proxy_set_header X-Request-Id $oauth_bridge_request_id;
{_forwarded_request_headers()}
            proxy_connect_timeout {connect}s;
            proxy_read_timeout {read}s;
            proxy_send_timeout {read}s;
            proxy_redirect off;
            # Stream: a small buffer, never a temporary file, so memory stays flat.
            proxy_buffering on;
            proxy_buffers 8 64k;
            proxy_busy_buffers_size 128k;
            proxy_max_temp_file_size 0;{tls}
            js_header_filter oauth_bridge.filter;
        }}

        location = {VERIFY_PATH} {{
            internal;
            proxy_pass http://oauth_bridge;
            proxy_http_version 1.1;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header {ORIGINAL_METHOD_HEADER} $request_method;
            proxy_set_header {ORIGINAL_URI_HEADER} $request_uri;
            proxy_set_header {GATE_HEADER} "{secret}";
        }}

        location @oauth_bridge {{
            proxy_pass http://oauth_bridge$request_uri;
{_to_bridge(read, "$oauth_bridge_looker_refused")}
        }}

        # The gate is for nginx's own subrequests only.
        location ^~ /_oauth_bridge/ {{
            default_type application/json;
            add_header Cache-Control "no-store" always;
            {_json_error(NotFound())}
        }}

        location / {{
            proxy_pass http://oauth_bridge;
{_to_bridge(read)}
        }}

{_error_locations()}
    }}
}}
"""


def _to_bridge(read_timeout: int, looker_refused: str = '""') -> str:
    """The bridge sees the browser's request as it came, through one more trusted hop."""
    return f"""            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header {GATE_HEADER} "";
            proxy_set_header {TOKEN_HEADER} "";
            proxy_set_header {LOOKER_REFUSED_HEADER} {looker_refused};
            proxy_read_timeout {read_timeout}s;
            # The bridge streams its own answers (a CSV through the embedded proxy, say).
            proxy_buffering off;
            proxy_request_buffering on;"""


def _var(header: str) -> str:
    return header.lower().replace("-", "_")

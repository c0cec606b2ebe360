"""Browser-facing rules: where sign-in may return to, CSRF and Origin checks, CORS, API paths.

Every value here comes from a browser and is treated as hostile. The checks are pure functions of
the request and the settings, so the auth and proxy blueprints share one implementation.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import unquote, urlsplit

from flask import Flask, request
from flask_cors import CORS

from oauth_bridge.config import Settings, origin_of
from oauth_bridge.errors import CsrfRejected, InvalidPath, InvalidReturnTo, OriginRejected
from oauth_bridge.request_hooks import hooks_only_when

CSRF_HEADERS = ("X-Looker-AppId", "X-Requested-With")
"""Non-simple headers: a cross-site form or image cannot send them without a CORS preflight."""

CORS_ALLOWED_HEADERS = ["Content-Type", "Accept", "X-Looker-AppId", "X-Requested-With"]
CORS_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CORS_MAX_AGE = 600

_MAX_RETURN_TO = 2048
_UNSAFE_CHARS = re.compile(
    r"[\x00-\x20\x7f-\x9f\\\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f\u3000\ufeff]"
)
_PATH_SEGMENT = re.compile(r"(?:[A-Za-z0-9_.~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})+")
_MAX_API_PATH = 2048
_ENCODED_FORBIDDEN = ("%2e", "%2f", "%5c", "%25", "%7f") + tuple(f"%{n:02x}" for n in range(0x20))
"""Percent-encoded dot, slash, backslash, percent (double encoding), DEL and control chars."""


def _fully_decoded(value: str) -> str:
    """Percent-decode until stable, so double-encoded tricks are judged by what they become."""
    for _ in range(5):
        decoded = unquote(value)
        if decoded == value:
            return decoded
        value = decoded
    raise InvalidReturnTo()


def validate_return_to(value: str | None, *, allowed_origins: Collection[str]) -> str:
    """A safe place to send the browser after sign-in; ``/`` when none was asked for.

    Accepted: a relative path with a single leading ``/`` (no scheme, no host, no backslash, no
    whitespace or control character, also after percent-decoding), or an absolute ``http(s)`` URL
    whose exact origin is one of ``allowed_origins`` and that carries no user info.
    """
    if value is None or value == "":
        return "/"
    if len(value) > _MAX_RETURN_TO or not value.isascii():
        raise InvalidReturnTo()
    decoded = _fully_decoded(value)
    for candidate in (value, decoded):
        if _UNSAFE_CHARS.search(candidate):
            raise InvalidReturnTo()
    if value.startswith("/"):
        if decoded.startswith("//") or value.startswith("//"):
            raise InvalidReturnTo()
        parts = urlsplit(value)
        if parts.scheme or parts.netloc:
            raise InvalidReturnTo()
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidReturnTo()
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise InvalidReturnTo()
    if not parts.netloc.isascii():
        raise InvalidReturnTo()
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise InvalidReturnTo() from None
    if origin_of(value) not in {origin.lower() for origin in allowed_origins}:
        raise InvalidReturnTo()
    if f"{parts.scheme}://{parts.netloc}".lower() != origin_of(value):
        raise InvalidReturnTo()
    return value


def require_csrf(settings: Settings | None = None) -> None:
    """Refuse state-changing or credentialed API calls that a foreign page could forge.

    A non-simple header (``X-Looker-AppId``, which the official Looker browser SDK sends, or
    ``X-Requested-With``) forces a CORS preflight, which only allowed origins pass. A present
    ``Origin`` must be the bridge's own or an allowed one; ``Origin: null`` is never allowed.
    """
    if settings is None:
        from oauth_bridge.services import get_services

        settings = get_services().settings
    origin = request.headers.get("Origin")
    if origin is not None and origin not in (settings.bridge_origin, *settings.cors_origins):
        raise OriginRejected()
    if not any(request.headers.get(name) for name in CSRF_HEADERS):
        raise CsrfRejected()


def _has_origin() -> bool:
    return "Origin" in request.headers


def init_cors(app: Flask, settings: Settings) -> None:
    """Credentialed CORS for the configured origins only, compared exactly.

    flask-cors treats an origin string containing regex characters as a pattern and matches it
    with ``re.match`` (anchored only at the start), and its default ``origins="*"`` would echo
    any origin with credentials. So each origin becomes an escaped pattern anchored at both ends,
    and with no origins configured CORS is not enabled at all.
    """
    if not settings.cors_origins:
        return
    patterns = [re.compile(re.escape(origin) + r"\Z") for origin in settings.cors_origins]
    # flask-cors adds nothing to an answer for a request without Origin (proxied answers get
    # Vary: Origin from proxy.per_user_cache_headers), so its hooks run only when there is one.
    with hooks_only_when(app, _has_origin):
        CORS(
            app,
            resources={r"/api/*": {}, r"/auth/*": {}},
            origins=patterns,
            supports_credentials=True,
            allow_headers=CORS_ALLOWED_HEADERS,
            methods=CORS_METHODS,
            expose_headers=["X-Request-Id", "Retry-After"],
            max_age=CORS_MAX_AGE,
            vary_header=True,
        )


def validate_api_path(path: str, raw_path: str | None = None) -> str:
    """The part after ``/api/4.0/``, if it can only ever name a resource on Looker's API host.

    ``path`` is what the router saw (Werkzeug has percent-decoded it); ``raw_path`` is the path as
    the client sent it. Encoded dots, slashes, backslashes, percent signs and control characters
    are refused in the raw form, so nothing decodes into a different target upstream; the raw
    form must also be made of plain path characters and ``%XX`` escapes only.
    """
    raw = path if raw_path is None else raw_path
    for candidate in (path, raw):
        if not candidate or candidate.startswith("/") or len(candidate) > _MAX_API_PATH:
            raise InvalidPath()
        if "\\" in candidate or "//" in candidate or ":/" in candidate:
            raise InvalidPath()
        if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in candidate):
            raise InvalidPath()
        if any(segment in ("", ".", "..") for segment in candidate.split("/")):
            raise InvalidPath()
    lowered = raw.lower()
    if any(bad in lowered for bad in _ENCODED_FORBIDDEN):
        raise InvalidPath()
    if not all(_PATH_SEGMENT.fullmatch(segment) for segment in raw.split("/")):
        raise InvalidPath()
    return raw

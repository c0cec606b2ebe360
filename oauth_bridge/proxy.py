"""The Looker API pass-through: ``/api/4.0/<path>`` as the signed-in user, streamed.

Use this blueprint for every browser call to Looker's API. The browser's cookie names a session;
the bridge swaps it for the user's Looker token and forwards only an allowlist of headers, to
the configured API host only (through the app's :class:`~oauth_bridge.looker.upstream.LookerApi`).
Answers are streamed chunk by chunk from a pooled keep-alive connection, so a large CSV never
sits in the bridge's memory. Request bodies are read only once the request is allowed, and are
streamed to Looker the same way (:mod:`oauth_bridge.request_body`).

Also accepted: the official SDK's ``ProxySession`` convention (sdk-rtl ``proxySession.ts``: the
real target URL travels in ``X-Forwarded-For`` and the request goes to the proxy URL), on
``/api/proxy``, with the same checks as ``/api/4.0/<path>``.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Iterator
from urllib.parse import unquote

import urllib3
from flask import Blueprint, Response, g, request
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
)
from werkzeug.datastructures import HeaderSet, ResponseCacheControl
from werkzeug.http import parse_cache_control_header, parse_set_header

from oauth_bridge import request_body
from oauth_bridge.config import Settings
from oauth_bridge.data_plane.secret import LOOKER_REFUSED_HEADER, carries_secret
from oauth_bridge.errors import (
    BadRequest,
    InvalidPath,
    UpstreamError,
    UpstreamTimeout,
)
from oauth_bridge.looker.upstream import API_PREFIX, Target
from oauth_bridge.metrics import Metrics
from oauth_bridge.security import require_csrf, validate_api_path
from oauth_bridge.services import Services, get_services
from oauth_bridge.tokens import ActiveSession, not_authenticated

log = logging.getLogger(__name__)

bp = Blueprint("proxy", __name__)

PROXY_SESSION_PATH = "/api/proxy"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
RETRY_ON_401 = frozenset({"GET", "HEAD"})
"""Only these are replayed after a refresh: they change nothing at Looker, so a replay is safe
even if the first attempt had effects we cannot see. A write that meets a 401 ends the session."""

FORWARDED_REQUEST_HEADERS = (
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Content-Type",
    "If-Match",
    "If-Modified-Since",
    "If-None-Match",
    "X-Looker-AppId",
)
"""Everything else (Cookie, Authorization, Host, Origin, hop-by-hop, X-Forwarded-*) stays here."""

_FORWARDED_ENVIRON_KEYS = tuple(
    (name, "CONTENT_TYPE" if name == "Content-Type" else "HTTP_" + name.upper().replace("-", "_"))
    for name in FORWARDED_REQUEST_HEADERS
)
"""Each forwarded header with its WSGI environ key (what ``request.headers.get`` reads)."""
_HEADER_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")

RETURNED_RESPONSE_HEADERS = frozenset(
    name.lower()
    for name in (
        "Cache-Control",
        "Content-Disposition",
        "Content-Encoding",
        "Content-Language",
        "Content-Length",
        "Content-Type",
        "ETag",
        "Expires",
        "Last-Modified",
        "Vary",
    )
)
"""Upstream Set-Cookie, hop-by-hop, CORS and server headers never reach the browser."""
VARY_PER_USER = ("Cookie", "Origin")

CHUNK_SIZE = 64 * 1024


# ----------------------------------------------------------------------------- checks
def _raw_request_path() -> str:
    """The path as the client sent it, before Werkzeug percent-decoded it."""
    environ = request.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw:
        path = raw.split("?", 1)[0]
        if "://" in path:  # absolute-form request line: keep only the path
            raise InvalidPath()
        return path
    return str(environ.get("PATH_INFO", ""))


def check_query(query: str) -> str:
    """Refuse control characters, raw or percent-encoded, before anything goes upstream."""
    lowered = query.lower()
    if any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in query):
        raise BadRequest("The query string contains characters that are not allowed.")
    if any(bad in lowered for bad in ("%00", "%0d", "%0a")):
        raise BadRequest("The query string contains characters that are not allowed.")
    return query


def target_from_route(path: str) -> Target:
    raw = _raw_request_path()
    if not raw.startswith(API_PREFIX):
        raise InvalidPath()
    raw_path = raw[len(API_PREFIX) :]
    return Target(path=validate_api_path(path, raw_path), query=check_query(_raw_query()))


def target_from_request_uri(request_uri: str) -> Target:
    """The target of a request line's raw URI (``/api/4.0/…?…``), checked as the route's is.

    For the nginx data plane, where the bridge sees the browser's request only as nginx's
    ``$request_uri``: the same path and query rules as :func:`target_from_route`, applied to the
    raw form and to its percent-decoded path (what Werkzeug's router would have matched).
    """
    raw, _, query = request_uri.partition("?")
    if "#" in request_uri or not raw.startswith(API_PREFIX):
        raise InvalidPath()
    raw_path = raw[len(API_PREFIX) :]
    return Target(path=validate_api_path(unquote(raw_path), raw_path), query=check_query(query))


def _raw_query() -> str:
    value = request.environ.get("QUERY_STRING", "")
    return value if isinstance(value, str) else ""


def target_from_forwarded_for(settings: Settings) -> Target:
    """The ``ProxySession`` target: an URL exactly under ``{looker_api_url}/api/4.0/``.

    Behind ``proxy_fix_hops`` trusted proxies each of them appended ``, <client ip>``; those
    entries are dropped, everything else must be the target URL alone.
    """
    values = request.headers.getlist("X-Forwarded-For")
    if len(values) != 1:
        raise InvalidPath("ProxySession requests need exactly one X-Forwarded-For target URL.")
    value = values[0]
    if settings.proxy_fix_hops:
        parts = value.split(",")
        if len(parts) <= settings.proxy_fix_hops:
            raise InvalidPath()
        value = ",".join(parts[: -settings.proxy_fix_hops])
    value = value.strip()
    prefix = f"{settings.looker_api_url}{API_PREFIX}"
    if not value.startswith(prefix):
        raise InvalidPath("The ProxySession target must be on the configured Looker API host.")
    rest = value[len(prefix) :]
    if "#" in rest:
        raise InvalidPath()
    raw_path, _, query = rest.partition("?")
    path = validate_api_path(unquote(raw_path), raw_path)
    return Target(path=path, query=check_query(query))


def forwarded_headers() -> dict[str, str]:
    """The allowlisted request headers; control and non-ASCII characters are refused."""
    environ = request.environ
    headers: dict[str, str] = {}
    for name, key in _FORWARDED_ENVIRON_KEYS:
        value = environ.get(key)
        if value is None:
            continue
        if not value.isascii() or _HEADER_CONTROL_CHARS.search(value):
            raise BadRequest(f"The {name} header contains characters that are not allowed.")
        headers[name] = value
    request_id = g.get("request_id")
    if isinstance(request_id, str) and request_id:
        headers["X-Request-Id"] = request_id
    return headers


# ----------------------------------------------------------------------------- forwarding
def _send(
    services: Services,
    target: Target,
    body: bytes | Iterator[bytes] | None,
    headers: dict[str, str],
    token: str,
) -> urllib3.BaseHTTPResponse:
    started = time.monotonic()
    try:
        response = services.upstream.urlopen(
            request.method,
            target,
            body=body,
            headers={**headers, "Authorization": f"Bearer {token}"},
            preload_content=False,
            decode_content=False,
            redirect=False,
            retries=False,
        )
    except MaxRetryError as exc:  # not raised with retries=False, kept for safety
        _fail(services.metrics, started, exc.reason or exc)
    except HTTPError as exc:
        _fail(services.metrics, started, exc)
    except (OSError, ValueError) as exc:
        _fail(services.metrics, started, exc)
    services.metrics.observe_upstream(time.monotonic() - started, response.status)
    return response


def _fail(metrics: Metrics, started: float, exc: BaseException) -> None:
    elapsed = time.monotonic() - started
    timed_out = isinstance(exc, ReadTimeoutError | ConnectTimeoutError | TimeoutError)
    if timed_out and not isinstance(exc, NewConnectionError):  # a subclass of ConnectTimeout
        metrics.observe_upstream(elapsed, "timeout")
        log.warning("Looker did not answer in time: %s", type(exc).__name__)
        raise UpstreamTimeout() from None
    metrics.observe_upstream(elapsed, "error")
    kind = "unreachable" if isinstance(exc, NewConnectionError) else "unusable answer"
    log.warning("Looker %s: %s", kind, type(exc).__name__)
    raise UpstreamError() from None


def _stream(upstream: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    """Chunks as they arrive; the connection goes back to the pool only when fully read.

    If Looker breaks off mid-answer the error propagates, so the server aborts the connection
    instead of ending a chunked body cleanly: the browser sees a failed download, never a
    silently truncated one.
    """
    complete = False
    try:
        yield from upstream.stream(CHUNK_SIZE, decode_content=False)
        complete = True
    except (HTTPError, OSError) as exc:
        log.warning("Looker stream broke off: %s", type(exc).__name__)
        raise
    finally:
        if complete:
            upstream.release_conn()
        else:
            upstream.close()


def _discard(upstream: urllib3.BaseHTTPResponse) -> None:
    upstream.drain_conn()
    upstream.release_conn()


def per_user_cache_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` with the answer made private to this user's browser.

    Every proxied answer is one user's data, whatever Looker says: ``public`` and ``s-maxage``
    (which invite shared caches) are dropped and ``private`` is added; ``Vary`` gains ``Cookie``
    and ``Origin`` (the session and the CORS headers depend on them), merged with Looker's own
    fields, each once. ``max-age``, ``ETag`` and ``Last-Modified`` stay, so the browser's own
    cache still revalidates with ``If-None-Match`` (forwarded) and gets Looker's 304.
    """
    kept = [(n, v) for n, v in headers if n.lower() not in ("cache-control", "vary")]
    cache = parse_cache_control_header(
        ", ".join(v for n, v in headers if n.lower() == "cache-control"), cls=ResponseCacheControl
    )
    cache.public = False
    cache.s_maxage = None
    cache.private = True
    vary = HeaderSet()
    for name, value in headers:
        if name.lower() == "vary":
            vary.update(parse_set_header(value))
    vary.update(VARY_PER_USER)
    return [
        *kept,
        ("Cache-Control", cache.to_header()),
        ("Vary", "*" if "*" in vary else vary.to_header()),
    ]


def to_browser(upstream: urllib3.BaseHTTPResponse) -> Response:
    """The upstream answer for the browser: allowlisted headers, body streamed as it comes."""
    lengths = upstream.headers.getlist("Content-Length")
    if len(lengths) > 1 or (lengths and not _CONTENT_LENGTH.fullmatch(lengths[0].strip())):
        upstream.close()  # http.client would read such a body "until close"; refuse it instead
        log.warning("Looker sent an unusable Content-Length")
        raise UpstreamError()
    headers = per_user_cache_headers(
        [
            (name, value)
            for name, value in upstream.headers.items()
            if name.lower() in RETURNED_RESPONSE_HEADERS
        ]
    )
    if request.method == "HEAD":
        _discard(upstream)
        return Response(b"", status=upstream.status, headers=headers)
    return Response(
        _stream(upstream), status=upstream.status, headers=headers, direct_passthrough=True
    )


def forward(target: Target) -> Response:
    """Send ``target`` upstream as the signed-in user; one refresh-and-retry on a 401.

    Everything that can refuse the request (CSRF, Origin and path in :func:`guard_api`, query,
    headers, declared size, session, token) runs before the body is read, so a refused request
    costs no body bytes; the connection is then closed (``request_body.CloseUnread``).
    """
    services = get_services()
    settings = services.settings
    headers = forwarded_headers()
    framing = request_body.framing_of(request.environ)
    request_body.check_declared_size(framing, settings.max_body_bytes)
    active: ActiveSession = services.tokens.current_session()
    token = services.tokens.access_token(active)
    # nginx mode: nginx sent this call to Looker already and Looker said 401 (data_plane/).
    refused_by_looker = carries_secret(settings, LOOKER_REFUSED_HEADER)
    if refused_by_looker and request.method not in RETRY_ON_401:
        services.tokens.end_session(active)  # never send a refused write a second time
        raise not_authenticated("Looker refused your session; sign in again.")
    with request_body.open_body(framing, settings) as body:
        headers.update(body.upstream_headers())
        if request.method in RETRY_ON_401:
            return _forward_replayable(
                services, target, body, headers, active, token, refused_by_looker
            )
        upstream = _send(services, target, _payload(body), headers, token)
    if upstream.status != 401:
        return to_browser(upstream)
    _discard(upstream)
    services.tokens.end_session(active)
    raise not_authenticated("Looker refused your session; sign in again.")


def _payload(body: request_body.RequestBody) -> bytes | Iterator[bytes] | None:
    """The body for urllib3: its first chunk is read before Looker is called, so a body that is
    bad or slow from its start never opens an upstream request (most bodies fit in one chunk)."""
    if not body.framing.has_body:
        return None if request.method == "DELETE" else b""
    chunks = body.chunks()
    first = next(chunks, b"")
    return itertools.chain((first,), chunks)


def _forward_replayable(
    services: Services,
    target: Target,
    body: request_body.RequestBody,
    headers: dict[str, str],
    active: ActiveSession,
    token: str,
    refused_by_looker: bool = False,
) -> Response:
    """GET and HEAD: held whole (a small body at most) so the call can be replayed after a
    refresh; they change nothing at Looker, so a replay is safe. ``refused_by_looker``: the
    first attempt was nginx's, and Looker said 401 to it, so refresh before sending."""
    payload = body.read_all(request_body.REPLAY_BODY_LIMIT) if body.framing.has_body else None
    if not refused_by_looker:
        upstream = _send(services, target, payload, headers, token)
        if upstream.status != 401:
            return to_browser(upstream)
        _discard(upstream)
    token = services.tokens.refresh_rejected(active, token)
    upstream = _send(services, target, payload, headers, token)
    if upstream.status == 401:
        _discard(upstream)
        services.tokens.end_session(active)
        raise not_authenticated("Looker refused your session; sign in again.")
    return to_browser(upstream)


@bp.before_app_request
def guard_api() -> None:
    """CSRF, Origin and path rules for every ``/api/`` request, before routing answers.

    Runs before Werkzeug's routing exceptions are raised, so ``/api/4.0//host`` (which the router
    would answer with a redirect to a merged path) or an unknown method is refused as hostile
    first. Preflights (OPTIONS) are left to flask-cors: they carry no credentials and are never
    forwarded.
    """
    if request.method == "OPTIONS" or not request.path.startswith("/api/"):
        return
    require_csrf()
    raw = _raw_request_path()
    if request.path.startswith(API_PREFIX) or raw.startswith(API_PREFIX):
        validate_api_path(request.path[len(API_PREFIX) :], raw[len(API_PREFIX) :])


@bp.route(f"{API_PREFIX}<path:path>", methods=METHODS)
def api(path: str) -> Response:
    return forward(target_from_route(path))


@bp.route(PROXY_SESSION_PATH, methods=METHODS)
def proxy_session() -> Response:
    settings = get_services().settings
    if _raw_query():
        raise InvalidPath("ProxySession requests carry their query inside X-Forwarded-For.")
    return forward(target_from_forwarded_for(settings))

"""Request ids, JSON log lines and the redaction filter: what on-call reads, with no secret in it.

:func:`init_observability` gives every request an id (a sane incoming ``X-Request-Id`` or a new
one) in ``flask.g.request_id`` and the ``X-Request-Id`` answer header, writes one JSON access line
per request (never a query string: the callback's holds the authorization code), counts the
request in :mod:`oauth_bridge.metrics`, and installs :class:`RedactingFilter` on every log handler
it knows of (ours, werkzeug's, gunicorn's) as the last line of defence against a token in a log.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
import traceback
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request
from werkzeug.wrappers import Response as BaseResponse

from oauth_bridge import metrics
from oauth_bridge.config import LOG_LEVELS, Settings
from oauth_bridge.errors import ConfigError

log = logging.getLogger(__name__)
access_log = logging.getLogger("oauth_bridge.access")

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
_MAX_PATH = 512
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
REDACTED = "[REDACTED]"

# Each pattern keeps its first group (the label) and replaces what follows with REDACTED.
_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Authorization header values: "Bearer X" and Looker's "token X".
    re.compile(r"(?i)(\bbearer\s+)[^\s\"',;]+"),
    re.compile(r"(?i)(\btoken\s+)(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)(\btoken\s+)[A-Za-z0-9._~+/=-]{20,}"),
    # key=value (query strings, form bodies) and "key": "value" (JSON, dict reprs).
    re.compile(
        r"(?i)(\b(?:access_token|refresh_token|id_token|token|code_verifier|client_secret"
        r"|password|secret|api_key)[\"']?\s*[=:]\s*[\"']?)[^\"'&\s,;}]+"
    ),
    # An authorization code: "code=X" in a query string or "code": "X" in JSON (a bare
    # "status code: 404" stays readable).
    re.compile(r"(?i)(\bcode=|[\"']code[\"']\s*:\s*[\"']?)[^\"'&\s,;}]+"),
    # The bridge's own cookies: the session cookie value unlocks a session.
    re.compile(r"(?i)((?:__Host-)?looker_(?:session|login)=)[^;\s\"',]+"),
    # Opaque token shapes that need no label: Fernet tokens and JWTs.
    re.compile(r"()\bgAAAAA[A-Za-z0-9_-]{20,}=*"),
    re.compile(r"()\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
)


# Every pattern above needs one of these words (case-insensitively, with the same Unicode case
# folding), so a text without any of them is returned as it is: one regex search instead of eight
# substitutions for the usual log line ("GET /api/4.0/user 200").
_SUSPICIOUS = re.compile(r"(?i)bearer|token|code|secret|password|api_key|looker_|gaaaaa|eyj")


def redact(text: str) -> str:
    """``text`` with every token-like value replaced by ``[REDACTED]``."""
    if _SUSPICIOUS.search(text) is None:
        return text
    return redact_all(text)


def redact_all(text: str) -> str:
    """:func:`redact` without the quick check (the reference the tests compare it with)."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(_keep_label, text)
    return text


def _keep_label(match: re.Match[str]) -> str:
    return match.group(1) + REDACTED


class RedactingFilter(logging.Filter):
    """Scrubs token-like values from a record's message, arguments and traceback.

    The message is rendered first (``getMessage``) and the args dropped, so a token hidden in any
    argument's ``str()`` is caught too. Attached to handlers, it sees records from every logger.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the line
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, name, redact(value))
        return True


class RequestContextFilter(logging.Filter):
    """Adds ``request_id``, ``method`` and ``path`` of the current request to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            if not hasattr(record, "request_id"):
                record.request_id = g.get("request_id")
            if not hasattr(record, "method"):
                record.method = request.method
            if not hasattr(record, "path"):
                record.path = request.path[:_MAX_PATH]
        return True


_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then request fields and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name, value in vars(record).items():
            if name in _STANDARD_ATTRS or name.startswith("_") or value is None:
                continue
            if isinstance(value, str):
                entry[name] = redact(value)
            elif isinstance(value, bool | int | float):
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = redact(record.exc_text)
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


class _BridgeHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler we install so a second app in the same process does not add another."""


def configure_logging(level: str = "INFO", stream: Any = None) -> logging.Handler:
    """JSON lines on stderr for the whole process (idempotent); returns our handler."""
    if level not in LOG_LEVELS:
        raise ConfigError(
            f"OAUTH_BRIDGE_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}"
        )
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _BridgeHandler)), None)
    if handler is None:
        handler = _BridgeHandler(stream or sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    _add_filters(handler)
    logging.getLogger("oauth_bridge").setLevel(level)
    # Servers that bring their own handlers get the same last line of defence.
    for name in ("werkzeug", "gunicorn.error", "gunicorn.access"):
        for other in logging.getLogger(name).handlers:
            _add_filters(other)
    return handler


def _add_filters(handler: logging.Handler) -> None:
    if not any(isinstance(f, RequestContextFilter) for f in handler.filters):
        handler.addFilter(RequestContextFilter())
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())


def incoming_request_id(value: str | None) -> str:
    """The caller's id when it is short and plain, else a fresh one (never trust log input)."""
    if value and _REQUEST_ID.fullmatch(value):
        return value
    return secrets.token_hex(16)


def init_observability(app: Flask, settings: Settings, app_metrics: metrics.Metrics) -> None:
    """Request ids, JSON logs, per-request metrics (into ``app_metrics``) for ``app``.

    The hooks run on every request, so they read the request and ``g`` through one proxy
    lookup each and build the access-log record only when its level is enabled.
    """
    configure_logging(settings.log_level)

    @app.before_request
    def _start() -> None:
        ctx_g = g._get_current_object()
        # The WSGI key of the X-Request-Id header, as request.headers would read it.
        ctx_g.request_id = incoming_request_id(request.environ.get("HTTP_X_REQUEST_ID"))
        ctx_g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response: BaseResponse) -> BaseResponse:
        ctx_g = g._get_current_object()
        req = request._get_current_object()  # type: ignore[attr-defined]
        request_id = getattr(ctx_g, "request_id", None) or incoming_request_id(None)
        response.headers[REQUEST_ID_HEADER] = request_id
        status = response.status_code
        rule = req.url_rule
        route = rule.rule if rule is not None else "unmatched"
        method = req.method
        app_metrics.count_request(route, method, status)
        path = req.path
        level = logging.DEBUG if path in _QUIET_PATHS else logging.INFO
        if not access_log.isEnabledFor(level):
            return response
        started = getattr(ctx_g, "request_started", None)
        duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
        access_log.log(
            level,
            "%s %s %s",
            method,
            path[:_MAX_PATH],
            status,
            extra={
                "request_id": request_id,
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
                "client": req.remote_addr,
            },
        )
        return response

"""Request ids, JSON log lines and the redaction filter, on a small Flask app with real hooks."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from flask import Flask, Response, g, jsonify

from oauth_bridge import metrics, observability
from oauth_bridge.config import Settings, load_settings
from oauth_bridge.errors import ConfigError
from oauth_bridge.observability import (
    REDACTED,
    JsonFormatter,
    RedactingFilter,
    RequestContextFilter,
    incoming_request_id,
    redact,
)
from tests.support.secret_samples import SECRET_PARTS, SECRETS


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "looker_url": "http://127.0.0.1:9",
        "client_id": "test-client",
        "redirect_uri": "http://localhost:5000/auth/callback",
        "secret_key": "s" * 32,
        "token_keys": (Fernet.generate_key(),),
    }
    values.update(overrides)
    return load_settings({}, **values)


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_redact_removes_each_secret_shape(name: str) -> None:
    cleaned = redact(SECRETS[name])
    assert REDACTED in cleaned
    for part in SECRET_PARTS:
        assert part not in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "refresh refused by Looker (invalid_grant); ending session",
        "POST /api/token answered status code: 404",
        "calling the token endpoint",
        "GET /api/4.0/looks 200",
    ],
)
def test_redact_leaves_ordinary_text_readable(text: str) -> None:
    assert redact(text) == text


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing JSON through the bridge's filters into a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.observability.captured")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)
    handler.close()


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_filter_scrubs_arguments_extras_and_tracebacks(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured

    class Leaky:
        def __str__(self) -> str:
            return "Bearer SECRETACCESS"

    logger.info("token answer %s", {"access_token": "SECRETACCESS", "refresh_token": "R"})
    logger.warning("upstream said %s", Leaky())
    logger.info("header", extra={"upstream": "Authorization: token Zx9f8e7d6c5b4a39281"})
    try:
        raise ValueError("bad grant for refresh_token=SECRETREFRESH")
    except ValueError:
        logger.exception("refresh failed")
    output = stream.getvalue()
    for part in ("SECRETACCESS", "Zx9f8e7d6c5b4a39281", "SECRETREFRESH"):
        assert part not in output
    lines = _lines(stream)
    assert len(lines) == 4
    assert (
        lines[0]["message"]
        == "token answer {'access_token': '[REDACTED]', 'refresh_token': '[REDACTED]'}"
    )
    assert lines[1]["message"] == "upstream said Bearer [REDACTED]"
    assert lines[2]["upstream"] == "Authorization: token [REDACTED]"
    assert "ValueError: bad grant for refresh_token=[REDACTED]" in str(lines[3]["exception"])
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert lines[3]["level"] == "ERROR"


def test_filter_protects_werkzeug_style_access_lines(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info(
        '%s - - [%s] "%s" %s -',
        "127.0.0.1",
        "01/Jan/2025 00:00:00",
        "GET /auth/callback?code=SECRETCODE123&state=abc HTTP/1.1",
        "302",
    )
    message = str(_lines(stream)[0]["message"])
    assert "SECRETCODE123" not in message
    assert "code=[REDACTED]&state=abc" in message


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("abcdef12", True),
        ("req-2024.01_ABC-xyz", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("short", False),
        ("has space here", False),
        ("evil\r\nX-Injected: 1", False),
        ("<script>alert(1)</script>", False),
        ("", False),
        (None, False),
    ],
)
def test_incoming_request_id_is_kept_only_when_plain(incoming: str | None, kept: bool) -> None:
    result = incoming_request_id(incoming)
    if kept:
        assert result == incoming
    else:
        assert result != incoming
        assert len(result) == 32 and all(c in "0123456789abcdef" for c in result)


def test_each_call_without_an_id_gets_a_new_one() -> None:
    assert incoming_request_id(None) != incoming_request_id(None)


def test_bad_log_level_stops_the_app_with_one_line() -> None:
    app = Flask(__name__)
    with pytest.raises(ConfigError, match="OAUTH_BRIDGE_LOG_LEVEL"):
        observability.init_observability(app, _settings(log_level="CHATTY"), metrics.Metrics())


@pytest.fixture
def app_and_log() -> Iterator[tuple[Flask, io.StringIO]]:
    """An app with the bridge's observability hooks; the bridge handler writes into a buffer."""
    app = Flask(__name__)
    observability.init_observability(app, _settings(), metrics.Metrics())
    handler = observability.configure_logging("INFO")
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    view_log = logging.getLogger("oauth_bridge.tests.view")

    @app.get("/auth/callback")
    def callback() -> Response:
        view_log.info("inside the view")
        return jsonify({"request_id": g.request_id})

    yield app, stream
    handler.setStream(previous)


def test_request_id_reaches_g_header_and_every_log_line(
    app_and_log: tuple[Flask, io.StringIO],
) -> None:
    app, stream = app_and_log
    with app.test_client() as client:
        response = client.get(
            "/auth/callback?code=SECRETCODE123&state=abc",
            headers={"X-Request-Id": "trace-0123456789"},
        )
        assert response.status_code == 200
        assert response.headers["X-Request-Id"] == "trace-0123456789"
        assert response.get_json() == {"request_id": "trace-0123456789"}

        hostile = client.get(
            "/auth/callback",
            environ_overrides={"HTTP_X_REQUEST_ID": "x\r\nSet-Cookie: a=b"},
        )
        generated = hostile.headers["X-Request-Id"]
        assert generated == hostile.get_json()["request_id"]
        assert len(generated) == 32

    output = stream.getvalue()
    assert "SECRETCODE123" not in output
    assert "code=" not in output
    lines = [line for line in _lines(stream) if line.get("request_id") == "trace-0123456789"]
    by_logger = {str(line["logger"]): line for line in lines}
    view_line = by_logger["oauth_bridge.tests.view"]
    assert view_line["message"] == "inside the view"
    assert view_line["path"] == "/auth/callback"
    assert view_line["method"] == "GET"
    access = by_logger["oauth_bridge.access"]
    assert access["path"] == "/auth/callback"
    assert access["status"] == 200
    assert access["route"] == "/auth/callback"
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0


def test_unknown_routes_are_logged_without_their_path_as_a_route(
    app_and_log: tuple[Flask, io.StringIO],
) -> None:
    app, stream = app_and_log
    with app.test_client() as client:
        assert client.get("/no/such/thing").status_code == 404
    access = [line for line in _lines(stream) if line["logger"] == "oauth_bridge.access"]
    assert access[-1]["route"] == "unmatched"
    assert access[-1]["status"] == 404

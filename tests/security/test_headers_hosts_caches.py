"""Headers, hosts and caches, against gunicorn as the Procfile runs it (issue 11, items 9-13).

Raw sockets send what a client library would not: a hostile ``Host``, a ``SCRIPT_NAME`` header,
two ``Cookie`` lines, requests from ``[::1]``. Sessions are put straight into the instance's Redis
(the same settings, read from its environment), so an upstream that is not the emulator can
stand in for Looker where its answers must be shaped on purpose (cache headers, ETags).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
import redis
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from oauth_bridge.config import load_settings
from oauth_bridge.models import TokenSet, UserInfo
from oauth_bridge.sessions import build_store
from tests.support.gunicorn import GunicornFactory, Instance
from tests.support.redis_fixtures import free_port
from tests.support.security_tools import CSRF, RawResponse, keys, raw_request

HOSTILE = "evil.example"
SAMPLE_METRIC = b"oauth_bridge_http_requests_total"


def _request(
    instance: Instance,
    target: str,
    headers: Sequence[tuple[str, str]] = (),
    *,
    method: str = "GET",
    host: str | None = None,
    address: str = "127.0.0.1",
    port: int | None = None,
) -> RawResponse:
    """``method target`` exactly as given, with ``headers`` in order (repeats allowed)."""
    port = port or instance.port
    lines = [
        f"{method} {target} HTTP/1.1",
        f"Host: {host or f'localhost:{port}'}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers),
    ]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return raw_request(f"http://localhost:{port}", data, address=address)


def _json(answer: RawResponse) -> dict[str, object]:
    body = json.loads(answer.body)
    assert isinstance(body, dict)
    return body


def _session_cookie(instance: Instance) -> tuple[str, str]:
    """(cookie name, value) of a signed-in analyst, made in the instance's own store."""
    settings = load_settings(instance.env)
    store = build_store(settings)
    try:
        cookie, _ = store.create(
            UserInfo(id="2", display_name="Analyst", email="analyst@example.com"),
            TokenSet(access_token="a" * 44, refresh_token="r" * 44, expires_at=time.time() + 3600),
        )
    finally:
        store.close()
    return settings.cookie_name, cookie


# --------------------------------------------------------------------------- 9: hosts
REDIRECT_PRONE = (
    "/auth//login",
    "//auth/login",
    "/auth/login/",
    "/auth//session",
    "//healthz",
    "/auth//callback?state=x&code=y",
)


def test_no_redirect_is_built_from_the_host(gunicorn_factory: GunicornFactory) -> None:
    direct = gunicorn_factory()
    behind = gunicorn_factory(PROXY_FIX_HOPS="1")
    cases: list[tuple[Instance, list[tuple[str, str]], str | None]] = [
        (direct, [], HOSTILE),
        (behind, [("X-Forwarded-Host", HOSTILE)], None),
    ]
    for instance, headers, host in cases:
        looker = instance.env["OAUTH_BRIDGE_LOOKER_URL"]
        for target in REDIRECT_PRONE:
            answer = _request(instance, target, headers, host=host)
            where = (target, answer.status, answer.headers)
            assert HOSTILE not in repr(answer.headers), where
            location = answer.header("Location")
            assert location is None or location.startswith(f"{looker}/auth?"), where
            if target.startswith("/auth"):
                assert answer.header("Cache-Control") == "no-store", where


def test_trusted_hosts_refuse_other_hosts_but_not_health_checks(
    gunicorn_factory: GunicornFactory,
) -> None:
    direct = gunicorn_factory(TRUSTED_HOSTS="localhost")
    behind = gunicorn_factory(TRUSTED_HOSTS="localhost", PROXY_FIX_HOPS="1")
    for instance, headers, host in (
        (direct, [], HOSTILE),
        (behind, [("X-Forwarded-Host", HOSTILE)], None),
    ):
        for target, extra in (("/auth/login", []), ("/api/4.0/user", list(CSRF.items()))):
            answer = _request(instance, target, [*headers, *extra], host=host)
            assert answer.status == 400, (target, answer.status, answer.body)
            assert _json(answer)["error"] == "untrusted_host"
            assert answer.header("Cache-Control") == "no-store"
            assert answer.header("Location") is None
    # Probes address the instance by its IP; they keep working.
    for target in ("/healthz", "/readyz"):
        assert _request(direct, target, host="10.1.2.3:8000").status == 200
    assert _request(direct, "/auth/login").status == 302


def test_every_auth_answer_is_no_store(gunicorn_factory: GunicornFactory) -> None:
    instance = gunicorn_factory(RATE_LIMIT_LOGIN="2 per minute")
    spa = instance.env["OAUTH_BRIDGE_CORS_ORIGINS"]
    answers = {
        "bad return_to": _request(instance, "/auth/login?return_to=//evil.example"),
        "login": _request(instance, "/auth/login"),
        "rate limited": _request(instance, "/auth/login"),
        "merged slashes": _request(instance, "/auth//login"),
        "unknown": _request(instance, "/auth/nope"),
        "wrong method": _request(instance, "/auth/login", method="POST"),
        "no session": _request(instance, "/auth/session"),
        "head": _request(instance, "/auth/session", method="HEAD"),
        "preflight": _request(
            instance,
            "/auth/logout",
            [("Origin", spa), ("Access-Control-Request-Method", "POST")],
            method="OPTIONS",
        ),
    }
    assert answers["rate limited"].status == 429
    assert answers["wrong method"].status == 405
    for name, answer in answers.items():
        assert answer.header("Cache-Control") == "no-store", (name, answer.status, answer.headers)


# --------------------------------------------------------------------------- 10: front end
def test_a_client_script_name_header_never_reaches_the_metrics(
    gunicorn_factory: GunicornFactory,
) -> None:
    default = gunicorn_factory(METRICS_NETWORKS="127.0.0.1")
    assert _request(default, "/metrics").status == 200
    sneaky = _request(default, "/auth/metrics", [("SCRIPT_NAME", "/auth")])
    assert SAMPLE_METRIC not in sneaky.body
    assert sneaky.status == 404  # gunicorn trusts no front end by default: header dropped
    trusting = gunicorn_factory(
        env={"GUNICORN_FORWARDED_ALLOW_IPS": "127.0.0.1"}, METRICS_NETWORKS="127.0.0.1"
    )
    refused = _request(trusting, "/auth/metrics", [("SCRIPT_NAME", "/auth")])
    assert refused.status == 400, refused.body
    assert _json(refused)["error"] == "script_name_not_allowed"
    assert SAMPLE_METRIC not in refused.body


def test_metrics_only_for_configured_networks(gunicorn_factory: GunicornFactory) -> None:
    default = gunicorn_factory()
    closed = _request(default, "/metrics")
    assert closed.status == 404
    assert SAMPLE_METRIC not in closed.body
    elsewhere = gunicorn_factory(METRICS_NETWORKS="10.0.0.0/8")
    assert _request(elsewhere, "/metrics").status == 404
    loopback = gunicorn_factory(METRICS_NETWORKS="127.0.0.0/8,::1", PROXY_FIX_HOPS="1")
    scraped = _request(loopback, "/metrics")
    assert scraped.status == 200
    assert SAMPLE_METRIC in scraped.body
    # Through the router, the client's own address counts, not the router's.
    routed = _request(loopback, "/metrics", [("X-Forwarded-For", "203.0.113.5")])
    assert routed.status == 404


# --------------------------------------------------------------------------- 11: caches
ETAG = '"looks-1-v1"'


@Request.application
def _cacheable_looker(request: Request) -> Response:
    """A Looker API host whose answers are publicly cacheable and revalidate by ETag."""
    headers = {
        "Cache-Control": "public, max-age=3600, s-maxage=7200",
        "ETag": ETAG,
        "Vary": "Accept-Encoding, origin",
    }
    if request.headers.get("If-None-Match") == ETAG:
        return Response(status=304, headers=headers)
    return Response('{"id": 1}', content_type="application/json", headers=headers)


@pytest.fixture
def cacheable_looker() -> Iterator[str]:
    server = make_server("127.0.0.1", free_port(), _cacheable_looker, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _vary(answer: RawResponse) -> list[str]:
    return [
        token.strip().lower()
        for line in answer.header_values("Vary")
        for token in line.split(",")
        if token.strip()
    ]


def test_proxied_answers_are_private_and_vary_by_cookie(
    gunicorn_factory: GunicornFactory, cacheable_looker: str
) -> None:
    instance = gunicorn_factory(LOOKER_API_URL=cacheable_looker)
    name, cookie = _session_cookie(instance)
    spa = instance.env["OAUTH_BRIDGE_CORS_ORIGINS"]
    headers = [("Cookie", f"{name}={cookie}"), ("Origin", spa), *CSRF.items()]
    first = _request(instance, "/api/4.0/looks/1", headers)
    assert first.status == 200, first.body
    again = _request(instance, "/api/4.0/looks/1", [*headers, ("If-None-Match", ETAG)])
    assert again.status == 304
    for answer in (first, again):
        directives = {
            part.strip().split("=")[0].lower()
            for part in (answer.header("Cache-Control") or "").split(",")
        }
        assert "private" in directives, answer.headers
        assert not directives & {"public", "s-maxage"}, answer.headers
        assert answer.header("ETag") == ETAG
        vary = _vary(answer)
        assert sorted(vary) == ["accept-encoding", "cookie", "origin"], answer.headers


# --------------------------------------------------------------------------- 12: rate limits
def test_forwarded_for_cannot_change_the_rate_limit_key(
    gunicorn_factory: GunicornFactory,
) -> None:
    instance = gunicorn_factory(RATE_LIMIT_LOGIN="3 per minute")
    statuses = [
        _request(instance, "/auth/login", [("X-Forwarded-For", f"198.51.100.{n}")]).status
        for n in range(4)
    ]
    assert statuses == [302, 302, 302, 429]


def test_ipv6_clients_share_one_budget_per_64(
    gunicorn_factory: GunicornFactory, redis_client: redis.Redis
) -> None:
    behind = gunicorn_factory(RATE_LIMIT_LOGIN="3 per minute", PROXY_FIX_HOPS="1")
    one_64 = [f"2001:db8:1:2::{n:x}" for n in (1, 2, 3)] + ["2001:db8:1:2:ffff:ffff:ffff:ffff"]
    statuses = [
        _request(behind, "/auth/login", [("X-Forwarded-For", address)]).status for address in one_64
    ]
    assert statuses == [302, 302, 302, 429]
    other = _request(behind, "/auth/login", [("X-Forwarded-For", "2001:db8:1:3::1")])
    assert other.status == 302
    # A client on [::1] itself, straight to gunicorn.
    v6_port = free_port()
    direct = gunicorn_factory(
        gunicorn_args=("--bind", f"[::1]:{v6_port}"), RATE_LIMIT_LOGIN="3 per minute"
    )
    prefix = direct.env["OAUTH_BRIDGE_REDIS_KEY_PREFIX"]
    for expected in (302, 302, 302, 429):
        answer = _request(direct, "/auth/login", address="::1", port=v6_port, host="[::1]")
        assert answer.status == expected
    limiter_keys = [key.decode() for key in keys(redis_client, prefix, "rl:")]
    assert any("LIMITER/::/64/" in key for key in limiter_keys), limiter_keys
    assert not any("LIMITER/::1/" in key for key in limiter_keys), limiter_keys


# --------------------------------------------------------------------------- 13: start, cookies
def test_secure_cookies_with_an_http_redirect_uri_stop_the_start(
    gunicorn_factory: GunicornFactory,
) -> None:
    port = free_port()
    with pytest.raises(AssertionError) as stopped:
        gunicorn_factory(
            COOKIE_SECURE="true", REDIRECT_URI=f"http://bridge.example:{port}/auth/callback"
        )
    output = str(stopped.value)
    assert "gunicorn exited" in output
    assert "OAUTH_BRIDGE_COOKIE_SECURE" in output and "OAUTH_BRIDGE_REDIRECT_URI" in output


@pytest.mark.parametrize("secure", ["false", "true"])
def test_two_cookie_lines_keep_the_session(gunicorn_factory: GunicornFactory, secure: str) -> None:
    instance = gunicorn_factory(COOKIE_SECURE=secure)
    name, cookie = _session_cookie(instance)
    for lines in (
        ["theme=dark", f"{name}={cookie}"],
        [f"{name}={cookie}", "theme=dark"],
        ["a=1; b=2", f"c=3; {name}={cookie}; d=4"],
    ):
        answer = _request(instance, "/auth/session", [("Cookie", line) for line in lines])
        assert answer.status == 200, (lines, answer.body)
        assert _json(answer)["authenticated"] is True
    logout = _request(
        instance,
        "/auth/logout",
        [("Cookie", "theme=dark"), ("Cookie", f"{name}={cookie}"), *CSRF.items()],
        method="POST",
    )
    assert logout.status == 204
    after = _request(instance, "/auth/session", [("Cookie", f"{name}={cookie}")])
    assert after.status == 401

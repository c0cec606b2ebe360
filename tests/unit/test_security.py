"""CSRF and Origin rules, exact-origin credentialed CORS, and API path checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient

from oauth_bridge.config import Settings, load_settings
from oauth_bridge.errors import InvalidPath, NotAuthenticated, register_error_handlers
from oauth_bridge.security import init_cors, require_csrf, validate_api_path

SPA = "http://localhost:5173"
BRIDGE = "http://localhost:8000"


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "looker_url": "http://127.0.0.1:9000",
        "client_id": "bridge-app",
        "redirect_uri": f"{BRIDGE}/auth/callback",
        "secret_key": "s" * 32,
        "token_keys": (Fernet.generate_key(),),
        "cookie_secure": False,
        "cors_origins": (SPA, "https://a.b.example"),
    }
    values.update(overrides)
    return load_settings({}, **values)


def make_app(settings: Settings) -> Flask:
    app = Flask(__name__)

    @app.route("/api/4.0/ok", methods=["GET", "POST", "DELETE"])
    def ok() -> dict[str, bool]:
        require_csrf(settings)
        return {"ok": True}

    @app.route("/api/4.0/denied")
    def denied() -> dict[str, bool]:
        raise NotAuthenticated(extra={"login_url": "/auth/login"})

    @app.route("/api/4.0/boom")
    def boom() -> dict[str, bool]:
        raise RuntimeError("unexpected")

    @app.route("/healthz")
    def health() -> dict[str, bool]:
        return {"ok": True}

    register_error_handlers(app)
    init_cors(app, settings)
    return app


@pytest.fixture
def client() -> Iterator[FlaskClient]:
    with make_app(make_settings()).test_client() as test_client:
        yield test_client


# ----------------------------------------------------------------------------- CSRF and Origin
@pytest.mark.parametrize("header", ["X-Looker-AppId", "X-Requested-With"])
@pytest.mark.parametrize("origin", [None, SPA, BRIDGE])
def test_csrf_header_and_known_origin_pass(
    client: FlaskClient, header: str, origin: str | None
) -> None:
    headers = {header: "demo"} | ({"Origin": origin} if origin else {})
    assert client.post("/api/4.0/ok", headers=headers).status_code == 200


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_missing_csrf_header_is_403(client: FlaskClient, method: str) -> None:
    response = getattr(client, method)("/api/4.0/ok", headers={"Origin": SPA})
    assert response.status_code == 403
    assert response.json == {
        "error": "csrf_header_missing",
        "message": "Requests must carry an X-Looker-AppId or X-Requested-With header.",
    }


def test_empty_csrf_header_is_403(client: FlaskClient) -> None:
    assert client.post("/api/4.0/ok", headers={"X-Looker-AppId": ""}).status_code == 403


@pytest.mark.parametrize(
    "origin",
    [
        "null",
        "http://evil.example",
        "http://localhost:5174",
        "http://localhost:5173.evil.example",
        "https://localhost:5173",
        "http://LOCALHOST:5173x",
        "https://aXb.example",
        "http://localhost:8000/",
        "",
    ],
)
def test_foreign_origin_is_403_even_with_the_header(client: FlaskClient, origin: str) -> None:
    response = client.post("/api/4.0/ok", headers={"Origin": origin, "X-Looker-AppId": "x"})
    assert response.status_code == 403
    assert response.json is not None and response.json["error"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response.headers


# ----------------------------------------------------------------------------- CORS
def test_allowed_origin_is_echoed_exactly_with_credentials(client: FlaskClient) -> None:
    response = client.get("/api/4.0/ok", headers={"Origin": SPA, "X-Looker-AppId": "x"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SPA
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in response.headers.get("Vary", "")


def test_preflight_allows_the_sdk_headers_and_is_cached(client: FlaskClient) -> None:
    response = client.options(
        "/api/4.0/ok",
        headers={
            "Origin": SPA,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "x-looker-appid, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SPA
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    allowed = {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert allowed == {"x-looker-appid", "content-type"}
    methods = set(response.headers["Access-Control-Allow-Methods"].split(", "))
    assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= methods
    assert int(response.headers["Access-Control-Max-Age"]) > 0


def test_preflight_never_allows_authorization_or_cookie_headers(client: FlaskClient) -> None:
    response = client.options(
        "/api/4.0/ok",
        headers={
            "Origin": SPA,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert "Access-Control-Allow-Headers" not in response.headers


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://localhost:5173.evil.example",
        "http://localhost:51730",
        "https://aXb.example",  # "." would match any character if the origin were a regex
        "https://a.b.example.evil",
        "null",
    ],
)
def test_other_origins_get_no_cors_headers(client: FlaskClient, origin: str) -> None:
    for response in (
        client.options(
            "/api/4.0/ok",
            headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
        ),
        client.get("/api/4.0/denied", headers={"Origin": origin}),
    ):
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize(("path", "status"), [("/api/4.0/denied", 401), ("/api/4.0/boom", 500)])
def test_error_answers_carry_cors_headers(client: FlaskClient, path: str, status: int) -> None:
    response = client.get(path, headers={"Origin": SPA})
    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] == SPA
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.json is not None and "error" in response.json


def test_csrf_refusal_carries_cors_headers(client: FlaskClient) -> None:
    response = client.post("/api/4.0/ok", headers={"Origin": SPA})
    assert response.status_code == 403
    assert response.headers["Access-Control-Allow-Origin"] == SPA


def test_routes_outside_api_and_auth_get_no_cors(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"Origin": SPA})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


def test_no_origins_configured_means_no_cors_at_all() -> None:
    with make_app(make_settings(cors_origins=())).test_client() as bare:
        response = bare.get("/api/4.0/denied", headers={"Origin": SPA})
        assert response.status_code == 401
        assert "Access-Control-Allow-Origin" not in response.headers


# ----------------------------------------------------------------------------- API paths
HOSTILE_PATHS = [
    ("../../etc/passwd", None),
    ("looks/../../admin", None),
    ("looks/..", None),
    ("./looks", None),
    ("looks//1", None),
    ("/looks", None),
    ("", None),
    ("looks\\1", None),
    ("http://evil.example/x", None),
    ("looks/1\r\nX-Injected: 1", None),
    ("looks/1\n", None),
    ("looks/1\x00", None),
    ("looks/\x7f", None),
    ("looks/1", "looks/%2e%2e/1"),
    ("looks/1", "looks/%2E%2E/1"),
    ("looks/1", "%2e%2e/looks"),
    ("looks/1", "looks%2f..%2fusers"),
    ("looks/1", "looks%2F1"),
    ("looks/1", "looks%5c1"),
    ("looks/1", "looks%5C1"),
    ("looks/1", "looks/%252e%252e/1"),
    ("looks/1", "looks/%252f"),
    ("looks/1", "looks/%00"),
    ("looks/1", "looks/%0d%0aX:1"),
    ("looks/1", "looks/%0A"),
    ("looks/1", "looks/%7f"),
    ("looks/1", "looks/%zz"),
    ("looks/1", "looks/%"),
    ("looks/1", "looks/1 2"),
    ("looks/1", "looks/\u00e9"),
    ("looks/1", "looks/<script>"),
    ("looks/1", 'looks/"x"'),
    ("looks/1", "looks/1?x"),
    ("looks/1", "looks/1#x"),
    ("looks/1", "//evil.example/api"),
    ("looks/1", "https:/evil.example"),
    ("x" * 3000, None),
]


@pytest.mark.parametrize(("path", "raw"), HOSTILE_PATHS)
def test_hostile_api_paths_are_refused(path: str, raw: str | None) -> None:
    with pytest.raises(InvalidPath):
        validate_api_path(path, raw)


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("looks/1", "looks/1"),
        ("looks/1/run/csv", None),
        ("dashboards/thelook::business_pulse", None),
        ("lookml_models/my model", "lookml_models/my%20model"),
        ("users/me@example.com", None),
        ("queries/run/json_detail", None),
    ],
)
def test_ordinary_api_paths_pass_in_their_raw_form(path: str, raw: str | None) -> None:
    assert validate_api_path(path, raw) == (raw or path)

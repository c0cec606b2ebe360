"""hooks_only_when: an extension's app-wide hooks run only where they apply, in their place."""

from __future__ import annotations

from flask import Flask, Response, request

from oauth_bridge.request_hooks import hooks_only_when
from oauth_bridge.services import get_services
from tests.support.bridge import offline_app


def build_app(calls: list[str]) -> Flask:
    app = Flask(__name__)

    @app.before_request
    def first() -> None:
        calls.append("first")

    with hooks_only_when(app, lambda: request.path == "/scoped"):

        @app.before_request
        def scoped_before() -> None:
            calls.append("scoped_before")

        @app.after_request
        def scoped_after(response: Response) -> Response:
            calls.append("scoped_after")
            response.headers["X-Scoped"] = "1"
            return response

        @app.teardown_request
        def scoped_teardown(error: BaseException | None) -> None:
            calls.append(f"scoped_teardown:{error is None}")

    @app.before_request
    def last() -> None:
        calls.append("last")

    @app.route("/scoped")
    @app.route("/other")
    def view() -> str:
        calls.append("view")
        return "ok"

    return app


def test_scoped_hooks_run_in_their_place_where_they_apply() -> None:
    calls: list[str] = []
    response = build_app(calls).test_client().get("/scoped")
    assert response.headers.get("X-Scoped") == "1"
    assert calls == [
        "first",
        "scoped_before",
        "last",
        "view",
        "scoped_after",
        "scoped_teardown:True",
    ]


def test_scoped_hooks_are_skipped_elsewhere_and_the_answer_is_untouched() -> None:
    calls: list[str] = []
    response = build_app(calls).test_client().get("/other")
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok"
    assert "X-Scoped" not in response.headers
    assert calls == ["first", "last", "view"]


def test_the_limiter_looks_only_at_sign_in_routes() -> None:
    """Flask-Limiter's hooks do not run for the proxy or the session probe; login still counts."""
    app = offline_app(rate_limit_enabled=True)
    limiter = get_services(app).limiter
    assert limiter is not None
    seen: list[str | None] = []
    original = limiter.identify_request

    def counting_identify() -> str:
        seen.append(request.endpoint)
        return original()

    limiter.identify_request = counting_identify  # type: ignore[method-assign]
    client = app.test_client()
    client.get("/auth/session")
    client.get("/api/4.0/user", headers={"X-Looker-AppId": "t"})
    assert seen == []
    client.get("/auth/login?return_to=/")
    assert seen and set(seen) == {"auth.login"}

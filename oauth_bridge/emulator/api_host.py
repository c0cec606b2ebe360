"""The API host: ``/api/token``, ``/api/logout``, ``/api/4.0/*`` and the ``/_emulator`` controls.

Cross-cutting rules live here: the request log (``Authorization`` cut to its scheme, bodies only
counted), Looker's CORS for the embedded-domain allowlist (exact origins, no credentials: Looker's
API uses bearer tokens), the refusal of CORS on ``/login`` ("The /login API endpoint cannot be
called using CORS requests", cloud.google.com/looker/docs/api-cors), ``api_delay``, the spec's
checks of a signed-in caller's parameters and body (:mod:`.request_checks`), and Looker's JSON
error bodies for every failure. The ``/api/4.0`` resources themselves are in
:mod:`oauth_bridge.emulator.api40`.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from oauth_bridge.emulator import api40, operations, request_checks
from oauth_bridge.emulator.api40 import query_tasks
from oauth_bridge.emulator.api40.common import authenticate, bearer_token, read_json
from oauth_bridge.emulator.errors import (
    LookerError,
    invalid,
    not_emulated,
    not_found,
    unauthenticated,
)
from oauth_bridge.emulator.records import OAuthError, RequestRecord
from oauth_bridge.emulator.state import EmulatorState

CORS_METHODS = "GET, POST, PUT, PATCH, DELETE"
CORS_HEADERS = "Authorization, Content-Type, X-Looker-AppId"
"""What a browser SPA sends: the bearer token, JSON bodies, and the SDKs' app id header."""
CONTROL_PREFIX = "/_emulator/"
API_PREFIX = "/api/4.0/"
_CONFIG_TYPES: dict[str, tuple[type, ...]] = {
    "token_ttl": (int,),
    "code_ttl": (int,),
    "refresh_enabled": (bool,),
    "refresh_rotation": (bool,),
    "api_delay": (int, float),
    "query_task_seconds": (int, float),
    "embed_url_ttl": (int, float),
}


def _is_login(path: str) -> bool:
    return path == "/api/4.0/login" or path.startswith("/api/4.0/login/")


def _redacted_headers() -> dict[str, str]:
    """Request headers for the log: ``Authorization`` keeps only its scheme, cookies go."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        lower = name.lower()
        if lower == "authorization":
            value = value.strip().split(" ", 1)[0]
        elif lower == "cookie":
            value = "<redacted>"
        headers[name] = value
    return headers


def _check_against_spec(state: EmulatorState) -> None:
    """422 for a signed-in caller's request whose parameters or body the spec refuses. Without a
    valid token the view answers 401 first, as Looker authenticates before it validates; an
    operation the emulator does not serve answers 501 whatever it carries."""
    path = request.path
    if not path.startswith(API_PREFIX) or request.url_rule is None:
        return
    token = bearer_token()
    if token is None or state.token_user(token) is None:
        return
    sub_path = path[len(api40.PREFIX) :]
    operation = operations.match(request.method, sub_path)
    if operation is None or operation.operation_id in query_tasks.SHADOWED:
        return
    request_checks.check_parameters(operation, sub_path, request.args)
    if request_checks.body_is_json(operation):
        raw = request.get_data(cache=True).strip()
        body = read_json() if raw else None
        request_checks.check_body(
            operation, bool(raw) and (body is not None or raw == b"null"), body
        )


def create_api_app(state: EmulatorState) -> Flask:
    """The Flask app served on the emulator's API host."""
    app = Flask(__name__)
    api40.init_app(app, state)

    def allowed_origin() -> str | None:
        origin = request.headers.get("Origin")
        if origin and origin in state.config.cors_origins and not _is_login(request.path):
            return origin
        return None

    @app.before_request
    def _before() -> Response | None:
        path = request.path
        if path.startswith(CONTROL_PREFIX):
            if "Origin" in request.headers:
                raise LookerError(403, "Emulator controls refuse browser requests.")
            return None
        state.record_request(
            RequestRecord(
                method=request.method,
                path=path,
                query_string=request.query_string.decode("latin-1"),
                headers=_redacted_headers(),
                body_size=len(request.get_data(cache=True)),
                time=time.time(),
            )
        )
        origin = request.headers.get("Origin")
        if origin and _is_login(path):
            raise LookerError(403, "The /login endpoint cannot be called with CORS.")
        if request.method == "OPTIONS" and origin:
            if allowed_origin() is None:
                raise LookerError(403, "Origin is not in the embedded domain allowlist.")
            preflight = Response(status=204)
            preflight.headers["Access-Control-Allow-Methods"] = CORS_METHODS
            preflight.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
            preflight.headers["Access-Control-Max-Age"] = "600"
            return preflight
        delay = state.config.api_delay
        if delay > 0 and path.startswith("/api/4.0/"):
            time.sleep(delay)
        _check_against_spec(state)
        return None

    @app.after_request
    def _after(response: Response) -> Response:
        origin = allowed_origin()
        if origin is not None and not request.path.startswith(CONTROL_PREFIX):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.vary.add("Origin")
        return response

    @app.errorhandler(LookerError)
    def _looker_error(error: LookerError) -> Response:
        return error.to_response()

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        if error.code in (404, 405):
            return _unserved(state).to_response()
        return LookerError(error.code or 500, error.description or "Error").to_response()

    # Looker's own OAuth set-up form reads `${apiServerUrl}/versions`, the API host's root
    # (sdk-codegen packages/extension-utils/src/OAuthForm/src/state/sagas.ts), as well as the
    # SDKs' /api/4.0/versions: both answer the same document.
    app.add_url_rule("/versions", endpoint="root_versions", view_func=api40.versions.versions)

    @app.post("/api/token")
    def token() -> Response:
        return _token_endpoint(state)

    @app.delete("/api/logout")
    @app.delete("/api/4.0/logout")
    def logout() -> Response:
        token = bearer_token()
        if token is None:
            raise unauthenticated()
        if not state.logout(token):
            raise not_found()
        return Response(status=204)

    _control_routes(app, state)
    return app


def _unserved(state: EmulatorState) -> LookerError:
    """Looker's 404 for a path the spec does not have; for one of its operations that the
    emulator does not serve, a 501 that names the operation (after Looker's own 401 for a caller
    without a token), so an SDK's error says what is missing instead of "Not found"."""
    path = request.path
    if not path.startswith(api40.PREFIX + "/"):
        return not_found()
    operation = operations.match(request.method, path[len(api40.PREFIX) :])
    if operation is None:
        return not_found()
    try:
        authenticate(state)
    except LookerError as refused:  # raised in an error handler: answered here, not re-raised
        return refused
    return not_emulated(operation)


def _oauth_error(error: OAuthError) -> Response:
    response = jsonify({"error": error.error, "error_description": error.description})
    response.status_code = 400
    response.headers["Cache-Control"] = "no-store"
    return response


def _token_endpoint(state: EmulatorState) -> Response:
    """``POST /api/token``: JSON body as Looker's SDKs send it (sdk-rtl ``oauthSession.ts``);
    form-encoded is taken too, as Looker's documentation does not say it is refused."""
    body: Any = read_json() if request.is_json else request.form.to_dict()
    if not isinstance(body, dict):
        return _oauth_error(OAuthError("invalid_request", "The body must be a JSON object."))
    grant_type = body.get("grant_type")
    if isinstance(grant_type, str):
        state.count_token_request(grant_type)

    def need(*names: str) -> list[str]:
        values = [body.get(name) for name in names]
        missing = [n for n, v in zip(names, values, strict=True) if not isinstance(v, str) or not v]
        if missing:
            raise OAuthError("invalid_request", f"Missing parameter: {', '.join(missing)}.")
        return [str(v) for v in values]

    try:
        if grant_type == "authorization_code":
            code, verifier, client_id, redirect_uri = need(
                "code", "code_verifier", "client_id", "redirect_uri"
            )
            answer = state.exchange_code(client_id, redirect_uri, code, verifier)
        elif grant_type == "refresh_token":
            refresh, client_id, redirect_uri = need("refresh_token", "client_id", "redirect_uri")
            answer = state.refresh(client_id, redirect_uri, refresh)
        else:
            raise OAuthError("unsupported_grant_type", "grant_type is not supported.")
    except OAuthError as error:
        return _oauth_error(error)
    response = jsonify(answer)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _control_routes(app: Flask, state: EmulatorState) -> None:
    """``/_emulator/*``: exist only because this is an emulator (tests and the demo use them)."""

    @app.get("/_emulator/stats")
    def stats() -> Response:
        return jsonify(
            {
                "token_requests": state.token_requests,
                "request_count": state.request_count,
                "rows_streamed": state.rows_streamed,
                "streams_started": state.streams_started,
                "streams_completed": state.streams_completed,
            }
        )

    @app.get("/_emulator/requests")
    def requests_log() -> Response:
        return jsonify([record.as_json() for record in state.request_log])

    @app.post("/_emulator/config")
    def config() -> Response:
        body = read_json()
        if not isinstance(body, dict):
            raise invalid("body", "Send a JSON object.", code="missing")
        for name, value in body.items():
            kinds = _CONFIG_TYPES.get(name)
            if kinds is None:
                raise invalid(name, f"{name} cannot be changed.")
            if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
                raise invalid(name, f"{name} has the wrong type.")
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise invalid(name, f"{name} must not be negative.")
        current = state.update_config(**body)
        return jsonify({name: getattr(current, name) for name in _CONFIG_TYPES})

    @app.post("/_emulator/reset")
    def reset() -> Response:
        state.reset()
        return Response(status=204)

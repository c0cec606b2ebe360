"""What every API 4.0 view needs: the request's state, its user, its JSON body and the answer.

Import from here when writing a view of a resource module; keep resource rules (who may see
what) in :mod:`.permissions`. The state is not closed over: :func:`init_state` puts it in
``app.extensions`` and :func:`current_state` finds it per request, so the resource blueprints
can be plain module-level objects, registered on every emulator's API app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from flask import Flask, Response, current_app, jsonify, request

from oauth_bridge.emulator import schemas
from oauth_bridge.emulator.config import MAX_RESULT_ROWS
from oauth_bridge.emulator.errors import invalid, unauthenticated
from oauth_bridge.emulator.records import AccessRecord
from oauth_bridge.emulator.seed import User
from oauth_bridge.emulator.state import EmulatorState

STATE_KEY = "oauth_bridge_emulator"
"""The ``app.extensions`` key of the app's :class:`EmulatorState`."""

View = Callable[..., Response]


def init_state(app: Flask, state: EmulatorState) -> None:
    """Make ``state`` the one :func:`current_state` answers inside ``app``'s requests."""
    app.extensions[STATE_KEY] = state


def current_state() -> EmulatorState:
    """The emulator state of the app serving this request."""
    return cast(EmulatorState, current_app.extensions[STATE_KEY])


def bearer_token() -> str | None:
    """The token of ``Authorization: Bearer X`` or ``Authorization: token X`` (both work)."""
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() in ("bearer", "token") and token.strip():
        return token.strip()
    return None


def authenticate(state: EmulatorState) -> tuple[User, AccessRecord]:
    """The caller's user and token record, or Looker's 401."""
    token = bearer_token()
    found = state.token_user(token) if token else None
    if found is None:
        raise unauthenticated()
    return found


def authed(view: View) -> View:
    """Call ``view(user, **url_args)`` for a signed-in caller, under the state's lock, so a view
    reads and changes the content as one step."""

    def wrapper(**kwargs: Any) -> Response:
        state = current_state()
        user, _ = authenticate(state)
        with state.lock:
            return view(user, **kwargs)

    wrapper.__name__ = view.__name__
    return wrapper


def read_json() -> Any:
    """Flask's silent JSON parse, also silent for bodies nested too deep for Python's parser
    (json raises RecursionError there, not ValueError, and a 500 is not what Looker answers)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def json_body() -> dict[str, Any]:
    """The body as a JSON object, or Looker's 422."""
    body = read_json()
    if not isinstance(body, dict):
        raise invalid("body", "The request body must be a JSON object.", code="missing")
    return body


def check_types(body: dict[str, Any], types: dict[str, type]) -> None:
    """422 for a present field of the wrong type (``None`` passes, except for booleans)."""
    for name, kind in types.items():
        if name in body and body[name] is not None and not isinstance(body[name], kind):
            raise invalid(name, f"{name} must be a {kind.__name__}.")
        if kind is bool and name in body and not isinstance(body[name], bool):
            raise invalid(name, f"{name} must be a boolean.")


def ok(body: Any, status: int = 200) -> Response:
    """A JSON answer."""
    response = jsonify(body)
    response.status_code = status
    return response


def no_content() -> Response:
    return Response(status=204)


def with_fields(body: dict[str, Any]) -> Response:
    """One object, cut to the request's ``?fields=`` as Looker does."""
    return ok(schemas.select_fields(body, request.args.get("fields")))


def each_with_fields(bodies: list[dict[str, Any]]) -> Response:
    """A list of objects, each cut to the request's ``?fields=``."""
    fields = request.args.get("fields")
    return ok([schemas.select_fields(body, fields) for body in bodies])


def row_limit(default: int) -> int:
    """The request's ``?limit=`` (``default`` when absent), within the emulator's row cap;
    ``-1`` asks for every row, as a query's own ``limit`` may (the spec's ``Query.limit``)."""
    raw = request.args.get("limit")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid("limit", "limit must be an integer.") from None
    if value < -1 or value > MAX_RESULT_ROWS:
        raise invalid("limit", f"limit must be -1 or between 0 and {MAX_RESULT_ROWS}.")
    return value
